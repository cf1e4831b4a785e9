//! C entry points of the distributed 3-D FFT (see [`crate::fft`]).
//!
//! A `dgampi_fft_plan *` is an opaque handle from `dgampi_fft_plan_create`
//! (collective), validated against the set of live plans on every call;
//! `dgampi_fft_plan_destroy` sets it to NULL.

use crate::element::DType;
use crate::error::{Error, Result};
use crate::ffi::array::{dgampi_array, raw_from_c};
use crate::ffi::core::{guard, non_null, write_text, LiveHandles};
use crate::ffi::record::{self, Extensible};
use crate::ffi::{CommArg, MPI_Fint};
use crate::fft::{self, Direction, FftOptions, FftPlan, Layout, LocalLayout, Normalization, Precision, Rigor, Strategy, Transposition};
use crate::Status;
use mpi::ffi::MPI_Comm;
use std::ffi::CStr;
use std::os::raw::c_char;

/// Opaque FFT plan handle.
#[allow(non_camel_case_types)]
pub struct dgampi_fft_plan {
    inner: FftPlan,
}

/// Options of a plan, an extensible record: initialize it with
/// `dgampi_fft_options_init(&opts, sizeof opts)` (which sets `struct_size`
/// and the defaults), then change fields. Later releases only append fields
/// (0 = their default); see "Extensible records" at the top of the header.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct dgampi_fft_options {
    /// `sizeof(dgampi_fft_options)` as the caller compiled it (set by
    /// `dgampi_fft_options_init`).
    pub struct_size: usize,
    /// `dgampi_fft_direction`: -1 forward (numpy sign), +1 backward.
    pub direction: i32,
    /// `dgampi_fft_normalization` (default backward: 1/N on the backward transform).
    pub normalization: i32,
    /// `dgampi_fft_strategy` (default auto).
    pub strategy: i32,
    /// `dgampi_fft_rigor` (default estimate).
    pub rigor: i32,
    /// Message limit in bytes (0 = the process-wide limit at plan creation).
    pub limit: usize,
    /// `dgampi_fft_transposition` (appended to the first 0.2 layout; default 0, natural): 1 = the
    /// output in the strategy's transposed layout, 2 = the input in it; such
    /// plans run with `dgampi_fft_plan_execute_into`.
    pub transposition: i32,
    /// Threads per rank for the local work (FFTW's threaded transforms, the
    /// local row copies, the scaling); appended, default 0 = 1 thread. May
    /// differ between ranks.
    pub threads: i32,
}

/// Size of the first layout of `dgampi_fft_options` with `struct_size`
/// (dgampi 0.2), the smallest `struct_size` the library accepts.
pub const DGAMPI_FFT_OPTIONS_MIN_SIZE: usize = 32;
const _: () = assert!(std::mem::size_of::<dgampi_fft_options>() >= DGAMPI_FFT_OPTIONS_MIN_SIZE);

// SAFETY: repr(C), `struct_size: usize` first, plain integers.
unsafe impl Extensible for dgampi_fft_options {
    const NAME: &'static str = "dgampi_fft_options";
    const MIN_SIZE: usize = DGAMPI_FFT_OPTIONS_MIN_SIZE;
    fn defaults() -> dgampi_fft_options {
        FftOptions::default().into()
    }
}

impl From<FftOptions> for dgampi_fft_options {
    fn from(o: FftOptions) -> dgampi_fft_options {
        dgampi_fft_options {
            struct_size: std::mem::size_of::<dgampi_fft_options>(),
            direction: o.direction as i32,
            normalization: o.normalization as i32,
            strategy: o.strategy as i32,
            rigor: o.rigor as i32,
            limit: o.limit,
            transposition: o.transposition as i32,
            threads: i32::try_from(o.threads).unwrap_or(i32::MAX),
        }
    }
}

