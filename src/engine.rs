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
//! Execution: the rows for one peer form a byte stream cut into messages.
//! Sender and receiver cut it the same way, from what both know: the plan,
//! the agreed limit and whether every rank's rows are contiguous
//! ([`RowsInPlace`]). When a stream's runs of rows consecutive at both ends
//! are long (64 KiB on average) it is cut at the runs, and, when every
//! rank's rows are contiguous, into messages of the limit alone: every such
//! message travels in place at both ends (one pointer, or an MPI vector type
//! over rows that are contiguous but not adjacent, such as column windows).
//! Any other stream is cut at `min(limit, STAGED_MESSAGE_BYTES)`; its
//! messages go in place where the rows allow and through staging buffers
//! otherwise.
//!
//! A plan keeps only the peers it exchanges rows with, so planning (beyond
//! the caller's own lists) and execution cost O(those peers), not O(ranks).
//! Messages are posted in one order on every rank: pass j takes the j-th
//! message of every stream still running, peers rotated by rank (sends to
//! `rank + k`, receives from `rank - k`, k = 1, 2, ..., idle peers skipped),
//! so no rank is every rank's first peer and a message has the same place in
//! the order at both ends. At most `MAX_OUTSTANDING` receives and as many sends are posted at
//! once, and at most `STAGING_BYTES` of staged messages per direction (one
//! message at least); receives are posted before sends, and completions are
//! handled as they come (`MPI_Waitsome`: a staged receive is unpacked and its
//! buffer reused, a finished send frees its slot), so no rank waits for all
//! peers at any point. Posting in one global order with every window holding
//! its lowest unfinished message keeps the exchange deadlock-free. Staging
//! buffers are kept in a `Scratch` across executions.
//!
//! A `Side` may show each peer a different column window of a 2-D array:
//! the FFT's batch transpose moves, for every q, each rank's slice of the
//! batch, and the frequency re-layout, for every (q, orbital), each rank's
//! slice of nu. [`RowPlan::build_uniform`] plans a movement in which every
//! receiving rank needs the same rows (the re-layout) in one pass.
//!
//! Fast path: a plan kept for repeated execution may instead move every
//! peer's block in one `MPI_Alltoallw` or `MPI_Neighbor_alltoallw`, with a
//! derived datatype per block and no packing, when every block on every rank
//! fits the limit; [`crate::route`] states the rule. The local copies and
//! the replication of received rows are the same on both paths; a batch of
//! them that writes at least `STREAMING_MIN_BYTES` (8 MiB) uses
//! non-temporal stores, since its destination will not stay in cache.

use crate::buffer::{ArrayMut, ArrayRef, RawArray};
use crate::bounds::{Chunk, RowChunks};
use crate::comm::{check_mpi, to_int, RowType};
use crate::route::Route;
use crate::error::{Error, Result, Status};
use crate::failure::abort_stranded;
use crate::requests::InFlight;
use mpi::ffi::{MPI_Comm, MPI_Request};
use mpi::raw::AsRaw;
use std::collections::HashMap;
use std::ops::Range;
use std::os::raw::c_void;

/// Bytes of staged messages the engine keeps in flight per direction (16
/// MiB, 32 MiB for both; at least one message).
pub const STAGING_BYTES: usize = 16 << 20;

/// Largest message of a stream that may need staging (8 MiB or the limit,
/// whichever is smaller): streams not cut at in-place runs are cut here.
pub const STAGED_MESSAGE_BYTES: usize = 8 << 20;

/// Smallest row (bytes) that a message of scattered rows carries in place
/// (an MPI indexed type, one displacement per row): below it the
/// displacements would cost too much against the data, and such messages
/// are staged.
pub const SCATTERED_ROW_MIN_BYTES: usize = 4096;

/// Most requests an execution keeps posted per direction.
pub const MAX_OUTSTANDING: usize = 64;

/// What the ranks of an execution agreed on about their arrays, which
/// decides (the same way at both ends) how long messages may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowsInPlace {
    /// Every row of every rank's source and destination is one contiguous
    /// run of bytes (contiguous arrays, column windows): streams cut at
    /// runs travel in place in messages of the limit.
    Everywhere,
    /// Not known for every rank: every message is at most
    /// `STAGED_MESSAGE_BYTES`.
    Unknown,
}

impl RowsInPlace {
    /// `Everywhere` when `agreed_all` (an agreement's verdict that every
    /// rank's rows are contiguous), else `Unknown`.
    pub fn from_agreement(agreed_all: bool) -> RowsInPlace {
        if agreed_all {
            RowsInPlace::Everywhere
        } else {
            RowsInPlace::Unknown
        }
    }

    /// True when every row of `a` is one contiguous run (or `a` has no rows).
    pub fn rows_contiguous(a: &RawArray) -> bool {
        a.nrows() == 0 || a.row_bytes() == 0 || a.row_ptr(0).is_some()
    }
}

/// The tag every engine message uses (order is kept per peer by MPI). Callers
/// run the engine on a communicator that carries no other traffic (the
/// private duplicate of a distributor or plan), so it never meets user tags.
pub const ENGINE_TAG: i32 = 7;

/// The rows one rank exchanges with one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PeerRows {
    /// The peer's rank.
    peer: usize,
    /// Local source rows to send, in wire order.
    send: RowList,
    /// For received row `k` (wire order), its destination rows are
    /// `targets[starts[k]..starts[k + 1]]`; None: one destination row
    /// each, `targets[k]` (no replication: no per-peer offsets to keep).
    starts: Option<Vec<usize>>,
    targets: RowList,
    /// Lengths (in rows, wire order) of the runs of the send stream that are
    /// consecutive both here and at the peer; the peer's `recv_segments` for
    /// this rank are the same. None: unknown (cut by size only).
    send_segments: Option<Runs>,
    /// The same for the receive stream.
    recv_segments: Option<Runs>,
}

/// A list of row indices: explicit, or a range (the FFT's transposes, whose
/// per-peer lists are blocks of rows: nothing to store per peer).
#[derive(Clone, Debug, PartialEq, Eq)]
enum RowList {
    List(Vec<usize>),
    Range(Range<usize>),
}

impl Default for RowList {
    fn default() -> RowList {
        RowList::List(Vec::new())
    }
}

