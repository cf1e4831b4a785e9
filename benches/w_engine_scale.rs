//! W-ENGINE-SCALE (shared/WORKLOADS.md): the engine's plan and message
//! schedule at large rank counts, with no MPI traffic. For one simulated
//! rank (the middle one) of 64 (anchor), 1024 and 16384 simulated ranks:
//!
//! - `fft`: the batch transpose of the distributed FFT at nq = 64x64x64 ×
//!   batch 4096 complex128 (flat q-blocks → every q for this rank's slice of
//!   the batch; what `FftPlan` with `Strategy::BatchTranspose` builds), rows
//!   of each peer's batch window (so a per-peer block of `my_q × its columns
//!   × 16` bytes);
//! - `map`: W-MAP's map on a 128x128x1 square lattice (16384 full points,
//!   2048 complex128 per q), irreducible blocks → full-BZ blocks.
//!
//! Timed: building the rank's `RowPlan` (the planning time). Reported from
//! `RowPlan::message_stats` with the default limit (2^31 - 1) and every
//! rank's rows contiguous (as the FFT and the maps on C-ordered arrays run):
//! peers, messages per peer per pass, passes (steps), the largest number of
//! requests posted at once; and, timed apart, one walk of that schedule
//! (`message_stats`: cutting every peer's streams, which each execution
//! does before it posts a message), the per-execution bookkeeping the
//! planning time is weighed against. Target: one message per peer per pass whenever
//! the per-peer block fits the limit, planning growth from 64 to 16384
//! simulated ranks under 4x.
//!
//! Run: `scripts/bench w_engine_scale [--reps N] [--out DIR]` (--scale is ignored).

#[path = "common/mod.rs"]
mod common;

use common::{Bench, Case, Json};
use dgampi::bzmap::square_lattice_irrk_inv;
use dgampi::engine::{MessageStats, RowPlan};
use dgampi::BlockLayout;
use mpi::traits::*;

const NQ: usize = 64 * 64 * 64;
const BATCH: usize = 4096;
const ELEM: usize = 16; // complex128
const MAP_ROW: usize = 2048 * ELEM;
const LIMIT: usize = 2_147_483_647;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Fft,
    Map,
}

/// The simulated middle rank of `nranks` and its plan.
#[derive(Clone)]
struct Sim {
    kind: Kind,
    nranks: usize,
    rank: usize,
}

impl Sim {
    fn name(&self) -> String {
        format!("{}@{}", if self.kind == Kind::Fft { "fft" } else { "map" }, self.nranks)
    }

    fn build(&self, irrk_inv: &[usize], n_irr: usize) -> RowPlan {
        let (size, rank) = (self.nranks, self.rank);
        match self.kind {
            Kind::Fft => {
                // as FftPlan's move_plan: every peer with columns gets all my q
                // rows (its columns), and I receive every q, from its owner, into
                // my columns (if I have any)
                let (blocks, cols) = (BlockLayout::new(NQ, size).expect("layout"), BlockLayout::new(BATCH, size).expect("layout"));
                let mine = blocks.sizes()[rank];
                let has = |p: usize| cols.sizes()[p] > 0;
                let send = |p: usize| if has(p) { 0..mine } else { 0..0 };
                let recv = |p: usize| if has(rank) { blocks.range(p) } else { 0..0 };
                RowPlan::from_ranges(size, rank, mine, NQ, send, recv, true).expect("plan")
            }
            Kind::Map => {
                let irr = BlockLayout::new(n_irr, size).expect("layout");
                let full = BlockLayout::new(irrk_inv.len(), size).expect("layout");
                let (nsrc, ndst) = (irr.sizes()[rank], full.sizes()[rank]);
                RowPlan::build(size, rank, nsrc, ndst, |p| irrk_inv[full.range(p)].iter().copied(), |g| Ok(irr.owner(g))).expect("plan")
            }
        }
    }

    fn stats(&self, plan: &RowPlan) -> MessageStats {
        match self.kind {
            Kind::Fft => {
                let cols = BlockLayout::new(BATCH, self.nranks).expect("layout");
                let mine = cols.sizes()[self.rank] * ELEM;
                plan.message_stats(|p| cols.sizes()[p] * ELEM, |_| mine, LIMIT, true).expect("stats")
            }
            Kind::Map => plan.message_stats(|_| MAP_ROW, |_| MAP_ROW, LIMIT, true).expect("stats"),
        }
    }

    /// The largest per-peer block this rank sends, in bytes.
    fn largest_block(&self) -> usize {
        match self.kind {
            Kind::Fft => {
                let (blocks, cols) = (BlockLayout::new(NQ, self.nranks).expect("layout"), BlockLayout::new(BATCH, self.nranks).expect("layout"));
                blocks.sizes()[self.rank] * cols.max_size() * ELEM
            }
            Kind::Map => 0, // reported from the plan below
        }
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
    let irrk_inv = square_lattice_irrk_inv(128);
    let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);

