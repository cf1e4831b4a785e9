//! The collective agreement: how every dgampi collective makes sure that
//! all ranks take part, with compatible arguments, before any data moves,
//! and what each failure returns. Every collective of the library (the
//! distributor's, the broadcasts, the BZ maps, the frequency re-layout, FFT
//! plan creation and execution) goes through this module, and the bindings
//! add no agreement of their own.
//!
//! The protocol, as built:
//!
//! 1. **Opening** ([`open`], [`open_record`], [`agree_record`]): each rank
//!    runs its local checks (the object is not poisoned, the root exists,
//!    the limit resolves, its buffers are usable: a caller's output is
//!    checked, a gather or allgather output is allocated, here) and joins
//!    one 1-byte MAX allreduce carrying its status, a flag and its limit
//!    class. If every rank succeeded, one record travels in one bytewise MAX
//!    allreduce: the values that must be equal everywhere (root, message
//!    limit, sizes, fingerprints of maps, splits and of every rank's row
//!    type) as values and complements, which yields every value's maximum
//!    and minimum at once, then bytes reduced with MAX: flags (their OR:
//!    "some rank's buffer is strided", "some rank allocates") and, where
//!    non-root ranks may have to learn a shape (scatter, broadcasts), the
//!    root's [`ArrayHeader`] (the other ranks send zeros). A value that
//!    differs between the ranks that give it is [`Status::Mismatch`] on
//!    every rank; a rank that cannot know a value (it allocates from the
//!    root's header) gives none.
//! 2. **Confirmation** ([`confirm`], only when some rank allocates from the
//!    root's header): each such rank allocates and all join a second 1-byte
//!    agreement.
//! 3. Data moves; a failure from here on poisons the object (see
//!    [`crate::failure`]).
//!
//! So a distributor collective into caller buffers costs two small
//! allreduces (1 byte, then the record) before its data; the allocating
//! scatter and broadcasts one more. The root-gathering map
//! (`map_irrbz_fullbz`) still broadcasts its header ([`share_header`]).
//!
//! What a failure returns: the rank that failed gets its own error; every
//! other rank gets [`Status::RemoteError`] naming the lowest failing rank
//! and its status (a MAXLOC found by a few more 1-byte allreduces, only when
//! something failed). A rank whose arguments are malformed before it can
//! call the collective at all (the C ABI, the Python binding) joins the
//! opening with its error through [`join_with_error`] (or
//! [`join_after_dup`] where the collective starts by duplicating the
//! communicator), so the others never wait. Every message of the protocol
//! obeys the message limit, down to 1 byte.

use crate::buffer::{RawArray, MAX_NDIM};
use crate::comm::{self, allreduce_max_bytes, byte_type, check_mpi, check_peer, to_int, OwnedComm};
use crate::element::DType;
use crate::error::{Error, Result, Status};
use crate::failure::Poison;
use crate::limit::resolve_limit;
use mpi::ffi::MPI_Comm;
use std::os::raw::c_void;

// ---------------------------------------------------------------- step 1: opening

/// Agrees on an outcome across all ranks of `comm` (one 1-byte allreduce).
///
/// Returns the local error if this rank failed, a `RemoteError` if another rank
/// failed, and `Ok` only when every rank succeeded.
pub(crate) fn agree(comm: MPI_Comm, local: Result<()>) -> Result<()> {
    agree_flag(comm, local, false).map(|_| ())
}

/// Like [`agree`], and also tells whether any rank raised `flag`.
pub(crate) fn agree_flag(comm: MPI_Comm, local: Result<()>, flag: bool) -> Result<bool> {
    agree_values(comm, local, flag, usize::MAX, &[])
}

/// Bytes per value in the record of [`agree_record`]: the value and its complement.
const VALUE_BYTES: usize = 16;

