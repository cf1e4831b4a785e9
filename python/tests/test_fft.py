"""The distributed 3-D FFT: FftPlan, execute_distributed_fft,
get_pencil_indices and FFTW wisdom.

References are numpy.fft.fftn / ifftn (axes 0, 1, 2) of the whole
``[nx, ny, nz, batch...]`` array, generated identically on every rank; each
rank transforms its flat block (the distributor's split, excess on the last
ranks). The grids include fewer points than ranks and the batches fewer
elements than ranks, so at 3 and 4 ranks some ranks own no q or no batch
column.
"""

import numpy as np
import pytest
from mpi4py import MPI

import dgampi
from dgampi import DgampiError, FftPlan
from helpers import NPoint, block_slices

WORLD = MPI.COMM_WORLD
STRATEGIES = ["batch_transpose", "slab", "pencil"]
GRIDS = [(2, 3, 2), (4, 4, 4), (13, 7, 5), (1, 1, 8), (8, 1, 1)]
BATCHES = [(), (3,), (2, 2, 5)]
TOL = {np.dtype(np.complex128): 1e-12, np.dtype(np.complex64): 2e-5}


def grid_id(nq):
    return "x".join(map(str, nq))


def batch_id(batch):
    return "b" + ("x".join(map(str, batch)) or "1")


def grid_data(nq, batch, dtype, seed=0):
    """The whole ``[nx*ny*nz, *batch]`` array (identical on every rank)."""
    rng = np.random.default_rng(seed + 7 * len(batch) + sum(nq))
    shape = (int(np.prod(nq)),) + tuple(batch)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def numpy_fft(full, nq, direction="forward", norm=None):
    """numpy's transform over the three grid axes, computed in complex128."""
    f = np.fft.fftn if direction == "forward" else np.fft.ifftn
    grid = full.astype(np.complex128).reshape(tuple(nq) + full.shape[1:])
    if norm == "none":  # unscaled both ways
        out = np.fft.fftn(grid, axes=(0, 1, 2)) if direction == "forward" else np.fft.ifftn(grid, axes=(0, 1, 2)) * int(np.prod(nq))
        return out.reshape(full.shape)
    return f(grid, axes=(0, 1, 2), norm=norm).reshape(full.shape)


def assert_rel(got, ref, dtype, what=""):
    assert got.dtype == np.dtype(dtype) and got.shape == ref.shape, (what, got.dtype, got.shape, ref.shape)
    if ref.size == 0:
        return
    scale = max(float(np.abs(ref).max()), 1e-300)
    err = float(np.abs(got.astype(np.complex128) - ref).max()) / scale
    assert err <= TOL[np.dtype(dtype)], (what, err)


def my_block(full, comm):
    return full[block_slices(full.shape[0], comm.Get_size())[comm.Get_rank()]].copy()  # never a view of full


def fails_everywhere(comm, bad_ranks, exc, run, status=None):
    """``run(bad)`` raises ``exc`` on the bad ranks (with ``status`` for a
    DgampiError) and a REMOTE_ERROR DgampiError on the others; nobody hangs."""
    rank = comm.Get_rank()
    bad = rank in bad_ranks
    with pytest.raises(exc if bad else DgampiError) as err:
        run(bad)
    if bad and exc is not DgampiError:
        assert not isinstance(err.value, DgampiError), err.value
    if bad and status is not None:
        assert err.value.status == status, err.value
    if not bad:
        assert err.value.status == dgampi.STATUS_REMOTE_ERROR, err.value
    return err.value


# ---------------------------------------------------------------- correctness


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64], ids=["c128", "c64"])
@pytest.mark.parametrize("batch", BATCHES, ids=batch_id)
@pytest.mark.parametrize("nq", GRIDS, ids=grid_id)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_round_trip(comm, strategy, nq, batch, dtype):
    """Forward against numpy.fft.fftn, then backward back to the input."""
    full = grid_data(nq, batch, dtype)
    ref = numpy_fft(full, nq)
    with FftPlan(comm, nq, batch, dtype, "forward", strategy=strategy) as fwd, \
            FftPlan(comm, nq, batch, dtype, "backward", strategy=strategy) as bwd:
        assert fwd.strategy == strategy and bwd.strategy == strategy
        assert fwd.my_slice == block_slices(full.shape[0], comm.Get_size())[comm.Get_rank()]
        assert fwd.block_shape == (fwd.my_q,) + tuple(batch) and fwd.offset == fwd.my_slice.start
        block = my_block(full, comm)
        assert fwd.execute(block) is block
        assert_rel(block, ref[fwd.my_slice], dtype, "forward")
        bwd.execute(block)
        assert_rel(block, full[bwd.my_slice].astype(np.complex128), dtype, "round trip")


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward", "none"])
def test_norms(comm, norm):
    """Every norm in both directions against numpy, for every strategy and auto."""
    nq, batch = (4, 3, 2), (2,)
    full = grid_data(nq, batch, np.complex128, seed=1)
    for strategy in STRATEGIES + ["auto"]:
        for direction in ("forward", "backward"):
            with FftPlan(comm, nq, batch, direction=direction, norm=norm, strategy=strategy) as p:
                assert p.norm == (norm or "backward") and p.direction == direction
                block = my_block(full, comm)
                p.execute(block)
                assert_rel(block, numpy_fft(full, nq, direction, norm)[p.my_slice], np.complex128, (strategy, direction))


