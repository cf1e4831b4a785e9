! Allgathers 7 tasks over the ranks with `use mpi` and checks the result.
program consumer
  use, intrinsic :: iso_c_binding
  use mpi
  use dgampi
  implicit none
  type(dgampi_distributor) :: d
  real(c_double), allocatable :: mine(:, :), all_tasks(:, :)
  integer :: ierr, t, major, minor, patch
  integer(c_int64_t) :: off, my
  call MPI_Init(ierr)
  ! The module's version (the header it was built with) and the library's.
  if (DGAMPI_VERSION_MAJOR /= 0 .or. DGAMPI_VERSION_MINOR /= 2) then
    write (*, '(a, i0, a, i0)') 'consumer: module version ', DGAMPI_VERSION_MAJOR, '.', DGAMPI_VERSION_MINOR
    error stop 1
  end if
  call dgampi_check_version(ierr=ierr)
  if (ierr /= DGAMPI_STATUS_OK) then
    write (*, '(a)') 'consumer: ' // dgampi_error_message()
    error stop 1
  end if
  call dgampi_version_numbers(major, minor, patch)
  if (major /= DGAMPI_VERSION_MAJOR .or. minor /= DGAMPI_VERSION_MINOR .or. patch /= DGAMPI_VERSION_PATCH) then
    write (*, '(a)') 'consumer: library and module versions differ'
    error stop 1
  end if
  call dgampi_check_version(0, 1, ierr)
  if (ierr /= DGAMPI_STATUS_MISMATCH .or. index(dgampi_error_message(), '0.1') == 0) then
    write (*, '(a)') 'consumer: dgampi_check_version(0, 1) accepted: ' // dgampi_error_message()
    error stop 1
  end if
  call dgampi_distributor_create(d, MPI_COMM_WORLD, 7)
  off = dgampi_distributor_my_offset(d)
  my = dgampi_distributor_my_size(d)
  allocate (mine(2, my))
  do t = 1, int(my)
    mine(:, t) = [real(off + t, c_double), -real(off + t, c_double)]
  end do
  call dgampi_distributor_allgather(d, mine, all_tasks)
  call dgampi_distributor_destroy(d)
  if (any(all_tasks(1, :) /= [(real(t, c_double), t = 1, 7)]) .or. any(all_tasks(2, :) /= -all_tasks(1, :))) then
    write (*, '(a)') 'consumer: wrong result'
    error stop 1
  end if
  write (*, '(a)') 'consumer: OK (dgampi ' // dgampi_version() // ')'
  call MPI_Finalize(ierr)
end program consumer
