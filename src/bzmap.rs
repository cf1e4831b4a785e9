//! Unfolding the irreducible Brillouin zone (IBZ) to the full one.
//!
//! Input: `irrk_inv[q]`, the irreducible index of every full-BZ point
//! (replicated on all ranks), a distributor over the `n_irr` irreducible
//! points and one over the `n_full` full points (same ranks), and this rank's
//! `[my_irr, ...]` block. Output: this rank's `[my_full, ...]` block with
//! `full[q] = irr[irrk_inv[q]]`.
//!
//! [`exchange_and_map_irrbz_fullbz`] goes peer to peer through the
//! row-movement engine: no rank holds more than its own blocks plus bounded
//! buffers, and each needed irreducible row crosses the network once per
//! destination rank. [`map_irrbz_fullbz`] is the simple reference: gather to
//! the root, unfold there, scatter. Both apply the optional per-k orbital
//! transform ([`OrbitalTransform`]) to the unfolded rows.

use crate::buffer::{zeroed_vec, ArrayMut, ArrayRef, RawArray};
use crate::comm::check_mpi;
use crate::distributor::Distributor;
use crate::engine::{RowPlan, RowsInPlace};
use crate::orbital::OrbitalTransform;
use crate::error::{Error, Result};
use crate::collective::{agree_flag, ArrayHeader, Destination};
use crate::primitives::check_disjoint;

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
        return Err(Error::out_of_range(format!("irrk_inv[{q}] = {k} is outside 0..{} (the irreducible points)", irr.ntasks())));
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

/// The values a map's ranks must agree on: which distributor is which, and
/// the fingerprint of the replicated inputs.
pub(crate) fn map_values(irr: &Distributor, full: &Distributor, fingerprint: u64) -> [(&'static str, u64); 3] {
    [
        ("the irreducible distributor (argument order)", irr.id()),
        ("the full-BZ distributor (argument order)", full.id()),
        ("irrk_inv (or the frequency split)", fingerprint),
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

/// What [`prepare`] agreed on.
struct Prepared<'a> {
    /// The distributor whose private communicator carries the map.
    coord: &'a Distributor,
    limit: usize,
    full_header: ArrayHeader,
    dst: RawArray,
    /// First row of the transform's inputs for this rank's block.
    transform_first: usize,
    /// On the root of [`map_irrbz_fullbz`]: room for the gathered and the unfolded array.
    root_staging: Vec<u8>,
}

/// Agrees on the arguments, the row type and the transform's inputs, and
/// resolves this rank's output (and, with `root_staging`, reserves the
/// root's two whole arrays before the agreement, so a failed allocation is
/// reported on every rank).
#[allow(clippy::too_many_arguments)]
fn prepare<'a>(
    irr: &'a Distributor,
    full: &'a Distributor,
    irrk_inv: &[usize],
    block: &RawArray,
    out: &mut Destination,
    transform: Option<&OrbitalTransform>,
    limit: usize,
    root_staging: bool,
) -> Result<Prepared<'a>> {
    let coord = coordinator(irr, full);
    let fingerprint = map_fingerprint(irrk_inv, &[]);
    let limit = coord.begin_with(0, limit, &map_values(irr, full, fingerprint), || check_map(irr, full, irrk_inv))?;
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
        let staging = if root_staging && coord.is_root() {
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
    Ok(Prepared { coord, limit, full_header, dst, transform_first, root_staging })
}

/// Applies the optional transform to the unfolded block.
fn finish(p: Prepared, transform: Option<&OrbitalTransform>) -> Result<RawArray> {
    if let Some(t) = transform {
        t.apply(&p.dst, p.transform_first)?;
    }
    Ok(p.dst)
}

/// Unfolds peer to peer: every rank sends the irreducible rows each other rank
/// needs (once per rank) and replicates them locally, then applies the
/// optional orbital transform. `block` is this rank's `[irr.my_size(), ...]`
/// block, `out` its `[full.my_size(), ...]` block of the full BZ (same dtype
/// and row shape, not overlapping `block`). Collective over the
/// distributors' ranks; errors are reported on every rank.
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

/// [`exchange_and_map_irrbz_fullbz`] on descriptors, into a caller array or fresh storage.
pub(crate) fn exchange_and_map_irrbz_fullbz_raw(
    irr: &Distributor,
    full: &Distributor,
    irrk_inv: &[usize],
    block: &RawArray,
    mut out: Destination,
    transform: Option<&OrbitalTransform>,
    limit: usize,
) -> Result<RawArray> {
    let p = prepare(irr, full, irrk_inv, block, &mut out, transform, limit, false)?;
    let plan = plan_map(irr, full, irrk_inv);
    let coord = p.coord;
    // One agreement on the plan and on whether every rank's rows are
    // contiguous (then messages at runs are cut at the limit alone).
    let strided = !(RowsInPlace::rows_contiguous(block) && RowsInPlace::rows_contiguous(&p.dst));
    let any_strided = agree_flag(coord.lib_comm(), plan.as_ref().map(|_| ()).map_err(Clone::clone), strided)?;
    let rows = RowsInPlace::from_agreement(!any_strided);
    coord.poison().guard(|| plan?.run(coord.lib_comm(), block, &p.dst, p.limit, rows))?;
    finish(p, transform)
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
    let mut p = prepare(irr, full, irrk_inv, block, &mut out, transform, limit, true)?;
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
