! Error reporting through the Fortran module.
!   errors           bad input with `ierr`: a nonzero status on every rank
!                    concerned, and a message naming the function
!   errors abort     bad input without `ierr`: must print the message and
!                    abort (run by abort_check.cmake, which expects failure)
!   errors abort_bzmap  the same in a collective (an unfolding map)
!   errors abort_fft    the same in FFT plan creation (a zero grid extent)
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
  if (mode == 'abort_bzmap') then
    ! No ierr, collective: every rank prints "dgampi: error 4 ...:
    ! dgampi_exchange_and_map_irrbz_fullbz_into: irrk_inv[1] = 5 ..." and aborts.
    call abort_bzmap()
    write (*, '(a)') 'NOT ABORTED'
    call MPI_Finalize()
    stop
  end if

  if (mode == 'abort_fft') then
    ! No ierr, collective: every rank prints "dgampi: error 2 ...:
    ! dgampi_fft_plan_create_f: the q-grid [2, 0, 2] has an empty axis ..." and aborts.
    call abort_fft()
    write (*, '(a)') 'NOT ABORTED'
    call MPI_Finalize()
    stop
  end if

  call test_limits()
  call test_mpi_build()
  call test_primitives()
  call test_distributor()
  call test_bzmap()

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

  !> The library names the MPI it was built for, which is the one running;
  !> the other ABI family's version text is refused.
  subroutine test_mpi_build()
    integer :: family
    character(len=:), allocatable :: version
    call check_section('mpi_build')
    call dgampi_mpi_build(family, version, ierr)
    call check_ok(ierr, 'dgampi_mpi_build')
    call check_true(family == DGAMPI_MPI_FAMILY_OPEN_MPI .or. family == DGAMPI_MPI_FAMILY_MPICH, 'family')
    call check_true(len(version) > 0, 'empty version')
    call dgampi_check_mpi_library(ierr=ierr)
    call check_ok(ierr, 'dgampi_check_mpi_library (the running MPI)')
    if (family == DGAMPI_MPI_FAMILY_OPEN_MPI) then
      call dgampi_check_mpi_library('MPICH Version: 4.0.2', ierr)
    else
      call dgampi_check_mpi_library('Open MPI v4.1.4, package: Debian OpenMPI', ierr)
    end if
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_check_mpi_library', 'the other MPI family')
    call check_true(index(dgampi_error_message(), version) > 0, 'message "' // dgampi_error_message() // '"')
  end subroutine test_mpi_build

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

  subroutine abort_bzmap()
    type(dgampi_distributor) :: irr, full
    real(c_double), allocatable :: block(:), out(:)
    call dgampi_distributor_create(irr, MPI_COMM_WORLD, 2)
    call dgampi_distributor_create(full, MPI_COMM_WORLD, 3)
    allocate (block(dgampi_distributor_my_size(irr)))
    block = 1
    call dgampi_exchange_and_map_irrbz_fullbz(irr, full, [0, 5, 1], block, out)
  end subroutine abort_bzmap

  subroutine abort_fft()
    type(dgampi_fft_plan) :: plan
    call dgampi_fft_plan_create(plan, MPI_COMM_WORLD, [2, 0, 2], [integer ::], DGAMPI_DTYPE_COMPLEX128)
  end subroutine abort_fft

  !> The Brillouin-zone maps and the frequency re-layout: bad maps, transform
  !> and split arrays fail on every rank with the function named.
  subroutine test_bzmap()
    type(dgampi_distributor) :: irr, full
    real(c_double), allocatable :: block(:, :), out(:, :), vblock(:, :, :), vout(:, :, :), rblock(:, :, :), rout(:, :, :)
    complex(c_double_complex), allocatable :: zblock(:, :, :), zout(:, :, :)
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    integer(c_int64_t) :: my_irr, my_full
    type(dgampi_orbital_transform) :: t
    logical :: has_slice
    call check_section('bzmap')
    call dgampi_distributor_create(irr, MPI_COMM_WORLD, 3)
    call dgampi_distributor_create(full, MPI_COMM_WORLD, 4)
    my_irr = dgampi_distributor_my_size(irr)
    my_full = dgampi_distributor_my_size(full)
    allocate (block(2, my_irr), out(2, my_full), vblock(2, 3, my_irr))
    block = 1

    ! irrk_inv values are 0-based irreducible indices: 3 is out of range for 3 points.
    call dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, [0, 1, 3, 2], block, out, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_exchange_and_map_irrbz_fullbz', 'irrk_inv value 3')
    call check_true(index(dgampi_error_message(), 'irrk_inv[2] = 3') > 0, 'message "' // dgampi_error_message() // '"')
    call dgampi_map_irrbz_fullbz(irr, full, [0_c_int64_t, -1_c_int64_t, 1_c_int64_t, 2_c_int64_t], block, out, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_map_irrbz_fullbz', 'irrk_inv value -1')
    call check_true(.not. allocated(out), 'out allocated after an error')
    call dgampi_exchange_and_map_irrbz_fullbz(irr, full, [0, 1, 2], block, out, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_exchange_and_map_irrbz_fullbz', 'irrk_inv of 3 entries')

    ! The transform: inconsistent arrays (seen by the module), real data (seen by the library).
    allocate (zblock(2, 2, my_irr), zout(2, 2, my_full))
    zblock = 1
    allocate (t%u(2, 2, 4))
    t%u = (1d0, 0d0)
    t%sigma = [1d0, 1d0, 1d0]
    t%conj = [.false., .false., .false., .false.]
    call dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, [0, 1, 1, 2], zblock, zout, t, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_exchange_and_map_irrbz_fullbz_into', 'sigma(3) for 4 points')
    call check_true(index(dgampi_error_message(), 'sigma(3)') > 0, 'message "' // dgampi_error_message() // '"')
    t%sigma = [1d0, 1d0, 1d0, 1d0]
    call dgampi_map_irrbz_fullbz_into(irr, full, [0, 1, 1, 2], zblock, zout, t, ierr=ierr)
    call check_ok(ierr, 'dgampi_map_irrbz_fullbz_into with a consistent transform')
    allocate (rblock(2, 2, my_irr), rout(2, 2, my_full))
    rblock = 1
    call dgampi_map_irrbz_fullbz_into(irr, full, [0, 1, 1, 2], rblock, rout, t, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_map_irrbz_fullbz_into', 'transform of real data')
    t%axes = 3
    call dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, [0, 1, 1, 2], zblock, zout, t, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_exchange_and_map_irrbz_fullbz_into', '3 orbital axes')

    ! The frequency split.
    call dgampi_node_aware_split_nodes(3, [integer ::], sizes, offsets, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_node_aware_split_nodes', 'no rank')
    call dgampi_node_aware_split_nodes(-1, [0, 0], sizes, offsets, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_node_aware_split_nodes', 'negative n_nu')
    call dgampi_node_aware_split(full, -2, sizes, offsets, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_node_aware_split', 'negative n_nu (collective)')
    call dgampi_node_aware_split(full, 3, sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split')
    vblock = 2
    call dgampi_gather_full_ibz_for_vslice(irr, full, [0, 1, 1, 2], sizes, offsets, vblock, vout, has_slice, ierr=ierr)
    call check_ok(ierr, 'dgampi_gather_full_ibz_for_vslice')
    call dgampi_gather_full_ibz_for_vslice(irr, full, [0, 1, 1, 2], [sizes, 0_c_int64_t], offsets, vblock, vout, &
      has_slice, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_gather_full_ibz_for_vslice', 'split_sizes too long')
    call check_true(.not. allocated(vout) .and. .not. has_slice, 'result after an error')
    call dgampi_gather_full_ibz_for_vslice(irr, full, [0, 1, 1, 2], sizes, offsets, vblock(:, 1:2, :), vout, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_gather_full_ibz_for_vslice', 'split of 3 for 2 frequencies')
    call dgampi_gather_full_ibz_for_vslice(irr, full, [0, 1, 1, 4], sizes, offsets, vblock, vout, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_gather_full_ibz_for_vslice', 'irrk_inv value 4')

    call dgampi_distributor_destroy(full)
    call dgampi_distributor_destroy(irr)
  end subroutine test_bzmap

end program errors
