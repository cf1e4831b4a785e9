! The per-rank HDF5 spill file through the Fortran module:
!   spill <output directory> <file name prefix>
! open/close/delete, write/read/shape/list/remove/path, every element type,
! a group path, a strided section written and read back.
program spill
  use, intrinsic :: iso_c_binding
  use mpi_f08
  use dgampi
  use check
  implicit none
  type(dgampi_distributor) :: d, nofile
  character(len=512) :: dir, prefix
  character(len=:), allocatable :: path, names(:)
  character(len=600) :: expected_path
  integer :: ierr, dtype, i, j
  integer(c_int64_t), allocatable :: shp(:)
  logical :: exists, read_only
  real(c_float) :: r4(3, 2)
  real(c_double) :: r8(4), parent(6, 4), section(3, 4)
  real(c_double), allocatable :: r8_back(:), section_back(:, :)
  complex(c_float_complex) :: c4(2, 2, 2), c4_back(2, 2, 2)
  complex(c_double_complex) :: c8(5), c8_back(5)
  integer(c_int32_t) :: i4(2, 3), i4_back(2, 3)
  integer(c_int64_t) :: i8(3, 1, 2), i8_back(3, 1, 2)
  real(c_float), allocatable :: r4_back(:, :)
  real(c_double) :: readback(6, 4)

  call MPI_Init()
  call check_start('spill')
  call get_command_argument(1, dir)
  call get_command_argument(2, prefix)
  if (len_trim(dir) == 0 .or. len_trim(prefix) == 0) then
    call check_true(.false., 'usage: spill <output directory> <file name prefix>')
    call check_finish()
    stop
  end if

  call check_section('create and path')
  call dgampi_distributor_create(d, MPI_COMM_WORLD, 5, trim(prefix), trim(dir), ierr)
  call check_ok(ierr, 'dgampi_distributor_create')
  path = dgampi_distributor_spill_path(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_path')
  write (expected_path, '(a, i5.5, a)') trim(dir) // '/' // trim(prefix) // '_Rank', me, '.hdf5'
  call check_true(path == trim(expected_path), 'path "' // path // '" /= "' // trim(expected_path) // '"')
  call dgampi_distributor_open_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_open_file')
  inquire (file=path, exist=exists)
  call check_true(exists, 'the spill file does not exist after open_file')

  call check_section('write every type')
  r4 = reshape([(real(i + me, c_float), i = 1, 6)], [3, 2])
  r8 = [(1.5d0 * i - me, i = 1, 4)]
  c4 = reshape([(cmplx(i, -me, c_float_complex), i = 1, 8)], [2, 2, 2])
  c8 = [(cmplx(me, i, c_double_complex), i = 1, 5)]
  i4 = reshape([(-i * (me + 1), i = 1, 6)], [2, 3])
  i8 = reshape([(huge(0_c_int64_t) - i - me, i = 1, 6)], [3, 1, 2])
  call dgampi_distributor_spill_write(d, 'r4', r4, ierr)
  call check_ok(ierr, 'spill_write r4')
  call dgampi_distributor_spill_write(d, 'r8', r8, ierr)
  call check_ok(ierr, 'spill_write r8')
  call dgampi_distributor_spill_write(d, 'gamma/c4', c4, ierr)
  call check_ok(ierr, 'spill_write gamma/c4')
  call dgampi_distributor_spill_write(d, 'gamma/c8', c8, ierr)
  call check_ok(ierr, 'spill_write gamma/c8')
  call dgampi_distributor_spill_write(d, 'i4', i4)
  call dgampi_distributor_spill_write(d, 'i8', i8)
  do j = 1, 4
    do i = 1, 6
      parent(i, j) = 100 * me + 10 * i + j
    end do
  end do
  section = parent(1:6:2, 4:1:-1)
  call dgampi_distributor_spill_write(d, 'section', parent(1:6:2, 4:1:-1), ierr)
  call check_ok(ierr, 'spill_write of a strided section')

  call check_section('list and shape')
  call dgampi_distributor_spill_list(d, names, ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_list')
  call check_true(size(names) == 7, 'wrong number of datasets')
  if (size(names) == 7) then
    call check_true(names(1) == 'gamma/c4' .and. names(2) == 'gamma/c8' .and. names(3) == 'i4' .and. &
      names(4) == 'i8' .and. names(5) == 'r4' .and. names(6) == 'r8' .and. names(7) == 'section', &
      'dataset names: ' // join(names))
  end if
  call dgampi_distributor_spill_shape(d, 'gamma/c4', dtype, shp, ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_shape')
  call check_true(dtype == DGAMPI_DTYPE_COMPLEX64, 'dtype of gamma/c4')
  call check_true(size(shp) == 3, 'rank of gamma/c4')
  call dgampi_distributor_spill_shape(d, 'i8', dtype, shp)
  call check_true(dtype == DGAMPI_DTYPE_I64 .and. size(shp) == 3, 'dtype and rank of i8')
  if (size(shp) == 3) call check_true(all(shp == [3, 1, 2]), 'Fortran-order shape of i8')
  call dgampi_distributor_spill_shape(d, 'r4', dtype, shp)
  call check_true(dtype == DGAMPI_DTYPE_F32 .and. size(shp) == 2, 'dtype and rank of r4')
  if (size(shp) == 2) call check_true(all(shp == [3, 2]), 'Fortran-order shape of r4')

  call check_section('read back')
  call dgampi_distributor_spill_read(d, 'r4', r4_back, ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_read r4')
  call check_true(allocated(r4_back), 'r4 not allocated')
  if (allocated(r4_back)) call check_true(all(shape(r4_back) == [3, 2]) .and. all(r4_back == r4), 'r4 differs')
  call dgampi_distributor_spill_read(d, 'r8', r8_back)
  call check_true(all(r8_back == r8), 'r8 differs')
  c4_back = 0
  call dgampi_distributor_spill_read_into(d, 'gamma/c4', c4_back, ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_read_into c4')
  call check_true(all(c4_back == c4), 'c4 differs')
  c8_back = 0
  call dgampi_distributor_spill_read_into(d, 'gamma/c8', c8_back)
  call check_true(all(c8_back == c8), 'c8 differs')
  i4_back = 0
  call dgampi_distributor_spill_read_into(d, 'i4', i4_back)
  call check_true(all(i4_back == i4), 'i4 differs')
  i8_back = 0
  call dgampi_distributor_spill_read_into(d, 'i8', i8_back)
  call check_true(all(i8_back == i8), 'i8 differs')
  call dgampi_distributor_spill_read(d, 'section', section_back)
  call check_true(all(section_back == section), 'the strided section was not written as its elements')
  readback = -1
  call dgampi_distributor_spill_read_into(d, 'section', readback(6:2:-2, :), ierr)
  call check_ok(ierr, 'spill_read_into a strided section')
  call check_true(all(readback(6:2:-2, :) == section) .and. all(readback(1:5:2, :) == -1), &
    'read into a strided section differs (or wrote outside it)')

  call check_section('errors')
  call dgampi_distributor_spill_read(d, 'c8', r8_back, ierr)
  call check_status(ierr, DGAMPI_STATUS_NOT_FOUND, 'dgampi_distributor_spill_read', 'spill_read of a missing dataset')
  call dgampi_distributor_spill_read(d, 'gamma/c8', r8_back, ierr)
  call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_distributor_spill_read', 'spill_read with the wrong type')
  call dgampi_distributor_spill_read_into(d, 'r8', r8(1:3), ierr)
  call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_distributor_spill_read_into', 'read_into the wrong shape')

  call check_section('remove')
  call dgampi_distributor_spill_remove(d, 'gamma/c8', ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_remove')
  call dgampi_distributor_spill_remove(d, 'gamma/c8', ierr)
  call check_status(ierr, DGAMPI_STATUS_NOT_FOUND, 'dgampi_distributor_spill_remove', 'removing twice')
  call dgampi_distributor_spill_list(d, names)
  call check_true(size(names) == 6, 'remove did not remove: ' // join(names))

  call check_section('close, reopen, delete')
  call dgampi_distributor_close_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_close_file')
  call dgampi_distributor_close_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_close_file (already closed)')
  call dgampi_distributor_open_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_open_file (reopen)')
  i4_back = 0
  call dgampi_distributor_spill_read_into(d, 'i4', i4_back, ierr)
  call check_ok(ierr, 'read after reopening')
  call check_true(all(i4_back == i4), 'reopening lost the data')

  call check_section('read-only open')
  call dgampi_distributor_spill_read_only(d, read_only, ierr)
  call check_ok(ierr, 'dgampi_distributor_spill_read_only')
  call check_true(.not. read_only, 'a read/write file reported read-only')
  call dgampi_distributor_open_file_read_only(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_open_file_read_only')
  call dgampi_distributor_spill_read_only(d, read_only, ierr)
  call check_true(read_only, 'open_file_read_only did not make the file read-only')
  i4_back = 0
  call dgampi_distributor_spill_read_into(d, 'i4', i4_back, ierr)
  call check_ok(ierr, 'read from a read-only file')
  call check_true(all(i4_back == i4), 'read-only read differs')
  call dgampi_distributor_spill_write(d, 'more', i4, ierr)
  call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_distributor_spill_write', 'write to a read-only file')
  call dgampi_distributor_close_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_close_file (read-only)')
  call dgampi_distributor_delete_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_delete_file')
  inquire (file=path, exist=exists)
  call check_true(.not. exists, 'the spill file still exists after delete_file')
  call dgampi_distributor_delete_file(d, ierr)
  call check_ok(ierr, 'dgampi_distributor_delete_file (absent)')
  call dgampi_distributor_destroy(d)

  call check_section('no output path')
  call dgampi_distributor_create(nofile, MPI_COMM_WORLD, 5_c_int64_t, ierr=ierr)
  call check_ok(ierr, 'dgampi_distributor_create without output_path')
  path = dgampi_distributor_spill_path(nofile, ierr)
  call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_distributor_spill_path', 'spill_path without a file')
  call dgampi_distributor_destroy(nofile)

  call check_finish()

contains

  function join(list) result(text)
    character(len=*), intent(in) :: list(:)
    character(len=:), allocatable :: text
    integer :: k
    text = ''
    do k = 1, size(list)
      text = text // '"' // trim(list(k)) // '" '
    end do
  end function join

end program spill
