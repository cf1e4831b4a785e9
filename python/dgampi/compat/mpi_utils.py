"""Drop-in for the original ``dgamore.mpi_utils`` module, over dgampi.

The functions take the original arguments (N-point objects with ``.mat``,
compat :class:`~dgampi.compat.mpi_distributor.MpiDistributor` objects) and
read the q-grid (``irrk_inv`` and, in auto-symmetry mode, ``_auto_us``,
``_auto_sigmas``, ``_auto_conjs``) from the application's configuration
(``dgamore.config.lattice.q_grid``; ``dgampi.compat.config`` when ``dgamore``
is not importable; or the ``q_grid=`` keyword). The data moves through
dgampi: peer to peer, in messages of at most ``MAX_MPI_BYTES`` bytes.

Differences are listed in ``python/README.md`` ("dgampi.compat").
"""

import copy

import numpy as np
from mpi4py import MPI

import dgampi

from . import _common
from .mpi_distributor import MpiDistributor

__all__ = [
    "map_irrbz_fullbz",
    "exchange_and_map_irrbz_fullbz",
    "gather_full_ibz_for_vslice",
    "get_pencil_indices",
    "execute_distributed_fft",
    "MpiDistributor",
    "MAX_MPI_BYTES",
]


def _lib_dist(d, what):
    """The library distributor behind a compat (or plain dgampi) distributor."""
    if isinstance(d, MpiDistributor):
        return d.library_distributor
    if isinstance(d, dgampi.MpiDistributor):
        return d
    raise TypeError(f"{what} must be an MpiDistributor, not {type(d).__name__}")


def _comm_of(d):
    """The caller's communicator of a compat distributor; the user
    communicator (a duplicate, same ranks) of a plain dgampi one."""
    return _lib_dist(d, "distributor").comm if not isinstance(d, MpiDistributor) else d.comm


# ---------------------------------------------------------------- node-aware split and row primitives


def _get_node_aware_v_dist(n_nu, comm):
    """Collective over ``comm``: the original's node-aware split of ``n_nu``
    frequencies, ``(sizes, slices)``: ranks with the same
    ``MPI.Get_processor_name()`` form a node, nodes in sorted host-name order
    share the frequencies equally (the extra ones to the first nodes), each
    node's ranks share its part (the extra ones to its first ranks), and the
    slices follow each other in rank order."""
    return _node_split(n_nu, comm)


def _node_split(n_nu, comm):
    """:func:`_get_node_aware_v_dist` over an mpi4py communicator or a library
    distributor (which saves a temporary one)."""
    sizes, offsets = dgampi.get_node_aware_v_dist(n_nu, comm, order="host_name")
    sizes = np.array(sizes, dtype=int)
    slices = [slice(int(o), int(o) + int(s)) for s, o in zip(sizes, offsets)]
    return sizes, slices


def _send_in_chunks(comm, arr, dest, base_tag=0):
    """Sends ``arr`` to ``dest`` along axis 0 in messages of at most
    ``MAX_MPI_BYTES`` bytes (dgampi's ``send_rows``: a small header at
    ``base_tag``, chunk ``i`` at ``base_tag + 1 + i``). Pair it with
    :func:`_recv_in_chunks`."""
    a = np.asarray(arr)
    send, _ = _common.lib_array(a, "arr")
    dgampi.send_rows(comm, send, dest, base_tag)


def _recv_in_chunks(comm, shape, dtype, source, base_tag=0):
    """Receives an array sent by :func:`_send_in_chunks` into a new array of
    ``shape`` and ``dtype`` and returns it."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    if _common.native(dtype) or not _common.movable(dtype) or not shape:
        return dgampi.recv_rows_alloc(comm, shape, dtype, source, base_tag)
    raw = dgampi.recv_rows_alloc(comm, _common.byte_shape(shape, dtype), np.uint8, source, base_tag)
    return _common.from_bytes(raw, dtype, shape[1:])


# ---------------------------------------------------------------- BZ maps


def _unfold(mat, irr_dist, full_dist, grid, n_orb_axes):
    """This rank's full-BZ block of the irreducible blocks ``mat`` (peer to
    peer), with the grid's orbital transform in auto-symmetry mode."""
    irr, full = _lib_dist(irr_dist, "mpi_dist_irrk"), _lib_dist(full_dist, "mpi_dist_fullbz")
    u, sigma, conj = _common.grid_transform(grid)
    imap = _common.grid_map(grid)
    if u is not None:
        return dgampi.exchange_and_map_irrbz_fullbz(mat, imap, irr, full, u, sigma, conj, n_orb_axes=n_orb_axes)
    a = np.asarray(mat) if mat is not None else mat
    send, dt = _common.lib_array(a, "obj.mat")
    out = dgampi.exchange_and_map_irrbz_fullbz(send, imap, irr, full)
    return out if dt is None else _common.from_bytes(out, dt, a.shape[1:])


