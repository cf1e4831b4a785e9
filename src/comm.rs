//! Thin helpers over raw MPI: initialization checks, error codes, tag bounds,
//! Fortran handles, checked `int` conversions and collective status agreement.
//!
//! dgampi calls MPI through `mpi::ffi` so that every return code can become a
//! [`Status`], and so that counts never pass through rsmpi's `i32` casts.

use crate::error::{Error, Result, Status};
use mpi::ffi::{MPI_Comm, MPI_Datatype};
use std::os::raw::{c_int, c_void};

// Fortran communicator handle: `MPI_Fint` exactly as the MPI library's
// `mpi.h` declares it (probed by build.rs with `$MPICC`, never hard-coded).
include!(concat!(env!("OUT_DIR"), "/mpi_fint.rs"));
// rsmpi's `RSMPI_Comm_f2c` / `_c2f` take its own binding of the same type.
const _: () = assert!(std::mem::size_of::<MpiFint>() == std::mem::size_of::<mpi::ffi::RSMPI_Fint>());

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
    agree_flag(comm, local, false).map(|_| ())
}

/// Like [`agree`], and also tells whether any rank raised `flag`.
pub fn agree_flag(comm: MPI_Comm, local: Result<()>, flag: bool) -> Result<bool> {
    agree_values(comm, local, flag, usize::MAX, &[])
}

/// Bytes per value in the record of [`agree_values`]: the value and its complement.
const VALUE_BYTES: usize = 16;

/// The one agreement every collective opens with: the outcome of each rank's
/// local checks, an optional flag (OR over ranks), and `values` that must be
/// equal on every rank (roots, limits, sizes, fingerprints), each with a name
/// for the error message.
///
/// First one byte travels, reduced with MAX, so the agreement obeys even a
/// 1-byte message limit and every rank learns any rank's error: the status
/// in bits 3.., the flag in bit 2, and in bits 0..2 how far this rank's
/// `limit` is below the record size (0: not below; 1, 2, 3: at least 16, 4,
/// 1 bytes). When all succeeded and there are values, their record (each
/// value's big-endian bytes and their complements, reduced bytewise with MAX,
/// which yields the maximum and the minimum of every byte) travels in one
/// allreduce, or in pieces of the smallest rank's class when some rank's
/// limit is below its size. A value that differs between ranks is a
/// `Mismatch` on every rank.
pub fn agree_values(comm: MPI_Comm, local: Result<()>, flag: bool, limit: usize, values: &[(&str, u64)]) -> Result<bool> {
    let status = match &local {
        Ok(()) => 0u8,
        Err(e) => e.status as i32 as u8,
    };
    let record_len = values.len() * VALUE_BYTES;
    const PIECES: [usize; 3] = [16, 4, 1];
    let class = if values.is_empty() || limit >= record_len { 0 } else { 1 + PIECES.iter().position(|&p| limit >= p).unwrap_or(2) as u8 };
    let mut mine: u8 = (status << 3) | (u8::from(flag) << 2) | class;
    let mut worst: u8 = 0;
    allreduce_max_bytes(comm, std::slice::from_mut(&mut mine), std::slice::from_mut(&mut worst), 1, "status agreement")?;
    local?;
    if worst >> 3 != 0 {
        return Err(Error::new(
            Status::RemoteError,
            format!("another rank failed with status {:?}; no data was moved", Status::from_code((worst >> 3) as i32)),
        ));
    }
    if !values.is_empty() {
        let mut record: Vec<u8> = values.iter().flat_map(|(_, v)| v.to_be_bytes().into_iter().chain((!v).to_be_bytes())).collect();
        let mut reduced = vec![0u8; record_len];
        let piece = match worst & 3 {
            0 => record_len,
            c => PIECES[c as usize - 1],
        };
        allreduce_max_bytes(comm, &mut record, &mut reduced, piece, "argument agreement")?;
        for ((name, _), r) in values.iter().zip(reduced.chunks_exact(VALUE_BYTES)) {
            let max = u64::from_be_bytes(r[..8].try_into().expect("8 bytes"));
            let min = !u64::from_be_bytes(r[8..].try_into().expect("8 bytes"));
            if max != min {
                return Err(Error::mismatch(format!("{name} differs between ranks (values from {min} to {max}); it must be equal on every rank")));
            }
        }
    }
    Ok(worst & 4 == 4)
}

