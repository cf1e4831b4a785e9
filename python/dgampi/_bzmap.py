"""Brillouin-zone maps (irreducible BZ -> full BZ), the node-aware split of
fermionic frequencies and the frequency re-layout of a vertex
(``gather_full_ibz_for_vslice``); :class:`MapPlan` and :class:`VslicePlan`
are the map and the re-layout planned once and executed many times.

Every function here that talks to other ranks is collective over the
distributors' ranks. Argument errors raise TypeError / ValueError on the rank
that has them, after that rank has joined the library call with an argument
the library rejects, so the other ranks raise :class:`dgampi.DgampiError`
(status ``REMOTE_ERROR``) instead of waiting.
"""

import copy
import ctypes
import types

import numpy as np
from mpi4py import MPI

from . import _lib
from ._distributor import MpiDistributor
from ._fft import _limit as _plan_limit, _process_limit
from ._lib import DgampiError, HandleOwner, as_array, call, desc, fn, resolve_limit, take_owned

__all__ = [
    "exchange_and_map_irrbz_fullbz",
    "map_irrbz_fullbz",
    "get_node_aware_v_dist",
    "gather_full_ibz_for_vslice",
    "MapPlan",
    "VslicePlan",
    "EXCHANGE_ROUTES",
]

_byref = ctypes.byref
_P64 = ctypes.POINTER(_lib.c_int64)
_INT64_MAX = 2**63 - 1

#: The routes a plan may take (:attr:`MapPlan.route`) and their C codes
#: (``dgampi_exchange_route``).
EXCHANGE_ROUTES = {"point-to-point": 0, "MPI_Alltoallw": 1, "MPI_Neighbor_alltoallw": 2}
_ROUTE_NAMES = {code: name for name, code in EXCHANGE_ROUTES.items()}


def _ptr64(a):
    """Pointer to the first element of a C-contiguous int64 array."""
    return a.ctypes.data_as(_P64)


# ---------------------------------------------------------------- argument checks


def _distributor(d, what):
    if not isinstance(d, MpiDistributor):
        raise TypeError(f"{what} must be an MpiDistributor, not {type(d).__name__}")
    return d


def _handles(irr_dist, full_dist):
    """``(irr_handle, full_handle, error)``.

    ``full_dist`` carries the collective (the library agrees on its
    communicator), so it must be a distributor on every rank: a TypeError for
    it is raised at once. A bad or closed ``irr_dist`` is returned as
    ``error`` with ``full_dist``'s handle standing in, so the caller can still
    join the collective and fail it on every rank.
    """
    full_h = _distributor(full_dist, "full_dist")._handle
    try:
        irr = _distributor(irr_dist, "irr_dist")
        if irr.closed and not full_dist.closed:
            # the library checks irr's handle before joining the collective
            # on full's communicator: fail it here, on every rank
            raise DgampiError(_lib_status("INVALID_HANDLE"), "irr_dist is closed", "dgampi_bzmap")
        return irr._handle, full_h, None
    except (TypeError, DgampiError) as err:
        return full_h, full_h, err


def _lib_status(name):
    return next(code for code, n in _lib.STATUS_NAMES.items() if n == name)


def _unwrap(obj):
    """``(npoint_object_or_None, array_argument)``: objects with ``.mat`` are
    accepted wherever the original module took an N-point object."""
    if obj is not None and not isinstance(obj, np.ndarray) and hasattr(obj, "mat"):
        return obj, obj.mat
    return None, obj


def _rewrap(obj, mat):
    """The result as the caller passed it: an array, or a shallow copy of the
    N-point object with the new ``.mat`` (the input object is not changed)."""
    if obj is None or mat is None:
        return mat
    new = copy.copy(obj)
    new.mat = mat
    return new


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{what} must not be negative (got {value})")
    if value > _INT64_MAX:
        raise ValueError(f"{what} = {value} does not fit int64")
    return value


def _int_array(obj, what):
    """``obj`` as a flat numpy integer array (TypeError if not integers)."""
    if obj is None:
        raise TypeError(f"{what} must be an array of integers, not None")
    a = np.asarray(obj)
    if a.size == 0 and a.dtype.kind in "fiu":  # np.asarray([]) is float64
        return a.astype(np.int64).reshape(-1)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integers, not {a.dtype}")
    return a.reshape(-1)


def _irrk_inv(irrk_inv, n_irr, n_full):
    """The map as a C-contiguous int64 array of ``n_full`` values in ``0..n_irr``.

    Any integer array (a ``[nkx, nky, nkz]`` grid too) is flattened in C order."""
    m = _int_array(irrk_inv, "irrk_inv")
    if m.size != n_full:
        raise ValueError(f"irrk_inv has {m.size} entries, but full_dist has {n_full} full-BZ points")
    if m.size:
        bad = np.flatnonzero((m < 0) | (m >= n_irr))
        if bad.size:
            q = int(bad[0])
            raise ValueError(
                f"irrk_inv[{q}] = {int(m[q])} is outside 0..{n_irr} (irr_dist has {n_irr} irreducible points)"
            )
    return np.ascontiguousarray(m, dtype=np.int64)


