! Allgathers 7 tasks over the ranks with `use mpi` and checks the result.
program consumer
  use, intrinsic :: iso_c_binding
  use mpi
  use dgampi
  implicit none
  type(dgampi_distributor) :: d
  real(c_double), allocatable :: mine(:, :), all_tasks(:, :)
  integer :: ierr, t
  integer(c_int64_t) :: off, my
  call MPI_Init(ierr)
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
