//! The work distributor: a block split of `ntasks` over the ranks of a private
//! communicator, and every collective a q-point-parallel code needs.
//!
//! Each collective first agrees on its arguments (one byte), broadcasts the
//! root's array header (dtype, shape, limit, flags) in pieces below the limit,
//! lets every rank check its own buffers against it, agrees again, and only
//! then moves data, so bad input fails on every rank instead of hanging one.
//! Data moves with one MPI collective over a derived "row" datatype when every
//! rank's block fits one message (and the buffers allow it); otherwise scatter
//! and gather go through the row-movement engine and allgather through chunked
//! per-rank broadcasts.

use crate::buffer::{try_bytes, RawArray};
use crate::bounds::RowChunks;
use crate::collective::{self, agree, agree_values, fingerprint, rows_fingerprint, ArrayHeader, Destination, HEADER_WORDS};
use crate::comm::{self, CommRef, ThreadBound, check_mpi, check_peer, check_tag_range, in_place, to_int, OwnedComm, RowType};
use crate::failure::Poison;
use crate::element::{DType, Element};
use crate::error::{Error, Result};
use crate::engine::{RowPlan, RowsInPlace};
use crate::layout::BlockLayout;
use crate::limit::resolve_limit;
use crate::primitives::{
    allocate_typed, bcast_body, check_disjoint, check_output, bcast_rows_in, bcast_rows_into_in, recv_bytes_raw, recv_rows_into_raw, send_bytes_raw,
    recv_rows_or_drain, send_rows_raw,
};
use crate::spill::SpillFile;
use mpi::ffi::MPI_Comm;
use mpi::raw::AsRaw;
use ndarray::{ArrayBase, ArrayD, Data, DataMut, Dimension};
use std::marker::PhantomData;
use std::ops::Range;
use std::os::raw::c_void;
use std::cell::RefCell;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};

/// Header flag: the root's array is not C-contiguous (forces the chunked path).
const ROOT_STRIDED: u64 = 1;

/// Tag offset of the array chunks of an N-point object (metadata at `base_tag`).
pub const NPOINT_ARRAY_TAG_OFFSET: i32 = 500;

/// Splits `ntasks` over the ranks of a duplicate of the caller's communicator
/// and runs chunked collectives on it. See the module documentation.
///
/// It holds two duplicates of the caller's communicator: a private one for
/// the library's own traffic (agreements, collectives, the row-movement
/// engine), which no user message can reach, and the one it hands to users
/// ([`Distributor::comm`]) and uses for [`Distributor::send_to_rank`] /
/// [`Distributor::recv_from_rank`] with user tags.
pub struct Distributor {
    /// Library traffic only; shared by the distributors this thread created
    /// over congruent communicators (see `library_comm`).
    comm: Rc<OwnedComm>,
    /// Handed to users; carries send_to_rank / recv_from_rank.
    user: OwnedComm,
    /// Equal on every rank of the distributor and different for every
    /// distributor a rank holds (orders the pair of a map, see `coordinator`).
    id: u64,
    layout: BlockLayout,
    rank: usize,
    spill: Option<SpillFile>,
    poison: Poison,
    /// Every rank's node label, per node order, once found (see
    /// `freq::node_aware_split_by`): the same on every rank for the
    /// distributor's life, so later splits skip finding the nodes.
    node_labels: RefCell<Vec<(crate::freq::NodeOrder, Vec<i64>)>>,
    /// `!Send + !Sync` with every MPI (see `comm::ThreadBound`).
    _thread: ThreadBound,
}

// SAFETY: the raw handle is our own duplicate (the user-facing one), valid for the distributor's life.
unsafe impl AsRaw for Distributor {
    type Raw = MPI_Comm;
    fn as_raw(&self) -> MPI_Comm {
        self.user.raw()
    }
}

/// How a new distributor splits its tasks over the ranks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Split<'a> {
    /// `n` tasks in blocks as even as possible, the excess on the last ranks.
    Even(usize),
    /// The given number of tasks on each rank.
    Sizes(&'a [usize]),
}

/// Identity of the next distributor this process creates (see `Distributor::id`).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The library communicators of this thread's live distributors, oldest first.
    static LIBRARY_COMMS: RefCell<Vec<Weak<OwnedComm>>> = const { RefCell::new(Vec::new()) };
}

/// The private communicator of a new distributor over `comm`: the oldest live
/// one of this thread that is congruent with `comm` (same ranks, same order),
/// when every rank has one, else a new duplicate. Distributors over the same
/// ranks thus share one library communicator, so a map's agreement meets
/// every rank whichever distributor a rank names first, or when one rank's
/// other handle is unusable; their traffic cannot interleave, since every
/// library call completes its messages before it returns. `user` (a fresh
/// duplicate) carries the 1-byte agreement on reuse.
fn library_comm(comm: MPI_Comm, user: MPI_Comm) -> Result<Rc<OwnedComm>> {
    let found = LIBRARY_COMMS.with(|live| {
        let mut live = live.borrow_mut();
        live.retain(|w| w.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).find(|c| {
            let mut result = 0;
            // SAFETY: both are valid communicators; the comparison is local.
            let code = unsafe { mpi::ffi::MPI_Comm_compare(c.raw(), comm, &mut result) };
            code == 0 && (result == mpi::ffi::MPI_CONGRUENT as i32 || result == mpi::ffi::MPI_IDENT as i32)
        })
    });
    let mut mine = [u8::from(found.is_none())];
    let mut any_missing = [0u8];
    comm::allreduce_max_bytes(user, &mut mine, &mut any_missing, 1, "library communicator reuse")?;
    if let (Some(shared), 0) = (found, any_missing[0]) {
        return Ok(shared);
    }
    let fresh = Rc::new(OwnedComm::dup(comm)?);
    LIBRARY_COMMS.with(|live| live.borrow_mut().push(Rc::downgrade(&fresh)));
    Ok(fresh)
}

impl Distributor {
    /// Creates a distributor over a duplicate of `comm` (collective). With an
    /// `output_path`, the rank's spill file `{name}_Rank{rank:05d}.hdf5` is
    /// created there (never truncated if present; opened read-only if it
    /// exists but cannot be written). When another open handle — another
    /// distributor with the same name and path, on any communicator, in this
    /// process or another — has that file, every rank fails (the open is
    /// agreed) with [`crate::Status::InvalidArgument`] naming it.
    pub fn new<C: AsRaw<Raw = MPI_Comm>>(comm: &C, ntasks: usize, name: &str, output_path: Option<&Path>) -> Result<Distributor> {
        Distributor::create(comm.as_raw(), Ok((ntasks, name, output_path)))
    }

