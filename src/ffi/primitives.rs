//! C entry points of the chunked message primitives (see [`crate::primitives`]).

use crate::buffer::RawArray;
use crate::element::DType;
use crate::error::Result;
use crate::ffi::array::{dgampi_array, dgampi_owned_array, fill_owned, out_from_c, raw_from_c, shape_from_c};
use crate::ffi::core::{guard, malloc_for_caller, non_null};
use crate::ffi::{CommArg, MPI_Fint};
use crate::primitives::{bcast_rows_into_raw, bcast_rows_raw, recv_bytes_raw, recv_rows_into_raw, recv_rows_with, send_bytes_raw, send_rows_raw};
use crate::Status;
use mpi::ffi::MPI_Comm;
use std::os::raw::{c_int, c_void};

unsafe fn send_rows(comm: CommArg, a: *const dgampi_array, dest: c_int, base_tag: c_int, limit: usize) -> Result<()> {
    let comm = comm.resolve()?;
    send_rows_raw(comm, &raw_from_c(a, "array")?, dest, base_tag, limit)
}

/// Sends the rows of `a` to `dest` in chunks of at most `limit` bytes (0 =
/// process-wide limit): a small header (row count, row size, the limit) at
/// `base_tag`, cut below the limit, then chunk `i` at `base_tag + 1 + i`. The
/// receiver checks the header against its buffer and drains the whole
/// transfer on a mismatch. Sends are blocking
/// (`MPI_Send`): a send to oneself completes only below MPI's eager size.
#[no_mangle]
pub unsafe extern "C" fn dgampi_send_rows(comm: MPI_Comm, a: *const dgampi_array, dest: c_int, base_tag: c_int, limit: usize) -> Status {
    guard("dgampi_send_rows", || send_rows(CommArg::C(comm), a, dest, base_tag, limit))
}

/// Fortran-handle twin of `dgampi_send_rows`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_send_rows_f(comm: MPI_Fint, a: *const dgampi_array, dest: c_int, base_tag: c_int, limit: usize) -> Status {
    guard("dgampi_send_rows_f", || send_rows(CommArg::F(comm), a, dest, base_tag, limit))
}

unsafe fn recv_rows_into(comm: CommArg, a: *const dgampi_array, source: c_int, base_tag: c_int, limit: usize) -> Result<()> {
    recv_rows_into_raw(comm.resolve()?, &raw_from_c(a, "array")?, source, base_tag, limit)
}

/// Receives rows sent by `dgampi_send_rows` directly into `a`, whose shape and
/// dtype must match the sender's (a mismatch is reported, not a crash). An
/// `a` whose elements alias (stride-0 rows) is `DGAMPI_STATUS_INVALID_ARGUMENT`,
/// reported after the transfer is received and discarded.
#[no_mangle]
pub unsafe extern "C" fn dgampi_recv_rows_into(comm: MPI_Comm, a: *const dgampi_array, source: c_int, base_tag: c_int, limit: usize) -> Status {
    guard("dgampi_recv_rows_into", || recv_rows_into(CommArg::C(comm), a, source, base_tag, limit))
}

/// Fortran-handle twin of `dgampi_recv_rows_into`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_recv_rows_into_f(comm: MPI_Fint, a: *const dgampi_array, source: c_int, base_tag: c_int, limit: usize) -> Status {
    guard("dgampi_recv_rows_into_f", || recv_rows_into(CommArg::F(comm), a, source, base_tag, limit))
}

