//! W-VSLICE (shared/WORKLOADS.md): `gather_full_ibz_for_vslice` on the 32x32x1
//! square lattice (153 irreducible → 1024 full points, the map built here from
//! the formula of WORKLOADS.md), a complex128 vertex `[q_irr, 2, 2, 2, 2, 64, 64]`
//! (4 orbital axes of 2, 64 x 64 frequencies; --scale multiplies nu'), with the
//! node-aware split of the 64 nu found by `MPI_Comm_split_type` (real nodes).
//!
//! Each rank ends with `[1024, 2, 2, 2, 2, my_nu, 64]`: 512 MiB per rank at 2 ranks.
//!
//! Cases, interleaved per repetition:
//! - `vslice_plan`: `VslicePlan::execute` of a plan made once before the
//!   cases (its creation time is reported apart), into a preallocated
//!   output, checked element by element against a serial unfold right after
//!   its warm-up (outside timing), along the route the plan chose
//!   (`DGAMPI_EXCHANGE_PATH`, default auto: `MPI_Alltoallw` when every
//!   per-peer block fits the limit);
//! - `vslice_plan_p2p`: the same with a plan made under the `p2p` setting
//!   (the chunked point-to-point engine), so both routes are measured;
//! - `vslice`: the one-shot `gather_full_ibz_for_vslice` (plans inside every
//!   call), checked the same way;
//! - `alltoallv` (anchor of WORKLOADS.md): a raw `MPI_Alltoallv` of the bytes
//!   that must cross ranks (computed here from the map and the split: rank
//!   `s` sends rank `p != s` each (q_irr, orb, nu) row it owns with nu in
//!   p's slice, once), contiguous dummy buffers;
//! - `memcpy` (extra anchor): a memcpy of this rank's output block (all ranks at once);
//! - `a2av+memcpy` (extra anchor): both in a row, the data movement a perfect
//!   implementation cannot avoid.
//!
//! The plan's bytes sent are compared with the minimum.
//!
//! Bytes per case (for GB/s): `vslice_plan`, `vslice` and `a2av+memcpy` declare cross-rank +
//! output bytes (all ranks); `alltoallv` the cross-rank bytes; `memcpy` the output bytes.
//!
//! Ratios (of `vslice_plan`) are also reported paired per repetition
//! (median over reps of `vslice_plan_i / anchor_i`). Repetitions default to 11.
//!
//! Run: `scripts/bench w_vslice [--reps N] [--scale N] [--out DIR]`.

#[path = "common/mod.rs"]
mod common;

use dgampi::bzmap::square_lattice_irrk_inv as square_lattice_map;
use common::{Bench, Case, Json};
use dgampi::{ArrayMut, ArrayRef};
use dgampi::freq::{gather_full_ibz_for_vslice, node_aware_split, node_labels, FreqSplit, NodeOrder};
use dgampi::VslicePlan;
use dgampi::Distributor;
use mpi::traits::*;
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use std::os::raw::c_void;

const N: usize = 32; // 32x32x1 lattice
const ORB: [usize; 4] = [2, 2, 2, 2];
const N_NU: usize = 64;
const BASE_N_NUP: usize = 64;
const POISON: Complex64 = Complex64::new(-1.0, -1.0);

