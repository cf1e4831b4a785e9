//! W-FFT-3 (shared/WORKLOADS.md): dgampi's distributed 3-D FFT, forward, in
//! place, complex128, on two shapes in one launch: nq = 24x24x24 batch 256
//! (54 MiB) and the odd, non-divisible nq = 13x7x5 batch 4096 (× --scale),
//! at 2 ranks (the default of scripts/bench) and 3 (`RANKS=3 scripts/bench
//! w_fft_3`), against FFTW-MPI (`fftw_mpi_plan_many_dft`), the serial FFTW
//! share and one MPI_Alltoall, in the same run. Acceptance: auto <= 1.0 ×
//! FFTW-MPI on both shapes (median times). See `benches/common/fft.rs`.
//!
//! Run: `scripts/bench w_fft_3 [--reps N] [--scale N] [--out DIR] [--limit BYTES] [--profile]`.

#[path = "common/mod.rs"]
mod common;
#[path = "common/fft.rs"]
mod fft_common;

/// Repetitions when `--reps` is not given.
const DEFAULT_REPS: usize = 21;

fn main() {
    let shapes = [
        fft_common::Shape { label: "24x24x24", nq: [24, 24, 24], batch: 256, target: 1.0 },
        fft_common::Shape { label: "13x7x5", nq: [13, 7, 5], batch: 4096, target: 1.0 },
    ];
    fft_common::main("W-FFT-3", "w_fft_3", &shapes, DEFAULT_REPS);
}
