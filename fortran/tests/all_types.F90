! Every element type (real(4), real(8), complex(4), complex(8), integer(4),
! integer(8)) at every rank 1..7 through the distributor collectives, the
! N-point transfer, the spill file and the primitives (integer handle and
! type(MPI_Comm)), checked on every rank against references computed here.
!   all_types <output directory> <spill file name prefix>
! The per-type, per-rank code is all_types_rank.inc, expanded by the
! preprocessor for each type (T, CONV, TNAME) and rank (R, DIMS).
program all_types
  use, intrinsic :: iso_c_binding
  use mpi_f08
  use dgampi
  use check
  implicit none
  ! Leading (non-distributed) extents of the rank-7 arrays; rank r uses the first r-1.
  integer, parameter :: leads(6) = [2, 1, 3, 1, 1, 2]
  integer(c_int64_t), parameter :: ntasks = 5
  type(dgampi_distributor) :: d
  integer(c_int64_t) :: my, off
  integer :: ierr, next, prev, root
  character(len=512) :: dir, prefix

  call MPI_Init()
  call check_start('all_types')
  call get_command_argument(1, dir)
  call get_command_argument(2, prefix)
  next = modulo(me + 1, nprocs)
  prev = modulo(me - 1, nprocs)
  root = nprocs - 1
  call dgampi_distributor_create(d, MPI_COMM_WORLD, ntasks, trim(prefix), trim(dir), ierr)
  call check_ok(ierr, 'dgampi_distributor_create')
  my = dgampi_distributor_my_size(d)
  off = dgampi_distributor_my_offset(d)
  call check_true(all(dgampi_distributor_sizes(d) == block_sizes(ntasks, nprocs)), 'sizes')
  call dgampi_distributor_open_file(d)

#define T real(c_float)
#define CONV(x) real(x, c_float)
#define TNAME 'real(4)'
#include "all_types_type.inc"
#undef T
#undef CONV
#undef TNAME

#define T real(c_double)
#define CONV(x) real(x, c_double)
#define TNAME 'real(8)'
#include "all_types_type.inc"
#undef T
#undef CONV
#undef TNAME

#define T complex(c_float_complex)
#define CONV(x) cmplx(x, -2 * (x), c_float_complex)
#define TNAME 'complex(4)'
#include "all_types_type.inc"
#undef T
#undef CONV
#undef TNAME

#define T complex(c_double_complex)
#define CONV(x) cmplx(x, -2 * (x), c_double_complex)
#define TNAME 'complex(8)'
#include "all_types_type.inc"
#undef T
#undef CONV
#undef TNAME

#define T integer(c_int32_t)
#define CONV(x) int(x, c_int32_t)
#define TNAME 'integer(4)'
#include "all_types_type.inc"
#undef T
#undef CONV
#undef TNAME

#define T integer(c_int64_t)
#define CONV(x) int(x, c_int64_t)
#define TNAME 'integer(8)'
#include "all_types_type.inc"
#undef T
#undef CONV
#undef TNAME

  call dgampi_distributor_delete_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_delete_file')
  call dgampi_distributor_destroy(d)
  call check_finish()
end program all_types
