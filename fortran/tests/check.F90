! Shared helpers of the Fortran tests: every rank checks its own results; a
! failed check prints the rank, the section and what differed, counts the
! failure and goes on; check_finish() finalizes MPI and stops with a nonzero
! code on a rank that failed.
module check
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit, output_unit
  use mpi_f08, only: MPI_COMM_WORLD, MPI_Comm_rank, MPI_Comm_size, MPI_Finalize, MPI_Barrier
  use dgampi
  implicit none
  private
  public :: check_start, check_section, check_true, check_ok, check_status, check_finish
  public :: me, nprocs, block_sizes, block_offsets, env_limit, capped, expected_chunks
  public :: ring_to_self_blocks

  integer, save :: me = -1, nprocs = 0
  integer, save :: failures = 0
  character(len=200), save :: section = ''

contains

  !> After MPI_Init: remembers the rank and size of MPI_COMM_WORLD.
  subroutine check_start(name)
    character(len=*), intent(in) :: name
    call MPI_Comm_rank(MPI_COMM_WORLD, me)
    call MPI_Comm_size(MPI_COMM_WORLD, nprocs)
    section = name
  end subroutine check_start

  !> True, after a note, when a ring over MPI_COMM_WORLD is a send to self (one
  !> rank) that this MPI does not buffer: Open MPI buffers small messages to
  !> self; MPICH completes a send to self only once the receive matches it, as
  !> the MPI standard allows, so a one-rank send-then-receive never returns.
  !> The caller skips the exchange (it runs at 2, 3 and 4 ranks).
  logical function ring_to_self_blocks() result(blocks)
    use mpi_f08, only: MPI_Comm, MPI_Request, MPI_COMM_SELF, MPI_BYTE, MPI_STATUS_IGNORE, &
                       MPI_Comm_dup, MPI_Comm_free, MPI_Isend, MPI_Test, MPI_Recv, MPI_Wait
    logical, save :: known = .false., buffered = .true.
    character(len=200), save :: noted = ''   ! the note once per section
    type(MPI_Comm) :: c
    type(MPI_Request) :: rq
    integer(c_int8_t), target, save :: byte(1) = 1_c_int8_t, got(1) = 0_c_int8_t
    logical :: done
    integer :: i
    blocks = .false.
    if (nprocs /= 1) return
    if (.not. known) then
      call MPI_Comm_dup(MPI_COMM_SELF, c)
      call MPI_Isend(byte, 1, MPI_BYTE, 0, 0, c, rq)
      done = .false.
      do i = 1, 1000
        call MPI_Test(rq, done, MPI_STATUS_IGNORE)
        if (done) exit
      end do
      call MPI_Recv(got, 1, MPI_BYTE, 0, 0, c, MPI_STATUS_IGNORE)
      if (.not. done) call MPI_Wait(rq, MPI_STATUS_IGNORE)
      call MPI_Comm_free(c)
      buffered = done
      known = .true.
    end if
    blocks = .not. buffered
    if (blocks .and. noted /= section) then
      noted = section
      write (output_unit, '(a)') 'note: [' // trim(section) // '] skipped at 1 rank: the ring is a blocking send to self, ' // &
        'which this MPI completes only once the receive is posted (MPICH; Open MPI buffers it); it runs at 2, 3 and 4 ranks'
      flush (output_unit)
    end if
  end function ring_to_self_blocks

  subroutine check_section(name)
    character(len=*), intent(in) :: name
    section = name
  end subroutine check_section

  subroutine check_true(cond, what)
    logical, intent(in) :: cond
    character(len=*), intent(in) :: what
    if (cond) return
    failures = failures + 1
    write (error_unit, '(a, i0, a)') 'rank ', me, ': [' // trim(section) // '] check failed: ' // what
    flush (error_unit)
  end subroutine check_true

  !> ierr must be 0 and the message empty.
  subroutine check_ok(ierr, what)
    integer, intent(in) :: ierr
    character(len=*), intent(in) :: what
    character(len=16) :: code
    write (code, '(i0)') ierr
    call check_true(ierr == DGAMPI_STATUS_OK, what // ' returned ' // trim(code) // ': ' // dgampi_error_message())
    if (ierr == DGAMPI_STATUS_OK) &
      call check_true(dgampi_error_message() == '', what // ' succeeded but left the message "' // &
        dgampi_error_message() // '"')
  end subroutine check_ok

  !> ierr must be `expected` and the message must name `fname`.
  subroutine check_status(ierr, expected, fname, what)
    integer, intent(in) :: ierr, expected
    character(len=*), intent(in) :: fname, what
    character(len=40) :: codes
    write (codes, '(a, i0, a, i0)') 'got ', ierr, ', expected ', expected
    call check_true(ierr == expected, what // ': ' // trim(codes) // '; message "' // dgampi_error_message() // '"')
    call check_true(index(dgampi_error_message(), fname) > 0, what // ': the message "' // &
      dgampi_error_message() // '" does not name ' // fname)
  end subroutine check_status

  subroutine check_finish()
    integer :: total
    call MPI_Barrier(MPI_COMM_WORLD)
    total = failures
    if (failures > 0) then
      write (error_unit, '(a, i0, a, i0, a)') 'rank ', me, ': ', failures, ' check(s) failed'
      flush (error_unit)
    end if
    call MPI_Finalize()
    if (total > 0) error stop 1
  end subroutine check_finish

  ! ---------------------------------------------------------------- serial references

  !> Tasks per rank: contiguous blocks, the excess going to the LAST ranks.
  function block_sizes(ntasks, nranks) result(sizes)
    integer(c_int64_t), intent(in) :: ntasks
    integer, intent(in) :: nranks
    integer(c_int64_t) :: sizes(nranks)
    integer :: r
    do r = 0, nranks - 1
      sizes(r + 1) = ntasks / nranks
      if (r >= nranks - int(mod(ntasks, int(nranks, c_int64_t)))) sizes(r + 1) = sizes(r + 1) + 1
    end do
  end function block_sizes

  function block_offsets(ntasks, nranks) result(offsets)
    integer(c_int64_t), intent(in) :: ntasks
    integer, intent(in) :: nranks
    integer(c_int64_t) :: offsets(nranks), sizes(nranks)
    integer :: r
    sizes = block_sizes(ntasks, nranks)
    offsets(1) = 0
    do r = 2, nranks
      offsets(r) = offsets(r - 1) + sizes(r - 1)
    end do
  end function block_offsets

  !> DGAMPI_MAX_MESSAGE_BYTES from the environment (0 when unset).
  function env_limit() result(limit)
    integer(c_size_t) :: limit
    character(len=32) :: text
    integer :: length, stat
    limit = 0
    call get_environment_variable('DGAMPI_MAX_MESSAGE_BYTES', text, length, stat)
    if (stat == 0 .and. length > 0) read (text, *) limit
  end function env_limit

  !> An explicit limit for a test call, capped by the process-wide one (the
  !> PMPI checker of the limit-3 runs enforces the process-wide limit).
  function capped(limit) result(value)
    integer(c_size_t), intent(in) :: limit
    integer(c_size_t) :: value
    value = min(limit, dgampi_max_message_bytes())
  end function capped

  !> Number of messages for nrows rows of row_bytes bytes under limit:
  !> whole rows per message, or rows cut into pieces when above the limit.
  pure function expected_chunks(nrows, row_bytes, limit) result(count)
    integer(c_size_t), intent(in) :: nrows, row_bytes, limit
    integer(c_size_t) :: count, per
    if (nrows == 0 .or. row_bytes == 0) then
      count = 0
    else if (row_bytes <= limit) then
      per = limit / row_bytes
      count = (nrows + per - 1) / per
    else
      count = nrows * ((row_bytes + limit - 1) / limit)
    end if
  end function expected_chunks

end module check
