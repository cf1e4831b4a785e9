//! Frequency re-layout: the node-aware split of fermionic frequencies and
//! the re-layout itself, which turns a vertex distributed over irreducible q
//! into all (unfolded) q for each rank's slice of frequencies: a reusable
//! [`VslicePlan`], and its one-shot form [`gather_full_ibz_for_vslice`].

use crate::buffer::{try_bytes, ArrayMut, ArrayRef, RawArray};
use crate::bzmap::{check_addressable, check_map, coordinator, map_fingerprint, map_values};
use crate::bzplan::{open_plan, plan_api, Movement, PlanState, Planned, RowBytes};
use crate::collective::{agree, agree_values, rows_fingerprint, with_rows, Destination};
use crate::comm::check_mpi;
use crate::distributor::Distributor;
use crate::element::DType;
use crate::engine::{RowPlan, RowsInPlace, Scratch, Side};
use crate::error::{Error, Result};
use crate::failure::Poison;
use crate::limit::resolve_limit;
use crate::orbital::{OrbitalTransform, OwnedTransform};
use mpi::ffi::MPI_Comm;
use std::ops::Range;

/// Per-rank slices of `n` frequencies (not necessarily in rank order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreqSplit {
    /// Frequencies per rank.
    pub sizes: Vec<usize>,
    /// First frequency of each rank.
    pub offsets: Vec<usize>,
}

impl FreqSplit {
    /// The same sizes with the slices following each other in rank order
    /// (the layout of a distributor built from the sizes).
    pub fn in_rank_order(&self) -> FreqSplit {
        let offsets = self.sizes.iter().scan(0, |next, &size| Some(std::mem::replace(next, *next + size))).collect();
        FreqSplit { sizes: self.sizes.clone(), offsets }
    }

    /// The frequency range of `rank`.
    pub fn range(&self, rank: usize) -> Range<usize> {
        self.offsets[rank]..self.offsets[rank] + self.sizes[rank]
    }
    /// Total number of frequencies.
    pub fn total(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// Checks that the slices tile `0..n` (every frequency on exactly one rank).
    pub fn check(&self, n: usize) -> Result<()> {
        if self.offsets.len() != self.sizes.len() {
            return Err(Error::mismatch("the split has different numbers of sizes and offsets"));
        }
        if self.total() != n {
            return Err(Error::mismatch(format!("the frequency split covers {} frequencies, the vertex has {n}", self.total())));
        }
        if let Some(r) = (0..self.sizes.len()).find(|&r| self.offsets[r] + self.sizes[r] > n) {
            return Err(Error::out_of_range(format!("rank {r}'s frequencies {:?} exceed 0..{n}", self.range(r))));
        }
        // The non-empty slices must tile 0..n: sorted by offset, each starts where the last ended.
        let mut ranges: Vec<Range<usize>> = (0..self.sizes.len()).map(|r| self.range(r)).filter(|x| !x.is_empty()).collect();
        ranges.sort_by_key(|x| x.start);
        if ranges.windows(2).any(|w| w[0].end != w[1].start) {
            return Err(Error::invalid("the frequency slices overlap or leave gaps; they must tile 0..n"));
        }
        Ok(())
    }
}

/// Splits `n` frequencies over ranks whose node labels are `nodes[rank]`:
/// equally over the nodes in sorted label order (the extra ones to the first
/// nodes), then over each node's ranks in rank order (the extra ones to its
/// first ranks). Each node's frequencies are contiguous.
pub fn node_aware_split_with_nodes(n: usize, nodes: &[i64]) -> Result<FreqSplit> {
    if nodes.is_empty() {
        return Err(Error::invalid("node_aware_split needs at least one rank"));
    }
    let mut labels = nodes.to_vec();
    labels.sort_unstable();
    labels.dedup();
    let (mut sizes, mut offsets) = (vec![0; nodes.len()], vec![0; nodes.len()]);
    let mut next = 0;
    for (i, label) in labels.iter().enumerate() {
        let node_n = n / labels.len() + usize::from(i < n % labels.len());
        let ranks: Vec<usize> = (0..nodes.len()).filter(|&r| nodes[r] == *label).collect();
        for (j, &r) in ranks.iter().enumerate() {
            sizes[r] = node_n / ranks.len() + usize::from(j < node_n % ranks.len());
            offsets[r] = next;
            next += sizes[r];
        }
    }
    Ok(FreqSplit { sizes, offsets })
}

/// How [`node_aware_split_by`] finds the nodes and orders them. Exported
/// to C as `dgampi_node_order`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NodeOrder {
    /// Ranks that share memory (`MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`)
    /// form a node, and nodes are ordered by their lowest rank. The default:
    /// it depends on no host-name string (which some systems report
    /// inconsistently, e.g. with and without the domain), and the spare
    /// frequencies go to the nodes of the lowest ranks.
    #[default]
    SharedMemory = 0,
    /// Ranks with the same `MPI_Get_processor_name` form a node, and nodes
    /// are ordered by host name, as the original Python module does: the
    /// spare frequencies go to the first host names in sorted order, and the
    /// slices follow each other in rank order (offsets are the running sum
    /// of the sizes over ranks 0, 1, ...), so a distributor built from the
    /// sizes ([`crate::Distributor::with_sizes`]) owns exactly these slices.
    HostName = 1,
}

