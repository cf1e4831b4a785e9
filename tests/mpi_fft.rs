//! Multi-rank tests of the distributed 3-D FFT against a direct DFT of the
//! whole array computed in the test: every strategy, odd and degenerate
//! grids, batch shapes, both precisions, normalizations, plan reuse and bad
//! input, at 1-4 ranks and with lowered message limits.

mod common;

use common::{ensure, limit_in_force, Case};
use dgampi::fft::{
    choose, execute_distributed_fft, export_wisdom, import_wisdom, pencil_indices, Direction, FftOptions, FftPlan, Layout, Normalization,
    Precision, Strategy,
};
use dgampi::{BlockLayout, DType, Status};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use num_complex::{Complex, Complex32, Complex64};

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

const GRIDS: [[usize; 3]; 5] = [[2, 3, 2], [4, 4, 4], [13, 7, 5], [1, 1, 8], [8, 1, 1]];
const BATCHES: [&[usize]; 3] = [&[], &[3], &[2, 2, 5]];
const STRATEGIES: [Strategy; 4] = [Strategy::Auto, Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil];

/// Complex elements the tests run in: complex128 and complex64.
trait Cplx: dgampi::Element + Copy + Default + std::fmt::Debug {
    fn from64(c: Complex64) -> Self;
    fn to64(self) -> Complex64;
    /// Relative tolerance of a transform in this precision.
    const TOL: f64;
}
impl Cplx for Complex64 {
    fn from64(c: Complex64) -> Self {
        c
    }
    fn to64(self) -> Complex64 {
        self
    }
    const TOL: f64 = 1e-12;
}
impl Cplx for Complex32 {
    fn from64(c: Complex64) -> Self {
        Complex::new(c.re as f32, c.im as f32)
    }
    fn to64(self) -> Complex64 {
        Complex::new(self.re as f64, self.im as f64)
    }
    const TOL: f64 = 2e-5;
}

/// The whole array `[nq, batch...]`, a smooth-free deterministic pattern.
fn whole<T: Cplx>(nq: [usize; 3], batch: &[usize], seed: u64) -> ArrayD<T> {
    let shape: Vec<usize> = std::iter::once(nq.iter().product()).chain(batch.iter().copied()).collect();
    let mut k = seed;
    ArrayD::from_shape_simple_fn(IxDyn(&shape), || {
        k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let re = ((k >> 33) % 2001) as f64 / 1000.0 - 1.0;
        let im = ((k >> 13) % 2001) as f64 / 1000.0 - 1.0;
        T::from64(Complex::new(re, im))
    })
}

/// Direct separable DFT of the whole array along x, y and z, in complex128.
fn dft(a: &ArrayD<Complex64>, nq: [usize; 3], sign: f64) -> ArrayD<Complex64> {
    let width: usize = a.shape()[1..].iter().product();
    let mut data: Vec<Complex64> = a.iter().copied().collect();
    let strides = [nq[1] * nq[2] * width, nq[2] * width, width];
    for axis in 0..3 {
        let n = nq[axis];
        let twiddle: Vec<Complex64> =
            (0..n).map(|k| Complex64::from_polar(1.0, sign * 2.0 * std::f64::consts::PI * k as f64 / n as f64)).collect();
        let mut out = vec![Complex64::default(); data.len()];
        for (start, o) in out.iter_mut().enumerate() {
            let k = (start / strides[axis]) % n;
            let base = start - k * strides[axis];
            *o = (0..n).map(|j| data[base + j * strides[axis]] * twiddle[(j * k) % n]).sum();
        }
        data = out;
    }
    ArrayD::from_shape_vec(IxDyn(a.shape()), data).unwrap()
}

/// Largest |a - b| over the largest |b| (0 for an all-zero b).
fn rel_err(a: &ArrayD<Complex64>, b: &ArrayD<Complex64>) -> f64 {
    let scale = b.iter().map(|v| v.norm()).fold(0.0, f64::max).max(1e-300);
    a.iter().zip(b).map(|(x, y)| (x - y).norm()).fold(0.0, f64::max) / scale
}

fn block_of<T: Cplx>(all: &ArrayD<T>, layout: &BlockLayout, rank: usize) -> ArrayD<T> {
    all.slice_axis(Axis(0), Slice::from(layout.range(rank))).to_owned()
}

fn to64<T: Cplx>(a: &ArrayD<T>) -> ArrayD<Complex64> {
    a.mapv(|v| v.to64())
}

