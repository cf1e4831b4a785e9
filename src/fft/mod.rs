//! Distributed 3-D FFT over the Brillouin zone.
//!
//! Data are `[q_flat, batch...]` with `q_flat` the row-major index of
//! `(x, y, z)` on an `nx * ny * nz` grid, split over the ranks like the
//! distributor (contiguous blocks, excess on the last ranks). A [`FftPlan`]
//! fixes the grid, the batch shape, the element type (complex64 or
//! complex128) and the options; it holds its own duplicated communicator,
//! the row-movement plans of every data movement, the FFTW guru plans and
//! its work buffers, and transforms the rank's block in place each time it
//! is executed. Sign convention and scaling follow numpy: forward is
//! `sum_n x_n exp(-2 pi i k.n / N)`, unnormalized by default; backward is
//! `exp(+...)` with `1/N`. See [`strategy`] for how the data move.
//!
//! A plan with [`Transposition::Out`] leaves its output in the layout its
//! strategy holds after the last phase (batch slices of every q for the batch
//! transpose, y-slabs for slab, x-pencils for pencil), one all-to-all pass
//! fewer; one with [`Transposition::In`] takes its input in that layout. Both
//! run out of place ([`FftPlan::execute_into`]); [`FftPlan::output_layout`]
//! and [`FftPlan::output_indices`] say which q-points and batch columns this
//! rank holds, so a caller can work point by point (a convolution: forward
//! `Out`, multiply, backward `In`) without moving the data back.

pub(crate) mod fftw;
pub mod grid;
pub mod strategy;

pub use fftw::{export_wisdom, import_wisdom, Precision, Rigor};
pub use grid::{pencil_count, pencil_indices, Grid, Layout};
pub use strategy::{choose, estimated_cost, Strategy};

use crate::buffer::RawArray;
use crate::collective::{self, agree, agree_values};
use crate::comm::{self, OwnedComm, ThreadBound};
use crate::failure::Poison;
use crate::element::{DType, Element};
use crate::engine::{RowPlan, RowsInPlace, Scratch, Side};
use crate::error::{Error, Result};
use crate::layout::BlockLayout;
use crate::limit::resolve_limit;
use crate::route::{exchange_path, ExchangeRoute, Route, RouteFlags};
use fftw::{AlignedBuf, Dim, GuruPlan};
use grid::Ownership;
use mpi::ffi::MPI_Comm;
use mpi::traits::AsRaw;
use ndarray::{ArrayBase, DataMut, Dimension};

/// Transform direction (the sign of the exponent, as in FFTW).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `exp(-2 pi i k.n / N)` (numpy's `fftn`).
    Forward = -1,
    /// `exp(+2 pi i k.n / N)` (numpy's `ifftn`, up to scaling).
    Backward = 1,
}

/// Scaling, with numpy's names.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    /// Forward unscaled, backward scaled by `1/N` (numpy's default).
    Backward = 0,
    /// Never scaled.
    None = 1,
    /// Both directions scaled by `1/sqrt(N)` (unitary).
    Ortho = 2,
    /// Forward scaled by `1/N`, backward unscaled.
    Forward = 3,
}

impl Normalization {
    /// The factor applied after a transform in `direction` of `n` points.
    pub fn factor(self, direction: Direction, n: usize) -> f64 {
        match (self, direction) {
            (Normalization::Ortho, _) => 1.0 / (n as f64).sqrt(),
            (Normalization::Backward, Direction::Backward) | (Normalization::Forward, Direction::Forward) => 1.0 / n as f64,
            _ => 1.0,
        }
    }
}

/// Which side of a plan is in the transposed layout (FFTW-MPI's
/// `FFTW_MPI_TRANSPOSED_OUT` / `_IN`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transposition {
    /// Input and output in the flat split, transformed in place ([`FftPlan::execute`]).
    Natural = 0,
    /// Input in the flat split, output in the strategy's transposed layout
    /// ([`FftPlan::execute_into`]).
    Out = 1,
    /// Input in the transposed layout (the output of an `Out` plan of the
    /// same grid, batch, strategy and communicator size), output in the flat
    /// split ([`FftPlan::execute_into`]).
    In = 2,
}

impl Transposition {
    /// Parses a C code (0 natural, 1 transposed out, 2 transposed in).
    pub fn from_code(code: i32) -> Result<Transposition> {
        [Transposition::Natural, Transposition::Out, Transposition::In]
            .into_iter()
            .find(|t| *t as i32 == code)
            .ok_or_else(|| Error::invalid(format!("unknown transposition code {code} (0 natural, 1 transposed out, 2 transposed in)")))
    }
}