    /// [`Distributor::new`] on a raw communicator handle (borrowed, not freed).
    ///
    /// # Safety
    /// `comm` must be a valid communicator handle of the MPI library dgampi
    /// was built against (not freed, not `MPI_COMM_NULL`-like garbage), valid
    /// for the duration of the call; the distributor keeps its own
    /// duplicates, so the caller may free `comm` afterwards.
    pub unsafe fn from_raw(comm: MPI_Comm, ntasks: usize, name: &str, output_path: Option<&Path>) -> Result<Distributor> {
        Distributor::create(comm, Ok((ntasks, name, output_path)))
    }

    /// A distributor whose ranks own the given numbers of tasks (`sizes`, one
    /// entry per rank of `comm`, ranks may own none), for splits that are
    /// not the even block split: the node-aware frequency split
    /// ([`crate::freq::node_aware_split`]), or a caller's own. Collective;
    /// every rank must pass the same sizes (checked: `Mismatch` everywhere
    /// otherwise). Otherwise as [`Distributor::new`].
    pub fn with_sizes<C: AsRaw<Raw = MPI_Comm>>(comm: &C, sizes: &[usize], name: &str, output_path: Option<&Path>) -> Result<Distributor> {
        Distributor::create_split(comm.as_raw(), Ok((Split::Sizes(sizes), name, output_path)))
    }

    /// Creates a distributor from arguments this rank may already have found
    /// bad (see [`Distributor::create_split`]).
    pub(crate) fn create(comm: MPI_Comm, args: Result<(usize, &str, Option<&Path>)>) -> Result<Distributor> {
        Distributor::create_split(comm, args.map(|(ntasks, name, path)| (Split::Even(ntasks), name, path)))
    }

    /// Creates a distributor from arguments this rank may already have found
    /// bad: the duplicate is made on every rank, then every rank learns of any
    /// rank's error, and the number of tasks and their split are checked to be
    /// equal everywhere (an even split and the same sizes given explicitly agree).
    pub(crate) fn create_split(comm: MPI_Comm, args: Result<(Split, &str, Option<&Path>)>) -> Result<Distributor> {
        let user = OwnedComm::dup(comm)?;
        let lib = library_comm(comm, user.raw())?;
        let raw = lib.raw();
        let (rank, size) = (comm::rank(raw)? as usize, comm::size(raw)? as usize);
        let limit = resolve_limit(0);
        let layout = args.as_ref().map_err(Clone::clone).and_then(|(split, _, _)| match *split {
            Split::Even(ntasks) => BlockLayout::new(ntasks, size),
            Split::Sizes(sizes) if sizes.len() != size => {
                Err(Error::invalid(format!("sizes has {} entries but the communicator has {size} ranks", sizes.len())))
            }
            Split::Sizes(sizes) => BlockLayout::from_sizes(sizes),
        });
        let local = layout.as_ref().map(|_| ()).map_err(Clone::clone).and(limit.as_ref().map(|_| ()).map_err(Clone::clone));
        let (ntasks, split) = layout.as_ref().map_or((0, 0), |l| (l.ntasks() as u64, fingerprint(l.sizes().iter().copied())));
        agree_values(raw, local, false, *limit.as_ref().unwrap_or(&1), &[("ntasks", ntasks), ("the split of the tasks over the ranks", split)])?;
        let (layout, (_, name, output_path)) = (layout?, args?);
        let id = agreed_id(raw)?;
        let mut spill = output_path.map(|dir| SpillFile::new(SpillFile::path_for(dir, name, rank as i32)));
        let opened = match spill.as_mut() {
            Some(file) => file.open(),
            None => Ok(()),
        };
        agree(raw, opened)?;
        Ok(Distributor { comm: lib, user, id, layout, rank, spill, poison: Poison::default(), node_labels: RefCell::default(), _thread: PhantomData })
    }

    /// The node labels found earlier for `order`, if any.
    pub(crate) fn known_node_labels(&self, order: crate::freq::NodeOrder) -> Option<Vec<i64>> {
        self.node_labels.borrow().iter().find(|(o, _)| *o == order).map(|(_, l)| l.clone())
    }

    /// Keeps the node labels every rank found for `order` (every rank, or none).
    pub(crate) fn remember_node_labels(&self, order: crate::freq::NodeOrder, labels: Vec<i64>) {
        self.node_labels.borrow_mut().push((order, labels));
    }

