//! Multi-rank tests of the chunked primitives (run under mpirun by the harness).

mod common;

use common::{ensure, pattern, Case, TestElem};
use dgampi::{bcast_rows, bcast_rows_into, recv_bytes, recv_rows_alloc, recv_rows_into, send_bytes, send_rows, Status};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::{s, ArrayD, IxDyn};

const SHAPES: [&[usize]; 6] = [&[7], &[5, 3], &[4, 2, 3], &[0, 3], &[3, 0], &[1, 9]];

fn ring(world: &SimpleCommunicator) -> (i32, i32) {
    let (r, n) = (world.rank(), world.size());
    ((r + 1) % n, (r + n - 1) % n)
}

/// Even ranks send first, odd ranks receive first: no cycle of blocked sends.
/// At one rank that is a send to self, ignored where the MPI does not buffer it.
fn exchange(world: &SimpleCommunicator, send: impl FnOnce() -> Result<(), String>, recv: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    common::skip_unless_self_send_buffered(world)?;
    if world.rank() % 2 == 0 {
        send()?;
        recv()
    } else {
        recv()?;
        send()
    }
}

fn ring_rows<T: TestElem>(world: &SimpleCommunicator) -> Result<(), String> {
    let (next, prev) = ring(world);
    for (k, shape) in SHAPES.iter().enumerate() {
        let tag = 10 * k as i32;
        let mine = pattern::<T>(shape, world.rank() as u64);
        let mut got = ArrayD::<T>::default(IxDyn(shape));
        exchange(
            world,
            || send_rows(world, &mine, next, tag, 0).map_err(|e| e.to_string()),
            || recv_rows_into(world, &mut got, prev, tag, 0).map_err(|e| e.to_string()),
        )?;
        let expected = pattern::<T>(shape, prev as u64);
        ensure(got == expected, || format!("{} shape {shape:?}: received {got:?}, expected {expected:?}", T::DTYPE.name()))?;
    }
    Ok(())
}

fn case_ring_all_dtypes(world: &SimpleCommunicator) -> Result<(), String> {
    for_each_dtype!(T => { ring_rows::<T>(world)?; });
    Ok(())
}

fn case_recv_alloc(world: &SimpleCommunicator) -> Result<(), String> {
    let (next, prev) = ring(world);
    let shape = [6usize, 2, 2];
    let mine = pattern::<num_complex::Complex64>(&shape, world.rank() as u64 + 3);
    let mut got = None;
    exchange(
        world,
        || send_rows(world, &mine, next, 5, 0).map_err(|e| e.to_string()),
        || {
            got = Some(recv_rows_alloc::<num_complex::Complex64, _>(world, &shape, prev, 5, 0).map_err(|e| e.to_string())?);
            Ok(())
        },
    )?;
    ensure(got.unwrap() == pattern(&shape, prev as u64 + 3), || "recv_rows_alloc returned wrong data".into())
}

fn case_strided_send_and_receive(world: &SimpleCommunicator) -> Result<(), String> {
    let (next, prev) = ring(world);
    let big = pattern::<f64>(&[9, 8], world.rank() as u64);
    let view = big.slice(s![1..;2, ..;3]); // 4 x 3, non-contiguous
    let mut target = ArrayD::<f64>::from_elem(IxDyn(&[4, 7]), -1.0);
    exchange(
        world,
        || send_rows(world, &view, next, 1, 0).map_err(|e| e.to_string()),
        || {
            let mut dst = target.slice_mut(s![.., 1..;2]); // 4 x 3, non-contiguous
            recv_rows_into(world, &mut dst, prev, 1, 0).map_err(|e| e.to_string())
        },
    )?;
    let src = pattern::<f64>(&[9, 8], prev as u64);
    for i in 0..4 {
        for j in 0..7 {
            let expected = if j % 2 == 1 { src[[1 + 2 * i, 3 * (j / 2)]] } else { -1.0 };
            ensure(target[[i, j]] == expected, || format!("target[{i},{j}] = {} expected {expected}", target[[i, j]]))?;
        }
    }
    Ok(())
}

fn case_explicit_limit(world: &SimpleCommunicator) -> Result<(), String> {
    // An explicit limit below the one in force is honoured (rows of 24 bytes in 7-byte pieces).
    let (next, prev) = ring(world);
    let limit = common::limit_in_force().min(7);
    let mine = pattern::<f64>(&[5, 3], world.rank() as u64);
    let mut got = ArrayD::<f64>::zeros(IxDyn(&[5, 3]));
    exchange(
        world,
        || send_rows(world, &mine, next, 100, limit).map_err(|e| e.to_string()),
        || recv_rows_into(world, &mut got, prev, 100, limit).map_err(|e| e.to_string()),
    )?;
    ensure(got == pattern(&[5, 3], prev as u64), || "explicit-limit transfer corrupted".into())
}

