//! W-P2P (shared/WORKLOADS.md): send_rows / recv_rows_into, rank 0 → rank 1,
//! 3 GiB (× --scale) of complex128 as rows of 64 KiB, at the default limit.
//!
//! Cases, interleaved per repetition:
//! - `dgampi`: `send_rows` on rank 0, `recv_rows_into` a preallocated array on rank 1;
//! - `raw_mpi` (anchor): the same bytes as raw `MPI_Send`/`MPI_Recv` of 1 GiB pieces;
//! - `memcpy` (anchor): `copy_from_slice` of the same bytes on rank 0 alone.
//!
//! The receiver's data is checked element by element after the dgampi warm-up.
//! Ranks beyond 2 idle (they only join the barriers). Extra flag: `--limit BYTES`
//! (explicit message limit for dgampi; default 0 = the process-wide limit).
//!
//! Run: `scripts/bench w_p2p [--reps N] [--scale N] [--out DIR] [--limit BYTES]`.

#[path = "common/mod.rs"]
mod common;

use common::{Bench, Case, Json};
use mpi::traits::*;
use ndarray::Array2;
use num_complex::Complex64;
use std::os::raw::c_void;

const ROW_ELEMS: usize = 4096; // 64 KiB rows of complex128
const BASE_ROWS: usize = 3 * (1 << 30) / (ROW_ELEMS * 16); // 3 GiB
const PIECE: usize = 1 << 30; // raw anchor: 1 GiB per MPI_Send
const RAW_TAG: i32 = 1000;
const POISON: Complex64 = Complex64::new(-1.0, -1.0);

/// The value at flat index `k` (unique per position, never equal to POISON).
fn pattern(k: usize) -> Complex64 {
    Complex64::new(k as f64, 0.5 + (k % 65521) as f64)
}

struct State {
    rank: i32,
    comm: mpi::ffi::MPI_Comm,
    limit: usize,
    total: usize,
    /// Rank 0: the rows to send; rank 1: the receive buffer.
    rows: Option<Array2<Complex64>>,
    /// Rank 0: memcpy destination.
    copy: Vec<Complex64>,
}

fn check_mpi(code: i32, what: &str) {
    if code != 0 {
        panic!("{what} returned MPI error code {code}");
    }
}

fn dgampi_case(world: &mpi::topology::SimpleCommunicator, s: &mut State) {
    match (s.rank, s.rows.as_mut()) {
        (0, Some(a)) => dgampi::send_rows(world, a, 1, 0, s.limit).expect("send_rows"),
        (1, Some(a)) => dgampi::recv_rows_into(world, a, 0, 0, s.limit).expect("recv_rows_into"),
        _ => {}
    }
}

fn raw_case(s: &mut State) {
    let Some(a) = s.rows.as_mut() else { return };
    let ptr = a.as_mut_ptr() as *mut u8;
    let mut off = 0;
    let mut i = 0;
    while off < s.total {
        let n = PIECE.min(s.total - off) as i32;
        // SAFETY: ptr + off .. + n lies inside the array (total bytes, C-contiguous).
        unsafe {
            if s.rank == 0 {
                check_mpi(mpi::ffi::MPI_Send(ptr.add(off) as *const c_void, n, mpi::ffi::RSMPI_UINT8_T, 1, RAW_TAG + i, s.comm), "MPI_Send");
            } else {
                check_mpi(
                    mpi::ffi::MPI_Recv(ptr.add(off) as *mut c_void, n, mpi::ffi::RSMPI_UINT8_T, 0, RAW_TAG + i, s.comm, mpi::ffi::RSMPI_STATUS_IGNORE),
                    "MPI_Recv",
                );
            }
        }
        off += PIECE;
        i += 1;
    }
}

fn memcpy_case(s: &mut State) {
    if s.rank == 0 {
        let src = s.rows.as_ref().and_then(|a| a.as_slice()).expect("contiguous source");
        s.copy.copy_from_slice(src);
        std::hint::black_box(&mut s.copy);
    }
}