/// Which q-points and batch columns one side (input or output) of a plan
/// holds on this rank: a block `[count, batch.len()]` (the batch flattened in
/// C order), row `k` holding grid point `indices[k]` (see
/// [`FftPlan::output_indices`]). In the flat split `batch` is the whole
/// batch and the block may keep the batch's shape.
///
/// The transposed layouts, for `P` ranks: batch transpose: every q
/// (`count = nx*ny*nz`, in flat order) for a slice of the flattened batch,
/// split like the flat split (contiguous, the excess on the last ranks; a
/// rank past the batch holds empty rows); slab: whole y-planes, `ny` split
/// with the excess on the last ranks, stored `[ix][iy local][iz]` with the
/// whole batch; pencil: x-pencils, the `ny*nz` lines split with the excess on
/// the first ranks (as [`pencil_indices`] with `Layout::XPencil`), stored
/// line by line with x fastest, with the whole batch. A rank may hold none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalLayout {
    /// The number of q-points (rows).
    pub count: usize,
    /// The columns of the flattened batch this rank holds.
    pub batch: std::ops::Range<usize>,
    /// Whether this is the flat split (else a transposed layout).
    pub flat: bool,
}

/// Everything a plan is created with besides the grid, batch and dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FftOptions {
    /// Forward or backward.
    pub direction: Direction,
    /// Scaling after the transform.
    pub normalization: Normalization,
    /// Data movement strategy (`Auto` lets the cost model choose).
    pub strategy: Strategy,
    /// FFTW planning rigor.
    pub rigor: Rigor,
    /// Message limit in bytes for every execution (0: the process-wide
    /// limit when the plan is created). Must be equal on all ranks.
    pub limit: usize,
    /// Natural (in place, flat in and out) or a transposed side.
    pub transposition: Transposition,
    /// Threads per rank for the local work: FFTW's threaded transforms, the
    /// local row copies and the scaling (0 or 1: the calling thread only,
    /// the default). May differ between ranks; results agree to rounding.
    pub threads: usize,
}

impl Default for FftOptions {
    fn default() -> FftOptions {
        FftOptions {
            direction: Direction::Forward,
            normalization: Normalization::Backward,
            strategy: Strategy::Auto,
            rigor: Rigor::Estimate,
            limit: 0,
            transposition: Transposition::Natural,
            threads: 1,
        }
    }
}

impl FftOptions {
    /// The defaults with another direction.
    pub fn direction(direction: Direction) -> FftOptions {
        FftOptions { direction, ..FftOptions::default() }
    }
}

/// Which buffer a step works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Buf {
    /// The caller's input array (a natural plan's only array).
    Input,
    /// The caller's output array (transposed plans).
    Output,
    /// One of the plan's two work buffers.
    Work(usize),
}

/// How the rows of a buffer are shaped at one step: `[rows, width]`
/// elements, optionally split along the width over the ranks (the
/// caller's array during a batch transpose).
#[derive(Clone, Copy, Debug)]
struct Shape {
    rows: usize,
    width: usize,
    split_columns: bool,
}

/// One step of an execution.
enum Step {
    /// A row movement between two buffers, along `route` (agreed at
    /// creation); `slot`: its place among the strategy's movements, the
    /// same on every rank (a rank whose data already sit skips a movement).
    Move { plan: RowPlan, from: (Buf, Shape), to: (Buf, Shape), slot: usize, route: Route },
    /// A local batch of FFTs in place (no FFTW plan when this rank's part is empty);
    /// on the caller's array, a second plan serves arrays of another alignment.
    Transform { buf: Buf, plan: Option<GuruPlan>, unaligned: Option<GuruPlan> },
    /// Multiplies the first `len` elements by `factor`.
    Scale { buf: Buf, len: usize, factor: f64 },
}

/// Movement slots of a strategy: one before each of at most three phases and
/// one back to the caller's layout.
const MOVE_SLOTS: usize = 4;

/// Most batch axes a plan accepts: the grid's three axes and the batch's
/// stay within [`crate::MAX_NDIM`].
pub const MAX_BATCH_AXES: usize = crate::buffer::MAX_NDIM - 3;

/// A distributed 3-D FFT plan, executed any number of times.
///
/// `!Send + !Sync` with every MPI: it runs collectives on its communicator,
/// so it stays on the thread that created it (see [`crate::CommRef`]).
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// fn misuse(plan: dgampi::FftPlan) {
///     needs_send(plan); // error[E0277]: `*const ()` cannot be sent between threads safely
/// }
/// ```
pub struct FftPlan {
    comm: OwnedComm,
    rank: usize,
    grid: Grid,
    batch: Vec<usize>,
    dtype: DType,
    options: FftOptions,
    strategy: Strategy,
    limit: usize,
    flat: BlockLayout,
    /// Each rank's slice of the batch (columns of the transposed work arrays).
    batch_windows: Vec<std::ops::Range<usize>>,
    /// Where the transposed side's rows live (natural plans have none).
    transposed: TransposedSide,
    steps: Vec<Step>,
    work: [AlignedBuf; 2],
    scratch: Scratch,
    /// The first failure while moving data, after which the plan refuses to run.
    poison: Poison,
    _thread: ThreadBound,
}

impl std::fmt::Debug for FftPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FftPlan")
            .field("nq", &self.grid.n)
            .field("batch", &self.batch)
            .field("dtype", &self.dtype)
            .field("strategy", &self.strategy)
            .field("options", &self.options)
            .finish()
    }
}

