//! Main demo (run by scripts/demo under mpirun -n 2): moves a 3 GiB complex128
//! array from rank 0 to rank 1 with send_rows/recv_rows_into, verifies it,
//! compares with raw MPI_Send/MPI_Recv of 1 GiB pieces, then broadcasts it.
//! Then a distributor splits q-points over the ranks: scatter, local work,
//! allgather, allreduce and a spill-file round trip, and the 64x64 square
//! lattice is unfolded from its 561 irreducible points, each verified.
//! Last, the whole pipeline: an IBZ block is unfolded to the full BZ peer to
//! peer, Fourier-transformed forward and backward over the BZ, and checked
//! against the unfolded start, with times and throughput per step.

use mpi::traits::*;
use ndarray::Array2;
use num_complex::Complex64;
use std::os::raw::c_void;

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let gib: usize = std::env::var("DGAMPI_DEMO_GIB").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let row_elems = 4096; // 64 KiB rows
    let nrows = gib * (1 << 30) / (row_elems * 16);
    let total = nrows * row_elems * 16;
    let bytes = total as f64;
    let expected = |i: usize, j: usize| Complex64::new(i as f64, j as f64);
    if world.size() < 2 {
        eprintln!("demo needs 2 ranks");
        return;
    }
    let rank = world.rank();
    let mut a = if rank == 0 {
        Array2::from_shape_fn((nrows, row_elems), |(i, j)| expected(i, j))
    } else {
        Array2::<Complex64>::zeros((nrows, row_elems))
    };
    world.barrier();
    let t0 = mpi::time();
    if rank == 0 {
        dgampi::send_rows(&world, &a, 1, 0, 0).expect("send_rows");
    } else if rank == 1 {
        dgampi::recv_rows_into(&world, &mut a, 0, 0, 0).expect("recv_rows_into");
    }
    world.barrier();
    let t_lib = mpi::time() - t0;
    let verify = |a: &Array2<Complex64>| a.indexed_iter().step_by(9973).all(|((i, j), v)| *v == expected(i, j));
    let received_ok = rank != 1 || verify(&a);

    let piece = 1usize << 30;
    let ptr = a.as_mut_ptr() as *mut u8;
    world.barrier();
    let t0 = mpi::time();
    let mut off = 0;
    while off < total {
        let n = piece.min(total - off) as i32;
        unsafe {
            if rank == 0 {
                mpi::ffi::MPI_Send(ptr.add(off) as *const c_void, n, mpi::ffi::RSMPI_UINT8_T, 1, 7, world.as_raw());
            } else if rank == 1 {
                mpi::ffi::MPI_Recv(ptr.add(off) as *mut c_void, n, mpi::ffi::RSMPI_UINT8_T, 0, 7, world.as_raw(), mpi::ffi::RSMPI_STATUS_IGNORE);
            }
        }
        off += piece;
    }
    world.barrier();
    let t_raw = mpi::time() - t0;

    let t0 = mpi::time();
    dgampi::bcast_rows_into(&world, &mut a, 0, 0).expect("bcast_rows_into");
    let t_bcast = mpi::time() - t0;
    let ok = received_ok && verify(&a);
    println!("rank {rank} verified its data after receive and broadcast: {}", if ok { "OK" } else { "MISMATCH" });
    if rank == 0 {
        let gbps = |t: f64| bytes / t / 1e9;
        println!("dgampi demo: {:.2} GiB complex128 as {nrows} rows of 64 KiB, limit {} bytes", bytes / (1u64 << 30) as f64, dgampi::max_message_bytes());
        println!("{:<32} {:>10} {:>10}", "step", "seconds", "GB/s");
        println!("{:<32} {:>10.3} {:>10.2}", "send_rows/recv_rows_into", t_lib, gbps(t_lib));
        println!("{:<32} {:>10.3} {:>10.2}", "raw MPI_Send/Recv 1 GiB pieces", t_raw, gbps(t_raw));
        println!("{:<32} {:>10.3} {:>10.2}", "bcast_rows_into", t_bcast, gbps(t_bcast));
        println!("ratio dgampi/raw throughput: {:.3} (one transfer each; scripts/bench w_p2p gives medians)", t_raw / t_lib);
    }
    drop(a);
    let ok = distributor_demo(&world) && ok;
    let ok = map_demo(&world) && ok;
    let ok = pipeline_demo(&world) && ok;
    if !ok {
        std::process::exit(1);
    }
}

