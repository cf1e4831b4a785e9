! Every distributor collective through the Fortran module, checked on every
! rank against references computed here (the distributed axis is the last
! Fortran dimension). Built twice: with USE_MPI_F08 (`use mpi_f08`) and
! without (`use mpi`). Task counts include fewer tasks than ranks (empty
! blocks) and uneven splits.
program distributor
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
  type(MPI_Comm) :: comm, dcomm
#else
  integer :: comm, dcomm, mpierr
#endif
  integer :: ierr, result
  integer(c_int64_t) :: ntasks
  integer :: c
  integer(c_int64_t), parameter :: task_counts(3) = [7_c_int64_t, 2_c_int64_t, 12_c_int64_t]

#ifdef USE_MPI_F08
  call MPI_Init()
  comm = MPI_COMM_WORLD
#else
  call MPI_Init(mpierr)
  comm = MPI_COMM_WORLD
#endif
  call check_start('distributor')

  do c = 1, size(task_counts)
    ntasks = task_counts(c)
    call run(ntasks)
  end do

  call check_finish()

contains

  !> Reference value of element (i, j) of task t (all 1-based).
  pure elemental function ref(i, j, t) result(x)
    integer, intent(in) :: i, j, t
    real(c_double) :: x
    x = 1000 * t + 10 * i + j
  end function ref

  subroutine run(ntasks)
    integer(c_int64_t), intent(in) :: ntasks
    type(dgampi_distributor) :: d
    integer(c_int64_t) :: sizes(nprocs), offsets(nprocs), my, off
    character(len=40) :: label
    write (label, '(a, i0, a, i0, a)') 'ntasks=', ntasks, ' on ', nprocs, ' ranks'
    sizes = block_sizes(ntasks, nprocs)
    offsets = block_offsets(ntasks, nprocs)
    my = sizes(me + 1)
    off = offsets(me + 1)

    ! ---- create (int64 task count here; int32 below) and the accessors
    call check_section('create ' // trim(label))
    call dgampi_distributor_create(d, comm, ntasks, 'fortran', ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_create')
    call check_true(dgampi_distributor_ntasks(d, ierr) == ntasks, 'ntasks')
    call check_ok(ierr, 'dgampi_distributor_ntasks')
    call check_true(dgampi_distributor_mpi_size(d) == nprocs, 'mpi_size')
    call check_true(dgampi_distributor_my_rank(d) == me, 'my_rank')
    call check_true(dgampi_distributor_is_root(d) .eqv. (me == 0), 'is_root')
    call check_true(dgampi_distributor_my_size(d) == my, 'my_size')
    call check_true(dgampi_distributor_my_offset(d) == off, 'my_offset')
    call check_true(all(dgampi_distributor_sizes(d, ierr) == sizes), 'sizes')
    call check_ok(ierr, 'dgampi_distributor_sizes')
    call check_true(all(dgampi_distributor_offsets(d, ierr) == offsets), 'offsets')
    call check_ok(ierr, 'dgampi_distributor_offsets')
    call dgampi_distributor_comm(d, dcomm, ierr)
    call check_ok(ierr, 'dgampi_distributor_comm')
#ifdef USE_MPI_F08
    call MPI_Comm_compare(comm, dcomm, result)
#else
    call MPI_Comm_compare(comm, dcomm, result, mpierr)
#endif
    call check_true(result == MPI_CONGRUENT, 'the distributor communicator is not a duplicate')
    call dgampi_distributor_barrier(d, ierr)
    call check_ok(ierr, 'dgampi_distributor_barrier')

    call test_scatter_gather(d, ntasks, my, off, label)
    call test_allreduce_bcast(d, label)
    if (nprocs > 1) call test_npoint(d, label)   ! a send to oneself is refused (it would block)

    call dgampi_distributor_destroy(d, ierr)
    call check_ok(ierr, 'dgampi_distributor_destroy')
    call dgampi_distributor_destroy(d, ierr)
    call check_ok(ierr, 'dgampi_distributor_destroy (second time: a no-op)')

    ! ---- int32 task count, no name
    call dgampi_distributor_create(d, comm, int(ntasks), ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_create (integer(4) ntasks)')
    call check_true(dgampi_distributor_ntasks(d) == ntasks, 'ntasks (integer(4))')
    call dgampi_distributor_destroy(d)
  end subroutine run

  subroutine test_scatter_gather(d, ntasks, my, off, label)
    type(dgampi_distributor), intent(in) :: d
    integer(c_int64_t), intent(in) :: ntasks, my, off
    character(len=*), intent(in) :: label
    real(c_double), allocatable :: full(:, :, :), mine(:, :, :), back(:, :, :), gathered(:, :, :)
    complex(c_double_complex), allocatable :: zfull(:, :), zmine(:, :), zall(:, :)
    integer :: i, j, t, root
    ! reference: full(i, j, t) on every rank, the block of tasks of this rank.
    allocate (full(2, 3, ntasks), mine(2, 3, my), back(2, 3, ntasks))
    do t = 1, int(ntasks)
      do j = 1, 3
        do i = 1, 2
          full(i, j, t) = ref(i, j, t)
        end do
      end do
    end do
    root = nprocs - 1

    call check_section('scatter_into ' // label)
    mine = -1
    call dgampi_distributor_scatter_into(d, full, mine, root, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_scatter_into')
    call check_true(all(mine == full(:, :, off + 1:off + my)), 'scattered block differs')

    call check_section('gather_into ' // label)
    back = -1
    call dgampi_distributor_gather_into(d, mine, back, 0, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_gather_into')
    if (me == 0) call check_true(all(back == full), 'gathered array differs on the root')
    if (me /= 0) call check_true(all(back == -1), 'gather_into wrote into a non-root array')

    call check_section('gather (allocating) ' // label)
    call dgampi_distributor_gather(d, mine, gathered, root, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_gather')
    if (me == root) then
      call check_true(allocated(gathered), 'not allocated on the root')
      if (allocated(gathered)) call check_true(all(shape(gathered) == shape(full)) .and. all(gathered == full), &
        'gathered array differs')
    else
      call check_true(.not. allocated(gathered), 'allocated on a non-root rank')
    end if

    call check_section('allgather_into ' // label)
    back = -1
    call dgampi_distributor_allgather_into(d, mine, back, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_allgather_into')
    call check_true(all(back == full), 'allgathered array differs')

    call check_section('allgather (allocating), complex(8), limit 16 ' // label)
    allocate (zfull(4, ntasks))
    do t = 1, int(ntasks)
      zfull(:, t) = [(cmplx(ref(i, 1, t), -ref(i, 2, t), c_double_complex), i = 1, 4)]
    end do
    zmine = zfull(:, off + 1:off + my)
    call dgampi_distributor_allgather(d, zmine, zall, capped(16_c_size_t), ierr)
    call check_ok(ierr, 'dgampi_distributor_allgather')
    call check_true(allocated(zall), 'not allocated')
    if (allocated(zall)) call check_true(all(shape(zall) == shape(zfull)) .and. all(zall == zfull), &
      'allgathered complex array differs')
  end subroutine test_scatter_gather

  subroutine test_allreduce_bcast(d, label)
    type(dgampi_distributor), intent(in) :: d
    character(len=*), intent(in) :: label
    real(c_double) :: x(3, 4), expected(3, 4)
    integer(c_int64_t) :: n(5)
    complex(c_float_complex) :: z(2, 2, 2)
    character(len=:), allocatable :: text
    integer(c_int8_t), allocatable :: bytes(:)
    integer :: i, j, k, root

    call check_section('allreduce ' // label)
    do j = 1, 4
      do i = 1, 3
        x(i, j) = (me + 1) * ref(i, j, 1)
        expected(i, j) = nprocs * (nprocs + 1) / 2 * ref(i, j, 1)
      end do
    end do
    call dgampi_distributor_allreduce(d, x, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_allreduce')
    call check_true(all(x == expected), 'real(8) sum differs')
    n = [(int(me, c_int64_t) * k, k = 1, 5)]
    call dgampi_distributor_allreduce(d, n, capped(8_c_size_t))
    call check_true(all(n == [(int(nprocs * (nprocs - 1) / 2, c_int64_t) * k, k = 1, 5)]), 'integer(8) sum differs')

    call check_section('bcast_chunked_into ' // label)
    root = nprocs / 2
    z = (0, 0)
    if (me == root) z = reshape([(cmplx(k, -k, c_float_complex), k = 1, 8)], [2, 2, 2])
    call dgampi_distributor_bcast_chunked_into(d, z, root, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_bcast_chunked_into')
    call check_true(all(z == reshape([(cmplx(k, -k, c_float_complex), k = 1, 8)], [2, 2, 2])), 'broadcast differs')

    call check_section('bcast_bytes ' // label)
    if (me == root) text = 'metadata of the root: ' // repeat('xyz', 20)
    call dgampi_distributor_bcast_bytes(d, text, root, ierr=ierr)
    call check_ok(ierr, 'dgampi_distributor_bcast_bytes character')
    call check_true(allocated(text), 'string not allocated')
    if (allocated(text)) call check_true(text == 'metadata of the root: ' // repeat('xyz', 20), 'string "' // text // '"')
    if (me == 0) bytes = [(int(k - 100, c_int8_t), k = 1, 200)]
    call dgampi_distributor_bcast_bytes(d, bytes, 0, capped(9_c_size_t), ierr)
    call check_ok(ierr, 'dgampi_distributor_bcast_bytes int8')
    call check_true(allocated(bytes), 'int8 blob not allocated')
    if (allocated(bytes)) then
      call check_true(size(bytes) == 200, 'int8 blob has the wrong length')
      if (size(bytes) == 200) call check_true(all(bytes == [(int(k - 100, c_int8_t), k = 1, 200)]), 'int8 blob differs')
    end if
  end subroutine test_allreduce_bcast

  ! N-point objects around the ring: rank r sends to r+1 (even ranks first).
  subroutine test_npoint(d, label)
    type(dgampi_distributor), intent(in) :: d
    character(len=*), intent(in) :: label
    real(c_double) :: mat(3, 2, 2), got(3, 2, 2)
    character(len=:), allocatable :: meta
    character(len=32) :: expected, text
    integer :: next, prev, i, j, k, phase
    call check_section('send_to_rank / recv_from_rank_into ' // label)
    next = modulo(me + 1, nprocs)
    prev = modulo(me - 1, nprocs)
    do k = 1, 2
      do j = 1, 2
        do i = 1, 3
          mat(i, j, k) = ref(i, j, k) + 0.5d0 * me
        end do
      end do
    end do
    got = 0
    write (text, '(a, i0)') 'npoint from ', me
    do phase = 0, 1
      if (modulo(me + phase, 2) == 0) then
        call dgampi_distributor_send_to_rank(d, trim(text), mat, next, 40, ierr=ierr)
        call check_ok(ierr, 'dgampi_distributor_send_to_rank')
      else
        call dgampi_distributor_recv_from_rank_into(d, prev, 40, meta, got, ierr)
        call check_ok(ierr, 'dgampi_distributor_recv_from_rank_into')
      end if
    end do
    write (expected, '(a, i0)') 'npoint from ', prev
    call check_true(meta == trim(expected), 'metadata "' // meta // '"')
    call check_true(all(got == reshape([(((ref(i, j, k) + 0.5d0 * prev, i = 1, 3), j = 1, 2), k = 1, 2)], [3, 2, 2])), &
      'array differs')
  end subroutine test_npoint

end program distributor
