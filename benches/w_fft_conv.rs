//! W-FFT-CONV (shared/WORKLOADS.md): a spectral convolution with dgampi's
//! distributed 3-D FFT: forward FFT with its output in the transposed layout
//! (`Transposition::Out`), pointwise multiply by a second array held in that
//! layout, backward FFT taking the transposed layout back
//! (`Transposition::In`), on W-FFT's problem (nq = 16x16x16, batch 2048
//! complex128, 128 MiB; the batch × --scale), 2 ranks, against the same three
//! steps with natural layouts (dgampi) and FFTW-MPI with
//! `FFTW_MPI_TRANSPOSED_OUT` / `_IN`, all in one run.
//!
//! Cases, interleaved per repetition (one warm-up, then `--reps`):
//! - `conv_transposed`: forward `Out` plan `execute_into(x -> t)`, `t *= k`,
//!   backward `In` plan `execute_into(t -> x)` (Strategy::Auto unless
//!   `--strategy`, Rigor::Measure; both plans choose the same strategy);
//! - `conv_natural` (anchor): natural forward plan `execute(x)` in place,
//!   `x *= k` in the flat split, natural backward plan `execute(x)`;
//! - `fftw_mpi_conv` (anchor): `fftw_mpi_plan_many_dft` (rank 3, howmany =
//!   batch, default blocks, in place unless `--fftw-out-of-place`,
//!   FFTW_MEASURE) forward with `FFTW_MPI_TRANSPOSED_OUT`, multiply in its
//!   transposed layout
//!   (`[local_n1 y-planes, nx, nz, batch]`, sized by
//!   `fftw_mpi_local_size_many_transposed`), backward with
//!   `FFTW_MPI_TRANSPOSED_IN` (back to its x-slabs, in the same buffer, or
//!   from a second buffer holding the spectrum when out of place);
//! - `forward_transposed`: the forward `Out` step alone (its own arrays);
//! - `forward_natural` (anchor): the natural forward step alone, in place;
//! - `fftw_mpi_forward_transposed` (anchor): FFTW-MPI's forward
//!   `TRANSPOSED_OUT` step alone (the conv's forward plan executed on a
//!   buffer of its own with `fftw_mpi_execute_dft`).
//!
//! dgampi's arrays are `fftw_malloc`ed like FFTW-MPI's (FFTW's SIMD
//! alignment, so dgampi's FFTW plans on the caller's arrays run their aligned
//! variant); `--unaligned` puts them 16 bytes past that (where glibc's malloc,
//! hence a plain ndarray, puts large blocks). The multiply is one function
//! for all three convolutions (complex multiply of two contiguous arrays, one
//! pass). Normalization: by default the 1/N of
//! the backward transform is folded into the kernel for all three (dgampi's
//! backward plans use `Normalization::None`; FFTW-MPI never scales), so the
//! three do the same arithmetic; `--plan-normalization` gives dgampi's
//! backward plans numpy's default (`Normalization::Backward`, a separate
//! scaling pass) and a unit-modulus kernel instead (FFTW's keeps the 1/N).
//!
//! Data and checks: the input is a pseudo-random function of the global
//! (q, b) only (|re|, |im| < 1), written before each case's warm-up. The
//! kernel is `exp(-2 pi i k.s_b / n)` (times 1/N, see above) at spectral point
//! k for batch column b, each column with its own shift `s_b`, so that the
//! convolution is the cyclic shift of every column by `s_b` in real space;
//! each rank computes its kernel values from the flat grid index of each of
//! its rows (`FftPlan::output_indices`, or FFTW's transposed y-planes) and
//! its batch columns (`FftPlan::output_layout`). After a convolution's warm-up
//! its result is gathered to rank 0 for a few batch columns and compared with
//! the shifted input; after a forward case's warm-up its output is compared
//! with a direct separable DFT (relative error < 1e-10 of the column's
//! largest value). Timed repetitions of a convolution transform its previous
//! result again (a shift: values stay the same size); the forward-only cases
//! transform whatever their input holds (the transposed plan's input is
//! clobbered), so `--reps` is bounded so values stay finite.
//!
//! Plan times (FFTW's wisdom forgotten before each plan; barrier, max over
//! ranks) are reported apart. GB/s is the total array bytes (`N × batch × 16`)
//! per second; the notes give the ratios the targets name (issue 14: conv
//! transposed <= 0.80 × conv natural and <= 0.75 × FFTW-MPI transposed conv,
//! forward transposed <= 0.80 × forward natural), from the medians and paired
//! per repetition, and whether each is met.
//!
//! Extra flags: `--strategy auto|batch_transpose|slab|pencil` (dgampi's four
//! plans; default auto), `--limit BYTES` (dgampi's message limit; default 0 =
//! the process-wide limit), `--plan-normalization` (see above),
//! `--fftw-out-of-place` (FFTW-MPI's plans out of place, the spectrum in an
//! array of its own, like dgampi's), `--unaligned` (see above), `--profile`
//! (adds `prof_*` cases: the multiply in each layout, and the backward steps
//! alone).
//!
//! Run: `scripts/bench w_fft_conv [--reps N] [--scale N] [--out DIR] [--strategy S] [--limit BYTES] [--plan-normalization] [--fftw-out-of-place] [--unaligned] [--profile]`.

#[path = "common/mod.rs"]
mod common;

use common::fft_data::{direct_dft, exit_with, timed_plan, value};
use common::{Bench, Case, Json};
use dgampi::fft::{estimated_cost, Direction, FftOptions, FftPlan, Grid, Normalization, Rigor, Strategy, Transposition};
use dgampi::DType;
use fftw_sys::{fftw_complex, fftw_plan};
use mpi::datatype::PartitionMut;
use mpi::ffi::MPI_Comm;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::ArrayViewMut2;
use num_complex::Complex64;
use std::os::raw::c_void;

