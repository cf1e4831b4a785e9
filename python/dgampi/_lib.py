"""Loading of ``libdgampi.so`` and the ctypes layer: prototypes, array
descriptors, library-owned buffers and error mapping.

Nothing here is public API; see :mod:`dgampi`.
"""

import ctypes
import ctypes.util
import os
import sys
import warnings

import numpy as np

# mpi4py must load (and initialize) MPI before libdgampi is loaded: it opens
# libmpi with RTLD_GLOBAL, which Open MPI's plugins need.
from mpi4py import MPI

__all__ = []  # private module

# ---------------------------------------------------------------- loading

#: The library version this package is written for: a library of another
#: 0.x minor version (another soname, libdgampi.so.0.MINOR) is refused at load.
ABI_VERSION = (0, 2)
SONAME = f"libdgampi.so.{ABI_VERSION[0]}.{ABI_VERSION[1]}"
_LIB_NAMES = ("libdgampi.so", SONAME, "libdgampi.dylib")


def _candidates():
    """Yields (description, path-or-name) in search order."""
    env = os.environ.get("DGAMPI_LIB")
    if env:
        if os.path.isdir(env):
            for name in _LIB_NAMES:
                yield "DGAMPI_LIB", os.path.join(env, name)
        else:
            yield "DGAMPI_LIB", env
        return  # an explicit choice is never silently replaced by another library
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _LIB_NAMES:
        path = os.path.join(here, name)
        if os.path.exists(path):
            yield "next to the package", path
    for name in (SONAME, "libdgampi.so"):
        yield "loader path", name
    found = ctypes.util.find_library("dgampi")
    if found:
        yield "ctypes.util.find_library", found


def _load():
    tried = []
    for where, path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as err:
            tried.append(f"  {path} ({where}): {err}")
    raise ImportError(
        "dgampi: cannot load libdgampi.so. Set DGAMPI_LIB to the library (or its directory), put it next to "
        "the dgampi package, or add its directory to LD_LIBRARY_PATH. Tried:\n" + "\n".join(tried)
    )


lib, lib_path = _load()

# ---------------------------------------------------------------- C types

MAX_NDIM = 32
DEFAULT_MAX_MESSAGE_BYTES = 2**31 - 1
NPOINT_ARRAY_TAG_OFFSET = 500

c_size_t = ctypes.c_size_t
c_int = ctypes.c_int
c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
# MPI_Fint: mpi.h's Fortran integer, an int in Open MPI and MPICH (what
# mpi4py's py2f() returns); checked against the library below.
MPI_Fint = ctypes.c_int


class Array(ctypes.Structure):
    """``struct dgampi_array`` (borrowed strided descriptor)."""

    _fields_ = [
        ("data", c_void_p),
        ("dtype", c_int32),
        ("ndim", c_int32),
        ("shape", ctypes.POINTER(c_int64)),
        ("strides", ctypes.POINTER(c_int64)),
    ]


class OwnedArray(ctypes.Structure):
    """``struct dgampi_owned_array`` (malloc'ed by the library)."""

    _fields_ = [
        ("data", c_void_p),
        ("dtype", c_int32),
        ("ndim", c_int32),
        ("shape", c_int64 * MAX_NDIM),
    ]


class Chunk(ctypes.Structure):
    """``struct dgampi_chunk``."""

    _fields_ = [
        ("row_start", c_size_t),
        ("row_stop", c_size_t),
        ("byte_offset", c_size_t),
        ("byte_len", c_size_t),
    ]


class OrbitalTransform(ctypes.Structure):
    """``struct dgampi_orbital_transform`` (borrowed per-k U, sigma, conj);
    an extensible record: made by :func:`orbital_transform`."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("u", c_void_p),
        ("n", c_int64),
        ("nb", c_int64),
        ("axes", c_int32),
        ("sigma", ctypes.POINTER(ctypes.c_double)),
        ("conj", ctypes.POINTER(ctypes.c_uint8)),
    ]


class FftOptions(ctypes.Structure):
    """``struct dgampi_fft_options``; an extensible record: made by
    :func:`fft_options` (the library's defaults)."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("direction", c_int32),
        ("normalization", c_int32),
        ("strategy", c_int32),
        ("rigor", c_int32),
        ("limit", c_size_t),
        ("transposition", c_int32),  # appended in 0.2.x: 0 natural, 1 transposed out, 2 transposed in
        ("threads", c_int32),  # appended in 0.2.x: threads per rank (0 = 1)
    ]


