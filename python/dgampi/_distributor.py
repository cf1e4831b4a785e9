"""``MpiDistributor``: the work distributor over ``dgampi_distributor``."""

import ctypes
import gc
import os
import pickle

import numpy as np
from mpi4py import MPI

from . import _lib
from ._lib import DgampiError, HandleOwner, as_array, call, desc, fn, resolve_limit, take_bytes, take_owned

__all__ = ["MpiDistributor"]

_byref = ctypes.byref


def _poison(name, *args):
    """Joins a collective with an argument the library rejects on every rank
    (a NULL pointer it always checks), so the other ranks get
    ``DGAMPI_STATUS_REMOTE_ERROR`` instead of waiting; the status is ignored
    because the caller raises the Python exception that caused it."""
    _lib.call_status(name, *args)


def _detach_mat(obj, what="obj"):
    """Pickles an N-point object without its ``.mat`` (metadata blob) and
    returns ``(blob, mat)``. ``obj.mat`` is restored even if pickling fails."""
    try:
        mat = obj.mat
    except AttributeError:
        raise TypeError(f"{what} must be an N-point object with a .mat numpy array (got {type(obj).__name__})") from None
    mat = as_array(mat, f"{what}.mat")
    obj.mat = None
    try:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        obj.mat = mat  # always restore, even if pickling raises
    return blob, mat


def _attach_mat(blob, mat):
    obj = pickle.loads(blob)
    obj.mat = mat
    return obj


def _rank_arg(value, what="root"):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an integer rank, not {value!r}") from None


