//! The row-movement engine: moves rows (axis-0 slices) from one ownership to
//! another. A [`RowPlan`] is computed on every rank from information all ranks
//! already have (no index exchange) and executed any number of times.
//!
//! Planning: every destination row names the global source row it copies.
//! Each rank lists, per peer, the distinct local source rows that peer needs
//! (in first-use order) and, per peer, the destination rows each received row
//! fills. Sender and receiver derive the same order independently, so a row
//! crosses the network at most once per destination rank and is replicated
//! locally when it feeds several destination rows.
//!
//! Execution: the rows for one peer form a byte stream cut into chunks of at
//! most `limit` bytes; in each step every rank posts, per peer and direction,
//! chunks worth up to `window / (2 * ranks)` bytes (at least one; nonblocking,
//! one tag on the given communicator, order preserved by MPI's non-overtaking
//! rule), its receives before its sends, with the peers in an order rotated
//! by rank (sends to `rank + k`, receives from `rank - k`, k = 1, 2, ...), and
//! waits. Sender and receiver group chunks into steps the same way.
//! When a stream's runs of rows consecutive at both ends are long (64 KiB on
//! average), chunks are cut at the runs too, so every chunk travels in place.
//! Otherwise consecutive source rows are sent in place; received rows go
//! straight into the destination when their first destination rows are
//! consecutive, and through a staging arena otherwise; the arenas are sized
//! once per step and reused by every step (and across executions through a
//! `Scratch`), so staging memory is bounded by the window.
//!
//! A `Side` may show each peer a different column window of a 2-D array:
//! the FFT's batch transpose moves, for every q, each rank's slice of the batch.

use crate::buffer::{ArrayMut, ArrayRef, RawArray};
use crate::bounds::{Chunk, RowChunks};
use crate::comm::{check_mpi, to_int};
use crate::error::{Error, Result};
use crate::failure::abort_stranded;
use crate::layout::BlockLayout;
use crate::requests::InFlight;
use mpi::ffi::{MPI_Comm, MPI_Request};
use mpi::raw::AsRaw;
use std::collections::HashMap;
use std::os::raw::c_void;

/// Bytes of staging the engine may hold in flight per execution (64 MiB).
pub const WINDOW_BYTES: usize = 64 << 20;

/// The tag every engine message uses (order is kept per peer by MPI). Callers
/// run the engine on a communicator that carries no other traffic (the
/// private duplicate of a distributor or plan), so it never meets user tags.
pub const ENGINE_TAG: i32 = 7;

/// The rows one rank exchanges with one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PeerRows {
    /// Local source rows to send, in wire order.
    send: Vec<usize>,
    /// For received row `k` (wire order), its destination rows are
    /// `targets[starts[k]..starts[k + 1]]`.
    starts: Vec<usize>,
    targets: Vec<usize>,
    /// Lengths (in rows, wire order) of the runs of the send stream that are
    /// consecutive both here and at the peer; the peer's `recv_segments` for
    /// this rank are the same. None: unknown (cut by size only).
    send_segments: Option<Vec<usize>>,
    /// The same for the receive stream.
    recv_segments: Option<Vec<usize>>,
}

/// Lengths of the maximal runs over which both `a` and `b` grow by one.
fn runs_of(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    for k in 0..a.len() {
        if k > 0 && a[k] == a[k - 1] + 1 && b[k] == b[k - 1] + 1 {
            *out.last_mut().expect("a run is open") += 1;
        } else {
            out.push(1);
        }
    }
    out
}

impl PeerRows {
    fn nrecv(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }
    fn targets_of(&self, k: usize) -> &[usize] {
        &self.targets[self.starts[k]..self.starts[k + 1]]
    }
}

/// One side (source or destination) of an execution: an array whose rows the
/// plan indexes. Every peer sees the whole rows, or, with `columns`, the
/// 2-D array is split along axis 1 and peer `p` sees columns
/// `columns.range(p)` (how the FFT's batch transpose moves part of each row).
#[derive(Clone, Copy)]
pub(crate) struct Side<'a> {
    /// The local array (2-D when `columns` is given).
    pub array: &'a RawArray,
    /// The split of axis 1 over peers, if any.
    pub columns: Option<&'a BlockLayout>,
}