/// The options of a C record (NULL = defaults; see [`record::read`]).
unsafe fn options_from_c(o: *const dgampi_fft_options) -> Result<FftOptions> {
    let o = record::read(o)?;
    let direction = match o.direction {
        -1 => Direction::Forward,
        1 => Direction::Backward,
        d => return Err(Error::invalid(format!("direction = {d}; use -1 (forward) or +1 (backward)"))),
    };
    let normalization = match o.normalization {
        0 => Normalization::Backward,
        1 => Normalization::None,
        2 => Normalization::Ortho,
        3 => Normalization::Forward,
        n => return Err(Error::invalid(format!("normalization = {n}; use 0 backward, 1 none, 2 ortho, 3 forward"))),
    };
    let rigor = match o.rigor {
        0 => Rigor::Estimate,
        1 => Rigor::Measure,
        2 => Rigor::Patient,
        r => return Err(Error::invalid(format!("rigor = {r}; use 0 estimate, 1 measure, 2 patient"))),
    };
    let transposition = Transposition::from_code(o.transposition)?;
    let threads = usize::try_from(o.threads).map_err(|_| Error::invalid(format!("threads = {}; use 0 or 1 (one thread) or more", o.threads)))?;
    Ok(FftOptions { direction, normalization, strategy: Strategy::from_code(o.strategy)?, rigor, limit: o.limit, transposition, threads })
}

/// Converts `nq` (three int64 extents).
unsafe fn nq_from_c(nq: *const i64) -> Result<[usize; 3]> {
    non_null(nq, "nq")?;
    let v = std::slice::from_raw_parts(nq, 3);
    let mut out = [0usize; 3];
    for (k, &n) in v.iter().enumerate() {
        out[k] = usize::try_from(n).map_err(|_| Error::invalid(format!("nq[{k}] = {n} is negative")))?;
    }
    Ok(out)
}

/// The live plans.
static LIVE: LiveHandles = LiveHandles::new();

/// The plan behind a live handle (calls that never reach MPI).
unsafe fn plan_ref<'a>(h: *mut dgampi_fft_plan) -> Result<&'a mut FftPlan> {
    Ok(&mut (*LIVE.get(h, "FFT plan")?).inner)
}

/// The plan behind a live handle, for calls that reach MPI: fails with
/// `DGAMPI_STATUS_MPI_NOT_INITIALIZED` once MPI is finalized.
unsafe fn plan_for_mpi<'a>(h: *mut dgampi_fft_plan) -> Result<&'a mut FftPlan> {
    crate::comm::ensure_initialized()?;
    plan_ref(h)
}

/// The communicator, or, when it is unusable (no collective can run on it),
/// the argument error if there is one, else the communicator's error.
fn first_error<A>(comm: Result<MPI_Comm>, args: &Result<A>) -> Result<MPI_Comm> {
    comm.map_err(|e| args.as_ref().err().cloned().unwrap_or(e))
}

/// Initializes the caller's record `opts` of `struct_size` bytes (pass
/// `sizeof *opts`): zeroes it, stores `struct_size` and the defaults of the
/// fields that fit: forward, normalization backward, strategy auto, rigor
/// estimate, limit 0, transposition natural, threads 0 (one). A `struct_size` below `DGAMPI_FFT_OPTIONS_MIN_SIZE`,
/// above `DGAMPI_MAX_RECORD_BYTES` or not a multiple of 8 is
/// `DGAMPI_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_options_init(opts: *mut dgampi_fft_options, struct_size: usize) -> Status {
    guard("dgampi_fft_options_init", || record::init(opts, struct_size))
}

/// Deprecated (0.1 name): `dgampi_fft_options_init(opts,
/// DGAMPI_FFT_OPTIONS_MIN_SIZE)`, which writes only the first (0.2) layout.
/// Use `dgampi_fft_options_init(&opts, sizeof opts)`.
#[no_mangle]
#[deprecated(note = "use dgampi_fft_options_init(&opts, sizeof opts)")]
pub unsafe extern "C" fn dgampi_fft_options_default(opts: *mut dgampi_fft_options) -> Status {
    guard("dgampi_fft_options_default", || record::init(opts, DGAMPI_FFT_OPTIONS_MIN_SIZE))
}

