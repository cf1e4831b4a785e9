! dgampi: Fortran interface to the dgampi C ABI (include/dgampi.h).
!
!   use dgampi
!
! Names and argument order follow the C functions, without the C-only
! arguments (lengths, output pointers, Fortran handles are taken directly):
! fortran/README.md lists every procedure. Conventions:
!
! * Communicators: every routine taking one accepts an `integer` handle
!   (`use mpi`) or a `type(MPI_Comm)` (`use mpi_f08`, when the MPI library
!   has it); both go to the C `_f` entry points.
! * Arrays: assumed-shape arrays of real(4), real(8), complex(4), complex(8),
!   integer(4), integer(8), rank 1 to 7. The distributed (row) axis is the
!   LAST Fortran dimension: a Fortran a(n1, n2) is the C array [n2][n1]. A
!   contiguous array is used in place; a non-contiguous section (a(1:n:2, :),
!   a(:, n:1:-1), ...) is described to the library by its byte strides and
!   read or written in place, never through a hidden copy.
! * Sizes, limits and task counts are integer(int64) (= c_size_t / int64_t);
!   ranks, roots and tags are default integers. `limit` is optional
!   everywhere (absent or 0: the process-wide limit).
! * Errors: every procedure has an optional `ierr` (0 = success, else a
!   DGAMPI_STATUS_* code). Without `ierr`, an error prints the library's
!   message and calls MPI_Abort on MPI_COMM_WORLD, like MPI's own Fortran
!   bindings. dgampi_error_message() returns the message of the last call.
! * The library allocates nothing the caller must free: the C routines that
!   return new buffers are wrapped by Fortran procedures that fill
!   `allocatable` arguments (received bytes, metadata, gathered arrays,
!   spilled datasets, dataset names, unfolded arrays, vertex slices).
! * Brillouin-zone maps: irrk_inv(q) (integer(4) or integer(8)) is the
!   0-based irreducible index of the 1-based full-BZ point q, as in C. The
!   orbital transform (type dgampi_orbital_transform) acts on the orbital
!   axes in Fortran order with U(a, b, k) = row a, column b of U_k.
!   Reusable plans of the peer-to-peer map and of the frequency re-layout
!   (types dgampi_map_plan, dgampi_vslice_plan): created once for a dtype and
!   a row shape (given in Fortran order: shape(block) without its last
!   extent), executed many times into caller arrays, destroyed collectively.
!   Each chooses its route at creation from the process-wide exchange path
!   (dgampi_set_exchange_path); dgampi_map_plan_route and
!   dgampi_vslice_plan_route report it (DGAMPI_EXCHANGE_ROUTE_*).
! * Distributed 3-D FFT (type dgampi_fft_plan): this rank's block
!   a(batch..., my_q) (complex(4) or complex(8), contiguous) is transformed in
!   place; q = (ix*ny + iy)*nz + iz (0-based) runs over the nq(1) x nq(2) x
!   nq(3) grid, split in contiguous blocks as the distributor splits tasks.
!   batch_shape is given in Fortran order (the leading extents of `a`).
!   Transposed plans (transposition = DGAMPI_FFT_TRANSPOSITION_OUT / _IN)
!   run out of place (dgampi_fft_plan_execute_into); their transposed side
!   is t(batch_len, count) (C [count, batch_len]), row k holding grid point
!   indices(k) (0-based q, dgampi_fft_plan_indices) and the flattened batch
!   columns batch_start+1 .. batch_start+batch_len (dgampi_fft_plan_layout).
module dgampi
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
#ifdef DGAMPI_HAVE_MPI_F08
  use mpi_f08, only: MPI_Comm, MPI_COMM_WORLD, MPI_Abort, MPI_Initialized, MPI_Finalized, &
    MPI_Get_library_version, MPI_MAX_LIBRARY_VERSION_STRING
#else
  use mpi, only: MPI_COMM_WORLD, MPI_MAX_LIBRARY_VERSION_STRING
#endif
  implicit none
  private

  ! ---------------------------------------------------------------- constants (dgampi.h)
  integer, parameter, public :: DGAMPI_STATUS_OK = 0
  integer, parameter, public :: DGAMPI_STATUS_NULL_ARGUMENT = 1
  integer, parameter, public :: DGAMPI_STATUS_INVALID_ARGUMENT = 2
  integer, parameter, public :: DGAMPI_STATUS_MISMATCH = 3
  integer, parameter, public :: DGAMPI_STATUS_OUT_OF_RANGE = 4
  integer, parameter, public :: DGAMPI_STATUS_MPI_NOT_INITIALIZED = 5
  integer, parameter, public :: DGAMPI_STATUS_MPI_ERROR = 6
  integer, parameter, public :: DGAMPI_STATUS_INTERNAL = 7
  integer, parameter, public :: DGAMPI_STATUS_ALLOCATION_FAILED = 8
  integer, parameter, public :: DGAMPI_STATUS_REMOTE_ERROR = 9
  integer, parameter, public :: DGAMPI_STATUS_HDF5_ERROR = 10
  integer, parameter, public :: DGAMPI_STATUS_NOT_FOUND = 11
  integer, parameter, public :: DGAMPI_STATUS_INVALID_HANDLE = 12
  integer, parameter, public :: DGAMPI_STATUS_POISONED = 13

  integer, parameter, public :: DGAMPI_DTYPE_F32 = 1
  integer, parameter, public :: DGAMPI_DTYPE_F64 = 2
  integer, parameter, public :: DGAMPI_DTYPE_COMPLEX64 = 3
  integer, parameter, public :: DGAMPI_DTYPE_COMPLEX128 = 4
  integer, parameter, public :: DGAMPI_DTYPE_I32 = 5
  integer, parameter, public :: DGAMPI_DTYPE_I64 = 6
  integer, parameter, public :: DGAMPI_DTYPE_U8 = 7
  !> Node orders of dgampi_node_aware_split (argument `order`): ranks sharing
  !> memory, nodes by lowest rank (default); or the original Python module's
  !> split: nodes by MPI_Get_processor_name in sorted order, slices in rank order.
  integer, parameter, public :: DGAMPI_NODE_ORDER_SHARED_MEMORY = 0
  integer, parameter, public :: DGAMPI_NODE_ORDER_HOST_NAME = 1
  !> MPI ABI families (dgampi_mpi_build): neither, Open MPI, the MPICH family
  !> (MPICH, Intel MPI, MVAPICH, Cray MPICH).
  integer, parameter, public :: DGAMPI_MPI_FAMILY_OTHER = 0
  integer, parameter, public :: DGAMPI_MPI_FAMILY_OPEN_MPI = 1
  integer, parameter, public :: DGAMPI_MPI_FAMILY_MPICH = 2

  !> Largest ndim of the C ABI, and largest rank of the Fortran generics.
  integer, parameter, public :: DGAMPI_MAX_NDIM = 32
  !> Version of this module (and of the header it was built with); the
  !> loaded library's: dgampi_version_numbers; check both with
  !> dgampi_check_version. For 0.x the soname is libdgampi.so.0.MINOR.
