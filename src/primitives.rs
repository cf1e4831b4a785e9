//! Chunked message primitives: no message ever exceeds the limit in force.
//!
//! Rows (axis-0 slices) travel in chunks of at most `limit` bytes (0 = the
//! process-wide value, see [`crate::limit`]). A row transfer first sends a
//! small header (row count, row size, the sender's limit) at `base_tag`, cut
//! into pieces below the limit, then chunk `i` at `base_tag + 1 + i`; the
//! receiver checks the header against its buffer and, on a mismatch, drains
//! every chunk of the transfer before reporting it, so nothing is left queued.
//! A row larger than the limit is cut at byte level. Byte blobs
//! ([`send_bytes`]) send their length the same way at `base_tag` and chunk `i`
//! at `base_tag + 1 + i`. Point-to-point calls use the caller's communicator and
//! tags; the tag range is checked against `MPI_TAG_UB` before anything is sent.
//!
//! The functions here take rsmpi communicators and ndarray arrays; the
//! `*_raw` forms take raw handles and [`RawArray`]s and serve the C ABI.

use crate::bounds::{Chunk, RowChunks};
use crate::buffer::RawArray;
use crate::collective::{self, agree, ArrayHeader};
use crate::comm::{self, byte_type, check_mpi, check_peer, check_tag_range, ensure_initialized, to_int};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::failure::Poison;
use crate::limit::resolve_limit;
use mpi::ffi::{MPI_Comm, MPI_Message, MPI_Status};
use mpi::raw::AsRaw;
use ndarray::{ArrayBase, ArrayD, Data, DataMut, Dimension, IxDyn};
use std::os::raw::c_void;

// ---------------------------------------------------------------- raw layer

/// Reusable staging buffer for non-contiguous arrays (at most one chunk).
struct Staging(Vec<u8>);

impl Staging {
    fn get(&mut self, len: usize) -> &mut [u8] {
        if self.0.len() < len {
            self.0.resize(len, 0);
        }
        &mut self.0[..len]
    }
}

fn prologue(comm: MPI_Comm) -> Result<(i32, i32)> {
    ensure_initialized()?;
    comm::check_comm(comm)?;
    Ok((comm::rank(comm)?, comm::size(comm)?))
}

fn mpi_send(comm: MPI_Comm, ptr: *const u8, len: usize, dest: i32, tag: i32) -> Result<()> {
    let count = to_int(len, "message length")?;
    // SAFETY: ptr points to len readable bytes.
    check_mpi(unsafe { mpi::ffi::MPI_Send(ptr as *const c_void, count, byte_type(), dest, tag, comm) }, "MPI_Send")
}

/// Matches the next message from `source` with `tag` and returns its byte length.
fn mpi_probe(comm: MPI_Comm, source: i32, tag: i32) -> Result<(MPI_Message, usize)> {
    // SAFETY: MPI_Status is plain data; MPI fills message and status.
    unsafe {
        let mut msg: MPI_Message = mpi::ffi::RSMPI_MESSAGE_NULL;
        let mut status: MPI_Status = std::mem::zeroed();
        check_mpi(mpi::ffi::MPI_Mprobe(source, tag, comm, &mut msg, &mut status), "MPI_Mprobe")?;
        let mut count = 0;
        check_mpi(mpi::ffi::MPI_Get_count(&status, byte_type(), &mut count), "MPI_Get_count")?;
        Ok((msg, count.max(0) as usize))
    }
}

/// Receives a matched message of `len` bytes into `ptr`.
fn mpi_mrecv(mut msg: MPI_Message, ptr: *mut u8, len: usize) -> Result<()> {
    let count = to_int(len, "message length")?;
    // SAFETY: ptr has room for len bytes; msg was matched by MPI_Mprobe.
    unsafe {
        let mut status: MPI_Status = std::mem::zeroed();
        check_mpi(mpi::ffi::MPI_Mrecv(ptr as *mut c_void, count, byte_type(), &mut msg, &mut status), "MPI_Mrecv")
    }
}

