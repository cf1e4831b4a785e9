"""Chunked message primitives (free functions over an mpi4py communicator)."""

import collections
import ctypes

import numpy as np

from . import _lib
from ._lib import as_array, call, desc, fint, resolve_limit, take_owned

__all__ = [
    "chunk_step",
    "row_chunks",
    "byte_chunks",
    "ByteChunk",
    "send_rows",
    "recv_rows_into",
    "recv_rows_alloc",
    "bcast_rows",
    "bcast_rows_into",
    "send_bytes",
    "recv_bytes",
    "max_message_bytes",
    "set_max_message_bytes",
    "EXCHANGE_PATHS",
    "set_exchange_path",
    "get_exchange_path",
    "library_version",
]


def _nonneg(value, what):
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an integer, not {value!r}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative (got {value})")
    return value


def _items_per_row(shape):
    return int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1


def chunk_step(itemsize, items_per_row, limit=None):
    """Number of whole axis-0 rows that fit one message of at most ``limit``
    bytes (``None``: ``dgampi.MAX_MPI_BYTES``, read now); at least 1.

    When a single row (``itemsize * items_per_row`` bytes) is larger than the
    limit the answer is 1, and the library splits that row's message further
    at byte level (see :func:`byte_chunks`).
    """
    itemsize = _nonneg(itemsize, "itemsize")
    if itemsize == 0:
        raise ValueError("itemsize must be at least 1")
    row_bytes = itemsize * max(1, _nonneg(items_per_row, "items_per_row"))
    rows = _lib.c_size_t()
    call("chunk_step", row_bytes, resolve_limit(limit), ctypes.byref(rows))
    return rows.value


def row_chunks(n_rows, itemsize, items_per_row, limit=None):
    """Yields ``(start, stop)`` row bounds splitting ``n_rows`` axis-0 rows into
    groups of at most ``chunk_step(itemsize, items_per_row, limit)`` rows.

    These are row bounds, as in the original module: every group of whole rows
    fits one message. A row larger than ``limit`` bytes appears as its own
    ``(i, i + 1)`` pair, once; the library's transfer of such a row is split
    further at byte level, into ``ceil(row_bytes / limit)`` messages, which
    :func:`byte_chunks` lists. Zero rows yield nothing.
    """
    n_rows = _nonneg(n_rows, "n_rows")
    step = chunk_step(itemsize, items_per_row, limit)
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


ByteChunk = collections.namedtuple("ByteChunk", "row_start row_stop byte_offset byte_len")
ByteChunk.__doc__ = """One message of a chunked transfer, as the library sends it: rows
``row_start .. row_stop`` are touched, ``byte_len`` bytes (1 ..= limit) from
``byte_offset`` of the C-order buffer."""


def byte_chunks(n_rows, row_bytes, limit=None):
    """Yields the library's exact message schedule (``dgampi_row_chunks``) for
    ``n_rows`` rows of ``row_bytes`` bytes: one :class:`ByteChunk` per message,
    whole rows grouped while they fit, a row larger than the limit split into
    several byte-level chunks (consecutive chunks then share the same
    ``(row_start, row_stop)``)."""
    n_rows = _nonneg(n_rows, "n_rows")
    row_bytes = _nonneg(row_bytes, "row_bytes")
    limit = resolve_limit(limit)
    count = _lib.c_size_t()
    call("row_chunks", n_rows, row_bytes, limit, 0, ctypes.byref(count), None)
    chunk = _lib.Chunk()
    for index in range(count.value):
        call("row_chunks", n_rows, row_bytes, limit, index, ctypes.byref(count), ctypes.byref(chunk))
        yield ByteChunk(chunk.row_start, chunk.row_stop, chunk.byte_offset, chunk.byte_len)


def _tag(value, what="base_tag"):
    value = _nonneg(value, what)
    if value > 2**31 - 1:
        raise ValueError(f"{what} = {value} does not fit an MPI tag")
    return value