#[allow(clippy::too_many_arguments)]
unsafe fn create(comm: CommArg, nq: *const i64, batch_ndim: i32, batch_shape: *const i64, dtype: i32, opts: *const dgampi_fft_options, out: *mut *mut dgampi_fft_plan) -> Result<()> {
    crate::comm::ensure_initialized()?;
    let comm = comm.resolve_intra();
    // Argument errors join the creation's agreement, so every rank fails.
    let args = (|| {
        non_null(out, "out")?;
        *out = std::ptr::null_mut();
        let nq = nq_from_c(nq)?;
        let batch = if batch_ndim == 0 {
            Vec::new()
        } else {
            crate::ffi::array::shape_from_c(batch_ndim, batch_shape)?
        };
        if batch_ndim < 0 {
            return Err(Error::invalid(format!("batch_ndim = {batch_ndim} is negative")));
        }
        Ok((nq, batch, DType::from_code(dtype)?, options_from_c(opts)?))
    })();
    let comm = first_error(comm, &args)?;
    let inner = match args {
        Ok((nq, batch, dtype, options)) => FftPlan::from_raw(comm, nq, &batch, dtype, options)?,
        Err(e) => return Err(FftPlan::fail_collectively(comm, e)),
    };
    *out = LIVE.insert(Box::new(dgampi_fft_plan { inner }));
    Ok(())
}

/// Collective: plans the distributed FFT of an `nq[0] x nq[1] x nq[2]` grid
/// whose points carry a batch of shape `batch_shape` (`batch_ndim` int64
/// values; 0 axes = one element per q) of `dtype` (complex64 or complex128),
/// over a duplicate of `comm`, with `opts` (NULL = defaults). Every rank must
/// pass the same arguments; a bad argument on any rank fails on every rank.
/// `comm` must be an intracommunicator. Stores the handle in `*out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_create(
    comm: MPI_Comm,
    nq: *const i64,
    batch_ndim: i32,
    batch_shape: *const i64,
    dtype: i32,
    opts: *const dgampi_fft_options,
    out: *mut *mut dgampi_fft_plan,
) -> Status {
    guard("dgampi_fft_plan_create", || create(CommArg::C(comm), nq, batch_ndim, batch_shape, dtype, opts, out))
}

/// Fortran-handle twin of `dgampi_fft_plan_create`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_create_f(
    comm: MPI_Fint,
    nq: *const i64,
    batch_ndim: i32,
    batch_shape: *const i64,
    dtype: i32,
    opts: *const dgampi_fft_options,
    out: *mut *mut dgampi_fft_plan,
) -> Status {
    guard("dgampi_fft_plan_create_f", || create(CommArg::F(comm), nq, batch_ndim, batch_shape, dtype, opts, out))
}

unsafe fn plan_execute(plan: *mut dgampi_fft_plan, block: *const dgampi_array) -> Result<()> {
    let plan = plan_for_mpi(plan)?;
    match raw_from_c(block, "block") {
        Ok(b) => plan.execute_raw(&b),
        Err(e) => Err(plan.fail_execute(e)),
    }
}

/// Collective: transforms this rank's block `[my_q, batch...]` in place
/// (C-contiguous, the plan's dtype, aligned to its elements: 8 bytes for
/// complex128, 4 for complex64; `my_q` from `dgampi_fft_plan_local`). A
/// wrong block on any rank fails on every rank and nothing moves.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_execute(plan: *mut dgampi_fft_plan, block: *const dgampi_array) -> Status {
    guard("dgampi_fft_plan_execute", || plan_execute(plan, block))
}

/// Deprecated (0.1 name): forwards to `dgampi_fft_plan_execute`.
#[no_mangle]
#[deprecated(note = "renamed dgampi_fft_plan_execute")]
pub unsafe extern "C" fn dgampi_fft_execute(plan: *mut dgampi_fft_plan, block: *const dgampi_array) -> Status {
    guard("dgampi_fft_execute", || plan_execute(plan, block))
}