def test_direction_codes_and_defaults(comm):
    nq = (2, 2, 3)
    full = grid_data(nq, (), np.complex128, seed=2)
    for direction, name in [(-1, "forward"), (1, "backward"), (dgampi.FFT_BACKWARD, "backward")]:
        with FftPlan(comm, nq, direction=direction) as p:
            assert p.direction == name and p.dtype == np.complex128 and p.batch_shape == ()
            assert p.strategy in STRATEGIES and p.rigor == "estimate" and p.limit == dgampi.MAX_MPI_BYTES
            block = my_block(full, comm)
            p(block)
            assert_rel(block, numpy_fft(full, nq, name)[p.my_slice], np.complex128)
    with FftPlan(comm, nq, batch_shape=2, limit=0) as p:  # an int batch; 0: the process-wide limit
        assert p.batch_shape == (2,) and p.limit == dgampi.max_message_bytes()


def test_plan_reuse(comm):
    """One plan, many executions: different arrays, the same array twice, an
    8-byte-aligned (not 16) complex128 block, and an N-point object."""
    nq, batch = (3, 4, 2), (3,)
    with FftPlan(comm, nq, batch, strategy="pencil") as p:
        for seed in range(3):
            full = grid_data(nq, batch, np.complex128, seed=seed)
            block = my_block(full, comm)
            p.execute(block)
            assert_rel(block, numpy_fft(full, nq)[p.my_slice], np.complex128, seed)
        full = grid_data(nq, batch, np.complex128, seed=9)
        block = my_block(full, comm)
        p.execute(block)
        p.execute(block)
        twice = numpy_fft(numpy_fft(full, nq), nq)
        assert_rel(block, twice[p.my_slice], np.complex128, "twice")
        raw = bytearray(block.nbytes + 8)
        shifted = np.frombuffer(raw, dtype=np.complex128, count=block.size, offset=8).reshape(block.shape)
        shifted[...] = my_block(full, comm)
        p.execute(shifted)
        assert_rel(shifted, numpy_fft(full, nq)[p.my_slice], np.complex128, "unaligned")
        obj = NPoint(my_block(full, comm))
        assert p.execute(obj) is obj
        assert_rel(obj.mat, numpy_fft(full, nq)[p.my_slice], np.complex128, "npoint")


@pytest.mark.parametrize("strategy", STRATEGIES + ["auto"])
def test_tiny_grids_and_batches(comm, strategy):
    """Grids with fewer points than ranks (some ranks own no q) and batches
    smaller than the rank count, complex64 and complex128."""
    for nq in [(1, 1, 1), (1, 2, 1), (3, 1, 1), (1, 1, 2)]:
        for batch in [(), (1,), (2,), (1, 3)]:
            for dtype in (np.complex128, np.complex64):
                full = grid_data(nq, batch, dtype, seed=3)
                block = my_block(full, comm)
                with FftPlan(comm, nq, batch, dtype, strategy=strategy) as p:
                    assert p.my_q == block.shape[0]
                    p.execute(block)
                    assert_rel(block, numpy_fft(full, nq)[p.my_slice], dtype, (nq, batch))
                with FftPlan(comm, nq, batch, dtype, "backward", strategy=strategy) as p:
                    p.execute(block)
                    assert_rel(block, full[p.my_slice].astype(np.complex128), dtype, (nq, batch, "back"))


# ---------------------------------------------------------------- one-shot


class Field(NPoint):
    """An N-point object that knows its grid (the original module's ``.nq``)."""

    def __init__(self, mat, nq):
        super().__init__(mat)
        self.nq = nq


