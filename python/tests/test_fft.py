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


# ---------------------------------------------------------------- transposed layouts

ALL_STRATEGIES = STRATEGIES + ["auto"]
# uneven splits, more ranks than planes or batch columns (at 3 and 4 ranks), an empty batch
T_GRIDS = [((4, 6, 5), (3,)), ((2, 3, 2), ()), ((3, 1, 1), (2,))]
SIDES = {"out": {"output_layout": "transposed"}, "in": {"input_layout": "transposed"}}


def in_layout(full, indices, batch_range, shape):
    """Rows ``indices`` and flattened batch columns ``batch_range`` of the
    whole ``[N, *batch]`` array, C-contiguous, shaped ``shape``."""
    flat = full.reshape(full.shape[0], -1)
    return np.ascontiguousarray(flat[indices][:, batch_range.start : batch_range.stop]).reshape(shape)


def side_of(p, side):
    """``(layout name, shape, indices, batch range)`` of a plan side."""
    return (
        getattr(p, side + "_layout"), getattr(p, side + "_shape"), getattr(p, side + "_indices")(),
        getattr(p, side + "_batch_range"),
    )


def check_flat_side(p, side):
    layout, shape, idx, rng = side_of(p, side)
    width = int(np.prod(p.batch_shape, dtype=np.int64))
    assert layout == "natural" and shape == p.block_shape and rng == range(width), (side, layout, shape, rng)
    assert idx.dtype == np.int64 and np.array_equal(idx, np.arange(p.my_slice.start, p.my_slice.stop)), side