impl NodeOrder {
    /// The order with C code `code` (`InvalidArgument` for any other value).
    pub fn from_code(code: i32) -> Result<NodeOrder> {
        match code {
            0 => Ok(NodeOrder::SharedMemory),
            1 => Ok(NodeOrder::HostName),
            _ => Err(Error::invalid(format!("node order {code} is none of 0 (shared memory) and 1 (host name)"))),
        }
    }
}

/// Node labels of every rank of `d` (ranks with equal labels share a node;
/// labels sort in the node order), exchanged with a chunked allgather.
pub fn node_labels(d: &Distributor, order: NodeOrder) -> Result<Vec<i64>> {
    let comm = d.lib_comm();
    let per_rank = Distributor::create(comm, Ok((d.mpi_size(), "", None)))?;
    match order {
        NodeOrder::SharedMemory => {
            // SAFETY: reading rsmpi's extern constant.
            let mut node: MPI_Comm = unsafe { mpi::ffi::RSMPI_COMM_NULL };
            check_mpi(
                // SAFETY: valid communicator; MPI creates the node communicator.
                unsafe { mpi::ffi::MPI_Comm_split_type(comm, mpi::ffi::MPI_COMM_TYPE_SHARED as i32, 0, mpi::ffi::RSMPI_INFO_NULL, &mut node) },
                "MPI_Comm_split_type",
            )?;
            let node = OwnedNodeComm(node);
            let leader = lowest_rank_of_node(comm, node.0)?;
            per_rank.allgather(&ndarray::arr1(&[leader]), 0).map(|a| a.iter().copied().collect())
        }
        NodeOrder::HostName => {
            let mut name = [0u8; HOST_NAME_BYTES];
            let mut len: std::os::raw::c_int = 0;
            check_mpi(
                // SAFETY: the buffer holds MPI_MAX_PROCESSOR_NAME bytes (checked at compile time below).
                unsafe { mpi::ffi::MPI_Get_processor_name(name.as_mut_ptr() as *mut std::os::raw::c_char, &mut len) },
                "MPI_Get_processor_name",
            )?;
            // The original strips surrounding white space before comparing.
            let trimmed = String::from_utf8_lossy(&name[..(len.max(0) as usize).min(HOST_NAME_BYTES)]).trim().as_bytes().to_vec();
            let mut row = [0u8; HOST_NAME_BYTES];
            row[..trimmed.len()].copy_from_slice(&trimmed);
            let all = per_rank.allgather(&ndarray::Array2::from_shape_vec((1, HOST_NAME_BYTES), row.to_vec()).expect("one row"), 0)?;
            let names: Vec<&[u8]> = all.outer_iter().map(|r| r.to_slice().expect("contiguous rows")).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            Ok(names.iter().map(|n| sorted.binary_search(n).expect("present") as i64).collect())
        }
    }
}