/// Receives the next message on (`source`, `tag`), which must be `expected` bytes long.
///
/// A message of another length is drained (so it cannot match a later receive)
/// and reported as a mismatch naming the chunk.
fn recv_exact(comm: MPI_Comm, source: i32, tag: i32, dst: *mut u8, expected: usize, what: &dyn Fn() -> String) -> Result<()> {
    let (msg, len) = mpi_probe(comm, source, tag)?;
    if len != expected {
        let mut sink = vec![0u8; len];
        mpi_mrecv(msg, sink.as_mut_ptr(), len)?;
        return Err(Error::mismatch(format!(
            "{} from rank {source} (tag {tag}) has {len} bytes, expected {expected}: \
             the sender's shape, dtype or limit differs from the receiver's",
            what()
        )));
    }
    mpi_mrecv(msg, dst, len)
}

fn chunk_source(a: &RawArray, c: &Chunk, staging: &mut Staging) -> *const u8 {
    match a.contiguous_ptr(c.byte_offset) {
        Some(p) => p,
        None => {
            let buf = staging.get(c.byte_len);
            a.pack(c.byte_offset, buf);
            buf.as_ptr()
        }
    }
}

fn tag_of(base_tag: i32, i: usize) -> i32 {
    // check_tag_range has proven base_tag + i <= MPI_TAG_UB <= i32::MAX.
    base_tag + i as i32
}

/// Sends `words` at `tag` in pieces of at most `limit` bytes (the header of a
/// row or byte transfer).
fn send_words(comm: MPI_Comm, words: &[u64], dest: i32, tag: i32, limit: usize) -> Result<()> {
    // SAFETY: viewing the u64 slice as bytes.
    let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, std::mem::size_of_val(words)) };
    for piece in bytes.chunks(limit) {
        mpi_send(comm, piece.as_ptr(), piece.len(), dest, tag)?;
    }
    Ok(())
}

/// Receives the words [`send_words`] sent at `tag`, whatever the sender's
/// piece size. A message that overruns them is received (so its sender is
/// not left blocked) and reported as a mismatch.
fn recv_words(comm: MPI_Comm, source: i32, tag: i32, words: &mut [u64], what: &str) -> Result<()> {
    let total = std::mem::size_of_val(words);
    let ptr = words.as_mut_ptr() as *mut u8;
    let mut got = 0;
    while got < total {
        let (msg, len) = mpi_probe(comm, source, tag)?;
        if got + len > total {
            let mut sink = vec![0u8; len];
            mpi_mrecv(msg, sink.as_mut_ptr(), len)?;
            return Err(Error::mismatch(format!(
                "the {what} header from rank {source} at tag {tag} has a {len}-byte piece beyond its {total} bytes; \
                 the message was not sent by the matching dgampi call"
            )));
        }
        // SAFETY: words has room for total bytes.
        mpi_mrecv(msg, unsafe { ptr.add(got) }, len)?;
        got += len;
    }
    Ok(())
}

/// Sends the rows of `a` to `dest` (raw form of [`send_rows`]).
pub(crate) fn send_rows_raw(comm: MPI_Comm, a: &RawArray, dest: i32, base_tag: i32, limit: usize) -> Result<()> {
    let (_, size) = prologue(comm)?;
    check_peer(dest, size, "destination")?;
    let limit = resolve_limit(limit)?;
    let plan = RowChunks::new(a.nrows(), a.row_bytes(), limit)?;
    check_tag_range(comm, base_tag, plan.count() + 1)?;
    send_words(comm, &[a.nrows() as u64, a.row_bytes() as u64, limit as u64], dest, base_tag, limit)?;
    let mut staging = Staging(Vec::new());
    for (i, c) in plan.iter().enumerate() {
        let ptr = chunk_source(a, &c, &mut staging);
        mpi_send(comm, ptr, c.byte_len, dest, tag_of(base_tag, i + 1))?;
    }
    Ok(())
}

/// The schedule of a row transfer announced by its header: row count, row bytes, and the sender's chunks.
struct RowTransfer {
    nrows: usize,
    row_bytes: usize,
    plan: RowChunks,
}

/// Receives the header of a row transfer at `base_tag` and checks its tag range.
fn recv_row_header(comm: MPI_Comm, source: i32, base_tag: i32) -> Result<RowTransfer> {
    check_tag_range(comm, base_tag, 1)?;
    let mut words = [0u64; 3];
    recv_words(comm, source, base_tag, &mut words, "row transfer")?;
    let (nrows, row_bytes, limit) = (words[0] as usize, words[1] as usize, words[2] as usize);
    let plan = RowChunks::new(nrows, row_bytes, limit.max(1))?;
    check_tag_range(comm, base_tag, plan.count() + 1)?;
    Ok(RowTransfer { nrows, row_bytes, plan })
}

