"""dgampi: MPI data movement for Brillouin-zone codes (ctypes bindings).

A drop-in for the data-movement part of the original pure-mpi4py module
(``MpiDistributor``, ``send_rows``, ``recv_rows_into``, ...), backed by
``libdgampi.so``. Arrays are numpy arrays (float32, float64, complex64,
complex128, int32, int64, uint8, native byte order; any strides, negative
included - the library packs non-contiguous arrays one bounded chunk at a
time); communicators are mpi4py communicators.

The library is found through the environment variable ``DGAMPI_LIB`` (the
file, or its directory), then next to this package, then on the loader path
(``LD_LIBRARY_PATH``, rpath, ``ldconfig``). mpi4py is imported first, so MPI
is initialized (the library never initializes MPI itself).

The Brillouin-zone routines of the original module are here too:
``exchange_and_map_irrbz_fullbz`` / ``map_irrbz_fullbz`` (irreducible BZ to
full BZ, with the optional per-k orbital transform), ``get_node_aware_v_dist``
and ``gather_full_ibz_for_vslice`` (frequency re-layout of a vertex).
:class:`MapPlan` and :class:`VslicePlan` are the map and the re-layout
as reusable plans (made once, ``execute`` many times into caller arrays);
their ``route`` tells how their rows travel (the chunked point-to-point
engine or one MPI collective per execution), chosen at creation under the
process-wide ``set_exchange_path`` / ``get_exchange_path`` setting.

The distributed 3-D FFT over the BZ grid: :class:`FftPlan` (plan once,
``execute`` many times, in place on each rank's flat block
``[my_q, batch...]``, or out of place with a transposed input or output
side), the one-shot ``execute_distributed_fft``,
``get_pencil_indices`` (the flat / pencil layouts) and FFTW wisdom
(``export_fft_wisdom`` / ``import_fft_wisdom``). Sign and scaling follow
``numpy.fft.fftn`` / ``ifftn``.

``MAX_MPI_BYTES`` is the library's process-wide message-size limit itself
(one source, as in C and Fortran): reading it asks the library, setting it
(``dgampi.MAX_MPI_BYTES = 16`` forces every chunked path) sets the library's
limit, which the next call of any binding sees; ``set_max_message_bytes``
is the same setter. It starts from the ``DGAMPI_MAX_MESSAGE_BYTES``
environment variable when set.

Errors: library failures raise :class:`DgampiError` (a RuntimeError with
``.status``, ``.status_name`` and ``.message``); bad Python arguments raise
TypeError (not an array, unsupported dtype) or ValueError (0-d array, wrong
length, read-only output). A collective call that fails on one rank fails on
every rank (the others get status ``REMOTE_ERROR``), so no rank hangs.
"""

from . import _lib
from ._lib import DgampiError, STATUS_NAMES
from ._primitives import (
    ByteChunk,
    bcast_rows,
    bcast_rows_into,
    byte_chunks,
    chunk_step,
    library_version,
    mpi_build,
    max_message_bytes,
    recv_bytes,
    recv_rows_alloc,
    recv_rows_into,
    row_chunks,
    send_bytes,
    send_rows,
    set_max_message_bytes,
    EXCHANGE_PATHS,
    get_exchange_path,
    set_exchange_path,
)
from ._distributor import MpiDistributor
from ._bzmap import (
    EXCHANGE_ROUTES,
    MapPlan,
    VslicePlan,
    exchange_and_map_irrbz_fullbz,
    gather_full_ibz_for_vslice,
    get_node_aware_v_dist,
    map_irrbz_fullbz,
)
from ._fft import (
    FFT_BACKWARD,
    FFT_FORWARD,
    FFT_LAYOUTS,
    FFT_NORMS,
    FFT_RIGORS,
    FFT_SIDE_LAYOUTS,
    FFT_STRATEGIES,
    FftPlan,
    FftResult,
    execute_distributed_fft,
    export_fft_wisdom,
    get_pencil_indices,
    import_fft_wisdom,
)

__version__ = "0.2.0"



class _DgampiModule(type(_lib)):
    """The module's type: ``MAX_MPI_BYTES`` reads and sets the library's limit."""

    @property
    def MAX_MPI_BYTES(self):
        """Message-size limit in bytes (the library's process-wide value)."""
        return max_message_bytes()

    @MAX_MPI_BYTES.setter
    def MAX_MPI_BYTES(self, nbytes):
        set_max_message_bytes(_lib.resolve_limit(nbytes))


import sys as _sys

_sys.modules[__name__].__class__ = _DgampiModule

#: Tag offset of an N-point object's array chunks (metadata at ``base_tag``).
NPOINT_ARRAY_TAG_OFFSET = _lib.NPOINT_ARRAY_TAG_OFFSET

#: Path of the loaded shared library.
LIBRARY_PATH = _lib.lib_path

STATUS_OK = 0
STATUS_NULL_ARGUMENT = 1
STATUS_INVALID_ARGUMENT = 2
STATUS_MISMATCH = 3
STATUS_OUT_OF_RANGE = 4
STATUS_MPI_NOT_INITIALIZED = 5
STATUS_MPI_ERROR = 6
STATUS_INTERNAL = 7
STATUS_ALLOCATION_FAILED = 8
STATUS_REMOTE_ERROR = 9
STATUS_HDF5_ERROR = 10
STATUS_NOT_FOUND = 11
STATUS_INVALID_HANDLE = 12
STATUS_POISONED = 13

__all__ = [
    "MAX_MPI_BYTES",
    "STATUS_POISONED",
    "DgampiError",
    "MpiDistributor",
    "exchange_and_map_irrbz_fullbz",
    "map_irrbz_fullbz",
    "get_node_aware_v_dist",
    "gather_full_ibz_for_vslice",
    "MapPlan",
    "VslicePlan",
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
    "EXCHANGE_ROUTES",
    "set_exchange_path",
    "get_exchange_path",
    "library_version",
    "mpi_build",
    "STATUS_NAMES",
    "NPOINT_ARRAY_TAG_OFFSET",
    "LIBRARY_PATH",
]