def test_one_shot_npoint_object(comm):
    nq, batch = (4, 2, 3), (2, 2)
    full = grid_data(nq, batch, np.complex128, seed=4)
    obj = Field(my_block(full, comm), nq)
    before = obj.mat
    assert dgampi.execute_distributed_fft(obj, comm) is obj
    assert obj.mat is before  # in place
    assert_rel(obj.mat, numpy_fft(full, nq)[my_slice(full, comm)], np.complex128)
    dgampi.execute_distributed_fft(obj, comm, direction="backward", strategy="slab")
    assert_rel(obj.mat, full[my_slice(full, comm)].astype(np.complex128), np.complex128, "back")
    # an explicit nq wins over .nq; an object without .nq needs nq=
    obj.nq = "not a grid"
    dgampi.execute_distributed_fft(obj, comm, nq=list(nq), norm="ortho")
    assert_rel(obj.mat, numpy_fft(full, nq, norm="ortho")[my_slice(full, comm)], np.complex128, "ortho")
    plain = NPoint(my_block(full, comm))
    dgampi.execute_distributed_fft(plain, comm, np.array(nq), -1)
    assert_rel(plain.mat, numpy_fft(full, nq)[my_slice(full, comm)], np.complex128, "no .nq")


def my_slice(full, comm):
    return block_slices(full.shape[0], comm.Get_size())[comm.Get_rank()]


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64], ids=["c128", "c64"])
def test_one_shot_array(comm, dtype):
    nq, batch = (5, 1, 3), (3,)
    full = grid_data(nq, batch, dtype, seed=5)
    block = my_block(full, comm)
    for strategy in STRATEGIES + ["auto"]:
        assert dgampi.execute_distributed_fft(block, comm, nq=nq, strategy=strategy) is block
        assert_rel(block, numpy_fft(full, nq)[my_slice(full, comm)], dtype, strategy)
        dgampi.execute_distributed_fft(block, comm, nq=nq, direction="backward", strategy=strategy, rigor="estimate")
        assert_rel(block, full[my_slice(full, comm)].astype(np.complex128), dtype, (strategy, "back"))


# ---------------------------------------------------------------- layouts


def reference_indices(rank, size, nq, layout):
    """The layouts written out: flat blocks with the excess on the last ranks;
    pencil lines (row-major over the other two axes) with the excess on the
    first ranks, stored line by line, the pencil axis fastest."""
    nx, ny, nz = nq
    q = np.arange(nx * ny * nz).reshape(nq)
    if layout == "flat":
        return q.reshape(-1)[block_slices(q.size, size)[rank]]
    axis = {"x_pencil": 0, "y_pencil": 1, "z_pencil": 2}[layout]
    lines = np.moveaxis(q, axis, -1).reshape(-1, nq[axis])  # other axes row-major, pencil axis last
    base, extra = divmod(lines.shape[0], size)
    start = rank * base + min(rank, extra)
    return lines[start : start + base + (1 if rank < extra else 0)].reshape(-1)


@pytest.mark.parametrize("layout", list(dgampi.FFT_LAYOUTS))
def test_get_pencil_indices_tiling(layout):
    for nq in GRIDS + [(1, 1, 1), (3, 5, 1)]:
        n = int(np.prod(nq))
        for size in range(1, 8):
            seen = np.zeros(n, dtype=np.int64)
            for rank in range(size):
                idx = dgampi.get_pencil_indices(rank, size, nq, layout)
                assert idx.dtype == np.int64 and idx.ndim == 1
                assert np.array_equal(idx, reference_indices(rank, size, nq, layout)), (nq, size, rank)
                seen[idx] += 1
            assert np.all(seen == 1), (nq, size)


def test_get_pencil_indices_examples_and_flat_split(comm):
    assert list(dgampi.get_pencil_indices(0, 4, (2, 3, 2), "z_pencil")) == [0, 1, 2, 3]
    assert list(dgampi.get_pencil_indices(0, 1, (2, 3, 2), "y_pencil"))[:6] == [0, 2, 4, 1, 3, 5]
    assert list(dgampi.get_pencil_indices(0, 1, (2, 3, 2), "x_pencil"))[:4] == [0, 6, 1, 7]
    assert list(dgampi.get_pencil_indices(2, 3, np.array([7, 1, 1]), "flat")) == [4, 5, 6]
    assert dgampi.get_pencil_indices(5, 6, (8, 1, 1), "x_pencil").size == 0
    with FftPlan(comm, (13, 7, 5)) as p:
        flat = dgampi.get_pencil_indices(comm.Get_rank(), comm.Get_size(), p.nq, "flat")
        assert np.array_equal(flat, np.arange(p.my_slice.start, p.my_slice.stop))


