"""Per-rank HDF5 spill files: dataset round trips, listing, removal, and the
files read back with h5py (complex stays complex)."""

import os

import h5py
import numpy as np
import pytest

import dgampi
from dgampi import MpiDistributor
from helpers import DTYPE_IDS, DTYPES, layout, make


@pytest.fixture
def dist(comm, shared_dir, request):
    name = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    d = MpiDistributor(7, comm, name=name, output_path=shared_dir)
    yield d
    try:
        d.delete_file()
    finally:
        d.close()


def test_spill_path_and_file_creation(dist, comm, shared_dir, request):
    expected = os.path.join(shared_dir, f"{request.node.name}_Rank{comm.Get_rank():05d}.hdf5")
    assert dist.spill_path == expected
    assert os.path.exists(expected)  # created by the constructor
    assert dist.spill_list() == []


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_spill_roundtrip_all_dtypes(dist, dtype):
    arrays = {
        "one_d": make(9, dtype, seed=dist.my_rank),
        "group/three_d": layout(make((3, 4, 2), dtype, seed=1 + dist.my_rank), "reversed"),
        "empty": make((0, 3), dtype),
        "strided": layout(make((4, 3), dtype, seed=7), "strided"),
    }
    for name, a in arrays.items():
        dist.spill_write(name, a)
    assert dist.spill_list() == sorted(arrays)
    for name, a in arrays.items():
        dt, shape = dist.spill_shape(name)
        assert dt == np.dtype(dtype) and shape == a.shape
        back = dist.spill_read(name)
        assert back.dtype == np.dtype(dtype) and back.shape == a.shape and np.array_equal(back, a)
        into = layout(np.zeros(a.shape, dtype), "fortran")
        assert dist.spill_read_into(name, into) is into
        assert np.array_equal(into, a)
    # h5py sees the same data once the library has closed the file
    dist.close_file()
    with h5py.File(dist.spill_path, "r") as f:
        for name, a in arrays.items():
            ds = f[name]
            assert ds.dtype == np.dtype(dtype), (name, ds.dtype)
            assert ds.shape == a.shape
            assert np.array_equal(ds[()], a)
    dist.open_file()
    assert dist.spill_list() == sorted(arrays)


def test_spill_replace_remove_and_errors(dist):
    dist.spill_write("x", np.arange(5.0))
    dist.spill_write("x", np.arange(3, dtype=np.complex64))  # replaced, new dtype and shape
    assert dist.spill_shape("x") == (np.dtype(np.complex64), (3,))
    assert np.array_equal(dist.spill_read("x"), np.arange(3))
    with pytest.raises(dgampi.DgampiError) as err:
        dist.spill_read_into("x", np.zeros(4, np.complex64))
    assert err.value.status == dgampi.STATUS_MISMATCH
    dist.spill_remove("x")
    assert dist.spill_list() == []
    with pytest.raises(dgampi.DgampiError) as err:
        dist.spill_remove("x")
    assert err.value.status == dgampi.STATUS_NOT_FOUND
    with pytest.raises(dgampi.DgampiError) as err:
        dist.spill_read("missing")
    assert err.value.status == dgampi.STATUS_NOT_FOUND
    with pytest.raises(TypeError):
        dist.spill_write(3, np.zeros(2))
    with pytest.raises(TypeError):
        dist.spill_write("y", np.zeros(2, dtype=bool))
    ro = np.zeros(2)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        dist.spill_read_into("y", ro)


def test_open_close_delete(dist):
    dist.spill_write("keep", np.arange(4, dtype=np.int32))
    dist.close_file()
    dist.close_file()  # safe twice
    dist.open_file()
    assert dist.spill_list() == ["keep"]  # opening never truncates
    dist.delete_file()
    assert not os.path.exists(dist.spill_path)
    dist.delete_file()  # safe when absent
    dist.spill_write("again", np.ones(2))  # reopens (creates) lazily
    assert os.path.exists(dist.spill_path)


def test_scatter_then_spill_then_gather(dist):
    """The DΓA pattern: scatter q-blocks, spill them, read them back, gather."""
    full = make((7, 2, 2), np.complex128, seed=3)
    block = dist.scatter(full if dist.is_root else None)
    dist.spill_write("gamma/q", block)
    dist.close_file()
    with h5py.File(dist.spill_path, "r") as f:
        from_h5py = f["gamma/q"][()]
    dist.open_file()
    back = dist.spill_read("gamma/q")
    gathered = dist.gather(back)
    assert from_h5py.dtype == np.complex128 and np.array_equal(from_h5py, full[dist.my_slice])
    if dist.is_root:
        assert np.array_equal(gathered, full)