/// Receives and discards the chunks of an announced transfer, one chunk of
/// memory at a time, so that a rejected transfer cannot match a later receive.
fn drain_chunks(comm: MPI_Comm, t: &RowTransfer, source: i32, base_tag: i32) -> Result<()> {
    let mut sink = Staging(Vec::new());
    for i in 0..t.plan.count() {
        let (msg, len) = mpi_probe(comm, source, tag_of(base_tag, i + 1))?;
        mpi_mrecv(msg, sink.get(len).as_mut_ptr(), len)?;
    }
    Ok(())
}

/// Receives and discards a whole row transfer (header and chunks) sent by
/// [`send_rows_raw`] at `base_tag`.
pub(crate) fn drain_rows(comm: MPI_Comm, source: i32, base_tag: i32) -> Result<()> {
    let t = recv_row_header(comm, source, base_tag)?;
    drain_chunks(comm, &t, source, base_tag)
}

/// Fails unless `a` can be written without two elements sharing memory.
pub(crate) fn check_output(a: &RawArray, what: &str) -> Result<()> {
    if a.has_aliased_elements() {
        return Err(Error::invalid(format!(
            "{what}: the elements of the {:?} output overlap (byte strides {:?}; stride-0 rows alias), so the results cannot be stored",
            a.shape(),
            a.byte_strides()
        )));
    }
    Ok(())
}

/// Checks that `output` shares no byte with `input`, except in the exact
/// in-place case `slot`: a pair (this rank's slot of the whole array, this
/// rank's block) that a collective copies into each other, when they are the
/// same elements. Then the call runs in place (`MPI_IN_PLACE`, or the local
/// copy skipped) and `true` is returned. Any other overlap is an error.
pub(crate) fn check_disjoint(
    input: &RawArray,
    output: &RawArray,
    slot: Option<(&RawArray, &RawArray)>,
    out_what: &str,
    in_what: &str,
) -> Result<bool> {
    if slot.is_some_and(|(whole_slot, block)| whole_slot.same_elements(block)) {
        return Ok(true);
    }
    if input.overlaps(output) {
        return Err(Error::invalid(format!(
            "{out_what} overlaps {in_what} (bytes {:#x?} and {:#x?}); an output may only be the input's own slot exactly",
            output.address_range(),
            input.address_range()
        )));
    }
    Ok(false)
}

/// Receives rows from `source` into `a` (raw form of [`recv_rows_into`]).
///
/// The header sent ahead of the rows names their count and size and the
/// sender's limit, whose chunk schedule is used (the receiver's `limit` only
/// bounds the tag range checked before anything is received). A buffer of
/// another row count or row size gets every chunk of the transfer drained
/// and a mismatch; one whose elements share memory (stride-0 rows) is
/// drained too and `InvalidArgument`.
pub(crate) fn recv_rows_into_raw(comm: MPI_Comm, a: &RawArray, source: i32, base_tag: i32, limit: usize) -> Result<()> {
    let (_, size) = prologue(comm)?;
    check_peer(source, size, "source")?;
    check_receive_tags(comm, a.nrows(), a.row_bytes(), limit, base_tag)?;
    // An output whose elements share memory is refused after the transfer is
    // drained, so the sender is not left blocked and nothing stays queued.
    let a = check_output(a, "the receive buffer").map(|()| a);
    recv_rows_announced(comm, a, source, base_tag)
}