def test_get_pencil_indices_errors():
    for bad in ["w_pencil", "Flat", "", "pencil"]:
        with pytest.raises(ValueError, match="unknown layout"):
            dgampi.get_pencil_indices(0, 1, (2, 2, 2), bad)
    with pytest.raises(TypeError):
        dgampi.get_pencil_indices(0, 1, (2, 2, 2), 1)
    with pytest.raises(ValueError):
        dgampi.get_pencil_indices(0, 1, (2, 2), "flat")
    with pytest.raises(TypeError):
        dgampi.get_pencil_indices(0.5, 1, (2, 2, 2), "flat")
    for rank, size, nq in [(2, 2, (2, 2, 2)), (-1, 2, (2, 2, 2)), (0, 0, (2, 2, 2)), (0, 1, (2, 0, 2)), (0, 1, (2, -1, 2))]:
        with pytest.raises(DgampiError):
            dgampi.get_pencil_indices(rank, size, nq, "z_pencil")


# ---------------------------------------------------------------- bad input


def test_zero_extent_fails_everywhere(comm):
    for nq in [(0, 2, 2), (2, 2, 0), (2, -1, 2)]:
        with pytest.raises(DgampiError) as err:
            FftPlan(comm, nq)
        assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT, err.value
        with pytest.raises(DgampiError) as err:
            dgampi.execute_distributed_fft(np.zeros(0, np.complex128), comm, nq=nq)
        assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT, err.value
    last = comm.Get_size() - 1
    fails_everywhere(
        comm, {last}, DgampiError, lambda bad: FftPlan(comm, (2, 0, 2) if bad else (2, 1, 2)),
        status=dgampi.STATUS_INVALID_ARGUMENT,
    )


def test_block_length_mismatch_on_one_rank(comm):
    """The last rank passes one row too many (or too few): a DgampiError on
    every rank, nothing moved, and the plan still works afterwards."""
    nq, batch = (3, 2, 2), (2,)
    full = grid_data(nq, batch, np.complex128, seed=6)
    last = comm.Get_size() - 1
    with FftPlan(comm, nq, batch) as p:
        for extra in (1, -1):
            good = my_block(full, comm)
            block = np.zeros((p.my_q + extra, 2), np.complex128) if comm.Get_rank() == last else good.copy()
            before = block.copy()
            fails_everywhere(comm, {last}, DgampiError, lambda bad: p.execute(block), status=dgampi.STATUS_MISMATCH)
            assert np.array_equal(block, before)
        block = my_block(full, comm)
        p.execute(block)
        assert_rel(block, numpy_fft(full, nq)[p.my_slice], np.complex128)
    # the one-shot too (its plan is made from each rank's block)
    block = my_block(full, comm)
    if comm.Get_rank() == last:
        block = np.zeros((block.shape[0] + 1,) + batch, np.complex128)
    fails_everywhere(
        comm, {last}, DgampiError, lambda bad: dgampi.execute_distributed_fft(block, comm, nq=nq),
        status=dgampi.STATUS_MISMATCH,
    )


def test_wrong_block_dtype_layout_or_object(comm):
    nq = (2, 2, 2)
    full = grid_data(nq, (), np.complex128, seed=7)
    last = comm.Get_size() - 1
    with FftPlan(comm, nq) as p:
        good = my_block(full, comm)
        cases = [
            (TypeError, lambda: good.astype(np.complex64)),  # wrong dtype for the plan
            (TypeError, lambda: good.real.copy()),
            (TypeError, lambda: list(good)),  # not an array
            (TypeError, lambda: good.real.astype(np.float16)),  # not a dgampi dtype
            (ValueError, lambda: np.repeat(good, 2)[::2]),  # strided
        ]
        for exc, make_bad in cases:
            block = make_bad() if comm.Get_rank() == last else good.copy()
            fails_everywhere(comm, {last}, exc, lambda bad: p.execute(block))
        ro = good.copy()
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            p.execute(ro)
        with pytest.raises(TypeError):  # every rank
            p.execute(good.astype(np.complex64))
        block = good.copy()
        p.execute(block)  # still usable
        assert_rel(block, numpy_fft(full, nq)[p.my_slice], np.complex128)
    # the one-shot: a non-contiguous block on one rank, no nq, an object without .nq
    block = np.repeat(good, 2)[::2] if comm.Get_rank() == last else good.copy()
    fails_everywhere(comm, {last}, ValueError, lambda bad: dgampi.execute_distributed_fft(block, comm, nq=nq))
    with pytest.raises(TypeError, match="nq"):
        dgampi.execute_distributed_fft(good.copy(), comm)
    with pytest.raises(TypeError, match="nq"):
        dgampi.execute_distributed_fft(NPoint(good.copy()), comm)
    with pytest.raises(DgampiError):  # not complex: the library's error, everywhere
        dgampi.execute_distributed_fft(good.real.copy(), comm, nq=nq)