    let mut bench = Bench::new(&world, "W-ENGINE-SCALE", "w_engine_scale", args);
    bench.param("fft", Json::str("batch transpose of nq = 64^3 x batch 4096 complex128: q-blocks -> every q for my batch columns"));
    bench.param("map", Json::str(format!("W-MAP's map on a 128x128 lattice ({n_irr} irreducible -> 16384 full), 2048 complex128 per q")));
    bench.param("limit_bytes", Json::int(LIMIT as u64));

    let sims: Vec<Sim> = [Kind::Fft, Kind::Map]
        .into_iter()
        .flat_map(|kind| [64usize, 1024, 16384].into_iter().map(move |n| Sim { kind, nranks: n, rank: n / 2 }))
        .collect();
    let irr_ref = &irrk_inv[..];
    let cases: Vec<Case<'_, ()>> = sims
        .iter()
        .map(|s| {
            let s2 = s.clone();
            let c = Case::new(&s.name(), &format!("plan of simulated rank {} of {}", s.rank, s.nranks), 0, move |_: &mut ()| {
                std::hint::black_box(s2.build(irr_ref, n_irr));
            });
            if s.nranks == 64 {
                c.anchor()
            } else {
                c.vs(&Sim { nranks: 64, rank: 32, ..s.clone() }.name())
            }
        })
        .collect();
    bench.run_cases(&mut (), cases);

    let medians: Vec<(String, f64)> = bench.results.iter().map(|r| (r.name.clone(), r.median_s())).collect();
    let t = |n: &str| medians.iter().find(|(m, _)| m == n).map(|(_, s)| *s).expect("case");
    let mut rows = Vec::new();
    let mut all_one = true;
    let mut walks = Vec::new(); // the FFT's schedule walks, in rank-count order
    for s in &sims {
        let plan = s.build(&irrk_inv, n_irr);
        let st = s.stats(&plan);
        // Every execution cuts each peer's streams as message_stats does
        // before it posts anything: the per-execution bookkeeping a plan
        // cannot avoid, next to which the planning time is judged.
        let walk = common::median(
            &(0..bench.args.reps.max(5))
                .map(|_| {
                    let t = std::time::Instant::now();
                    std::hint::black_box(s.stats(&plan));
                    t.elapsed().as_secs_f64()
                })
                .collect::<Vec<_>>(),
        );
        if s.kind == Kind::Fft {
            walks.push(walk);
        }
        let per_peer_pass = if st.peers_sent_to == 0 { 0.0 } else { st.messages_sent as f64 / st.peers_sent_to as f64 / st.passes.max(1) as f64 };
        let block = s.largest_block();
        all_one &= block > LIMIT || st.passes <= 1;
        let growth = t(&s.name()) / t(&Sim { nranks: 64, rank: 32, ..s.clone() }.name());
        bench.note(format!(
            "{}: {} peers, {} messages sent / {} received, {:.2} messages per peer per pass, {} pass(es), at most {} requests posted at once; \
             planning {:.1} us (x{:.2} vs 64 ranks); one execution's schedule walk {:.1} us{}",
            s.name(),
            st.peers_sent_to,
            st.messages_sent,
            st.messages_received,
            per_peer_pass,
            st.passes,
            st.max_outstanding,
            t(&s.name()) * 1e6,
            growth,
            walk * 1e6,
            if block > 0 { format!("; largest per-peer block {}", common::human_bytes(block as u64)) } else { String::new() }
        ));
        rows.push(Json::obj(vec![
            ("case", Json::str(s.name())),
            ("ranks", Json::int(s.nranks as u64)),
            ("peers", Json::int(st.peers_sent_to as u64)),
            ("messages_sent", Json::int(st.messages_sent as u64)),
            ("messages_received", Json::int(st.messages_received as u64)),
            ("passes", Json::int(st.passes as u64)),
            ("max_outstanding", Json::int(st.max_outstanding as u64)),
            ("planning_s", Json::Num(t(&s.name()))),
            ("planning_growth_vs_64", Json::Num(growth)),
            ("schedule_walk_s", Json::Num(walk)),
        ]));
    }
    bench.param("schedule", Json::Arr(rows));
    let at = |kind: Kind, n: usize| t(&Sim { kind, nranks: n, rank: n / 2 }.name());
    let (map_growth, fft_growth) = (at(Kind::Map, 16384) / at(Kind::Map, 64), at(Kind::Fft, 16384) / at(Kind::Fft, 64));
    let fft_walk = walks.last().copied().unwrap_or(0.0);
    bench.note(format!(
        "acceptance: one message per peer per pass where the block fits the limit: {}; planning growth 64 -> 16384 ranks (target < 4): map {map_growth:.2} {}, \
         fft {fft_growth:.2} {} (an all-to-all: every rank has O(ranks) peers, and every execution walks their streams: at 16384 ranks planning \
         {:.1} ns per rank, {:.1} us in all, against {:.1} us for one execution's schedule walk)",
        if all_one { "MET" } else { "NOT MET" },
        if map_growth < 4.0 { "MET" } else { "NOT MET" },
        if fft_growth < 4.0 { "MET" } else { "NOT MET" },
        at(Kind::Fft, 16384) / 16384.0 * 1e9,
        at(Kind::Fft, 16384) * 1e6,
        fft_walk * 1e6
    ));
    bench.finish();
}