/// Room for one host name (`MPI_MAX_PROCESSOR_NAME`, 256 in Open MPI and MPICH).
const HOST_NAME_BYTES: usize = 256;
const _: () = assert!(mpi::ffi::MPI_MAX_PROCESSOR_NAME as usize <= HOST_NAME_BYTES);

/// Frees a communicator from `MPI_Comm_split_type` (the caller's duplicate is untouched).
struct OwnedNodeComm(MPI_Comm);

impl Drop for OwnedNodeComm {
    fn drop(&mut self) {
        // SAFETY: we created this communicator.
        unsafe { mpi::ffi::MPI_Comm_free(&mut self.0) };
    }
}

/// The rank in `comm` of rank 0 of `node` (translated through the groups).
fn lowest_rank_of_node(comm: MPI_Comm, node: MPI_Comm) -> Result<i64> {
    // SAFETY: groups of valid communicators; translating one rank.
    unsafe {
        let (mut g_node, mut g_comm) = (mpi::ffi::RSMPI_GROUP_NULL, mpi::ffi::RSMPI_GROUP_NULL);
        check_mpi(mpi::ffi::MPI_Comm_group(node, &mut g_node), "MPI_Comm_group")?;
        check_mpi(mpi::ffi::MPI_Comm_group(comm, &mut g_comm), "MPI_Comm_group")?;
        let zero = 0;
        let mut translated = 0;
        let code = mpi::ffi::MPI_Group_translate_ranks(g_node, 1, &zero, g_comm, &mut translated);
        mpi::ffi::MPI_Group_free(&mut g_node);
        mpi::ffi::MPI_Group_free(&mut g_comm);
        check_mpi(code, "MPI_Group_translate_ranks")?;
        Ok(translated as i64)
    }
}

/// The node-aware split of `n` frequencies over the ranks of `d`, with the
/// nodes found by shared memory ([`NodeOrder::SharedMemory`]; collective).
pub fn node_aware_split(d: &Distributor, n: usize) -> Result<FreqSplit> {
    node_aware_split_by(d, n, NodeOrder::SharedMemory)
}

/// [`node_aware_split`] with the nodes found and ordered as `order` says.
pub fn node_aware_split_by(d: &Distributor, n: usize, order: NodeOrder) -> Result<FreqSplit> {
    // Opens with the agreement every collective starts with, so a rank that
    // failed before the call (the C ABI) is heard instead of awaited, and
    // ranks asking for different frequency counts fail together.
    let values = [("n_nu", n as u64), ("the node order", order as u64)];
    agree_values(d.lib_comm(), d.poison().check("distributor"), false, resolve_limit(0).unwrap_or(1), &values)?;
    let labels = match d.known_node_labels(order) {
        Some(labels) => labels,
        None => {
            // Found once per distributor (a communicator and a gather); kept
            // only when every rank found them, so that every rank skips the
            // search in later calls or none does.
            let found = node_labels(d, order);
            agree(d.lib_comm(), found.as_ref().map(drop).map_err(Clone::clone))?;
            let labels = found?;
            d.remember_node_labels(order, labels.clone());
            labels
        }
    };
    let split = node_aware_split_with_nodes(n, &labels)?;
    Ok(if order == NodeOrder::HostName { split.in_rank_order() } else { split })
}

/// A planned frequency re-layout without its communicator: what
/// [`VslicePlan`] keeps and the one-shot [`gather_full_ibz_for_vslice`]
/// builds for one call.
///
/// The engine moves rows of (q, orbital): a source row is one irreducible
/// q and orbital of this rank's block, all `n_nu x n_nu'` values, and peer
/// `p` is shown the column window of its frequency slice; a destination row
/// is one full-BZ q and orbital, this rank's slice. Every rank with a
/// non-empty slice receives every q, so planning is one pass over
/// `n_full x n_orb` rows plus the send lists.
#[derive(Debug)]
struct VsliceCore {
    planned: Planned,
    /// The column window of the source rows each peer receives (its slice, times n_nu').
    windows: Vec<Range<usize>>,
    /// Source rows `[my_irr * n_orb, n_nu * n_nu']` and destination rows
    /// `[n_full * n_orb or 0, my_nu * n_nu']` (elements).
    src_rows: [usize; 2],
    dst_rows: [usize; 2],
}