def check_transposed_side(p, side):
    """The transposed layout of this rank, as the strategy defines it."""
    layout, shape, idx, rng = side_of(p, side)
    nx, ny, nz = p.nq
    n, width = nx * ny * nz, int(np.prod(p.batch_shape, dtype=np.int64))
    what = (p.strategy, p.nq, p.batch_shape, side)
    assert layout == "transposed" and isinstance(rng, range) and idx.dtype == np.int64, what
    assert 0 <= rng.start <= rng.stop <= width and rng.step == 1, (what, rng)
    assert idx.ndim == 1 and len(np.unique(idx)) == idx.size and np.all((0 <= idx) & (idx < n)), (what, idx)
    if p.strategy == "batch_transpose":  # every q, a slice of the flattened batch (maybe empty)
        assert np.array_equal(idx, np.arange(n)) and shape == (n, len(rng)), (what, shape)
        return
    assert rng == range(width) and shape == (idx.size,) + p.batch_shape, (what, rng, shape)
    ix, iy, iz = idx // (ny * nz), (idx // nz) % ny, idx % nz
    if p.strategy == "slab":  # whole y-planes, a contiguous range of them
        planes = np.unique(iy)
        assert idx.size == planes.size * nx * nz, what
        assert planes.size == 0 or np.array_equal(planes, np.arange(planes[0], planes[0] + planes.size)), what
    else:  # pencil: whole lines along x
        lines, counts = np.unique(iy * nz + iz, return_counts=True)
        assert np.all(counts == nx) and idx.size == lines.size * nx, what
        for line in lines:
            assert np.array_equal(np.sort(ix[iy * nz + iz == line]), np.arange(nx)), what


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64], ids=["c128", "c64"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("side", ["out", "in"])
@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_transposed_against_numpy(comm, strategy, side, direction, dtype):
    """A transposed-out plan writes numpy's transform of the whole array at
    the points and batch columns it reports; a transposed-in plan reads its
    input there and writes the flat block."""
    for seed, (nq, batch) in enumerate(T_GRIDS):
        full = grid_data(nq, batch, dtype, seed=20 + seed)
        ref = numpy_fft(full, nq, direction)
        with FftPlan(comm, nq, batch, dtype, direction, strategy=strategy, **SIDES[side]) as p:
            what = (p.strategy, nq, batch)
            assert strategy == "auto" or p.strategy == strategy
            flat, transposed = ("input", "output") if side == "out" else ("output", "input")
            check_flat_side(p, flat)
            check_transposed_side(p, transposed)
            if side == "out":
                block = my_block(full, comm)
                out = p.execute(block)
                assert out.shape == p.output_shape and out.dtype == np.dtype(dtype), what
                assert_rel(out, in_layout(ref, p.output_indices(), p.output_batch_range, p.output_shape), dtype, what)
            else:
                x = in_layout(full, p.input_indices(), p.input_batch_range, p.input_shape)
                out = np.full(p.output_shape, np.nan, dtype)
                assert p.execute(x, out=out) is out
                assert_rel(out, ref[p.my_slice], dtype, what)


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_transposed_layouts_agree_and_tile(comm, strategy):
    """Out and in plans of the same grid, batch and strategy (auto included)
    report the same layout, and over the ranks it holds every (q, batch
    column) exactly once (summed with dgampi's chunked allreduce)."""
    with dgampi.MpiDistributor(1, comm) as dist:
        for nq, batch in T_GRIDS:
            n, width = int(np.prod(nq)), int(np.prod(batch, dtype=np.int64))
            plans = [
                FftPlan(comm, nq, batch, direction=d, strategy=strategy, **SIDES[s])
                for d, s in [("forward", "out"), ("backward", "in"), ("forward", "in"), ("backward", "out")]
            ]
            try:
                fwd_out, bwd_in, fwd_in, bwd_out = plans
                assert len({p.strategy for p in plans}) == 1, [p.strategy for p in plans]
                ref = fwd_out.output_shape, list(fwd_out.output_indices()), fwd_out.output_batch_range
                for p, side in [(bwd_in, "input"), (fwd_in, "input"), (bwd_out, "output")]:
                    _, shape, idx, rng = side_of(p, side)
                    assert (shape, list(idx), rng) == ref, (p, side)
                cover = np.zeros(n * width, np.int32)
                for q in fwd_out.output_indices():
                    cover[q * width + fwd_out.output_batch_range.start : q * width + fwd_out.output_batch_range.stop] += 1
                dist.allreduce(cover)
                assert np.all(cover == 1), (nq, batch, cover)
            finally:
                for p in plans:
                    p.close()


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64], ids=["c128", "c64"])
@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_transposed_round_trips_and_convolution(comm, strategy, dtype):
    """forward-out then backward-in, and backward-out then forward-in, give
    the input back; forward-out, a pointwise product in that layout, then
    backward-in is numpy's ifftn(fftn(a) * fftn(b)) (the cyclic convolution)."""
    for seed, (nq, batch) in enumerate(T_GRIDS):
        full = grid_data(nq, batch, dtype, seed=30 + seed)
        kern = grid_data(nq, batch, dtype, seed=40 + seed)
        with FftPlan(comm, nq, batch, dtype, strategy=strategy, output_layout="transposed") as fwd_out, \
                FftPlan(comm, nq, batch, dtype, "backward", strategy=strategy, input_layout="transposed") as bwd_in, \
                FftPlan(comm, nq, batch, dtype, "backward", strategy=strategy, output_layout="transposed") as bwd_out, \
                FftPlan(comm, nq, batch, dtype, strategy=strategy, input_layout="transposed") as fwd_in:
            mine = full[fwd_out.my_slice].astype(np.complex128)
            spectrum = fwd_out.execute(my_block(full, comm))
            assert_rel(bwd_in.execute(spectrum), mine, dtype, "forward-out, backward-in")
            assert_rel(fwd_in.execute(bwd_out.execute(my_block(full, comm))), mine, dtype, "backward-out, forward-in")
            # the contraction pattern: the kernel's spectrum taken at this rank's points and columns
            k_hat = numpy_fft(kern, nq).astype(dtype)
            k = in_layout(k_hat, fwd_out.output_indices(), fwd_out.output_batch_range, fwd_out.output_shape)
            conv = bwd_in.execute(fwd_out.execute(my_block(full, comm)) * k)
            ref = numpy_fft(numpy_fft(full, nq) * numpy_fft(kern, nq), nq, "backward")
            assert_rel(conv, ref[fwd_out.my_slice], dtype, "convolution")


