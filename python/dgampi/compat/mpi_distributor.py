"""Drop-in for the original ``dgamore.mpi_distributor`` module, over dgampi.

``MpiDistributor(ntasks, comm, name)`` splits ``ntasks`` tasks over the ranks
of ``comm`` (the excess on the last ranks) and moves the blocks with the
library's chunked collectives. As in the original:

* the spill folder comes from the application's configuration
  (``dgamore.config.output.output_path``; ``dgampi.compat.config`` when
  ``dgamore`` is not importable; or the ``output_path=`` keyword), and every
  rank creates its ``{name}_Rank{rank:05d}.hdf5`` there with h5py;
  ``with dist as f:`` opens it and yields the open ``h5py.File``;
* :attr:`MpiDistributor.comm` is the communicator the caller passed;
  ``send_to_rank`` / ``recv_from_rank`` and ``barrier`` run on it with the
  caller's tags;
* ``MAX_MPI_BYTES`` is a module attribute; assigning it changes the limit
  (here: the library's process-wide limit, shared by every compat module).

Differences are listed in ``python/README.md`` ("dgampi.compat").
"""

import gc
import os
import pickle

import numpy as np
from mpi4py import MPI

import dgampi

from . import _common
from ._common import _UNSET

__all__ = ["MpiDistributor", "MAX_MPI_BYTES"]