/// Receives a row transfer into `a` once its header has been checked; when
/// `a` is an error (the buffer could not be made), the transfer is drained
/// and the error returned.
fn recv_rows_announced(comm: MPI_Comm, a: Result<&RawArray>, source: i32, base_tag: i32) -> Result<()> {
    let t = recv_row_header(comm, source, base_tag)?;
    let a = match a {
        Ok(a) if a.nrows() == t.nrows && a.row_bytes() == t.row_bytes => a,
        Ok(a) => {
            drain_chunks(comm, &t, source, base_tag)?;
            return Err(Error::mismatch(format!(
                "rank {source} sent {} rows of {} bytes (tag {base_tag}) but the receive buffer holds {} rows of {} bytes \
                 ({:?} {}); the transfer was drained",
                t.nrows,
                t.row_bytes,
                a.nrows(),
                a.row_bytes(),
                a.shape(),
                a.dtype().name()
            )));
        }
        Err(e) => {
            drain_chunks(comm, &t, source, base_tag)?;
            return Err(e);
        }
    };
    let mut staging = Staging(Vec::new());
    for (i, c) in t.plan.iter().enumerate() {
        let what = || format!("chunk {i} (rows {}..{}) of a {:?} {} array", c.row_start, c.row_stop, a.shape(), a.dtype().name());
        let tag = tag_of(base_tag, i + 1);
        match a.contiguous_ptr(c.byte_offset) {
            Some(dst) => recv_exact(comm, source, tag, dst, c.byte_len, &what)?,
            None => {
                let buf = staging.get(c.byte_len);
                recv_exact(comm, source, tag, buf.as_mut_ptr(), c.byte_len, &what)?;
                a.unpack(c.byte_offset, buf);
            }
        }
    }
    Ok(())
}

/// Checks, before anything is received, the tags that `nrows` rows of
/// `row_bytes` need under the receiver's `limit` (the sender's schedule is
/// checked again once its header arrived).
fn check_receive_tags(comm: MPI_Comm, nrows: usize, row_bytes: usize, limit: usize, base_tag: i32) -> Result<()> {
    let limit = resolve_limit(limit)?;
    check_tag_range(comm, base_tag, RowChunks::new(nrows, row_bytes, limit)?.count() + 1)
}

/// Receives a row transfer of `expected` = (rows, row bytes) under the
/// receiver's `limit` into storage `make` provides. `make` runs before
/// anything is received: when it fails (an allocation), the call returns its
/// error and the transfer stays queued for a later receive.
pub(crate) fn recv_rows_with(
    comm: MPI_Comm,
    source: i32,
    base_tag: i32,
    expected: (usize, usize),
    limit: usize,
    make: impl FnOnce() -> Result<RawArray>,
) -> Result<RawArray> {
    let (_, size) = prologue(comm)?;
    check_peer(source, size, "source")?;
    let a = make()?;
    check_receive_tags(comm, expected.0, expected.1, limit, base_tag)?;
    recv_rows_announced(comm, Ok(&a), source, base_tag)?;
    Ok(a)
}

/// Receives a row transfer whose destination `dst` was resolved after the
/// sender announced it elsewhere (an N-point object's header): when `dst` is
/// an error, the whole transfer is drained and the error returned.
pub(crate) fn recv_rows_or_drain(comm: MPI_Comm, dst: Result<RawArray>, source: i32, base_tag: i32) -> Result<RawArray> {
    recv_rows_announced(comm, dst.as_ref().map_err(Clone::clone), source, base_tag)?;
    dst
}

/// Allocates a zeroed `ArrayD<T>` for `h` in `slot` and describes it (the
/// allocating forms of the typed Rust API use this).
pub(crate) fn allocate_typed<T: Element>(slot: &mut Option<ArrayD<T>>, h: &ArrayHeader) -> Result<RawArray> {
    if h.dtype != T::DTYPE {
        return Err(Error::mismatch(format!("the data is {} but this rank expects {}", h.dtype.name(), T::DTYPE.name())));
    }
    let n = h.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| Error::out_of_range(format!("shape {:?} is too large", h.shape)))?;
    let data = crate::buffer::zeroed_vec::<T>(n)?;
    let arr = slot.insert(ArrayD::from_shape_vec(IxDyn(&h.shape), data).expect("the shape matches the length"));
    RawArray::from_ndarray_mut(arr)
}

/// Broadcasts the body of `a` (root sends, others receive) with the given schedule.
pub(crate) fn bcast_body(comm: MPI_Comm, a: &RawArray, root: i32, is_root: bool, limit: usize) -> Result<()> {
    let plan = RowChunks::new(a.nrows(), a.row_bytes(), limit)?;
    let mut staging = Staging(Vec::new());
    for c in plan.iter() {
        let count = to_int(c.byte_len, "chunk length")?;
        let contiguous = a.contiguous_ptr(c.byte_offset);
        let ptr = match contiguous {
            Some(p) => p,
            None if is_root => chunk_source(a, &c, &mut staging) as *mut u8,
            None => staging.get(c.byte_len).as_mut_ptr(),
        };
        // SAFETY: ptr spans c.byte_len bytes (array memory or staging).
        check_mpi(unsafe { mpi::ffi::MPI_Bcast(ptr as *mut c_void, count, byte_type(), root, comm) }, "MPI_Bcast")?;
        if contiguous.is_none() && !is_root {
            a.unpack(c.byte_offset, &staging.0[..c.byte_len]);
        }
    }
    Ok(())
}