/// Scatter → local work → allgather, an allreduce and a spill round trip.
fn distributor_demo(world: &mpi::topology::SimpleCommunicator) -> bool {
    let (nq, per_q) = (4099usize, 2048usize); // 128 MiB of complex128, uneven split
    let value = |q: usize, k: usize| Complex64::new(q as f64, k as f64 / 8.0);
    let spill_dir = std::env::temp_dir().join("dgampi_demo_spill");
    let mut d = dgampi::Distributor::new(world, nq, "demo", Some(&spill_dir)).expect("distributor");
    let full = d.is_root().then(|| Array2::from_shape_fn((nq, per_q), |(q, k)| value(q, k)));
    let mut times = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut()| {
        world.barrier();
        let t0 = mpi::time();
        f();
        world.barrier();
        times.push((name.to_string(), mpi::time() - t0));
    };
    let mut mine = None;
    step("scatter", &mut || mine = Some(d.scatter(full.as_ref(), 0, 0).expect("scatter")));
    let mut mine = mine.unwrap();
    // Local work: multiply q's row by (1 + q).
    let offset = d.my_offset();
    step("local work (scale rows)", &mut || {
        for (i, mut row) in mine.outer_iter_mut().enumerate() {
            row.mapv_inplace(|v| v * (1.0 + (offset + i) as f64));
        }
    });
    let mut gathered = None;
    step("allgather", &mut || gathered = Some(d.allgather(&mine, 0).expect("allgather")));
    let gathered = gathered.unwrap();
    let mut ok = gathered.indexed_iter().step_by(7919).all(|(ix, v)| *v == value(ix[0], ix[1]) * (1.0 + ix[0] as f64));
    let mut sum = Array2::from_elem((64, per_q), Complex64::new(1.0, 0.0));
    step("allreduce (2 MiB)", &mut || d.allreduce(&mut sum, 0).expect("allreduce"));
    ok &= sum.iter().all(|v| *v == Complex64::new(world.size() as f64, 0.0));
    let mut back = mine.clone();
    step("spill write + read", &mut || {
        let file = d.spill().expect("spill file");
        file.write("demo/block", dgampi::ArrayRef::new(&mine).unwrap()).expect("spill write");
        file.read_into("demo/block", dgampi::ArrayMut::new(&mut back).unwrap()).expect("spill read");
    });
    ok &= back == mine;
    let path = d.spill_path().map(|p| p.display().to_string()).unwrap_or_default();
    d.spill().and_then(|f| f.delete()).expect("spill delete");
    let _ = std::fs::remove_dir(&spill_dir);
    let all_ok = world_all(world, ok);
    if d.is_root() {
        println!();
        println!("distributor: {nq} q-points x {per_q} complex128 ({:.0} MiB) over {} ranks, sizes {:?}",
                 (nq * per_q * 16) as f64 / (1 << 20) as f64, d.mpi_size(), d.sizes());
        println!("{:<32} {:>10}", "step", "seconds");
        for (name, t) in &times {
            println!("{name:<32} {t:>10.4}");
        }
        println!("spill file of rank 0: {path} (written, read back, deleted)");
        println!("every rank verified scatter/work/allgather, allreduce and the spill round trip: {}",
                 if all_ok { "OK" } else { "MISMATCH" });
    }
    all_ok
}