impl FftPlan {
    /// Creates a plan (collective over `comm`; errors are reported on every rank).
    pub fn new<C: AsRaw<Raw = MPI_Comm>>(comm: &C, nq: [usize; 3], batch: &[usize], dtype: DType, options: FftOptions) -> Result<FftPlan> {
        FftPlan::create(comm.as_raw(), nq, batch, dtype, options)
    }

    /// [`FftPlan::new`] on a raw communicator handle (borrowed, not freed).
    ///
    /// # Safety
    /// `comm` must be a valid intracommunicator handle of the MPI library
    /// dgampi was built against, valid for the duration of the call; the plan
    /// keeps its own duplicate, so the caller may free `comm` afterwards.
    pub unsafe fn from_raw(comm: MPI_Comm, nq: [usize; 3], batch: &[usize], dtype: DType, options: FftOptions) -> Result<FftPlan> {
        FftPlan::create(comm, nq, batch, dtype, options)
    }

    /// Plan creation on a handle the caller vouches for (see [`FftPlan::from_raw`]).
    pub(crate) fn create(comm: MPI_Comm, nq: [usize; 3], batch: &[usize], dtype: DType, options: FftOptions) -> Result<FftPlan> {
        let comm = OwnedComm::dup(comm)?;
        let raw = comm.raw();
        let local = (|| {
            let grid = Grid::new(nq)?;
            fftw::Precision::of(dtype)?;
            let width = batch
                .iter()
                .try_fold(1usize, |a, &n| a.checked_mul(n))
                .filter(|w| grid.len().checked_mul(*w).and_then(|t| t.checked_mul(dtype.size())).is_some_and(|b| b <= isize::MAX as usize))
                .ok_or_else(|| Error::out_of_range(format!("the batch {batch:?} on a {nq:?} grid is too large to address")))?;
            // The agreement carries the batch shape in MAX_BATCH_AXES slots.
            if batch.len() > MAX_BATCH_AXES {
                return Err(Error::invalid(format!("the batch has {} axes; at most {MAX_BATCH_AXES}", batch.len())));
            }
            Ok((grid, width, resolve_limit(options.limit)?, exchange_path()?))
        })();
        // One agreement: every rank must have been given the same limit,
        // grid, dtype, options and batch shape (the last three as one
        // fingerprint, so that the record stays 80 bytes: one allreduce, or
        // 80 one-byte pieces at the smallest limits).
        let my_limit = local.as_ref().map_or(1, |l| l.2);
        let o = &options;
        let fields = [dtype as i32, o.direction as i32, o.normalization as i32, o.strategy as i32, o.rigor as i32, o.transposition as i32];
        let rest = fields.into_iter().map(|v| v as u32 as usize).chain([batch.len()]).chain(batch.iter().copied());
        let values = [
            ("the message limit", my_limit as u64),
            ("nq[0]", nq[0] as u64),
            ("nq[1]", nq[1] as u64),
            ("nq[2]", nq[2] as u64),
            ("the dtype, the options (direction, normalization, strategy, rigor, transposition) or the batch shape", collective::fingerprint(rest)),
            ("the exchange path setting (DGAMPI_EXCHANGE_PATH)", local.as_ref().map_or(0, |l| l.3 as u64)),
        ];
        agree_values(raw, local.as_ref().map(|_| ()).map_err(Clone::clone), false, my_limit, &values)?;
        let (grid, width, limit, setting) = local?;
        let (rank, size) = (comm::rank(raw)? as usize, comm::size(raw)? as usize);
        let strategy = match options.strategy {
            Strategy::Auto => choose(nq, width, size, options.transposition)?,
            s => s,
        };
        let built = Builder::new(grid, width, dtype, options, rank, size).and_then(|b| b.build(strategy));
        // The build agreement also carries, per movement slot, this rank's
        // part of the route choice (or that it skips the movement: then
        // every rank takes the engine for it, which needs no partner call).
        let mut flags = [RouteFlags::absent(); MOVE_SLOTS];
        if let Ok(Built { steps, batch_split, .. }) = &built {
            for step in steps {
                if let Step::Move { plan, from, to, slot, .. } = step {
                    let bytes = |s: &Shape, p: usize| if s.split_columns { batch_split.sizes()[p] } else { s.width } * dtype.size();
                    flags[*slot] = Route::local_flags(plan, |p| bytes(&from.1, p), |p| bytes(&to.1, p), limit);
                }
            }
        }
        let mut flag_bytes: Vec<u8> = flags.iter().flat_map(|f| f.to_bytes()).collect();
        collective::agree_record(raw, built.as_ref().map(|_| ()).map_err(Clone::clone), false, limit, &[], &mut flag_bytes)?;
        let Built { mut steps, work, flat, batch_split, transposed } = built?;
        for step in &mut steps {
            if let Step::Move { plan, slot, route, .. } = step {
                *route = Route::choose(raw, plan, setting, RouteFlags::in_slot(&flag_bytes, *slot), true)?;
            }
        }
        Ok(FftPlan {
            comm,
            rank,
            grid,
            batch: batch.to_vec(),
            dtype,
            options,
            strategy,
            limit,
            flat,
            batch_windows: (0..size).map(|p| batch_split.range(p)).collect(),
            transposed,
            steps,
            work,
            scratch: Scratch::with_threads(options.threads),
            poison: Poison::default(),
            _thread: std::marker::PhantomData,
        })
    }