fn bcast_each_root<T: TestElem>(world: &SimpleCommunicator) -> Result<(), String> {
    for root in 0..world.size() {
        for shape in SHAPES {
            let expected = pattern::<T>(shape, 50 + root as u64);
            let mut buf = if world.rank() == root { expected.clone() } else { ArrayD::<T>::default(IxDyn(shape)) };
            bcast_rows_into(world, &mut buf, root, 0).map_err(|e| e.to_string())?;
            ensure(buf == expected, || format!("bcast_rows_into {} {shape:?} root {root} wrong", T::DTYPE.name()))?;

            let got = if world.rank() == root {
                bcast_rows(world, Some(&expected), root, 0)
            } else {
                bcast_rows::<T, ndarray::OwnedRepr<T>, IxDyn, _>(world, None, root, 0)
            }
            .map_err(|e| e.to_string())?;
            match got {
                None => ensure(world.rank() == root, || "non-root got no array".into())?,
                Some(a) => ensure(a == expected, || format!("bcast_rows {} {shape:?} wrong", T::DTYPE.name()))?,
            }
        }
    }
    Ok(())
}

fn case_bcast_all_dtypes(world: &SimpleCommunicator) -> Result<(), String> {
    for_each_dtype!(T => { bcast_each_root::<T>(world)?; });
    Ok(())
}

fn case_bcast_strided(world: &SimpleCommunicator) -> Result<(), String> {
    let root = world.size() - 1;
    let src = pattern::<i64>(&[6, 5], 9);
    let mut full = if world.rank() == root { src.clone() } else { ArrayD::<i64>::zeros(IxDyn(&[6, 5])) };
    let mut view = full.slice_mut(s![..;2, 1..4]);
    bcast_rows_into(world, &mut view, root, 0).map_err(|e| e.to_string())?;
    for i in 0..6 {
        for j in 0..5 {
            let inside = i % 2 == 0 && (1..4).contains(&j);
            let expected = if inside || world.rank() == root { src[[i, j]] } else { 0 };
            ensure(full[[i, j]] == expected, || format!("full[{i},{j}] = {}", full[[i, j]]))?;
        }
    }
    Ok(())
}

fn case_bytes(world: &SimpleCommunicator) -> Result<(), String> {
    if world.size() < 2 {
        return Ok(()); // a blocking self-send of a blob is not a supported pattern
    }
    let (next, prev) = ring(world);
    for (k, len) in [0usize, 1, 17, 1000].into_iter().enumerate() {
        let tag = 200 + 2000 * k as i32;
        let blob: Vec<u8> = (0..len).map(|i| (i as u64 * 31 + world.rank() as u64) as u8).collect();
        let mut got = Vec::new();
        exchange(
            world,
            || send_bytes(world, &blob, next, tag, 0).map_err(|e| e.to_string()),
            || {
                got = recv_bytes(world, prev, tag).map_err(|e| e.to_string())?;
                Ok(())
            },
        )?;
        let expected: Vec<u8> = (0..len).map(|i| (i as u64 * 31 + prev as u64) as u8).collect();
        ensure(got == expected, || format!("blob of {len} bytes corrupted"))?;
    }
    Ok(())
}

/// A receive buffer of another shape (fewer rows, more rows, fewer columns)
/// gets a mismatch, and every chunk of the transfer is drained: the next
/// transfer on the same tags arrives intact (before the header protocol,
/// fewer rows returned OK with chunks left queued, and more rows hung).
fn case_receive_shape_mismatch(world: &SimpleCommunicator) -> Result<(), String> {
    if world.size() < 2 {
        return Ok(());
    }
    let tag = 30_000;
    for wrong_shape in [[3usize, 3], [5, 3], [4, 2]] {
        if world.rank() == 0 {
            send_rows(world, &pattern::<f64>(&[4, 3], 0), 1, tag, 0).map_err(|e| e.to_string())?;
            send_rows(world, &pattern::<f64>(&[4, 3], 7), 1, tag, 0).map_err(|e| e.to_string())?;
        } else if world.rank() == 1 {
            let mut wrong = ArrayD::<f64>::zeros(IxDyn(&wrong_shape));
            let err = recv_rows_into(world, &mut wrong, 0, tag, 0).err().ok_or("mismatch not detected")?;
            ensure(err.status == Status::Mismatch, || format!("status {:?}", err.status))?;
            ensure(err.message.contains("drained"), || err.message.clone())?;
            let mut right = ArrayD::<f64>::zeros(IxDyn(&[4, 3]));
            recv_rows_into(world, &mut right, 0, tag, 0).map_err(|e| e.to_string())?;
            ensure(right == pattern::<f64>(&[4, 3], 7), || format!("{wrong_shape:?}: the next transfer arrived corrupted"))?;
        }
    }
    Ok(())
}