impl RowList {
    fn len(&self) -> usize {
        match self {
            RowList::List(l) => l.len(),
            RowList::Range(r) => r.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `k` of the list.
    fn at(&self, k: usize) -> usize {
        match self {
            RowList::List(l) => l[k],
            RowList::Range(r) => {
                debug_assert!(k < r.len());
                r.start + k
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(move |k| self.at(k))
    }
}

/// The runs of a stream: rows consecutive at both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Runs {
    /// Every row is its own run (sides whose rows are contiguous but not
    /// adjacent, such as column windows): nothing to store per peer.
    EachRow,
    /// Their lengths in rows, in wire order.
    Lengths(Vec<usize>),
}

/// A stream's runs as a [`Schedule`] reads them.
#[derive(Clone, Copy, Debug)]
enum RunsRef<'a> {
    /// This many runs of one row.
    EachRow(usize),
    Lengths(&'a [usize]),
}

impl RunsRef<'_> {
    fn count(&self) -> usize {
        match self {
            RunsRef::EachRow(n) => *n,
            RunsRef::Lengths(l) => l.len(),
        }
    }

    fn get(&self, i: usize) -> usize {
        match self {
            RunsRef::EachRow(_) => 1,
            RunsRef::Lengths(l) => l[i],
        }
    }
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

/// The receive side of a plan: this rank's destination rows (`my_needs`,
/// the global source row of each) grouped by the rank owning their source,
/// each distinct source row once, with the destination rows it fills; one
/// entry per rank that sends rows, in rank order (no entry, and no
/// allocation, for the other ranks).
fn receive_side<O>(rank: usize, nsrc: usize, ndst: usize, my_needs: impl IntoIterator<Item = usize>, src_owner: &O) -> Result<Vec<PeerRows>>
where
    O: Fn(usize) -> Result<(usize, usize)>,
{
    // Per sending rank: its distinct source rows (the destination rows each
    // fills, and the sender's local index of each).
    struct Group {
        owner: usize,
        lists: Vec<Vec<usize>>,
        src_locals: Vec<usize>,
    }
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    let mut count = 0;
    for (d, g) in my_needs.into_iter().enumerate() {
        let (owner, local) = src_owner(g)?;
        if owner == rank && local >= nsrc {
            return Err(Error::out_of_range(format!("source row {g} maps to local row {local} of {nsrc}")));
        }
        let gi = *group_of.entry(owner).or_insert_with(|| {
            groups.push(Group { owner, lists: Vec::new(), src_locals: Vec::new() });
            groups.len() - 1
        });
        let group = &mut groups[gi];
        let k = *slot.entry(g).or_insert_with(|| {
            group.lists.push(Vec::new());
            group.src_locals.push(local);
            group.lists.len() - 1
        });
        group.lists[k].push(d);
        count += 1;
    }
    if count != ndst {
        return Err(Error::mismatch(format!("the plan names {count} destination rows but this rank holds {ndst}")));
    }
    groups.sort_unstable_by_key(|g| g.owner);
    Ok(groups
        .into_iter()
        .map(|g| {
            let mut peer = PeerRows { peer: g.owner, ..PeerRows::default() };
            let firsts: Vec<usize> = g.lists.iter().map(|targets| targets[0]).collect();
            let (mut starts, mut all) = (vec![0], Vec::new());
            for targets in g.lists {
                all.extend(targets);
                starts.push(all.len());
            }
            (peer.starts, peer.targets) = (Some(starts), RowList::List(all));
            peer.recv_segments = Some(Runs::Lengths(runs_of(&g.src_locals, &firsts)));
            peer
        })
        .collect())
}

/// `runs` of a stream of `nrows` rows as a schedule reads them.
fn runs_ref(runs: &Runs, nrows: usize) -> RunsRef<'_> {
    match runs {
        Runs::EachRow => RunsRef::EachRow(nrows),
        Runs::Lengths(l) => RunsRef::Lengths(l),
    }
}

/// Merges send lists into the receive side `recv` (both in rank order): one
/// entry per rank with rows to send or receive. `send(p)` gives this rank's
/// send list and runs for rank `p`, called for every rank in order.
fn with_sends(nranks: usize, recv: Vec<PeerRows>, mut send: impl FnMut(usize) -> Result<(Vec<usize>, Option<Runs>)>) -> Result<Vec<PeerRows>> {
    let mut recv = recv.into_iter().peekable();
    let mut peers = Vec::new();
    for p in 0..nranks {
        let (list, runs) = send(p)?;
        // An idle peer costs no entry (planning at many ranks is this loop).
        let rows = match recv.next_if(|r| r.peer == p) {
            Some(rows) => Some(rows),
            None if list.is_empty() => None,
            None => Some(PeerRows { peer: p, ..PeerRows::default() }),
        };
        if let Some(mut rows) = rows {
            if !list.is_empty() {
                (rows.send, rows.send_segments) = (RowList::List(list), runs);
            }
            if !rows.send.is_empty() || rows.nrecv() > 0 {
                peers.push(rows);
            }
        }
    }
    Ok(peers)
}

/// The send list of this rank for peer `p` whose destination rows copy the
/// global source rows `needs`: the distinct local source rows, first use
/// first, and the runs consecutive at both ends. `mark` (one entry per
/// local source row) must not hold `p` on entry.
fn send_list<O>(rank: usize, p: usize, mark: &mut [usize], needs: impl IntoIterator<Item = usize>, src_owner: &O) -> Result<(Vec<usize>, Option<Runs>)>
where
    O: Fn(usize) -> Result<(usize, usize)>,
{
    let (mut send, mut firsts) = (Vec::new(), Vec::new());
    for (d, g) in needs.into_iter().enumerate() {
        let (owner, local) = src_owner(g)?;
        if owner == rank && mark[local] != p {
            mark[local] = p;
            send.push(local);
            firsts.push(d);
        }
    }
    if send.is_empty() {
        return Ok((send, None));
    }
    let segments = runs_of(&send, &firsts);
    Ok((send, Some(Runs::Lengths(segments))))
}

impl PeerRows {
    /// Rows exchanged with `peer` without replication: received row `k`
    /// fills `targets[k]`; `each_row_a_run`: see [`RowPlan::from_lists`].
    fn one_to_one(peer: usize, send: RowList, targets: RowList, each_row_a_run: bool) -> PeerRows {
        let runs = each_row_a_run.then_some(Runs::EachRow);
        PeerRows { peer, send, starts: None, targets, send_segments: runs.clone(), recv_segments: runs }
    }

    fn nrecv(&self) -> usize {
        match &self.starts {
            Some(starts) => starts.len().saturating_sub(1),
            None => self.targets.len(),
        }
    }
    /// The first destination row of received row `k` (where it lands).
    fn first_target(&self, k: usize) -> usize {
        match &self.starts {
            Some(starts) => self.targets.at(starts[k]),
            None => self.targets.at(k),
        }
    }
    /// The other destination rows of received row `k` (copies of the first).
    fn extra_targets(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        let (from, to) = match &self.starts {
            Some(starts) => (starts[k] + 1, starts[k + 1]),
            None => (0, 0),
        };
        (from..to).map(move |i| self.targets.at(i))
    }
    /// Every destination row of received row `k`.
    fn targets_of(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.first_target(k)).chain(self.extra_targets(k))
    }
    fn send_runs(&self) -> Option<RunsRef<'_>> {
        self.send_segments.as_ref().map(|r| runs_ref(r, self.send.len()))
    }
    fn recv_runs(&self) -> Option<RunsRef<'_>> {
        self.recv_segments.as_ref().map(|r| runs_ref(r, self.nrecv()))
    }
}

/// One side (source or destination) of an execution: an array whose rows the
/// plan indexes. Every peer sees the whole rows, or, with `columns`, peer
/// `p` sees the column window `columns[p]` of the 2-D array (how the FFT's
/// batch transpose and the frequency re-layout move part of each row).
#[derive(Clone, Copy)]
pub(crate) struct Side<'a> {
    /// The local array (2-D when `columns` is given).
    pub array: &'a RawArray,
    /// The column window (axis 1) each peer sees, if any.
    pub columns: Option<&'a [Range<usize>]>,
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
            Some(windows) => self.array.columns(windows[p].clone()),
        }
    }
}

/// Staging memory and request slots an execution reuses, so that a
/// long-lived caller (an FFT plan) keeps them across executions instead of
/// allocating them every time.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Threads for the local row copies (0 or 1: the calling thread).
    threads: usize,
    /// Staging buffers not in use.
    pool: Vec<Vec<u8>>,
    /// What each request slot carries (None: free).
    posted: Vec<Option<Posted>>,
    requests: Vec<MPI_Request>,
    done: Vec<usize>,
}

impl Scratch {
    /// Empty scratch whose local copies use up to `threads` threads.
    pub(crate) fn with_threads(threads: usize) -> Scratch {
        Scratch { threads, ..Scratch::default() }
    }
}

/// A posted message: its stream, its chunk and, when staged, its buffer.
#[derive(Debug)]
struct Posted {
    recv: bool,
    stream: usize,
    chunk: Chunk,
    staged: Option<Vec<u8>>,
}