/// The one agreement every collective opens with: the outcome of each rank's
/// local checks, an optional flag (OR over ranks), and `values` that must be
/// equal on every rank (roots, limits, sizes, fingerprints), each with a name
/// for the error message. Every rank must pass the same number of values.
/// Same as [`agree_record`] with every value given and no MAX bytes.
pub(crate) fn agree_values(comm: MPI_Comm, local: Result<()>, flag: bool, limit: usize, values: &[(&str, u64)]) -> Result<bool> {
    let values: Vec<(&str, Option<u64>)> = values.iter().map(|&(n, v)| (n, Some(v))).collect();
    agree_record(comm, local, flag, limit, &values, &mut [])
}

/// The opening agreement in full.
///
/// First one byte travels, reduced with MAX, so the agreement obeys even a
/// 1-byte message limit and every rank learns any rank's error: the status
/// in bits 3.., the flag in bit 2, and in bits 0..2 how far this rank's
/// `limit` is below the record size (0: not below; 1, 2, 3: at least 16, 4,
/// 1 bytes). When some rank failed, [`first_failure`] finds which. When all
/// succeeded, one record travels in one bytewise MAX allreduce, or in
/// pieces of the smallest rank's class when some rank's limit is below its
/// size:
/// - `values`: each given value's big-endian bytes and their complements,
///   which yields the maximum and the minimum of every value at once. A
///   value given (`Some`) on two ranks that differs is a `Mismatch` on every
///   rank; a rank that cannot know a value (`None`: it will learn the shape
///   from the root's header) sends zeros, which constrain nothing.
/// - `max_bytes`: bytes reduced with MAX and returned in place: flags (their
///   OR, as long as each byte holds one flag: the MAX of two bytes with
///   different bits set is not their OR) and the root's [`ArrayHeader`] (the
///   other ranks send zeros), so a header needs no broadcast of its own.
///   Every rank passes the same length.
pub(crate) fn agree_record(comm: MPI_Comm, local: Result<()>, flag: bool, limit: usize, values: &[(&str, Option<u64>)], max_bytes: &mut [u8]) -> Result<bool> {
    let status = match &local {
        Ok(()) => 0u8,
        Err(e) => e.status as i32 as u8,
    };
    // Every byte travels as two wire bytes below 0x80 (see `spread`).
    let record_len = 2 * (values.len() * VALUE_BYTES + max_bytes.len());
    const PIECES: [usize; 3] = [16, 4, 1];
    let class = if record_len == 0 || limit >= record_len { 0 } else { 1 + PIECES.iter().position(|&p| limit >= p).unwrap_or(2) as u8 };
    let mut mine: u8 = (status << 3) | (u8::from(flag) << 2) | class;
    let mut worst: u8 = 0;
    allreduce_max_bytes(comm, std::slice::from_mut(&mut mine), std::slice::from_mut(&mut worst), 1, "status agreement")?;
    if worst >> 3 != 0 {
        let (rank, status) = first_failure(comm, status)?;
        local?;
        return Err(Error::new(
            Status::RemoteError,
            format!("rank {rank} failed first (status {:?}); no data was moved", Status::from_code(status as i32)),
        ));
    }
    if record_len != 0 {
        let plain: Vec<u8> = values
            .iter()
            .flat_map(|(_, v)| match v {
                Some(v) => v.to_be_bytes().into_iter().chain((!v).to_be_bytes()),
                None => [0u8; 8].into_iter().chain([0u8; 8]),
            })
            .chain(max_bytes.iter().copied())
            .collect();
        let mut record = spread(&plain);
        let mut reduced = vec![0u8; record_len];
        let piece = match worst & 3 {
            0 => record_len,
            c => PIECES[c as usize - 1],
        };
        allreduce_max_bytes(comm, &mut record, &mut reduced, piece, "argument agreement")?;
        let reduced = join(&reduced);
        let (agreed, maxed) = reduced.split_at(values.len() * VALUE_BYTES);
        for ((name, _), r) in values.iter().zip(agreed.chunks_exact(VALUE_BYTES)) {
            let max = u64::from_be_bytes(r[..8].try_into().expect("8 bytes"));
            let min = !u64::from_be_bytes(r[8..].try_into().expect("8 bytes"));
            let given_nowhere = max == 0 && min == u64::MAX;
            if max != min && !given_nowhere {
                // Sizes, roots and limits are shown; fingerprints (large hashes) would say nothing.
                let range = if max < 1 << 48 { format!(" (values from {min} to {max})") } else { String::new() };
                return Err(Error::mismatch(format!("{name} differs between ranks{range}; it must be equal on every rank")));
            }
        }
        max_bytes.copy_from_slice(maxed);
    }
    Ok(worst & 4 == 4)
}