/// Collective: destroys the plan `*plan` and sets `*plan` to NULL. Every
/// rank of the plan must call it (it frees the plan's duplicate of the
/// communicator, and `MPI_Comm_free` is collective). A NULL `*plan` is a
/// no-op; a stale one gives `DGAMPI_STATUS_INVALID_HANDLE`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_destroy(plan: *mut *mut dgampi_fft_plan) -> Status {
    guard("dgampi_fft_plan_destroy", || {
        non_null(plan, "plan")?;
        let h = *plan;
        if h.is_null() {
            return Ok(());
        }
        drop(LIVE.remove(h, "FFT plan")?);
        *plan = std::ptr::null_mut();
        Ok(())
    })
}

unsafe fn plan_execute_into(plan: *mut dgampi_fft_plan, input: *const dgampi_array, output: *const dgampi_array) -> Result<()> {
    let plan = plan_for_mpi(plan)?;
    match raw_from_c(input, "input").and_then(|i| Ok((i, raw_from_c(output, "output")?))) {
        Ok((i, o)) => plan.execute_into_raw(&i, &o),
        Err(e) => Err(plan.fail_execute(e)),
    }
}

/// Collective: transforms `input` into `output` with a transposed plan
/// (`transposition` 1 or 2 in its options), out of place: each array
/// C-contiguous, of the plan's dtype and aligned to its elements, shaped as
/// `dgampi_fft_plan_layout` says for its side (`[count, batch_len]`, or, for
/// the flat side, `[my_q, batch...]`; a transposed side holding the whole
/// batch may also be `[count, batch...]`), the two apart. The input serves as
/// work space: its contents are undefined afterwards. A wrong array on any
/// rank fails on every rank and nothing moves.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_execute_into(plan: *mut dgampi_fft_plan, input: *const dgampi_array, output: *const dgampi_array) -> Status {
    guard("dgampi_fft_plan_execute_into", || plan_execute_into(plan, input, output))
}

/// The sides of a plan for `dgampi_fft_plan_layout` and `dgampi_fft_plan_indices`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FftSide {
    /// What the plan reads.
    Input = 0,
    /// What the plan writes.
    Output = 1,
}

/// The indices of one side of a plan on this rank.
type SideIndices = fn(&FftPlan) -> Vec<usize>;

/// A side's layout on this rank, and a function giving its indices.
fn side_of(plan: &FftPlan, side: i32) -> Result<(LocalLayout, SideIndices)> {
    match side {
        s if s == FftSide::Input as i32 => Ok((plan.input_layout(), FftPlan::input_indices)),
        s if s == FftSide::Output as i32 => Ok((plan.output_layout(), FftPlan::output_indices)),
        s => Err(Error::invalid(format!("side = {s}; use 0 (input) or 1 (output)"))),
    }
}

/// Local: what this rank holds of the plan's input (`side` 0,
/// `DGAMPI_FFT_SIDE_INPUT`) or output (1, `DGAMPI_FFT_SIDE_OUTPUT`):
/// `*count` q-points (rows), the flattened batch columns `*batch_start ..
/// *batch_start + *batch_len`, and `*flat` 1 when that side is the flat split
/// (`[my_q, batch...]`), 0 when it is the transposed layout (`[count,
/// batch_len]`, the points from `dgampi_fft_plan_indices`). Any output
/// pointer may be NULL.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_layout(plan: *mut dgampi_fft_plan, side: i32, count: *mut i64, batch_start: *mut i64, batch_len: *mut i64, flat: *mut i32) -> Status {
    guard("dgampi_fft_plan_layout", || {
        let (layout, _) = side_of(plan_ref(plan)?, side)?;
        let put = |p: *mut i64, v: usize| if !p.is_null() { *p = v as i64 };
        put(count, layout.count);
        put(batch_start, layout.batch.start);
        put(batch_len, layout.batch.len());
        if !flat.is_null() {
            *flat = i32::from(layout.flat);
        }
        Ok(())
    })
}