    /// The route of each movement of this rank's execution, in order (see
    /// [`crate::route`]).
    pub fn exchange_routes(&self) -> Vec<ExchangeRoute> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Move { route, .. } => Some(route.kind()),
                _ => None,
            })
            .collect()
    }

    /// Joins plan creation's collective steps with an error this rank found
    /// in its arguments, so the other ranks fail too instead of waiting
    /// (for bindings whose arguments can be malformed). Returns `e`.
    pub(crate) fn fail_collectively(comm: MPI_Comm, e: Error) -> Error {
        collective::join_after_dup(comm, e)
    }

    /// Joins an execution's opening agreement with an error this rank found
    /// in its block argument; returns `e`.
    pub(crate) fn fail_execute(&self, e: Error) -> Error {
        collective::join_with_error(self.comm.raw(), e)
    }

    /// The strategy in use (never `Auto`).
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The grid extents `[nx, ny, nz]`.
    pub fn nq(&self) -> [usize; 3] {
        self.grid.n
    }

    /// The batch shape.
    pub fn batch(&self) -> &[usize] {
        &self.batch
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The options the plan was created with.
    pub fn options(&self) -> FftOptions {
        self.options
    }

    /// The message limit every execution uses.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// This rank's q range in the flat split (its block is `[len, batch...]`).
    pub fn my_range(&self) -> std::ops::Range<usize> {
        self.flat.range(self.rank)
    }

    /// The shape this rank's flat block must have (`[my_q, batch...]`).
    pub fn block_shape(&self) -> Vec<usize> {
        let mut s = vec![self.flat.sizes()[self.rank]];
        s.extend_from_slice(&self.batch);
        s
    }

    /// What this rank holds of the plan's input.
    pub fn input_layout(&self) -> LocalLayout {
        self.side_layout(self.options.transposition == Transposition::In)
    }

    /// What this rank holds of the plan's output.
    pub fn output_layout(&self) -> LocalLayout {
        self.side_layout(self.options.transposition == Transposition::Out)
    }

    /// The flat grid index of each row of this rank's input, in storage order.
    pub fn input_indices(&self) -> Vec<usize> {
        self.side_indices(self.options.transposition == Transposition::In)
    }

    /// The flat grid index `(ix * ny + iy) * nz + iz` of each row of this
    /// rank's output, in storage order: for a transposed output, the points
    /// to contract with (its batch columns are [`FftPlan::output_layout`]'s).
    pub fn output_indices(&self) -> Vec<usize> {
        self.side_indices(self.options.transposition == Transposition::Out)
    }

    /// The shape the input array of [`FftPlan::execute_into`] (or the block
    /// of [`FftPlan::execute`]) must have: `[my_q, batch...]` in the flat
    /// split, `[count, batch columns]` in a transposed layout.
    pub fn input_shape(&self) -> Vec<usize> {
        self.side_shape(self.options.transposition == Transposition::In)
    }

    /// The shape of the output array, as [`FftPlan::input_shape`].
    pub fn output_shape(&self) -> Vec<usize> {
        self.side_shape(self.options.transposition == Transposition::Out)
    }

    fn side_layout(&self, transposed: bool) -> LocalLayout {
        let width = self.batch.iter().product::<usize>();
        match (&self.transposed, transposed) {
            (TransposedSide::Points(own), true) => LocalLayout { count: own.count(self.rank), batch: 0..width, flat: false },
            (TransposedSide::BatchColumns, true) => LocalLayout { count: self.grid.len(), batch: self.batch_windows[self.rank].clone(), flat: false },
            _ => LocalLayout { count: self.my_range().len(), batch: 0..width, flat: true },
        }
    }

    fn side_indices(&self, transposed: bool) -> Vec<usize> {
        match (&self.transposed, transposed) {
            (TransposedSide::Points(own), true) => own.indices(self.rank).collect(),
            (TransposedSide::BatchColumns, true) => (0..self.grid.len()).collect(),
            _ => self.my_range().collect(),
        }
    }

    fn side_shape(&self, transposed: bool) -> Vec<usize> {
        let l = self.side_layout(transposed);
        if l.flat {
            self.block_shape()
        } else {
            vec![l.count, l.batch.len()]
        }
    }

    /// Bytes of work space the plan holds on this rank (buffers, not counting staging).
    pub fn work_bytes(&self) -> usize {
        self.work.iter().map(|w| w.len()).sum()
    }

    /// Transforms this rank's block in place (collective over the plan's
    /// ranks; a bad block on any rank is reported on every rank and nothing moves).
    pub(crate) fn execute_raw(&mut self, block: &RawArray) -> Result<()> {
        let local = self.poison.check("FFT plan").and_then(|()| {
            if self.options.transposition != Transposition::Natural {
                return Err(Error::invalid(format!(
                    "this plan's {} is transposed, so input and output differ in layout: use execute_into (out of place)",
                    if self.options.transposition == Transposition::Out { "output" } else { "input" }
                )));
            }
            self.check_array(block, "block", &self.input_shape(), true)
        });
        agree(self.comm.raw(), local)?;
        let width = self.batch.iter().product::<usize>();
        let user = block.reshaped(vec![block.nrows(), width])?;
        self.run_guarded(&user, &user)
    }

    /// Transforms `input` into `output` (collective; a transposed plan): the
    /// input is used as work space, and its contents are undefined afterwards.
    pub(crate) fn execute_into_raw(&mut self, input: &RawArray, output: &RawArray) -> Result<()> {
        let local = self.poison.check("FFT plan").and_then(|()| {
            if self.options.transposition == Transposition::Natural {
                return Err(Error::invalid("this plan is natural (flat in and out, in place): use execute on one block"));
            }
            self.check_array(input, "input", &self.input_shape(), self.input_layout().flat)?;
            self.check_array(output, "output", &self.output_shape(), self.output_layout().flat)?;
            let span = |a: &RawArray| a.as_ptr() as usize..a.as_ptr() as usize + a.total_bytes();
            let (i, o) = (span(input), span(output));
            if !i.is_empty() && !o.is_empty() && i.start < o.end && o.start < i.end {
                return Err(Error::invalid("the input and output arrays overlap; a transposed plan runs out of place"));
            }
            Ok(())
        });
        agree(self.comm.raw(), local)?;
        let rows = |a: &RawArray, l: LocalLayout| a.reshaped(vec![l.count, l.batch.len()]);
        let (input, output) = (rows(input, self.input_layout())?, rows(output, self.output_layout())?);
        self.run_guarded(&input, &output)
    }

    /// Runs the steps; a failure poisons the plan.
    fn run_guarded(&mut self, input: &RawArray, output: &RawArray) -> Result<()> {
        let poison = std::mem::take(&mut self.poison);
        let outcome = poison.guard(|| self.run_steps(input, output));
        self.poison = poison;
        outcome
    }

    /// Runs the plan's movements and transforms on the caller's arrays.
    fn run_steps(&mut self, input: &RawArray, output: &RawArray) -> Result<()> {
        let user = (input, output);
        for step in &self.steps {
            match step {
                Step::Move { plan, from, to, route, .. } => {
                    let (src, dst) = (self.view(user, *from)?, self.view(user, *to)?);
                    let side = |a, s: &Shape| Side { array: a, columns: s.split_columns.then_some(self.batch_windows.as_slice()) };
                    // Blocks and work buffers are C-contiguous on every rank (checked).
                    let rows = RowsInPlace::Everywhere;
                    plan.execute_routed(self.comm.raw(), route, side(&src, &from.1), side(&dst, &to.1), self.limit, rows, &mut self.scratch)?;
                }
                Step::Transform { buf, plan, unaligned } => {
                    let ptr = self.ptr(user, *buf);
                    let chosen = match (plan, unaligned) {
                        (Some(p), _) if p.fits(ptr) => Some(p),
                        (_, Some(u)) => Some(u),
                        (p, None) => p.as_ref(),
                    };
                    if let Some(p) = chosen {
                        // SAFETY: the buffer holds the planned box (checked shapes), with a fitting alignment.
                        unsafe { p.execute(ptr) };
                    }
                }
                Step::Scale { buf, len, factor } => scale(self.dtype, self.ptr(user, *buf), *len, *factor, self.options.threads),
            }
        }
        Ok(())
    }

    /// Transforms this rank's block `[my_q, batch...]` (C-contiguous) in place
    /// (collective over the plan's ranks; a bad block on any rank is
    /// reported on every rank and nothing moves). Natural plans only.
    pub fn execute<T: Element, S: DataMut<Elem = T>, D: Dimension>(&mut self, block: &mut ArrayBase<S, D>) -> Result<()> {
        let raw = RawArray::from_ndarray_mut(block)?;
        self.execute_raw(&raw)
    }

    /// Transforms `input` (shape [`FftPlan::input_shape`]) into `output`
    /// (shape [`FftPlan::output_shape`]), both C-contiguous and apart
    /// (collective; transposed plans only). The input serves as work space:
    /// its contents are undefined afterwards. A bad array on any rank is
    /// reported on every rank and nothing moves.
    pub fn execute_into<T, S1, D1, S2, D2>(&mut self, input: &mut ArrayBase<S1, D1>, output: &mut ArrayBase<S2, D2>) -> Result<()>
    where
        T: Element,
        S1: DataMut<Elem = T>,
        D1: Dimension,
        S2: DataMut<Elem = T>,
        D2: Dimension,
    {
        let (i, o) = (RawArray::from_ndarray_mut(input)?, RawArray::from_ndarray_mut(output)?);
        self.execute_into_raw(&i, &o)
    }

    /// Checks a caller array `what` against `expected` (a transposed one may
    /// also be `[count, batch...]` when it holds the whole batch).
    fn check_array(&self, a: &RawArray, what: &str, expected: &[usize], flat: bool) -> Result<()> {
        let whole_batch = !flat && expected[1] == self.batch.iter().product::<usize>();
        let batch_shaped = whole_batch && a.shape().first() == Some(&expected[0]) && a.shape()[1..] == self.batch[..];
        if a.dtype() != self.dtype || (a.shape() != expected && !batch_shaped) {
            return Err(Error::mismatch(format!(
                "rank {} passed a {:?} {} {what} but the plan needs {:?} {} here ({} of the {:?} grid, batch {:?})",
                self.rank,
                a.shape(),
                a.dtype().name(),
                expected,
                self.dtype.name(),
                if flat { format!("q {:?} of the flat split", self.my_range()) } else { "the transposed layout".to_string() },
                self.grid.n,
                self.batch
            )));
        }
        if !a.is_contiguous() {
            return Err(Error::invalid(format!("the FFT needs a C-contiguous {what}; this one is strided")));
        }
        // The transform reads the array as typed elements (FFTW, scaling).
        let align = match self.dtype {
            DType::Complex128 => std::mem::align_of::<num_complex::Complex64>(),
            _ => std::mem::align_of::<num_complex::Complex32>(),
        };
        if a.total_bytes() > 0 && !(a.as_ptr() as usize).is_multiple_of(align) {
            return Err(Error::invalid(format!(
                "the {what} at {:p} is not aligned to its {} elements ({align}-byte alignment needed)",
                a.as_ptr(),
                self.dtype.name()
            )));
        }
        Ok(())
    }

    fn ptr(&self, (input, output): (&RawArray, &RawArray), buf: Buf) -> *mut u8 {
        match buf {
            Buf::Input => input.as_ptr(),
            Buf::Output => output.as_ptr(),
            Buf::Work(i) => self.work[i].ptr(),
        }
    }

    fn view(&self, (input, output): (&RawArray, &RawArray), (buf, shape): (Buf, Shape)) -> Result<RawArray> {
        match buf {
            Buf::Input => Ok(input.clone()),
            Buf::Output => Ok(output.clone()),
            // SAFETY: the work buffer was sized for the largest shape it holds.
            Buf::Work(i) => unsafe { RawArray::new(self.work[i].ptr(), self.dtype, vec![shape.rows, shape.width], None) },
        }
    }
}