/// Forward then backward with `strategy` on `nq` x `batch`: the forward
/// result matches the DFT, the round trip returns the input.
fn round_trip<T: Cplx>(world: &SimpleCommunicator, nq: [usize; 3], batch: &[usize], strategy: Strategy) -> Result<(), String> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let flat = BlockLayout::new(nq.iter().product(), size).map_err(err)?;
    let all = whole::<T>(nq, batch, 7);
    let expected = dft(&to64(&all), nq, -1.0);
    let mut block = block_of(&all, &flat, rank);
    let input = block.clone();
    let what = format!("{} {nq:?} batch {batch:?} {}", strategy.name(), T::DTYPE.name());
    let opts = |direction| FftOptions { direction, strategy, ..FftOptions::default() };
    let mut fwd = FftPlan::new(world, nq, batch, T::DTYPE, opts(Direction::Forward)).map_err(err)?;
    let mut bwd = FftPlan::new(world, nq, batch, T::DTYPE, opts(Direction::Backward)).map_err(err)?;
    ensure(strategy == Strategy::Auto || fwd.strategy() == strategy, || format!("{what}: plan uses {:?}", fwd.strategy()))?;
    fwd.execute(&mut block).map_err(err)?;
    let e = rel_err(&to64(&block), &block_of(&expected, &flat, rank));
    ensure(e < T::TOL * 10.0, || format!("{what}: forward differs from the DFT by {e:e}"))?;
    bwd.execute(&mut block).map_err(err)?;
    let e = rel_err(&to64(&block), &to64(&input));
    ensure(e < T::TOL * 10.0, || format!("{what}: round trip differs from the input by {e:e}"))
}

/// Grids and batches kept small enough for the 3-byte limit (each complex
/// element then travels as several messages).
fn matrix() -> Vec<([usize; 3], &'static [usize])> {
    let tiny = limit_in_force() < 16;
    let mut m = Vec::new();
    for nq in GRIDS {
        for batch in BATCHES {
            if tiny && nq == [13, 7, 5] && batch.len() > 1 {
                continue;
            }
            m.push((nq, batch));
        }
    }
    m
}

fn case_every_strategy_complex128(world: &SimpleCommunicator) -> Result<(), String> {
    for (nq, batch) in matrix() {
        for s in STRATEGIES {
            round_trip::<Complex64>(world, nq, batch, s)?;
        }
    }
    Ok(())
}

fn case_every_strategy_complex64(world: &SimpleCommunicator) -> Result<(), String> {
    for (nq, batch) in matrix() {
        for s in STRATEGIES {
            round_trip::<Complex32>(world, nq, batch, s)?;
        }
    }
    Ok(())
}

/// Batches smaller than the rank count and grids with fewer points than ranks.
fn case_small_batches_and_empty_ranks(world: &SimpleCommunicator) -> Result<(), String> {
    for nq in [[1, 1, 1], [1, 2, 1], [3, 1, 1]] {
        for s in STRATEGIES {
            round_trip::<Complex64>(world, nq, &[1], s)?;
            round_trip::<Complex64>(world, nq, &[2], s)?;
        }
    }
    Ok(())
}

/// Rows wide enough (4 KiB) and slab runs long enough (>= 64 KiB) that the
/// engine cuts its streams at runs and moves every message in place.
fn case_long_runs(world: &SimpleCommunicator) -> Result<(), String> {
    if limit_in_force() < 16 {
        return Ok(()); // a 2 MiB array in 3-byte messages takes minutes on 2 cores
    }
    for s in [Strategy::Slab, Strategy::BatchTranspose] {
        round_trip::<Complex64>(world, [8, 8, 8], &[256], s)?;
    }
    Ok(())
}