class Handle(c_void_p):
    """``dgampi_distributor *`` / ``dgampi_fft_plan *`` / ``dgampi_map_plan *`` /
    ``dgampi_vslice_plan *``; ``owner`` names the
    Python object for the message of a call on a closed handle."""

    owner = "object"

P = ctypes.POINTER
PArray = P(Array)
POwned = P(OwnedArray)
PTransform = P(OrbitalTransform)

_PROTOTYPES = {
    "dgampi_last_error_message": [c_char_p, c_size_t, P(c_size_t)],
    "dgampi_version": [P(c_char_p)],
    "dgampi_version_numbers": [P(c_int), P(c_int), P(c_int)],
    "dgampi_check_version": [c_int, c_int],
    "dgampi_mpi_build": [P(c_int), P(c_char_p)],
    "dgampi_check_mpi_library": [c_char_p],
    "dgampi_free": [c_void_p],
    "dgampi_set_max_message_bytes": [c_size_t],
    "dgampi_max_message_bytes": [P(c_size_t)],
    "dgampi_set_exchange_path": [c_int32],
    "dgampi_get_exchange_path": [P(c_int32)],
    "dgampi_chunk_step": [c_size_t, c_size_t, P(c_size_t)],
    "dgampi_row_chunks": [c_size_t, c_size_t, c_size_t, c_size_t, P(c_size_t), P(Chunk)],
    # free-standing primitives (Fortran-handle twins: what mpi4py's py2f() gives)
    "dgampi_send_rows_f": [MPI_Fint, PArray, c_int, c_int, c_size_t],
    "dgampi_recv_rows_into_f": [MPI_Fint, PArray, c_int, c_int, c_size_t],
    "dgampi_recv_rows_alloc_f": [MPI_Fint, c_int32, c_int32, P(c_int64), c_int, c_int, c_size_t, P(c_void_p)],
    "dgampi_bcast_rows_into_f": [MPI_Fint, PArray, c_int, c_size_t],
    "dgampi_bcast_rows_f": [MPI_Fint, PArray, c_int, c_size_t, POwned],
    "dgampi_send_bytes_f": [MPI_Fint, c_void_p, c_size_t, c_int, c_int, c_size_t],
    "dgampi_recv_bytes_f": [MPI_Fint, c_int, c_int, P(c_void_p), P(c_size_t)],
    # distributor
    "dgampi_distributor_create_f": [MPI_Fint, c_int64, c_char_p, c_char_p, P(Handle)],
    "dgampi_distributor_create_with_sizes_f": [MPI_Fint, P(c_int64), c_size_t, c_char_p, c_char_p, P(Handle)],
    "dgampi_distributor_destroy": [P(Handle)],
    "dgampi_distributor_sizes": [Handle, P(c_int64), c_size_t],
    "dgampi_distributor_offsets": [Handle, P(c_int64), c_size_t],
    "dgampi_distributor_ntasks": [Handle, P(c_int64)],
    "dgampi_distributor_mpi_size": [Handle, P(c_int)],
    "dgampi_distributor_my_rank": [Handle, P(c_int)],
    "dgampi_distributor_comm_f": [Handle, P(MPI_Fint)],
    "dgampi_distributor_barrier": [Handle],
    "dgampi_distributor_scatter": [Handle, PArray, c_int, c_size_t, POwned],
    "dgampi_distributor_scatter_into": [Handle, PArray, PArray, c_int, c_size_t],
    "dgampi_distributor_gather": [Handle, PArray, c_int, c_size_t, POwned],
    "dgampi_distributor_gather_into": [Handle, PArray, PArray, c_int, c_size_t],
    "dgampi_distributor_allgather": [Handle, PArray, c_size_t, POwned],
    "dgampi_distributor_allgather_into": [Handle, PArray, PArray, c_size_t],
    "dgampi_distributor_allreduce": [Handle, PArray, c_size_t],
    "dgampi_distributor_bcast_bytes": [Handle, c_void_p, c_size_t, c_int, c_size_t, P(c_void_p), P(c_size_t)],
    "dgampi_distributor_bcast_chunked": [Handle, PArray, c_int, c_size_t, POwned],
    "dgampi_distributor_bcast_chunked_into": [Handle, PArray, c_int, c_size_t],
    "dgampi_distributor_bcast_npoint": [
        Handle, c_void_p, c_size_t, PArray, c_int, c_size_t, P(c_void_p), P(c_size_t), POwned,
    ],
    "dgampi_distributor_send_to_rank": [Handle, c_void_p, c_size_t, PArray, c_int, c_int, c_size_t],
    "dgampi_distributor_recv_from_rank": [Handle, c_int, c_int, P(c_void_p), P(c_size_t), POwned],
    "dgampi_distributor_recv_from_rank_into": [Handle, c_int, c_int, P(c_void_p), P(c_size_t), PArray],
    "dgampi_distributor_open_file": [Handle],
    "dgampi_distributor_open_file_read_only": [Handle],
    "dgampi_distributor_spill_read_only": [Handle, P(c_int32)],
    "dgampi_distributor_close_file": [Handle],
    "dgampi_distributor_delete_file": [Handle],
    "dgampi_distributor_spill_write": [Handle, c_char_p, PArray],
    "dgampi_distributor_spill_read_into": [Handle, c_char_p, PArray],
    "dgampi_distributor_spill_read": [Handle, c_char_p, POwned],
    "dgampi_distributor_spill_shape": [Handle, c_char_p, P(c_int32), P(c_int32), P(c_int64)],
    "dgampi_distributor_spill_list": [Handle, P(c_void_p), P(c_size_t)],
    "dgampi_distributor_spill_remove": [Handle, c_char_p],
    "dgampi_distributor_spill_path": [Handle, c_char_p, c_size_t, P(c_size_t)],
    # Brillouin-zone maps and the frequency re-layout
    "dgampi_exchange_and_map_irrbz_fullbz": [Handle, Handle, P(c_int64), c_size_t, PArray, PTransform, c_size_t, POwned],
    "dgampi_exchange_and_map_irrbz_fullbz_into": [
        Handle, Handle, P(c_int64), c_size_t, PArray, PTransform, c_size_t, PArray,
    ],
    "dgampi_map_irrbz_fullbz": [Handle, Handle, P(c_int64), c_size_t, PArray, PTransform, c_size_t, POwned],
    "dgampi_map_irrbz_fullbz_into": [Handle, Handle, P(c_int64), c_size_t, PArray, PTransform, c_size_t, PArray],
    "dgampi_node_aware_split": [Handle, c_int64, P(c_int64), P(c_int64), c_size_t],
    "dgampi_node_aware_split_ordered": [Handle, c_int64, c_int32, P(c_int64), P(c_int64), c_size_t],
    "dgampi_node_aware_split_nodes": [c_int64, P(c_int64), c_size_t, P(c_int64), P(c_int64)],
    "dgampi_gather_full_ibz_for_vslice": [
        Handle, Handle, P(c_int64), c_size_t, P(c_int64), P(c_int64), PArray, PTransform, c_size_t, POwned, P(c_int),
    ],
    # the map and the frequency re-layout as reusable plans
    "dgampi_map_plan_create": [
        Handle, Handle, P(c_int64), c_size_t, c_int32, c_int32, P(c_int64), PTransform, c_size_t, P(Handle),
    ],
    "dgampi_map_plan_execute": [Handle, PArray, PArray],
    "dgampi_map_plan_shapes": [Handle, c_int32, P(c_int64), P(c_int64)],
    "dgampi_map_plan_route": [Handle, P(c_int32)],
    "dgampi_map_plan_destroy": [P(Handle)],
    "dgampi_vslice_plan_create": [
        Handle, Handle, P(c_int64), c_size_t, P(c_int64), P(c_int64), c_int32, c_int32, P(c_int64), PTransform,
        c_size_t, P(Handle),
    ],
    "dgampi_vslice_plan_execute": [Handle, PArray, PArray],
    "dgampi_vslice_plan_shapes": [Handle, c_int32, P(c_int64), P(c_int64)],
    "dgampi_vslice_plan_route": [Handle, P(c_int32)],
    "dgampi_vslice_plan_destroy": [P(Handle)],
    # distributed 3-D FFT
    "dgampi_fft_options_init": [P(FftOptions), c_size_t],
    "dgampi_orbital_transform_init": [PTransform, c_size_t],
    "dgampi_fft_plan_create_f": [MPI_Fint, P(c_int64), c_int32, P(c_int64), c_int32, P(FftOptions), P(Handle)],
    "dgampi_fft_plan_execute": [Handle, PArray],
    "dgampi_fft_plan_destroy": [P(Handle)],
    "dgampi_fft_plan_strategy": [Handle, P(c_int32)],
    "dgampi_fft_plan_local": [Handle, P(c_int64), P(c_int64)],
    "dgampi_fft_plan_execute_into": [Handle, PArray, PArray],
    "dgampi_fft_plan_layout": [Handle, c_int32, P(c_int64), P(c_int64), P(c_int64), P(c_int32)],
    "dgampi_fft_plan_indices": [Handle, c_int32, P(c_int64), c_size_t, P(c_size_t)],
    "dgampi_fft_execute_once_f": [MPI_Fint, P(c_int64), PArray, P(FftOptions)],
    "dgampi_fft_pencil_indices": [c_int32, c_int32, P(c_int64), c_int32, P(c_int64), c_size_t, P(c_size_t)],
    "dgampi_fft_export_wisdom": [c_int32, c_char_p, c_size_t, P(c_size_t)],
    "dgampi_fft_import_wisdom": [c_int32, c_char_p],
}


