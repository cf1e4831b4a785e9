//! Shared body of the FFT workloads W-FFT (`benches/w_fft.rs`) and W-FFT-3
//! (`benches/w_fft_3.rs`) of shared/WORKLOADS.md: dgampi's distributed 3-D
//! FFT, forward, in place, complex128, on the flat q split `[my_q, batch]`,
//! against FFTW-MPI and two ideal-bound anchors, all in one launch.
//!
//! Cases per shape, interleaved per repetition (one warm-up, then `--reps`):
//! - `auto`, `batch_transpose`, `slab`, `pencil`: `FftPlan::execute` with the
//!   strategy chosen by the cost model or forced, every plan `Rigor::Measure`,
//!   each case on its own block; each plan's movements take the route the
//!   exchange-path setting gives (`DGAMPI_EXCHANGE_PATH`, default auto: an MPI
//!   collective where every per-peer block fits the limit);
//! - `auto_p2p`: `auto` with its plan made under the `p2p` setting (every
//!   movement on the chunked point-to-point engine), to show both paths;
//! - `fftw_mpi` (anchor; every dgampi case shows its time ratio to it):
//!   `fftw_mpi_plan_many_dft` (rank 3, howmany = batch, default blocks, in
//!   place, no TRANSPOSED flags, so input and output have FFTW's own x-slab
//!   layout `[local_n0, ny, nz, batch]`, sized by `fftw_mpi_local_size_many`),
//!   FFTW_MEASURE;
//! - `serial_share` (anchor): every rank at once runs one serial FFTW guru plan
//!   (FFTW_MEASURE, in place) over `[nq, batch_r]`, batch innermost with stride
//!   1, where `batch_r` is the rank's share of the batch (split like dgampi's
//!   blocks, excess on the last ranks): the serial FFT of the whole batch
//!   divided by the rank count;
//! - `alltoall` (anchor): one `MPI_Alltoall` of each rank's share of the data,
//!   `ceil(largest flat block / P)` bytes to every rank (itself included), from
//!   one buffer into another; when a per-peer block exceeds the message limit
//!   it is cut into pieces of at most the limit, one `MPI_Alltoall` of a
//!   resized byte type per piece.
//!
//! Ideal = `serial_share + 2 × alltoall` (medians): the two all-to-all passes
//! a flat-in / flat-out layout needs at least, plus the local FFT work. The
//! table's "vs" column is the time ratio to FFTW-MPI; the notes give each
//! strategy's ratio to FFTW-MPI and to the ideal, from the medians and paired
//! per repetition (cases are interleaved, so repetition i of each case saw
//! the same machine load), and the acceptance (auto / FFTW-MPI <= target).
//!
//! Plan times (every plan once, FFTW's wisdom forgotten before each so that
//! every plan is timed cold; barrier, max over ranks) are reported apart and
//! never enter execution times. GB/s is the total array bytes
//! (`N × batch × 16`) per second for every case (the all-to-all: the bytes of
//! all its send buffers).
//!
//! Data: pseudo-random values of magnitude below 1, a function of the global
//! (q, b) only, written before each case's warm-up (outside timing). After a
//! case's warm-up its result is checked on rank 0 for batch columns 0, B/2 and
//! B-1 (gathered from every rank) against a direct separable DFT computed here
//! (relative error < 1e-10), then the input is written again. Timed repetitions
//! transform the previous output again (F(F(x)) = N x(-n), so magnitudes grow
//! by about sqrt(N) per transform; `--reps` is bounded so they stay finite).
//!
//! Extra flags: `--limit BYTES` (dgampi's message limit, also the anchors'
//! piece size; default 0 = the process-wide limit), `--strategies LIST`
//! (comma-separated subset of auto,batch_transpose,slab,pencil; the anchors
//! always run), `--profile` (adds `prof_*` cases timing the steps of the
//! batch transpose one by one, from a copy of its logic in this file; see
//! [`Profile`]), `--threads N` (threads per rank, default 1: every dgampi
//! plan's `FftOptions::threads`, and `fftw_plan_with_nthreads` for the
//! FFTW-MPI and serial-share anchors; run with `RANKS=1 ... --threads 2` next
//! to the default 2 ranks to compare 1 rank x 2 threads with 2 ranks x 1).

use crate::common::fft_data::{direct_dft, exit_with, timed_plan, value};
use crate::common::{self, Bench, Case, Json};
use dgampi::fft::{estimated_cost, Direction, FftOptions, FftPlan, Normalization, Rigor, Strategy, Transposition};
use dgampi::DType;
use fftw_sys::{fftw_complex, fftw_plan};
use mpi::datatype::PartitionMut;
use mpi::ffi::{MPI_Comm, MPI_Datatype};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::Array2;
use num_complex::Complex64;
use std::os::raw::c_void;

#[link(name = "fftw3_threads")]
extern "C" {
    fn fftw_init_threads() -> i32;
    fn fftw_plan_with_nthreads(nthreads: i32);
}

#[link(name = "fftw3_mpi")]
extern "C" {
    fn fftw_mpi_init();
    fn fftw_mpi_cleanup();
    fn fftw_mpi_local_size_many(
        rnk: i32,
        n: *const isize,
        howmany: isize,
        block0: isize,
        comm: MPI_Comm,
        local_n0: *mut isize,
        local_0_start: *mut isize,
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
}

const FFTW_MPI_DEFAULT_BLOCK: isize = 0;
/// Relative error allowed against the direct DFT.
const TOLERANCE: f64 = 1e-10;

/// One FFT problem of a workload.
pub struct Shape {
    /// Prefix of the case names ("" for a workload with one shape).
    pub label: &'static str,
    pub nq: [usize; 3],
    /// Batch elements before `--scale`.
    pub batch: usize,
    /// Acceptance: auto's median time over FFTW-MPI's at most this.
    pub target: f64,
}

fn check_mpi(code: i32, what: &str) {
    if code != 0 {
        panic!("{what} returned MPI error code {code}");
    }
}

// ------------------------------------------------------------------ data

/// Writes the input into `dst` = `[nloc, width]` holding points `q0..` and batch elements `b0..b0 + width`.
fn fill(dst: &mut [Complex64], q0: usize, b0: usize, width: usize, batch: usize) {
    if width == 0 {
        return;
    }
    for (k, row) in dst.chunks_exact_mut(width).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = value(q0 + k, b0 + j, batch);
        }
    }
}