/// Each byte as two bytes below 0x80 (its top bit, its low 7 bits), so that
/// a bytewise MAX gives the same result whether the MPI library compares
/// `MPI_UINT8_T` as unsigned or, as Debian's MPICH 4.0 does, as signed.
/// Reduced with MAX and joined, every byte is exact where one rank gives it
/// and the others zeros (a header, a flag), and equal bytes stay equal; the
/// complement of a byte becomes the complement of each part, so a value and
/// its complement still yield a maximum and a minimum that are equal exactly
/// when every rank gave the same value.
fn spread(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().flat_map(|&b| [b >> 7, b & 0x7f]).collect()
}

/// The inverse of [`spread`].
fn join(parts: &[u8]) -> Vec<u8> {
    parts.chunks_exact(2).map(|p| (p[0] << 7) | p[1]).collect()
}

/// A 64-bit FNV-1a fingerprint of `values`, so that ranks can check with one
/// agreed value that they were given the same replicated input (a map, a
/// split). Sequences of different lengths differ unless a caller joins them
/// without a separator (put `usize::MAX` between the parts).
pub(crate) fn fingerprint(values: impl IntoIterator<Item = usize>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in (v as u64).to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The lowest rank whose `status` is nonzero, and that status (a MAXLOC),
/// after an agreement found that some rank failed. Each failing rank's key
/// is `size - rank` (0 for ranks that succeeded), reduced with MAX one
/// big-endian base-128 digit at a time (bytes below 0x80, see `spread`; a
/// rank whose prefix fell behind contributes 0), then the winner alone
/// contributes its status: `ceil(log128(size + 1)) + 1` allreduces of one
/// byte each, so even a 1-byte limit holds.
fn first_failure(comm: MPI_Comm, status: u8) -> Result<(usize, u8)> {
    let (rank, size) = (comm::rank(comm)? as u64, comm::size(comm)? as u64);
    let key = if status != 0 { size - rank } else { 0 };
    let ndigits = (u64::BITS - size.leading_zeros()).div_ceil(7) as usize;
    let mut best = 0u64;
    let mut behind = false;
    for i in (0..ndigits).rev() {
        let mut mine = if behind { 0 } else { ((key >> (7 * i)) & 0x7f) as u8 };
        let mut max = 0u8;
        allreduce_max_bytes(comm, std::slice::from_mut(&mut mine), std::slice::from_mut(&mut max), 1, "first failing rank")?;
        behind |= mine != max;
        best = (best << 7) | u64::from(max);
    }
    let mut mine = if key == best { status } else { 0 };
    let mut winner = 0u8;
    allreduce_max_bytes(comm, std::slice::from_mut(&mut mine), std::slice::from_mut(&mut winner), 1, "first failing status")?;
    Ok(((size - best) as usize, winner))
}

/// Step 1 of a rooted collective on `comm` (`nranks` ranks): validates that
/// the object (`poison`) is usable, the root, the limit and `extra`, and
/// agrees on the outcome, the root, the resolved limit and `values`, in one
/// agreement. Returns the resolved limit.
pub(crate) fn open(
    comm: MPI_Comm,
    poison: Option<&Poison>,
    root: i32,
    nranks: usize,
    limit: usize,
    values: &[(&str, u64)],
    extra: impl FnOnce() -> Result<()>,
) -> Result<usize> {
    let values: Vec<(&str, Option<u64>)> = values.iter().map(|&(n, v)| (n, Some(v))).collect();
    open_record(comm, poison, root, nranks, limit, &values, &mut [], extra)
}

/// [`open`] with values a rank may leave open and bytes reduced with MAX
/// (flags, the root's header; see [`agree_record`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_record(
    comm: MPI_Comm,
    poison: Option<&Poison>,
    root: i32,
    nranks: usize,
    limit: usize,
    values: &[(&str, Option<u64>)],
    max_bytes: &mut [u8],
    extra: impl FnOnce() -> Result<()>,
) -> Result<usize> {
    let checked = (|| {
        poison.map_or(Ok(()), |p| p.check("distributor"))?;
        check_peer(root, nranks as i32, "root")?;
        let limit = resolve_limit(limit)?;
        extra()?;
        Ok(limit)
    })();
    let resolved = *checked.as_ref().unwrap_or(&1);
    let mut all = vec![("the root", Some(root as u64)), ("the message limit", Some(resolved as u64))];
    all.extend_from_slice(values);
    agree_record(comm, checked.clone().map(|_| ()), false, resolved, &all, max_bytes)?;
    checked
}