#[link(name = "fftw3_mpi")]
extern "C" {
    fn fftw_mpi_init();
    fn fftw_mpi_cleanup();
    fn fftw_mpi_local_size_many_transposed(
        rnk: i32,
        n: *const isize,
        howmany: isize,
        block0: isize,
        block1: isize,
        comm: MPI_Comm,
        local_n0: *mut isize,
        local_0_start: *mut isize,
        local_n1: *mut isize,
        local_1_start: *mut isize,
    ) -> isize;
    fn fftw_mpi_plan_many_dft(
        rnk: i32,
        n: *const isize,
        howmany: isize,
        block: isize,
        tblock: isize,
        input: *mut fftw_complex,
        output: *mut fftw_complex,
        comm: MPI_Comm,
        sign: i32,
        flags: u32,
    ) -> fftw_plan;
    fn fftw_mpi_execute_dft(plan: fftw_plan, input: *mut fftw_complex, output: *mut fftw_complex);
}

const FFTW_MPI_DEFAULT_BLOCK: isize = 0;
/// fftw3-mpi.h.
const FFTW_MPI_TRANSPOSED_IN: u32 = 1 << 29;
const FFTW_MPI_TRANSPOSED_OUT: u32 = 1 << 30;
/// Relative error allowed against the expected values.
const TOLERANCE: f64 = 1e-10;
/// W-FFT's problem.
const NQ: [usize; 3] = [16, 16, 16];
const BATCH: usize = 2048;
/// Repetitions when `--reps` is not given.
const DEFAULT_REPS: usize = 21;
/// Targets (issue 14), median time ratios.
const TARGET_CONV_VS_NATURAL: f64 = 0.80;
const TARGET_CONV_VS_FFTW: f64 = 0.75;
const TARGET_FORWARD_VS_NATURAL: f64 = 0.80;

// ------------------------------------------------------------------ data

/// The real-space shift of batch column `b` (each column its own).
fn shift_of(nq: [usize; 3], b: usize) -> [usize; 3] {
    [(5 * b + 1) % nq[0], (3 * b + 2) % nq[1], (b / 3 + 3) % nq[2]]
}

/// The kernel at spectral point `q`, column `b`: `amp * exp(-2 pi i k.s_b / n)`,
/// which shifts column `b` by `s_b` (x'[n] = x[n - s_b]).
fn kernel(nq: [usize; 3], q: usize, b: usize, amp: f64) -> Complex64 {
    let (k, s) = (Grid { n: nq }.coords(q), shift_of(nq, b));
    let turns: f64 = (0..3).map(|a| ((k[a] * s[a]) % nq[a]) as f64 / nq[a] as f64).sum();
    Complex64::from_polar(amp, -2.0 * std::f64::consts::PI * turns)
}

/// The convolution's expected value at point `q`, column `b`: the input shifted by `s_b`.
fn shifted(nq: [usize; 3], q: usize, b: usize, batch: usize) -> Complex64 {
    let grid = Grid { n: nq };
    let (c, s) = (grid.coords(q), shift_of(nq, b));
    let from = [(c[0] + nq[0] - s[0]) % nq[0], (c[1] + nq[1] - s[1]) % nq[1], (c[2] + nq[2] - s[2]) % nq[2]];
    value(grid.index(from), b, batch)
}

/// The pointwise multiply of every convolution: `a[i] *= k[i]`, one pass.
#[inline(never)]
fn multiply(a: &mut [Complex64], k: &[Complex64]) {
    assert_eq!(a.len(), k.len(), "multiply: array and kernel differ in length");
    for (x, w) in a.iter_mut().zip(k) {
        *x *= *w;
    }
}

/// What one local array holds: row `r` is grid point `rows[r]`, columns are
/// batch elements `b0..b0 + width` (row-major `[rows, width]`).
#[derive(Clone, Debug)]
struct Local {
    rows: Vec<usize>,
    b0: usize,
    width: usize,
}

impl Local {
    fn len(&self) -> usize {
        self.rows.len() * self.width
    }
    /// `dst[r, j] = f(rows[r], b0 + j)`.
    fn fill(&self, dst: &mut [Complex64], f: impl Fn(usize, usize) -> Complex64) {
        assert_eq!(dst.len(), self.len(), "fill: array and layout differ in length");
        if self.width == 0 {
            return;
        }
        for (row, &q) in dst.chunks_exact_mut(self.width).zip(&self.rows) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = f(q, self.b0 + j);
            }
        }
    }
}

