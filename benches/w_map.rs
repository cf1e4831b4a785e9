//! W-MAP (shared/WORKLOADS.md): the IBZ → full-BZ maps on the 64x64x1 square
//! lattice (561 irreducible → 4096 full points, the map built here from the
//! formula of WORKLOADS.md), 2048 complex128 per q (× --scale), at the default
//! message limit.
//!
//! Cases, interleaved per repetition:
//! - `exchange`: `exchange_and_map_irrbz_fullbz` into a preallocated output
//!   (`Destination::Into`);
//! - `map_plan`: `MapPlan::execute` of a plan made once before the cases
//!   (its creation time reported apart), into the same output, along the
//!   route the plan chose (`DGAMPI_EXCHANGE_PATH`, default auto: a collective
//!   when every per-peer block fits the limit);
//! - `map_plan_p2p`: the same with a plan made under the `p2p` setting (the
//!   chunked point-to-point engine), so both routes are measured;
//! - `map`: `map_irrbz_fullbz` (gather to rank 0, unfold, scatter) into the same output;
//! - `a2av+memcpy` (anchor, compared with both): a raw `MPI_Alltoallv` of the
//!   bytes the exchange must move between ranks, then a memcpy of this rank's
//!   output block (what the local unfold writes);
//! - `alltoallv`, `memcpy` (anchors): the two parts alone (the acceptance ratio
//!   is `exchange / (alltoallv + memcpy)` on the medians).
//!
//! The Alltoallv counts are computed here from the map, independently of the
//! library: rank `s` sends rank `p != s` each irreducible row it owns that `p`
//! needs, once (the minimum); the anchor sends contiguous dummy buffers of
//! those sizes. The library's plan (`MapPlan::row_plan().rows_sent()`) is compared
//! with that minimum. Every map's output is checked element by element
//! against a serial unfold right after their warm-ups (outside timing).
//!
//! Memory: `exchange` runs first, and the anchors allocate their buffers only
//! before their own warm-ups, so the process peak read right after the
//! exchange's warm-up is the exchange's footprint (input block + output block +
//! the library's temporaries + MPI); it is compared with
//! `1.1 × (input block + output block) + 64 MiB` per rank.
//!
//! Bytes per case (for GB/s): `exchange`, `map` and `a2av+memcpy` declare the
//! cross-rank bytes plus the output bytes (all ranks), so their GB/s ratio is the
//! inverse time ratio; `alltoallv` the cross-rank bytes; `memcpy` the output bytes.
//!
//! The acceptance ratio is reported two ways: from the medians, and as the
//! median over repetitions of `exchange_i / (alltoallv_i + memcpy_i)` (cases
//! are interleaved, so this pairs runs that saw the same machine load).
//! Repetitions default to 31 (a repetition is ~10 ms).
//!
//! Run: `scripts/bench w_map [--reps N] [--scale N] [--out DIR]`.

#[path = "common/mod.rs"]
mod common;

use dgampi::bzmap::square_lattice_irrk_inv as square_lattice_map;
use common::{Bench, Case, Json};
use dgampi::{ArrayMut, ArrayRef};
use dgampi::bzmap::{exchange_and_map_irrbz_fullbz, map_irrbz_fullbz};
use dgampi::MapPlan;
use dgampi::Distributor;
use mpi::traits::*;
use ndarray::Array2;
use num_complex::Complex64;
use std::os::raw::c_void;

const N: usize = 64; // 64x64x1 lattice
const BASE_ROW_ELEMS: usize = 2048; // complex128 per q
/// Repetitions when `--reps` is not given: a repetition takes ~10 ms, and on a
/// shared 2-core machine single repetitions of the anchors vary by 2-5x.
const DEFAULT_REPS: usize = 31;
const POISON: Complex64 = Complex64::new(-1.0, -1.0);
const ACCEPT_RATIO: f64 = 1.3;

/// Input value of irreducible row `k`, element `e` (unique, never POISON).
fn pattern(k: usize, e: usize) -> Complex64 {
    Complex64::new(k as f64, e as f64 + 0.5)
}

