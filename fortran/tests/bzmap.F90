! The Brillouin-zone maps, the orbital transform, the node-aware frequency
! split and gather_full_ibz_for_vslice through the Fortran module, checked on
! every rank against serial references computed here:
!   - the 4x4 square-lattice map (q = i*n + j; a = min(i, (n-i)%n),
!     b = min(j, (n-j)%n); representative (min(a,b), max(a,b)) numbered by
!     increasing lo*n + hi), and a map with fewer irreducible points than
!     ranks (empty irreducible blocks);
!   - dgampi_exchange_and_map_irrbz_fullbz[_into] and
!     dgampi_map_irrbz_fullbz[_into] for the six element types, irrk_inv
!     integer(4) and integer(8), strided sections in and out;
!   - the transform with 2 orbital axes (complex(8) and complex(4), inputs
!     for all points or for this rank's) and with 4 axes, against direct loops;
!   - dgampi_node_aware_split_nodes examples, dgampi_node_aware_split (the
!     ranks of a test run share one node);
!   - dgampi_gather_full_ibz_for_vslice with n_nu = 5 (with and without the
!     transform, complex(8) rank 5 and real(8) rank 3, a strided vertex
!     section) and with an empty slice;
!   - the plans dgampi_map_plan and dgampi_vslice_plan, each created once
!     and executed twice with new data into caller arrays (the six types;
!     the transform; a strided output and a strided vertex; a plan
!     outliving its distributors; an empty frequency slice), a wrong block
!     on one rank (an error on every rank, the plan usable afterwards),
!     creation and shape errors, and destroy;
!   - the exchange path (dgampi_set_exchange_path / dgampi_get_exchange_path)
!     and the route the plans report (dgampi_map_plan_route,
!     dgampi_vslice_plan_route) under each setting, with the data each
!     route moves; a setting differing between ranks (MISMATCH everywhere),
!     an unknown setting, the route of a null plan.
! The per-type code is bzmap_type.inc, expanded for each type (T, CONV, TNAME, DT).
program bzmap
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: int8
  use mpi_f08
  use dgampi
  use check
  implicit none
  integer, parameter :: nk = 4
  integer(c_int64_t), parameter :: square4(16) = &
    [0, 1, 2, 1, 1, 3, 4, 3, 2, 4, 5, 4, 1, 3, 4, 3]
  integer(c_int64_t), allocatable :: irrk_inv(:)
  integer(c_int32_t), allocatable :: irrk_inv4(:)
  integer(c_int64_t) :: n_irr, n_full, my_irr, irr_off, my_full, full_off
  type(dgampi_distributor) :: irr, full
  integer :: ierr

  call MPI_Init()
  call check_start('bzmap')

  call check_section('square-lattice map')
  irrk_inv = square_lattice_map(nk)
  call check_true(size(irrk_inv) == 16 .and. all(irrk_inv == square4), 'the 4x4 map differs from its table')
  irrk_inv4 = int(irrk_inv, c_int32_t)
  n_full = size(irrk_inv)
  n_irr = maxval(irrk_inv) + 1
  call check_true(n_irr == 6, 'the 4x4 map has 6 irreducible points')
  call dgampi_distributor_create(irr, MPI_COMM_WORLD, n_irr, ierr=ierr)
  call check_ok(ierr, 'dgampi_distributor_create (irr)')
  call dgampi_distributor_create(full, MPI_COMM_WORLD, n_full, ierr=ierr)
  call check_ok(ierr, 'dgampi_distributor_create (full)')
  my_irr = dgampi_distributor_my_size(irr)
  irr_off = dgampi_distributor_my_offset(irr)
  my_full = dgampi_distributor_my_size(full)
  full_off = dgampi_distributor_my_offset(full)

#define T real(c_float)
#define CONV(x) real(x, c_float)
#define TNAME 'real(4)'
#define DT DGAMPI_DTYPE_F32
#include "bzmap_type.inc"
#undef T
#undef CONV
#undef TNAME
#undef DT

#define T real(c_double)
#define CONV(x) real(x, c_double)
#define TNAME 'real(8)'
#define DT DGAMPI_DTYPE_F64
#include "bzmap_type.inc"
#undef T
#undef CONV
#undef TNAME
#undef DT

#define T complex(c_float_complex)
#define CONV(x) cmplx(x, -2 * (x), c_float_complex)
#define TNAME 'complex(4)'
#define DT DGAMPI_DTYPE_COMPLEX64
#include "bzmap_type.inc"
#undef T
#undef CONV
#undef TNAME
#undef DT

#define T complex(c_double_complex)
#define CONV(x) cmplx(x, -2 * (x), c_double_complex)
#define TNAME 'complex(8)'
#define DT DGAMPI_DTYPE_COMPLEX128
#include "bzmap_type.inc"
#undef T
#undef CONV
#undef TNAME
#undef DT

#define T integer(c_int32_t)
#define CONV(x) int(x, c_int32_t)
#define TNAME 'integer(4)'
#define DT DGAMPI_DTYPE_I32
#include "bzmap_type.inc"
#undef T
#undef CONV
#undef TNAME
#undef DT

#define T integer(c_int64_t)
#define CONV(x) int(x, c_int64_t)
#define TNAME 'integer(8)'
#define DT DGAMPI_DTYPE_I64
#include "bzmap_type.inc"
#undef T
#undef CONV
#undef TNAME
#undef DT

  call test_few_irreducible()
  call test_strided()
  call test_transform2()
  call test_transform2_c4()
  call test_transform4()
  call test_split_nodes()
  call test_node_aware_split()
  call test_vslice()
  call test_vslice_empty()
  call test_map_plan()
  call test_map_plan_few_irreducible()
  call test_vslice_plan()
  call test_vslice_plan_empty()
  call test_exchange_paths()

  call dgampi_distributor_destroy(full)
  call dgampi_distributor_destroy(irr)
  call check_finish()

contains

  !> The n x n square-lattice map: map(q + 1) is the 0-based irreducible
  !> index of the 0-based full-BZ point q (see the header).
  function square_lattice_map(n) result(map)
    integer, intent(in) :: n
    integer(c_int64_t) :: map(n * n)
    integer :: rep(0:n * n - 1), q, i, j, a, b
    logical :: seen(0:n * n - 1)
    seen = .false.
    do q = 0, n * n - 1
      i = q / n
      j = mod(q, n)
      a = min(i, mod(n - i, n))
      b = min(j, mod(n - j, n))
      rep(q) = min(a, b) * n + max(a, b)
      seen(rep(q)) = .true.
    end do
    do q = 0, n * n - 1
      map(q + 1) = count(seen(0:rep(q) - 1))   ! representatives numbered by increasing lo*n + hi
    end do
  end function square_lattice_map

  !> A pseudo-random (not unitary: the transform is linear) complex matrix per point.
  function u_matrices(nb, n) result(u)
    integer, intent(in) :: nb
    integer(c_int64_t), intent(in) :: n
    complex(c_double_complex) :: u(nb, nb, n)
    integer :: a, b, k
    do k = 1, int(n)
      do b = 1, nb
        do a = 1, nb
          u(a, b, k) = cmplx(sin(1.3d0 * a + 0.7d0 * b + 0.11d0 * k), cos(0.9d0 * a - 0.4d0 * b + 0.23d0 * k), &
            c_double_complex)
        end do
      end do
    end do
  end function u_matrices

  !> X'(t, a, b) = sigma sum U(a, a') Y(t, a', b') conjg(U(b, b')), Y = conjg(X) if conj.
  function transform2(x, u, sigma, conj) result(y)
    complex(c_double_complex), intent(in) :: x(:, :, :), u(:, :)
    real(c_double), intent(in) :: sigma
    logical, intent(in) :: conj
    complex(c_double_complex) :: y(size(x, 1), size(x, 2), size(x, 3)), xx(size(x, 1), size(x, 2), size(x, 3))
    integer :: a, b, a2, b2
    xx = x
    if (conj) xx = conjg(x)
    y = 0
    do b = 1, size(x, 3)
      do a = 1, size(x, 2)
        do b2 = 1, size(x, 3)
          do a2 = 1, size(x, 2)
            y(:, a, b) = y(:, a, b) + u(a, a2) * xx(:, a2, b2) * conjg(u(b, b2))
          end do
        end do
      end do
    end do
    y = sigma * y
  end function transform2

  !> 4 axes: U on the 1st and 3rd, U^dagger on the 2nd and 4th (no sigma).
  function transform4(x, u, conj) result(y)
    complex(c_double_complex), intent(in) :: x(:, :, :, :), u(:, :)
    logical, intent(in) :: conj
    complex(c_double_complex) :: y(size(x, 1), size(x, 2), size(x, 3), size(x, 4))
    complex(c_double_complex) :: xx(size(x, 1), size(x, 2), size(x, 3), size(x, 4))
    integer :: a, b, c, d, a2, b2, c2, d2, nb
    nb = size(u, 1)
    xx = x
    if (conj) xx = conjg(x)
    y = 0
    do d = 1, nb
      do c = 1, nb
        do b = 1, nb
          do a = 1, nb
            do d2 = 1, nb
              do c2 = 1, nb
                do b2 = 1, nb
                  do a2 = 1, nb
                    y(a, b, c, d) = y(a, b, c, d) + u(a, a2) * conjg(u(b, b2)) * u(c, c2) * conjg(u(d, d2)) &
                      * xx(a2, b2, c2, d2)
                  end do
                end do
              end do
            end do
          end do
        end do
      end do
    end do
  end function transform4

  logical function close8(x, y, tol)
    complex(c_double_complex), intent(in) :: x(..), y(..)
    real(c_double), intent(in) :: tol
    close8 = .false.
    select rank (x)
    rank (4)
      select rank (y)
      rank (4)
        close8 = all(abs(x - y) <= tol * (1 + abs(y)))
      end select
    rank (5)
      select rank (y)
      rank (5)
        close8 = all(abs(x - y) <= tol * (1 + abs(y)))
      end select
    end select
  end function close8

  ! ---------------------------------------------------------------- maps

  !> A map with fewer irreducible points (2) than ranks, through both maps.
  subroutine test_few_irreducible()
    integer(c_int64_t), parameter :: map(7) = [1, 0, 1, 1, 0, 0, 1]
    type(dgampi_distributor) :: irr2, full2
    complex(c_double_complex) :: irr_all(3, 2)
    complex(c_double_complex), allocatable :: block(:, :), out(:, :), expected(:, :)
    integer(c_int64_t) :: my2, off2, myf, offf
    integer :: k, i
    call check_section('map with 2 irreducible points')
    call dgampi_distributor_create(irr2, MPI_COMM_WORLD, 2)
    call dgampi_distributor_create(full2, MPI_COMM_WORLD, 7)
    my2 = dgampi_distributor_my_size(irr2)
    off2 = dgampi_distributor_my_offset(irr2)
    myf = dgampi_distributor_my_size(full2)
    offf = dgampi_distributor_my_offset(full2)
    do k = 1, 2
      do i = 1, 3
        irr_all(i, k) = cmplx(10 * k + i, -k, c_double_complex)
      end do
    end do
    block = irr_all(:, off2 + 1:off2 + my2)
    expected = irr_all(:, map(offf + 1:offf + myf) + 1)
    call dgampi_exchange_and_map_irrbz_fullbz(irr2, full2, map, block, out, ierr=ierr)
    call check_ok(ierr, 'dgampi_exchange_and_map_irrbz_fullbz')
    call check_true(all(shape(out) == [3_c_int64_t, myf]) .and. all(out == expected), 'exchange: unfolded block differs')
    call dgampi_map_irrbz_fullbz(irr2, full2, int(map), block, out, ierr=ierr)
    call check_ok(ierr, 'dgampi_map_irrbz_fullbz')
    call check_true(all(shape(out) == [3_c_int64_t, myf]) .and. all(out == expected), 'through root: unfolded block differs')
    call dgampi_distributor_destroy(full2)
    call dgampi_distributor_destroy(irr2)
  end subroutine test_few_irreducible

  !> A strided, reversed input section and a strided output section.
  subroutine test_strided()
    complex(c_double_complex), parameter :: sentinel = (-7, 7)
    complex(c_double_complex) :: irr_all(3, n_irr)
    complex(c_double_complex), allocatable :: wide(:, :), out_wide(:, :), expected(:, :)
    integer :: i, k
    call check_section('maps, strided sections')
    do k = 1, int(n_irr)
      do i = 1, 3
        irr_all(i, k) = cmplx(100 * k + i, 2 * i, c_double_complex)
      end do
    end do
    ! wide(6:2:-2, :) is this rank's block
    allocate (wide(6, my_irr), out_wide(7, my_full))
    wide = sentinel
    wide(6:2:-2, :) = irr_all(:, irr_off + 1:irr_off + my_irr)
    expected = out_wide
    expected = sentinel
    expected(2:6:2, :) = irr_all(:, irrk_inv(full_off + 1:full_off + my_full) + 1)
    out_wide = sentinel
    call dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, irrk_inv, wide(6:2:-2, :), out_wide(2:6:2, :), ierr=ierr)
    call check_ok(ierr, 'dgampi_exchange_and_map_irrbz_fullbz_into (sections)')
    call check_true(all(out_wide == expected), 'exchange into a section differs (or wrote outside it)')
    out_wide = sentinel
    call dgampi_map_irrbz_fullbz_into(irr, full, irrk_inv4, wide(6:2:-2, :), out_wide(2:6:2, :), ierr=ierr)
    call check_ok(ierr, 'dgampi_map_irrbz_fullbz_into (sections)')
    call check_true(all(out_wide == expected), 'through root into a section differs (or wrote outside it)')
  end subroutine test_strided

  ! ---------------------------------------------------------------- transform

  !> Vertex-like data X(t, a, b, q): 2 orbital axes of nb = 3, 2 trailing values.
  subroutine irr_data(x)
    complex(c_double_complex), intent(out) :: x(:, :, :, :)
    integer :: t, a, b, k
    do k = 1, size(x, 4)
      do b = 1, size(x, 3)
        do a = 1, size(x, 2)
          do t = 1, size(x, 1)
            x(t, a, b, k) = cmplx(k + 0.1d0 * a - 0.01d0 * b + t, 0.5d0 * k * a - b + 0.25d0 * t, c_double_complex)
          end do
        end do
      end do
    end do
  end subroutine irr_data

  subroutine transform_inputs(n, u, sigma, conj)
    integer(c_int64_t), intent(in) :: n
    complex(c_double_complex), allocatable, intent(out) :: u(:, :, :)
    real(c_double), allocatable, intent(out) :: sigma(:)
    logical, allocatable, intent(out) :: conj(:)
    integer :: q
    u = u_matrices(3, n)
    allocate (sigma(n), conj(n))
    do q = 1, int(n)
      sigma(q) = merge(1d0, -1d0, mod(q, 2) == 0)
      conj(q) = mod(q, 3) == 0
    end do
  end subroutine transform_inputs

  subroutine test_transform2()
    complex(c_double_complex) :: x_all(2, 3, 3, n_irr)
    complex(c_double_complex), allocatable :: block(:, :, :, :), out(:, :, :, :), expected(:, :, :, :), u(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    integer :: l
    integer(c_int64_t) :: g
    call check_section('transform, 2 orbital axes, complex(8)')
    call irr_data(x_all)
    block = x_all(:, :, :, irr_off + 1:irr_off + my_irr)
    call transform_inputs(n_full, u, sigma, conj)
    allocate (expected(2, 3, 3, my_full), out(2, 3, 3, my_full))
    do l = 1, int(my_full)
      g = full_off + l
      expected(:, :, :, l) = transform2(x_all(:, :, :, irrk_inv(g) + 1), u(:, :, g), sigma(g), conj(g))
    end do
    ! inputs for all points
    out = 0
    call dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, irrk_inv, block, out, &
      dgampi_orbital_transform(u, sigma, conj), ierr=ierr)
    call check_ok(ierr, 'dgampi_exchange_and_map_irrbz_fullbz_into (transform, all points)')
    call check_true(close8(out, expected, 1d-12), 'exchange with the transform (all points) differs')
    deallocate (out)
    call dgampi_map_irrbz_fullbz(irr, full, irrk_inv4, block, out, dgampi_orbital_transform(u, sigma, conj, axes=2), &
      ierr=ierr)
    call check_ok(ierr, 'dgampi_map_irrbz_fullbz (transform, all points)')
    call check_true(close8(out, expected, 1d-12), 'through root with the transform (all points) differs')
    ! inputs for this rank's points only (when they are not all of them)
    if (my_full /= n_full) then
      deallocate (out)
      call dgampi_exchange_and_map_irrbz_fullbz(irr, full, irrk_inv, block, out, &
        transform=dgampi_orbital_transform(u(:, :, full_off + 1:full_off + my_full), &
        sigma(full_off + 1:full_off + my_full), conj(full_off + 1:full_off + my_full)), ierr=ierr)
      call check_ok(ierr, 'dgampi_exchange_and_map_irrbz_fullbz (transform, local points)')
      call check_true(close8(out, expected, 1d-12), 'exchange with the transform (local points) differs')
      out = 0
      call dgampi_map_irrbz_fullbz_into(irr, full, irrk_inv, block, out, &
        transform=dgampi_orbital_transform(u(:, :, full_off + 1:full_off + my_full), &
        sigma(full_off + 1:full_off + my_full), conj(full_off + 1:full_off + my_full)), ierr=ierr)
      call check_ok(ierr, 'dgampi_map_irrbz_fullbz_into (transform, local points)')
      call check_true(close8(out, expected, 1d-12), 'through root with the transform (local points) differs')
    end if
  end subroutine test_transform2

  subroutine test_transform2_c4()
    complex(c_double_complex) :: x_all(2, 3, 3, n_irr)
    complex(c_float_complex), allocatable :: block(:, :, :, :), out(:, :, :, :)
    complex(c_double_complex), allocatable :: expected(:, :, :, :), u(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    integer :: l
    integer(c_int64_t) :: g
    call check_section('transform, 2 orbital axes, complex(4)')
    call irr_data(x_all)
    block = cmplx(x_all(:, :, :, irr_off + 1:irr_off + my_irr), kind=c_float_complex)
    call transform_inputs(n_full, u, sigma, conj)
    allocate (expected(2, 3, 3, my_full))
    do l = 1, int(my_full)
      g = full_off + l
      expected(:, :, :, l) = transform2(cmplx(cmplx(x_all(:, :, :, irrk_inv(g) + 1), kind=c_float_complex), &
        kind=c_double_complex), u(:, :, g), sigma(g), conj(g))
    end do
    call dgampi_exchange_and_map_irrbz_fullbz(irr, full, irrk_inv4, block, out, &
      dgampi_orbital_transform(u, sigma, conj), ierr=ierr)
    call check_ok(ierr, 'dgampi_exchange_and_map_irrbz_fullbz (complex(4), transform)')
    call check_true(close8(cmplx(out, kind=c_double_complex), expected, 1d-5), 'complex(4) with the transform differs')
  end subroutine test_transform2_c4

  subroutine test_transform4()
    integer, parameter :: nb = 2
    complex(c_double_complex) :: x_all(nb, nb, nb, nb, n_irr)
    complex(c_double_complex), allocatable :: block(:, :, :, :, :), out(:, :, :, :, :), expected(:, :, :, :, :)
    complex(c_double_complex), allocatable :: u(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    integer :: l, i
    integer(c_int64_t) :: g
    call check_section('transform, 4 orbital axes')
    x_all = reshape([(cmplx(i, mod(i, 7) - 3, c_double_complex), i = 1, size(x_all))], shape(x_all))
    block = x_all(:, :, :, :, irr_off + 1:irr_off + my_irr)
    u = u_matrices(nb, n_full)
    allocate (sigma(n_full), conj(n_full), expected(nb, nb, nb, nb, my_full), out(nb, nb, nb, nb, my_full))
    sigma = -1   ! ignored with 4 axes
    conj = [(mod(i, 2) == 1, i = 1, int(n_full))]
    do l = 1, int(my_full)
      g = full_off + l
      expected(:, :, :, :, l) = transform4(x_all(:, :, :, :, irrk_inv(g) + 1), u(:, :, g), conj(g))
    end do
    out = 0
    call dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, irrk_inv, block, out, &
      dgampi_orbital_transform(u, sigma, conj, axes=4), ierr=ierr)
    call check_ok(ierr, 'dgampi_exchange_and_map_irrbz_fullbz_into (4 axes)')
    call check_true(close8(out, expected, 1d-12), 'exchange with the 4-axis transform differs')
  end subroutine test_transform4

  ! ---------------------------------------------------------------- frequency split

  subroutine test_split_nodes()
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    call check_section('node_aware_split_nodes')
    ! nodes [0, 1, 0, 1], 6 frequencies: 3 per node, then 2 + 1 per node.
    call dgampi_node_aware_split_nodes(6, [0, 1, 0, 1], sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split_nodes')
    call check_true(all(sizes == [2, 2, 1, 1]), 'sizes for nodes [0, 1, 0, 1], 6 frequencies')
    call check_true(all(offsets == [0, 3, 2, 5]), 'offsets for nodes [0, 1, 0, 1], 6 frequencies')
    ! nodes [10, 11, 12, 10], 5 frequencies: node 10 gets 2 (1 + 1), 11 gets 2, 12 gets 1.
    call dgampi_node_aware_split_nodes(5_c_int64_t, [10_c_int64_t, 11_c_int64_t, 12_c_int64_t, 10_c_int64_t], &
      sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split_nodes (integer(8))')
    call check_true(all(sizes == [1, 2, 1, 1]) .and. all(offsets == [0, 2, 4, 1]), 'nodes [10, 11, 12, 10], 5 frequencies')
    ! more ranks than frequencies
    call dgampi_node_aware_split_nodes(2_c_int64_t, [0, 0, 0, 0], sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split_nodes (more ranks than frequencies)')
    call check_true(all(sizes == [1, 1, 0, 0]) .and. sum(sizes) == 2, 'nodes [0, 0, 0, 0], 2 frequencies')
    call dgampi_node_aware_split_nodes(3, [7_c_int64_t], sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split_nodes (one rank)')
    call check_true(all(sizes == [3]) .and. all(offsets == [0]), 'one rank')
  end subroutine test_split_nodes

  !> One node (a test run): the node-aware split is the split over the ranks in order.
  subroutine test_node_aware_split()
    integer(c_int64_t), allocatable :: sizes(:), offsets(:), ref_sizes(:), ref_offsets(:)
    integer :: n
    call check_section('node_aware_split')
    do n = 0, 6
      call dgampi_node_aware_split(full, n, sizes, offsets, ierr)
      call check_ok(ierr, 'dgampi_node_aware_split')
      call dgampi_node_aware_split_nodes(n, spread(0, 1, nprocs), ref_sizes, ref_offsets)
      call check_true(size(sizes) == nprocs .and. all(sizes == ref_sizes) .and. all(offsets == ref_offsets), &
        'the split on one node differs from the split over the ranks')
    end do
    call dgampi_node_aware_split(full, 5_c_int64_t, sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split (integer(8))')
    call check_true(sum(sizes) == 5 .and. offsets(1) == 0, 'split of 5 frequencies')
    ! the original module's order (host names): one host, the same split
    call dgampi_node_aware_split(full, 5, ref_sizes, ref_offsets, ierr, order=DGAMPI_NODE_ORDER_HOST_NAME)
    call check_ok(ierr, 'dgampi_node_aware_split (host-name order)')
    call check_true(all(ref_sizes == sizes) .and. all(ref_offsets == offsets), 'host-name order on one host')
    call dgampi_node_aware_split(full, 5, ref_sizes, ref_offsets, ierr, order=7)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_node_aware_split', 'order 7')
    ! a distributor over the split's sizes owns its slices
    block
      type(dgampi_distributor) :: v
      real(c_double) :: freqs(5)
      real(c_double), allocatable :: got(:)
      freqs = [(real(n, c_double), n = 1, 5)]
      call dgampi_distributor_create_with_sizes(v, MPI_COMM_WORLD, sizes, ierr=ierr)
      call check_ok(ierr, 'dgampi_distributor_create_with_sizes')
      call check_true(all(dgampi_distributor_sizes(v) == sizes) .and. dgampi_distributor_my_offset(v) == offsets(me + 1), &
        'the sized distributor''s layout')
      call dgampi_distributor_allgather(v, freqs(offsets(me + 1) + 1:offsets(me + 1) + sizes(me + 1)), got, ierr=ierr)
      call check_ok(ierr, 'dgampi_distributor_allgather over the sizes')
      call check_true(all(got == freqs), 'allgather over the node-aware sizes')
      call dgampi_distributor_destroy(v)
      call dgampi_distributor_create_with_sizes(v, MPI_COMM_WORLD, [(1, n = 1, nprocs + 1)], ierr=ierr)
      call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_distributor_create_with_sizes', 'too many sizes')
    end block
  end subroutine test_node_aware_split

  ! ---------------------------------------------------------------- vslice

  subroutine test_vslice()
    integer, parameter :: n_nu = 5
    complex(c_double_complex) :: v_all(2, n_nu, 2, 2, n_irr)   ! (nu', nu, a, b, q_irr)
    complex(c_double_complex), allocatable :: block(:, :, :, :, :), out(:, :, :, :, :), expected(:, :, :, :, :)
    complex(c_double_complex), allocatable :: u(:, :, :), ex2(:, :, :, :, :)
    real(c_double) :: r_all(3, n_nu, n_irr)
    real(c_double), allocatable :: rblock(:, :, :), rout(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    integer(c_int64_t) :: my_nu, nu_off, q
    logical :: has_slice
    integer :: i, j
    call check_section('gather_full_ibz_for_vslice, n_nu = 5')
    v_all = reshape([(cmplx(i, -mod(i, 11), c_double_complex), i = 1, size(v_all))], shape(v_all))
    r_all = reshape([(real(i, c_double), i = 1, size(r_all))], shape(r_all))
    call dgampi_node_aware_split(full, n_nu, sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split')
    my_nu = sizes(me + 1)
    nu_off = offsets(me + 1)
    block = v_all(:, :, :, :, irr_off + 1:irr_off + my_irr)
    allocate (expected(2, my_nu, 2, 2, n_full))
    do q = 1, n_full
      expected(:, :, :, :, q) = v_all(:, nu_off + 1:nu_off + my_nu, :, :, irrk_inv(q) + 1)
    end do
    call dgampi_gather_full_ibz_for_vslice(irr, full, irrk_inv4, sizes, offsets, block, out, has_slice, ierr=ierr)
    call check_ok(ierr, 'dgampi_gather_full_ibz_for_vslice')
    call check_true(allocated(out), 'result not allocated')
    if (allocated(out)) then
      call check_true(all(shape(out, c_int64_t) == [2_c_int64_t, my_nu, 2_c_int64_t, 2_c_int64_t, n_full]), &
        'result shape')
      if (all(shape(out, c_int64_t) == shape(expected, c_int64_t))) call check_true(all(out == expected), 'result differs')
    end if
    call check_true(has_slice .eqv. (my_nu > 0), 'has_slice')

    ! with the transform on the orbital axes (a, b), inputs for all n_full points
    call check_section('gather_full_ibz_for_vslice with the transform')
    u = u_matrices(2, n_full)
    allocate (sigma(n_full), conj(n_full), ex2(2, my_nu, 2, 2, n_full))
    do j = 1, int(n_full)
      sigma(j) = merge(1d0, -1d0, mod(j, 3) == 0)
      conj(j) = mod(j, 2) == 0
    end do
    do q = 1, n_full
      ex2(:, :, :, :, q) = reshape(transform2(reshape(expected(:, :, :, :, q), [2 * my_nu, 2_c_int64_t, 2_c_int64_t]), &
        u(:, :, q), sigma(q), conj(q)), [2_c_int64_t, my_nu, 2_c_int64_t, 2_c_int64_t])
    end do
    call dgampi_gather_full_ibz_for_vslice(irr, full, irrk_inv, sizes, offsets, block, out, &
      transform=dgampi_orbital_transform(u, sigma, conj), ierr=ierr)
    call check_ok(ierr, 'dgampi_gather_full_ibz_for_vslice (transform)')
    if (allocated(out)) then
      if (all(shape(out) == shape(ex2))) then
        call check_true(close8(out, ex2, 1d-12), 'result with the transform differs')
      else
        call check_true(.false., 'result shape (transform)')
      end if
    end if

    ! real(8), rank 3: vertex (nu', nu, q)
    call check_section('gather_full_ibz_for_vslice, real(8) rank 3')
    rblock = r_all(:, :, irr_off + 1:irr_off + my_irr)
    call dgampi_gather_full_ibz_for_vslice(irr, full, irrk_inv, sizes, offsets, rblock, rout, has_slice, ierr=ierr)
    call check_ok(ierr, 'dgampi_gather_full_ibz_for_vslice (real(8))')
    call check_true(has_slice .eqv. (my_nu > 0), 'has_slice (real(8))')
    if (allocated(rout)) then
      call check_true(all(shape(rout, c_int64_t) == [3_c_int64_t, my_nu, n_full]), 'result shape (real(8))')
      do q = 1, n_full
        if (size(rout, 2) == my_nu) call check_true(all(rout(:, :, q) == r_all(:, nu_off + 1:nu_off + my_nu, &
          irrk_inv(q) + 1)), 'result differs (real(8))')
      end do
    else
      call check_true(.false., 'result not allocated (real(8))')
    end if

    ! a strided section as the vertex: every other nu' of a wider array
    call check_section('gather_full_ibz_for_vslice, strided vertex')
    deallocate (rblock)
    allocate (rblock(6, n_nu, my_irr))
    rblock = -1
    rblock(1:6:2, :, :) = r_all(:, :, irr_off + 1:irr_off + my_irr)
    call dgampi_gather_full_ibz_for_vslice(irr, full, irrk_inv4, sizes, offsets, rblock(1:6:2, :, :), rout, ierr=ierr)
    call check_ok(ierr, 'dgampi_gather_full_ibz_for_vslice (strided vertex)')
    if (allocated(rout)) then
      call check_true(all(shape(rout, c_int64_t) == [3_c_int64_t, my_nu, n_full]), 'result shape (strided vertex)')
      do q = 1, n_full
        if (size(rout, 2) == my_nu) call check_true(all(rout(:, :, q) == r_all(:, nu_off + 1:nu_off + my_nu, &
          irrk_inv(q) + 1)), 'result differs (strided vertex)')
      end do
    else
      call check_true(.false., 'result not allocated (strided vertex)')
    end if
  end subroutine test_vslice

  !> The last rank gets no frequency (nprocs - 1 of them over nprocs ranks of
  !> one node): a zero-size result and has_slice = .false. there.
  subroutine test_vslice_empty()
    integer :: n_nu
    complex(c_float_complex), allocatable :: v_all(:, :, :, :), block(:, :, :, :), out(:, :, :, :)
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    integer(c_int64_t) :: my_nu, nu_off, q
    logical :: has_slice
    integer :: i
    call check_section('gather_full_ibz_for_vslice, empty slice')
    n_nu = nprocs - 1
    allocate (v_all(2, n_nu, 3, n_irr))
    v_all = reshape([(cmplx(i, 1, c_float_complex), i = 1, size(v_all))], shape(v_all))
    call dgampi_node_aware_split_nodes(n_nu, spread(0, 1, nprocs), sizes, offsets)
    call check_true(sizes(nprocs) == 0, 'the last rank has no frequency')
    my_nu = sizes(me + 1)
    nu_off = offsets(me + 1)
    block = v_all(:, :, :, irr_off + 1:irr_off + my_irr)
    has_slice = .true.
    call dgampi_gather_full_ibz_for_vslice(irr, full, irrk_inv, sizes, offsets, block, out, has_slice, ierr=ierr)
    call check_ok(ierr, 'dgampi_gather_full_ibz_for_vslice (empty slice)')
    call check_true(has_slice .eqv. (my_nu > 0), 'has_slice')
    call check_true(allocated(out), 'result not allocated')
    if (.not. allocated(out)) return
    call check_true(all(shape(out, c_int64_t) == [2_c_int64_t, my_nu, 3_c_int64_t, n_full]), 'result shape')
    if (me == nprocs - 1) call check_true(size(out) == 0, 'the empty slice has elements')
    if (size(out, 2) /= my_nu) return
    do q = 1, n_full
      call check_true(all(out(:, :, :, q) == v_all(:, nu_off + 1:nu_off + my_nu, :, irrk_inv(q) + 1)), 'result differs')
    end do
  end subroutine test_vslice_empty

  ! ---------------------------------------------------------------- plans

  !> The map plan with the 2-axis transform (inputs for all points), made
  !> once and executed twice with new data into a caller's array and into a
  !> strided section; a wrong block on the last rank (an error on every
  !> rank, out untouched, the plan usable afterwards); creation and shape
  !> errors; destroy.
  subroutine test_map_plan()
    complex(c_double_complex), parameter :: sentinel = (-7, 7)
    complex(c_double_complex) :: x_all(2, 3, 3, n_irr)
    complex(c_double_complex), allocatable :: block(:, :, :, :), out(:, :, :, :), wide(:, :, :, :)
    complex(c_double_complex), allocatable :: expected(:, :, :, :), bad(:, :, :, :), u(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    type(dgampi_map_plan) :: plan, plan2
    integer(c_int64_t) :: bshape(4), oshape(4), g
    integer :: l, run
    call check_section('map plan, transform')
    call transform_inputs(n_full, u, sigma, conj)
    call dgampi_map_plan_create(plan, irr, full, irrk_inv, DGAMPI_DTYPE_COMPLEX128, [2, 3, 3], &
      dgampi_orbital_transform(u, sigma, conj), ierr=ierr)
    call check_ok(ierr, 'dgampi_map_plan_create (transform)')
    call dgampi_map_plan_shapes(plan, bshape, oshape, ierr)
    call check_ok(ierr, 'dgampi_map_plan_shapes')
    call check_true(all(bshape == [2_c_int64_t, 3_c_int64_t, 3_c_int64_t, my_irr]) .and. &
      all(oshape == [2_c_int64_t, 3_c_int64_t, 3_c_int64_t, my_full]), 'map plan shapes')
    allocate (out(2, 3, 3, my_full), expected(2, 3, 3, my_full), wide(2, 3, 3, 2 * my_full))
    do run = 1, 2
      call irr_data(x_all)
      x_all = x_all * run + cmplx(0, run, c_double_complex)
      block = x_all(:, :, :, irr_off + 1:irr_off + my_irr)
      do l = 1, int(my_full)
        g = full_off + l
        expected(:, :, :, l) = transform2(x_all(:, :, :, irrk_inv(g) + 1), u(:, :, g), sigma(g), conj(g))
      end do
      out = 0
      call dgampi_map_plan_execute(plan, block, out, ierr)
      call check_ok(ierr, 'dgampi_map_plan_execute')
      call check_true(close8(out, expected, 1d-12), 'map plan execution differs')
      ! into every other point of a longer array
      wide = sentinel
      call dgampi_map_plan_execute(plan, block, wide(:, :, :, 2:2 * my_full:2), ierr)
      call check_ok(ierr, 'dgampi_map_plan_execute (strided section)')
      call check_true(close8(wide(:, :, :, 2:2 * my_full:2), expected, 1d-12), 'map plan into a section differs')
      call check_true(all(wide(:, :, :, 1:2 * my_full:2) == sentinel), 'map plan wrote outside the section')
    end do

    call check_section('map plan, wrong block')
    if (me == nprocs - 1) then
      allocate (bad(2, 3, 3, my_irr + 1))
    else
      allocate (bad(2, 3, 3, my_irr))
    end if
    bad = 1
    out = sentinel
    call dgampi_map_plan_execute(plan, bad, out, ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a wrong block on the last rank: execution succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_map_plan_execute') > 0, &
      'message "' // dgampi_error_message() // '"')
    if (me == nprocs - 1) then
      call check_true(ierr == DGAMPI_STATUS_MISMATCH, 'the rank with the wrong block did not get MISMATCH')
    else
      call check_true(ierr == DGAMPI_STATUS_REMOTE_ERROR, 'the other ranks did not get REMOTE_ERROR')
    end if
    call check_true(all(out == sentinel), 'a refused execution wrote out')
    out = 0
    call dgampi_map_plan_execute(plan, block, out, ierr)
    call check_ok(ierr, 'dgampi_map_plan_execute after a refused one')
    call check_true(close8(out, expected, 1d-12), 'map plan execution after a refused one differs')

    call check_section('map plan, errors')
    ! shapes: arrays of the wrong size (local)
    call dgampi_map_plan_shapes(plan, bshape(1:3), oshape(1:3), ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_map_plan_shapes', '3 entries for a 4-axis plan')
    call dgampi_map_plan_shapes(plan, bshape, oshape(1:3), ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_map_plan_shapes', 'block_shape(4), out_shape(3)')
    ! an inconsistent transform on rank 0: an error on every rank, no plan
    if (me == 0) then
      call dgampi_map_plan_create(plan2, irr, full, irrk_inv, DGAMPI_DTYPE_COMPLEX128, [2, 3, 3], &
        dgampi_orbital_transform(u, sigma(1:n_full - 1), conj), ierr=ierr)
      call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_map_plan_create', 'sigma(n_full - 1) on rank 0')
    else
      call dgampi_map_plan_create(plan2, irr, full, irrk_inv, DGAMPI_DTYPE_COMPLEX128, [2, 3, 3], &
        dgampi_orbital_transform(u, sigma, conj), ierr=ierr)
      call check_true(ierr /= DGAMPI_STATUS_OK, 'a bad transform on rank 0: creation succeeded here')
    end if
    call check_true(.not. c_associated(plan2%ptr), 'a failed creation left a plan')
    ! different row shapes on the ranks: an error on every rank
    if (nprocs > 1) then
      if (me == 0) then
        call dgampi_map_plan_create(plan2, irr, full, irrk_inv, DGAMPI_DTYPE_F64, [2, 3], ierr=ierr)
      else
        call dgampi_map_plan_create(plan2, irr, full, irrk_inv, DGAMPI_DTYPE_F64, [3, 2], ierr=ierr)
      end if
      call check_true(ierr /= DGAMPI_STATUS_OK, 'different row shapes: creation succeeded')
      call check_true(.not. c_associated(plan2%ptr), 'a failed creation left a plan (row shapes)')
    end if

    call dgampi_map_plan_destroy(plan, ierr)
    call check_ok(ierr, 'dgampi_map_plan_destroy')
    call check_true(.not. c_associated(plan%ptr), 'the destroyed plan was not nullified')
    call dgampi_map_plan_destroy(plan, ierr)
    call check_ok(ierr, 'dgampi_map_plan_destroy (a null plan)')
  end subroutine test_map_plan

  !> A map plan over 2 irreducible points (empty blocks on most ranks) that
  !> outlives its distributors, executed twice with new data.
  subroutine test_map_plan_few_irreducible()
    integer(c_int64_t), parameter :: map(7) = [1, 0, 1, 1, 0, 0, 1]
    type(dgampi_distributor) :: irr2, full2
    type(dgampi_map_plan) :: plan
    integer(c_int64_t) :: irr_all(3, 2)
    integer(c_int64_t), allocatable :: out(:, :)
    integer(c_int64_t) :: my2, off2, myf, offf
    integer :: k, i, run
    call check_section('map plan, 2 irreducible points, distributors destroyed first')
    call dgampi_distributor_create(irr2, MPI_COMM_WORLD, 2)
    call dgampi_distributor_create(full2, MPI_COMM_WORLD, 7)
    my2 = dgampi_distributor_my_size(irr2)
    off2 = dgampi_distributor_my_offset(irr2)
    myf = dgampi_distributor_my_size(full2)
    offf = dgampi_distributor_my_offset(full2)
    call dgampi_map_plan_create(plan, irr2, full2, int(map), DGAMPI_DTYPE_I64, [3_c_int64_t], ierr=ierr)
    call check_ok(ierr, 'dgampi_map_plan_create')
    call dgampi_distributor_destroy(full2)
    call dgampi_distributor_destroy(irr2)
    allocate (out(3, myf))
    do run = 1, 2
      do k = 1, 2
        do i = 1, 3
          irr_all(i, k) = 100 * run + 10 * k + i
        end do
      end do
      out = -1
      call dgampi_map_plan_execute(plan, irr_all(:, off2 + 1:off2 + my2), out, ierr)
      call check_ok(ierr, 'dgampi_map_plan_execute')
      call check_true(all(out == irr_all(:, map(offf + 1:offf + myf) + 1)), 'map plan execution differs')
    end do
    call dgampi_map_plan_destroy(plan, ierr)
    call check_ok(ierr, 'dgampi_map_plan_destroy')
  end subroutine test_map_plan_few_irreducible

  !> The vslice plan with n_nu = 5: complex(8) rank 5 with the transform
  !> and real(8) rank 3 from a strided vertex, each made once and executed
  !> twice with new data; a wrong block on the last rank (an error on every
  !> rank, the plan usable afterwards); a split of the wrong length; destroy.
  subroutine test_vslice_plan()
    integer, parameter :: n_nu = 5
    complex(c_double_complex), parameter :: sentinel = (-7, 7)
    complex(c_double_complex) :: v_all(2, n_nu, 2, 2, n_irr)   ! (nu', nu, a, b, q_irr)
    complex(c_double_complex), allocatable :: block(:, :, :, :, :), out(:, :, :, :, :), expected(:, :, :, :, :)
    complex(c_double_complex), allocatable :: bad(:, :, :, :, :), u(:, :, :)
    real(c_double) :: r_all(3, n_nu, n_irr)
    real(c_double), allocatable :: wide(:, :, :), rout(:, :, :)
    real(c_double), allocatable :: sigma(:)
    logical, allocatable :: conj(:)
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    integer(c_int64_t) :: my_nu, nu_off, q, bshape(5), oshape(5)
    type(dgampi_vslice_plan) :: plan, rplan
    integer :: i, j, run
    call check_section('vslice plan, n_nu = 5, transform')
    call dgampi_node_aware_split(full, n_nu, sizes, offsets, ierr)
    call check_ok(ierr, 'dgampi_node_aware_split')
    my_nu = sizes(me + 1)
    nu_off = offsets(me + 1)
    u = u_matrices(2, n_full)
    allocate (sigma(n_full), conj(n_full))
    do j = 1, int(n_full)
      sigma(j) = merge(1d0, -1d0, mod(j, 3) == 0)
      conj(j) = mod(j, 2) == 0
    end do
    call dgampi_vslice_plan_create(plan, irr, full, irrk_inv4, sizes, offsets, DGAMPI_DTYPE_COMPLEX128, &
      [2, n_nu, 2, 2], dgampi_orbital_transform(u, sigma, conj), ierr=ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_create (transform)')
    call dgampi_vslice_plan_shapes(plan, bshape, oshape, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_shapes')
    call check_true(all(bshape == [2_c_int64_t, int(n_nu, c_int64_t), 2_c_int64_t, 2_c_int64_t, my_irr]), &
      'vslice plan block shape')
    call check_true(all(oshape == [2_c_int64_t, my_nu, 2_c_int64_t, 2_c_int64_t, n_full]), 'vslice plan out shape')
    allocate (out(2, my_nu, 2, 2, n_full), expected(2, my_nu, 2, 2, n_full))
    do run = 1, 2
      v_all = reshape([(cmplx(i * run, run - mod(i, 11), c_double_complex), i = 1, size(v_all))], shape(v_all))
      block = v_all(:, :, :, :, irr_off + 1:irr_off + my_irr)
      do q = 1, n_full
        expected(:, :, :, :, q) = reshape(transform2(reshape(v_all(:, nu_off + 1:nu_off + my_nu, :, :, irrk_inv(q) + 1), &
          [2 * my_nu, 2_c_int64_t, 2_c_int64_t]), u(:, :, q), sigma(q), conj(q)), [2_c_int64_t, my_nu, 2_c_int64_t, 2_c_int64_t])
      end do
      out = 0
      call dgampi_vslice_plan_execute(plan, block, out, ierr)
      call check_ok(ierr, 'dgampi_vslice_plan_execute')
      call check_true(close8(out, expected, 1d-12), 'vslice plan execution differs')
    end do

    call check_section('vslice plan, wrong block')
    if (me == nprocs - 1) then
      allocate (bad(2, n_nu, 2, 2, my_irr + 1))
    else
      allocate (bad(2, n_nu, 2, 2, my_irr))
    end if
    bad = 1
    out = sentinel
    call dgampi_vslice_plan_execute(plan, bad, out, ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a wrong block on the last rank: execution succeeded')
    call check_true(index(dgampi_error_message(), 'dgampi_vslice_plan_execute') > 0, &
      'message "' // dgampi_error_message() // '"')
    if (me == nprocs - 1) then
      call check_true(ierr == DGAMPI_STATUS_MISMATCH, 'the rank with the wrong block did not get MISMATCH')
    else
      call check_true(ierr == DGAMPI_STATUS_REMOTE_ERROR, 'the other ranks did not get REMOTE_ERROR')
    end if
    call check_true(all(out == sentinel), 'a refused execution wrote out')
    out = 0
    call dgampi_vslice_plan_execute(plan, block, out, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_execute after a refused one')
    call check_true(close8(out, expected, 1d-12), 'vslice plan execution after a refused one differs')
    call dgampi_vslice_plan_destroy(plan, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_destroy')
    call check_true(.not. c_associated(plan%ptr), 'the destroyed plan was not nullified')

    ! real(8), rank 3, the vertex every other nu' of a wider array; a capped limit
    call check_section('vslice plan, real(8) rank 3, strided vertex')
    call dgampi_vslice_plan_create(rplan, irr, full, irrk_inv, sizes, offsets, DGAMPI_DTYPE_F64, &
      [3_c_int64_t, int(n_nu, c_int64_t)], limit=capped(5_c_size_t), ierr=ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_create (real(8))')
    allocate (wide(6, n_nu, my_irr), rout(3, my_nu, n_full))
    do run = 1, 2
      r_all = reshape([(real(i + 1000 * run, c_double), i = 1, size(r_all))], shape(r_all))
      wide = -1
      wide(1:6:2, :, :) = r_all(:, :, irr_off + 1:irr_off + my_irr)
      rout = 0
      call dgampi_vslice_plan_execute(rplan, wide(1:6:2, :, :), rout, ierr)
      call check_ok(ierr, 'dgampi_vslice_plan_execute (strided vertex)')
      do q = 1, n_full
        call check_true(all(rout(:, :, q) == r_all(:, nu_off + 1:nu_off + my_nu, irrk_inv(q) + 1)), &
          'vslice plan execution differs (strided vertex)')
      end do
    end do
    call dgampi_vslice_plan_destroy(rplan, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_destroy (real(8))')

    call check_section('vslice plan, errors')
    call dgampi_vslice_plan_create(rplan, irr, full, irrk_inv, [sizes, 0_c_int64_t], offsets, DGAMPI_DTYPE_F64, &
      [3_c_int64_t, int(n_nu, c_int64_t)], ierr=ierr)
    call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_vslice_plan_create', 'split_sizes too long')
    call check_true(.not. c_associated(rplan%ptr), 'a failed creation left a plan')
    call dgampi_vslice_plan_create(rplan, irr, full, irrk_inv, sizes, offsets, DGAMPI_DTYPE_F64, &
      [3_c_int64_t, int(n_nu + 1, c_int64_t)], ierr=ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a split of 5 for 6 frequencies: creation succeeded')
    call check_true(.not. c_associated(rplan%ptr), 'a failed creation left a plan (split of 5 for 6)')
  end subroutine test_vslice_plan

  !> The vslice plan where the last rank gets no frequency (nprocs - 1 of
  !> them over nprocs ranks of one node): a zero-size out there, executed
  !> twice with new data; a wrong block on that rank (an error on every
  !> rank, the plan usable afterwards).
  subroutine test_vslice_plan_empty()
    integer :: n_nu
    complex(c_float_complex), allocatable :: v_all(:, :, :, :), block(:, :, :, :), out(:, :, :, :), bad(:, :, :, :)
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    integer(c_int64_t) :: my_nu, nu_off, q, bshape(4), oshape(4)
    type(dgampi_vslice_plan) :: plan
    integer :: i, run
    call check_section('vslice plan, empty slice')
    n_nu = nprocs - 1
    allocate (v_all(2, n_nu, 3, n_irr))
    call dgampi_node_aware_split_nodes(n_nu, spread(0, 1, nprocs), sizes, offsets)
    call check_true(sizes(nprocs) == 0, 'the last rank has no frequency')
    my_nu = sizes(me + 1)
    nu_off = offsets(me + 1)
    call dgampi_vslice_plan_create(plan, irr, full, irrk_inv, sizes, offsets, DGAMPI_DTYPE_COMPLEX64, [2, n_nu, 3], &
      ierr=ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_create (empty slice)')
    call dgampi_vslice_plan_shapes(plan, bshape, oshape, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_shapes (empty slice)')
    call check_true(all(oshape == [2_c_int64_t, my_nu, 3_c_int64_t, n_full]), 'vslice plan out shape (empty slice)')
    allocate (out(2, my_nu, 3, n_full))
    do run = 1, 2
      v_all = reshape([(cmplx(i, run, c_float_complex), i = 1, size(v_all))], shape(v_all))
      block = v_all(:, :, :, irr_off + 1:irr_off + my_irr)
      out = 0
      call dgampi_vslice_plan_execute(plan, block, out, ierr)
      call check_ok(ierr, 'dgampi_vslice_plan_execute (empty slice)')
      if (me == nprocs - 1) call check_true(size(out) == 0, 'the empty slice has elements')
      do q = 1, n_full
        call check_true(all(out(:, :, :, q) == v_all(:, nu_off + 1:nu_off + my_nu, :, irrk_inv(q) + 1)), &
          'vslice plan execution differs (empty slice)')
      end do
    end do
    ! the rank with the empty slice passes a wrong block (nu' of 3)
    if (me == nprocs - 1) then
      allocate (bad(3, n_nu, 3, my_irr))
    else
      allocate (bad(2, n_nu, 3, my_irr))
    end if
    bad = 0
    call dgampi_vslice_plan_execute(plan, bad, out, ierr)
    call check_true(ierr /= DGAMPI_STATUS_OK, 'a wrong block on the empty-slice rank: execution succeeded')
    if (me == nprocs - 1) then
      call check_true(ierr == DGAMPI_STATUS_MISMATCH, 'the rank with the wrong block did not get MISMATCH')
    else
      call check_true(ierr == DGAMPI_STATUS_REMOTE_ERROR, 'the other ranks did not get REMOTE_ERROR')
    end if
    out = 0
    call dgampi_vslice_plan_execute(plan, block, out, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_execute after a refused one (empty slice)')
    do q = 1, n_full
      call check_true(all(out(:, :, :, q) == v_all(:, nu_off + 1:nu_off + my_nu, :, irrk_inv(q) + 1)), &
        'vslice plan execution after a refused one differs (empty slice)')
    end do
    call dgampi_vslice_plan_destroy(plan, ierr)
    call check_ok(ierr, 'dgampi_vslice_plan_destroy (empty slice)')
  end subroutine test_vslice_plan_empty

  !> The route every rank reports must be the same.
  logical function same_on_all_ranks(value) result(same)
    integer, intent(in) :: value
    ! one byte per message: the tests run under the PMPI checker with a
    ! 3-byte limit, which MPICH's Fortran bindings pass through
    integer(int8) :: mine, lo, hi
    mine = int(value, int8)
    call MPI_Allreduce(mine, lo, 1, MPI_INTEGER1, MPI_MIN, MPI_COMM_WORLD)
    call MPI_Allreduce(mine, hi, 1, MPI_INTEGER1, MPI_MAX, MPI_COMM_WORLD)
    same = lo == hi .and. int(lo) == value
  end function same_on_all_ranks

  !> The exchange-path setting: set / get, an unknown setting refused
  !> (locally, the setting unchanged); under each setting (p2p, collective,
  !> auto) a map plan and a vslice plan over the 4x4 map report the route
  !> the rule gives and move the same data, executed twice with new data:
  !> the point-to-point engine when asked, at one rank, or under the lowered
  !> limit (every block here is 24 bytes to a few KiB, above 3 bytes);
  !> MPI_Alltoallw otherwise (on the 4x4 map every rank exchanges rows with
  !> most of the others at 2..4 ranks). A setting that differs between
  !> ranks fails plan creation with MISMATCH on every rank. Restores auto.
  subroutine test_exchange_paths()
    integer, parameter :: paths(3) = [DGAMPI_EXCHANGE_PATH_POINT_TO_POINT, DGAMPI_EXCHANGE_PATH_COLLECTIVE, &
      DGAMPI_EXCHANGE_PATH_AUTO]
    character(len=*), parameter :: names(3) = [character(len=10) :: 'p2p', 'collective', 'auto']
    integer, parameter :: n_nu = 4, nup = 3, nb = 2
    type(dgampi_map_plan) :: plan
    type(dgampi_vslice_plan) :: vplan
    real(c_double) :: x_all(3, n_irr)
    real(c_double), allocatable :: out(:, :)
    complex(c_double_complex) :: v_all(nup, n_nu, nb, nb, n_irr)   ! (nu', nu, a, b, q_irr)
    complex(c_double_complex), allocatable :: vout(:, :, :, :, :), expected(:, :, :, :, :)
    integer(c_int64_t), allocatable :: sizes(:), offsets(:)
    integer(c_int64_t) :: my_nu, nu_off, q
    integer(c_size_t) :: limit
    character(len=32) :: env_path
    integer :: k, run, i, path, route, expected_route, env_len, env_stat
    logical :: engine, known

    call check_section('exchange paths, setting')
    call get_environment_variable('DGAMPI_EXCHANGE_PATH', env_path, env_len, env_stat)
    path = dgampi_get_exchange_path(ierr)
    call check_ok(ierr, 'dgampi_get_exchange_path')
    if (env_stat /= 0) call check_true(path == DGAMPI_EXCHANGE_PATH_AUTO, 'the path before any setting is not auto')
    call dgampi_set_exchange_path(7, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_set_exchange_path', 'path 7')
    call dgampi_set_exchange_path(-1, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_ARGUMENT, 'dgampi_set_exchange_path', 'path -1')
    call check_true(dgampi_get_exchange_path(ierr) == path, 'a refused path changed the setting')
    call check_ok(ierr, 'dgampi_get_exchange_path after a refused path (clears the message)')

    limit = dgampi_max_message_bytes(ierr)
    call check_ok(ierr, 'dgampi_max_message_bytes')
    call dgampi_node_aware_split_nodes(n_nu, spread(0, 1, nprocs), sizes, offsets)
    my_nu = sizes(me + 1)
    nu_off = offsets(me + 1)
    allocate (out(3, my_full), vout(nup, my_nu, nb, nb, n_full), expected(nup, my_nu, nb, nb, n_full))
    do k = 1, size(paths)
      call check_section('exchange paths, ' // trim(names(k)))
      call dgampi_set_exchange_path(paths(k), ierr)
      call check_ok(ierr, 'dgampi_set_exchange_path')
      call check_true(dgampi_get_exchange_path(ierr) == paths(k), 'get differs from what set stored')
      call check_ok(ierr, 'dgampi_get_exchange_path')
      ! the engine when asked, at one rank, or when a block exceeds the
      ! lowered limit; a limit between 20 bytes and 64 KiB is not checked
      engine = paths(k) == DGAMPI_EXCHANGE_PATH_POINT_TO_POINT .or. nprocs == 1 .or. limit <= 20
      known = engine .or. limit >= 65536
      expected_route = merge(DGAMPI_EXCHANGE_ROUTE_POINT_TO_POINT, DGAMPI_EXCHANGE_ROUTE_ALLTOALLW, engine)

      ! map plan: real(8) rows of 3
      call dgampi_map_plan_create(plan, irr, full, irrk_inv, DGAMPI_DTYPE_F64, [3], ierr=ierr)
      call check_ok(ierr, 'dgampi_map_plan_create')
      route = dgampi_map_plan_route(plan, ierr)
      call check_ok(ierr, 'dgampi_map_plan_route')
      call check_true(.not. known .or. route == expected_route, 'map plan route ' // itoa(route) // ', expected ' // &
        itoa(expected_route))
      call check_true(any(route == [DGAMPI_EXCHANGE_ROUTE_POINT_TO_POINT, DGAMPI_EXCHANGE_ROUTE_ALLTOALLW, &
        DGAMPI_EXCHANGE_ROUTE_NEIGHBOR_ALLTOALLW]), 'map plan route ' // itoa(route) // ' is not a route')
      call check_true(same_on_all_ranks(route), 'the ranks report different map plan routes')
      do run = 1, 2
        x_all = reshape([(real(i + 100 * run + 1000 * k, c_double), i = 1, size(x_all))], shape(x_all))
        out = -1
        call dgampi_map_plan_execute(plan, x_all(:, irr_off + 1:irr_off + my_irr), out, ierr)
        call check_ok(ierr, 'dgampi_map_plan_execute')
        call check_true(all(out == x_all(:, irrk_inv(full_off + 1:full_off + my_full) + 1)), &
          'map plan execution differs')
      end do
      call dgampi_map_plan_destroy(plan, ierr)
      call check_ok(ierr, 'dgampi_map_plan_destroy')

      ! vslice plan: complex(8) v(nu', nu, a, b, q), every q to every slice
      call dgampi_vslice_plan_create(vplan, irr, full, irrk_inv4, sizes, offsets, DGAMPI_DTYPE_COMPLEX128, &
        [nup, n_nu, nb, nb], ierr=ierr)
      call check_ok(ierr, 'dgampi_vslice_plan_create')
      route = dgampi_vslice_plan_route(vplan, ierr)
      call check_ok(ierr, 'dgampi_vslice_plan_route')
      call check_true(.not. known .or. route == expected_route, 'vslice plan route ' // itoa(route) // ', expected ' // &
        itoa(expected_route))
      call check_true(same_on_all_ranks(route), 'the ranks report different vslice plan routes')
      do run = 1, 2
        v_all = reshape([(cmplx(i + 10 * run, k - mod(i, 7), c_double_complex), i = 1, size(v_all))], shape(v_all))
        do q = 1, n_full
          expected(:, :, :, :, q) = v_all(:, nu_off + 1:nu_off + my_nu, :, :, irrk_inv(q) + 1)
        end do
        vout = 0
        call dgampi_vslice_plan_execute(vplan, v_all(:, :, :, :, irr_off + 1:irr_off + my_irr), vout, ierr)
        call check_ok(ierr, 'dgampi_vslice_plan_execute')
        call check_true(all(vout == expected), 'vslice plan execution differs')
      end do
      call dgampi_vslice_plan_destroy(vplan, ierr)
      call check_ok(ierr, 'dgampi_vslice_plan_destroy')
    end do

    call check_section('exchange paths, errors')
    ! the route of a null (destroyed) plan
    route = dgampi_map_plan_route(plan, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_map_plan_route', 'a null map plan')
    call check_true(route == -1, 'the route of a null map plan is not -1')
    route = dgampi_vslice_plan_route(vplan, ierr)
    call check_status(ierr, DGAMPI_STATUS_INVALID_HANDLE, 'dgampi_vslice_plan_route', 'a null vslice plan')
    call check_true(route == -1, 'the route of a null vslice plan is not -1')
    ! rank 0 alone asks for the engine: no plan, MISMATCH on every rank
    if (nprocs > 1) then
      call dgampi_set_exchange_path(merge(DGAMPI_EXCHANGE_PATH_POINT_TO_POINT, DGAMPI_EXCHANGE_PATH_AUTO, me == 0), ierr)
      call check_ok(ierr, 'dgampi_set_exchange_path (differing)')
      call dgampi_map_plan_create(plan, irr, full, irrk_inv, DGAMPI_DTYPE_F64, [3], ierr=ierr)
      call check_status(ierr, DGAMPI_STATUS_MISMATCH, 'dgampi_map_plan_create', 'paths differing between ranks')
      call check_true(.not. c_associated(plan%ptr), 'a failed creation left a plan')
    end if
    call dgampi_set_exchange_path(DGAMPI_EXCHANGE_PATH_AUTO, ierr)
    call check_ok(ierr, 'dgampi_set_exchange_path (auto, restored)')
    call check_true(dgampi_get_exchange_path() == DGAMPI_EXCHANGE_PATH_AUTO, 'auto was not restored')
  end subroutine test_exchange_paths

  function itoa(i) result(text)
    integer, intent(in) :: i
    character(len=:), allocatable :: text
    character(len=16) :: buf
    write (buf, '(i0)') i
    text = trim(buf)
  end function itoa

end program bzmap
