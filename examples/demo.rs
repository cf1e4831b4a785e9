//! Main demo (run by scripts/demo under mpirun -n 2): moves a 3 GiB complex128
//! array from rank 0 to rank 1 with send_rows/recv_rows_into, verifies it,
//! compares with raw MPI_Send/MPI_Recv of 1 GiB pieces, then broadcasts it.

use mpi::traits::*;
use ndarray::Array2;
use num_complex::Complex64;
use std::os::raw::c_void;

fn main() {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let gib: usize = std::env::var("DGAMPI_DEMO_GIB").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let row_elems = 4096; // 64 KiB rows
    let nrows = gib * (1 << 30) / (row_elems * 16);
    let total = nrows * row_elems * 16;
    let bytes = total as f64;
    let expected = |i: usize, j: usize| Complex64::new(i as f64, j as f64);
    if world.size() < 2 {
        eprintln!("demo needs 2 ranks");
        return;
    }
    let rank = world.rank();
    let mut a = if rank == 0 {
        Array2::from_shape_fn((nrows, row_elems), |(i, j)| expected(i, j))
    } else {
        Array2::<Complex64>::zeros((nrows, row_elems))
    };
    world.barrier();
    let t0 = mpi::time();
    if rank == 0 {
        dgampi::send_rows(&world, &a, 1, 0, 0).expect("send_rows");
    } else if rank == 1 {
        dgampi::recv_rows_into(&world, &mut a, 0, 0, 0).expect("recv_rows_into");
    }
    world.barrier();
    let t_lib = mpi::time() - t0;
    let verify = |a: &Array2<Complex64>| a.indexed_iter().step_by(9973).all(|((i, j), v)| *v == expected(i, j));
    let received_ok = rank != 1 || verify(&a);

    let piece = 1usize << 30;
    let ptr = a.as_mut_ptr() as *mut u8;
    world.barrier();
    let t0 = mpi::time();
    let mut off = 0;
    while off < total {
        let n = piece.min(total - off) as i32;
        unsafe {
            if rank == 0 {
                mpi::ffi::MPI_Send(ptr.add(off) as *const c_void, n, mpi::ffi::RSMPI_UINT8_T, 1, 7, world.as_raw());
            } else if rank == 1 {
                mpi::ffi::MPI_Recv(ptr.add(off) as *mut c_void, n, mpi::ffi::RSMPI_UINT8_T, 0, 7, world.as_raw(), mpi::ffi::RSMPI_STATUS_IGNORE);
            }
        }
        off += piece;
    }
    world.barrier();
    let t_raw = mpi::time() - t0;

    let t0 = mpi::time();
    dgampi::bcast_rows_into(&world, &mut a, 0, 0).expect("bcast_rows_into");
    let t_bcast = mpi::time() - t0;
    let ok = received_ok && verify(&a);
    println!("rank {rank} verified its data after receive and broadcast: {}", if ok { "OK" } else { "MISMATCH" });
    if rank == 0 {
        let gbps = |t: f64| bytes / t / 1e9;
        println!("dgampi demo: {:.2} GiB complex128 as {nrows} rows of 64 KiB, limit {} bytes", bytes / (1u64 << 30) as f64, dgampi::max_message_bytes());
        println!("{:<32} {:>10} {:>10}", "step", "seconds", "GB/s");
        println!("{:<32} {:>10.3} {:>10.2}", "send_rows/recv_rows_into", t_lib, gbps(t_lib));
        println!("{:<32} {:>10.3} {:>10.2}", "raw MPI_Send/Recv 1 GiB pieces", t_raw, gbps(t_raw));
        println!("{:<32} {:>10.3} {:>10.2}", "bcast_rows_into", t_bcast, gbps(t_bcast));
        println!("ratio dgampi/raw throughput: {:.3}", t_raw / t_lib);
    }
    if !ok {
        std::process::exit(1);
    }
}