#if !defined(DGAMPI_CPP_VERSION_MAJOR) || !defined(DGAMPI_CPP_VERSION_MINOR) || !defined(DGAMPI_CPP_VERSION_PATCH)
#error "compile dgampi.F90 with -DDGAMPI_CPP_VERSION_MAJOR=.. _MINOR=.. _PATCH=.. (fortran/CMakeLists.txt does)"
#endif
  integer, parameter, public :: DGAMPI_VERSION_MAJOR = DGAMPI_CPP_VERSION_MAJOR
  integer, parameter, public :: DGAMPI_VERSION_MINOR = DGAMPI_CPP_VERSION_MINOR
  integer, parameter, public :: DGAMPI_VERSION_PATCH = DGAMPI_CPP_VERSION_PATCH
  integer, parameter, public :: DGAMPI_FORTRAN_MAX_RANK = 7
  integer(c_size_t), parameter, public :: DGAMPI_DEFAULT_MAX_MESSAGE_BYTES = 2147483647_c_size_t
  !> Tag offset of the array chunks of an N-point object (metadata at base_tag).
  integer, parameter, public :: DGAMPI_NPOINT_ARRAY_TAG_OFFSET = 500

  !> FFT direction: the sign of the exponent (forward: exp(-2 pi i k.n / N)).
  integer, parameter, public :: DGAMPI_FFT_DIRECTION_FORWARD = -1
  integer, parameter, public :: DGAMPI_FFT_DIRECTION_BACKWARD = 1
  !> FFT scaling, numpy's names (backward: 1/N on the backward transform).
  integer, parameter, public :: DGAMPI_FFT_NORMALIZATION_BACKWARD = 0
  integer, parameter, public :: DGAMPI_FFT_NORMALIZATION_NONE = 1
  integer, parameter, public :: DGAMPI_FFT_NORMALIZATION_ORTHO = 2
  integer, parameter, public :: DGAMPI_FFT_NORMALIZATION_FORWARD = 3
  !> How the distributed FFT moves data (auto: chosen by the cost model).
  integer, parameter, public :: DGAMPI_FFT_STRATEGY_AUTO = 0
  integer, parameter, public :: DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE = 1
  integer, parameter, public :: DGAMPI_FFT_STRATEGY_SLAB = 2
  integer, parameter, public :: DGAMPI_FFT_STRATEGY_PENCIL = 3
  !> How hard FFTW searches for a fast plan.
  integer, parameter, public :: DGAMPI_FFT_RIGOR_ESTIMATE = 0
  integer, parameter, public :: DGAMPI_FFT_RIGOR_MEASURE = 1
  integer, parameter, public :: DGAMPI_FFT_RIGOR_PATIENT = 2
  !> Which side of a plan is in its strategy's transposed layout (FFTW-MPI's
  !> FFTW_MPI_TRANSPOSED_OUT / _IN): neither (natural: in place, flat in and
  !> out), the output, or the input; transposed plans run out of place with
  !> dgampi_fft_plan_execute_into.
  integer, parameter, public :: DGAMPI_FFT_TRANSPOSITION_NATURAL = 0
  integer, parameter, public :: DGAMPI_FFT_TRANSPOSITION_OUT = 1
  integer, parameter, public :: DGAMPI_FFT_TRANSPOSITION_IN = 2
  !> The sides of a plan (dgampi_fft_plan_layout, dgampi_fft_plan_indices).
  integer, parameter, public :: DGAMPI_FFT_SIDE_INPUT = 0
  integer, parameter, public :: DGAMPI_FFT_SIDE_OUTPUT = 1
  !> Layouts of dgampi_fft_pencil_indices.
  integer, parameter, public :: DGAMPI_LAYOUT_FLAT = 0
  integer, parameter, public :: DGAMPI_LAYOUT_Z_PENCIL = 1
  integer, parameter, public :: DGAMPI_LAYOUT_Y_PENCIL = 2
  integer, parameter, public :: DGAMPI_LAYOUT_X_PENCIL = 3
  !> Exchange path (dgampi_set_exchange_path), process-wide, read by map and
  !> vslice plans at creation: auto (one MPI collective when every per-peer
  !> block fits the message limit, else the chunked point-to-point engine),
  !> always the point-to-point engine, or the collective whenever it fits.
  integer, parameter, public :: DGAMPI_EXCHANGE_PATH_AUTO = 0
  integer, parameter, public :: DGAMPI_EXCHANGE_PATH_POINT_TO_POINT = 1
  integer, parameter, public :: DGAMPI_EXCHANGE_PATH_COLLECTIVE = 2
  !> The route a map or vslice plan chose at creation (dgampi_map_plan_route,
  !> dgampi_vslice_plan_route): the chunked point-to-point engine, one
  !> MPI_Alltoallw, or one MPI_Neighbor_alltoallw per execution.
  integer, parameter, public :: DGAMPI_EXCHANGE_ROUTE_POINT_TO_POINT = 0
  integer, parameter, public :: DGAMPI_EXCHANGE_ROUTE_ALLTOALLW = 1
  integer, parameter, public :: DGAMPI_EXCHANGE_ROUTE_NEIGHBOR_ALLTOALLW = 2

  ! ---------------------------------------------------------------- public types
  !> A distributor (opaque C handle). Create with dgampi_distributor_create,
  !> release with dgampi_distributor_destroy (which nullifies it).
  type, public :: dgampi_distributor
    type(c_ptr) :: ptr = c_null_ptr
  end type dgampi_distributor

  !> A distributed FFT plan (opaque C handle). Create with
  !> dgampi_fft_plan_create, release with dgampi_fft_plan_destroy (which
  !> nullifies it).
  type, public :: dgampi_fft_plan
    type(c_ptr) :: ptr = c_null_ptr
  end type dgampi_fft_plan

  !> A planned IBZ -> full-BZ map (opaque C handle). Create with
  !> dgampi_map_plan_create, release with dgampi_map_plan_destroy (which
  !> nullifies it).
  type, public :: dgampi_map_plan
    type(c_ptr) :: ptr = c_null_ptr
  end type dgampi_map_plan

  !> A planned frequency re-layout (opaque C handle). Create with
  !> dgampi_vslice_plan_create, release with dgampi_vslice_plan_destroy
  !> (which nullifies it).
  type, public :: dgampi_vslice_plan
    type(c_ptr) :: ptr = c_null_ptr
  end type dgampi_vslice_plan

  !> One message of a chunked transfer (struct dgampi_chunk): C values,
  !> 0-based and half-open (rows row_start .. row_stop-1).
  type, bind(C), public :: dgampi_chunk
    integer(c_size_t) :: row_start
    integer(c_size_t) :: row_stop
    integer(c_size_t) :: byte_offset
    integer(c_size_t) :: byte_len
  end type dgampi_chunk

  !> The optional per-k orbital transform of the Brillouin-zone maps (C:
  !> struct dgampi_orbital_transform), for data whose orbital axes are the
  !> `axes` (2 or 4) dimensions right BEFORE the last (q) one, in Fortran
  !> order: X(..., a, b, q) or X(..., a, b, c, d, q). For every point k:
  !>   2 axes: X'(.., a, b, k) = sigma(k) * sum U(a, a') Y(.., a', b', k) conjg(U(b, b'))
  !>           (U Y U^dagger), with Y = conjg(X) where conj(k), else X;
  !>   4 axes: U on the 1st and 3rd orbital axis, U^dagger on the 2nd and
  !>           4th (sigma is not applied: sigma**2 = 1).
  !> u(a, b, k) is row a, column b of U_k (complex(8) whatever the data
  !> type; the data must be complex). u(nb, nb, n), sigma(n) and conj(n)
  !> cover either this rank's full-BZ points (n = my_size) or all of them
  !> (n = ntasks; always all of them for gather_full_ibz_for_vslice).
  !> Build it with the structure constructor:
  !>   dgampi_orbital_transform(u, sigma, conj [, axes])
  type, public :: dgampi_orbital_transform
    complex(c_double_complex), allocatable :: u(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    integer :: axes = 2
  end type dgampi_orbital_transform

  ! ---------------------------------------------------------------- public procedures
  public :: dgampi_error_message, dgampi_version, dgampi_version_numbers, dgampi_check_version
  public :: dgampi_mpi_build, dgampi_check_mpi_library
  public :: dgampi_set_max_message_bytes, dgampi_max_message_bytes
  public :: dgampi_set_exchange_path, dgampi_get_exchange_path
  public :: dgampi_chunk_step, dgampi_row_chunks
  public :: dgampi_send_rows, dgampi_recv_rows_into, dgampi_bcast_rows_into
  public :: dgampi_send_bytes, dgampi_recv_bytes
  public :: dgampi_distributor_create, dgampi_distributor_destroy, dgampi_distributor_create_with_sizes
  public :: dgampi_distributor_ntasks, dgampi_distributor_mpi_size, dgampi_distributor_my_rank
  public :: dgampi_distributor_is_root, dgampi_distributor_my_size, dgampi_distributor_my_offset
  public :: dgampi_distributor_sizes, dgampi_distributor_offsets, dgampi_distributor_comm
  public :: dgampi_distributor_barrier
  public :: dgampi_distributor_scatter_into, dgampi_distributor_gather_into, dgampi_distributor_gather
  public :: dgampi_distributor_allgather_into, dgampi_distributor_allgather
  public :: dgampi_distributor_allreduce, dgampi_distributor_bcast_chunked_into
  public :: dgampi_distributor_bcast_bytes
  public :: dgampi_distributor_send_to_rank, dgampi_distributor_recv_from_rank_into
  public :: dgampi_distributor_open_file, dgampi_distributor_close_file, dgampi_distributor_delete_file
  public :: dgampi_distributor_open_file_read_only, dgampi_distributor_spill_read_only
  public :: dgampi_distributor_spill_write, dgampi_distributor_spill_read_into, dgampi_distributor_spill_read
  public :: dgampi_distributor_spill_shape, dgampi_distributor_spill_list
  public :: dgampi_distributor_spill_remove, dgampi_distributor_spill_path
  public :: dgampi_exchange_and_map_irrbz_fullbz, dgampi_exchange_and_map_irrbz_fullbz_into
  public :: dgampi_map_irrbz_fullbz, dgampi_map_irrbz_fullbz_into
  public :: dgampi_node_aware_split, dgampi_node_aware_split_nodes
  public :: dgampi_gather_full_ibz_for_vslice
  public :: dgampi_map_plan_create, dgampi_map_plan_execute, dgampi_map_plan_shapes, dgampi_map_plan_destroy
  public :: dgampi_map_plan_route
  public :: dgampi_vslice_plan_create, dgampi_vslice_plan_execute, dgampi_vslice_plan_shapes
  public :: dgampi_vslice_plan_destroy, dgampi_vslice_plan_route
  public :: dgampi_fft_plan_create, dgampi_fft_plan_destroy, dgampi_fft_plan_execute
  public :: dgampi_fft_plan_local, dgampi_fft_plan_strategy, dgampi_fft_execute_once
  public :: dgampi_fft_plan_execute_into, dgampi_fft_plan_layout, dgampi_fft_plan_indices
  public :: dgampi_fft_pencil_indices, dgampi_fft_export_wisdom, dgampi_fft_import_wisdom
  ! Deprecated 0.1 names (the same procedures): dgampi_fft_plan_execute,
  ! dgampi_fft_execute_once and dgampi_fft_pencil_indices.
  public :: dgampi_fft_execute, dgampi_execute_distributed_fft, dgampi_get_pencil_indices

  ! ---------------------------------------------------------------- private types
  !> An array as the C ABI sees it: C-order shape and byte strides.
  type :: array_view
    type(c_ptr) :: data = c_null_ptr
    integer(c_int32_t) :: dtype = 0
    integer(c_int32_t) :: ndim = 0            ! 0: no array (a NULL descriptor)
    integer(c_int64_t) :: shape(DGAMPI_FORTRAN_MAX_RANK) = 0
    integer(c_int64_t) :: strides(DGAMPI_FORTRAN_MAX_RANK) = 0
    logical :: strided = .false.              ! .false.: NULL strides (C-contiguous or empty)
  end type array_view

  !> struct dgampi_array.
  type, bind(C) :: c_array
    type(c_ptr) :: data
    integer(c_int32_t) :: dtype
    integer(c_int32_t) :: ndim
    type(c_ptr) :: shape
    type(c_ptr) :: strides
  end type c_array

  !> struct dgampi_orbital_transform.
  type, bind(C) :: c_orbital_transform
    integer(c_size_t) :: struct_size = 0   ! set by dgampi_orbital_transform_init
    type(c_ptr) :: u = c_null_ptr
    integer(c_int64_t) :: n = 0
    integer(c_int64_t) :: nb = 0
    integer(c_int32_t) :: axes = 0
    type(c_ptr) :: sigma = c_null_ptr
    type(c_ptr) :: conj = c_null_ptr
  end type c_orbital_transform

  !> A transform as the C ABI takes it, with the buffers its record points to.
  type :: transform_record
    logical :: given = .false.
    type(c_orbital_transform) :: c
    complex(c_double_complex), allocatable :: u(:, :, :)   ! C order: u(b, a, k) = conjg(U_k(a, b))
    real(c_double), allocatable :: sigma(:)
    integer(c_int8_t), allocatable :: conj(:)
  end type transform_record

  !> struct dgampi_fft_options.
  type, bind(C) :: c_fft_options
    integer(c_size_t) :: struct_size = 0   ! set by dgampi_fft_options_init
    integer(c_int32_t) :: direction = 0
    integer(c_int32_t) :: normalization = 0
    integer(c_int32_t) :: strategy = 0
    integer(c_int32_t) :: rigor = 0
    integer(c_size_t) :: limit = 0
    integer(c_int32_t) :: transposition = 0   ! appended to the first 0.2 layout
    integer(c_int32_t) :: threads = 0         ! appended: threads per rank (0 = 1)
  end type c_fft_options

  !> struct dgampi_owned_array (C-order shape).
  type, bind(C) :: c_owned_array
    type(c_ptr) :: data = c_null_ptr
    integer(c_int32_t) :: dtype = 0
    integer(c_int32_t) :: ndim = 0
    integer(c_int64_t) :: shape(DGAMPI_MAX_NDIM) = 0
  end type c_owned_array

  !> Which Brillouin-zone map map_v runs.
  integer, parameter :: MAP_EXCHANGE = 1, MAP_THROUGH_ROOT = 2

  !> Message of the last call (what dgampi_error_message returns).
  character(len=:), allocatable, save :: last_message

  ! ---------------------------------------------------------------- generics
  interface dgampi_send_bytes
    module procedure send_bytes_i_char, send_bytes_i_int8
#ifdef DGAMPI_HAVE_MPI_F08
    module procedure send_bytes_m_char, send_bytes_m_int8
#endif
  end interface dgampi_send_bytes

  interface dgampi_recv_bytes
    module procedure recv_bytes_i_char, recv_bytes_i_int8
#ifdef DGAMPI_HAVE_MPI_F08
    module procedure recv_bytes_m_char, recv_bytes_m_int8
#endif
  end interface dgampi_recv_bytes

  interface dgampi_distributor_create
    module procedure create_i_32, create_i_64
#ifdef DGAMPI_HAVE_MPI_F08
    module procedure create_m_32, create_m_64
#endif
  end interface dgampi_distributor_create

  interface dgampi_distributor_create_with_sizes
    module procedure create_sizes_i_32, create_sizes_i_64
#ifdef DGAMPI_HAVE_MPI_F08
    module procedure create_sizes_m_32, create_sizes_m_64
#endif
  end interface dgampi_distributor_create_with_sizes

  interface dgampi_distributor_comm
    module procedure comm_i
#ifdef DGAMPI_HAVE_MPI_F08
    module procedure comm_m
#endif
  end interface dgampi_distributor_comm

  interface dgampi_distributor_bcast_bytes
    module procedure bcast_bytes_char, bcast_bytes_int8
  end interface dgampi_distributor_bcast_bytes

  interface dgampi_node_aware_split
    module procedure node_aware_split_32, node_aware_split_64
  end interface dgampi_node_aware_split

  interface dgampi_node_aware_split_nodes
    module procedure split_nodes_32_32, split_nodes_32_64, split_nodes_64_32, split_nodes_64_64
  end interface dgampi_node_aware_split_nodes

  ! irrk_inv and row_shape: integer(4) or integer(8), each.
  interface dgampi_map_plan_create
    module procedure map_plan_create_32_32, map_plan_create_32_64
    module procedure map_plan_create_64_32, map_plan_create_64_64
  end interface dgampi_map_plan_create

  interface dgampi_vslice_plan_create
    module procedure vslice_plan_create_32_32, vslice_plan_create_32_64
    module procedure vslice_plan_create_64_32, vslice_plan_create_64_64
  end interface dgampi_vslice_plan_create

  ! nq and batch_shape: integer(4) or integer(8), each.
  interface dgampi_fft_plan_create
    module procedure fft_plan_create_i_32_32, fft_plan_create_i_32_64
    module procedure fft_plan_create_i_64_32, fft_plan_create_i_64_64
#ifdef DGAMPI_HAVE_MPI_F08
    module procedure fft_plan_create_m_32_32, fft_plan_create_m_32_64
    module procedure fft_plan_create_m_64_32, fft_plan_create_m_64_64
#endif
  end interface dgampi_fft_plan_create

  interface dgampi_fft_pencil_indices
    module procedure pencil_indices_32, pencil_indices_64
  end interface dgampi_fft_pencil_indices
  !> Deprecated 0.1 name of dgampi_fft_pencil_indices.
  interface dgampi_get_pencil_indices
    module procedure pencil_indices_32, pencil_indices_64
  end interface dgampi_get_pencil_indices

  ! Array generics, one specific per element type and rank (generated).
#include "generated/dgampi_generic.inc"

  ! ---------------------------------------------------------------- the C ABI
  interface
    function c_last_error_message(buf, len, needed) bind(C, name='dgampi_last_error_message') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: buf
      integer(c_size_t), value :: len
      integer(c_size_t), intent(out) :: needed
      integer(c_int32_t) :: st
    end function
    function c_version_numbers(major, minor, patch) bind(C, name='dgampi_version_numbers') result(st)
      import :: c_int, c_int32_t
      integer(c_int), intent(out) :: major, minor, patch
      integer(c_int32_t) :: st
    end function
    function c_check_version(major, minor) bind(C, name='dgampi_check_version') result(st)
      import :: c_int, c_int32_t
      integer(c_int), value :: major, minor
      integer(c_int32_t) :: st
    end function
    function c_mpi_build(family, version) bind(C, name='dgampi_mpi_build') result(st)
      import :: c_int, c_ptr, c_int32_t
      integer(c_int), intent(out) :: family
      type(c_ptr), intent(out) :: version
      integer(c_int32_t) :: st
    end function
    function c_check_mpi_library(library_version) bind(C, name='dgampi_check_mpi_library') result(st)
      import :: c_char, c_int32_t
      character(kind=c_char), intent(in) :: library_version(*)
      integer(c_int32_t) :: st
    end function
    function c_version(version) bind(C, name='dgampi_version') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), intent(out) :: version
      integer(c_int32_t) :: st
    end function
    function c_free(p) bind(C, name='dgampi_free') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: p
      integer(c_int32_t) :: st
    end function
    function c_set_max_message_bytes(bytes) bind(C, name='dgampi_set_max_message_bytes') result(st)
      import :: c_size_t, c_int32_t
      integer(c_size_t), value :: bytes
      integer(c_int32_t) :: st
    end function
    function c_max_message_bytes(bytes) bind(C, name='dgampi_max_message_bytes') result(st)
      import :: c_size_t, c_int32_t
      integer(c_size_t), intent(out) :: bytes
      integer(c_int32_t) :: st
    end function
    function c_set_exchange_path(path) bind(C, name='dgampi_set_exchange_path') result(st)
      import :: c_int32_t
      integer(c_int32_t), value :: path
      integer(c_int32_t) :: st
    end function
    function c_get_exchange_path(path) bind(C, name='dgampi_get_exchange_path') result(st)
      import :: c_int32_t
      integer(c_int32_t), intent(out) :: path
      integer(c_int32_t) :: st
    end function
    function c_chunk_step(row_bytes, limit, rows) bind(C, name='dgampi_chunk_step') result(st)
      import :: c_size_t, c_int32_t
      integer(c_size_t), value :: row_bytes, limit
      integer(c_size_t), intent(out) :: rows
      integer(c_int32_t) :: st
    end function
    function c_row_chunks(nrows, row_bytes, limit, index, count, chunk) bind(C, name='dgampi_row_chunks') result(st)
      import :: c_size_t, c_int32_t, c_ptr
      integer(c_size_t), value :: nrows, row_bytes, limit, index
      integer(c_size_t), intent(out) :: count
      type(c_ptr), value :: chunk
      integer(c_int32_t) :: st
    end function

    ! primitives (Fortran-handle twins)
    function c_send_rows_f(comm, a, dest, base_tag, limit) bind(C, name='dgampi_send_rows_f') result(st)
      import :: c_int, c_ptr, c_size_t, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int), value :: dest, base_tag
      type(c_ptr), value :: a
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_recv_rows_into_f(comm, a, source, base_tag, limit) bind(C, name='dgampi_recv_rows_into_f') result(st)
      import :: c_int, c_ptr, c_size_t, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int), value :: source, base_tag
      type(c_ptr), value :: a
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_bcast_rows_into_f(comm, a, root, limit) bind(C, name='dgampi_bcast_rows_into_f') result(st)
      import :: c_int, c_ptr, c_size_t, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int), value :: root
      type(c_ptr), value :: a
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_send_bytes_f(comm, data, len, dest, base_tag, limit) bind(C, name='dgampi_send_bytes_f') result(st)
      import :: c_int, c_ptr, c_size_t, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int), value :: dest, base_tag
      type(c_ptr), value :: data
      integer(c_size_t), value :: len, limit
      integer(c_int32_t) :: st
    end function
    function c_recv_bytes_f(comm, source, base_tag, data, len) bind(C, name='dgampi_recv_bytes_f') result(st)
      import :: c_int, c_ptr, c_size_t, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int), value :: source, base_tag
      type(c_ptr), intent(out) :: data
      integer(c_size_t), intent(out) :: len
      integer(c_int32_t) :: st
    end function

    ! distributor: lifetime and accessors
    function c_distributor_create_f(comm, ntasks, name, output_path, out) &
        bind(C, name='dgampi_distributor_create_f') result(st)
      import :: c_int, c_int64_t, c_ptr, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int64_t), value :: ntasks
      type(c_ptr), value :: name, output_path
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_create_with_sizes_f(comm, sizes, nsizes, name, output_path, out) &
        bind(C, name='dgampi_distributor_create_with_sizes_f') result(st)
      import :: c_int64_t, c_size_t, c_ptr, c_int32_t
      integer, value :: comm  ! MPI_Fint = default integer
      integer(c_int64_t), intent(in) :: sizes(*)
      integer(c_size_t), value :: nsizes
      type(c_ptr), value :: name, output_path
      type(c_ptr), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_destroy(handle) bind(C, name='dgampi_distributor_destroy') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), intent(inout) :: handle
      integer(c_int32_t) :: st
    end function
    ! The scalar accessors are exported by libdgampi but (as of 0.1.0) not
    ! declared in dgampi.h: cbindgen does not see the macro that defines them.
    function c_distributor_ntasks(h, out) bind(C, name='dgampi_distributor_ntasks') result(st)
      import :: c_ptr, c_int64_t, c_int32_t
      type(c_ptr), value :: h
      integer(c_int64_t), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_mpi_size(h, out) bind(C, name='dgampi_distributor_mpi_size') result(st)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: h
      integer(c_int), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_my_rank(h, out) bind(C, name='dgampi_distributor_my_rank') result(st)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: h
      integer(c_int), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_is_root(h, out) bind(C, name='dgampi_distributor_is_root') result(st)
      import :: c_ptr, c_int, c_int32_t
      type(c_ptr), value :: h
      integer(c_int), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_my_size(h, out) bind(C, name='dgampi_distributor_my_size') result(st)
      import :: c_ptr, c_int64_t, c_int32_t
      type(c_ptr), value :: h
      integer(c_int64_t), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_my_offset(h, out) bind(C, name='dgampi_distributor_my_offset') result(st)
      import :: c_ptr, c_int64_t, c_int32_t
      type(c_ptr), value :: h
      integer(c_int64_t), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_distributor_comm_f(h, out) bind(C, name='dgampi_distributor_comm_f') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer, intent(out) :: out  ! MPI_Fint = default integer
      integer(c_int32_t) :: st
    end function
    function c_distributor_sizes(h, out, len) bind(C, name='dgampi_distributor_sizes') result(st)
      import :: c_ptr, c_int64_t, c_size_t, c_int32_t
      type(c_ptr), value :: h
      integer(c_int64_t), intent(out) :: out(*)
      integer(c_size_t), value :: len
      integer(c_int32_t) :: st
    end function
    function c_distributor_offsets(h, out, len) bind(C, name='dgampi_distributor_offsets') result(st)
      import :: c_ptr, c_int64_t, c_size_t, c_int32_t
      type(c_ptr), value :: h
      integer(c_int64_t), intent(out) :: out(*)
      integer(c_size_t), value :: len
      integer(c_int32_t) :: st
    end function
    function c_distributor_barrier(h) bind(C, name='dgampi_distributor_barrier') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: st
    end function

    ! distributor: collectives
    function c_distributor_scatter_into(h, send, out, root, limit) &
        bind(C, name='dgampi_distributor_scatter_into') result(st)
      import :: c_ptr, c_int, c_size_t, c_int32_t
      type(c_ptr), value :: h, send, out
      integer(c_int), value :: root
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_distributor_gather_into(h, block, out, root, limit) &
        bind(C, name='dgampi_distributor_gather_into') result(st)
      import :: c_ptr, c_int, c_size_t, c_int32_t
      type(c_ptr), value :: h, block, out
      integer(c_int), value :: root
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_distributor_allgather_into(h, block, out, limit) &
        bind(C, name='dgampi_distributor_allgather_into') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: h, block, out
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_distributor_allreduce(h, a, limit) bind(C, name='dgampi_distributor_allreduce') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: h, a
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_distributor_bcast_bytes(h, data, len, root, limit, out, out_len) &
        bind(C, name='dgampi_distributor_bcast_bytes') result(st)
      import :: c_ptr, c_int, c_size_t, c_int32_t
      type(c_ptr), value :: h, data
      integer(c_size_t), value :: len, limit
      integer(c_int), value :: root
      type(c_ptr), intent(out) :: out
      integer(c_size_t), intent(out) :: out_len
      integer(c_int32_t) :: st
    end function
    function c_distributor_bcast_chunked_into(h, a, root, limit) &
        bind(C, name='dgampi_distributor_bcast_chunked_into') result(st)
      import :: c_ptr, c_int, c_size_t, c_int32_t
      type(c_ptr), value :: h, a
      integer(c_int), value :: root
      integer(c_size_t), value :: limit
      integer(c_int32_t) :: st
    end function
    function c_distributor_send_to_rank(h, meta, meta_len, mat, dest, base_tag, limit) &
        bind(C, name='dgampi_distributor_send_to_rank') result(st)
      import :: c_ptr, c_int, c_size_t, c_int32_t
      type(c_ptr), value :: h, meta, mat
      integer(c_size_t), value :: meta_len, limit
      integer(c_int), value :: dest, base_tag
      integer(c_int32_t) :: st
    end function
    function c_distributor_recv_from_rank_into(h, source, base_tag, meta, meta_len, mat) &
        bind(C, name='dgampi_distributor_recv_from_rank_into') result(st)
      import :: c_ptr, c_int, c_size_t, c_int32_t
      type(c_ptr), value :: h, mat
      integer(c_int), value :: source, base_tag
      type(c_ptr), intent(out) :: meta
      integer(c_size_t), intent(out) :: meta_len
      integer(c_int32_t) :: st
    end function

    ! distributor: spill file
    function c_distributor_open_file(h) bind(C, name='dgampi_distributor_open_file') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: st
    end function
    function c_distributor_open_file_read_only(h) bind(C, name='dgampi_distributor_open_file_read_only') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_read_only(h, read_only) bind(C, name='dgampi_distributor_spill_read_only') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t), intent(out) :: read_only
      integer(c_int32_t) :: st
    end function
    function c_distributor_close_file(h) bind(C, name='dgampi_distributor_close_file') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: st
    end function
    function c_distributor_delete_file(h) bind(C, name='dgampi_distributor_delete_file') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: h
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_write(h, name, a) bind(C, name='dgampi_distributor_spill_write') result(st)
      import :: c_ptr, c_char, c_int32_t
      type(c_ptr), value :: h, a
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_read_into(h, name, a) bind(C, name='dgampi_distributor_spill_read_into') result(st)
      import :: c_ptr, c_char, c_int32_t
      type(c_ptr), value :: h, a
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_shape(h, name, dtype, ndim, shape) &
        bind(C, name='dgampi_distributor_spill_shape') result(st)
      import :: c_ptr, c_char, c_int32_t, c_int64_t
      type(c_ptr), value :: h
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int32_t), intent(out) :: dtype, ndim
      integer(c_int64_t), intent(out) :: shape(*)
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_list(h, names, count) bind(C, name='dgampi_distributor_spill_list') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: h
      type(c_ptr), intent(out) :: names
      integer(c_size_t), intent(out) :: count
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_remove(h, name) bind(C, name='dgampi_distributor_spill_remove') result(st)
      import :: c_ptr, c_char, c_int32_t
      type(c_ptr), value :: h
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int32_t) :: st
    end function
    function c_distributor_spill_path(h, buf, len, needed) bind(C, name='dgampi_distributor_spill_path') result(st)
      import :: c_ptr, c_char, c_size_t, c_int32_t
      type(c_ptr), value :: h
      character(kind=c_char), intent(out) :: buf(*)
      integer(c_size_t), value :: len
      integer(c_size_t), intent(out) :: needed
      integer(c_int32_t) :: st
    end function

    ! Brillouin-zone maps and the frequency re-layout
    function c_exchange_and_map_irrbz_fullbz_into(irr, full, irrk_inv, n_full, block, transform, limit, out) &
        bind(C, name='dgampi_exchange_and_map_irrbz_fullbz_into') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: irr, full, irrk_inv, block, transform, out
      integer(c_size_t), value :: n_full, limit
      integer(c_int32_t) :: st
    end function
    function c_map_irrbz_fullbz_into(irr, full, irrk_inv, n_full, block, transform, limit, out) &
        bind(C, name='dgampi_map_irrbz_fullbz_into') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: irr, full, irrk_inv, block, transform, out
      integer(c_size_t), value :: n_full, limit
      integer(c_int32_t) :: st
    end function
    function c_node_aware_split_ordered(d, n_nu, order, sizes, offsets, len) &
        bind(C, name='dgampi_node_aware_split_ordered') result(st)
      import :: c_ptr, c_int64_t, c_size_t, c_int32_t
      type(c_ptr), value :: d
      integer(c_int64_t), value :: n_nu
      integer(c_int32_t), value :: order
      integer(c_int64_t), intent(out) :: sizes(*), offsets(*)
      integer(c_size_t), value :: len
      integer(c_int32_t) :: st
    end function
    function c_node_aware_split_nodes(n_nu, nodes, nranks, sizes, offsets) &
        bind(C, name='dgampi_node_aware_split_nodes') result(st)
      import :: c_ptr, c_int64_t, c_size_t, c_int32_t
      integer(c_int64_t), value :: n_nu
      type(c_ptr), value :: nodes
      integer(c_size_t), value :: nranks
      integer(c_int64_t), intent(out) :: sizes(*), offsets(*)
      integer(c_int32_t) :: st
    end function
    function c_gather_full_ibz_for_vslice(irr, full, irrk_inv, n_full, split_sizes, split_offsets, block, &
        transform, limit, out, has_slice) bind(C, name='dgampi_gather_full_ibz_for_vslice') result(st)
      import :: c_ptr, c_size_t, c_int, c_int32_t, c_owned_array
      type(c_ptr), value :: irr, full, irrk_inv, split_sizes, split_offsets, block, transform
      integer(c_size_t), value :: n_full, limit
      type(c_owned_array), intent(out) :: out
      integer(c_int), intent(out) :: has_slice
      integer(c_int32_t) :: st
    end function
    function c_map_plan_create(irr, full, irrk_inv, n_full, dtype, row_ndim, row_shape, transform, limit, out) &
        bind(C, name='dgampi_map_plan_create') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: irr, full, irrk_inv, row_shape, transform
      integer(c_size_t), value :: n_full, limit
      integer(c_int32_t), value :: dtype, row_ndim
      type(c_ptr), intent(inout) :: out
      integer(c_int32_t) :: st
    end function
    function c_map_plan_execute(plan, block, out) bind(C, name='dgampi_map_plan_execute') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan, block, out
      integer(c_int32_t) :: st
    end function
    function c_map_plan_shapes(plan, ndim, block_shape, out_shape) bind(C, name='dgampi_map_plan_shapes') result(st)
      import :: c_ptr, c_int32_t, c_int64_t
      type(c_ptr), value :: plan
      integer(c_int32_t), value :: ndim
      integer(c_int64_t), intent(inout) :: block_shape(*), out_shape(*)
      integer(c_int32_t) :: st
    end function
    function c_map_plan_route(plan, route) bind(C, name='dgampi_map_plan_route') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan
      integer(c_int32_t), intent(out) :: route
      integer(c_int32_t) :: st
    end function
    function c_map_plan_destroy(plan) bind(C, name='dgampi_map_plan_destroy') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), intent(inout) :: plan
      integer(c_int32_t) :: st
    end function
    function c_vslice_plan_create(irr, full, irrk_inv, n_full, split_sizes, split_offsets, dtype, row_ndim, row_shape, &
        transform, limit, out) bind(C, name='dgampi_vslice_plan_create') result(st)
      import :: c_ptr, c_size_t, c_int32_t
      type(c_ptr), value :: irr, full, irrk_inv, split_sizes, split_offsets, row_shape, transform
      integer(c_size_t), value :: n_full, limit
      integer(c_int32_t), value :: dtype, row_ndim
      type(c_ptr), intent(inout) :: out
      integer(c_int32_t) :: st
    end function
    function c_vslice_plan_execute(plan, block, out) bind(C, name='dgampi_vslice_plan_execute') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan, block, out
      integer(c_int32_t) :: st
    end function
    function c_vslice_plan_shapes(plan, ndim, block_shape, out_shape) bind(C, name='dgampi_vslice_plan_shapes') result(st)
      import :: c_ptr, c_int32_t, c_int64_t
      type(c_ptr), value :: plan
      integer(c_int32_t), value :: ndim
      integer(c_int64_t), intent(inout) :: block_shape(*), out_shape(*)
      integer(c_int32_t) :: st
    end function
    function c_vslice_plan_route(plan, route) bind(C, name='dgampi_vslice_plan_route') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan
      integer(c_int32_t), intent(out) :: route
      integer(c_int32_t) :: st
    end function
    function c_vslice_plan_destroy(plan) bind(C, name='dgampi_vslice_plan_destroy') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), intent(inout) :: plan
      integer(c_int32_t) :: st
    end function

    ! distributed FFT
    function c_fft_options_init(opts, struct_size) bind(C, name='dgampi_fft_options_init') result(st)
      import :: c_fft_options, c_int32_t, c_size_t
      type(c_fft_options), intent(inout) :: opts
      integer(c_size_t), value :: struct_size
      integer(c_int32_t) :: st
    end function
    function c_orbital_transform_init(t, struct_size) bind(C, name='dgampi_orbital_transform_init') result(st)
      import :: c_orbital_transform, c_int32_t, c_size_t
      type(c_orbital_transform), intent(inout) :: t
      integer(c_size_t), value :: struct_size
      integer(c_int32_t) :: st
    end function
    function c_fft_plan_create_f(comm, nq, batch_ndim, batch_shape, dtype, opts, out) &
        bind(C, name='dgampi_fft_plan_create_f') result(st)
      import :: c_int, c_ptr, c_int32_t, c_fft_options
      integer, value :: comm  ! MPI_Fint = default integer
      type(c_ptr), value :: nq, batch_shape
      integer(c_int32_t), value :: batch_ndim, dtype
      type(c_fft_options), intent(in) :: opts
      type(c_ptr), intent(inout) :: out
      integer(c_int32_t) :: st
    end function
    function c_fft_execute(plan, block) bind(C, name='dgampi_fft_plan_execute') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan, block
      integer(c_int32_t) :: st
    end function
    function c_fft_execute_into(plan, input, output) bind(C, name='dgampi_fft_plan_execute_into') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan, input, output
      integer(c_int32_t) :: st
    end function
    function c_fft_plan_layout(plan, side, count, batch_start, batch_len, flat) &
        bind(C, name='dgampi_fft_plan_layout') result(st)
      import :: c_ptr, c_int32_t, c_int64_t
      type(c_ptr), value :: plan
      integer(c_int32_t), value :: side
      integer(c_int64_t), intent(out) :: count, batch_start, batch_len
      integer(c_int32_t), intent(out) :: flat
      integer(c_int32_t) :: st
    end function
    function c_fft_plan_indices(plan, side, out, capacity, count) bind(C, name='dgampi_fft_plan_indices') result(st)
      import :: c_ptr, c_int32_t, c_size_t
      type(c_ptr), value :: plan
      integer(c_int32_t), value :: side
      type(c_ptr), value :: out
      integer(c_size_t), value :: capacity
      integer(c_size_t), intent(out) :: count
      integer(c_int32_t) :: st
    end function
    function c_fft_plan_destroy(plan) bind(C, name='dgampi_fft_plan_destroy') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), intent(inout) :: plan
      integer(c_int32_t) :: st
    end function
    function c_fft_plan_strategy(plan, out) bind(C, name='dgampi_fft_plan_strategy') result(st)
      import :: c_ptr, c_int32_t
      type(c_ptr), value :: plan
      integer(c_int32_t), intent(out) :: out
      integer(c_int32_t) :: st
    end function
    function c_fft_plan_local(plan, my_q, offset) bind(C, name='dgampi_fft_plan_local') result(st)
      import :: c_ptr, c_int64_t, c_int32_t
      type(c_ptr), value :: plan
      integer(c_int64_t), intent(out) :: my_q, offset
      integer(c_int32_t) :: st
    end function
    function c_execute_distributed_fft_f(comm, nq, block, opts) &
        bind(C, name='dgampi_fft_execute_once_f') result(st)
      import :: c_int, c_ptr, c_int32_t, c_fft_options
      integer, value :: comm  ! MPI_Fint = default integer
      type(c_ptr), value :: nq, block
      type(c_fft_options), intent(in) :: opts
      integer(c_int32_t) :: st
    end function
    function c_get_pencil_indices(rank, size, nq, layout, out, capacity, count) &
        bind(C, name='dgampi_fft_pencil_indices') result(st)
      import :: c_ptr, c_int32_t, c_int64_t, c_size_t
      integer(c_int32_t), value :: rank, size, layout
      integer(c_int64_t), intent(in) :: nq(*)
      type(c_ptr), value :: out
      integer(c_size_t), value :: capacity
      integer(c_size_t), intent(out) :: count
      integer(c_int32_t) :: st
    end function
    function c_fft_export_wisdom(dtype, buf, capacity, needed) bind(C, name='dgampi_fft_export_wisdom') result(st)
      import :: c_ptr, c_int32_t, c_size_t
      integer(c_int32_t), value :: dtype
      type(c_ptr), value :: buf
      integer(c_size_t), value :: capacity
      integer(c_size_t), intent(out) :: needed
      integer(c_int32_t) :: st
    end function
    function c_fft_import_wisdom(dtype, wisdom) bind(C, name='dgampi_fft_import_wisdom') result(st)
      import :: c_char, c_int32_t
      integer(c_int32_t), value :: dtype
      character(kind=c_char), intent(in) :: wisdom(*)
      integer(c_int32_t) :: st
    end function

    ! libc
    function c_memcpy(dest, src, n) bind(C, name='memcpy') result(p)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: dest, src
      integer(c_size_t), value :: n
      type(c_ptr) :: p
    end function
  end interface