class MpiDistributor(HandleOwner):
    """Splits ``ntasks`` tasks (typically irreducible q-points) into contiguous
    per-rank blocks, the excess going to the last ranks (7 tasks on 3 ranks:
    sizes 2, 2, 3), and moves the blocks between ranks.

    The distributor works on two duplicates of ``comm`` (``MPI.COMM_WORLD``
    when None): a private one for its collectives and maps, which no user
    message can reach, and the one :attr:`comm` returns, which
    :meth:`send_to_rank` / :meth:`recv_from_rank` use with your tags. With
    ``output_path`` each rank owns the HDF5 spill file
    ``{output_path}/{name}_Rank{rank:05d}.hdf5``, created (never truncated) on
    construction and left open.

    Every chunking method passes ``dgampi.MAX_MPI_BYTES`` (read at call time)
    as the message limit. Collective methods must be called on every rank;
    bad input on one rank raises there (TypeError / ValueError for argument
    errors, :class:`dgampi.DgampiError` otherwise) and a ``DgampiError``
    with status ``REMOTE_ERROR`` on the others - no rank is left waiting.

    Lifetime: :meth:`close` (also called by ``with MpiDistributor(...) as d:``
    on exit) destroys the library object, closes the spill file and frees the
    duplicated communicators. It is collective (``MPI_Comm_free``): call it
    on every rank, at the same point of the program. Garbage collection never
    does it (it runs at different moments on different ranks): a distributor
    left unclosed emits a ``ResourceWarning`` naming it and leaks its handle,
    communicators and spill-file lock. After ``close()`` every method raises
    a ``DgampiError`` (``INVALID_HANDLE``, "the MpiDistributor is closed");
    the cached properties stay readable.

    Differences from the original (pure mpi4py) module: the context manager
    closes the distributor instead of returning an h5py file (the library owns
    the spill file; use the ``spill_*`` methods, or close the file with
    :meth:`close_file` before opening it with h5py); ``comm`` is a duplicate
    of the communicator passed in (the one user traffic runs on), not the
    communicator itself.
    """

    # ------------------------------------------------------------ lifetime

    def __init__(self, ntasks=1, comm=None, name="", output_path=None, *, sizes=None):
        self._handle = self._new_handle()
        self._comm_obj = None
        if comm is None:
            comm = MPI.COMM_WORLD
        f = _lib.fint(comm)
        # Validate locally; a rank whose arguments are bad still calls the
        # library's collective create (with ntasks = -1), whose opening
        # agreement then fails on every rank (REMOTE_ERROR on the others),
        # and raises its own error.
        error, c_sizes = None, None
        try:
            if sizes is not None:
                c_sizes = np.asarray(sizes)
                if c_sizes.dtype.kind not in "iu" or c_sizes.dtype == np.bool_:
                    raise TypeError(f"sizes must be integers, not {c_sizes.dtype}")
                if c_sizes.ndim != 1:
                    raise ValueError(f"sizes must be a 1-d sequence with one entry per rank, got shape {c_sizes.shape}")
                if np.any(c_sizes < 0):
                    raise ValueError("sizes must not be negative")
                if ntasks is not None and int(ntasks) != int(c_sizes.sum()):
                    raise ValueError(f"ntasks = {ntasks} but the sizes add up to {int(c_sizes.sum())}")
                ntasks = int(c_sizes.sum())
            if isinstance(ntasks, bool) or not isinstance(ntasks, (int, np.integer)):
                raise TypeError(f"ntasks must be an integer, not {type(ntasks).__name__}")
            ntasks = int(ntasks)
            if ntasks < 0:
                raise ValueError(f"ntasks must not be negative (got {ntasks})")
            if not isinstance(name, str):
                raise TypeError(f"name must be a str, not {type(name).__name__}")
            c_name = name.encode("utf-8")
            if b"\0" in c_name:
                raise ValueError("name contains a NUL character")
            c_path = None
            if output_path is not None:
                c_path = os.fsencode(os.fspath(output_path))
                if b"\0" in c_path:
                    raise ValueError("output_path contains a NUL character")
        except (TypeError, ValueError) as err:
            error = err
        if error is not None:
            try:
                call("distributor_create_f", f, -1, None, None, _byref(self._handle))
            except DgampiError:
                pass
            raise error
        if c_sizes is None:
            call("distributor_create_f", f, ntasks, c_name, c_path, _byref(self._handle))
        else:
            c_sizes = np.ascontiguousarray(c_sizes, dtype=np.int64)
            ptr = c_sizes.ctypes.data_as(ctypes.POINTER(_lib.c_int64))
            call("distributor_create_with_sizes_f", f, ptr, c_sizes.size, c_name, c_path, _byref(self._handle))

        h = self._handle
        n, size, rank, comm_f = _lib.c_int64(), _lib.c_int(), _lib.c_int(), _lib.MPI_Fint()
        call("distributor_ntasks", h, _byref(n))
        call("distributor_mpi_size", h, _byref(size))
        call("distributor_my_rank", h, _byref(rank))
        call("distributor_comm_f", h, _byref(comm_f))
        self._ntasks, self._mpi_size, self._my_rank = n.value, size.value, rank.value
        sizes = np.zeros(self._mpi_size, dtype=np.int64)
        offsets = np.zeros(self._mpi_size, dtype=np.int64)
        call("distributor_sizes", h, sizes.ctypes.data_as(ctypes.POINTER(_lib.c_int64)), sizes.size)
        call("distributor_offsets", h, offsets.ctypes.data_as(ctypes.POINTER(_lib.c_int64)), offsets.size)
        sizes.flags.writeable = False
        self._sizes = sizes
        self._slices = [slice(int(o), int(o + s)) for o, s in zip(offsets, sizes)]
        self._my_size = int(sizes[self._my_rank])
        self._my_slice = self._slices[self._my_rank]
        # An mpi4py object over the library's duplicate. f2py objects are not
        # owned by mpi4py (never freed by it); the library frees the handle.
        self._comm_obj = MPI.Intracomm.f2py(comm_f.value)
        self._spill_path = self._query_spill_path()

    @classmethod
    def with_sizes(cls, sizes, comm=None, name="", output_path=None):
        """Collective: a distributor whose rank ``r`` owns ``sizes[r]`` tasks
        (one entry per rank of ``comm``, the same on every rank - checked;
        ranks may own none), for splits other than the even one, such as the
        node-aware frequency split of :func:`dgampi.get_node_aware_v_dist`
        with ``order="host_name"`` (rank-ordered slices)."""
        return cls(None, comm, name, output_path, sizes=sizes)

    @staticmethod
    def create_distributor(ntasks, comm=None, name="", output_path=None):
        """Factory of the original module; ``comm`` defaults to ``MPI.COMM_WORLD``."""
        if comm is None:
            comm = MPI.COMM_WORLD
        return MpiDistributor(ntasks=ntasks, comm=comm, name=name, output_path=output_path)

    _destroy = "distributor_destroy"

    def close(self):
        """Destroys the library distributor (collective; idempotent)."""
        HandleOwner.close(self)

    def __repr__(self):
        state = "closed" if self.closed else f"rank {self._my_rank}/{self._mpi_size}"
        return f"<MpiDistributor ntasks={self._ntasks} my_slice={self._my_slice} ({state})>"

    # ------------------------------------------------------------ properties

    @property
    def comm(self):
        """The distributor's user communicator (an ``mpi4py.MPI.Intracomm``
        over a duplicate of the caller's, the one :meth:`send_to_rank` uses;
        borrowed: do not ``Free()`` it; invalid after :meth:`close`). The
        library's collectives run on another, private duplicate, so your
        messages on this one never meet them. Its error handler is
        ``MPI_ERRORS_RETURN``."""
        return self._comm_obj

    @property
    def is_root(self):
        return self._my_rank == 0

    @property
    def ntasks(self):
        return self._ntasks

    @property
    def sizes(self):
        """Tasks per rank (read-only int64 array)."""
        return self._sizes

    @property
    def slices(self):
        """Every rank's ``slice`` into the task list."""
        return list(self._slices)

    @property
    def my_rank(self):
        return self._my_rank

    @property
    def my_tasks(self):
        return np.arange(self._ntasks)[self._my_slice]

    @property
    def mpi_size(self):
        return self._mpi_size

    @property
    def my_size(self):
        return self._my_size

    @property
    def my_slice(self):
        return self._my_slice

    # ------------------------------------------------------------ collectives

    def barrier(self):
        """Collects garbage (as the original did), then waits for every rank."""
        gc.collect()
        call("distributor_barrier", self._handle)

    def scatter(self, full_data=None, root=0, out=None):
        """Collective: splits the root's ``[ntasks, ...]`` array along axis 0
        and returns this rank's ``[my_size, ...]`` block (dtype and trailing
        shape come from the root; ``full_data`` is ignored elsewhere).

        With ``out`` (a writable ``[my_size, ...]`` array on every rank) the
        block is written there and ``out`` is returned.

        TypeError on the root if ``full_data`` is not a numpy array (or has an
        unsupported dtype); ValueError if its leading length is not
        ``ntasks``. The other ranks then raise ``DgampiError``.
        """
        h = self._handle
        root = _rank_arg(root)
        is_root = self._my_rank == root
        send, length_error = None, None
        try:
            limit = resolve_limit(None)
            if is_root:
                if not isinstance(full_data, np.ndarray):
                    raise TypeError(f"full_data must be a numpy array on the root, not {type(full_data).__name__}")
                send = as_array(full_data, "full_data")
                if send.shape[0] != self._ntasks:
                    length_error = ValueError(
                        f"Mismatch in scatter: full_data has leading length {send.shape[0]}, "
                        f"but the distributor has ntasks = {self._ntasks}"
                    )
            if out is not None:
                out = as_array(out, "out", writable=True)
        except (TypeError, ValueError):
            # NULL out: rejected on every rank through the library's agreement
            if out is None:
                _poison("distributor_scatter", h, None, root, 0, None)
            else:
                _poison("distributor_scatter_into", h, None, None, root, 0)
            raise
        # A wrong leading length goes to the library, which fails on every
        # rank with its own message; the root raises the ValueError instead.
        send_ptr, _keep_send = desc(send)
        if out is None:
            owned = _lib.OwnedArray()
            status = fn.distributor_scatter(h, send_ptr, root, limit, _byref(owned))
            result = owned
        else:
            out_ptr, _keep_out = desc(out)
            status = fn.distributor_scatter_into(h, send_ptr, out_ptr, root, limit)
            result = out
        if length_error is not None:
            if status == 0 and out is None:  # cannot happen per the ABI; never leak
                take_owned(result)
            raise length_error
        _lib.check(status, "dgampi_distributor_scatter" if out is None else "dgampi_distributor_scatter_into")
        return take_owned(result) if out is None else out

    def gather(self, rank_result=None, root=0, out=None):
        """Collective: gathers every rank's ``[my_size, ...]`` block into the
        full ``[ntasks, ...]`` array on ``root`` (in task order); returns None
        on the other ranks. With ``out`` (used on the root only, ignored
        elsewhere) the result is written there and returned on the root."""
        h = self._handle
        root = _rank_arg(root)
        is_root = self._my_rank == root
        try:
            limit = resolve_limit(None)
            block = as_array(rank_result, "rank_result", allow_array_like=True)
            if out is not None and is_root:
                out = as_array(out, "out", writable=True)
        except (TypeError, ValueError):
            _poison("distributor_gather", h, None, root, 0, None)
            raise
        block_ptr, _keep_block = desc(block)
        if out is None:
            owned = _lib.OwnedArray()
            call("distributor_gather", h, block_ptr, root, limit, _byref(owned))
            return take_owned(owned) if is_root else None
        out_ptr, _keep_out = desc(out if is_root else None)
        call("distributor_gather_into", h, block_ptr, out_ptr, root, limit)
        return out if is_root else None

    def allgather(self, rank_result=None, out=None):
        """Collective: the full ``[ntasks, ...]`` array on every rank (one
        Allgatherv of row datatypes; chunked broadcasts when a block exceeds
        the limit). With ``out`` the result is written there and returned."""
        h = self._handle
        try:
            limit = resolve_limit(None)
            block = as_array(rank_result, "rank_result", allow_array_like=True)
            if out is not None:
                out = as_array(out, "out", writable=True)
        except (TypeError, ValueError):
            _poison("distributor_allgather", h, None, 0, None)
            raise
        block_ptr, _keep_block = desc(block)
        if out is None:
            owned = _lib.OwnedArray()
            call("distributor_allgather", h, block_ptr, limit, _byref(owned))
            return take_owned(owned)
        out_ptr, _keep_out = desc(out)
        call("distributor_allgather_into", h, block_ptr, out_ptr, limit)
        return out

    def allreduce(self, rank_result=None):
        """Collective: sums ``rank_result`` element-wise over all ranks, in
        place, chunked (shape and dtype must be equal on every rank); returns
        ``rank_result``."""
        h = self._handle
        try:
            limit = resolve_limit(None)
            a = as_array(rank_result, "rank_result", writable=True)
        except (TypeError, ValueError):
            _poison("distributor_allreduce", h, None, 0)
            raise
        ptr, _keep = desc(a)
        call("distributor_allreduce", h, ptr, limit)
        return a

    def bcast(self, data, root=0):
        """Collective: broadcasts any picklable object from ``root``; returns
        it on every rank (the object itself on the root, an unpickled copy
        elsewhere). The pickle travels in chunks below the limit."""
        h = self._handle
        root = _rank_arg(root)
        is_root = self._my_rank == root
        try:
            limit = resolve_limit(None)
            blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL) if is_root else b""
        except Exception:
            _poison("distributor_bcast_bytes", h, None, 0, root, 0, None, None)
            raise
        addr, length, _keep = _lib.byte_buffer(blob)
        out, out_len = _lib.c_void_p(), _lib.c_size_t()
        call("distributor_bcast_bytes", h, addr, length, root, limit, _byref(out), _byref(out_len))
        if is_root:
            if out.value:
                fn.free(out.value)
            return data
        return pickle.loads(take_bytes(out.value, out_len.value))

    def bcast_chunked(self, arr, root=0):
        """Collective: broadcasts the root's array (dtype and shape travel
        first; ``arr`` is ignored elsewhere, may be None there), chunked along
        axis 0. Returns ``arr`` on the root and a new array elsewhere."""
        h = self._handle
        root = _rank_arg(root)
        is_root = self._my_rank == root
        try:
            limit = resolve_limit(None)
            a = as_array(arr, "arr", allow_array_like=True) if is_root else None
        except (TypeError, ValueError):
            _poison("distributor_bcast_chunked", h, None, root, 0, None)
            raise
        ptr, _keep = desc(a)
        owned = _lib.OwnedArray()
        call("distributor_bcast_chunked", h, ptr, root, limit, _byref(owned))
        if is_root:
            _lib.root_record(owned)  # the shape, data NULL: nothing to free
            return a
        return take_owned(owned)

    def bcast_chunked_into(self, arr, root=0):
        """Collective: broadcasts the root's ``arr`` into ``arr`` on every rank
        (shape and dtype must match the root's everywhere); returns ``arr``."""
        h = self._handle
        root = _rank_arg(root)
        try:
            limit = resolve_limit(None)
            a = as_array(arr, "arr", writable=self._my_rank != root)
        except (TypeError, ValueError):
            _poison("distributor_bcast_chunked_into", h, None, root, 0)
            raise
        ptr, _keep = desc(a)
        call("distributor_bcast_chunked_into", h, ptr, root, limit)
        return a

    def bcast_npoint(self, obj, root=0):
        """Collective: broadcasts an N-point object (anything with a ``.mat``
        numpy array) from ``root``: the object without ``.mat`` travels as a
        pickled metadata blob, ``.mat`` as raw chunks (never inside the blob).
        Returns ``obj`` itself on the root (and on a single rank, as the
        original did) and the unpickled object with the received ``.mat``
        elsewhere."""
        if self._mpi_size == 1 and not self.closed:
            return obj
        h = self._handle
        root = _rank_arg(root)
        is_root = self._my_rank == root
        try:
            limit = resolve_limit(None)
            blob, mat = _detach_mat(obj) if is_root else (b"", None)
        except Exception:
            _poison("distributor_bcast_npoint", h, None, 0, None, root, 0, None, None, None)
            raise
        addr, length, _keep_blob = _lib.byte_buffer(blob)
        mat_ptr, _keep_mat = desc(mat)
        out_meta, out_meta_len, out_mat = _lib.c_void_p(), _lib.c_size_t(), _lib.OwnedArray()
        call(
            "distributor_bcast_npoint", h, addr, length, mat_ptr, root, limit,
            _byref(out_meta), _byref(out_meta_len), _byref(out_mat),
        )
        if is_root:
            take_bytes(out_meta.value, 0)  # NULL on the root
            _lib.root_record(out_mat)
            return obj
        received = take_owned(out_mat)  # adopt the array first: no leak if unpickling fails
        return _attach_mat(take_bytes(out_meta.value, out_meta_len.value), received)

    # ------------------------------------------------------------ point to point

    def send_to_rank(self, obj, dest, base_tag=0):
        """Sends an N-point object to ``dest``: the pickled object without
        ``.mat`` (metadata, with the array's dtype and shape) at ``base_tag``,
        then ``.mat`` as a row transfer at ``base_tag + 500`` (its header
        there, raw chunk ``i`` at ``base_tag + 501 + i``). The sender's
        ``.mat`` is restored even if pickling fails."""
        blob, mat = _detach_mat(obj)
        addr, length, _keep_blob = _lib.byte_buffer(blob)
        mat_ptr, _keep_mat = desc(mat)
        call(
            "distributor_send_to_rank", self._handle, addr, length, mat_ptr, _rank_arg(dest, "dest"),
            _rank_arg(base_tag, "base_tag"), resolve_limit(None),
        )

    def recv_from_rank(self, source, base_tag=0, out=None):
        """Receives an object sent by :meth:`send_to_rank` and returns it with
        ``.mat`` attached: a new array, or ``out`` (whose dtype and shape must
        match the sender's) when given."""
        meta, meta_len = _lib.c_void_p(), _lib.c_size_t()
        source, base_tag = _rank_arg(source, "source"), _rank_arg(base_tag, "base_tag")
        if out is None:
            owned = _lib.OwnedArray()
            call("distributor_recv_from_rank", self._handle, source, base_tag, _byref(meta), _byref(meta_len), _byref(owned))
            mat = take_owned(owned)
        else:
            mat = as_array(out, "out", writable=True)
            ptr, _keep = desc(mat)
            call("distributor_recv_from_rank_into", self._handle, source, base_tag, _byref(meta), _byref(meta_len), ptr)
        return _attach_mat(take_bytes(meta.value, meta_len.value), mat)

    # ------------------------------------------------------------ spill file

    def _query_spill_path(self):
        needed = _lib.c_size_t(0)
        status = fn.distributor_spill_path(self._handle, None, 0, _byref(needed))
        if status == 2:  # INVALID_ARGUMENT: no output_path, hence no spill file
            return None
        if needed.value == 0:
            _lib.check(status, "dgampi_distributor_spill_path")
        buf = ctypes.create_string_buffer(needed.value)
        call("distributor_spill_path", self._handle, buf, len(buf), None)
        return os.fsdecode(buf.value)

    @property
    def spill_path(self):
        """This rank's spill file path, or None without ``output_path``."""
        return self._spill_path

    def open_file(self, read_only=False):
        """Opens (creating if absent, never truncating) this rank's spill file;
        does nothing without ``output_path`` or when the file is open. An
        existing file that cannot be written (read-only file system, no
        permission) is opened read-only (see :attr:`spill_read_only`).

        With ``read_only=True`` the existing file is opened read-only
        (reopened when it is open read/write): reads work, writes raise
        ``DgampiError`` with status ``INVALID_ARGUMENT``; ``NOT_FOUND`` when the
        file does not exist.

        Another open distributor with the same name and ``output_path`` (on
        any communicator, in this process or another) holds the file: opening
        it raises ``DgampiError`` with status ``INVALID_ARGUMENT`` naming it."""
        if self._spill_path is not None:
            if read_only:
                call("distributor_open_file_read_only", self._handle)
            else:
                call("distributor_open_file", self._handle)

    @property
    def spill_read_only(self):
        """True while this rank's spill file is open but takes no writes
        (opened read-only, by request or because the file cannot be written,
        or after a write failed inside HDF5); False otherwise and without
        ``output_path``."""
        if self._spill_path is None:
            return False
        flag = _lib.c_int32()
        call("distributor_spill_read_only", self._handle, _byref(flag))
        return bool(flag.value)

    def close_file(self):
        """Closes this rank's spill file (safe when closed, absent, or without
        ``output_path``). Close it before another program (h5py) opens it: the
        file is complete on disk after every write, but the library keeps
        working on it while it is open."""
        if self._spill_path is not None:
            call("distributor_close_file", self._handle)

    def delete_file(self):
        """Closes and deletes this rank's spill file (safe when absent).
        Raises ``DgampiError`` (``INVALID_ARGUMENT``), deleting nothing, while
        another distributor with the same name and ``output_path`` writes it."""
        if self._spill_path is not None:
            call("distributor_delete_file", self._handle)

    @staticmethod
    def _name(name):
        if not isinstance(name, str):
            raise TypeError(f"dataset name must be a str, not {type(name).__name__}")
        b = name.encode("utf-8")
        if b"\0" in b:
            raise ValueError("dataset name contains a NUL character")
        return b

    def spill_write(self, name, arr):
        """Writes ``arr`` as dataset ``name`` (group paths like ``"gamma/q0"``
        allowed; an existing dataset is replaced) in this rank's spill file,
        opening it if needed. Complex data is stored as h5py's complex type."""
        a = as_array(arr, "arr", allow_array_like=True)
        ptr, _keep = desc(a)
        call("distributor_spill_write", self._handle, self._name(name), ptr)

    def spill_read(self, name):
        """Reads dataset ``name`` into a new array."""
        owned = _lib.OwnedArray()
        call("distributor_spill_read", self._handle, self._name(name), _byref(owned))
        return take_owned(owned)

    def spill_read_into(self, name, arr):
        """Reads dataset ``name`` into ``arr`` (matching dtype and shape);
        returns ``arr``."""
        a = as_array(arr, "arr", writable=True)
        ptr, _keep = desc(a)
        call("distributor_spill_read_into", self._handle, self._name(name), ptr)
        return a

    def spill_shape(self, name):
        """``(dtype, shape)`` of dataset ``name``."""
        code, ndim = _lib.c_int32(), _lib.c_int32()
        shape = (_lib.c_int64 * _lib.MAX_NDIM)()
        call("distributor_spill_shape", self._handle, self._name(name), _byref(code), _byref(ndim), shape)
        return _lib.code_dtype(code.value), tuple(int(shape[k]) for k in range(ndim.value))

    def spill_list(self):
        """Sorted list of the dataset paths in this rank's spill file."""
        names, count = _lib.c_void_p(), _lib.c_size_t()
        call("distributor_spill_list", self._handle, _byref(names), _byref(count))
        if not names.value:
            return []
        # count NUL-terminated strings back to back: read them one by one
        out, addr = [], names.value
        try:
            for _ in range(count.value):
                s = ctypes.string_at(addr)
                out.append(s.decode("utf-8"))
                addr += len(s) + 1
        finally:
            fn.free(names.value)
        return out

    def spill_remove(self, name):
        """Removes dataset ``name`` (``DgampiError`` with status NOT_FOUND if absent)."""
        call("distributor_spill_remove", self._handle, self._name(name))