/// A reusable plan moving rows between two ownerships of the same ranks.
#[derive(Clone, Debug)]
pub struct RowPlan {
    rank: usize,
    nranks: usize,
    nsrc: usize,
    ndst: usize,
    /// The ranks this rank sends rows to or receives rows from (itself
    /// included when it copies rows locally), in rank order: planning and
    /// execution cost O(these peers), not O(ranks).
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
        let recv = receive_side(rank, nsrc, ndst, needs(rank), &src_owner)?;
        let mut mark = vec![usize::MAX; nsrc];
        let peers = with_sends(nranks, recv, |p| send_list(rank, p, &mut mark, needs(p), &src_owner))?;
        Ok(RowPlan { rank, nranks, nsrc, ndst, peers })
    }

    /// [`RowPlan::build`] for a movement that sends every global row to
    /// exactly one destination row (a change of ownership, such as the FFT's
    /// slab and pencil transposes): `my_sources` gives the global row of each
    /// local source row and `my_needs` that of each local destination row,
    /// in local order; `src_owner(g)` and `dst_owner(g)` give the rank
    /// holding global row `g` as a source and as a destination, and its
    /// local index there. The caller guarantees the permutation (every row
    /// of every rank's sources lands on exactly one destination row).
    ///
    /// The plan moves the same rows in the same wire order as
    /// [`RowPlan::build`]'s, for O(local rows × log + ranks) instead of a
    /// pass over every rank's destination rows: this rank's sources are
    /// grouped by the rank they land on, in the order of their destination
    /// rows there.
    #[allow(clippy::too_many_arguments)]
    pub fn permutation<S, N, O, D>(
        nranks: usize,
        rank: usize,
        nsrc: usize,
        ndst: usize,
        my_sources: S,
        my_needs: N,
        src_owner: O,
        dst_owner: D,
    ) -> Result<RowPlan>
    where
        S: IntoIterator<Item = usize>,
        N: IntoIterator<Item = usize>,
        O: Fn(usize) -> Result<(usize, usize)>,
        D: Fn(usize) -> Result<(usize, usize)>,
    {
        if rank >= nranks {
            return Err(Error::invalid(format!("rank {rank} of {nranks}")));
        }
        // A global row's owner, checked: a rank of the plan, and a row
        // index this rank has when the row stays here.
        let owned = |(p, local): (usize, usize), rows_here: usize, g: usize| {
            if p >= nranks || (p == rank && local >= rows_here) {
                return Err(Error::out_of_range(format!("row {g} maps to row {local} of rank {p} of {nranks}")));
            }
            Ok((p, local))
        };
        // (source rank, my destination row, its source row there), by rank
        // and destination row
        let lists = |n: usize| {
            let mut v = Vec::new();
            v.try_reserve_exact(n).map(|()| v).map_err(|_| Error::new(Status::AllocationFailed, format!("cannot allocate the row lists of a plan of {n} rows")))
        };
        let mut needs = lists(ndst)?;
        for (d, g) in my_needs.into_iter().enumerate() {
            let (p, s) = owned(src_owner(g)?, nsrc, g)?;
            needs.push((p, d, s));
        }
        // (destination rank, the destination row there, my source row), likewise
        let mut lands = lists(nsrc)?;
        for (s, g) in my_sources.into_iter().enumerate() {
            let (p, d) = owned(dst_owner(g)?, ndst, g)?;
            lands.push((p, d, s));
        }
        if needs.len() != ndst || lands.len() != nsrc {
            return Err(Error::mismatch(format!(
                "the plan names {} source and {} destination rows but this rank holds {nsrc} and {ndst}",
                lands.len(),
                needs.len()
            )));
        }
        needs.sort_unstable();
        lands.sort_unstable();
        // One received row per destination row (no replication): from rank p,
        // the rows it holds for this rank, in this rank's destination order.
        let recv = needs
            .chunk_by(|a, b| a.0 == b.0)
            .map(|group| {
                let (targets, src_locals): (Vec<usize>, Vec<usize>) = group.iter().map(|&(_, d, s)| (d, s)).unzip();
                let runs = runs_of(&src_locals, &targets);
                PeerRows { peer: group[0].0, targets: RowList::List(targets), recv_segments: Some(Runs::Lengths(runs)), ..PeerRows::default() }
            })
            .collect();
        let mut groups = lands.chunk_by(|a, b| a.0 == b.0).peekable();
        let peers = with_sends(nranks, recv, |p| {
            let Some(group) = groups.next_if(|g| g[0].0 == p) else { return Ok((Vec::new(), None)) };
            let (send, firsts): (Vec<usize>, Vec<usize>) = group.iter().map(|&(_, d, s)| (s, d)).unzip();
            let runs = runs_of(&send, &firsts);
            Ok((send, Some(Runs::Lengths(runs))))
        })?;
        Ok(RowPlan { rank, nranks, nsrc, ndst, peers })
    }

    /// [`RowPlan::build`] for a movement in which every rank with
    /// `receives[p]` has the same destination rows, each copying the global
    /// source row `needs()` lists for it, and the other ranks have none (the
    /// frequency re-layout: every rank with a frequency slice gets every q).
    /// Cost: one pass over the destination rows plus O(ranks × rows sent),
    /// instead of a pass per rank.
    pub fn build_uniform<I, N, O>(nranks: usize, rank: usize, nsrc: usize, receives: &[bool], needs: N, src_owner: O) -> Result<RowPlan>
    where
        I: IntoIterator<Item = usize>,
        N: Fn() -> I,
        O: Fn(usize) -> Result<(usize, usize)>,
    {
        if receives.len() != nranks || rank >= nranks {
            return Err(Error::invalid("one receive flag per rank is needed"));
        }
        let mine: Vec<usize> = if receives[rank] { needs().into_iter().collect() } else { Vec::new() };
        let ndst = mine.len();
        let recv = receive_side(rank, nsrc, ndst, mine, &src_owner)?;
        let (send, segments) = match receives.iter().any(|&r| r) {
            true => send_list(rank, 0, &mut vec![usize::MAX; nsrc], needs(), &src_owner)?,
            false => (Vec::new(), None),
        };
        let peers = with_sends(nranks, recv, |p| Ok(if receives[p] { (send.clone(), segments.clone()) } else { (Vec::new(), None) }))?;
        Ok(RowPlan { rank, nranks, nsrc, ndst, peers })
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
        let nranks = send.len();
        // The lists name every rank; most are usually busy (an all-to-all).
        let mut peers = Vec::with_capacity(nranks);
        for (peer, (send, targets)) in send.into_iter().zip(recv).enumerate() {
            if send.is_empty() && targets.is_empty() {
                continue; // an idle peer has no entry
            }
            peers.push(PeerRows::one_to_one(peer, RowList::List(send), RowList::List(targets), row_segments));
        }
        Ok(RowPlan { rank, nranks, nsrc, ndst, peers })
    }

    /// [`RowPlan::from_lists`] for movements whose per-peer lists are
    /// blocks of rows: `send(p)` the local source rows sent to rank `p`,
    /// `recv(p)` the destination rows the rows from `p` fill, in order (the
    /// FFT's batch transposes). Nothing is stored per row, so planning costs
    /// O(ranks) whatever the rows.
    pub fn from_ranges(
        nranks: usize,
        rank: usize,
        nsrc: usize,
        ndst: usize,
        send: impl Fn(usize) -> Range<usize>,
        recv: impl Fn(usize) -> Range<usize>,
        row_segments: bool,
    ) -> Result<RowPlan> {
        if rank >= nranks {
            return Err(Error::invalid(format!("rank {rank} of {nranks}")));
        }
        let mut peers = Vec::with_capacity(nranks);
        for peer in 0..nranks {
            let (s, r) = (send(peer), recv(peer));
            if s.end > nsrc || r.end > ndst {
                return Err(Error::out_of_range(format!("a listed row is outside the {nsrc} source / {ndst} destination rows")));
            }
            if peer == rank && s.len() != r.len() {
                return Err(Error::mismatch("the rows this rank sends itself and receives from itself differ in number"));
            }
            if !s.is_empty() || !r.is_empty() {
                peers.push(PeerRows::one_to_one(peer, RowList::Range(s), RowList::Range(r), row_segments));
            }
        }
        Ok(RowPlan { rank, nranks, nsrc, ndst, peers })
    }

    /// True when the plan moves nothing between ranks and copies every local
    /// source row to the same destination row (the two ownerships coincide).
    pub fn is_identity(&self) -> bool {
        let empty = PeerRows::default();
        let mine = self.peer_rows(self.rank).unwrap_or(&empty);
        self.rows_sent() == 0
            && self.rows_received() == 0
            && self.nsrc == self.ndst
            && mine.send.len() == self.nsrc
            && mine.targets.len() == self.ndst
            && mine.send.iter().enumerate().all(|(k, s)| s == k && mine.first_target(k) == k && mine.extra_targets(k).next().is_none())
    }

    /// What the plan moves, independent of how it is stored: per peer, the
    /// rows sent (wire order), the destination rows of each received row,
    /// and the run lengths of both streams (for tests comparing plans).
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn canonical(&self) -> Vec<(usize, Vec<usize>, Vec<Vec<usize>>, Option<Vec<usize>>, Option<Vec<usize>>)> {
        let lengths = |r: Option<RunsRef<'_>>| r.map(|r| (0..r.count()).map(|i| r.get(i)).collect());
        self.peers
            .iter()
            .map(|r| {
                let targets = (0..r.nrecv()).map(|k| r.targets_of(k).collect()).collect();
                (r.peer, r.send.iter().collect(), targets, lengths(r.send_runs()), lengths(r.recv_runs()))
            })
            .collect()
    }

    /// The rows exchanged with rank `p`, if any.
    fn peer_rows(&self, p: usize) -> Option<&PeerRows> {
        self.peers.binary_search_by_key(&p, |r| r.peer).ok().map(|i| &self.peers[i])
    }

    /// The rows exchanged with other ranks.
    fn others(&self) -> impl Iterator<Item = &PeerRows> {
        self.peers.iter().filter(move |r| r.peer != self.rank)
    }

    /// The messages an execution of this plan posts on this rank, from the
    /// plan alone (no MPI): how each stream is cut for rows of
    /// `send_row_bytes(p)` bytes to peer `p` and `recv_row_bytes(p)` from it
    /// (the same for every peer unless the sides show column windows), the
    /// agreed `limit`, and whether every rank's rows are contiguous
    /// (`rows_contiguous_everywhere`: the FFT and the frequency re-layout
    /// always, the maps when all ranks' arrays are). For the W-ENGINE-SCALE
    /// benchmark and the engine's tests.
    pub fn message_stats(
        &self,
        send_row_bytes: impl Fn(usize) -> usize,
        recv_row_bytes: impl Fn(usize) -> usize,
        limit: usize,
        rows_contiguous_everywhere: bool,
    ) -> Result<MessageStats> {
        let cut = Cut { limit, staged: limit.min(STAGED_MESSAGE_BYTES), in_place_runs: rows_contiguous_everywhere };
        let mut stats = MessageStats::default();
        for rows in self.others() {
            let p = rows.peer;
            let count = |mut s: Schedule| -> Result<usize> {
                let mut n = 0;
                while s.take_next()?.is_some() {
                    n += 1;
                }
                Ok(n)
            };
            let sends = count(Schedule::new(rows.send.len(), send_row_bytes(p), cut, rows.send_runs())?)?;
            let recvs = count(Schedule::new(rows.nrecv(), recv_row_bytes(p), cut, rows.recv_runs())?)?;
            stats.peers_sent_to += usize::from(sends > 0);
            stats.messages_sent += sends;
            stats.messages_received += recvs;
            stats.passes = stats.passes.max(sends).max(recvs);
        }
        stats.max_outstanding = MAX_OUTSTANDING.min(stats.messages_sent) + MAX_OUTSTANDING.min(stats.messages_received);
        Ok(stats)
    }

    /// True when every per-peer block of this rank (rows to or from another
    /// rank, `send_row_bytes(p)` bytes per row sent to `p`,
    /// `recv_row_bytes(p)` per row received from it) is at most `limit`
    /// bytes: the condition for the collective path ([`crate::route`]).
    pub fn blocks_fit(&self, send_row_bytes: impl Fn(usize) -> usize, recv_row_bytes: impl Fn(usize) -> usize, limit: usize) -> bool {
        self.others().all(|r| {
            let fits = |rows: usize, bytes: usize| rows.checked_mul(bytes).is_some_and(|b| b <= limit);
            fits(r.send.len(), send_row_bytes(r.peer)) && fits(r.nrecv(), recv_row_bytes(r.peer))
        })
    }

    /// The other ranks this rank exchanges rows with, in rank order.
    pub fn peer_ranks(&self) -> Vec<usize> {
        self.others().map(|r| r.peer).collect()
    }

    /// How many other ranks this rank exchanges rows with.
    pub fn peer_count(&self) -> usize {
        self.others().count()
    }

    /// The number of ranks the plan was built for.
    pub fn nranks(&self) -> usize {
        self.nranks
    }

    /// Rows this rank sends to other ranks (self excluded).
    pub fn rows_sent(&self) -> usize {
        self.others().map(|r| r.send.len()).sum()
    }

    /// Rows this rank receives from other ranks (self excluded).
    pub fn rows_received(&self) -> usize {
        self.others().map(|r| r.nrecv()).sum()
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
        // No agreement here: the other ranks' arrays are unknown.
        self.run(comm.as_raw(), src.raw(), dst.raw(), limit, RowsInPlace::Unknown)
    }

    /// [`RowPlan::execute`] on descriptors the caller vouches for, with a
    /// resolved limit and what the ranks agreed on their rows (callers
    /// agree on buffers and limit beforehand).
    pub(crate) fn run(&self, comm: MPI_Comm, src: &RawArray, dst: &RawArray, limit: usize, rows: RowsInPlace) -> Result<()> {
        self.check_buffers(src, dst)?;
        self.execute_with(comm, Side::whole(src), Side::whole(dst), limit, rows, &mut Scratch::default())
    }

    /// Moves the rows between two sides, staging through `scratch`. The row
    /// counts must match the plan, and the row type a rank's source shows
    /// peer `p` must be the one `p`'s destination shows this rank (callers
    /// agree on that beforehand; only the row counts are checked here).
    pub(crate) fn execute_with(&self, comm: MPI_Comm, src: Side, dst: Side, limit: usize, rows_in_place: RowsInPlace, scratch: &mut Scratch) -> Result<()> {
        if src.array.nrows() != self.nsrc || dst.array.nrows() != self.ndst {
            return Err(Error::mismatch(format!(
                "the plan moves {} source rows into {} destination rows but the arrays have {} and {}",
                self.nsrc,
                self.ndst,
                src.array.nrows(),
                dst.array.nrows()
            )));
        }
        let cut = Cut { limit, staged: limit.min(STAGED_MESSAGE_BYTES), in_place_runs: rows_in_place == RowsInPlace::Everywhere };
        let mut streams: Vec<Stream> = Vec::new();
        for rows in self.others() {
            streams.push(Stream::new(rows, src.view(rows.peer), dst.view(rows.peer), cut)?);
        }
        self.exchange(comm, &mut streams, scratch)?;
        self.copy_local(&src.view(self.rank), &dst.view(self.rank), scratch.threads)?;
        for s in &streams {
            replicate(s.rows, &s.dst)?;
        }
        Ok(())
    }

    /// [`RowPlan::execute_with`] along `route`: the collective routes move
    /// every per-peer block in one MPI collective when every rank's rows are
    /// contiguous ([`RowsInPlace::Everywhere`]); otherwise (and for
    /// [`Route::PointToPoint`]) the chunked exchange runs. Every rank passes
    /// the same route and `rows_in_place`, so all take the same path.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn execute_routed(&self, comm: MPI_Comm, route: &Route, src: Side, dst: Side, limit: usize, rows_in_place: RowsInPlace, scratch: &mut Scratch) -> Result<()> {
        let graph = match route {
            Route::PointToPoint => None,
            Route::Alltoallw => Some(None),
            Route::Neighbor(g) => Some(Some(g.raw())),
        };
        let Some(graph) = graph.filter(|_| rows_in_place == RowsInPlace::Everywhere) else {
            return self.execute_with(comm, src, dst, limit, rows_in_place, scratch);
        };
        if src.array.nrows() != self.nsrc || dst.array.nrows() != self.ndst {
            return Err(Error::mismatch(format!(
                "the plan moves {} source rows into {} destination rows but the arrays have {} and {}",
                self.nsrc,
                self.ndst,
                src.array.nrows(),
                dst.array.nrows()
            )));
        }
        self.exchange_collectively(comm, graph, &src, &dst);
        self.copy_local(&src.view(self.rank), &dst.view(self.rank), scratch.threads)?;
        for rows in self.others() {
            replicate(rows, &dst.view(rows.peer))?;
        }
        Ok(())
    }

    /// Moves every other peer's block in one `MPI_Alltoallw` on `comm`
    /// (`graph` None) or `MPI_Neighbor_alltoallw` on `graph` (neighbours:
    /// this plan's peers in rank order), one derived datatype per block at
    /// absolute addresses (no packing). A failure once the collective may
    /// have started on other ranks aborts the job ([`abort_stranded`]).
    fn exchange_collectively(&self, comm: MPI_Comm, graph: Option<MPI_Comm>, src: &Side, dst: &Side) {
        let peers: Vec<&PeerRows> = self.others().collect();
        let mut send_types = Vec::with_capacity(peers.len());
        let mut recv_types = Vec::with_capacity(peers.len());
        // The peers are entering the collective: a rank that cannot describe
        // its blocks (an int overflow the agreement ruled out, or an injected
        // fault) cannot tell them.
        let typed = (|| -> Result<()> {
            crate::failure::injected(crate::failure::Fault::Collective)?;
            for rows in &peers {
                send_types.push(block_type(&src.view(rows.peer), rows.send.iter())?);
                recv_types.push(block_type(&dst.view(rows.peer), (0..rows.nrecv()).map(|k| rows.first_target(k)))?);
            }
            Ok(())
        })();
        typed.unwrap_or_else(|e| abort_stranded(comm, &e));
        let byte = crate::comm::byte_type();
        let count = |t: &Option<RowType>| i32::from(t.is_some());
        let raw = |t: &Option<RowType>| t.as_ref().map_or(byte, RowType::raw);
        let bottom = crate::comm::bottom();
        let code = match graph {
            Some(graph) => {
                let (scounts, rcounts): (Vec<i32>, Vec<i32>) = (send_types.iter().map(count).collect(), recv_types.iter().map(count).collect());
                let (stypes, rtypes): (Vec<_>, Vec<_>) = (send_types.iter().map(raw).collect(), recv_types.iter().map(raw).collect());
                let displs: Vec<mpi::ffi::MPI_Aint> = vec![0; peers.len()];
                // SAFETY: every type addresses this rank's live arrays absolutely
                // (buffers are MPI_BOTTOM); the arrays have one entry per neighbour.
                unsafe {
                    mpi::ffi::MPI_Neighbor_alltoallw(
                        bottom, scounts.as_ptr(), displs.as_ptr(), stypes.as_ptr(),
                        bottom, rcounts.as_ptr(), displs.as_ptr(), rtypes.as_ptr(), graph,
                    )
                }
            }
            None => {
                let (mut scounts, mut rcounts) = (vec![0i32; self.nranks], vec![0i32; self.nranks]);
                let (mut stypes, mut rtypes) = (vec![byte; self.nranks], vec![byte; self.nranks]);
                for (i, rows) in peers.iter().enumerate() {
                    (scounts[rows.peer], stypes[rows.peer]) = (count(&send_types[i]), raw(&send_types[i]));
                    (rcounts[rows.peer], rtypes[rows.peer]) = (count(&recv_types[i]), raw(&recv_types[i]));
                }
                let displs = vec![0i32; self.nranks];
                // SAFETY: as above, with one entry per rank of comm.
                unsafe {
                    mpi::ffi::MPI_Alltoallw(
                        bottom, scounts.as_ptr(), displs.as_ptr(), stypes.as_ptr(),
                        bottom, rcounts.as_ptr(), displs.as_ptr(), rtypes.as_ptr(), comm,
                    )
                }
            }
        };
        let what = if graph.is_some() { "MPI_Neighbor_alltoallw (row exchange)" } else { "MPI_Alltoallw (row exchange)" };
        check_mpi(code, what).unwrap_or_else(|e| abort_stranded(comm, &e));
    }

    /// Copies rows this rank sends to itself, split over up to `threads`
    /// threads when rows are contiguous runs (each thread a share of the
    /// received rows, whose destination rows are distinct).
    fn copy_local(&self, src: &RawArray, dst: &RawArray, threads: usize) -> Result<()> {
        let Some(mine) = self.peer_rows(self.rank) else { return Ok(()) };
        if src.row_bytes() == 0 {
            return Ok(());
        }
        let copy = RowCopier::new(src, dst, mine.targets.len());
        let n = mine.send.len();
        let parts = if copy.direct.is_some() { crate::parallel::parts(threads, n * copy.row_bytes) } else { 1 };
        let shared = crate::parallel::Shared(&copy);
        // Receive and send orders agree, so slot k is source row mine.send[k].
        crate::parallel::for_each_part(n, parts, |share| {
            let copied = (|| {
                for (k, s) in mine.send.iter().enumerate().skip(share.start).take(share.len()) {
                    for d in mine.targets_of(k) {
                        shared.get().row(s, d)?;
                    }
                }
                Ok(())
            })();
            shared.get().finish();
            copied
        })
    }

    /// Runs the nonblocking exchange of every stream (see the module documentation).
    fn exchange(&self, comm: MPI_Comm, streams: &mut [Stream], scratch: &mut Scratch) -> Result<()> {
        let Scratch { pool, posted, requests, done, .. } = scratch;
        // `streams` holds the peers this rank exchanges rows with, in rank
        // order; sends go to rank + 1, rank + 2, ... and receives come from
        // rank - 1, rank - 2, ... (mod the ranks), skipping idle peers.
        let n = self.nranks;
        let mut send_order: Vec<usize> = (0..streams.len()).collect();
        send_order.sort_unstable_by_key(|&i| (streams[i].rows.peer + n - self.rank) % n);
        let mut recv_order: Vec<usize> = (0..streams.len()).collect();
        recv_order.sort_unstable_by_key(|&i| (self.rank + n - streams[i].rows.peer) % n);
        let (mut sends, mut recvs) = (Passes::new(send_order), Passes::new(recv_order));
        // The next message of each direction, taken but not yet posted (stream, chunk).
        let mut next_send: Option<(usize, Chunk)> = None;
        let mut next_recv: Option<(usize, Chunk)> = None;
        let mut send_window = Window::default();
        let mut recv_window = Window::default();
        posted.clear();
        // Every request joins `in_flight` as it is posted: an error or a
        // panic from here on waits for the posted ones before returning
        // (their staging buffers live in `posted`, in the caller's scratch).
        let mut in_flight = InFlight::new(requests);
        loop {
            // Receives first, so that arriving messages find their buffer
            // instead of the unexpected-message queue.
            loop {
                if next_recv.is_none() {
                    next_recv = recvs.next(|i| streams[i].recv_plan.take_next())?;
                }
                let Some((i, c)) = next_recv else { break };
                let s = &streams[i];
                let wire = recv_wire(&s.dst, s.rows, &c);
                if !recv_window.admits(wire.is_none(), c.byte_len) {
                    break;
                }
                let mut staged = wire.is_none().then(|| take_buffer(pool, c.byte_len));
                let target = match (wire, staged.as_mut()) {
                    (Some(w), _) => w,
                    (None, Some(buf)) => Wire::Bytes(buf.as_mut_ptr()),
                    (None, None) => unreachable!("a staged receive has a buffer"),
                };
                let slot = in_flight.post_slot(|req| irecv(comm, target, c.byte_len, s.rows.peer, req));
                let slot = slot.unwrap_or_else(|e| abort_stranded(comm, &e));
                recv_window.add(staged.is_some(), c.byte_len);
                put(posted, slot, Posted { recv: true, stream: i, chunk: c, staged });
                next_recv = None;
            }
            loop {
                if next_send.is_none() {
                    next_send = sends.next(|i| streams[i].send_plan.take_next())?;
                }
                let Some((i, c)) = next_send else { break };
                let s = &streams[i];
                let rows = &s.rows.send;
                let wire = send_wire(&s.src, rows, &c);
                if !send_window.admits(wire.is_none(), c.byte_len) {
                    break;
                }
                let mut staged = wire.is_none().then(|| take_buffer(pool, c.byte_len));
                let source = match (wire, staged.as_mut()) {
                    (Some(w), _) => w,
                    (None, Some(buf)) => {
                        pack_chunk(&s.src, rows, &c, buf);
                        Wire::Bytes(buf.as_mut_ptr())
                    }
                    (None, None) => unreachable!("a staged send has a buffer"),
                };
                let slot = in_flight.post_slot(|req| isend(comm, source, c.byte_len, s.rows.peer, req));
                let slot = slot.unwrap_or_else(|e| abort_stranded(comm, &e));
                send_window.add(staged.is_some(), c.byte_len);
                put(posted, slot, Posted { recv: false, stream: i, chunk: c, staged });
                next_send = None;
            }
            if in_flight.is_idle() {
                // Nothing posted is pending: everything was posted and is done.
                debug_assert!(next_send.is_none() && next_recv.is_none());
                return Ok(());
            }
            in_flight.wait_some(done, "MPI_Waitsome (row exchange)")?;
            for &slot in done.iter() {
                let Some(m) = posted[slot].take() else { continue };
                let window = if m.recv { &mut recv_window } else { &mut send_window };
                window.remove(m.staged.is_some(), m.chunk.byte_len);
                if let Some(buf) = m.staged {
                    if m.recv {
                        let s = &streams[m.stream];
                        unpack_received(&s.dst, s.rows, &m.chunk, &buf[..m.chunk.byte_len]);
                    }
                    pool.push(buf);
                }
            }
        }
    }
}