/// Runs a broadcast's data phase, poisoning `poison`'s object when it fails.
fn body_phase(poison: Option<&Poison>, phase: impl FnOnce() -> Result<()>) -> Result<()> {
    match poison {
        Some(p) => p.guard(phase),
        None => phase(),
    }
}

/// Broadcasts the root's `a` into every rank's `a` (raw form of [`bcast_rows_into`]).
///
/// Collective: the root, the limit, dtype and shape must match the root's on
/// every rank; a mismatch is reported on every rank.
pub(crate) fn bcast_rows_into_raw(comm: MPI_Comm, a: Result<&RawArray>, root: i32, limit: usize) -> Result<()> {
    bcast_rows_into_in(comm, a, root, limit, None)
}

/// [`bcast_rows_into_raw`] for an object whose failures `poison` records.
pub(crate) fn bcast_rows_into_in(comm: MPI_Comm, a: Result<&RawArray>, root: i32, limit: usize, poison: Option<&Poison>) -> Result<()> {
    let (rank, _) = prologue(comm)?;
    let a = a.and_then(|a| check_output(a, "the broadcast buffer").map(|()| a));
    let (_, dst, limit) = bcast_open(comm, a.map(Some), root, limit, None, poison)?;
    let dst = dst.expect("a rank that broadcasts into its buffer has one");
    body_phase(poison, || bcast_body(comm, &dst, root, rank == root, limit))
}

/// The opening shared by the broadcasts, whichever form each rank calls:
/// one agreement carrying the root's header; every rank that holds a buffer
/// (`mine`: the root's array, or a rank's own destination) gives its dtype
/// and shape, which must be the root's; ranks without one (`mine` None)
/// allocate with `alloc` from the header, and then every rank joins a
/// confirmation. Returns the header, this rank's array and the resolved limit.
fn bcast_open(
    comm: MPI_Comm,
    mine: Result<Option<&RawArray>>,
    root: i32,
    limit: usize,
    alloc: Option<collective::Allocator>,
    poison: Option<&Poison>,
) -> Result<(ArrayHeader, Option<RawArray>, usize)> {
    let (rank, size) = prologue(comm)?;
    let mine = mine.and_then(|m| match m {
        None if rank == root => Err(Error::null("the root must provide the array to broadcast")),
        m => Ok(m),
    });
    let held = mine.as_ref().ok().copied().flatten();
    let shape = held.map(|a| collective::rows_fingerprint(a.dtype(), a.shape()));
    let root_header = held.filter(|_| rank == root).map(|a| ArrayHeader::of(a, resolve_limit(limit).unwrap_or(1)));
    let allocates = matches!(mine, Ok(None));
    let mut tail = collective::header_tail(if allocates { collective::FLAG_ALLOCATES } else { 0 }, root_header.as_ref());
    let values = [("the dtype or shape of the broadcast array", shape)];
    let checked = mine.as_ref().map(drop).map_err(Clone::clone);
    let limit = collective::open_record(comm, poison, root, size as usize, limit, &values, &mut tail, || checked)?;
    let header = collective::tail_header(&tail)?;
    let mine = mine?.cloned();
    if tail[0] & collective::FLAG_ALLOCATES == 0 {
        return Ok((header, mine, limit));
    }
    let local = match (mine, alloc) {
        (Some(a), _) => Ok(a),
        (None, Some(alloc)) => alloc(&header),
        (None, None) => Err(Error::new(crate::Status::Internal, "a broadcast rank has neither a buffer nor an allocator")),
    };
    agree(comm, local.as_ref().map(drop).map_err(Clone::clone))?;
    Ok((header, Some(local?), limit))
}