def _rank(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an integer rank, not {value!r}") from None


def send_rows(comm, arr, dest, base_tag=0, limit=None):
    """Sends ``arr`` to ``dest`` in messages of at most ``limit`` bytes along
    axis 0 (a small header at ``base_tag``, then chunk ``i`` at tag
    ``base_tag + 1 + i``; a row larger than the limit
    is split at byte level). Non-contiguous arrays (any byte strides, negative
    included) are packed by the library one chunk at a time.
    """
    f = fint(comm)
    arr = as_array(arr, "arr", allow_array_like=True)
    ptr, _keep = desc(arr)
    call("send_rows_f", f, ptr, _rank(dest, "dest"), _tag(base_tag), resolve_limit(limit))


def recv_rows_into(comm, buf, source, base_tag=0, limit=None):
    """Receives rows sent by :func:`send_rows` directly into ``buf`` (same
    shape and dtype as the sent array; ``limit`` must equal the sender's).
    Returns ``buf``. A non-contiguous ``buf`` is filled through the library's
    bounded staging buffer."""
    f = fint(comm)
    buf = as_array(buf, "buf", writable=True)
    ptr, _keep = desc(buf)
    call("recv_rows_into_f", f, ptr, _rank(source, "source"), _tag(base_tag), resolve_limit(limit))
    return buf


def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(_nonneg(n, "shape entry") for n in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of integers, not {shape!r}") from None
    if not 1 <= len(shape) <= _lib.MAX_NDIM:
        raise ValueError(f"shape must have 1..{_lib.MAX_NDIM} axes, got {shape!r}")
    return shape


def recv_rows_alloc(comm, shape, dtype, source, base_tag=0, limit=None):
    """Receives rows sent by :func:`send_rows` into a new C-contiguous array of
    ``shape`` and ``dtype`` (allocated by the library and handed over without
    a copy)."""
    f = fint(comm)
    shape = _shape_tuple(shape)
    code = _lib.dtype_code(dtype, "dtype")
    c_shape = (_lib.c_int64 * len(shape))(*shape)
    data = _lib.c_void_p()
    call(
        "recv_rows_alloc_f", f, code, len(shape), c_shape, _rank(source, "source"), _tag(base_tag),
        resolve_limit(limit), ctypes.byref(data),
    )
    owned = _lib.OwnedArray()
    owned.data, owned.dtype, owned.ndim = data.value, code, len(shape)
    owned.shape[: len(shape)] = shape
    return take_owned(owned)


def _poison(name, *args):
    """Joins a collective with an argument the library rejects, so that the
    other ranks get an error status instead of waiting; ignores the result."""
    _lib.call_status(name, *args)


def bcast_rows(comm, arr, root, limit=None):
    """Collective: broadcasts the root's ``arr`` (dtype and shape travel with
    it; ignored on other ranks, may be None there), chunked along axis 0.
    Returns the array on every rank: ``arr`` itself on the root, a new array
    elsewhere."""
    f = fint(comm)
    root = _rank(root, "root")
    is_root = comm.Get_rank() == root
    try:
        limit = resolve_limit(limit)
        a = as_array(arr, "arr", allow_array_like=True) if is_root else None
    except (TypeError, ValueError):
        _poison("bcast_rows_f", f, None, root, 0, None)  # NULL out: an error on every rank
        raise
    ptr, _keep = desc(a)
    out = _lib.OwnedArray()
    call("bcast_rows_f", f, ptr, root, limit, ctypes.byref(out))
    if is_root:
        _lib.root_record(out)  # the shape, data NULL: nothing to free
        return a
    return take_owned(out)


def bcast_rows_into(comm, view, root, limit=None):
    """Collective: broadcasts the root's ``view`` into ``view`` on every rank
    (same shape and dtype everywhere; a mismatch fails on every rank). Returns
    ``view``."""
    f = fint(comm)
    root = _rank(root, "root")
    try:
        limit = resolve_limit(limit)
        view = as_array(view, "view", writable=comm.Get_rank() != root)
    except (TypeError, ValueError):
        _poison("bcast_rows_into_f", f, None, root, 0)  # NULL array: an error on every rank
        raise
    ptr, _keep = desc(view)
    call("bcast_rows_into_f", f, ptr, root, limit)
    return view


def send_bytes(comm, data, dest, base_tag=0, limit=None):
    """Sends a bytes-like ``data`` to ``dest``: a length message at
    ``base_tag``, then chunks of at most ``limit`` bytes at
    ``base_tag + 1 + i``."""
    f = fint(comm)
    addr, length, _keep = _lib.byte_buffer(data)
    call("send_bytes_f", f, addr, length, _rank(dest, "dest"), _tag(base_tag), resolve_limit(limit))


def recv_bytes(comm, source, base_tag=0, limit=None):
    """Receives a blob sent by :func:`send_bytes` and returns it as ``bytes``.

    ``limit`` is accepted for compatibility and not needed: the chunk schedule
    travels with the length message."""
    f = fint(comm)
    if limit is not None:
        resolve_limit(limit)  # still reject nonsense
    data = _lib.c_void_p()
    length = _lib.c_size_t()
    call("recv_bytes_f", f, _rank(source, "source"), _tag(base_tag), ctypes.byref(data), ctypes.byref(length))
    return _lib.take_bytes(data.value, length.value)


def max_message_bytes():
    """The library's process-wide limit (``DGAMPI_MAX_MESSAGE_BYTES`` or 2**31-1),
    the value ``dgampi.MAX_MPI_BYTES`` reads."""
    out = _lib.c_size_t()
    call("max_message_bytes", ctypes.byref(out))
    return out.value


def set_max_message_bytes(nbytes):
    """Sets the library's process-wide limit (1 ..= 2**31-1), which C and
    Fortran callers of the same process see, and ``dgampi.MAX_MPI_BYTES`` too."""
    call("set_max_message_bytes", _nonneg(nbytes, "nbytes"))


#: ``set_exchange_path`` names (as ``DGAMPI_EXCHANGE_PATH`` spells them) and their C codes.
EXCHANGE_PATHS = {"auto": 0, "p2p": 1, "collective": 2}
_EXCHANGE_PATH_NAMES = {code: name for name, code in EXCHANGE_PATHS.items()}


def _exchange_path_code(path):
    """The C code of an exchange path: a name of :data:`EXCHANGE_PATHS` or its code."""
    valid = ", ".join(f"{name!r} ({code})" for name, code in EXCHANGE_PATHS.items())
    if isinstance(path, str):
        try:
            return EXCHANGE_PATHS[path]
        except KeyError:
            raise ValueError(f"unknown exchange path {path!r}; valid: {valid}") from None
    if isinstance(path, (int, np.integer)) and not isinstance(path, bool):
        if int(path) in _EXCHANGE_PATH_NAMES:
            return int(path)
        raise ValueError(f"unknown exchange path {int(path)}; valid: {valid}")
    raise TypeError(f"the exchange path must be one of {valid}, not {path!r}")


def set_exchange_path(path):
    """Sets the library's process-wide exchange path, which the map and
    vslice plans created afterwards use (existing plans keep their route):
    ``"auto"`` (0; a collective when every per-peer block fits the message
    limit), ``"p2p"`` (1; always the chunked point-to-point engine) or
    ``"collective"`` (2; a collective whenever it may be taken, one-shot calls
    included). It replaces the ``DGAMPI_EXCHANGE_PATH`` environment variable;
    C and Fortran callers of the process see it too. Local, but every rank
    must use the same setting: a plan's creation checks it (``MISMATCH`` on
    every rank otherwise). An unknown name or code raises ValueError (a
    non-string, non-integer TypeError) and changes nothing."""
    call("set_exchange_path", _exchange_path_code(path))


def get_exchange_path():
    """The library's process-wide exchange path as a name of
    :data:`EXCHANGE_PATHS` (``"auto"``, ``"p2p"`` or ``"collective"``): the
    one set last by :func:`set_exchange_path`, else ``DGAMPI_EXCHANGE_PATH``,
    else ``"auto"``. ``DgampiError`` (``INVALID_ARGUMENT``) while that
    environment variable is invalid and no path was set."""
    out = _lib.c_int32()
    call("get_exchange_path", ctypes.byref(out))
    return _EXCHANGE_PATH_NAMES.get(out.value, str(out.value))


def library_version():
    """The version string of the loaded libdgampi."""
    out = _lib.c_char_p()
    call("version", ctypes.byref(out))
    return out.value.decode()


def mpi_build():
    """The MPI the loaded libdgampi was compiled for, as (family, version):
    family "Open MPI", "MPICH" (MPICH and the MPIs of its ABI: Intel MPI,
    MVAPICH, Cray MPICH) or "other"; version as its ``mpi.h`` declares it,
    e.g. "MPICH 4.0.2". Import already refused a library built for the other
    family than the MPI mpi4py runs."""
    return _lib.mpi_build()