contains

  ! ================================================================ errors

  !> The message of the last dgampi call made through this module (empty
  !> after a success). It names the C function that failed.
  function dgampi_error_message(ierr) result(message)
    integer, intent(out), optional :: ierr
    character(len=:), allocatable :: message
    if (allocated(last_message)) then
      message = last_message
    else
      message = ''
    end if
    if (present(ierr)) ierr = DGAMPI_STATUS_OK
  end function dgampi_error_message

  !> The calling thread's last message from the C library.
  function c_error_text() result(text)
    character(len=:), allocatable :: text
    character(kind=c_char), allocatable, target :: buf(:)
    integer(c_size_t) :: needed
    integer :: n
    ! The size-query convention: ask for the length, then copy the whole message.
    needed = 0
    if (c_last_error_message(c_null_ptr, 0_c_size_t, needed) /= DGAMPI_STATUS_OK .or. needed < 1) then
      text = '(dgampi_last_error_message failed)'
      return
    end if
    allocate (buf(needed))
    buf = c_null_char
    if (c_last_error_message(c_loc(buf), needed, needed) /= DGAMPI_STATUS_OK) then
      text = '(dgampi_last_error_message failed)'
      return
    end if
    n = 0
    do while (n < size(buf))
      if (buf(n + 1) == c_null_char) exit
      n = n + 1
    end do
    text = chars_to_string(buf(1:n))
  end function c_error_text

  !> Records the outcome of a C call and reports it (see report).
  subroutine finish(status, ierr)
    integer(c_int32_t), intent(in) :: status
    integer, intent(out), optional :: ierr
    if (status == DGAMPI_STATUS_OK) then
      last_message = ''
    else
      last_message = c_error_text()
    end if
    call report(int(status), ierr)
  end subroutine finish

  !> Records an error found on the Fortran side (message names the procedure).
  subroutine fail(status, message, ierr)
    integer, intent(in) :: status
    character(len=*), intent(in) :: message
    integer, intent(out), optional :: ierr
    last_message = message
    call report(status, ierr)
  end subroutine fail

  !> Stores `status` in `ierr` when present; otherwise a failure prints the
  !> message and aborts (MPI_Abort on MPI_COMM_WORLD, or error stop without MPI).
  subroutine report(status, ierr)
    integer, intent(in) :: status
    integer, intent(out), optional :: ierr
    logical :: initialized, finalized
#ifndef DGAMPI_HAVE_MPI_F08
    integer :: mpierr
#endif
    if (present(ierr)) then
      ierr = status
      return
    end if
    if (status == DGAMPI_STATUS_OK) return
    write (error_unit, '(a, i0, a)') 'dgampi: error ', status, ' (no ierr argument given): ' // last_message
    flush (error_unit)
#ifdef DGAMPI_HAVE_MPI_F08
    call MPI_Initialized(initialized)
    call MPI_Finalized(finalized)
    if (initialized .and. .not. finalized) call MPI_Abort(MPI_COMM_WORLD, status)
#else
    call MPI_Initialized(initialized, mpierr)
    call MPI_Finalized(finalized, mpierr)
    if (initialized .and. .not. finalized) call MPI_Abort(MPI_COMM_WORLD, status, mpierr)