fn verify(s: &mut State) -> Result<(), String> {
    if s.rank != 1 {
        return Ok(());
    }
    let a = s.rows.as_ref().and_then(|a| a.as_slice()).ok_or("receive buffer not contiguous")?;
    let bad = a.iter().enumerate().filter(|&(k, v)| *v != pattern(k)).count();
    if bad == 0 {
        return Ok(());
    }
    let first = a.iter().enumerate().position(|(k, v)| *v != pattern(k)).unwrap_or(0);
    Err(format!(
        "{bad} of {} elements differ; first at flat index {first} (row {}, col {}): got {}, expected {}",
        a.len(),
        first / ROW_ELEMS,
        first % ROW_ELEMS,
        a[first],
        pattern(first)
    ))
}

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let rank = world.rank();
    let mut args = common::parse_args_or_exit(rank);
    let limit_arg = match args.take_value("--limit").and_then(|v| match v {
        None => Ok(0usize),
        Some(t) => t.parse::<usize>().map_err(|_| format!("--limit {t:?}: expected a byte count")),
    }) {
        Ok(l) => l,
        Err(e) => {
            if rank == 0 {
                eprintln!("error: {e}");
            }
            std::process::exit(2);
        }
    };
    if let Err(e) = args.finish() {
        if rank == 0 {
            eprintln!("error: {e}");
        }
        std::process::exit(2);
    }
    if world.size() < 2 {
        if rank == 0 {
            eprintln!("w_p2p needs at least 2 ranks (run it with mpirun -n 2)");
        }
        std::process::exit(2);
    }

    let nrows = args.scaled(BASE_ROWS);
    let row_bytes = ROW_ELEMS * 16;
    let total = nrows * row_bytes;
    let limit = if limit_arg == 0 { dgampi::max_message_bytes() } else { limit_arg };
    let plan = dgampi::row_chunks(nrows, row_bytes, limit).expect("chunk plan");

    let mut bench = Bench::new(&world, "W-P2P", "w_p2p", args);
    bench.param("total_bytes", Json::int(total as u64));
    bench.param("shape", Json::Arr(vec![Json::int(nrows as u64), Json::int(ROW_ELEMS as u64)]));
    bench.param("dtype", Json::str("complex128"));
    bench.param("row_bytes", Json::int(row_bytes as u64));
    bench.param("limit_bytes", Json::int(limit as u64));
    bench.param("limit_source", Json::str(if limit_arg == 0 { "process-wide default" } else { "--limit" }));
    bench.param("dgampi_messages", Json::int(plan.count() as u64));
    bench.param("dgampi_max_message_bytes", Json::int(plan.max_chunk_bytes() as u64));
    bench.param("raw_piece_bytes", Json::int(PIECE as u64));
    bench.param("raw_messages", Json::int(total.div_ceil(PIECE) as u64));

    // Allocate and touch every page before any timing: the sender's rows hold
    // the pattern, the receiver's rows and the memcpy destination hold POISON.
    bench.progress(&format!("allocating and filling {} per buffer", common::human_bytes(total as u64)));
    let rows = match rank {
        0 => Some(Array2::from_shape_fn((nrows, ROW_ELEMS), |(i, j)| pattern(i * ROW_ELEMS + j))),
        1 => Some(Array2::from_elem((nrows, ROW_ELEMS), POISON)),
        _ => None,
    };
    let copy = if rank == 0 { vec![POISON; nrows * ROW_ELEMS] } else { Vec::new() };
    let mut state = State { rank, comm: world.as_raw(), limit: limit_arg, total, rows, copy };

    let w = &world;
    let bytes = total as u64;
    let cases = vec![
        Case::new("dgampi", "send_rows / recv_rows_into a preallocated array, rank 0 -> 1", bytes, move |s: &mut State| {
            dgampi_case(w, s)
        })
        .check(verify),
        Case::new("raw_mpi", "raw MPI_Send / MPI_Recv of 1 GiB MPI_BYTE pieces, rank 0 -> 1", bytes, raw_case).anchor(),
        Case::new("memcpy", "copy_from_slice of the same bytes on rank 0 (others wait)", bytes, memcpy_case).anchor(),
    ];
    bench.run_cases(&mut state, cases);

    let ratio = {
        let find = |n: &str| bench.results.iter().find(|r| r.name == n).expect("case");
        find("dgampi").ratio_to(find("raw_mpi"))
    };
    bench.note(format!(
        "acceptance: dgampi/raw_mpi throughput {ratio:.3} (target >= 0.95): {}",
        if ratio >= 0.95 { "MET" } else { "NOT MET" }
    ));
    drop(state);
    bench.finish();
}
