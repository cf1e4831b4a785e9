//! What the plans of the BZ maps share ([`crate::MapPlan`],
//! [`crate::VslicePlan`]): the planned movement and its buffers
//! ([`Planned`]), the state a plan object keeps between executions
//! ([`PlanState`]) and their common public methods (`plan_api!`).

use crate::buffer::RawArray;
use crate::collective::{ArrayHeader, Destination};
use crate::comm::{OwnedComm, ThreadBound};
use crate::element::DType;
use crate::collective;
use crate::engine::{RowPlan, RowsInPlace, Scratch, Side};
use crate::limit::resolve_limit;
use crate::route::{exchange_path, Route, RouteFlags};
use crate::error::{Error, Result};
use crate::failure::Poison;
use crate::orbital::OwnedTransform;
use crate::primitives::check_disjoint;
use mpi::ffi::MPI_Comm;

/// A planned movement: the row plan, the buffers every execution takes and
/// fills on this rank, the transform applied to the output and the limit.
#[derive(Debug)]
pub(crate) struct Planned {
    pub plan: RowPlan,
    pub dtype: DType,
    pub block_shape: Vec<usize>,
    pub out_shape: Vec<usize>,
    /// The transform's inputs for this rank's output rows.
    pub transform: Option<OwnedTransform>,
    pub limit: usize,
    /// How the rows travel between ranks (chosen at creation, the same on every rank).
    pub route: Route,
}

impl Planned {
    /// This rank's part of an execution's agreement: the object is usable,
    /// `block` has the planned dtype and shape, and `out` is (or is
    /// allocated as) the planned output, not overlapping `block`. `names`
    /// are the block's and the output's names for messages.
    pub fn check_buffers(&self, poison: &Poison, what: &str, block: &RawArray, out: &mut Destination, names: [&str; 2]) -> Result<RawArray> {
        poison.check(what)?;
        let [block_name, out_name] = names;
        if block.dtype() != self.dtype || block.shape() != self.block_shape.as_slice() {
            return Err(Error::mismatch(format!(
                "{block_name} is {:?} {} but this rank's must be {:?} {}",
                block.shape(),
                block.dtype().name(),
                self.block_shape,
                self.dtype.name()
            )));
        }
        let h = ArrayHeader { dtype: self.dtype, shape: self.out_shape.clone(), limit: self.limit, flags: 0 };
        let dst = out.resolve(&h, out_name)?;
        check_disjoint(block, &dst, None, out_name, block_name)?;
        Ok(dst)
    }

    /// Moves the rows along the plan's route (see [`RowPlan::execute_routed`]).
    pub fn move_rows(&self, comm: MPI_Comm, src: Side, dst: Side, rows: RowsInPlace, scratch: &mut Scratch) -> Result<()> {
        self.plan.execute_routed(comm, &self.route, src, dst, self.limit, rows, scratch)
    }

    /// Applies the transform, if any, to the output rows.
    pub fn finish(&self, dst: &RawArray) -> Result<()> {
        match &self.transform {
            Some(t) => t.view().apply(dst, 0),
            None => Ok(()),
        }
    }
}

/// Creates a plan's movement on `comm` in one agreement: `build(limit)`
/// checks this rank's arguments and plans its rows locally (with the
/// resolved `limit`), returning the movement and its per-peer row sizes
/// (bytes per row sent to peer `p`, received from `p`); then every rank
/// agrees on the outcome, the limit, `values`, the exchange-path setting
/// and the route's flags, and the route is chosen (`plan_object`: the
/// movement is kept, so a graph communicator may be built). `plan_of`
/// finds the row plan in the movement.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_plan<T>(
    comm: MPI_Comm,
    poison: &Poison,
    nranks: usize,
    limit: usize,
    values: &[(&str, u64)],
    plan_object: bool,
    build: impl FnOnce(usize) -> Result<(T, RowBytes)>,
    plan_of: impl Fn(&T) -> &RowPlan,
) -> Result<(T, usize, Route)> {
    let built = (|| {
        let setting = exchange_path()?;
        let limit = resolve_limit(limit)?;
        let (movement, bytes) = build(limit)?;
        let flags = Route::local_flags(plan_of(&movement), &bytes.send, &bytes.recv, limit);
        Ok((movement, setting, flags))
    })();
    let setting = built.as_ref().map_or(0, |b| b.1 as u64);
    let mut flags = built.as_ref().map_or_else(|_| RouteFlags::default(), |b| b.2).to_bytes();
    let mut all: Vec<(&str, Option<u64>)> = values.iter().map(|&(n, v)| (n, Some(v))).collect();
    all.push(("the exchange path setting (DGAMPI_EXCHANGE_PATH)", Some(setting)));
    let limit = collective::open_record(comm, Some(poison), 0, nranks, limit, &all, &mut flags, || built.as_ref().map(drop).map_err(Clone::clone))?;
    let (movement, setting, _) = built.expect("built when the agreement succeeded");
    let route = Route::choose(comm, plan_of(&movement), setting, RouteFlags::from_bytes(&flags), plan_object)?;
    Ok((movement, limit, route))
}