class _Functions:
    """The library's entry points with their prototypes (``fn.name(...)``)."""


fn = _Functions()
_missing = []
for _name, _argtypes in _PROTOTYPES.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        _missing.append(_name)
        continue
    _f.argtypes = _argtypes
    _f.restype = c_int32
    setattr(fn, _name[len("dgampi_"):], _f)
if _missing:
    raise ImportError(f"dgampi: {lib_path} lacks {', '.join(_missing)} (library older than the Python package?)")
del _name, _argtypes, _f


def _check_library_version():
    """The loaded library must serve this package (dgampi_check_version)."""
    major, minor, patch = c_int(), c_int(), c_int()
    fn.version_numbers(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
    if fn.check_version(*ABI_VERSION) != 0:
        raise ImportError(
            f"dgampi: {lib_path} is version {major.value}.{minor.value}.{patch.value}, but this Python package needs "
            f"{ABI_VERSION[0]}.{ABI_VERSION[1]}.x ({SONAME}): {last_error_message()}"
        )
    return major.value, minor.value, patch.value


MPI_FAMILY_NAMES = {0: "other", 1: "Open MPI", 2: "MPICH"}


def mpi_build():
    """(family, version) of the MPI the library was compiled for, from its
    ``mpi.h``: ("Open MPI", "Open MPI 4.1.4"), ("MPICH", "MPICH 4.0.2"); the
    family is "other" for an MPI of neither ABI."""
    family, version = c_int(), c_char_p()
    fn.mpi_build(ctypes.byref(family), ctypes.byref(version))
    return MPI_FAMILY_NAMES.get(family.value, "other"), version.value.decode()


def _check_mpi_library():
    """The library must be built for the MPI mpi4py loaded (dgampi_check_mpi_library):
    an MPI of the other ABI family would crash or corrupt at the first call."""
    running = MPI.Get_library_version()
    if fn.check_mpi_library(running.encode()) != 0:
        raise ImportError(
            f"dgampi: {lib_path} cannot run with mpi4py's MPI ({mpi4py_path()}): {last_error_message()}"
        )


def mpi4py_path():
    """Where mpi4py's MPI module was loaded from (for messages)."""
    return getattr(MPI, "__file__", "mpi4py.MPI")


def fft_options():
    """A ``dgampi_fft_options`` record with the library's defaults."""
    o = FftOptions()
    check(fn.fft_options_init(ctypes.byref(o), ctypes.sizeof(o)), "dgampi_fft_options_init")
    return o


def orbital_transform():
    """A zeroed ``dgampi_orbital_transform`` record (struct_size set)."""
    t = OrbitalTransform()
    check(fn.orbital_transform_init(ctypes.byref(t), ctypes.sizeof(t)), "dgampi_orbital_transform_init")
    return t

# ---------------------------------------------------------------- errors

STATUS_NAMES = {
    0: "OK",
    1: "NULL_ARGUMENT",
    2: "INVALID_ARGUMENT",
    3: "MISMATCH",
    4: "OUT_OF_RANGE",
    5: "MPI_NOT_INITIALIZED",
    6: "MPI_ERROR",
    7: "INTERNAL",
    8: "ALLOCATION_FAILED",
    9: "REMOTE_ERROR",
    10: "HDF5_ERROR",
    11: "NOT_FOUND",
    12: "INVALID_HANDLE",
    13: "POISONED",
}


class DgampiError(RuntimeError):
    """A dgampi library call failed.

    ``status`` is the ``dgampi_status`` code (see the ``STATUS_*`` constants),
    ``status_name`` its name (``"MISMATCH"``, ...), and ``message`` the
    library's sentence (``dgampi_last_error_message``).
    """

    def __init__(self, status, message, function=None):
        self.status = int(status)
        self.status_name = STATUS_NAMES.get(self.status, "UNKNOWN")
        self.message = message
        self.function = function
        super().__init__(f"{message} [dgampi status {self.status}: {self.status_name}]")


def last_error_message():
    """The calling thread's last message (the size-query convention: the
    length first, then the whole message)."""
    needed = c_size_t(0)
    if fn.last_error_message(None, 0, ctypes.byref(needed)) != 0 or needed.value < 1:
        return ""
    buf = ctypes.create_string_buffer(needed.value)
    fn.last_error_message(buf, len(buf), ctypes.byref(needed))
    return buf.value.decode("utf-8", "replace")


def check(status, function=None):
    """Raises :class:`DgampiError` for a nonzero status."""
    if status != 0:
        raise DgampiError(status, last_error_message() or f"{function or 'dgampi call'} failed", function)


def call(name, *args):
    """Calls ``dgampi_<name>`` and raises :class:`DgampiError` on failure;
    a closed object's handle raises at once (``INVALID_HANDLE``)."""
    for a in args:
        if type(a) is Handle and not a.value:
            raise DgampiError(12, f"dgampi_{name}: the {a.owner} is closed; it cannot be used after close()", "dgampi_" + name)
    check(getattr(fn, name)(*args), "dgampi_" + name)


def call_status(name, *args):
    """Calls ``dgampi_<name>`` and returns its status (no exception)."""
    return getattr(fn, name)(*args)


# ---------------------------------------------------------------- message limit


def resolve_limit(limit):
    """The explicit limit for a call: ``limit``, or ``dgampi.MAX_MPI_BYTES``
    (the library's process-wide limit) read now.

    Values above 2**31-1 (the MPI int-count limit, the largest the library
    accepts) are clamped to it; zero or negative values are a ValueError.
    """
    if limit is None:
        limit = sys.modules["dgampi"].MAX_MPI_BYTES
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise TypeError(f"the message limit must be an integer number of bytes, not {limit!r}") from None
    if limit < 1:
        raise ValueError(f"the message limit must be at least 1 byte, not {limit}")
    return min(limit, DEFAULT_MAX_MESSAGE_BYTES)


# ---------------------------------------------------------------- dtypes

DTYPE_CODES = {
    np.dtype(np.float32): 1,
    np.dtype(np.float64): 2,
    np.dtype(np.complex64): 3,
    np.dtype(np.complex128): 4,
    np.dtype(np.int32): 5,
    np.dtype(np.int64): 6,
    np.dtype(np.uint8): 7,
}
CODE_DTYPES = {code: dt for dt, code in DTYPE_CODES.items()}
SUPPORTED = ", ".join(str(dt) for dt in DTYPE_CODES)


def dtype_code(dtype, what="array"):
    """The dgampi_dtype code of a numpy dtype (TypeError if unsupported)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{what}: {dtype!r} is not a numpy dtype") from None
    for known, code in DTYPE_CODES.items():
        if dt == known:  # native byte order only: '>f8' != float64 on little-endian
            return code
    raise TypeError(f"{what}: dtype {dt.str} ({dt}) is not supported by dgampi; supported: {SUPPORTED} (native byte order)")


def code_dtype(code):
    try:
        return CODE_DTYPES[int(code)]
    except KeyError:
        raise DgampiError(7, f"the library returned an unknown dtype code {code}") from None


# ---------------------------------------------------------------- array descriptors


class Desc:
    """A ``dgampi_array`` describing a numpy array; keeps the array, shape and
    strides alive for as long as the descriptor is in use."""

    __slots__ = ("array", "_shape", "_strides", "c", "ptr")

    def __init__(self, arr):
        self.array = arr
        ndim = arr.ndim
        self._shape = (c_int64 * ndim)(*arr.shape)
        if arr.flags.c_contiguous:
            self._strides = None  # NULL strides = C-contiguous: used in place
        else:
            self._strides = (c_int64 * ndim)(*arr.strides)  # byte strides, negative allowed
        self.c = Array(
            arr.ctypes.data,
            dtype_code(arr.dtype),
            ndim,
            ctypes.cast(self._shape, P(c_int64)),
            ctypes.cast(self._strides, P(c_int64)) if self._strides is not None else None,
        )
        self.ptr = ctypes.pointer(self.c)


def as_array(obj, what, *, writable=False, allow_array_like=False):
    """Validates ``obj`` as an array argument the library can describe.

    Returns the numpy array (``np.asarray(obj)`` if ``allow_array_like``).
    TypeError: not an array / unsupported dtype; ValueError: 0-d, too many
    axes, or read-only where the library writes.
    """
    if not isinstance(obj, np.ndarray):
        if not allow_array_like or obj is None:
            raise TypeError(f"{what} must be a numpy array, not {type(obj).__name__}")
        obj = np.asarray(obj)
    dtype_code(obj.dtype, what)
    if obj.ndim < 1:
        raise ValueError(f"{what} must have at least one axis (axis 0 is the row axis); got a 0-d array")
    if obj.ndim > MAX_NDIM:
        raise ValueError(f"{what} has {obj.ndim} axes; dgampi supports at most {MAX_NDIM}")
    if writable and not obj.flags.writeable:
        raise ValueError(f"{what} is read-only, but the result is written into it")
    return obj


def desc(arr):
    """Pointer to a descriptor of ``arr`` (or NULL for None), plus the keep-alive object."""
    if arr is None:
        return None, None
    d = Desc(arr)
    return d.ptr, d


# ---------------------------------------------------------------- library-owned memory


class _LibBuffer:
    """Owns a malloc'ed block from the library; frees it with ``dgampi_free``
    when the last numpy array viewing it is gone (zero-copy hand-over)."""

    __slots__ = ("_ptr", "__array_interface__", "__weakref__")
    _free = fn.free

    def __init__(self, ptr, shape, dtype):
        self._ptr = ptr
        self.__array_interface__ = {
            "version": 3,
            "data": (ptr, False),
            "shape": tuple(shape),
            "typestr": dtype.str,
        }

    def __del__(self):
        ptr, self._ptr = self._ptr, None
        if ptr:
            try:
                self._free(ptr)
            except Exception:  # interpreter shutdown: nothing sensible left to do
                pass


def take_owned(owned):
    """Turns a filled ``dgampi_owned_array`` into a numpy array without copying.

    The library's buffer is freed (``dgampi_free``) when the array and every
    view of it are garbage. Returns None for an empty record (``ndim == 0``).
    """
    ndim = owned.ndim
    if ndim == 0:
        if owned.data:  # cannot happen per the ABI; never leak
            fn.free(owned.data)
        return None
    dtype = code_dtype(owned.dtype)
    shape = tuple(int(owned.shape[k]) for k in range(ndim))
    if not owned.data:
        return np.empty(shape, dtype=dtype)  # empty array: the library allocates nothing
    return np.asarray(_LibBuffer(owned.data, shape, dtype))


def root_record(owned):
    """The root's record of a broadcast: the broadcast's shape with data NULL
    (the convention of every broadcast); frees data should a library ever
    allocate it, so nothing leaks."""
    if owned.data:
        fn.free(owned.data)


def take_bytes(ptr, length):
    """Copies a malloc'ed byte buffer into ``bytes`` and frees it."""
    if not ptr:
        return b""
    try:
        return ctypes.string_at(ptr, length)
    finally:
        fn.free(ptr)


def byte_buffer(data, what="data"):
    """(address or None, length, keep-alive) of a bytes-like object."""
    if isinstance(data, str):
        raise TypeError(f"{what} must be bytes-like, not str (encode it first)")
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            raise ValueError(f"{what}: a numpy array passed as bytes must be C-contiguous")
        view = data.reshape(-1).view(np.uint8)
    else:
        try:
            view = np.frombuffer(data, dtype=np.uint8)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what} must be a contiguous bytes-like object, not {type(data).__name__} ({err})") from None
    if view.size == 0:
        return None, 0, view
    return view.ctypes.data, view.size, view