def test_bad_plan_arguments(comm):
    last = comm.Get_size() - 1
    for kwargs, exc in [
        ({"strategy": "slabs"}, ValueError),
        ({"strategy": 2}, TypeError),
        ({"direction": "inverse"}, ValueError),
        ({"direction": 0}, ValueError),
        ({"norm": "unitary"}, ValueError),
        ({"rigor": "exhaustive"}, ValueError),
        ({"limit": -1}, ValueError),
        ({"batch_shape": (2, "a")}, TypeError),
        ({"dtype": np.float16}, TypeError),
    ]:
        fails_everywhere(comm, {last}, exc, lambda bad: FftPlan(comm, (2, 2, 2), **(kwargs if bad else {})))
    for nq, exc in [((2, 2), ValueError), ((2, 2, 2.0), TypeError), (None, TypeError)]:
        fails_everywhere(comm, {0}, exc, lambda bad: FftPlan(comm, nq if bad else (2, 2, 2)))
    # the library's checks: a non-complex dtype, a negative batch extent, too many batch axes (nq and
    # the batch share the 32 axes of the agreement header), plans that differ between ranks
    FftPlan(comm, (2, 2, 2), (1,) * 29).close()
    for kwargs in [{"dtype": np.float64}, {"batch_shape": (-1,)}, {"batch_shape": (1,) * 30}]:
        with pytest.raises(DgampiError):
            FftPlan(comm, (2, 2, 2), **kwargs)
    if comm.Get_size() > 1:
        with pytest.raises(DgampiError):
            FftPlan(comm, (2, 2, 2), (3,) if comm.Get_rank() == 0 else (2,))
        with pytest.raises(DgampiError):
            FftPlan(comm, (2, 2, 2), direction="forward" if comm.Get_rank() == 0 else "backward")
    with pytest.raises(TypeError):
        FftPlan("not a comm", (2, 2, 2))
    with pytest.raises(ValueError, match="unknown strategy"):  # the one-shot's options too
        dgampi.execute_distributed_fft(np.zeros((1, 1), np.complex128), comm, nq=(2, 2, 2), strategy="fast")


def test_closed_plan(comm):
    p = FftPlan(comm, (2, 2, 2), (2,))
    shape, strategy = p.block_shape, p.strategy
    p.close()
    p.close()  # idempotent
    assert p.closed and p.block_shape == shape and p.strategy == strategy and "closed" in repr(p)
    with pytest.raises(DgampiError) as err:
        p.execute(np.zeros(shape, np.complex128))
    assert err.value.status == dgampi.STATUS_INVALID_HANDLE
    with FftPlan(comm, (2, 2, 2)) as q:
        assert not q.closed
    assert q.closed


# ---------------------------------------------------------------- wisdom


def test_wisdom(comm):
    for dtype in (np.complex128, np.complex64):
        with FftPlan(comm, (2, 3, 2), (2,), dtype, rigor="measure") as p:
            assert p.rigor == "measure"
            full = grid_data((2, 3, 2), (2,), dtype, seed=8)
            block = my_block(full, comm)
            p.execute(block)
            assert_rel(block, numpy_fft(full, (2, 3, 2))[p.my_slice], dtype)
        text = dgampi.export_fft_wisdom(dtype)
        assert isinstance(text, str) and text.startswith("(fftw-3")
        dgampi.import_fft_wisdom(dtype, text)
        dgampi.import_fft_wisdom(dtype, text.encode())
    assert "fftwf_wisdom" in dgampi.export_fft_wisdom(np.complex64)
    with pytest.raises(DgampiError):
        dgampi.import_fft_wisdom(np.complex128, "(not wisdom")
    with pytest.raises(DgampiError):
        dgampi.export_fft_wisdom(np.float64)
    with pytest.raises(TypeError):
        dgampi.import_fft_wisdom(np.complex128, 42)
    with pytest.raises(ValueError):
        dgampi.import_fft_wisdom(np.complex128, "(fftw\0")
