//! The C ABI (`include/dgampi.h`, prefix `dgampi_`).
//!
//! Conventions: every function returns a `dgampi_status` (0 = OK) and records a
//! sentence for `dgampi_last_error_message`; no panic crosses the boundary;
//! arrays travel as [`array::dgampi_array`] strided descriptors; every entry
//! point taking an `MPI_Comm` has a `_f` twin taking the Fortran handle
//! (`MPI_Fint`, what mpi4py's `comm.py2f()` returns). Memory the library
//! allocates for the caller is released with `dgampi_free`.

// Safety contract of every entry point: pointers are valid for the sizes the
// documentation names, as usual in C; the library checks what it can (NULL,
// codes, sizes, handles) and reports the rest as statuses.
#![allow(clippy::missing_safety_doc)]

pub mod array;
pub mod bzmap;
pub mod core;
pub mod distributor;
pub mod fft;
pub mod primitives;
pub mod record;

use crate::comm::{check_comm_handle, check_intracomm, comm_from_fortran_checked, ensure_initialized};
use crate::error::Result;
use mpi::ffi::MPI_Comm;

/// Fortran communicator handle, the `MPI_Fint` of `mpi.h` (the header
/// declares no type of its own: it uses `mpi.h`'s).
#[allow(non_camel_case_types)]
pub type MPI_Fint = crate::comm::MpiFint;

/// A communicator argument in either language binding.
#[derive(Clone, Copy)]
pub(crate) enum CommArg {
    /// A C handle.
    C(MPI_Comm),
    /// A Fortran handle, converted after MPI is known to be initialized.
    F(MPI_Fint),
}

impl CommArg {
    /// The C handle, after checking that MPI is initialized and that the
    /// handle is not `MPI_COMM_NULL` nor a value that names no communicator
    /// (`DGAMPI_STATUS_INVALID_ARGUMENT`; see `comm::check_comm_handle`).
    pub(crate) fn resolve(self) -> Result<MPI_Comm> {
        ensure_initialized()?;
        match self {
            CommArg::C(c) => check_comm_handle(c, "the communicator").map(|()| c),
            CommArg::F(f) => comm_from_fortran_checked(f),
        }
    }

    /// [`CommArg::resolve`] for collectives: also rejects intercommunicators
    /// (every rank of an intercommunicator gets the same answer, so no rank
    /// is left waiting).
    pub(crate) fn resolve_intra(self) -> Result<MPI_Comm> {
        let comm = self.resolve()?;
        check_intracomm(comm)?;
        Ok(comm)
    }
}