/// The bytes of one row a plan sends to and receives from each peer.
pub(crate) struct RowBytes {
    pub send: Box<dyn Fn(usize) -> usize>,
    pub recv: Box<dyn Fn(usize) -> usize>,
}

impl RowBytes {
    /// Whole rows of `bytes` bytes both ways.
    pub fn uniform(bytes: usize) -> RowBytes {
        RowBytes { send: Box::new(move |_| bytes), recv: Box::new(move |_| bytes) }
    }
}

/// A movement that a plan object executes.
pub(crate) trait Movement {
    /// The planned movement.
    fn planned(&self) -> &Planned;
    /// Moves `block` into `out` on `comm` (collective, one agreement on the
    /// buffers first). Returns the output.
    fn execute(&self, comm: MPI_Comm, poison: &Poison, what: &str, block: &RawArray, out: &mut Destination, scratch: &mut Scratch) -> Result<RawArray>;
}

/// A plan object as the bindings drive it (every BZ plan, through `plan_api!`).
pub(crate) trait PlanObject {
    /// The execution on descriptors (collective).
    fn execute_raw(&mut self, block: &RawArray, out: &RawArray) -> Result<()>;
    /// Joins an execution's agreement with this rank's argument error.
    fn fail_execute(&self, e: Error) -> Error;
    /// This rank's block and output shapes.
    fn shapes(&self) -> (&[usize], &[usize]);
    /// The route chosen at creation.
    fn route(&self) -> crate::route::ExchangeRoute;
}

/// What a plan object keeps next to its movement: its own duplicate of the
/// distributors' communicator, the engine's staging buffers and the record
/// of a failure while data moved. Bound to the creating thread.
pub(crate) struct PlanState {
    pub comm: OwnedComm,
    pub scratch: Scratch,
    pub poison: Poison,
    _thread: ThreadBound,
}

impl PlanState {
    /// Duplicates `comm` (collective).
    pub fn dup(comm: MPI_Comm) -> Result<PlanState> {
        Ok(PlanState { comm: OwnedComm::dup(comm)?, scratch: Scratch::default(), poison: Poison::default(), _thread: std::marker::PhantomData })
    }
}

/// The public methods every BZ plan has, for a type with fields `state:
/// PlanState` and `core: impl Movement`; `$name` names it in messages,
/// `$block` and `$out` describe its block and output shapes.
macro_rules! plan_api {
    ($ty:ident, $name:literal, $block:literal, $out:literal) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let p = self.core.planned();
                f.debug_struct(stringify!($ty)).field("block_shape", &p.block_shape).field("out_shape", &p.out_shape).finish()
            }
        }

        impl $ty {
            #[doc = concat!("Shape of the block every execution takes on this rank: ", $block, ".")]
            pub fn block_shape(&self) -> &[usize] {
                &self.core.planned().block_shape
            }

            #[doc = concat!("Shape of the output every execution fills on this rank: ", $out, ".")]
            pub fn out_shape(&self) -> &[usize] {
                &self.core.planned().out_shape
            }

            /// The element type.
            pub fn dtype(&self) -> crate::element::DType {
                self.core.planned().dtype
            }

            /// The agreed message limit in bytes.
            pub fn limit(&self) -> usize {
                self.core.planned().limit
            }

            /// How the rows travel between ranks, chosen at creation (see
            /// [`crate::route`]; a collective route falls back to the chunked
            /// engine for an execution on strided arrays).
            pub fn exchange_route(&self) -> crate::route::ExchangeRoute {
                self.core.planned().route.kind()
            }

            /// The row plan (for statistics: rows sent, message schedule).
            pub fn row_plan(&self) -> &crate::engine::RowPlan {
                &self.core.planned().plan
            }

            /// Moves `block` (`block_shape()`) into `out` (`out_shape()`, not
            /// overlapping `block`). Collective; a wrong buffer on any rank
            /// is reported on every rank and nothing moves (the plan stays
            /// usable).
            pub fn execute(&mut self, block: crate::ArrayRef<'_>, out: crate::ArrayMut<'_>) -> crate::Result<()> {
                crate::bzplan::PlanObject::execute_raw(self, block.raw(), out.raw())
            }
        }

        impl crate::bzplan::PlanObject for $ty {
            fn execute_raw(&mut self, block: &crate::buffer::RawArray, out: &crate::buffer::RawArray) -> crate::Result<()> {
                let s = &mut self.state;
                let into = &mut crate::collective::Destination::Into(out);
                self.core.execute(s.comm.raw(), &s.poison, $name, block, into, &mut s.scratch).map(drop)
            }

            fn fail_execute(&self, e: crate::Error) -> crate::Error {
                crate::collective::join_with_error(self.state.comm.raw(), e)
            }

            fn shapes(&self) -> (&[usize], &[usize]) {
                let p = self.core.planned();
                (&p.block_shape, &p.out_shape)
            }

            fn route(&self) -> crate::route::ExchangeRoute {
                self.exchange_route()
            }
        }
    };
}
pub(crate) use plan_api;