#[allow(clippy::too_many_arguments)]
unsafe fn recv_rows_alloc(
    comm: CommArg,
    dtype: i32,
    ndim: i32,
    shape: *const i64,
    source: c_int,
    base_tag: c_int,
    limit: usize,
    data: *mut *mut c_void,
) -> Result<()> {
    let comm = comm.resolve()?;
    non_null(data, "data")?;
    let dtype = DType::from_code(dtype)?;
    let shape = shape_from_c(ndim, shape)?;
    let bytes = shape.iter().try_fold(dtype.size(), |acc, &n| acc.checked_mul(n)).filter(|&b| b <= isize::MAX as usize);
    let bytes = bytes.ok_or_else(|| crate::Error::out_of_range(format!("shape {shape:?} is too large")))?;
    // The buffer is made before anything is received: a failed allocation
    // leaves the transfer queued for a later receive.
    let mut buf: *mut u8 = std::ptr::null_mut();
    let nrows = shape[0];
    let row_bytes = bytes.checked_div(nrows).unwrap_or_else(|| shape[1..].iter().try_fold(dtype.size(), |acc, &n| acc.checked_mul(n)).unwrap_or(usize::MAX));
    let received = recv_rows_with(comm, source, base_tag, (nrows, row_bytes), limit, || {
        buf = malloc_for_caller(bytes)?;
        RawArray::new(buf, dtype, shape, None)
    });
    match received {
        Ok(_) => {
            *data = buf as *mut c_void;
            Ok(())
        }
        Err(e) => {
            libc::free(buf as *mut c_void);
            Err(e)
        }
    }
}

/// Receives rows sent by `dgampi_send_rows` into a new C-contiguous buffer of
/// `shape` (`ndim` entries) and `dtype`, stored in `*data` (release with
/// `dgampi_free`; NULL when empty).
#[no_mangle]
pub unsafe extern "C" fn dgampi_recv_rows_alloc(
    comm: MPI_Comm,
    dtype: i32,
    ndim: i32,
    shape: *const i64,
    source: c_int,
    base_tag: c_int,
    limit: usize,
    data: *mut *mut c_void,
) -> Status {
    guard("dgampi_recv_rows_alloc", || recv_rows_alloc(CommArg::C(comm), dtype, ndim, shape, source, base_tag, limit, data))
}

/// Fortran-handle twin of `dgampi_recv_rows_alloc`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_recv_rows_alloc_f(
    comm: MPI_Fint,
    dtype: i32,
    ndim: i32,
    shape: *const i64,
    source: c_int,
    base_tag: c_int,
    limit: usize,
    data: *mut *mut c_void,
) -> Status {
    guard("dgampi_recv_rows_alloc_f", || recv_rows_alloc(CommArg::F(comm), dtype, ndim, shape, source, base_tag, limit, data))
}

unsafe fn bcast_rows_into(comm: CommArg, a: *const dgampi_array, root: c_int, limit: usize) -> Result<()> {
    let comm = comm.resolve_intra()?;
    let a = out_from_c(a, "array");
    bcast_rows_into_raw(comm, a.as_ref().map_err(Clone::clone), root, limit)
}

/// Collective: broadcasts the root's `a` into `a` on every rank; shape and
/// dtype must match the root's everywhere (a mismatch fails on every rank).
/// `comm` must be an intracommunicator.
#[no_mangle]
pub unsafe extern "C" fn dgampi_bcast_rows_into(comm: MPI_Comm, a: *const dgampi_array, root: c_int, limit: usize) -> Status {
    guard("dgampi_bcast_rows_into", || bcast_rows_into(CommArg::C(comm), a, root, limit))
}

/// Fortran-handle twin of `dgampi_bcast_rows_into`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_bcast_rows_into_f(comm: MPI_Fint, a: *const dgampi_array, root: c_int, limit: usize) -> Status {
    guard("dgampi_bcast_rows_into_f", || bcast_rows_into(CommArg::F(comm), a, root, limit))
}

unsafe fn bcast_rows(comm: CommArg, a: *const dgampi_array, root: c_int, limit: usize, out: *mut dgampi_owned_array) -> Result<()> {
    let comm = comm.resolve_intra()?;
    let is_root = crate::comm::rank(comm)? == root;
    // A null `out` is reported through the collective agreement, so no rank hangs.
    let mine = non_null(out, "out").and_then(|()| if is_root { raw_from_c(a, "array").map(Some) } else { Ok(None) });
    let mut allocated: *mut u8 = std::ptr::null_mut();
    let mut alloc = |h: &crate::collective::ArrayHeader| -> Result<RawArray> {
        allocated = malloc_for_caller(crate::ffi::array::header_bytes(h)?)?;
        RawArray::new(allocated, h.dtype, h.shape.clone(), None)
    };
    let result = bcast_rows_raw(comm, mine.as_ref().map(|o| o.as_ref()).map_err(Clone::clone), root, limit, &mut alloc);
    match result {
        Ok(header) => {
            fill_owned(&mut *out, allocated, header.dtype, &header.shape);
            Ok(())
        }
        Err(e) => {
            libc::free(allocated as *mut c_void);
            Err(e)
        }
    }
}