fn case_bcast_shape_mismatch_fails_everywhere(world: &SimpleCommunicator) -> Result<(), String> {
    let shape: Vec<usize> = if world.rank() == 0 || world.size() == 1 { vec![4, 3] } else { vec![4, 2] };
    let mut buf = ArrayD::<f32>::zeros(IxDyn(&shape));
    let result = bcast_rows_into(world, &mut buf, 0, 0);
    if world.size() == 1 {
        return ensure(result.is_ok(), || "single-rank bcast failed".into());
    }
    // The shapes meet in the opening agreement: every rank learns that they differ.
    let err = result.err().ok_or("mismatch not reported on this rank")?;
    ensure(err.status == Status::Mismatch && err.message.contains("shape of the broadcast array differs"), || {
        format!("status {:?}, expected Mismatch: {}", err.status, err.message)
    })
}

fn case_bad_peers_and_tags(world: &SimpleCommunicator) -> Result<(), String> {
    let a = pattern::<f64>(&[10], 1);
    let err = send_rows(world, &a, world.size(), 0, 0).err().ok_or("bad destination accepted")?;
    ensure(err.status == Status::OutOfRange, || format!("{err}"))?;
    let err = send_rows(world, &a, 0, -1, 0).err().ok_or("negative tag accepted")?;
    ensure(err.status == Status::OutOfRange, || format!("{err}"))?;
    let ub = tag_ub(world);
    let limit = common::limit_in_force().min(8); // 10 chunks
    let err = send_rows(world, &a, 0, ub - 3, limit).err().ok_or("tag overflow accepted")?;
    ensure(err.status == Status::OutOfRange && err.message.contains("MPI_TAG_UB"), || format!("{err}"))?;
    let mut b = a.clone();
    let err = recv_rows_into(world, &mut b, 0, ub - 3, limit).err().ok_or("tag overflow accepted on receive")?;
    ensure(err.status == Status::OutOfRange, || format!("{err}"))?;
    let err = bcast_rows_into(world, &mut b, world.size() + 2, 0).err().ok_or("bad root accepted")?;
    ensure(err.status == Status::OutOfRange, || format!("{err}"))
}

/// `MPI_TAG_UB` of `comm`, read through the MPI C API.
fn tag_ub(comm: &SimpleCommunicator) -> i32 {
    let mut value: *mut std::os::raw::c_void = std::ptr::null_mut();
    let mut flag = 0;
    // SAFETY: MPI_TAG_UB is a predefined attribute; MPI stores a pointer to an int in value.
    unsafe {
        let attr = mpi::ffi::MPI_TAG_UB as i32;
        mpi::ffi::MPI_Comm_get_attr(mpi::raw::AsRaw::as_raw(comm), attr, (&mut value) as *mut _ as *mut std::os::raw::c_void, &mut flag);
        if flag == 0 || value.is_null() { 32767 } else { *(value as *const i32) }
    }
}

fn check_not_initialized() -> Result<(), String> {
    // The launcher never initializes MPI.
    // SAFETY: MPI_COMM_WORLD is a valid handle value; dgampi must refuse before using it.
    let err = unsafe { dgampi::Distributor::from_raw(mpi::ffi::RSMPI_COMM_WORLD, 1, "x", None) }.err().ok_or("accepted")?;
    ensure(err.status == Status::MpiNotInitialized, || format!("{err}"))
}

fn main() {
    let cases: &[Case] = &[
        ("ring_all_dtypes", case_ring_all_dtypes),
        ("recv_alloc", case_recv_alloc),
        ("strided_send_and_receive", case_strided_send_and_receive),
        ("explicit_limit", case_explicit_limit),
        ("bcast_all_dtypes", case_bcast_all_dtypes),
        ("bcast_strided", case_bcast_strided),
        ("bytes", case_bytes),
        ("receive_shape_mismatch", case_receive_shape_mismatch),
        ("bcast_shape_mismatch_fails_everywhere", case_bcast_shape_mismatch_fails_everywhere),
        ("bad_peers_and_tags", case_bad_peers_and_tags),
    ];
    common::main(
        "mpi_primitives",
        cases,
        &[("checker_catches_oversize", common::checker_catches_oversize), ("not_initialized", check_not_initialized)],
    );
}
