"""Distributed 3-D FFT over the Brillouin zone (``dgampi_fft_*``).

Data are ``[q_flat, batch...]`` with ``q_flat = (ix * ny + iy) * nz + iz``
on an ``nx x ny x nz`` grid, split over the ranks in contiguous blocks with
the excess on the LAST ranks (the split of :class:`dgampi.MpiDistributor`).
Each rank transforms its own C-contiguous block in place; a plan with a
transposed side (``output_layout="transposed"`` or
``input_layout="transposed"``, FFTW-MPI's ``TRANSPOSED_OUT`` / ``_IN``)
works out of place and skips the movement back to (or from) the flat split.
Sign and scaling
follow numpy: ``direction="forward"`` is ``numpy.fft.fftn`` over the three
grid axes, ``"backward"`` is ``numpy.fft.ifftn``, and ``norm`` has numpy's
meaning (``None`` = ``"backward"``: 1/N on the backward transform), plus
``"none"`` (never scaled).

This module only translates arguments; the work is the library's.
Collective calls follow the package's rule: a rank whose Python arguments
are bad raises TypeError / ValueError after joining the library call with an
argument the library rejects, so the other ranks raise
:class:`dgampi.DgampiError` (status ``REMOTE_ERROR``) instead of waiting;
errors the library finds (an empty grid axis, a block of the wrong length on
one rank, a non-complex dtype, ...) raise ``DgampiError`` on every rank.
"""

import collections
import ctypes

import numpy as np
from mpi4py import MPI

from . import _lib
from ._lib import DgampiError, HandleOwner, as_array, call, fn, resolve_limit

__all__ = [
    "FftPlan",
    "FftResult",
    "execute_distributed_fft",
    "get_pencil_indices",
    "export_fft_wisdom",
    "import_fft_wisdom",
    "FFT_FORWARD",
    "FFT_BACKWARD",
    "FFT_LAYOUTS",
    "FFT_STRATEGIES",
    "FFT_NORMS",
    "FFT_RIGORS",
    "FFT_SIDE_LAYOUTS",
]

_byref = ctypes.byref
_P64 = ctypes.POINTER(_lib.c_int64)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

#: ``direction`` codes of the C ABI (the sign of the exponent, as in FFTW).
FFT_FORWARD = -1
FFT_BACKWARD = 1

_DIRECTIONS = {"forward": FFT_FORWARD, "backward": FFT_BACKWARD}
_DIRECTION_NAMES = {code: name for name, code in _DIRECTIONS.items()}
#: ``layout`` names of :func:`get_pencil_indices` and their C codes.
FFT_LAYOUTS = {"flat": 0, "z_pencil": 1, "y_pencil": 2, "x_pencil": 3}
#: ``strategy`` names and their C codes.
FFT_STRATEGIES = {"auto": 0, "batch_transpose": 1, "slab": 2, "pencil": 3}
_STRATEGY_NAMES = {code: name for name, code in FFT_STRATEGIES.items()}
#: ``norm`` values (numpy's, plus ``"none"``) and their C codes; None is numpy's default, ``"backward"``.
FFT_NORMS = {None: 0, "backward": 0, "none": 1, "ortho": 2, "forward": 3}
_NORM_NAMES = {0: "backward", 1: "none", 2: "ortho", 3: "forward"}
#: ``rigor`` names (FFTW's planner flags) and their C codes.
FFT_RIGORS = {"estimate": 0, "measure": 1, "patient": 2}
_RIGOR_NAMES = {code: name for name, code in FFT_RIGORS.items()}
#: ``input_layout`` / ``output_layout`` names: the flat split, or the strategy's transposed layout.
FFT_SIDE_LAYOUTS = ("natural", "transposed")
_SIDE_LAYOUT_CODES = {name: k for k, name in enumerate(FFT_SIDE_LAYOUTS)}
# (input transposed, output transposed) -> dgampi_fft_transposition (0 natural, 1 out, 2 in)
_TRANSPOSITIONS = {(0, 0): 0, (0, 1): 1, (1, 0): 2}
_SIDE_INPUT, _SIDE_OUTPUT = 0, 1