/// Bytewise MAX allreduce of `mine` into `out`, in pieces of `piece` bytes.
pub(crate) fn allreduce_max_bytes(comm: MPI_Comm, mine: &mut [u8], out: &mut [u8], piece: usize, what: &str) -> Result<()> {
    for (m, o) in mine.chunks(piece).zip(out.chunks_mut(piece)) {
        // SAFETY: m and o hold the same number of bytes; predefined MAX op on a valid communicator.
        check_mpi(
            unsafe {
                mpi::ffi::MPI_Allreduce(
                    m.as_ptr() as *const c_void,
                    o.as_mut_ptr() as *mut c_void,
                    m.len() as c_int,
                    mpi::ffi::RSMPI_UINT8_T,
                    mpi::ffi::RSMPI_MAX,
                    comm,
                )
            },
            &format!("MPI_Allreduce ({what})"),
        )?;
    }
    Ok(())
}

/// The byte datatype used for every chunked transfer.
pub fn byte_type() -> MPI_Datatype {
    // SAFETY: reading rsmpi's extern constant.
    unsafe { mpi::ffi::RSMPI_UINT8_T }
}

extern "C" {
    /// `MPI_IN_PLACE` as the MPI library's `mpi.h` defines it (src/mpi_shim.c).
    fn rsdgampi_mpi_in_place() -> *mut c_void;
}

/// The value of `MPI_IN_PLACE` of the MPI library dgampi was built against,
/// read from its `mpi.h` by a C shim (Open MPI and MPICH define it differently).
pub fn in_place() -> *mut c_void {
    // SAFETY: the shim returns a constant.
    unsafe { rsdgampi_mpi_in_place() }
}

/// A communicator dgampi duplicated for itself and frees when dropped.
///
/// Errors on it return codes (`MPI_ERRORS_RETURN`) instead of aborting, so
/// every failure becomes a [`Status`]. Dropping it after `MPI_Finalize` leaks
/// the handle rather than calling MPI.
#[derive(Debug)]
pub struct OwnedComm(MPI_Comm);

impl OwnedComm {
    /// Duplicates `comm` (collective over `comm`), which must be an
    /// intracommunicator: every long-lived object runs collectives on it
    /// (refused at once on every rank, since all ranks see the same kind).
    pub fn dup(comm: MPI_Comm) -> Result<OwnedComm> {
        ensure_initialized()?;
        check_comm(comm)?;
        check_intracomm(comm)?;
        // SAFETY: reading rsmpi's extern constant.
        let mut dup = unsafe { mpi::ffi::RSMPI_COMM_NULL };
        // SAFETY: comm is a valid communicator; dup receives a new handle.
        check_mpi(unsafe { mpi::ffi::MPI_Comm_dup(comm, &mut dup) }, "MPI_Comm_dup")?;
        let owned = OwnedComm(dup);
        // SAFETY: dup is a valid communicator we own.
        check_mpi(
            unsafe { mpi::ffi::MPI_Comm_set_errhandler(dup, mpi::ffi::RSMPI_ERRORS_RETURN) },
            "MPI_Comm_set_errhandler",
        )?;
        Ok(owned)
    }

    /// The raw handle (borrowed; valid while `self` lives).
    pub fn raw(&self) -> MPI_Comm {
        self.0
    }
}

impl Drop for OwnedComm {
    fn drop(&mut self) {
        if ensure_initialized().is_ok() {
            // SAFETY: we own the duplicate and MPI is still running.
            unsafe { mpi::ffi::MPI_Comm_free(&mut self.0) };
        }
    }
}

/// A derived datatype of `bytes` contiguous bytes (one row), freed on drop.
pub struct RowType(MPI_Datatype);

impl RowType {
    /// Creates and commits the row type (`bytes` must be at least 1).
    pub fn new(bytes: usize) -> Result<RowType> {
        let count = to_int(bytes, "row size in bytes")?;
        // SAFETY: reading rsmpi's extern constant.
        let mut t = unsafe { mpi::ffi::RSMPI_DATATYPE_NULL };
        // SAFETY: building and committing a contiguous datatype of a predefined type.
        unsafe {
            check_mpi(mpi::ffi::MPI_Type_contiguous(count, byte_type(), &mut t), "MPI_Type_contiguous")?;
            let row = RowType(t);
            check_mpi(mpi::ffi::MPI_Type_commit(&mut t), "MPI_Type_commit")?;
            Ok(row)
        }
    }

