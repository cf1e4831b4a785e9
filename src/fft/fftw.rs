//! The slice of FFTW dgampi uses: guru (strided, batched, in-place) complex
//! plans in double and single precision, aligned work buffers, and wisdom.
//!
//! FFTW's planner is not thread-safe, and a host program may plan too: before
//! its first planner call dgampi calls `fftw_make_planner_thread_safe` (and
//! the single-precision twin), so FFTW itself serializes every planner call
//! in the process from then on, the host's included (a host that plans from
//! several threads before dgampi's first plan calls it itself, as FFTW's
//! manual asks). dgampi's own calls also hold one
//! process-wide lock; executing a plan holds none.
//!
//! Threads: the same one-time setup calls `fftw_init_threads` (pthreads,
//! Debian's `libfftw3_threads`); a plan made with `threads > 1` sets
//! `fftw_plan_with_nthreads` for its own planner call and restores the
//! previous value after, so a host program's plans keep its own setting.

use crate::element::DType;
use crate::error::{Error, Result, Status};
use fftw_sys as ffi;
use std::ffi::{CStr, CString};
use std::sync::Mutex;

/// Serializes every call into FFTW's planner.
static PLANNER: Mutex<()> = Mutex::new(());

#[link(name = "fftw3_threads")]
extern "C" {
    fn fftw_make_planner_thread_safe();
    fn fftw_init_threads() -> i32;
    fn fftw_plan_with_nthreads(nthreads: i32);
    fn fftw_planner_nthreads() -> i32;
}

#[link(name = "fftw3f_threads")]
extern "C" {
    fn fftwf_make_planner_thread_safe();
    fn fftwf_init_threads() -> i32;
    fn fftwf_plan_with_nthreads(nthreads: i32);
    fn fftwf_planner_nthreads() -> i32;
}

/// Whether `fftw_init_threads` succeeded for both precisions (set once).
static THREADS_READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes FFTW's planner thread-safe and initializes its threads (once per
/// process): from then on FFTW serializes every planner call, a host
/// program's included.
pub fn planner_is_thread_safe() {
    static THREAD_SAFE: std::sync::Once = std::sync::Once::new();
    // SAFETY: FFTW's documented calls, made once before dgampi's first planner call.
    THREAD_SAFE.call_once(|| unsafe {
        let ready = fftw_init_threads() != 0 && fftwf_init_threads() != 0;
        THREADS_READY.store(ready, std::sync::atomic::Ordering::Release);
        fftw_make_planner_thread_safe();
        fftwf_make_planner_thread_safe();
    });
}

fn planner() -> std::sync::MutexGuard<'static, ()> {
    planner_is_thread_safe();
    PLANNER.lock().unwrap_or_else(|e| e.into_inner())
}

/// FFTW's precision, chosen by the element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `fftw_*` on complex128.
    Double,
    /// `fftwf_*` on complex64.
    Single,
}

impl Precision {
    /// The precision of `dtype`, which must be complex64 or complex128.
    pub fn of(dtype: DType) -> Result<Precision> {
        match dtype {
            DType::Complex128 => Ok(Precision::Double),
            DType::Complex64 => Ok(Precision::Single),
            other => Err(Error::invalid(format!(
                "the FFT works on complex64 or complex128 data, not {}",
                other.name()
            ))),
        }
    }
}

/// How hard FFTW searches for a fast plan.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rigor {
    /// `FFTW_ESTIMATE`: instant, a heuristic plan (the default).
    Estimate = 0,
    /// `FFTW_MEASURE`: times candidate plans (seconds; wisdom remembers them).
    Measure = 1,
    /// `FFTW_PATIENT`: a wider search than measure.
    Patient = 2,
}

impl Rigor {
    fn flags(self) -> u32 {
        match self {
            Rigor::Estimate => ffi::FFTW_ESTIMATE,
            Rigor::Measure => ffi::FFTW_MEASURE,
            Rigor::Patient => ffi::FFTW_PATIENT,
        }
    }
}

/// One axis of a guru plan: length and stride, in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dim {
    /// Number of points.
    pub n: usize,
    /// Distance between consecutive points, in elements.
    pub stride: usize,
}

/// An FFTW guru plan (in place: input and output strides are equal).
#[derive(Debug)]
pub struct GuruPlan {
    raw: RawPlan,
    /// `fftw_alignment_of` of the array it was planned on.
    alignment: i32,
}

#[derive(Debug)]
enum RawPlan {
    Double(ffi::fftw_plan),
    Single(ffi::fftwf_plan),
}

// SAFETY: an FFTW plan may be executed from any thread (one at a time per
// plan, which `&mut`/ownership guarantees); it is destroyed under the lock.
unsafe impl Send for GuruPlan {}

