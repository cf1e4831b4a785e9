"""Shared machinery of :mod:`dgampi.compat`: the application's configuration,
the message limit as a module attribute, dtypes the library does not carry,
and the shared library distributors.

Nothing here is public API; see :mod:`dgampi.compat`.
"""

import importlib
import sys
import types

import numpy as np
from mpi4py import MPI

import dgampi
from dgampi import _lib

# ---------------------------------------------------------------- configuration

#: The fallback configuration, shaped like the application's ``dgamore.config``
#: (only the two values the compat layer reads): used when ``dgamore.config``
#: cannot be imported. Set ``config.output.output_path`` and
#: ``config.lattice.q_grid`` as the application would.
config = types.SimpleNamespace(
    output=types.SimpleNamespace(output_path=None),
    lattice=types.SimpleNamespace(q_grid=None),
)

_UNSET = object()
_import_failed = False


def app_config():
    """The application's configuration module ``dgamore.config`` when it is
    imported or importable, else the fallback :data:`config` namespace."""
    global _import_failed
    mod = sys.modules.get("dgamore.config")
    if mod is None and not _import_failed:
        try:
            mod = importlib.import_module("dgamore.config")
        except ImportError:
            _import_failed = True  # asked once; a module inserted later is still found above
            mod = None
    return mod if mod is not None else config


def output_path(explicit=_UNSET):
    """The spill folder: the keyword when given, else the configuration's
    ``output.output_path`` (None: no rank file)."""
    if explicit is not _UNSET:
        return explicit
    cfg = app_config()
    return getattr(getattr(cfg, "output", None), "output_path", None)


def q_grid(explicit=None, what="this call"):
    """The q-grid: the keyword when given, else ``lattice.q_grid`` of the
    configuration (TypeError when there is none)."""
    grid = explicit
    if grid is None:
        cfg = app_config()
        grid = getattr(getattr(cfg, "lattice", None), "q_grid", None)
    if grid is None or getattr(grid, "irrk_inv", None) is None:
        raise TypeError(
            f"{what} needs a q-grid with irrk_inv: pass q_grid=..., or set config.lattice.q_grid "
            "(dgamore.config, or dgampi.compat.config when dgamore is not importable)"
        )
    return grid


def grid_map(grid):
    """``irrk_inv`` of a grid, flattened in C order."""
    return np.asarray(grid.irrk_inv).reshape(-1)


def grid_transform(grid):
    """``(u_k, sigma_k, conj_k)`` of a grid in auto-symmetry mode (all full-BZ
    points, flattened), or ``(None, None, None)``."""
    if not getattr(grid, "is_auto", False):
        return None, None, None
    us = np.asarray(grid._auto_us)
    nb = us.shape[-1]
    return (
        us.reshape(-1, nb, nb),
        np.asarray(grid._auto_sigmas).reshape(-1),
        np.asarray(grid._auto_conjs).reshape(-1),
    )


def orbital_axes(obj, explicit=None):
    """Orbital axes the original's ``map_to_full_bz`` transforms: 2 for
    one-particle objects (Green's function, self-energy, gap function), 4
    otherwise (vertices: FourPoint and the base class)."""
    if explicit is not None:
        return explicit
    names = {k.__name__ for k in type(obj).__mro__}
    return 2 if names & {"GreensFunction", "SelfEnergy", "GapFunction"} else 4


def app_attr(module, name):
    """``getattr(dgamore.<module>, name)`` when importable, else None."""
    try:
        return getattr(importlib.import_module(f"dgamore.{module}"), name)
    except (ImportError, AttributeError):
        return None


# ---------------------------------------------------------------- the message limit


class LimitModule(types.ModuleType):
    """Module type whose ``MAX_MPI_BYTES`` is the library's process-wide
    limit: reading asks the library, assigning sets it (what every compat
    routine then uses)."""

    @property
    def MAX_MPI_BYTES(self):
        return dgampi.max_message_bytes()

    @MAX_MPI_BYTES.setter
    def MAX_MPI_BYTES(self, nbytes):
        dgampi.set_max_message_bytes(_lib.resolve_limit(nbytes))


def install_limit(module_name):
    sys.modules[module_name].__class__ = LimitModule


# ---------------------------------------------------------------- dtypes


def native(dtype):
    """True when the library moves ``dtype`` itself."""
    return np.dtype(dtype) in _lib.DTYPE_CODES


def check_movable(dtype, what="array"):
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise TypeError(f"{what}: dtype {dt} holds Python objects, which cannot travel as raw bytes")
    if dt.itemsize == 0:
        raise TypeError(f"{what}: dtype {dt} has no bytes")
    return dt


def to_bytes(arr, what="array"):
    """A row-preserving ``uint8`` view of ``arr`` (a C-contiguous copy when
    needed): ``[n, ...]`` becomes ``[n, ..., last * itemsize]`` (``[n]``
    becomes ``[n, itemsize]``). Lossless for every fixed-size dtype."""
    check_movable(arr.dtype, what)
    a = np.ascontiguousarray(arr)
    if a.ndim == 0:
        raise ValueError(f"{what} must have at least one axis (axis 0 is the row axis); got a 0-d array")
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    return a.view(np.uint8)