/// Vertex value at global row `(q_irr * n_orb + o) * N_NU + nu`, element nu' (unique, never POISON).
fn pattern(row: usize, nup: usize) -> Complex64 {
    Complex64::new(row as f64, nup as f64 + 0.5)
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
    plan: VslicePlan,
    /// The plan of the `vslice_plan_p2p` case (made under the p2p setting).
    plan_p2p: VslicePlan,
    comm: mpi::ffi::MPI_Comm,
    input: ArrayD<Complex64>,
    output: ArrayD<Complex64>,
    scounts: Vec<i32>,
    sdispls: Vec<i32>,
    rcounts: Vec<i32>,
    rdispls: Vec<i32>,
    sbuf: Vec<u8>,
    rbuf: Vec<u8>,
    send_bytes: usize,
    recv_bytes: usize,
    scratch: Vec<Complex64>,
    rss_after_vslice: u64,
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

fn prepare_anchors(s: &mut State) {
    if s.sbuf.len() != s.send_bytes {
        s.sbuf = vec![1u8; s.send_bytes];
        s.rbuf = vec![2u8; s.recv_bytes];
    }
    if s.scratch.len() != s.output.len() {
        s.scratch = vec![Complex64::new(3.0, 3.0); s.output.len()];
    }
}

/// Serial reference: out[q, o, nl, nu'] = vertex[irrk_inv[q], o, nu_off + nl, nu'].
fn verify(out: &ArrayD<Complex64>, irrk_inv: &[usize], n_orb: usize, nu_off: usize, my_nu: usize, n_nup: usize) -> Result<(), String> {
    let data = out.as_slice().ok_or("output not contiguous")?;
    let mut bad = 0usize;
    let mut first = None;
    for (q, &k) in irrk_inv.iter().enumerate() {
        for o in 0..n_orb {
            for nl in 0..my_nu {
                let row = (k * n_orb + o) * N_NU + nu_off + nl;
                let base = ((q * n_orb + o) * my_nu + nl) * n_nup;
                for (j, v) in data[base..base + n_nup].iter().enumerate() {
                    if *v != pattern(row, j) {
                        bad += 1;
                        first.get_or_insert((q, o, nl, j, *v, pattern(row, j)));
                    }
                }
            }
        }
    }
    match first {
        None => Ok(()),
        Some((q, o, nl, j, got, want)) => Err(format!(
            "{bad} of {} elements differ; first at q {q}, orbital {o}, nu {} (local {nl}), nu' {j}: got {got}, expected {want}",
            data.len(),
            nu_off + nl
        )),
    }
}

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let rank = world.rank();
    let args = common::parse_args_or_exit(rank);
    if let Err(e) = args.finish() {
        exit_with(rank, &e);
    }
    let nranks = world.size() as usize;
    let me = rank as usize;

    let irrk_inv = square_lattice_map(N);
    let n_full = irrk_inv.len();
    let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);
    assert_eq!((n_irr, n_full), (153, 1024), "the 32x32 square-lattice map has 153 irreducible points");
    let n_orb: usize = ORB.iter().product();
    let n_nup = args.scaled(BASE_N_NUP);
    let row_bytes = n_nup * 16;

    let irr = Distributor::new(&world, n_irr, "w_vslice_irr", None).unwrap_or_else(|e| exit_with(rank, &format!("Distributor::new: {e}")));
    let full = Distributor::new(&world, n_full, "w_vslice_full", None).unwrap_or_else(|e| exit_with(rank, &format!("Distributor::new: {e}")));
    let nodes = node_labels(&full, NodeOrder::SharedMemory).unwrap_or_else(|e| exit_with(rank, &format!("node_labels: {e}")));
    let split: FreqSplit = node_aware_split(&full, N_NU).unwrap_or_else(|e| exit_with(rank, &format!("node_aware_split: {e}")));
    let (nu_off, my_nu) = (split.offsets[me], split.sizes[me]);

    // Minimum traffic from the map and the split: rank s owns irr rows
    // irr.range(s); rank p needs, for every irreducible q that appears in the
    // full BZ (all of them), every orbital and nu in p's slice: rows[s][p] =
    // (irreducible q of s that appear) x n_orb x |slice of p|.
    let mut appears = vec![false; n_irr];
    irrk_inv.iter().for_each(|&k| appears[k] = true);
    let irr_appearing = |s: usize| (irr.offsets()[s]..irr.offsets()[s] + irr.sizes()[s]).filter(|&k| appears[k]).count();
    let rows = |s: usize, p: usize| irr_appearing(s) * n_orb * split.sizes[p];
    let min_sent_rows: usize = (0..nranks).filter(|&p| p != me).map(|p| rows(me, p)).sum();
    let cross_bytes_total: usize = (0..nranks).flat_map(|s| (0..nranks).map(move |p| (s, p))).filter(|(s, p)| s != p).map(|(s, p)| rows(s, p) * row_bytes).sum();

    // The plan, created once (timed; WORKLOADS.md reports plan time apart).
    let t0 = mpi::time();
    let row_shape: Vec<usize> = ORB.iter().copied().chain([N_NU, n_nup]).collect();
    let plan = VslicePlan::new(&irr, &full, &irrk_inv, &split, dgampi::DType::Complex128, &row_shape, None, 0)
        .unwrap_or_else(|e| exit_with(rank, &format!("VslicePlan::new: {e}")));
    let plan_build_s = mpi::time() - t0;
    let setting = dgampi::exchange_path().unwrap_or_else(|e| exit_with(rank, &format!("DGAMPI_EXCHANGE_PATH: {e}")));
    dgampi::set_exchange_path(dgampi::ExchangePath::PointToPoint);
    let plan_p2p = VslicePlan::new(&irr, &full, &irrk_inv, &split, dgampi::DType::Complex128, &row_shape, None, 0)
        .unwrap_or_else(|e| exit_with(rank, &format!("VslicePlan::new (p2p): {e}")));
    dgampi::set_exchange_path(setting);
    let route = plan.exchange_route().name();
    // The plan sends one list of (q, orbital) rows to every rank with a
    // slice; each row carries that rank's slice of nu (x nu' elements).
    let receivers: Vec<usize> = (0..nranks).filter(|&p| p != me && split.sizes[p] > 0).collect();
    let rows_per_receiver = if receivers.is_empty() { 0 } else { plan.row_plan().rows_sent() / receivers.len() };
    let plan_sent_rows: usize = receivers.iter().map(|&p| rows_per_receiver * split.sizes[p]).sum();

    let to_i32 = |b: usize| i32::try_from(b).unwrap_or_else(|_| exit_with(rank, &format!("alltoallv byte count {b} exceeds an int; lower --scale")));
    let scounts: Vec<i32> = (0..nranks).map(|p| if p == me { 0 } else { to_i32(rows(me, p) * row_bytes) }).collect();
    let rcounts: Vec<i32> = (0..nranks).map(|p| if p == me { 0 } else { to_i32(rows(p, me) * row_bytes) }).collect();
    let displs = |c: &[i32]| {
        c.iter()
            .scan(0i64, |acc, &n| {
                let d = *acc;
                *acc += n as i64;
                Some(i32::try_from(d).expect("displacement fits an int"))
            })
            .collect::<Vec<i32>>()
    };
    let (sdispls, rdispls) = (displs(&scounts), displs(&rcounts));

    let mut args = args;
    if !args.argv.iter().any(|a| a == "--reps" || a.starts_with("--reps=")) {
        args.reps = 11;
    }
    let mut bench = Bench::new(&world, "W-VSLICE", "w_vslice", args);
    bench.track_case_rss(true);
    let in_shape: Vec<usize> = std::iter::once(irr.my_size()).chain(ORB).chain([N_NU, n_nup]).collect();
    let out_shape: Vec<usize> = std::iter::once(n_full).chain(ORB).chain([my_nu, n_nup]).collect();
    bench.param("lattice", Json::str(format!("{N}x{N}x1 square lattice, {n_irr} irreducible -> {n_full} full points")));
    bench.param("vertex", Json::str(format!("[q_irr, 2, 2, 2, 2, {N_NU}, {n_nup}] complex128 ({} per q)", common::human_bytes((n_orb * N_NU * row_bytes) as u64))));
    bench.param("node_labels", Json::Arr(nodes.iter().map(|&n| Json::Int(n as i128)).collect()));
    bench.param("nu_split_sizes", Json::Arr(split.sizes.iter().map(|&n| Json::int(n as u64)).collect()));
    bench.param("nu_split_offsets", Json::Arr(split.offsets.iter().map(|&n| Json::int(n as u64)).collect()));
    bench.param("irr_sizes", Json::Arr(irr.sizes().iter().map(|&n| Json::int(n as u64)).collect()));
    bench.param("limit_bytes", Json::int(dgampi::max_message_bytes() as u64));

    bench.progress("filling the vertex and the output");
    let row_off = irr.my_offset() * n_orb * N_NU;
    // Flat C-order index k: local row k / nu' (q_irr_local, orb, nu), element k % nu'.
    let n_in: usize = in_shape.iter().product();
    let input = ArrayD::from_shape_vec(IxDyn(&in_shape), (0..n_in).map(|k| pattern(row_off + k / n_nup, k % n_nup)).collect()).expect("vertex shape");
    let output = ArrayD::from_elem(IxDyn(&out_shape), POISON);
    let (in_bytes, out_bytes) = (input.len() * 16, output.len() * 16);
    let mut state = State {
        plan,
        plan_p2p,
        comm: world.as_raw(),
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
        rss_after_vslice: 0,
    };

    let output_total = (n_full * n_orb * N_NU * row_bytes) as u64;
    let both = cross_bytes_total as u64 + output_total;
    let (irr_r, full_r, map_r, split_r) = (&irr, &full, &irrk_inv[..], &split);
    let cases = vec![
        Case::new("vslice_plan", "VslicePlan::execute (plan made once) into a preallocated output, node-aware nu split", both, |s: &mut State| {
            s.plan.execute(ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view")).expect("VslicePlan::execute");
        })
        .prepare(|s: &mut State| s.output.fill(POISON))
        .check(move |s: &mut State| {
            s.rss_after_vslice = common::peak_rss_bytes();
            verify(&s.output, map_r, n_orb, nu_off, my_nu, n_nup)
        })
        .vs("alltoallv"),
        Case::new("vslice_plan_p2p", "VslicePlan::execute of a plan made under DGAMPI_EXCHANGE_PATH=p2p (the chunked engine)", both, move |s: &mut State| {
            s.plan_p2p.execute(ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view")).expect("VslicePlan::execute");
        })
        .prepare(|s: &mut State| s.output.fill(POISON))
        .check(move |s: &mut State| verify(&s.output, map_r, n_orb, nu_off, my_nu, n_nup))
        .vs("alltoallv"),
        Case::new("vslice", "gather_full_ibz_for_vslice into a preallocated output (Destination::Into), node-aware nu split", both, move |s: &mut State| {
            gather_full_ibz_for_vslice(irr_r, full_r, map_r, split_r, ArrayRef::new(&s.input).expect("input view"), ArrayMut::new(&mut s.output).expect("output view"), None, 0).expect("gather_full_ibz_for_vslice");
        })
        .prepare(|s: &mut State| s.output.fill(POISON))
        .check(move |s: &mut State| verify(&s.output, map_r, n_orb, nu_off, my_nu, n_nup))
        .vs("alltoallv"),
        Case::new("alltoallv", "raw MPI_Alltoallv of the minimum cross-rank bytes (contiguous dummy buffers)", cross_bytes_total as u64, alltoallv)
            .prepare(prepare_anchors)
            .anchor(),
        Case::new("memcpy", "copy_from_slice of each rank's output block (all ranks at once)", output_total, memcpy).prepare(prepare_anchors).anchor(),
        Case::new("a2av+memcpy", "raw MPI_Alltoallv of the minimum cross-rank bytes, then memcpy of the output block", both, |s: &mut State| {
            alltoallv(s);
            memcpy(s);
        })
        .prepare(prepare_anchors)
        .anchor(),
    ];
    bench.run_cases(&mut state, cases);

    let gather = |x: u64| {
        let mut all = vec![0u64; nranks];
        world.all_gather_into(&x, &mut all[..]);
        all
    };
    let plan_sent = gather(plan_sent_rows as u64);
    let min_sent = gather(min_sent_rows as u64);
    let rss_v = gather(state.rss_after_vslice);
    let in_all = gather(in_bytes as u64);
    let out_all = gather(out_bytes as u64);
    let plan_s = {
        let mut worst = 0.0f64;
        world.all_reduce_into(&plan_build_s, &mut worst, mpi::collective::SystemOperation::max());
        worst
    };
    let find = |n: &str| bench.results.iter().find(|r| r.name == n).expect("case").clone();
    let (v, one_shot, a2a, mc, both_a) = (find("vslice_plan"), find("vslice"), find("alltoallv"), find("memcpy"), find("a2av+memcpy"));
    let p2p = find("vslice_plan_p2p");
    bench.param("bytes_sent_per_rank_plan", Json::Arr(plan_sent.iter().map(|&r| Json::int(r * row_bytes as u64)).collect()));
    bench.param("bytes_sent_per_rank_minimum", Json::Arr(min_sent.iter().map(|&r| Json::int(r * row_bytes as u64)).collect()));
    bench.param("plan_build_s_max_over_ranks", Json::Num(plan_s));
    bench.param("ratio_one_shot_over_plan", Json::Num(one_shot.median_s() / v.median_s()));
    bench.param("peak_rss_after_vslice_bytes", Json::Arr(rss_v.iter().map(|&b| Json::int(b)).collect()));
    bench.param("ratio_vslice_over_alltoallv", Json::Num(v.median_s() / a2a.median_s()));
    bench.param("ratio_vslice_over_alltoallv_plus_memcpy", Json::Num(v.median_s() / (a2a.median_s() + mc.median_s())));
    bench.param("ratio_vslice_over_combined_anchor", Json::Num(v.median_s() / both_a.median_s()));
    let per_rep = |f: &dyn Fn(usize) -> f64| common::median(&(0..v.times.len()).map(f).collect::<Vec<f64>>());
    let paired_a2a = per_rep(&|i| v.times[i] / a2a.times[i]);
    let paired_sum = per_rep(&|i| v.times[i] / (a2a.times[i] + mc.times[i]));
    bench.param("ratio_vslice_over_alltoallv_median_per_rep", Json::Num(paired_a2a));
    bench.param("ratio_vslice_over_alltoallv_plus_memcpy_median_per_rep", Json::Num(paired_sum));
    bench.note(format!(
        "vslice / alltoallv = {:.4} / {:.4} = {:.2} (WORKLOADS.md anchor; the alltoallv moves {} of the {} the call produces)",
        v.median_s(),
        a2a.median_s(),
        v.median_s() / a2a.median_s(),
        common::human_bytes(cross_bytes_total as u64),
        common::human_bytes(output_total)
    ));
    bench.note(format!(
        "vslice / (alltoallv + memcpy) = {:.4} / ({:.4} + {:.4}) = {:.3}; vs the combined anchor {:.3}",
        v.median_s(),
        a2a.median_s(),
        mc.median_s(),
        v.median_s() / (a2a.median_s() + mc.median_s()),
        v.median_s() / both_a.median_s()
    ));
    bench.param("vslice_plan_route", Json::str(route));
    bench.param("ratio_vslice_plan_p2p_over_alltoallv_plus_memcpy", Json::Num(p2p.median_s() / (a2a.median_s() + mc.median_s())));
    bench.note(format!(
        "routes: the plan ({route}) / (alltoallv + memcpy) = {:.3}; the plan on the point-to-point engine: {:.3}",
        v.median_s() / (a2a.median_s() + mc.median_s()),
        p2p.median_s() / (a2a.median_s() + mc.median_s())
    ));
    bench.note(format!(
        "paired per repetition (median over reps): vslice_i / alltoallv_i = {paired_a2a:.2}; vslice_i / (alltoallv_i + memcpy_i) = {paired_sum:.3}"
    ));
    bench.note(format!(
        "plan creation (once): {:.4} s (max over ranks) = {:.0}% of an execution; the one-shot call (plans inside): {:.4} s = {:.2} x the plan's execution",
        plan_s,
        100.0 * plan_s / v.median_s(),
        one_shot.median_s(),
        one_shot.median_s() / v.median_s()
    ));
    for r in 0..nranks {
        let bound = 1.1 * (in_all[r] + out_all[r]) as f64 + (64u64 << 20) as f64;
        bench.note(format!(
            "rank {r}: bytes sent {} (plan) vs minimum {}: {}; peak RSS through vslice {} vs 1.1 x (input {} + output {}) + 64 MiB = {}",
            common::human_bytes(plan_sent[r] * row_bytes as u64),
            common::human_bytes(min_sent[r] * row_bytes as u64),
            if plan_sent[r] == min_sent[r] { "equal" } else { "DIFFERENT" },
            common::human_bytes(rss_v[r]),
            common::human_bytes(in_all[r]),
            common::human_bytes(out_all[r]),
            common::human_bytes(bound as u64)
        ));
    }
    drop(state);
    bench.finish();
}