impl GuruPlan {
    /// Plans the transform of `dims` for each index of `howmany`, in place on
    /// `buf`, with `sign` -1 (forward) or +1 (backward). `buf` must span the
    /// addressed elements; with a rigor above estimate FFTW overwrites it.
    ///
    /// The plan runs on `threads` threads (FFTW's threaded planner; 1 = the
    /// calling thread only).
    ///
    /// # Safety
    /// `buf` must be valid for reads and writes over every addressed element.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn new(
        precision: Precision,
        dims: &[Dim],
        howmany: &[Dim],
        sign: i32,
        buf: *mut u8,
        rigor: Rigor,
        unaligned: bool,
        threads: usize,
    ) -> Result<GuruPlan> {
        let to_iodim = |d: &Dim| -> Result<ffi::fftw_iodim64> {
            let n = isize::try_from(d.n).map_err(|_| Error::out_of_range("FFT length overflows"))?;
            let s = isize::try_from(d.stride).map_err(|_| Error::out_of_range("FFT stride overflows"))?;
            Ok(ffi::fftw_iodim64 { n, is: s, os: s })
        };
        let dims: Vec<ffi::fftw_iodim64> = dims.iter().map(to_iodim).collect::<Result<_>>()?;
        let howmany: Vec<ffi::fftw_iodim64> = howmany.iter().map(to_iodim).collect::<Result<_>>()?;
        let (rank, hrank) = (dims.len() as i32, howmany.len() as i32);
        let flags = rigor.flags() | if unaligned { ffi::FFTW_UNALIGNED } else { 0 };
        let threads = i32::try_from(threads.max(1)).map_err(|_| Error::out_of_range(format!("{threads} threads")))?;
        let _lock = planner();
        if threads > 1 && !THREADS_READY.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::new(Status::Internal, "FFTW's threads could not be initialized (fftw_init_threads failed)"));
        }
        let (raw, null) = match precision {
            Precision::Double => {
                let p = buf as *mut ffi::fftw_complex;
                let before = fftw_planner_nthreads();
                fftw_plan_with_nthreads(threads);
                let plan = ffi::fftw_plan_guru64_dft(rank, dims.as_ptr(), hrank, howmany.as_ptr(), p, p, sign, flags);
                fftw_plan_with_nthreads(before);
                (RawPlan::Double(plan), plan.is_null())
            }
            Precision::Single => {
                let p = buf as *mut ffi::fftwf_complex;
                let before = fftwf_planner_nthreads();
                fftwf_plan_with_nthreads(threads);
                let plan = ffi::fftwf_plan_guru64_dft(rank, dims.as_ptr(), hrank, howmany.as_ptr(), p, p, sign, flags);
                fftwf_plan_with_nthreads(before);
                (RawPlan::Single(plan), plan.is_null())
            }
        };
        if null {
            return Err(Error::new(Status::Internal, "FFTW could not plan the transform"));
        }
        Ok(GuruPlan { raw, alignment: alignment_of(precision, buf) })
    }

    /// True when the plan may run on `buf` (same SIMD alignment as planned,
    /// or planned unaligned).
    pub fn fits(&self, buf: *mut u8) -> bool {
        let precision = match self.raw {
            RawPlan::Double(_) => Precision::Double,
            RawPlan::Single(_) => Precision::Single,
        };
        alignment_of(precision, buf) == self.alignment
    }

    /// Runs the transform in place on `buf`.
    ///
    /// # Safety
    /// `buf` must hold the planned layout and have the planned alignment
    /// (see [`GuruPlan::fits`]) unless planned unaligned.
    pub unsafe fn execute(&self, buf: *mut u8) {
        match self.raw {
            RawPlan::Double(p) => ffi::fftw_execute_dft(p, buf as *mut ffi::fftw_complex, buf as *mut ffi::fftw_complex),
            RawPlan::Single(p) => ffi::fftwf_execute_dft(p, buf as *mut ffi::fftwf_complex, buf as *mut ffi::fftwf_complex),
        }
    }
}

impl Drop for GuruPlan {
    fn drop(&mut self) {
        let _lock = planner();
        // SAFETY: the plan is valid and destroyed once.
        unsafe {
            match self.raw {
                RawPlan::Double(p) => ffi::fftw_destroy_plan(p),
                RawPlan::Single(p) => ffi::fftwf_destroy_plan(p),
            }
        }
    }
}

fn alignment_of(precision: Precision, buf: *mut u8) -> i32 {
    // SAFETY: fftw_alignment_of only inspects the address.
    unsafe {
        match precision {
            Precision::Double => ffi::fftw_alignment_of(buf as *mut f64),
            Precision::Single => ffi::fftwf_alignment_of(buf as *mut f32),
        }
    }
}

