"""dgampi.compat: the original DΓA module's call patterns (dgamore.mpi_utils,
dgamore.mpi_distributor.MpiDistributor) through the drop-in modules, at any
number of ranks, against serial numpy references computed here and against
re-implementations of what the original computes (its node split, its
unfolding to the full BZ with the per-k orbital transform, its pencils).

The application's configuration is a small fake ``dgamore.config`` module
(output path, a q-grid object with ``irrk_inv`` and the auto-symmetry arrays)
inserted into ``sys.modules``; the keyword and ``dgampi.compat.config`` paths
are tested too. MPI traffic of the tests themselves stays tiny or goes
through dgampi (the 16-byte PMPI checker runs under these tests).
"""

import ast
import gc
import importlib.util
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
from mpi4py import MPI

import dgampi
import dgampi.compat
from dgampi.compat import mpi_distributor as md
from dgampi.compat import mpi_utils as mu
from dgampi.compat.mpi_distributor import MpiDistributor

from helpers import block_sizes, block_slices, make

h5py = pytest.importorskip("h5py")

MIRROR = "/work/.mirror/Julpe+DGAmore/repo"


# ---------------------------------------------------------------- fakes of the application's objects


class FakeFourPoint:
    """A FourPoint-like N-point object: the original constructor's
    arguments, ``.mat``, ``original_shape`` / ``update_original_shape``."""

    def __init__(
        self, mat, channel="dens", nq=(1, 1, 1), num_wn_dimensions=1, num_vn_dimensions=2, full_niw_range=True,
        full_niv_range=True, has_compressed_q_dimension=False, frequency_notation="ph",
    ):
        self.mat = mat
        self._original_shape = None if mat is None else mat.shape
        self.channel = channel
        self._nq = tuple(nq)
        self.num_wn_dimensions = num_wn_dimensions
        self.num_vn_dimensions = num_vn_dimensions
        self.full_niw_range = full_niw_range
        self.full_niv_range = full_niv_range
        self.has_compressed_q_dimension = has_compressed_q_dimension
        self.frequency_notation = frequency_notation

    @property
    def nq(self):
        return self._nq

    @property
    def original_shape(self):
        return self._original_shape

    @original_shape.setter
    def original_shape(self, value):
        self._original_shape = value

    def update_original_shape(self):
        self.original_shape = self.mat.shape

    def meta(self):
        return (self.channel, self._nq, self.num_wn_dimensions, self.num_vn_dimensions, self.frequency_notation)


class GreensFunction(FakeFourPoint):
    """Named like the original's one-particle class: 2 orbital axes."""


class FakeQGrid:
    """``irrk_inv`` (grid-shaped, as np.unique gives it) and, in auto mode,
    the per-k ``_auto_us`` [nx, ny, nz, nb, nb], ``_auto_sigmas``, ``_auto_conjs``."""

    def __init__(self, nk, irrk_inv, us=None, sigmas=None, conjs=None):
        self.nk = nk
        self.irrk_inv = irrk_inv
        self._auto_us, self._auto_sigmas, self._auto_conjs = us, sigmas, conjs

    @property
    def is_auto(self):
        return self._auto_us is not None


def square_irrk_inv(nx, ny):
    """Irreducible index of every point of an nx x ny x 1 grid under
    inversion (and x<->y exchange when square): each point's class is
    labelled by its smallest member, classes numbered in that order."""
    rep = np.empty((nx, ny), dtype=np.int64)
    for x in range(nx):
        for y in range(ny):
            images = [((sx * x) % nx, (sy * y) % ny) for sx in (1, -1) for sy in (1, -1)]
            if nx == ny:
                images += [(b, a) for a, b in images]
            rep[x, y] = min(a * ny + b for a, b in images)
    _, inv = np.unique(rep.reshape(-1), return_inverse=True)
    return inv.reshape(nx, ny, 1)


def unitary(nb, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(nb, nb)) + 1j * rng.normal(size=(nb, nb))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def make_grid(nx=4, ny=4, nb=2, auto=False):
    inv = square_irrk_inv(nx, ny)
    if not auto:
        return FakeQGrid((nx, ny, 1), inv)
    n = nx * ny
    us = np.stack([np.eye(nb) if k % 3 == 0 else unitary(nb, k) for k in range(n)]).reshape(nx, ny, 1, nb, nb)
    sigmas = np.where(np.arange(n) % 4 == 1, -1.0, 1.0).reshape(nx, ny, 1)
    conjs = (np.arange(n) % 5 == 2).reshape(nx, ny, 1)
    return FakeQGrid((nx, ny, 1), inv, us, sigmas, conjs)