/// Multiplies `len` complex elements at `ptr` by `factor`, on up to `threads` threads.
fn scale(dtype: DType, ptr: *mut u8, len: usize, factor: f64, threads: usize) {
    if len == 0 {
        return;
    }
    let parts = crate::parallel::parts(threads, len * dtype.size());
    let base = crate::parallel::Shared(ptr);
    let _ = crate::parallel::for_each_part(len, parts, |share| {
        // SAFETY: the buffer holds `len` elements of the plan's dtype; the shares are disjoint.
        unsafe {
            let at = base.get().add(share.start * dtype.size());
            match dtype {
                DType::Complex128 => std::slice::from_raw_parts_mut(at as *mut num_complex::Complex64, share.len()).iter_mut().for_each(|v| *v *= factor),
                _ => std::slice::from_raw_parts_mut(at as *mut num_complex::Complex32, share.len()).iter_mut().for_each(|v| *v *= factor as f32),
            }
        }
        Ok(())
    });
}

/// Builds the steps of one strategy on one rank.
struct Builder {
    grid: Grid,
    width: usize,
    dtype: DType,
    precision: Precision,
    options: FftOptions,
    rank: usize,
    size: usize,
    flat: Ownership,
    flat_blocks: BlockLayout,
    batch_split: BlockLayout,
}