    /// Number of tasks split over the ranks.
    pub fn ntasks(&self) -> usize {
        self.layout.ntasks()
    }
    /// Number of ranks.
    pub fn mpi_size(&self) -> usize {
        self.layout.nranks()
    }
    /// This process's rank.
    pub fn my_rank(&self) -> usize {
        self.rank
    }
    /// True on rank 0.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }
    /// Tasks per rank.
    pub fn sizes(&self) -> &[usize] {
        self.layout.sizes()
    }
    /// First task of each rank.
    pub fn offsets(&self) -> &[usize] {
        self.layout.offsets()
    }
    /// This rank's number of tasks.
    pub fn my_size(&self) -> usize {
        self.layout.sizes()[self.rank]
    }
    /// This rank's first task.
    pub fn my_offset(&self) -> usize {
        self.layout.offsets()[self.rank]
    }
    /// This rank's tasks.
    pub fn my_tasks(&self) -> Range<usize> {
        self.layout.range(self.rank)
    }
    /// The block layout.
    pub fn layout(&self) -> &BlockLayout {
        &self.layout
    }
    /// The distributor's user communicator (a duplicate of the caller's, the
    /// one [`Distributor::send_to_rank`] uses), lent for as long as the
    /// distributor is borrowed; dgampi frees it when the distributor drops.
    /// The library's own traffic runs on another, private duplicate that
    /// users never see.
    pub fn comm(&self) -> CommRef<'_> {
        // SAFETY: our own duplicate, freed only when self drops, which the
        // borrow prevents while the CommRef lives.
        unsafe { CommRef::new(self.user.raw()) }
    }
    /// The raw handle of the user communicator (borrowed).
    pub fn raw_comm(&self) -> MPI_Comm {
        self.user.raw()
    }

    /// The private communicator of the library's traffic (borrowed).
    pub(crate) fn lib_comm(&self) -> MPI_Comm {
        self.comm.raw()
    }

    fn raw(&self) -> MPI_Comm {
        self.comm.raw()
    }

    /// The identity shared by this distributor's ranks (see `NEXT_ID`).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The object's failure record (see [`crate::failure`]).
    pub(crate) fn poison(&self) -> &Poison {
        &self.poison
    }

    /// Blocks until every rank arrives (the status agreement synchronizes like
    /// a barrier, and reports a poisoned distributor on every rank).
    pub fn barrier(&self) -> Result<()> {
        agree(self.raw(), self.poison.check("distributor"))
    }

    // ------------------------------------------------------------ agreement

    /// Step 1 of a collective ([`collective::open`] on the library
    /// communicator, with this distributor's poison and ranks) with `values`
    /// that must match across ranks. Returns the resolved limit.
    pub(crate) fn begin_with(&self, root: i32, limit: usize, values: &[(&str, u64)], extra: impl FnOnce() -> Result<()>) -> Result<usize> {
        collective::open(self.raw(), Some(&self.poison), root, self.mpi_size(), limit, values, extra)
    }

    /// The opening of a collective whose buffers this rank has checked
    /// already (`local`): one agreement ([`collective::agree_record`]) on the
    /// outcome, the root, the limit and `values` (`None`: not known here),
    /// with `tail` reduced with MAX (flags, the root's header). Returns the
    /// resolved limit.
    fn open_checked<T>(&self, root: i32, limit: usize, values: &[(&str, Option<u64>)], tail: &mut [u8], local: &Result<T>) -> Result<usize> {
        collective::open_record(self.raw(), Some(&self.poison), root, self.mpi_size(), limit, values, tail, || {
            local.as_ref().map(drop).map_err(Clone::clone)
        })
    }

    /// Checks that `a` holds this rank's block: `my_size` rows.
    fn check_rows(&self, a: &RawArray, what: &str) -> Result<()> {
        if a.nrows() != self.my_size() {
            return Err(Error::mismatch(format!(
                "{what} on rank {} is {:?} {} but must have this rank's {} tasks as rows (of {})",
                self.rank,
                a.shape(),
                a.dtype().name(),
                self.my_size(),
                self.ntasks()
            )));
        }
        Ok(())
    }

    /// Step 2 ([`collective::share_header`]): the root's header on every rank.
    pub(crate) fn share_header(&self, root: i32, mine: Option<ArrayHeader>, limit: usize) -> Result<ArrayHeader> {
        collective::share_header(self.raw(), root, mine, limit)
    }

    /// Step 3 ([`collective::confirm`]): agrees on every rank's check of its
    /// buffers; returns whether any rank raised `flag`.
    pub(crate) fn confirm(&self, local: Result<()>, flag: bool) -> Result<bool> {
        collective::confirm(self.raw(), local, flag)
    }

    /// Header of a block of this rank's shape for the full-array header `full`.
    pub(crate) fn block_header(&self, full: &ArrayHeader, rank: usize) -> ArrayHeader {
        let mut h = full.clone();
        h.shape[0] = self.layout.sizes()[rank];
        h.flags = 0;
        h
    }

    pub(crate) fn check_block(&self, a: &RawArray, full: &ArrayHeader, what: &str) -> Result<()> {
        let expected = self.block_header(full, self.rank);
        if a.dtype() != expected.dtype || a.shape() != expected.shape.as_slice() {
            return Err(Error::mismatch(format!(
                "{what} on rank {} is {:?} {} but must be {:?} {} (this rank's {} tasks of a {:?} {} array)",
                self.rank,
                a.shape(),
                a.dtype().name(),
                expected.shape,
                expected.dtype.name(),
                self.my_size(),
                full.shape,
                full.dtype.name()
            )));
        }
        Ok(())
    }

    /// True when every rank's block fits one message, so one MPI collective can move it.
    fn blocks_fit(&self, row_bytes: usize, limit: usize) -> bool {
        self.layout.max_size().saturating_mul(row_bytes) <= limit
    }

    /// The engine plan between the root holding all tasks (in order) and the
    /// block layout: root → blocks (`to_blocks`, scatter) or blocks → root (gather).
    fn root_plan(&self, root: usize, to_blocks: bool) -> Result<RowPlan> {
        let (n, size) = (self.ntasks(), self.mpi_size());
        let all_on_root = |r: usize| if r == root { n } else { 0 };
        if to_blocks {
            RowPlan::build(size, self.rank, all_on_root(self.rank), self.my_size(), |p| self.layout.range(p), |g| Ok((root, g)))
        } else {
            RowPlan::build(size, self.rank, self.my_size(), all_on_root(self.rank), |p| 0..all_on_root(p), |g| Ok(self.layout.owner(g)))
        }
    }

    fn counts_and_displs(&self) -> Result<(Vec<i32>, Vec<i32>)> {
        let counts = self.sizes().iter().map(|&n| to_int(n, "block size in rows")).collect::<Result<_>>()?;
        let displs = self.offsets().iter().map(|&n| to_int(n, "block offset in rows")).collect::<Result<_>>()?;
        Ok((counts, displs))
    }

    // ------------------------------------------------------------ scatter

    /// Scatters the root's `[ntasks, ...]` array (`send`, read on the root only)
    /// into each rank's `[my_size, ...]` block (raw form of [`Distributor::scatter`]).
    /// Non-root ranks learn dtype and trailing shape from the root.
    pub(crate) fn scatter_raw(&self, send: Option<&RawArray>, mut out: Destination, root: i32, limit: usize) -> Result<RawArray> {
        let is_root = self.rank as i32 == root;
        let send = send.filter(|_| is_root);
        // One opening: the root's header travels in it, every rank that holds
        // an output (or the array) checks it first and gives its row type;
        // ranks that allocate from the root's header confirm afterwards.
        let root_header = send.map(|a| {
            let mut h = ArrayHeader::of(a, resolve_limit(limit).unwrap_or(1));
            h.flags = if a.is_contiguous() { 0 } else { ROOT_STRIDED };
            h
        });
        let mut rows = None;
        let local: Result<Option<(RawArray, bool)>> = (|| {
            if is_root {
                let a = send.ok_or_else(|| Error::null("the root must provide the array to scatter"))?;
                if a.nrows() != self.ntasks() {
                    return Err(Error::invalid(format!(
                        "the array to scatter has leading length {} but the distributor has {} tasks \
                         (this rank's block would be {})",
                        a.nrows(),
                        self.ntasks(),
                        self.my_size()
                    )));
                }
                rows = Some(rows_fingerprint(a.dtype(), a.row_shape()));
            }
            let dst = match (&out, &root_header) {
                (Destination::Into(o), _) => {
                    self.check_rows(o, "the scatter output")?;
                    let fp = rows_fingerprint(o.dtype(), o.row_shape());
                    if rows.is_some_and(|r| r != fp) {
                        return Err(Error::mismatch(format!(
                            "the scatter output on the root is {:?} {} but the array to scatter has rows {:?} {}",
                            o.shape(),
                            o.dtype().name(),
                            send.map_or(&[][..], |a| a.row_shape()),
                            send.map_or("?", |a| a.dtype().name())
                        )));
                    }
                    rows = Some(fp);
                    let h = ArrayHeader { dtype: o.dtype(), shape: o.shape().to_vec(), limit: 0, flags: 0 };
                    out.resolve(&h, "scatter output")?
                }
                (Destination::Alloc(_), Some(h)) => out.resolve(&self.block_header(h, self.rank), "scatter output")?,
                (Destination::Alloc(_), None) => return Ok(None),
            };
            let in_place = match send {
                Some(a) => {
                    let slot = a.rows(self.my_offset(), self.my_offset() + self.my_size());
                    check_disjoint(a, &dst, Some((&slot, &dst)), "the scatter output", "the array to scatter")?
                }
                None => false,
            };
            Ok(Some((dst, in_place)))
        })();
        let allocates = matches!(local, Ok(None));
        let mut tail = collective::header_tail(if allocates { collective::FLAG_ALLOCATES } else { 0 }, root_header.as_ref());
        let limit = self.open_checked(root, limit, &[("the dtype or row shape of the scattered array", rows)], &mut tail, &local)?;
        let header = collective::tail_header(&tail)?;
        let (dst, in_place) = if tail[0] & collective::FLAG_ALLOCATES != 0 {
            let dst = match local? {
                Some(d) => Ok(d),
                None => out.resolve(&self.block_header(&header, self.rank), "scatter output").map(|d| (d, false)),
            };
            self.confirm(dst.as_ref().map(drop).map_err(Clone::clone), false)?;
            dst?
        } else {
            local?.expect("every rank resolved its output before the opening")
        };
        let row_bytes = header.row_bytes();
        if self.ntasks() == 0 || row_bytes == 0 {
            return Ok(dst);
        }
        self.poison.guard(|| {
            if self.blocks_fit(row_bytes, limit) && header.flags & ROOT_STRIDED == 0 {
                let row = RowType::new(row_bytes)?;
                let (counts, displs) = self.counts_and_displs()?;
                let sendbuf = send.filter(|_| is_root).map_or(std::ptr::null_mut(), |a| a.contiguous_ptr(0).expect("contiguous"));
                let scatterv = |recv: *mut u8| {
                    check_mpi(
                        // SAFETY: buffers hold the counted rows; counts and displs have mpi_size entries.
                        unsafe {
                            mpi::ffi::MPI_Scatterv(
                                sendbuf as *const c_void,
                                counts.as_ptr(),
                                displs.as_ptr(),
                                row.raw(),
                                recv as *mut c_void,
                                counts[self.rank],
                                row.raw(),
                                root,
                                self.raw(),
                            )
                        },
                        "MPI_Scatterv",
                    )
                };
                if in_place {
                    scatterv(comm::in_place() as *mut u8)
                } else {
                    with_contiguous_out(&dst, scatterv)
                }
            } else {
                // Through the row-movement engine: root's rows to every block
                // (the root's own rows are copied onto themselves when in place).
                let src = send.filter(|_| is_root).cloned().unwrap_or_else(|| dst.rows(0, 0));
                self.root_plan(root as usize, true)?.run(self.raw(), &src, &dst, limit, RowsInPlace::Unknown)
            }
        })?;
        Ok(dst)
    }

    /// Scatters the root's `[ntasks, ...]` array; every rank gets its block.
    /// Non-root ranks pass `None`.
    pub fn scatter<T, S, D>(&self, data: Option<&ArrayBase<S, D>>, root: i32, limit: usize) -> Result<ArrayD<T>>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let raw = data.map(RawArray::from_ndarray).transpose()?;
        let mut slot: Option<ArrayD<T>> = None;
        let mut alloc = |h: &ArrayHeader| allocate_typed(&mut slot, h);
        self.scatter_raw(raw.as_ref(), Destination::Alloc(&mut alloc), root, limit)?;
        Ok(slot.expect("scatter allocated its output"))
    }

    /// Scatters the root's array into `out` (`[my_size, ...]`) on every rank.
    pub fn scatter_into<T, S, D, S2, D2>(
        &self,
        data: Option<&ArrayBase<S, D>>,
        out: &mut ArrayBase<S2, D2>,
        root: i32,
        limit: usize,
    ) -> Result<()>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
        S2: DataMut<Elem = T>,
        D2: Dimension,
    {
        let raw = data.map(RawArray::from_ndarray).transpose()?;
        let out = RawArray::from_ndarray_mut(out)?;
        self.scatter_raw(raw.as_ref(), Destination::Into(&out), root, limit).map(|_| ())
    }

    // ------------------------------------------------------------ gather

    /// Gathers every rank's `[my_size, ...]` block into the root's
    /// `[ntasks, ...]` array in task order (raw form of [`Distributor::gather`]).
    /// `out` is used on the root only; other ranks get `None`.
    pub(crate) fn gather_raw(&self, block: &RawArray, mut out: Destination, root: i32, limit: usize) -> Result<Option<RawArray>> {
        let is_root = self.rank as i32 == root;
        // One opening: every rank checks its block and gives its row type;
        // the root resolves (or allocates) its output first.
        let full = ArrayHeader { dtype: block.dtype(), shape: collective::with_rows(self.ntasks(), block.row_shape()), limit: 0, flags: 0 };
        let local = self.check_rows(block, "the block to gather").and_then(|()| {
            if !is_root {
                return Ok(None);
            }
            let dst = out.resolve(&full, "gather output")?;
            let slot = dst.rows(self.my_offset(), self.my_offset() + self.my_size());
            let in_place = check_disjoint(block, &dst, Some((&slot, block)), "the gather output", "the block to gather")?;
            Ok(Some((dst, in_place)))
        });
        // Only the root can raise the flag: "the root's output is strided".
        let root_strided = local.as_ref().ok().and_then(|d| d.as_ref()).is_some_and(|d| !d.0.is_contiguous());
        let mut tail = [if root_strided { collective::FLAG_STRIDED } else { 0 }];
        let values = [("the dtype or row shape of the blocks", Some(rows_fingerprint(block.dtype(), block.row_shape())))];
        let limit = self.open_checked(root, limit, &values, &mut tail, &local)?;
        let root_out_strided = tail[0] & collective::FLAG_STRIDED != 0;
        let (dst, in_place) = match local? {
            Some((d, in_place)) => (Some(d), in_place),
            None => (None, false),
        };
        let row_bytes = full.row_bytes();
        if self.ntasks() == 0 || row_bytes == 0 {
            return Ok(dst);
        }
        self.poison.guard(|| {
            if self.blocks_fit(row_bytes, limit) && !root_out_strided {
                let row = RowType::new(row_bytes)?;
                let (counts, displs) = self.counts_and_displs()?;
                let recvbuf = dst.as_ref().map_or(std::ptr::null_mut(), |d| d.contiguous_ptr(0).expect("contiguous"));
                let gatherv = |send: *const u8| {
                    check_mpi(
                        // SAFETY: buffers hold the counted rows; counts and displs have mpi_size entries.
                        unsafe {
                            mpi::ffi::MPI_Gatherv(
                                send as *const c_void,
                                counts[self.rank],
                                row.raw(),
                                recvbuf as *mut c_void,
                                counts.as_ptr(),
                                displs.as_ptr(),
                                row.raw(),
                                root,
                                self.raw(),
                            )
                        },
                        "MPI_Gatherv",
                    )
                };
                if in_place {
                    gatherv(comm::in_place() as *const u8)
                } else {
                    with_contiguous_in(block, gatherv)
                }
            } else {
                // Through the row-movement engine: every block to the root's rows.
                let target = dst.clone().unwrap_or_else(|| block.rows(0, 0));
                self.root_plan(root as usize, false)?.run(self.raw(), block, &target, limit, RowsInPlace::Unknown)
            }
        })?;
        Ok(dst)
    }

    /// Gathers every rank's block into a new `[ntasks, ...]` array on the root
    /// (`Some` there, `None` elsewhere).
    pub fn gather<T, S, D>(&self, block: &ArrayBase<S, D>, root: i32, limit: usize) -> Result<Option<ArrayD<T>>>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let raw = RawArray::from_ndarray(block)?;
        let mut slot: Option<ArrayD<T>> = None;
        let mut alloc = |h: &ArrayHeader| allocate_typed(&mut slot, h);
        self.gather_raw(&raw, Destination::Alloc(&mut alloc), root, limit)?;
        Ok(slot)
    }

    /// Gathers every rank's block into the root's `out` (`[ntasks, ...]`);
    /// other ranks pass `None`.
    pub fn gather_into<T, S, D, S2, D2>(
        &self,
        block: &ArrayBase<S, D>,
        out: Option<&mut ArrayBase<S2, D2>>,
        root: i32,
        limit: usize,
    ) -> Result<()>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
        S2: DataMut<Elem = T>,
        D2: Dimension,
    {
        let raw = RawArray::from_ndarray(block)?;
        let out = out.map(RawArray::from_ndarray_mut).transpose()?;
        let mut missing = |_: &ArrayHeader| -> Result<RawArray> { Err(Error::null("the root must provide the gather output")) };
        let dest = match out.as_ref() {
            Some(o) => Destination::Into(o),
            None => Destination::Alloc(&mut missing),
        };
        self.gather_raw(&raw, dest, root, limit).map(|_| ())
    }

    // ------------------------------------------------------------ allgather

    /// Gathers every rank's block into the full `[ntasks, ...]` array on every
    /// rank (raw form of [`Distributor::allgather`]). Dtype and trailing shape
    /// come from rank 0 and are checked everywhere.
    pub(crate) fn allgather_raw(&self, block: &RawArray, mut out: Destination, limit: usize) -> Result<RawArray> {
        // One opening: every rank checks its block, resolves (or allocates)
        // its output and gives its row type.
        let full = ArrayHeader { dtype: block.dtype(), shape: collective::with_rows(self.ntasks(), block.row_shape()), limit: 0, flags: 0 };
        let local = self.check_rows(block, "the block to allgather").and_then(|()| out.resolve(&full, "allgather output")).and_then(|dst| {
            let slot = dst.rows(self.my_offset(), self.my_offset() + self.my_size());
            let in_place = check_disjoint(block, &dst, Some((&slot, block)), "the allgather output", "the block to allgather")?;
            Ok((dst, in_place))
        });
        let strided_out = local.as_ref().is_ok_and(|d| !d.0.is_contiguous());
        let mut tail = [if strided_out { collective::FLAG_STRIDED } else { 0 }];
        let values = [("the dtype or row shape of the blocks", Some(rows_fingerprint(block.dtype(), block.row_shape())))];
        let limit = self.open_checked(0, limit, &values, &mut tail, &local)?;
        let any_strided = tail[0] & collective::FLAG_STRIDED != 0;
        let (dst, in_place) = local?;
        let row_bytes = full.row_bytes();
        if self.ntasks() == 0 || row_bytes == 0 {
            return Ok(dst);
        }
        self.poison.guard(|| {
            // MPI_Allgatherv may merge blocks into one message (Open MPI's
            // neighbour exchange sends two, Bruck and recursive doubling up to
            // half the array), so it is used only when the whole array fits
            // the limit; otherwise every block is broadcast in chunks.
            if full.shape[0].saturating_mul(row_bytes) <= limit && !any_strided {
                let row = RowType::new(row_bytes)?;
                let (counts, displs) = self.counts_and_displs()?;
                let recvbuf = dst.contiguous_ptr(0).expect("contiguous");
                let allgatherv = |send: *const u8| {
                    check_mpi(
                        // SAFETY: buffers hold the counted rows; counts and displs have mpi_size entries.
                        unsafe {
                            mpi::ffi::MPI_Allgatherv(
                                send as *const c_void,
                                counts[self.rank],
                                row.raw(),
                                recvbuf as *mut c_void,
                                counts.as_ptr(),
                                displs.as_ptr(),
                                row.raw(),
                                self.raw(),
                            )
                        },
                        "MPI_Allgatherv",
                    )
                };
                if in_place {
                    allgatherv(comm::in_place() as *const u8)
                } else {
                    with_contiguous_in(block, allgatherv)
                }
            } else {
                let mine = self.my_tasks();
                if !in_place {
                    dst.rows(mine.start, mine.end).copy_from(block, limit)?;
                }
                for r in 0..self.mpi_size() {
                    let range = self.layout.range(r);
                    bcast_body(self.raw(), &dst.rows(range.start, range.end), r as i32, r == self.rank, limit)?;
                }
                Ok(())
            }
        })?;
        Ok(dst)
    }

    /// Gathers every rank's block into a new full array on every rank.
    pub fn allgather<T, S, D>(&self, block: &ArrayBase<S, D>, limit: usize) -> Result<ArrayD<T>>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let raw = RawArray::from_ndarray(block)?;
        let mut slot: Option<ArrayD<T>> = None;
        let mut alloc = |h: &ArrayHeader| allocate_typed(&mut slot, h);
        self.allgather_raw(&raw, Destination::Alloc(&mut alloc), limit)?;
        Ok(slot.expect("allgather allocated its output"))
    }

    /// Gathers every rank's block into `out` (`[ntasks, ...]`) on every rank.
    pub fn allgather_into<T, S, D, S2, D2>(&self, block: &ArrayBase<S, D>, out: &mut ArrayBase<S2, D2>, limit: usize) -> Result<()>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
        S2: DataMut<Elem = T>,
        D2: Dimension,
    {
        let raw = RawArray::from_ndarray(block)?;
        let out = RawArray::from_ndarray_mut(out)?;
        self.allgather_raw(&raw, Destination::Into(&out), limit).map(|_| ())
    }

    // ------------------------------------------------------------ allreduce

    /// Sums `a` element-wise over all ranks, in place (raw form of
    /// [`Distributor::allreduce`]). Shape and dtype must be equal everywhere.
    pub(crate) fn allreduce_raw(&self, a: &RawArray, limit: usize) -> Result<()> {
        // One opening: every rank checks its array and gives its dtype and shape.
        let local = check_output(a, "the array to reduce");
        let values = [("the dtype or shape of the array to reduce", Some(rows_fingerprint(a.dtype(), a.shape())))];
        let limit = self.open_checked(0, limit, &values, &mut [], &local)?;
        let elem = a.dtype().size();
        let total = a.total_bytes();
        if total == 0 {
            return Ok(());
        }
        self.poison.guard(|| if elem <= limit { self.allreduce_chunks(a, limit / elem * elem) } else { self.allreduce_bytewise(a, limit) })
    }

    /// Reduces in chunks of `chunk` bytes (whole elements) with MPI_Allreduce,
    /// in place for a contiguous array, through two staging chunks otherwise.
    fn allreduce_chunks(&self, a: &RawArray, chunk: usize) -> Result<()> {
        let (dtype, total) = (a.dtype(), a.total_bytes());
        let contiguous = a.is_contiguous();
        let staging_len = if contiguous { 0 } else { chunk.min(total) };
        let (mut send, mut recv) = (try_bytes(staging_len, "allreduce staging")?, try_bytes(staging_len, "allreduce staging")?);
        let mut off = 0;
        while off < total {
            let n = chunk.min(total - off);
            let count = to_int(n / dtype.size(), "elements per reduction chunk")?;
            let (src, dst): (*const c_void, *mut c_void) = match a.contiguous_ptr(off) {
                Some(d) => (in_place() as *const c_void, d as *mut c_void),
                None => {
                    a.pack(off, &mut send[..n]);
                    (send.as_ptr() as *const c_void, recv.as_mut_ptr() as *mut c_void)
                }
            };
            check_mpi(
                // SAFETY: src and dst span `count` elements of `dtype`.
                unsafe { mpi::ffi::MPI_Allreduce(src, dst, count, dtype.mpi_datatype(), mpi::ffi::RSMPI_SUM, self.raw()) },
                "MPI_Allreduce",
            )?;
            if !contiguous {
                a.unpack(off, &recv[..n]);
            }
            off += n;
        }
        Ok(())
    }

    /// Reduces when one element exceeds the limit: blocks of elements travel to
    /// rank 0 as byte chunks, are summed there in rank order, and are broadcast back.
    fn allreduce_bytewise(&self, a: &RawArray, limit: usize) -> Result<()> {
        let (dtype, total) = (a.dtype(), a.total_bytes());
        // At most 16 KiB per block keeps the byte-chunk tags below 32767 (MPI's minimum TAG_UB).
        let block = (16384 / dtype.size()).max(1) * dtype.size();
        let mut mine = try_bytes(block.min(total), "allreduce staging")?;
        let mut theirs = try_bytes(block.min(total), "allreduce staging")?;
        let mut off = 0;
        while off < total {
            let n = block.min(total - off);
            a.pack(off, &mut mine[..n]);
            // SAFETY: the byte views cover the first n bytes of the staging vectors.
            let (mine_view, theirs_view) = unsafe { (RawArray::bytes(mine.as_mut_ptr(), n), RawArray::bytes(theirs.as_mut_ptr(), n)) };
            if self.is_root() {
                for r in 1..self.mpi_size() {
                    recv_rows_into_raw(self.raw(), &theirs_view, r as i32, 0, limit)?;
                    add_assign(dtype, &mut mine[..n], &theirs[..n]);
                }
            } else {
                send_rows_raw(self.raw(), &mine_view, 0, 0, limit)?;
            }
            bcast_body(self.raw(), &mine_view, 0, self.is_root(), limit)?;
            a.unpack(off, &mine[..n]);
            off += n;
        }
        Ok(())
    }

    /// Sums `data` element-wise over all ranks, in place.
    pub fn allreduce<T, S, D>(&self, data: &mut ArrayBase<S, D>, limit: usize) -> Result<()>
    where
        T: Element,
        S: DataMut<Elem = T>,
        D: Dimension,
    {
        self.allreduce_raw(&RawArray::from_ndarray_mut(data)?, limit)
    }

    // ------------------------------------------------------------ broadcasts

    /// Broadcasts the root's byte blob of any length; on other ranks `data` is
    /// replaced by the root's bytes.
    pub fn bcast_bytes(&self, data: &mut Vec<u8>, root: i32, limit: usize) -> Result<()> {
        let is_root = self.rank as i32 == root;
        // SAFETY: the view covers data's initialized bytes, read on the root only.
        let mine = unsafe { RawArray::bytes(data.as_mut_ptr(), data.len()) };
        let mut alloc = |h: &ArrayHeader| -> Result<RawArray> {
            *data = try_bytes(h.shape[0], "the broadcast bytes")?;
            // SAFETY: data now holds h.shape[0] bytes.
            Ok(unsafe { RawArray::bytes(data.as_mut_ptr(), data.len()) })
        };
        bcast_rows_in(self.raw(), Ok(is_root.then_some(&mine)), root, limit, &mut alloc, Some(&self.poison))?;
        Ok(())
    }

    /// Broadcasts the root's array (dtype and shape travel first) to ranks that
    /// allocate it (raw form of [`Distributor::bcast_chunked`]).
    pub(crate) fn bcast_chunked_raw(
        &self,
        data: Option<&RawArray>,
        root: i32,
        limit: usize,
        alloc: &mut dyn FnMut(&ArrayHeader) -> Result<RawArray>,
    ) -> Result<ArrayHeader> {
        bcast_rows_in(self.raw(), Ok(data), root, limit, alloc, Some(&self.poison))
    }

    /// Broadcasts the root's `data` into every rank's `data` (raw form of
    /// [`Distributor::bcast_chunked_into`]; shapes must match the root's).
    pub(crate) fn bcast_chunked_into_raw(&self, data: Result<&RawArray>, root: i32, limit: usize) -> Result<()> {
        bcast_rows_into_in(self.raw(), data, root, limit, Some(&self.poison))
    }

    /// Broadcasts the root's array; other ranks get a new array (`Some`), the
    /// root gets `None`.
    pub fn bcast_chunked<T, S, D>(&self, data: Option<&ArrayBase<S, D>>, root: i32, limit: usize) -> Result<Option<ArrayD<T>>>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let raw = data.map(RawArray::from_ndarray).transpose()?;
        let mut received: Option<ArrayD<T>> = None;
        let mut alloc = |h: &ArrayHeader| allocate_typed(&mut received, h);
        self.bcast_chunked_raw(raw.as_ref(), root, limit, &mut alloc)?;
        Ok(received)
    }

    /// Broadcasts the root's `data` into `data` on every rank (shapes must match).
    pub fn bcast_chunked_into<T, S, D>(&self, data: &mut ArrayBase<S, D>, root: i32, limit: usize) -> Result<()>
    where
        T: Element,
        S: DataMut<Elem = T>,
        D: Dimension,
    {
        self.bcast_chunked_into_raw(RawArray::from_ndarray_mut(data).as_ref().map_err(Clone::clone), root, limit)
    }

    /// Broadcasts an N-point object: the metadata blob `meta` and the array
    /// `mat` (raw chunks, never copied into the blob). On non-root ranks `meta`
    /// is replaced and `alloc` provides the array (raw form of
    /// [`Distributor::bcast_npoint`]).
    pub(crate) fn bcast_npoint_raw(
        &self,
        meta: &mut Vec<u8>,
        mat: Option<&RawArray>,
        root: i32,
        limit: usize,
        alloc: &mut dyn FnMut(&ArrayHeader) -> Result<RawArray>,
    ) -> Result<ArrayHeader> {
        self.bcast_bytes(meta, root, limit)?;
        self.bcast_chunked_raw(mat, root, limit, alloc)
    }

    /// Broadcasts an N-point object (metadata + array); non-root ranks get the
    /// root's metadata in `meta` and the array as `Some`.
    pub fn bcast_npoint<T, S, D>(
        &self,
        meta: &mut Vec<u8>,
        mat: Option<&ArrayBase<S, D>>,
        root: i32,
        limit: usize,
    ) -> Result<Option<ArrayD<T>>>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        self.bcast_bytes(meta, root, limit)?;
        self.bcast_chunked(mat, root, limit)
    }

    // ------------------------------------------------------------ N-point objects

    /// Sends an N-point object to `dest` on the user communicator (a poisoned
    /// distributor still sends: only its library traffic is suspect): the
    /// metadata blob (with the array's header in front) as bytes at
    /// `base_tag`, then the array as a row transfer at `base_tag + 500` (its
    /// small header there, raw chunk `i` at `base_tag + 501 + i`). Both tag
    /// ranges are checked against `MPI_TAG_UB`
    /// before anything is sent. Sending to oneself is refused with
    /// `InvalidArgument`: the blocking sends would deadlock (the free-standing
    /// primitives allow it, and deadlock like `MPI_Send` above the eager size).
    pub(crate) fn send_to_rank_raw(&self, meta: &[u8], mat: &RawArray, dest: i32, base_tag: i32, limit: usize) -> Result<()> {
        self.check_not_self(dest, "send_to_rank destination")?;
        let limit = resolve_limit(limit)?;
        let array_tag = npoint_array_tag(base_tag)?;
        let mut blob = ArrayHeader::of(mat, limit).to_bytes();
        blob.try_reserve(meta.len()).map_err(|_| Error::new(crate::Status::AllocationFailed, format!("cannot allocate {} bytes of metadata", meta.len())))?;
        blob.extend_from_slice(meta);
        // Check both tag ranges before anything is sent (the header piece, then
        // the chunks, of the blob and of the array).
        let user = self.user.raw();
        check_tag_range(user, base_tag, blob.len().div_ceil(limit) + 1)?;
        check_tag_range(user, array_tag, RowChunks::new(mat.nrows(), mat.row_bytes(), limit)?.count() + 1)?;
        send_bytes_raw(user, &blob, dest, base_tag, limit)?;
        send_rows_raw(user, mat, dest, array_tag, limit)
    }

    /// Receives an N-point object sent by [`Distributor::send_to_rank_raw`];
    /// returns the metadata and the array written into `out`. When `out`
    /// rejects the array, its chunks are drained so they cannot match later.
    pub(crate) fn recv_from_rank_raw(&self, source: i32, base_tag: i32, mut out: Destination) -> Result<(Vec<u8>, RawArray)> {
        self.check_not_self(source, "recv_from_rank source")?;
        let array_tag = npoint_array_tag(base_tag)?;
        let user = self.user.raw();
        check_tag_range(user, array_tag, 1)?;
        let mut blob = Vec::new();
        recv_bytes_raw(user, source, base_tag, &mut |n| {
            blob = try_bytes(n, "the N-point metadata")?;
            Ok(blob.as_mut_ptr())
        })?;
        let header = match ArrayHeader::from_bytes(&blob) {
            Ok(h) => h,
            Err(e) => {
                crate::primitives::drain_rows(user, source, array_tag)?;
                return Err(e);
            }
        };
        let meta = blob.split_off(HEADER_WORDS * 8);
        let dst = recv_rows_or_drain(user, out.resolve(&header, "recv_from_rank output"), source, array_tag)?;
        Ok((meta, dst))
    }

    /// Sends an N-point object (`meta` blob + `mat` array) to `dest`.
    pub fn send_to_rank<T, S, D>(&self, meta: &[u8], mat: &ArrayBase<S, D>, dest: i32, base_tag: i32, limit: usize) -> Result<()>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        self.send_to_rank_raw(meta, &RawArray::from_ndarray(mat)?, dest, base_tag, limit)
    }

    /// Receives an N-point object: the metadata blob and a new array.
    pub fn recv_from_rank<T: Element>(&self, source: i32, base_tag: i32) -> Result<(Vec<u8>, ArrayD<T>)> {
        let mut slot: Option<ArrayD<T>> = None;
        let mut alloc = |h: &ArrayHeader| allocate_typed(&mut slot, h);
        let (meta, _) = self.recv_from_rank_raw(source, base_tag, Destination::Alloc(&mut alloc))?;
        Ok((meta, slot.expect("recv_from_rank allocated its output")))
    }

    /// Receives an N-point object into `out`, whose dtype and shape must be
    /// the sent array's (`Mismatch` otherwise, and the array's chunks are
    /// drained so the stream stays usable); returns the metadata blob.
    pub fn recv_from_rank_into<T, S, D>(&self, source: i32, base_tag: i32, out: &mut ArrayBase<S, D>) -> Result<Vec<u8>>
    where
        T: Element,
        S: DataMut<Elem = T>,
        D: Dimension,
    {
        let raw = RawArray::from_ndarray_mut(out)?;
        self.recv_from_rank_raw(source, base_tag, Destination::Into(&raw)).map(|(meta, _)| meta)
    }

    fn check_not_self(&self, peer: i32, role: &str) -> Result<()> {
        check_peer(peer, self.mpi_size() as i32, role)?;
        if peer as usize == self.rank {
            return Err(Error::invalid(format!("{role} {peer} is this rank; a blocking send to oneself would deadlock")));
        }
        Ok(())
    }

    // ------------------------------------------------------------ spill file

    /// The spill file, or an error when the distributor has no output path.
    pub fn spill(&mut self) -> Result<&mut SpillFile> {
        self.spill
            .as_mut()
            .ok_or_else(|| Error::invalid("this distributor has no output_path, so it has no spill file"))
    }

    /// Path of this rank's spill file, if the distributor has an output path.
    pub fn spill_path(&self) -> Option<&Path> {
        self.spill.as_ref().map(|s| s.path())
    }
}