def _block(mat, irr_dist, what):
    obj, arr = _unwrap(mat)
    arr = as_array(arr, what, allow_array_like=True)
    if arr.shape[0] != irr_dist.my_size:
        raise ValueError(
            f"{what} has leading length {arr.shape[0]} on rank {irr_dist.my_rank}, but irr_dist gives this "
            f"rank {irr_dist.my_size} irreducible points"
        )
    return obj, arr


def _orb_axes_arg(n_orb_axes):
    if n_orb_axes is None:
        return None
    if isinstance(n_orb_axes, bool) or not isinstance(n_orb_axes, (int, np.integer)):
        raise TypeError(f"n_orb_axes must be 2 or 4, not {n_orb_axes!r}")
    if int(n_orb_axes) not in (2, 4):
        raise ValueError(f"n_orb_axes must be 2 or 4, not {n_orb_axes}")
    return int(n_orb_axes)


def _transform(u_k, sigma_k, conj_k, n_orb_axes, data, orb_axes, n_local, n_total):
    """``(pointer or None, keep-alive)`` of a ``dgampi_orbital_transform``.

    ``orb_axes`` are the data axes that may be orbital axes (after q);
    ``n_local`` is None where only full-length inputs are accepted.
    """
    axes = _orb_axes_arg(n_orb_axes)
    if u_k is None:
        if sigma_k is not None or conj_k is not None:
            raise ValueError("sigma_k and conj_k need u_k (the orbital transform's matrices)")
        return None, None
    u = np.asarray(u_k)
    if u.dtype.kind not in "fciu":
        raise TypeError(f"u_k must hold numbers (complex matrices), not {u.dtype}")
    if u.ndim < 3 or u.shape[-1] != u.shape[-2] or u.shape[-1] == 0:
        raise ValueError(f"u_k must have shape [n, nb, nb] (or [..., nb, nb]) with nb >= 1, got {u.shape}")
    nb = u.shape[-1]
    u = np.ascontiguousarray(u.reshape(-1, nb, nb), dtype=np.complex128)
    n = u.shape[0]

    if sigma_k is None:
        sigma = np.ones(n, dtype=np.float64)
    else:
        sigma = np.asarray(sigma_k)
        if sigma.dtype.kind not in "fiu":
            raise TypeError(f"sigma_k must hold real signs (+1 or -1), not {sigma.dtype}")
        sigma = sigma.reshape(-1)
        if sigma.size != n:
            raise ValueError(f"sigma_k has {sigma.size} entries, u_k {n} matrices")
        if not np.all((sigma == 1) | (sigma == -1)):
            raise ValueError("sigma_k entries must be +1 or -1")
        sigma = np.ascontiguousarray(sigma, dtype=np.float64)

    if conj_k is None:
        conj = np.zeros(n, dtype=np.uint8)
    else:
        conj = np.asarray(conj_k)
        if conj.dtype.kind not in "biu":
            raise TypeError(f"conj_k must hold booleans, not {conj.dtype}")
        conj = conj.reshape(-1)
        if conj.size != n:
            raise ValueError(f"conj_k has {conj.size} entries, u_k {n} matrices")
        if conj.dtype.kind != "b" and not np.all((conj == 0) | (conj == 1)):
            raise ValueError("conj_k entries must be booleans (or 0 / 1)")
        conj = np.ascontiguousarray(conj, dtype=np.uint8)

    if n_local is None:
        if n != n_total:
            raise ValueError(f"u_k, sigma_k and conj_k cover {n} k-points; expected all {n_total} full-BZ points")
    elif n not in (n_local, n_total):
        raise ValueError(
            f"u_k, sigma_k and conj_k cover {n} k-points; expected this rank's {n_local} full-BZ points "
            f"or all {n_total}"
        )
    if data.dtype.kind != "c":
        raise TypeError(f"the orbital transform needs complex data (complex64 or complex128), not {data.dtype}")
    orb = tuple(data.shape[1 : 1 + orb_axes])
    if axes is None:  # 4 when the first four axes after q have length nb, else 2
        lead = 0
        while lead < min(4, len(orb)) and orb[lead] == nb:
            lead += 1
        axes = 4 if lead == 4 else 2
    if len(orb) < axes or any(s != nb for s in orb[:axes]):
        raise ValueError(
            f"the data's axes after q {orb} do not start with {axes} orbital axes of length nb = {nb} (from u_k)"
        )
    rec = _lib.orbital_transform()  # struct_size set, the rest zero
    rec.u = u.ctypes.data
    rec.n = n
    rec.nb = nb
    rec.axes = axes
    rec.sigma = sigma.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
    rec.conj = conj.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    return ctypes.pointer(rec), (u, sigma, conj, rec)


