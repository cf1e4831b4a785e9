//! Thin helpers over raw MPI: initialization checks, error codes, tag bounds,
//! Fortran handles, checked `int` conversions and collective status agreement.
//!
//! dgampi calls MPI through `mpi::ffi` so that every return code can become a
//! [`Status`], and so that counts never pass through rsmpi's `i32` casts.

use crate::error::{Error, Result, Status};
use mpi::ffi::{MPI_Comm, MPI_Datatype};
use mpi::raw::{AsRaw, FromRaw};
use mpi::topology::SimpleCommunicator;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::os::raw::{c_int, c_void};

/// A zero-sized field that makes the type holding it `!Send + !Sync`
/// whatever the MPI library: Open MPI's handles are pointers (never `Send`)
/// but the MPICH family's are integers (always `Send + Sync`), so without it
/// the thread-safety of dgampi's objects would change with the MPI it was
/// built against. dgampi's objects stay on the thread that created them:
/// codes initialize MPI at `MPI_THREAD_FUNNELED` or below, and even at
/// `MPI_THREAD_MULTIPLE` two threads must not run collectives on one
/// communicator at once.
pub(crate) type ThreadBound = PhantomData<*const ()>;

/// A communicator dgampi owns, lent to the caller for `'a` (see
/// [`crate::Distributor::comm`]): usable wherever rsmpi wants a
/// `&SimpleCommunicator` (it dereferences to one), never freed by the
/// caller. It cannot be turned into an owned communicator, so safe code
/// cannot free dgampi's handle, and it cannot outlive its owner.
///
/// ```compile_fail
/// fn misuse(d: &dgampi::Distributor) {
///     // error[E0308]: a CommRef is no ManuallyDrop to take the handle out of
///     let owned: mpi::topology::SimpleCommunicator = std::mem::ManuallyDrop::into_inner(d.comm());
///     drop(owned); // would free the distributor's communicator
/// }
/// ```
///
/// ```compile_fail
/// fn misuse(d: dgampi::Distributor) -> dgampi::CommRef<'static> {
///     d.comm() // error[E0515]: the borrow cannot outlive the distributor
/// }
/// ```
pub struct CommRef<'a> {
    comm: ManuallyDrop<SimpleCommunicator>,
    _borrow: PhantomData<&'a ()>,
    _thread: ThreadBound,
}

impl<'a> CommRef<'a> {
    /// Lends `comm` for `'a`.
    ///
    /// # Safety
    /// `comm` must be a valid communicator that stays valid (is not freed)
    /// for all of `'a`.
    pub(crate) unsafe fn new(comm: MPI_Comm) -> CommRef<'a> {
        // SAFETY: the handle is valid for 'a (caller's contract); ManuallyDrop
        // keeps rsmpi from ever freeing it.
        CommRef { comm: ManuallyDrop::new(unsafe { SimpleCommunicator::from_raw(comm) }), _borrow: PhantomData, _thread: PhantomData }
    }
}

impl Deref for CommRef<'_> {
    type Target = SimpleCommunicator;
    fn deref(&self) -> &SimpleCommunicator {
        &self.comm
    }
}

// SAFETY: the handle is valid while the CommRef lives (see CommRef::new).
unsafe impl AsRaw for CommRef<'_> {
    type Raw = MPI_Comm;
    fn as_raw(&self) -> MPI_Comm {
        self.comm.as_raw()
    }
}

impl std::fmt::Debug for CommRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommRef").finish_non_exhaustive()
    }
}

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
        return Err(Error::out_of_range(format!("{role} rank {peer} is not a rank of this communicator of {size} (0 to {})", size.saturating_sub(1))));
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

