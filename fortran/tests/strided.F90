! Non-contiguous array sections (strided, reversed, interior) passed to the
! receiving and in-place routines: the writes must land in the parent array,
! and the elements outside the section must keep their sentinel values.
program strided
  use, intrinsic :: iso_c_binding
  use mpi_f08
  use dgampi
  use check
  implicit none
  real(c_double), parameter :: sentinel = -7
  integer :: ierr, next, prev
  integer(c_int64_t), parameter :: ntasks = 9

  call MPI_Init()
  call check_start('strided')
  next = modulo(me + 1, nprocs)
  prev = modulo(me - 1, nprocs)

  call test_rows()
  call test_distributor()

  call check_finish()

contains

  pure elemental function ref(i, j, t) result(x)
    integer, intent(in) :: i, j, t
    real(c_double) :: x
    x = 1000 * t + 10 * i + j
  end function ref

  ! send_rows from a strided section, recv_rows_into / bcast_rows_into a strided section.
  subroutine test_rows()
    real(c_double) :: parent(5, 6), src(5, 6), expected(5, 6)
    complex(c_double_complex) :: zp(4, 3), zexp(4, 3)
    integer :: i, j
    call check_section('send_rows / recv_rows_into, strided')
    if (ring_to_self_blocks()) return
    do j = 1, 6
      do i = 1, 5
        src(i, j) = ref(i, j, me + 1)
      end do
    end do
    parent = sentinel
    ! The sender sends src(2:4, 6:1:-2) (3 x 3, reversed, strided); the
    ! receiver receives into parent(1:5:2, 2:4) (3 x 3, strided).
    if (modulo(me, 2) == 0) then
      call dgampi_send_rows(MPI_COMM_WORLD, src(2:4, 6:1:-2), next, 10, ierr=ierr)
      call check_ok(ierr, 'dgampi_send_rows (section)')
      call dgampi_recv_rows_into(MPI_COMM_WORLD, parent(1:5:2, 2:4), prev, 10, ierr=ierr)
      call check_ok(ierr, 'dgampi_recv_rows_into (section)')
    else
      call dgampi_recv_rows_into(MPI_COMM_WORLD, parent(1:5:2, 2:4), prev, 10, ierr=ierr)
      call check_ok(ierr, 'dgampi_recv_rows_into (section)')
      call dgampi_send_rows(MPI_COMM_WORLD, src(2:4, 6:1:-2), next, 10, ierr=ierr)
      call check_ok(ierr, 'dgampi_send_rows (section)')
    end if
    expected = sentinel
    do j = 1, 3
      do i = 1, 3
        expected(2 * i - 1, j + 1) = ref(i + 1, 8 - 2 * j, prev + 1)
      end do
    end do
    call check_true(all(parent == expected), 'received section differs (or wrote outside it)')

    call check_section('bcast_rows_into, strided')
    zp = (0, 0)
    zexp = (0, 0)
    do j = 1, 3
      zexp(2, j) = cmplx(j, 10 * j, c_double_complex)
      zexp(4, j) = cmplx(-j, 20 * j, c_double_complex)
    end do
    if (me == 0) zp = zexp
    call dgampi_bcast_rows_into(MPI_COMM_WORLD, zp(2:4:2, :), 0, ierr=ierr)
    call check_ok(ierr, 'dgampi_bcast_rows_into (section)')
    call check_true(all(zp == zexp), 'broadcast section differs (or wrote outside it)')
  end subroutine test_rows

  subroutine test_distributor()
    type(dgampi_distributor) :: d
    integer(c_int64_t) :: sizes(nprocs), offsets(nprocs), my, off
    real(c_double), allocatable :: full(:, :), box(:, :, :), expected(:, :, :), out(:, :), oexp(:, :)
    real(c_double) :: x(6, 3), xexp(6, 3), mat(2, 3), got(4, 3), gexp(4, 3)
    character(len=:), allocatable :: meta
    integer :: i, j, t
    call dgampi_distributor_create(d, MPI_COMM_WORLD, ntasks)
    sizes = block_sizes(ntasks, nprocs)
    offsets = block_offsets(ntasks, nprocs)
    my = sizes(me + 1)
    off = offsets(me + 1)
    allocate (full(3, ntasks))
    do t = 1, int(ntasks)
      full(:, t) = [(ref(i, 1, t), i = 1, 3)]
    end do

    call check_section('scatter_into an interior section')
    ! box(:, 2, :) is a 3 x my section with a stride of 3 elements between rows.
    allocate (box(3, 3, my), expected(3, 3, my))
    box = sentinel
    expected = sentinel
    expected(:, 2, :) = full(:, off + 1:off + my)
    call dgampi_distributor_scatter_into(d, full, box(:, 2, :), 0, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_scatter_into (section)')
    call check_true(all(box == expected), 'scattered section differs (or wrote outside it)')

    call check_section('allgather_into / gather_into a strided section')
    allocate (out(7, ntasks), oexp(7, ntasks))
    out = sentinel
    oexp = sentinel
    oexp(2:6:2, :) = full
    call dgampi_distributor_allgather_into(d, box(:, 2, :), out(2:6:2, :), ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_allgather_into (sections)')
    call check_true(all(out == oexp), 'allgathered section differs (or wrote outside it)')
    out = sentinel
    oexp = sentinel
    if (me == 0) oexp(7:3:-2, ntasks:1:-1) = full
    call dgampi_distributor_gather_into(d, box(:, 2, :), out(7:3:-2, ntasks:1:-1), 0, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_gather_into (reversed section)')
    call check_true(all(out == oexp), 'gathered reversed section differs (or wrote outside it)')

    call check_section('allreduce in place on a reversed strided section')
    x = sentinel
    xexp = sentinel
    do j = 1, 3
      do i = 1, 3
        x(2 * i - 1, 4 - j) = (me + 1) * ref(i, j, 1)
        xexp(2 * i - 1, 4 - j) = nprocs * (nprocs + 1) / 2 * ref(i, j, 1)
      end do
    end do
    call dgampi_distributor_allreduce(d, x(1:5:2, 3:1:-1), ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_allreduce (section)')
    call check_true(all(x == xexp), 'reduced section differs (or wrote outside it)')

    call check_section('bcast_chunked_into a strided section')
    x = sentinel
    xexp = sentinel
    xexp(2:6:2, :) = reshape([(real(i, c_double), i = 1, 9)], [3, 3])
    if (me == nprocs - 1) x = xexp
    call dgampi_distributor_bcast_chunked_into(d, x(2:6:2, :), nprocs - 1, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_bcast_chunked_into (section)')
    call check_true(all(x == xexp), 'broadcast section differs (or wrote outside it)')

    if (nprocs > 1) then   ! a send to oneself is refused (it would block)
      call check_section('recv_from_rank_into a strided section')
      mat = reshape([(ref(i, 2, me + 1), i = 1, 6)], [2, 3])
      got = sentinel
      gexp = sentinel
      gexp(1:4:3, :) = reshape([(ref(i, 2, prev + 1), i = 1, 6)], [2, 3])
      if (modulo(me, 2) == 0) then
        call dgampi_distributor_send_to_rank(d, 'm', mat, next, 70)
        call dgampi_distributor_recv_from_rank_into(d, prev, 70, meta, got(1:4:3, :), ierr)
      else
        call dgampi_distributor_recv_from_rank_into(d, prev, 70, meta, got(1:4:3, :), ierr)
        call dgampi_distributor_send_to_rank(d, 'm', mat, next, 70)
      end if
      call check_ok(ierr, 'dgampi_distributor_recv_from_rank_into (section)')
      call check_true(all(got == gexp), 'received section differs (or wrote outside it)')
      call check_true(meta == 'm', 'metadata differs')
    end if

    call dgampi_distributor_destroy(d)
  end subroutine test_distributor

end program strided
