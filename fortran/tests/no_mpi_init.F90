! Calls before MPI_Init (run without mpiexec):
!   no_mpi_init          with ierr: DGAMPI_STATUS_MPI_NOT_INITIALIZED, and a
!                        message naming the function
!   no_mpi_init abort    without ierr: must print the message and stop with
!                        an error (there is no MPI to abort)
program no_mpi_init
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use mpi_f08, only: MPI_COMM_WORLD
  use dgampi
  implicit none
  type(dgampi_distributor) :: d
  real(c_double) :: a(2, 3)
  integer :: ierr, failures
  character(len=16) :: mode

  call get_command_argument(1, mode)
  a = 1
  if (mode == 'abort') then
    call dgampi_send_rows(MPI_COMM_WORLD, a, 0, 1)
    write (*, '(a)') 'NOT ABORTED'
    stop
  end if
  failures = 0
  call dgampi_send_rows(MPI_COMM_WORLD, a, 0, 1, ierr=ierr)
  call expect('dgampi_send_rows')
  call dgampi_distributor_create(d, MPI_COMM_WORLD%MPI_VAL, 4, ierr=ierr)
  call expect('dgampi_distributor_create')
  ! Not an MPI call: works without MPI.
  call check(dgampi_max_message_bytes(ierr) > 0 .and. ierr == DGAMPI_STATUS_OK, 'dgampi_max_message_bytes')
  call check(dgampi_error_message() == '', 'message not cleared by a success')
  if (failures > 0) error stop 1
  write (*, '(a)') 'no_mpi_init: OK'

contains

  subroutine expect(fname)
    character(len=*), intent(in) :: fname
    call check(ierr == DGAMPI_STATUS_MPI_NOT_INITIALIZED, fname // ': wrong status')
    call check(index(dgampi_error_message(), fname) > 0, fname // ': message "' // dgampi_error_message() // '"')
  end subroutine expect

  subroutine check(cond, what)
    logical, intent(in) :: cond
    character(len=*), intent(in) :: what
    if (cond) return
    failures = failures + 1
    write (error_unit, '(a)') 'no_mpi_init: check failed: ' // what
  end subroutine check

end program no_mpi_init