/// One plan executed on several arrays gives each one's transform; the
/// normalizations scale as numpy's.
fn case_plan_reuse_and_normalization(world: &SimpleCommunicator) -> Result<(), String> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let nq = [4, 3, 5];
    let batch = [2usize, 3];
    let n = 60.0f64;
    let flat = BlockLayout::new(60, size).map_err(err)?;
    for s in [Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil] {
        for norm in [Normalization::Backward, Normalization::None, Normalization::Ortho, Normalization::Forward] {
            for direction in [Direction::Forward, Direction::Backward] {
                let opts = FftOptions { direction, normalization: norm, strategy: s, ..FftOptions::default() };
                let mut plan = FftPlan::new(world, nq, &batch, DType::Complex128, opts).map_err(err)?;
                let factor = norm.factor(direction, 60);
                let expected_factor = match (norm, direction) {
                    (Normalization::Ortho, _) => 1.0 / n.sqrt(),
                    (Normalization::Backward, Direction::Backward) | (Normalization::Forward, Direction::Forward) => 1.0 / n,
                    _ => 1.0,
                };
                ensure((factor - expected_factor).abs() < 1e-15, || format!("{norm:?} {direction:?} factor {factor}"))?;
                for seed in 0..3 {
                    let all = whole::<Complex64>(nq, &batch, seed);
                    let expected = dft(&all, nq, direction as i32 as f64).mapv(|v| v * expected_factor);
                    let mut block = block_of(&all, &flat, rank);
                    plan.execute(&mut block).map_err(err)?;
                    let e = rel_err(&block, &block_of(&expected, &flat, rank));
                    ensure(e < 1e-12, || format!("{s:?} {norm:?} {direction:?} execution {seed}: error {e:e}"))?;
                }
            }
        }
    }
    Ok(())
}

/// The one-shot call transforms in place like a plan.
fn case_one_shot(world: &SimpleCommunicator) -> Result<(), String> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let nq = [3, 4, 2];
    let flat = BlockLayout::new(24, size).map_err(err)?;
    let all = whole::<Complex64>(nq, &[5], 3);
    let expected = dft(&all, nq, -1.0);
    let mut block = block_of(&all, &flat, rank);
    execute_distributed_fft(world, nq, &mut block, FftOptions::default()).map_err(err)?;
    let e = rel_err(&block, &block_of(&expected, &flat, rank));
    ensure(e < 1e-12, || format!("one-shot error {e:e}"))
}

/// Every rank's pencil indices tile the grid; the cost model is deterministic.
fn case_pencil_indices(world: &SimpleCommunicator) -> Result<(), String> {
    let size = world.size() as usize;
    for nq in GRIDS {
        for layout in [Layout::Flat, Layout::ZPencil, Layout::YPencil, Layout::XPencil] {
            let mut seen = vec![0; nq.iter().product()];
            for r in 0..size {
                for q in pencil_indices(r, size, nq, layout).map_err(err)? {
                    seen[q] += 1;
                }
            }
            ensure(seen.iter().all(|&c| c == 1), || format!("{nq:?} {layout:?}: {seen:?}"))?;
        }
        choose(nq, 3, size).map_err(err)?;
    }
    Ok(())
}

fn expect_status(r: dgampi::Result<()>, rank: usize, bad_rank: usize, local: Status, what: &str) -> Result<(), String> {
    let want = if rank == bad_rank { local } else { Status::RemoteError };
    match r {
        Err(e) if e.status == want => Ok(()),
        other => Err(format!("{what}: rank {rank} expected {want:?}, got {other:?}")),
    }
}

/// Bad input fails on every rank, and the plan stays usable.
fn case_bad_input(world: &SimpleCommunicator) -> Result<(), String> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    // nq with a zero, on every rank.
    match FftPlan::new(world, [4, 0, 2], &[1], DType::Complex128, FftOptions::default()) {
        Err(e) if e.status == Status::InvalidArgument => {}
        other => return Err(format!("zero extent: {other:?}")),
    }
    // A real dtype.
    match FftPlan::new(world, [2, 2, 2], &[1], DType::F64, FftOptions::default()) {
        Err(e) if e.status == Status::InvalidArgument => {}
        other => return Err(format!("f64 plan: {other:?}")),
    }
    // Different grids on different ranks.
    let nq = if rank == size - 1 && size > 1 { [2, 2, 3] } else { [2, 2, 2] };
    let r = FftPlan::new(world, nq, &[1], DType::Complex128, FftOptions::default()).map(|_| ());
    if size > 1 {
        // Found by the one agreement of plan creation: Mismatch on every rank.
        match r {
            Err(e) if e.status == Status::Mismatch && e.message.contains("nq[2] differs between ranks") => {}
            other => return Err(format!("grids differ: rank {rank} expected Mismatch naming nq[2], got {other:?}")),
        }
    }
    let flat = BlockLayout::new(8, size).map_err(err)?;
    let mut plan = FftPlan::new(world, [2, 2, 2], &[3], DType::Complex128, FftOptions::default()).map_err(err)?;
    // A block one q too long on rank 0.
    let rows = flat.sizes()[rank] + usize::from(rank == 0);
    let mut wrong = ArrayD::<Complex64>::zeros(IxDyn(&[rows, 3]));
    expect_status(plan.execute(&mut wrong), rank, 0, Status::Mismatch, "block length")?;
    // The wrong dtype on the last rank.
    let mut single = ArrayD::<Complex32>::zeros(IxDyn(&[flat.sizes()[rank], 3]));
    let mut good = ArrayD::<Complex64>::zeros(IxDyn(&[flat.sizes()[rank], 3]));
    let r = if rank == size - 1 { plan.execute(&mut single) } else { plan.execute(&mut good) };
    expect_status(r, rank, size - 1, Status::Mismatch, "dtype")?;
    // A strided block.
    let mut wide = ArrayD::<Complex64>::zeros(IxDyn(&[flat.sizes()[rank], 6]));
    let mut strided = wide.slice_axis_mut(Axis(1), Slice::new(0, None, 2));
    let r = plan.execute(&mut strided);
    let strided_ok = flat.sizes()[rank] == 0;
    ensure(r.is_err() || strided_ok, || "a strided block was accepted".to_string())?;
    // Still usable.
    let all = whole::<Complex64>([2, 2, 2], &[3], 1);
    let mut block = block_of(&all, &flat, rank);
    plan.execute(&mut block).map_err(err)?;
    let e = rel_err(&block, &block_of(&dft(&all, [2, 2, 2], -1.0), &flat, rank));
    ensure(e < 1e-12, || format!("after errors: {e:e}"))
}

