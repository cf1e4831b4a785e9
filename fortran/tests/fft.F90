! The distributed 3-D FFT through the Fortran module, checked on every rank
! against a direct DFT computed here. Built twice: with USE_MPI_F08 (`use
! mpi_f08`, type(MPI_Comm) communicators) and without (`use mpi`, integer
! handles). Under DGAMPI_MAX_MESSAGE_BYTES=3 every data movement is chunked.
!
! A rank's block is a(batch..., my_q) (Fortran order, q last); the tests
! keep it in a flat buffer buf(W*my_q) and pass rank-1, rank-2 and rank-4
! pointer views of it for the batches (none), (3) and, in C order,
! (2, 2, 5) -- a(5, 2, 2, my_q) in Fortran.
!
! Transposed plans (transposition = DGAMPI_FFT_TRANSPOSITION_OUT / _IN,
! dgampi_fft_plan_execute_into, _layout, _indices): every strategy, out and
! in, forward and backward, complex(8) and complex(4), against the DFT at
! the grid points (0-based q from dgampi_fft_plan_indices) and batch
! columns (dgampi_fft_plan_layout) each rank reports; a transposed side is
! t(batch_len, count) or, holding the whole batch, t(batch..., count).
program fft
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
  integer :: ierr
  real(c_double), parameter :: two_pi = 8 * atan(1d0)
  real(c_double), parameter :: tol8 = 1d-12, tol4 = 1d-5
  !> The grids.
  integer(c_int64_t), parameter :: grids(3, 3) = reshape([2_c_int64_t, 3_c_int64_t, 2_c_int64_t, &
    13_c_int64_t, 7_c_int64_t, 5_c_int64_t, 1_c_int64_t, 1_c_int64_t, 8_c_int64_t], [3, 3])
  integer, parameter :: strategies(4) = [DGAMPI_FFT_STRATEGY_AUTO, DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE, &
    DGAMPI_FFT_STRATEGY_SLAB, DGAMPI_FFT_STRATEGY_PENCIL]
  character(len=16), parameter :: strategy_names(0:3) = [character(len=16) :: 'auto', 'batch_transpose', &
    'slab', 'pencil']

  !> A batch shape in Fortran order (the leading extents of the block).
  type :: batch_t
    integer(c_int64_t), allocatable :: f(:)
  end type batch_t
  type(batch_t) :: batches(3)

  !> What this rank holds of one side of a plan (dgampi_fft_plan_layout and
  !> dgampi_fft_plan_indices).
  type :: side_t
    integer(c_int64_t) :: count = 0, batch_start = 0, batch_len = 0
    logical :: flat = .false.
    integer(c_int64_t), allocatable :: idx(:)   ! 0-based q of each row
  end type side_t

#ifdef USE_MPI_F08
  call MPI_Init()
  call MPI_Comm_dup(MPI_COMM_WORLD, comm)
#else
  call MPI_Init(mpierr)
  call MPI_Comm_dup(MPI_COMM_WORLD, comm, mpierr)
#endif
  call check_start('fft')
  batches(1)%f = [integer(c_int64_t) ::]
  batches(2)%f = [3_c_int64_t]
  batches(3)%f = [5_c_int64_t, 2_c_int64_t, 2_c_int64_t]   ! C order (2, 2, 5)

  call test_strategies_c8()
  call test_c4()
  call test_normalizations()
  call test_plan_reuse()
  call test_sections()
  call test_one_shot()
  call test_pencil_indices()
  call test_transposed()
  call test_transposed_round_trip()
  call test_transposed_errors()
  call test_threads()
  call test_wisdom()
  call test_errors()

#ifdef USE_MPI_F08
  call MPI_Comm_free(comm)
#else
  call MPI_Comm_free(comm, mpierr)
#endif
  call check_finish()