/// Joins the opening agreement of a collective on `comm` with an error this
/// rank found before it could call the collective (malformed arguments in
/// a binding), so the other ranks fail with `RemoteError` instead of
/// waiting. Returns `e`.
pub(crate) fn join_with_error(comm: MPI_Comm, e: Error) -> Error {
    let _ = agree(comm, Err(e.clone()));
    e
}

/// [`join_with_error`] for a collective that starts by duplicating `comm`
/// (FFT plan creation): duplicates it too, then joins the agreement on the
/// duplicate.
pub(crate) fn join_after_dup(comm: MPI_Comm, e: Error) -> Error {
    match OwnedComm::dup(comm) {
        Ok(dup) => join_with_error(dup.raw(), e),
        Err(_) => e,
    }
}

// ---------------------------------------------------------------- step 2: header

/// Fixed-size header describing an array: dtype, ndim, limit, flags, shape.
pub(crate) const HEADER_WORDS: usize = 4 + MAX_NDIM;

/// Description of an array that travels ahead of its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArrayHeader {
    /// Element type.
    pub dtype: DType,
    /// Full shape (axis 0 = rows).
    pub shape: Vec<usize>,
    /// The sender's resolved limit, used for the body's chunk schedule.
    pub limit: usize,
    /// Bit flags a collective attaches (e.g. "the root's array is strided").
    pub flags: u64,
}

impl ArrayHeader {
    /// Header of `a` with the given limit and no flags.
    pub fn of(a: &RawArray, limit: usize) -> ArrayHeader {
        ArrayHeader { dtype: a.dtype(), shape: a.shape().to_vec(), limit, flags: 0 }
    }

    /// Bytes in one row (axis-0 slice).
    pub fn row_bytes(&self) -> usize {
        self.shape[1..].iter().product::<usize>() * self.dtype.size()
    }

    /// Encodes the header as fixed-size words.
    pub(crate) fn encode(&self) -> [u64; HEADER_WORDS] {
        let mut h = [0u64; HEADER_WORDS];
        h[0] = self.dtype as i32 as u64;
        h[1] = self.shape.len() as u64;
        h[2] = self.limit as u64;
        h[3] = self.flags;
        for (k, n) in self.shape.iter().enumerate() {
            h[4 + k] = *n as u64;
        }
        h
    }

    /// Decodes words written by [`ArrayHeader::encode`].
    pub(crate) fn decode(h: &[u64; HEADER_WORDS]) -> Result<ArrayHeader> {
        let dtype = DType::from_code(h[0] as i32)?;
        let ndim = h[1] as usize;
        if ndim == 0 || ndim > MAX_NDIM {
            return Err(Error::invalid(format!("array header has ndim {ndim}")));
        }
        Ok(ArrayHeader { dtype, shape: h[4..4 + ndim].iter().map(|&n| n as usize).collect(), limit: h[2] as usize, flags: h[3] })
    }