/// Batch element shares: `[start, len)` of rank `r` out of `p` (excess on the last ranks, like dgampi).
fn share(total: usize, p: usize, r: usize) -> (usize, usize) {
    let (base, rem) = (total / p, total % p);
    let first_big = p - rem;
    let len = base + usize::from(r >= first_big);
    let start = r * base + r.saturating_sub(first_big);
    (start, len)
}

/// Gathers batch columns `cols` of every rank's `[nloc, batch]` block holding
/// points `q0..q0 + nloc` to rank 0 and compares them with `reference`
/// (rank 0 only). Returns the largest relative error on rank 0 (0 elsewhere).
fn verify(world: &SimpleCommunicator, data: &[Complex64], q0: usize, nloc: usize, batch: usize, cols: &[usize], reference: &[Vec<Complex64>]) -> Result<f64, String> {
    let nc = cols.len();
    let mut send = Vec::with_capacity(nloc * nc * 2);
    for k in 0..nloc {
        for &b in cols {
            let v = data[k * batch + b];
            send.push(v.re);
            send.push(v.im);
        }
    }
    let p = world.size() as usize;
    let mine = [q0 as u64, nloc as u64];
    let mut all = vec![0u64; 2 * p];
    world.all_gather_into(&mine[..], &mut all[..]);
    let root = world.process_at_rank(0);
    if world.rank() != 0 {
        root.gather_varcount_into(&send[..]);
        return Ok(0.0);
    }
    let counts: Vec<i32> = (0..p).map(|r| i32::try_from(all[2 * r + 1] as usize * nc * 2).expect("check count fits an int")).collect();
    let displs: Vec<i32> = counts.iter().scan(0i32, |acc, &c| {
        let d = *acc;
        *acc += c;
        Some(d)
    }).collect();
    let mut recv = vec![0f64; counts.iter().map(|&c| c as usize).sum()];
    root.gather_varcount_into_root(&send[..], &mut PartitionMut::new(&mut recv[..], &counts[..], &displs[..]));
    let n = reference[0].len();
    let mut got = vec![vec![Complex64::new(f64::NAN, f64::NAN); n]; nc];
    let mut seen = vec![0u8; n];
    for r in 0..p {
        let (rq0, rn) = (all[2 * r] as usize, all[2 * r + 1] as usize);
        for k in 0..rn {
            let q = rq0 + k;
            if q >= n {
                return Err(format!("rank {r} reports point {q} outside the grid of {n}"));
            }
            seen[q] += 1;
            for (c, col) in got.iter_mut().enumerate() {
                let at = displs[r] as usize + (k * nc + c) * 2;
                col[q] = Complex64::new(recv[at], recv[at + 1]);
            }
        }
    }
    if let Some(q) = seen.iter().position(|&s| s != 1) {
        return Err(format!("point {q} is held by {} ranks (expected exactly one)", seen[q]));
    }
    let mut worst = 0.0f64;
    for (c, (g, want)) in got.iter().zip(reference).enumerate() {
        let scale = want.iter().map(|v| v.norm()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
        let (q, err) = g.iter().zip(want).map(|(a, b)| (a - b).norm()).enumerate().fold((0, 0.0f64), |m, (q, e)| if e > m.1 || e.is_nan() { (q, e) } else { m });
        let rel = err / scale;
        if rel.is_nan() || rel >= TOLERANCE {
            return Err(format!(
                "batch column {}: relative error {rel:.3e} (tolerance {TOLERANCE:e}); worst at q = {q}: got {}, expected {}",
                cols[c], g[q], want[q]
            ));
        }
        worst = worst.max(rel);
    }
    Ok(worst)
}

// ------------------------------------------------------------------ anchors

/// FFTW-MPI's data and plan on this rank.
struct FftwMpi {
    plan: fftw_plan,
    data: *mut Complex64,
    /// Elements allocated (`fftw_mpi_local_size_many`), at least the local data.
    alloc: usize,
    local_n0: usize,
    local_0_start: usize,
}

impl FftwMpi {
    fn local_len(&self, nq: [usize; 3], batch: usize) -> usize {
        self.local_n0 * nq[1] * nq[2] * batch
    }
    fn slice(&mut self, len: usize) -> &mut [Complex64] {
        // SAFETY: `data` holds `alloc` >= len elements, owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.data, len) }
    }
}

impl Drop for FftwMpi {
    fn drop(&mut self) {
        // SAFETY: plan and data were made by FFTW and are freed once.
        unsafe {
            if !self.plan.is_null() {
                fftw_sys::fftw_destroy_plan(self.plan);
            }
            fftw_sys::fftw_free(self.data as *mut c_void);
        }
    }
}

/// A serial FFTW plan in place on its own `fftw_malloc`ed buffer.
struct Serial {
    plan: fftw_plan,
    data: *mut Complex64,
    len: usize,
}

impl Serial {
    fn slice(&mut self) -> &mut [Complex64] {
        // SAFETY: `data` holds `len` elements (a dangling, unused pointer when len = 0).
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
    fn execute(&self) {
        if !self.plan.is_null() {
            // SAFETY: the plan was made in place on `data`.
            unsafe { fftw_sys::fftw_execute(self.plan) };
        }
    }
}

impl Drop for Serial {
    fn drop(&mut self) {
        // SAFETY: as for FftwMpi.
        unsafe {
            if !self.plan.is_null() {
                fftw_sys::fftw_destroy_plan(self.plan);
            }
            if self.len > 0 {
                fftw_sys::fftw_free(self.data as *mut c_void);
            }
        }
    }
}

/// An FFTW_MEASURE guru plan, in place on a fresh `fftw_malloc`ed buffer of
/// `[nx, ny, nz, width]` (batch innermost, stride 1); `axes` selects which of
/// x, y, z are transformed (the others become loops).
fn serial_plan(nq: [usize; 3], width: usize, axes: [bool; 3]) -> Serial {
    let len = nq.iter().product::<usize>() * width;
    if len == 0 {
        return Serial { plan: std::ptr::null_mut(), data: std::ptr::NonNull::dangling().as_ptr(), len: 0 };
    }
    // SAFETY: fftw_malloc returns len elements or null; the guru plan addresses exactly them.
    unsafe {
        let data = fftw_sys::fftw_malloc(len * 16) as *mut Complex64;
        assert!(!data.is_null(), "fftw_malloc of {len} elements failed");
        std::ptr::write_bytes(data, 0, len);
        let strides = [nq[1] * nq[2] * width, nq[2] * width, width];
        let mut dims = Vec::new();
        let mut loops = Vec::new();
        for a in 0..3 {
            let d = fftw_sys::fftw_iodim64 { n: nq[a] as isize, is: strides[a] as isize, os: strides[a] as isize };
            if axes[a] {
                dims.push(d);
            } else {
                loops.push(d);
            }
        }
        loops.push(fftw_sys::fftw_iodim64 { n: width as isize, is: 1, os: 1 });
        let plan = fftw_sys::fftw_plan_guru64_dft(
            dims.len() as i32,
            dims.as_ptr(),
            loops.len() as i32,
            loops.as_ptr(),
            data,
            data,
            fftw_sys::FFTW_FORWARD,
            fftw_sys::FFTW_MEASURE,
        );
        assert!(!plan.is_null(), "FFTW could not plan the serial transform");
        Serial { plan, data, len }
    }
}

/// The all-to-all anchor: `per_peer` bytes to every rank, in pieces of at most `limit`.
struct Alltoall {
    comm: MPI_Comm,
    send: Vec<u8>,
    recv: Vec<u8>,
    per_peer: usize,
    /// (byte offset within each per-peer block, datatype of one piece) per call.
    pieces: Vec<(usize, MPI_Datatype)>,
    /// Types to free at the end (the distinct piece types).
    owned: Vec<MPI_Datatype>,
}

impl Alltoall {
    fn new(comm: MPI_Comm, nranks: usize, per_peer: usize, limit: usize) -> Alltoall {
        let total = nranks * per_peer;
        let mut a = Alltoall { comm, send: vec![1u8; total], recv: vec![2u8; total], per_peer, pieces: Vec::new(), owned: Vec::new() };
        if per_peer == 0 {
            return a;
        }
        let piece = limit.min(i32::MAX as usize).max(1);
        let mut types: Vec<(usize, MPI_Datatype)> = Vec::new();
        let mut off = 0;
        while off < per_peer {
            let len = piece.min(per_peer - off);
            let t = match types.iter().find(|(l, _)| *l == len) {
                Some(&(_, t)) => t,
                None => {
                    // SAFETY: building a contiguous byte type resized to the per-peer stride.
                    let t = unsafe {
                        let mut c = mpi::ffi::RSMPI_DATATYPE_NULL;
                        check_mpi(mpi::ffi::MPI_Type_contiguous(len as i32, mpi::ffi::RSMPI_UINT8_T, &mut c), "MPI_Type_contiguous");
                        let mut r = mpi::ffi::RSMPI_DATATYPE_NULL;
                        check_mpi(mpi::ffi::MPI_Type_create_resized(c, 0, per_peer as mpi::ffi::MPI_Aint, &mut r), "MPI_Type_create_resized");
                        check_mpi(mpi::ffi::MPI_Type_commit(&mut r), "MPI_Type_commit");
                        check_mpi(mpi::ffi::MPI_Type_free(&mut c), "MPI_Type_free");
                        r
                    };
                    types.push((len, t));
                    t
                }
            };
            a.pieces.push((off, t));
            off += len;
        }
        a.owned = types.into_iter().map(|(_, t)| t).collect();
        a
    }

    fn run(&mut self) {
        for &(off, t) in &self.pieces {
            // SAFETY: one element of `t` per peer spans per_peer bytes from `off`, inside both buffers.
            check_mpi(
                unsafe {
                    mpi::ffi::MPI_Alltoall(
                        self.send.as_ptr().add(off) as *const c_void,
                        1,
                        t,
                        self.recv.as_mut_ptr().add(off) as *mut c_void,
                        1,
                        t,
                        self.comm,
                    )
                },
                "MPI_Alltoall",
            );
        }
    }
}

impl Drop for Alltoall {
    fn drop(&mut self) {
        for t in &mut self.owned {
            // SAFETY: committed derived types, freed once.
            unsafe { mpi::ffi::MPI_Type_free(t) };
        }
    }
}

// ------------------------------------------------------------------ profile

/// Bytes of staging this profile keeps in flight (the window of dgampi's row
/// engine before it bounded staging per direction, `STAGING_BYTES`).
const ENGINE_WINDOW: usize = 64 << 20;
const PROFILE_TAG: i32 = 4242;

/// `--profile`: a copy of the batch transpose's logic as dgampi's engine runs
/// it on the flat split, cut into steps that are timed one by one:
/// 1. `pack`: each peer's columns of my block `[nloc, B]` into a contiguous
///    staging block `[nloc, B_p]` (the engine packs chunks of non-consecutive
///    bytes into its arena);
/// 2. `local`: my own columns into my rows of the work array `[N, B_me]`
///    (one memcpy per row, as the engine's `copy_local` does for a column window);
/// 3. `exchange`: nonblocking send of the staging blocks, receive straight
///    into the peers' rows of the work array, in chunks of at most
///    min(limit, 64 MiB / (2P)) bytes, one MPI_Waitall per step;
/// 4. `fft`: the serial FFTW guru plan (FFTW_MEASURE) over `[N, B_me]`;
/// 5. `exchange_back`: the peers' rows of the work array back into staging;
/// 6. `unpack`: staging into the peers' columns of my block; `local_back`:
///    my rows of the work array into my columns.
///
/// `total` runs every step in that order and is checked like the dgampi
/// cases. `fft_2d1d` and `fft_1d` time the same local FFT as a chain of
/// FFTW_MEASURE plans (y-z then x; z, y, x) instead of one 3-D plan.
struct Profile {
    comm: MPI_Comm,
    me: usize,
    batch: usize,
    block: Array2<Complex64>,
    /// Per peer, `[nloc, B_p]` at `off[p]`.
    stage: Vec<Complex64>,
    off: Vec<usize>,
    /// Batch split and flat split: (start, len) per rank.
    bsplit: Vec<(usize, usize)>,
    qsplit: Vec<(usize, usize)>,
    /// `[N, B_me]` with its FFT plan.
    work: Serial,
    /// The same FFT of `[N, B_me]` as a chain of plans on the first one's
    /// buffer: y-z (2-D) then x; and z, y, x (1-D each).
    split_2d1d: Vec<Serial>,
    split_1d: Vec<Serial>,
    chunk: usize,
    budget: usize,
}

fn isend(comm: MPI_Comm, ptr: *const u8, len: usize, peer: usize, reqs: &mut Vec<mpi::ffi::MPI_Request>) {
    // SAFETY: reading rsmpi's constant; ptr spans len bytes alive until the wait.
    unsafe {
        let mut r = mpi::ffi::RSMPI_REQUEST_NULL;
        check_mpi(mpi::ffi::MPI_Isend(ptr as *const c_void, len as i32, mpi::ffi::RSMPI_UINT8_T, peer as i32, PROFILE_TAG, comm, &mut r), "MPI_Isend");
        reqs.push(r);
    }
}

fn irecv(comm: MPI_Comm, ptr: *mut u8, len: usize, peer: usize, reqs: &mut Vec<mpi::ffi::MPI_Request>) {
    // SAFETY: as isend.
    unsafe {
        let mut r = mpi::ffi::RSMPI_REQUEST_NULL;
        check_mpi(mpi::ffi::MPI_Irecv(ptr as *mut c_void, len as i32, mpi::ffi::RSMPI_UINT8_T, peer as i32, PROFILE_TAG, comm, &mut r), "MPI_Irecv");
        reqs.push(r);
    }
}

impl Profile {
    fn new(comm: MPI_Comm, me: usize, p: usize, nq: [usize; 3], batch: usize, limit: usize) -> Profile {
        let n = nq.iter().product::<usize>();
        let bsplit: Vec<(usize, usize)> = (0..p).map(|r| share(batch, p, r)).collect();
        let qsplit: Vec<(usize, usize)> = (0..p).map(|r| share(n, p, r)).collect();
        let nloc = qsplit[me].1;
        let mut off = Vec::with_capacity(p);
        let mut at = 0;
        for (r, &(_, bl)) in bsplit.iter().enumerate() {
            off.push(at);
            if r != me {
                at += nloc * bl;
            }
        }
        let budget = (ENGINE_WINDOW / (2 * p)).max(1);
        let bl = bsplit[me].1;
        let work = serial_plan(nq, bl, [true; 3]);
        let split_2d1d = vec![serial_plan(nq, bl, [false, true, true]), serial_plan(nq, bl, [true, false, false])];
        let split_1d = vec![serial_plan(nq, bl, [false, false, true]), serial_plan(nq, bl, [false, true, false]), serial_plan(nq, bl, [true, false, false])];
        Profile {
            comm,
            me,
            batch,
            block: Array2::zeros((nloc, batch)),
            stage: vec![Complex64::new(0.0, 0.0); at],
            off,
            bsplit,
            qsplit,
            work,
            split_2d1d,
            split_1d,
            chunk: limit.min(budget).min(i32::MAX as usize).max(1),
            budget,
        }
    }

    fn nloc(&self) -> usize {
        self.qsplit[self.me].1
    }

    fn pack(&mut self) {
        let (nloc, b) = (self.nloc(), self.batch);
        let blk = self.block.as_slice().expect("contiguous");
        for (p, &(bs, bl)) in self.bsplit.iter().enumerate() {
            if p == self.me || bl == 0 {
                continue;
            }
            let dst = &mut self.stage[self.off[p]..self.off[p] + nloc * bl];
            for (k, row) in dst.chunks_exact_mut(bl).enumerate() {
                row.copy_from_slice(&blk[k * b + bs..k * b + bs + bl]);
            }
        }
    }

    fn unpack(&mut self) {
        let (nloc, b) = (self.nloc(), self.batch);
        let blk = self.block.as_slice_mut().expect("contiguous");
        for (p, &(bs, bl)) in self.bsplit.iter().enumerate() {
            if p == self.me || bl == 0 {
                continue;
            }
            let src = &self.stage[self.off[p]..self.off[p] + nloc * bl];
            for (k, row) in src.chunks_exact(bl).enumerate() {
                blk[k * b + bs..k * b + bs + bl].copy_from_slice(row);
            }
        }
    }

    /// My columns into my rows of the work array (`back`: the other way), one memcpy per row.
    fn local(&mut self, back: bool) {
        let (bs, bl) = self.bsplit[self.me];
        let (qs, nloc, b) = (self.qsplit[self.me].0, self.nloc(), self.batch);
        if bl == 0 {
            return;
        }
        let work = self.work.slice();
        let blk = self.block.as_slice_mut().expect("contiguous");
        for k in 0..nloc {
            let (w, u) = (&mut work[(qs + k) * bl..(qs + k + 1) * bl], &mut blk[k * b + bs..k * b + bs + bl]);
            if back {
                u.copy_from_slice(w);
            } else {
                w.copy_from_slice(u);
            }
        }
    }

    /// Staging blocks to the peers' rows of the work array (`back`: the other way).
    fn exchange(&mut self, back: bool) {
        let (nloc, me) = (self.nloc(), self.me);
        let bl_me = self.bsplit[me].1;
        let work = self.work.data as *mut u8;
        let stage = self.stage.as_mut_ptr() as *mut u8;
        // Per peer: (staging ptr, staging bytes, work ptr, work bytes).
        let streams: Vec<(usize, *mut u8, usize, *mut u8, usize)> = (0..self.bsplit.len())
            .filter(|&p| p != me)
            .map(|p| {
                let (qs, ql) = self.qsplit[p];
                // SAFETY: offsets inside the buffers.
                unsafe { (p, stage.add(self.off[p] * 16), nloc * self.bsplit[p].1 * 16, work.add(qs * bl_me * 16), ql * bl_me * 16) }
            })
            .collect();
        let mut sent = vec![0usize; streams.len()];
        let mut got = vec![0usize; streams.len()];
        let mut reqs = Vec::new();
        loop {
            reqs.clear();
            for (i, &(peer, sp, sl, wp, wl)) in streams.iter().enumerate() {
                let (src, slen, dst, dlen) = if back { (wp, wl, sp, sl) } else { (sp, sl, wp, wl) };
                let mut posted = 0;
                while sent[i] < slen && posted < self.budget {
                    let n = self.chunk.min(slen - sent[i]);
                    // SAFETY: inside the source buffer.
                    isend(self.comm, unsafe { src.add(sent[i]) }, n, peer, &mut reqs);
                    sent[i] += n;
                    posted += n;
                }
                posted = 0;
                while got[i] < dlen && posted < self.budget {
                    let n = self.chunk.min(dlen - got[i]);
                    // SAFETY: inside the destination buffer.
                    irecv(self.comm, unsafe { dst.add(got[i]) }, n, peer, &mut reqs);
                    got[i] += n;
                    posted += n;
                }
            }
            if reqs.is_empty() {
                return;
            }
            // SAFETY: every request points into live buffers.
            check_mpi(unsafe { mpi::ffi::MPI_Waitall(reqs.len() as i32, reqs.as_mut_ptr(), mpi::ffi::RSMPI_STATUSES_IGNORE) }, "MPI_Waitall");
        }
    }

    /// Runs a chain of plans in place on the first one's buffer (all buffers
    /// come from fftw_malloc, so they share FFTW's alignment).
    fn chain(plans: &[Serial]) {
        let Some(first) = plans.first() else { return };
        for pl in plans {
            if !pl.plan.is_null() {
                // SAFETY: same problem layout as planned, on an fftw_malloc'ed buffer of the same size.
                unsafe { fftw_sys::fftw_execute_dft(pl.plan, first.data, first.data) };
            }
        }
    }

    fn total(&mut self) {
        self.pack();
        self.local(false);
        self.exchange(false);
        self.work.execute();
        self.exchange(true);
        self.unpack();
        self.local(true);
    }
}

// ------------------------------------------------------------------ one shape

/// The dgampi strategies, one case each (auto first).
const STRATEGIES: [&str; 5] = ["auto", "batch_transpose", "slab", "pencil", "auto_p2p"];

struct State<'w> {
    world: &'w SimpleCommunicator,
    nq: [usize; 3],
    batch: usize,
    /// One flat block `[my_q, batch]` per dgampi case (each transforms its own
    /// data, so magnitudes grow with its own repetitions only), and its first point.
    blocks: Vec<Array2<Complex64>>,
    q0: usize,
    fftw: FftwMpi,
    serial: Serial,
    /// This rank's first batch element in the serial share.
    serial_b0: usize,
    a2a: Alltoall,
    profile: Option<Profile>,
    cols: Vec<usize>,
    /// Rank 0: the direct DFT of each checked column.
    reference: Vec<Vec<Complex64>>,
    /// Rank 0: the largest relative error each check found.
    errors: Vec<(String, f64)>,
}

impl State<'_> {
    fn fill_block(&mut self, i: usize) {
        let (q0, batch) = (self.q0, self.batch);
        fill(self.blocks[i].as_slice_mut().expect("contiguous block"), q0, 0, batch, batch);
    }
    fn fill_fftw(&mut self) {
        let (nq, batch) = (self.nq, self.batch);
        let len = self.fftw.local_len(nq, batch);
        let q0 = self.fftw.local_0_start * nq[1] * nq[2];
        fill(self.fftw.slice(len), q0, 0, batch, batch);
    }
    fn fill_serial(&mut self) {
        let (b0, width, batch) = (self.serial_b0, self.serial.len / self.nq.iter().product::<usize>(), self.batch);
        fill(self.serial.slice(), 0, b0, width, batch);
    }
    fn fill_profile(&mut self) {
        let (q0, batch) = (self.q0, self.batch);
        if let Some(pr) = self.profile.as_mut() {
            fill(pr.block.as_slice_mut().expect("contiguous"), q0, 0, batch, batch);
        }
    }
    fn check_block(&mut self, i: usize, name: &str) -> Result<(), String> {
        let nloc = self.blocks[i].nrows();
        let err = verify(self.world, self.blocks[i].as_slice().expect("contiguous"), self.q0, nloc, self.batch, &self.cols, &self.reference)?;
        self.errors.push((name.to_string(), err));
        self.fill_block(i);
        Ok(())
    }
    fn check_fftw(&mut self) -> Result<(), String> {
        let (nq, batch) = (self.nq, self.batch);
        let len = self.fftw.local_len(nq, batch);
        let q0 = self.fftw.local_0_start * nq[1] * nq[2];
        let nloc = self.fftw.local_n0 * nq[1] * nq[2];
        let data: &[Complex64] = self.fftw.slice(len);
        let err = verify(self.world, data, q0, nloc, batch, &self.cols, &self.reference)?;
        self.errors.push(("fftw_mpi".to_string(), err));
        self.fill_fftw();
        Ok(())
    }
    /// Rank 0's share starts at batch element 0: its first column against the reference.
    fn check_serial(&mut self) -> Result<(), String> {
        if self.world.rank() == 0 && self.serial.len > 0 {
            let width = self.serial.len / self.nq.iter().product::<usize>();
            let want = &self.reference[0];
            let scale = want.iter().map(|v| v.norm()).fold(0.0, f64::max);
            let got = self.serial.slice();
            let err = want.iter().enumerate().map(|(q, w)| (got[q * width] - w).norm()).fold(0.0, f64::max) / scale;
            if err.is_nan() || err >= TOLERANCE {
                return Err(format!("serial share, batch column 0: relative error {err:.3e}"));
            }
            self.errors.push(("serial_share".to_string(), err));
        }
        self.fill_serial();
        Ok(())
    }
    fn check_profile(&mut self) -> Result<(), String> {
        let Some(pr) = self.profile.as_ref() else { return Ok(()) };
        let err = verify(self.world, pr.block.as_slice().expect("contiguous"), self.q0, pr.nloc(), self.batch, &self.cols, &self.reference)?;
        self.errors.push(("prof_total".to_string(), err));
        self.fill_profile();
        Ok(())
    }
}