def ref_unfold(irr_all, grid, n_orb):
    """What the original's map_to_full_bz computes, per k (no grouping):
    full[k] = irr[irrk_inv[k]], then in auto mode
    2 axes: sigma U X U^dagger; 4 axes: U and U* on (1, 3) and (2, 4), no sign;
    X conjugated where conj."""
    inv = np.asarray(grid.irrk_inv).reshape(-1)
    full = irr_all[inv].astype(np.complex128 if irr_all.dtype.kind == "c" else irr_all.dtype)
    if not grid.is_auto:
        return full
    nb = grid._auto_us.shape[-1]
    us = grid._auto_us.reshape(-1, nb, nb)
    sig = grid._auto_sigmas.reshape(-1)
    cj = grid._auto_conjs.reshape(-1)
    out = np.empty_like(full)
    for k in range(full.shape[0]):
        x = np.conj(full[k]) if cj[k] else full[k]
        u, uc = us[k], np.conj(us[k])
        if n_orb == 2:
            out[k] = sig[k] * np.einsum("ap,bq,pq...->ab...", u, uc, x)
        else:
            out[k] = np.einsum("ap,bq,cr,ds,pqrs...->abcd...", u, uc, u, uc, x)
    return out


def ref_node_split(n, hosts):
    """The original's split: nodes = distinct host names, sorted; n over the
    nodes (extra to the first), each node's share over its ranks in rank
    order (extra to the first); slices back to back in rank order."""
    nodes = sorted(set(hosts))
    per, extra = divmod(n, len(nodes))
    sizes = []
    for r, h in enumerate(hosts):
        share = per + (1 if nodes.index(h) < extra else 0)
        members = [q for q, g in enumerate(hosts) if g == h]
        p, e = divmod(share, len(members))
        sizes.append(p + (1 if members.index(r) < e else 0))
    ends = np.cumsum(sizes)
    return sizes, [slice(int(b - s), int(b)) for s, b in zip(sizes, ends)]


