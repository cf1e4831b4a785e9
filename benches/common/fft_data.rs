//! What the FFT workloads (W-FFT, W-FFT-3, W-FFT-CONV) share: their input
//! data, a direct DFT to check results against, cold plan timing, and the
//! argument-error exit.

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use num_complex::Complex64;

/// Prints `msg` on rank 0 and exits with status 2 (a bad argument).
pub fn exit_with(rank: i32, msg: &str) -> ! {
    if rank == 0 {
        eprintln!("error: {msg}");
    }
    std::process::exit(2)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The input value at global point `q`, batch element `b` (|re|, |im| < 1).
pub fn value(q: usize, b: usize, batch: usize) -> Complex64 {
    let h = splitmix((q * batch + b) as u64);
    let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    Complex64::new(unit(h), unit(splitmix(h)))
}

/// Direct DFT (forward, numpy sign) of a full grid, axis by axis: O(N (nx + ny + nz)).
pub fn direct_dft(nq: [usize; 3], x: &[Complex64]) -> Vec<Complex64> {
    let mut cur = x.to_vec();
    let strides = [nq[1] * nq[2], nq[2], 1];
    for axis in 0..3 {
        let n = nq[axis];
        let s = strides[axis];
        let tw: Vec<Complex64> = (0..n).map(|m| Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * m as f64 / n as f64)).collect();
        let mut next = vec![Complex64::new(0.0, 0.0); cur.len()];
        for base in 0..cur.len() {
            if !(base / s).is_multiple_of(n) {
                continue; // not the first point of a line along `axis`
            }
            for k in 0..n {
                let mut acc = Complex64::new(0.0, 0.0);
                for j in 0..n {
                    acc += cur[base + j * s] * tw[(j * k) % n];
                }
                next[base + k * s] = acc;
            }
        }
        cur = next;
    }
    cur
}

/// Runs the planning `f` cold (FFTW's wisdom forgotten, after a barrier)
/// and returns its result with the slowest rank's time.
pub fn timed_plan<T>(world: &SimpleCommunicator, f: impl FnOnce() -> T) -> (T, f64) {
    // SAFETY: no planning runs concurrently (single-threaded benchmark).
    unsafe { fftw_sys::fftw_forget_wisdom() };
    world.barrier();
    let t0 = mpi::time();
    let r = f();
    let local = mpi::time() - t0;
    let mut worst = 0.0f64;
    world.all_reduce_into(&local, &mut worst, SystemOperation::max());
    (r, worst)
}