/// Gathers the checked batch columns `cols` of every rank's `data` (laid out
/// as `lay`) to rank 0 and compares them with `expected(column index, q)`
/// (called on rank 0 only). Every point of every column must be held by
/// exactly one rank. Returns the largest relative error on rank 0 (0 elsewhere).
fn verify(world: &SimpleCommunicator, n: usize, data: &[Complex64], lay: &Local, cols: &[usize], expected: &dyn Fn(usize, usize) -> Complex64) -> Result<f64, String> {
    let mut send: Vec<f64> = Vec::new();
    for (c, &b) in cols.iter().enumerate() {
        if b < lay.b0 || b >= lay.b0 + lay.width {
            continue;
        }
        for (r, &q) in lay.rows.iter().enumerate() {
            let v = data[r * lay.width + (b - lay.b0)];
            send.extend_from_slice(&[c as f64, q as f64, v.re, v.im]);
        }
    }
    let root = world.process_at_rank(0);
    let mine = i32::try_from(send.len()).expect("check size fits an int");
    if world.rank() != 0 {
        root.gather_into(&mine);
        root.gather_varcount_into(&send[..]);
        return Ok(0.0);
    }
    let mut counts = vec![0i32; world.size() as usize];
    root.gather_into_root(&mine, &mut counts[..]);
    let displs: Vec<i32> = counts
        .iter()
        .scan(0i32, |acc, &c| {
            let d = *acc;
            *acc += c;
            Some(d)
        })
        .collect();
    let mut recv = vec![0f64; counts.iter().map(|&c| c as usize).sum()];
    root.gather_varcount_into_root(&send[..], &mut PartitionMut::new(&mut recv[..], &counts[..], &displs[..]));
    let mut got = vec![vec![Complex64::new(f64::NAN, f64::NAN); n]; cols.len()];
    let mut seen = vec![vec![0u32; n]; cols.len()];
    for e in recv.chunks_exact(4) {
        let (c, q) = (e[0] as usize, e[1] as usize);
        if q >= n {
            return Err(format!("a rank reports point {q} outside the grid of {n}"));
        }
        seen[c][q] += 1;
        got[c][q] = Complex64::new(e[2], e[3]);
    }
    let mut worst = 0.0f64;
    for (c, &b) in cols.iter().enumerate() {
        if let Some(q) = seen[c].iter().position(|&s| s != 1) {
            return Err(format!("batch column {b}: point {q} is held by {} ranks (expected exactly one)", seen[c][q]));
        }
        let want: Vec<Complex64> = (0..n).map(|q| expected(c, q)).collect();
        let scale = want.iter().map(|v| v.norm()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
        let (q, err) = got[c].iter().zip(&want).map(|(a, w)| (a - w).norm()).enumerate().fold((0, 0.0f64), |m, (q, e)| if e > m.1 || e.is_nan() { (q, e) } else { m });
        let rel = err / scale;
        if rel.is_nan() || rel >= TOLERANCE {
            return Err(format!("batch column {b}: relative error {rel:.3e} (tolerance {TOLERANCE:e}); worst at q = {q}: got {}, expected {}", got[c][q], want[q]));
        }
        worst = worst.max(rel);
    }
    Ok(worst)
}

// ------------------------------------------------------------------ FFTW-MPI

/// A buffer from `fftw_malloc` of `alloc` elements, of which the first `len` are the local data.
struct FftwBuf {
    ptr: *mut Complex64,
    len: usize,
}

impl FftwBuf {
    fn new(alloc: usize, len: usize) -> FftwBuf {
        let alloc = alloc.max(len).max(1);
        // SAFETY: a fresh allocation of `alloc` elements, zeroed before use.
        unsafe {
            let ptr = fftw_sys::fftw_malloc(alloc * 16) as *mut Complex64;
            assert!(!ptr.is_null(), "fftw_malloc of {alloc} elements failed");
            std::ptr::write_bytes(ptr, 0, alloc);
            FftwBuf { ptr, len }
        }
    }
    fn slice(&mut self) -> &mut [Complex64] {
        // SAFETY: `ptr` holds at least `len` elements, owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
    fn raw(&self) -> *mut fftw_complex {
        self.ptr as *mut fftw_complex
    }
}

impl Drop for FftwBuf {
    fn drop(&mut self) {
        // SAFETY: allocated by fftw_malloc, freed once.
        unsafe { fftw_sys::fftw_free(self.ptr as *mut c_void) };
    }
}

struct FftwPlan(fftw_plan);

/// A C-contiguous `[rows, cols]` array of dgampi's cases, on an `fftw_malloc`ed
/// buffer (FFTW's SIMD alignment, like FFTW-MPI's arrays), or `off` = 1
/// element (16 bytes) past it with `--unaligned` (where malloc puts large blocks).
struct Arr {
    buf: FftwBuf,
    off: usize,
    rows: usize,
    cols: usize,
}

impl Arr {
    fn new(rows: usize, cols: usize, unaligned: bool) -> Arr {
        let off = usize::from(unaligned);
        Arr { buf: FftwBuf::new(rows * cols + off, rows * cols + off), off, rows, cols }
    }
    fn ptr(&self) -> *mut Complex64 {
        // SAFETY: `off` is inside the allocation.
        unsafe { self.buf.ptr.add(self.off) }
    }
    fn slice(&mut self) -> &mut [Complex64] {
        // SAFETY: rows * cols elements from `ptr`, owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.rows * self.cols) }
    }
    fn as_slice(&self) -> &[Complex64] {
        // SAFETY: as slice.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.rows * self.cols) }
    }
    fn view(&mut self) -> ArrayViewMut2<'_, Complex64> {
        // SAFETY: a C-contiguous [rows, cols] array at `ptr`, borrowed mutably for the view's life.
        unsafe { ArrayViewMut2::from_shape_ptr((self.rows, self.cols), self.ptr()) }
    }
}

/// FFTW-MPI's arrays of one case: `x` in x-slabs, the spectrum `t` in
/// y-planes (None: in place, the spectrum in `x`).
struct FftwPair {
    x: FftwBuf,
    t: Option<FftwBuf>,
}

impl FftwPair {
    fn new(alloc: usize, len: usize, out_of_place: bool) -> FftwPair {
        FftwPair { x: FftwBuf::new(alloc, len), t: out_of_place.then(|| FftwBuf::new(alloc, len)) }
    }
    fn spectrum(&mut self) -> &mut FftwBuf {
        self.t.as_mut().unwrap_or(&mut self.x)
    }
    /// The forward plan: x-slabs to the spectrum.
    fn forward(&self, plan: &FftwPlan) {
        let t = self.t.as_ref().unwrap_or(&self.x);
        // SAFETY: the plan was made on buffers of this size, in place or not like this pair, all from fftw_malloc.
        unsafe { fftw_mpi_execute_dft(plan.0, self.x.raw(), t.raw()) }
    }
    /// The backward plan: the spectrum to x-slabs.
    fn backward(&self, plan: &FftwPlan) {
        let t = self.t.as_ref().unwrap_or(&self.x);
        // SAFETY: as forward.
        unsafe { fftw_mpi_execute_dft(plan.0, t.raw(), self.x.raw()) }
    }
}

impl Drop for FftwPlan {
    fn drop(&mut self) {
        // SAFETY: made by FFTW, destroyed once.
        unsafe { fftw_sys::fftw_destroy_plan(self.0) };
    }
}

// ------------------------------------------------------------------ state

/// `--profile` arrays: the multiply in each layout and the backward steps alone.
struct Prof {
    mul_t: Arr,
    mul_n: Arr,
    /// Backward In: transposed input, flat output.
    bwd_t_in: Arr,
    bwd_t_out: Arr,
    bwd_n: Arr,
    fftw_bwd: FftwPair,
}

struct State<'w> {
    world: &'w SimpleCommunicator,
    nq: [usize; 3],
    batch: usize,
    fwd_out: FftPlan,
    bwd_in: FftPlan,
    fwd_nat: FftPlan,
    bwd_nat: FftPlan,
    /// Layouts: dgampi's flat split and transposed side; FFTW's x-slabs and y-planes.
    flat: Local,
    trans: Local,
    fftw_flat: Local,
    fftw_trans: Local,
    /// conv_transposed: input/output, transposed spectrum, kernel (transposed layout).
    ct_x: Arr,
    ct_t: Arr,
    ct_k: Arr,
    /// conv_natural: block and kernel (flat split).
    cn_x: Arr,
    cn_k: Arr,
    /// fftw_mpi_conv: the in-place buffer and the kernel (FFTW's transposed layout).
    fc: FftwPair,
    fc_k: Vec<Complex64>,
    fftw_fwd: FftwPlan,
    fftw_bwd: FftwPlan,
    /// forward_transposed, forward_natural, fftw_mpi_forward_transposed.
    ft_x: Arr,
    ft_t: Arr,
    fnat_x: Arr,
    ff: FftwPair,
    prof: Option<Prof>,
    cols: Vec<usize>,
    /// Rank 0: the direct DFT of each checked column.
    dft: Vec<Vec<Complex64>>,
    /// Rank 0: the largest relative error each check found.
    errors: Vec<(String, f64)>,
}