fn check_mpi(code: i32, what: &str) {
    if code != 0 {
        panic!("{what} returned MPI error code {code}");
    }
}

fn exit_with(rank: i32, msg: &str) -> ! {
    if rank == 0 {
        eprintln!("error: {msg}");
    }
    std::process::exit(2)
}

struct State {
    /// The plan of the `map_plan` case.
    plan: MapPlan,
    /// The plan of the `map_plan_p2p` case (made under the p2p setting).
    plan_p2p: MapPlan,
    comm: mpi::ffi::MPI_Comm,
    row_elems: usize,
    /// First full-BZ point of this rank.
    full_off: usize,
    input: Array2<Complex64>,
    output: Array2<Complex64>,
    // Alltoallv anchor: byte counts and displacements per peer, dummy buffers.
    scounts: Vec<i32>,
    sdispls: Vec<i32>,
    rcounts: Vec<i32>,
    rdispls: Vec<i32>,
    sbuf: Vec<u8>,
    rbuf: Vec<u8>,
    send_bytes: usize,
    recv_bytes: usize,
    /// memcpy anchor source (output-block sized).
    scratch: Vec<Complex64>,
    /// Process peak RSS right after the exchange's warm-up.
    rss_after_exchange: u64,
}

fn alltoallv(s: &mut State) {
    // SAFETY: counts/displacements describe ranges inside sbuf and rbuf.
    check_mpi(
        unsafe {
            mpi::ffi::MPI_Alltoallv(
                s.sbuf.as_ptr() as *const c_void,
                s.scounts.as_ptr(),
                s.sdispls.as_ptr(),
                mpi::ffi::RSMPI_UINT8_T,
                s.rbuf.as_mut_ptr() as *mut c_void,
                s.rcounts.as_ptr(),
                s.rdispls.as_ptr(),
                mpi::ffi::RSMPI_UINT8_T,
                s.comm,
            )
        },
        "MPI_Alltoallv",
    );
}

fn memcpy(s: &mut State) {
    let out = s.output.as_slice_mut().expect("contiguous output");
    out.copy_from_slice(&s.scratch);
    std::hint::black_box(out);
}

/// Allocates and touches the anchors' buffers (once).
fn prepare_anchors(s: &mut State) {
    if s.sbuf.len() != s.send_bytes {
        s.sbuf = vec![1u8; s.send_bytes];
        s.rbuf = vec![2u8; s.recv_bytes];
    }
    if s.scratch.len() != s.output.len() {
        s.scratch = vec![Complex64::new(3.0, 3.0); s.output.len()];
    }
}

fn poison(s: &mut State) {
    s.output.fill(POISON);
}