/// Local: the flat grid index `(ix * ny + iy) * nz + iz` (0-based) of each
/// row of this rank's input (`side` 0) or output (1), in storage order, with
/// the size-query convention of `dgampi_fft_pencil_indices`: `*count`
/// (required) receives their number; `out` (room for `capacity` values)
/// receives them unless it is NULL.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_indices(plan: *mut dgampi_fft_plan, side: i32, out: *mut i64, capacity: usize, count: *mut usize) -> Status {
    guard("dgampi_fft_plan_indices", || {
        non_null(count, "count")?;
        let plan = plan_ref(plan)?;
        let (layout, indices) = side_of(plan, side)?;
        write_indices(layout.count, || indices(plan), out, capacity, count)
    })
}

/// Writes `n` indices from `make` to `out` (room for `capacity`) with the size-query convention.
unsafe fn write_indices(n: usize, make: impl FnOnce() -> Vec<usize>, out: *mut i64, capacity: usize, count: *mut usize) -> Result<()> {
    *count = n;
    if out.is_null() {
        return Ok(());
    }
    if capacity < n {
        return Err(Error::out_of_range(format!("out has room for {capacity} indices but there are {n}")));
    }
    for (k, q) in make().into_iter().enumerate() {
        *out.add(k) = q as i64;
    }
    Ok(())
}

/// Stores the strategy the plan uses (`dgampi_fft_strategy`, never auto) in `*out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_strategy(plan: *mut dgampi_fft_plan, out: *mut i32) -> Status {
    guard("dgampi_fft_plan_strategy", || {
        let plan = plan_ref(plan)?;
        non_null(out, "out")?;
        *out = plan.strategy() as i32;
        Ok(())
    })
}

/// Stores this rank's number of q-points (`*my_q`, the block's leading
/// length) and its first q (`*offset`) in the flat split.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_plan_local(plan: *mut dgampi_fft_plan, my_q: *mut i64, offset: *mut i64) -> Status {
    guard("dgampi_fft_plan_local", || {
        let plan = plan_ref(plan)?;
        non_null(my_q, "my_q")?;
        non_null(offset, "offset")?;
        let r = plan.my_range();
        *my_q = r.len() as i64;
        *offset = r.start as i64;
        Ok(())
    })
}

unsafe fn one_shot(comm: CommArg, nq: *const i64, block: *const dgampi_array, opts: *const dgampi_fft_options) -> Result<()> {
    crate::comm::ensure_initialized()?;
    let comm = comm.resolve_intra();
    let args = (|| Ok((nq_from_c(nq)?, raw_from_c(block, "block")?, options_from_c(opts)?)))();
    let comm = first_error(comm, &args)?;
    match args {
        Ok((nq, block, options)) => fft::execute_distributed_fft_raw(comm, nq, &block, options),
        Err(e) => Err(FftPlan::fail_collectively(comm, e)),
    }
}

/// Collective one-shot FFT: plans for this block's trailing shape and dtype,
/// transforms this rank's flat block `[my_q, batch...]` of the `nq` grid in
/// place, and frees the plan. `opts` NULL = defaults (forward); a
/// `transposition` other than natural is `DGAMPI_STATUS_INVALID_ARGUMENT`
/// (a transposed layout needs a plan). `comm` must be an intracommunicator.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_execute_once(
    comm: MPI_Comm,
    nq: *const i64,
    block: *const dgampi_array,
    opts: *const dgampi_fft_options,
) -> Status {
    guard("dgampi_fft_execute_once", || one_shot(CommArg::C(comm), nq, block, opts))
}

/// Fortran-handle twin of `dgampi_fft_execute_once`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_execute_once_f(
    comm: MPI_Fint,
    nq: *const i64,
    block: *const dgampi_array,
    opts: *const dgampi_fft_options,
) -> Status {
    guard("dgampi_fft_execute_once_f", || one_shot(CommArg::F(comm), nq, block, opts))
}

/// Deprecated (0.1 name): forwards to `dgampi_fft_execute_once`.
#[no_mangle]
#[deprecated(note = "renamed dgampi_fft_execute_once")]
pub unsafe extern "C" fn dgampi_execute_distributed_fft(
    comm: MPI_Comm,
    nq: *const i64,
    block: *const dgampi_array,
    opts: *const dgampi_fft_options,
) -> Status {
    guard("dgampi_execute_distributed_fft", || one_shot(CommArg::C(comm), nq, block, opts))
}