fn slice_mut(a: &mut Arr) -> &mut [Complex64] {
    a.slice()
}

impl State<'_> {
    fn n(&self) -> usize {
        self.nq.iter().product()
    }
    fn input(&self) -> impl Fn(usize, usize) -> Complex64 {
        let batch = self.batch;
        move |q, b| value(q, b, batch)
    }
    fn record(&mut self, name: &str, err: f64) {
        self.errors.push((name.to_string(), err));
    }
    fn check_conv(&mut self, name: &str, data: &[Complex64], lay: &Local) -> Result<(), String> {
        let (nq, batch, cols) = (self.nq, self.batch, self.cols.clone());
        let err = verify(self.world, self.n(), data, lay, &cols, &|c, q| shifted(nq, q, cols[c], batch))?;
        self.record(name, err);
        Ok(())
    }
    fn check_forward(&mut self, name: &str, data: &[Complex64], lay: &Local) -> Result<(), String> {
        let dft = &self.dft;
        let err = verify(self.world, self.n(), data, lay, &self.cols, &|c, q| dft[c][q])?;
        self.record(name, err);
        Ok(())
    }
}

fn strategy_named(name: &str) -> Option<Strategy> {
    match name {
        "auto" => Some(Strategy::Auto),
        "batch_transpose" => Some(Strategy::BatchTranspose),
        "slab" => Some(Strategy::Slab),
        "pencil" => Some(Strategy::Pencil),
        _ => None,
    }
}