# ---------------------------------------------------------------- BZ maps


def _map(cname, mat_irr_local, irrk_inv, irr_dist, full_dist, u_k, sigma_k, conj_k, n_orb_axes, out):
    irr_h, full_h, error = _handles(irr_dist, full_dist)
    try:
        if error is not None:
            raise error
        limit = resolve_limit(None)
        obj, block = _block(mat_irr_local, irr_dist, "mat_irr_local")
        imap = _irrk_inv(irrk_inv, irr_dist.ntasks, full_dist.ntasks)
        t_ptr, _keep_t = _transform(
            u_k, sigma_k, conj_k, n_orb_axes, block, block.ndim - 1, full_dist.my_size, full_dist.ntasks
        )
        if out is not None:
            out = as_array(out, "out", writable=True)
            expected = (full_dist.my_size,) + block.shape[1:]
            if out.dtype != block.dtype:
                raise TypeError(f"out has dtype {out.dtype}, the data {block.dtype}")
            if out.shape != expected:
                raise ValueError(f"out has shape {out.shape} on rank {full_dist.my_rank}; expected {expected}")
    except Exception:
        # The allocating entry point with a NULL block and NULL out: rejected
        # inside the library's opening agreement on full_dist's communicator
        # (the one the _into entry points join as well), so every rank fails.
        getattr(fn, cname)(irr_h, full_h, None, 0, None, None, 0, None)
        raise
    block_ptr, _keep_block = desc(block)
    if out is None:
        owned = _lib.OwnedArray()
        call(cname, irr_h, full_h, _ptr64(imap), imap.size, block_ptr, t_ptr, limit, _byref(owned))
        result = take_owned(owned)
        if result is None:  # not per the ABI; keep the documented shape
            result = np.empty((full_dist.my_size,) + block.shape[1:], dtype=block.dtype)
    else:
        out_ptr, _keep_out = desc(out)
        call(cname + "_into", irr_h, full_h, _ptr64(imap), imap.size, block_ptr, t_ptr, limit, out_ptr)
        result = out
    return _rewrap(obj, result)


_MAP_DOC = """Collective over the ranks of ``irr_dist`` and ``full_dist`` (two
    distributors over the same communicator, with ``n_irr`` and ``n_full``
    tasks): unfolds this rank's irreducible-BZ block ``mat_irr_local``
    (``[irr_dist.my_size, ...]``) to its full-BZ block
    ``[full_dist.my_size, ...]`` with ``full[q] = irr[irrk_inv[q]]``, and
    returns it ({how}).

    ``mat_irr_local`` is a numpy array of any supported dtype and layout, or an
    N-point object with a ``.mat`` array: then a shallow copy of the object
    with the full-BZ ``.mat`` is returned (the input object is not changed).
    ``irrk_inv`` holds the irreducible index of every full-BZ point (``n_full``
    integers in ``0..n_irr``, the same on every rank; a grid-shaped array is
    flattened in C order).

    Optional per-k orbital transform (complex data only), applied to every
    full-BZ row after unfolding: ``u_k`` complex ``[n, nb, nb]`` (or
    ``[..., nb, nb]``), ``sigma_k`` signs +1/-1 ``[n]`` (default all +1) and
    ``conj_k`` booleans ``[n]`` (default all False), where ``n`` is this rank's
    number of full-BZ points (the rank-local slice) or ``n_full`` (the whole
    arrays; the library slices them). With 2 orbital axes right after q,
    ``M_ab = sigma * sum U_ac X_cd conj(U_bd)`` with ``X = conj(M_rep)`` where
    ``conj_k``, else ``M_rep``; with 4, ``U`` acts on orbital axes 1 and 3,
    ``conj(U)`` on 2 and 4, and ``sigma**2 = 1`` drops out. Trailing
    (frequency) axes ride along. ``n_orb_axes`` (2 or 4) is inferred when
    None: 4 if the first four axes after q all have length ``nb``, else 2;
    pass it when that is ambiguous.

    ``out`` (a writable ``[full_dist.my_size, ...]`` array of the data's dtype,
    any layout) receives the result, which is then ``out`` itself.

    Errors: TypeError / ValueError for bad arguments on the rank that has them
    (non-array data, irrk_inv of the wrong length or with values outside
    ``0..n_irr``, a block whose leading length is not ``irr_dist.my_size``, a
    transform of the wrong length, ...); the other ranks then raise
    :class:`dgampi.DgampiError` with status ``REMOTE_ERROR``. Disagreements the
    library finds (dtype or trailing shape differing between ranks,
    distributors on different communicators) raise ``DgampiError`` on every
    rank. ``full_dist`` must be a live distributor on every rank.
    """