def map_irrbz_fullbz(obj, mpi_dist_irrk, mpi_dist_fullbz, *, q_grid=None, n_orb_axes=None):
    """Maps ``obj`` (an N-point object whose ``.mat`` is this rank's block of
    the irreducible BZ, ``[irr.my_size, ...]``) to this rank's block of the
    full BZ, ``[full.my_size, ...]``, and returns ``obj`` itself with the new
    ``.mat``, as the original does.

    The original gathers the object on rank 0, calls its ``map_to_full_bz``
    there and scatters it; this moves the rows peer to peer (the same data,
    no rank holds the whole object), applies the same per-k orbital
    transform when the grid is in auto-symmetry mode (on 2 orbital axes for
    Green's functions, self-energies and gap functions, 4 otherwise, as their
    ``map_to_full_bz`` do; ``n_orb_axes`` overrides), and leaves the object's
    ``original_shape`` as the original leaves it (the full-BZ shape on rank
    0, unchanged elsewhere).
    """
    grid = _common.q_grid(q_grid, "map_irrbz_fullbz")
    axes = _common.orbital_axes(obj, n_orb_axes)
    full = _unfold(obj.mat, mpi_dist_irrk, mpi_dist_fullbz, grid, axes)
    obj.mat = full
    if _comm_of(mpi_dist_irrk).Get_rank() == 0 and hasattr(obj, "update_original_shape"):
        nq = getattr(obj, "nq", None)
        n_full = int(np.prod(nq)) if nq is not None else _lib_dist(mpi_dist_fullbz, "mpi_dist_fullbz").ntasks
        obj.original_shape = (n_full,) + tuple(full.shape[1:])
    return obj


def exchange_and_map_irrbz_fullbz(obj, mpi_dist_irrk, mpi_dist_fullbz, *, q_grid=None):
    """Maps ``obj`` from the irreducible-BZ distribution to the full-BZ one peer
    to peer (see :func:`map_irrbz_fullbz`; the orbital transform acts on 4
    orbital axes, as in the original) and returns a new object: a
    ``dgamore.four_point.FourPoint`` built as the original builds it when
    ``dgamore`` is importable, else a shallow copy of ``obj`` with the new
    ``.mat``. ``obj`` itself is not changed."""
    grid = _common.q_grid(q_grid, "exchange_and_map_irrbz_fullbz")
    full = _unfold(obj.mat, mpi_dist_irrk, mpi_dist_fullbz, grid, 4)
    four_point = _common.app_attr("four_point", "FourPoint")
    if four_point is not None and isinstance(obj, four_point):
        return four_point(
            full,
            obj.channel,
            obj.nq,
            obj.num_wn_dimensions,
            obj.num_vn_dimensions,
            obj.full_niw_range,
            obj.full_niv_range,
            True,
            obj.frequency_notation,
        )
    new = copy.copy(obj)
    new.mat = full
    if hasattr(new, "update_original_shape"):
        new.update_original_shape()
    return new