/// The median of per-repetition ratios (cases are interleaved, so repetition i of each saw the same load).
fn paired(a: &common::CaseResult, b: &common::CaseResult) -> f64 {
    common::median(&a.times.iter().zip(&b.times).map(|(x, y)| x / y).collect::<Vec<_>>())
}

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    // SAFETY: MPI is initialized; called once.
    unsafe { fftw_mpi_init() };
    let world = universe.world();
    let rank = world.rank();
    let p = world.size() as usize;
    let mut args = common::parse_args_or_exit(rank);
    let limit_arg = match args.take_value("--limit").unwrap_or_else(|e| exit_with(rank, &e)) {
        None => 0,
        Some(v) => v.parse::<usize>().unwrap_or_else(|_| exit_with(rank, &format!("--limit {v:?}: expected a byte count"))),
    };
    let strategy = match args.take_value("--strategy").unwrap_or_else(|e| exit_with(rank, &e)) {
        None => Strategy::Auto,
        Some(v) => strategy_named(&v).unwrap_or_else(|| exit_with(rank, &format!("--strategy {v:?}: expected auto, batch_transpose, slab or pencil"))),
    };
    let plan_normalization = args.take_flag("--plan-normalization");
    let profile = args.take_flag("--profile");
    let fftw_oop = args.take_flag("--fftw-out-of-place");
    let unaligned = args.take_flag("--unaligned");
    if let Err(e) = args.finish() {
        exit_with(rank, &e);
    }
    if !args.argv.iter().any(|a| a == "--reps" || a.starts_with("--reps=")) {
        args.reps = DEFAULT_REPS;
    }
    let nq = NQ;
    let n: usize = nq.iter().product();
    let batch = args.scaled(BATCH);
    // The forward-only cases transform their previous output (or the clobbered
    // input) again each repetition: at most a factor N per transform.
    let max_reps = ((290.0 / (n as f64).log10().max(0.5)) as usize).saturating_sub(1);
    if args.reps > max_reps {
        exit_with(rank, &format!("--reps {} would overflow the forward-only cases' data of a {n}-point FFT; at most {max_reps}", args.reps));
    }
    let total_bytes = (n * batch * 16) as u64;
    let mut bench = Bench::new(&world, "W-FFT-CONV", "w_fft_conv", args);
    bench.track_case_rss(true);
    let desc = format!("{}x{}x{} grid, batch {batch} complex128 ({})", nq[0], nq[1], nq[2], common::human_bytes(total_bytes));
    bench.param("shape", Json::str(&desc));
    bench.param("dtype", Json::str("complex128"));
    bench.param("limit_bytes", Json::int(if limit_arg == 0 { dgampi::max_message_bytes() } else { limit_arg } as u64));
    bench.progress(&format!("{desc}: planning"));

    // dgampi plans, each cold.
    let backward_norm = if plan_normalization { Normalization::Backward } else { Normalization::None };
    let opts = |direction, transposition| FftOptions {
        direction,
        normalization: if direction == Direction::Forward { Normalization::Backward } else { backward_norm },
        strategy,
        rigor: Rigor::Measure,
        limit: limit_arg,
        transposition,
        ..FftOptions::default()
    };
    let specs = [
        ("forward_out", Direction::Forward, Transposition::Out),
        ("backward_in", Direction::Backward, Transposition::In),
        ("forward_natural", Direction::Forward, Transposition::Natural),
        ("backward_natural", Direction::Backward, Transposition::Natural),
    ];
    let mut plans = Vec::new();
    let mut plan_s = Vec::new();
    let mut plan_info = Vec::new();
    for (name, dir, tr) in specs {
        let (plan, t) = timed_plan(&world, || FftPlan::new(&world, nq, &[batch], DType::Complex128, opts(dir, tr)));
        let plan = plan.unwrap_or_else(|e| bench.fail(&format!("FftPlan::new ({name}): {e}")));
        let routes: Vec<&str> = plan.exchange_routes().iter().map(|r| r.name()).collect();
        bench.progress(&format!("  dgampi plan {name:<17} {t:>8.3} s ({}; routes {})", plan.strategy().name(), routes.join(", ")));
        let cost = estimated_cost(plan.strategy(), nq, batch, p, tr).unwrap_or(f64::NAN);
        plan_info.push((
            format!("plan_{name}"),
            Json::str(format!(
                "{}, routes [{}], estimated cost {cost:.3}, work {} on rank 0, plan {t:.3} s",
                plan.strategy().name(),
                routes.join(", "),
                common::human_bytes(plan.work_bytes() as u64)
            )),
        ));
        plans.push(plan);
        plan_s.push(t);
    }
    let mut it = plans.into_iter();
    let (fwd_out, bwd_in, fwd_nat, bwd_nat) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    if fwd_out.strategy() != bwd_in.strategy() || fwd_out.output_indices() != bwd_in.input_indices() || fwd_out.output_layout() != bwd_in.input_layout() {
        bench.fail("the forward Out and backward In plans disagree on the transposed layout");
    }
    let flat = Local { rows: fwd_nat.my_range().collect(), b0: 0, width: batch };
    let tl = fwd_out.output_layout();
    let trans = Local { rows: fwd_out.output_indices(), b0: tl.batch.start, width: tl.batch.len() };
    assert_eq!(fwd_out.output_shape(), vec![trans.rows.len(), trans.width], "output_shape matches output_layout");

    // FFTW-MPI: x-slabs in, y-planes [local_n1, nx, nz, batch] out (transposed).
    let comm = world.as_raw();
    let dims: [isize; 3] = [nq[0] as isize, nq[1] as isize, nq[2] as isize];
    let (mut ln0, mut l0s, mut ln1, mut l1s) = (0isize, 0isize, 0isize, 0isize);
    // SAFETY: dims has 3 entries; outputs are plain integers.
    let alloc = unsafe {
        fftw_mpi_local_size_many_transposed(3, dims.as_ptr(), batch as isize, FFTW_MPI_DEFAULT_BLOCK, FFTW_MPI_DEFAULT_BLOCK, comm, &mut ln0, &mut l0s, &mut ln1, &mut l1s)
    } as usize;
    let (ln0, l0s, ln1, l1s) = (ln0 as usize, l0s as usize, ln1 as usize, l1s as usize);
    let fftw_flat = Local { rows: (l0s * nq[1] * nq[2]..(l0s + ln0) * nq[1] * nq[2]).collect(), b0: 0, width: batch };
    let fftw_trans = Local {
        rows: (0..ln1 * nq[0] * nq[2]).map(|r| Grid { n: nq }.index([(r / nq[2]) % nq[0], l1s + r / (nq[0] * nq[2]), r % nq[2]])).collect(),
        b0: 0,
        width: batch,
    };
    let fftw_len = fftw_flat.len().max(fftw_trans.len());
    let fc = FftwPair::new(alloc, fftw_len, fftw_oop);
    let fftw_flags = fftw_sys::FFTW_MEASURE;
    let plan_fftw = |sign: i32, flags: u32, input: &FftwBuf, output: &FftwBuf| {
        // SAFETY: both buffers hold the local size FFTW asked for.
        let plan = unsafe { fftw_mpi_plan_many_dft(3, dims.as_ptr(), batch as isize, FFTW_MPI_DEFAULT_BLOCK, FFTW_MPI_DEFAULT_BLOCK, input.raw(), output.raw(), comm, sign, flags) };
        (!plan.is_null()).then_some(FftwPlan(plan))
    };
    let (fcx, fct) = (&fc.x, fc.t.as_ref().unwrap_or(&fc.x));
    let (fftw_fwd, fftw_fwd_s) = timed_plan(&world, || plan_fftw(fftw_sys::FFTW_FORWARD, fftw_flags | FFTW_MPI_TRANSPOSED_OUT, fcx, fct));
    let fftw_fwd = fftw_fwd.unwrap_or_else(|| bench.fail("fftw_mpi_plan_many_dft (forward, TRANSPOSED_OUT) returned no plan"));
    bench.progress(&format!("  FFTW-MPI plan forward TRANSPOSED_OUT {fftw_fwd_s:>8.3} s"));
    let (fftw_bwd, fftw_bwd_s) = timed_plan(&world, || plan_fftw(fftw_sys::FFTW_BACKWARD as i32, fftw_flags | FFTW_MPI_TRANSPOSED_IN, fct, fcx));
    let fftw_bwd = fftw_bwd.unwrap_or_else(|| bench.fail("fftw_mpi_plan_many_dft (backward, TRANSPOSED_IN) returned no plan"));
    bench.progress(&format!("  FFTW-MPI plan backward TRANSPOSED_IN {fftw_bwd_s:>8.3} s"));

    // Kernels: 1/N folded in unless the dgampi backward plans scale.
    let inv_n = 1.0 / n as f64;
    let dgampi_amp = if plan_normalization { 1.0 } else { inv_n };
    bench.progress("filling kernels");
    let zeros = |l: &Local| Arr::new(l.rows.len(), l.width, unaligned);
    let mut ct_k = zeros(&trans);
    trans.fill(slice_mut(&mut ct_k), |q, b| kernel(nq, q, b, dgampi_amp));
    let mut cn_k = zeros(&flat);
    flat.fill(slice_mut(&mut cn_k), |q, b| kernel(nq, q, b, dgampi_amp));
    let mut fc_k = vec![Complex64::new(0.0, 0.0); fftw_trans.len()];
    fftw_trans.fill(&mut fc_k, |q, b| kernel(nq, q, b, inv_n));

    // Checked columns: both ends and the middle of the batch (every rank of a batch split holds some).
    let mut cols = vec![0, 1, (batch / 2).saturating_sub(1), batch / 2, batch - 1];
    cols.retain(|&b| b < batch);
    cols.sort_unstable();
    cols.dedup();
    let dft: Vec<Vec<Complex64>> = if rank == 0 { cols.iter().map(|&b| direct_dft(nq, &(0..n).map(|q| value(q, b, batch)).collect::<Vec<_>>())).collect() } else { Vec::new() };

    let prof = profile.then(|| Prof { mul_t: zeros(&trans), mul_n: zeros(&flat), bwd_t_in: zeros(&trans), bwd_t_out: zeros(&flat), bwd_n: zeros(&flat), fftw_bwd: FftwPair::new(alloc, fftw_len, fftw_oop) });
    let ff = FftwPair::new(alloc, fftw_len, fftw_oop);
    let mut state = State {
        world: &world,
        nq,
        batch,
        ct_x: zeros(&flat),
        ct_t: zeros(&trans),
        ct_k,
        cn_x: zeros(&flat),
        cn_k,
        fc,
        fc_k,
        fftw_fwd,
        fftw_bwd,
        ft_x: zeros(&flat),
        ft_t: zeros(&trans),
        fnat_x: zeros(&flat),
        ff,
        prof,
        fwd_out,
        bwd_in,
        fwd_nat,
        bwd_nat,
        flat,
        trans,
        fftw_flat,
        fftw_trans,
        cols,
        dft,
        errors: Vec::new(),
    };

    // Parameters.
    let gather = |x: usize| {
        let mut all = vec![0u64; p];
        world.all_gather_into(&(x as u64), &mut all[..]);
        Json::Arr(all.into_iter().map(Json::int).collect())
    };
    bench.param("strategy_option", Json::str(strategy.name()));
    bench.param("strategy", Json::str(state.fwd_out.strategy().name()));
    bench.param("normalization", Json::str(if plan_normalization {
        "dgampi backward plans Normalization::Backward (a scaling pass), unit-modulus kernel; FFTW-MPI kernel carries 1/N"
    } else {
        "1/N folded into every kernel; dgampi backward plans Normalization::None; FFTW-MPI unscaled"
    }));
    for (k, v) in plan_info {
        bench.param(&k, v);
    }
    bench.param("transposed_rows_per_rank", gather(state.trans.rows.len()));
    bench.param("transposed_batch_columns_per_rank", gather(state.trans.width));
    bench.param("flat_rows_per_rank", gather(state.flat.rows.len()));
    bench.param("fftw_mpi_local_n0_per_rank", gather(ln0));
    bench.param("fftw_mpi_local_n1_per_rank", gather(ln1));
    bench.param("fftw_mpi_alloc_bytes_per_rank", gather(alloc * 16));
    bench.param("dgampi_arrays", Json::str(if unaligned { "16 bytes past FFTW's alignment (--unaligned)" } else { "fftw_malloc (FFTW's SIMD alignment)" }));
    bench.param("fftw_mpi_arrays", Json::str(if fftw_oop { "out of place" } else { "in place" }));
    bench.param("plan_s_fftw_mpi", Json::Arr(vec![Json::Num(fftw_fwd_s), Json::Num(fftw_bwd_s)]));

    // Cases.
    let placement = if fftw_oop { "out of place (x-slabs -> spectrum -> x-slabs)" } else { "in place" };
    let st = state.fwd_out.strategy().name();
    let mut cases: Vec<Case<'_, State<'_>>> = vec![
        Case::new("conv_transposed", &format!("dgampi forward Out execute_into(x -> t), t *= k, backward In execute_into(t -> x) ({st})"), total_bytes, |s: &mut State| {
            s.fwd_out.execute_into(&mut s.ct_x.view(), &mut s.ct_t.view()).expect("forward Out");
            multiply(slice_mut(&mut s.ct_t), s.ct_k.as_slice());
            s.bwd_in.execute_into(&mut s.ct_t.view(), &mut s.ct_x.view()).expect("backward In");
        })
        .prepare(|s: &mut State| {
            let f = s.input();
            s.flat.fill(slice_mut(&mut s.ct_x), f)
        })
        .check(|s: &mut State| {
            let (x, lay) = (s.ct_x.as_slice().to_vec(), s.flat.clone());
            s.check_conv("conv_transposed", &x, &lay)
        })
        .vs("conv_natural"),
        Case::new("conv_natural", &format!("dgampi natural forward execute(x), x *= k (flat split), natural backward execute(x) ({})", state.fwd_nat.strategy().name()), total_bytes, |s: &mut State| {
            s.fwd_nat.execute(&mut s.cn_x.view()).expect("forward natural");
            multiply(slice_mut(&mut s.cn_x), s.cn_k.as_slice());
            s.bwd_nat.execute(&mut s.cn_x.view()).expect("backward natural");
        })
        .prepare(|s: &mut State| {
            let f = s.input();
            s.flat.fill(slice_mut(&mut s.cn_x), f)
        })
        .check(|s: &mut State| {
            let (x, lay) = (s.cn_x.as_slice().to_vec(), s.flat.clone());
            s.check_conv("conv_natural", &x, &lay)
        })
        .vs("fftw_mpi_conv")
        .anchor(),
        Case::new("fftw_mpi_conv", &format!("FFTW-MPI forward TRANSPOSED_OUT, multiply in its y-planes, backward TRANSPOSED_IN; {placement}, howmany = batch, FFTW_MEASURE"), total_bytes, |s: &mut State| {
            s.fc.forward(&s.fftw_fwd);
            let spec = s.fc.spectrum();
            spec.len = s.fftw_trans.len();
            multiply(spec.slice(), &s.fc_k);
            s.fc.backward(&s.fftw_bwd);
        })
        .prepare(|s: &mut State| {
            let f = s.input();
            let lay = s.fftw_flat.clone();
            s.fc.x.len = lay.len();
            lay.fill(s.fc.x.slice(), f)
        })
        .check(|s: &mut State| {
            let lay = s.fftw_flat.clone();
            s.fc.x.len = lay.len();
            let x = s.fc.x.slice().to_vec();
            s.check_conv("fftw_mpi_conv", &x, &lay)
        })
        .anchor(),
        Case::new("forward_transposed", &format!("dgampi forward Out execute_into(x -> t) alone ({st})"), total_bytes, |s: &mut State| {
            s.fwd_out.execute_into(&mut s.ft_x.view(), &mut s.ft_t.view()).expect("forward Out");
        })
        .prepare(|s: &mut State| {
            let f = s.input();
            s.flat.fill(slice_mut(&mut s.ft_x), f)
        })
        .check(|s: &mut State| {
            let (t, lay) = (s.ft_t.as_slice().to_vec(), s.trans.clone());
            s.check_forward("forward_transposed", &t, &lay)?;
            let f = s.input();
            s.flat.fill(slice_mut(&mut s.ft_x), f);
            Ok(())
        })
        .vs("forward_natural"),
        Case::new("forward_natural", &format!("dgampi natural forward execute(x) alone, in place ({})", state.fwd_nat.strategy().name()), total_bytes, |s: &mut State| {
            s.fwd_nat.execute(&mut s.fnat_x.view()).expect("forward natural");
        })
        .prepare(|s: &mut State| {
            let f = s.input();
            s.flat.fill(slice_mut(&mut s.fnat_x), f)
        })
        .check(|s: &mut State| {
            let (x, lay) = (s.fnat_x.as_slice().to_vec(), s.flat.clone());
            s.check_forward("forward_natural", &x, &lay)?;
            let f = s.input();
            s.flat.fill(slice_mut(&mut s.fnat_x), f);
            Ok(())
        })
        .vs("fftw_mpi_forward_transposed")
        .anchor(),
        Case::new("fftw_mpi_forward_transposed", &format!("FFTW-MPI forward TRANSPOSED_OUT alone (the conv's plan on arrays of its own), {placement}"), total_bytes, |s: &mut State| {
            s.ff.forward(&s.fftw_fwd);
        })
        .prepare(|s: &mut State| {
            let f = s.input();
            let lay = s.fftw_flat.clone();
            s.ff.x.len = lay.len();
            lay.fill(s.ff.x.slice(), f)
        })
        .check(|s: &mut State| {
            let lay = s.fftw_trans.clone();
            let spec = s.ff.spectrum();
            spec.len = lay.len();
            let t = spec.slice().to_vec();
            s.check_forward("fftw_mpi_forward_transposed", &t, &lay)?;
            let lay = s.fftw_flat.clone();
            s.ff.x.len = lay.len();
            let f = s.input();
            lay.fill(s.ff.x.slice(), f);
            Ok(())
        })
        .anchor(),
    ];
    if state.prof.is_some() {
        let one = |a: &mut Arr| a.slice().fill(Complex64::new(1.0, 0.0));
        cases.push(
            Case::new("prof_multiply_transposed", "t *= k alone, dgampi's transposed layout", total_bytes, |s: &mut State| {
                let pr = s.prof.as_mut().expect("profile");
                multiply(slice_mut(&mut pr.mul_t), s.ct_k.as_slice());
            })
            .prepare(move |s: &mut State| one(&mut s.prof.as_mut().expect("profile").mul_t)),
        );
        cases.push(
            Case::new("prof_multiply_flat", "x *= k alone, the flat split", total_bytes, |s: &mut State| {
                let pr = s.prof.as_mut().expect("profile");
                multiply(slice_mut(&mut pr.mul_n), s.cn_k.as_slice());
            })
            .prepare(move |s: &mut State| one(&mut s.prof.as_mut().expect("profile").mul_n)),
        );
        cases.push(
            Case::new("prof_backward_in", "dgampi backward In execute_into(t -> x) alone", total_bytes, |s: &mut State| {
                let pr = s.prof.as_mut().expect("profile");
                s.bwd_in.execute_into(&mut pr.bwd_t_in.view(), &mut pr.bwd_t_out.view()).expect("backward In");
            })
            .prepare(|s: &mut State| {
                let f = s.input();
                let pr = s.prof.as_mut().expect("profile");
                s.trans.fill(slice_mut(&mut pr.bwd_t_in), f)
            }),
        );
        cases.push(
            Case::new("prof_backward_natural", "dgampi natural backward execute(x) alone", total_bytes, |s: &mut State| {
                let pr = s.prof.as_mut().expect("profile");
                s.bwd_nat.execute(&mut pr.bwd_n.view()).expect("backward natural");
            })
            .prepare(|s: &mut State| {
                let f = s.input();
                let pr = s.prof.as_mut().expect("profile");
                s.flat.fill(slice_mut(&mut pr.bwd_n), f)
            }),
        );
        cases.push(
            Case::new("prof_fftw_backward_transposed", "FFTW-MPI backward TRANSPOSED_IN alone (the conv's plan on a buffer of its own)", total_bytes, |s: &mut State| {
                let pr = s.prof.as_ref().expect("profile");
                pr.fftw_bwd.backward(&s.fftw_bwd);
            })
            .prepare(|s: &mut State| {
                let f = s.input();
                let lay = s.fftw_trans.clone();
                let pr = s.prof.as_mut().expect("profile");
                let spec = pr.fftw_bwd.spectrum();
                spec.len = lay.len();
                lay.fill(spec.slice(), f)
            }),
        );
    }
    bench.run_cases(&mut state, cases);

    // Ratios and acceptance.
    let results = bench.results.clone();
    let find = |k: &str| results.iter().find(|r| r.name == k).cloned().expect("case result");
    let (ct, cn, fc, ft, fnat, fft) = (find("conv_transposed"), find("conv_natural"), find("fftw_mpi_conv"), find("forward_transposed"), find("forward_natural"), find("fftw_mpi_forward_transposed"));
    let mut ratios = Vec::new();
    let mut acceptance = Vec::new();
    let mut ratio = |bench: &mut Bench, label: &str, a: &common::CaseResult, b: &common::CaseResult, target: Option<f64>| {
        let (r, rp) = (a.median_s() / b.median_s(), paired(a, b));
        let verdict = target.map(|t| if r <= t { "MET" } else { "NOT MET" });
        match (target, verdict) {
            (Some(t), Some(v)) => bench.note(format!("acceptance: {label} = {:.4} / {:.4} s = {r:.3} (paired per rep {rp:.3}; target <= {t:.2}): {v}", a.median_s(), b.median_s())),
            _ => bench.note(format!("{label} = {:.4} / {:.4} s = {r:.3} (paired per rep {rp:.3})", a.median_s(), b.median_s())),
        }
        ratios.push((format!("{label} (median, paired)"), Json::Arr(vec![Json::Num(r), Json::Num(rp)])));
        if let (Some(t), Some(v)) = (target, verdict) {
            acceptance.push(Json::str(format!("{label} = {r:.3}, target <= {t:.2}: {v}")));
        }
        verdict.map(|v| v == "MET")
    };
    let met = [
        ratio(&mut bench, "conv_transposed / conv_natural", &ct, &cn, Some(TARGET_CONV_VS_NATURAL)),
        ratio(&mut bench, "conv_transposed / fftw_mpi_conv", &ct, &fc, Some(TARGET_CONV_VS_FFTW)),
        ratio(&mut bench, "forward_transposed / forward_natural", &ft, &fnat, Some(TARGET_FORWARD_VS_NATURAL)),
    ];
    ratio(&mut bench, "conv_natural / fftw_mpi_conv", &cn, &fc, None);
    ratio(&mut bench, "forward_transposed / fftw_mpi_forward_transposed", &ft, &fft, None);
    ratio(&mut bench, "fftw_mpi_forward_transposed / fftw_mpi_conv", &fft, &fc, None);
    let all_met = met.iter().all(|m| *m == Some(true));
    bench.note(format!("acceptance: {}", if all_met { "all three targets MET" } else { "NOT all targets met" }));
    if results.iter().any(|r| r.name.starts_with("prof_")) {
        let ms = |k: &str| find(k).median_s() * 1e3;
        bench.note(format!(
            "profile (medians, ms): transposed conv = forward Out {:.2} + multiply {:.2} + backward In {:.2} = {:.2} (measured {:.2}); natural conv = forward {:.2} + multiply {:.2} + backward {:.2} = {:.2} (measured {:.2}); FFTW-MPI conv = forward {:.2} + multiply {:.2} + backward {:.2} = {:.2} (measured {:.2})",
            ms("forward_transposed"),
            ms("prof_multiply_transposed"),
            ms("prof_backward_in"),
            ms("forward_transposed") + ms("prof_multiply_transposed") + ms("prof_backward_in"),
            ms("conv_transposed"),
            ms("forward_natural"),
            ms("prof_multiply_flat"),
            ms("prof_backward_natural"),
            ms("forward_natural") + ms("prof_multiply_flat") + ms("prof_backward_natural"),
            ms("conv_natural"),
            ms("fftw_mpi_forward_transposed"),
            ms("prof_multiply_transposed"),
            ms("prof_fftw_backward_transposed"),
            ms("fftw_mpi_forward_transposed") + ms("prof_multiply_transposed") + ms("prof_fftw_backward_transposed"),
            ms("fftw_mpi_conv"),
        ));
    }
    let names = ["forward_out", "backward_in", "forward_natural", "backward_natural"];
    let plan_line: Vec<String> = names.iter().zip(&plan_s).map(|(nm, t)| format!("{nm} {t:.3}")).collect();
    bench.note(format!(
        "plan times (s; FFTW wisdom forgotten before each; max over ranks; not in the execution times): dgampi {}; FFTW-MPI forward TRANSPOSED_OUT {fftw_fwd_s:.3}, backward TRANSPOSED_IN {fftw_bwd_s:.3}",
        plan_line.join(", ")
    ));
    bench.note(format!(
        "data: a kernel exp(-2 pi i k.s_b/n){} in each case's output layout shifts batch column b by its own s_b; convolutions checked against the shifted input, forward steps against a direct DFT",
        if plan_normalization { " (FFTW-MPI's / N)" } else { " / N" }
    ));
    if rank == 0 {
        let errs: Vec<String> = state.errors.iter().map(|(k, e)| format!("{k} {e:.1e}")).collect();
        bench.note(format!("checked batch columns {:?} on every rank's rows, max relative error: {}", state.cols, errs.join(", ")));
    }
    for (k, v) in ratios {
        bench.param(&k, v);
    }
    bench.param("acceptance", Json::Arr(acceptance));
    bench.param("targets_met", Json::Bool(all_met));
    drop(state);
    // SAFETY: every FFTW-MPI plan was destroyed with the state.
    unsafe { fftw_mpi_cleanup() };
    bench.finish();
}