def exchange_and_map_irrbz_fullbz(
    mat_irr_local, irrk_inv, irr_dist, full_dist, u_k=None, sigma_k=None, conj_k=None, *, n_orb_axes=None, out=None
):
    return _map(
        "exchange_and_map_irrbz_fullbz", mat_irr_local, irrk_inv, irr_dist, full_dist, u_k, sigma_k, conj_k,
        n_orb_axes, out,
    )


exchange_and_map_irrbz_fullbz.__doc__ = _MAP_DOC.format(
    how="peer to peer: no rank ever holds the whole array; each needed irreducible row crosses the network once "
    "per destination rank, in messages of at most ``dgampi.MAX_MPI_BYTES`` bytes"
)


def map_irrbz_fullbz(
    mat_irr_local, irrk_inv, irr_dist, full_dist, u_k=None, sigma_k=None, conj_k=None, *, n_orb_axes=None, out=None
):
    return _map(
        "map_irrbz_fullbz", mat_irr_local, irrk_inv, irr_dist, full_dist, u_k, sigma_k, conj_k, n_orb_axes, out
    )


map_irrbz_fullbz.__doc__ = _MAP_DOC.format(
    how="the simple way: gathered on rank 0, unfolded there and scattered, so rank 0 transiently holds both whole "
    "arrays; prefer :func:`exchange_and_map_irrbz_fullbz`"
)


# ---------------------------------------------------------------- frequency split


_NODE_ORDERS = {"shared_memory": 0, "host_name": 1}


def _split_on(d, n_nu, order="shared_memory", error=None):
    """The collective node-aware split over ``d``'s ranks. A rank whose
    arguments are bad (``error``, or found here) joins the library's opening
    agreement with ``n_nu = -1``, so the other ranks get a REMOTE_ERROR
    :class:`DgampiError` instead of waiting, and raises its own error."""
    n, code = -1, 0
    if error is None:
        try:
            n = _count(n_nu, "n_nu")
            if order not in _NODE_ORDERS:
                raise ValueError(f"order must be one of {sorted(_NODE_ORDERS)}, not {order!r}")
            code = _NODE_ORDERS[order]
        except (TypeError, ValueError) as err:
            n, code, error = -1, 0, err
    size = d.mpi_size
    sizes = np.zeros(size, dtype=np.int64)
    offsets = np.zeros(size, dtype=np.int64)
    if error is not None:
        try:
            call("node_aware_split_ordered", d._handle, -1, 0, _ptr64(sizes), _ptr64(offsets), size)
        except DgampiError:
            pass
        raise error
    call("node_aware_split_ordered", d._handle, n, code, _ptr64(sizes), _ptr64(offsets), size)
    return sizes, offsets


def get_node_aware_v_dist(n_nu, comm=None, node_ids=None, order="shared_memory"):
    """The node-aware split of ``n_nu`` fermionic frequencies: ``(sizes,
    offsets)``, two int64 arrays with one entry per rank; rank ``r`` gets
    frequencies ``offsets[r] : offsets[r] + sizes[r]``.

    The frequencies are split equally over the nodes in sorted node order
    (the extra ones to the first nodes), then over each node's ranks in rank
    order (the extra ones to its first ranks). Each node's frequencies are
    contiguous, so the offsets follow the nodes, not the rank order: nodes
    ``[0, 1, 0, 1]`` and 6 frequencies give sizes ``[2, 2, 1, 1]`` and offsets
    ``[0, 3, 2, 5]``.

    Without ``node_ids`` this is collective over ``comm`` (an mpi4py
    communicator, default ``MPI.COMM_WORLD``, or an :class:`MpiDistributor`),
    with nodes found by ``MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)``. With
    ``node_ids`` (one integer label per rank, any values) it is local and
    needs no MPI; ``comm``, if given, then only checks the number of labels.

    ``order`` says how the nodes are found and ordered: ``"shared_memory"``
    (the default; ranks sharing memory form a node, nodes ordered by their
    lowest rank: no host-name string is involved, which some systems report
    inconsistently) or ``"host_name"`` (ranks with the same
    ``MPI.Get_processor_name()`` form a node, nodes ordered by host name, and
    the slices follow each other in rank order: exactly the original module's
    split, whose sizes suit :meth:`MpiDistributor.with_sizes`).

    Unlike the original module's ``_get_node_aware_v_dist`` (which returned
    ``(sizes, slices)`` with rank-order slices), this returns the offsets the
    library's :func:`gather_full_ibz_for_vslice` uses.
    """
    if node_ids is not None:
        n = _count(n_nu, "n_nu")
        nodes = _int_array(node_ids, "node_ids")
        if np.ndim(node_ids) != 1 or nodes.size == 0:
            raise ValueError(f"node_ids must be a 1-d sequence with one label per rank, got shape {np.shape(node_ids)}")
        if nodes.dtype.kind == "u" and int(nodes.max()) > _INT64_MAX:
            raise ValueError("node_ids labels must fit int64")
        if comm is not None:
            size = comm.mpi_size if isinstance(comm, MpiDistributor) else _comm_size(comm)
            if nodes.size != size:
                raise ValueError(f"node_ids has {nodes.size} labels, the communicator {size} ranks")
        nodes = np.ascontiguousarray(nodes, dtype=np.int64)
        sizes = np.zeros(nodes.size, dtype=np.int64)
        offsets = np.zeros(nodes.size, dtype=np.int64)
        call("node_aware_split_nodes", n, _ptr64(nodes), nodes.size, _ptr64(sizes), _ptr64(offsets))
        return sizes, offsets
    if comm is None:
        comm = MPI.COMM_WORLD
    if isinstance(comm, MpiDistributor):
        return _split_on(comm, n_nu, order)
    _lib.fint(comm)  # TypeError / ValueError before any collective
    with MpiDistributor(0, comm) as d:
        return _split_on(d, n_nu, order)