impl VsliceCore {
    /// Plans the re-layout on `comm` in one agreement (see `MapCore::new`),
    /// for a vertex of `row_shape = [orb..., n_nu, n_nu']` `dtype` rows.
    #[allow(clippy::too_many_arguments)]
    fn new(
        comm: MPI_Comm,
        irr: &Distributor,
        full: &Distributor,
        irrk_inv: &[usize],
        split: &FreqSplit,
        dtype: DType,
        row_shape: &[usize],
        transform: Option<&OrbitalTransform>,
        limit: usize,
        plan_object: bool,
    ) -> Result<VsliceCore> {
        let (rank, nranks) = (full.my_rank(), full.mpi_size());
        let coord = coordinator(irr, full);
        let fingerprint = map_fingerprint(irrk_inv, &[split.sizes.as_slice(), split.offsets.as_slice()].concat());
        let mut values = map_values(irr, full, fingerprint, transform).to_vec();
        values.push(("the dtype or the vertex shape", rows_fingerprint(dtype, row_shape)));
        let build = |_limit| {
            check_map(irr, full, irrk_inv)?;
            if split.sizes.len() != nranks || split.offsets.len() != nranks {
                return Err(Error::mismatch(format!("the frequency split has {} ranks, the communicator {nranks}", split.sizes.len())));
            }
            let nd = row_shape.len();
            if nd < 2 {
                return Err(Error::invalid(format!("the vertex rows {row_shape:?} need axes [..., nu, nu'] after q")));
            }
            let (n_nu, n_nup) = (row_shape[nd - 2], row_shape[nd - 1]);
            split.check(n_nu)?;
            let n_orb: usize = row_shape[..nd - 2].iter().product();
            let mut out_row = row_shape.to_vec();
            out_row[nd - 2] = split.sizes[rank];
            check_addressable(irr.my_size(), dtype, row_shape, "the vertex block")?;
            check_addressable(full.ntasks(), dtype, &out_row, "the vslice output")?;
            let transform = match transform {
                Some(t) => {
                    let first = t.check(&out_row, dtype, full.ntasks(), 0, full.ntasks())?;
                    Some(OwnedTransform::rows_of(t, first, full.ntasks()))
                }
                None => None,
            };
            // Rows of (q, orbital); rank p receives when its slice holds values.
            let receives: Vec<bool> = split.sizes.iter().map(|&n| n > 0 && n_nup > 0 && n_orb > 0).collect();
            let irr_layout = irr.layout();
            let plan = RowPlan::build_uniform(
                nranks,
                rank,
                irr.my_size() * n_orb,
                &receives,
                || (0..full.ntasks()).flat_map(move |q| (0..n_orb).map(move |o| irrk_inv[q] * n_orb + o)),
                |g| {
                    let (owner, local) = irr_layout.owner(g / n_orb);
                    Ok((owner, local * n_orb + g % n_orb))
                },
            )?;
            let windows = (0..nranks).map(|p| split.offsets[p] * n_nup..(split.offsets[p] + split.sizes[p]) * n_nup).collect();
            let src_rows = [plan.nsrc(), n_nu * n_nup];
            let dst_rows = [plan.ndst(), split.sizes[rank] * n_nup];
            let (block_shape, out_shape) = (with_rows(irr.my_size(), row_shape), with_rows(full.ntasks(), &out_row));
            // Row (q, orbital) to peer p: its window of nu; from any peer: this rank's.
            let (elem, sizes) = (dtype.size() * n_nup, split.sizes.clone());
            let bytes = RowBytes { send: Box::new(move |p| sizes[p] * elem), recv: Box::new(move |_| dst_rows[1] * dtype.size()) };
            Ok(((plan, block_shape, out_shape, transform, windows, src_rows, dst_rows), bytes))
        };
        let (built, limit, route) = open_plan(comm, coord.poison(), nranks, limit, &values, plan_object, build, |m| &m.0)?;
        let (plan, block_shape, out_shape, transform, windows, src_rows, dst_rows) = built;
        let planned = Planned { plan, dtype, block_shape, out_shape, transform, limit, route };
        Ok(VsliceCore { planned, windows, src_rows, dst_rows })
    }
}