def from_bytes(raw, dtype, rest):
    """Undoes :func:`to_bytes`: ``raw`` ``[n, ..., bytes]`` viewed as ``dtype``
    with trailing shape ``rest`` (the original's axes after axis 0)."""
    if raw is None:
        return None
    raw = np.ascontiguousarray(raw)
    return raw.view(dtype).reshape((raw.shape[0],) + tuple(rest))


def movable(dtype):
    """True when :func:`to_bytes` can carry ``dtype`` (fixed-size, no objects)."""
    dt = np.dtype(dtype)
    return not dt.hasobject and dt.itemsize > 0


def lib_array(arr, what="array"):
    """``(array the library takes, dtype or None)``: ``arr`` itself for a
    dtype the library carries, else its byte view and the dtype to restore.
    Anything the byte view cannot carry (object arrays, 0-d arrays, non-arrays)
    is returned unchanged, so that the library call rejects it on every rank
    (TypeError / ValueError here, ``REMOTE_ERROR`` on the others) instead of
    leaving the other ranks waiting."""
    if not isinstance(arr, np.ndarray):
        return arr, None
    if native(arr.dtype) or not movable(arr.dtype) or arr.ndim == 0:
        return arr, None
    return to_bytes(arr, what), arr.dtype


def byte_shape(shape, dtype):
    """The shape :func:`to_bytes` gives an array of ``shape`` and ``dtype``."""
    shape = tuple(int(n) for n in shape)
    size = np.dtype(dtype).itemsize
    if len(shape) == 1:
        return shape + (size,)
    return shape[:-1] + (shape[-1] * size,)


# ---------------------------------------------------------------- shared library distributors

# Library distributors shared by every compat distributor with the same
# group of processes and the same split. Creating one is collective, and the
# entries of a group are created in the same order on all of its members
# (every member takes part), so a lookup gives the same answer on each
# member with no communication. They are never destroyed: the original
# application never closes its distributors, and a destroy is collective,
# so it cannot follow garbage collection; sharing bounds the leak by the
# number of distinct (group, split) pairs instead of the number of objects.
_CACHE = {}
_CACHE_ORDER = []


def _group_key(comm):
    """The world ranks of ``comm``'s group (identical on every member), or
    None when it has processes outside ``COMM_WORLD`` or is not an
    intracommunicator."""
    if not isinstance(comm, MPI.Intracomm) or comm == MPI.COMM_NULL:
        return None
    group = comm.Get_group()
    world = MPI.COMM_WORLD.Get_group()
    try:
        ranks = MPI.Group.Translate_ranks(group, list(range(group.Get_size())), world)
    finally:
        group.Free()
        world.Free()
    if any(r == MPI.UNDEFINED for r in ranks):
        return None
    return tuple(int(r) for r in ranks)


def library_distributor(comm, ntasks=None, sizes=None):
    """Collective over ``comm`` (on a cache miss): a :class:`dgampi.MpiDistributor`
    over ``comm``'s processes with the even split of ``ntasks`` or the given
    ``sizes``, shared with earlier requests of the same split."""
    group = _group_key(comm)
    if sizes is not None:
        split = ("sizes", tuple(int(s) for s in np.asarray(sizes).reshape(-1)))
    else:
        if isinstance(ntasks, (bool, np.bool_)) or not isinstance(ntasks, (int, np.integer)):
            # a bad argument goes to the library, which fails it on every rank
            return dgampi.MpiDistributor(ntasks, comm)
        split = ("ntasks", int(ntasks))
    key = None if group is None else (group, split)
    if key is not None and key in _CACHE:
        return _CACHE[key]
    if sizes is not None:
        dist = dgampi.MpiDistributor.with_sizes(sizes, comm)
    else:
        dist = dgampi.MpiDistributor(ntasks, comm)
    if key is not None:
        _CACHE[key] = dist
        _CACHE_ORDER.append(dist)
    return dist


def free_library_distributors():
    """Collective over ``COMM_WORLD``: destroys every shared library
    distributor, in creation order (each on the ranks of its group). Compat
    distributors created before cannot be used afterwards."""
    items = list(_CACHE_ORDER)
    _CACHE.clear()
    _CACHE_ORDER.clear()
    for dist in items:
        dist.close()


def _forget_at_exit():
    """At interpreter exit the shared distributors are leaked quietly (MPI
    finalization follows; a destroy there could wait on a rank that exited
    with an error)."""
    for dist in _CACHE_ORDER:
        handle = getattr(dist, "_handle", None)
        if handle is not None:
            handle.value = None
    _CACHE.clear()
    _CACHE_ORDER.clear()


import atexit as _atexit

_atexit.register(_forget_at_exit)

__all__ = []