def _comm_size(comm):
    _lib.fint(comm)
    return comm.Get_size()


def _v_dist_arg(v_dist, size, n_nu):
    """``(sizes, offsets)`` as C-contiguous int64 arrays of ``size`` entries."""
    try:
        sizes, offsets = v_dist
    except (TypeError, ValueError):
        raise TypeError("v_dist must be None or a (sizes, offsets) pair") from None
    if isinstance(offsets, (list, tuple)) and offsets and all(isinstance(s, slice) for s in offsets):
        offsets = [s.start or 0 for s in offsets]  # the original's (sizes, slices)
    s, o = _int_array(sizes, "v_dist sizes"), _int_array(offsets, "v_dist offsets")
    if s.size != size or o.size != size:
        raise ValueError(f"v_dist has {s.size} sizes and {o.size} offsets; expected one per rank ({size})")
    if np.any(s < 0) or np.any(o < 0):
        raise ValueError("v_dist sizes and offsets must not be negative")
    if int(s.sum()) != n_nu:
        raise ValueError(f"v_dist covers {int(s.sum())} frequencies, the vertex has n_nu = {n_nu}")
    over = np.flatnonzero(o + s > n_nu)
    if over.size:
        r = int(over[0])
        raise ValueError(f"v_dist gives rank {r} frequencies {int(o[r])}:{int(o[r] + s[r])}, outside 0:{n_nu}")
    ranges = sorted((int(a), int(a + b)) for a, b in zip(o, s) if b > 0)
    if any(prev[1] != nxt[0] for prev, nxt in zip(ranges, ranges[1:])):
        raise ValueError(f"the v_dist slices {ranges} overlap or leave gaps; they must tile 0:{n_nu}")
    return np.ascontiguousarray(s, dtype=np.int64), np.ascontiguousarray(o, dtype=np.int64)