/// Bytewise MAX allreduce of `mine` into `out`, in pieces of `piece` bytes.
/// Every byte must be below 0x80: Debian's MPICH 4.0 compares `MPI_UINT8_T`
/// (and `MPI_UNSIGNED_CHAR`) as signed under `MPI_MAX`, so 0x80 loses to 0
/// there; callers encode wider values in 7-bit digits.
pub(crate) fn allreduce_max_bytes(comm: MPI_Comm, mine: &mut [u8], out: &mut [u8], piece: usize, what: &str) -> Result<()> {
    debug_assert!(mine.iter().all(|&b| b < 0x80), "allreduce_max_bytes needs bytes below 0x80 ({what})");
    for (m, o) in mine.chunks(piece).zip(out.chunks_mut(piece)) {
        check_mpi(
            // SAFETY: m and o hold the same number of bytes; predefined MAX op on a valid communicator.
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
    /// `MPI_BOTTOM` as the MPI library's `mpi.h` defines it (src/mpi_shim.c).
    fn rsdgampi_mpi_bottom() -> *mut c_void;
}

/// The value of `MPI_BOTTOM` (buffers described by absolute addresses, see
/// [`RowType::blocks_at`]).
pub fn bottom() -> *mut c_void {
    // SAFETY: the shim returns a constant.
    unsafe { rsdgampi_mpi_bottom() }
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
pub struct OwnedComm(MPI_Comm, ThreadBound);

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
        let owned = OwnedComm(dup, PhantomData);
        check_mpi(
            // SAFETY: dup is a valid communicator we own.
            unsafe { mpi::ffi::MPI_Comm_set_errhandler(dup, mpi::ffi::RSMPI_ERRORS_RETURN) },
            "MPI_Comm_set_errhandler",
        )?;
        Ok(owned)
    }

    /// Builds a distributed-graph communicator over `comm` whose sources
    /// and destinations on this rank are both `neighbors` (ranks of `comm`,
    /// in this order; the relation must be symmetric across ranks), without
    /// reordering (collective over `comm`). Errors on it return codes.
    pub fn dist_graph(comm: MPI_Comm, neighbors: &[usize]) -> Result<OwnedComm> {
        let n = to_int(neighbors.len(), "neighbours")?;
        let ranks = neighbors.iter().map(|&r| to_int(r, "neighbour rank")).collect::<Result<Vec<c_int>>>()?;
        // SAFETY: reading rsmpi's extern constants.
        let (mut graph, unweighted) = unsafe { (mpi::ffi::RSMPI_COMM_NULL, mpi::ffi::RSMPI_UNWEIGHTED() as *const c_int) };
        // SAFETY: comm is valid; ranks holds n ranks of comm for both lists; graph receives a new handle.
        let code = unsafe {
            mpi::ffi::MPI_Dist_graph_create_adjacent(comm, n, ranks.as_ptr(), unweighted, n, ranks.as_ptr(), unweighted, mpi::ffi::RSMPI_INFO_NULL, 0, &mut graph)
        };
        check_mpi(code, "MPI_Dist_graph_create_adjacent")?;
        let owned = OwnedComm(graph, PhantomData);
        // SAFETY: graph is a valid communicator we own.
        check_mpi(unsafe { mpi::ffi::MPI_Comm_set_errhandler(graph, mpi::ffi::RSMPI_ERRORS_RETURN) }, "MPI_Comm_set_errhandler")?;
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
pub struct RowType(MPI_Datatype, ThreadBound);

impl RowType {
    /// Creates and commits the row type (`bytes` must be at least 1).
    pub fn new(bytes: usize) -> Result<RowType> {
        let count = to_int(bytes, "row size in bytes")?;
        // SAFETY: reading rsmpi's extern constant.
        let mut t = unsafe { mpi::ffi::RSMPI_DATATYPE_NULL };
        // SAFETY: building and committing a contiguous datatype of a predefined type.
        unsafe {
            check_mpi(mpi::ffi::MPI_Type_contiguous(count, byte_type(), &mut t), "MPI_Type_contiguous")?;
            let row = RowType(t, PhantomData);
            check_mpi(mpi::ffi::MPI_Type_commit(&mut t), "MPI_Type_commit")?;
            Ok(row)
        }
    }

    /// Creates and commits a vector of `count` blocks of `bytes` bytes whose
    /// starts are `stride` bytes apart (rows that are each contiguous but
    /// not adjacent); its size is `count * bytes`.
    ///
    /// One-byte rows at a negative stride are a contiguous run of a byte
    /// resized to the stride instead: Open MPI 4.1 moves
    /// `MPI_Type_create_hvector(n, 1, -1, MPI_BYTE)` (one-byte rows in
    /// reverse) as if its bytes ascended.
    pub fn vector(count: usize, bytes: usize, stride: isize) -> Result<RowType> {
        let (n, len) = (to_int(count, "rows in a message")?, to_int(bytes, "row size in bytes")?);
        // SAFETY: reading rsmpi's extern constant.
        let mut t = unsafe { mpi::ffi::RSMPI_DATATYPE_NULL };
        if bytes == 1 && stride < 0 {
            let mut step = t;
            // SAFETY: a byte whose extent is the stride, then n of them; the
            // intermediate type is freed once the result holds it.
            unsafe {
                check_mpi(mpi::ffi::MPI_Type_create_resized(byte_type(), 0, stride as mpi::ffi::MPI_Aint, &mut step), "MPI_Type_create_resized")?;
                let code = mpi::ffi::MPI_Type_contiguous(n, step, &mut t);
                mpi::ffi::MPI_Type_free(&mut step);
                check_mpi(code, "MPI_Type_contiguous")?;
            }
        } else {
            // SAFETY: building a vector of a predefined type.
            unsafe { check_mpi(mpi::ffi::MPI_Type_create_hvector(n, len, stride as mpi::ffi::MPI_Aint, byte_type(), &mut t), "MPI_Type_create_hvector")? };
        }
        let typed = RowType(t, PhantomData);
        // SAFETY: committing the type just created.
        check_mpi(unsafe { mpi::ffi::MPI_Type_commit(&mut t) }, "MPI_Type_commit")?;
        Ok(typed)
    }

    /// Creates and commits an indexed type of blocks of `bytes` bytes at
    /// the byte `displacements` (scattered rows); its size is
    /// `displacements.len() * bytes`.
    pub fn indexed(displacements: &[isize], bytes: usize) -> Result<RowType> {
        let (n, len) = (to_int(displacements.len(), "rows in a message")?, to_int(bytes, "row size in bytes")?);
        let displs: Vec<mpi::ffi::MPI_Aint> = displacements.iter().map(|&d| d as mpi::ffi::MPI_Aint).collect();
        // SAFETY: reading rsmpi's extern constant.
        let mut t = unsafe { mpi::ffi::RSMPI_DATATYPE_NULL };
        // SAFETY: building and committing an indexed type of a predefined type from n displacements.
        unsafe {
            check_mpi(mpi::ffi::MPI_Type_create_hindexed_block(n, len, displs.as_ptr(), byte_type(), &mut t), "MPI_Type_create_hindexed_block")?;
            check_mpi(mpi::ffi::MPI_Type_commit(&mut t), "MPI_Type_commit")?;
        }
        Ok(RowType(t, PhantomData))
    }

    /// Creates and commits a type of byte blocks at absolute addresses (for
    /// buffers passed as [`bottom`]): `(address, length)` pairs. One block,
    /// or equal blocks at a constant stride, become a vector placed at the
    /// first address; other lists an hindexed type.
    pub fn blocks_at(blocks: &[(isize, usize)]) -> Result<RowType> {
        let &(first, len) = blocks.first().ok_or_else(|| Error::invalid("a datatype needs at least one block"))?;
        let stride = blocks.get(1).map_or(0, |b| b.0.wrapping_sub(first));
        let regular = blocks.windows(2).all(|w| w[1].1 == len && w[1].0.wrapping_sub(w[0].0) == stride);
        // SAFETY: reading rsmpi's extern constant.
        let mut t = unsafe { mpi::ffi::RSMPI_DATATYPE_NULL };
        if regular {
            let inner = RowType::vector(blocks.len(), len, stride)?;
            let (one, at) = (1 as c_int, first as mpi::ffi::MPI_Aint);
            // SAFETY: one block of the committed vector at an absolute displacement.
            unsafe { check_mpi(mpi::ffi::MPI_Type_create_hindexed(1, &one, &at, inner.raw(), &mut t), "MPI_Type_create_hindexed")? };
        } else {
            let n = to_int(blocks.len(), "blocks in a message")?;
            let lens = blocks.iter().map(|b| to_int(b.1, "block length")).collect::<Result<Vec<c_int>>>()?;
            let displs: Vec<mpi::ffi::MPI_Aint> = blocks.iter().map(|b| b.0 as mpi::ffi::MPI_Aint).collect();
            // SAFETY: n blocks of bytes at absolute displacements.
            unsafe { check_mpi(mpi::ffi::MPI_Type_create_hindexed(n, lens.as_ptr(), displs.as_ptr(), byte_type(), &mut t), "MPI_Type_create_hindexed")? };
        }
        let typed = RowType(t, PhantomData);
        // SAFETY: committing the type just created.
        check_mpi(unsafe { mpi::ffi::MPI_Type_commit(&mut t) }, "MPI_Type_commit")?;
        Ok(typed)
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