/// Broadcasts the root's array to ranks that allocate their own copy (raw form of [`bcast_rows`]).
///
/// On the root, `a` is the array to send and `alloc` is not called. On other
/// ranks `alloc` receives the root's header and returns the destination array.
pub(crate) fn bcast_rows_raw(
    comm: MPI_Comm,
    a: Result<Option<&RawArray>>,
    root: i32,
    limit: usize,
    alloc: &mut dyn FnMut(&ArrayHeader) -> Result<RawArray>,
) -> Result<ArrayHeader> {
    bcast_rows_in(comm, a, root, limit, alloc, None)
}

/// [`bcast_rows_raw`] for an object whose failures `poison` records.
pub(crate) fn bcast_rows_in(
    comm: MPI_Comm,
    a: Result<Option<&RawArray>>,
    root: i32,
    limit: usize,
    alloc: &mut dyn FnMut(&ArrayHeader) -> Result<RawArray>,
    poison: Option<&Poison>,
) -> Result<ArrayHeader> {
    let (rank, _) = prologue(comm)?;
    let a = a.map(|a| a.filter(|_| rank == root));
    let (header, dst, limit) = bcast_open(comm, a, root, limit, Some(alloc), poison)?;
    let dst = dst.expect("every rank has its array after the opening");
    body_phase(poison, || bcast_body(comm, &dst, root, rank == root, limit))?;
    Ok(header)
}

/// Sends a byte blob: its length message at `base_tag`, chunks at `base_tag + 1 + i`.
pub(crate) fn send_bytes_raw(comm: MPI_Comm, bytes: &[u8], dest: i32, base_tag: i32, limit: usize) -> Result<()> {
    let (_, size) = prologue(comm)?;
    check_peer(dest, size, "destination")?;
    let limit = resolve_limit(limit)?;
    let count = bytes.len().div_ceil(limit);
    check_tag_range(comm, base_tag, count + 1)?;
    send_words(comm, &[bytes.len() as u64, limit as u64], dest, base_tag, limit)?;
    for (i, piece) in bytes.chunks(limit).enumerate() {
        mpi_send(comm, piece.as_ptr(), piece.len(), dest, tag_of(base_tag, i + 1))?;
    }
    Ok(())
}

/// Receives a byte blob sent by [`send_bytes_raw`] into storage from `alloc(len)`.
///
/// The sender's limit travels in the length message, so the receiver needs
/// none. When `alloc` fails, the blob's chunks are drained before the error
/// is returned.
pub(crate) fn recv_bytes_raw(comm: MPI_Comm, source: i32, base_tag: i32, alloc: &mut dyn FnMut(usize) -> Result<*mut u8>) -> Result<usize> {
    let (_, size) = prologue(comm)?;
    check_peer(source, size, "source")?;
    check_tag_range(comm, base_tag, 1)?;
    let mut header = [0u64; 2];
    recv_words(comm, source, base_tag, &mut header, "byte blob")?;
    let (total, chunk) = (header[0] as usize, header[1] as usize);
    if chunk == 0 {
        return Err(Error::mismatch(format!("rank {source} sent a byte blob header with a zero limit")));
    }
    let count = total.div_ceil(chunk);
    check_tag_range(comm, base_tag, count + 1)?;
    let dst = match alloc(total) {
        Ok(p) => p,
        Err(e) => {
            let t = RowTransfer { nrows: total, row_bytes: 1, plan: RowChunks::new(total, 1, chunk)? };
            drain_chunks(comm, &t, source, base_tag)?;
            return Err(e);
        }
    };
    for i in 0..count {
        let off = i * chunk;
        let len = chunk.min(total - off);
        let what = || format!("chunk {i} of a {total}-byte blob");
        // SAFETY: dst has room for total bytes.
        recv_exact(comm, source, tag_of(base_tag, i + 1), unsafe { dst.add(off) }, len, &what)?;
    }
    Ok(total)
}

// ---------------------------------------------------------------- Rust API

/// Sends the rows of `data` to rank `dest` of `comm` in chunks of at most `limit` bytes
/// (0 = process-wide limit): a small header (row count, row size, limit) at
/// `base_tag`, then chunk `i` with tag `base_tag + 1 + i`.
pub fn send_rows<T, S, D, C>(comm: &C, data: &ArrayBase<S, D>, dest: i32, base_tag: i32, limit: usize) -> Result<()>
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
    C: AsRaw<Raw = MPI_Comm>,
{
    send_rows_raw(comm.as_raw(), &RawArray::from_ndarray(data)?, dest, base_tag, limit)
}