impl Builder {
    fn new(grid: Grid, width: usize, dtype: DType, options: FftOptions, rank: usize, size: usize) -> Result<Builder> {
        let flat_blocks = BlockLayout::new(grid.len(), size)?;
        Ok(Builder {
            grid,
            width,
            dtype,
            precision: Precision::of(dtype)?,
            options,
            rank,
            size,
            flat: Ownership::Flat { grid, blocks: flat_blocks.clone() },
            flat_blocks,
            batch_split: BlockLayout::new(width, size)?,
        })
    }

    /// The shape of a buffer holding `own` (None: batch-transposed) on this
    /// rank, in a movement to or from `other`: a q-ownership facing the
    /// batch-transposed one exchanges only each peer's batch columns.
    fn shape(&self, own: Option<&Ownership>, other: Option<&Ownership>) -> Shape {
        match own {
            Some(o) => Shape { rows: o.count(self.rank), width: self.width, split_columns: other.is_none() },
            None => Shape { rows: self.grid.len(), width: self.batch_split.sizes()[self.rank], split_columns: false },
        }
    }

    /// The plan moving rows from `from` to `to` (ownerships; None = batch-transposed).
    fn move_plan(&self, from: Option<&Ownership>, to: Option<&Ownership>) -> Result<RowPlan> {
        let (rank, size) = (self.rank, self.size);
        match (from, to) {
            // a change of ownership moves every q once: planned from this rank's rows alone
            (Some(a), Some(b)) => {
                RowPlan::permutation(size, rank, a.count(rank), b.count(rank), a.indices(rank), b.indices(rank), |q| Ok(a.owner(q)), |q| Ok(b.owner(q)))
            }
            // flat q-blocks → every q for my batch slice: each peer with a
            // slice gets all my rows (its columns); blocks of rows both ways.
            (Some(_), None) => {
                let mine = self.flat_blocks.sizes()[rank];
                let (has, blocks) = (|p: usize| self.batch_split.sizes()[p] > 0, &self.flat_blocks);
                let send = |p: usize| if has(p) { 0..mine } else { 0..0 };
                let recv = |p: usize| if has(rank) { blocks.range(p) } else { 0..0 };
                RowPlan::from_ranges(size, rank, mine, self.grid.len(), send, recv, true)
            }
            (None, Some(_)) => {
                let mine = self.flat_blocks.sizes()[rank];
                let (has, blocks) = (|p: usize| self.batch_split.sizes()[p] > 0, &self.flat_blocks);
                let send = |p: usize| if has(rank) { blocks.range(p) } else { 0..0 };
                let recv = |p: usize| if has(p) { 0..mine } else { 0..0 };
                RowPlan::from_ranges(size, rank, self.grid.len(), mine, send, recv, true)
            }
            (None, None) => Err(Error::invalid("no movement between two batch-transposed ownerships")),
        }
    }

