//! Thin helpers over raw MPI: initialization checks, error codes, tag bounds,
//! Fortran handles, checked `int` conversions and collective status agreement.
//!
//! dgampi calls MPI through `mpi::ffi` so that every return code can become a
//! [`Status`], and so that counts never pass through rsmpi's `i32` casts.

use crate::error::{Error, Result, Status};
use mpi::ffi::{MPI_Comm, MPI_Datatype};
use std::os::raw::{c_int, c_void};

/// Fortran communicator handle (`MPI_Fint`, an `int` in Open MPI and MPICH).
pub type MpiFint = mpi::ffi::RSMPI_Fint;

/// Fails with `MpiNotInitialized` unless MPI is initialized and not finalized.
pub fn ensure_initialized() -> Result<()> {
    let (mut init, mut fin): (c_int, c_int) = (0, 0);
    // SAFETY: both calls are valid before MPI_Init and after MPI_Finalize.
    unsafe {
        mpi::ffi::MPI_Initialized(&mut init);
        mpi::ffi::MPI_Finalized(&mut fin);
    }
    if init == 0 {
        return Err(Error::new(Status::MpiNotInitialized, "MPI is not initialized; call MPI_Init first"));
    }
    if fin != 0 {
        return Err(Error::new(Status::MpiNotInitialized, "MPI is already finalized"));
    }
    Ok(())
}

/// Converts an MPI return code into a result; `what` names the failed call.
pub fn check_mpi(code: c_int, what: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let mut buf = vec![0 as std::os::raw::c_char; 512];
    let mut len: c_int = 0;
    // SAFETY: buf holds MPI_MAX_ERROR_STRING (<= 512 in Open MPI and MPICH) chars.
    let text = unsafe {
        if mpi::ffi::MPI_Error_string(code, buf.as_mut_ptr(), &mut len) == 0 {
            std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        } else {
            format!("error code {code}")
        }
    };
    Err(Error::new(Status::MpiError, format!("{what} failed: {text}")))
}

/// Converts a size into MPI's `int`, failing instead of truncating.
pub fn to_int(value: usize, what: &str) -> Result<c_int> {
    c_int::try_from(value)
        .map_err(|_| Error::out_of_range(format!("{what} = {value} does not fit in an MPI int")))
}

/// Rank of the calling process in `comm`.
pub fn rank(comm: MPI_Comm) -> Result<i32> {
    let mut r: c_int = 0;
    // SAFETY: comm is a valid communicator owned by the caller.
    check_mpi(unsafe { mpi::ffi::MPI_Comm_rank(comm, &mut r) }, "MPI_Comm_rank")?;
    Ok(r)
}

/// Number of processes in `comm`.
pub fn size(comm: MPI_Comm) -> Result<i32> {
    let mut s: c_int = 0;
    // SAFETY: comm is a valid communicator owned by the caller.
    check_mpi(unsafe { mpi::ffi::MPI_Comm_size(comm, &mut s) }, "MPI_Comm_size")?;
    Ok(s)
}

/// Fails unless `peer` is a valid rank of a communicator of `size` processes.
pub fn check_peer(peer: i32, size: i32, role: &str) -> Result<()> {
    if peer < 0 || peer >= size {
        return Err(Error::out_of_range(format!("{role} rank {peer} is outside 0..{size}")));
    }
    Ok(())
}

/// The communicator's `MPI_TAG_UB` attribute (largest valid tag).
pub fn tag_ub(comm: MPI_Comm) -> Result<i32> {
    let mut value: *mut c_void = std::ptr::null_mut();
    let mut flag: c_int = 0;
    // SAFETY: MPI_TAG_UB is a predefined attribute; MPI stores a pointer to int in value.
    unsafe {
        check_mpi(
            mpi::ffi::MPI_Comm_get_attr(comm, mpi::ffi::MPI_TAG_UB as c_int, (&mut value) as *mut _ as *mut c_void, &mut flag),
            "MPI_Comm_get_attr(MPI_TAG_UB)",
        )?;
        if flag == 0 || value.is_null() {
            return Ok(32767);
        }
        Ok(*(value as *const c_int))
    }
}

/// Checks that tags `first_tag ..= first_tag + count - 1` are all valid on `comm`.
pub fn check_tag_range(comm: MPI_Comm, first_tag: i32, count: usize) -> Result<()> {
    if first_tag < 0 {
        return Err(Error::out_of_range(format!("base tag {first_tag} is negative")));
    }
    let ub = tag_ub(comm)? as i64;
    let last = first_tag as i64 + count.saturating_sub(1) as i64;
    if count > 0 && (count as u128 > i64::MAX as u128 || last > ub) {
        return Err(Error::out_of_range(format!(
            "tags {first_tag}..={last} needed for {count} chunks exceed MPI_TAG_UB = {ub}; \
             use a smaller base tag or a larger message limit"
        )));
    }
    Ok(())
}

/// Converts a Fortran communicator handle to a C handle (borrowed, never freed).
pub fn comm_from_fortran(fcomm: MpiFint) -> MPI_Comm {
    // SAFETY: MPI_Comm_f2c is a pure handle conversion.
    unsafe { mpi::ffi::RSMPI_Comm_f2c(fcomm) }
}

/// Fails if `comm` is `MPI_COMM_NULL`.
pub fn check_comm(comm: MPI_Comm) -> Result<()> {
    // SAFETY: reading rsmpi's extern constant.
    if comm == unsafe { mpi::ffi::RSMPI_COMM_NULL } {
        return Err(Error::invalid("the communicator is MPI_COMM_NULL"));
    }
    Ok(())
}

/// Agrees on an outcome across all ranks of `comm` (one small allreduce).
///
/// Returns the local error if this rank failed, a `RemoteError` if another rank
/// failed, and `Ok` only when every rank succeeded.
pub fn agree(comm: MPI_Comm, local: Result<()>) -> Result<()> {
    // One byte, so that the agreement itself obeys even a tiny message limit.
    let mine: u8 = match &local {
        Ok(()) => 0,
        Err(e) => e.status as i32 as u8,
    };
    let mut worst: u8 = 0;
    // SAFETY: one byte, predefined MAX op, valid communicator.
    check_mpi(
        unsafe {
            mpi::ffi::MPI_Allreduce(
                (&mine) as *const u8 as *const c_void,
                (&mut worst) as *mut u8 as *mut c_void,
                1,
                mpi::ffi::RSMPI_UINT8_T,
                mpi::ffi::RSMPI_MAX,
                comm,
            )
        },
        "MPI_Allreduce (status agreement)",
    )?;
    local?;
    if worst != 0 {
        return Err(Error::new(
            Status::RemoteError,
            format!("another rank failed with status {:?}; no data was moved", Status::from_code(worst as i32)),
        ));
    }
    Ok(())
}

/// The byte datatype used for every chunked transfer.
pub fn byte_type() -> MPI_Datatype {
    // SAFETY: reading rsmpi's extern constant.
    unsafe { mpi::ffi::RSMPI_UINT8_T }
}
