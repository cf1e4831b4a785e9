//! FFT strategies and the cost model that picks one.
//!
//! Every strategy is a sequence of *phases*: move the data into an
//! ownership where some grid axes are whole on every rank, transform those
//! axes there, and at the end move back to the flat split. The phases are:
//! - batch transpose: every rank gets every q for a slice of the batch and
//!   transforms all three axes (two all-to-all passes);
//! - slab: x-slabs (y, z whole; the flat split itself when it holds whole
//!   x-planes), then y-slabs (x whole): two passes when aligned, else three;
//! - pencil: z-, y- then x-pencils (four passes), the general fallback.
//!
//! A transposed plan ([`Transposition`]) leaves out the movement back to
//! the flat split (output in the last phase's ownership) or the movement
//! into the first phase (input in that ownership, phases run in reverse
//! order: the axes' transforms commute): one pass fewer.

use super::grid::{Grid, Layout, Ownership};
use super::Transposition;
use crate::error::{Error, Result};

/// How the distributed FFT moves data.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Chosen by the cost model from the grid, the batch size and the rank count.
    Auto = 0,
    /// q-blocks → batch-blocks, complete local 3-D FFTs, back.
    BatchTranspose = 1,
    /// x-slabs (y/z FFTs) → y-slabs (x FFTs) → flat.
    Slab = 2,
    /// flat → z → y → x pencils → flat.
    Pencil = 3,
}

impl Strategy {
    /// Parses a C strategy code.
    pub fn from_code(code: i32) -> Result<Strategy> {
        Strategy::ALL_WITH_AUTO
            .into_iter()
            .find(|s| *s as i32 == code)
            .ok_or_else(|| Error::invalid(format!("unknown FFT strategy code {code} (0 auto, 1 batch transpose, 2 slab, 3 pencil)")))
    }

    /// The concrete strategies (not `Auto`).
    /// cbindgen:ignore
    pub const ALL: [Strategy; 3] = [Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil];
    const ALL_WITH_AUTO: [Strategy; 4] = [Strategy::Auto, Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::BatchTranspose => "batch_transpose",
            Strategy::Slab => "slab",
            Strategy::Pencil => "pencil",
        }
    }
}

/// One phase: an ownership and the grid axes transformed there. `None` as
/// ownership means the batch-transposed one (every q, a slice of the batch).
pub(crate) struct Phase {
    pub own: Option<Ownership>,
    pub axes: Vec<usize>,
}

/// The phases of a concrete strategy on `nranks` ranks.
pub(crate) fn phases(strategy: Strategy, grid: Grid, nranks: usize) -> Result<Vec<Phase>> {
    Ok(match strategy {
        Strategy::BatchTranspose => vec![Phase { own: None, axes: vec![0, 1, 2] }],
        Strategy::Slab => vec![
            Phase { own: Some(Ownership::slab(grid, nranks, 0)?), axes: vec![1, 2] },
            Phase { own: Some(Ownership::slab(grid, nranks, 1)?), axes: vec![0] },
        ],
        Strategy::Pencil => [(Layout::ZPencil, 2), (Layout::YPencil, 1), (Layout::XPencil, 0)]
            .into_iter()
            .map(|(l, a)| Ok(Phase { own: Some(Ownership::of_layout(grid, nranks, l)?), axes: vec![a] }))
            .collect::<Result<_>>()?,
        Strategy::Auto => return Err(Error::invalid("resolve Auto with choose() first")),
    })
}