    /// Plans the FFT of `axes` over this rank's box of `own` (None = batch-transposed) on `buf`.
    ///
    /// # Safety
    /// `buf` must hold at least the box's elements.
    unsafe fn transform(&self, own: Option<&Ownership>, axes: &[usize], buf: *mut u8, unaligned: bool) -> Result<Option<GuruPlan>> {
        let (boxed, width) = match own {
            Some(o) => (o.local_box(self.rank), self.width),
            // Batch-transposed: the whole grid, for this rank's batch slice.
            None => ((0..3).map(|a| (self.grid.n[a], Some(a))).collect(), self.batch_split.sizes()[self.rank]),
        };
        if width == 0 || boxed.iter().any(|(n, _)| *n == 0) {
            return Ok(None);
        }
        let (mut dims, mut howmany) = (Vec::new(), Vec::new());
        let mut stride = width;
        for &(n, axis) in boxed.iter().rev() {
            let d = Dim { n, stride };
            if axis.is_some_and(|a| axes.contains(&a)) {
                dims.push(d);
            } else {
                howmany.push(d);
            }
            stride *= n;
        }
        if dims.len() != axes.len() {
            return Err(Error::new(crate::error::Status::Internal, "an FFT axis is not whole in its ownership"));
        }
        dims.reverse();
        howmany.push(Dim { n: width, stride: 1 });
        let sign = self.options.direction as i32;
        GuruPlan::new(self.precision, &dims, &howmany, sign, buf, self.options.rigor, unaligned, self.options.threads).map(Some)
    }

