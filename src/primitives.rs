//! Chunked message primitives: no message ever exceeds the limit in force.
//!
//! Rows (axis-0 slices) travel in chunks of at most `limit` bytes (0 = the
//! process-wide value, see [`crate::limit`]); chunk `i` of a row transfer uses
//! tag `base_tag + i`. A row larger than the limit is cut at byte level. Byte
//! blobs ([`send_bytes`]) send their length at `base_tag` and chunk `i` at
//! `base_tag + 1 + i`. Point-to-point calls use the caller's communicator and
//! tags; the tag range is checked against `MPI_TAG_UB` before anything is sent.
//!
//! The functions here take rsmpi communicators and ndarray arrays; the
//! `*_raw` forms take raw handles and [`RawArray`]s and serve the C ABI.

use crate::bounds::{Chunk, RowChunks};
use crate::buffer::{RawArray, MAX_NDIM};
use crate::comm::{self, agree, byte_type, check_mpi, check_peer, check_tag_range, ensure_initialized, to_int};
use crate::element::{DType, Element};
use crate::error::{Error, Result};
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

/// Sends the rows of `a` to `dest` (raw form of [`send_rows`]).
pub fn send_rows_raw(comm: MPI_Comm, a: &RawArray, dest: i32, base_tag: i32, limit: usize) -> Result<()> {
    let (_, size) = prologue(comm)?;
    check_peer(dest, size, "destination")?;
    let plan = RowChunks::new(a.nrows(), a.row_bytes(), resolve_limit(limit)?)?;
    check_tag_range(comm, base_tag, plan.count())?;
    let mut staging = Staging(Vec::new());
    for (i, c) in plan.iter().enumerate() {
        let ptr = chunk_source(a, &c, &mut staging);
        mpi_send(comm, ptr, c.byte_len, dest, tag_of(base_tag, i))?;
    }
    Ok(())
}

/// Receives rows from `source` into `a` (raw form of [`recv_rows_into`]).
pub fn recv_rows_into_raw(comm: MPI_Comm, a: &RawArray, source: i32, base_tag: i32, limit: usize) -> Result<()> {
    let (_, size) = prologue(comm)?;
    check_peer(source, size, "source")?;
    let plan = RowChunks::new(a.nrows(), a.row_bytes(), resolve_limit(limit)?)?;
    check_tag_range(comm, base_tag, plan.count())?;
    let mut staging = Staging(Vec::new());
    for (i, c) in plan.iter().enumerate() {
        let what = || format!("chunk {i} (rows {}..{}) of a {:?} {} array", c.row_start, c.row_stop, a.shape(), a.dtype().name());
        match a.contiguous_ptr(c.byte_offset) {
            Some(dst) => recv_exact(comm, source, tag_of(base_tag, i), dst, c.byte_len, &what)?,
            None => {
                let buf = staging.get(c.byte_len);
                recv_exact(comm, source, tag_of(base_tag, i), buf.as_mut_ptr(), c.byte_len, &what)?;
                a.unpack(c.byte_offset, buf);
            }
        }
    }
    Ok(())
}

/// Fixed-size header describing an array for broadcasts: dtype, ndim, limit, shape.
const HEADER_WORDS: usize = 3 + MAX_NDIM;

fn encode_header(dtype: DType, shape: &[usize], limit: usize) -> [u64; HEADER_WORDS] {
    let mut h = [0u64; HEADER_WORDS];
    h[0] = dtype as i32 as u64;
    h[1] = shape.len() as u64;
    h[2] = limit as u64;
    for (k, n) in shape.iter().enumerate() {
        h[3 + k] = *n as u64;
    }
    h
}

/// Decoded broadcast header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayHeader {
    /// Element type.
    pub dtype: DType,
    /// Full shape (axis 0 = rows).
    pub shape: Vec<usize>,
    /// The root's resolved limit, used for the body's chunk schedule.
    pub limit: usize,
}

fn decode_header(h: &[u64; HEADER_WORDS]) -> Result<ArrayHeader> {
    let dtype = DType::from_code(h[0] as i32)?;
    let ndim = h[1] as usize;
    if ndim == 0 || ndim > MAX_NDIM {
        return Err(Error::invalid(format!("broadcast header has ndim {ndim}")));
    }
    Ok(ArrayHeader { dtype, shape: h[3..3 + ndim].iter().map(|&n| n as usize).collect(), limit: h[2] as usize })
}

