//! Frequency re-layout: the node-aware split of fermionic frequencies and
//! `gather_full_ibz_for_vslice`, which turns a vertex distributed over
//! irreducible q into all (unfolded) q for each rank's slice of frequencies.

use crate::buffer::{try_bytes, ArrayMut, ArrayRef, RawArray};
use crate::bzmap::{check_map, coordinator, map_fingerprint, map_values};
use crate::comm::check_mpi;
use crate::distributor::Distributor;
use crate::engine::{RowPlan, RowsInPlace};
use crate::error::{Error, Result};
use crate::orbital::OrbitalTransform;
use crate::limit::resolve_limit;
use crate::collective::{agree, agree_values, ArrayHeader, Destination};
use crate::primitives::check_disjoint;
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
    let split = node_aware_split_with_nodes(n, &node_labels(d, order)?)?;
    Ok(if order == NodeOrder::HostName { split.in_rank_order() } else { split })
}

/// Gathers a vertex `[q_irr_local, orb..., nu, nu']` distributed over
/// irreducible q into `[n_full, orb..., my_nu, nu']` on every rank: all q,
/// unfolded through `irrk_inv`, for this rank's slice `split.range(rank)` of
/// `nu` (axis `ndim - 2`). A rank with an empty slice gets a zero-size result.
/// The optional orbital transform is applied to every full q. Collective over
/// the distributors' ranks; all ranks must pass the same `split`. `out`
/// must be this rank's `[n_full, orb..., split.range(rank).len(), nu']`
/// array, not overlapping `block`.
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

/// [`gather_full_ibz_for_vslice`] on descriptors, into a caller array or fresh storage.
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
    let rank = full.my_rank();
    let coord = coordinator(irr, full);
    let fingerprint = map_fingerprint(irrk_inv, &[split.sizes.as_slice(), split.offsets.as_slice()].concat());
    let limit = coord.begin_with(0, limit, &map_values(irr, full, fingerprint), || {
        check_map(irr, full, irrk_inv)?;
        if split.sizes.len() != full.mpi_size() {
            return Err(Error::mismatch(format!("the frequency split has {} ranks, the communicator {}", split.sizes.len(), full.mpi_size())));
        }
        if block.shape().len() < 3 {
            return Err(Error::invalid(format!("the vertex block {:?} needs axes [q, ..., nu, nu']", block.shape())));
        }
        Ok(())
    })?;
    let mine = coord.is_root().then(|| {
        let mut h = ArrayHeader::of(block, limit);
        h.shape[0] = irr.ntasks();
        h
    });
    let irr_header = coord.share_header(0, mine, limit)?;
    let nd = irr_header.shape.len();
    let n_nu = irr_header.shape[nd - 2];
    let n_orb: usize = irr_header.shape[1..nd - 2].iter().product();
    let row_len = irr_header.shape[nd - 1];
    let out_shape: Vec<usize> = std::iter::once(full.ntasks())
        .chain(irr_header.shape[1..nd - 2].iter().copied())
        .chain([split.sizes[rank], irr_header.shape[nd - 1]])
        .collect();
    let local = irr.check_block(block, &irr_header, "the vertex block").and_then(|()| {
        split.check(n_nu)?;
        let first = match transform {
            Some(t) => t.check(&out_shape[1..], irr_header.dtype, full.ntasks(), 0, full.ntasks())?,
            None => 0,
        };
        let h = ArrayHeader { dtype: irr_header.dtype, shape: out_shape.clone(), limit, flags: 0 };
        let dst = out.resolve(&h, "the vslice output")?;
        check_disjoint(block, &dst, None, "the vslice output", "the vertex block")?;
        // Strided sides are staged through C-ordered copies, reserved now.
        let src_rows = contiguous_rows(block, irr.my_size() * n_orb * n_nu, row_len)?;
        let dst_rows = contiguous_rows(&dst, full.ntasks() * n_orb * split.sizes[rank], row_len)?;
        Ok((dst, first, src_rows, dst_rows))
    });
    coord.confirm(local.as_ref().map(|_| ()).map_err(Clone::clone), false)?;
    let (dst, first, src_rows, dst_rows) = local?;

    // Rows of nu' elements: source (q_irr, orb, nu), destination (q_full, orb, my nu).
    let irr_layout = irr.layout();
    let plan = RowPlan::build(
        full.mpi_size(),
        rank,
        irr.my_size() * n_orb * n_nu,
        full.ntasks() * n_orb * split.sizes[rank],
        |p| {
            let nus = split.range(p);
            (0..full.ntasks()).flat_map(move |q| {
                let nus = nus.clone();
                (0..n_orb).flat_map(move |o| nus.clone().map(move |nu| (irrk_inv[q] * n_orb + o) * n_nu + nu))
            })
        },
        |g| {
            let (q_irr, rest) = (g / (n_orb * n_nu), g % (n_orb * n_nu));
            let (owner, local) = irr_layout.owner(q_irr);
            Ok((owner, local * n_orb * n_nu + rest))
        },
    );
    agree(coord.lib_comm(), plan.as_ref().map(|_| ()).map_err(Clone::clone))?;
    coord.poison().guard(|| {
        // Both sides are C-ordered on every rank (copies of strided arrays).
        plan?.run(coord.lib_comm(), &src_rows.view, &dst_rows.view, limit, RowsInPlace::Everywhere)?;
        dst_rows.write_back(&dst, limit)
    })?;
    if let Some(t) = transform {
        t.apply(&dst, first)?;
    }
    Ok(dst)
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

fn contiguous_rows(a: &RawArray, nrows: usize, row_len: usize) -> Result<RowsView> {
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
