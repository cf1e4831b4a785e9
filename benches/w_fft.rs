//! W-FFT (shared/WORKLOADS.md): dgampi's distributed 3-D FFT, forward, in
//! place, nq = 16x16x16, batch 2048 complex128 (128 MiB; × --scale), on 2
//! ranks, against FFTW-MPI (`fftw_mpi_plan_many_dft`), the serial FFTW share
//! and one MPI_Alltoall, in the same run. Acceptance: auto <= 0.75 × FFTW-MPI
//! (median times). See `benches/common/fft.rs` for the cases and checks.
//!
//! Run: `scripts/bench w_fft [--reps N] [--scale N] [--out DIR] [--limit BYTES] [--profile]`.

#[path = "common/mod.rs"]
mod common;
#[path = "common/fft.rs"]
mod fft_common;

/// Repetitions when `--reps` is not given.
const DEFAULT_REPS: usize = 21;

fn main() {
    let shapes = [fft_common::Shape { label: "", nq: [16, 16, 16], batch: 2048, target: 0.75 }];
    fft_common::main("W-FFT", "w_fft", &shapes, DEFAULT_REPS);
}