def gather_full_ibz_for_vslice(
    vertex_irr_local, irrk_inv, irr_dist, full_dist, v_dist=None, u_k=None, sigma_k=None, conj_k=None, *,
    n_orb_axes=None,
):
    """Collective: re-lays out a vertex ``[q_irr_local, orb..., nu, nu']``
    distributed over irreducible q (``irr_dist``) into ``[n_full, orb...,
    my_nu, nu']`` on every rank: all q unfolded to the full BZ through
    ``irrk_inv`` (see :func:`exchange_and_map_irrbz_fullbz`), for this rank's
    slice of the fermionic frequency ``nu`` (the second-to-last axis).

    ``v_dist`` is the frequency split, ``(sizes, offsets)`` with one entry per
    rank, the same on every rank (the library checks), whose non-empty slices
    tile ``0:n_nu`` (the original's ``(sizes, slices)`` is accepted too); None (the default) computes the node-aware split of
    :func:`get_node_aware_v_dist` over ``full_dist``'s ranks (collective).
    Every call computes that split, so that a rank passing None while the
    others pass a different split fails with MISMATCH on every rank
    instead of waiting.
    A rank with an empty slice gets None.

    The optional orbital transform (``u_k``, ``sigma_k``, ``conj_k``;
    complex data) is applied to every full-BZ q, so its arrays cover all
    ``n_full`` points. ``n_orb_axes`` is inferred from the axes between q and
    ``nu`` when None (4 if the first four have length ``nb``, else 2).

    ``vertex_irr_local`` may be an N-point object with ``.mat``; the result is
    then a shallow copy of it with the new ``.mat`` (or None). Errors as for
    :func:`exchange_and_map_irrbz_fullbz`.
    """
    irr_h, full_h, error = _handles(irr_dist, full_dist)
    size = full_dist.mpi_size
    n_nu = -1
    try:
        if error is not None:
            raise error
        limit = resolve_limit(None)
        obj, block = _block(vertex_irr_local, irr_dist, "vertex_irr_local")
        if block.ndim < 3:
            raise ValueError(f"vertex_irr_local must have axes [q, ..., nu, nu'] (3 or more), got shape {block.shape}")
        n_nu = block.shape[-2]
        imap = _irrk_inv(irrk_inv, irr_dist.ntasks, full_dist.ntasks)
        if v_dist is not None:
            sizes, offsets = _v_dist_arg(v_dist, size, n_nu)
        t_ptr, _keep_t = _transform(u_k, sigma_k, conj_k, n_orb_axes, block, block.ndim - 3, None, full_dist.ntasks)
    except Exception as err:
        error = err
    # Every rank joins the collective node-aware split on full_dist's ranks,
    # with v_dist or without, so that ranks disagreeing on passing it still
    # run the same collectives (the library then finds the splits differ); a
    # rank whose arguments failed joins its agreement and raises its error.
    node_split = _split_on(full_dist, n_nu if error is None else None, error=error)
    if v_dist is None:
        sizes, offsets = node_split
    block_ptr, _keep_block = desc(block)
    owned, has_slice = _lib.OwnedArray(), _lib.c_int(0)
    call(
        "gather_full_ibz_for_vslice", irr_h, full_h, _ptr64(imap), imap.size, _ptr64(sizes), _ptr64(offsets),
        block_ptr, t_ptr, limit, _byref(owned), _byref(has_slice),
    )
    result = take_owned(owned)
    if not has_slice.value:
        return None
    return _rewrap(obj, result)


# ---------------------------------------------------------------- plans


def _row_shape(row_shape):
    """The row shape as a tuple of non-negative ints (an int is a 1-tuple)."""
    if row_shape is None:
        return ()
    if isinstance(row_shape, (int, np.integer)) and not isinstance(row_shape, bool):
        row_shape = (row_shape,)
    if isinstance(row_shape, (str, bytes)):
        raise TypeError(f"row_shape must be a sequence of integers, not {row_shape!r}")
    try:
        items = list(row_shape)
    except TypeError:
        raise TypeError(f"row_shape must be a sequence of integers, not {row_shape!r}") from None
    return tuple(_count(n, "row_shape entry") for n in items)


def _data_spec(code, row):
    """What :func:`_transform` reads of the data (dtype and shape) for rows
    of ``row`` elements of the dtype ``code``, with no data yet."""
    return types.SimpleNamespace(dtype=_lib.code_dtype(code), shape=(0,) + row)


class _BzPlan(HandleOwner):
    """Lifetime, shapes and execution shared by :class:`MapPlan` and
    :class:`VslicePlan` (``_kind``: the C prefix, ``map_plan`` or ``vslice_plan``)."""

    _kind = None

    def _finish(self, code, row, limit, rank):
        """Reads the shapes and the route of the plan just made and keeps the properties."""
        ndim = len(row) + 1
        b, o = (_lib.c_int64 * ndim)(), (_lib.c_int64 * ndim)()
        call(self._kind + "_shapes", self._handle, ndim, b, o)
        self._block_shape, self._out_shape = tuple(b), tuple(o)
        route = _lib.c_int32()
        call(self._kind + "_route", self._handle, _byref(route))
        self._route = _ROUTE_NAMES.get(route.value, str(route.value))
        self._dtype = _lib.code_dtype(code)
        self._row_shape = row
        self._limit = limit if limit else _process_limit()
        self._rank = rank

    def close(self):
        """Frees the plan (collective: call it on every rank; idempotent)."""
        HandleOwner.close(self)

    def __repr__(self):
        state = "closed" if self.closed else f"rank {self._rank}"
        return (
            f"<{type(self).__name__} {self._dtype} block {self._block_shape} -> out {self._out_shape} "
            f"route {self._route} ({state})>"
        )

    def execute(self, block, out=None):
        """Collective: moves this rank's ``block`` (shape :attr:`block_shape`,
        the plan's dtype, any layout; or an object with such a ``.mat``)
        into ``out`` (a writable array of shape :attr:`out_shape` and the
        plan's dtype, any layout, not overlapping ``block``; None: a new
        C-ordered array) and returns ``out``.

        A block or ``out`` of the wrong dtype raises TypeError on this rank
        (the other ranks raise ``DgampiError``, ``REMOTE_ERROR``); one of the
        wrong shape on any rank raises ``DgampiError`` on every rank. Either
        way nothing moves and the plan stays usable. A closed plan raises
        ``DgampiError`` (``INVALID_HANDLE``).
        """
        h = self._handle
        name = self._kind + "_execute"
        if not h.value:
            raise DgampiError(
                _lib_status("INVALID_HANDLE"), f"the {type(self).__name__} is closed; it cannot be used after close()",
                "dgampi_" + name,
            )
        try:
            _, arr = _unwrap(block)
            arr = as_array(arr, "block", allow_array_like=True)
            if arr.dtype != self._dtype:
                raise TypeError(f"block has dtype {arr.dtype}, but the plan moves {self._dtype}")
            if out is None:
                out = np.empty(self._out_shape, dtype=self._dtype)
            else:
                out = as_array(out, "out", writable=True)
                if out.dtype != self._dtype:
                    raise TypeError(f"out has dtype {out.dtype}, but the plan moves {self._dtype}")
        except (TypeError, ValueError):
            getattr(fn, name)(h, None, None)  # NULL block: rejected in the execution's agreement
            raise
        block_ptr, _keep_block = desc(arr)
        out_ptr, _keep_out = desc(out)
        call(name, h, block_ptr, out_ptr)
        return out

    __call__ = execute

    @property
    def block_shape(self):
        """This rank's block shape, ``(my_irr, *row_shape)``."""
        return self._block_shape

    @property
    def out_shape(self):
        """This rank's output shape (see the class)."""
        return self._out_shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def row_shape(self):
        """The shape of one q's row (the axes after q of the block)."""
        return self._row_shape

    @property
    def limit(self):
        """The message limit (bytes) every execution uses."""
        return self._limit

    @property
    def route(self):
        """How the rows travel on every execution, chosen at creation (the
        same on every rank): ``"point-to-point"`` (the chunked engine),
        ``"MPI_Alltoallw"`` or ``"MPI_Neighbor_alltoallw"`` (one collective
        per execution). See :func:`dgampi.set_exchange_path`."""
        return self._route