/// Unfolds the 64x64 square lattice (561 irreducible -> 4096 full q-points,
/// 2048 complex128 per q) peer to peer, and through the root for comparison.
fn map_demo(world: &mpi::topology::SimpleCommunicator) -> bool {
    use dgampi::{ArrayMut, ArrayRef};
    use dgampi::bzmap::{exchange_and_map_irrbz_fullbz, map_irrbz_fullbz, square_lattice_irrk_inv};
    let per_q = 2048;
    let irrk_inv = square_lattice_irrk_inv(64);
    let n_irr = irrk_inv.iter().max().unwrap() + 1;
    let irr = dgampi::Distributor::new(world, n_irr, "irr", None).expect("distributor");
    let full = dgampi::Distributor::new(world, irrk_inv.len(), "full", None).expect("distributor");
    let value = |k: usize, e: usize| Complex64::new(k as f64, e as f64);
    let off = irr.my_offset();
    let block = Array2::from_shape_fn((irr.my_size(), per_q), |(i, e)| value(off + i, e));
    let mut out = Array2::<Complex64>::zeros((full.my_size(), per_q));
    let (raw_in, mut raw_out) = (ArrayRef::new(&block).unwrap(), ArrayMut::new(&mut out).unwrap());
    type MapFn = fn(&dgampi::Distributor, &dgampi::Distributor, &[usize], ArrayRef<'_>, ArrayMut<'_>, Option<&dgampi::orbital::OrbitalTransform>, usize) -> dgampi::Result<()>;
    let mut times = Vec::new();
    for (name, f) in [("exchange_and_map_irrbz_fullbz", exchange_and_map_irrbz_fullbz as MapFn), ("map_irrbz_fullbz (through root)", map_irrbz_fullbz)] {
        for _ in 0..2 {
            world.barrier();
            let t0 = mpi::time();
            f(&irr, &full, &irrk_inv, raw_in.clone(), raw_out.reborrow(), None, 0).expect("map");
            world.barrier();
            times.push((name, mpi::time() - t0));
        }
    }
    // The same unfolding as a plan made once (what an iterative code does).
    let t0 = mpi::time();
    let mut plan = dgampi::MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &[per_q], None, 0).expect("MapPlan::new");
    let plan_s = mpi::time() - t0;
    out.fill(Complex64::new(0.0, 0.0));
    let mut raw_out = ArrayMut::new(&mut out).unwrap();
    for _ in 0..2 {
        world.barrier();
        let t0 = mpi::time();
        plan.execute(raw_in.clone(), raw_out.reborrow()).expect("MapPlan::execute");
        world.barrier();
        times.push(("MapPlan::execute (planned once)", mpi::time() - t0));
    }
    let first = full.my_offset();
    let ok = out.indexed_iter().step_by(997).all(|((i, e), v)| *v == value(irrk_inv[first + i], e));
    let sent = plan.row_plan().rows_sent() * per_q * 16;
    let all_ok = world_all(world, ok);
    if full.is_root() {
        println!();
        println!("BZ map: 64x64 square lattice, {n_irr} irreducible -> {} full q-points, {per_q} complex128 per q, {} ranks",
                 irrk_inv.len(), full.mpi_size());
        println!("{:<36} {:>10}", "step (second of two runs)", "seconds");
        for (name, t) in times.iter().skip(1).step_by(2) {
            println!("{name:<36} {t:>10.4}");
        }
        println!("MapPlan::new (once): {plan_s:.4} s");
        println!("rank 0 sent {:.2} MiB (each needed irreducible row once per destination rank)", sent as f64 / (1 << 20) as f64);
        println!("every rank verified its unfolded block: {}", if all_ok { "OK" } else { "MISMATCH" });
    }
    all_ok
}

