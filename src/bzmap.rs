//! Unfolding the irreducible Brillouin zone (IBZ) to the full one.
//!
//! Input: `irrk_inv[q]`, the irreducible index of every full-BZ point
//! (replicated on all ranks), a distributor over the `n_irr` irreducible
//! points and one over the `n_full` full points (same ranks), and this rank's
//! `[my_irr, ...]` block. Output: this rank's `[my_full, ...]` block with
//! `full[q] = irr[irrk_inv[q]]`.
//!
//! [`MapPlan`] is the peer-to-peer unfolding as a reusable plan: created once
//! (collective), executed any number of times into caller buffers.
//! [`exchange_and_map_irrbz_fullbz`] is the one-shot form of the same
//! movement, through the row-movement engine: no rank holds more than its own blocks plus bounded
//! buffers, and each needed irreducible row crosses the network once per
//! destination rank. [`map_irrbz_fullbz`] is the simple reference: gather to
//! the root, unfold there, scatter. Both apply the optional per-k orbital
//! transform ([`OrbitalTransform`]) to the unfolded rows.

use crate::buffer::{zeroed_vec, ArrayMut, ArrayRef, RawArray};
use crate::bzplan::{open_plan, plan_api, Movement, PlanState, Planned, RowBytes};
use crate::collective::{agree_flag, rows_fingerprint, with_rows, ArrayHeader, Destination};
use crate::comm::check_mpi;
use crate::distributor::Distributor;
use crate::element::DType;
use crate::engine::{RowPlan, RowsInPlace, Scratch, Side};
use crate::error::{Error, Result};
use crate::failure::Poison;
use crate::orbital::{OrbitalTransform, OwnedTransform};
use crate::primitives::check_disjoint;
use mpi::ffi::MPI_Comm;

/// `irrk_inv` of the n x n x 1 square lattice under x/y inversion and the x<->y
/// swap (the map of the W-MAP benchmark): q = i*n + j goes to its
/// representative (lo, hi), a = min(i, (n-i) mod n), b = min(j, (n-j) mod n),
/// lo = min(a, b), hi = max(a, b), numbered in increasing lo*n + hi.
/// n = 2 gives [0, 1, 1, 2]; n = 64 has 561 irreducible points.
pub fn square_lattice_irrk_inv(n: usize) -> Vec<usize> {
    let fold = |i: usize| i.min((n - i) % n);
    let rep = |q: usize| {
        let (a, b) = (fold(q / n), fold(q % n));
        a.min(b) * n + a.max(b)
    };
    let mut reps: Vec<usize> = (0..n * n).map(rep).collect();
    reps.sort_unstable();
    reps.dedup();
    (0..n * n).map(|q| reps.binary_search(&rep(q)).expect("every representative is listed")).collect()
}

/// Checks the map and the two distributors (local part of the agreement).
pub(crate) fn check_map(irr: &Distributor, full: &Distributor, irrk_inv: &[usize]) -> Result<()> {
    let mut result = 0;
    // SAFETY: both handles are valid communicators owned by the distributors.
    check_mpi(unsafe { mpi::ffi::MPI_Comm_compare(irr.lib_comm(), full.lib_comm(), &mut result) }, "MPI_Comm_compare")?;
    if result != mpi::ffi::MPI_IDENT as i32 && result != mpi::ffi::MPI_CONGRUENT as i32 {
        return Err(Error::mismatch("the irreducible and full distributors are on different communicators"));
    }
    if irrk_inv.len() != full.ntasks() {
        return Err(Error::mismatch(format!(
            "irrk_inv has {} entries but the full-BZ distributor has {} points",
            irrk_inv.len(),
            full.ntasks()
        )));
    }
    if let Some((q, &k)) = irrk_inv.iter().enumerate().find(|(_, &k)| k >= irr.ntasks()) {
        return Err(Error::out_of_range(format!("irrk_inv[{q}] = {k} is not an irreducible point (there are {}, numbered from 0)", irr.ntasks())));
    }
    Ok(())
}

/// The distributor whose poison records a map's failures and whose private
/// communicator carries its traffic: the older of the two. Distributors over
/// the same ranks share their private communicator, so the ranks meet on it
/// even when one rank passed the two in the other order (which the agreement
/// then reports) or has an unusable irreducible handle.
pub(crate) fn coordinator<'a>(irr: &'a Distributor, full: &'a Distributor) -> &'a Distributor {
    if irr.id() < full.id() {
        irr
    } else {
        full
    }
}