/// Deprecated (0.1 name): forwards to `dgampi_fft_execute_once_f`.
#[no_mangle]
#[deprecated(note = "renamed dgampi_fft_execute_once_f")]
pub unsafe extern "C" fn dgampi_execute_distributed_fft_f(
    comm: MPI_Fint,
    nq: *const i64,
    block: *const dgampi_array,
    opts: *const dgampi_fft_options,
) -> Status {
    guard("dgampi_execute_distributed_fft_f", || one_shot(CommArg::F(comm), nq, block, opts))
}

unsafe fn pencil_indices(rank: i32, size: i32, nq: *const i64, layout: i32, out: *mut i64, capacity: usize, count: *mut usize) -> Result<()> {
    non_null(count, "count")?;
    let rank = usize::try_from(rank).map_err(|_| Error::invalid(format!("rank = {rank} is negative")))?;
    let size = usize::try_from(size).ok().filter(|&s| s > 0).ok_or_else(|| Error::invalid(format!("size = {size} must be positive")))?;
    let (nq, layout) = (nq_from_c(nq)?, Layout::from_code(layout)?);
    let n = fft::pencil_count(rank, size, nq, layout)?;
    // pencil_count accepted the arguments, so pencil_indices does too.
    write_indices(n, || fft::pencil_indices(rank, size, nq, layout).unwrap_or_default(), out, capacity, count)
}

/// Local (no MPI): the q indices rank `rank` of `size` owns in `layout`
/// (`dgampi_layout`), in storage order, with the size-query convention:
/// stores their number in `*count` (required) and, when `out` is not NULL,
/// writes them to `out` (room for `capacity` values; too little room gives
/// `DGAMPI_STATUS_OUT_OF_RANGE` and writes nothing). Call with `out` NULL
/// to learn the count.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_pencil_indices(
    rank: i32,
    size: i32,
    nq: *const i64,
    layout: i32,
    out: *mut i64,
    capacity: usize,
    count: *mut usize,
) -> Status {
    guard("dgampi_fft_pencil_indices", || pencil_indices(rank, size, nq, layout, out, capacity, count))
}

/// Deprecated (0.1 name): forwards to `dgampi_fft_pencil_indices`.
#[no_mangle]
#[deprecated(note = "renamed dgampi_fft_pencil_indices")]
pub unsafe extern "C" fn dgampi_get_pencil_indices(
    rank: i32,
    size: i32,
    nq: *const i64,
    layout: i32,
    out: *mut i64,
    capacity: usize,
    count: *mut usize,
) -> Status {
    guard("dgampi_get_pencil_indices", || pencil_indices(rank, size, nq, layout, out, capacity, count))
}

/// Exports FFTW's wisdom for `dtype`'s precision (complex128 → double,
/// complex64 → single) as text into `buf` of `len` bytes, with the
/// size-query convention (see the header's conventions): `*needed` (may be
/// NULL) receives the bytes the text needs, NUL included; `buf` NULL
/// queries that size; a shorter `buf` gets `DGAMPI_STATUS_OUT_OF_RANGE`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_export_wisdom(dtype: i32, buf: *mut c_char, len: usize, needed: *mut usize) -> Status {
    guard("dgampi_fft_export_wisdom", || {
        let text = fft::export_wisdom(Precision::of(DType::from_code(dtype)?)?)?;
        write_text(&text, buf, len, needed, "the wisdom")
    })
}

/// Adds wisdom text (from `dgampi_fft_export_wisdom`) for `dtype`'s precision.
#[no_mangle]
pub unsafe extern "C" fn dgampi_fft_import_wisdom(dtype: i32, wisdom: *const c_char) -> Status {
    guard("dgampi_fft_import_wisdom", || {
        non_null(wisdom, "wisdom")?;
        let text = CStr::from_ptr(wisdom).to_str().map_err(|_| Error::invalid("wisdom is not valid UTF-8"))?;
        fft::import_wisdom(Precision::of(DType::from_code(dtype)?)?, text)
    })
}