/// Tag of the first array chunk of an N-point object sent at `base_tag`.
fn npoint_array_tag(base_tag: i32) -> Result<i32> {
    base_tag
        .checked_add(NPOINT_ARRAY_TAG_OFFSET)
        .ok_or_else(|| Error::out_of_range(format!("base tag {base_tag} + {NPOINT_ARRAY_TAG_OFFSET} overflows")))
}

/// A buffer address safe to hand to MPI: an empty array's dangling pointer
/// (0x1 for bytes) could equal `MPI_IN_PLACE`, so empty buffers get a dummy.
fn mpi_buf(p: *mut u8, bytes: usize) -> *mut u8 {
    static mut DUMMY: [u64; 1] = [0];
    if bytes == 0 {
        // MPI never touches a zero-count buffer; only the address is used.
        std::ptr::addr_of_mut!(DUMMY) as *mut u8
    } else {
        p
    }
}

/// Runs `f` on a contiguous pointer to `a`'s bytes, packing a strided `a`
/// into a temporary first (callers guarantee `a` fits one message).
fn with_contiguous_in(a: &RawArray, f: impl FnOnce(*const u8) -> Result<()>) -> Result<()> {
    match a.contiguous_ptr(0) {
        Some(p) => f(mpi_buf(p, a.total_bytes())),
        None => {
            let mut tmp = vec![0u8; a.total_bytes()];
            a.pack(0, &mut tmp);
            f(tmp.as_ptr())
        }
    }
}