/// Plans with FFTW's wisdom forgotten first (cold), timed: barrier, max over ranks.
fn strategy_of(name: &str) -> Strategy {
    match name {
        "auto" | "auto_p2p" => Strategy::Auto,
        "batch_transpose" => Strategy::BatchTranspose,
        "slab" => Strategy::Slab,
        _ => Strategy::Pencil,
    }
}

fn run_shape(bench: &mut Bench<'_>, world: &SimpleCommunicator, shape: &Shape, limit_arg: usize, threads: usize, profile: bool, names: &[&'static str]) {
    let rank = world.rank();
    let (p, me) = (world.size() as usize, rank as usize);
    let nq = shape.nq;
    let n: usize = nq.iter().product();
    let batch = bench.args.scaled(shape.batch);
    let total_bytes = (n * batch * 16) as u64;
    let pre = if shape.label.is_empty() { String::new() } else { format!("{}/", shape.label) };
    let key = |k: &str| format!("{pre}{k}");
    let desc = format!("{}x{}x{} grid, batch {batch} complex128 ({})", nq[0], nq[1], nq[2], common::human_bytes(total_bytes));
    bench.progress(&format!("shape {desc}: planning"));

    // Each case transforms its own data once per repetition (after the check
    // rewrites the input), so after t transforms |x| <= N^ceil(t/2) (F(F(x)) = N x(-n)).
    let max_transforms = (290.0 / (n as f64).log10().max(0.5)) as usize * 2;
    if bench.args.reps + 1 > max_transforms {
        exit_with(rank, &format!("--reps {} would overflow the data of a {n}-point FFT; at most {}", bench.args.reps, max_transforms - 1));
    }

    // dgampi plans (auto first), each cold.
    let opts = |strategy| FftOptions {
        direction: Direction::Forward,
        normalization: Normalization::Backward,
        strategy,
        rigor: Rigor::Measure,
        limit: limit_arg,
        threads,
        ..FftOptions::default()
    };
    let mut plans: Vec<FftPlan> = Vec::new();
    let mut plan_s: Vec<f64> = Vec::new();
    let setting = dgampi::exchange_path().unwrap_or_else(|e| bench.fail(&format!("DGAMPI_EXCHANGE_PATH: {e}")));
    for &name in names {
        dgampi::set_exchange_path(if name == "auto_p2p" { dgampi::ExchangePath::PointToPoint } else { setting });
        let (plan, t) = timed_plan(world, || FftPlan::new(world, nq, &[batch], DType::Complex128, opts(strategy_of(name))));
        let plan = plan.unwrap_or_else(|e| bench.fail(&format!("FftPlan::new ({name}): {e}")));
        let routes: Vec<&str> = plan.exchange_routes().iter().map(|r| r.name()).collect();
        bench.progress(&format!("  dgampi plan {name:<16} {t:>8.3} s ({}; routes {})", plan.strategy().name(), routes.join(", ")));
        plans.push(plan);
        plan_s.push(t);
    }
    dgampi::set_exchange_path(setting);
    let auto_choice = if names[0] == "auto" { Some(plans[0].strategy()) } else { None };
    let routes: Vec<Json> = plans.iter().map(|pl| Json::Arr(pl.exchange_routes().iter().map(|r| Json::str(r.name())).collect())).collect();
    let range = plans[0].my_range();
    let block_shape = plans[0].block_shape();

    // FFTW-MPI.
    let comm = world.as_raw();
    let dims: [isize; 3] = [nq[0] as isize, nq[1] as isize, nq[2] as isize];
    let (mut ln0, mut l0s) = (0isize, 0isize);
    // SAFETY: dims has 3 entries; outputs are plain integers.
    let alloc = unsafe { fftw_mpi_local_size_many(3, dims.as_ptr(), batch as isize, FFTW_MPI_DEFAULT_BLOCK, comm, &mut ln0, &mut l0s) } as usize;
    let alloc = alloc.max(1);
    // SAFETY: fresh allocation of `alloc` elements, zeroed.
    let data = unsafe {
        let d = fftw_sys::fftw_malloc(alloc * 16) as *mut Complex64;
        assert!(!d.is_null(), "fftw_malloc failed");
        std::ptr::write_bytes(d, 0, alloc);
        d
    };
    let (fplan, fftw_plan_s) = timed_plan(world, || {
        // SAFETY: data holds the local size FFTW asked for; in place.
        unsafe {
            fftw_mpi_plan_many_dft(3, dims.as_ptr(), batch as isize, FFTW_MPI_DEFAULT_BLOCK, FFTW_MPI_DEFAULT_BLOCK, data, data, comm, fftw_sys::FFTW_FORWARD, fftw_sys::FFTW_MEASURE)
        }
    });
    let fftw = FftwMpi { plan: fplan, data, alloc, local_n0: ln0 as usize, local_0_start: l0s as usize };
    if fftw.plan.is_null() {
        bench.fail("fftw_mpi_plan_many_dft returned no plan");
    }
    bench.progress(&format!("  FFTW-MPI plan            {fftw_plan_s:>8.3} s"));

    // Serial share.
    let (b0, bl) = share(batch, p, me);
    let (serial, serial_plan_s) = timed_plan(world, || serial_plan(nq, bl, [true; 3]));
    bench.progress(&format!("  serial share plan        {serial_plan_s:>8.3} s"));

    // All-to-all of each rank's share.
    let flat_max = n.div_ceil(p);
    let per_peer = (flat_max * batch * 16).div_ceil(p);
    let limit = if limit_arg == 0 { dgampi::max_message_bytes() } else { limit_arg };
    let a2a = Alltoall::new(comm, p, per_peer, limit);

    let prof = profile.then(|| {
        let (pr, _) = timed_plan(world, || Profile::new(comm, me, p, nq, batch, limit));
        assert_eq!((pr.qsplit[me].0, pr.nloc()), (range.start, range.len()), "the profile's flat split is dgampi's");
        pr
    });

    // Reference columns (rank 0).
    let mut cols = vec![0, batch / 2, batch - 1];
    cols.dedup();
    let reference: Vec<Vec<Complex64>> = if rank == 0 {
        cols.iter().map(|&b| direct_dft(nq, &(0..n).map(|q| value(q, b, batch)).collect::<Vec<_>>())).collect()
    } else {
        Vec::new()
    };

    let mut state = State {
        world,
        nq,
        batch,
        blocks: (0..names.len()).map(|_| Array2::zeros((block_shape[0], batch))).collect(),
        q0: range.start,
        fftw,
        serial,
        serial_b0: b0,
        a2a,
        profile: prof,
        cols,
        reference,
        errors: Vec::new(),
    };

    // Parameters (one line each in the table).
    let gather = |x: usize| {
        let mut all = vec![0u64; p];
        world.all_gather_into(&(x as u64), &mut all[..]);
        all
    };
    let arr_u = |v: Vec<u64>| Json::Arr(v.into_iter().map(Json::int).collect());
    let arr_f = |v: &[f64]| Json::Arr(v.iter().map(|&x| Json::Num(x)).collect());
    bench.param(&key("shape"), Json::str(&desc));
    bench.param(&key("auto_strategy"), Json::opt_str(auto_choice.map(|s| s.name().to_string())));
    bench.param(&key("strategies"), Json::Arr(names.iter().map(|s| Json::str(*s)).collect()));
    bench.param(&key("exchange_routes"), Json::Arr(routes));
    let costs: Vec<f64> = plans.iter().map(|pl| estimated_cost(pl.strategy(), nq, batch, p, Transposition::Natural).unwrap_or(f64::NAN)).collect();
    bench.param(&key("estimated_cost"), arr_f(&costs));
    bench.param(&key("plan_s"), arr_f(&plan_s));
    bench.param(&key("plan_s_fftw_mpi"), Json::Num(fftw_plan_s));
    bench.param(&key("plan_s_serial_share"), Json::Num(serial_plan_s));
    let work_max: Vec<u64> = plans.iter().map(|pl| gather(pl.work_bytes()).into_iter().max().unwrap_or(0)).collect();
    bench.param(&key("work_bytes_max_per_rank"), arr_u(work_max));
    bench.param(&key("flat_rows_per_rank"), arr_u(gather(range.len())));
    bench.param(&key("fftw_mpi_local_n0_per_rank"), arr_u(gather(state.fftw.local_n0)));
    bench.param(&key("fftw_mpi_alloc_bytes_per_rank"), arr_u(gather(state.fftw.alloc * 16)));
    bench.param(&key("serial_share_batch_per_rank"), arr_u(gather(bl)));
    bench.param(&key("alltoall_bytes_per_peer"), Json::int(state.a2a.per_peer as u64));
    bench.param(&key("alltoall_calls"), Json::int(state.a2a.pieces.len() as u64));

    // Cases.
    let fftw_name = key("fftw_mpi");
    let mut cases: Vec<Case<'_, State<'_>>> = Vec::new();
    for (i, mut plan) in plans.into_iter().enumerate() {
        let name = names[i];
        let what = if let (Some(chosen), "auto") = (auto_choice, name) {
            format!("dgampi FftPlan::execute, Strategy::Auto (chose {}), Rigor::Measure", chosen.name())
        } else if name == "auto_p2p" {
            format!("dgampi FftPlan::execute, Strategy::Auto (chose {}), plan made under DGAMPI_EXCHANGE_PATH=p2p", plan.strategy().name())
        } else {
            format!("dgampi FftPlan::execute, Strategy::{} forced, Rigor::Measure", plan.strategy().name())
        };
        cases.push(
            Case::new(&key(name), &what, total_bytes, move |s: &mut State| plan.execute(&mut s.blocks[i]).expect("FftPlan::execute"))
                .prepare(move |s: &mut State| s.fill_block(i))
                .check(move |s: &mut State| s.check_block(i, name))
                .vs(&fftw_name),
        );
    }
    cases.push(
        Case::new(&fftw_name, "FFTW-MPI fftw_mpi_plan_many_dft, howmany = batch, in place, FFTW_MEASURE, its own x-slab layout", total_bytes, |s: &mut State| {
            // SAFETY: the plan is in place on s.fftw.data.
            unsafe { fftw_sys::fftw_execute(s.fftw.plan) }
        })
        .prepare(|s: &mut State| s.fill_fftw())
        .check(|s: &mut State| s.check_fftw())
        .anchor(),
    );
    cases.push(
        Case::new(&key("serial_share"), "every rank at once: serial FFTW guru plan (FFTW_MEASURE, in place) of [nq, batch/P], batch innermost", total_bytes, |s: &mut State| {
            s.serial.execute()
        })
        .prepare(|s: &mut State| s.fill_serial())
        .check(|s: &mut State| s.check_serial())
        .anchor(),
    );
    cases.push(
        Case::new(&key("alltoall"), "one MPI_Alltoall of each rank's share (ceil(largest block / P) bytes per peer), separate buffers", (p * p * per_peer) as u64, |s: &mut State| {
            s.a2a.run()
        })
        .anchor(),
    );
    let prof_steps: [(&str, &str); 10] = [
        ("prof_total", "copy of the batch transpose: the steps below (not the fft_* variants) in order"),
        ("prof_pack", "pack each peer's columns of my block into contiguous staging"),
        ("prof_local", "my columns into my rows of the work array, one memcpy per row"),
        ("prof_exchange", "Isend staging / Irecv into the work array, engine-sized chunks, Waitall per step"),
        ("prof_fft", "serial FFTW guru plan (FFTW_MEASURE) over the work array [N, B_me]"),
        ("prof_exchange_back", "the work array's peer rows back into staging"),
        ("prof_unpack", "staging into each peer's columns of my block"),
        ("prof_local_back", "my rows of the work array into my columns, one memcpy per row"),
        ("prof_fft_2d1d", "prof_fft as two FFTW_MEASURE guru plans: y-z (2-D) then x (1-D)"),
        ("prof_fft_1d", "prof_fft as three FFTW_MEASURE guru plans: z, y, x (1-D each)"),
    ];
    if state.profile.is_some() {
        for (name, what) in prof_steps {
            let run = move |s: &mut State| {
                let pr = s.profile.as_mut().expect("profile");
                match name {
                    "prof_total" => pr.total(),
                    "prof_pack" => pr.pack(),
                    "prof_local" => pr.local(false),
                    "prof_exchange" => pr.exchange(false),
                    "prof_fft" => pr.work.execute(),
                    "prof_fft_2d1d" => Profile::chain(&pr.split_2d1d),
                    "prof_fft_1d" => Profile::chain(&pr.split_1d),
                    "prof_exchange_back" => pr.exchange(true),
                    "prof_unpack" => pr.unpack(),
                    "prof_local_back" => pr.local(true),
                    _ => unreachable!("profile step {name}"),
                }
            };
            let mut case = Case::new(&key(name), what, total_bytes, run);
            if name == "prof_total" {
                case = case.prepare(|s: &mut State| s.fill_profile()).check(|s: &mut State| s.check_profile()).vs(&fftw_name);
            }
            cases.push(case);
        }
    }
    bench.run_cases(&mut state, cases);

    // Ratios.
    let results = bench.results.clone();
    let find = |k: &str| results.iter().find(|r| r.name == key(k)).cloned().expect("case result");
    let (fm, ser, a2a) = (find("fftw_mpi"), find("serial_share"), find("alltoall"));
    let ideal = ser.median_s() + 2.0 * a2a.median_s();
    let reps = fm.times.len();
    let ideal_i: Vec<f64> = (0..reps).map(|i| ser.times[i] + 2.0 * a2a.times[i]).collect();
    bench.note(format!(
        "{pre}ideal = serial_share + 2 x alltoall = {:.4} + 2 x {:.4} = {ideal:.4} s ({:.3} GB/s); FFTW-MPI {:.4} s = {:.3} x ideal",
        ser.median_s(),
        a2a.median_s(),
        total_bytes as f64 / ideal / 1e9,
        fm.median_s(),
        fm.median_s() / ideal
    ));
    let ideal_best = ser.min_s() + 2.0 * a2a.min_s();
    bench.note(format!(
        "{pre}alltoall spread: min {:.4}, median {:.4}, max {:.4} s; ideal from the fastest repetitions = {:.4} + 2 x {:.4} = {ideal_best:.4} s",
        a2a.min_s(),
        a2a.median_s(),
        a2a.max_s(),
        ser.min_s(),
        a2a.min_s()
    ));
    let (mut med, mut over_fm, mut over_fm_p, mut over_id, mut over_id_p) = (vec![], vec![], vec![], vec![], vec![]);
    for &name in names {
        let r = find(name);
        let paired_fm = common::median(&(0..reps).map(|i| r.times[i] / fm.times[i]).collect::<Vec<_>>());
        let paired_ideal = common::median(&(0..reps).map(|i| r.times[i] / ideal_i[i]).collect::<Vec<_>>());
        let label = match (auto_choice, name) {
            (Some(chosen), "auto") => format!("auto ({})", chosen.name()),
            _ => name.to_string(),
        };
        bench.note(format!(
            "{pre}{label:<22} {:.4} s: /fftw_mpi {:.3} (paired per rep {paired_fm:.3}), /ideal {:.3} (paired {paired_ideal:.3})",
            r.median_s(),
            r.median_s() / fm.median_s(),
            r.median_s() / ideal
        ));
        med.push(r.median_s());
        over_fm.push(r.median_s() / fm.median_s());
        over_fm_p.push(paired_fm);
        over_id.push(r.median_s() / ideal);
        over_id_p.push(paired_ideal);
    }
    let acceptance = auto_choice.map(|_| {
        let ratio = find("auto").median_s() / fm.median_s();
        let ok = ratio <= shape.target;
        bench.note(format!("{pre}acceptance: auto / fftw_mpi = {ratio:.3} (target <= {}): {}", shape.target, if ok { "MET" } else { "NOT MET" }));
        format!("auto / fftw_mpi = {ratio:.3}, target <= {}: {}", shape.target, if ok { "met" } else { "not met" })
    });
    let plan_line: Vec<String> = names.iter().zip(&plan_s).map(|(nm, t)| format!("{nm} {t:.3}")).collect();
    bench.note(format!(
        "{pre}plan times (s; FFTW wisdom forgotten before each; max over ranks; not in the execution times): {}, fftw_mpi {fftw_plan_s:.3}, serial_share {serial_plan_s:.3}",
        plan_line.join(", ")
    ));
    if profile && names.contains(&"batch_transpose") {
        let step = |k: &str| find(k).median_s();
        let parts = ["prof_pack", "prof_local", "prof_exchange", "prof_fft", "prof_exchange_back", "prof_unpack", "prof_local_back"];
        let sum: f64 = parts.iter().map(|k| step(k)).sum();
        let shown: Vec<String> = parts.iter().map(|k| format!("{} {:.2} ms", &k[5..], step(k) * 1e3)).collect();
        bench.note(format!(
            "{pre}profile (copy of the batch transpose, medians): {}; sum {:.2} ms; prof_total {:.2} ms; dgampi batch_transpose {:.2} ms",
            shown.join(", "),
            sum * 1e3,
            step("prof_total") * 1e3,
            find("batch_transpose").median_s() * 1e3
        ));
        bench.note(format!(
            "{pre}profile, the local FFT of [N, B_me] three ways: one 3-D guru plan {:.2} ms, 2-D (y, z) + 1-D (x) {:.2} ms, three 1-D plans {:.2} ms",
            step("prof_fft") * 1e3,
            step("prof_fft_2d1d") * 1e3,
            step("prof_fft_1d") * 1e3
        ));
    }
    if rank == 0 {
        let errs: Vec<String> = state.errors.iter().map(|(k, e)| format!("{k} {e:.1e}")).collect();
        bench.note(format!("{pre}checked batch columns {:?} against a direct DFT, max relative error: {}", state.cols, errs.join(", ")));
    }
    bench.param(&key("ideal_s"), Json::Num(ideal));
    bench.param(&key("ideal_from_min_s"), Json::Num(ideal_best));
    bench.param(&key("median_s"), arr_f(&med));
    bench.param(&key("over_fftw_mpi"), arr_f(&over_fm));
    bench.param(&key("over_fftw_mpi_paired"), arr_f(&over_fm_p));
    bench.param(&key("over_ideal"), arr_f(&over_id));
    bench.param(&key("over_ideal_paired"), arr_f(&over_id_p));
    bench.param(&key("acceptance"), Json::opt_str(acceptance));
    drop(state);
}

