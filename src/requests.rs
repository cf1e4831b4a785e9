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

    /// Posts one request with `post`, which fills the handle; the request
    /// joins the set before anything can fail after it.
    pub fn post(&mut self, post: impl FnOnce(&mut MPI_Request) -> Result<()>) -> Result<()> {
        injected(Fault::Post)?;
        // SAFETY: reading rsmpi's extern constant.
        self.0.push(unsafe { mpi::ffi::RSMPI_REQUEST_NULL });
        let slot = self.0.last_mut().expect("just pushed");
        post(slot)
    }

    /// Waits for every request; the set is empty afterwards, whatever the outcome.
    pub fn wait_all(&mut self, what: &str) -> Result<()> {
        injected(Fault::Wait)?;
        let count = to_int(self.0.len(), "requests in flight")?;
        // SAFETY: every handle is a posted request or MPI_REQUEST_NULL.
        let code = unsafe { mpi::ffi::MPI_Waitall(count, self.0.as_mut_ptr(), mpi::ffi::RSMPI_STATUSES_IGNORE) };
        if code == 0 {
            self.0.clear();
        }
        check_mpi(code, what)
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
