"""Chunked primitives: bound math, point to point, broadcasts, byte blobs, errors.

Every test runs on every rank; assertions come after the communication so a
wrong value on one rank cannot leave a peer waiting.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from mpi4py import MPI

import dgampi
from helpers import DTYPE_IDS, DTYPES, LAYOUTS, empty_like_layout, layout, make

SHAPES = [(5,), (4, 3, 2), (0, 3), (1,)]
SHAPE_IDS = ["1d", "3d", "empty", "one"]
MAX = 2**31 - 1


def original_chunk_step(itemsize, items_per_row, limit):
    return max(1, limit // (itemsize * max(1, items_per_row)))


def original_row_chunks(n_rows, itemsize, items_per_row, limit):
    step = original_chunk_step(itemsize, items_per_row, limit)
    for i in range(0, n_rows, step):
        yield i, min(n_rows, i + step)


# ---------------------------------------------------------------- limit and bound math


def test_max_mpi_bytes_starts_from_library_limit(request):
    expected = int(os.environ.get("DGAMPI_MAX_MESSAGE_BYTES", MAX))
    assert dgampi.max_message_bytes() == expected
    assert isinstance(dgampi.MAX_MPI_BYTES, int)
    if request.config._dgampi_limit is None:  # not overridden by --max-mpi-bytes
        assert dgampi.MAX_MPI_BYTES == expected


def test_max_mpi_bytes_env_in_fresh_process():
    """DGAMPI_MAX_MESSAGE_BYTES initializes dgampi.MAX_MPI_BYTES (checked on rank 0 in a singleton process)."""
    if MPI.COMM_WORLD.Get_rank() != 0:
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "OPAL_", "PMI_", "HYDRA_"))}
    env.pop("LD_PRELOAD", None)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", DGAMPI_MAX_MESSAGE_BYTES="77")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    out = subprocess.run(
        [sys.executable, "-c", "import dgampi; print(dgampi.MAX_MPI_BYTES, dgampi.max_message_bytes())"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["77", "77"]


@pytest.mark.parametrize("itemsize", [1, 4, 8, 16])
@pytest.mark.parametrize("items", [0, 1, 3, 100])
@pytest.mark.parametrize("limit", [1, 16, 17, 1000, MAX])
def test_chunk_step_formula(itemsize, items, limit):
    assert dgampi.chunk_step(itemsize, items, limit) == original_chunk_step(itemsize, items, limit)


def test_chunk_step_reads_max_mpi_bytes_at_call_time(monkeypatch):
    monkeypatch.setattr(dgampi, "MAX_MPI_BYTES", 16)
    assert dgampi.chunk_step(8, 1) == 2
    assert list(dgampi.row_chunks(5, 8, 1)) == [(0, 2), (2, 4), (4, 5)]
    monkeypatch.setattr(dgampi, "MAX_MPI_BYTES", 800)
    assert dgampi.chunk_step(8, 1) == 100
    assert list(dgampi.row_chunks(5, 8, 1)) == [(0, 5)]


@pytest.mark.parametrize(
    "n_rows,itemsize,items,limit",
    [(0, 8, 3, 16), (1, 8, 1, 16), (10, 8, 1, 16), (10, 16, 3, 16), (7, 4, 5, 40), (7, 4, 5, 41), (5, 1, 1, 1), (3, 8, 2, MAX)],
)
def test_row_chunks_are_the_original_row_bounds(n_rows, itemsize, items, limit):
    got = list(dgampi.row_chunks(n_rows, itemsize, items, limit))
    assert got == list(original_row_chunks(n_rows, itemsize, items, limit))
    # a row larger than the limit appears once, as (i, i + 1)
    if itemsize * max(1, items) > limit:
        assert got == [(i, i + 1) for i in range(n_rows)]


@pytest.mark.parametrize(
    "n_rows,row_bytes,limit", [(0, 24, 16), (5, 24, 16), (5, 16, 16), (6, 5, 16), (3, 100, 7), (4, 1, 1), (2, 48, MAX)]
)
def test_byte_chunks_cover_the_buffer(n_rows, row_bytes, limit):
    chunks = list(dgampi.byte_chunks(n_rows, row_bytes, limit))
    offset = 0
    for c in chunks:
        assert 1 <= c.byte_len <= limit
        assert c.byte_offset == offset
        assert c.row_start == c.byte_offset // row_bytes
        assert c.row_stop == -(-(c.byte_offset + c.byte_len) // row_bytes)
        offset += c.byte_len
    assert offset == n_rows * row_bytes
    if row_bytes > limit:  # rows split at byte level: ceil(row_bytes / limit) messages per row
        assert len(chunks) == n_rows * math.ceil(row_bytes / limit)
    else:
        assert len(chunks) == len(list(original_row_chunks(n_rows, row_bytes, 1, limit)))


def test_limit_values(monkeypatch):
    with pytest.raises(ValueError):
        dgampi.MAX_MPI_BYTES = 0
    with pytest.raises(TypeError):
        dgampi.MAX_MPI_BYTES = "many"
    monkeypatch.setattr(dgampi, "MAX_MPI_BYTES", 2**40)  # clamped to the MPI int-count limit
    assert dgampi.chunk_step(1, 1) == MAX
    with pytest.raises(ValueError):
        dgampi.chunk_step(0, 1)
    with pytest.raises(ValueError):
        list(dgampi.row_chunks(-1, 8, 1))


# ---------------------------------------------------------------- point to point


def _exchange_rows(comm, shape, dtype, src_kind, dst_kind, alloc):
    """Rank 0 sends a distinct array to every rank, which checks it and sends
    its own back; returns a list of problems (checked after all traffic)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    problems = []
    if rank == 0:
        for dest in range(1, size):
            dgampi.send_rows(comm, layout(make(shape, dtype, seed=100 + dest), src_kind), dest, base_tag=7)
        for src in range(1, size):
            if alloc:
                got = dgampi.recv_rows_alloc(comm, shape, dtype, src, base_tag=9)
            else:
                got = empty_like_layout(shape, dtype, dst_kind)
                assert dgampi.recv_rows_into(comm, got, src, base_tag=9) is got
            ref = make(shape, dtype, seed=src)
            if got.dtype != ref.dtype or got.shape != ref.shape or not np.array_equal(got, ref):
                problems.append(f"rank 0 got {got!r} from {src}, expected {ref!r}")
    else:
        buf = empty_like_layout(shape, dtype, dst_kind)
        dgampi.recv_rows_into(comm, buf, 0, base_tag=7)
        if not np.array_equal(buf, make(shape, dtype, seed=100 + rank)):
            problems.append(f"rank {rank} received {buf!r}")
        dgampi.send_rows(comm, layout(make(shape, dtype, seed=rank), src_kind), 0, base_tag=9)
    return problems


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_send_recv_rows_all_dtypes(comm, dtype, shape):
    if comm.Get_size() == 1:
        pytest.skip("point to point needs 2 ranks")
    assert _exchange_rows(comm, shape, dtype, "c", "c", alloc=False) == []
    assert _exchange_rows(comm, shape, dtype, "c", "c", alloc=True) == []