impl<'a> Side<'a> {
    /// Whole rows for every peer.
    pub fn whole(array: &'a RawArray) -> Side<'a> {
        Side { array, columns: None }
    }

    /// The rows peer `p` exchanges with this side.
    fn view(&self, p: usize) -> RawArray {
        match self.columns {
            None => self.array.clone(),
            Some(split) => self.array.columns(split.range(p)),
        }
    }
}

/// Staging memory an execution reuses, so that a long-lived caller (an FFT
/// plan) keeps it across executions instead of allocating it every time.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    send_arena: Vec<u8>,
    recv_arena: Vec<u8>,
    /// One step's messages: (stream, chunk, where) per send and receive, and their requests.
    sends: Vec<(usize, Chunk, Place<*const u8>)>,
    recvs: Vec<(usize, Chunk, Place<*mut u8>)>,
    requests: Vec<MPI_Request>,
}

/// A reusable plan moving rows between two ownerships of the same ranks.
#[derive(Clone, Debug)]
pub struct RowPlan {
    rank: usize,
    nsrc: usize,
    ndst: usize,
    peers: Vec<PeerRows>,
}

impl RowPlan {
    /// Builds this rank's plan.
    ///
    /// - `nranks`, `rank`: the communicator the plan will run on;
    /// - `nsrc`, `ndst`: this rank's numbers of source and destination rows;
    /// - `needs(p)`: for each destination row of rank `p`, in local order, the
    ///   global source row it copies (called once for every rank);
    /// - `src_owner(g)`: the rank holding global source row `g` and its local index.
    ///
    /// Cost: one pass over every rank's destination rows plus O(ranks).
    pub fn build<I, N, O>(nranks: usize, rank: usize, nsrc: usize, ndst: usize, needs: N, src_owner: O) -> Result<RowPlan>
    where
        I: IntoIterator<Item = usize>,
        N: Fn(usize) -> I,
        O: Fn(usize) -> Result<(usize, usize)>,
    {
        let mut peers = vec![PeerRows::default(); nranks];
        // Receive side: my destination rows grouped by the rank owning their
        // source, and that rank's local index of each distinct source row.
        let mut slot: HashMap<usize, usize> = HashMap::new();
        let mut by_peer: Vec<Vec<Vec<usize>>> = vec![Vec::new(); nranks];
        let mut src_locals: Vec<Vec<usize>> = vec![Vec::new(); nranks];
        let mut count = 0;
        for (d, g) in needs(rank).into_iter().enumerate() {
            let (owner, local) = src_owner(g)?;
            if owner == rank && local >= nsrc {
                return Err(Error::out_of_range(format!("source row {g} maps to local row {local} of {nsrc}")));
            }
            let lists = &mut by_peer[owner];
            let k = *slot.entry(g).or_insert_with(|| {
                lists.push(Vec::new());
                src_locals[owner].push(local);
                lists.len() - 1
            });
            lists[k].push(d);
            count += 1;
        }
        if count != ndst {
            return Err(Error::mismatch(format!("the plan names {count} destination rows but this rank holds {ndst}")));
        }
        for (p, lists) in by_peer.into_iter().enumerate() {
            let peer = &mut peers[p];
            peer.starts.push(0);
            let mut firsts = Vec::with_capacity(lists.len());
            for targets in lists {
                firsts.push(targets[0]);
                peer.targets.extend(targets);
                peer.starts.push(peer.targets.len());
            }
            peer.recv_segments = Some(runs_of(&src_locals[p], &firsts));
        }
        // Send side: for each peer, my distinct source rows it needs, first
        // use first, and the first destination row each one fills there.
        let mut mark = vec![usize::MAX; nsrc];
        for (p, peer) in peers.iter_mut().enumerate() {
            let mut firsts = Vec::new();
            for (d, g) in needs(p).into_iter().enumerate() {
                let (owner, local) = src_owner(g)?;
                if owner == rank && mark[local] != p {
                    mark[local] = p;
                    peer.send.push(local);
                    firsts.push(d);
                }
            }
            peer.send_segments = Some(runs_of(&peer.send, &firsts));
        }
        Ok(RowPlan { rank, nsrc, ndst, peers })
    }