/// Runs `f` on a contiguous pointer that ends up in `a`, unpacking from a
/// temporary when `a` is strided (callers guarantee `a` fits one message).
fn with_contiguous_out(a: &RawArray, f: impl FnOnce(*mut u8) -> Result<()>) -> Result<()> {
    match a.contiguous_ptr(0) {
        Some(p) => f(mpi_buf(p, a.total_bytes())),
        None => {
            let mut tmp = vec![0u8; a.total_bytes()];
            f(tmp.as_mut_ptr())?;
            a.unpack(0, &tmp);
            Ok(())
        }
    }
}

/// An identity equal on every rank of `comm` and larger than every identity
/// this process handed out before: the digit-wise maximum of the ranks' next
/// identities (big-endian base-128 digits, bytes below 0x80 as
/// `comm::allreduce_max_bytes` needs; in 1-byte pieces so any limit holds),
/// which is at least their numeric maximum.
fn agreed_id(comm: MPI_Comm) -> Result<u64> {
    let next = NEXT_ID.load(Ordering::Relaxed);
    let mut mine: [u8; 10] = std::array::from_fn(|i| ((next >> (7 * (9 - i))) & 0x7f) as u8);
    let mut max = [0u8; 10];
    comm::allreduce_max_bytes(comm, &mut mine, &mut max, 1, "distributor identity")?;
    let id = max.iter().fold(0u64, |acc, &d| (acc << 7) | u64::from(d));
    NEXT_ID.fetch_max(id + 1, Ordering::Relaxed);
    Ok(id)
}

