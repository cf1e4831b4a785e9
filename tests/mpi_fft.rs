//! Multi-rank tests of the distributed 3-D FFT against a direct DFT of the
//! whole array computed in the test: every strategy, odd and degenerate
//! grids, batch shapes, both precisions, normalizations, plan reuse and bad
//! input, at 1-4 ranks and with lowered message limits.

mod common;

use common::{ensure, limit_in_force, Case};
use dgampi::fft::{
    choose, execute_distributed_fft, export_wisdom, import_wisdom, pencil_indices, Direction, FftOptions, FftPlan, Layout, Normalization,
    Precision, Strategy, Transposition,
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
        choose(nq, 3, size, Transposition::Natural).map_err(err)?;
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

/// This rank's part of `all` (`[N, batch...]`) in a plan side's layout:
/// rows `indices`, the flattened batch columns `batch`.
fn in_layout<T: Cplx>(all: &ArrayD<T>, indices: &[usize], batch: std::ops::Range<usize>) -> ArrayD<T> {
    let width: usize = all.shape()[1..].iter().product();
    let flat = all.view().into_shape_with_order((all.shape()[0], width)).unwrap();
    ArrayD::from_shape_fn(IxDyn(&[indices.len(), batch.len()]), |ix| flat[[indices[ix[0]], batch.start + ix[1]]])
}

/// One transposed plan of each kind (forward out, backward in, forward in,
/// backward out) with `strategy` on `nq` x `batch`: every output matches the
/// DFT of its input in the layout the plan reports, the reported layouts
/// tile the grid and batch exactly once over the ranks, out and in plans
/// agree on the layout, and forward-out then backward-in is the identity.
fn transposed_round_trip<T: Cplx>(world: &SimpleCommunicator, nq: [usize; 3], batch: &[usize], strategy: Strategy) -> Result<(), String> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let flat = BlockLayout::new(nq.iter().product(), size).map_err(err)?;
    let all = whole::<T>(nq, batch, 5);
    let width: usize = batch.iter().product();
    let what = format!("{} {nq:?} batch {batch:?} {} at {size} ranks", strategy.name(), T::DTYPE.name());
    let plan = |direction, transposition| {
        let opts = FftOptions { direction, strategy, transposition, ..FftOptions::default() };
        FftPlan::new(world, nq, batch, T::DTYPE, opts).map_err(err)
    };
    let mut fwd_out = plan(Direction::Forward, Transposition::Out)?;
    let mut bwd_in = plan(Direction::Backward, Transposition::In)?;
    let mut fwd_in = plan(Direction::Forward, Transposition::In)?;
    let mut bwd_out = plan(Direction::Backward, Transposition::Out)?;
    let strategies = [fwd_out.strategy(), bwd_in.strategy(), fwd_in.strategy(), bwd_out.strategy()];
    ensure(strategies.iter().all(|&s| s == strategies[0]) && (strategy == Strategy::Auto || strategies[0] == strategy), || {
        format!("{what}: the plans chose {strategies:?}")
    })?;
    let (layout, indices) = (fwd_out.output_layout(), fwd_out.output_indices());
    ensure(layout.count == indices.len() && !layout.flat && fwd_out.input_layout().flat, || format!("{what}: layout {layout:?}"))?;
    for p in [&bwd_in, &fwd_in] {
        ensure(p.input_layout() == layout && p.input_indices() == indices && p.output_layout().flat, || format!("{what}: In plan's input differs"))?;
    }
    ensure(bwd_out.output_layout() == layout && bwd_out.output_indices() == indices, || format!("{what}: the Out plans' layouts differ"))?;
    ensure(fwd_out.output_shape() == vec![layout.count, layout.batch.len()], || format!("{what}: output shape {:?}", fwd_out.output_shape()))?;
    // Every (q, batch column) is held by exactly one rank (counted in
    // one-byte sums, in pieces within the limit; at the lowered limits that
    // would be thousands of collectives, and the unlowered runs check it).
    let n = nq.iter().product::<usize>();
    if limit_in_force() >= 1000 {
        let mut cover = vec![0u8; n * width];
        for &q in &indices {
            for b in layout.batch.clone() {
                cover[q * width + b] += 1;
            }
        }
        let mut total = vec![0u8; cover.len()];
        for (mine, all) in cover.chunks(1000).zip(total.chunks_mut(1000)) {
            world.all_reduce_into(mine, all, mpi::collective::SystemOperation::sum());
        }
        ensure(total.iter().all(|&c| c == 1), || format!("{what}: the transposed layouts do not tile the grid and batch"))?;
    }

    let (a64, n) = (to64(&all), n as f64);
    let spectrum = dft(&a64, nq, -1.0);
    let tol = T::TOL * 10.0;
    let mut input = block_of(&all, &flat, rank);
    let mut out = ArrayD::from_elem(IxDyn(&fwd_out.output_shape()), T::default());
    fwd_out.execute_into(&mut input, &mut out).map_err(err)?;
    let e = rel_err(&to64(&out), &in_layout(&spectrum, &indices, layout.batch.clone()));
    ensure(e < tol, || format!("{what}: forward-out differs from the DFT by {e:e}"))?;
    let mut back = ArrayD::from_elem(IxDyn(&fwd_out.block_shape()), T::default());
    bwd_in.execute_into(&mut out, &mut back).map_err(err)?;
    let e = rel_err(&to64(&back), &to64(&block_of(&all, &flat, rank)));
    ensure(e < tol, || format!("{what}: forward-out then backward-in differs from the input by {e:e}"))?;
    // Forward from the transposed layout, backward into it.
    let mut input = in_layout(&all, &indices, layout.batch.clone());
    fwd_in.execute_into(&mut input, &mut back).map_err(err)?;
    let e = rel_err(&to64(&back), &block_of(&spectrum, &flat, rank));
    ensure(e < tol, || format!("{what}: forward-in differs from the DFT by {e:e}"))?;
    let mut input = block_of(&all, &flat, rank);
    bwd_out.execute_into(&mut input, &mut out).map_err(err)?;
    let inverse = dft(&a64, nq, 1.0).mapv(|v| v / n);
    let e = rel_err(&to64(&out), &in_layout(&inverse, &indices, layout.batch.clone()));
    ensure(e < tol, || format!("{what}: backward-out differs from the inverse DFT by {e:e}"))
}