#endif
    error stop 'dgampi: unrecoverable error'
  end subroutine report

  ! ================================================================ helpers

  !> `limit` argument, absent = 0 (the process-wide limit).
  pure function limit_or_0(limit) result(value)
    integer(c_size_t), intent(in), optional :: limit
    integer(c_size_t) :: value
    value = 0
    if (present(limit)) value = limit
  end function limit_or_0

  !> A Fortran string as a NUL-terminated C string (trailing blanks removed).
  pure function c_string(text) result(out)
    character(len=*), intent(in) :: text
    character(kind=c_char, len=:), allocatable :: out
    out = trim(text) // c_null_char
  end function c_string

  pure function chars_to_string(chars) result(text)
    character(kind=c_char), intent(in) :: chars(:)
    character(len=:), allocatable :: text
    integer :: i
    allocate (character(len=size(chars)) :: text)
    do i = 1, size(chars)
      text(i:i) = chars(i)
    end do
  end function chars_to_string

  !> Length of the NUL-terminated C string at p.
  function c_strlen(p) result(n)
    type(c_ptr), intent(in) :: p
    integer(c_size_t) :: n
    character(kind=c_char), pointer :: chars(:)
    n = 0
    if (.not. c_associated(p)) return
    call c_f_pointer(p, chars, [huge(0)])
    do while (chars(n + 1) /= c_null_char)
      n = n + 1
    end do
  end function c_strlen

  !> Copies `len` bytes at p (a buffer the library allocated) into a string
  !> and releases the buffer.
  subroutine take_string(p, len, text)
    type(c_ptr), intent(in) :: p
    integer(c_size_t), intent(in) :: len
    character(len=:), allocatable, intent(out) :: text
    character(kind=c_char), pointer :: chars(:)
    integer(c_int32_t) :: st
    if (len == 0 .or. .not. c_associated(p)) then
      text = ''
    else
      call c_f_pointer(p, chars, [len])
      text = chars_to_string(chars)
    end if
    st = c_free(p)
  end subroutine take_string

  !> Like take_string, into an int8 array.
  subroutine take_int8(p, len, data)
    type(c_ptr), intent(in) :: p
    integer(c_size_t), intent(in) :: len
    integer(c_int8_t), allocatable, intent(out) :: data(:)
    integer(c_int8_t), pointer :: bytes(:)
    integer(c_int32_t) :: st
    allocate (data(len))
    if (len > 0 .and. c_associated(p)) then
      call c_f_pointer(p, bytes, [len])
      data = bytes
    end if
    st = c_free(p)
  end subroutine take_int8

  !> Address of a character buffer (NULL when empty).
  function string_ptr(text) result(p)
    character(len=*), intent(in), target :: text
    type(c_ptr) :: p
    p = c_null_ptr
    if (len(text) > 0) p = c_loc(text)
  end function string_ptr

  !> Address of an int8 buffer (NULL when empty).
  function int8_ptr(data) result(p)
    integer(c_int8_t), intent(in), target, contiguous :: data(:)
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(data) > 0) p = c_loc(data)
  end function int8_ptr

  ! ---------------------------------------------------------------- array views
  ! view_<t>_<r> (generated) describe an array; these fill the description.

  !> An empty array: NULL data, C-order shape.
  subroutine view_empty(v, dtype, n)
    type(array_view), intent(inout) :: v
    integer, intent(in) :: dtype
    integer(c_int64_t), intent(in) :: n(:)
    v%data = c_null_ptr
    v%dtype = int(dtype, c_int32_t)
    v%ndim = int(size(n), c_int32_t)
    v%shape(1:size(n)) = n(size(n):1:-1)
    v%strided = .false.
  end subroutine view_empty

  !> A non-empty array at `base`; next(k) is the address of the element one
  !> step along Fortran dimension k (or the base again when that extent is 1).
  subroutine view_set(v, dtype, n, base, next)
    type(array_view), intent(inout) :: v
    integer, intent(in) :: dtype
    integer(c_int64_t), intent(in) :: n(:)
    type(c_ptr), intent(in) :: base, next(:)
    integer :: k, r
    r = size(n)
    v%data = base
    v%dtype = int(dtype, c_int32_t)
    v%ndim = int(r, c_int32_t)
    do k = 1, r
      ! Fortran dimension k is C axis r-k (0-based), slot r-k+1 here.
      v%shape(r - k + 1) = n(k)
      v%strides(r - k + 1) = address(next(k)) - address(base)
    end do
    v%strided = .true.
  end subroutine view_set

  pure function address(p) result(a)
    type(c_ptr), intent(in) :: p
    integer(c_intptr_t) :: a
    a = transfer(p, a)
  end function address

  !> The C descriptor of a view (NULL pointer for a missing array, ndim 0).
  !> `c` must stay where it is while the C call runs.
  function c_desc(v, c) result(p)
    type(array_view), intent(in), target :: v
    type(c_array), intent(out), target :: c
    type(c_ptr) :: p
    c%data = v%data
    c%dtype = v%dtype
    c%ndim = v%ndim
    c%shape = c_loc(v%shape)
    c%strides = c_null_ptr
    if (v%strided) c%strides = c_loc(v%strides)
    p = c_loc(c)
    if (v%ndim == 0) p = c_null_ptr
  end function c_desc

  !> Fortran shape of the gathered array: block's leading dimensions, ntasks last.
  logical function gathered_shape(dist, block, n, who, ierr) result(ok)
    type(dgampi_distributor), intent(in) :: dist
    type(array_view), intent(in) :: block
    integer(c_int64_t), intent(out) :: n(:)
    character(len=*), intent(in) :: who
    integer, intent(out), optional :: ierr
    integer :: r, k
    integer(c_int64_t) :: ntasks
    integer(c_int32_t) :: st
    st = c_distributor_ntasks(dist%ptr, ntasks)
    ok = st == DGAMPI_STATUS_OK
    if (.not. ok) then
      call fail(int(st), who // ': ' // c_error_text(), ierr)
      return
    end if
    r = size(n)
    do k = 1, r - 1
      n(k) = block%shape(r - k + 1)
    end do
    n(r) = ntasks
  end function gathered_shape

  !> Whether this process is `rank` of the distributor (false on error).
  logical function is_rank(dist, rank)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(in) :: rank
    integer(c_int) :: mine
    is_rank = c_distributor_my_rank(dist%ptr, mine) == DGAMPI_STATUS_OK .and. mine == rank
  end function is_rank

  !> Fortran shape of dataset `name`, checking its dtype and rank against
  !> the array it is read into.
  logical function stored_shape(dist, name, dtype, n, ierr) result(ok)
    type(dgampi_distributor), intent(in) :: dist
    character(len=*), intent(in) :: name
    integer, intent(in) :: dtype
    integer(c_int64_t), intent(out) :: n(:)
    integer, intent(out), optional :: ierr
    integer(c_int32_t) :: st, stored_dtype, ndim
    integer(c_int64_t) :: cshape(DGAMPI_MAX_NDIM)
    character(len=120) :: what
    st = c_distributor_spill_shape(dist%ptr, c_string(name), stored_dtype, ndim, cshape)
    ok = st == DGAMPI_STATUS_OK
    if (.not. ok) then
      call fail(int(st), 'dgampi_distributor_spill_read: ' // c_error_text(), ierr)
      return
    end if
    ok = stored_dtype == dtype .and. ndim == size(n)
    if (.not. ok) then
      write (what, '(a, i0, a, i0, a, i0, a, i0)') 'stored dtype ', stored_dtype, ', ndim ', ndim, &
        '; the array has dtype ', dtype, ', rank ', size(n)
      call fail(DGAMPI_STATUS_MISMATCH, 'dgampi_distributor_spill_read: dataset "' // trim(name) // &
        '": ' // trim(what), ierr)
      return
    end if
    n = cshape(size(n):1:-1)
  end function stored_shape

  ! ================================================================ library

  !> The library version (e.g. "0.2.0").
  function dgampi_version(ierr) result(version)
    integer, intent(out), optional :: ierr
    character(len=:), allocatable :: version
    type(c_ptr) :: p
    character(kind=c_char), pointer :: chars(:)
    integer(c_int32_t) :: st
    version = ''
    st = c_version(p)
    if (st == DGAMPI_STATUS_OK) then
      call c_f_pointer(p, chars, [c_strlen(p)])
      version = chars_to_string(chars)
    end if
    call finish(st, ierr)
  end function dgampi_version

  !> The loaded library's version numbers.
  subroutine dgampi_version_numbers(major, minor, patch, ierr)
    integer, intent(out) :: major, minor, patch
    integer, intent(out), optional :: ierr
    integer(c_int) :: ma, mi, pa
    ma = -1
    mi = -1
    pa = -1
    call finish(c_version_numbers(ma, mi, pa), ierr)
    major = int(ma)
    minor = int(mi)
    patch = int(pa)
  end subroutine dgampi_version_numbers

  !> Checks that the loaded library serves this module (or a caller built
  !> for version major.minor, when given): DGAMPI_STATUS_MISMATCH, with a
  !> message naming both versions, when it does not (for 0.x the minor
  !> versions must be equal).
  subroutine dgampi_check_version(major, minor, ierr)
    integer, intent(in), optional :: major, minor
    integer, intent(out), optional :: ierr
    integer(c_int) :: ma, mi
    ma = DGAMPI_VERSION_MAJOR
    mi = DGAMPI_VERSION_MINOR
    if (present(major)) ma = int(major, c_int)
    if (present(minor)) mi = int(minor, c_int)
    call finish(c_check_version(ma, mi), ierr)
  end subroutine dgampi_check_version

  !> The MPI the library was compiled for: its ABI family
  !> (DGAMPI_MPI_FAMILY_OPEN_MPI, _MPICH or _OTHER) and the implementation
  !> and version its mpi.h declares (e.g. "MPICH 4.0.2"). Calls no MPI.
  subroutine dgampi_mpi_build(family, version, ierr)
    integer, intent(out) :: family
    character(len=:), allocatable, intent(out), optional :: version
    integer, intent(out), optional :: ierr
    integer(c_int) :: fam
    type(c_ptr) :: p
    character(kind=c_char), pointer :: chars(:)
    integer(c_int32_t) :: st
    fam = -1
    st = c_mpi_build(fam, p)
    family = int(fam)
    if (present(version)) then
      version = ''
      if (st == DGAMPI_STATUS_OK) then
        call c_f_pointer(p, chars, [c_strlen(p)])
        version = chars_to_string(chars)
      end if
    end if
    call finish(st, ierr)
  end subroutine dgampi_mpi_build

  !> Checks that the library was compiled for the MPI this program runs
  !> (its MPI_Get_library_version text, or `library_version` when given):
  !> DGAMPI_STATUS_MISMATCH, with a message naming both, when it is of the
  !> other ABI family (Open MPI against MPICH, Intel MPI, MVAPICH, Cray MPICH).
  subroutine dgampi_check_mpi_library(library_version, ierr)
    character(len=*), intent(in), optional :: library_version
    integer, intent(out), optional :: ierr
    character(len=MPI_MAX_LIBRARY_VERSION_STRING) :: running
    integer :: n
#ifndef DGAMPI_HAVE_MPI_F08
    integer :: mpierr
#endif
    if (present(library_version)) then
      call finish(c_check_mpi_library(c_string(library_version)), ierr)
      return
    end if
    running = ''
#ifdef DGAMPI_HAVE_MPI_F08
    call MPI_Get_library_version(running, n)
#else
    call MPI_Get_library_version(running, n, mpierr)
#endif
    call finish(c_check_mpi_library(c_string(running(1:n))), ierr)
  end subroutine dgampi_check_mpi_library

  !> Sets the process-wide message limit in bytes (1 .. 2147483647).
  subroutine dgampi_set_max_message_bytes(bytes, ierr)
    integer(c_size_t), intent(in) :: bytes
    integer, intent(out), optional :: ierr
    if (bytes < 0) then
      call fail(DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_set_max_message_bytes: the limit is negative', ierr)
      return
    end if
    call finish(c_set_max_message_bytes(bytes), ierr)
  end subroutine dgampi_set_max_message_bytes

  !> The process-wide message limit in bytes.
  function dgampi_max_message_bytes(ierr) result(bytes)
    integer, intent(out), optional :: ierr
    integer(c_size_t) :: bytes
    bytes = 0
    call finish(c_max_message_bytes(bytes), ierr)
  end function dgampi_max_message_bytes

  !> Sets the process-wide exchange path (DGAMPI_EXCHANGE_PATH_*) that map
  !> and vslice plans created afterwards use; it replaces the environment's
  !> DGAMPI_EXCHANGE_PATH. Every rank must use the same setting (plan
  !> creation checks it: DGAMPI_STATUS_MISMATCH otherwise). Local.
  subroutine dgampi_set_exchange_path(path, ierr)
    integer, intent(in) :: path
    integer, intent(out), optional :: ierr
    call finish(c_set_exchange_path(int(path, c_int32_t)), ierr)
  end subroutine dgampi_set_exchange_path

  !> The process-wide exchange path (DGAMPI_EXCHANGE_PATH_*; -1 after an
  !> error: an invalid DGAMPI_EXCHANGE_PATH in the environment and no path set).
  function dgampi_get_exchange_path(ierr) result(path)
    integer, intent(out), optional :: ierr
    integer :: path
    integer(c_int32_t) :: value, st
    st = c_get_exchange_path(value)
    if (st /= DGAMPI_STATUS_OK) value = -1
    call finish(st, ierr)
    path = int(value)
  end function dgampi_get_exchange_path

  !> How many whole rows of `row_bytes` fit one message under `limit`
  !> (absent or 0: the process-wide limit); at least 1.
  function dgampi_chunk_step(row_bytes, limit, ierr) result(rows)
    integer(c_size_t), intent(in) :: row_bytes
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer(c_size_t) :: rows
    rows = 0
    if (row_bytes < 0 .or. limit_or_0(limit) < 0) then
      call fail(DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_chunk_step: negative row_bytes or limit', ierr)
      return
    end if
    call finish(c_chunk_step(row_bytes, limit_or_0(limit), rows), ierr)
  end function dgampi_chunk_step

  !> Number of messages (`count`) for `nrows` rows of `row_bytes` bytes under
  !> `limit`; with `index` and `chunk`, also the bounds of message `index`
  !> (0-based, as the C values in `chunk`).
  subroutine dgampi_row_chunks(nrows, row_bytes, count, limit, index, chunk, ierr)
    integer(c_size_t), intent(in) :: nrows, row_bytes
    integer(c_size_t), intent(out) :: count
    integer(c_size_t), intent(in), optional :: limit, index
    type(dgampi_chunk), intent(out), optional, target :: chunk
    integer, intent(out), optional :: ierr
    integer(c_size_t) :: at
    type(c_ptr) :: p
    count = 0
    at = 0
    if (present(index)) at = index
    if (nrows < 0 .or. row_bytes < 0 .or. limit_or_0(limit) < 0 .or. at < 0) then
      call fail(DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_row_chunks: negative nrows, row_bytes, limit or index', ierr)
      return
    end if
    if (present(chunk) .neqv. present(index)) then
      call fail(DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_row_chunks: give both index and chunk, or neither', ierr)
      return
    end if
    p = c_null_ptr
    if (present(chunk)) p = c_loc(chunk)
    call finish(c_row_chunks(nrows, row_bytes, limit_or_0(limit), at, count, p), ierr)
  end subroutine dgampi_row_chunks

  ! ================================================================ primitives

  subroutine send_rows_v(comm, v, dest, base_tag, limit, ierr)
    integer, intent(in) :: comm, dest, base_tag
    type(array_view), intent(in), target :: v
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: c
    call finish(c_send_rows_f(comm, c_desc(v, c), dest, base_tag, limit_or_0(limit)), ierr)
  end subroutine send_rows_v

  subroutine recv_rows_into_v(comm, v, source, base_tag, limit, ierr)
    integer, intent(in) :: comm, source, base_tag
    type(array_view), intent(in), target :: v
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: c
    call finish(c_recv_rows_into_f(comm, c_desc(v, c), source, base_tag, limit_or_0(limit)), ierr)
  end subroutine recv_rows_into_v

  subroutine bcast_rows_into_v(comm, v, root, limit, ierr)
    integer, intent(in) :: comm, root
    type(array_view), intent(in), target :: v
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: c
    call finish(c_bcast_rows_into_f(comm, c_desc(v, c), root, limit_or_0(limit)), ierr)
  end subroutine bcast_rows_into_v

  ! ---------------------------------------------------------------- byte blobs
  ! dgampi_send_bytes(comm, data, dest, base_tag [, limit] [, ierr]):
  !   data is a character string or a contiguous integer(int8) array.
  ! dgampi_recv_bytes(comm, data, source, base_tag [, ierr]):
  !   data is an allocatable character(len=:) or integer(int8) array, (re)allocated.

  subroutine send_bytes_p(comm, p, len, dest, base_tag, limit, ierr)
    integer, intent(in) :: comm, dest, base_tag
    type(c_ptr), intent(in) :: p
    integer(c_size_t), intent(in) :: len
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call finish(c_send_bytes_f(comm, p, len, dest, base_tag, limit_or_0(limit)), ierr)
  end subroutine send_bytes_p

  subroutine send_bytes_i_char(comm, data, dest, base_tag, limit, ierr)
    integer, intent(in) :: comm, dest, base_tag
    character(len=*), intent(in), target :: data
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call send_bytes_p(comm, string_ptr(data), len(data, c_size_t), dest, base_tag, limit, ierr)
  end subroutine send_bytes_i_char

  subroutine send_bytes_i_int8(comm, data, dest, base_tag, limit, ierr)
    integer, intent(in) :: comm, dest, base_tag
    integer(c_int8_t), intent(in), target, contiguous :: data(:)
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call send_bytes_p(comm, int8_ptr(data), size(data, kind=c_size_t), dest, base_tag, limit, ierr)
  end subroutine send_bytes_i_int8

  subroutine recv_bytes_i_char(comm, data, source, base_tag, ierr)
    integer, intent(in) :: comm, source, base_tag
    character(len=:), allocatable, intent(inout) :: data
    integer, intent(out), optional :: ierr
    type(c_ptr) :: p
    integer(c_size_t) :: n
    integer(c_int32_t) :: st
    st = c_recv_bytes_f(comm, source, base_tag, p, n)
    if (st == DGAMPI_STATUS_OK) call take_string(p, n, data)
    call finish(st, ierr)
  end subroutine recv_bytes_i_char

  subroutine recv_bytes_i_int8(comm, data, source, base_tag, ierr)
    integer, intent(in) :: comm, source, base_tag
    integer(c_int8_t), allocatable, intent(inout) :: data(:)
    integer, intent(out), optional :: ierr
    type(c_ptr) :: p
    integer(c_size_t) :: n
    integer(c_int32_t) :: st
    st = c_recv_bytes_f(comm, source, base_tag, p, n)
    if (st == DGAMPI_STATUS_OK) call take_int8(p, n, data)
    call finish(st, ierr)
  end subroutine recv_bytes_i_int8

#ifdef DGAMPI_HAVE_MPI_F08
  subroutine send_bytes_m_char(comm, data, dest, base_tag, limit, ierr)
    type(MPI_Comm), intent(in) :: comm
    character(len=*), intent(in), target :: data
    integer, intent(in) :: dest, base_tag
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call send_bytes_i_char(comm%MPI_VAL, data, dest, base_tag, limit, ierr)
  end subroutine send_bytes_m_char

  subroutine send_bytes_m_int8(comm, data, dest, base_tag, limit, ierr)
    type(MPI_Comm), intent(in) :: comm
    integer(c_int8_t), intent(in), target, contiguous :: data(:)
    integer, intent(in) :: dest, base_tag
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call send_bytes_i_int8(comm%MPI_VAL, data, dest, base_tag, limit, ierr)
  end subroutine send_bytes_m_int8

  subroutine recv_bytes_m_char(comm, data, source, base_tag, ierr)
    type(MPI_Comm), intent(in) :: comm
    character(len=:), allocatable, intent(inout) :: data
    integer, intent(in) :: source, base_tag
    integer, intent(out), optional :: ierr
    call recv_bytes_i_char(comm%MPI_VAL, data, source, base_tag, ierr)
  end subroutine recv_bytes_m_char

  subroutine recv_bytes_m_int8(comm, data, source, base_tag, ierr)
    type(MPI_Comm), intent(in) :: comm
    integer(c_int8_t), allocatable, intent(inout) :: data(:)
    integer, intent(in) :: source, base_tag
    integer, intent(out), optional :: ierr
    call recv_bytes_i_int8(comm%MPI_VAL, data, source, base_tag, ierr)
  end subroutine recv_bytes_m_int8
#endif

  ! ================================================================ distributor: lifetime

  !> Collective: creates `dist`, `ntasks` tasks over a duplicate of `comm`.
  !> `name` and `output_path` (optional) name this rank's spill file
  !> output_path/name_RankNNNNN.hdf5 (no spill file without output_path).
  subroutine create_v(dist, comm, ntasks, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: ntasks
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    character(kind=c_char, len=:), allocatable, target :: cname, cpath
    type(c_ptr) :: pname, ppath
    pname = c_null_ptr
    ppath = c_null_ptr
    if (present(name)) then
      cname = c_string(name)
      pname = c_loc(cname)
    end if
    if (present(output_path)) then
      cpath = c_string(output_path)
      ppath = c_loc(cpath)
    end if
    call finish(c_distributor_create_f(comm, ntasks, pname, ppath, dist%ptr), ierr)
  end subroutine create_v

  subroutine create_i_32(dist, comm, ntasks, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(in) :: comm
    integer(c_int32_t), intent(in) :: ntasks
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_v(dist, comm, int(ntasks, c_int64_t), name, output_path, ierr)
  end subroutine create_i_32

  subroutine create_i_64(dist, comm, ntasks, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: ntasks
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_v(dist, comm, ntasks, name, output_path, ierr)
  end subroutine create_i_64

#ifdef DGAMPI_HAVE_MPI_F08
  subroutine create_m_32(dist, comm, ntasks, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    type(MPI_Comm), intent(in) :: comm
    integer(c_int32_t), intent(in) :: ntasks
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_v(dist, comm%MPI_VAL, int(ntasks, c_int64_t), name, output_path, ierr)
  end subroutine create_m_32

  subroutine create_m_64(dist, comm, ntasks, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    type(MPI_Comm), intent(in) :: comm
    integer(c_int64_t), intent(in) :: ntasks
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_v(dist, comm%MPI_VAL, ntasks, name, output_path, ierr)
  end subroutine create_m_64
#endif

  !> Collective: creates `dist` over a duplicate of `comm` with rank r owning
  !> sizes(r+1) tasks (one entry per rank, the same on every rank: checked;
  !> ranks may own none), e.g. the sizes of dgampi_node_aware_split.
  subroutine create_sizes_v(dist, comm, sizes, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: sizes(:)
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    character(kind=c_char, len=:), allocatable, target :: cname, cpath
    integer(c_int64_t), allocatable :: packed(:)
    type(c_ptr) :: pname, ppath
    pname = c_null_ptr
    ppath = c_null_ptr
    if (present(name)) then
      cname = c_string(name)
      pname = c_loc(cname)
    end if
    if (present(output_path)) then
      cpath = c_string(output_path)
      ppath = c_loc(cpath)
    end if
    allocate (packed, source=sizes)
    call finish(c_distributor_create_with_sizes_f(comm, packed, size(packed, kind=c_size_t), pname, ppath, dist%ptr), ierr)
  end subroutine create_sizes_v

  subroutine create_sizes_i_32(dist, comm, sizes, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(in) :: comm
    integer(c_int32_t), intent(in) :: sizes(:)
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_sizes_v(dist, comm, int(sizes, c_int64_t), name, output_path, ierr)
  end subroutine create_sizes_i_32

  subroutine create_sizes_i_64(dist, comm, sizes, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: sizes(:)
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_sizes_v(dist, comm, sizes, name, output_path, ierr)
  end subroutine create_sizes_i_64

#ifdef DGAMPI_HAVE_MPI_F08
  subroutine create_sizes_m_32(dist, comm, sizes, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    type(MPI_Comm), intent(in) :: comm
    integer(c_int32_t), intent(in) :: sizes(:)
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_sizes_v(dist, comm%MPI_VAL, int(sizes, c_int64_t), name, output_path, ierr)
  end subroutine create_sizes_m_32

  subroutine create_sizes_m_64(dist, comm, sizes, name, output_path, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    type(MPI_Comm), intent(in) :: comm
    integer(c_int64_t), intent(in) :: sizes(:)
    character(len=*), intent(in), optional :: name, output_path
    integer, intent(out), optional :: ierr
    call create_sizes_v(dist, comm%MPI_VAL, sizes, name, output_path, ierr)
  end subroutine create_sizes_m_64
#endif

  !> Collective: destroys `dist` (closing its spill file, freeing its
  !> communicators) and nullifies it; every rank of the distributor must call
  !> it (MPI_Comm_free is collective). Destroying a null distributor is a no-op.
  subroutine dgampi_distributor_destroy(dist, ierr)
    type(dgampi_distributor), intent(inout) :: dist
    integer, intent(out), optional :: ierr
    call finish(c_distributor_destroy(dist%ptr), ierr)
  end subroutine dgampi_distributor_destroy

  ! ================================================================ distributor: accessors

  !> Number of tasks.
  function dgampi_distributor_ntasks(dist, ierr) result(n)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer(c_int64_t) :: n
    n = 0
    call finish(c_distributor_ntasks(dist%ptr, n), ierr)
  end function dgampi_distributor_ntasks

  !> Number of ranks.
  function dgampi_distributor_mpi_size(dist, ierr) result(n)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer :: n
    integer(c_int) :: value
    value = 0
    call finish(c_distributor_mpi_size(dist%ptr, value), ierr)
    n = int(value)
  end function dgampi_distributor_mpi_size

  !> This process's rank (0-based, as in MPI).
  function dgampi_distributor_my_rank(dist, ierr) result(n)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer :: n
    integer(c_int) :: value
    value = -1
    call finish(c_distributor_my_rank(dist%ptr, value), ierr)
    n = int(value)
  end function dgampi_distributor_my_rank

  !> True on rank 0.
  function dgampi_distributor_is_root(dist, ierr) result(yes)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    logical :: yes
    integer(c_int) :: value
    value = 0
    call finish(c_distributor_is_root(dist%ptr, value), ierr)
    yes = value /= 0
  end function dgampi_distributor_is_root

  !> Number of tasks of this rank.
  function dgampi_distributor_my_size(dist, ierr) result(n)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer(c_int64_t) :: n
    n = 0
    call finish(c_distributor_my_size(dist%ptr, n), ierr)
  end function dgampi_distributor_my_size

  !> First task of this rank, 0-based: in 1-based Fortran terms this rank
  !> holds tasks my_offset+1 .. my_offset+my_size.
  function dgampi_distributor_my_offset(dist, ierr) result(n)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer(c_int64_t) :: n
    n = 0
    call finish(c_distributor_my_offset(dist%ptr, n), ierr)
  end function dgampi_distributor_my_offset

  !> Number of tasks of every rank: sizes(r+1) belongs to rank r.
  function dgampi_distributor_sizes(dist, ierr) result(sizes)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer(c_int64_t), allocatable :: sizes(:)
    integer(c_int) :: n
    integer(c_int32_t) :: st
    n = 0
    st = c_distributor_mpi_size(dist%ptr, n)
    allocate (sizes(n))
    if (st == DGAMPI_STATUS_OK) st = c_distributor_sizes(dist%ptr, sizes, size(sizes, kind=c_size_t))
    call finish(st, ierr)
  end function dgampi_distributor_sizes

  !> First task (0-based) of every rank: offsets(r+1) belongs to rank r.
  function dgampi_distributor_offsets(dist, ierr) result(offsets)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    integer(c_int64_t), allocatable :: offsets(:)
    integer(c_int) :: n
    integer(c_int32_t) :: st
    n = 0
    st = c_distributor_mpi_size(dist%ptr, n)
    allocate (offsets(n))
    if (st == DGAMPI_STATUS_OK) st = c_distributor_offsets(dist%ptr, offsets, size(offsets, kind=c_size_t))
    call finish(st, ierr)
  end function dgampi_distributor_offsets

  !> The distributor's private communicator (borrowed: do not free it; valid
  !> until the distributor is destroyed), as an integer handle or MPI_Comm.
  subroutine comm_i(dist, comm, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out) :: comm
    integer, intent(out), optional :: ierr
    integer :: value  ! MPI_Fint
    value = 0
    call finish(c_distributor_comm_f(dist%ptr, value), ierr)
    comm = int(value)
  end subroutine comm_i

#ifdef DGAMPI_HAVE_MPI_F08
  subroutine comm_m(dist, comm, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(MPI_Comm), intent(out) :: comm
    integer, intent(out), optional :: ierr
    call comm_i(dist, comm%MPI_VAL, ierr)
  end subroutine comm_m
#endif

  !> Collective: blocks until every rank arrives.
  subroutine dgampi_distributor_barrier(dist, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    call finish(c_distributor_barrier(dist%ptr), ierr)
  end subroutine dgampi_distributor_barrier

  ! ================================================================ distributor: collectives
  ! The generic dgampi_distributor_<op> (generated) describe the arrays and
  ! call these.

  subroutine scatter_into_v(dist, send, out, root, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(array_view), intent(in), target :: send, out
    integer, intent(in) :: root
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: csend, cout
    call finish(c_distributor_scatter_into(dist%ptr, c_desc(send, csend), c_desc(out, cout), root, &
      limit_or_0(limit)), ierr)
  end subroutine scatter_into_v

  subroutine gather_into_v(dist, block, out, root, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(array_view), intent(in), target :: block, out
    integer, intent(in) :: root
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: cblock, cout
    call finish(c_distributor_gather_into(dist%ptr, c_desc(block, cblock), c_desc(out, cout), root, &
      limit_or_0(limit)), ierr)
  end subroutine gather_into_v

  subroutine allgather_into_v(dist, block, out, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(array_view), intent(in), target :: block, out
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: cblock, cout
    call finish(c_distributor_allgather_into(dist%ptr, c_desc(block, cblock), c_desc(out, cout), &
      limit_or_0(limit)), ierr)
  end subroutine allgather_into_v

  subroutine allreduce_v(dist, a, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(array_view), intent(in), target :: a
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: ca
    call finish(c_distributor_allreduce(dist%ptr, c_desc(a, ca), limit_or_0(limit)), ierr)
  end subroutine allreduce_v

  subroutine bcast_chunked_into_v(dist, a, root, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(array_view), intent(in), target :: a
    integer, intent(in) :: root
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: ca
    call finish(c_distributor_bcast_chunked_into(dist%ptr, c_desc(a, ca), root, limit_or_0(limit)), ierr)
  end subroutine bcast_chunked_into_v

  subroutine send_to_rank_v(dist, meta, mat, dest, base_tag, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=*), intent(in), target :: meta
    type(array_view), intent(in), target :: mat
    integer, intent(in) :: dest, base_tag
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: cmat
    call finish(c_distributor_send_to_rank(dist%ptr, string_ptr(meta), len(meta, c_size_t), c_desc(mat, cmat), &
      dest, base_tag, limit_or_0(limit)), ierr)
  end subroutine send_to_rank_v

  subroutine recv_from_rank_into_v(dist, source, base_tag, meta, mat, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(in) :: source, base_tag
    character(len=:), allocatable, intent(out) :: meta
    type(array_view), intent(in), target :: mat
    integer, intent(out), optional :: ierr
    type(c_array), target :: cmat
    type(c_ptr) :: p
    integer(c_size_t) :: n
    integer(c_int32_t) :: st
    p = c_null_ptr
    n = 0
    st = c_distributor_recv_from_rank_into(dist%ptr, source, base_tag, p, n, c_desc(mat, cmat))
    if (st == DGAMPI_STATUS_OK) then
      call finish(st, ierr)   ! before take_string: dgampi_free resets the C message
      call take_string(p, n, meta)
    else
      meta = ''
      call finish(st, ierr)
    end if
  end subroutine recv_from_rank_into_v

  ! ---------------------------------------------------------------- byte broadcast
  ! dgampi_distributor_bcast_bytes(dist, data, root [, limit] [, ierr]):
  !   collective; `data` (allocatable character(len=:) or integer(int8)
  !   array) holds the blob on the root (unallocated = empty) and is
  !   (re)allocated with the root's blob everywhere else.

  subroutine bcast_bytes_p(dist, p, len, root, limit, out, out_len, ierr)
    type(dgampi_distributor), intent(in) :: dist
    type(c_ptr), intent(in) :: p
    integer(c_size_t), intent(in) :: len
    integer, intent(in) :: root
    integer(c_size_t), intent(in), optional :: limit
    type(c_ptr), intent(out) :: out
    integer(c_size_t), intent(out) :: out_len
    integer, intent(out), optional :: ierr
    out = c_null_ptr
    out_len = 0
    call finish(c_distributor_bcast_bytes(dist%ptr, p, len, root, limit_or_0(limit), out, out_len), ierr)
  end subroutine bcast_bytes_p

  subroutine bcast_bytes_char(dist, data, root, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=:), allocatable, intent(inout), target :: data
    integer, intent(in) :: root
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_ptr) :: p, out
    integer(c_size_t) :: n, out_len
    integer :: st
    p = c_null_ptr
    n = 0
    if (is_rank(dist, root) .and. allocated(data)) then
      p = string_ptr(data)
      n = len(data, c_size_t)
    end if
    call bcast_bytes_p(dist, p, n, root, limit, out, out_len, st)
    if (st == DGAMPI_STATUS_OK .and. .not. is_rank(dist, root)) call take_string(out, out_len, data)
    call report(st, ierr)
  end subroutine bcast_bytes_char

  subroutine bcast_bytes_int8(dist, data, root, limit, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer(c_int8_t), allocatable, intent(inout), target :: data(:)
    integer, intent(in) :: root
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_ptr) :: p, out
    integer(c_size_t) :: n, out_len
    integer :: st
    p = c_null_ptr
    n = 0
    if (is_rank(dist, root) .and. allocated(data)) then
      p = int8_ptr(data)
      n = size(data, kind=c_size_t)
    end if
    call bcast_bytes_p(dist, p, n, root, limit, out, out_len, st)
    if (st == DGAMPI_STATUS_OK .and. .not. is_rank(dist, root)) call take_int8(out, out_len, data)
    call report(st, ierr)
  end subroutine bcast_bytes_int8

  ! ================================================================ distributor: spill file

  !> Opens (creating if absent, never truncating) this rank's spill file.
  subroutine dgampi_distributor_open_file(dist, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    call finish(c_distributor_open_file(dist%ptr), ierr)
  end subroutine dgampi_distributor_open_file

  !> Opens this rank's existing spill file read-only (reopening it when open
  !> read/write): reads work, writes fail with DGAMPI_STATUS_INVALID_ARGUMENT.
  subroutine dgampi_distributor_open_file_read_only(dist, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    call finish(c_distributor_open_file_read_only(dist%ptr), ierr)
  end subroutine dgampi_distributor_open_file_read_only

  !> read_only: the spill file is open but takes no writes (opened read-only,
  !> or after a write failed inside HDF5).
  subroutine dgampi_distributor_spill_read_only(dist, read_only, ierr)
    type(dgampi_distributor), intent(in) :: dist
    logical, intent(out) :: read_only
    integer, intent(out), optional :: ierr
    integer(c_int32_t) :: flag
    flag = 0
    call finish(c_distributor_spill_read_only(dist%ptr, flag), ierr)
    read_only = flag /= 0
  end subroutine dgampi_distributor_spill_read_only

  !> Closes this rank's spill file (safe when closed or absent).
  subroutine dgampi_distributor_close_file(dist, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    call finish(c_distributor_close_file(dist%ptr), ierr)
  end subroutine dgampi_distributor_close_file

  !> Closes and deletes this rank's spill file (safe when absent).
  subroutine dgampi_distributor_delete_file(dist, ierr)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    call finish(c_distributor_delete_file(dist%ptr), ierr)
  end subroutine dgampi_distributor_delete_file

  subroutine spill_write_v(dist, name, a, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=*), intent(in) :: name
    type(array_view), intent(in), target :: a
    integer, intent(out), optional :: ierr
    type(c_array), target :: ca
    call finish(c_distributor_spill_write(dist%ptr, c_string(name), c_desc(a, ca)), ierr)
  end subroutine spill_write_v

  subroutine spill_read_into_v(dist, name, a, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=*), intent(in) :: name
    type(array_view), intent(in), target :: a
    integer, intent(out), optional :: ierr
    type(c_array), target :: ca
    call finish(c_distributor_spill_read_into(dist%ptr, c_string(name), c_desc(a, ca)), ierr)
  end subroutine spill_read_into_v

  !> Dtype code (DGAMPI_DTYPE_*) and Fortran-order shape of dataset `name`
  !> (size(shape) is its rank; shape(size(shape)) is the C axis 0).
  subroutine dgampi_distributor_spill_shape(dist, name, dtype, shape, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=*), intent(in) :: name
    integer, intent(out) :: dtype
    integer(c_int64_t), allocatable, intent(out) :: shape(:)
    integer, intent(out), optional :: ierr
    integer(c_int32_t) :: st, code, ndim
    integer(c_int64_t) :: cshape(DGAMPI_MAX_NDIM)
    code = 0
    ndim = 0
    st = c_distributor_spill_shape(dist%ptr, c_string(name), code, ndim, cshape)
    dtype = int(code)
    if (st == DGAMPI_STATUS_OK) then
      shape = cshape(ndim:1:-1)
    else
      allocate (shape(0))
    end if
    call finish(st, ierr)
  end subroutine dgampi_distributor_spill_shape

  !> Names of the datasets in the spill file, sorted, blank-padded to the
  !> longest (use trim); zero-size when there are none.
  subroutine dgampi_distributor_spill_list(dist, names, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=:), allocatable, intent(out) :: names(:)
    integer, intent(out), optional :: ierr
    type(c_ptr) :: p
    integer(c_size_t) :: count, k, at, n, longest
    integer(c_int32_t) :: st, freed
    character(kind=c_char), pointer :: chars(:)
    p = c_null_ptr
    count = 0
    st = c_distributor_spill_list(dist%ptr, p, count)
    if (st /= DGAMPI_STATUS_OK .or. count == 0 .or. .not. c_associated(p)) then
      allocate (character(len=0) :: names(0))
      call finish(st, ierr)
      if (c_associated(p)) freed = c_free(p)
      return
    end if
    call finish(st, ierr)
    ! count NUL-terminated strings, one after the other.
    call c_f_pointer(p, chars, [huge(0)])
    longest = 0
    at = 0
    do k = 1, count
      n = c_strlen(c_loc(chars(at + 1)))
      longest = max(longest, n)
      at = at + n + 1
    end do
    allocate (character(len=longest) :: names(count))
    at = 0
    do k = 1, count
      n = c_strlen(c_loc(chars(at + 1)))
      names(k) = chars_to_string(chars(at + 1:at + n))
      at = at + n + 1
    end do
    freed = c_free(p)
  end subroutine dgampi_distributor_spill_list

  !> Removes dataset `name` (DGAMPI_STATUS_NOT_FOUND if absent).
  subroutine dgampi_distributor_spill_remove(dist, name, ierr)
    type(dgampi_distributor), intent(in) :: dist
    character(len=*), intent(in) :: name
    integer, intent(out), optional :: ierr
    call finish(c_distributor_spill_remove(dist%ptr, c_string(name)), ierr)
  end subroutine dgampi_distributor_spill_remove

  !> Path of this rank's spill file (DGAMPI_STATUS_INVALID_ARGUMENT without
  !> an output_path).
  function dgampi_distributor_spill_path(dist, ierr) result(path)
    type(dgampi_distributor), intent(in) :: dist
    integer, intent(out), optional :: ierr
    character(len=:), allocatable :: path
    character(kind=c_char), allocatable :: buf(:)
    integer(c_size_t) :: needed
    integer(c_int32_t) :: st
    path = ''
    needed = 0
    allocate (buf(256))
    st = c_distributor_spill_path(dist%ptr, buf, size(buf, kind=c_size_t), needed)
    if (st == DGAMPI_STATUS_OUT_OF_RANGE .and. needed > size(buf)) then
      deallocate (buf)
      allocate (buf(needed))
      st = c_distributor_spill_path(dist%ptr, buf, size(buf, kind=c_size_t), needed)
    end if
    if (st == DGAMPI_STATUS_OK) path = chars_to_string(buf(1:needed - 1))
    call finish(st, ierr)
  end function dgampi_distributor_spill_path

  ! ================================================================ Brillouin-zone maps
  ! The generic dgampi_[exchange_and_]map_irrbz_fullbz[_into] and
  ! dgampi_gather_full_ibz_for_vslice (generated) describe the arrays and
  ! call these. Problems only the Fortran side can see (inconsistent
  ! transform or split arrays) are still passed to the C call, made to fail
  ! there on purpose (n = -1, a NULL split), so that every rank of the
  ! collective returns; this rank then reports the Fortran-side problem.

  !> Address of an int64 buffer (NULL when empty).
  function int64_ptr(a) result(p)
    integer(c_int64_t), intent(in), target, contiguous :: a(:)
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(a) > 0) p = c_loc(a)
  end function int64_ptr

  !> Fills the C record of an optional transform. `problem` is empty when
  !> the Fortran arrays are consistent; otherwise the record has n = -1.
  subroutine transform_set(t, rec, problem)
    type(dgampi_orbital_transform), intent(in), optional :: t
    type(transform_record), intent(inout), target :: rec
    character(len=:), allocatable, intent(out) :: problem
    integer(c_int64_t) :: nb, nb2, n, ns, nc, k
    character(len=200) :: what
    problem = ''
    rec%given = present(t)
    if (.not. present(t)) return
    if (c_orbital_transform_init(rec%c, c_sizeof(rec%c)) /= DGAMPI_STATUS_OK) then
      problem = c_error_text()
      rec%c%n = -1
      return
    end if
    nb = 0
    nb2 = 0
    n = 0
    ns = 0
    nc = 0
    if (allocated(t%u)) then
      nb = size(t%u, 1, c_int64_t)
      nb2 = size(t%u, 2, c_int64_t)
      n = size(t%u, 3, c_int64_t)
    end if
    if (allocated(t%sigma)) ns = size(t%sigma, kind=c_int64_t)
    if (allocated(t%conj)) nc = size(t%conj, kind=c_int64_t)
    rec%c%axes = int(t%axes, c_int32_t)
    if (nb /= nb2 .or. ns /= n .or. nc /= n) then
      write (what, '(a, 3(i0, a), 2(i0, a))') 'the orbital transform has u(', nb, ', ', nb2, ', ', n, '), sigma(', ns, &
        ') and conj(', nc, '): expected u(nb, nb, n), sigma(n), conj(n)'
      problem = trim(what)
      rec%c%n = -1
      return
    end if
    allocate (rec%u(nb, nb, n), rec%sigma(n), rec%conj(n))
    ! C reads u[k][a][b] row-major and applies its matrices to the C axes,
    ! which are the Fortran ones reversed: conjg(transpose(U)) stored
    ! column-major gives U Y U^dagger on the Fortran axes.
    do k = 1, n
      rec%u(:, :, k) = conjg(transpose(t%u(:, :, k)))
    end do
    rec%sigma = t%sigma
    rec%conj = merge(1_c_int8_t, 0_c_int8_t, t%conj)
    rec%c%n = n
    rec%c%nb = nb
    if (size(rec%u) > 0) rec%c%u = c_loc(rec%u)
    if (n > 0) then
      rec%c%sigma = c_loc(rec%sigma)
      rec%c%conj = c_loc(rec%conj)
    end if
  end subroutine transform_set

  !> The record's address, or NULL when no transform was given.
  function transform_ptr(rec) result(p)
    type(transform_record), intent(in), target :: rec
    type(c_ptr) :: p
    p = c_null_ptr
    if (rec%given) p = c_loc(rec%c)
  end function transform_ptr

  !> Records the outcome of a C call, or the Fortran-side problem that made it fail.
  subroutine finish_checked(status, who, problem, ierr)
    integer(c_int32_t), intent(in) :: status
    character(len=*), intent(in) :: who, problem
    integer, intent(out), optional :: ierr
    if (len(problem) > 0) then
      call fail(DGAMPI_STATUS_MISMATCH, who // ': ' // problem, ierr)
    else
      call finish(status, ierr)
    end if
  end subroutine finish_checked

  subroutine map_v(kind, irr, full, irrk_inv, block, out, transform, limit, ierr)
    integer, intent(in) :: kind
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:)
    type(array_view), intent(in), target :: block, out
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(c_array), target :: cblock, cout
    type(transform_record), target :: rec
    integer(c_int64_t), allocatable, target :: map(:)
    character(len=:), allocatable :: problem
    integer(c_int32_t) :: st
    allocate (map, source=irrk_inv)
    call transform_set(transform, rec, problem)
    if (kind == MAP_EXCHANGE) then
      st = c_exchange_and_map_irrbz_fullbz_into(irr%ptr, full%ptr, int64_ptr(map), size(map, kind=c_size_t), &
        c_desc(block, cblock), transform_ptr(rec), limit_or_0(limit), c_desc(out, cout))
      call finish_checked(st, 'dgampi_exchange_and_map_irrbz_fullbz_into', problem, ierr)
    else
      st = c_map_irrbz_fullbz_into(irr%ptr, full%ptr, int64_ptr(map), size(map, kind=c_size_t), &
        c_desc(block, cblock), transform_ptr(rec), limit_or_0(limit), c_desc(out, cout))
      call finish_checked(st, 'dgampi_map_irrbz_fullbz_into', problem, ierr)
    end if
  end subroutine map_v

  !> Fortran shape of the unfolded block: block's leading dimensions, the
  !> full distributor's my_size last.
  logical function mapped_shape(full, block, n, who, ierr) result(ok)
    type(dgampi_distributor), intent(in) :: full
    type(array_view), intent(in) :: block
    integer(c_int64_t), intent(out) :: n(:)
    character(len=*), intent(in) :: who
    integer, intent(out), optional :: ierr
    integer :: r, k
    integer(c_int64_t) :: my
    integer(c_int32_t) :: st
    my = 0
    st = c_distributor_my_size(full%ptr, my)
    ok = st == DGAMPI_STATUS_OK
    if (.not. ok) then
      call fail(int(st), who // ': ' // c_error_text(), ierr)
      return
    end if
    r = size(n)
    do k = 1, r - 1
      n(k) = block%shape(r - k + 1)
    end do
    n(r) = my
  end function mapped_shape

  !> Runs dgampi_gather_full_ibz_for_vslice: on success `owned` holds the
  !> library's result (to be taken by take_owned) and `n` its Fortran shape.
  logical function vslice_v(irr, full, irrk_inv, split_sizes, split_offsets, block, transform, limit, owned, n, &
      has_slice, ierr) result(ok)
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:), split_sizes(:), split_offsets(:)
    type(array_view), intent(in), target :: block
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    type(c_owned_array), intent(out) :: owned
    integer(c_int64_t), intent(out) :: n(:)
    logical, intent(out), optional :: has_slice
    integer, intent(out), optional :: ierr
    character(len=*), parameter :: who = 'dgampi_gather_full_ibz_for_vslice'
    type(c_array), target :: cblock
    type(transform_record), target :: rec
    integer(c_int64_t), allocatable, target :: map(:), sizes(:), offsets(:)
    character(len=:), allocatable :: problem
    character(len=200) :: what
    type(c_ptr) :: psizes, poffsets
    integer(c_int) :: slice
    integer(c_int32_t) :: st, freed
    n = 0
    slice = 0
    if (present(has_slice)) has_slice = .false.
    allocate (map, source=irrk_inv)
    allocate (sizes, source=split_sizes)
    allocate (offsets, source=split_offsets)
    call transform_set(transform, rec, problem)
    call split_set(full, sizes, offsets, psizes, poffsets, problem)
    st = c_gather_full_ibz_for_vslice(irr%ptr, full%ptr, int64_ptr(map), size(map, kind=c_size_t), psizes, poffsets, &
      c_desc(block, cblock), transform_ptr(rec), limit_or_0(limit), owned, slice)
    call finish_checked(st, who, problem, ierr)
    ok = st == DGAMPI_STATUS_OK .and. len(problem) == 0
    if (ok .and. (owned%ndim /= size(n) .or. owned%dtype /= block%dtype)) then
      write (what, '(a, 2(i0, a), 2(i0, a))') 'the library returned dtype ', owned%dtype, ', ndim ', owned%ndim, &
        ' for a block of dtype ', block%dtype, ', rank ', size(n)
      call fail(DGAMPI_STATUS_INTERNAL, who // ': ' // trim(what), ierr)
      ok = .false.
    end if
    if (.not. ok) then
      if (c_associated(owned%data)) freed = c_free(owned%data)
      return
    end if
    n = owned%shape(size(n):1:-1)
    if (present(has_slice)) has_slice = slice /= 0
  end function vslice_v

  !> The addresses of the split arrays for C, or NULL (the C call then fails
  !> on every rank: it reads mpi_size entries) when they do not have one
  !> entry per rank of `full`; `problem` then says so, unless it already
  !> holds an earlier problem.
  subroutine split_set(full, sizes, offsets, psizes, poffsets, problem)
    type(dgampi_distributor), intent(in) :: full
    integer(c_int64_t), intent(in), target, contiguous :: sizes(:), offsets(:)
    type(c_ptr), intent(out) :: psizes, poffsets
    character(len=:), allocatable, intent(inout) :: problem
    character(len=200) :: what
    integer(c_int) :: nranks
    psizes = int64_ptr(sizes)
    poffsets = int64_ptr(offsets)
    nranks = 0
    if (c_distributor_mpi_size(full%ptr, nranks) == DGAMPI_STATUS_OK) then
      if (size(sizes) /= nranks .or. size(offsets) /= nranks) then
        write (what, '(a, 3(i0, a))') 'split_sizes has ', size(sizes), ' entries and split_offsets ', size(offsets), &
          '; expected one per rank (', nranks, ')'
        if (len(problem) == 0) problem = trim(what)
        psizes = c_null_ptr
        poffsets = c_null_ptr
      end if
    end if
  end subroutine split_set

  !> Copies a library-allocated C-contiguous array into `out` (freshly
  !> allocated by the caller with the same shape) and releases it.
  subroutine take_owned(owned, out)
    type(c_owned_array), intent(in) :: owned
    type(array_view), intent(in) :: out
    integer(c_size_t) :: nbytes
    integer(c_int32_t) :: freed
    type(c_ptr) :: p
    nbytes = int(product(owned%shape(1:owned%ndim)), c_size_t) * dtype_bytes(owned%dtype)
    if (nbytes > 0 .and. c_associated(owned%data) .and. c_associated(out%data)) &
      p = c_memcpy(out%data, owned%data, nbytes)
    if (c_associated(owned%data)) freed = c_free(owned%data)
  end subroutine take_owned

  !> Bytes of one element of a dtype code.
  pure function dtype_bytes(dtype) result(n)
    integer(c_int32_t), intent(in) :: dtype
    integer(c_size_t) :: n
    select case (dtype)
    case (DGAMPI_DTYPE_F32, DGAMPI_DTYPE_I32)
      n = 4
    case (DGAMPI_DTYPE_F64, DGAMPI_DTYPE_COMPLEX64, DGAMPI_DTYPE_I64)
      n = 8
    case (DGAMPI_DTYPE_COMPLEX128)
      n = 16
    case (DGAMPI_DTYPE_U8)
      n = 1
    case default
      n = 0
    end select
  end function dtype_bytes


  ! ---------------------------------------------------------------- plans
  ! The reusable forms of dgampi_exchange_and_map_irrbz_fullbz_into and
  ! dgampi_gather_full_ibz_for_vslice: dgampi_map_plan_create and
  ! dgampi_vslice_plan_create agree on everything once (collective); the
  ! generic dgampi_map_plan_execute and dgampi_vslice_plan_execute
  ! (generated) describe the caller's arrays and call the *_execute_v here.
  ! row_shape is given in Fortran order (shape(block) without its last
  ! extent) and reversed here for C; irrk_inv holds 0-based values, as in
  ! the one-shot forms. Fortran-side problems (an inconsistent transform, a
  ! split without one entry per rank) reach the C call as values it rejects
  ! on every rank, as in the one-shot forms.

  !> Collective: plans the peer-to-peer unfolding full(..., q) =
  !> irr(..., irrk_inv(q) + 1) for blocks block(row_shape..., my_irr) of dtype
  !> (DGAMPI_DTYPE_*) into out(row_shape..., my_size(full)), with the
  !> optional transform (copied by the library).
  subroutine map_plan_create_v(plan, irr, full, irrk_inv, dtype, row_shape, transform, limit, ierr)
    type(dgampi_map_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:), row_shape(:)
    integer, intent(in) :: dtype
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(transform_record), target :: rec
    integer(c_int64_t), allocatable, target :: map(:), row(:)
    character(len=:), allocatable :: problem
    integer(c_int32_t) :: st
    allocate (map, source=irrk_inv)
    allocate (row, source=row_shape(size(row_shape):1:-1))   ! C order
    call transform_set(transform, rec, problem)
    plan%ptr = c_null_ptr
    st = c_map_plan_create(irr%ptr, full%ptr, int64_ptr(map), size(map, kind=c_size_t), int(dtype, c_int32_t), &
      int(size(row), c_int32_t), int64_ptr(row), transform_ptr(rec), limit_or_0(limit), plan%ptr)
    call finish_checked(st, 'dgampi_map_plan_create', problem, ierr)
  end subroutine map_plan_create_v

  subroutine map_plan_create_32_32(plan, irr, full, irrk_inv, dtype, row_shape, transform, limit, ierr)
    type(dgampi_map_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int32_t), intent(in) :: irrk_inv(:), row_shape(:)
    integer, intent(in) :: dtype
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call map_plan_create_v(plan, irr, full, int(irrk_inv, c_int64_t), dtype, int(row_shape, c_int64_t), transform, &
      limit, ierr)
  end subroutine map_plan_create_32_32

  subroutine map_plan_create_32_64(plan, irr, full, irrk_inv, dtype, row_shape, transform, limit, ierr)
    type(dgampi_map_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int32_t), intent(in) :: irrk_inv(:)
    integer(c_int64_t), intent(in) :: row_shape(:)
    integer, intent(in) :: dtype
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call map_plan_create_v(plan, irr, full, int(irrk_inv, c_int64_t), dtype, row_shape, transform, limit, ierr)
  end subroutine map_plan_create_32_64

  subroutine map_plan_create_64_32(plan, irr, full, irrk_inv, dtype, row_shape, transform, limit, ierr)
    type(dgampi_map_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:)
    integer(c_int32_t), intent(in) :: row_shape(:)
    integer, intent(in) :: dtype
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call map_plan_create_v(plan, irr, full, irrk_inv, dtype, int(row_shape, c_int64_t), transform, limit, ierr)
  end subroutine map_plan_create_64_32

  subroutine map_plan_create_64_64(plan, irr, full, irrk_inv, dtype, row_shape, transform, limit, ierr)
    type(dgampi_map_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:), row_shape(:)
    integer, intent(in) :: dtype
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call map_plan_create_v(plan, irr, full, irrk_inv, dtype, row_shape, transform, limit, ierr)
  end subroutine map_plan_create_64_64

  subroutine map_plan_execute_v(plan, block, out, ierr)
    type(dgampi_map_plan), intent(in) :: plan
    type(array_view), intent(in), target :: block, out
    integer, intent(out), optional :: ierr
    type(c_array), target :: cblock, cout
    call finish(c_map_plan_execute(plan%ptr, c_desc(block, cblock), c_desc(out, cout)), ierr)
  end subroutine map_plan_execute_v

  !> This rank's block and output shapes, in Fortran order: block_shape =
  !> [row_shape, my_irr], out_shape = [row_shape, my_full]. Both arrays must
  !> have one entry per array dimension (size(row_shape) + 1). Local.
  subroutine dgampi_map_plan_shapes(plan, block_shape, out_shape, ierr)
    type(dgampi_map_plan), intent(in) :: plan
    integer(c_int64_t), intent(out) :: block_shape(:), out_shape(:)
    integer, intent(out), optional :: ierr
    call plan_shapes_v(.false., plan%ptr, block_shape, out_shape, 'dgampi_map_plan_shapes', ierr)
  end subroutine dgampi_map_plan_shapes

  !> The route the plan chose at creation (DGAMPI_EXCHANGE_ROUTE_*; -1
  !> after an error). Local.
  function dgampi_map_plan_route(plan, ierr) result(route)
    type(dgampi_map_plan), intent(in) :: plan
    integer, intent(out), optional :: ierr
    integer :: route
    integer(c_int32_t) :: value, st
    st = c_map_plan_route(plan%ptr, value)
    if (st /= DGAMPI_STATUS_OK) value = -1
    call finish(st, ierr)
    route = int(value)
  end function dgampi_map_plan_route

  !> Collective: destroys the plan and nullifies it; every rank of the plan
  !> must call it (it frees the plan's communicator). Destroying a null plan
  !> is a no-op.
  subroutine dgampi_map_plan_destroy(plan, ierr)
    type(dgampi_map_plan), intent(inout) :: plan
    integer, intent(out), optional :: ierr
    call finish(c_map_plan_destroy(plan%ptr), ierr)
  end subroutine dgampi_map_plan_destroy

  !> Collective: plans the frequency re-layout of
  !> dgampi_gather_full_ibz_for_vslice for vertices block(nu', nu, orb...,
  !> my_irr) of dtype, row_shape = [n_nu', n_nu, orb...] (at least 2
  !> entries), into out(nu', my_nu, orb..., n_full), with the split
  !> split_sizes / split_offsets (one entry per rank) and the optional
  !> transform (covering all n_full points; copied by the library).
  subroutine vslice_plan_create_v(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, row_shape, transform, &
      limit, ierr)
    type(dgampi_vslice_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:), split_sizes(:), split_offsets(:), row_shape(:)
    integer, intent(in) :: dtype
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    type(transform_record), target :: rec
    integer(c_int64_t), allocatable, target :: map(:), sizes(:), offsets(:), row(:)
    character(len=:), allocatable :: problem
    type(c_ptr) :: psizes, poffsets
    integer(c_int32_t) :: st
    allocate (map, source=irrk_inv)
    allocate (sizes, source=split_sizes)
    allocate (offsets, source=split_offsets)
    allocate (row, source=row_shape(size(row_shape):1:-1))   ! C order
    call transform_set(transform, rec, problem)
    call split_set(full, sizes, offsets, psizes, poffsets, problem)
    plan%ptr = c_null_ptr
    st = c_vslice_plan_create(irr%ptr, full%ptr, int64_ptr(map), size(map, kind=c_size_t), psizes, poffsets, &
      int(dtype, c_int32_t), int(size(row), c_int32_t), int64_ptr(row), transform_ptr(rec), limit_or_0(limit), plan%ptr)
    call finish_checked(st, 'dgampi_vslice_plan_create', problem, ierr)
  end subroutine vslice_plan_create_v

  subroutine vslice_plan_create_32_32(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, row_shape, &
      transform, limit, ierr)
    type(dgampi_vslice_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int32_t), intent(in) :: irrk_inv(:)
    integer(c_int64_t), intent(in) :: split_sizes(:), split_offsets(:)
    integer, intent(in) :: dtype
    integer(c_int32_t), intent(in) :: row_shape(:)
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call vslice_plan_create_v(plan, irr, full, int(irrk_inv, c_int64_t), split_sizes, split_offsets, dtype, &
      int(row_shape, c_int64_t), transform, limit, ierr)
  end subroutine vslice_plan_create_32_32

  subroutine vslice_plan_create_32_64(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, row_shape, &
      transform, limit, ierr)
    type(dgampi_vslice_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int32_t), intent(in) :: irrk_inv(:)
    integer(c_int64_t), intent(in) :: split_sizes(:), split_offsets(:)
    integer, intent(in) :: dtype
    integer(c_int64_t), intent(in) :: row_shape(:)
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call vslice_plan_create_v(plan, irr, full, int(irrk_inv, c_int64_t), split_sizes, split_offsets, dtype, &
      row_shape, transform, limit, ierr)
  end subroutine vslice_plan_create_32_64

  subroutine vslice_plan_create_64_32(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, row_shape, &
      transform, limit, ierr)
    type(dgampi_vslice_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:)
    integer(c_int64_t), intent(in) :: split_sizes(:), split_offsets(:)
    integer, intent(in) :: dtype
    integer(c_int32_t), intent(in) :: row_shape(:)
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call vslice_plan_create_v(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, &
      int(row_shape, c_int64_t), transform, limit, ierr)
  end subroutine vslice_plan_create_64_32

  subroutine vslice_plan_create_64_64(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, row_shape, &
      transform, limit, ierr)
    type(dgampi_vslice_plan), intent(inout) :: plan
    type(dgampi_distributor), intent(in) :: irr, full
    integer(c_int64_t), intent(in) :: irrk_inv(:)
    integer(c_int64_t), intent(in) :: split_sizes(:), split_offsets(:)
    integer, intent(in) :: dtype
    integer(c_int64_t), intent(in) :: row_shape(:)
    type(dgampi_orbital_transform), intent(in), optional :: transform
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    call vslice_plan_create_v(plan, irr, full, irrk_inv, split_sizes, split_offsets, dtype, &
      row_shape, transform, limit, ierr)
  end subroutine vslice_plan_create_64_64

  subroutine vslice_plan_execute_v(plan, block, out, ierr)
    type(dgampi_vslice_plan), intent(in) :: plan
    type(array_view), intent(in), target :: block, out
    integer, intent(out), optional :: ierr
    type(c_array), target :: cblock, cout
    call finish(c_vslice_plan_execute(plan%ptr, c_desc(block, cblock), c_desc(out, cout)), ierr)
  end subroutine vslice_plan_execute_v

  !> This rank's block and output shapes, in Fortran order: block_shape =
  !> [row_shape, my_irr], out_shape = [n_nu', my_nu, orb..., n_full]. Both
  !> arrays must have one entry per array dimension (size(row_shape) + 1).
  !> Local.
  subroutine dgampi_vslice_plan_shapes(plan, block_shape, out_shape, ierr)
    type(dgampi_vslice_plan), intent(in) :: plan
    integer(c_int64_t), intent(out) :: block_shape(:), out_shape(:)
    integer, intent(out), optional :: ierr
    call plan_shapes_v(.true., plan%ptr, block_shape, out_shape, 'dgampi_vslice_plan_shapes', ierr)
  end subroutine dgampi_vslice_plan_shapes

  !> The route the plan chose at creation (DGAMPI_EXCHANGE_ROUTE_*; -1
  !> after an error). Local.
  function dgampi_vslice_plan_route(plan, ierr) result(route)
    type(dgampi_vslice_plan), intent(in) :: plan
    integer, intent(out), optional :: ierr
    integer :: route
    integer(c_int32_t) :: value, st
    st = c_vslice_plan_route(plan%ptr, value)
    if (st /= DGAMPI_STATUS_OK) value = -1
    call finish(st, ierr)
    route = int(value)
  end function dgampi_vslice_plan_route

  !> Collective: destroys the plan and nullifies it; every rank of the plan
  !> must call it. Destroying a null plan is a no-op.
  subroutine dgampi_vslice_plan_destroy(plan, ierr)
    type(dgampi_vslice_plan), intent(inout) :: plan
    integer, intent(out), optional :: ierr
    call finish(c_vslice_plan_destroy(plan%ptr), ierr)
  end subroutine dgampi_vslice_plan_destroy

  !> Shared body of dgampi_map_plan_shapes and dgampi_vslice_plan_shapes:
  !> the C shapes of the plan at `ptr`, reversed to Fortran order.
  subroutine plan_shapes_v(vslice, ptr, block_shape, out_shape, who, ierr)
    logical, intent(in) :: vslice
    type(c_ptr), intent(in) :: ptr
    integer(c_int64_t), intent(out) :: block_shape(:), out_shape(:)
    character(len=*), intent(in) :: who
    integer, intent(out), optional :: ierr
    integer(c_int64_t), allocatable :: b(:), o(:)
    character(len=120) :: what
    integer(c_int32_t) :: st
    integer :: n
    block_shape = 0
    out_shape = 0
    n = size(block_shape)
    if (size(out_shape) /= n) then
      write (what, '(a, i0, a, i0, a)') 'block_shape has ', n, ' entries and out_shape ', size(out_shape), &
        '; expected one per array dimension each'
      call fail(DGAMPI_STATUS_MISMATCH, who // ': ' // trim(what), ierr)
      return
    end if
    allocate (b(max(n, 1)), o(max(n, 1)))
    b = 0
    o = 0
    if (vslice) then
      st = c_vslice_plan_shapes(ptr, int(n, c_int32_t), b, o)
    else
      st = c_map_plan_shapes(ptr, int(n, c_int32_t), b, o)
    end if
    if (st == DGAMPI_STATUS_OK) then
      block_shape = b(n:1:-1)
      out_shape = o(n:1:-1)
    end if
    call finish(st, ierr)
  end subroutine plan_shapes_v

  ! ---------------------------------------------------------------- node-aware split
  ! dgampi_node_aware_split(dist, n_nu, sizes, offsets [, ierr] [, order]): collective;
  !   order is DGAMPI_NODE_ORDER_SHARED_MEMORY (default) or DGAMPI_NODE_ORDER_HOST_NAME.
  ! dgampi_node_aware_split_nodes(n_nu, nodes, sizes, offsets [, ierr]): local.
  !   n_nu and nodes are integer(4) or integer(8); sizes and offsets
  !   (allocatable integer(int64)) are allocated with one entry per rank:
  !   rank r holds the 0-based frequencies offsets(r+1) .. offsets(r+1)+sizes(r+1)-1.

  subroutine node_aware_split_v(dist, n_nu, sizes, offsets, ierr, order)
    type(dgampi_distributor), intent(in) :: dist
    integer(c_int64_t), intent(in) :: n_nu
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: order
    integer(c_int) :: n
    integer(c_int32_t) :: how
    n = 0
    if (c_distributor_mpi_size(dist%ptr, n) /= DGAMPI_STATUS_OK) n = 0
    allocate (sizes(n), offsets(n))
    how = DGAMPI_NODE_ORDER_SHARED_MEMORY
    if (present(order)) how = int(order, c_int32_t)
    ! Called even when the handle is bad: the C message then names this function.
    call finish(c_node_aware_split_ordered(dist%ptr, n_nu, how, sizes, offsets, size(sizes, kind=c_size_t)), ierr)
  end subroutine node_aware_split_v

  subroutine node_aware_split_32(dist, n_nu, sizes, offsets, ierr, order)
    type(dgampi_distributor), intent(in) :: dist
    integer(c_int32_t), intent(in) :: n_nu
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: order
    call node_aware_split_v(dist, int(n_nu, c_int64_t), sizes, offsets, ierr, order)
  end subroutine node_aware_split_32

  subroutine node_aware_split_64(dist, n_nu, sizes, offsets, ierr, order)
    type(dgampi_distributor), intent(in) :: dist
    integer(c_int64_t), intent(in) :: n_nu
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: order
    call node_aware_split_v(dist, n_nu, sizes, offsets, ierr, order)
  end subroutine node_aware_split_64

  subroutine split_nodes_v(n_nu, nodes, sizes, offsets, ierr)
    integer(c_int64_t), intent(in) :: n_nu
    integer(c_int64_t), intent(in) :: nodes(:)
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    integer(c_int64_t), allocatable, target :: labels(:)
    allocate (labels, source=nodes)
    allocate (sizes(size(labels)), offsets(size(labels)))
    call finish(c_node_aware_split_nodes(n_nu, int64_ptr(labels), size(labels, kind=c_size_t), sizes, offsets), ierr)
  end subroutine split_nodes_v

  subroutine split_nodes_32_32(n_nu, nodes, sizes, offsets, ierr)
    integer(c_int32_t), intent(in) :: n_nu
    integer(c_int32_t), intent(in) :: nodes(:)
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    call split_nodes_v(int(n_nu, c_int64_t), int(nodes, c_int64_t), sizes, offsets, ierr)
  end subroutine split_nodes_32_32

  subroutine split_nodes_32_64(n_nu, nodes, sizes, offsets, ierr)
    integer(c_int32_t), intent(in) :: n_nu
    integer(c_int64_t), intent(in) :: nodes(:)
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    call split_nodes_v(int(n_nu, c_int64_t), nodes, sizes, offsets, ierr)
  end subroutine split_nodes_32_64

  subroutine split_nodes_64_32(n_nu, nodes, sizes, offsets, ierr)
    integer(c_int64_t), intent(in) :: n_nu
    integer(c_int32_t), intent(in) :: nodes(:)
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    call split_nodes_v(n_nu, int(nodes, c_int64_t), sizes, offsets, ierr)
  end subroutine split_nodes_64_32

  subroutine split_nodes_64_64(n_nu, nodes, sizes, offsets, ierr)
    integer(c_int64_t), intent(in) :: n_nu
    integer(c_int64_t), intent(in) :: nodes(:)
    integer(c_int64_t), allocatable, intent(out) :: sizes(:), offsets(:)
    integer, intent(out), optional :: ierr
    call split_nodes_v(n_nu, nodes, sizes, offsets, ierr)
  end subroutine split_nodes_64_64

  ! ================================================================ distributed FFT
  ! A rank's block is a(batch..., my_q): the q axis (q = (ix*ny + iy)*nz + iz,
  ! 0-based) is the LAST Fortran dimension, the batch the leading ones, so
  ! the C block [my_q, batch...] is the same memory without a copy.
  ! batch_shape is given in Fortran order (shape(a) without its last
  ! extent) and reversed here for C. The generic dgampi_fft_plan_execute and
  ! dgampi_fft_execute_once (generated) describe the array and call
  ! fft_execute_v / fft_once_v. Like the other collectives, an nq without 3
  ! entries still reaches the C call (as NULL, so that it fails on every
  ! rank); this rank then reports the Fortran-side problem.

  !> The C options: the library's defaults, with the arguments given.
  subroutine fft_options(opts, direction, normalization, strategy, rigor, limit, transposition, threads)
    type(c_fft_options), intent(out) :: opts
    integer, intent(in), optional :: direction, normalization, strategy, rigor, transposition, threads
    integer(c_size_t), intent(in), optional :: limit
    integer(c_int32_t) :: st
    st = c_fft_options_init(opts, c_sizeof(opts))
    if (present(direction)) opts%direction = int(direction, c_int32_t)
    if (present(normalization)) opts%normalization = int(normalization, c_int32_t)
    if (present(strategy)) opts%strategy = int(strategy, c_int32_t)
    if (present(rigor)) opts%rigor = int(rigor, c_int32_t)
    if (present(limit)) opts%limit = limit
    if (present(transposition)) opts%transposition = int(transposition, c_int32_t)
    if (present(threads)) opts%threads = int(threads, c_int32_t)
  end subroutine fft_options

  !> The address of the grid extents for C, or NULL (the C call then fails
  !> on every rank) with `problem` set when nq does not have 3 entries.
  subroutine nq_set(grid, p, problem)
    integer(c_int64_t), intent(in), target, contiguous :: grid(:)
    type(c_ptr), intent(out) :: p
    character(len=:), allocatable, intent(out) :: problem
    character(len=80) :: what
    problem = ''
    p = c_null_ptr
    if (size(grid) == 3) then
      p = c_loc(grid)
    else
      write (what, '(a, i0, a)') 'nq has ', size(grid), ' entries; expected 3 (nx, ny, nz)'
      problem = trim(what)
    end if
  end subroutine nq_set

  !> Collective: plans the FFT of an nq(1) x nq(2) x nq(3) grid whose points
  !> carry a batch of shape batch_shape (Fortran order; size 0: one element
  !> per q) of dtype DGAMPI_DTYPE_COMPLEX64 or _COMPLEX128, over a duplicate
  !> of comm. Options absent: the library's defaults (forward, normalization
  !> backward, strategy auto, rigor estimate, limit 0, transposition natural).
  !> `transposition` (DGAMPI_FFT_TRANSPOSITION_*) and `threads` (threads per
  !> rank for the local work: FFTW's threaded transforms, local copies and
  !> scaling; default 1) come after `ierr`, so that positional calls of the
  !> earlier arguments keep their meaning: pass them by keyword.
  subroutine fft_plan_create_v(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: nq(:), batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    integer(c_int64_t), allocatable, target :: grid(:), batch(:)
    type(c_fft_options) :: opts
    character(len=:), allocatable :: problem
    type(c_ptr) :: pnq
    integer(c_int32_t) :: st
    call fft_options(opts, direction, normalization, strategy, rigor, limit, transposition, threads)
    allocate (grid, source=nq)
    allocate (batch, source=batch_shape(size(batch_shape):1:-1))   ! C order
    call nq_set(grid, pnq, problem)
    plan%ptr = c_null_ptr
    st = c_fft_plan_create_f(comm, pnq, int(size(batch), c_int32_t), int64_ptr(batch), int(dtype, c_int32_t), &
      opts, plan%ptr)
    call finish_checked(st, 'dgampi_fft_plan_create', problem, ierr)
  end subroutine fft_plan_create_v

  subroutine fft_plan_create_i_32_32(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer, intent(in) :: comm
    integer(c_int32_t), intent(in) :: nq(:), batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm, int(nq, c_int64_t), int(batch_shape, c_int64_t), dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_i_32_32

  subroutine fft_plan_create_i_32_64(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer, intent(in) :: comm
    integer(c_int32_t), intent(in) :: nq(:)
    integer(c_int64_t), intent(in) :: batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm, int(nq, c_int64_t), batch_shape, dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_i_32_64

  subroutine fft_plan_create_i_64_32(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: nq(:)
    integer(c_int32_t), intent(in) :: batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm, nq, int(batch_shape, c_int64_t), dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_i_64_32

  subroutine fft_plan_create_i_64_64(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: nq(:), batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm, nq, batch_shape, dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_i_64_64

#ifdef DGAMPI_HAVE_MPI_F08
  subroutine fft_plan_create_m_32_32(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    type(MPI_Comm), intent(in) :: comm
    integer(c_int32_t), intent(in) :: nq(:), batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm%MPI_VAL, int(nq, c_int64_t), int(batch_shape, c_int64_t), dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_m_32_32

  subroutine fft_plan_create_m_32_64(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    type(MPI_Comm), intent(in) :: comm
    integer(c_int32_t), intent(in) :: nq(:)
    integer(c_int64_t), intent(in) :: batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm%MPI_VAL, int(nq, c_int64_t), batch_shape, dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_m_32_64

  subroutine fft_plan_create_m_64_32(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    type(MPI_Comm), intent(in) :: comm
    integer(c_int64_t), intent(in) :: nq(:)
    integer(c_int32_t), intent(in) :: batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm%MPI_VAL, nq, int(batch_shape, c_int64_t), dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_m_64_32

  subroutine fft_plan_create_m_64_64(plan, comm, nq, batch_shape, dtype, direction, normalization, strategy, rigor, &
      limit, ierr, transposition, threads)
    type(dgampi_fft_plan), intent(inout) :: plan
    type(MPI_Comm), intent(in) :: comm
    integer(c_int64_t), intent(in) :: nq(:), batch_shape(:)
    integer, intent(in) :: dtype
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer, intent(in), optional :: transposition, threads
    call fft_plan_create_v(plan, comm%MPI_VAL, nq, batch_shape, dtype, direction, &
      normalization, strategy, rigor, limit, ierr, transposition, threads)
  end subroutine fft_plan_create_m_64_64
#endif

  !> Collective: destroys the plan and nullifies it; every rank of the plan
  !> must call it (it frees the plan's communicator, MPI_Comm_free is
  !> collective). Destroying a null plan is a no-op.
  subroutine dgampi_fft_plan_destroy(plan, ierr)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer, intent(out), optional :: ierr
    call finish(c_fft_plan_destroy(plan%ptr), ierr)
  end subroutine dgampi_fft_plan_destroy

  !> This rank's number of q-points (the last extent of its block) and its
  !> first q, 0-based: the rank holds q = offset .. offset+my_q-1.
  subroutine dgampi_fft_plan_local(plan, my_q, offset, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    integer(c_int64_t), intent(out) :: my_q, offset
    integer, intent(out), optional :: ierr
    my_q = 0
    offset = 0
    call finish(c_fft_plan_local(plan%ptr, my_q, offset), ierr)
  end subroutine dgampi_fft_plan_local

  !> The strategy the plan uses (DGAMPI_FFT_STRATEGY_*, never _AUTO).
  function dgampi_fft_plan_strategy(plan, ierr) result(strategy)
    type(dgampi_fft_plan), intent(in) :: plan
    integer, intent(out), optional :: ierr
    integer :: strategy
    integer(c_int32_t) :: value
    value = -1
    call finish(c_fft_plan_strategy(plan%ptr, value), ierr)
    strategy = int(value)
  end function dgampi_fft_plan_strategy

  subroutine fft_execute_v(plan, a, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    type(array_view), intent(in), target :: a
    integer, intent(out), optional :: ierr
    type(c_array), target :: ca
    call finish(c_fft_execute(plan%ptr, c_desc(a, ca)), ierr)
  end subroutine fft_execute_v

  ! ---------------------------------------------------------------- transposed plans
  ! A plan created with transposition = DGAMPI_FFT_TRANSPOSITION_OUT leaves
  ! its output in its strategy's transposed layout (batch transpose: every q
  ! for a slice of the flattened batch; slab: y-slabs; pencil: x-pencils),
  ! one with _IN takes its input in it (the output layout of an _OUT plan of
  ! the same grid, batch, strategy and communicator size). They run out of
  ! place with dgampi_fft_plan_execute_into(plan, input, output [, ierr])
  ! (generated, complex(4) or complex(8), each array of rank 1..7): a flat
  ! side is a(batch..., my_q) as for dgampi_fft_plan_execute; a transposed
  ! side is t(batch_len, count), the C array [count, batch_len] (column j of
  ! row k: flattened batch element batch_start + j - 1 of grid point
  ! indices(k)), or t(batch..., count) when it holds the whole batch. The
  ! input is work space: undefined afterwards. A transposed side's point
  ! set and batch columns come from dgampi_fft_plan_layout and
  ! dgampi_fft_plan_indices (local).

  subroutine fft_execute_into_v(plan, input, output, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    type(array_view), intent(in), target :: input, output
    integer, intent(out), optional :: ierr
    type(c_array), target :: ci, co
    call finish(c_fft_execute_into(plan%ptr, c_desc(input, ci), c_desc(output, co)), ierr)
  end subroutine fft_execute_into_v

  !> Local: what this rank holds of the plan's input (side =
  !> DGAMPI_FFT_SIDE_INPUT) or output (DGAMPI_FFT_SIDE_OUTPUT): `count` grid
  !> points (the last extent of that array) and the flattened batch columns
  !> batch_start+1 .. batch_start+batch_len (batch_start 0-based, like the
  !> offset of dgampi_fft_plan_local); `flat` is .true. for the flat split
  !> a(batch..., my_q), .false. for the transposed layout t(batch_len, count).
  subroutine dgampi_fft_plan_layout(plan, side, count, batch_start, batch_len, flat, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    integer, intent(in) :: side
    integer(c_int64_t), intent(out) :: count, batch_start, batch_len
    logical, intent(out), optional :: flat
    integer, intent(out), optional :: ierr
    integer(c_int32_t) :: is_flat
    count = 0
    batch_start = 0
    batch_len = 0
    is_flat = 0
    call finish(c_fft_plan_layout(plan%ptr, int(side, c_int32_t), count, batch_start, batch_len, is_flat), ierr)
    if (present(flat)) flat = is_flat /= 0
  end subroutine dgampi_fft_plan_layout

  !> Local: `indices` (allocatable integer(int64)) is allocated with the grid
  !> point of each row of this rank's input or output (side as above), in
  !> storage order: the 0-based C value q = (ix*ny + iy)*nz + iz, like the
  !> pencil indices (the point of t(:, k) is indices(k)). Zero-size after an
  !> error.
  subroutine dgampi_fft_plan_indices(plan, side, indices, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    integer, intent(in) :: side
    integer(c_int64_t), allocatable, intent(out), target :: indices(:)
    integer, intent(out), optional :: ierr
    integer(c_size_t) :: count, capacity
    integer(c_int32_t) :: st
    allocate (indices(0))
    count = 0
    st = c_fft_plan_indices(plan%ptr, int(side, c_int32_t), c_null_ptr, 0_c_size_t, count)
    if (st == DGAMPI_STATUS_OK .and. count > 0) then
      capacity = count
      deallocate (indices)
      allocate (indices(capacity))
      st = c_fft_plan_indices(plan%ptr, int(side, c_int32_t), c_loc(indices), capacity, count)
      if (st /= DGAMPI_STATUS_OK) then
        deallocate (indices)
        allocate (indices(0))
      end if
    end if
    call finish(st, ierr)
  end subroutine dgampi_fft_plan_indices

  subroutine fft_once_v(comm, nq, a, direction, normalization, strategy, rigor, limit, ierr)
    integer, intent(in) :: comm
    integer(c_int64_t), intent(in) :: nq(:)
    type(array_view), intent(in), target :: a
    integer, intent(in), optional :: direction, normalization, strategy, rigor
    integer(c_size_t), intent(in), optional :: limit
    integer, intent(out), optional :: ierr
    integer(c_int64_t), allocatable, target :: grid(:)
    type(c_fft_options) :: opts
    type(c_array), target :: ca
    character(len=:), allocatable :: problem
    type(c_ptr) :: pnq
    integer(c_int32_t) :: st
    call fft_options(opts, direction, normalization, strategy, rigor, limit)
    allocate (grid, source=nq)
    call nq_set(grid, pnq, problem)
    st = c_execute_distributed_fft_f(comm, pnq, c_desc(a, ca), opts)
    call finish_checked(st, 'dgampi_fft_execute_once', problem, ierr)
  end subroutine fft_once_v

  ! ---------------------------------------------------------------- pencil indices
  ! dgampi_fft_pencil_indices(rank, size, nq, layout, indices [, ierr]):
  !   local; nq integer(4) or integer(8); indices (allocatable
  !   integer(int64)) is allocated with the 0-based q indices rank `rank`
  !   of `size` owns in `layout` (DGAMPI_LAYOUT_*), in storage order.

  subroutine pencil_indices_v(rank, size, nq, layout, indices, ierr)
    integer, intent(in) :: rank, size, layout
    integer(c_int64_t), intent(in) :: nq(:)
    integer(c_int64_t), allocatable, intent(out), target :: indices(:)
    integer, intent(out), optional :: ierr
    character(len=*), parameter :: who = 'dgampi_fft_pencil_indices'
    character(len=80) :: what
    integer(c_int64_t) :: grid(3)
    integer(c_size_t) :: count, capacity
    integer(c_int32_t) :: st
    allocate (indices(0))
    if (size_of(nq) /= 3) then
      write (what, '(a, i0, a)') 'nq has ', size_of(nq), ' entries; expected 3 (nx, ny, nz)'
      call fail(DGAMPI_STATUS_MISMATCH, who // ': ' // trim(what), ierr)
      return
    end if
    grid = nq
    count = 0
    st = c_get_pencil_indices(int(rank, c_int32_t), int(size, c_int32_t), grid, int(layout, c_int32_t), &
      c_null_ptr, 0_c_size_t, count)
    if (st == DGAMPI_STATUS_OK .and. count > 0) then
      capacity = count
      deallocate (indices)
      allocate (indices(capacity))
      st = c_get_pencil_indices(int(rank, c_int32_t), int(size, c_int32_t), grid, int(layout, c_int32_t), &
        c_loc(indices), capacity, count)
    end if
    call finish(st, ierr)
  contains
    pure integer function size_of(a)
      integer(c_int64_t), intent(in) :: a(:)
      size_of = ubound(a, 1) - lbound(a, 1) + 1
    end function size_of
  end subroutine pencil_indices_v

  subroutine pencil_indices_32(rank, size, nq, layout, indices, ierr)
    integer, intent(in) :: rank, size, layout
    integer(c_int32_t), intent(in) :: nq(:)
    integer(c_int64_t), allocatable, intent(out) :: indices(:)
    integer, intent(out), optional :: ierr
    call pencil_indices_v(rank, size, int(nq, c_int64_t), layout, indices, ierr)
  end subroutine pencil_indices_32

  subroutine pencil_indices_64(rank, size, nq, layout, indices, ierr)
    integer, intent(in) :: rank, size, layout
    integer(c_int64_t), intent(in) :: nq(:)
    integer(c_int64_t), allocatable, intent(out) :: indices(:)
    integer, intent(out), optional :: ierr
    call pencil_indices_v(rank, size, nq, layout, indices, ierr)
  end subroutine pencil_indices_64

  ! ---------------------------------------------------------------- FFTW wisdom

  !> FFTW's wisdom for dtype's precision (DGAMPI_DTYPE_COMPLEX128: double,
  !> _COMPLEX64: single), as text.
  function dgampi_fft_export_wisdom(dtype, ierr) result(wisdom)
    integer, intent(in) :: dtype
    integer, intent(out), optional :: ierr
    character(len=:), allocatable :: wisdom
    character(kind=c_char), allocatable, target :: buf(:)
    integer(c_size_t) :: needed
    integer(c_int32_t) :: st
    integer :: tries
    wisdom = ''
    needed = 0
    st = c_fft_export_wisdom(int(dtype, c_int32_t), c_null_ptr, 0_c_size_t, needed)
    ! The wisdom may grow between the calls (another thread planning): retry.
    if (st == DGAMPI_STATUS_OK) then
      do tries = 1, 5
        if (allocated(buf)) deallocate (buf)
        allocate (buf(max(needed, 1_c_size_t)))
        st = c_fft_export_wisdom(int(dtype, c_int32_t), c_loc(buf), size(buf, kind=c_size_t), needed)
        if (st /= DGAMPI_STATUS_OUT_OF_RANGE) exit
      end do
    end if
    if (st == DGAMPI_STATUS_OK) wisdom = chars_to_string(buf(1:needed - 1))
    call finish(st, ierr)
  end function dgampi_fft_export_wisdom

  !> Adds wisdom text (from dgampi_fft_export_wisdom) for dtype's precision.
  subroutine dgampi_fft_import_wisdom(dtype, wisdom, ierr)
    integer, intent(in) :: dtype
    character(len=*), intent(in) :: wisdom
    integer, intent(out), optional :: ierr
    call finish(c_fft_import_wisdom(int(dtype, c_int32_t), c_string(wisdom)), ierr)
  end subroutine dgampi_fft_import_wisdom

  ! ================================================================ generated specifics
#include "generated/dgampi_specific.inc"

end module dgampi