    /// Builds a plan from explicit per-peer lists, for movements whose lists
    /// are known in closed form: `send[p]` are the local source rows sent to
    /// rank `p` in wire order, `recv[p]` the destination row of each row
    /// received from `p` (one each, no replication). Sender and receiver
    /// lists must agree across ranks; the caller guarantees it. With
    /// `row_segments` every row is its own run (for sides whose rows are
    /// contiguous but not adjacent, such as column windows), so wide rows
    /// travel in place; otherwise the streams are cut by size only.
    pub fn from_lists(rank: usize, nsrc: usize, ndst: usize, send: Vec<Vec<usize>>, recv: Vec<Vec<usize>>, row_segments: bool) -> Result<RowPlan> {
        if send.len() != recv.len() || rank >= send.len() {
            return Err(Error::invalid("one send and one receive list per rank are needed"));
        }
        if send.iter().flatten().any(|&s| s >= nsrc) || recv.iter().flatten().any(|&d| d >= ndst) {
            return Err(Error::out_of_range(format!("a listed row is outside the {nsrc} source / {ndst} destination rows")));
        }
        if send[rank].len() != recv[rank].len() {
            return Err(Error::mismatch("the rows this rank sends itself and receives from itself differ in number"));
        }
        let peers = send
            .into_iter()
            .zip(recv)
            .map(|(send, targets)| PeerRows {
                send_segments: row_segments.then(|| vec![1; send.len()]),
                recv_segments: row_segments.then(|| vec![1; targets.len()]),
                starts: (0..=targets.len()).collect(),
                send,
                targets,
            })
            .collect();
        Ok(RowPlan { rank, nsrc, ndst, peers })
    }

    /// True when the plan moves nothing between ranks and copies every local
    /// source row to the same destination row (the two ownerships coincide).
    pub fn is_identity(&self) -> bool {
        let mine = &self.peers[self.rank];
        self.rows_sent() == 0
            && self.rows_received() == 0
            && self.nsrc == self.ndst
            && mine.send.len() == self.nsrc
            && mine.targets.len() == self.ndst
            && mine.send.iter().enumerate().all(|(k, &s)| s == k && mine.targets_of(k) == [k])
    }

    /// Rows this rank sends to other ranks (self excluded).
    pub fn rows_sent(&self) -> usize {
        self.peers.iter().enumerate().filter(|(p, _)| *p != self.rank).map(|(_, r)| r.send.len()).sum()
    }

    /// Rows this rank receives from other ranks (self excluded).
    pub fn rows_received(&self) -> usize {
        self.peers.iter().enumerate().filter(|(p, _)| *p != self.rank).map(|(_, r)| r.nrecv()).sum()
    }

    /// Local source rows the plan expects.
    pub fn nsrc(&self) -> usize {
        self.nsrc
    }

    /// Local destination rows the plan fills.
    pub fn ndst(&self) -> usize {
        self.ndst
    }

    /// Checks `src` and `dst` against the plan (local check only).
    pub(crate) fn check_buffers(&self, src: &RawArray, dst: &RawArray) -> Result<()> {
        if src.nrows() != self.nsrc || dst.nrows() != self.ndst {
            return Err(Error::mismatch(format!(
                "the plan moves {} source rows into {} destination rows but the arrays have {} and {}",
                self.nsrc,
                self.ndst,
                src.nrows(),
                dst.nrows()
            )));
        }
        if src.dtype() != dst.dtype() || src.row_shape() != dst.row_shape() {
            return Err(Error::mismatch(format!(
                "source rows are {:?} {} but destination rows are {:?} {}",
                src.row_shape(),
                src.dtype().name(),
                dst.row_shape(),
                dst.dtype().name()
            )));
        }
        Ok(())
    }