FftResult = collections.namedtuple("FftResult", ["mat", "q_indices", "batch_range"])
FftResult.__doc__ = """What :func:`execute_distributed_fft` returns for a plain array with a
transposed side: ``mat``, this rank's output; ``q_indices``, the flat grid
index of each of its rows (int64); ``batch_range``, the ``range`` of
flattened batch columns it holds."""

_STATUS_INVALID_HANDLE = 12
_STATUS_OUT_OF_RANGE = 4


# ---------------------------------------------------------------- argument translation


def _name(value, table, what):
    """The C code of a name from ``table`` (ValueError / TypeError otherwise)."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what} must be one of {_valid(table)}, not {value!r}")
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"unknown {what} {value!r}; valid: {_valid(table)}") from None


def _valid(table):
    return ", ".join(repr(k) for k in table)


def _direction(value):
    if isinstance(value, str):
        return _name(value, _DIRECTIONS, "direction")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in (-1, 1):
        return int(value)
    raise ValueError(f"direction must be 'forward' (-1) or 'backward' (+1), not {value!r}")


def _integer(value, what, lo=_INT64_MIN, hi=_INT64_MAX):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{what} = {value} is out of range")
    return value


def _int_tuple(value, what):
    """A tuple of integers (an int is a 1-tuple); the library judges the values."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of integers, not {value!r}")
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of integers, not {value!r}") from None
    return tuple(_integer(v, f"{what} entry") for v in items)


def _nq(nq):
    """The grid as a ``(c_int64 * 3)``; extents below 1 are the library's to reject."""
    if nq is None:
        raise TypeError("nq (the grid extents nx, ny, nz) is required")
    t = _int_tuple(nq, "nq")
    if len(t) != 3:
        raise ValueError(f"nq must have three extents (nx, ny, nz), got {tuple(t)}")
    return (_lib.c_int64 * 3)(*t), t


def _limit(limit):
    """None: ``dgampi.MAX_MPI_BYTES`` now; 0: the library's process-wide limit."""
    if limit is not None and not isinstance(limit, bool) and isinstance(limit, (int, np.integer)) and int(limit) == 0:
        return 0
    return resolve_limit(limit)


def _transposition(input_layout, output_layout):
    """The ``dgampi_fft_transposition`` code of the two side layouts."""
    sides = (
        _name(input_layout, _SIDE_LAYOUT_CODES, "input_layout"), _name(output_layout, _SIDE_LAYOUT_CODES, "output_layout"),
    )
    if sides not in _TRANSPOSITIONS:
        raise ValueError(
            "input_layout and output_layout cannot both be 'transposed': one side of a plan is the flat split "
            "(use a transposed-out plan and a transposed-in plan)"
        )
    return _TRANSPOSITIONS[sides]


def _options(direction, norm, strategy, rigor, limit, transposition=0, threads=1):
    opts = _lib.fft_options()  # struct_size and the library's defaults
    opts.threads = _integer(threads, "threads", 1, _INT32_MAX)
    opts.direction = _direction(direction)
    opts.normalization = _name(norm, FFT_NORMS, "norm")
    opts.strategy = _name(strategy, FFT_STRATEGIES, "strategy")
    opts.rigor = _name(rigor, FFT_RIGORS, "rigor")
    opts.limit = _limit(limit)
    opts.transposition = transposition
    return opts


def _unwrap(obj):
    """``(holder_or_None, array)``: an object with ``.mat`` stands for its array."""
    if obj is not None and not isinstance(obj, np.ndarray) and hasattr(obj, "mat"):
        return obj, obj.mat
    return None, obj