class HandleOwner:
    """Lifetime of an object owning one library handle ``self._handle``
    (a :class:`Handle`), released by the entry point named ``_destroy``.

    Destroying the handle frees the object's communicators, which is
    collective in MPI, so it happens only at a moment the program chooses on
    every rank: :meth:`close` (idempotent) or the end of a ``with`` block.
    Never at a garbage collection, which runs at different moments on
    different ranks: ``__del__`` of an object that was not closed does not
    destroy it; it emits a ``ResourceWarning`` naming the object and leaks
    the handle (and its communicators) instead. A closed object raises
    :class:`DgampiError` (``INVALID_HANDLE``, "... is closed") when used.
    """

    _destroy = None

    def _new_handle(self):
        """A NULL handle for the creation call, named after this object."""
        h = Handle()
        h.owner = type(self).__name__
        return h

    def close(self):
        """Releases the handle (collective: call it on every rank; idempotent)."""
        handle = getattr(self, "_handle", None)
        if handle is None or not handle.value:
            return
        call(self._destroy, ctypes.byref(handle))

    @property
    def closed(self):
        """True once :meth:`close` ran."""
        return not self._handle.value

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is None or not handle.value:
            return
        try:
            warnings.warn(
                f"dgampi: {self!r} was never closed; its library object and communicators are leaked (destroying "
                f"them is collective, so it never happens at garbage collection): call close() on every rank or "
                f"use 'with'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
        except Exception:  # interpreter shutdown: modules may already be gone
            pass


def fint(comm, what="comm"):
    """The Fortran handle of an mpi4py communicator."""
    if not isinstance(comm, MPI.Comm):
        raise TypeError(f"{what} must be an mpi4py communicator (mpi4py.MPI.Comm), not {type(comm).__name__}")
    if comm == MPI.COMM_NULL:
        raise ValueError(f"{what} is MPI.COMM_NULL")
    return comm.py2f()


# Refuse a library of another ABI, or one built for another MPI, at import
# (after the helpers above exist, before any call reaches MPI).
LIBRARY_VERSION = _check_library_version()
_check_mpi_library()