/// Checks the output against a serial unfold: full[q] = irr[irrk_inv[q]].
fn verify(s: &State, irrk_inv: &[usize]) -> Result<(), String> {
    let mut bad = 0usize;
    let mut first = None;
    for (ql, row) in s.output.outer_iter().enumerate() {
        let k = irrk_inv[s.full_off + ql];
        for (e, v) in row.iter().enumerate() {
            if *v != pattern(k, e) {
                bad += 1;
                first.get_or_insert((ql, e, *v, pattern(k, e)));
            }
        }
    }
    match first {
        None => Ok(()),
        Some((ql, e, got, want)) => Err(format!(
            "{bad} of {} elements differ; first at local row {ql} (q = {}), element {e}: got {got}, expected {want}",
            s.output.len(),
            s.full_off + ql
        )),
    }
}

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let rank = world.rank();
    let mut args = common::parse_args_or_exit(rank);
    if let Err(e) = args.finish() {
        exit_with(rank, &e);
    }
    if !args.argv.iter().any(|a| a == "--reps" || a.starts_with("--reps=")) {
        args.reps = DEFAULT_REPS;
    }
    let nranks = world.size() as usize;
    let me = rank as usize;

    let irrk_inv = square_lattice_map(N);
    let n_full = irrk_inv.len();
    let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);
    assert_eq!((n_irr, n_full), (561, 4096), "the 64x64 square-lattice map has 561 irreducible points");
    assert_eq!(square_lattice_map(2), [0, 1, 1, 2]);
    let row_elems = args.scaled(BASE_ROW_ELEMS);
    let row_bytes = row_elems * 16;

    let irr = Distributor::new(&world, n_irr, "w_map_irr", None).unwrap_or_else(|e| exit_with(rank, &format!("Distributor::new: {e}")));
    let full = Distributor::new(&world, n_full, "w_map_full", None).unwrap_or_else(|e| exit_with(rank, &format!("Distributor::new: {e}")));

    // Minimum traffic, from the map alone: rows[s][p] = distinct irreducible
    // rows owned by s that p's full points need (each crosses once per p).
    let owner_of = |k: usize| (0..nranks).find(|&r| irr.offsets()[r] <= k && k < irr.offsets()[r] + irr.sizes()[r]).expect("owner");
    let mut rows = vec![vec![0usize; nranks]; nranks];
    for (p, range) in full.offsets().iter().zip(full.sizes()).map(|(&o, &n)| o..o + n).enumerate() {
        let mut needed = vec![false; n_irr];
        for &k in &irrk_inv[range] {
            needed[k] = true;
        }
        for (k, _) in needed.iter().enumerate().filter(|(_, &n)| n) {
            rows[owner_of(k)][p] += 1;
        }
    }
    let min_sent_rows: usize = (0..nranks).filter(|&p| p != me).map(|p| rows[me][p]).sum();
    let min_recv_rows: usize = (0..nranks).filter(|&p| p != me).map(|p| rows[p][me]).sum();
    let cross_bytes_total: usize = (0..nranks).flat_map(|s| (0..nranks).map(move |p| (s, p))).filter(|(s, p)| s != p).map(|(s, p)| rows[s][p] * row_bytes).sum();
    // The MapPlan of the `map_plan` case, created once (timed apart).
    let t0 = mpi::time();
    let plan = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &[row_elems], None, 0)
        .unwrap_or_else(|e| exit_with(rank, &format!("MapPlan::new: {e}")));
    let plan_build_s = mpi::time() - t0;
    let plan_sent_rows = plan.row_plan().rows_sent();
    let setting = dgampi::exchange_path().unwrap_or_else(|e| exit_with(rank, &format!("DGAMPI_EXCHANGE_PATH: {e}")));
    dgampi::set_exchange_path(dgampi::ExchangePath::PointToPoint);
    let plan_p2p = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &[row_elems], None, 0)
        .unwrap_or_else(|e| exit_with(rank, &format!("MapPlan::new (p2p): {e}")));
    dgampi::set_exchange_path(setting);

    let to_i32 = |b: usize| i32::try_from(b).unwrap_or_else(|_| exit_with(rank, &format!("alltoallv byte count {b} exceeds an int; lower --scale")));
    let scounts: Vec<i32> = (0..nranks).map(|p| if p == me { 0 } else { to_i32(rows[me][p] * row_bytes) }).collect();
    let rcounts: Vec<i32> = (0..nranks).map(|p| if p == me { 0 } else { to_i32(rows[p][me] * row_bytes) }).collect();
    let displs = |c: &[i32]| c.iter().scan(0i64, |acc, &n| {
        let d = *acc;
        *acc += n as i64;
        Some(i32::try_from(d).expect("displacement fits an int"))
    }).collect::<Vec<i32>>();
    let (sdispls, rdispls) = (displs(&scounts), displs(&rcounts));

    let mut bench = Bench::new(&world, "W-MAP", "w_map", args);
    bench.track_case_rss(true);
    bench.param("lattice", Json::str(format!("{N}x{N}x1 square lattice, {n_irr} irreducible -> {n_full} full points")));
    bench.param("row", Json::str(format!("{row_elems} complex128 per q ({row_bytes} bytes)")));
    bench.param("irr_sizes", Json::Arr(irr.sizes().iter().map(|&n| Json::int(n as u64)).collect()));
    bench.param("full_sizes", Json::Arr(full.sizes().iter().map(|&n| Json::int(n as u64)).collect()));
    bench.param("limit_bytes", Json::int(dgampi::max_message_bytes() as u64));

    let input = Array2::from_shape_fn((irr.my_size(), row_elems), |(i, e)| pattern(irr.my_offset() + i, e));
    let output = Array2::from_elem((full.my_size(), row_elems), POISON);
    let in_bytes = input.len() * 16;
    let out_bytes = output.len() * 16;
    let state_route = plan.exchange_route().name();
    bench.param("map_plan_route", Json::str(state_route));
    bench.param("map_plan_p2p_route", Json::str(plan_p2p.exchange_route().name()));
    let mut state = State {
        plan,
        plan_p2p,
        comm: world.as_raw(),
        row_elems,
        full_off: full.my_offset(),
        input,
        output,
        send_bytes: scounts.iter().map(|&c| c as usize).sum(),
        recv_bytes: rcounts.iter().map(|&c| c as usize).sum(),
        scounts,
        sdispls,
        rcounts,
        rdispls,
        sbuf: Vec::new(),
        rbuf: Vec::new(),
        scratch: Vec::new(),
        rss_after_exchange: 0,
    };
    debug_assert_eq!(state.input.ncols(), state.row_elems);

    let output_total = (n_full * row_bytes) as u64;
    let both = cross_bytes_total as u64 + output_total;
    let (irr_r, full_r, map_r) = (&irr, &full, &irrk_inv[..]);
    let cases = vec![
        Case::new("exchange", "exchange_and_map_irrbz_fullbz into a preallocated output (Destination::Into)", both, move |s: &mut State| {
            exchange_and_map_irrbz_fullbz(irr_r, full_r, map_r, ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view"), None, 0).expect("exchange_and_map_irrbz_fullbz");
        })
        .prepare(poison)
        .check(move |s: &mut State| {
            s.rss_after_exchange = common::peak_rss_bytes();
            verify(s, map_r)
        })
        .vs("a2av+memcpy"),
        Case::new("map_plan", "MapPlan::execute (plan made once) into the same output", both, move |s: &mut State| {
            s.plan.execute(ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view")).expect("MapPlan::execute");
        })
        .prepare(poison)
        .check(move |s: &mut State| verify(s, map_r))
        .vs("a2av+memcpy"),
        Case::new("map_plan_p2p", "MapPlan::execute of a plan made under DGAMPI_EXCHANGE_PATH=p2p (the chunked engine)", both, move |s: &mut State| {
            s.plan_p2p.execute(ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view")).expect("MapPlan::execute");
        })
        .prepare(poison)
        .check(move |s: &mut State| verify(s, map_r))
        .vs("a2av+memcpy"),
        Case::new("map", "map_irrbz_fullbz (gather to rank 0, unfold, scatter) into the same output", both, move |s: &mut State| {
            map_irrbz_fullbz(irr_r, full_r, map_r, ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view"), None, 0).expect("map_irrbz_fullbz");
        })
        .prepare(poison)
        .check(move |s: &mut State| verify(s, map_r))
        .vs("a2av+memcpy"),
        Case::new("gather+take+scatter", "dgampi gather to rank 0, ndarray select (numpy.take) of the full-BZ rows there, dgampi scatter_into", both, move |s: &mut State| {
            let all = irr_r.gather(&s.input, 0, 0).expect("gather");
            let full_all = all.map(|a| a.select(ndarray::Axis(0), map_r));
            full_r.scatter_into(full_all.as_ref(), &mut s.output, 0, 0).expect("scatter_into");
        })
        .prepare(poison)
        .check(move |s: &mut State| verify(s, map_r))
        .anchor(),
        Case::new("a2av+memcpy", "raw MPI_Alltoallv of the minimum cross-rank bytes, then memcpy of the output block", both, |s: &mut State| {
            alltoallv(s);
            memcpy(s);
        })
        .prepare(prepare_anchors)
        .anchor(),
        Case::new("alltoallv", "raw MPI_Alltoallv of the minimum cross-rank bytes (contiguous dummy buffers)", cross_bytes_total as u64, alltoallv)
            .prepare(prepare_anchors)
            .anchor(),
        Case::new("memcpy", "copy_from_slice of each rank's output block (all ranks at once)", output_total, memcpy).prepare(prepare_anchors).anchor(),
    ];
    bench.run_cases(&mut state, cases);

    // Per-rank figures, gathered everywhere.
    let gather = |x: u64| {
        let mut all = vec![0u64; nranks];
        world.all_gather_into(&x, &mut all[..]);
        all
    };
    let rss_exchange = gather(state.rss_after_exchange);
    let plan_sent = gather(plan_sent_rows as u64);
    let min_sent = gather(min_sent_rows as u64);
    let min_recv = gather(min_recv_rows as u64);
    let in_all = gather(in_bytes as u64);
    let out_all = gather(out_bytes as u64);
    let plan_s = {
        let mut worst = 0.0f64;
        world.all_reduce_into(&plan_build_s, &mut worst, mpi::collective::SystemOperation::max());
        worst
    };

    let find = |n: &str| bench.results.iter().find(|r| r.name == n).expect("case").clone();
    let (ex, mp, both_a, a2a, mc) = (find("exchange"), find("map"), find("a2av+memcpy"), find("alltoallv"), find("memcpy"));
    let gts = find("gather+take+scatter");
    let planned = find("map_plan");
    let planned_p2p = find("map_plan_p2p");
    bench.param("ratio_map_plan_p2p_over_alltoallv_plus_memcpy", Json::Num(planned_p2p.median_s() / (a2a.median_s() + mc.median_s())));
    let ratio_plan = planned.median_s() / (a2a.median_s() + mc.median_s());
    let ratio_plan_paired = common::median(&(0..planned.times.len()).map(|i| planned.times[i] / (a2a.times[i] + mc.times[i])).collect::<Vec<f64>>());
    let ratio_sum = ex.median_s() / (a2a.median_s() + mc.median_s());
    let ratio_combined = ex.median_s() / both_a.median_s();
    // Paired per repetition (cases are interleaved, so rep i of each ran back to back).
    let per_rep = |f: &dyn Fn(usize) -> f64| common::median(&(0..ex.times.len()).map(f).collect::<Vec<f64>>());
    let ratio_paired = per_rep(&|i| ex.times[i] / (a2a.times[i] + mc.times[i]));
    let ratio_paired_combined = per_rep(&|i| ex.times[i] / both_a.times[i]);
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    bench.param("bytes_sent_per_rank_plan", Json::Arr(plan_sent.iter().map(|&r| Json::int(r * row_bytes as u64)).collect()));
    bench.param("bytes_sent_per_rank_minimum", Json::Arr(min_sent.iter().map(|&r| Json::int(r * row_bytes as u64)).collect()));
    bench.param("bytes_received_per_rank_minimum", Json::Arr(min_recv.iter().map(|&r| Json::int(r * row_bytes as u64)).collect()));
    bench.param("map_plan_create_s_max_over_ranks", Json::Num(plan_s));
    bench.param("ratio_map_plan_over_alltoallv_plus_memcpy", Json::Num(ratio_plan));
    bench.param("ratio_map_plan_over_alltoallv_plus_memcpy_median_per_rep", Json::Num(ratio_plan_paired));
    bench.param("ratio_exchange_over_map_plan", Json::Num(ex.median_s() / planned.median_s()));
    bench.param("peak_rss_after_exchange_bytes", Json::Arr(rss_exchange.iter().map(|&b| Json::int(b)).collect()));
    bench.param("ratio_exchange_over_alltoallv_plus_memcpy", Json::Num(ratio_sum));
    bench.param("ratio_exchange_over_combined_anchor", Json::Num(ratio_combined));
    bench.param("ratio_exchange_over_alltoallv_plus_memcpy_median_per_rep", Json::Num(ratio_paired));
    bench.param("ratio_exchange_over_combined_anchor_median_per_rep", Json::Num(ratio_paired_combined));
    bench.param("ratio_map_over_alltoallv_plus_memcpy", Json::Num(mp.median_s() / (a2a.median_s() + mc.median_s())));
    let ratio_map_gts = mp.median_s() / gts.median_s();
    bench.param("ratio_map_over_gather_take_scatter", Json::Num(ratio_map_gts));
    bench.note(format!(
        "map_irrbz_fullbz / (gather + take + scatter) = {:.4} / {:.4} = {ratio_map_gts:.3} (target <= 1): {}",
        mp.median_s(),
        gts.median_s(),
        verdict(ratio_map_gts <= 1.0)
    ));

    bench.note(format!(
        "acceptance: exchange / (alltoallv + memcpy) = {:.4} / ({:.4} + {:.4}) = {ratio_sum:.3} (target <= {ACCEPT_RATIO}): {}; \
         vs the combined anchor {ratio_combined:.3}",
        ex.median_s(),
        a2a.median_s(),
        mc.median_s(),
        verdict(ratio_sum <= ACCEPT_RATIO)
    ));
    bench.note(format!(
        "same ratio paired per repetition (median over reps of exchange_i / (alltoallv_i + memcpy_i)): {ratio_paired:.3}: {}; \
         of exchange_i / combined_i: {ratio_paired_combined:.3}",
        verdict(ratio_paired <= ACCEPT_RATIO)
    ));
    bench.note(format!(
        "plan ({}): MapPlan::execute / (alltoallv + memcpy) = {:.4} / ({:.4} + {:.4}) = {ratio_plan:.3} (target <= 1.0): {}; paired per repetition {ratio_plan_paired:.3}; \
         the plan on the point-to-point engine: {:.3}; the one-shot exchange / the plan's execution = {:.3}; MapPlan::new once: {:.1} us (max over ranks)",
        state_route,
        planned.median_s(),
        a2a.median_s(),
        mc.median_s(),
        verdict(ratio_plan <= 1.0),
        planned_p2p.median_s() / (a2a.median_s() + mc.median_s()),
        ex.median_s() / planned.median_s(),
        plan_s * 1e6
    ));
    bench.note(format!(
        "map (through the root) / (alltoallv + memcpy) = {:.3}",
        mp.median_s() / (a2a.median_s() + mc.median_s())
    ));
    let sent_ok = plan_sent == min_sent;
    for r in 0..nranks {
        bench.note(format!(
            "rank {r}: bytes sent {} (plan {} rows) vs minimum {} ({} rows): {}",
            common::human_bytes(plan_sent[r] * row_bytes as u64),
            plan_sent[r],
            common::human_bytes(min_sent[r] * row_bytes as u64),
            min_sent[r],
            if plan_sent[r] == min_sent[r] { "equal" } else if plan_sent[r] > min_sent[r] { "ABOVE the minimum" } else { "below the minimum?!" }
        ));
    }
    let mut rss_ok = true;
    for r in 0..nranks {
        let bound = 1.1 * (in_all[r] + out_all[r]) as f64 + (64u64 << 20) as f64;
        rss_ok &= (rss_exchange[r] as f64) <= bound;
        bench.note(format!(
            "rank {r}: peak RSS through the exchange {} vs 1.1 x (input {} + output {}) + 64 MiB = {}: {}",
            common::human_bytes(rss_exchange[r]),
            common::human_bytes(in_all[r]),
            common::human_bytes(out_all[r]),
            common::human_bytes(bound as u64),
            verdict((rss_exchange[r] as f64) <= bound)
        ));
    }
    bench.note(format!(
        "bytes sent: {}; peak RSS: {}",
        if sent_ok { "every rank at the minimum" } else { "NOT at the minimum" },
        verdict(rss_ok)
    ));
    bench.note("the process peak RSS below also covers map (rank 0 holds the whole irreducible and full arrays) and the anchors' buffers");
    drop(state);
    bench.finish();
}
