"""Brillouin-zone maps, the orbital transform, the node-aware frequency split
and gather_full_ibz_for_vslice, and their reusable plans (MapPlan,
VslicePlan).

References are computed here with numpy on arrays built identically on every
rank: ``irr_all[irrk_inv]`` for the unfolding, an einsum of the definition for
the orbital transform, and a direct implementation of the split rule. The
maps include fewer irreducible points than ranks, so at 3 and 4 ranks some
ranks hold no irreducible (or no full-BZ) point.
"""

import warnings

import numpy as np
import pytest
from mpi4py import MPI

import dgampi
from dgampi import MpiDistributor
from helpers import DTYPE_IDS, DTYPES, LAYOUTS, NPoint, block_slices, empty_like_layout, layout, make

WORLD = MPI.COMM_WORLD
KINDS = {"exchange": dgampi.exchange_and_map_irrbz_fullbz, "root": dgampi.map_irrbz_fullbz}
NB = 2  # orbital dimension of the transform tests


def square_lattice_map(n):
    """irrk_inv of the n x n square lattice under the inversions and the x<->y
    swap: q = i*n + j folds to a = min(i, (n-i)%n), b = min(j, (n-j)%n); the
    representative (min(a,b), max(a,b)) is numbered by increasing lo*n + hi."""

    def fold(i):
        return min(i, (n - i) % n)

    reps = []
    for q in range(n * n):
        a, b = fold(q // n), fold(q % n)
        reps.append(min(a, b) * n + max(a, b))
    number = {r: k for k, r in enumerate(sorted(set(reps)))}
    return np.array([number[r] for r in reps], dtype=np.int64)


MAPS = {
    "square2": square_lattice_map(2),
    "square4": square_lattice_map(4),
    "square16": square_lattice_map(16),
    "all_zeros": np.zeros(11, dtype=np.int64),  # one irreducible row feeds every full row
    "identity": np.arange(9, dtype=np.int64),
    "two_irr": np.array([1, 0, 1, 1, 0, 0, 1], dtype=np.int64),  # fewer irreducible points than ranks
    "empty": np.zeros(0, dtype=np.int64),
}


def n_irr_of(imap):
    return int(imap.max()) + 1 if imap.size else 0


@pytest.fixture(scope="module")
def maps():
    """name -> (irrk_inv, irr distributor, full distributor) over COMM_WORLD,
    made once for the module (every rank runs the same tests in order)."""
    made = {}
    for name, imap in MAPS.items():
        made[name] = (imap, MpiDistributor(n_irr_of(imap), WORLD), MpiDistributor(imap.size, WORLD))
    yield made
    for _, irr, full in made.values():
        irr.close()
        full.close()


def fails_everywhere(rank, bad_ranks, exc, run):
    """``run(bad)`` raises ``exc`` on the bad ranks and a REMOTE_ERROR
    DgampiError on the others (nobody hangs: the watchdog would catch it)."""
    if rank in bad_ranks:
        with pytest.raises(exc) as err:
            run(True)
        assert not (exc is not dgampi.DgampiError and isinstance(err.value, dgampi.DgampiError)), err.value
    else:
        with pytest.raises(dgampi.DgampiError) as err:
            run(False)
        assert err.value.status == dgampi.STATUS_REMOTE_ERROR, err.value
    return err.value


def unitaries(n, nb, seed):
    """n random unitary nb x nb matrices (identical on every rank)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, nb, nb)) + 1j * rng.standard_normal((n, nb, nb))
    q, r = np.linalg.qr(z)
    return q * (np.diagonal(r, axis1=1, axis2=2) / np.abs(np.diagonal(r, axis1=1, axis2=2)))[:, None, :]


def transform_inputs(n, seed=3):
    rng = np.random.default_rng(seed + 1)
    return unitaries(n, NB, seed), rng.choice([-1.0, 1.0], size=n), rng.random(n) < 0.5


def reference_transform(rows, u, sigma, conj, axes):
    """The definition: 2 axes sigma * U X U^dagger; 4 axes U on orbital axes 1
    and 3, conj(U) on 2 and 4, no sign; X = conj(M) where conj."""
    out = np.empty(rows.shape, dtype=np.complex128)
    for k in range(rows.shape[0]):
        x = rows[k].astype(np.complex128)
        if conj[k]:
            x = x.conj()
        uk, uc = u[k], u[k].conj()
        if axes == 2:
            out[k] = sigma[k] * np.einsum("ac,cd...,bd->ab...", uk, x, uc)
        else:
            out[k] = np.einsum("ae,bf,cg,dh,efgh...->abcd...", uk, uc, uk, uc, x)
    return out


def assert_close(got, ref, dtype):
    assert got.dtype == np.dtype(dtype) and got.shape == ref.shape
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    tol = 1e-12 if np.dtype(dtype) == np.complex128 else 1e-5
    assert np.allclose(got, ref, rtol=0, atol=tol * scale), np.abs(got - ref).max()


def reference_split(n, nodes):
    """The node-aware split rule, written out directly."""
    labels = sorted(set(nodes))
    sizes, offsets, start = [0] * len(nodes), [0] * len(nodes), 0
    for i, label in enumerate(labels):
        node_n = n // len(labels) + (1 if i < n % len(labels) else 0)
        ranks = [r for r, lab in enumerate(nodes) if lab == label]
        for j, r in enumerate(ranks):
            sizes[r] = node_n // len(ranks) + (1 if j < node_n % len(ranks) else 0)
            offsets[r] = start
            start += sizes[r]
    return sizes, offsets


# ---------------------------------------------------------------- plain maps


def test_square_lattice_maps():
    assert list(square_lattice_map(2)) == [0, 1, 1, 2]
    for n, n_irr in [(2, 3), (4, 6), (16, 45)]:
        m = square_lattice_map(n)
        assert m.size == n * n and n_irr_of(m) == n_irr and set(m) == set(range(n_irr))
        grid = m.reshape(n, n)
        assert np.array_equal(grid, grid.T)  # x <-> y
        assert np.array_equal(grid, grid[(-np.arange(n)) % n])  # inversion of x


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_map_all_maps_all_dtypes(maps, kind, dtype):
    f = KINDS[kind]
    for name, (imap, irr, full) in maps.items():
        irr_all = make((irr.ntasks, 3), dtype, seed=imap.size)
        expected = irr_all[imap][full.my_slice]
        got = f(irr_all[irr.my_slice], imap, irr, full)
        assert got.dtype == np.dtype(dtype) and got.shape == expected.shape, name
        assert np.array_equal(got, expected), name


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lay", LAYOUTS)
def test_map_shapes_layouts_and_out(maps, kind, lay):
    f = KINDS[kind]
    for name in ("square4", "two_irr"):
        imap, irr, full = maps[name]
        for trailing in [(), (2, 2, 3)]:
            irr_all = make((irr.ntasks,) + trailing, np.complex128, seed=len(trailing))
            expected = irr_all[imap][full.my_slice]
            src = layout(irr_all[irr.my_slice], lay)
            got = f(src, imap, irr, full)
            assert got.shape == expected.shape and np.array_equal(got, expected), (name, trailing)
            out = empty_like_layout(expected.shape, np.complex128, lay)
            got = f(src, imap.reshape(-1, 1), irr, full, out=out)  # a grid-shaped irrk_inv is flattened
            assert got is out and np.array_equal(out, expected), (name, trailing)


@pytest.mark.parametrize("kind", KINDS)
def test_map_npoint_object(maps, kind):
    imap, irr, full = maps["square4"]
    irr_all = make((irr.ntasks, 2, 3), np.float64, seed=5)
    obj = NPoint(irr_all[irr.my_slice].copy(), name="chi", beta=7.5)
    before = obj.mat.copy()
    got = KINDS[kind](obj, list(imap), irr, full)  # irrk_inv as a list
    assert isinstance(got, NPoint) and got is not obj and got == obj
    assert np.array_equal(got.mat, irr_all[imap][full.my_slice])
    assert np.array_equal(obj.mat, before)


# ---------------------------------------------------------------- orbital transform


@pytest.mark.parametrize("inputs", ["local", "full", "grid"])
@pytest.mark.parametrize("axes", [2, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_orbital_transform(maps, kind, axes, inputs):
    """Unfolding plus the per-k transform against the einsum definition, with
    U/sigma/conj for this rank's full-BZ points ("local"), for all of them
    ("full"), or all of them grid-shaped with a grid-shaped irrk_inv and an
    explicit n_orb_axes ("grid"); complex64 and complex128; the result
    allocated and written into a Fortran-ordered ``out``."""
    f = KINDS[kind]
    imap, irr, full = maps["square4"]
    n_full = imap.size
    u, sigma, conj = transform_inputs(n_full, seed=axes)
    trailing = (NB, NB, 3) if axes == 2 else (NB, NB, NB, NB, 2)
    for dtype in (np.complex128, np.complex64):
        irr_all = make((irr.ntasks,) + trailing, dtype, seed=axes)
        ref = reference_transform(irr_all[imap], u, sigma, conj, axes)[full.my_slice]
        block = irr_all[irr.my_slice]
        kw, m = {}, imap
        if inputs == "local":
            args = (u[full.my_slice], sigma[full.my_slice], conj[full.my_slice])
        elif inputs == "full":
            args = (u, sigma, conj)
        else:
            args = (u.reshape(4, 4, NB, NB), sigma.reshape(4, 4), conj.reshape(4, 4))
            kw, m = {"n_orb_axes": axes}, imap.reshape(4, 4)
        assert_close(f(block, m, irr, full, *args, **kw), ref.astype(dtype), dtype)
        out = empty_like_layout(ref.shape, dtype, "fortran")
        assert f(block, m, irr, full, *args, out=out, **kw) is out
        assert_close(out, ref.astype(dtype), dtype)
    if inputs == "local":  # defaults: sigma = +1, no conjugation
        irr_all = make((irr.ntasks,) + trailing, np.complex128, seed=1)
        ref = reference_transform(irr_all[imap], u, np.ones(n_full), np.zeros(n_full, bool), axes)[full.my_slice]
        assert_close(f(irr_all[irr.my_slice], imap, irr, full, u[full.my_slice]), ref, np.complex128)


# ---------------------------------------------------------------- node-aware split


def test_node_aware_split_examples():
    sizes, offsets = dgampi.get_node_aware_v_dist(6, node_ids=[0, 1, 0, 1])
    assert sizes.dtype == np.int64 and list(sizes) == [2, 2, 1, 1] and list(offsets) == [0, 3, 2, 5]
    sizes, offsets = dgampi.get_node_aware_v_dist(5, node_ids=[10, 11, 12, 10])
    assert list(sizes) == [1, 2, 1, 1] and list(offsets) == [0, 2, 4, 1]
    sizes, offsets = dgampi.get_node_aware_v_dist(2, node_ids=np.zeros(4, dtype=np.int32))
    assert list(sizes) == [1, 1, 0, 0] and list(offsets) == [0, 1, 2, 2]
    sizes, offsets = dgampi.get_node_aware_v_dist(0, node_ids=[3])
    assert list(sizes) == [0] and list(offsets) == [0]
    rng = np.random.default_rng(11)
    for _ in range(40):
        nodes = [int(x) for x in rng.integers(-3, 3, size=int(rng.integers(1, 9)))]
        n = int(rng.integers(0, 20))
        sizes, offsets = dgampi.get_node_aware_v_dist(n, node_ids=nodes)
        assert (list(sizes), list(offsets)) == reference_split(n, nodes), (n, nodes)
        assert sizes.sum() == n


def node_labels(comm):
    """Each rank's node label: the lowest rank of comm on its node (the
    library's convention), gathered with a 4-byte-per-rank Allgather."""
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        leader = MPI.Group.Translate_ranks(node.Get_group(), [0], comm.Get_group())[0]
    finally:
        node.Free()
    labels = np.zeros(comm.Get_size(), dtype=np.int32)
    comm.Allgather(np.array([leader], dtype=np.int32), labels)
    return [int(x) for x in labels]


def test_node_aware_split_real_nodes(comm):
    labels = node_labels(comm)
    with MpiDistributor(0, comm) as d:
        for n in (0, 1, 5, 7):
            ref = reference_split(n, labels)
            for got in (
                dgampi.get_node_aware_v_dist(n, comm),
                dgampi.get_node_aware_v_dist(n, d),
                dgampi.get_node_aware_v_dist(n),  # COMM_WORLD
                dgampi.get_node_aware_v_dist(n, comm, node_ids=labels),
            ):
                assert (list(got[0]), list(got[1])) == ref, (n, labels)


def test_node_aware_split_errors(comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    with pytest.raises(TypeError):
        dgampi.get_node_aware_v_dist(2.5, comm)
    with pytest.raises(TypeError):
        dgampi.get_node_aware_v_dist(3, comm="world")
    with pytest.raises(ValueError):
        dgampi.get_node_aware_v_dist(3, node_ids=[])
    with pytest.raises(TypeError):
        dgampi.get_node_aware_v_dist(3, node_ids=[0.0, 1.0])
    with pytest.raises(ValueError):
        dgampi.get_node_aware_v_dist(3, comm, node_ids=[0] * (size + 1))
    with pytest.raises(ValueError):
        dgampi.get_node_aware_v_dist(-1, node_ids=[0])
    # invalid on one rank only: every rank raises, none hangs
    fails_everywhere(rank, {size - 1}, ValueError, lambda bad: dgampi.get_node_aware_v_dist(-1 if bad else 4, comm))
    with MpiDistributor(0, comm) as d:
        fails_everywhere(rank, {0}, TypeError, lambda bad: dgampi.get_node_aware_v_dist("4" if bad else 4, d))
        assert dgampi.get_node_aware_v_dist(4, d)[0].sum() == 4
        fails_everywhere(rank, {size - 1}, ValueError, lambda bad: dgampi.get_node_aware_v_dist(4, d, order="fast" if bad else "host_name"))
        if size > 1:  # valid orders that differ between ranks: MISMATCH everywhere
            with pytest.raises(dgampi.DgampiError) as err:
                dgampi.get_node_aware_v_dist(4, d, order="host_name" if rank == 0 else "shared_memory")
            assert err.value.status == dgampi.STATUS_MISMATCH and "node order" in str(err.value)


def test_node_aware_split_host_name_order_is_the_originals(comm):
    """The original's _get_node_aware_v_dist: nodes by MPI.Get_processor_name,
    in sorted order, slices in rank order; a distributor over its sizes owns
    exactly those slices and allgathers (5 frequencies: the original's vslice)."""
    # the host names, gathered in messages below the limit (the PMPI checker
    # watches this test's own MPI calls too)
    row = np.zeros((1, MPI.MAX_PROCESSOR_NAME), dtype=np.uint8)
    mine = MPI.Get_processor_name().strip().encode()
    row[0, : len(mine)] = np.frombuffer(mine, dtype=np.uint8)
    with MpiDistributor(comm.Get_size(), comm) as d:
        names = [bytes(r).rstrip(b"\0") for r in d.allgather(row)]
    hosts = sorted(set(names))
    labels = [hosts.index(h) for h in names]
    for n in (0, 1, 5, 7):
        ref_sizes, _ = reference_split(n, labels)
        sizes, offsets = dgampi.get_node_aware_v_dist(n, comm, order="host_name")
        assert list(sizes) == ref_sizes and list(offsets) == list(np.cumsum([0] + ref_sizes)[:-1]), n
    sizes, offsets = dgampi.get_node_aware_v_dist(5, comm, order="host_name")
    with MpiDistributor.with_sizes(sizes, comm) as v:
        assert list(v.sizes) == list(sizes) and [s.start for s in v.slices] == list(offsets)
        freqs = np.arange(10.0).reshape(5, 2)
        assert np.array_equal(v.allgather(freqs[v.my_slice]), freqs)


# ---------------------------------------------------------------- gather_full_ibz_for_vslice


@pytest.mark.parametrize("split", ["auto", "nodes"])
@pytest.mark.parametrize("transform", [None, 2, 4])
@pytest.mark.parametrize("n_nu", [6, 5, 1])
def test_gather_full_ibz_for_vslice(maps, n_nu, transform, split):
    """All q of the 4x4 lattice for this rank's slice of nu: the node-aware
    split of the real nodes ("auto", v_dist=None), or of the labels
    [0, 1, 0, 1, ...] passed as v_dist ("nodes"); None on an empty slice."""
    imap, irr, full = maps["square4"]
    orb = (NB, NB) if transform == 2 else (NB, NB, NB, NB)
    irr_all = make((irr.ntasks,) + orb + (n_nu, 2), np.complex128, seed=n_nu)
    full_all = irr_all[imap]
    args = ()
    if transform is not None:
        u, sigma, conj = transform_inputs(imap.size, seed=n_nu)
        full_all = reference_transform(full_all, u, sigma, conj, transform)
        args = (u, sigma, conj)
    if split == "auto":
        v_dist = None
        sizes, offsets = dgampi.get_node_aware_v_dist(n_nu, full)
    else:
        v_dist = dgampi.get_node_aware_v_dist(n_nu, node_ids=[r % 2 for r in range(full.mpi_size)])
        sizes, offsets = v_dist
    got = dgampi.gather_full_ibz_for_vslice(irr_all[irr.my_slice], imap, irr, full, v_dist, *args)
    mine = slice(int(offsets[full.my_rank]), int(offsets[full.my_rank] + sizes[full.my_rank]))
    if sizes[full.my_rank] == 0:
        assert got is None
    else:
        assert_close(got, full_all[..., mine, :], np.complex128)


def test_vslice_npoint_object_and_original_v_dist(maps):
    """An N-point object in, a copy with the new .mat out; v_dist in the
    original's (sizes, slices) form; a strided vertex."""
    imap, irr, full = maps["two_irr"]
    n_nu = 3
    irr_all = make((irr.ntasks, NB, NB, n_nu, 2), np.complex64, seed=2)
    sizes = [0] * full.mpi_size
    sizes[-1] = n_nu  # the whole slice on the last rank
    slices = [slice(0, 0)] * (full.mpi_size - 1) + [slice(0, n_nu)]
    obj = NPoint(layout(irr_all[irr.my_slice], "strided"))
    got = dgampi.gather_full_ibz_for_vslice(obj, imap, irr, full, (sizes, slices))
    if full.my_rank == full.mpi_size - 1:
        assert isinstance(got, NPoint) and got is not obj and got == obj
        assert np.array_equal(got.mat, irr_all[imap])
    else:
        assert got is None


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kind", KINDS)
def test_map_bad_input_fails_everywhere(maps, kind):
    f = KINDS[kind]
    imap, irr, full = maps["square4"]
    rank, size = full.my_rank, full.mpi_size
    first, last = {0}, {size - 1}
    every = set(range(size))
    n_irr, n_full = irr.ntasks, imap.size
    irr_all = make((n_irr, NB, NB), np.complex128, seed=9)
    block = irr_all[irr.my_slice]
    u, sigma, conj = transform_inputs(n_full)

    def with_map(entry, value):
        def run(bad):
            m = imap.copy()
            if bad:
                m[entry] = value
            return f(block, m, irr, full)

        return run

    err = fails_everywhere(rank, last, ValueError, with_map(5, n_irr))  # value out of range
    assert rank not in last or "irrk_inv[5]" in str(err)
    fails_everywhere(rank, first, ValueError, with_map(0, -1))  # negative value
    fails_everywhere(rank, every, ValueError, lambda bad: f(block, imap[:-1], irr, full))  # wrong length
    fails_everywhere(rank, last, TypeError, lambda bad: f(block, imap.astype(float) if bad else imap, irr, full))
    # wrong block length on one rank
    longer = np.concatenate([block, block[:1] if block.shape[0] else irr_all[:1]])
    err = fails_everywhere(rank, first, ValueError, lambda bad: f(longer if bad else block, imap, irr, full))
    assert rank not in first or "leading length" in str(err)
    fails_everywhere(rank, last, TypeError, lambda bad: f(None if bad else block, imap, irr, full))
    fails_everywhere(rank, last, TypeError, lambda bad: f(block, imap, "irr" if bad else irr, full))
    # orbital transform
    fails_everywhere(rank, last, ValueError, lambda bad: f(block, imap, irr, full, np.concatenate([u, u[:1]]) if bad else u))
    fails_everywhere(rank, first, ValueError, lambda bad: f(block, imap, irr, full, u, 2 * sigma if bad else sigma, conj))
    fails_everywhere(rank, last, ValueError, lambda bad: f(block, imap, irr, full, u, sigma[:-1] if bad else sigma, conj))
    fails_everywhere(rank, last, ValueError, lambda bad: f(block, imap, irr, full, None, sigma if bad else None))
    fails_everywhere(rank, every, ValueError, lambda bad: f(block, imap, irr, full, u, n_orb_axes=3))
    fails_everywhere(rank, every, ValueError, lambda bad: f(block, imap, irr, full, u, n_orb_axes=4))  # only 2 axes
    fails_everywhere(rank, every, TypeError, lambda bad: f(block.real.copy(), imap, irr, full, u))  # real data
    fails_everywhere(rank, every, ValueError, lambda bad: f(block, imap, irr, full, unitaries(n_full, 3, 0)))  # nb
    # out of the wrong shape on one rank, read-only out on another
    out = np.zeros((full.my_size, NB, NB), dtype=np.complex128)
    fails_everywhere(rank, last, ValueError, lambda bad: f(block, imap, irr, full, out=out[:, :1] if bad else out))
    ro = out.copy()
    ro.flags.writeable = False
    fails_everywhere(rank, first, ValueError, lambda bad: f(block, imap, irr, full, out=ro if bad else out))
    # disagreements only the library sees: a trailing shape, dtype or (valid) irrk_inv that differs from the root's
    # (the peer-to-peer map plans first, and its planning agreement holds the dtype and the row shape: every rank
    # sees those too; the root's gather finds them on the rank that differs)
    if size > 1:
        other_map = imap.copy()
        other_map[[0, 5]] = other_map[[5, 0]]
        assert not np.array_equal(other_map, imap)
        planned = kind == "exchange"
        for other_block, m, everywhere in [
            (irr_all[irr.my_slice, :, :1], imap, planned),
            (irr_all[irr.my_slice].astype(np.complex64), imap, planned),
            (block, other_map, True),  # the map's fingerprint is in the opening agreement: every rank sees it
        ]:
            with pytest.raises(dgampi.DgampiError) as e:
                f(other_block if rank in last else block, m if rank in last else imap, irr, full)
            mismatch_here = everywhere or rank in last
            assert e.value.status == (dgampi.STATUS_MISMATCH if mismatch_here else dgampi.STATUS_REMOTE_ERROR), e.value
    # and the same distributors still work
    assert np.array_equal(f(block, imap, irr, full), irr_all[imap][full.my_slice])


def test_vslice_bad_input_fails_everywhere(maps):
    g = dgampi.gather_full_ibz_for_vslice
    imap, irr, full = maps["square4"]
    rank, size = full.my_rank, full.mpi_size
    first, last, every = {0}, {size - 1}, set(range(size))
    n_nu = 4
    irr_all = make((irr.ntasks, NB, NB, n_nu, 2), np.complex128, seed=4)
    block = irr_all[irr.my_slice]
    v_dist = dgampi.get_node_aware_v_dist(n_nu, node_ids=list(range(size)))
    u, sigma, conj = transform_inputs(imap.size)
    bad_map = imap.copy()
    bad_map[3] = irr.ntasks
    for vd in (None, v_dist):  # the node-aware split joins the poisoned call too
        fails_everywhere(rank, last, ValueError, lambda bad: g(block, bad_map if bad else imap, irr, full, vd))
        fails_everywhere(rank, first, ValueError, lambda bad: g(block[:, 0, 0, 0] if bad else block, imap, irr, full, vd))
        longer = np.concatenate([block, irr_all[:1]])
        fails_everywhere(rank, last, ValueError, lambda bad: g(longer if bad else block, imap, irr, full, vd))
        fails_everywhere(rank, first, TypeError, lambda bad: g(None if bad else block, imap, irr, full, vd))
        # the transform covers all full-BZ points, never a local slice
        fails_everywhere(rank, last, ValueError, lambda bad: g(block, imap, irr, full, vd, u[1:] if bad else u))
    sizes, offsets = v_dist
    fails_everywhere(rank, last, ValueError, lambda bad: g(block, imap, irr, full, (sizes[:-1], offsets[:-1]) if bad else v_dist))
    fails_everywhere(rank, first, ValueError, lambda bad: g(block, imap, irr, full, (sizes + 1, offsets) if bad else v_dist))
    fails_everywhere(rank, last, ValueError, lambda bad: g(block, imap, irr, full, (sizes, offsets + n_nu) if bad else v_dist))
    fails_everywhere(rank, first, TypeError, lambda bad: g(block, imap, irr, full, 7 if bad else v_dist))
    if size > 1:
        overlap = (np.zeros(size, np.int64), np.zeros(size, np.int64))
        overlap[0][:2], overlap[1][1] = 2, 1  # 0:2 and 1:3 (and 3:4 on nobody)
        fails_everywhere(rank, last, ValueError, lambda bad: g(block, imap, irr, full, overlap if bad else v_dist))
        # a valid split that differs from rank 0's: the fingerprint in the opening agreement catches it on every rank
        other = (np.roll(sizes, 1), np.roll(offsets, 1))
        with pytest.raises(dgampi.DgampiError) as e:
            g(block, imap, irr, full, other if rank in last else v_dist)
        assert e.value.status == dgampi.STATUS_MISMATCH, e.value
        # v_dist None (the node-aware split) on one rank, a split that differs from it on the others
        with pytest.raises(dgampi.DgampiError) as e:
            g(block, imap, irr, full, None if rank in last else other)
        assert e.value.status == dgampi.STATUS_MISMATCH, e.value
    got = g(block, imap, irr, full, v_dist)
    mine = slice(int(offsets[rank]), int(offsets[rank] + sizes[rank]))
    assert (got is None) == (sizes[rank] == 0)
    if got is not None:
        assert np.array_equal(got, irr_all[imap][..., mine, :])


def test_closed_irr_distributor_fails_everywhere(comm):
    """A closed irr_dist on one rank: that rank raises INVALID_HANDLE, the
    others REMOTE_ERROR (the library alone would leave them waiting)."""
    imap = MAPS["two_irr"]
    irr, full = MpiDistributor(2, comm), MpiDistributor(imap.size, comm)
    try:
        block = np.ones((irr.my_size, 2))
        rank, size = full.my_rank, full.mpi_size
        if rank == size - 1:
            irr.close()
        for f in (dgampi.exchange_and_map_irrbz_fullbz, dgampi.gather_full_ibz_for_vslice):
            data = block if f is not dgampi.gather_full_ibz_for_vslice else np.ones((irr.my_size, 1, 1, 2))
            err = fails_everywhere(rank, {size - 1}, dgampi.DgampiError, lambda bad: f(data, imap, irr, full))
            if rank == size - 1:
                assert err.status == dgampi.STATUS_INVALID_HANDLE
    finally:
        irr.close()
        full.close()


# ---------------------------------------------------------------- plans (MapPlan, VslicePlan)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_map_plan_executes_repeatedly(maps, dtype):
    """One plan per map and row shape, executed twice with different data,
    against ``irr_all[irrk_inv]`` (ranks without irreducible or full-BZ
    points included)."""
    for name, (imap, irr, full) in maps.items():
        for row in [(), (2, 3)]:
            with dgampi.MapPlan(irr, full, imap, dtype, row) as plan:
                assert plan.block_shape == (irr.my_size,) + row and plan.out_shape == (full.my_size,) + row
                assert plan.dtype == np.dtype(dtype) and plan.row_shape == row and plan.limit == dgampi.MAX_MPI_BYTES
                for seed in (1, 2):
                    irr_all = make((irr.ntasks,) + row, dtype, seed=seed)
                    got = plan.execute(irr_all[irr.my_slice])
                    assert got.dtype == np.dtype(dtype) and got.shape == plan.out_shape, (name, row)
                    assert np.array_equal(got, irr_all[imap][full.my_slice]), (name, row, seed)


@pytest.mark.parametrize("lay", LAYOUTS)
def test_map_plan_layouts_and_out(maps, lay):
    """Blocks and ``out`` in every layout (strided, negative strides, Fortran),
    the same ``out`` filled by each execution; a grid-shaped irrk_inv."""
    for name in ("square4", "two_irr"):
        imap, irr, full = maps[name]
        row = (2, 2, 3)
        with dgampi.MapPlan(irr, full, imap.reshape(-1, 1), np.complex128, row) as plan:
            out = empty_like_layout(plan.out_shape, np.complex128, lay)
            for seed in (3, 4):
                irr_all = make((irr.ntasks,) + row, np.complex128, seed=seed)
                src = layout(irr_all[irr.my_slice], lay)
                assert plan.execute(src, out=out) is out
                assert np.array_equal(out, irr_all[imap][full.my_slice]), (name, seed)
                assert np.array_equal(src, irr_all[irr.my_slice])  # the block is not touched


@pytest.mark.parametrize("axes", [2, 4])
def test_map_plan_orbital_transform(maps, axes):
    """The plan's transform (this rank's k-points or all of them; copied at
    creation) against the einsum definition, executed twice."""
    imap, irr, full = maps["square4"]
    n_full = imap.size
    u, sigma, conj = transform_inputs(n_full, seed=axes)
    row = (NB, NB, 3) if axes == 2 else (NB, NB, NB, NB, 2)
    for dtype in (np.complex128, np.complex64):
        for inputs in ("local", "full"):
            if inputs == "local":
                args = [u[full.my_slice].copy(), sigma[full.my_slice].copy(), conj[full.my_slice].copy()]
            else:
                args = [u.copy(), sigma.copy(), conj.copy()]
            with dgampi.MapPlan(irr, full, imap, dtype, row, *args, n_orb_axes=axes) as plan:
                for a in args:  # the plan keeps its own copy
                    a[...] = 0
                out = empty_like_layout(plan.out_shape, dtype, "strided")
                for seed in (1, 2):
                    irr_all = make((irr.ntasks,) + row, dtype, seed=seed + axes)
                    ref = reference_transform(irr_all[imap], u, sigma, conj, axes)[full.my_slice].astype(dtype)
                    assert_close(plan.execute(irr_all[irr.my_slice]), ref, dtype)
                    assert plan.execute(irr_all[irr.my_slice], out) is out
                    assert_close(out, ref, dtype)


@pytest.mark.parametrize("split", ["auto", "nodes"])
@pytest.mark.parametrize("transform", [None, 2])
@pytest.mark.parametrize("n_nu", [6, 5, 1])
def test_vslice_plan_executes_repeatedly(maps, n_nu, transform, split):
    """All q for this rank's slice of nu, twice with different data (the
    second time from a strided block into a Fortran-ordered ``out``), against
    the numpy reference and the one-shot; with 1 frequency some ranks have
    an empty slice and get a zero-size array."""
    imap, irr, full = maps["square4"]
    rank = full.my_rank
    orb = (NB, NB) if transform == 2 else (NB, NB, NB, NB)
    row = orb + (n_nu, 2)
    args = ()
    if transform is not None:
        args = transform_inputs(imap.size, seed=n_nu)
    if split == "auto":
        v_dist = None
        sizes, offsets = dgampi.get_node_aware_v_dist(n_nu, full)
    else:
        v_dist = dgampi.get_node_aware_v_dist(n_nu, node_ids=[r % 2 for r in range(full.mpi_size)])
        sizes, offsets = v_dist
    mine = slice(int(offsets[rank]), int(offsets[rank] + sizes[rank]))
    with dgampi.VslicePlan(irr, full, imap, v_dist, np.complex128, row, *args) as plan:
        assert plan.block_shape == (irr.my_size,) + row
        assert plan.out_shape == (imap.size,) + orb + (int(sizes[rank]), 2)
        assert plan.nu_slice == mine and plan.has_slice == bool(sizes[rank])
        assert [list(a) for a in plan.v_dist] == [list(sizes), list(offsets)]
        out = empty_like_layout(plan.out_shape, np.complex128, "fortran")
        for seed in (1, 2):
            irr_all = make((irr.ntasks,) + row, np.complex128, seed=n_nu + 10 * seed)
            full_all = irr_all[imap]
            if transform is not None:
                full_all = reference_transform(full_all, *args, transform)
            block = irr_all[irr.my_slice]
            if seed == 1:
                got = plan.execute(block)
            else:
                got = plan.execute(layout(block, "strided"), out=out)
                assert got is out
            assert_close(got, full_all[..., mine, :], np.complex128)
            one_shot = dgampi.gather_full_ibz_for_vslice(block, imap, irr, full, v_dist, *args)
            assert (one_shot is None) == (not plan.has_slice)
            if one_shot is not None:
                assert np.array_equal(got, one_shot)


def test_vslice_plan_empty_slices(maps):
    """Every frequency on the last rank: the others have an empty slice, pass
    (or get) zero-size arrays, and still take part in every execution."""
    imap, irr, full = maps["two_irr"]
    rank, size = full.my_rank, full.mpi_size
    n_nu = 3
    sizes = [0] * size
    sizes[-1] = n_nu
    slices = [slice(0, 0)] * (size - 1) + [slice(0, n_nu)]  # the original's (sizes, slices)
    row = (NB, n_nu, 2)
    with dgampi.VslicePlan(irr, full, imap, (sizes, slices), np.float32, row) as plan:
        assert plan.has_slice == (rank == size - 1)
        assert plan.out_shape == (imap.size, NB, n_nu if rank == size - 1 else 0, 2)
        for seed in (5, 6):
            irr_all = make((irr.ntasks,) + row, np.float32, seed=seed)
            out = None if seed == 5 else np.full(plan.out_shape, -1, np.float32)
            got = plan.execute(irr_all[irr.my_slice], out)
            assert out is None or got is out
            assert got.shape == plan.out_shape and got.dtype == np.float32
            if rank == size - 1:
                assert np.array_equal(got, irr_all[imap])
            else:
                assert got.size == 0


def test_map_plan_wrong_buffers_fail_everywhere(maps):
    """A wrong block or out on one rank fails the execution on every rank,
    nothing moves, and the plan stays usable."""
    imap, irr, full = maps["square4"]
    rank, size = full.my_rank, full.mpi_size
    first, last = {0}, {size - 1}
    row = (NB, NB)
    irr_all = make((irr.ntasks,) + row, np.complex128, seed=9)
    block = irr_all[irr.my_slice]
    longer = np.concatenate([block, irr_all[:1]])
    with dgampi.MapPlan(irr, full, imap, np.complex128, row) as plan:
        out = np.zeros(plan.out_shape, np.complex128)
        # shapes: the library finds them, every rank raises DgampiError
        err = fails_everywhere(rank, last, dgampi.DgampiError, lambda bad: plan.execute(longer if bad else block, out))
        assert rank not in last or err.status != dgampi.STATUS_REMOTE_ERROR
        fails_everywhere(rank, first, dgampi.DgampiError, lambda bad: plan.execute(block[:, :1] if bad else block, out))
        fails_everywhere(rank, last, dgampi.DgampiError, lambda bad: plan.execute(block, out[:, :1] if bad else out))
        # Python's checks on the bad rank, REMOTE_ERROR on the others
        fails_everywhere(rank, first, TypeError, lambda bad: plan.execute(block.astype(np.complex64) if bad else block, out))
        fails_everywhere(rank, last, TypeError, lambda bad: plan.execute(None if bad else block, out))
        fails_everywhere(rank, first, TypeError, lambda bad: plan.execute(block, out.astype(np.complex64) if bad else out))
        ro = out.copy()
        ro.flags.writeable = False
        fails_everywhere(rank, last, ValueError, lambda bad: plan.execute(block, ro if bad else out))
        assert not np.any(out)  # nothing moved
        for seed in (10, 11):  # still usable
            irr_all = make((irr.ntasks,) + row, np.complex128, seed=seed)
            assert plan.execute(irr_all[irr.my_slice], out) is out
            assert np.array_equal(out, irr_all[imap][full.my_slice])


def test_vslice_plan_wrong_buffers_fail_everywhere(maps):
    imap, irr, full = maps["square4"]
    rank, size = full.my_rank, full.mpi_size
    first, last = {0}, {size - 1}
    n_nu = 4
    row = (NB, NB, n_nu, 2)
    v_dist = dgampi.get_node_aware_v_dist(n_nu, node_ids=list(range(size)))
    irr_all = make((irr.ntasks,) + row, np.complex128, seed=4)
    block = irr_all[irr.my_slice]
    longer = np.concatenate([block, irr_all[:1]])
    with dgampi.VslicePlan(irr, full, imap, v_dist, np.complex128, row) as plan:
        out = np.zeros(plan.out_shape, np.complex128)
        fails_everywhere(rank, last, dgampi.DgampiError, lambda bad: plan.execute(longer if bad else block, out))
        fails_everywhere(rank, first, dgampi.DgampiError, lambda bad: plan.execute(block[..., :1] if bad else block, out))
        wrong_out = np.zeros(plan.out_shape[:-2] + (plan.out_shape[-2] + 1, 2), np.complex128)
        fails_everywhere(rank, last, dgampi.DgampiError, lambda bad: plan.execute(block, wrong_out if bad else out))
        fails_everywhere(rank, first, TypeError, lambda bad: plan.execute(block.real.copy() if bad else block, out))
        assert not np.any(out)
        nu = plan.nu_slice
        for seed in (7, 8):
            irr_all = make((irr.ntasks,) + row, np.complex128, seed=seed)
            assert plan.execute(irr_all[irr.my_slice], out) is out
            assert np.array_equal(out, irr_all[imap][..., nu, :])


def test_plan_creation_bad_input_fails_everywhere(maps):
    """Bad creation arguments on one rank: that rank raises TypeError /
    ValueError, the others REMOTE_ERROR; differences only the library sees
    raise DgampiError on every rank. No plan is left behind."""
    imap, irr, full = maps["square4"]
    rank, size = full.my_rank, full.mpi_size
    first, last = {0}, {size - 1}
    row = (NB, NB)
    bad_map = imap.copy()
    bad_map[3] = irr.ntasks
    u, sigma, conj = transform_inputs(imap.size)
    C = np.complex128

    def mp(bad, **kw):
        args = {"irr_dist": irr, "full_dist": full, "irrk_inv": imap, "dtype": C, "row_shape": row}
        if bad:
            args.update(kw)
        return dgampi.MapPlan(**args)

    for kw, exc in [
        ({"irrk_inv": bad_map}, ValueError),
        ({"irrk_inv": imap[:-1]}, ValueError),
        ({"irrk_inv": imap.astype(float)}, TypeError),
        ({"dtype": np.float16}, TypeError),
        ({"row_shape": (2, "a")}, TypeError),
        ({"row_shape": (-1,)}, ValueError),
        ({"u_k": u[1:]}, ValueError),
        ({"u_k": u, "dtype": np.float64}, TypeError),
        ({"u_k": u, "n_orb_axes": 4}, ValueError),
        ({"sigma_k": sigma}, ValueError),
        ({"limit": -1}, ValueError),
        ({"irr_dist": "irr"}, TypeError),
    ]:
        for bad_ranks in (first, last):
            fails_everywhere(rank, bad_ranks, exc, lambda bad: mp(bad, **kw))

    def vp(split, bad=False, **kw):
        args = {"irr_dist": irr, "full_dist": full, "irrk_inv": imap, "v_dist": split, "dtype": C,
                "row_shape": row + (3, 2)}
        if bad:
            args.update(kw)
        return dgampi.VslicePlan(**args)

    v_dist = dgampi.get_node_aware_v_dist(3, node_ids=list(range(size)))
    local_u = u[full.my_slice] if full.my_size != imap.size else u[1:]  # the transform covers all q
    for kw, exc in [
        ({"irrk_inv": bad_map}, ValueError),
        ({"row_shape": (3,)}, ValueError),
        ({"dtype": "float128"}, TypeError),
        ({"u_k": local_u}, ValueError),
        ({"v_dist": (v_dist[0] + 1, v_dist[1])}, ValueError),
        ({"v_dist": 7}, TypeError),
        ({"limit": "big"}, TypeError),
    ]:
        # the node-aware split (v_dist None on every rank) joins the failed creation too
        for split in (v_dist,) if "v_dist" in kw else (None, v_dist):
            fails_everywhere(rank, last, exc, lambda bad: vp(split, bad, **kw))
    if size > 1:  # valid arguments that differ between ranks
        other_limit = dgampi.MAX_MPI_BYTES + 1 if dgampi.MAX_MPI_BYTES < 2**31 - 1 else 5
        other_split = (np.roll(v_dist[0], 1), np.roll(v_dist[1], 1))
        for make_plan in (
            lambda: mp(rank in last, row_shape=(NB, 1)),
            lambda: mp(rank in last, dtype=np.complex64),
            lambda: mp(rank in last, limit=other_limit),
            lambda: vp(v_dist, rank in last, v_dist=other_split),
            # v_dist None (the node-aware split) on one rank, a split that differs from it on the others
            # (this hung: only that rank joined the split's collective)
            lambda: vp(other_split, rank in last, v_dist=None),
            # an orbital transform on one rank only, or of another form there (this planned and ran:
            # that rank would have transformed its rows differently)
            lambda: mp(rank in last, u_k=u),
            lambda: dgampi.MapPlan(irr, full, imap, C, (NB,) * 4, u_k=u, n_orb_axes=2 if rank in last else 4),
            lambda: vp(v_dist, rank in last, u_k=u),
        ):
            with pytest.raises(dgampi.DgampiError):
                make_plan()
    # and the distributors still plan
    with mp(False) as plan, vp(v_dist) as vplan:
        assert not plan.closed and not vplan.closed


def test_plan_lifetime(comm):
    """close() is idempotent and keeps the properties readable; a closed plan
    raises INVALID_HANDLE; ``with`` closes; the plan outlives its
    distributors; an unclosed plan warns at garbage collection and leaks
    instead of running a collective."""
    imap = MAPS["two_irr"]
    irr, full = MpiDistributor(2, comm), MpiDistributor(imap.size, comm)
    try:
        irr_all = make((2, 3, 2), np.float64, seed=1)
        block = irr_all[irr.my_slice]
        makers = [
            (lambda: dgampi.MapPlan(irr, full, imap, np.float64, (3, 2)), irr_all[imap][full.my_slice]),
            (lambda: dgampi.VslicePlan(irr, full, imap, None, np.float64, (3, 2)), None),
        ]
        for make_plan, expected in makers:
            p = make_plan()
            name = type(p).__name__
            shapes = (p.block_shape, p.out_shape)
            if expected is None:
                expected = irr_all[imap][:, p.nu_slice]
            assert np.array_equal(p.execute(block), expected)
            p.close()
            p.close()  # idempotent
            assert p.closed and (p.block_shape, p.out_shape) == shapes and "closed" in repr(p)
            with pytest.raises(dgampi.DgampiError) as err:
                p.execute(block)
            assert err.value.status == dgampi.STATUS_INVALID_HANDLE and f"{name} is closed" in str(err.value)
            with pytest.raises(dgampi.DgampiError):
                p(block, np.empty(shapes[1]))
            with make_plan() as q:
                assert not q.closed and np.array_equal(q(block), expected)
            assert q.closed
            # garbage collection never destroys a plan (a collective): it warns and leaks
            obj = make_plan()
            real_destroy = obj._destroy
            obj._destroy = "never_called"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                obj.__del__()
            assert [w.category for w in caught] == [ResourceWarning], caught
            assert name in str(caught[0].message) and "close()" in str(caught[0].message)
            assert not obj.closed
            obj._destroy = real_destroy
            obj.close()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                obj.__del__()
            assert caught == []
        # a plan outlives the distributors it was made from
        plan = dgampi.MapPlan(irr, full, imap, np.float64, (3, 2))
        vplan = dgampi.VslicePlan(irr, full, imap, None, np.float64, (3, 2))
    finally:
        irr.close()
        full.close()
    try:
        mine_irr = _my_rows(comm, 2)
        for seed in (2, 3):
            irr_all = make((2, 3, 2), np.float64, seed=seed)
            assert np.array_equal(plan.execute(irr_all[mine_irr]), irr_all[imap][_my_rows(comm, imap.size)])
            assert np.array_equal(vplan.execute(irr_all[mine_irr]), irr_all[imap][:, vplan.nu_slice])
    finally:
        plan.close()
        vplan.close()


def _my_rows(comm, ntasks):
    """This rank's rows of the distributor split (the excess on the last ranks)."""
    return block_slices(ntasks, comm.Get_size())[comm.Get_rank()]


# ---------------------------------------------------------------- exchange paths and plan routes


@pytest.fixture
def restore_exchange_path():
    """Puts the process-wide exchange path back after the test (``"auto"``
    unless ``DGAMPI_EXCHANGE_PATH`` says otherwise), on every rank, also when
    the test failed half-way."""
    saved = dgampi.get_exchange_path()
    try:
        yield saved
    finally:
        dgampi.set_exchange_path(saved)


def expected_engine(path, size, limit, row_bytes, n_full):
    """Whether a plan over the 4x4 map (every rank has peers at 2..4 ranks,
    some rank more than half of the others) must take the point-to-point
    engine: True under "p2p", at one rank, or when even one row exceeds the
    limit; False when all the rows together fit it (a collective); None
    (not checked) in between."""
    if path == "p2p" or size == 1 or row_bytes > limit:
        return True
    if n_full * row_bytes <= limit:
        return False
    return None


def check_route(plan, engine):
    assert plan.route in dgampi.EXCHANGE_ROUTES, plan.route
    assert f"route {plan.route}" in repr(plan)
    if engine is True:
        assert plan.route == "point-to-point"
    elif engine is False:
        assert plan.route != "point-to-point"  # MPI_Alltoallw for these dense movements


@pytest.mark.parametrize("path", ["p2p", "collective", "auto"])
def test_exchange_paths(maps, restore_exchange_path, path):
    """Under each exchange path a MapPlan and a VslicePlan on the 4x4 map
    report the route the rule gives (the engine under "p2p", at one rank, or
    when the lowered limit is exceeded; a collective for these dense
    movements otherwise), keep it when the setting changes afterwards, and
    move the same data twice as the numpy reference (and the one-shots,
    which follow the setting too)."""
    imap, irr, full = maps["square4"]
    size = full.mpi_size
    dgampi.set_exchange_path(path)
    assert dgampi.get_exchange_path() == path
    row = (NB, 3)
    n_nu, nup = 4, 3
    vrow = (NB, NB, n_nu, nup)
    v_dist = dgampi.get_node_aware_v_dist(n_nu, node_ids=[0] * size)
    with dgampi.MapPlan(irr, full, imap, np.float64, row) as plan, \
            dgampi.VslicePlan(irr, full, imap, v_dist, np.complex128, vrow) as vplan:
        assert plan.limit == vplan.limit == dgampi.MAX_MPI_BYTES
        check_route(plan, expected_engine(path, size, plan.limit, NB * 3 * 8, imap.size))
        vrow_bytes = NB * NB * int(max(v_dist[0])) * nup * 16  # the widest rank's slice of a row
        check_route(vplan, expected_engine(path, size, vplan.limit, vrow_bytes, imap.size))
        routes = (plan.route, vplan.route)
        # plans keep the route they chose; the next plans would follow the new setting
        dgampi.set_exchange_path("auto" if path == "p2p" else "p2p")
        assert (plan.route, vplan.route) == routes
        dgampi.set_exchange_path(path)
        nu = vplan.nu_slice
        out = np.zeros(plan.out_shape, np.float64)
        for seed in (1, 2):
            irr_all = make((irr.ntasks,) + row, np.float64, seed=seed)
            block = irr_all[irr.my_slice]
            assert plan.execute(block, out) is out
            assert np.array_equal(out, irr_all[imap][full.my_slice]), (path, seed)
            assert np.array_equal(dgampi.exchange_and_map_irrbz_fullbz(block, imap, irr, full), out)
            virr_all = make((irr.ntasks,) + vrow, np.complex128, seed=10 + seed)
            vblock = virr_all[irr.my_slice]
            got = vplan.execute(vblock)
            assert got.shape == vplan.out_shape
            assert np.array_equal(got, virr_all[imap][..., nu, :]), (path, seed)
            one_shot = dgampi.gather_full_ibz_for_vslice(vblock, imap, irr, full, v_dist)
            assert (one_shot is None) == (not vplan.has_slice)
            assert one_shot is None or np.array_equal(one_shot, got)


def test_exchange_path_setting(restore_exchange_path, monkeypatch):
    """Names and codes round-trip; the setting is local (no MPI: it works
    while other ranks do nothing); an unknown name or code raises ValueError
    and anything else TypeError, both before the library is called, and the
    setting stays as it was; the library itself refuses an unknown code."""
    assert dgampi.EXCHANGE_PATHS == {"auto": 0, "p2p": 1, "collective": 2}
    assert dgampi.EXCHANGE_ROUTES == {"point-to-point": 0, "MPI_Alltoallw": 1, "MPI_Neighbor_alltoallw": 2}
    if WORLD.Get_rank() == 0:  # a local call: the other ranks need not join
        dgampi.set_exchange_path("collective")
        assert dgampi.get_exchange_path() == "collective"
    for name, code in dgampi.EXCHANGE_PATHS.items():
        dgampi.set_exchange_path(name)
        assert dgampi.get_exchange_path() == name
        dgampi.set_exchange_path("auto" if code else "p2p")
        dgampi.set_exchange_path(np.int32(code) if code == 2 else code)
        assert dgampi.get_exchange_path() == name
    dgampi.set_exchange_path("p2p")

    def never(*args):
        raise AssertionError("the library was called for an invalid exchange path")

    monkeypatch.setattr(dgampi._lib.fn, "set_exchange_path", never)
    for bad in ["P2P", "point-to-point", "collectives", "", " auto", 3, -1, 7, np.int64(9)]:
        with pytest.raises(ValueError, match="exchange path"):
            dgampi.set_exchange_path(bad)
    for bad in [None, True, 1.0, b"p2p", ["auto"]]:
        with pytest.raises(TypeError, match="exchange path"):
            dgampi.set_exchange_path(bad)
    monkeypatch.undo()
    assert dgampi.get_exchange_path() == "p2p"
    assert dgampi._lib.fn.set_exchange_path(7) == dgampi.STATUS_INVALID_ARGUMENT
    assert "7" in dgampi._lib.last_error_message()
    assert dgampi.get_exchange_path() == "p2p"


def test_exchange_path_differing_between_ranks(maps, restore_exchange_path):
    """A setting that differs between ranks: no plan, MISMATCH on every rank;
    with the same setting again the ranks plan as before."""
    imap, irr, full = maps["square4"]
    rank, size = full.my_rank, full.mpi_size
    if size == 1:
        pytest.skip("needs two ranks")
    dgampi.set_exchange_path("p2p" if rank == 0 else "auto")
    v_dist = dgampi.get_node_aware_v_dist(2, node_ids=[0] * size)
    for make_plan in (
        lambda: dgampi.MapPlan(irr, full, imap, np.float64, (3,)),
        lambda: dgampi.VslicePlan(irr, full, imap, v_dist, np.float64, (2, 2)),
    ):
        with pytest.raises(dgampi.DgampiError) as err:
            make_plan()
        assert err.value.status == dgampi.STATUS_MISMATCH, err.value
    dgampi.set_exchange_path("auto")
    with dgampi.MapPlan(irr, full, imap, np.float64, (3,)) as plan:
        irr_all = make((irr.ntasks, 3), np.float64, seed=4)
        assert np.array_equal(plan.execute(irr_all[irr.my_slice]), irr_all[imap][full.my_slice])