/// `acc[i] += x[i]` element-wise for byte buffers holding `dtype` elements.
fn add_assign(dtype: DType, acc: &mut [u8], x: &[u8]) {
    // Integers wrap on overflow, as MPI_SUM does in practice.
    macro_rules! add {
        ($t:ty, $op:expr) => {{
            let n = std::mem::size_of::<$t>();
            for (a, b) in acc.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
                // SAFETY: each chunk holds one element; unaligned access is explicit.
                unsafe {
                    let (p, q) = (std::ptr::read_unaligned(a.as_ptr() as *const $t), std::ptr::read_unaligned(b.as_ptr() as *const $t));
                    let op: fn($t, $t) -> $t = $op;
                    std::ptr::write_unaligned(a.as_mut_ptr() as *mut $t, op(p, q));
                }
            }
        }};
    }
    match dtype {
        DType::F32 => add!(f32, |p, q| p + q),
        DType::F64 => add!(f64, |p, q| p + q),
        DType::Complex64 => add!(num_complex::Complex32, |p, q| p + q),
        DType::Complex128 => add!(num_complex::Complex64, |p, q| p + q),
        DType::I32 => add!(i32, i32::wrapping_add),
        DType::I64 => add!(i64, i64::wrapping_add),
        DType::U8 => add!(u8, u8::wrapping_add),
    }
}