    /// All steps of `strategy` in the plan's transposition, with the work
    /// buffers (see [`Built`]).
    fn build(self, strategy: Strategy) -> Result<Built> {
        let phases = strategy::phases(strategy, self.grid, self.size)?;
        if phases.len() >= MOVE_SLOTS {
            return Err(Error::invalid(format!("a strategy of {} phases has more movements than the plan's {MOVE_SLOTS} slots", phases.len())));
        }
        let transposition = self.options.transposition;
        let last_own = phases.last().expect("every strategy has a phase").own.as_ref();
        // A transposed input starts in the last phase's ownership and runs the phases backwards.
        let order: Vec<&strategy::Phase> = match transposition {
            Transposition::In => phases.iter().rev().collect(),
            _ => phases.iter().collect(),
        };
        let bytes = |s: Shape| s.rows * s.width * self.dtype.size();
        // First pass: the moves and where each phase's data live.
        let mut steps: Vec<(Step, Option<&strategy::Phase>)> = Vec::new(); // transform steps carry their phase
        let mut work_bytes = [0usize; 2];
        let mut caller_bytes = 0; // the largest box transformed on a caller's array
        let mut at: (Buf, Option<&Ownership>) = (Buf::Input, if transposition == Transposition::In { last_own } else { Some(&self.flat) });
        let mut landed = false; // a transposed input's last phase already sits in the flat split, on the output
        for (slot, phase) in order.iter().enumerate() {
            let own = phase.own.as_ref();
            let buf = if transposition == Transposition::In && slot == 0 {
                Buf::Input
            } else {
                let plan = self.move_plan(at.1, own)?;
                let last = slot + 1 == order.len();
                // The last phase of a transposed input whose ownership holds this
                // rank's flat block (x-slabs aligned with it) runs on the output.
                landed = last && transposition == Transposition::In && self.move_plan(own, Some(&self.flat))?.is_identity();
                let into_output = last && (transposition == Transposition::Out || landed);
                // Where this rank's data already sit in the phase's ownership, the
                // transform runs on the caller's array (every peer sees no traffic).
                if plan.is_identity() && at.0 == Buf::Input && !into_output {
                    Buf::Input
                } else {
                    let next = if into_output { Buf::Output } else { next_work(at.0) };
                    let to = self.shape(own, at.1);
                    if let Buf::Work(i) = next {
                        work_bytes[i] = work_bytes[i].max(bytes(to));
                    }
                    steps.push((Step::Move { plan, from: (at.0, self.shape(at.1, own)), to: (next, to), slot, route: Route::PointToPoint }, None));
                    next
                }
            };
            if !matches!(buf, Buf::Work(_)) {
                caller_bytes = caller_bytes.max(bytes(self.shape(own, own)));
            }
            steps.push((Step::Transform { buf, plan: None, unaligned: None }, Some(*phase)));
            at = (buf, own);
        }
        let last = self.shape(at.1, at.1);
        let factor = self.options.normalization.factor(self.options.direction, self.grid.len());
        if factor != 1.0 {
            steps.push((Step::Scale { buf: at.0, len: last.rows * last.width, factor }, None));
        }
        // Back to the flat split: onto the caller's block (natural) or output (transposed input).
        let home = match transposition {
            Transposition::Natural if at.0 != Buf::Input => Some(Buf::Input),
            Transposition::In if !landed => Some(Buf::Output),
            _ => None,
        };
        if let Some(home) = home {
            let plan = self.move_plan(at.1, Some(&self.flat))?;
            let (from, to) = (self.shape(at.1, Some(&self.flat)), self.shape(Some(&self.flat), at.1));
            steps.push((Step::Move { plan, from: (at.0, from), to: (home, to), slot: phases.len(), route: Route::PointToPoint }, None));
        }
        // Work buffers; FFTW plans on them. Transforms of a caller's array
        // get two plans (aligned and unaligned) made on the first work buffer,
        // or on a buffer that lives only while planning when that one is smaller.
        let work = [AlignedBuf::zeroed(work_bytes[0])?, AlignedBuf::zeroed(work_bytes[1])?];
        let planning = if caller_bytes > work_bytes[0] { Some(AlignedBuf::zeroed(caller_bytes)?) } else { None };
        let caller_stand_in = planning.as_ref().unwrap_or(&work[0]).ptr();
        let mut out = Vec::with_capacity(steps.len());
        for (step, phase) in steps {
            let step = match (step, phase) {
                (Step::Transform { buf, .. }, Some(phase)) => {
                    let (own, axes) = (phase.own.as_ref(), &phase.axes);
                    let target = match buf {
                        Buf::Work(i) => work[i].ptr(),
                        _ => caller_stand_in,
                    };
                    // SAFETY: the work buffer holds at least this phase's box.
                    let plan = unsafe { self.transform(own, axes, target, false)? };
                    let unaligned = match buf {
                        Buf::Work(_) => None,
                        // SAFETY: as above.
                        _ => unsafe { self.transform(own, axes, target, true)? },
                    };
                    Step::Transform { buf, plan, unaligned }
                }
                (step, _) => step,
            };
            out.push(step);
        }
        let transposed = match (transposition, last_own) {
            (Transposition::Natural, _) => TransposedSide::None,
            (_, Some(own)) => TransposedSide::Points(own.clone()),
            (_, None) => TransposedSide::BatchColumns,
        };
        Ok(Built { steps: out, work, flat: self.flat_blocks, batch_split: self.batch_split, transposed })
    }
}

/// The work buffer a movement from `from` writes into (the other one).
fn next_work(from: Buf) -> Buf {
    match from {
        Buf::Work(0) => Buf::Work(1),
        _ => Buf::Work(0),
    }
}

/// What [`Builder::build`] makes: the steps, the work buffers, the flat
/// split, the batch split and the transposed side's ownership (see
/// `FftPlan::transposed`).
struct Built {
    steps: Vec<Step>,
    work: [AlignedBuf; 2],
    flat: BlockLayout,
    batch_split: BlockLayout,
    transposed: TransposedSide,
}

/// Where the rows of a plan's transposed side live on each rank.
enum TransposedSide {
    /// A natural plan: input and output are in the flat split.
    None,
    /// Every q, for this rank's slice of the batch (the batch transpose).
    BatchColumns,
    /// The q of this ownership (slabs or pencils), with the whole batch.
    Points(Ownership),
}

/// One-shot in-place FFT of this rank's flat block `[my_q, batch...]` of an
/// `nq` grid (collective over `comm`): plans, executes once and frees the
/// plan. Prefer an [`FftPlan`] when transforming more than once.
pub fn execute_distributed_fft<C, T, S, D>(comm: &C, nq: [usize; 3], block: &mut ArrayBase<S, D>, options: FftOptions) -> Result<()>
where
    C: AsRaw<Raw = MPI_Comm>,
    T: Element,
    S: DataMut<Elem = T>,
    D: Dimension,
{
    let raw = RawArray::from_ndarray_mut(block)?;
    execute_distributed_fft_raw(comm.as_raw(), nq, &raw, options)
}

/// [`execute_distributed_fft`] on a raw block and communicator. The batch
/// shape is the block's trailing shape, agreed with rank 0's.
pub(crate) fn execute_distributed_fft_raw(comm: MPI_Comm, nq: [usize; 3], block: &RawArray, options: FftOptions) -> Result<()> {
    if options.transposition != Transposition::Natural {
        let e = Error::invalid("the one-shot FFT works in place in the flat split; a transposed layout needs an FftPlan and execute_into");
        return Err(FftPlan::fail_collectively(comm, e));
    }
    let mut plan = FftPlan::create(comm, nq, block.row_shape(), block.dtype(), options)?;
    plan.execute_raw(block)
}