/// Wisdom exported after planning imports back.
fn case_wisdom(world: &SimpleCommunicator) -> Result<(), String> {
    let _plan = FftPlan::new(world, [4, 4, 4], &[2], DType::Complex128, FftOptions::default()).map_err(err)?;
    for p in [Precision::Double, Precision::Single] {
        let w = export_wisdom(p).map_err(err)?;
        import_wisdom(p, &w).map_err(err)?;
    }
    ensure(import_wisdom(Precision::Double, "not wisdom").is_err(), || "bad wisdom accepted".into())
}

/// Every exchange-path setting, every strategy: the movements take the
/// engine under p2p, at one rank and under the lowered limits (every block
/// of this grid exceeds them); the batch transpose (every rank exchanges
/// with every rank) takes MPI_Alltoallw otherwise; and every route gives
/// the same bits.
fn case_exchange_paths(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::{set_exchange_path, ExchangePath, ExchangeRoute};
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let (nq, batch) = ([4usize, 6, 5], [3usize]);
    let flat = BlockLayout::new(nq.iter().product(), size).map_err(err)?;
    let input = block_of(&whole::<Complex64>(nq, &batch, 11), &flat, rank);
    let result = (|| {
        for strategy in [Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil] {
            let mut outputs = Vec::new();
            for setting in [ExchangePath::PointToPoint, ExchangePath::Collective, ExchangePath::Auto] {
                set_exchange_path(setting);
                let opts = FftOptions { strategy, ..FftOptions::default() };
                let mut plan = FftPlan::new(world, nq, &batch, DType::Complex128, opts).map_err(err)?;
                let routes = plan.exchange_routes();
                let engine = setting == ExchangePath::PointToPoint || size == 1 || limit_in_force() < 1000;
                ensure(!engine || routes.iter().all(|&r| r == ExchangeRoute::PointToPoint), || format!("{strategy:?} {setting:?}: routes {routes:?}"))?;
                if strategy == Strategy::BatchTranspose && !engine {
                    ensure(routes.iter().all(|&r| r == ExchangeRoute::Alltoallw), || format!("batch transpose {setting:?}: routes {routes:?}"))?;
                }
                let mut block = input.clone();
                plan.execute(&mut block).map_err(err)?;
                outputs.push(block);
            }
            ensure(outputs.windows(2).all(|w| w[0] == w[1]), || format!("{strategy:?}: the routes give different results"))?;
        }
        Ok(())
    })();
    set_exchange_path(ExchangePath::Auto);
    result
}

fn main() {
    let cases: &[Case] = &[
        ("every_strategy_complex128", case_every_strategy_complex128),
        ("every_strategy_complex64", case_every_strategy_complex64),
        ("small_batches_and_empty_ranks", case_small_batches_and_empty_ranks),
        ("long_runs", case_long_runs),
        ("plan_reuse_and_normalization", case_plan_reuse_and_normalization),
        ("one_shot", case_one_shot),
        ("pencil_indices", case_pencil_indices),
        ("bad_input", case_bad_input),
        ("wisdom", case_wisdom),
        ("exchange_paths", case_exchange_paths),
    ];
    common::main("mpi_fft", cases, &[]);
}