    /// Encodes the header as bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.encode().iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    /// Decodes the first `HEADER_WORDS * 8` bytes of `bytes`.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<ArrayHeader> {
        if bytes.len() < HEADER_WORDS * 8 {
            return Err(Error::mismatch(format!("an array header needs {} bytes, got {}", HEADER_WORDS * 8, bytes.len())));
        }
        let mut words = [0u64; HEADER_WORDS];
        for (w, b) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *w = u64::from_ne_bytes(b.try_into().expect("8 bytes"));
        }
        ArrayHeader::decode(&words)
    }
}

/// The fingerprint of an element type and a row shape (or a whole shape),
/// agreed by the ranks of a collective whose buffers must have the same
/// rows everywhere.
pub(crate) fn rows_fingerprint(dtype: DType, row_shape: &[usize]) -> u64 {
    fingerprint(std::iter::once(dtype as usize).chain([row_shape.len()]).chain(row_shape.iter().copied()))
}

/// Flags in the first MAX byte of an opening ([`agree_record`]): a
/// collective raises one kind only (MAX over ranks is their OR only for a
/// single value). Some rank's buffer is strided.
pub(crate) const FLAG_STRIDED: u8 = 1;
/// Some rank allocates its output from the root's header: every rank then
/// joins a confirmation after the opening.
pub(crate) const FLAG_ALLOCATES: u8 = 2;

/// The MAX bytes of an opening that shares the root's header: the flag byte,
/// then the root's header (zeros on the other ranks).
pub(crate) fn header_tail(flags: u8, root_header: Option<&ArrayHeader>) -> Vec<u8> {
    let mut tail = vec![0u8; 1 + HEADER_WORDS * 8];
    tail[0] = flags;
    if let Some(h) = root_header {
        tail[1..].copy_from_slice(&h.to_bytes());
    }
    tail
}

/// The root's header out of an agreed [`header_tail`].
pub(crate) fn tail_header(tail: &[u8]) -> Result<ArrayHeader> {
    ArrayHeader::from_bytes(&tail[1..])
}

/// A shape with `rows` rows of `row_shape`.
pub(crate) fn with_rows(rows: usize, row_shape: &[usize]) -> Vec<usize> {
    std::iter::once(rows).chain(row_shape.iter().copied()).collect()
}

/// Storage a receiving rank allocates for the header it learned.
pub(crate) type Allocator<'a> = &'a mut dyn FnMut(&ArrayHeader) -> Result<RawArray>;

/// Where a receiving operation writes: a caller array or fresh storage.
pub(crate) enum Destination<'a> {
    /// The caller's array, which must have exactly the expected dtype and shape.
    Into(&'a RawArray),
    /// Storage the callback allocates for the expected header.
    Alloc(Allocator<'a>),
}

impl Destination<'_> {
    /// The array to write into, checked against (or allocated for) `expected`.
    pub fn resolve(&mut self, expected: &ArrayHeader, what: &str) -> Result<RawArray> {
        match self {
            Destination::Into(a) => {
                crate::primitives::check_output(a, what)?;
                if a.dtype() != expected.dtype || a.shape() != expected.shape.as_slice() {
                    return Err(Error::mismatch(format!(
                        "{what} needs a {:?} {} array but the buffer given is {:?} {}",
                        expected.shape, expected.dtype.name(), a.shape(), a.dtype().name()
                    )));
                }
                Ok((*a).clone())
            }
            Destination::Alloc(alloc) => alloc(expected),
        }
    }
}

/// Broadcasts a small fixed-size buffer in pieces of at most `limit` bytes.
fn bcast_small(comm: MPI_Comm, root: i32, bytes: &mut [u8], limit: usize) -> Result<()> {
    for piece in bytes.chunks_mut(limit) {
        let count = to_int(piece.len(), "header piece")?;
        check_mpi(
            // SAFETY: piece is a valid, writable byte range.
            unsafe { mpi::ffi::MPI_Bcast(piece.as_mut_ptr() as *mut c_void, count, byte_type(), root, comm) },
            "MPI_Bcast (header)",
        )?;
    }
    Ok(())
}