def test_transposed_plan_reuse_and_out_forms(comm):
    """One plan, several executions into one out (returned as is); the
    flattened-batch form of a side holding the whole batch; an object with
    .mat as input; repr and the layout names of a natural plan."""
    nq, batch = (3, 4, 2), (2, 2)
    for strategy in ALL_STRATEGIES:
        with FftPlan(comm, nq, batch, strategy=strategy, output_layout="transposed") as p:
            assert "output_layout='transposed'" in repr(p)
            out = np.empty(p.output_shape, np.complex128)
            for seed in range(2):
                full = grid_data(nq, batch, np.complex128, seed=50 + seed)
                expected = in_layout(numpy_fft(full, nq), p.output_indices(), p.output_batch_range, p.output_shape)
                assert p.execute(my_block(full, comm), out=out) is out
                assert_rel(out, expected, np.complex128, (strategy, seed))
            obj = NPoint(my_block(full, comm))
            assert_rel(p.execute(obj), expected, np.complex128, (strategy, "npoint"))
            if p.strategy != "batch_transpose":  # the whole batch: (count, 4) is accepted too
                flat_out = np.empty((p.output_shape[0], 4), np.complex128)
                assert p.execute(my_block(full, comm), out=flat_out) is flat_out
                assert_rel(flat_out.reshape(p.output_shape), expected, np.complex128, (strategy, "flattened"))
    with FftPlan(comm, nq, batch) as p:
        assert p.input_layout == p.output_layout == "natural" and "layout" not in repr(p)
        assert p.input_shape == p.output_shape == p.block_shape
        assert p.input_batch_range == p.output_batch_range == range(4)
        assert np.array_equal(p.input_indices(), np.arange(p.my_slice.start, p.my_slice.stop))
        assert np.array_equal(p.output_indices(), p.input_indices())


