//! W-PLAN (shared/WORKLOADS.md): row-plan construction only, no MPI traffic.
//! `RowPlan::build(nranks, r, nsrc, ndst, needs, owner)` for simulated rank
//! counts, built here from `BlockLayout`s (no Distributor), for a few
//! representative simulated ranks r (first, middle, last):
//!
//! - `map`: W-MAP's map (64x64x1 square lattice, 561 irreducible → 4096 full
//!   points, built from the formula of WORKLOADS.md) with
//!   `needs(p) = irrk_inv[full.range(p)]`, `owner(g) = irr.owner(g)`, at 64
//!   (anchor) and 4096 simulated ranks;
//! - `perm`: nq = 64x64x64 = 262144 rows, block layout on both sides, the axis
//!   permutation (x, y, z) → (z, y, x) of the flat index (what a transpose
//!   between q-layouts does; every rank needs rows of many ranks), at 64
//!   (anchor), 4096 and 16384 simulated ranks;
//! - `ident`: nq = 64^3, the identity between the same block layouts (every
//!   row stays local; the plan should cost O(local rows)), at 64 (anchor) and
//!   16384 simulated ranks — a diagnostic of the per-rank cost floor.
//!
//! Diagnostic cases `<map>@<ranks>:mid:o1` build the middle rank's plan again
//! with a bench-local owner closure computing `BlockLayout::owner`'s formula in
//! O(1) (the library's `owner` sums the per-rank sizes on every call, O(ranks)),
//! to show how much of the cost that accounts for.
//!
//! Each case is one `build` for one simulated rank (plus dropping the plan).
//! Cases at more ranks are paired with the same map's 64-rank case for the same
//! position (first/middle/last): `t/anchor` in the table is the growth factor
//! (WORKLOADS.md: "its own time at 64 ranks"); acceptance: W-MAP's map at 4096
//! ranks < 64 x its 64-rank time.
//!
//! "Bytes" (for GB/s) are the index bytes of the simulated rank's own slice of
//! the map, 8 x (its destination rows + its source rows): a plan whose cost
//! is proportional to its own rows keeps GB/s constant as ranks grow.
//! A counting global allocator reports, per build, the heap allocations, the
//! peak heap the build used and the bytes the finished plan retains.
//!
//! Runs on 1 rank (scripts/bench: the table's ranks column is "—"); on more
//! ranks every rank builds the same plans and the time is the slowest rank's.
//!
//! Run: `scripts/bench w_plan [--reps N] [--out DIR]` (--scale is ignored).

#[path = "common/mod.rs"]
mod common;

use dgampi::bzmap::square_lattice_irrk_inv as square_lattice_map;
use common::{Bench, Case, Json};
use dgampi::engine::RowPlan;
use dgampi::BlockLayout;
use mpi::traits::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