/// Broadcasts a small fixed-size buffer in pieces of at most `limit` bytes.
fn bcast_small(comm: MPI_Comm, root: i32, bytes: &mut [u8], limit: usize) -> Result<()> {
    for piece in bytes.chunks_mut(limit) {
        let count = to_int(piece.len(), "header piece")?;
        // SAFETY: piece is a valid, writable byte range.
        check_mpi(
            unsafe { mpi::ffi::MPI_Bcast(piece.as_mut_ptr() as *mut c_void, count, byte_type(), root, comm) },
            "MPI_Bcast (header)",
        )?;
    }
    Ok(())
}

/// Broadcasts the root's array header; every rank returns the root's header.
fn bcast_header(comm: MPI_Comm, root: i32, mine: Option<&RawArray>, limit: usize) -> Result<ArrayHeader> {
    let mut words = match mine {
        Some(a) => encode_header(a.dtype(), a.shape(), limit),
        None => [0u64; HEADER_WORDS],
    };
    // SAFETY: viewing the u64 array as bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, HEADER_WORDS * 8) };
    bcast_small(comm, root, bytes, limit)?;
    decode_header(&words)
}

/// Broadcasts the body of `a` (root sends, others receive) with the given schedule.
fn bcast_body(comm: MPI_Comm, a: &RawArray, root: i32, is_root: bool, limit: usize) -> Result<()> {
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

/// Broadcasts the root's `a` into every rank's `a` (raw form of [`bcast_rows_into`]).
///
/// Collective: dtype and shape must match the root's on every rank, and the
/// limit must be the same everywhere; a mismatch is reported on every rank.
pub fn bcast_rows_into_raw(comm: MPI_Comm, a: Result<&RawArray>, root: i32, limit: usize) -> Result<()> {
    let (rank, size) = prologue(comm)?;
    let checked = (|| {
        check_peer(root, size, "root")?;
        let limit = resolve_limit(limit)?;
        a.clone()?;
        Ok(limit)
    })();
    agree(comm, checked.clone().map(|_| ()))?;
    let (limit, a) = (checked?, a?);
    let header = bcast_header(comm, root, Some(a), limit)?;
    let consistent = if header.dtype != a.dtype() || header.shape != a.shape() {
        Err(Error::mismatch(format!(
            "rank {rank} holds a {:?} {} array but the root broadcasts a {:?} {} array",
            a.shape(), a.dtype().name(), header.shape, header.dtype.name()
        )))
    } else if header.limit != limit {
        Err(Error::mismatch(format!("rank {rank} uses limit {limit} but the root uses {}", header.limit)))
    } else {
        Ok(())
    };
    agree(comm, consistent)?;
    bcast_body(comm, a, root, rank == root, limit)
}

/// Broadcasts the root's array to ranks that allocate their own copy (raw form of [`bcast_rows`]).
///
/// On the root, `a` is the array to send and `alloc` is not called. On other
/// ranks `alloc` receives the root's header and returns the destination array.
pub fn bcast_rows_raw(
    comm: MPI_Comm,
    a: Result<Option<&RawArray>>,
    root: i32,
    limit: usize,
    alloc: &mut dyn FnMut(&ArrayHeader) -> Result<RawArray>,
) -> Result<ArrayHeader> {
    let (rank, size) = prologue(comm)?;
    let checked = (|| {
        check_peer(root, size, "root")?;
        let limit = resolve_limit(limit)?;
        if rank == root && a.clone()?.is_none() {
            return Err(Error::null("the root must provide the array to broadcast"));
        }
        Ok(limit)
    })();
    agree(comm, checked.clone().map(|_| ()))?;
    let limit = checked?;
    let a = if rank == root { a? } else { None };
    let header = bcast_header(comm, root, a, limit)?;
    let local = if header.limit != limit {
        Err(Error::mismatch(format!("rank {rank} uses limit {limit} but the root uses {}", header.limit)))
    } else if rank == root {
        Ok(None)
    } else {
        alloc(&header).map(Some)
    };
    agree(comm, local.as_ref().map(|_| ()).map_err(Clone::clone))?;
    match local? {
        Some(dst) => bcast_body(comm, &dst, root, false, limit)?,
        None => bcast_body(comm, a.expect("root has its array"), root, true, limit)?,
    }
    Ok(header)
}

/// Sends a byte blob: its length message at `base_tag`, chunks at `base_tag + 1 + i`.
pub fn send_bytes_raw(comm: MPI_Comm, bytes: &[u8], dest: i32, base_tag: i32, limit: usize) -> Result<()> {
    let (_, size) = prologue(comm)?;
    check_peer(dest, size, "destination")?;
    let limit = resolve_limit(limit)?;
    let count = bytes.len().div_ceil(limit);
    check_tag_range(comm, base_tag, count + 1)?;
    let header: [u64; 2] = [bytes.len() as u64, limit as u64];
    // SAFETY: viewing two u64 as 16 bytes.
    let header_bytes = unsafe { std::slice::from_raw_parts(header.as_ptr() as *const u8, 16) };
    for piece in header_bytes.chunks(limit) {
        mpi_send(comm, piece.as_ptr(), piece.len(), dest, base_tag)?;
    }
    for (i, piece) in bytes.chunks(limit).enumerate() {
        mpi_send(comm, piece.as_ptr(), piece.len(), dest, tag_of(base_tag, i + 1))?;
    }
    Ok(())
}

/// Receives a byte blob sent by [`send_bytes_raw`] into storage from `alloc(len)`.
///
/// The sender's limit travels in the length message, so the receiver needs none.
pub fn recv_bytes_raw(comm: MPI_Comm, source: i32, base_tag: i32, alloc: &mut dyn FnMut(usize) -> Result<*mut u8>) -> Result<usize> {
    let (_, size) = prologue(comm)?;
    check_peer(source, size, "source")?;
    check_tag_range(comm, base_tag, 1)?;
    let mut header = [0u64; 2];
    let header_ptr = header.as_mut_ptr() as *mut u8;
    let mut got = 0;
    while got < 16 {
        let (msg, len) = mpi_probe(comm, source, base_tag)?;
        if got + len > 16 {
            return Err(Error::mismatch(format!(
                "the length message from rank {source} at tag {base_tag} is {len} bytes; \
                 it was not sent by send_bytes"
            )));
        }
        // SAFETY: header has room for 16 bytes.
        mpi_mrecv(msg, unsafe { header_ptr.add(got) }, len)?;
        got += len;
    }
    let (total, chunk) = (header[0] as usize, header[1] as usize);
    if chunk == 0 {
        return Err(Error::mismatch(format!("rank {source} sent a byte blob header with a zero limit")));
    }
    let count = total.div_ceil(chunk);
    check_tag_range(comm, base_tag, count + 1)?;
    let dst = alloc(total)?;
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
/// (0 = process-wide limit), chunk `i` with tag `base_tag + i`.
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
pub fn recv_rows_into<T, S, D, C>(comm: &C, out: &mut ArrayBase<S, D>, source: i32, base_tag: i32, limit: usize) -> Result<()>
where
    T: Element,
    S: DataMut<Elem = T>,
    D: Dimension,
    C: AsRaw<Raw = MPI_Comm>,
{
    recv_rows_into_raw(comm.as_raw(), &RawArray::from_ndarray_mut(out)?, source, base_tag, limit)
}

/// Receives rows sent by [`send_rows`] into a newly allocated array of `shape`.
pub fn recv_rows_alloc<T: Element, C: AsRaw<Raw = MPI_Comm>>(
    comm: &C,
    shape: &[usize],
    source: i32,
    base_tag: i32,
    limit: usize,
) -> Result<ArrayD<T>> {
    let mut out = ArrayD::<T>::default(IxDyn(shape));
    recv_rows_into(comm, &mut out, source, base_tag, limit)?;
    Ok(out)
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
    let mut alloc = |h: &ArrayHeader| -> Result<RawArray> {
        if h.dtype != T::DTYPE {
            return Err(Error::mismatch(format!(
                "the root broadcasts {} but this rank expects {}", h.dtype.name(), T::DTYPE.name()
            )));
        }
        let arr = received.insert(ArrayD::<T>::default(IxDyn(&h.shape)));
        RawArray::from_ndarray_mut(arr)
    };
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
