//! What happens when something fails after the ranks of a collective have
//! started moving data, where the failure can no longer be agreed on.
//!
//! Policy (DESIGN.md, "No request outlives its call"):
//! - every nonblocking request lives in an [`crate::requests::InFlight`] set
//!   that waits for it when dropped, so no error or panic path leaves MPI
//!   reading or writing memory that is freed or handed back;
//! - a rank that fails while moving data poisons its object ([`Poison`]): every
//!   later call on it returns [`Status::Poisoned`] naming the first failure;
//!   the object's later collectives still join their opening agreement, so the
//!   other ranks get the error too instead of waiting;
//! - a rank that could not post a message its peers wait for, or that fails
//!   in (or just before) a collective its peers have entered, cannot tell
//!   them (they are blocked on that very message or call): it prints the
//!   error and calls `MPI_Abort` on the object's communicator
//!   ([`abort_stranded`]), since the alternative is a job that hangs until
//!   its time limit.
//!
//! Tests reach these paths through a fault-injection hook: the environment
//! variable `DGAMPI_FAULT_INJECT=post:N` (or `wait:N`, `collective:N`) makes
//! the N-th nonblocking post (or wait) of the row-movement engine, or the
//! N-th collective row exchange (`MPI_Alltoallw` or
//! `MPI_Neighbor_alltoallw`), in this process fail.

use crate::error::{Error, Result, Status};
use mpi::ffi::MPI_Comm;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// The first failure of an object whose ranks may disagree on its state.
#[derive(Debug, Default)]
pub struct Poison(Mutex<Option<Error>>);

impl Poison {
    /// Ok while the object is usable, else the `Poisoned` error naming the first failure.
    pub fn check(&self, what: &str) -> Result<()> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            None => Ok(()),
            Some(first) => Err(Error::new(
                Status::Poisoned,
                format!(
                    "this {what} is unusable: an earlier call failed after its ranks had started moving data \
                     (first failure: {} ({:?})); destroy it and create a new one",
                    first.message, first.status
                ),
            )),
        }
    }

    /// Runs a data-movement phase: an error or a panic in it poisons the object.
    pub fn guard<T>(&self, phase: impl FnOnce() -> Result<T>) -> Result<T> {
        struct OnUnwind<'a>(&'a Poison, bool);
        impl Drop for OnUnwind<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.record(&Error::new(Status::Internal, "a panic while moving data"));
                }
            }
        }
        let mut unwind = OnUnwind(self, true);
        let outcome = phase();
        unwind.1 = false;
        if let Err(e) = &outcome {
            self.record(e);
        }
        outcome
    }

    /// Records `e` unless an earlier failure is recorded.
    fn record(&self, e: &Error) {
        let mut first = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(e.clone());
        }
    }
}

/// An operation of a row movement the fault-injection hook can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Posting a send or receive.
    Post,
    /// Waiting for posted requests.
    Wait,
    /// The collective route's exchange (`MPI_Alltoallw` or `MPI_Neighbor_alltoallw`).
    Collective,
}

/// Remaining count before the injected fault (-1: none), and which kind.
static FAULT_COUNTDOWN: AtomicI64 = AtomicI64::new(i64::MIN);
static FAULT_KIND: Mutex<Option<Fault>> = Mutex::new(None);

/// Reads `DGAMPI_FAULT_INJECT` once ("post:N", "wait:N" or "collective:N", N >= 1).
fn fault_setting() -> Option<Fault> {
    if FAULT_COUNTDOWN.load(Ordering::Relaxed) == i64::MIN {
        let parsed = std::env::var("DGAMPI_FAULT_INJECT").ok().and_then(|v| {
            let (kind, n) = v.split_once(':')?;
            let kind = match kind {
                "post" => Fault::Post,
                "wait" => Fault::Wait,
                "collective" => Fault::Collective,
                _ => return None,
            };
            Some((kind, n.parse::<i64>().ok().filter(|n| *n >= 1)?))
        });
        *FAULT_KIND.lock().unwrap_or_else(|p| p.into_inner()) = parsed.map(|p| p.0);
        let _ = FAULT_COUNTDOWN.compare_exchange(i64::MIN, parsed.map_or(-1, |p| p.1), Ordering::Relaxed, Ordering::Relaxed);
    }
    *FAULT_KIND.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fails when the fault-injection hook says this `kind` of operation is the one to fail.
pub fn injected(kind: Fault) -> Result<()> {
    if fault_setting() != Some(kind) {
        return Ok(());
    }
    if FAULT_COUNTDOWN.fetch_sub(1, Ordering::Relaxed) == 1 {
        return Err(Error::new(Status::MpiError, format!("injected fault: {kind:?} failed (DGAMPI_FAULT_INJECT)")));
    }
    Ok(())
}

/// Reports a failure that leaves peers waiting for this rank and aborts the
/// communicator's job (see the module documentation). Never returns.
pub fn abort_stranded(comm: MPI_Comm, e: &Error) -> ! {
    let mut rank = -1;
    // SAFETY: MPI_Comm_rank on a valid communicator; failures leave rank at -1.
    unsafe { mpi::ffi::MPI_Comm_rank(comm, &mut rank) };
    eprintln!(
        "dgampi: rank {rank}: {} ({:?}) while its peers were already exchanging with it; they cannot be told, \
         so dgampi calls MPI_Abort instead of letting the job hang",
        e.message, e.status
    );
    // SAFETY: aborting a valid communicator's job.
    unsafe { mpi::ffi::MPI_Abort(comm, 70) };
    std::process::abort()
}