    /// Moves the rows of `src` into `dst` (collective over `comm`, whose ranks
    /// the plan was built for, in the same order). `src` must have the
    /// plan's source rows and `dst` its destination rows, of the same dtype
    /// and row shape, and rows must have the same size on every rank; `dst`
    /// must not overlap `src`. This call checks only the local buffers: it
    /// runs no agreement, so ranks whose arguments differ see an MPI error
    /// (or wait); the library's own collectives agree before they execute.
    /// Messages stay at or below `limit` bytes (0: the process limit).
    pub fn execute<C: AsRaw<Raw = MPI_Comm>>(&self, comm: &C, src: ArrayRef<'_>, dst: ArrayMut<'_>, limit: usize) -> Result<()> {
        let limit = crate::limit::resolve_limit(limit)?;
        crate::primitives::check_disjoint(src.raw(), dst.raw(), None, "the destination", "the source")?;
        crate::primitives::check_output(dst.raw(), "the destination")?;
        self.run(comm.as_raw(), src.raw(), dst.raw(), limit)
    }

    /// [`RowPlan::execute`] on descriptors the caller vouches for, with a
    /// resolved limit (callers agree on buffers and limit beforehand).
    pub(crate) fn run(&self, comm: MPI_Comm, src: &RawArray, dst: &RawArray, limit: usize) -> Result<()> {
        self.check_buffers(src, dst)?;
        self.execute_with(comm, Side::whole(src), Side::whole(dst), limit, &mut Scratch::default())
    }

    /// Moves the rows between two sides, staging through `scratch`. The row
    /// counts must match the plan, and the row type a rank's source shows
    /// peer `p` must be the one `p`'s destination shows this rank (callers
    /// agree on that beforehand; only the row counts are checked here).
    pub(crate) fn execute_with(&self, comm: MPI_Comm, src: Side, dst: Side, limit: usize, scratch: &mut Scratch) -> Result<()> {
        if src.array.nrows() != self.nsrc || dst.array.nrows() != self.ndst {
            return Err(Error::mismatch(format!(
                "the plan moves {} source rows into {} destination rows but the arrays have {} and {}",
                self.nsrc,
                self.ndst,
                src.array.nrows(),
                dst.array.nrows()
            )));
        }
        let budget = (WINDOW_BYTES / (2 * self.peers.len())).max(1);
        let chunk = limit.min(budget);
        let mut streams: Vec<Stream> = Vec::new();
        for (p, rows) in self.peers.iter().enumerate() {
            if p != self.rank {
                streams.push(Stream::new(p, rows, src.view(p), dst.view(p), chunk)?);
            }
        }
        self.exchange(comm, &mut streams, budget, scratch)?;
        self.copy_local(&src.view(self.rank), &dst.view(self.rank))?;
        for s in &streams {
            replicate(&self.peers[s.peer], &s.dst)?;
        }
        Ok(())
    }

    /// Copies rows this rank sends to itself.
    fn copy_local(&self, src: &RawArray, dst: &RawArray) -> Result<()> {
        let mine = &self.peers[self.rank];
        if src.row_bytes() == 0 {
            return Ok(());
        }
        let copy = RowCopier::new(src, dst);
        // Receive and send orders agree, so slot k is source row mine.send[k].
        for (k, &s) in mine.send.iter().enumerate() {
            for &d in mine.targets_of(k) {
                copy.row(s, d)?;
            }
        }
        Ok(())
    }