/// The values a map's ranks must agree on: which distributor is which, the
/// fingerprint of the replicated inputs, and the orbital transform's form
/// (a rank applying another transform would silently differ).
pub(crate) fn map_values(irr: &Distributor, full: &Distributor, fingerprint: u64, transform: Option<&OrbitalTransform>) -> [(&'static str, u64); 4] {
    let form = transform.map_or([0, 0, 0], |t| [1, t.nb, t.axes]);
    [
        ("the irreducible distributor (argument order)", irr.id()),
        ("the full-BZ distributor (argument order)", full.id()),
        ("irrk_inv (or the frequency split)", fingerprint),
        ("the orbital transform (given or not, its orbital dimension and number of orbital axes)", crate::collective::fingerprint(form)),
    ]
}

/// The fingerprint of `irrk_inv` and `extra` (a frequency split), agreed by
/// every rank of a map.
pub(crate) fn map_fingerprint(irrk_inv: &[usize], extra: &[usize]) -> u64 {
    crate::collective::fingerprint(irrk_inv.iter().copied().chain([usize::MAX]).chain(extra.iter().copied()))
}

/// The engine plan of the map for this rank.
pub fn plan_map(irr: &Distributor, full: &Distributor, irrk_inv: &[usize]) -> Result<RowPlan> {
    let (irr_layout, full_layout) = (irr.layout(), full.layout());
    RowPlan::build(
        full.mpi_size(),
        full.my_rank(),
        irr.my_size(),
        full.my_size(),
        |p| irrk_inv[full_layout.range(p)].iter().copied(),
        |g| Ok(irr_layout.owner(g)),
    )
}

/// What [`prepare`] agreed on (the map through the root).
struct Prepared {
    limit: usize,
    full_header: ArrayHeader,
    dst: RawArray,
    /// First row of the transform's inputs for this rank's block.
    transform_first: usize,
    /// On the root: room for the gathered and the unfolded array.
    root_staging: Vec<u8>,
}

/// Agrees on the arguments of [`map_irrbz_fullbz`], the row type and the
/// transform's inputs, resolves this rank's output and reserves the root's
/// two whole arrays before the agreement, so a failed allocation is
/// reported on every rank.
fn prepare(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    block: &RawArray,
    out: &mut Destination,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<Prepared> {
    let coord = coordinator(irr, full);
    let fingerprint = map_fingerprint(irrk_inv, &[]);
    let limit = coord.begin_with(0, limit, &map_values(irr, full, fingerprint, transform), || check_map(irr, full, irrk_inv))?;
    let mine = coord.is_root().then(|| {
        let mut h = ArrayHeader::of(block, limit);
        h.shape[0] = irr.ntasks();
        h
    });
    let irr_header = coord.share_header(0, mine, limit)?;
    let mut full_header = irr_header.clone();
    full_header.shape[0] = full.ntasks();
    let local = irr.check_block(block, &irr_header, "the irreducible block").and_then(|()| {
        let first = match transform {
            Some(t) => t.check(&full_header.shape[1..], full_header.dtype, full.my_size(), full.my_offset(), full.ntasks())?,
            None => 0,
        };
        let dst = out.resolve(&full.block_header(&full_header, full.my_rank()), "the full-BZ output")?;
        check_disjoint(block, &dst, None, "the full-BZ output", "the irreducible block")?;
        let staging = if coord.is_root() {
            let rows = irr.ntasks().checked_add(full.ntasks());
            let bytes = rows.and_then(|r| r.checked_mul(full_header.row_bytes()));
            // Lazily zeroed (calloc-style) pages: gather and unfold write them once.
            zeroed_vec::<u8>(bytes.ok_or_else(|| Error::out_of_range("the whole arrays are too large to address"))?)?
        } else {
            Vec::new()
        };
        Ok((dst, first, staging))
    });
    coord.confirm(local.as_ref().map(|_| ()).map_err(Clone::clone), false)?;
    let (dst, transform_first, root_staging) = local?;
    Ok(Prepared { limit, full_header, dst, transform_first, root_staging })
}

/// Applies the optional transform to the unfolded block.
fn finish(p: Prepared, transform: Option<&OrbitalTransform>) -> Result<RawArray> {
    if let Some(t) = transform {
        t.apply(&p.dst, p.transform_first)?;
    }
    Ok(p.dst)
}

/// Checks that `count` rows of `row_shape` `dtype` elements can be addressed.
pub(crate) fn check_addressable(count: usize, dtype: DType, row_shape: &[usize], what: &str) -> Result<()> {
    std::iter::once(count)
        .chain(row_shape.iter().copied())
        .try_fold(dtype.size(), |a, n| a.checked_mul(n))
        .filter(|&b| b <= isize::MAX as usize)
        .map(drop)
        .ok_or_else(|| Error::out_of_range(format!("{what} ({count} rows of {row_shape:?} {}) is too large to address", dtype.name())))
}

/// A planned IBZ → full-BZ unfolding, without its communicator: what
/// [`MapPlan`] keeps and the one-shot [`exchange_and_map_irrbz_fullbz`]
/// builds for one call.
#[derive(Debug)]
struct MapCore(Planned);

impl MapCore {
    /// Plans the map on `comm` (the distributors' private communicator, or a
    /// plan's duplicate of it) in one agreement: every rank checks its
    /// arguments and builds its row plan locally, then all agree on the
    /// outcome, the limit, the distributors, `irrk_inv` and the row type,
    /// and choose the route (`plan_object`: for a [`MapPlan`]).
    #[allow(clippy::too_many_arguments)]
    fn new(
        comm: MPI_Comm,
        irr: &Distributor,
        full: &Distributor,
        irrk_inv: &[usize],
        dtype: DType,
        row_shape: &[usize],
        transform: Option<&OrbitalTransform>,
        limit: usize,
        plan_object: bool,
    ) -> Result<MapCore> {
        let coord = coordinator(irr, full);
        let mut values = map_values(irr, full, map_fingerprint(irrk_inv, &[]), transform).to_vec();
        values.push(("the dtype or the row shape", rows_fingerprint(dtype, row_shape)));
        let build = |_limit| {
            check_map(irr, full, irrk_inv)?;
            check_addressable(irr.my_size().max(full.my_size()), dtype, row_shape, "a block")?;
            let transform = match transform {
                Some(t) => {
                    let first = t.check(row_shape, dtype, full.my_size(), full.my_offset(), full.ntasks())?;
                    Some(OwnedTransform::rows_of(t, first, full.my_size()))
                }
                None => None,
            };
            let row_bytes = row_shape.iter().product::<usize>() * dtype.size();
            Ok(((plan_map(irr, full, irrk_inv)?, transform), RowBytes::uniform(row_bytes)))
        };
        let ((plan, transform), limit, route) = open_plan(comm, coord.poison(), full.mpi_size(), limit, &values, plan_object, build, |m| &m.0)?;
        let (block_shape, out_shape) = (with_rows(irr.my_size(), row_shape), with_rows(full.my_size(), row_shape));
        Ok(MapCore(Planned { plan, dtype, block_shape, out_shape, transform, limit, route }))
    }
}

impl Movement for MapCore {
    fn planned(&self) -> &Planned {
        &self.0
    }

    /// One agreement on every rank's buffers (and whether all rows are
    /// contiguous), then the movement, then the transform.
    fn execute(&self, comm: MPI_Comm, poison: &Poison, what: &str, block: &RawArray, out: &mut Destination, scratch: &mut Scratch) -> Result<RawArray> {
        let p = &self.0;
        let local = p.check_buffers(poison, what, block, out, ["the irreducible block", "the full-BZ output"]);
        let strided = local.as_ref().is_ok_and(|dst| !(RowsInPlace::rows_contiguous(block) && RowsInPlace::rows_contiguous(dst)));
        let any_strided = agree_flag(comm, local.as_ref().map(drop).map_err(Clone::clone), strided)?;
        let dst = local?;
        let rows = RowsInPlace::from_agreement(!any_strided);
        poison.guard(|| p.move_rows(comm, Side::whole(block), Side::whole(&dst), rows, scratch))?;
        p.finish(&dst)?;
        Ok(dst)
    }
}

/// A reusable IBZ → full-BZ unfolding, peer to peer, with the optional
/// per-k orbital transform: [`MapPlan::new`] plans once (collective) and
/// [`MapPlan::execute`] moves this rank's `[my_irr, row...]` block into its
/// `[my_full, row...]` block of the full BZ as often as needed, with one
/// small agreement per execution and no allocation proportional to the data
/// (staging buffers are kept in the plan; strided arrays are accepted). The
/// plan keeps its own duplicate of the distributors' communicator and a copy
/// of this rank's rows of the transform; the distributors and the caller's
/// arrays may go after creation.
///
/// A plan is bound to the thread that created it, like every dgampi object.
pub struct MapPlan {
    state: PlanState,
    core: MapCore,
}

plan_api!(MapPlan, "map plan", "`[my_irr, row...]`", "`[my_full, row...]`");

impl MapPlan {
    /// Plans the unfolding `full[q] = irr[irrk_inv[q]]` for rows of
    /// `row_shape` `dtype` elements (collective over the distributors' ranks;
    /// every rank passes the same `irrk_inv`, `dtype`, `row_shape` and
    /// `limit`, checked; errors are reported on every rank). `transform`, if
    /// any, covers this rank's full-BZ points or all of them. Messages stay
    /// at or below `limit` bytes (0: the process limit).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        irr: &Distributor,
        full: &Distributor,
        irrk_inv: &[usize],
        dtype: DType,
        row_shape: &[usize],
        transform: Option<&OrbitalTransform>,
        limit: usize,
    ) -> Result<MapPlan> {
        let state = PlanState::dup(coordinator(irr, full).lib_comm())?;
        let core = MapCore::new(state.comm.raw(), irr, full, irrk_inv, dtype, row_shape, transform, limit, true)?;
        Ok(MapPlan { state, core })
    }
}

/// Unfolds peer to peer: every rank sends the irreducible rows each other rank
/// needs (once per rank) and replicates them locally, then applies the
/// optional orbital transform. `block` is this rank's `[irr.my_size(), ...]`
/// block, `out` its `[full.my_size(), ...]` block of the full BZ (same dtype
/// and row shape, not overlapping `block`). Collective over the
/// distributors' ranks; errors are reported on every rank. A [`MapPlan`]
/// does the same and can be executed again.
pub fn exchange_and_map_irrbz_fullbz(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    block: ArrayRef<'_>,
    out: ArrayMut<'_>,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<()> {
    exchange_and_map_irrbz_fullbz_raw(irr, full, irrk_inv, block.raw(), Destination::Into(out.raw()), transform, limit).map(drop)
}

/// [`exchange_and_map_irrbz_fullbz`] on descriptors, into a caller array or
/// fresh storage: a [`MapCore`] planned and executed once on the
/// distributors' private communicator (two agreements in all).
pub(crate) fn exchange_and_map_irrbz_fullbz_raw(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    block: &RawArray,
    mut out: Destination,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<RawArray> {
    let coord = coordinator(irr, full);
    let core = MapCore::new(coord.lib_comm(), irr, full, irrk_inv, block.dtype(), block.row_shape(), transform, limit, false)?;
    core.execute(coord.lib_comm(), coord.poison(), "distributor", block, &mut out, &mut Scratch::default())
}

/// Unfolds through the root: gathers the irreducible array there, builds the
/// full array (`full[q] = irr[irrk_inv[q]]`) and scatters it. Simple, and the
/// root holds both whole arrays; prefer [`exchange_and_map_irrbz_fullbz`].
/// Arguments as for [`exchange_and_map_irrbz_fullbz`].
pub fn map_irrbz_fullbz(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    block: ArrayRef<'_>,
    out: ArrayMut<'_>,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<()> {
    map_irrbz_fullbz_raw(irr, full, irrk_inv, block.raw(), Destination::Into(out.raw()), transform, limit).map(drop)
}

/// [`map_irrbz_fullbz`] on descriptors, into a caller array or fresh storage.
pub(crate) fn map_irrbz_fullbz_raw(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    block: &RawArray,
    mut out: Destination,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<RawArray> {
    let mut p = prepare(irr, full, irrk_inv, block, &mut out, transform, limit)?;
    let (limit, full_header) = (p.limit, p.full_header.clone());
    let row_bytes = full_header.row_bytes();
    let mut staging = std::mem::take(&mut p.root_staging);
    let cut = (irr.ntasks() * row_bytes).min(staging.len());
    let (gathered, unfolded) = staging.split_at_mut(cut);
    let mut alloc_irr = |h: &ArrayHeader| -> Result<RawArray> {
        // SAFETY: gathered holds the whole irreducible array (reserved in prepare).
        unsafe { RawArray::new(gathered.as_mut_ptr(), h.dtype, h.shape.clone(), None) }
    };
    let irr_all = irr.gather_raw(block, Destination::Alloc(&mut alloc_irr), 0, limit)?;
    let full_all = match irr_all {
        Some(irr_all) => {
            // SAFETY: unfolded holds the whole full-BZ array (reserved in prepare).
            let f = unsafe { RawArray::new(unfolded.as_mut_ptr(), full_header.dtype, full_header.shape.clone(), None)? };
            // Both arrays are C-contiguous staging: the unfold is one memcpy per
            // full-BZ row, as `numpy.take` does.
            let (from, to) = (irr_all.contiguous_ptr(0).expect("contiguous staging"), f.contiguous_ptr(0).expect("contiguous staging"));
            for (q, &k) in irrk_inv.iter().enumerate() {
                // SAFETY: k < n_irr and q < n_full (checked in prepare); the two
                // staging arrays are disjoint halves of one allocation.
                unsafe { std::ptr::copy_nonoverlapping(from.add(k * row_bytes), to.add(q * row_bytes), row_bytes) };
            }
            Some(f)
        }
        None => None,
    };
    full.scatter_raw(full_all.as_ref(), Destination::Into(&p.dst), 0, limit)?;
    finish(p, transform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_lattice_maps_match_the_workload_definition() {
        assert_eq!(square_lattice_irrk_inv(2), [0, 1, 1, 2]);
        for (n, n_irr) in [(16, 45), (32, 153), (64, 561)] {
            assert_eq!(square_lattice_irrk_inv(n).into_iter().max().unwrap() + 1, n_irr);
        }
    }
}
