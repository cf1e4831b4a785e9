//! A set of nonblocking MPI requests that never outlives its call: dropping
//! it (an error or a panic between posting and waiting) waits for every
//! request still pending, so MPI never touches memory after it is freed or
//! handed back. The peers of a collective run the same schedule, so the
//! requests complete; a rank that failed to post what its peers wait for
//! aborts instead (see [`crate::failure`]).

use crate::comm::{check_mpi, ensure_initialized, to_int};
use crate::error::Result;
use crate::failure::{injected, Fault};
use mpi::ffi::MPI_Request;

/// Pending requests, in a vector reused across steps (borrowed from the caller).
pub struct InFlight<'a>(&'a mut Vec<MPI_Request>);

impl<'a> InFlight<'a> {
    /// An empty set over `storage` (cleared).
    pub fn new(storage: &'a mut Vec<MPI_Request>) -> InFlight<'a> {
        storage.clear();
        InFlight(storage)
    }

    /// Posts one request into the first free slot (a completed, null
    /// request) or a new one, and returns the slot's index: a set that
    /// posts and completes requests one at a time ([`InFlight::wait_some`])
    /// stays as long as its most requests ever posted at once.
    pub fn post_slot(&mut self, post: impl FnOnce(&mut MPI_Request) -> Result<()>) -> Result<usize> {
        injected(Fault::Post)?;
        // SAFETY: reading rsmpi's extern constant.
        let null = unsafe { mpi::ffi::RSMPI_REQUEST_NULL };
        let slot = match self.0.iter().position(|r| *r == null) {
            Some(k) => k,
            None => {
                self.0.push(null);
                self.0.len() - 1
            }
        };
        post(&mut self.0[slot])?;
        Ok(slot)
    }

    /// Waits until at least one posted request completes and stores the
    /// slots of those that did in `done` (empty when none was pending).
    /// Completed slots become free for [`InFlight::post_slot`].
    pub fn wait_some(&mut self, done: &mut Vec<usize>, what: &str) -> Result<()> {
        injected(Fault::Wait)?;
        done.clear();
        let count = to_int(self.0.len(), "requests in flight")?;
        let mut indices = vec![0i32; self.0.len()];
        let mut outcount: i32 = 0;
        // SAFETY: every handle is a posted request or MPI_REQUEST_NULL, and
        // `indices` has room for one index per request.
        let code = unsafe {
            mpi::ffi::MPI_Waitsome(count, self.0.as_mut_ptr(), &mut outcount, indices.as_mut_ptr(), mpi::ffi::RSMPI_STATUSES_IGNORE)
        };
        check_mpi(code, what)?;
        // MPI_UNDEFINED (negative) when every request was null.
        if outcount > 0 {
            done.extend(indices[..outcount as usize].iter().map(|&i| i as usize));
        }
        Ok(())
    }

    /// True when no request is pending.
    pub fn is_idle(&self) -> bool {
        // SAFETY: reading rsmpi's extern constant.
        let null = unsafe { mpi::ffi::RSMPI_REQUEST_NULL };
        self.0.iter().all(|r| *r == null)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // SAFETY: reading rsmpi's extern constant.
        let null = unsafe { mpi::ffi::RSMPI_REQUEST_NULL };
        if self.0.iter().all(|r| *r == null) || ensure_initialized().is_err() {
            return;
        }
        // Wait one by one so that a failed request does not stop the others.
        for r in self.0.iter_mut().filter(|r| **r != null) {
            // SAFETY: r is a posted request; MPI sets it to MPI_REQUEST_NULL when done.
            unsafe { mpi::ffi::MPI_Wait(r, mpi::ffi::RSMPI_STATUS_IGNORE) };
        }
        self.0.clear();
    }
}