// ------------------------------------------------------------------ counting allocator

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn grow(n: i64) {
    let now = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        grow(l.size() as i64);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        grow(l.size() as i64);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        grow(new as i64 - l.size() as i64);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ------------------------------------------------------------------ maps

const L: usize = 64; // 64x64x64 grid for perm / ident
const NQ3: usize = L * L * L;

/// (x, y, z) → (z, y, x) on the flat row-major index of the L^3 grid.
fn transpose_xz(d: usize) -> usize {
    let (x, y, z) = (d / (L * L), d / L % L, d % L);
    (z * L + y) * L + x
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Map,
    Perm,
    Ident,
}

/// One simulated build: map kind, simulated rank count, simulated rank.
#[derive(Clone)]
struct Sim {
    kind: Kind,
    nranks: usize,
    rank: usize,
    src: BlockLayout,
    dst: BlockLayout,
    /// Diagnostic: use the bench's O(1) owner instead of `BlockLayout::owner`.
    fast_owner: bool,
}

/// `BlockLayout::owner`'s formula with `ntasks` fixed up front (O(1) per call).
fn fast_owner(ntasks: usize, nranks: usize) -> impl Fn(usize) -> (usize, usize) {
    let (base, extra) = (ntasks / nranks, ntasks % nranks);
    let boundary = (nranks - extra) * base;
    move |task| {
        if task < boundary {
            (task / base, task % base)
        } else {
            let k = task - boundary;
            (nranks - extra + k / (base + 1), k % (base + 1))
        }
    }
}

impl Sim {
    fn new(kind: Kind, nranks: usize, rank: usize, n_irr: usize) -> Sim {
        let (nsrc, ndst) = match kind {
            Kind::Map => (n_irr, 4096),
            Kind::Perm | Kind::Ident => (NQ3, NQ3),
        };
        Sim { kind, nranks, rank, src: BlockLayout::new(nsrc, nranks).expect("layout"), dst: BlockLayout::new(ndst, nranks).expect("layout"), fast_owner: false }
    }

    fn with_fast_owner(mut self) -> Sim {
        self.fast_owner = true;
        self
    }

    fn build(&self, irrk_inv: &[usize]) -> RowPlan {
        let (src, dst, r) = (&self.src, &self.dst, self.rank);
        let fast = fast_owner(src.ntasks(), self.nranks);
        let fast_flag = self.fast_owner;
        let owner = |g: usize| Ok(if fast_flag { fast(g) } else { src.owner(g) });
        let (nsrc, ndst) = (src.sizes()[r], dst.sizes()[r]);
        let plan = match self.kind {
            Kind::Map => RowPlan::build(self.nranks, r, nsrc, ndst, |p| irrk_inv[dst.range(p)].iter().copied(), owner),
            Kind::Perm => RowPlan::build(self.nranks, r, nsrc, ndst, |p| dst.range(p).map(transpose_xz), owner),
            Kind::Ident => RowPlan::build(self.nranks, r, nsrc, ndst, |p| dst.range(p), owner),
        };
        plan.expect("RowPlan::build")
    }

    fn name(&self, pos: &str) -> String {
        let k = match self.kind {
            Kind::Map => "map",
            Kind::Perm => "perm",
            Kind::Ident => "ident",
        };
        format!("{k}@{}:{pos}{}", self.nranks, if self.fast_owner { ":o1" } else { "" })
    }

    /// Index bytes of this rank's own slice of the map.
    fn own_bytes(&self) -> u64 {
        8 * (self.src.sizes()[self.rank] + self.dst.sizes()[self.rank]) as u64
    }
}

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let rank = world.rank();
    let mut args = common::parse_args_or_exit(rank);
    if let Err(e) = args.finish() {
        if rank == 0 {
            eprintln!("error: {e}");
        }
        std::process::exit(2);
    }
    if !args.argv.iter().any(|a| a == "--reps" || a.starts_with("--reps=")) {
        args.reps = 5;
    }
    let irrk_inv = square_lattice_map(64);
    let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);
    assert_eq!((n_irr, irrk_inv.len()), (561, 4096));

    // (kind, anchor rank count, larger rank counts)
    let configs: [(Kind, usize, &[usize]); 3] = [(Kind::Map, 64, &[4096]), (Kind::Perm, 64, &[4096, 16384]), (Kind::Ident, 64, &[16384])];
    let positions = |n: usize| [("first", 0), ("mid", n / 2), ("last", n - 1)];

    let mut bench = Bench::new(&world, "W-PLAN", "w_plan", args);
    bench.param("map", Json::str("W-MAP's map: 64x64x1 square lattice, 561 irreducible -> 4096 full, needs(p) = irrk_inv[full.range(p)]"));
    bench.param("perm", Json::str("nq = 64^3 = 262144 rows, block layouts, needs(p) = transpose (x,y,z)->(z,y,x) of full.range(p)"));
    bench.param("ident", Json::str("nq = 64^3, block layouts, needs(p) = full.range(p) (all rows local)"));
    bench.param("bytes", Json::str("8 x (destination + source rows of the simulated rank): its own slice of the map"));

    let mut sims: Vec<(String, Sim, Option<String>)> = Vec::new();
    for (kind, base, more) in configs {
        for (pos, r) in positions(base) {
            let s = Sim::new(kind, base, r, n_irr);
            sims.push((s.name(pos), s, None));
        }
        for &n in more {
            for (pos, r) in positions(n) {
                let s = Sim::new(kind, n, r, n_irr);
                let anchor = Sim::new(kind, base, 0, n_irr).name(pos);
                sims.push((s.name(pos), s, Some(anchor)));
            }
        }
        // Diagnostic: the middle rank again with an O(1) owner (see the module docs).
        for &n in more {
            let s = Sim::new(kind, n, n / 2, n_irr).with_fast_owner();
            sims.push((s.name("mid"), s, Some(Sim::new(kind, base, 0, n_irr).name("mid"))));
        }
    }

    // Allocation statistics, one build each (outside timing).
    let mut stats = Vec::new();
    for (name, s, _) in &sims {
        let (a0, live0) = (ALLOCS.load(Relaxed), LIVE.load(Relaxed));
        PEAK.store(live0, Relaxed);
        let plan = s.build(&irrk_inv);
        let (a1, live1, peak) = (ALLOCS.load(Relaxed), LIVE.load(Relaxed), PEAK.load(Relaxed));
        let info = (plan.rows_sent(), plan.rows_received(), plan.nsrc(), plan.ndst());
        drop(plan);
        stats.push((name.clone(), a1 - a0, (peak - live0).max(0) as u64, (live1 - live0).max(0) as u64, info));
    }

    let irr_ref = &irrk_inv[..];
    let cases: Vec<Case<'_, ()>> = sims
        .iter()
        .map(|(name, s, anchor)| {
            let s2 = s.clone();
            let desc = format!(
                "{:?} map, {} simulated ranks, rank {} ({} src / {} dst rows)",
                s.kind,
                s.nranks,
                s.rank,
                s.src.sizes()[s.rank],
                s.dst.sizes()[s.rank]
            );
            let c = Case::new(name, &desc, s.own_bytes(), move |_: &mut ()| {
                std::hint::black_box(s2.build(irr_ref));
            });
            match anchor {
                Some(a) => c.vs(a),
                None => c.anchor(),
            }
        })
        .collect();
    bench.run_cases(&mut (), cases);

    // Growth factors and acceptance.
    let medians: Vec<(String, f64)> = bench.results.iter().map(|r| (r.name.clone(), r.median_s())).collect();
    let t = |n: &str| medians.iter().find(|(m, _)| m == n).map(|(_, s)| *s).expect("case");
    let growth = |kind: &str, n: usize| -> Vec<f64> { ["first", "mid", "last"].iter().map(|p| t(&format!("{kind}@{n}:{p}")) / t(&format!("{kind}@64:{p}"))).collect() };
    let worst = |v: &[f64]| v.iter().copied().fold(0.0f64, f64::max);
    let g_map = growth("map", 4096);
    let mut summary = Vec::new();
    for (kind, n) in [("map", 4096), ("perm", 4096), ("perm", 16384), ("ident", 16384)] {
        let g = growth(kind, n);
        let per_rank = ["first", "mid", "last"].iter().map(|p| t(&format!("{kind}@{n}:{p}"))).fold(0.0f64, f64::max);
        summary.push(Json::obj(vec![
            ("map", Json::str(kind)),
            ("ranks", Json::int(n as u64)),
            ("growth_vs_64_first_mid_last", Json::Arr(g.iter().map(|&x| Json::Num(x)).collect())),
            ("max_time_per_rank_s", Json::Num(per_rank)),
        ]));
        bench.note(format!(
            "{kind} at {n} ranks: time per rank (max of first/mid/last) {:.1} us; growth vs 64 ranks {:.2} / {:.2} / {:.2} (first/mid/last)",
            per_rank * 1e6,
            g[0],
            g[1],
            g[2]
        ));
    }
    for (kind, n) in [("map", 4096), ("perm", 4096), ("perm", 16384), ("ident", 16384)] {
        let (std_t, o1_t) = (t(&format!("{kind}@{n}:mid")), t(&format!("{kind}@{n}:mid:o1")));
        bench.note(format!(
            "diagnostic {kind}@{n}:mid with an O(1) owner: {:.1} us (growth vs 64 ranks {:.2}) instead of {:.1} us with BlockLayout::owner ({:.1}x)",
            o1_t * 1e6,
            o1_t / t(&format!("{kind}@64:mid")),
            std_t * 1e6,
            std_t / o1_t
        ));
    }
    bench.param("growth", Json::Arr(summary));
    bench.note(format!(
        "acceptance: W-MAP's map at 4096 vs 64 simulated ranks, growth {:.2} (worst of first/mid/last; target < 64): {}",
        worst(&g_map),
        if worst(&g_map) < 64.0 { "MET" } else { "NOT MET" }
    ));
    for (name, allocs, peak, retained, (sent, recv, nsrc, ndst)) in &stats {
        bench.note(format!(
            "{name}: {allocs} heap allocations, peak heap {} during the build, plan retains {}; src/dst rows {nsrc}/{ndst}, rows sent/received (other ranks) {sent}/{recv}",
            common::human_bytes(*peak),
            common::human_bytes(*retained)
        ));
    }
    bench.finish();
}
