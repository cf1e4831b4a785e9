//! dgampi: MPI data movement for Brillouin-zone many-body codes.
//!
//! Layers, bottom up: bound math ([`bounds`], [`limit`], [`layout`]) →
//! element types and buffers ([`element`], [`buffer`], [`comm`]) → chunked
//! primitives ([`primitives`]) → the work distributor ([`distributor`], with
//! the per-rank HDF5 spill file [`spill`]) → the row-movement engine
//! ([`engine`]) → BZ maps, frequency re-layout and the distributed FFT
//! ([`bzmap`], [`orbital`], [`freq`], [`fft`]) → C ABI ([`ffi`]). Every message
//! stays below the process-wide limit ([`limit::max_message_bytes`]).

pub mod bounds;
pub mod buffer;
pub mod bzmap;
pub mod comm;
pub mod distributor;
pub mod element;
pub mod engine;
pub mod error;
pub mod failure;
pub mod ffi;
pub mod fft;
pub mod freq;
pub mod layout;
pub mod limit;
pub mod orbital;
pub mod primitives;
pub mod requests;
pub mod spill;

pub use bounds::{chunk_step, row_chunks, Chunk, RowChunks};
pub use distributor::Distributor;
pub use element::{DType, Element};
pub use error::{Error, Result, Status};
pub use fft::{execute_distributed_fft, pencil_indices, FftOptions, FftPlan};
pub use layout::BlockLayout;
pub use limit::{max_message_bytes, process_limit, set_max_message_bytes};
pub use primitives::{bcast_rows, bcast_rows_into, recv_bytes, recv_rows_alloc, recv_rows_into, send_bytes, send_rows};
pub use spill::SpillFile;

/// Re-export of the rsmpi crate dgampi is built on.
pub use mpi;