/// Broadcasts the root's header (`mine`, read on the root only); every rank
/// returns the root's header.
///
/// The pieces are cut at `limit` (capped at 255 bytes), which callers have
/// already agreed on in their opening agreement, so the broadcast calls line
/// up on every rank.
pub(crate) fn bcast_header(comm: MPI_Comm, root: i32, mine: Option<&ArrayHeader>, limit: usize) -> Result<ArrayHeader> {
    let mut words = mine.map(ArrayHeader::encode).unwrap_or([0u64; HEADER_WORDS]);
    // SAFETY: viewing the u64 array as bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, HEADER_WORDS * 8) };
    bcast_small(comm, root, bytes, limit.clamp(1, 255))?;
    ArrayHeader::decode(&words)
}

/// The root's header, shared with every rank ([`bcast_header`]).
pub(crate) fn share_header(comm: MPI_Comm, root: i32, mine: Option<ArrayHeader>, limit: usize) -> Result<ArrayHeader> {
    bcast_header(comm, root, mine.as_ref(), limit)
}

// ---------------------------------------------------------------- step 3: confirmation

/// Step 3: every rank's verdict on its buffers against the shared header
/// (`local`), agreed; returns whether any rank raised `flag`.
pub(crate) fn confirm(comm: MPI_Comm, local: Result<()>, flag: bool) -> Result<bool> {
    agree_flag(comm, local, flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytewise MAX of `records` as an MPI library computes it, comparing
    /// bytes as signed (`signed`, Debian's MPICH 4.0) or unsigned.
    fn reduce(records: &[Vec<u8>], signed: bool) -> Vec<u8> {
        (0..records[0].len())
            .map(|i| records.iter().map(|r| r[i]).max_by_key(|&b| if signed { b as i8 as i16 } else { b as i16 }).unwrap())
            .collect()
    }

    #[test]
    fn spread_records_reduce_the_same_whether_bytes_compare_signed_or_not() {
        let header = ArrayHeader { dtype: DType::Complex128, shape: vec![561, 200, 0x80], limit: 0xff_ff, flags: 1 };
        let value = |v: u64| v.to_be_bytes().into_iter().chain((!v).to_be_bytes()).collect::<Vec<u8>>();
        // The root gives its header, every rank the same value, one rank a flag.
        let root: Vec<u8> = value(0xdead_beef_8080).into_iter().chain([0]).chain(header.to_bytes()).collect();
        let other: Vec<u8> = value(0xdead_beef_8080).into_iter().chain([1]).chain(vec![0; HEADER_WORDS * 8]).collect();
        let spread_all = [spread(&root), spread(&other)];
        assert!(spread_all.iter().flatten().all(|&b| b < 0x80));
        for signed in [false, true] {
            let got = join(&reduce(&spread_all, signed));
            assert_eq!(&got[..16], &value(0xdead_beef_8080)[..], "signed {signed}");
            assert_eq!(got[16], 1, "the flag is the OR");
            assert_eq!(ArrayHeader::from_bytes(&got[17..]).unwrap(), header, "the root's header, exactly");
        }
        // Two different values: the maximum and the minimum (from the
        // complement) differ, whatever the comparison.
        for (a, b) in [(3u64, 20u64), (0x80, 0x7f), (u64::MAX, 0), (1 << 40, 1 << 41)] {
            for signed in [false, true] {
                let got = join(&reduce(&[spread(&value(a)), spread(&value(b))], signed));
                let max = u64::from_be_bytes(got[..8].try_into().unwrap());
                let min = !u64::from_be_bytes(got[8..].try_into().unwrap());
                assert_ne!(max, min, "{a} vs {b}, signed {signed}");
            }
        }
    }
}