def _block(arr, what, dtype=None):
    """Validates the block transformed in place: a writable C-contiguous array."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a numpy array (or an object with a .mat array), not {type(arr).__name__}")
    arr = as_array(arr, what, writable=True)
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{what} has dtype {arr.dtype}, but the plan transforms {dtype} blocks")
    if not arr.flags.c_contiguous:
        raise ValueError(
            f"{what} must be C-contiguous: the FFT works on the array as it lies in memory (shape {arr.shape}, "
            f"strides {arr.strides}); transform np.ascontiguousarray({what}) and copy the result back"
        )
    return arr


# ---------------------------------------------------------------- plan


class FftPlan(HandleOwner):
    """A distributed 3-D FFT of an ``nq = (nx, ny, nz)`` grid whose points
    carry a batch of shape ``batch_shape`` (``()``: one value per q), made
    once and executed any number of times.

    Collective over ``comm`` (an mpi4py communicator; the plan works on its
    own duplicate). Every rank must pass the same arguments; a mismatch or a
    bad value on any rank fails on every rank.

    ``dtype``: complex128 or complex64. ``direction``: ``"forward"`` (numpy's
    ``fftn`` sign, ``-1``) or ``"backward"`` (``ifftn``, ``+1``). ``norm``:
    numpy's ``None`` / ``"backward"`` (1/N on the backward transform),
    ``"ortho"``, ``"forward"`` (1/N on the forward one), or ``"none"`` (never
    scaled). ``strategy``: ``"auto"`` (the library's cost model),
    ``"batch_transpose"``, ``"slab"`` or ``"pencil"``; :attr:`strategy`
    tells the one in use. ``rigor``: FFTW's ``"estimate"``, ``"measure"`` or
    ``"patient"``. ``limit``: the message limit in bytes of every execution,
    fixed when the plan is made: None (default) takes ``dgampi.MAX_MPI_BYTES``
    now, 0 the library's process-wide limit.

    :meth:`execute` transforms this rank's block ``[my_q, *batch_shape]``,
    rows ``offset : offset + my_q`` of the flat q axis, in place.

    ``threads`` (keyword, default 1): threads per rank for the local work
    (FFTW's threaded transforms, the local row copies and the scaling), for
    hybrid MPI + threads runs; it may differ between ranks.

    Transposed layouts (FFTW-MPI's ``TRANSPOSED_OUT`` / ``_IN``; keywords
    ``output_layout`` / ``input_layout``, ``"natural"`` or ``"transposed"``,
    at most one of them ``"transposed"``): that side is in the layout the
    strategy transforms in, saving one all-to-all pass, and :meth:`execute`
    works out of place (``execute(input, out=None)`` returns the output;
    the input is clobbered). This rank's rows of a side are the grid points
    ``input_indices()`` / ``output_indices()`` (flat ``q``, storage order)
    and its columns the flattened batch columns ``input_batch_range`` /
    ``output_batch_range``; ``input_shape`` / ``output_shape`` give the array
    shapes. batch_transpose: every q for a slice of the flattened batch,
    ``(nx*ny*nz, len(batch_range))`` (the slice may be empty); slab: y-slabs
    and pencil: x-pencils, ``(count, *batch_shape)``. A forward plan with
    ``output_layout="transposed"`` and a backward plan with
    ``input_layout="transposed"`` (same grid, batch, strategy and
    communicator size; ``"auto"`` picks the same strategy for both) agree on
    the layout, so a convolution over q needs no flat intermediate::

        with FftPlan(comm, nq, batch, output_layout="transposed") as fwd, \\
                FftPlan(comm, nq, batch, direction="backward", input_layout="transposed") as bwd:
            a_hat = fwd.execute(a_block)            # a_block (flat) is clobbered
            k = kernel.reshape(nx*ny*nz, -1)         # a known [q, *batch] array, flattened batch
            k = k[fwd.output_indices()][:, fwd.output_batch_range].reshape(fwd.output_shape)
            c_block = bwd.execute(a_hat * k)        # flat [my_q, *batch]: ifftn(fftn(a) * k)

    Lifetime: :meth:`close` (also on leaving ``with FftPlan(...) as p:``)
    frees the plan and its duplicated communicator. That is collective (MPI's
    ``MPI_Comm_free``): call it on every rank. Garbage collection never frees
    it: a plan left unclosed emits a ``ResourceWarning`` and leaks its handle.
    A closed plan raises ``DgampiError`` (``INVALID_HANDLE``, "... is
    closed"); its properties stay readable.
    """

    def __init__(
        self, comm, nq, batch_shape=(), dtype=np.complex128, direction="forward", norm=None, strategy="auto",
        rigor="estimate", limit=None, *, input_layout="natural", output_layout="natural", threads=1,
    ):
        self._handle = self._new_handle()
        if comm is None:
            comm = MPI.COMM_WORLD
        f = _lib.fint(comm)  # raised at once: there is no communicator to fail the others on
        try:
            c_nq, nq_t = _nq(nq)
            batch = _int_tuple(() if batch_shape is None else batch_shape, "batch_shape")
            code = _lib.dtype_code(dtype, "dtype")
            opts = _options(direction, norm, strategy, rigor, limit, _transposition(input_layout, output_layout), threads)
        except (TypeError, ValueError):
            # NULL nq: rejected inside the creation's agreement, so every rank fails
            fn.fft_plan_create_f(f, None, 0, None, 0, None, _byref(_lib.Handle()))
            raise
        c_batch = (_lib.c_int64 * len(batch))(*batch) if batch else None
        call("fft_plan_create_f", f, c_nq, len(batch), c_batch, code, _byref(opts), _byref(self._handle))
        strat, my_q, offset = _lib.c_int32(), _lib.c_int64(), _lib.c_int64()
        call("fft_plan_strategy", self._handle, _byref(strat))
        call("fft_plan_local", self._handle, _byref(my_q), _byref(offset))
        self._nq = nq_t
        self._batch_shape = batch
        self._dtype = _lib.code_dtype(code)
        self._direction = _DIRECTION_NAMES[opts.direction]
        self._norm = _NORM_NAMES[opts.normalization]
        self._rigor = _RIGOR_NAMES[opts.rigor]
        self._strategy = _STRATEGY_NAMES.get(strat.value, str(strat.value))
        self._limit = opts.limit if opts.limit else _process_limit()
        self._my_q, self._offset = my_q.value, offset.value
        self._transposition = opts.transposition
        self._threads = opts.threads
        self._sides = tuple(self._side_layout(side) for side in (_SIDE_INPUT, _SIDE_OUTPUT))

    def _side_layout(self, side):
        """``(layout name, shape, batch range)`` of one side on this rank."""
        count, start, length, flat = _lib.c_int64(), _lib.c_int64(), _lib.c_int64(), _lib.c_int32()
        call("fft_plan_layout", self._handle, side, _byref(count), _byref(start), _byref(length), _byref(flat))
        count, start, length = count.value, start.value, length.value
        width = int(np.prod(self._batch_shape, dtype=np.int64))
        whole = start == 0 and length == width and self._strategy != "batch_transpose"
        if flat.value:
            return "natural", (count,) + self._batch_shape, range(start, start + length)
        shape = (count,) + self._batch_shape if whole else (count, length)
        return "transposed", shape, range(start, start + length)

    # ------------------------------------------------------------ lifetime

    _destroy = "fft_plan_destroy"

    def close(self):
        """Frees the plan (collective: call it on every rank; idempotent)."""
        HandleOwner.close(self)

    def __repr__(self):
        state = "closed" if self.closed else f"q {self._offset}:{self._offset + self._my_q}"
        sides = "".join(
            f" {w}_layout={layout!r}" for w, (layout, _, _) in zip(("input", "output"), self._sides) if layout != "natural"
        )
        return (
            f"<FftPlan nq={self._nq} batch_shape={self._batch_shape} {self._dtype} {self._direction} "
            f"norm={self._norm} strategy={self._strategy}{sides} ({state})>"
        )

    # ------------------------------------------------------------ execution

    def execute(self, block, out=None):
        """Collective. Natural plan: transforms this rank's block
        ``[my_q, *batch_shape]`` (a writable C-contiguous array of the plan's
        dtype, or an object with such a ``.mat``) in place and returns
        ``block``; ``out`` must be None.

        Transposed plan: transforms ``block`` (shape :attr:`input_shape`) out
        of place into ``out`` (a writable C-contiguous array of shape
        :attr:`output_shape`, apart from ``block``; None: a new
        ``np.empty(output_shape, dtype)``) and returns ``out``. ``block`` is
        used as work space: its contents are undefined afterwards. A
        transposed side also takes ``(count, len(batch_range))`` when it holds
        the whole batch.

        A non-contiguous array is rejected (ValueError), as the library does:
        transform ``np.ascontiguousarray(x)`` and copy it back. An array of the
        wrong shape on any rank raises ``DgampiError`` on every rank and
        nothing moves.
        """
        h = self._handle
        if not h.value:
            raise DgampiError(
                _STATUS_INVALID_HANDLE, "the FftPlan is closed; it cannot be used after close()",
                "dgampi_fft_plan_execute_into" if self._transposition else "dgampi_fft_plan_execute",
            )
        if not self._transposition:
            try:
                if out is not None:
                    raise ValueError("out= is for plans with a transposed side; this natural plan transforms block in place")
                _, arr = _unwrap(block)
                arr = _block(arr, "block", self._dtype)
            except (TypeError, ValueError):
                fn.fft_plan_execute(h, None)  # NULL block: rejected in the execution's agreement
                raise
            ptr, _keep = _lib.desc(arr)
            call("fft_plan_execute", h, ptr)
            return block
        try:
            _, arr = _unwrap(block)
            arr = _block(arr, "block", self._dtype)
            if out is None:
                out = np.empty(self.output_shape, dtype=self._dtype)
            elif not isinstance(out, np.ndarray):
                raise TypeError(f"out must be a numpy array, not {type(out).__name__}")
            res = _block(out, "out", self._dtype)
        except (TypeError, ValueError):
            fn.fft_plan_execute_into(h, None, None)  # NULL arrays: rejected in the execution's agreement
            raise
        iptr, _ikeep = _lib.desc(arr)
        optr, _okeep = _lib.desc(res)
        call("fft_plan_execute_into", h, iptr, optr)
        return out

    __call__ = execute

    # ------------------------------------------------------------ properties

    @property
    def nq(self):
        """The grid extents ``(nx, ny, nz)``."""
        return self._nq

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def direction(self):
        """``"forward"`` or ``"backward"``."""
        return self._direction

    @property
    def norm(self):
        """``"backward"``, ``"none"``, ``"ortho"`` or ``"forward"``."""
        return self._norm

    @property
    def rigor(self):
        return self._rigor

    @property
    def strategy(self):
        """The strategy in use: ``"batch_transpose"``, ``"slab"`` or ``"pencil"`` (never ``"auto"``)."""
        return self._strategy

    @property
    def limit(self):
        """The message limit (bytes) every execution uses."""
        return self._limit

    @property
    def threads(self):
        """Threads per rank for the local work (FFTW's transforms, local copies, scaling)."""
        return self._threads

    @property
    def my_q(self):
        """This rank's number of q-points (its block's leading length)."""
        return self._my_q

    @property
    def offset(self):
        """This rank's first q in the flat split."""
        return self._offset

    @property
    def my_slice(self):
        """``slice(offset, offset + my_q)`` into the flat q axis."""
        return slice(self._offset, self._offset + self._my_q)

    @property
    def block_shape(self):
        """``(my_q, *batch_shape)``: this rank's block of the flat split."""
        return (self._my_q,) + self._batch_shape

    @property
    def input_layout(self):
        """``"natural"`` (the flat split) or ``"transposed"``."""
        return self._sides[_SIDE_INPUT][0]

    @property
    def output_layout(self):
        """``"natural"`` (the flat split) or ``"transposed"``."""
        return self._sides[_SIDE_OUTPUT][0]

    @property
    def input_shape(self):
        """The shape of this rank's input: :attr:`block_shape` for the flat
        split; ``(count, *batch_shape)`` (slab, pencil) or ``(count,
        len(input_batch_range))`` (batch_transpose) when transposed."""
        return self._sides[_SIDE_INPUT][1]

    @property
    def output_shape(self):
        """The shape of this rank's output (as :attr:`input_shape`)."""
        return self._sides[_SIDE_OUTPUT][1]

    @property
    def input_batch_range(self):
        """The flattened batch columns this rank's input holds (a ``range``;
        all of them except in batch_transpose's transposed layout)."""
        return self._sides[_SIDE_INPUT][2]

    @property
    def output_batch_range(self):
        """The flattened batch columns this rank's output holds (a ``range``)."""
        return self._sides[_SIDE_OUTPUT][2]

    def input_indices(self):
        """The flat grid index ``q`` of each row of this rank's input, in
        storage order (int64; local)."""
        return self._indices(_SIDE_INPUT)

    def output_indices(self):
        """The flat grid index ``q`` of each row of this rank's output, in
        storage order (int64; local)."""
        return self._indices(_SIDE_OUTPUT)

    def _indices(self, side):
        count = _lib.c_size_t()
        call("fft_plan_indices", self._handle, side, None, 0, _byref(count))
        out = np.empty(count.value, dtype=np.int64)
        if out.size:
            call("fft_plan_indices", self._handle, side, out.ctypes.data_as(_P64), out.size, _byref(count))
        return out


def _process_limit():
    out = _lib.c_size_t()
    call("max_message_bytes", _byref(out))
    return out.value


# ---------------------------------------------------------------- one-shot


def execute_distributed_fft(
    obj, comm=None, nq=None, direction="forward", *, norm=None, strategy="auto", rigor="estimate", limit=None,
    output_layout="natural", input_layout="natural", batch_shape=None, threads=1,
):
    """Collective one-shot distributed 3-D FFT: plans for this block,
    transforms it once and frees the plan (prefer :class:`FftPlan` to
    transform more than once).

    ``obj`` is this rank's flat block ``[my_q, batch...]`` (a writable
    C-contiguous complex64 / complex128 array; the batch shape is its
    trailing shape, the same on every rank), or, as in the original module,
    an N-point object whose ``.mat`` is that block and whose ``.nq`` is the
    grid ``(nx, ny, nz)``. ``nq``, when given, is used instead of
    ``obj.nq``; it is required with a plain array. ``comm``: an mpi4py
    communicator (None: ``MPI.COMM_WORLD``). ``direction``, ``norm``,
    ``strategy``, ``rigor``, ``limit`` and ``threads`` as for :class:`FftPlan`.

    Natural layouts (the default): transformed in place; returns ``obj``.

    ``output_layout="transposed"`` or ``input_layout="transposed"`` (as for
    :class:`FftPlan`): out of place into a new array; the input array is
    clobbered (used as work space). With ``input_layout="transposed"`` the
    input is this rank's part of the transposed layout (a transposed-out
    result) and ``batch_shape`` (the batch shape of each grid point) is
    required. An object with ``.mat`` gets ``.mat`` = the output,
    ``.q_indices`` (the flat q of each output row, int64) and
    ``.batch_range`` (its flattened batch columns, a ``range``), and is
    returned; for a plain array an :class:`FftResult` ``(mat, q_indices,
    batch_range)`` is returned.

    The flat blocks must follow the flat split: ``my_q`` is ``nx*ny*nz //
    size``, plus one on the last ``nx*ny*nz % size`` ranks
    (``FftPlan.my_q``, or :func:`get_pencil_indices` with ``"flat"``); a
    wrong length on any rank raises ``DgampiError`` on every rank.
    """
    if comm is None:
        comm = MPI.COMM_WORLD
    f = _lib.fint(comm)
    try:
        holder, arr = _unwrap(obj)
        if nq is None:
            if holder is None:
                raise TypeError("execute_distributed_fft: pass nq=(nx, ny, nz) with a plain array")
            if not hasattr(holder, "nq"):
                raise TypeError(
                    f"execute_distributed_fft: {type(holder).__name__} has .mat but no .nq; pass nq=(nx, ny, nz)"
                )
            nq = holder.nq
        c_nq, nq_t = _nq(nq)
        arr = _block(arr, "obj.mat" if holder is not None else "block")
        transposition = _transposition(input_layout, output_layout)
        opts = _options(direction, norm, strategy, rigor, limit, transposition, threads)
        if transposition == _TRANSPOSITIONS[(1, 0)]:
            if batch_shape is None:
                raise TypeError(
                    "execute_distributed_fft: pass batch_shape= with input_layout='transposed' (a transposed "
                    "input may hold a slice of the flattened batch)"
                )
            batch = _int_tuple(batch_shape, "batch_shape")
        else:
            batch = arr.shape[1:]
            if batch_shape is not None and _int_tuple(batch_shape, "batch_shape") != batch:
                raise ValueError(
                    f"batch_shape={_int_tuple(batch_shape, 'batch_shape')} differs from the block's trailing shape {batch}"
                )
    except (TypeError, ValueError):
        fn.fft_execute_once_f(f, None, None, None)  # NULL nq: every rank fails (in the creation's agreement)
        raise
    if not transposition:
        ptr, _keep = _lib.desc(arr)
        call("fft_execute_once_f", f, c_nq, ptr, _byref(opts))
        return obj
    with FftPlan(
        comm, nq_t, batch, arr.dtype, direction, norm, strategy, rigor, limit,
        input_layout=input_layout, output_layout=output_layout, threads=threads,
    ) as plan:  # close() is collective; an execution failure is raised on every rank, so all close
        out = plan.execute(arr)
        q_indices, batch_range = plan.output_indices(), plan.output_batch_range
    if holder is None or isinstance(holder, FftResult):
        return FftResult(out, q_indices, batch_range)
    holder.mat, holder.q_indices, holder.batch_range = out, q_indices, batch_range
    return holder


# ---------------------------------------------------------------- layouts


def get_pencil_indices(rank, size, nq, layout):
    """The flat q indices rank ``rank`` of ``size`` owns in ``layout``, in
    storage order, as an int64 array (local; no MPI).

    ``layout``: ``"flat"`` (the distributor's contiguous blocks, excess on
    the last ranks; ascending), or ``"z_pencil"`` / ``"y_pencil"`` /
    ``"x_pencil"`` (whole lines along that axis, the lines numbered row-major
    over the two other axes and split with the excess on the FIRST ranks;
    stored line by line, the pencil axis fastest). Over all ranks every
    index appears exactly once. An unknown layout is a ValueError; a rank
    outside ``0..size`` or an empty grid axis a ``DgampiError``.
    """
    code = _name(layout, FFT_LAYOUTS, "layout")
    rank = _integer(rank, "rank", _INT32_MIN, _INT32_MAX)
    size = _integer(size, "size", _INT32_MIN, _INT32_MAX)
    c_nq, _ = _nq(nq)
    count = _lib.c_size_t()
    call("fft_pencil_indices", rank, size, c_nq, code, None, 0, _byref(count))
    out = np.empty(count.value, dtype=np.int64)
    if out.size:
        call("fft_pencil_indices", rank, size, c_nq, code, out.ctypes.data_as(_P64), out.size, _byref(count))
    return out


# ---------------------------------------------------------------- wisdom


def export_fft_wisdom(dtype=np.complex128):
    """FFTW's accumulated wisdom (this process) for ``dtype``'s precision
    (complex128: double, complex64: single) as text."""
    code = _lib.dtype_code(dtype, "dtype")
    needed = _lib.c_size_t()
    for _ in range(16):  # the wisdom may grow between the two calls (another thread planning)
        call("fft_export_wisdom", code, None, 0, _byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        status = fn.fft_export_wisdom(code, buf, len(buf), _byref(needed))
        if status == _STATUS_OUT_OF_RANGE:
            continue
        _lib.check(status, "dgampi_fft_export_wisdom")
        return buf.value.decode("utf-8")
    raise DgampiError(_STATUS_OUT_OF_RANGE, "FFTW's wisdom kept growing while it was exported", "dgampi_fft_export_wisdom")


def import_fft_wisdom(dtype, text):
    """Adds wisdom text (from :func:`export_fft_wisdom`, any process) for
    ``dtype``'s precision to this process's FFTW; plans made afterwards
    with ``rigor="measure"`` / ``"patient"`` reuse it. ``DgampiError`` if
    FFTW rejects the text. Wisdom is per process: import it on every rank."""
    code = _lib.dtype_code(dtype, "dtype")
    if isinstance(text, str):
        text = text.encode("utf-8")
    elif isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text)
    else:
        raise TypeError(f"wisdom text must be str or bytes, not {type(text).__name__}")
    if b"\0" in text:
        raise ValueError("wisdom text contains a NUL character")
    call("fft_import_wisdom", code, text)
