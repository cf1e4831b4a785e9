//! How a planned movement's rows travel: through the row-movement engine's
//! chunked point-to-point exchange (the general path), or, when every
//! per-peer block fits the message limit, in one MPI collective with a
//! derived datatype per peer and no packing: `MPI_Alltoallw` when some rank
//! exchanges rows with more than half of the others, else
//! `MPI_Neighbor_alltoallw` on a graph communicator built at plan time
//! (`MPI_Dist_graph_create_adjacent` over the ranks each rank exchanges
//! rows with: the IBZ → full-BZ map has a few peers per rank).
//!
//! The limit holds inside MPI too: both collectives send one message per
//! peer of exactly that peer's block (a `w` collective cannot merge blocks
//! of different datatypes, unlike Allgatherv or Bruck's alltoall), so the
//! collective path is taken only when every block on every rank is at most
//! the limit; otherwise the plan runs the chunked path, even when the
//! collective path was asked for.
//!
//! The choice is a process-wide setting ([`set_exchange_path`], the
//! environment variable `DGAMPI_EXCHANGE_PATH`): `auto` (default: the
//! collective when it may be taken), `p2p` (always the engine) or
//! `collective` (the collective whenever it may be taken, also for one-shot
//! calls, which otherwise take the neighbourhood collective never: building
//! its communicator costs more than one exchange saves). Plans read it at
//! creation and every rank must have the same setting (checked).

use crate::comm::OwnedComm;
use crate::engine::RowPlan;
use crate::error::{Error, Result};
use mpi::ffi::MPI_Comm;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Which path the rows of plans created under this setting take between
/// ranks: the chunked point-to-point engine, or one MPI collective per
/// execution when every per-peer block fits the message limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ExchangePath {
    /// The collective when every per-peer block fits the limit; the chunked
    /// point-to-point engine otherwise.
    Auto = 0,
    /// Always the chunked point-to-point engine.
    PointToPoint = 1,
    /// The collective whenever every per-peer block fits the limit (also in
    /// one-shot calls); the engine otherwise.
    Collective = 2,
}

impl ExchangePath {
    /// The setting's name as `DGAMPI_EXCHANGE_PATH` spells it.
    pub fn name(self) -> &'static str {
        match self {
            ExchangePath::Auto => "auto",
            ExchangePath::PointToPoint => "p2p",
            ExchangePath::Collective => "collective",
        }
    }

    /// The setting from its C value (0 auto, 1 p2p, 2 collective).
    pub fn from_code(code: i32) -> Result<ExchangePath> {
        [ExchangePath::Auto, ExchangePath::PointToPoint, ExchangePath::Collective]
            .into_iter()
            .find(|p| *p as i32 == code)
            .ok_or_else(|| Error::invalid(format!("exchange path {code} is not 0 (auto), 1 (p2p) or 2 (collective)")))
    }

    /// The setting from its name (`auto`, `p2p`, `collective`).
    pub fn from_name(name: &str) -> Result<ExchangePath> {
        [ExchangePath::Auto, ExchangePath::PointToPoint, ExchangePath::Collective]
            .into_iter()
            .find(|p| p.name() == name.trim())
            .ok_or_else(|| Error::invalid(format!("{PATH_ENV_VAR}={name:?} is not auto, p2p or collective")))
    }
}

/// Name of the environment variable read at first use.
pub const PATH_ENV_VAR: &str = "DGAMPI_EXCHANGE_PATH";

/// The path set by [`set_exchange_path`], plus one; 0 = never set.
static PATH: AtomicU8 = AtomicU8::new(0);
/// The environment's setting (auto when unset), or why it is invalid; read once.
static ENV_PATH: OnceLock<Result<ExchangePath>> = OnceLock::new();

/// The process-wide exchange path: the value set last by
/// [`set_exchange_path`], else `DGAMPI_EXCHANGE_PATH`, else auto. An
/// invalid environment value is an `InvalidArgument` error for every plan
/// created while it stands, never a silent fallback.
pub fn exchange_path() -> Result<ExchangePath> {
    match PATH.load(Ordering::Relaxed) {
        0 => ENV_PATH
            .get_or_init(|| match std::env::var(PATH_ENV_VAR) {
                Ok(text) => ExchangePath::from_name(&text),
                Err(std::env::VarError::NotPresent) => Ok(ExchangePath::Auto),
                Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid(format!("{PATH_ENV_VAR} is not valid UTF-8"))),
            })
            .clone(),
        set => ExchangePath::from_code(i32::from(set) - 1),
    }
}

/// Sets the process-wide exchange path; it replaces the environment's
/// value. Plans created afterwards use it (existing plans keep theirs).
pub fn set_exchange_path(path: ExchangePath) {
    PATH.store(path as u8 + 1, Ordering::Relaxed);
}

/// The route a plan chose at creation (the map and vslice plans report it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ExchangeRoute {
    /// The chunked point-to-point engine.
    PointToPoint = 0,
    /// One `MPI_Alltoallw` per execution.
    Alltoallw = 1,
    /// One `MPI_Neighbor_alltoallw` per execution, on a graph communicator
    /// over the ranks that exchange rows.
    NeighborAlltoallw = 2,
}

impl ExchangeRoute {
    /// The route's name: "point-to-point", "MPI_Alltoallw" or "MPI_Neighbor_alltoallw".
    pub fn name(self) -> &'static str {
        match self {
            ExchangeRoute::PointToPoint => "point-to-point",
            ExchangeRoute::Alltoallw => "MPI_Alltoallw",
            ExchangeRoute::NeighborAlltoallw => "MPI_Neighbor_alltoallw",
        }
    }
}