impl Movement for VsliceCore {
    fn planned(&self) -> &Planned {
        &self.planned
    }

    /// One agreement on every rank's buffers, then the movement, then the
    /// transform. A strided block or output goes through a C-ordered copy.
    fn execute(&self, comm: MPI_Comm, poison: &Poison, what: &str, block: &RawArray, out: &mut Destination, scratch: &mut Scratch) -> Result<RawArray> {
        let p = &self.planned;
        let local = p.check_buffers(poison, what, block, out, ["the vertex block", "the vslice output"]).and_then(|dst| {
            let src_rows = contiguous_rows(block, self.src_rows)?;
            let dst_rows = contiguous_rows(&dst, self.dst_rows)?;
            Ok((dst, src_rows, dst_rows))
        });
        agree(comm, local.as_ref().map(drop).map_err(Clone::clone))?;
        let (dst, src_rows, dst_rows) = local?;
        poison.guard(|| {
            // Both sides are C-ordered on every rank (copies of strided arrays).
            let src = Side { array: &src_rows.view, columns: Some(&self.windows) };
            p.move_rows(comm, src, Side::whole(&dst_rows.view), RowsInPlace::Everywhere, scratch)?;
            dst_rows.write_back(&dst, p.limit)
        })?;
        p.finish(&dst)?;
        Ok(dst)
    }
}

/// A reusable frequency re-layout (`gather_full_ibz_for_vslice` as a plan):
/// [`VslicePlan::new`] plans once (collective) and [`VslicePlan::execute`]
/// turns this rank's vertex block `[my_irr, orb..., nu, nu']` into
/// `[n_full, orb..., my_nu, nu']` (every q unfolded through `irrk_inv`, this
/// rank's slice of nu) as often as needed, with one small agreement per
/// execution and no allocation proportional to the data for C-contiguous
/// arrays (a strided block or output is staged through a C-ordered copy).
/// The plan keeps its own duplicate of the distributors' communicator and a
/// copy of the transform's inputs.
pub struct VslicePlan {
    state: PlanState,
    core: VsliceCore,
}

plan_api!(VslicePlan, "vslice plan", "`[my_irr, orb..., n_nu, n_nu']`", "`[n_full, orb..., my_nu, n_nu']`");

impl VslicePlan {
    /// Plans the re-layout of a vertex whose rows (after q) have shape
    /// `row_shape = [orb..., n_nu, n_nu']` (collective over the
    /// distributors' ranks; every rank passes the same `irrk_inv`, `split`,
    /// `dtype`, `row_shape` and `limit`, checked). `split` gives every rank's
    /// slice of nu (it must tile `0..n_nu`); `transform`, if any, covers all
    /// full-BZ q. Messages stay at or below `limit` bytes (0: the process limit).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        irr: &Distributor,
        full: &Distributor,
        irrk_inv: &[usize],
        split: &FreqSplit,
        dtype: DType,
        row_shape: &[usize],
        transform: Option<&OrbitalTransform>,
        limit: usize,
    ) -> Result<VslicePlan> {
        let state = PlanState::dup(coordinator(irr, full).lib_comm())?;
        let core = VsliceCore::new(state.comm.raw(), irr, full, irrk_inv, split, dtype, row_shape, transform, limit, true)?;
        Ok(VslicePlan { state, core })
    }
}

/// Gathers a vertex `[q_irr_local, orb..., nu, nu']` distributed over
/// irreducible q into `[n_full, orb..., my_nu, nu']` on every rank: all q,
/// unfolded through `irrk_inv`, for this rank's slice `split.range(rank)` of
/// `nu` (axis `ndim - 2`). A rank with an empty slice gets a zero-size result.
/// The optional orbital transform is applied to every full q. Collective over
/// the distributors' ranks; all ranks must pass the same `split`. `out`
/// must be this rank's `[n_full, orb..., split.range(rank).len(), nu']`
/// array, not overlapping `block`. A [`VslicePlan`] does the same and can
/// be executed again.
#[allow(clippy::too_many_arguments)]
pub fn gather_full_ibz_for_vslice(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    split: &FreqSplit,
    block: ArrayRef<'_>,
    out: ArrayMut<'_>,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<()> {
    gather_full_ibz_for_vslice_raw(irr, full, irrk_inv, split, block.raw(), Destination::Into(out.raw()), transform, limit).map(drop)
}

