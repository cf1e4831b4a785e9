"""Deterministic test data (identical on every rank) and array layouts."""

import numpy as np
from mpi4py import MPI

WORLD = MPI.COMM_WORLD

DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.int32, np.int64, np.uint8]
DTYPE_IDS = [np.dtype(t).name for t in DTYPES]
LAYOUTS = ["c", "fortran", "reversed", "strided"]


def make(shape, dtype, seed=0):
    """Small integer values (exact in every dtype), complex parts for complex dtypes."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    idx = np.arange(n, dtype=np.int64)
    a = ((idx * 7 + seed * 13 + 1) % 101).reshape(shape)
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (a + 1j * ((idx * 3 + seed * 5) % 17).reshape(shape)).astype(dtype)
    return a.astype(dtype)


def layout(a, kind):
    """The same values as ``a`` in a different memory layout."""
    if kind == "c":
        return np.ascontiguousarray(a)
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "reversed":  # negative strides on axis 0 (and on the last axis)
        flip = (slice(None, None, -1),) * (1 if a.ndim == 1 else 2)
        if a.ndim > 1:
            flip = (slice(None, None, -1), Ellipsis, slice(None, None, -1))
        return np.ascontiguousarray(a[flip])[flip]
    if kind == "strided":  # every second element of a larger buffer
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), dtype=a.dtype)
        big[..., 1::2] = a
        return big[..., 1::2]
    raise ValueError(kind)


def empty_like_layout(shape, dtype, kind):
    """A writable destination of ``shape`` with layout ``kind`` (zero-filled)."""
    return layout(np.zeros(shape, dtype=dtype), kind)


def block_sizes(ntasks, size):
    """Reference split: excess tasks on the LAST ranks."""
    base, extra = divmod(ntasks, size)
    sizes = [base] * size
    for r in range(size - extra, size):
        sizes[r] += 1
    return sizes


def block_slices(ntasks, size):
    sizes = block_sizes(ntasks, size)
    out, start = [], 0
    for s in sizes:
        out.append(slice(start, start + s))
        start += s
    return out


class NPoint:
    """A minimal N-point object: metadata attributes plus a large ``.mat``."""

    def __init__(self, mat, name="G", beta=10.0, channel=None):
        self.mat = mat
        self.name = name
        self.beta = beta
        self.channel = channel
        self.extra = {"orbitals": 2, "note": "x" * 40}

    def __eq__(self, other):
        return (
            type(other) is NPoint
            and self.name == other.name
            and self.beta == other.beta
            and self.channel == other.channel
            and self.extra == other.extra
        )