/// Transposed plans: every strategy, both precisions, the grid and batch
/// matrix (uneven splits, more ranks than planes or batch columns).
fn case_transposed_layouts(world: &SimpleCommunicator) -> Result<(), String> {
    for (nq, batch) in matrix() {
        for s in STRATEGIES {
            transposed_round_trip::<Complex64>(world, nq, batch, s)?;
        }
    }
    for (nq, batch) in [([4, 6, 5], &[3][..]), ([1, 2, 1], &[][..]), ([3, 1, 1], &[2][..])] {
        for s in STRATEGIES {
            transposed_round_trip::<Complex32>(world, nq, batch, s)?;
        }
    }
    Ok(())
}

/// A transposed plan moves one pass fewer than the natural one; the wrong
/// call or a wrong array fails on every rank and the plan stays usable.
fn case_transposed_misuse(world: &SimpleCommunicator) -> Result<(), String> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let (nq, batch) = ([4usize, 4, 4], [4usize]);
    let flat = BlockLayout::new(64, size).map_err(err)?;
    for strategy in [Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil] {
        let routes = |transposition| {
            let opts = FftOptions { strategy, transposition, ..FftOptions::default() };
            FftPlan::new(world, nq, &batch, DType::Complex128, opts).map(|p| p.exchange_routes().len()).map_err(err)
        };
        let (natural, out, inn) = (routes(Transposition::Natural)?, routes(Transposition::Out)?, routes(Transposition::In)?);
        ensure(size == 1 || (out + 1 == natural && inn + 1 == natural), || format!("{strategy:?}: movements natural {natural}, out {out}, in {inn}"))?;
    }
    let opts = FftOptions { transposition: Transposition::Out, ..FftOptions::default() };
    let mut plan = FftPlan::new(world, nq, &batch, DType::Complex128, opts).map_err(err)?;
    let mut block = block_of(&whole::<Complex64>(nq, &batch, 2), &flat, rank);
    match plan.execute(&mut block) {
        Err(e) if e.status == Status::InvalidArgument && e.message.contains("execute_into") => {}
        other => return Err(format!("execute on a transposed plan: {other:?}")),
    }
    let mut natural = FftPlan::new(world, nq, &batch, DType::Complex128, FftOptions::default()).map_err(err)?;
    let mut out = ArrayD::<Complex64>::zeros(IxDyn(&plan.output_shape()));
    match natural.execute_into(&mut block, &mut out) {
        Err(e) if e.status == Status::InvalidArgument => {}
        other => return Err(format!("execute_into on a natural plan: {other:?}")),
    }
    match execute_distributed_fft(world, nq, &mut block, opts) {
        Err(e) if e.status == Status::InvalidArgument => {}
        other => return Err(format!("one-shot transposed: {other:?}")),
    }
    // An output one row too long on the last rank.
    let mut shape = plan.output_shape();
    shape[0] += usize::from(rank == size - 1);
    let mut long = ArrayD::<Complex64>::zeros(IxDyn(&shape));
    expect_status(plan.execute_into(&mut block, &mut long), rank, size - 1, Status::Mismatch, "output length")?;
    // Input and output overlapping in one allocation, on rank 0 (with
    // batch [4] on a 4x4x4 grid every rank holds some of either side).
    let (in_len, out_shape) = (block.len(), plan.output_shape());
    let mut arena = vec![Complex64::default(); in_len + out.len()];
    let r = if rank == 0 {
        let p = arena.as_mut_ptr();
        // SAFETY: both views lie in `arena`; the output starts at the input's last element.
        let (mut inp, mut over) = unsafe {
            (ndarray::ArrayViewMutD::from_shape_ptr(IxDyn(block.shape()), p), ndarray::ArrayViewMutD::from_shape_ptr(IxDyn(&out_shape), p.add(in_len - 1)))
        };
        plan.execute_into(&mut inp, &mut over)
    } else {
        plan.execute_into(&mut block.clone(), &mut out)
    };
    expect_status(r, rank, 0, Status::InvalidArgument, "overlapping arrays")?;
    // Still usable.
    let all = whole::<Complex64>(nq, &batch, 2);
    let mut block = block_of(&all, &flat, rank);
    plan.execute_into(&mut block, &mut out).map_err(err)?;
    let l = plan.output_layout();
    let e = rel_err(&out, &in_layout(&dft(&all, nq, -1.0), &plan.output_indices(), l.batch));
    ensure(e < 1e-12, || format!("after errors: {e:e}"))
}