class MpiDistributor:
    """The original module's distributor over a shared library distributor
    (:func:`dgampi.compat.free_library_distributors`).

    ``output_path`` (keyword only, not in the original) overrides the
    configuration's spill folder; ``None`` means no rank file.
    """

    def __init__(self, ntasks: int = 1, comm=None, name: str = "", *, output_path=_UNSET):
        self._file = None
        self._dist = None
        if comm is None:
            comm = MPI.COMM_WORLD
        self._comm = comm
        self._name = name
        self._dist = _common.library_distributor(comm, ntasks=ntasks)
        self._ntasks = self._dist.ntasks
        path = _common.output_path(output_path)
        if path is not None:
            import h5py

            # creates the rank file if it does not exist (never truncates)
            self._fname = os.path.join(os.fspath(path), f"{name}_Rank{self.my_rank:05d}.hdf5")
            self._file = h5py.File(self._fname, "a")
            self._file.close()

    def __del__(self):
        """Closes the rank file if it is still open (local; the shared
        library distributor stays)."""
        if getattr(self, "_file", None) is not None:
            try:
                self.close_file()
            except Exception:
                pass

    def __enter__(self):
        """Opens the rank file and returns the open ``h5py.File`` (None
        without an output path)."""
        self.open_file()
        return self._file

    def __exit__(self, exc_type, exc_value, traceback):
        if self._file:
            self.close_file()

    def __repr__(self):
        return f"<dgampi.compat MpiDistributor ntasks={self._ntasks} my_slice={self.my_slice} name={self._name!r}>"

    # ------------------------------------------------------------ properties

    @property
    def comm(self):
        """The communicator passed in (``MPI.COMM_WORLD`` when None)."""
        return self._comm

    @property
    def is_root(self) -> bool:
        return self.my_rank == 0

    @property
    def ntasks(self) -> int:
        return self._ntasks

    @property
    def sizes(self) -> np.ndarray:
        """Tasks per rank (int64 array, read-only)."""
        return self._dist.sizes

    @property
    def slices(self) -> list:
        """Every rank's ``slice`` of the task list, in rank order."""
        return self._dist.slices

    @property
    def my_rank(self) -> int:
        return self._comm.Get_rank()

    @property
    def my_tasks(self) -> np.ndarray:
        return np.arange(0, self.ntasks)[self.my_slice]

    @property
    def mpi_size(self) -> int:
        return self._comm.Get_size()

    @property
    def my_size(self) -> int:
        return self._dist.my_size

    @property
    def my_slice(self) -> slice:
        return self._dist.my_slice

    # the original's private attributes, read by callers (set them with
    # _install_sizes: the split belongs to the library distributor)
    @property
    def _sizes(self):
        return self.sizes

    @property
    def _slices(self):
        return self.slices

    @property
    def _my_size(self):
        return self.my_size

    @property
    def _my_slice(self):
        return self.my_slice

    @property
    def library_distributor(self):
        """The :class:`dgampi.MpiDistributor` doing the work (shared; do not close it)."""
        return self._dist

    def _install_sizes(self, sizes):
        """Collective: from now on rank ``r`` owns ``sizes[r]`` tasks (the same
        sizes on every rank, adding up to ``ntasks``; checked by the library)."""
        sizes = np.asarray(sizes).reshape(-1)
        if int(sizes.sum()) != self._ntasks:
            raise ValueError(f"the sizes add up to {int(sizes.sum())}, but the distributor has {self._ntasks} tasks")
        self._dist = _common.library_distributor(self._comm, sizes=sizes)

    # ------------------------------------------------------------ rank file

    def open_file(self):
        """Opens this rank's file (``h5py.File(fname, "r+")``); errors, and the
        absence of an output path, are ignored as in the original."""
        try:
            import h5py

            self._file = h5py.File(self._fname, "r+")
        except Exception:
            pass

    def close_file(self):
        try:
            self._file.close()
        except Exception:
            pass

    def delete_file(self):
        try:
            os.remove(self._fname)
        except Exception:
            pass

    # ------------------------------------------------------------ collectives

    def barrier(self):
        """``gc.collect()``, then a barrier on :attr:`comm`."""
        gc.collect()
        self._comm.Barrier()

    def allgather(self, rank_result: np.ndarray = None) -> np.ndarray:
        """The full ``[ntasks, ...]`` array on every rank."""
        a = np.asarray(rank_result)
        send, dt = _common.lib_array(a, "rank_result")
        out = self._dist.allgather(send)
        return out if dt is None else _common.from_bytes(out, dt, a.shape[1:])

    def gather(self, rank_result: np.ndarray = None, root: int = 0) -> np.ndarray:
        """The full ``[ntasks, ...]`` array on ``root``, None elsewhere."""
        a = np.asarray(rank_result)
        send, dt = _common.lib_array(a, "rank_result")
        out = self._dist.gather(send, root=root)
        return out if dt is None or out is None else _common.from_bytes(out, dt, a.shape[1:])

    def _root_header(self, data, root):
        """Collective: ``(dtype, trailing shape)`` of the root's array when the
        library cannot carry its dtype (then it travels as bytes), else None."""
        header = None
        if self.my_rank == root and isinstance(data, np.ndarray):
            _, dt = _common.lib_array(data)
            if dt is not None:
                header = (dt, tuple(data.shape[1:]))
        return self._dist.bcast(header, root=root)

    def scatter(self, full_data: np.ndarray = None, root: int = 0):
        """This rank's block ``full_data[my_slice]`` of the root's array
        (TypeError on the root for a non-array, ValueError for a wrong
        leading length; the other ranks then raise ``DgampiError``)."""
        if self.mpi_size == 1 and full_data is None:
            return np.empty((self.my_size,))  # the original's answer on a single rank
        header = self._root_header(full_data, root)
        is_root = self.my_rank == root
        if header is None:
            return self._dist.scatter(full_data if is_root else None, root=root)
        dt, rest = header
        out = self._dist.scatter(_common.to_bytes(full_data) if is_root else None, root=root)
        return _common.from_bytes(out, dt, rest)

    def bcast(self, data, root=0):
        """Any picklable object from ``root``; every rank gets an unpickled
        copy (the root too, as mpi4py's ``bcast``)."""
        out = self._dist.bcast(data, root=root)
        if self.my_rank == root:
            return pickle.loads(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
        return out

    def bcast_chunked(self, arr: np.ndarray, root: int = 0) -> np.ndarray:
        """The root's array on every rank (a C-contiguous array on the root:
        ``arr`` itself when it is one)."""
        header = self._root_header(arr, root)
        is_root = self.my_rank == root
        if header is None:
            out = self._dist.bcast_chunked(arr if is_root else None, root=root)
            return np.ascontiguousarray(out) if is_root else out
        dt, rest = header
        out = self._dist.bcast_chunked(_common.to_bytes(arr) if is_root else None, root=root)
        if is_root:
            return np.ascontiguousarray(arr)
        return _common.from_bytes(out, dt, rest)

    def allreduce(self, rank_result=None) -> np.ndarray:
        """Sums ``rank_result`` over all ranks, in place; returns it.

        Beyond the library's dtypes: int8, uint32 and uint64 are summed as the
        signed / unsigned integers of the same width (the same bits: sums wrap
        as MPI's do); int16 and uint16 in int32, then wrapped back; bool is a
        logical or (numpy's ``+`` on bools); float16 is summed in float32 and
        rounded once."""
        a = rank_result
        if not isinstance(a, np.ndarray) or _common.native(a.dtype):
            return self._dist.allreduce(a)
        dt = a.dtype
        if dt.isnative and dt.kind in "iu" and dt.itemsize in (1, 4, 8):
            self._dist.allreduce(a.view({1: np.uint8, 4: np.int32, 8: np.int64}[dt.itemsize]))
            return a
        if dt.isnative and (dt.kind in "iu" and dt.itemsize == 2 or dt.kind == "b"):
            wide = a.astype(np.int32)
            self._dist.allreduce(wide)
            a[...] = (wide != 0) if dt.kind == "b" else wide.astype(dt)
            return a
        if dt.isnative and dt == np.float16:
            wide = a.astype(np.float32)
            self._dist.allreduce(wide)
            a[...] = wide
            return a
        return self._dist.allreduce(a)  # the library rejects it on every rank

    # ------------------------------------------------------------ point to point

    def send_to_rank(self, obj, dest: int, base_tag: int = 0):
        """Sends an N-point object to ``dest`` on :attr:`comm`: the object
        without ``.mat`` (pickled, with the array's dtype and shape) at
        ``base_tag``, ``.mat`` as raw chunks from ``base_tag + 500``."""
        mat = obj.mat
        obj.mat = None
        try:
            blob = pickle.dumps(obj)
        finally:
            obj.mat = mat  # always restore, even if pickling raises
        arr = np.asarray(mat)
        send, _ = _common.lib_array(arr, "obj.mat")
        meta = pickle.dumps((blob, arr.dtype, arr.shape), protocol=pickle.HIGHEST_PROTOCOL)
        dgampi.send_bytes(self._comm, meta, dest, base_tag)
        dgampi.send_rows(self._comm, send, dest, base_tag + 500)

    def recv_from_rank(self, source: int, base_tag: int = 0):
        """Receives an object sent by :meth:`send_to_rank`, ``.mat`` attached."""
        blob, dtype, shape = pickle.loads(dgampi.recv_bytes(self._comm, source, base_tag))
        obj = pickle.loads(blob)
        if _common.native(dtype):
            mat = dgampi.recv_rows_alloc(self._comm, shape, dtype, source, base_tag + 500)
        else:
            raw = dgampi.recv_rows_alloc(self._comm, _common.byte_shape(shape, dtype), np.uint8, source, base_tag + 500)
            mat = _common.from_bytes(raw, dtype, shape[1:])
        obj.mat = mat
        return obj

    # ------------------------------------------------------------ factory

    @staticmethod
    def create_distributor(ntasks: int, comm=None, name: str = "", *, output_path=_UNSET) -> "MpiDistributor":
        """Factory of the original module; ``comm`` defaults to ``MPI.COMM_WORLD``."""
        if comm is None:
            comm = MPI.COMM_WORLD
        return MpiDistributor(ntasks=ntasks, comm=comm, name=name, output_path=output_path)


def __getattr__(name):
    # names the original module imported: the application's configuration
    # and h5py (lazily: h5py is needed only with an output path)
    if name == "config":
        return _common.app_config()
    if name == "h5py":
        import h5py

        return h5py
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_common.install_limit(__name__)
