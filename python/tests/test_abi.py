"""The ABI conventions as the Python package sees them: the library version
checked at load, the error-message size query (no length limit), the
extensible records made by the library's _init functions."""

import ctypes

import numpy as np
import pytest

import dgampi
from dgampi import _lib


def test_library_version_is_checked_at_load():
    assert _lib.LIBRARY_VERSION[:2] == _lib.ABI_VERSION == (0, 2)
    assert dgampi.library_version() == "%d.%d.%d" % _lib.LIBRARY_VERSION == dgampi.__version__
    # a package written for another 0.x minor version refuses the library
    saved = _lib.ABI_VERSION
    try:
        _lib.ABI_VERSION = (0, 1)
        with pytest.raises(ImportError, match=r"needs 0\.1\.x .*0\.2\.0"):
            _lib._check_library_version()
    finally:
        _lib.ABI_VERSION = saved
    assert _lib.fn.check_version(0, 2) == 0


def test_error_messages_are_never_cut(comm, shared_dir):
    """The message is read with the size query: a 6000-byte dataset name
    (longer than any fixed buffer) comes back whole, non-ASCII included."""
    name = "é" * 3000
    with dgampi.MpiDistributor(2, comm, name="abi_messages", output_path=shared_dir) as d:
        try:
            with pytest.raises(dgampi.DgampiError) as err:
                d.spill_read(name)
            assert err.value.status == dgampi.STATUS_NOT_FOUND
            assert name in err.value.message
            # the C convention itself: needed = length + 1, a short buffer is
            # OUT_OF_RANGE and cut at a character boundary (the é are 2 bytes)
            needed = ctypes.c_size_t()
            assert _lib.fn.last_error_message(None, 0, ctypes.byref(needed)) == 0
            assert needed.value == len(err.value.message.encode()) + 1 > 6000
            for size in range(1, 40):
                buf = ctypes.create_string_buffer(b"x" * size, size)
                assert _lib.fn.last_error_message(buf, size, ctypes.byref(needed)) == dgampi.STATUS_OUT_OF_RANGE
                text = buf.value
                assert len(text) < size and err.value.message.encode().startswith(text)
                text.decode("utf-8")  # never cut inside a character
        finally:
            d.delete_file()


def test_records_are_made_by_the_library():
    o = _lib.fft_options()
    assert o.struct_size == ctypes.sizeof(_lib.FftOptions) and o.direction == -1 and o.limit == 0
    t = _lib.orbital_transform()
    assert t.struct_size == ctypes.sizeof(_lib.OrbitalTransform) and t.n == 0 and not t.u
    # an uninitialized record is refused by the library
    bad = _lib.FftOptions()
    a = np.zeros((1,), np.complex128)
    status = _lib.fn.fft_execute_once_f(dgampi._lib.MPI.COMM_SELF.py2f(), (ctypes.c_int64 * 3)(1, 1, 1),
                                        _lib.desc(a)[0], ctypes.byref(bad))
    assert status == dgampi.STATUS_INVALID_ARGUMENT and "struct_size" in _lib.last_error_message()


def test_broadcast_root_gets_its_own_array(comm):
    """Every broadcast's root record is the shape with data NULL; the
    bindings return the root's own input there."""
    root = comm.Get_size() - 1
    x = np.arange(6.0).reshape(3, 2)
    got = dgampi.bcast_rows(comm, x if comm.Get_rank() == root else None, root)
    assert (got is x) if comm.Get_rank() == root else np.array_equal(got, x)
    with dgampi.MpiDistributor(3, comm) as d:
        got = d.bcast_chunked(x if d.my_rank == root else None, root)
        assert (got is x) if d.my_rank == root else np.array_equal(got, x)