/// The route a planned movement takes on every execution.
#[derive(Debug)]
pub(crate) enum Route {
    /// The chunked point-to-point engine.
    PointToPoint,
    /// `MPI_Alltoallw` on the plan's communicator.
    Alltoallw,
    /// `MPI_Neighbor_alltoallw` on this graph communicator (neighbours: the
    /// plan's active peers in rank order, the same list for sources and
    /// destinations).
    Neighbor(OwnedComm),
}

/// One rank's part of a route choice; every rank's parts are combined in
/// the plan's agreement ([`RouteFlags::to_bytes`] gives one byte per flag,
/// so the agreement's bytewise MAX is their OR).
///
/// cbindgen:ignore
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RouteFlags {
    /// A block of this rank's exceeds the limit.
    pub too_large: bool,
    /// This rank exchanges rows with more than half of the other ranks.
    pub dense: bool,
    /// This rank does not take part in the movement (an FFT step whose data
    /// already sit): every rank then takes the engine, since a collective
    /// needs every rank's call.
    pub absent: bool,
    /// This rank exchanges rows with another rank (without it anywhere, the
    /// movement is local copies only: no MPI at all).
    pub crosses: bool,
}

/// Bytes of [`RouteFlags::to_bytes`].
const FLAG_BYTES: usize = 4;

impl RouteFlags {
    /// The flags of a rank that skips the movement.
    pub fn absent() -> RouteFlags {
        RouteFlags { absent: true, ..RouteFlags::default() }
    }

    /// One byte (0 or 1) per flag.
    pub fn to_bytes(self) -> [u8; FLAG_BYTES] {
        [self.too_large, self.dense, self.absent, self.crosses].map(u8::from)
    }

    /// The flags from their bytes (any nonzero byte is set).
    pub fn from_bytes(bytes: &[u8]) -> RouteFlags {
        RouteFlags::in_slot(bytes, 0)
    }

    /// The flags of slot `slot` of several flags' bytes laid end to end.
    pub fn in_slot(bytes: &[u8], slot: usize) -> RouteFlags {
        let set = |i: usize| bytes.get(slot * FLAG_BYTES + i).is_some_and(|&b| b != 0);
        RouteFlags { too_large: set(0), dense: set(1), absent: set(2), crosses: set(3) }
    }
}

impl Route {
    /// This rank's part of the choice, OR-ed over ranks in the plan's
    /// agreement: whether one of its per-peer blocks (`send_row_bytes(p)`
    /// bytes per row sent to `p`, `recv_row_bytes(p)` per row received)
    /// exceeds `limit`, and whether it is dense.
    pub fn local_flags(plan: &RowPlan, send_row_bytes: impl Fn(usize) -> usize, recv_row_bytes: impl Fn(usize) -> usize, limit: usize) -> RouteFlags {
        let others = plan.peer_count();
        RouteFlags {
            too_large: !plan.blocks_fit(send_row_bytes, recv_row_bytes, limit),
            dense: 2 * others > plan.nranks().saturating_sub(1),
            absent: false,
            crosses: others > 0,
        }
    }

    /// The route every rank takes, from the agreed setting and the OR of
    /// every rank's [`Route::local_flags`] (so every rank chooses the same):
    /// the engine also where no rank exchanges rows with another.
    /// `plan_object`: the movement is kept and executed repeatedly, so a
    /// graph communicator may be built (collective over `comm`) for a
    /// sparse movement.
    pub fn choose(comm: MPI_Comm, plan: &RowPlan, setting: ExchangePath, flags: RouteFlags, plan_object: bool) -> Result<Route> {
        if setting == ExchangePath::PointToPoint || flags.too_large || flags.absent || !flags.crosses || plan.nranks() == 1 {
            return Ok(Route::PointToPoint);
        }
        if flags.dense {
            return Ok(Route::Alltoallw);
        }
        if plan_object || setting == ExchangePath::Collective {
            return Ok(Route::Neighbor(OwnedComm::dist_graph(comm, &plan.peer_ranks())?));
        }
        Ok(Route::PointToPoint)
    }

    /// Which route this is.
    pub fn kind(&self) -> ExchangeRoute {
        match self {
            Route::PointToPoint => ExchangeRoute::PointToPoint,
            Route::Alltoallw => ExchangeRoute::Alltoallw,
            Route::Neighbor(_) => ExchangeRoute::NeighborAlltoallw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_refuse_unknown_names() {
        for p in [ExchangePath::Auto, ExchangePath::PointToPoint, ExchangePath::Collective] {
            assert_eq!(ExchangePath::from_name(p.name()).unwrap(), p);
            assert_eq!(ExchangePath::from_code(p as i32).unwrap(), p);
        }
        assert!(ExchangePath::from_name("alltoall").is_err());
        assert!(ExchangePath::from_code(3).is_err());
    }

    #[test]
    fn flags_combine_bytewise_as_an_or() {
        // The agreement reduces with a bytewise MAX: two ranks' flags combine
        // to their OR (one flag per byte; packed bits would not).
        let a = RouteFlags { dense: true, crosses: true, ..RouteFlags::default() };
        let b = RouteFlags { too_large: true, crosses: true, ..RouteFlags::default() };
        let max: Vec<u8> = a.to_bytes().iter().zip(b.to_bytes()).map(|(x, y)| (*x).max(y)).collect();
        let or = RouteFlags::from_bytes(&max);
        assert!(or.too_large && or.dense && or.crosses && !or.absent);
        assert_eq!(RouteFlags::from_bytes(&RouteFlags::absent().to_bytes()), RouteFlags::absent());
    }
}