/// Collective: broadcasts the root's `a` (ignored elsewhere, may be NULL);
/// every non-root rank receives a newly allocated copy in `*out` (release
/// `out->data` with `dgampi_free`). On the root, as for every broadcast,
/// `*out` describes the array (dtype, ndim, shape) with `data` NULL, owning
/// nothing. `comm` must be an intracommunicator.
#[no_mangle]
pub unsafe extern "C" fn dgampi_bcast_rows(comm: MPI_Comm, a: *const dgampi_array, root: c_int, limit: usize, out: *mut dgampi_owned_array) -> Status {
    guard("dgampi_bcast_rows", || bcast_rows(CommArg::C(comm), a, root, limit, out))
}

/// Fortran-handle twin of `dgampi_bcast_rows`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_bcast_rows_f(comm: MPI_Fint, a: *const dgampi_array, root: c_int, limit: usize, out: *mut dgampi_owned_array) -> Status {
    guard("dgampi_bcast_rows_f", || bcast_rows(CommArg::F(comm), a, root, limit, out))
}

unsafe fn send_bytes(comm: CommArg, data: *const c_void, len: usize, dest: c_int, base_tag: c_int, limit: usize) -> Result<()> {
    let comm = comm.resolve()?;
    send_bytes_raw(comm, crate::ffi::distributor::bytes_arg(data, len, "data")?, dest, base_tag, limit)
}

/// Sends `len` bytes to `dest`: a length message at `base_tag`, then chunks of
/// at most `limit` bytes at `base_tag + 1 + i`. Blocking, like
/// `dgampi_send_rows`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_send_bytes(comm: MPI_Comm, data: *const c_void, len: usize, dest: c_int, base_tag: c_int, limit: usize) -> Status {
    guard("dgampi_send_bytes", || send_bytes(CommArg::C(comm), data, len, dest, base_tag, limit))
}

/// Fortran-handle twin of `dgampi_send_bytes`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_send_bytes_f(comm: MPI_Fint, data: *const c_void, len: usize, dest: c_int, base_tag: c_int, limit: usize) -> Status {
    guard("dgampi_send_bytes_f", || send_bytes(CommArg::F(comm), data, len, dest, base_tag, limit))
}

unsafe fn recv_bytes(comm: CommArg, source: c_int, base_tag: c_int, data: *mut *mut c_void, len: *mut usize) -> Result<()> {
    let comm = comm.resolve()?;
    non_null(data, "data")?;
    non_null(len, "len")?;
    let mut allocated: *mut u8 = std::ptr::null_mut();
    let mut alloc = |n: usize| -> Result<*mut u8> {
        allocated = malloc_for_caller(n)?;
        Ok(allocated)
    };
    match recv_bytes_raw(comm, source, base_tag, &mut alloc) {
        Ok(n) => {
            *data = allocated as *mut c_void;
            *len = n;
            Ok(())
        }
        Err(e) => {
            libc::free(allocated as *mut c_void);
            Err(e)
        }
    }
}

/// Receives a blob sent by `dgampi_send_bytes` into a new buffer `*data` of
/// `*len` bytes (release with `dgampi_free`; NULL when empty).
#[no_mangle]
pub unsafe extern "C" fn dgampi_recv_bytes(comm: MPI_Comm, source: c_int, base_tag: c_int, data: *mut *mut c_void, len: *mut usize) -> Status {
    guard("dgampi_recv_bytes", || recv_bytes(CommArg::C(comm), source, base_tag, data, len))
}

/// Fortran-handle twin of `dgampi_recv_bytes`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_recv_bytes_f(comm: MPI_Fint, source: c_int, base_tag: c_int, data: *mut *mut c_void, len: *mut usize) -> Status {
    guard("dgampi_recv_bytes_f", || recv_bytes(CommArg::F(comm), source, base_tag, data, len))
}