/// Hands out the messages of a set of streams in passes: each pass takes the
/// next message of every stream still running, in the order given (the
/// rotated peer order); a stream that has no message left leaves.
struct Passes {
    order: Vec<usize>,
    at: usize,
    next_pass: Vec<usize>,
}

impl Passes {
    fn new(order: Vec<usize>) -> Passes {
        Passes { order, at: 0, next_pass: Vec::new() }
    }

    /// The next (stream, message), or None when every stream has ended.
    fn next(&mut self, mut take: impl FnMut(usize) -> Result<Option<Chunk>>) -> Result<Option<(usize, Chunk)>> {
        loop {
            if self.at == self.order.len() {
                if self.next_pass.is_empty() {
                    return Ok(None);
                }
                std::mem::swap(&mut self.order, &mut self.next_pass);
                self.next_pass.clear();
                self.at = 0;
            }
            let i = self.order[self.at];
            self.at += 1;
            if let Some(c) = take(i)? {
                self.next_pass.push(i);
                return Ok(Some((i, c)));
            }
        }
    }
}

/// Posted requests and staged bytes of one direction.
#[derive(Default)]
struct Window {
    requests: usize,
    staged_bytes: usize,
}

impl Window {
    /// Whether one more message (staged or not, of `len` bytes) may be
    /// posted: below `MAX_OUTSTANDING` requests, and a staged one within
    /// `STAGING_BYTES` unless nothing staged is in flight.
    fn admits(&self, staged: bool, len: usize) -> bool {
        self.requests < MAX_OUTSTANDING && (!staged || self.staged_bytes == 0 || self.staged_bytes + len <= STAGING_BYTES)
    }