_PLAN_COMMON = """
    ``dtype``: a numpy dtype the package supports (float32, float64,
    complex64, complex128, int32, int64, uint8). ``limit``: the message limit
    in bytes of every execution, fixed when the plan is made: 0 (default) or
    None take ``dgampi.MAX_MPI_BYTES`` now.

    Collective over the ranks of ``irr_dist`` and ``full_dist``; every rank
    passes the same arguments (the library checks ``irrk_inv``, ``dtype``,
    the row shape and ``limit``). Errors as for the one-shot: TypeError /
    ValueError on the rank whose arguments are bad, ``DgampiError``
    (``REMOTE_ERROR``) on the others; disagreements raise ``DgampiError`` on
    every rank. The plan keeps its own duplicate of the communicator: the
    distributors may be closed before it.

    The route (:attr:`route`) is chosen at creation from the process-wide
    exchange path (:func:`dgampi.set_exchange_path`, the same on every rank:
    ``MISMATCH`` everywhere otherwise): the chunked point-to-point engine
    under ``"p2p"``, at one rank, when no rank exchanges rows with another,
    or when some per-peer block exceeds ``limit``; otherwise one
    ``MPI_Alltoallw`` per execution when some rank exchanges rows with more
    than half of the others, else one ``MPI_Neighbor_alltoallw``.

    Lifetime as for :class:`FftPlan`: :meth:`close` (or leaving ``with``)
    frees it and is collective; garbage collection never does (an unclosed
    plan emits a ``ResourceWarning`` and leaks its handle); a closed plan
    raises ``DgampiError`` (``INVALID_HANDLE``), its properties stay
    readable.
    """


class MapPlan(_BzPlan):
    __doc__ = (
        """The peer-to-peer unfolding of :func:`exchange_and_map_irrbz_fullbz`,
    ``full[q] = irr[irrk_inv[q]]`` with the optional per-k orbital transform,
    planned once for rows of ``row_shape`` (the axes after q; ``()`` = one
    value per q) and executed any number of times: :meth:`execute` takes
    this rank's irreducible block :attr:`block_shape` ``= (irr_dist.my_size,
    *row_shape)`` and fills :attr:`out_shape` ``= (full_dist.my_size,
    *row_shape)``.

    ``irrk_inv``, ``u_k``, ``sigma_k``, ``conj_k`` and ``n_orb_axes`` are
    those of :func:`exchange_and_map_irrbz_fullbz` (the transform covers this
    rank's full-BZ points or all of them; it is copied into the plan).
    """
        + _PLAN_COMMON
    )

    _destroy = "map_plan_destroy"
    _kind = "map_plan"

    def __init__(
        self, irr_dist, full_dist, irrk_inv, dtype, row_shape=(), u_k=None, sigma_k=None, conj_k=None, *,
        n_orb_axes=None, limit=0,
    ):
        self._handle = self._new_handle()
        irr_h, full_h, error = _handles(irr_dist, full_dist)
        try:
            if error is not None:
                raise error
            code = _lib.dtype_code(dtype, "dtype")
            row = _row_shape(row_shape)
            imap = _irrk_inv(irrk_inv, irr_dist.ntasks, full_dist.ntasks)
            t_ptr, _keep_t = _transform(
                u_k, sigma_k, conj_k, n_orb_axes, _data_spec(code, row), len(row), full_dist.my_size,
                full_dist.ntasks,
            )
            c_limit = _plan_limit(limit)
        except Exception:
            # NULL out: rejected inside the creation's agreement, so every rank fails
            fn.map_plan_create(irr_h, full_h, None, 0, 0, 0, None, None, 0, None)
            raise
        c_row = (_lib.c_int64 * len(row))(*row) if row else None
        call(
            "map_plan_create", irr_h, full_h, _ptr64(imap), imap.size, code, len(row), c_row, t_ptr, c_limit,
            _byref(self._handle),
        )
        self._finish(code, row, c_limit, full_dist.my_rank)