def ref_pencils(rank, size, nq, layout):
    """The original's get_pencil_indices, rewritten."""
    nx, ny, nz = nq
    if layout == "flat":
        sl = block_slices(nx * ny * nz, size)[rank]
        return np.arange(sl.start, sl.stop)
    lines = {"z_pencil": nx * ny, "y_pencil": nx * nz, "x_pencil": ny * nz}[layout]
    per, rem = divmod(lines, size)
    first = rank * per + min(rank, rem)
    count = per + (1 if rank < rem else 0)
    out = []
    for p in range(first, first + count):
        if layout == "z_pencil":
            out.append(p * nz + np.arange(nz))
        elif layout == "y_pencil":
            out.append((p // nz) * ny * nz + p % nz + nz * np.arange(ny))
        else:
            out.append((p // nz) * nz + p % nz + ny * nz * np.arange(nx))
    return np.concatenate(out) if out else np.array([], dtype=np.int64)


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def fake_config(monkeypatch, shared_dir):
    """A fake ``dgamore`` package whose ``config`` has ``output.output_path``
    (None) and ``lattice.q_grid`` (None); tests set them."""
    pkg = types.ModuleType("dgamore")
    pkg.__path__ = []  # a package with no submodules on disk
    cfg = types.ModuleType("dgamore.config")
    cfg.output = types.SimpleNamespace(output_path=None)
    cfg.lattice = types.SimpleNamespace(q_grid=None)
    pkg.config = cfg
    monkeypatch.setitem(sys.modules, "dgamore", pkg)
    monkeypatch.setitem(sys.modules, "dgamore.config", cfg)
    return cfg


@pytest.fixture
def fake_four_point(monkeypatch, fake_config):
    """``dgamore.four_point.FourPoint`` = FakeFourPoint (what the original's
    exchange_and_map builds)."""
    mod = types.ModuleType("dgamore.four_point")
    mod.FourPoint = FakeFourPoint
    monkeypatch.setitem(sys.modules, "dgamore.four_point", mod)
    monkeypatch.setattr(sys.modules["dgamore"], "four_point", mod, raising=False)
    return mod


def all_hosts(comm):
    """Every rank's MPI.Get_processor_name() (through dgampi: tiny messages)."""
    size = comm.Get_size()
    d = MpiDistributor(size, comm)
    mine = np.zeros((1, 256), dtype=np.uint8)
    name = MPI.Get_processor_name().strip().encode()[:256]
    mine[0, : len(name)] = np.frombuffer(name, dtype=np.uint8)
    rows = d.allgather(mine)
    return [bytes(r).rstrip(b"\0").decode() for r in rows]


def rank_dir(base, comm, tag):
    """A fresh directory every rank of ``comm`` sees."""
    path = os.path.join(base, f"{tag}_{comm.Get_size()}")
    if comm.Get_rank() == 0:
        os.makedirs(path, exist_ok=True)
    comm.Barrier()
    return path


# ---------------------------------------------------------------- names


def _original_sources():
    """``{module: source}`` of the original modules: $DGAMORE_SRC (a
    checkout), else the mirror (a bare git repository), else None."""
    root = os.environ.get("DGAMORE_SRC")
    out = {}
    for mod in ("mpi_utils", "mpi_distributor"):
        if root:
            with open(os.path.join(root, "dgamore", f"{mod}.py")) as fh:
                out[mod] = fh.read()
        elif os.path.isdir(MIRROR):
            try:
                out[mod] = subprocess.run(
                    ["git", "-C", MIRROR, "show", f"HEAD:dgamore/{mod}.py"], capture_output=True, text=True,
                    check=True, timeout=30,
                ).stdout
            except (OSError, subprocess.SubprocessError):
                return None
        else:
            return None
    return out


# The public names of the original modules (checked against the sources when
# they are available), and the private ones the application calls.
ORIGINAL_NAMES = {
    "mpi_utils": {
        "MPI", "np", "fft", "config", "symmetry_reduction", "KGrid", "FourPoint", "MpiDistributor", "MAX_MPI_BYTES",
        "map_irrbz_fullbz", "exchange_and_map_irrbz_fullbz", "gather_full_ibz_for_vslice", "get_pencil_indices",
        "execute_distributed_fft", "_get_node_aware_v_dist", "_send_in_chunks", "_recv_in_chunks",
    },
    "mpi_distributor": {"gc", "os", "pickle", "h5py", "MPI", "np", "config", "MAX_MPI_BYTES", "MpiDistributor"},
}
ORIGINAL_CLASS_NAMES = {
    "comm", "is_root", "ntasks", "sizes", "slices", "my_rank", "my_tasks", "mpi_size", "my_size", "my_slice",
    "open_file", "close_file", "delete_file", "barrier", "allgather", "gather", "scatter", "send_to_rank",
    "recv_from_rank", "bcast", "bcast_chunked", "allreduce", "create_distributor",
    "__enter__", "__exit__", "__del__", "_sizes", "_slices", "_my_size", "_my_slice",
}


def _names_from_source(src):
    tree = ast.parse(src)
    top, cls = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
            if isinstance(node, ast.ClassDef) and node.name == "MpiDistributor":
                cls |= {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.Assign):
            top |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            top |= {(a.asname or a.name).split(".")[0] for a in node.names}
    public = {n for n in top if not n.startswith("_")}
    return public, {n for n in cls if not n.startswith("_") or n in ("__enter__", "__exit__", "__del__")}


def test_every_original_name_exists():
    sources = _original_sources()
    if sources is not None:
        for mod, src in sources.items():
            public, cls = _names_from_source(src)
            called_private = {n for n in ORIGINAL_NAMES[mod] if n.startswith("_")}
            assert public == ORIGINAL_NAMES[mod] - called_private, f"the original {mod} changed: update the list"
            if cls:
                assert cls <= ORIGINAL_CLASS_NAMES
    for mod, names in ORIGINAL_NAMES.items():
        module = {"mpi_utils": mu, "mpi_distributor": md}[mod]
        missing = [n for n in sorted(names) if not hasattr(module, n)]
        assert not missing, f"dgampi.compat.{mod} lacks {missing}"
    missing = [n for n in sorted(ORIGINAL_CLASS_NAMES) if not hasattr(MpiDistributor, n)]
    assert not missing, f"MpiDistributor lacks {missing}"
    assert mu.MpiDistributor is MpiDistributor


def test_install_aliases_original_modules(monkeypatch, fake_config):
    # the fake dgamore package stands in for the application
    for name in ("dgamore.mpi_utils", "dgamore.mpi_distributor"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delattr(sys.modules["dgamore"], "mpi_utils", raising=False)
    monkeypatch.delattr(sys.modules["dgamore"], "mpi_distributor", raising=False)
    dgampi.compat.install()
    try:
        import dgamore.mpi_utils as original_utils
        from dgamore.mpi_distributor import MpiDistributor as OriginalDistributor

        assert original_utils is mu and sys.modules["dgamore"].mpi_utils is mu
        assert OriginalDistributor is MpiDistributor
    finally:
        for name in ("dgamore.mpi_utils", "dgamore.mpi_distributor"):
            sys.modules.pop(name, None)


# ---------------------------------------------------------------- distributor


@pytest.mark.parametrize("ntasks", [0, 1, 5, 7, 13])
def test_split_and_properties(comm, ntasks):
    size, rank = comm.Get_size(), comm.Get_rank()
    d = MpiDistributor(ntasks, comm, "Q")
    e = MpiDistributor.create_distributor(ntasks=ntasks, comm=comm, name="Q")
    for dist in (d, e):
        assert dist.comm is comm  # the caller's communicator
        assert list(dist.sizes) == block_sizes(ntasks, size)
        assert [(s.start, s.stop) for s in dist.slices] == [(s.start, s.stop) for s in block_slices(ntasks, size)]
        assert dist.my_rank == rank and dist.mpi_size == size and dist.is_root == (rank == 0)
        assert dist.my_size == block_sizes(ntasks, size)[rank]
        assert dist.my_slice == block_slices(ntasks, size)[rank]
        assert np.array_equal(dist.my_tasks, np.arange(ntasks)[dist.my_slice])
        assert dist.ntasks == ntasks
        assert list(dist._sizes) == list(dist.sizes) and dist._my_size == dist.my_size
    # same processes and split: one library distributor (no new communicators)
    assert d.library_distributor is e.library_distributor
    assert MpiDistributor(ntasks, comm).library_distributor is d.library_distributor
    d.barrier()


def test_world_default_and_none_comm():
    d = MpiDistributor.create_distributor(ntasks=3, comm=None)
    assert d.comm is MPI.COMM_WORLD
    assert MpiDistributor(3).comm is MPI.COMM_WORLD


def test_rank_file_from_config_and_context_manager(comm, fake_config, shared_dir):
    rank = comm.Get_rank()
    path = rank_dir(shared_dir, comm, "rankfiles")
    fake_config.output.output_path = path
    d = MpiDistributor(ntasks=5, comm=comm, name="green")
    fname = os.path.join(path, f"green_Rank{rank:05d}.hdf5")
    assert d._fname == fname and os.path.exists(fname)
    with d as f:
        assert isinstance(f, h5py.File) and f  # the open file, as the original yields
        f.create_dataset("gamma", data=np.arange(6.0).reshape(2, 3) + rank)
    assert not d._file  # closed on exit
    with h5py.File(fname, "r") as g:
        assert np.array_equal(g["gamma"][()], np.arange(6.0).reshape(2, 3) + rank)
    # created again (mode "a"): never truncated
    again = MpiDistributor(ntasks=5, comm=comm, name="green")
    with again as f:
        assert "gamma" in f
    d.open_file()
    opened = d._file
    assert opened
    d.__del__()  # closes the file, as the original's destructor
    assert not opened
    d.delete_file()
    assert not os.path.exists(fname)
    d.delete_file()  # absent: ignored
    # the keyword wins over the configuration; None: no file
    other = rank_dir(shared_dir, comm, "rankfiles_kw")
    k = MpiDistributor(4, comm, "kw", output_path=other)
    assert os.path.exists(os.path.join(other, f"kw_Rank{rank:05d}.hdf5"))
    k.delete_file()
    n = MpiDistributor(4, comm, "none", output_path=None)
    with n as f:
        assert f is None
    n.open_file(), n.close_file(), n.delete_file()
    n.__exit__(None, None, None)
    assert md.config is fake_config


def test_rank_file_empty_output_path_is_cwd(comm, fake_config, shared_dir, monkeypatch):
    path = rank_dir(shared_dir, comm, "cwd")
    monkeypatch.chdir(path)
    fake_config.output.output_path = ""  # the original configuration's default
    d = MpiDistributor(2, comm, "V")
    assert os.path.exists(os.path.join(path, f"V_Rank{comm.Get_rank():05d}.hdf5"))
    d.delete_file()


def test_rank_file_from_compat_config(comm, shared_dir, monkeypatch):
    if importlib.util.find_spec("dgamore") is not None:
        pytest.skip("dgamore is importable: its configuration is the one read")
    monkeypatch.delitem(sys.modules, "dgamore.config", raising=False)
    path = rank_dir(shared_dir, comm, "compat_cfg")
    monkeypatch.setattr(dgampi.compat.config.output, "output_path", path)
    d = MpiDistributor(3, comm, "C")
    assert os.path.exists(os.path.join(path, f"C_Rank{comm.Get_rank():05d}.hdf5"))
    d.delete_file()
    assert md.config is dgampi.compat.config


def _values(shape, dtype, seed=0):
    dt = np.dtype(dtype)
    base = make(shape, np.int64, seed)
    if dt.kind == "b":
        return (base % 3 == 0).astype(dt)
    if dt.kind == "u" and dt.itemsize == 8:
        return (np.uint64(2**64 - 200) + base.astype(np.uint64)).astype(dt)  # sums wrap
    if dt.kind == "i" and dt.itemsize == 1:
        return (base + 60).astype(np.int64).astype(dt)  # wraps past 127 when summed
    if dt.kind == "c":
        return (base + 1j * (base % 7)).astype(dt)
    return base.astype(dt)


COLLECTIVE_DTYPES = [
    np.bool_, np.int8, np.int16, np.uint16, np.uint32, np.uint64, np.float16, np.float32, np.float64,
    np.complex64, np.complex128, np.int32, np.int64, np.uint8, ">f8", np.longdouble,
]


@pytest.mark.parametrize("dtype", COLLECTIVE_DTYPES, ids=lambda t: np.dtype(t).str)
def test_collectives_keep_dtype_and_values(comm, dtype):
    size, rank = comm.Get_size(), comm.Get_rank()
    dt = np.dtype(dtype)
    ntasks = 7
    d = MpiDistributor(ntasks, comm, "dt")
    full = _values((ntasks, 3, 2), dt)
    mine = full[d.my_slice]

    got = d.allgather(mine)
    assert got.dtype == dt and np.array_equal(got, full)
    got = d.allgather(np.asfortranarray(mine))  # any layout, as np.ascontiguousarray in the original
    assert np.array_equal(got, full)

    root = size - 1
    got = d.gather(mine, root=root)
    if rank == root:
        assert got.dtype == dt and np.array_equal(got, full)
    else:
        assert got is None

    got = d.scatter(full if rank == 0 else None, root=0)
    assert got.dtype == dt and np.array_equal(got, mine)

    vec = _values((ntasks,), dt, seed=3)
    got = d.scatter(vec if rank == 0 else None, root=0)
    assert got.shape == (d.my_size,) and np.array_equal(got, vec[d.my_slice])
    got = d.allgather(vec[d.my_slice])
    assert np.array_equal(got, vec)

    got = d.bcast_chunked(full if rank == root else None, root=root)
    assert got.dtype == dt and np.array_equal(got, full) and got.flags.c_contiguous

    # allreduce: every rank adds its own values; reference = numpy's sum in the dtype
    per_rank = [_values((4, 3), dt, seed=r) for r in range(size)]
    mine = per_rank[rank].copy()
    if dt.kind == "b":
        ref = np.logical_or.reduce(per_rank)
    elif dt == np.float16:
        ref = np.sum([p.astype(np.float32) for p in per_rank], axis=0).astype(dt)
    elif dt.kind in "iu":
        ref = per_rank[0].copy()
        for p in per_rank[1:]:
            ref += p  # wraps, as MPI's sum does
    else:
        ref = np.sum(per_rank, axis=0).astype(dt)
    if dt.kind == "f" and dt.itemsize > 8 or not dt.isnative:
        with pytest.raises(TypeError):
            d.allreduce(mine)
        return
    out = d.allreduce(mine)
    assert out is mine and mine.dtype == dt and np.array_equal(mine, ref)


@pytest.mark.parametrize("dtype", [np.complex64, np.bool_, np.uint16, np.float64])
def test_send_to_rank_recv_from_rank(comm, dtype):
    size, rank = comm.Get_size(), comm.Get_rank()
    if size == 1:
        pytest.skip("needs two ranks")
    d = MpiDistributor(3, comm)
    mat = _values((5, 2, 2), dtype)
    if rank == 0:
        obj = FakeFourPoint(mat, channel="magn", nq=(4, 4, 1))
        held = obj.mat
        d.send_to_rank(obj, dest=size - 1, base_tag=7)
        assert obj.mat is held  # restored after pickling
    elif rank == size - 1:
        got = d.recv_from_rank(source=0, base_tag=7)
        assert isinstance(got, FakeFourPoint) and got.meta() == ("magn", (4, 4, 1), 1, 2, "ph")
        assert got.mat.dtype == np.dtype(dtype) and np.array_equal(got.mat, mat)


def test_bcast_and_scatter_conventions(comm):
    size, rank = comm.Get_size(), comm.Get_rank()
    d = MpiDistributor(3, comm)
    payload = {"lambdas": [1.5, 2.5], "rank": 0}
    got = d.bcast(payload if rank == 0 else None, root=0)
    assert got == payload and got is not payload  # a copy on every rank, as mpi4py's bcast
    if size == 1:
        out = d.scatter(None, root=0)  # the original's single-rank answer
        assert out.shape == (3,)
        with pytest.raises(TypeError):
            d.scatter([1, 2, 3], root=0)
        with pytest.raises(ValueError):
            d.scatter(np.zeros((4, 2)), root=0)
        return
    bad = [1, 2, 3] if rank == 0 else None
    with pytest.raises((TypeError, dgampi.DgampiError)) as info:
        d.scatter(bad, root=0)
    assert (info.type is TypeError) == (rank == 0)
    bad = np.zeros((4, 2)) if rank == 0 else None
    with pytest.raises((ValueError, dgampi.DgampiError)) as info:
        d.scatter(bad, root=0)
    assert (info.type is ValueError) == (rank == 0)


# ---------------------------------------------------------------- the message limit


def test_max_mpi_bytes_assignment_changes_the_limit(comm, monkeypatch):
    size, rank = comm.Get_size(), comm.Get_rank()
    start = dgampi.MAX_MPI_BYTES
    monkeypatch.setattr(md, "MAX_MPI_BYTES", 8)  # as the original's tests do
    assert dgampi.MAX_MPI_BYTES == 8 and mu.MAX_MPI_BYTES == 8 and md.MAX_MPI_BYTES == 8
    mu.MAX_MPI_BYTES = 12
    assert dgampi.MAX_MPI_BYTES == 12 and md.MAX_MPI_BYTES == 12
    rows = make((6, 3), np.complex128)  # 48-byte rows: every row is split further
    assert len(list(dgampi.byte_chunks(6, 48))) == 6 * 4
    d = MpiDistributor(6, comm)
    assert np.array_equal(d.allgather(rows[d.my_slice]), rows)
    flags = (make((6, 5), np.int64) % 2).astype(bool)
    assert np.array_equal(d.allgather(flags[d.my_slice]), flags)
    if size > 1:
        if rank == 0:
            mu._send_in_chunks(comm, rows, dest=1, base_tag=3)
            mu._send_in_chunks(comm, flags, dest=1, base_tag=50)
        elif rank == 1:
            assert np.array_equal(mu._recv_in_chunks(comm, rows.shape, rows.dtype, source=0, base_tag=3), rows)
            got = mu._recv_in_chunks(comm, flags.shape, flags.dtype, source=0, base_tag=50)
            assert got.dtype == np.bool_ and np.array_equal(got, flags)
    monkeypatch.undo()
    assert dgampi.MAX_MPI_BYTES == start


def test_send_recv_in_chunks_1d_and_empty(comm):
    size, rank = comm.Get_size(), comm.Get_rank()
    if size == 1:
        pytest.skip("needs two ranks")
    vec = np.arange(11, dtype=np.float64)
    empty = np.zeros((0, 4), dtype=np.int16)
    if rank == 1:
        mu._send_in_chunks(comm, vec, dest=0)
        mu._send_in_chunks(comm, empty, dest=0, base_tag=100)
    elif rank == 0:
        assert np.array_equal(mu._recv_in_chunks(comm, (11,), np.float64, source=1), vec)
        got = mu._recv_in_chunks(comm, (0, 4), np.int16, source=1, base_tag=100)
        assert got.shape == (0, 4) and got.dtype == np.int16


# ---------------------------------------------------------------- node split


@pytest.mark.parametrize("n_nu", [0, 1, 2, 5, 9])
def test_node_aware_v_dist_is_the_originals(comm, n_nu):
    sizes, slices = mu._get_node_aware_v_dist(n_nu, comm)
    ref_sizes, ref_slices = ref_node_split(n_nu, all_hosts(comm))
    assert isinstance(sizes, np.ndarray) and list(sizes) == ref_sizes
    assert isinstance(slices, list) and [(s.start, s.stop) for s in slices] == [(s.start, s.stop) for s in ref_slices]


# ---------------------------------------------------------------- BZ maps


def _irr_objects(d_irr, grid, shape_rest, dtype=np.complex128, cls=FakeFourPoint, seed=0):
    n_irr = int(np.asarray(grid.irrk_inv).max()) + 1
    irr_all = make((n_irr,) + shape_rest, dtype, seed)
    obj = cls(irr_all[d_irr.my_slice].copy(), channel="dens", nq=grid.nk, has_compressed_q_dimension=True)
    return irr_all, obj


@pytest.mark.parametrize("auto", [False, True], ids=["plain", "auto"])
def test_map_irrbz_fullbz_mutates_and_returns_obj(comm, fake_config, auto):
    grid = make_grid(auto=auto)
    fake_config.lattice.q_grid = grid
    n_irr, n_full = int(grid.irrk_inv.max()) + 1, grid.irrk_inv.size
    d_irr, d_full = MpiDistributor(n_irr, comm, "Q"), MpiDistributor(n_full, comm, "FBZ")
    for cls, n_orb, rest in ((FakeFourPoint, 4, (2, 2, 2, 2, 3)), (GreensFunction, 2, (2, 2, 5))):
        irr_all, obj = _irr_objects(d_irr, grid, rest, cls=cls)
        before = obj.original_shape
        out = mu.map_irrbz_fullbz(obj, d_irr, d_full)
        assert out is obj
        ref = ref_unfold(irr_all, grid, n_orb)[d_full.my_slice]
        assert obj.mat.shape == ref.shape and np.allclose(obj.mat, ref, rtol=1e-12, atol=1e-12)
        # original_shape as the original leaves it: full-BZ shape on rank 0 only
        assert obj.original_shape == ((n_full,) + rest if comm.Get_rank() == 0 else before)


@pytest.mark.parametrize("auto", [False, True], ids=["plain", "auto"])
def test_exchange_and_map_returns_new_four_point(comm, fake_four_point, auto):
    grid = make_grid(auto=auto)
    fake_four_point  # dgamore.four_point.FourPoint is FakeFourPoint
    sys.modules["dgamore.config"].lattice.q_grid = grid
    n_irr, n_full = int(grid.irrk_inv.max()) + 1, grid.irrk_inv.size
    d_irr, d_full = MpiDistributor(n_irr, comm), MpiDistributor(n_full, comm)
    irr_all, obj = _irr_objects(d_irr, grid, (2, 2, 2, 2, 3), dtype=np.complex64)
    held = obj.mat.copy()
    out = mu.exchange_and_map_irrbz_fullbz(obj, d_irr, d_full)
    assert type(out) is FakeFourPoint and out is not obj
    assert out.has_compressed_q_dimension is True and out.meta() == obj.meta()
    assert np.array_equal(obj.mat, held)  # the input object is not changed
    ref = ref_unfold(irr_all, grid, 4)[d_full.my_slice]
    assert out.mat.dtype == np.complex64 and np.allclose(out.mat, ref, rtol=1e-5, atol=1e-4)
    assert out.original_shape == out.mat.shape


def test_maps_with_keyword_grid_and_other_dtypes(comm):
    """No application configuration: q_grid= keyword; dtypes the library does
    not carry travel as bytes; a plain object is copied, not rebuilt."""
    grid = make_grid(nx=3, ny=5)
    n_irr, n_full = int(grid.irrk_inv.max()) + 1, grid.irrk_inv.size
    d_irr, d_full = MpiDistributor(n_irr, comm), MpiDistributor(n_full, comm)
    for dtype in (np.int16, np.bool_, np.float64):
        irr_all = _values((n_irr, 3), dtype)
        obj = types.SimpleNamespace(mat=irr_all[d_irr.my_slice].copy(), tag="x")
        out = mu.exchange_and_map_irrbz_fullbz(obj, d_irr, d_full, q_grid=grid)
        ref = irr_all[grid.irrk_inv.reshape(-1)][d_full.my_slice]
        assert out is not obj and out.tag == "x" and out.mat.dtype == np.dtype(dtype)
        assert np.array_equal(out.mat, ref)
        back = mu.map_irrbz_fullbz(obj, d_irr, d_full, q_grid=grid)
        assert back is obj and np.array_equal(obj.mat, ref)


def test_maps_without_grid_raise(comm, fake_config):
    d = MpiDistributor(1, comm)
    with pytest.raises(TypeError, match="q-grid"):
        mu.map_irrbz_fullbz(FakeFourPoint(np.zeros((d.my_size, 1))), d, d)


# ---------------------------------------------------------------- frequency re-layout


@pytest.mark.parametrize("n_v,auto", [(5, False), (5, True), (2, False), (7, False)], ids=["5", "5-auto", "2", "7"])
def test_vslice_then_allgather_over_frequencies(comm, fake_config, n_v, auto):
    """The Eliashberg solver's pattern: the frequency distributor gets the
    node-aware split from gather_full_ibz_for_vslice, then its slices and
    allgather are used (with 5 frequencies at 2-4 ranks the even split
    differs, and the plain dgampi distributor fails the allgather)."""
    size, rank = comm.Get_size(), comm.Get_rank()
    grid = make_grid(nx=4, ny=4, auto=auto)
    fake_config.lattice.q_grid = grid
    n_irr, n_full = int(grid.irrk_inv.max()) + 1, grid.irrk_inv.size
    n_vp = 3
    d_irr = MpiDistributor.create_distributor(ntasks=n_irr, comm=comm, name="Q")
    d_v = MpiDistributor.create_distributor(ntasks=n_v, comm=comm, name="V")
    gamma_all = make((n_irr, 2, 2, 2, 2, n_v, n_vp), np.complex128)
    gamma = FakeFourPoint(gamma_all[d_irr.my_slice].copy(), nq=grid.nk, has_compressed_q_dimension=True)
    held = gamma.mat

    ref_sizes, ref_slices = ref_node_split(n_v, all_hosts(comm))
    out = mu.gather_full_ibz_for_vslice(gamma, d_irr, d_v, grid)
    assert list(d_v.sizes) == ref_sizes and d_v.my_size == ref_sizes[rank]
    assert [(s.start, s.stop) for s in d_v.slices] == [(s.start, s.stop) for s in ref_slices]
    assert d_v.my_slice == ref_slices[rank] and d_v.ntasks == n_v
    full_ref = ref_unfold(gamma_all, grid, 4)  # [n_full, orb x4, nu, nu']
    mine = ref_slices[rank]
    if ref_sizes[rank] == 0:
        assert out is None and gamma.mat is held
        local = np.zeros((0, n_full, 2, 2, 2, 2, n_vp), dtype=np.complex128)
    else:
        assert out is gamma and out.original_shape == out.mat.shape
        assert np.allclose(out.mat, full_ref[..., mine, :], rtol=1e-12, atol=1e-12)
        local = np.moveaxis(out.mat, -2, 0)  # (v_local, q, ...), as the solver does
    assert np.allclose(d_v.allgather(local), np.moveaxis(full_ref, -2, 0), rtol=1e-12, atol=1e-12)

    # the application calls it again on the same frequency distributor
    gamma2 = FakeFourPoint(gamma_all[d_irr.my_slice].copy(), nq=grid.nk, has_compressed_q_dimension=True)
    out2 = mu.gather_full_ibz_for_vslice(gamma2, d_irr, d_v, grid)
    assert (out2 is None) == (ref_sizes[rank] == 0) and list(d_v.sizes) == ref_sizes

    even = block_sizes(n_v, size)
    if even != ref_sizes:  # what the plain dgampi distributor would do
        with dgampi.MpiDistributor(n_v, comm) as plain:
            with pytest.raises(dgampi.DgampiError):
                plain.allgather(local)


# ---------------------------------------------------------------- FFT


@pytest.mark.parametrize("layout", ["c", "fortran"])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_execute_distributed_fft_replaces_mat(comm, layout, dtype):
    size, rank = comm.Get_size(), comm.Get_rank()
    nq = (4, 3, 2)
    n = int(np.prod(nq))
    grid_all = make((n, 2, 3), dtype)
    mine = block_slices(n, size)[rank]
    block = grid_all[mine].copy()
    if layout == "fortran":
        block = np.asfortranarray(block)
    kernel = FakeFourPoint(block, nq=nq, has_compressed_q_dimension=True)
    out = mu.execute_distributed_fft(kernel, comm)
    ref = np.fft.fftn(grid_all.reshape(nq + (2, 3)).astype(np.complex128), axes=(0, 1, 2)).reshape(n, 2, 3)
    assert out is kernel and kernel.mat is not block
    assert np.array_equal(block, grid_all[mine])  # the array it held is not changed
    tol = 1e-12 if dtype == np.complex128 else 1e-4
    assert kernel.mat.dtype == np.dtype(dtype) and np.allclose(kernel.mat, ref[mine], rtol=tol, atol=tol * 100)


def test_execute_distributed_fft_rejects_real_data(comm):
    size, rank = comm.Get_size(), comm.Get_rank()
    nq = (2, 2, 2)
    mine = block_slices(8, size)[rank]
    kernel = FakeFourPoint(np.ones((mine.stop - mine.start, 2)), nq=nq)
    with pytest.raises(dgampi.DgampiError):
        mu.execute_distributed_fft(kernel, comm)


@pytest.mark.parametrize("layout", ["flat", "z_pencil", "y_pencil", "x_pencil"])
def test_get_pencil_indices_is_the_originals(layout):
    for nq in ((4, 3, 2), (1, 5, 3), (2, 2, 1)):
        for size in (1, 2, 3, 4, 7):
            for rank in range(size):
                got = mu.get_pencil_indices(rank, size, nq, layout)
                assert np.array_equal(got, ref_pencils(rank, size, nq, layout)), (nq, size, rank)
    with pytest.raises(ValueError):
        mu.get_pencil_indices(0, 1, (2, 2, 2), "w_pencil")


def test_module_names_resolve_without_the_application():
    assert mu.MPI is MPI and md.np is np and mu.fft is not None
    if importlib.util.find_spec("dgamore") is None:
        assert mu.FourPoint is None and mu.KGrid is None and mu.symmetry_reduction is None
    gc.collect()
    assert pickle.loads(pickle.dumps(FakeFourPoint(np.zeros(2)))).mat.shape == (2,)