/// Plans with 2 threads give the 1-thread results to rounding, natural and
/// transposed, forward and backward; the 2 MiB array makes the local copy
/// (at one rank) and the scaling large enough to be split over the threads.
fn case_threads(world: &SimpleCommunicator) -> Result<(), String> {
    if limit_in_force() < 16 {
        return Ok(()); // a 2 MiB array in 3-byte messages takes minutes on 2 cores
    }
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let (nq, batch) = ([16usize, 16, 8], [64usize]);
    let flat = BlockLayout::new(nq.iter().product(), size).map_err(err)?;
    let all = whole::<Complex64>(nq, &batch, 9);
    for strategy in [Strategy::BatchTranspose, Strategy::Slab, Strategy::Pencil] {
        for (direction, transposition) in [(Direction::Forward, Transposition::Natural), (Direction::Backward, Transposition::Natural), (Direction::Backward, Transposition::Out)] {
            let mut results = Vec::new();
            for threads in [1, 2] {
                let opts = FftOptions { direction, strategy, transposition, threads, ..FftOptions::default() };
                let mut plan = FftPlan::new(world, nq, &batch, DType::Complex128, opts).map_err(err)?;
                let mut block = block_of(&all, &flat, rank);
                if transposition == Transposition::Natural {
                    plan.execute(&mut block).map_err(err)?;
                    results.push(block);
                } else {
                    let mut out = ArrayD::<Complex64>::zeros(IxDyn(&plan.output_shape()));
                    plan.execute_into(&mut block, &mut out).map_err(err)?;
                    results.push(out);
                }
            }
            let e = rel_err(&results[1], &results[0]);
            ensure(e < 1e-14, || format!("{strategy:?} {direction:?} {transposition:?}: 2 threads differ from 1 by {e:e}"))?;
        }
    }
    Ok(())
}

fn main() {
    let cases: &[Case] = &[
        ("threads", case_threads),
        ("transposed_layouts", case_transposed_layouts),
        ("transposed_misuse", case_transposed_misuse),
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