class VslicePlan(_BzPlan):
    __doc__ = (
        """The frequency re-layout of :func:`gather_full_ibz_for_vslice`,
    planned once for a vertex whose rows after q have shape ``row_shape =
    (orb..., n_nu, n_nu')`` and executed any number of times:
    :meth:`execute` takes this rank's block :attr:`block_shape` ``=
    (irr_dist.my_size, orb..., n_nu, n_nu')`` and fills :attr:`out_shape`
    ``= (n_full, orb..., my_nu, n_nu')`` (all q unfolded through
    ``irrk_inv``, this rank's slice of nu).

    ``v_dist`` is the frequency split as for the one-shot: ``(sizes,
    offsets)`` (or the original's ``(sizes, slices)``), the same on every
    rank; None (on every rank) computes the node-aware split of
    :func:`get_node_aware_v_dist` over ``full_dist``'s ranks (collective;
    computed in every creation, so that mixing None and a different split
    fails with MISMATCH on every rank).
    :attr:`v_dist` gives the split in use. A rank with an empty slice
    (:attr:`has_slice` False) still calls :meth:`execute`, which returns a
    zero-size array there (the one-shot returns None). The optional
    transform (``u_k``, ``sigma_k``, ``conj_k``, ``n_orb_axes``) covers all
    ``n_full`` points.
    """
        + _PLAN_COMMON
    )

    _destroy = "vslice_plan_destroy"
    _kind = "vslice_plan"

    def __init__(
        self, irr_dist, full_dist, irrk_inv, v_dist, dtype, row_shape, u_k=None, sigma_k=None, conj_k=None, *,
        n_orb_axes=None, limit=0,
    ):
        self._handle = self._new_handle()
        irr_h, full_h, error = _handles(irr_dist, full_dist)
        size = full_dist.mpi_size
        n_nu = -1
        try:
            if error is not None:
                raise error
            code = _lib.dtype_code(dtype, "dtype")
            row = _row_shape(row_shape)
            if len(row) < 2:
                raise ValueError(f"row_shape must be (orb..., n_nu, n_nu'): 2 or more axes, got {row}")
            n_nu = row[-2]
            imap = _irrk_inv(irrk_inv, irr_dist.ntasks, full_dist.ntasks)
            if v_dist is not None:
                sizes, offsets = _v_dist_arg(v_dist, size, n_nu)
            t_ptr, _keep_t = _transform(
                u_k, sigma_k, conj_k, n_orb_axes, _data_spec(code, row), len(row) - 2, None, full_dist.ntasks
            )
            c_limit = _plan_limit(limit)
        except Exception as err:
            error = err
        # As in gather_full_ibz_for_vslice: every rank joins the node-aware split.
        node_split = _split_on(full_dist, n_nu if error is None else None, error=error)
        if v_dist is None:
            sizes, offsets = node_split
        c_row = (_lib.c_int64 * len(row))(*row)
        call(
            "vslice_plan_create", irr_h, full_h, _ptr64(imap), imap.size, _ptr64(sizes), _ptr64(offsets), code,
            len(row), c_row, t_ptr, c_limit, _byref(self._handle),
        )
        self._sizes, self._offsets = sizes, offsets
        self._finish(code, row, c_limit, full_dist.my_rank)

    @property
    def v_dist(self):
        """The frequency split in use: ``(sizes, offsets)``, int64 arrays (copies)."""
        return self._sizes.copy(), self._offsets.copy()

    @property
    def nu_slice(self):
        """This rank's frequencies, ``slice(offset, offset + size)`` into nu."""
        start = int(self._offsets[self._rank])
        return slice(start, start + int(self._sizes[self._rank]))

    @property
    def has_slice(self):
        """False on a rank whose slice of nu is empty."""
        return bool(self._sizes[self._rank])
