! Error reporting through the Fortran module.
!   errors           bad input with `ierr`: a nonzero status on every rank
!                    concerned, and a message naming the function
!   errors abort     bad input without `ierr`: must print the message and
!                    abort (run by abort_check.cmake, which expects failure)
program errors
  use, intrinsic :: iso_c_binding
  use mpi_f08
  use dgampi
  use check
  implicit none
  character(len=16) :: mode
  integer :: ierr

  call MPI_Init()
  call check_start('errors')
  call get_command_argument(1, mode)
  if (mode == 'abort') then
    ! No ierr: prints "dgampi: error 4 ...: dgampi_set_max_message_bytes: ..."
    ! and calls MPI_Abort. Reaching the next line is a failure.
    if (me == 0) call dgampi_set_max_message_bytes(0_c_size_t)
    call MPI_Barrier(MPI_COMM_WORLD)
    write (*, '(a)') 'NOT ABORTED'
    call MPI_Finalize()
    stop
  end if

  call test_limits()
  call test_primitives()
  call test_distributor()

  call check_finish()

contains

  subroutine test_limits()
    integer(c_size_t) :: limit0, count
    type(dgampi_chunk) :: chunk
    integer(c_size_t) :: rows
    call check_section('limit')
    limit0 = dgampi_max_message_bytes()
    call dgampi_set_max_message_bytes(0_c_size_t, ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_set_max_message_bytes', 'limit 0')
    call dgampi_set_max_message_bytes(3000000000_c_size_t, ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_set_max_message_bytes', 'limit 3e9')
    call dgampi_set_max_message_bytes(-1_c_size_t, ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_set_max_message_bytes', 'negative limit')
    call check_true(dgampi_max_message_bytes(ierr) == limit0, 'a rejected limit changed the limit')
    call check_ok(ierr, 'dgampi_max_message_bytes after errors (clears the message)')

    call check_section('chunk math')
    rows = dgampi_chunk_step(8_c_size_t, 3000000000_c_size_t, ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_chunk_step', 'chunk_step above the largest limit')
    call dgampi_row_chunks(4_c_size_t, 8_c_size_t, count, 8_c_size_t, 4_c_size_t, chunk, ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_row_chunks', 'chunk index past the end')
  end subroutine test_limits

  subroutine test_primitives()
    real(c_double) :: a(3, 4), b(3, 5)
    call check_section('primitives')
    a = 1
    call dgampi_send_rows(MPI_COMM_WORLD, a, nprocs, 1, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_send_rows', 'destination outside the communicator')
    call dgampi_recv_rows_into(MPI_COMM_WORLD%MPI_VAL, a, -1, 1, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_recv_rows_into', 'negative source (integer handle)')
    call dgampi_send_bytes(MPI_COMM_WORLD, 'x', 0, -5, ierr=ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'negative tag accepted')
    call check_true(index(dgampi_error_message(), 'dgampi_send_bytes') > 0, 'message "' // dgampi_error_message() // '"')

    ! A shape mismatch is reported on the receiving side, not a crash.
    if (nprocs >= 2) then
      if (me == 0) then
        call dgampi_send_rows(MPI_COMM_WORLD, a, 1, 20, ierr=ierr)
        call check_ok(ierr, 'dgampi_send_rows')
      else if (me == 1) then
        call dgampi_recv_rows_into(MPI_COMM_WORLD, b, 0, 20, ierr=ierr)
        call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_recv_rows_into', 'receiving 4 rows into 5')
      end if
    end if
    call MPI_Barrier(MPI_COMM_WORLD)
  end subroutine test_primitives

  subroutine test_distributor()
    type(dgampi_distributor) :: d, stale, null_handle
    real(c_double), allocatable :: full(:, :), mine(:, :), all_tasks(:, :)
    integer(c_int64_t) :: n, my
    call check_section('distributor')
    call dgampi_distributor_create(d, MPI_COMM_WORLD, -3, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_distributor_create', 'negative ntasks')

    call dgampi_distributor_barrier(null_handle, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_distributor_barrier', 'null handle')

    call dgampi_distributor_create(d, MPI_COMM_WORLD, 6, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_create')
    my = dgampi_distributor_my_size(d)
    allocate (full(2, 6), mine(2, my), all_tasks(2, 6))
    full = 1
    ! Collective error: a wrong output shape on one rank fails on every rank.
    if (me == nprocs - 1) then
      deallocate (mine)
      allocate (mine(3, my))
    end if
    call dgampi_distributor_scatter_into(d, full, mine, 0, ierr=ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'scatter_into with a wrong shape on the last rank succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_distributor_scatter_into') > 0, &
      'message "' // dgampi_error_message() // '"')
    ! The wrong gathered length fails everywhere too.
    deallocate (mine)
    allocate (mine(2, my))
    mine = 2
    deallocate (all_tasks)
    allocate (all_tasks(2, 5))
    call dgampi_distributor_allgather_into(d, mine, all_tasks, ierr=ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'allgather_into a too short array succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_distributor_allgather_into') > 0, &
      'message "' // dgampi_error_message() // '"')
    ! Still usable afterwards.
    deallocate (all_tasks)
    allocate (all_tasks(2, 6))
    call dgampi_distributor_allgather_into(d, mine, all_tasks, ierr=ierr)
    call check_ok(ierr, 'allgather_into after the errors')
    call check_true(all(all_tasks == 2), 'allgather after the errors differs')

    call dgampi_distributor_spill_write(d, 'x', full, ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'spill_write without an output path succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_distributor_spill_write') > 0, &
      'message "' // dgampi_error_message() // '"')

    stale = d
    call dgampi_distributor_destroy(d, ierr)
    call check_ok(ierr, 'dgampi_distributor_destroy')
    call check_true(.not. c_associated(d%ptr), 'destroy did not nullify the handle')
    n = dgampi_distributor_ntasks(stale, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_distributor_ntasks', 'stale handle')
    call dgampi_distributor_allreduce(stale, full, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_distributor_allreduce', 'stale handle')
    call dgampi_distributor_destroy(stale, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_distributor_destroy', 'destroying a stale handle')
  end subroutine test_distributor

end program errors