    fn add(&mut self, staged: bool, len: usize) {
        self.requests += 1;
        if staged {
            self.staged_bytes += len;
        }
    }

    fn remove(&mut self, staged: bool, len: usize) {
        self.requests -= 1;
        if staged {
            self.staged_bytes -= len;
        }
    }
}

/// A staging buffer of `len` bytes from the pool (or a new one).
fn take_buffer(pool: &mut Vec<Vec<u8>>, len: usize) -> Vec<u8> {
    let mut buf = pool.pop().unwrap_or_default();
    buf.resize(len.max(buf.len()), 0);
    buf
}

/// Records what request slot `slot` carries.
fn put(posted: &mut Vec<Option<Posted>>, slot: usize, m: Posted) {
    if posted.len() <= slot {
        posted.resize_with(slot + 1, || None);
    }
    posted[slot] = Some(m);
}

/// Fills the extra destination rows of every row received from a peer from its first one.
fn replicate(rows: &PeerRows, dst: &RawArray) -> Result<()> {
    if dst.row_bytes() == 0 {
        return Ok(());
    }
    let copy = RowCopier::new(dst, dst, rows.targets.len() - rows.nrecv());
    let copied = (|| {
        for k in 0..rows.nrecv() {
            for d in rows.extra_targets(k) {
                copy.row(rows.first_target(k), d)?;
            }
        }
        Ok(())
    })();
    copy.finish();
    copied
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
    /// Whether direct copies use non-temporal stores (see [`RowCopier::new`]).
    streaming: bool,
}