/// Receives rows sent by [`send_rows`] straight into `out` (which fixes the expected shape).
///
/// The sender's header says how many rows of what size follow; a buffer of
/// another row count or row size gets the whole transfer drained and a
/// mismatch, so nothing stays queued. Transfers whose shape the receiver does
/// not know belong in `Distributor::send_to_rank` / `recv_from_rank`, which
/// send the dtype and shape first.
pub fn recv_rows_into<T, S, D, C>(comm: &C, out: &mut ArrayBase<S, D>, source: i32, base_tag: i32, limit: usize) -> Result<()>
where
    T: Element,
    S: DataMut<Elem = T>,
    D: Dimension,
    C: AsRaw<Raw = MPI_Comm>,
{
    recv_rows_into_raw(comm.as_raw(), &RawArray::from_ndarray_mut(out)?, source, base_tag, limit)
}

/// Receives rows sent by [`send_rows`] into a newly allocated array of `shape`
/// (a failed allocation drains the transfer and returns `AllocationFailed`).
pub fn recv_rows_alloc<T: Element, C: AsRaw<Raw = MPI_Comm>>(
    comm: &C,
    shape: &[usize],
    source: i32,
    base_tag: i32,
    limit: usize,
) -> Result<ArrayD<T>> {
    let mut slot: Option<ArrayD<T>> = None;
    let header = ArrayHeader { dtype: T::DTYPE, shape: shape.to_vec(), limit: 0, flags: 0 };
    let row_bytes = shape.get(1..).unwrap_or(&[]).iter().try_fold(T::DTYPE.size(), |acc, &n| acc.checked_mul(n));
    let row_bytes = row_bytes.ok_or_else(|| Error::out_of_range(format!("shape {shape:?} is too large")))?;
    let nrows = shape.first().copied().ok_or_else(|| Error::invalid("the shape needs at least one axis"))?;
    recv_rows_with(comm.as_raw(), source, base_tag, (nrows, row_bytes), limit, || allocate_typed(&mut slot, &header))?;
    Ok(slot.expect("recv_rows_alloc allocated its output"))
}

/// Broadcasts the root's `data` into `out` on every rank (root's `out` is the source).
pub fn bcast_rows_into<T, S, D, C>(comm: &C, out: &mut ArrayBase<S, D>, root: i32, limit: usize) -> Result<()>
where
    T: Element,
    S: DataMut<Elem = T>,
    D: Dimension,
    C: AsRaw<Raw = MPI_Comm>,
{
    bcast_rows_into_raw(comm.as_raw(), RawArray::from_ndarray_mut(out).as_ref().map_err(Clone::clone), root, limit)
}

/// Broadcasts the root's array; non-root ranks receive a new array of the root's
/// shape (`Some`), the root gets `None`. Non-root ranks pass `None` as `data`.
pub fn bcast_rows<T, S, D, C>(comm: &C, data: Option<&ArrayBase<S, D>>, root: i32, limit: usize) -> Result<Option<ArrayD<T>>>
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
    C: AsRaw<Raw = MPI_Comm>,
{
    let raw = data.map(RawArray::from_ndarray).transpose()?;
    let mut received: Option<ArrayD<T>> = None;
    let mut alloc = |h: &ArrayHeader| allocate_typed(&mut received, h);
    bcast_rows_raw(comm.as_raw(), Ok(raw.as_ref()), root, limit, &mut alloc)?;
    Ok(received)
}

/// Sends a byte blob of any length to `dest` (length at `base_tag`, chunks at `base_tag + 1 + i`).
pub fn send_bytes<C: AsRaw<Raw = MPI_Comm>>(comm: &C, bytes: &[u8], dest: i32, base_tag: i32, limit: usize) -> Result<()> {
    send_bytes_raw(comm.as_raw(), bytes, dest, base_tag, limit)
}

/// Receives a byte blob sent by [`send_bytes`].
pub fn recv_bytes<C: AsRaw<Raw = MPI_Comm>>(comm: &C, source: i32, base_tag: i32) -> Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::new();
    let mut alloc = |n: usize| -> Result<*mut u8> {
        buf.resize(n, 0);
        Ok(buf.as_mut_ptr())
    };
    recv_bytes_raw(comm.as_raw(), source, base_tag, &mut alloc)?;
    Ok(buf)
}