@pytest.mark.parametrize("src_kind", LAYOUTS)
@pytest.mark.parametrize("dst_kind", LAYOUTS)
def test_send_recv_rows_strided(comm, src_kind, dst_kind):
    if comm.Get_size() == 1:
        pytest.skip("point to point needs 2 ranks")
    assert _exchange_rows(comm, (5, 3, 2), np.complex128, src_kind, dst_kind, alloc=False) == []
    assert _exchange_rows(comm, (6,), np.int32, src_kind, dst_kind, alloc=False) == []


def test_send_rows_messages_respect_max_mpi_bytes(comm, monkeypatch):
    """Setting dgampi.MAX_MPI_BYTES = 16 chunks the transfer: rank 1 receives
    the raw messages with mpi4py and checks their sizes, tags and content: the
    24-byte header (rows, row bytes, limit) in 16-byte pieces at base_tag,
    then chunk i at base_tag + 1 + i."""
    if comm.Get_size() == 1:
        pytest.skip("needs 2 ranks")
    monkeypatch.setattr(dgampi, "MAX_MPI_BYTES", 16)
    a = make((5, 3), np.complex128, seed=3)  # 48-byte rows: split at byte level
    rank = comm.Get_rank()
    sizes, tags, data = [], [], bytearray()
    if rank == 0:
        dgampi.send_rows(comm, a, 1, base_tag=100)
    elif rank == 1:
        schedule = list(dgampi.byte_chunks(5, 48, 16))
        header = bytearray()
        status = MPI.Status()
        for _ in range(2 + len(schedule)):
            comm.Probe(source=0, tag=MPI.ANY_TAG, status=status)
            n = status.Get_count(MPI.BYTE)
            buf = bytearray(n)
            comm.Recv([buf, MPI.BYTE], source=0, tag=status.Get_tag())
            sizes.append(n)
            tags.append(status.Get_tag())
            if len(tags) <= 2:
                header += buf
            else:
                data += buf
        assert sizes == [16, 8] + [c.byte_len for c in schedule]
        assert max(sizes) <= 16
        assert tags == [100, 100] + list(range(101, 101 + len(schedule)))
        assert list(np.frombuffer(bytes(header), dtype=np.uint64)) == [5, 48, 16]
        assert np.array_equal(np.frombuffer(bytes(data), dtype=np.complex128).reshape(5, 3), a)