impl<'a> RowCopier<'a> {
    /// A copier for a batch of `rows` row copies: when they write at least
    /// `STREAMING_MIN_BYTES`, direct copies use non-temporal stores, and
    /// each thread that copied calls [`RowCopier::finish`].
    fn new(src: &'a RawArray, dst: &'a RawArray, rows: usize) -> RowCopier<'a> {
        let direct = match (src.row_ptr(0), dst.row_ptr(0)) {
            (Some(s), Some(d)) => Some(((s as *const u8, src.row_stride()), (d, dst.row_stride()))),
            _ => None,
        };
        let row_bytes = src.row_bytes();
        let streaming = rows.saturating_mul(row_bytes) >= crate::buffer::STREAMING_MIN_BYTES;
        RowCopier { src, dst, row_bytes, direct, streaming }
    }

    /// Makes the calling thread's copies visible in order (after streaming stores).
    fn finish(&self) {
        if self.streaming && self.direct.is_some() {
            crate::buffer::store_fence();
        }
    }

    /// Copies source row `s` into destination row `d`.
    fn row(&self, s: usize, d: usize) -> Result<()> {
        if s >= self.src.nrows() || d >= self.dst.nrows() {
            return Err(Error::out_of_range(format!("row {s} or {d} is outside its array")));
        }
        match self.direct {
            Some(((from, from_stride), (to, to_stride))) => {
                let (from, to) = (from.wrapping_offset(s as isize * from_stride), to.wrapping_offset(d as isize * to_stride));
                // SAFETY: both rows lie inside their arrays (checked above) and
                // are contiguous runs of row_bytes; rows s and d of one array
                // are distinct when replicating, so the spans do not overlap.
                unsafe {
                    if self.streaming {
                        crate::buffer::copy_streaming(from, to, self.row_bytes)
                    } else {
                        std::ptr::copy(from, to, self.row_bytes)
                    }
                };
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
    runs: Option<RunsRef<'a>>,
    /// Index of the current run and its first row.
    run: usize,
    first: usize,
    /// The current run's chunks and the next one to hand out.
    part: RowChunks,
    next: usize,
}

impl<'a> Schedule<'a> {
    fn new(nrows: usize, row_bytes: usize, cut: Cut, runs: Option<RunsRef<'a>>) -> Result<Schedule<'a>> {
        let total = nrows.checked_mul(row_bytes).ok_or_else(|| Error::out_of_range("a stream's length overflows"))?;
        // When every rank's rows are contiguous, messages of wide rows (any
        // rows: an indexed type) and messages within long runs travel in place
        // at both ends: cut at the limit alone, wide rows without regard to runs.
        let wide = cut.in_place_runs && row_bytes >= SCATTERED_ROW_MIN_BYTES;
        let runs = runs.filter(|r| !wide && r.count() > 0 && total / r.count() >= RUN_MIN_BYTES);
        let chunk = if wide || (cut.in_place_runs && runs.is_some()) { cut.limit } else { cut.staged };
        let part = match runs {
            Some(r) => RowChunks::new(r.get(0), row_bytes, chunk)?,
            None => RowChunks::new(nrows, row_bytes, chunk)?,
        };
        Ok(Schedule { row_bytes, chunk, runs, run: 0, first: 0, part, next: 0 })
    }

    /// The next message, or None at the end of the stream.
    fn take_next(&mut self) -> Result<Option<Chunk>> {
        while self.next == self.part.count() {
            let Some(runs) = self.runs.filter(|r| self.run + 1 < r.count()) else { return Ok(None) };
            self.first += runs.get(self.run);
            self.run += 1;
            self.part = RowChunks::new(runs.get(self.run), self.row_bytes, self.chunk)?;
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

/// What one rank posts in one execution of a plan ([`RowPlan::message_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageStats {
    /// Peers this rank sends at least one message to.
    pub peers_sent_to: usize,
    /// Messages sent (self excluded).
    pub messages_sent: usize,
    /// Messages received (self excluded).
    pub messages_received: usize,
    /// Passes over the peers: the most messages any one stream has (1 when
    /// every per-peer block goes in one message).
    pub passes: usize,
    /// The most requests posted at once (receives and sends): at most
    /// `MAX_OUTSTANDING` per direction.
    pub max_outstanding: usize,
}

/// How streams are cut into messages, the same at both ends.
#[derive(Clone, Copy, Debug)]
struct Cut {
    /// The agreed message limit: messages at in-place runs.
    limit: usize,
    /// The size of every other message: `min(limit, STAGED_MESSAGE_BYTES)`.
    staged: usize,
    /// Whether every rank's rows are contiguous ([`RowsInPlace::Everywhere`]).
    in_place_runs: bool,
}

/// One peer's send and receive streams, and the views of the source and
/// destination that peer exchanges with.
struct Stream<'a> {
    /// The rows exchanged with this stream's peer (`rows.peer`).
    rows: &'a PeerRows,
    src: RawArray,
    dst: RawArray,
    send_plan: Schedule<'a>,
    recv_plan: Schedule<'a>,
}

impl<'a> Stream<'a> {
    fn new(rows: &'a PeerRows, src: RawArray, dst: RawArray, cut: Cut) -> Result<Stream<'a>> {
        Ok(Stream {
            rows,
            send_plan: Schedule::new(rows.send.len(), src.row_bytes(), cut, rows.send_runs())?,
            recv_plan: Schedule::new(rows.nrecv(), dst.row_bytes(), cut, rows.recv_runs())?,
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

/// Where a message's bytes are in a caller array, when it travels in place.
#[derive(Clone, Debug)]
enum Wire {
    /// One contiguous span.
    Bytes(*mut u8),
    /// `count` rows of `row_bytes` each, `stride` bytes apart, from the first
    /// (sent as an MPI vector type: rows that are each contiguous but not
    /// adjacent, such as column windows).
    Rows { first: *mut u8, count: usize, row_bytes: usize, stride: isize },
    /// Rows of `row_bytes` each at these byte displacements from `base`
    /// (an MPI indexed type: scattered rows of at least
    /// `SCATTERED_ROW_MIN_BYTES`).
    Scattered { base: *mut u8, displacements: Vec<isize>, row_bytes: usize },
}

/// How message `c` of a stream over `rows` (the array's row of each stream
/// row, consecutive or not) can travel in place in `a`: within one row, over
/// consecutive rows of a contiguous array, or as a vector of consecutive
/// rows that are each contiguous. None: it must be staged.
fn wire_of(a: &RawArray, c: &Chunk, row_of: impl Fn(usize) -> usize) -> Option<Wire> {
    let row_bytes = a.row_bytes();
    let (k0, k1) = (c.byte_offset / row_bytes, (c.byte_offset + c.byte_len - 1) / row_bytes);
    if k0 == k1 {
        if let Some(p) = a.row_ptr(row_of(k0)) {
            // SAFETY: the chunk lies inside this one row.
            return Some(Wire::Bytes(unsafe { p.add(c.byte_offset % row_bytes) }));
        }
    }
    let whole_rows = c.byte_offset.is_multiple_of(row_bytes) && c.byte_len.is_multiple_of(row_bytes);
    if !consecutive((k0..=k1).map(&row_of)) {
        if !whole_rows || row_bytes < SCATTERED_ROW_MIN_BYTES {
            return None;
        }
        let base = a.row_ptr(row_of(k0))?;
        let displacements = (k0..=k1)
            .map(|k| a.row_ptr(row_of(k)).map(|p| (p as isize).wrapping_sub(base as isize)))
            .collect::<Option<Vec<isize>>>()?;
        return Some(Wire::Scattered { base, displacements, row_bytes });
    }
    if let Some(p) = a.contiguous_ptr(row_of(k0) * row_bytes + c.byte_offset % row_bytes) {
        return Some(Wire::Bytes(p));
    }
    // Whole consecutive rows (a message longer than a row starts at a row).
    if whole_rows {
        if let Some(first) = a.row_ptr(row_of(k0)) {
            return Some(Wire::Rows { first, count: k1 - k0 + 1, row_bytes, stride: a.row_stride() });
        }
    }
    None
}

/// Where message `c` of the send stream over source rows `rows` is, in place.
fn send_wire(src: &RawArray, rows: &RowList, c: &Chunk) -> Option<Wire> {
    wire_of(src, c, |k| rows.at(k))
}

/// Where to receive message `c` in place (the first destination row of each received row).
fn recv_wire(dst: &RawArray, rows: &PeerRows, c: &Chunk) -> Option<Wire> {
    wire_of(dst, c, |k| rows.first_target(k))
}

/// The datatype of one peer's whole block in `a`: the given rows (each one
/// contiguous run), adjacent ones merged, at absolute addresses. None when
/// the block is empty.
fn block_type(a: &RawArray, rows: impl Iterator<Item = usize>) -> Result<Option<RowType>> {
    let row_bytes = a.row_bytes();
    if row_bytes == 0 {
        return Ok(None);
    }
    let mut blocks: Vec<(isize, usize)> = Vec::new();
    for r in rows {
        let at = a.row_ptr(r).ok_or_else(|| Error::invalid("the collective path needs rows that are contiguous runs"))? as isize;
        match blocks.last_mut() {
            Some((start, len)) if start.wrapping_add(*len as isize) == at => *len += row_bytes,
            _ => blocks.push((at, row_bytes)),
        }
    }
    if blocks.is_empty() {
        return Ok(None);
    }
    RowType::blocks_at(&blocks).map(Some)
}

/// Gathers the chunk's bytes from its source rows into `buf`.
fn pack_chunk(src: &RawArray, rows: &RowList, c: &Chunk, buf: &mut [u8]) {
    let row_bytes = src.row_bytes();
    for_each_piece(row_bytes, c, |k, within, n, at| src.pack(rows.at(k) * row_bytes + within, &mut buf[at..at + n]));
}

/// Copies a staged chunk into the first destination row of each received row.
fn unpack_received(dst: &RawArray, rows: &PeerRows, c: &Chunk, buf: &[u8]) {
    let row_bytes = dst.row_bytes();
    for_each_piece(row_bytes, c, |k, within, n, at| dst.unpack(rows.first_target(k) * row_bytes + within, &buf[at..at + n]));
}

/// Posts a send or receive of `len` bytes at `wire` (`send`: which one).
fn post(comm: MPI_Comm, wire: Wire, len: usize, peer: usize, send: bool, req: &mut MPI_Request) -> Result<()> {
    let what = if send { "MPI_Isend (row exchange)" } else { "MPI_Irecv (row exchange)" };
    let post_typed = |ptr: *mut u8, count: i32, datatype, req: &mut MPI_Request| {
        // SAFETY: ptr spans the message (count elements of datatype) in memory
        // that stays alive (and, for a receive, unread) until the request is done.
        let code = unsafe {
            if send {
                mpi::ffi::MPI_Isend(ptr as *const c_void, count, datatype, peer as i32, ENGINE_TAG, comm, req)
            } else {
                mpi::ffi::MPI_Irecv(ptr as *mut c_void, count, datatype, peer as i32, ENGINE_TAG, comm, req)
            }
        };
        check_mpi(code, what)
    };
    match wire {
        Wire::Bytes(ptr) => post_typed(ptr, to_int(len, "message length")?, crate::comm::byte_type(), req),
        // Freeing a type right after posting is allowed: the pending operation keeps it.
        Wire::Rows { first, count, row_bytes, stride } => post_typed(first, 1, crate::comm::RowType::vector(count, row_bytes, stride)?.raw(), req),
        Wire::Scattered { base, displacements, row_bytes } => {
            post_typed(base, 1, crate::comm::RowType::indexed(&displacements, row_bytes)?.raw(), req)
        }
    }
}

fn isend(comm: MPI_Comm, wire: Wire, len: usize, peer: usize, req: &mut MPI_Request) -> Result<()> {
    post(comm, wire, len, peer, true, req)
}

fn irecv(comm: MPI_Comm, wire: Wire, len: usize, peer: usize, req: &mut MPI_Request) -> Result<()> {
    post(comm, wire, len, peer, false, req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::BlockLayout;

    /// A plan from a block layout of `n` rows to a cyclic one (rank p gets
    /// rows p, p + size, ...): every rank needs scattered rows of every rank.
    fn transpose_plan(n: usize, size: usize, rank: usize) -> RowPlan {
        let layout = BlockLayout::new(n, size).unwrap();
        // destination rank p holds rows p, p + size, p + 2 size, ...; sources are blocks
        let needs = |p: usize| (0..n).filter(move |g| g % size == p);
        let ndst = (0..n).filter(|g| g % size == rank).count();
        RowPlan::build(size, rank, layout.sizes()[rank], ndst, needs, |g| Ok(layout.owner(g))).unwrap()
    }

    fn block_plan(n: usize, size: usize, rank: usize) -> RowPlan {
        // from blocks to blocks shifted by half a block: every rank talks to its neighbours, in runs
        let from = BlockLayout::new(n, size).unwrap();
        let shift = n / (2 * size);
        let to = BlockLayout::new(n, size).unwrap();
        let needs = move |p: usize| to.range(p).map(move |d| (d + shift) % n);
        let (nsrc, ndst) = (from.sizes()[rank], from.sizes()[rank]);
        RowPlan::build(size, rank, nsrc, ndst, needs, |g| Ok(from.owner(g))).unwrap()
    }

    #[test]
    fn messages_at_runs_are_cut_at_the_limit_when_rows_are_contiguous_everywhere() {
        // 1024 rows of 64 KiB over 8 ranks: each rank sends half its block
        // (64 rows, 4 MiB) to its neighbour, in one run.
        let plan = block_plan(1024, 8, 3);
        let row = 64 << 10;
        let s = plan.message_stats(|_| row, |_| row, 2_147_483_647, true).unwrap();
        assert_eq!((s.peers_sent_to, s.messages_sent, s.messages_received, s.passes), (1, 1, 1, 1), "{s:?}");
        // a lowered limit cuts the run: 4 MiB / 1 MiB
        let s = plan.message_stats(|_| row, |_| row, 1 << 20, true).unwrap();
        assert_eq!((s.messages_sent, s.passes), (4, 4), "{s:?}");
        // unknown rows: every message at most STAGED_MESSAGE_BYTES
        let wide = 1 << 20; // 64 MiB per peer
        let s = plan.message_stats(|_| wide, |_| wide, 2_147_483_647, false).unwrap();
        assert_eq!(s.passes, (64 << 20) / STAGED_MESSAGE_BYTES, "{s:?}");
        let s = plan.message_stats(|_| wide, |_| wide, 2_147_483_647, true).unwrap();
        assert_eq!(s.passes, 1, "{s:?}");
    }

    #[test]
    fn scattered_rows_are_cut_at_the_staging_size_whatever_the_ranks() {
        // every rank needs every size-th row: no runs; 8 B rows
        for size in [4, 64, 1024] {
            let plan = transpose_plan(1 << 14, size, 1);
            let s = plan.message_stats(|_| 8, |_| 8, 2_147_483_647, true).unwrap();
            // the per-peer block (rows / size^2 rows of 8 B) fits one message: one per peer, one pass
            assert_eq!(s.passes, 1, "{size} ranks: {s:?}");
            let mine = BlockLayout::new(1 << 14, size).unwrap().range(1);
            let mut peers: Vec<usize> = mine.map(|g| g % size).filter(|&p| p != 1).collect();
            peers.sort_unstable();
            peers.dedup();
            assert_eq!(s.peers_sent_to, peers.len(), "{size} ranks: {s:?}");
            assert!(s.max_outstanding <= 2 * MAX_OUTSTANDING, "{s:?}");
        }
    }

    #[test]
    fn passes_take_one_message_per_running_stream_in_order() {
        // streams 0, 1, 2 with 2, 0 and 3 messages, visited in the order 2, 0, 1
        let mut left = [2usize, 0, 3];
        let mut passes = Passes::new(vec![2, 0, 1]);
        let mut order = Vec::new();
        while let Some((i, _)) = passes
            .next(|i| {
                Ok((left[i] > 0).then(|| {
                    left[i] -= 1;
                    Chunk { row_start: 0, row_stop: 0, byte_offset: 0, byte_len: 0 }
                }))
            })
            .unwrap()
        {
            order.push(i);
        }
        assert_eq!(order, [2, 0, 2, 0, 2]);
    }

    #[test]
    fn the_window_bounds_requests_and_staged_bytes_but_admits_one_message() {
        let mut w = Window::default();
        assert!(w.admits(true, STAGING_BYTES * 4), "one staged message of any size when nothing is staged");
        w.add(true, STAGING_BYTES - 10);
        assert!(!w.admits(true, 11) && w.admits(true, 10) && w.admits(false, 1 << 30));
        w.remove(true, STAGING_BYTES - 10);
        for _ in 0..MAX_OUTSTANDING {
            assert!(w.admits(false, 8));
            w.add(false, 8);
        }
        assert!(!w.admits(false, 8) && !w.admits(true, 8));
    }

    #[test]
    fn runs_and_run_schedules() {
        assert_eq!(runs_of(&[0, 1, 2, 5, 6], &[3, 4, 5, 6, 7]), vec![3, 2]);
        assert_eq!(runs_of(&[0, 1, 2], &[0, 2, 3]), vec![1, 2]);
        // Two runs of 20 and 12 rows of 4 KiB, messages of at most 40 KiB:
        // no message crosses the run boundary at row 20.
        // (rows not known contiguous everywhere: 4 KiB rows are cut at runs, not as wide rows)
        let cut = Cut { limit: 40 << 10, staged: 40 << 10, in_place_runs: false };
        let mut s = Schedule::new(32, 4096, cut, Some(RunsRef::Lengths(&[20, 12]))).unwrap();
        assert!(s.at_runs());
        let mut chunks = Vec::new();
        while let Some(c) = s.take_next().unwrap() {
            chunks.push(c);
        }
        assert_eq!(chunks.iter().map(|c| c.byte_len).sum::<usize>(), 32 * 4096);
        assert!(chunks.iter().all(|c| c.row_stop <= 20 || c.row_start >= 20));
        assert!(chunks.windows(2).all(|w| w[0].byte_offset + w[0].byte_len == w[1].byte_offset));
        // Short runs: cut by size only.
        let cut = Cut { limit: 1024, staged: 1024, in_place_runs: true };
        assert!(!Schedule::new(32, 64, cut, Some(RunsRef::Lengths(&[1; 32]))).unwrap().at_runs());
        assert!(!Schedule::new(32, 64, cut, Some(RunsRef::EachRow(32))).unwrap().at_runs());
    }

    /// A plan from ranges moves the same rows as one from the equivalent
    /// lists, and stores no row list.
    #[test]
    fn range_plans_equal_list_plans() {
        let blocks = BlockLayout::new(10, 3).unwrap();
        for rank in 0..3 {
            let mine = blocks.sizes()[rank];
            let send = |p: usize| if p == 1 { 0..0 } else { 0..mine };
            let recv = |p: usize| if rank == 1 { 0..0 } else { blocks.range(p) };
            let ranged = RowPlan::from_ranges(3, rank, mine, 10, send, recv, true).unwrap();
            let lists = RowPlan::from_lists(rank, mine, 10, (0..3).map(|p| send(p).collect()).collect(), (0..3).map(|p| recv(p).collect()).collect(), true).unwrap();
            assert_eq!((ranged.rows_sent(), ranged.rows_received()), (lists.rows_sent(), lists.rows_received()));
            assert_eq!(ranged.peer_ranks(), lists.peer_ranks());
            for (a, b) in ranged.peers.iter().zip(&lists.peers) {
                assert!(matches!(a.send, RowList::Range(_)) && matches!(a.targets, RowList::Range(_)));
                assert_eq!(a.send.iter().collect::<Vec<_>>(), b.send.iter().collect::<Vec<_>>());
                assert_eq!((0..a.nrecv()).map(|k| a.first_target(k)).collect::<Vec<_>>(), (0..b.nrecv()).map(|k| b.first_target(k)).collect::<Vec<_>>());
            }
            let stats = |p: &RowPlan| p.message_stats(|_| 64, |_| 64, 1 << 20, true).unwrap();
            assert_eq!(stats(&ranged), stats(&lists));
        }
        assert!(RowPlan::from_ranges(3, 0, 2, 10, |_| 0..3, |_| 0..3, true).is_err());
        assert!(RowPlan::from_ranges(3, 0, 4, 10, |p| if p == 0 { 0..2 } else { 0..0 }, |_| 0..3, true).is_err());
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
        let rows = |p: &RowPlan, q: usize| p.peer_rows(q).cloned().unwrap_or_default();
        assert_eq!(rows(&p0, 0).send, RowList::List(vec![0]));
        assert_eq!(rows(&p0, 1).send, RowList::default());
        assert_eq!(rows(&p0, 1).nrecv(), 1);
        // rank 1 holds irr rows 1, 2; needs irr 1 twice-free: full rows 2, 3 = irr 1, 2
        assert_eq!(rows(&p1, 0).send, RowList::List(vec![0]));
        assert_eq!(rows(&p1, 1).send, RowList::List(vec![0, 1]));
        assert_eq!(p1.rows_sent(), 1);
        assert_eq!(p0.rows_received(), 1);
        // Only peers with rows have an entry.
        let sparse = RowPlan::build(1000, 3, 1, 1, |p| if p == 3 { vec![7] } else { Vec::new() }, |g| Ok((g, 0))).unwrap();
        assert_eq!(sparse.peers.iter().map(|r| r.peer).collect::<Vec<_>>(), [7]);
        assert_eq!((sparse.rows_received(), sparse.rows_sent()), (1, 0));
    }
}