/// The pipeline IBZ → full BZ (peer to peer) → forward FFT → backward FFT on
/// the 64x64x1 square lattice with 1024 complex128 per q, checked against the
/// unfolded start; then a convolution in the transposed layouts (forward
/// with transposed output, a pointwise product, backward with transposed
/// input: one all-to-all pass fewer each), checked against the start shifted.
fn pipeline_demo(world: &mpi::topology::SimpleCommunicator) -> bool {
    use dgampi::{ArrayMut, ArrayRef};
    use dgampi::bzmap::{exchange_and_map_irrbz_fullbz, square_lattice_irrk_inv};
    use dgampi::fft::{Direction, FftOptions, FftPlan, Transposition};
    let (n, per_q) = (64, 1024);
    let nq = [n, n, 1];
    let irrk_inv = square_lattice_irrk_inv(n);
    let n_irr = irrk_inv.iter().max().unwrap() + 1;
    let irr = dgampi::Distributor::new(world, n_irr, "irr", None).expect("distributor");
    let full = dgampi::Distributor::new(world, irrk_inv.len(), "full", None).expect("distributor");
    let value = |k: usize, e: usize| Complex64::new((k % 17) as f64 - 8.0, (e % 13) as f64 * 0.5);
    let off = irr.my_offset();
    let block = Array2::from_shape_fn((irr.my_size(), per_q), |(i, e)| value(off + i, e));
    let mut bz = Array2::<Complex64>::zeros((full.my_size(), per_q));
    let mut times: Vec<(&str, f64, f64)> = Vec::new();
    let mut timed = |name: &'static str, bytes: f64, f: &mut dyn FnMut()| {
        world.barrier();
        let t0 = mpi::time();
        f();
        world.barrier();
        times.push((name, mpi::time() - t0, bytes));
    };
    let total = (irrk_inv.len() * per_q * 16) as f64;
    let (raw_in, mut raw_bz) = (ArrayRef::new(&block).unwrap(), ArrayMut::new(&mut bz).unwrap());
    timed("IBZ -> full BZ (peer to peer)", total, &mut || {
        exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, raw_in.clone(), raw_bz.reborrow(), None, 0).expect("map");
    });
    let start = bz.clone();
    let mut plans = None;
    timed("FFT plans (forward + backward)", 0.0, &mut || {
        let fwd = FftPlan::new(world, nq, &[per_q], dgampi::DType::Complex128, FftOptions::direction(Direction::Forward)).expect("plan");
        let bwd = FftPlan::new(world, nq, &[per_q], dgampi::DType::Complex128, FftOptions::direction(Direction::Backward)).expect("plan");
        plans = Some((fwd, bwd));
    });
    let (mut fwd, mut bwd) = plans.unwrap();
    timed("forward FFT (in place)", total, &mut || fwd.execute(&mut bz).expect("forward FFT"));
    // q = 0 of the forward transform is the sum over the BZ (checked on its owner).
    let sum_ok = full.my_offset() != 0 || {
        let mut sums = vec![Complex64::new(0.0, 0.0); per_q];
        for &k in &irrk_inv {
            for (e, s) in sums.iter_mut().enumerate() {
                *s += value(k, e);
            }
        }
        sums.iter().enumerate().all(|(e, s)| (bz[[0, e]] - s).norm() <= 1e-9 * s.norm().max(1.0))
    };
    timed("backward FFT (in place, 1/N)", total, &mut || bwd.execute(&mut bz).expect("backward FFT"));
    let err = bz.iter().zip(start.iter()).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
    // Convolution: the kernel exp(-2 pi i kx s / n) of the spectrum's point
    // shifts the BZ by s along x; each rank multiplies the points it holds
    // in the transposed layout (output_indices) without moving them back.
    let shift = 5;
    let mut transposed = None;
    timed("FFT plans (transposed out / in)", 0.0, &mut || {
        let opts = |direction, transposition| FftOptions { direction, transposition, ..FftOptions::default() };
        let fwd = FftPlan::new(world, nq, &[per_q], dgampi::DType::Complex128, opts(Direction::Forward, Transposition::Out)).expect("plan");
        let bwd = FftPlan::new(world, nq, &[per_q], dgampi::DType::Complex128, opts(Direction::Backward, Transposition::In)).expect("plan");
        transposed = Some((fwd, bwd));
    });
    let (mut fwd_t, mut bwd_t) = transposed.unwrap();
    let out_shape = fwd_t.output_shape();
    let mut spectrum = Array2::<Complex64>::zeros((out_shape[0], out_shape[1]));
    let kernel: Vec<Complex64> = fwd_t
        .output_indices()
        .iter()
        .map(|&q| Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * ((q / n) * shift) as f64 / n as f64))
        .collect();
    let mut input = start.clone(); // the forward plan uses its input as work space
    let mut conv = Array2::<Complex64>::zeros(bz.raw_dim());
    timed("convolution (FFT-T, product, FFT-T)", total, &mut || {
        fwd_t.execute_into(&mut input, &mut spectrum).expect("forward FFT, transposed out");
        for (mut row, k) in spectrum.rows_mut().into_iter().zip(&kernel) {
            row.mapv_inplace(|v| v * k);
        }
        bwd_t.execute_into(&mut spectrum, &mut conv).expect("backward FFT, transposed in");
    });
    let conv_err = (0..full.my_size())
        .flat_map(|i| {
            let q = full.my_offset() + i;
            let from = ((q / n + n - shift) % n) * n + q % n;
            let (conv, k) = (&conv, irrk_inv[from]);
            (0..per_q).map(move |e| (conv[[i, e]] - value(k, e)).norm())
        })
        .fold(0.0, f64::max);
    let all_ok = world_all(world, sum_ok && err < 1e-10 && conv_err < 1e-9);
    if full.is_root() {
        println!();
        println!("pipeline: {n}x{n}x1 BZ, {n_irr} irreducible -> {} q-points, {per_q} complex128 per q ({:.0} MiB), {} ranks, FFT strategy {}",
                 irrk_inv.len(), total / (1 << 20) as f64, full.mpi_size(), fwd.strategy().name());
        println!("{:<34} {:>10} {:>10}", "step", "seconds", "GB/s");
        for (name, t, bytes) in &times {
            let rate = if *bytes > 0.0 { format!("{:.2}", bytes / t / 1e9) } else { "-".into() };
            println!("{name:<34} {t:>10.4} {rate:>10}");
        }
        println!("convolution: {} strategy, rank 0 holds {} points x batch {:?} of the spectrum in the transposed layout",
                 fwd_t.strategy().name(), out_shape[0], fwd_t.output_layout().batch);
        println!("forward q=0 equals the BZ sum, backward(forward(x)) = x to {err:.1e}, and the convolution shifts by {shift} along x to {conv_err:.1e} on rank 0: {}",
                 if all_ok { "OK" } else { "MISMATCH" });
    }
    all_ok
}

/// True on every rank when `ok` holds on every rank.
fn world_all(world: &mpi::topology::SimpleCommunicator, ok: bool) -> bool {
    let mut all = 0u8;
    world.all_reduce_into(&u8::from(!ok), &mut all, mpi::collective::SystemOperation::max());
    all == 0
}