/// A zero-initialized buffer with FFTW's SIMD alignment (`fftw_malloc`).
#[derive(Debug)]
pub struct AlignedBuf {
    ptr: *mut u8,
    bytes: usize,
}

// SAFETY: plain owned memory.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// `bytes` zero bytes (no allocation for 0).
    pub fn zeroed(bytes: usize) -> Result<AlignedBuf> {
        if bytes == 0 {
            return Ok(AlignedBuf { ptr: std::ptr::NonNull::<u64>::dangling().as_ptr() as *mut u8, bytes });
        }
        // SAFETY: fftw_malloc returns memory for `bytes` bytes or null.
        let ptr = unsafe { ffi::fftw_malloc(bytes) } as *mut u8;
        if ptr.is_null() {
            return Err(Error::new(Status::AllocationFailed, format!("cannot allocate {bytes} bytes of FFT work space")));
        }
        // SAFETY: fresh allocation of `bytes` bytes.
        unsafe { std::ptr::write_bytes(ptr, 0, bytes) };
        crate::buffer::advise_huge_pages(ptr, bytes);
        Ok(AlignedBuf { ptr, bytes })
    }

    /// The first byte.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.bytes > 0 {
            // SAFETY: allocated by fftw_malloc, freed once.
            unsafe { ffi::fftw_free(self.ptr as *mut std::ffi::c_void) };
        }
    }
}

/// FFTW's accumulated wisdom for `precision`, as text.
pub fn export_wisdom(precision: Precision) -> Result<String> {
    let _lock = planner();
    // SAFETY: FFTW returns a malloc'ed NUL-terminated string (or null).
    unsafe {
        let p = match precision {
            Precision::Double => ffi::fftw_export_wisdom_to_string(),
            Precision::Single => ffi::fftwf_export_wisdom_to_string(),
        };
        if p.is_null() {
            return Err(Error::new(Status::Internal, "FFTW could not export its wisdom"));
        }
        let text = CStr::from_ptr(p).to_string_lossy().into_owned();
        libc::free(p as *mut libc::c_void);
        Ok(text)
    }
}

/// Adds wisdom (text from [`export_wisdom`]) for `precision` to FFTW's store.
pub fn import_wisdom(precision: Precision, text: &str) -> Result<()> {
    let c = CString::new(text).map_err(|_| Error::invalid("wisdom text contains a NUL byte"))?;
    let _lock = planner();
    // SAFETY: c is a valid NUL-terminated string.
    let ok = unsafe {
        match precision {
            Precision::Double => ffi::fftw_import_wisdom_from_string(c.as_ptr()),
            Precision::Single => ffi::fftwf_import_wisdom_from_string(c.as_ptr()),
        }
    };
    if ok == 0 {
        return Err(Error::invalid("FFTW rejected the wisdom text (wrong precision or not FFTW wisdom)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host program planning from its own threads, without dgampi's lock,
    /// while dgampi plans: FFTW's planner must be thread-safe (dgampi made it
    /// so before its first plan) and every plan must transform correctly.
    #[test]
    fn host_threads_may_plan_beside_dgampi() {
        // what dgampi's first plan does (a plan made here would do it too)
        planner_is_thread_safe();
        let n = 16usize;
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let buf = AlignedBuf::zeroed(n * 16).unwrap();
                        if t % 2 == 0 {
                            // dgampi's planner
                            // SAFETY: buf holds n complex doubles, the planned box.
                            let plan = unsafe {
                                GuruPlan::new(Precision::Double, &[Dim { n, stride: 1 }], &[], -1, buf.ptr(), Rigor::Estimate, false, 1)
                            }
                            .unwrap();
                            // a delta at 0 transforms to all ones
                            // SAFETY: buf is aligned and holds 2n doubles; the plan fits it.
                            unsafe { *(buf.ptr() as *mut f64) = 1.0 };
                            // SAFETY: as above.
                            unsafe { plan.execute(buf.ptr()) };
                            // SAFETY: as above; no other reference to buf exists.
                            let out = unsafe { std::slice::from_raw_parts(buf.ptr() as *const f64, 2 * n) };
                            assert!(out.chunks(2).all(|c| c[0] == 1.0 && c[1] == 0.0));
                        } else {
                            // the host's planner, straight through FFTW
                            // SAFETY: buf holds n complex doubles for the 1-D plans.
                            unsafe {
                                let p = ffi::fftw_plan_dft_1d(n as i32, buf.ptr() as *mut _, buf.ptr() as *mut _, -1, ffi::FFTW_ESTIMATE);
                                assert!(!p.is_null());
                                ffi::fftw_destroy_plan(p);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
