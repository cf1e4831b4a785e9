! The chunked primitives through the Fortran module, checked on every rank
! against references computed here. Built twice: with USE_MPI_F08 (`use
! mpi_f08`, type(MPI_Comm) communicators) and without (`use mpi`, integer
! handles). Under DGAMPI_MAX_MESSAGE_BYTES=3 every transfer is chunked.
program primitives
  use, intrinsic :: iso_c_binding
#ifdef USE_MPI_F08
  use mpi_f08
#else
  use mpi
#endif
  use dgampi
  use check
  implicit none
#ifdef USE_MPI_F08
  type(MPI_Comm) :: comm
#else
  integer :: comm, mpierr
#endif
  integer :: ierr, next, prev
  integer(c_size_t) :: limit0

#ifdef USE_MPI_F08
  call MPI_Init()
  call MPI_Comm_dup(MPI_COMM_WORLD, comm)
#else
  call MPI_Init(mpierr)
  call MPI_Comm_dup(MPI_COMM_WORLD, comm, mpierr)
#endif
  call check_start('primitives')
  next = modulo(me + 1, nprocs)
  prev = modulo(me - 1, nprocs)

  call test_version_and_limit()
  call test_chunk_math()
  call test_send_recv_rows()
  call test_bcast_rows()
  call test_bytes()

#ifdef USE_MPI_F08
  call MPI_Comm_free(comm)
#else
  call MPI_Comm_free(comm, mpierr)
#endif
  call check_finish()