/// [`gather_full_ibz_for_vslice`] on descriptors, into a caller array or
/// fresh storage: a `VsliceCore` planned and executed once on the
/// distributors' private communicator (two agreements in all).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather_full_ibz_for_vslice_raw(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    split: &FreqSplit,
    block: &RawArray,
    mut out: Destination,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<RawArray> {
    let coord = coordinator(irr, full);
    let core = VsliceCore::new(coord.lib_comm(), irr, full, irrk_inv, split, block.dtype(), block.row_shape(), transform, limit, false)?;
    core.execute(coord.lib_comm(), coord.poison(), "distributor", block, &mut out, &mut Scratch::default())
}

/// An array seen as `[nrows, row_len]`: in place when contiguous, else a copy.
struct RowsView {
    view: RawArray,
    copy: Option<Vec<u8>>,
}

impl RowsView {
    /// Copies a staged view back into the strided original.
    fn write_back(&self, original: &RawArray, limit: usize) -> Result<()> {
        if self.copy.is_some() {
            // SAFETY: the staged copy has the original's shape in C order.
            let staged = unsafe { RawArray::new(self.view.contiguous_ptr(0).expect("staged copy"), original.dtype(), original.shape().to_vec(), None)? };
            original.copy_from(&staged, limit)?;
        }
        Ok(())
    }
}

/// `a` seen as rows of `[nrows, row_len]` elements.
fn contiguous_rows(a: &RawArray, [nrows, row_len]: [usize; 2]) -> Result<RowsView> {
    let shape = vec![nrows, row_len];
    match a.contiguous_ptr(0) {
        // SAFETY: a contiguous array of nrows * row_len elements, viewed 2-D.
        Some(p) => Ok(RowsView { view: unsafe { RawArray::new(p, a.dtype(), shape, None)? }, copy: None }),
        None => {
            let mut copy = try_bytes(a.total_bytes(), "a C-ordered copy of a strided vertex")?;
            a.pack(0, &mut copy);
            // SAFETY: copy holds the array in C order.
            let view = unsafe { RawArray::new(copy.as_mut_ptr(), a.dtype(), shape, None)? };
            Ok(RowsView { view, copy: Some(copy) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_aware_examples() {
        // nodes [n0, n1, n0, n1], 6 frequencies: 3 per node, then 2 + 1 per node.
        let s = node_aware_split_with_nodes(6, &[0, 1, 0, 1]).unwrap();
        assert_eq!(s.sizes, [2, 2, 1, 1]);
        assert_eq!(s.offsets, [0, 3, 2, 5]);
        // nodes [a, b, c, a], 5 frequencies: a gets 2 (1 + 1), b 2, c 1.
        let s = node_aware_split_with_nodes(5, &[10, 11, 12, 10]).unwrap();
        assert_eq!(s.sizes, [1, 2, 1, 1]);
        assert_eq!(s.offsets, [0, 2, 4, 1]);
        // more ranks than frequencies
        let s = node_aware_split_with_nodes(2, &[0, 0, 0, 0]).unwrap();
        assert_eq!(s.sizes, [1, 1, 0, 0]);
        assert_eq!(s.total(), 2);
    }

    #[test]
    fn host_order_keeps_the_sizes_and_orders_slices_by_rank() {
        // Host labels (sorted names) [1, 0, 1, 0], 7 frequencies, as the
        // original computes it: host 0 (ranks 1, 3) gets 4 = 2 + 2, host 1
        // (ranks 0, 2) 3 = 2 + 1; offsets are the running sum over ranks.
        let s = node_aware_split_with_nodes(7, &[1, 0, 1, 0]).unwrap().in_rank_order();
        assert_eq!(s.sizes, [2, 2, 1, 2]);
        assert_eq!(s.offsets, [0, 2, 4, 5]);
        s.check(7).unwrap();
    }
}