def gather_full_ibz_for_vslice(gamma_r, mpi_dist_irrq, mpi_dist_v, q_grid=None):
    """Collective: installs the node-aware split of the fermionic frequency
    on ``mpi_dist_v`` (its ``sizes``, ``slices``, ``my_size``, ``my_slice``
    and collectives follow it from now on), then gives every rank with
    frequencies all q of the full BZ for its slice of ``nu``.

    ``gamma_r.mat`` is this rank's irreducible block ``[irr.my_size, orb...,
    nu, nu']``. Returns ``gamma_r`` itself with ``.mat`` ``[n_full, orb...,
    my_nu, nu']`` (unfolded with ``q_grid.irrk_inv`` and, in auto-symmetry
    mode, the orbital transform), or None on a rank without frequencies
    (``gamma_r`` unchanged there), as the original does. ``q_grid`` None
    reads the configuration.
    """
    grid = _common.q_grid(q_grid, "gather_full_ibz_for_vslice")
    if not isinstance(mpi_dist_v, MpiDistributor):
        raise TypeError(f"mpi_dist_v must be a dgampi.compat MpiDistributor, not {type(mpi_dist_v).__name__}")
    sizes, slices = _node_split(mpi_dist_v.ntasks, mpi_dist_v.library_distributor)
    mpi_dist_v._install_sizes(sizes)

    irr = _lib_dist(mpi_dist_irrq, "mpi_dist_irrq")
    imap = _common.grid_map(grid)
    full = _common.library_distributor(_comm_of(mpi_dist_irrq), ntasks=int(imap.size))
    u, sigma, conj = _common.grid_transform(grid)
    v_dist = (sizes, slices)
    mat = gamma_r.mat
    if u is not None:
        out = dgampi.gather_full_ibz_for_vslice(
            mat, imap, irr, full, v_dist, u, sigma, conj, n_orb_axes=_common.orbital_axes(gamma_r)
        )
    else:
        a = np.asarray(mat)
        if _common.native(a.dtype) or not _common.movable(a.dtype) or a.ndim < 3:
            out = dgampi.gather_full_ibz_for_vslice(a, imap, irr, full, v_dist)
        else:  # bytes along nu' keep the q, orbital and nu axes
            raw = np.ascontiguousarray(a).view(np.uint8)
            out = dgampi.gather_full_ibz_for_vslice(raw, imap, irr, full, v_dist)
            out = None if out is None else np.ascontiguousarray(out).view(a.dtype)
    if out is None:
        return None
    gamma_r.mat = out
    if hasattr(gamma_r, "update_original_shape"):
        gamma_r.update_original_shape()
    return gamma_r


# ---------------------------------------------------------------- FFT


def get_pencil_indices(rank: int, size: int, nq, layout: str) -> np.ndarray:
    """The flat q indices ``rank`` of ``size`` owns in ``layout`` (``"flat"``,
    ``"z_pencil"``, ``"y_pencil"``, ``"x_pencil"``); ValueError for another
    layout."""
    return dgampi.get_pencil_indices(int(rank), int(size), tuple(int(n) for n in nq), layout)


def execute_distributed_fft(obj, comm=None):
    """Forward 3-D FFT over the q-grid ``obj.nq`` of the flat-distributed
    ``obj.mat`` (``[my_q, ...]``, the flat split over ``comm``), numpy's sign,
    unnormalized. ``obj.mat`` is replaced by a new C-contiguous array (the
    array it held is not changed; any memory layout is accepted) and ``obj``
    is returned.

    Unlike the original, which leaves real (float) data untransformed
    without a word, a non-complex ``.mat`` raises ``dgampi.DgampiError`` on
    every rank."""
    if comm is None:
        comm = MPI.COMM_WORLD
    mat = np.array(obj.mat, order="C", copy=True)
    dgampi.execute_distributed_fft(mat, comm, nq=tuple(int(n) for n in obj.nq))
    obj.mat = mat
    return obj


def __getattr__(name):
    # names the original module imported from the application (None when
    # dgamore is not importable) and its FFT module
    if name == "config":
        return _common.app_config()
    if name == "fft":
        try:
            import scipy.fft as fft
        except ImportError:
            import numpy.fft as fft
        return fft
    if name == "symmetry_reduction":
        try:
            import importlib

            return importlib.import_module("dgamore.symmetry_reduction")
        except ImportError:
            return None
    if name == "KGrid":
        return _common.app_attr("brillouin_zone", "KGrid")
    if name == "FourPoint":
        return _common.app_attr("four_point", "FourPoint")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_common.install_limit(__name__)
