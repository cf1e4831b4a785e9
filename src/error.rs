//! Error type and status codes shared by the Rust API and the C ABI.

use std::fmt;

/// Outcome of a dgampi call; `Ok` is 0. Exported to C as `dgampi_status`.
///
/// Collective calls agree on their arguments before moving data, so an error
/// found on one rank is returned there and as `RemoteError` on the others. A
/// failure after that agreement, while data moves, cannot be agreed: every
/// pending request is waited for before the call returns, and the object
/// (distributor, FFT plan) becomes unusable: its later calls return
/// `Poisoned` on that rank and `RemoteError` on the others, so no rank waits.
/// A rank that could not post a message its peers wait for prints the error
/// and calls `MPI_Abort` on the object's communicator instead of leaving the
/// job hanging. Not detectable: a NULL or stale handle, or `MPI_COMM_NULL`,
/// on only one rank of a collective leaves the others waiting.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was null.
    NullArgument = 1,
    /// An argument has an invalid value (negative size, unknown dtype code, ...).
    InvalidArgument = 2,
    /// Shapes, dtypes or sizes disagree (between arguments or between ranks).
    Mismatch = 3,
    /// A limit, tag range or size conversion is out of range.
    OutOfRange = 4,
    /// MPI is not initialized (or already finalized).
    MpiNotInitialized = 5,
    /// An MPI call returned an error code.
    MpiError = 6,
    /// An internal error (a caught panic or a broken invariant).
    Internal = 7,
    /// Memory could not be allocated.
    AllocationFailed = 8,
    /// Another rank of a collective call reported an error.
    RemoteError = 9,
    /// An HDF5 call failed (the message names the file and the dataset).
    Hdf5Error = 10,
    /// A named item (dataset, file) does not exist.
    NotFound = 11,
    /// A handle is null, already destroyed, or otherwise unusable.
    InvalidHandle = 12,
    /// The object is unusable: an earlier call failed after its ranks had
    /// started moving data (the message names that first failure).
    Poisoned = 13,
}

impl Status {
    /// Converts a raw code back into a status (unknown codes become `Internal`).
    pub fn from_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::NullArgument,
            2 => Status::InvalidArgument,
            3 => Status::Mismatch,
            4 => Status::OutOfRange,
            5 => Status::MpiNotInitialized,
            6 => Status::MpiError,
            8 => Status::AllocationFailed,
            9 => Status::RemoteError,
            10 => Status::Hdf5Error,
            11 => Status::NotFound,
            12 => Status::InvalidHandle,
            13 => Status::Poisoned,
            _ => Status::Internal,
        }
    }
}

/// An error: a status plus a human sentence naming the offending value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The status code this error maps to in the C ABI.
    pub status: Status,
    /// A sentence describing what went wrong.
    pub message: String,
}

impl Error {
    /// Builds an error from a status and a message.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }
    /// Shorthand for `Status::InvalidArgument`.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }
    /// Shorthand for `Status::Mismatch`.
    pub fn mismatch(message: impl Into<String>) -> Error {
        Error::new(Status::Mismatch, message)
    }
    /// Shorthand for `Status::OutOfRange`.
    pub fn out_of_range(message: impl Into<String>) -> Error {
        Error::new(Status::OutOfRange, message)
    }
    /// Shorthand for `Status::NullArgument`.
    pub fn null(message: impl Into<String>) -> Error {
        Error::new(Status::NullArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.message, self.status)
    }
}

impl std::error::Error for Error {}

/// Result alias used throughout dgampi.
pub type Result<T> = std::result::Result<T, Error>;