def test_transposed_misuse(comm):
    nq, batch = (4, 3, 2), (2,)
    full = grid_data(nq, batch, np.complex128, seed=60)
    last = comm.Get_size() - 1
    # layout arguments: both transposed, unknown names, non-strings (collective failures)
    for kwargs, exc in [
        ({"input_layout": "transposed", "output_layout": "transposed"}, ValueError),
        ({"output_layout": "transposed_out"}, ValueError),
        ({"input_layout": "flat"}, ValueError),
        ({"output_layout": 1}, TypeError),
    ]:
        fails_everywhere(comm, {last}, exc, lambda bad: FftPlan(comm, nq, batch, **(kwargs if bad else {})))
    with pytest.raises(ValueError, match="both"):  # every rank
        FftPlan(comm, nq, batch, input_layout="transposed", output_layout="transposed")
    if comm.Get_size() > 1:  # layouts that differ between ranks: the library's mismatch
        with pytest.raises(DgampiError):
            FftPlan(comm, nq, batch, output_layout="transposed" if comm.Get_rank() == 0 else "natural")
    # a natural plan takes no out=
    with FftPlan(comm, nq, batch) as p:
        block = my_block(full, comm)
        fails_everywhere(
            comm, {last}, ValueError,
            lambda bad: p.execute(block, out=np.empty(p.block_shape, np.complex128) if bad else None),
        )
        with pytest.raises(ValueError, match="out="):
            p.execute(block, out=np.empty(p.block_shape, np.complex128))
        assert np.array_equal(block, my_block(full, comm))  # nothing moved
        # the C entry points refuse the other kind of plan, on every rank
        out = np.empty(p.block_shape, np.complex128)
        status = dgampi._lib.fn.fft_plan_execute_into(p._handle, dgampi._lib.desc(block)[0], dgampi._lib.desc(out)[0])
        assert status == dgampi.STATUS_INVALID_ARGUMENT
    with FftPlan(comm, nq, batch, strategy="slab", output_layout="transposed") as p:
        block = my_block(full, comm)
        status = dgampi._lib.fn.fft_plan_execute(p._handle, dgampi._lib.desc(block)[0])
        assert status == dgampi.STATUS_INVALID_ARGUMENT and "execute_into" in dgampi._lib.last_error_message()
        # an output of the wrong shape, dtype or layout on one rank
        good_out = np.zeros(p.output_shape, np.complex128)
        wrong_shape = np.zeros((p.output_shape[0] + 1,) + p.output_shape[1:], np.complex128)
        # (on the last rank, which holds q-points and y-planes at any rank count (excess on the last
        # ranks): an empty array would count as contiguous)
        for exc, bad_out, status in [
            (DgampiError, wrong_shape, dgampi.STATUS_MISMATCH),
            (TypeError, good_out.astype(np.complex64), None),
            (TypeError, list(good_out), None),
            (ValueError, np.zeros(p.output_shape + (2,), np.complex128)[..., 0], None),  # not C-contiguous
        ]:
            block = my_block(full, comm)
            out = bad_out if comm.Get_rank() == last else good_out
            fails_everywhere(comm, {last}, exc, lambda bad: p.execute(block, out=out), status=status)
            assert np.array_equal(block, my_block(full, comm)), exc  # nothing moved
        ro = good_out.copy()
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            p.execute(my_block(full, comm), out=ro)
        # input and output overlapping in one buffer (on the last rank, which holds some of each)
        block = my_block(full, comm)
        if comm.Get_rank() == last:
            arena = np.zeros(block.size + good_out.size, np.complex128)
            block = arena[: block.size].reshape(block.shape)
            block[...] = my_block(full, comm)
            good_out = arena[block.size - 1 : block.size - 1 + good_out.size].reshape(p.output_shape)
        fails_everywhere(
            comm, {last}, DgampiError, lambda bad: p.execute(block, out=good_out), status=dgampi.STATUS_INVALID_ARGUMENT,
        )
        # still usable
        out = p.execute(my_block(full, comm))
        expected = in_layout(numpy_fft(full, nq), p.output_indices(), p.output_batch_range, p.output_shape)
        assert_rel(out, expected, np.complex128)
    # a closed plan: execute and the index queries fail, the rest stays readable
    p = FftPlan(comm, nq, batch, strategy="pencil", input_layout="transposed")
    shape, rng = p.input_shape, p.input_batch_range
    p.close()
    assert p.closed and p.input_shape == shape and p.input_batch_range == rng and p.input_layout == "transposed"
    for run in (lambda: p.execute(np.zeros(shape, np.complex128)), p.input_indices, p.output_indices):
        with pytest.raises(DgampiError) as err:
            run()
        assert err.value.status == dgampi.STATUS_INVALID_HANDLE


# ---------------------------------------------------------------- one-shot, transposed


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_one_shot_transposed_array(comm, strategy):
    """A plain array: an FftResult (mat, q_indices, batch_range); the result
    goes back through input_layout="transposed" (batch_shape given)."""
    nq, batch = (2, 3, 2), (3,)
    full = grid_data(nq, batch, np.complex64, seed=70)
    res = dgampi.execute_distributed_fft(my_block(full, comm), comm, nq=nq, strategy=strategy, output_layout="transposed")
    assert isinstance(res, dgampi.FftResult) and res.q_indices.dtype == np.int64 and isinstance(res.batch_range, range)
    expected = in_layout(numpy_fft(full, nq), res.q_indices, res.batch_range, res.mat.shape)
    assert_rel(res.mat, expected, np.complex64, strategy)
    back = dgampi.execute_distributed_fft(
        res, comm, nq, "backward", strategy=strategy, input_layout="transposed", batch_shape=batch,
    )
    assert isinstance(back, dgampi.FftResult) and back.batch_range == range(3)
    sl = my_slice(full, comm)
    assert np.array_equal(back.q_indices, np.arange(sl.start, sl.stop))
    assert_rel(back.mat, full[sl].astype(np.complex128), np.complex64, (strategy, "back"))