contains

  ! ================================================================ references

  !> Input `variant` at grid point q (0-based), batch element b (0-based
  !> offset in the block's leading dimensions).
  pure function input(variant, q, b) result(x)
    integer, intent(in) :: variant
    integer(c_int64_t), intent(in) :: q, b
    complex(c_double_complex) :: x
    real(c_double) :: t
    t = real(mod(q * 7919_c_int64_t + b * 104729_c_int64_t + variant * 31337_c_int64_t, 1009_c_int64_t), c_double)
    x = cmplx(t / 1009d0 - 0.5d0, sin(0.37d0 * q + 1.1d0 * b + 0.5d0 * variant), c_double_complex)
  end function input

  !> This rank's block of input `variant`: buf(b + W*ql + 1) = input(offset + ql, b).
  subroutine fill(variant, w, offset, my_q, buf)
    integer, intent(in) :: variant
    integer(c_int64_t), intent(in) :: w, offset, my_q
    complex(c_double_complex), intent(out) :: buf(:)
    integer(c_int64_t) :: ql, b
    do ql = 0, my_q - 1
      do b = 0, w - 1
        buf(b + w * ql + 1) = input(variant, offset + ql, b)
      end do
    end do
  end subroutine fill

  !> Sum of |input|^2 over the whole grid and batch.
  function norm2_all(variant, nq, w) result(s)
    integer, intent(in) :: variant
    integer(c_int64_t), intent(in) :: nq(3), w
    real(c_double) :: s
    integer(c_int64_t) :: q, b
    s = 0
    do q = 0, product(nq) - 1
      do b = 0, w - 1
        s = s + abs(input(variant, q, b))**2
      end do
    end do
  end function norm2_all

  !> The unnormalized DFT (sign -1: exp(-2 pi i k.n/N), +1: exp(+...)) of
  !> input `variant` at this rank's q = offset .. offset+my_q-1, computed
  !> directly from the whole input: ref(b + W*ql + 1).
  subroutine dft(variant, nq, w, sign, offset, my_q, ref)
    integer, intent(in) :: variant, sign
    integer(c_int64_t), intent(in) :: nq(3), w, offset, my_q
    complex(c_double_complex), intent(out) :: ref(:)
    complex(c_double_complex), allocatable :: x(:, :), tx(:), ty(:), tz(:), acc(:)
    complex(c_double_complex) :: ph
    integer(c_int64_t) :: n, q, b, k, kx, ky, kz, jx, jy, jz, j
    n = product(nq)
    allocate (x(w, n), acc(w))
    do q = 0, n - 1
      do b = 0, w - 1
        x(b + 1, q + 1) = input(variant, q, b)
      end do
    end do
    allocate (tx(0:nq(1) - 1), ty(0:nq(2) - 1), tz(0:nq(3) - 1))
    do j = 0, nq(1) - 1
      tx(j) = exp(cmplx(0d0, sign * two_pi * j / nq(1), c_double_complex))
    end do
    do j = 0, nq(2) - 1
      ty(j) = exp(cmplx(0d0, sign * two_pi * j / nq(2), c_double_complex))
    end do
    do j = 0, nq(3) - 1
      tz(j) = exp(cmplx(0d0, sign * two_pi * j / nq(3), c_double_complex))
    end do
    do k = offset, offset + my_q - 1
      kx = k / (nq(2) * nq(3))
      ky = mod(k / nq(3), nq(2))
      kz = mod(k, nq(3))
      acc = 0
      do q = 0, n - 1
        jx = q / (nq(2) * nq(3))
        jy = mod(q / nq(3), nq(2))
        jz = mod(q, nq(3))
        ph = tx(mod(kx * jx, nq(1))) * ty(mod(ky * jy, nq(2))) * tz(mod(kz * jz, nq(3)))
        acc = acc + ph * x(:, q + 1)
      end do
      ref(w * (k - offset) + 1:w * (k - offset + 1)) = acc
    end do
  end subroutine dft

  !> ||got - want|| on this rank over `scale` (a norm over all ranks).
  pure function rel_err(got, want, scale) result(e)
    complex(c_double_complex), intent(in) :: got(:), want(:)
    real(c_double), intent(in) :: scale
    real(c_double) :: e
    e = sqrt(sum(abs(got - want)**2)) / max(scale, tiny(1d0))
  end function rel_err

  function describe(strategy, nq, fb) result(text)
    integer, intent(in) :: strategy
    integer(c_int64_t), intent(in) :: nq(3), fb(:)
    character(len=:), allocatable :: text
    character(len=120) :: buf
    write (buf, '(a, 2(i0, "x"), i0, a, *(i0, :, ","))') trim(strategy_names(strategy)) // ' ', nq, ' batch(', fb
    text = trim(buf) // ')'
  end function describe

  function num(x) result(text)
    real(c_double), intent(in) :: x
    character(len=:), allocatable :: text
    character(len=32) :: buf
    write (buf, '(es10.3)') x
    text = trim(adjustl(buf))
  end function num

  ! ================================================================ executing on a flat buffer

  !> dgampi_fft_execute on buf seen as a(fb..., my_q) (rank 1, 2 or 4).
  subroutine exec8(plan, buf, fb, my_q, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    complex(c_double_complex), intent(inout), target, contiguous :: buf(:)
    integer(c_int64_t), intent(in) :: fb(:), my_q
    integer, intent(out) :: ierr
    complex(c_double_complex), pointer :: p1(:), p2(:, :), p4(:, :, :, :)
    select case (size(fb))
    case (0)
      p1(1:my_q) => buf
      call dgampi_fft_plan_execute(plan, p1, ierr)
    case (1)
      p2(1:fb(1), 1:my_q) => buf
      call dgampi_fft_plan_execute(plan, p2, ierr)
    case (3)
      p4(1:fb(1), 1:fb(2), 1:fb(3), 1:my_q) => buf
      call dgampi_fft_plan_execute(plan, p4, ierr)
    case default
      error stop 'exec8: unexpected batch rank'
    end select
  end subroutine exec8

  subroutine exec4(plan, buf, fb, my_q, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    complex(c_float_complex), intent(inout), target, contiguous :: buf(:)
    integer(c_int64_t), intent(in) :: fb(:), my_q
    integer, intent(out) :: ierr
    complex(c_float_complex), pointer :: p1(:), p2(:, :), p4(:, :, :, :)
    select case (size(fb))
    case (0)
      p1(1:my_q) => buf
      call dgampi_fft_plan_execute(plan, p1, ierr)
    case (1)
      p2(1:fb(1), 1:my_q) => buf
      call dgampi_fft_plan_execute(plan, p2, ierr)
    case (3)
      p4(1:fb(1), 1:fb(2), 1:fb(3), 1:my_q) => buf
      call dgampi_fft_plan_execute(plan, p4, ierr)
    case default
      error stop 'exec4: unexpected batch rank'
    end select
  end subroutine exec4

  !> The one-shot FFT on buf seen as a(fb..., my_q).
  subroutine once8(buf, nq, fb, my_q, direction, ierr)
    complex(c_double_complex), intent(inout), target, contiguous :: buf(:)
    integer(c_int64_t), intent(in) :: nq(3), fb(:), my_q
    integer, intent(in) :: direction
    integer, intent(out) :: ierr
    complex(c_double_complex), pointer :: p1(:), p2(:, :), p4(:, :, :, :)
    select case (size(fb))
    case (0)
      p1(1:my_q) => buf
      ! default direction: forward
      if (direction == DGAMPI_FFT_DIRECTION_FORWARD) then
        call dgampi_fft_execute_once(comm, nq, p1, ierr=ierr)
      else
        call dgampi_fft_execute_once(comm, nq, p1, direction, ierr=ierr)
      end if
    case (1)
      p2(1:fb(1), 1:my_q) => buf
      call dgampi_execute_distributed_fft(comm, int(nq), p2, direction=direction, ierr=ierr)
    case (3)
      p4(1:fb(1), 1:fb(2), 1:fb(3), 1:my_q) => buf
      call dgampi_fft_execute_once(comm, nq, p4, direction=direction, strategy=DGAMPI_FFT_STRATEGY_PENCIL, &
        ierr=ierr)
    case default
      error stop 'once8: unexpected batch rank'
    end select
  end subroutine once8

  !> Creates a plan; nq and batch_shape go as integer(4) or integer(8) by `i32`.
  subroutine create(plan, nq, fb, dtype, direction, strategy, i32, ierr, normalization, limit, transposition)
    type(dgampi_fft_plan), intent(inout) :: plan
    integer(c_int64_t), intent(in) :: nq(3), fb(:)
    integer, intent(in) :: dtype, direction, strategy
    logical, intent(in) :: i32
    integer, intent(out) :: ierr
    integer, intent(in), optional :: normalization, transposition
    integer(c_size_t), intent(in), optional :: limit
    if (i32) then
      call dgampi_fft_plan_create(plan, comm, int(nq), int(fb), dtype, direction, normalization, strategy, &
        limit=limit, ierr=ierr, transposition=transposition)
    else
      call dgampi_fft_plan_create(plan, comm, nq, fb, dtype, direction=direction, normalization=normalization, &
        strategy=strategy, limit=limit, transposition=transposition, ierr=ierr)
    end if
  end subroutine create

  !> Checks plan_local against the flat split (excess on the last ranks)
  !> and plan_strategy against the request.
  subroutine check_plan(plan, nq, strategy, what, my_q, offset)
    type(dgampi_fft_plan), intent(in) :: plan
    integer(c_int64_t), intent(in) :: nq(3)
    integer, intent(in) :: strategy
    character(len=*), intent(in) :: what
    integer(c_int64_t), intent(out) :: my_q, offset
    integer(c_int64_t) :: sizes(nprocs), offsets(nprocs)
    integer :: used
    sizes = block_sizes(product(nq), nprocs)
    offsets = block_offsets(product(nq), nprocs)
    call dgampi_fft_plan_local(plan, my_q, offset, ierr)
    call check_ok(ierr, what // ': dgampi_fft_plan_local')
    call check_true(my_q == sizes(me + 1) .and. offset == offsets(me + 1), what // ': plan_local is not the flat split')
    used = dgampi_fft_plan_strategy(plan, ierr)
    call check_ok(ierr, what // ': dgampi_fft_plan_strategy')
    if (strategy == DGAMPI_FFT_STRATEGY_AUTO) then
      call check_true(used >= 1 .and. used <= 3, what // ': auto resolved to no strategy')
    else
      call check_true(used == strategy, what // ': the plan does not use the requested strategy')
    end if
  end subroutine check_plan

  ! ================================================================ tests

  !> Every strategy x grid x batch, complex(8): forward against the DFT,
  !> then the backward plan brings the input back.
  subroutine test_strategies_c8()
    type(dgampi_fft_plan) :: fwd, bwd
    complex(c_double_complex), allocatable :: buf(:), ref(:), orig(:)
    integer(c_int64_t) :: nq(3), w, my_q, offset
    integer :: is, ig, ib, variant
    character(len=:), allocatable :: what
    real(c_double) :: scale, e
    do is = 1, size(strategies)
      do ig = 1, size(grids, 2)
        do ib = 1, size(batches)
          nq = grids(:, ig)
          what = describe(strategies(is), nq, batches(ib)%f)
          call check_section('c8 ' // what)
          w = product(batches(ib)%f)
          variant = is + 3 * ig + 7 * ib
          call create(fwd, nq, batches(ib)%f, DGAMPI_DTYPE_COMPLEX128, DGAMPI_FFT_DIRECTION_FORWARD, strategies(is), &
            mod(ig + ib, 2) == 0, ierr)
          call check_ok(ierr, 'dgampi_fft_plan_create (forward)')
          call create(bwd, nq, batches(ib)%f, DGAMPI_DTYPE_COMPLEX128, DGAMPI_FFT_DIRECTION_BACKWARD, strategies(is), &
            mod(ig + ib, 2) == 1, ierr)
          call check_ok(ierr, 'dgampi_fft_plan_create (backward)')
          if (ierr /= 0) cycle
          call check_plan(fwd, nq, strategies(is), what, my_q, offset)
          allocate (buf(w * my_q), ref(w * my_q), orig(w * my_q))
          call fill(variant, w, offset, my_q, buf)
          orig = buf
          call exec8(fwd, buf, batches(ib)%f, my_q, ierr)
          call check_ok(ierr, 'dgampi_fft_execute (forward)')
          call dft(variant, nq, w, -1, offset, my_q, ref)
          scale = sqrt(product(nq) * norm2_all(variant, nq, w))
          e = rel_err(buf, ref, scale)
          call check_true(e < tol8, 'forward differs from the DFT: relative error ' // num(e))
          call exec8(bwd, buf, batches(ib)%f, my_q, ierr)
          call check_ok(ierr, 'dgampi_fft_execute (backward)')
          e = rel_err(buf, orig, sqrt(norm2_all(variant, nq, w)))
          call check_true(e < tol8, 'backward(forward(x)) /= x: relative error ' // num(e))
          deallocate (buf, ref, orig)
          call dgampi_fft_plan_destroy(fwd, ierr)
          call check_ok(ierr, 'dgampi_fft_plan_destroy')
          call check_true(.not. c_associated(fwd%ptr), 'destroy did not nullify the plan')
          call dgampi_fft_plan_destroy(bwd)
        end do
      end do
    end do
  end subroutine test_strategies_c8

  !> complex(4): every strategy on two grids and two batches.
  subroutine test_c4()
    type(dgampi_fft_plan) :: fwd, bwd
    complex(c_float_complex), allocatable :: buf(:)
    complex(c_double_complex), allocatable :: x(:), ref(:)
    integer(c_int64_t) :: nq(3), w, my_q, offset
    integer :: is, ig, ib, variant
    character(len=:), allocatable :: what
    real(c_double) :: e
    do is = 1, size(strategies)
      do ig = 1, 2
        do ib = 2, 3
          nq = grids(:, ig)
          what = describe(strategies(is), nq, batches(ib)%f)
          call check_section('c4 ' // what)
          w = product(batches(ib)%f)
          variant = 100 + is + 3 * ig + 7 * ib
          call create(fwd, nq, batches(ib)%f, DGAMPI_DTYPE_COMPLEX64, DGAMPI_FFT_DIRECTION_FORWARD, strategies(is), &
            ib == 2, ierr)
          call check_ok(ierr, 'dgampi_fft_plan_create (complex64, forward)')
          call create(bwd, nq, batches(ib)%f, DGAMPI_DTYPE_COMPLEX64, DGAMPI_FFT_DIRECTION_BACKWARD, strategies(is), &
            ib == 3, ierr)
          call check_ok(ierr, 'dgampi_fft_plan_create (complex64, backward)')
          if (ierr /= 0) cycle
          call check_plan(fwd, nq, strategies(is), what, my_q, offset)
          allocate (buf(w * my_q), x(w * my_q), ref(w * my_q))
          call fill(variant, w, offset, my_q, x)
          buf = cmplx(x, kind=c_float_complex)
          call exec4(fwd, buf, batches(ib)%f, my_q, ierr)
          call check_ok(ierr, 'dgampi_fft_execute (complex64, forward)')
          call dft(variant, nq, w, -1, offset, my_q, ref)
          e = rel_err(cmplx(buf, kind=c_double_complex), ref, sqrt(product(nq) * norm2_all(variant, nq, w)))
          call check_true(e < tol4, 'forward differs from the DFT: relative error ' // num(e))
          call exec4(bwd, buf, batches(ib)%f, my_q, ierr)
          call check_ok(ierr, 'dgampi_fft_execute (complex64, backward)')
          e = rel_err(cmplx(buf, kind=c_double_complex), x, sqrt(norm2_all(variant, nq, w)))
          call check_true(e < tol4, 'backward(forward(x)) /= x: relative error ' // num(e))
          deallocate (buf, x, ref)
          call dgampi_fft_plan_destroy(fwd)
          call dgampi_fft_plan_destroy(bwd)
        end do
      end do
    end do
  end subroutine test_c4

  !> Each normalization in each direction scales the DFT as numpy does.
  subroutine test_normalizations()
    type(dgampi_fft_plan) :: plan
    complex(c_double_complex), allocatable :: buf(:), ref(:)
    integer(c_int64_t) :: nq(3), w, my_q, offset, n
    integer :: norm, idir, dir
    real(c_double) :: factor, e
    character(len=40) :: what
    nq = grids(:, 2)
    n = product(nq)
    w = 3
    do norm = 0, 3
      do idir = 1, 2
        dir = merge(DGAMPI_FFT_DIRECTION_FORWARD, DGAMPI_FFT_DIRECTION_BACKWARD, idir == 1)
        write (what, '(a, i0, a, i0)') 'normalization ', norm, ', direction ', dir
        call check_section(trim(what))
        select case (norm)
        case (DGAMPI_FFT_NORMALIZATION_BACKWARD)
          factor = merge(1d0, 1d0 / n, dir == DGAMPI_FFT_DIRECTION_FORWARD)
        case (DGAMPI_FFT_NORMALIZATION_NONE)
          factor = 1
        case (DGAMPI_FFT_NORMALIZATION_ORTHO)
          factor = 1 / sqrt(real(n, c_double))
        case default
          factor = merge(1d0 / n, 1d0, dir == DGAMPI_FFT_DIRECTION_FORWARD)
        end select
        call create(plan, nq, [w], DGAMPI_DTYPE_COMPLEX128, dir, DGAMPI_FFT_STRATEGY_AUTO, norm == 2, ierr, &
          normalization=norm)
        call check_ok(ierr, 'dgampi_fft_plan_create')
        if (ierr /= 0) cycle
        call dgampi_fft_plan_local(plan, my_q, offset)
        allocate (buf(w * my_q), ref(w * my_q))
        call fill(200 + norm, w, offset, my_q, buf)
        call exec8(plan, buf, [w], my_q, ierr)
        call check_ok(ierr, 'dgampi_fft_plan_execute')
        call dft(200 + norm, nq, w, dir, offset, my_q, ref)
        e = rel_err(buf, factor * ref, factor * sqrt(n * norm2_all(200 + norm, nq, w)))
        call check_true(e < tol8, 'not the scaled DFT: relative error ' // num(e))
        deallocate (buf, ref)
        call dgampi_fft_plan_destroy(plan)
      end do
    end do
  end subroutine test_normalizations

  !> One plan executed several times on different data (and an explicit
  !> message limit).
  !> threads=2 gives the threads=1 result to rounding (the grid of the
  !> plan-reuse test, backward so that the scaling runs too).
  subroutine test_threads()
    type(dgampi_fft_plan) :: plan
    complex(c_double_complex), allocatable :: buf(:), one(:)
    integer(c_int64_t) :: nq(3), fb(3), w, my_q, offset
    integer :: is, nt
    real(c_double) :: e
    nq = grids(:, 2)
    fb = batches(3)%f
    w = product(fb)
    do is = 2, size(strategies)
      call check_section('threads ' // trim(strategy_names(strategies(is))))
      do nt = 1, 2
        call dgampi_fft_plan_create(plan, comm, nq, fb, DGAMPI_DTYPE_COMPLEX128, direction=DGAMPI_FFT_DIRECTION_BACKWARD, &
          strategy=strategies(is), limit=capped(200_c_size_t), ierr=ierr, threads=nt)
        call check_ok(ierr, 'dgampi_fft_plan_create (threads)')
        if (ierr /= 0) exit
        call check_plan(plan, nq, strategies(is), 'threads', my_q, offset)
        if (.not. allocated(buf)) allocate (buf(w * my_q))
        call fill(400, w, offset, my_q, buf)
        call exec8(plan, buf, fb, my_q, ierr)
        call check_ok(ierr, 'dgampi_fft_plan_execute (threads)')
        if (nt == 1) one = buf
        call dgampi_fft_plan_destroy(plan)
      end do
      if (allocated(one)) then
        e = rel_err(buf, one, sqrt(sum(abs(one)**2)))
        call check_true(e < 1d-14, '2 threads differ from 1: relative error ' // num(e))
        deallocate (one)
      end if
      if (allocated(buf)) deallocate (buf)
    end do
  end subroutine test_threads

  subroutine test_plan_reuse()
    type(dgampi_fft_plan) :: plan
    complex(c_double_complex), allocatable :: buf(:), ref(:)
    integer(c_int64_t) :: nq(3), fb(3), w, my_q, offset
    integer :: rep, is
    real(c_double) :: e
    nq = grids(:, 2)
    fb = batches(3)%f
    w = product(fb)
    do is = 2, size(strategies)
      call check_section('plan reuse ' // trim(strategy_names(strategies(is))))
      call dgampi_fft_plan_create(plan, comm, nq, fb, DGAMPI_DTYPE_COMPLEX128, strategy=strategies(is), &
        rigor=DGAMPI_FFT_RIGOR_ESTIMATE, limit=capped(200_c_size_t), ierr=ierr)
      call check_ok(ierr, 'dgampi_fft_plan_create')
      if (ierr /= 0) cycle
      call check_plan(plan, nq, strategies(is), 'plan reuse', my_q, offset)
      allocate (buf(w * my_q), ref(w * my_q))
      do rep = 1, 3
        call fill(300 + rep, w, offset, my_q, buf)
        call exec8(plan, buf, fb, my_q, ierr)
        call check_ok(ierr, 'dgampi_fft_plan_execute')
        call dft(300 + rep, nq, w, -1, offset, my_q, ref)
        e = rel_err(buf, ref, sqrt(product(nq) * norm2_all(300 + rep, nq, w)))
        call check_true(e < tol8, 'reused plan differs from the DFT: relative error ' // num(e))
      end do
      deallocate (buf, ref)
      call dgampi_fft_plan_destroy(plan)
    end do
  end subroutine test_plan_reuse

  !> Sections: a contiguous section of a larger array is transformed in
  !> place (its neighbours untouched); a strided one is rejected on every
  !> rank and left as it was.
  subroutine test_sections()
    type(dgampi_fft_plan) :: plan
    complex(c_double_complex), allocatable, target :: big(:, :), wide(:, :)
    complex(c_double_complex), allocatable :: ref(:), before(:, :)
    integer(c_int64_t) :: nq(3), my_q, offset
    real(c_double) :: e
    call check_section('sections')
    nq = grids(:, 2)
    call dgampi_fft_plan_create(plan, comm, nq, [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    call check_ok(ierr, 'dgampi_fft_plan_create')
    call dgampi_fft_plan_local(plan, my_q, offset)
    allocate (big(3, my_q + 2), ref(3 * my_q))
    big = (7d0, -7d0)
    call fill(400, 3_c_int64_t, offset, my_q, ref)
    big(:, 2:my_q + 1) = reshape(ref, [3_c_int64_t, my_q])
    call dgampi_fft_execute(plan, big(:, 2:my_q + 1), ierr)  ! the deprecated 0.1 name
    call check_ok(ierr, 'dgampi_fft_execute on a contiguous section')
    call dft(400, nq, 3_c_int64_t, -1, offset, my_q, ref)
    e = rel_err(reshape(big(:, 2:my_q + 1), [3 * my_q]), ref, sqrt(product(nq) * norm2_all(400, nq, 3_c_int64_t)))
    call check_true(e < tol8, 'section differs from the DFT: relative error ' // num(e))
    call check_true(all(big(:, 1) == (7d0, -7d0)) .and. all(big(:, my_q + 2) == (7d0, -7d0)), &
      'the neighbours of the section changed')

    allocate (wide(6, my_q))
    wide = (1d0, 2d0)
    before = wide
    call dgampi_fft_plan_execute(plan, wide(1:6:2, :), ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a strided section was accepted')
    call check_true(index(dgampi_error_message(), 'dgampi_fft_plan_execute') > 0, &
      'strided section: message "' // dgampi_error_message() // '"')
    call check_true(all(wide == before), 'a rejected strided section was changed')
    call dgampi_fft_plan_destroy(plan)
  end subroutine test_sections

  !> dgampi_execute_distributed_fft: forward (the default) against the
  !> DFT, then backward back to the input.
  subroutine test_one_shot()
    complex(c_double_complex), allocatable :: buf(:), ref(:), orig(:)
    integer(c_int64_t) :: nq(3), w, my_q, offset, sizes(nprocs), offsets(nprocs)
    integer :: ig, ib, variant
    real(c_double) :: e
    do ig = 1, size(grids, 2)
      do ib = 1, size(batches)
        nq = grids(:, ig)
        call check_section('one-shot ' // describe(0, nq, batches(ib)%f))
        w = product(batches(ib)%f)
        sizes = block_sizes(product(nq), nprocs)
        offsets = block_offsets(product(nq), nprocs)
        my_q = sizes(me + 1)
        offset = offsets(me + 1)
        variant = 500 + ig + 7 * ib
        allocate (buf(w * my_q), ref(w * my_q), orig(w * my_q))
        call fill(variant, w, offset, my_q, buf)
        orig = buf
        call once8(buf, nq, batches(ib)%f, my_q, DGAMPI_FFT_DIRECTION_FORWARD, ierr)
        call check_ok(ierr, 'dgampi_execute_distributed_fft (forward)')
        call dft(variant, nq, w, -1, offset, my_q, ref)
        e = rel_err(buf, ref, sqrt(product(nq) * norm2_all(variant, nq, w)))
        call check_true(e < tol8, 'one-shot forward differs from the DFT: relative error ' // num(e))
        call once8(buf, nq, batches(ib)%f, my_q, DGAMPI_FFT_DIRECTION_BACKWARD, ierr)
        call check_ok(ierr, 'dgampi_execute_distributed_fft (backward)')
        e = rel_err(buf, orig, sqrt(norm2_all(variant, nq, w)))
        call check_true(e < tol8, 'one-shot backward(forward(x)) /= x: relative error ' // num(e))
        deallocate (buf, ref, orig)
      end do
    end do
  end subroutine test_one_shot

  !> Every layout tiles the grid for 1..5 ranks, each rank's indices in the
  !> documented order (flat: its block; pencils: whole lines, the pencil
  !> axis fastest, lines row-major over the other axes, excess on the first
  !> ranks).
  subroutine test_pencil_indices()
    integer(c_int64_t), allocatable :: idx(:), expected(:)
    integer(c_int64_t) :: nq(3), n, line_len, nlines, first, count, l, j, a, b, sizes(5), offsets(5)
    integer, allocatable :: seen(:)
    integer :: ig, layout, nranks, rank, axis
    character(len=80) :: what
    call check_section('pencil indices')
    do ig = 1, size_of_grids()
      nq = grids(:, ig)
      n = product(nq)
      do layout = DGAMPI_LAYOUT_FLAT, DGAMPI_LAYOUT_X_PENCIL
        do nranks = 1, 5
          allocate (seen(0:n - 1))
          seen = 0
          do rank = 0, nranks - 1
            write (what, '(a, i0, a, i0, a, i0, a, i0)') 'grid ', ig, ' layout ', layout, ' rank ', rank, ' of ', nranks
            if (mod(rank, 2) == 0) then
              call dgampi_fft_pencil_indices(rank, nranks, nq, layout, idx, ierr)
            else
              call dgampi_get_pencil_indices(rank, nranks, int(nq), layout, idx, ierr)
            end if
            call check_ok(ierr, 'dgampi_get_pencil_indices ' // trim(what))
            if (ierr /= 0) cycle
            call check_true(all(idx >= 0 .and. idx < n), trim(what) // ': index outside the grid')
            if (.not. all(idx >= 0 .and. idx < n)) cycle
            seen(idx) = seen(idx) + 1
            ! The expected indices, in order.
            if (layout == DGAMPI_LAYOUT_FLAT) then
              sizes(1:nranks) = block_sizes(n, nranks)
              offsets(1:nranks) = block_offsets(n, nranks)
              expected = [(offsets(rank + 1) + j, j = 0, sizes(rank + 1) - 1)]
            else
              axis = 4 - layout   ! z: 3, y: 2, x: 1 (Fortran index of nq)
              line_len = nq(axis)
              nlines = n / line_len
              count = nlines / nranks
              first = rank * count + min(int(rank, c_int64_t), mod(nlines, int(nranks, c_int64_t)))
              if (rank < mod(nlines, int(nranks, c_int64_t))) count = count + 1
              allocate (expected(0))
              do l = first, first + count - 1
                ! line l, row-major over the two other axes (a slower, b faster)
                select case (axis)
                case (3)
                  a = l / nq(2); b = mod(l, nq(2))
                  expected = [expected, ((a * nq(2) + b) * nq(3) + j, j = 0, nq(3) - 1)]
                case (2)
                  a = l / nq(3); b = mod(l, nq(3))
                  expected = [expected, ((a * nq(2) + j) * nq(3) + b, j = 0, nq(2) - 1)]
                case (1)
                  a = l / nq(3); b = mod(l, nq(3))
                  expected = [expected, ((j * nq(2) + a) * nq(3) + b, j = 0, nq(1) - 1)]
                end select
              end do
            end if
            call check_true(size_eq(idx, expected), trim(what) // ': not the documented indices')
            deallocate (expected)
          end do
          write (what, '(a, i0, a, i0, a, i0)') 'grid ', ig, ' layout ', layout, ' size ', nranks
          call check_true(all(seen == 1), trim(what) // ': the indices do not tile the grid')
          deallocate (seen)
        end do
      end do
    end do
  end subroutine test_pencil_indices

  ! ================================================================ transposed layouts

  !> Reads side `which` of the plan (layout and indices) and checks it is
  !> consistent and inside the grid of n points and the batch of w columns.
  subroutine get_side(plan, which, n, w, s)
    type(dgampi_fft_plan), intent(in) :: plan
    integer, intent(in) :: which
    integer(c_int64_t), intent(in) :: n, w
    type(side_t), intent(out) :: s
    integer(c_int64_t) :: c2, b2, l2
    call dgampi_fft_plan_layout(plan, which, s%count, s%batch_start, s%batch_len, s%flat, ierr)
    call check_ok(ierr, 'dgampi_fft_plan_layout')
    call dgampi_fft_plan_layout(plan, which, c2, b2, l2)   ! without flat and ierr
    call check_true(c2 == s%count .and. b2 == s%batch_start .and. l2 == s%batch_len, 'layout without flat differs')
    call dgampi_fft_plan_indices(plan, which, s%idx, ierr)
    call check_ok(ierr, 'dgampi_fft_plan_indices')
    call check_true(size(s%idx, kind=c_int64_t) == s%count, 'the number of indices is not the layout''s count')
    call check_true(all(s%idx >= 0 .and. s%idx < n), 'an index outside the grid (indices are 0-based)')
    call check_true(s%batch_start >= 0 .and. s%batch_len >= 0 .and. s%batch_start + s%batch_len <= w, &
      'batch columns outside the batch')
    if (size(s%idx, kind=c_int64_t) /= s%count .or. .not. all(s%idx >= 0 .and. s%idx < n)) then
      s%count = 0
      deallocate (s%idx)
      allocate (s%idx(0))
    end if
    if (s%batch_start < 0 .or. s%batch_len < 0 .or. s%batch_start + s%batch_len > w) then
      s%batch_start = 0
      s%batch_len = 0
    end if
  end subroutine get_side

  !> The side is the flat split, or the strategy's transposed layout (batch
  !> transpose: every q in order, a slice of the batch; slab: whole y-planes
  !> in grid order; pencil: the x-pencils of dgampi_fft_pencil_indices).
  subroutine check_side(s, flat, strategy, nq, w, what)
    type(side_t), intent(in) :: s
    logical, intent(in) :: flat
    integer, intent(in) :: strategy
    integer(c_int64_t), intent(in) :: nq(3), w
    character(len=*), intent(in) :: what
    integer(c_int64_t) :: n, my_q, offset, k, ylo, yhi, sizes(nprocs), offsets(nprocs)
    integer(c_int64_t), allocatable :: want(:)
    n = product(nq)
    call check_true(s%flat .eqv. flat, what // ': not the expected kind of layout (flat or transposed)')
    if (flat .or. strategy /= DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE) &
      call check_true(s%batch_start == 0 .and. s%batch_len == w, what // ': not the whole batch')
    if (flat) then
      sizes = block_sizes(n, nprocs)
      offsets = block_offsets(n, nprocs)
      my_q = sizes(me + 1)
      offset = offsets(me + 1)
      call check_true(size_eq(s%idx, [(offset + k, k = 0, my_q - 1)]), what // ': not the flat split')
      return
    end if
    select case (strategy)
    case (DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE)
      call check_true(size_eq(s%idx, [(k, k = 0, n - 1)]), what // ': the batch transpose holds every q in order')
    case (DGAMPI_FFT_STRATEGY_SLAB)
      ylo = nq(2)
      yhi = -1
      if (s%count > 0) then
        ylo = minval(mod(s%idx / nq(3), nq(2)))
        yhi = maxval(mod(s%idx / nq(3), nq(2)))
      end if
      call check_true(s%count == max(yhi - ylo + 1, 0_c_int64_t) * nq(1) * nq(3), what // ': not whole y-planes')
      if (s%count > 1) call check_true(all(s%idx(2:) > s%idx(:s%count - 1)), what // ': y-slab not in grid order')
    case default
      call dgampi_fft_pencil_indices(me, nprocs, nq, DGAMPI_LAYOUT_X_PENCIL, want, ierr)
      call check_ok(ierr, 'dgampi_fft_pencil_indices')
      call check_true(size_eq(s%idx, want), what // ': not the x-pencils')
    end select
  end subroutine check_side

  !> The Fortran shape of a side's array: a(batch..., count) on a flat side,
  !> t(batch_len, count) on a transposed one, or t(batch..., count) there
  !> when `shaped` and it holds the whole batch.
  function side_shape(s, fb, shaped) result(sh)
    type(side_t), intent(in) :: s
    integer(c_int64_t), intent(in) :: fb(:)
    logical, intent(in) :: shaped
    integer(c_int64_t), allocatable :: sh(:)
    if (s%flat .or. (shaped .and. s%batch_start == 0 .and. s%batch_len == product(fb))) then
      sh = [fb, s%count]
    else
      sh = [s%batch_len, s%count]
    end if
  end function side_shape

  !> buf(j + batch_len*(k-1)) = input `variant` at point idx(k), flattened
  !> batch element batch_start + j - 1.
  subroutine fill_side(variant, s, buf)
    integer, intent(in) :: variant
    type(side_t), intent(in) :: s
    complex(c_double_complex), intent(out) :: buf(:)
    integer(c_int64_t) :: k, j
    do k = 1, s%count
      do j = 1, s%batch_len
        buf(j + s%batch_len * (k - 1)) = input(variant, s%idx(k), s%batch_start + j - 1)
      end do
    end do
  end subroutine fill_side

  !> The same rows and columns of full(w, n) (full(b+1, q+1): element b of point q).
  function pick(full, s) result(v)
    complex(c_double_complex), intent(in) :: full(:, :)
    type(side_t), intent(in) :: s
    complex(c_double_complex), allocatable :: v(:)
    integer(c_int64_t) :: k
    allocate (v(s%count * s%batch_len))
    do k = 1, s%count
      v(s%batch_len * (k - 1) + 1:s%batch_len * k) = full(s%batch_start + 1:s%batch_start + s%batch_len, s%idx(k) + 1)
    end do
  end function pick

  !> The whole DFT of input `variant`: full(b+1, q+1).
  function dft_all(variant, nq, w, sign) result(full)
    integer, intent(in) :: variant, sign
    integer(c_int64_t), intent(in) :: nq(3), w
    complex(c_double_complex), allocatable :: full(:, :), flat(:)
    allocate (flat(w * product(nq)))
    call dft(variant, nq, w, sign, 0_c_int64_t, product(nq), flat)
    full = reshape(flat, [w, product(nq)])
  end function dft_all

  !> dgampi_fft_plan_execute_into on ibuf and obuf seen with the Fortran
  !> shapes ish and osh (ranks 1, 2 or 4 each).
  subroutine into8(plan, ibuf, ish, obuf, osh, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    complex(c_double_complex), intent(inout), target, contiguous :: ibuf(:), obuf(:)
    integer(c_int64_t), intent(in) :: ish(:), osh(:)
    integer, intent(out) :: ierr
    complex(c_double_complex), pointer :: i1(:), i2(:, :), i4(:, :, :, :), o1(:), o2(:, :), o4(:, :, :, :)
    select case (size(ish))
    case (1)
      i1(1:ish(1)) => ibuf
    case (2)
      i2(1:ish(1), 1:ish(2)) => ibuf
    case (4)
      i4(1:ish(1), 1:ish(2), 1:ish(3), 1:ish(4)) => ibuf
    case default
      error stop 'into8: unexpected input rank'
    end select
    select case (size(osh))
    case (1)
      o1(1:osh(1)) => obuf
    case (2)
      o2(1:osh(1), 1:osh(2)) => obuf
    case (4)
      o4(1:osh(1), 1:osh(2), 1:osh(3), 1:osh(4)) => obuf
    case default
      error stop 'into8: unexpected output rank'
    end select
    select case (10 * size(ish) + size(osh))
    case (11)
      call dgampi_fft_plan_execute_into(plan, i1, o1, ierr)
    case (12)
      call dgampi_fft_plan_execute_into(plan, i1, o2, ierr)
    case (14)
      call dgampi_fft_plan_execute_into(plan, i1, o4, ierr)
    case (21)
      call dgampi_fft_plan_execute_into(plan, i2, o1, ierr)
    case (22)
      call dgampi_fft_plan_execute_into(plan, i2, o2, ierr)
    case (24)
      call dgampi_fft_plan_execute_into(plan, i2, o4, ierr)
    case (41)
      call dgampi_fft_plan_execute_into(plan, i4, o1, ierr)
    case (42)
      call dgampi_fft_plan_execute_into(plan, i4, o2, ierr)
    case (44)
      call dgampi_fft_plan_execute_into(plan, i4, o4, ierr)
    end select
  end subroutine into8

  subroutine into4(plan, ibuf, ish, obuf, osh, ierr)
    type(dgampi_fft_plan), intent(in) :: plan
    complex(c_float_complex), intent(inout), target, contiguous :: ibuf(:), obuf(:)
    integer(c_int64_t), intent(in) :: ish(:), osh(:)
    integer, intent(out) :: ierr
    complex(c_float_complex), pointer :: i1(:), i2(:, :), i4(:, :, :, :), o1(:), o2(:, :), o4(:, :, :, :)
    select case (size(ish))
    case (1)
      i1(1:ish(1)) => ibuf
    case (2)
      i2(1:ish(1), 1:ish(2)) => ibuf
    case (4)
      i4(1:ish(1), 1:ish(2), 1:ish(3), 1:ish(4)) => ibuf
    case default
      error stop 'into4: unexpected input rank'
    end select
    select case (size(osh))
    case (1)
      o1(1:osh(1)) => obuf
    case (2)
      o2(1:osh(1), 1:osh(2)) => obuf
    case (4)
      o4(1:osh(1), 1:osh(2), 1:osh(3), 1:osh(4)) => obuf
    case default
      error stop 'into4: unexpected output rank'
    end select
    select case (10 * size(ish) + size(osh))
    case (11)
      call dgampi_fft_plan_execute_into(plan, i1, o1, ierr)
    case (12)
      call dgampi_fft_plan_execute_into(plan, i1, o2, ierr)
    case (14)
      call dgampi_fft_plan_execute_into(plan, i1, o4, ierr)
    case (21)
      call dgampi_fft_plan_execute_into(plan, i2, o1, ierr)
    case (22)
      call dgampi_fft_plan_execute_into(plan, i2, o2, ierr)
    case (24)
      call dgampi_fft_plan_execute_into(plan, i2, o4, ierr)
    case (41)
      call dgampi_fft_plan_execute_into(plan, i4, o1, ierr)
    case (42)
      call dgampi_fft_plan_execute_into(plan, i4, o2, ierr)
    case (44)
      call dgampi_fft_plan_execute_into(plan, i4, o4, ierr)
    end select
  end subroutine into4

  !> Every strategy x out/in x forward/backward, complex(8) on three grids
  !> with every batch and complex(4) on two: the output matches the DFT at
  !> the rows and columns the plan reports.
  subroutine test_transposed()
    integer(c_int64_t), parameter :: tgrids(3, 3) = reshape([2_c_int64_t, 3_c_int64_t, 2_c_int64_t, &
      4_c_int64_t, 3_c_int64_t, 5_c_int64_t, 1_c_int64_t, 1_c_int64_t, 8_c_int64_t], [3, 3])
    integer, parameter :: trans(2) = [DGAMPI_FFT_TRANSPOSITION_OUT, DGAMPI_FFT_TRANSPOSITION_IN]
    character(len=3), parameter :: trans_names(2) = ['out', 'in ']
    type(dgampi_fft_plan) :: plan
    type(side_t) :: sin, sout
    complex(c_double_complex), allocatable :: x8(:), y8(:), full(:, :), want(:)
    complex(c_float_complex), allocatable :: x4(:), y4(:)
    integer(c_int64_t) :: nq(3), w, n
    integer :: is, it, idir, dir, ig, ib, kind, variant, used, k
    logical :: shaped
    real(c_double) :: e, factor
    character(len=:), allocatable :: what
    k = 0
    do kind = 8, 4, -4
      do is = 1, size(strategies)
        do it = 1, 2
          do idir = 1, 2
            do ig = 1, 3
              do ib = 1, size(batches)
                if (kind == 4 .and. (ig == 2 .or. ib == 1)) cycle   ! complex(4): fewer cases
                k = k + 1
                dir = merge(DGAMPI_FFT_DIRECTION_FORWARD, DGAMPI_FFT_DIRECTION_BACKWARD, idir == 1)
                nq = tgrids(:, ig)
                n = product(nq)
                w = product(batches(ib)%f)
                shaped = mod(k, 3) /= 0
                what = describe(strategies(is), nq, batches(ib)%f)
                call check_section(merge('c8 ', 'c4 ', kind == 8) // 'transposed ' // trim(trans_names(it)) // ' ' // &
                  merge('forward  ', 'backward ', idir == 1) // what // merge(' batch-shaped', '             ', shaped))
                variant = 600 + k
                call create(plan, nq, batches(ib)%f, merge(DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_COMPLEX64, kind == 8), &
                  dir, strategies(is), mod(k, 2) == 0, ierr, transposition=trans(it))
                call check_ok(ierr, 'dgampi_fft_plan_create (transposed)')
                if (ierr /= 0) cycle
                used = dgampi_fft_plan_strategy(plan)
                call get_side(plan, DGAMPI_FFT_SIDE_INPUT, n, w, sin)
                call get_side(plan, DGAMPI_FFT_SIDE_OUTPUT, n, w, sout)
                call check_side(sin, it /= 2, used, nq, w, 'input side')     ! flat unless transposed in
                call check_side(sout, it /= 1, used, nq, w, 'output side')   ! flat unless transposed out
                allocate (x8(sin%count * sin%batch_len), y8(sout%count * sout%batch_len))
                call fill_side(variant, sin, x8)
                factor = merge(1d0, 1d0 / n, dir == DGAMPI_FFT_DIRECTION_FORWARD)
                full = factor * dft_all(variant, nq, w, dir)
                want = pick(full, sout)
                if (kind == 8) then
                  y8 = (-9d0, 9d0)
                  call into8(plan, x8, side_shape(sin, batches(ib)%f, shaped), y8, &
                    side_shape(sout, batches(ib)%f, .not. shaped), ierr)
                  call check_ok(ierr, 'dgampi_fft_plan_execute_into')
                  e = rel_err(y8, want, factor * sqrt(n * norm2_all(variant, nq, w)))
                  call check_true(e < tol8, 'not the DFT at the reported points: relative error ' // num(e))
                else
                  x4 = cmplx(x8, kind=c_float_complex)
                  allocate (y4(size(y8)))
                  y4 = (-9.0, 9.0)
                  call into4(plan, x4, side_shape(sin, batches(ib)%f, shaped), y4, &
                    side_shape(sout, batches(ib)%f, .not. shaped), ierr)
                  call check_ok(ierr, 'dgampi_fft_plan_execute_into (complex(4))')
                  e = rel_err(cmplx(y4, kind=c_double_complex), want, factor * sqrt(n * norm2_all(variant, nq, w)))
                  call check_true(e < tol4, 'not the DFT at the reported points: relative error ' // num(e))
                  deallocate (x4, y4)
                end if
                deallocate (x8, y8)
                call dgampi_fft_plan_destroy(plan, ierr)
                call check_ok(ierr, 'dgampi_fft_plan_destroy')
              end do
            end do
          end do
        end do
      end do
    end do
  end subroutine test_transposed

  !> Forward with the output transposed, then backward with the input
  !> transposed (the plans agree on the layout) returns the input.
  subroutine test_transposed_round_trip()
    type(dgampi_fft_plan) :: fwd, bwd
    type(side_t) :: fin, fout, bin, bout
    complex(c_double_complex), allocatable :: x(:), mid(:), back(:), full(:, :)
    complex(c_float_complex), allocatable :: x4(:), mid4(:), back4(:)
    integer(c_int64_t) :: nq(3), w, n
    integer :: is, ig, ib, kind, variant
    real(c_double) :: e
    do kind = 8, 4, -4
      do is = 1, size(strategies)
        do ig = 1, 2
          do ib = 2, 3
            nq = grids(:, merge(1, 3, ig == 1))
            n = product(nq)
            w = product(batches(ib)%f)
            call check_section(merge('c8 ', 'c4 ', kind == 8) // 'round trip out/in ' // &
              describe(strategies(is), nq, batches(ib)%f))
            variant = 700 + is + 5 * ig + 11 * ib + kind
            call create(fwd, nq, batches(ib)%f, merge(DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_COMPLEX64, kind == 8), &
              DGAMPI_FFT_DIRECTION_FORWARD, strategies(is), .true., ierr, transposition=DGAMPI_FFT_TRANSPOSITION_OUT)
            call check_ok(ierr, 'dgampi_fft_plan_create (forward, transposed out)')
            call create(bwd, nq, batches(ib)%f, merge(DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_COMPLEX64, kind == 8), &
              DGAMPI_FFT_DIRECTION_BACKWARD, strategies(is), .false., ierr, transposition=DGAMPI_FFT_TRANSPOSITION_IN)
            call check_ok(ierr, 'dgampi_fft_plan_create (backward, transposed in)')
            if (.not. (c_associated(fwd%ptr) .and. c_associated(bwd%ptr))) then
              call dgampi_fft_plan_destroy(fwd)
              call dgampi_fft_plan_destroy(bwd)
              cycle
            end if
            call check_true(dgampi_fft_plan_strategy(fwd) == dgampi_fft_plan_strategy(bwd), &
              'the forward-out and backward-in plans use different strategies')
            call get_side(fwd, DGAMPI_FFT_SIDE_INPUT, n, w, fin)
            call get_side(fwd, DGAMPI_FFT_SIDE_OUTPUT, n, w, fout)
            call get_side(bwd, DGAMPI_FFT_SIDE_INPUT, n, w, bin)
            call get_side(bwd, DGAMPI_FFT_SIDE_OUTPUT, n, w, bout)
            call check_true(fout%count == bin%count .and. fout%batch_start == bin%batch_start .and. &
              fout%batch_len == bin%batch_len .and. size_eq(fout%idx, bin%idx) .and. .not. bin%flat, &
              'the forward plan''s output layout is not the backward plan''s input layout')
            call check_true(fin%flat .and. bout%flat .and. size_eq(fin%idx, bout%idx), 'the flat sides differ')
            allocate (x(fin%count * w), mid(fout%count * fout%batch_len), back(bout%count * w))
            call fill_side(variant, fin, x)
            full = dft_all(variant, nq, w, -1)
            if (kind == 8) then
              call into8(fwd, x, side_shape(fin, batches(ib)%f, .false.), mid, side_shape(fout, batches(ib)%f, .false.), ierr)
              call check_ok(ierr, 'dgampi_fft_plan_execute_into (forward)')
              e = rel_err(mid, pick(full, fout), sqrt(n * norm2_all(variant, nq, w)))
              call check_true(e < tol8, 'forward-out: relative error ' // num(e))
              call into8(bwd, mid, side_shape(bin, batches(ib)%f, .true.), back, side_shape(bout, batches(ib)%f, .false.), ierr)
              call check_ok(ierr, 'dgampi_fft_plan_execute_into (backward)')
              call fill_side(variant, fin, x)
              e = rel_err(back, x, sqrt(norm2_all(variant, nq, w)))
              call check_true(e < tol8, 'backward-in(forward-out(x)) /= x: relative error ' // num(e))
            else
              x4 = cmplx(x, kind=c_float_complex)
              allocate (mid4(size(mid)), back4(size(back)))
              call into4(fwd, x4, side_shape(fin, batches(ib)%f, .false.), mid4, side_shape(fout, batches(ib)%f, .true.), &
                ierr)
              call check_ok(ierr, 'dgampi_fft_plan_execute_into (forward, complex(4))')
              call into4(bwd, mid4, side_shape(bin, batches(ib)%f, .false.), back4, &
                side_shape(bout, batches(ib)%f, .false.), ierr)
              call check_ok(ierr, 'dgampi_fft_plan_execute_into (backward, complex(4))')
              e = rel_err(cmplx(back4, kind=c_double_complex), x, sqrt(norm2_all(variant, nq, w)))
              call check_true(e < tol4, 'backward-in(forward-out(x)) /= x: relative error ' // num(e))
              deallocate (x4, mid4, back4)
            end if
            deallocate (x, mid, back)
            call dgampi_fft_plan_destroy(fwd)
            call dgampi_fft_plan_destroy(bwd)
          end do
        end do
      end do
    end do
  end subroutine test_transposed_round_trip

  !> Misuse of transposed plans: execute (in place) on a transposed plan,
  !> execute_into on a natural plan, a wrong output on the last rank, a bad
  !> side, an unknown transposition; nothing moves and the plan still works.
  subroutine test_transposed_errors()
    type(dgampi_fft_plan) :: plan, natural
    type(side_t) :: sin, sout
    complex(c_double_complex), allocatable :: a(:, :), t(:, :), before(:, :), wrong(:, :), abuf(:)
    integer(c_int64_t), allocatable :: idx(:)
    integer(c_int64_t) :: nq(3), n, my_q, offset, count, bstart, blen
    logical :: flat
    real(c_double) :: e
    call check_section('errors: transposed plans')
    nq = [4_c_int64_t, 3_c_int64_t, 5_c_int64_t]
    n = product(nq)
    call dgampi_fft_plan_create(plan, comm, nq, [3], DGAMPI_DTYPE_COMPLEX128, strategy=DGAMPI_FFT_STRATEGY_PENCIL, &
      transposition=DGAMPI_FFT_TRANSPOSITION_OUT, ierr=ierr)
    call check_ok(ierr, 'dgampi_fft_plan_create (transposed out)')
    call dgampi_fft_plan_create(natural, comm, nq, [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    call check_ok(ierr, 'dgampi_fft_plan_create (natural)')
    if (.not. (c_associated(plan%ptr) .and. c_associated(natural%ptr))) return
    call dgampi_fft_plan_local(plan, my_q, offset)
    call get_side(plan, DGAMPI_FFT_SIDE_INPUT, n, 3_c_int64_t, sin)
    call get_side(plan, DGAMPI_FFT_SIDE_OUTPUT, n, 3_c_int64_t, sout)
    allocate (a(3, my_q), t(sout%batch_len, sout%count))
    allocate (abuf(3 * my_q))
    call fill(800, 3_c_int64_t, offset, my_q, abuf)
    a = reshape(abuf, [3_c_int64_t, my_q])
    before = a
    t = (0d0, 0d0)
    ! The wrong entry point, either way (every rank).
    call dgampi_fft_plan_execute(plan, a, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_execute', 'execute on a transposed plan')
    call check_true(index(dgampi_error_message(), 'execute_into') > 0, 'the message does not point to execute_into')
    call dgampi_fft_plan_execute_into(natural, a, t, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_execute_into', &
      'execute_into on a natural plan')
    call check_true(all(a == before) .and. all(t == (0d0, 0d0)), 'the wrong entry point moved data')
    ! A wrong output shape on the last rank: MISMATCH there, REMOTE_ERROR elsewhere.
    if (me == nprocs - 1) then
      allocate (wrong(sout%batch_len, sout%count + 1))
    else
      allocate (wrong(sout%batch_len, sout%count))
    end if
    wrong = (0d0, 0d0)
    call dgampi_fft_plan_execute_into(plan, a, wrong, ierr)
    if (me == nprocs - 1) then
      call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_fft_plan_execute_into', 'a wrong output on this rank')
    else
      call check_status(ierr, DGAMPI_STATUS_REMOTE_ERROR, 'dgampi_fft_plan_execute_into', 'a wrong output on the last rank')
    end if
    call check_true(all(a == before) .and. all(wrong == (0d0, 0d0)), 'a failed execute_into moved data')
    ! The C shape [count, batch_len] is t(batch_len, count), not t(count, batch_len)
    ! (the same where the two are equal: then this may succeed, and a is restored).
    deallocate (wrong)
    allocate (wrong(sout%count, sout%batch_len))
    wrong = (0d0, 0d0)
    call dgampi_fft_plan_execute_into(plan, a, wrong, ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK .or. sout%count == sout%batch_len, &
      'an output of shape (count, batch_len) was accepted')
    a = before
    ! Bad sides (local).
    call dgampi_fft_plan_layout(plan, 2, count, bstart, blen, flat, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_layout', 'side 2')
    call dgampi_fft_plan_indices(plan, -1, idx, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_indices', 'side -1')
    call check_true(allocated(idx) .and. size(idx) == 0, 'indices after an error')
    ! An unknown transposition (every rank).
    call dgampi_fft_plan_destroy(natural)
    call dgampi_fft_plan_create(natural, comm, nq, [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr, transposition=3)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'transposition 3')
    call check_true(.not. c_associated(natural%ptr), 'a failed creation left a plan')
    ! The plan still works.
    call dgampi_fft_plan_execute_into(plan, a, t, ierr)
    call check_ok(ierr, 'dgampi_fft_plan_execute_into after the errors')
    e = rel_err(reshape(t, [size(t)]), pick(dft_all(800, nq, 3_c_int64_t, -1), sout), &
      sqrt(n * norm2_all(800, nq, 3_c_int64_t)))
    call check_true(e < tol8, 'after the errors: relative error ' // num(e))
    call dgampi_fft_plan_destroy(plan)
  end subroutine test_transposed_errors

  pure integer function size_of_grids()
    size_of_grids = size(grids, 2)
  end function size_of_grids

  pure logical function size_eq(a, b)
    integer(c_int64_t), intent(in) :: a(:), b(:)
    size_eq = .false.
    if (size(a) /= size(b)) return
    size_eq = all(a == b)
  end function size_eq

  !> Wisdom: plan with rigor measure, export, import it back.
  subroutine test_wisdom()
    type(dgampi_fft_plan) :: plan
    character(len=:), allocatable :: text
    call check_section('wisdom')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, rigor=DGAMPI_FFT_RIGOR_MEASURE, &
      ierr=ierr)
    call check_ok(ierr, 'dgampi_fft_plan_create (measure)')
    call dgampi_fft_plan_destroy(plan)
    text = dgampi_fft_export_wisdom(DGAMPI_DTYPE_COMPLEX128, ierr)
    call check_ok(ierr, 'dgampi_fft_export_wisdom')
    call check_true(index(text, 'fftw') > 0, 'the exported wisdom does not look like FFTW wisdom: "' // text // '"')
    call dgampi_fft_import_wisdom(DGAMPI_DTYPE_COMPLEX128, text, ierr)
    call check_ok(ierr, 'dgampi_fft_import_wisdom')
    text = dgampi_fft_export_wisdom(DGAMPI_DTYPE_COMPLEX64)   ! without ierr
    call dgampi_fft_import_wisdom(DGAMPI_DTYPE_COMPLEX64, text, ierr)
    call check_ok(ierr, 'dgampi_fft_import_wisdom (single)')
    text = dgampi_fft_export_wisdom(DGAMPI_DTYPE_F64, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_export_wisdom', 'wisdom of real data')
    call dgampi_fft_import_wisdom(DGAMPI_DTYPE_COMPLEX128, 'not wisdom', ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_import_wisdom', 'garbage wisdom')
  end subroutine test_wisdom

  !> Bad input fails on every rank, with the function named.
  subroutine test_errors()
    type(dgampi_fft_plan) :: plan, stale, null_plan
    complex(c_double_complex), allocatable :: a(:, :), before(:, :)
    complex(c_float_complex), allocatable :: a4(:, :)
    integer(c_int64_t), allocatable :: idx(:)
    integer(c_int64_t) :: my_q, offset, sizes(nprocs)
    integer :: s

    call check_section('errors: plan creation')
    call dgampi_fft_plan_create(plan, comm, [2, 0, 2], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'a zero extent')
    call check_true(.not. c_associated(plan%ptr), 'a failed creation left a plan')
    call dgampi_fft_plan_create(plan, comm, [4, 4], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_fft_plan_create', 'nq of 2 entries')
    call check_true(index(dgampi_error_message(), 'nq has 2 entries') > 0, 'message "' // dgampi_error_message() // '"')
    ! One rank only: every rank fails.
    if (me == nprocs - 1) then
      call dgampi_fft_plan_create(plan, comm, [2, 3, 2, 1], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    else
      call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    end if
    call check_true(ierr /= DGAMPI_STATUS_OK, 'nq of 4 entries on the last rank: creation succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_fft_plan_create') > 0, 'message "' // dgampi_error_message() // '"')
    call dgampi_fft_plan_destroy(plan)
    if (me == nprocs - 1) then
      call dgampi_fft_plan_create(plan, comm, [2, 3, 3], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    else
      call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    end if
    if (nprocs > 1) then
      call check_true(ierr /= DGAMPI_STATUS_OK, 'a different grid on the last rank: creation succeeded')
      call check_true(index(dgampi_error_message(), 'dgampi_fft_plan_create') > 0, 'message "' // &
        dgampi_error_message() // '"')
    end if
    call dgampi_fft_plan_destroy(plan)
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_F64, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'real dtype')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, direction=0, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'direction 0')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, normalization=4, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'normalization 4')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, strategy=4, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'strategy 4')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, rigor=3, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_plan_create', 'rigor 3')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, limit=3000000000_c_size_t, &
      ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_fft_plan_create', 'limit 3e9')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [-3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a negative batch extent was accepted')
    call check_true(.not. c_associated(plan%ptr), 'a failed creation left a plan')

    call check_section('errors: execution')
    call dgampi_fft_plan_create(plan, comm, [2, 3, 2], [3], DGAMPI_DTYPE_COMPLEX128, ierr=ierr)
    call check_ok(ierr, 'dgampi_fft_plan_create')
    call dgampi_fft_plan_local(plan, my_q, offset)
    ! A wrong block length on the last rank: every rank fails, nothing moves.
    if (me == nprocs - 1) then
      allocate (a(3, my_q + 1))
    else
      allocate (a(3, my_q))
    end if
    a = (1d0, 1d0)
    before = a
    call dgampi_fft_plan_execute(plan, a, ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a wrong block length on the last rank: execution succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_fft_plan_execute') > 0, 'message "' // dgampi_error_message() // '"')
    if (me == nprocs - 1) then
      call check_true(ierr == DGAMPI_STATUS_MISMATCH, 'the rank with the wrong block did not get MISMATCH')
    else
      call check_true(ierr == DGAMPI_STATUS_REMOTE_ERROR, 'the other ranks did not get REMOTE_ERROR')
    end if
    call check_true(all(a == before), 'a failed execution changed the block')
    deallocate (a)
    ! A wrong batch shape everywhere.
    allocate (a(4, my_q))
    a = 0
    call dgampi_fft_plan_execute(plan, a, ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_fft_plan_execute', 'batch (4) for a batch (3) plan')
    deallocate (a)
    ! The wrong kind for the plan.
    allocate (a4(3, my_q))
    a4 = 0
    call dgampi_fft_plan_execute(plan, a4, ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_fft_plan_execute', 'complex(4) block for a complex(8) plan')
    ! The plan still works.
    allocate (a(3, my_q))
    a = 0
    call dgampi_fft_plan_execute(plan, a, ierr)
    call check_ok(ierr, 'dgampi_fft_execute after the errors')
    call check_true(all(a == (0d0, 0d0)), 'the FFT of zeros is not zero')

    call check_section('errors: handles')
    s = dgampi_fft_plan_strategy(null_plan, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_fft_plan_strategy', 'null plan')
    call dgampi_fft_plan_execute(null_plan, a, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_fft_plan_execute', 'null plan')
    call dgampi_fft_plan_destroy(null_plan, ierr)
    call check_ok(ierr, 'destroying a null plan')
    stale = plan
    call dgampi_fft_plan_destroy(plan, ierr)
    call check_ok(ierr, 'dgampi_fft_plan_destroy')
    call dgampi_fft_plan_local(stale, my_q, offset, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_fft_plan_local', 'stale plan')
    call dgampi_fft_plan_execute(stale, a, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_fft_plan_execute', 'stale plan')
    call dgampi_fft_plan_destroy(stale, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_fft_plan_destroy', 'destroying a stale plan')
    deallocate (a)

    call check_section('errors: one-shot')
    sizes = block_sizes(12_c_int64_t, nprocs)
    allocate (a(3, sizes(me + 1)))
    a = 0
    call dgampi_fft_execute_once(comm, [2, 6], a, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_fft_execute_once', 'nq of 2 entries')
    call dgampi_fft_execute_once(comm, [2_c_int64_t, 0_c_int64_t, 6_c_int64_t], a, ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_execute_once', 'a zero extent')
    deallocate (a)
    my_q = sizes(me + 1)
    if (me == 0) my_q = my_q + 1   ! rank 0 passes a wrong block
    allocate (a(3, my_q))
    a = 0
    call dgampi_fft_execute_once(comm, [2, 3, 2], a, ierr=ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'one-shot with a wrong block on rank 0 succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_fft_execute_once') > 0, 'message "' // &
      dgampi_error_message() // '"')

    call check_section('errors: pencil indices')
    call dgampi_fft_pencil_indices(0, 0, [2, 3, 2], DGAMPI_LAYOUT_Z_PENCIL, idx, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_pencil_indices', 'size 0')
    call dgampi_fft_pencil_indices(2, 2, [2, 3, 2], DGAMPI_LAYOUT_Z_PENCIL, idx, ierr)
    call check_status(ierr, DGAMPI_STATUS_OUT_OF_RANGE, 'dgampi_fft_pencil_indices', 'rank 2 of 2')
    call dgampi_fft_pencil_indices(0, 2, [2, 3, 2], 4, idx, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_pencil_indices', 'layout 4')
    call dgampi_fft_pencil_indices(0, 2, [2, 3], DGAMPI_LAYOUT_FLAT, idx, ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_fft_pencil_indices', 'nq of 2 entries')
    call check_true(allocated(idx) .and. size(idx) == 0, 'indices after an error')
    call dgampi_fft_pencil_indices(0, 2, [2, 0, 2], DGAMPI_LAYOUT_FLAT, idx, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_fft_pencil_indices', 'a zero extent')
  end subroutine test_errors

end program fft