def test_tag_range_checked_with_lowered_limit(comm, monkeypatch):
    """With MAX_MPI_BYTES = 16, 100 float64 need 50 tags: near MPI_TAG_UB the
    send fails (OUT_OF_RANGE) before sending anything."""
    tag_ub = comm.Get_attr(MPI.TAG_UB)
    monkeypatch.setattr(dgampi, "MAX_MPI_BYTES", 16)
    with pytest.raises(dgampi.DgampiError) as err:
        dgampi.send_rows(comm, np.zeros(100), comm.Get_rank(), base_tag=tag_ub - 10)
    assert err.value.status == dgampi.STATUS_OUT_OF_RANGE


def test_recv_rows_into_row_size_mismatch(comm):
    """A receiver whose rows differ from the sender's gets MISMATCH (no hang)."""
    if comm.Get_size() == 1:
        pytest.skip("needs 2 ranks")
    rank = comm.Get_rank()
    error = None
    if rank == 0:
        dgampi.send_rows(comm, make((4, 3), np.float64), 1, base_tag=5)
    elif rank == 1:
        try:
            dgampi.recv_rows_into(comm, np.zeros((4, 2)), 0, base_tag=5)
        except dgampi.DgampiError as e:
            error = e
        # The header sent ahead of the rows lets the receiver drain every
        # chunk of the rejected transfer: nothing is left queued.
        assert not comm.Iprobe(source=0, tag=MPI.ANY_TAG)
        assert error is not None and error.status == dgampi.STATUS_MISMATCH, error


# ---------------------------------------------------------------- broadcasts


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bcast_rows(comm, dtype, shape):
    rank, size = comm.Get_rank(), comm.Get_size()
    ref = make(shape, dtype, seed=11)
    for root, kind in [(0, "c"), (size - 1, "reversed" if len(shape) > 1 else "strided")]:
        mine = layout(ref, kind) if rank == root else None
        got = dgampi.bcast_rows(comm, mine, root)
        if rank == root:
            assert got is mine
        assert got.dtype == ref.dtype and got.shape == ref.shape
        assert np.array_equal(got, ref)


@pytest.mark.parametrize("kind", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.complex64, np.int64, np.uint8], ids=["complex64", "int64", "uint8"])
def test_bcast_rows_into(comm, dtype, kind):
    rank, size = comm.Get_rank(), comm.Get_size()
    ref = make((6, 2, 3), dtype, seed=5)
    root = size // 2
    view = layout(ref, kind) if rank == root else empty_like_layout(ref.shape, dtype, kind)
    assert dgampi.bcast_rows_into(comm, view, root) is view
    assert np.array_equal(view, ref)