/// Estimated cost of a strategy, in units of "one pass over the local data":
/// each data movement between different ownerships counts its off-rank share
/// (1 - 1/P), doubled when its messages must be packed and unpacked (pencil
/// movements, whose runs of consecutive rows are short, and batch transposes
/// whose per-rank batch slice is narrower than a run the engine sends in
/// place, 4096 elements); each phase's transform counts its share of the
/// FFT work (log of the transformed length over log N) times the load
/// imbalance of that phase (largest local size over the average). A small
/// per-pass term prefers fewer passes when the data are tiny. A transposed
/// plan does not count the movement back to the flat split: the cost is the
/// same for `Out` and `In` (the same movements, summed in the same order),
/// so plans of both directions choose the same strategy and their layouts match.
pub fn estimated_cost(strategy: Strategy, nq: [usize; 3], batch: usize, nranks: usize, transposition: Transposition) -> Result<f64> {
    let grid = Grid::new(nq)?;
    let p = nranks as f64;
    let moved = if nranks > 1 { 1.0 - 1.0 / p } else { 0.0 };
    let log_n = (grid.len() as f64).ln().max(1.0);
    let flat = Ownership::of_layout(grid, nranks, Layout::Flat)?;
    let total = (grid.len() * batch.max(1)) as f64;
    let mut cost = 0.0;
    let staged = |o: Option<&Ownership>| match o {
        Some(Ownership::Pencil { .. }) => true,
        Some(_) => false,
        None => batch.div_ceil(nranks) < RUN_ELEMS,
    };
    let mut current: Option<&Ownership> = Some(&flat);
    let phases = phases(strategy, grid, nranks)?;
    for phase in &phases {
        if !same_ownership(current, phase.own.as_ref(), nranks) {
            let packing = staged(current) || staged(phase.own.as_ref());
            cost += moved * if packing { 2.0 } else { 1.0 } + 0.01;
        }
        let largest = match &phase.own {
            None => (grid.len() * batch.max(1).div_ceil(nranks)) as f64,
            Some(own) => (own.max_count(nranks) * batch.max(1)) as f64,
        };
        let imbalance = largest / (total / p);
        let work = phase.axes.iter().map(|&a| (grid.n[a] as f64).ln()).sum::<f64>() / log_n;
        cost += work.max(0.1) * imbalance;
        current = phase.own.as_ref();
    }
    if transposition == Transposition::Natural && !same_ownership(current, Some(&flat), nranks) {
        cost += moved * if staged(current) { 2.0 } else { 1.0 } + 0.01;
    }
    Ok(cost)
}

/// True when both ownerships store the same points in the same order on every rank.
fn same_ownership(a: Option<&Ownership>, b: Option<&Ownership>, nranks: usize) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (0..nranks).all(|r| match (a.as_range(r), b.as_range(r)) {
            (Some(x), Some(y)) => x == y || (x.is_empty() && y.is_empty()),
            _ => a.indices(r).eq(b.indices(r)),
        }),
        (None, None) => true,
        _ => nranks == 1,
    }
}

/// Batch elements per rank from which a batch transpose's rows (complex128)
/// reach the engine's in-place run size (64 KiB).
const RUN_ELEMS: usize = 4096;

/// The strategy the cost model picks (ties go to the earlier of batch
/// transpose, slab, pencil).
pub fn choose(nq: [usize; 3], batch: usize, nranks: usize, transposition: Transposition) -> Result<Strategy> {
    let mut best = (Strategy::BatchTranspose, f64::INFINITY);
    for s in Strategy::ALL {
        let c = estimated_cost(s, nq, batch, nranks, transposition)?;
        if c < best.1 - 1e-9 {
            best = (s, c);
        }
    }
    Ok(best.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_model_picks_sensible_strategies() {
        let choose = |nq, batch, p| choose(nq, batch, p, Transposition::Natural);
        // Flat blocks of whole x-planes: slab's two movements go in place.
        assert_eq!(choose([16, 16, 16], 2048, 2).unwrap(), Strategy::Slab);
        assert_eq!(choose([24, 24, 24], 256, 3).unwrap(), Strategy::Slab);
        // A wide batch on an odd grid: two movements of 64 KiB rows.
        assert_eq!(choose([13, 7, 5], 16384, 2).unwrap(), Strategy::BatchTranspose);
        // One batch element on 4 ranks, x-planes aligned with the flat split: slab.
        assert_eq!(choose([8, 8, 8], 1, 4).unwrap(), Strategy::Slab);
        // One rank: nothing moves; every strategy is local.
        assert_eq!(choose([4, 4, 4], 1, 1).unwrap(), Strategy::BatchTranspose);
    }

    #[test]
    fn transposed_plans_of_both_directions_choose_alike_and_cost_one_pass_less() {
        for (nq, batch, p) in [([16, 16, 16], 2048, 2), ([13, 7, 5], 16384, 2), ([8, 8, 8], 1, 4), ([5, 6, 7], 3, 3), ([2, 3, 2], 1, 4)] {
            let out = choose(nq, batch, p, Transposition::Out).unwrap();
            assert_eq!(out, choose(nq, batch, p, Transposition::In).unwrap(), "{nq:?} {batch} {p}");
            for s in Strategy::ALL {
                let natural = estimated_cost(s, nq, batch, p, Transposition::Natural).unwrap();
                let transposed = estimated_cost(s, nq, batch, p, Transposition::Out).unwrap();
                assert!(transposed < natural, "{s:?} {nq:?} {batch} {p}: {transposed} vs {natural}");
            }
        }
        // One rank: nothing moves either way.
        assert_eq!(estimated_cost(Strategy::Slab, [4, 4, 4], 2, 1, Transposition::Out).unwrap(), estimated_cost(Strategy::Slab, [4, 4, 4], 2, 1, Transposition::Natural).unwrap());
    }
}