/// Runs a workload: every shape in turn, one table, one JSON file.
pub fn main(workload: &str, stem: &str, shapes: &[Shape], default_reps: usize) {
    let universe = mpi::initialize().expect("MPI_Init");
    // SAFETY: MPI is initialized; called once.
    unsafe { fftw_mpi_init() };
    let world = universe.world();
    let rank = world.rank();
    let mut args = common::parse_args_or_exit(rank);
    let limit_arg = match args.take_value("--limit").unwrap_or_else(|e| exit_with(rank, &e)) {
        None => 0,
        Some(v) => v.parse::<usize>().unwrap_or_else(|_| exit_with(rank, &format!("--limit {v:?}: expected a byte count"))),
    };
    let profile = args.take_flag("--profile");
    let threads = match args.take_value("--threads").unwrap_or_else(|e| exit_with(rank, &e)) {
        None => 1,
        Some(v) => v.parse::<usize>().ok().filter(|&t| t >= 1).unwrap_or_else(|| exit_with(rank, &format!("--threads {v:?}: expected a positive count"))),
    };
    // SAFETY: FFTW's documented setup, before the anchors' plans; every
    // anchor plan made from here on uses `threads` threads.
    unsafe {
        if fftw_init_threads() == 0 {
            exit_with(rank, "fftw_init_threads failed");
        }
        fftw_plan_with_nthreads(threads as i32);
    }
    let names: Vec<&'static str> = match args.take_value("--strategies").unwrap_or_else(|e| exit_with(rank, &e)) {
        None => STRATEGIES.to_vec(),
        Some(list) => {
            let mut v = Vec::new();
            for want in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                match STRATEGIES.iter().find(|s| **s == want) {
                    Some(s) if !v.contains(s) => v.push(*s),
                    Some(_) => {}
                    None => exit_with(rank, &format!("--strategies: unknown {want:?} (expected some of {STRATEGIES:?})")),
                }
            }
            // Keep the table's order (auto first).
            STRATEGIES.iter().copied().filter(|s| v.contains(s)).collect()
        }
    };
    if names.is_empty() {
        exit_with(rank, "--strategies: give at least one");
    }
    if let Err(e) = args.finish() {
        exit_with(rank, &e);
    }
    if !args.argv.iter().any(|a| a == "--reps" || a.starts_with("--reps=")) {
        args.reps = default_reps;
    }
    let mut bench = Bench::new(&world, workload, stem, args);
    bench.track_case_rss(true);
    bench.param("dtype", Json::str("complex128"));
    bench.param("direction", Json::str("forward, unnormalized (numpy sign)"));
    bench.param("threads_per_rank", Json::int(threads as u64));
    bench.param("limit_bytes", Json::int(if limit_arg == 0 { dgampi::max_message_bytes() } else { limit_arg } as u64));
    for shape in shapes {
        run_shape(&mut bench, &world, shape, limit_arg, threads, profile, &names);
    }
    // SAFETY: every FFTW-MPI plan was destroyed with its shape.
    unsafe { fftw_mpi_cleanup() };
    bench.finish();
}