    /// Runs the chunked nonblocking exchange, `budget` bytes per peer and direction per step.
    fn exchange(&self, comm: MPI_Comm, streams: &mut [Stream], budget: usize, scratch: &mut Scratch) -> Result<()> {
        // Staging for chunks that cannot go in place, reused by every step.
        let Scratch { send_arena, recv_arena, sends, recvs, requests } = scratch;
        // `streams` holds every peer but this rank, in rank order.
        let npeers = self.peers.len();
        let stream_of = |peer: usize| if peer < self.rank { peer } else { peer - 1 };
        loop {
            // Choose this step's chunks: up to `budget` bytes (at least one chunk)
            // per peer and direction, each in place or at an offset in an arena.
            sends.clear();
            recvs.clear();
            requests.clear();
            let (mut send_staged, mut recv_staged) = (0, 0);
            // Peers in an order rotated by rank, so that no rank is every
            // rank's first peer: sends to rank + k, receives from rank - k.
            for k in 1..npeers {
                let i = stream_of((self.rank + k) % npeers);
                let s = &mut streams[i];
                let rows = &self.peers[s.peer];
                let mut sent = 0;
                while sent < budget {
                    let Some(c) = s.send_plan.take_next()? else { break };
                    sent += c.byte_len.max(1);
                    let place = Place::new(send_in_place(&s.src, &rows.send, &c), &mut send_staged, c.byte_len);
                    sends.push((i, c, place));
                }
                let i = stream_of((self.rank + npeers - k) % npeers);
                let s = &mut streams[i];
                let rows = &self.peers[s.peer];
                let mut received = 0;
                while received < budget {
                    let Some(c) = s.recv_plan.take_next()? else { break };
                    received += c.byte_len.max(1);
                    let place = Place::new(recv_target(&s.dst, rows, &c), &mut recv_staged, c.byte_len);
                    recvs.push((i, c, place));
                }
            }
            if sends.is_empty() && recvs.is_empty() {
                return Ok(());
            }
            // Size the arenas before any request points into them.
            if send_arena.len() < send_staged {
                send_arena.resize(send_staged, 0);
            }
            if recv_arena.len() < recv_staged {
                recv_arena.resize(recv_staged, 0);
            }
            // Every request joins `in_flight` as it is posted: an error or a
            // panic from here on waits for the posted ones before returning.
            let mut in_flight = InFlight::new(requests);
            // Receives first, so that arriving messages find their buffer
            // instead of the unexpected-message queue.
            for (i, c, place) in recvs.iter() {
                let ptr = match *place {
                    Place::InPlace(p) => p,
                    Place::Staged(at) => recv_arena[at..].as_mut_ptr(),
                };
                let posted = in_flight.post(|req| irecv(comm, ptr, c.byte_len, streams[*i].peer, req));
                posted.unwrap_or_else(|e| abort_stranded(comm, &e));
            }
            for (i, c, place) in sends.iter() {
                let s = &streams[*i];
                let ptr = match *place {
                    Place::InPlace(p) => p,
                    Place::Staged(at) => {
                        let buf = &mut send_arena[at..at + c.byte_len];
                        pack_chunk(&s.src, &self.peers[s.peer].send, c, buf);
                        buf.as_ptr()
                    }
                };
                let posted = in_flight.post(|req| isend(comm, ptr, c.byte_len, s.peer, req));
                posted.unwrap_or_else(|e| abort_stranded(comm, &e));
            }
            in_flight.wait_all("MPI_Waitall (row exchange)")?;
            drop(in_flight);
            for (i, c, place) in recvs.iter() {
                if let Place::Staged(at) = *place {
                    let s = &streams[*i];
                    unpack_received(&s.dst, &self.peers[s.peer], c, &recv_arena[at..at + c.byte_len]);
                }
            }
        }
    }
}

/// Fills the extra destination rows of every row received from a peer from its first one.
fn replicate(rows: &PeerRows, dst: &RawArray) -> Result<()> {
    if dst.row_bytes() == 0 {
        return Ok(());
    }
    let copy = RowCopier::new(dst, dst);
    for k in 0..rows.nrecv() {
        let targets = rows.targets_of(k);
        for &d in &targets[1..] {
            copy.row(targets[0], d)?;
        }
    }
    Ok(())
}

/// Where a chunk's bytes are sent from or received into.
#[derive(Clone, Copy, Debug)]
enum Place<P> {
    /// Straight from / into the array.
    InPlace(P),
    /// At this offset of the step's staging arena.
    Staged(usize),
}