def test_without_output_path(comm):
    with MpiDistributor(3, comm) as d:
        assert d.spill_path is None
        d.open_file()  # no-ops, as in the original
        d.close_file()
        d.delete_file()
        with pytest.raises(dgampi.DgampiError):
            d.spill_write("x", np.zeros(2))


def test_unusable_output_path_fails_everywhere(comm, shared_dir):
    """A spill file that cannot be created on one rank fails the constructor on every rank."""
    blocker = os.path.join(shared_dir, "not_a_directory")
    if comm.Get_rank() == 0:
        with open(blocker, "w") as f:
            f.write("x")
    comm.Barrier()
    path = blocker if comm.Get_rank() == comm.Get_size() - 1 else shared_dir
    with pytest.raises(dgampi.DgampiError):
        MpiDistributor(3, comm, name="blocked", output_path=path)
    comm.Barrier()
    if comm.Get_rank() == 0:
        for entry in os.listdir(shared_dir):
            if entry.startswith("blocked_"):
                os.remove(os.path.join(shared_dir, entry))


def test_open_file_read_only(dist):
    """An explicit read-only open: reads work, writes are refused, the file is unchanged."""
    dist.spill_write("keep", np.arange(6, dtype=np.int64))
    assert dist.spill_read_only is False
    dist.open_file(read_only=True)  # reopens the read/write file read-only
    assert dist.spill_read_only is True
    with open(dist.spill_path, "rb") as f:
        before = f.read()
    with pytest.raises(dgampi.DgampiError) as err:
        dist.spill_write("more", np.zeros(2))
    assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT
    assert "read-only" in err.value.message and dist.spill_path in err.value.message
    with pytest.raises(dgampi.DgampiError) as err:
        dist.spill_remove("keep")
    assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT
    assert np.array_equal(dist.spill_read("keep"), np.arange(6))
    assert dist.spill_list() == ["keep"]
    dist.open_file()  # already open: stays read-only
    assert dist.spill_read_only is True
    dist.close_file()
    with open(dist.spill_path, "rb") as f:
        assert f.read() == before
    assert dist.spill_read_only is False
    dist.open_file()
    assert dist.spill_read_only is False
    dist.spill_write("more", np.zeros(2))
    assert dist.spill_list() == ["keep", "more"]
    dist.delete_file()
    with pytest.raises(dgampi.DgampiError) as err:
        dist.open_file(read_only=True)
    assert err.value.status == dgampi.STATUS_NOT_FOUND


def test_same_name_on_two_communicators_is_refused(comm, shared_dir):
    """Two distributors with the same name and output_path compute the same
    file names: the second is refused on every rank (also on COMM_SELF, whose
    rank-0 file is this rank's or one another process holds), and delete_file
    of one never unlinks the file another writes."""
    from mpi4py import MPI

    with MpiDistributor(4, comm, name="twin", output_path=shared_dir) as first:
        first.spill_write("kept", np.array([comm.Get_rank(), 7]))
        with pytest.raises(dgampi.DgampiError) as err:
            MpiDistributor(4, comm, name="twin", output_path=shared_dir)
        assert err.value.status in (dgampi.STATUS_INVALID_ARGUMENT, dgampi.STATUS_REMOTE_ERROR)
        with pytest.raises(dgampi.DgampiError) as err:
            MpiDistributor(4, MPI.COMM_SELF, name="twin", output_path=shared_dir)
        assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT
        assert "twin_Rank00000.hdf5" in err.value.message
        comm.Barrier()
        if comm.Get_rank() == 0:
            first.close_file()
            with MpiDistributor(4, MPI.COMM_SELF, name="twin", output_path=shared_dir) as second:
                with pytest.raises(dgampi.DgampiError) as err:
                    first.delete_file()
                assert err.value.status == dgampi.STATUS_INVALID_ARGUMENT
                assert os.path.exists(first.spill_path)
                assert second.spill_list() == ["kept"]
        comm.Barrier()
        assert np.array_equal(first.spill_read("kept"), [comm.Get_rank(), 7])
        first.delete_file()
        assert not os.path.exists(first.spill_path)
