//! dgampi: MPI data movement for Brillouin-zone many-body codes.
//!
//! Layers, bottom up (each uses only the ones before it):
//! 1. bound math: [`bounds`] (chunk schedules), [`limit`] (the message
//!    limit), [`layout`] (block splits);
//! 2. elements, buffers and MPI handles: [`element`], `buffer` (the
//!    lifetimed views [`ArrayRef`] / [`ArrayMut`] over the internal
//!    descriptor), `comm` (checked MPI calls, [`CommRef`]), `failure`
//!    (poisoning), `requests`;
//! 3. the collective agreement, `collective`: what every collective agrees
//!    on before data moves, and what each failure returns;
//! 4. chunked point-to-point and broadcast primitives (`primitives`, public
//!    through the re-exports below);
//! 5. the row-movement engine, [`engine`];
//! 6. the work distributor, [`distributor`] (its collectives use the
//!    primitives and the engine), with the per-rank HDF5 spill file [`spill`];
//! 7. BZ maps, orbital transforms, frequency re-layout and the distributed
//!    FFT: [`bzmap`], [`orbital`], [`freq`], [`fft`];
//! 8. the C ABI (`ffi`, exported as `dgampi_*` symbols, header
//!    `include/dgampi.h`).
//!
//! Every message stays below the process-wide limit
//! ([`limit::max_message_bytes`]).
//!
//! Soundness: safe code cannot cause undefined behaviour through this API.
//! Arrays are lent through [`ArrayRef`] / [`ArrayMut`] (or ndarray
//! references), whose lifetimes keep the memory alive and unaliased for the
//! call; constructors taking raw MPI handles or raw pointers are `unsafe fn`
//! with their contracts written down; a distributor lends its communicator
//! as a [`CommRef`], which cannot be freed or outlive it. Thread safety does
//! not depend on the MPI library: [`Distributor`] and [`FftPlan`] are
//! `!Send + !Sync` with Open MPI and MPICH alike (they run collectives on
//! their communicators and stay on the thread that created them), while
//! plain data ([`engine::RowPlan`], [`BlockLayout`], [`FftOptions`],
//! [`Error`]) is `Send + Sync`.
//!
//! ```compile_fail
//! fn needs_send<T: Send>(_: T) {}
//! fn misuse(d: dgampi::Distributor) {
//!     needs_send(d); // error[E0277]: a distributor stays on its thread
//! }
//! ```
//!
//! ```compile_fail
//! fn misuse(comm: mpi::ffi::MPI_Comm) {
//!     // error[E0133]: a raw handle can only be trusted in an unsafe block
//!     let _ = dgampi::Distributor::from_raw(comm, 4, "x", None);
//! }
//! ```
//!
//! The same code with the contract taken on explicitly compiles:
//!
//! ```no_run
//! fn sent<T: Send + Sync>(_: &T) {}
//! fn fine(comm: mpi::ffi::MPI_Comm, plan: &dgampi::engine::RowPlan) -> dgampi::Result<()> {
//!     sent(plan);
//!     // SAFETY: `comm` is a valid communicator of this MPI library.
//!     let d = unsafe { dgampi::Distributor::from_raw(comm, 4, "x", None)? };
//!     let a = ndarray::Array2::<f64>::zeros((d.my_size(), 3));
//!     let view = dgampi::ArrayRef::new(&a)?;
//!     assert_eq!(view.shape(), &[d.my_size(), 3]);
//!     let world = d.comm();
//!     let _copy = mpi::topology::Communicator::duplicate(&*world);
//!     Ok(())
//! }
//! ```

#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod bounds;
pub(crate) mod buffer;
pub mod bzmap;
pub(crate) mod bzplan;
pub(crate) mod collective;
pub(crate) mod comm;
pub mod distributor;
pub mod element;
pub mod engine;
pub mod error;
pub(crate) mod failure;
pub(crate) mod ffi;
pub mod fft;
pub mod freq;
pub mod layout;
pub mod limit;
pub mod mpi_abi;
pub mod orbital;
pub(crate) mod parallel;
pub(crate) mod primitives;
pub(crate) mod requests;
pub mod route;
pub mod spill;

pub use bounds::{chunk_step, row_chunks, Chunk, RowChunks};
pub use buffer::{ArrayMut, ArrayRef, MAX_NDIM};
pub use bzmap::MapPlan;
pub use freq::VslicePlan;
pub use comm::CommRef;
pub use distributor::Distributor;
pub use element::{DType, Element};
pub use error::{Error, Result, Status};
pub use fft::{execute_distributed_fft, pencil_indices, FftOptions, FftPlan, LocalLayout, Transposition};
pub use layout::BlockLayout;
pub use limit::{max_message_bytes, process_limit, set_max_message_bytes};
pub use mpi_abi::{check_mpi_library, mpi_build, MpiBuild, MpiFamily};
pub use route::{exchange_path, set_exchange_path, ExchangePath, ExchangeRoute};
pub use primitives::{bcast_rows, bcast_rows_into, recv_bytes, recv_rows_alloc, recv_rows_into, send_bytes, send_rows};
pub use spill::SpillFile;

/// Re-export of the rsmpi crate dgampi is built on.
pub use mpi;