    /// The raw datatype handle.
    pub fn raw(&self) -> MPI_Datatype {
        self.0
    }
}

impl Drop for RowType {
    fn drop(&mut self) {
        if ensure_initialized().is_ok() {
            // SAFETY: we own the committed datatype.
            unsafe { mpi::ffi::MPI_Type_free(&mut self.0) };
        }
    }
}

/// Converts a C communicator handle to its Fortran handle.
pub fn comm_to_fortran(comm: MPI_Comm) -> MpiFint {
    // SAFETY: MPI_Comm_c2f is a pure handle conversion.
    unsafe { mpi::ffi::RSMPI_Comm_c2f(comm) }
}

/// How the value inside `MPI_Comm` is represented (a pointer in Open MPI, an `int`
/// in the MPICH family), and what can be told about it without calling MPI.
trait CommHandle: Copy {
    /// False when the value is certainly no communicator.
    fn may_be_valid(self) -> bool;
}

impl<T> CommHandle for *mut T {
    /// Open MPI: `MPI_Comm_f2c` returns NULL for a Fortran index that names no
    /// communicator (out of range, or a freed slot); any other value it
    /// returns is a live communicator. A C caller's NULL is no handle either.
    fn may_be_valid(self) -> bool {
        !self.is_null()
    }
}

impl CommHandle for c_int {
    /// MPICH family: a communicator handle has a nonzero kind (bits 30-31)
    /// and the communicator object type 1 (bits 26-29), e.g.
    /// `MPI_COMM_WORLD` = 0x44000000. A value of that form may still name a
    /// freed or never created communicator, which MPI then reports.
    fn may_be_valid(self) -> bool {
        let bits = self as u32;
        bits >> 30 != 0 && (bits >> 26) & 0xF == 1
    }
}

/// Fails with `InvalidArgument` when `comm` is `MPI_COMM_NULL` or a value
/// that is certainly no communicator (see [`comm_from_fortran_checked`]);
/// `what` describes the handle in the message. Calls no MPI function, so an
/// invalid handle never reaches MPI's error handler (fatal by default).
pub fn check_comm_handle(comm: MPI_Comm, what: &str) -> Result<()> {
    check_comm(comm).map_err(|e| Error::invalid(format!("{what}: {}", e.message)))?;
    if !comm.0.may_be_valid() {
        return Err(Error::invalid(format!("{what} is not a valid communicator handle")));
    }
    Ok(())
}

/// Converts a Fortran communicator handle to a C handle (borrowed), failing
/// with `InvalidArgument` for a handle that names no communicator: with
/// Open MPI every invalid Fortran handle is detected (`MPI_Comm_f2c` gives
/// NULL); with the MPICH family only values outside the communicator
/// encoding are, and a well-formed value naming no communicator goes to
/// MPI's error handler.
pub fn comm_from_fortran_checked(fcomm: MpiFint) -> Result<MPI_Comm> {
    let comm = comm_from_fortran(fcomm);
    check_comm_handle(comm, &format!("the Fortran communicator handle {fcomm}"))?;
    Ok(comm)
}

/// Fails with `InvalidArgument` when `comm` is an intercommunicator: the
/// collectives of dgampi (agreements, broadcasts, all-to-alls) need every
/// rank in one group, and on an intercommunicator they would wait forever.
pub fn check_intracomm(comm: MPI_Comm) -> Result<()> {
    let mut inter: c_int = 0;
    // SAFETY: comm is a valid communicator handle.
    check_mpi(unsafe { mpi::ffi::MPI_Comm_test_inter(comm, &mut inter) }, "MPI_Comm_test_inter")?;
    if inter != 0 {
        return Err(Error::invalid(
            "the communicator is an intercommunicator; dgampi's collectives need an intracommunicator \
             (merge the groups with MPI_Intercomm_merge)",
        ));
    }
    Ok(())
}