def test_bcast_rows_into_mismatch_fails_on_every_rank(comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    if size == 1:
        pytest.skip("needs 2 ranks")
    view = np.zeros((4, 3) if rank != size - 1 else (4, 2))
    with pytest.raises(dgampi.DgampiError) as err:
        dgampi.bcast_rows_into(comm, view, 0)
    assert err.value.status in (dgampi.STATUS_MISMATCH, dgampi.STATUS_REMOTE_ERROR)
    # the communicator is still in step afterwards
    ok = dgampi.bcast_rows(comm, np.arange(3) if rank == 0 else None, 0)
    assert np.array_equal(ok, np.arange(3))


def test_bcast_rows_bad_root_argument_fails_everywhere(comm):
    rank = comm.Get_rank()
    if rank == 0:
        with pytest.raises(TypeError):
            dgampi.bcast_rows(comm, object(), 0)
    else:
        with pytest.raises(dgampi.DgampiError) as err:
            dgampi.bcast_rows(comm, None, 0)
        assert err.value.status == dgampi.STATUS_REMOTE_ERROR
    ok = dgampi.bcast_rows(comm, np.arange(4.0) if rank == 0 else None, 0)
    assert np.array_equal(ok, np.arange(4.0))


def test_bcast_rows_into_read_only_fails_everywhere(comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    view = np.zeros(3)
    if rank == size - 1 and size > 1:
        view.flags.writeable = False
        with pytest.raises(ValueError):
            dgampi.bcast_rows_into(comm, view, 0)
    elif size > 1:
        with pytest.raises(dgampi.DgampiError):
            dgampi.bcast_rows_into(comm, view, 0)


# ---------------------------------------------------------------- bytes


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 100, 1000])
def test_send_recv_bytes(comm, length):
    rank, size = comm.Get_rank(), comm.Get_size()
    if size == 1:
        pytest.skip("needs 2 ranks")
    blob = bytes((i * 31 + 7) % 256 for i in range(length))
    got = []
    if rank == 0:
        for dest in range(1, size):
            dgampi.send_bytes(comm, blob, dest, base_tag=20)
        for src in range(1, size):
            got.append(dgampi.recv_bytes(comm, src, base_tag=40))
        assert got == [blob[::-1] + bytes([src]) for src in range(1, size)]
    else:
        mine = dgampi.recv_bytes(comm, 0, base_tag=20)
        dgampi.send_bytes(comm, bytearray(mine[::-1] + bytes([rank])), 0, base_tag=40)
        assert mine == blob


# ---------------------------------------------------------------- argument errors


def test_argument_errors(comm):
    rank = comm.Get_rank()
    with pytest.raises(TypeError):
        dgampi.send_rows("not a comm", np.zeros(3), rank)
    with pytest.raises(ValueError):
        dgampi.send_rows(comm, np.float64(3.0), rank)  # 0-d
    with pytest.raises(TypeError):
        dgampi.send_rows(comm, np.zeros(3, dtype=bool), rank)
    with pytest.raises(TypeError):
        dgampi.send_rows(comm, np.zeros(3, dtype=np.float16), rank)
    with pytest.raises(TypeError):
        dgampi.send_rows(comm, np.zeros(3, dtype=">f8" if sys.byteorder == "little" else "<f8"), rank)
    with pytest.raises(TypeError):
        dgampi.recv_rows_into(comm, [0.0, 1.0], rank)
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        dgampi.recv_rows_into(comm, ro, rank)
    with pytest.raises(TypeError):
        dgampi.recv_rows_alloc(comm, (3,), np.float16, rank)
    with pytest.raises(ValueError):
        dgampi.recv_rows_alloc(comm, (-1, 3), np.float64, rank)
    with pytest.raises(TypeError):
        dgampi.send_bytes(comm, "text", rank)
    with pytest.raises(ValueError):
        dgampi.send_rows(comm, np.zeros(3), rank, base_tag=-1)
    # a library error carries status and message
    with pytest.raises(dgampi.DgampiError) as err:
        dgampi.send_rows(comm, np.zeros(3), comm.Get_size() + 5)
    assert isinstance(err.value, RuntimeError)
    assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT or err.value.status == dgampi.STATUS_OUT_OF_RANGE
    assert err.value.message and str(comm.Get_size() + 5) in err.value.message