impl<P> Place<P> {
    /// In place when possible, else the next `len` bytes of the arena (`staged` grows).
    fn new(in_place: Option<P>, staged: &mut usize, len: usize) -> Place<P> {
        match in_place {
            Some(p) => Place::InPlace(p),
            None => {
                *staged += len;
                Place::Staged(*staged - len)
            }
        }
    }
}

/// A side's first row and its row stride in bytes.
type RowStart<P> = (P, isize);

/// Copies single rows between two arrays of the same row type: a plain
/// memcpy when each row of both is one contiguous run (contiguous arrays,
/// column windows), else through the strided views.
struct RowCopier<'a> {
    src: &'a RawArray,
    dst: &'a RawArray,
    row_bytes: usize,
    /// First row and row stride of each side, when rows are contiguous runs.
    direct: Option<(RowStart<*const u8>, RowStart<*mut u8>)>,
}

impl<'a> RowCopier<'a> {
    fn new(src: &'a RawArray, dst: &'a RawArray) -> RowCopier<'a> {
        let direct = match (src.row_ptr(0), dst.row_ptr(0)) {
            (Some(s), Some(d)) => Some(((s as *const u8, src.row_stride()), (d, dst.row_stride()))),
            _ => None,
        };
        RowCopier { src, dst, row_bytes: src.row_bytes(), direct }
    }

    /// Copies source row `s` into destination row `d`.
    fn row(&self, s: usize, d: usize) -> Result<()> {
        if s >= self.src.nrows() || d >= self.dst.nrows() {
            return Err(Error::out_of_range(format!("row {s} or {d} is outside its array")));
        }
        match self.direct {
            Some(((from, from_stride), (to, to_stride))) => {
                // SAFETY: both rows lie inside their arrays (checked above) and
                // are contiguous runs of row_bytes; rows s and d of one array
                // are distinct when replicating, so the spans do not overlap.
                unsafe { std::ptr::copy(from.offset(s as isize * from_stride), to.offset(d as isize * to_stride), self.row_bytes) };
                Ok(())
            }
            None => self.dst.rows(d, d + 1).copy_from(&self.src.rows(s, s + 1), 1 << 20),
        }
    }
}

/// Smallest average run (bytes) for which a stream is cut at its runs.
const RUN_MIN_BYTES: usize = 64 << 10;

/// The messages of one stream, produced in order without a list: its rows
/// cut by size, or, when its runs of consecutive rows (consecutive at both
/// ends) average at least `RUN_MIN_BYTES`, each run cut by size, so that no
/// message crosses a run and every message travels in place at both ends.
/// Both ends derive the same messages from the same runs.
struct Schedule<'a> {
    row_bytes: usize,
    chunk: usize,
    /// The runs, when cutting at them (None: one run of every row).
    runs: Option<&'a [usize]>,
    /// Index of the current run and its first row.
    run: usize,
    first: usize,
    /// The current run's chunks and the next one to hand out.
    part: RowChunks,
    next: usize,
}

impl<'a> Schedule<'a> {
    fn new(nrows: usize, row_bytes: usize, chunk: usize, runs: Option<&'a [usize]>) -> Result<Schedule<'a>> {
        let plain = RowChunks::new(nrows, row_bytes, chunk)?;
        let runs = runs.filter(|r| !r.is_empty() && plain.total_bytes() / r.len() >= RUN_MIN_BYTES);
        let part = match runs {
            Some(r) => RowChunks::new(r[0], row_bytes, chunk)?,
            None => plain,
        };
        Ok(Schedule { row_bytes, chunk, runs, run: 0, first: 0, part, next: 0 })
    }

    /// The next message, or None at the end of the stream.
    fn take_next(&mut self) -> Result<Option<Chunk>> {
        while self.next == self.part.count() {
            let Some(runs) = self.runs.filter(|r| self.run + 1 < r.len()) else { return Ok(None) };
            self.first += runs[self.run];
            self.run += 1;
            self.part = RowChunks::new(runs[self.run], self.row_bytes, self.chunk)?;
            self.next = 0;
        }
        let c = self.part.get(self.next);
        self.next += 1;
        Ok(Some(Chunk {
            row_start: c.row_start + self.first,
            row_stop: c.row_stop + self.first,
            byte_offset: c.byte_offset + self.first * self.row_bytes,
            byte_len: c.byte_len,
        }))
    }

    /// True when cutting at runs.
    #[cfg(test)]
    fn at_runs(&self) -> bool {
        self.runs.is_some()
    }
}

/// One peer's send and receive streams, and the views of the source and
/// destination that peer exchanges with.
struct Stream<'a> {
    peer: usize,
    src: RawArray,
    dst: RawArray,
    send_plan: Schedule<'a>,
    recv_plan: Schedule<'a>,
}