contains

  subroutine test_version_and_limit()
    character(len=:), allocatable :: v
    integer(c_size_t) :: env, got
    call check_section('version')
    v = dgampi_version(ierr)
    call check_ok(ierr, 'dgampi_version')
    call check_true(v == DGAMPI_EXPECTED_VERSION, 'version "' // v // '" /= ' // DGAMPI_EXPECTED_VERSION)
    v = dgampi_version()   ! without ierr

    call check_section('limit')
    env = env_limit()
    limit0 = dgampi_max_message_bytes(ierr)
    call check_ok(ierr, 'dgampi_max_message_bytes')
    if (env > 0) then
      call check_true(limit0 == env, 'the limit does not follow DGAMPI_MAX_MESSAGE_BYTES')
    else
      call check_true(limit0 == DGAMPI_DEFAULT_MAX_MESSAGE_BYTES, 'the default limit is not 2^31-1')
    end if
    call dgampi_set_max_message_bytes(1000_c_size_t, ierr)
    call check_ok(ierr, 'dgampi_set_max_message_bytes')
    got = dgampi_max_message_bytes()
    call check_true(got == 1000, 'the limit set is not the limit read')
    call dgampi_set_max_message_bytes(limit0)
    call check_true(dgampi_max_message_bytes() == limit0, 'the limit was not restored')
  end subroutine test_version_and_limit

  subroutine test_chunk_math()
    integer(c_size_t) :: nrows, row_bytes, limit, count, expected, k, at
    integer(c_size_t), parameter :: cases(3, 6) = reshape([ &
      10_c_size_t, 16_c_size_t, 40_c_size_t, &   ! two rows per message
      7_c_size_t, 16_c_size_t, 3_c_size_t, &     ! rows split into pieces
      5_c_size_t, 8_c_size_t, 8_c_size_t, &
      0_c_size_t, 8_c_size_t, 3_c_size_t, &      ! no rows: no messages
      3_c_size_t, 10_c_size_t, 7_c_size_t, &
      1_c_size_t, 1_c_size_t, 1_c_size_t], [3, 6])
    type(dgampi_chunk) :: chunk
    integer :: c
    character(len=80) :: what
    call check_section('chunk_math')
    call check_true(dgampi_chunk_step(16_c_size_t, 40_c_size_t, ierr) == 2, 'chunk_step(16, 40) /= 2')
    call check_ok(ierr, 'dgampi_chunk_step')
    call check_true(dgampi_chunk_step(16_c_size_t, 3_c_size_t) == 1, 'chunk_step(16, 3) /= 1')
    call check_true(dgampi_chunk_step(8_c_size_t) == max(1_c_size_t, limit0 / 8), &
      'chunk_step without a limit does not use the process-wide limit')
    do c = 1, size(cases, 2)
      nrows = cases(1, c)
      row_bytes = cases(2, c)
      limit = cases(3, c)
      write (what, '(a, 3(i0, 1x))') 'row_chunks ', nrows, row_bytes, limit
      expected = expected_chunks(nrows, row_bytes, limit)
      call dgampi_row_chunks(nrows, row_bytes, count, limit, ierr=ierr)
      call check_ok(ierr, trim(what))
      call check_true(count == expected, trim(what) // ': wrong count')
      at = 0
      do k = 0, count - 1
        call dgampi_row_chunks(nrows, row_bytes, count, limit, k, chunk, ierr)
        call check_ok(ierr, trim(what) // ' (chunk)')
        call check_true(chunk%byte_offset == at, trim(what) // ': chunks not contiguous')
        call check_true(chunk%byte_len >= 1 .and. chunk%byte_len <= limit, trim(what) // ': chunk above the limit')
        call check_true(chunk%row_start == chunk%byte_offset / row_bytes, trim(what) // ': wrong row_start')
        call check_true(chunk%row_stop == (chunk%byte_offset + chunk%byte_len + row_bytes - 1) / row_bytes, &
          trim(what) // ': wrong row_stop')
        at = at + chunk%byte_len
      end do
      call check_true(at == nrows * row_bytes, trim(what) // ': chunks do not cover the array')
    end do
    ! With the process-wide limit.
    call dgampi_row_chunks(4_c_size_t, 8_c_size_t, count)
    call check_true(count == expected_chunks(4_c_size_t, 8_c_size_t, limit0), 'row_chunks without a limit')
  end subroutine test_chunk_math

  ! Every rank sends to the next one around the ring (even ranks send first).
  subroutine test_send_recv_rows()
    real(c_double), allocatable :: a(:, :), b(:, :)
    complex(c_double_complex), allocatable :: z(:, :, :), w(:, :, :)
    integer(c_int32_t), allocatable :: i1(:), j1(:)
    real(c_float) :: empty_send(3, 0), empty_recv(3, 0)
    integer :: k, phase
    call check_section('send_recv_rows')
    if (ring_to_self_blocks()) return
    a = reshape([(real(100 * me + k, c_double), k = 1, 3 * (4 + me))], [3, 4 + me])
    allocate (b(3, 4 + prev))
    b = -1
    z = reshape([(cmplx(me, -k, c_double_complex), k = 1, 2 * 2 * 5)], [2, 2, 5])
    allocate (w(2, 2, 5))
    w = 0
    i1 = [(10 * me + k, k = 1, 6)]
    allocate (j1(6))
    j1 = 0
    ! Even ranks send first, odd ranks receive first.
    do phase = 0, 1
      if (modulo(me + phase, 2) == 0) then
        call dgampi_send_rows(comm, a, next, 100, ierr=ierr)
        call check_ok(ierr, 'dgampi_send_rows real(8)')
        call dgampi_send_rows(comm, z, next, 200, capped(5_c_size_t), ierr)
        call check_ok(ierr, 'dgampi_send_rows complex(8), limit 5')
        call dgampi_send_rows(comm, i1, next, 300)
        call dgampi_send_rows(comm, empty_send, next, 400, ierr=ierr)
        call check_ok(ierr, 'dgampi_send_rows empty')
      else
        call dgampi_recv_rows_into(comm, b, prev, 100, ierr=ierr)
        call check_ok(ierr, 'dgampi_recv_rows_into real(8)')
        call dgampi_recv_rows_into(comm, w, prev, 200, capped(5_c_size_t), ierr)
        call check_ok(ierr, 'dgampi_recv_rows_into complex(8), limit 5')
        call dgampi_recv_rows_into(comm, j1, prev, 300)
        call dgampi_recv_rows_into(comm, empty_recv, prev, 400, ierr=ierr)
        call check_ok(ierr, 'dgampi_recv_rows_into empty')
      end if
    end do
    call check_true(all(b == reshape([(real(100 * prev + k, c_double), k = 1, 3 * (4 + prev))], [3, 4 + prev])), &
      'real(8) rows differ')
    call check_true(all(w == reshape([(cmplx(prev, -k, c_double_complex), k = 1, 20)], [2, 2, 5])), &
      'complex(8) rows differ')
    call check_true(all(j1 == [(10 * prev + k, k = 1, 6)]), 'integer(4) rows differ')
  end subroutine test_send_recv_rows

  subroutine test_bcast_rows()
    complex(c_float_complex) :: c(2, 5), ref(2, 5)
    integer(c_int64_t) :: l(4)
    integer :: root, k
    call check_section('bcast_rows_into')
    root = nprocs - 1
    ref = reshape([(cmplx(k, 2 * k, c_float_complex), k = 1, 10)], [2, 5])
    c = (0, 0)
    if (me == root) c = ref
    call dgampi_bcast_rows_into(comm, c, root, ierr=ierr)
    call check_ok(ierr, 'dgampi_bcast_rows_into')
    call check_true(all(c == ref), 'complex(4) broadcast differs')
    l = 0
    if (me == 0) l = [huge(0_c_int64_t), -1_c_int64_t, 3_c_int64_t, -huge(0_c_int64_t)]
    call dgampi_bcast_rows_into(comm, l, 0, 2_c_size_t)
    call check_true(all(l == [huge(0_c_int64_t), -1_c_int64_t, 3_c_int64_t, -huge(0_c_int64_t)]), &
      'integer(8) broadcast differs')
  end subroutine test_bcast_rows

  subroutine test_bytes()
    character(len=:), allocatable :: text, got, empty
    integer(c_int8_t), allocatable :: blob(:), bytes(:)
    integer :: k, phase
    character(len=12) :: who
    call check_section('bytes')
    if (ring_to_self_blocks()) return
    write (who, '(a, i0)') 'rank ', me
    text = 'blob from ' // trim(who) // ': ' // repeat('0123456789', 5)
    blob = [(int(modulo(k * 37 + me, 256) - 128, c_int8_t), k = 1, 300)]
    do phase = 0, 1
      if (modulo(me + phase, 2) == 0) then
        call dgampi_send_bytes(comm, text, next, 500, ierr=ierr)
        call check_ok(ierr, 'dgampi_send_bytes character')
        call dgampi_send_bytes(comm, blob, next, 600, capped(7_c_size_t), ierr)
        call check_ok(ierr, 'dgampi_send_bytes int8')
        call dgampi_send_bytes(comm, '', next, 700)
      else
        call dgampi_recv_bytes(comm, got, prev, 500, ierr)
        call check_ok(ierr, 'dgampi_recv_bytes character')
        call dgampi_recv_bytes(comm, bytes, prev, 600, ierr)
        call check_ok(ierr, 'dgampi_recv_bytes int8')
        call dgampi_recv_bytes(comm, empty, prev, 700)
      end if
    end do
    write (who, '(a, i0)') 'rank ', prev
    call check_true(got == 'blob from ' // trim(who) // ': ' // repeat('0123456789', 5), 'string "' // got // '"')
    call check_true(size(bytes) == 300, 'int8 blob has the wrong length')
    if (size(bytes) == 300) &
      call check_true(all(bytes == [(int(modulo(k * 37 + prev, 256) - 128, c_int8_t), k = 1, 300)]), &
        'int8 blob differs')
    call check_true(allocated(empty), 'the empty blob is not allocated')
    if (allocated(empty)) call check_true(len(empty) == 0, 'the empty blob is not empty')
  end subroutine test_bytes

end program primitives