def test_one_shot_transposed_npoint_object(comm):
    """An object with .mat and .nq: .mat replaced by the output, .q_indices
    and .batch_range set, the object returned."""
    nq, batch = (3, 1, 1), (2,)
    full = grid_data(nq, batch, np.complex128, seed=71)
    obj = Field(my_block(full, comm), nq)
    assert dgampi.execute_distributed_fft(obj, comm, output_layout="transposed", norm="ortho") is obj
    expected = in_layout(numpy_fft(full, nq, norm="ortho"), obj.q_indices, obj.batch_range, obj.mat.shape)
    assert_rel(obj.mat, expected, np.complex128)
    assert dgampi.execute_distributed_fft(
        obj, comm, direction="backward", norm="ortho", input_layout="transposed", batch_shape=batch,
    ) is obj
    sl = my_slice(full, comm)
    assert obj.mat.shape == (sl.stop - sl.start,) + batch and obj.batch_range == range(2)
    assert np.array_equal(obj.q_indices, np.arange(sl.start, sl.stop))
    assert_rel(obj.mat, full[sl].astype(np.complex128), np.complex128, "back")


def test_one_shot_transposed_errors(comm):
    nq, batch = (2, 2, 2), (2,)
    full = grid_data(nq, batch, np.complex128, seed=72)
    last = comm.Get_size() - 1

    def run(bad, **kw):
        kw = kw if bad else {"output_layout": "transposed"}
        return dgampi.execute_distributed_fft(my_block(full, comm), comm, nq=nq, **kw)

    fails_everywhere(comm, {last}, TypeError, lambda bad: run(bad, input_layout="transposed"))  # no batch_shape
    fails_everywhere(comm, {last}, ValueError, lambda bad: run(bad, output_layout="transposed", input_layout="transposed"))
    fails_everywhere(comm, {last}, ValueError, lambda bad: run(bad, output_layout="transposed", batch_shape=(3,)))
    fails_everywhere(comm, {last}, ValueError, lambda bad: run(bad, output_layout="sideways"))
    # natural on one rank, transposed on the others: the library's mismatch everywhere
    if comm.Get_size() > 1:
        with pytest.raises(DgampiError):
            run(comm.Get_rank() == 0, output_layout="natural")
    with pytest.raises(DgampiError):  # not complex: the library's error, everywhere
        dgampi.execute_distributed_fft(my_block(full, comm).real.copy(), comm, nq=nq, output_layout="transposed")


@pytest.mark.parametrize("output_layout", ["natural", "transposed"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_threads_agree_with_one_thread(comm, strategy, output_layout):
    """2 threads per rank give the 1-thread result to rounding (a 2 MiB array,
    so the local copies and the scaling are split too); threads < 1 and
    non-integers are refused on every rank."""
    if dgampi.MAX_MPI_BYTES < 4096:
        pytest.skip("a 2 MiB array in 16-byte messages is too slow here; the default-limit runs cover it")
    nq, batch = (16, 16, 8), (64,)
    full = grid_data(nq, batch, np.complex128, seed=4)
    results = []
    for threads in (1, 2):
        with FftPlan(comm, nq, batch, direction="backward", strategy=strategy, output_layout=output_layout,
                     threads=threads) as p:
            assert p.threads == threads
            results.append(p.execute(my_block(full, comm)))
    scale = max(np.abs(results[0]).max(initial=0.0), 1e-300)
    assert np.abs(results[1] - results[0]).max(initial=0.0) <= 1e-14 * scale
    for bad, error in ((0, ValueError), (1.5, TypeError)):
        mine = bad if comm.Get_rank() == comm.Get_size() - 1 else 1
        expected = error if comm.Get_rank() == comm.Get_size() - 1 else DgampiError
        with pytest.raises(expected):
            FftPlan(comm, nq, batch, threads=mine).close()