impl<'a> Stream<'a> {
    fn new(peer: usize, rows: &'a PeerRows, src: RawArray, dst: RawArray, chunk: usize) -> Result<Stream<'a>> {
        Ok(Stream {
            peer,
            send_plan: Schedule::new(rows.send.len(), src.row_bytes(), chunk, rows.send_segments.as_deref())?,
            recv_plan: Schedule::new(rows.nrecv(), dst.row_bytes(), chunk, rows.recv_segments.as_deref())?,
            src,
            dst,
        })
    }
}

/// Calls `f(list_row, byte_within_row, len, stream_offset)` for each row piece of chunk `c`.
fn for_each_piece(row_bytes: usize, c: &Chunk, mut f: impl FnMut(usize, usize, usize, usize)) {
    let mut pos = c.byte_offset;
    let end = c.byte_offset + c.byte_len;
    while pos < end {
        let (k, within) = (pos / row_bytes, pos % row_bytes);
        let n = (row_bytes - within).min(end - pos);
        f(k, within, n, pos - c.byte_offset);
        pos += n;
    }
}

/// True when the rows are consecutive (each one more than the previous).
fn consecutive(rows: impl Iterator<Item = usize>) -> bool {
    let mut prev: Option<usize> = None;
    for r in rows {
        if prev.is_some_and(|p| r != p + 1) {
            return false;
        }
        prev = Some(r);
    }
    true
}

/// The chunk's bytes in place, when its source rows are consecutive in a contiguous array.
fn send_in_place(src: &RawArray, rows: &[usize], c: &Chunk) -> Option<*const u8> {
    let row_bytes = src.row_bytes();
    let (k0, k1) = (c.byte_offset / row_bytes, (c.byte_offset + c.byte_len - 1) / row_bytes);
    if k0 == k1 {
        if let Some(p) = src.row_ptr(rows[k0]) {
            // SAFETY: the chunk lies inside this one row.
            return Some(unsafe { p.add(c.byte_offset % row_bytes) } as *const u8);
        }
    }
    if consecutive(rows[k0..=k1].iter().copied()) {
        return src.contiguous_ptr(rows[k0] * row_bytes + c.byte_offset % row_bytes).map(|p| p as *const u8);
    }
    None
}

/// Gathers the chunk's bytes from its source rows into `buf`.
fn pack_chunk(src: &RawArray, rows: &[usize], c: &Chunk, buf: &mut [u8]) {
    let row_bytes = src.row_bytes();
    for_each_piece(row_bytes, c, |k, within, n, at| src.pack(rows[k] * row_bytes + within, &mut buf[at..at + n]));
}

/// Where to receive the chunk in place (first destination rows consecutive), if possible.
fn recv_target(dst: &RawArray, rows: &PeerRows, c: &Chunk) -> Option<*mut u8> {
    let row_bytes = dst.row_bytes();
    let (k0, k1) = (c.byte_offset / row_bytes, (c.byte_offset + c.byte_len - 1) / row_bytes);
    if k0 == k1 {
        if let Some(p) = dst.row_ptr(rows.targets_of(k0)[0]) {
            // SAFETY: the chunk lies inside this one row.
            return Some(unsafe { p.add(c.byte_offset % row_bytes) });
        }
    }
    if consecutive((k0..=k1).map(|k| rows.targets_of(k)[0])) {
        return dst.contiguous_ptr(rows.targets_of(k0)[0] * row_bytes + c.byte_offset % row_bytes);
    }
    None
}

/// Copies a staged chunk into the first destination row of each received row.
fn unpack_received(dst: &RawArray, rows: &PeerRows, c: &Chunk, buf: &[u8]) {
    let row_bytes = dst.row_bytes();
    for_each_piece(row_bytes, c, |k, within, n, at| dst.unpack(rows.targets_of(k)[0] * row_bytes + within, &buf[at..at + n]));
}

fn isend(comm: MPI_Comm, ptr: *const u8, len: usize, peer: usize, req: &mut MPI_Request) -> Result<()> {
    let count = to_int(len, "chunk length")?;
    check_mpi(
        // SAFETY: ptr spans len bytes that stay alive until the request set is done.
        unsafe { mpi::ffi::MPI_Isend(ptr as *const c_void, count, crate::comm::byte_type(), peer as i32, ENGINE_TAG, comm, req) },
        "MPI_Isend (row exchange)",
    )
}

fn irecv(comm: MPI_Comm, ptr: *mut u8, len: usize, peer: usize, req: &mut MPI_Request) -> Result<()> {
    let count = to_int(len, "chunk length")?;
    check_mpi(
        // SAFETY: ptr has room for len bytes that stay alive until the request set is done.
        unsafe { mpi::ffi::MPI_Irecv(ptr as *mut c_void, count, crate::comm::byte_type(), peer as i32, ENGINE_TAG, comm, req) },
        "MPI_Irecv (row exchange)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_run_schedules() {
        assert_eq!(runs_of(&[0, 1, 2, 5, 6], &[3, 4, 5, 6, 7]), vec![3, 2]);
        assert_eq!(runs_of(&[0, 1, 2], &[0, 2, 3]), vec![1, 2]);
        // Two runs of 20 and 12 rows of 4 KiB, messages of at most 40 KiB:
        // no message crosses the run boundary at row 20.
        let mut s = Schedule::new(32, 4096, 40 << 10, Some(&[20, 12])).unwrap();
        assert!(s.at_runs());
        let mut chunks = Vec::new();
        while let Some(c) = s.take_next().unwrap() {
            chunks.push(c);
        }
        assert_eq!(chunks.iter().map(|c| c.byte_len).sum::<usize>(), 32 * 4096);
        assert!(chunks.iter().all(|c| c.row_stop <= 20 || c.row_start >= 20));
        assert!(chunks.windows(2).all(|w| w[0].byte_offset + w[0].byte_len == w[1].byte_offset));
        // Short runs: cut by size only.
        assert!(!Schedule::new(32, 64, 1024, Some(&[1; 32])).unwrap().at_runs());
    }

    /// 2x2 lattice map [0, 1, 1, 2]: 3 irreducible rows on 2 ranks ([1, 2]),
    /// 4 full rows on 2 ranks ([2, 2]).
    #[test]
    fn plan_sends_each_row_once_per_peer_and_replicates() {
        let irrk_inv = [0usize, 1, 1, 2];
        let full = crate::layout::BlockLayout::new(4, 2).unwrap();
        let irr = crate::layout::BlockLayout::new(3, 2).unwrap();
        let needs = |p: usize| irrk_inv[full.range(p)].to_vec();
        let owner = |g: usize| Ok(irr.owner(g));
        let p0 = RowPlan::build(2, 0, 1, 2, needs, owner).unwrap();
        let p1 = RowPlan::build(2, 1, 2, 2, needs, owner).unwrap();
        // rank 0 holds irr row 0, needs irr 0 (own) and irr 1 (rank 1)
        assert_eq!(p0.peers[0].send, vec![0]);
        assert_eq!(p0.peers[1].send, Vec::<usize>::new());
        assert_eq!(p0.peers[1].nrecv(), 1);
        // rank 1 holds irr rows 1, 2; needs irr 1 twice-free: full rows 2, 3 = irr 1, 2
        assert_eq!(p1.peers[0].send, vec![0]);
        assert_eq!(p1.peers[1].send, vec![0, 1]);
        assert_eq!(p1.rows_sent(), 1);
        assert_eq!(p0.rows_received(), 1);
    }
}
