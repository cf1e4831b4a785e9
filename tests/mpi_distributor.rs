//! Multi-rank tests of the work distributor (run under mpirun by the harness):
//! every collective against a serial reference, at every rank count and limit.

mod common;

use common::{ensure, pattern, Case, TestElem};
use dgampi::{BlockLayout, Distributor, Status};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::{s, ArrayD, Axis, IxDyn, Slice};

/// Task counts: none, fewer than ranks, uneven, larger.
const NTASKS: [usize; 4] = [0, 1, 7, 10];
/// Trailing (per-task) shapes: 1-D, 2-D, 3-D, zero-size rows.
const ROWS: [&[usize]; 4] = [&[], &[3], &[2, 3], &[0]];

fn dist(world: &SimpleCommunicator, ntasks: usize) -> Result<Distributor, String> {
    Distributor::new(world, ntasks, "test", None).map_err(|e| e.to_string())
}

fn full_shape(ntasks: usize, row: &[usize]) -> Vec<usize> {
    std::iter::once(ntasks).chain(row.iter().copied()).collect()
}

/// This rank's rows of `full`.
fn my_block<T: TestElem>(d: &Distributor, full: &ArrayD<T>) -> ArrayD<T> {
    full.slice_axis(Axis(0), Slice::from(d.my_tasks())).to_owned()
}

fn roots(world: &SimpleCommunicator) -> Vec<i32> {
    let mut r = vec![0, world.size() - 1];
    r.dedup();
    r
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn case_layout_accessors(world: &SimpleCommunicator) -> Result<(), String> {
    for n in NTASKS {
        let d = dist(world, n)?;
        let expected = BlockLayout::new(n, world.size() as usize).map_err(err)?;
        let r = world.rank() as usize;
        ensure(d.sizes() == expected.sizes() && d.offsets() == expected.offsets(), || format!("layout of {n} tasks"))?;
        ensure(d.ntasks() == n && d.mpi_size() == world.size() as usize && d.my_rank() == r, || "counts".into())?;
        ensure(d.is_root() == (r == 0), || "is_root".into())?;
        ensure(d.my_size() == expected.sizes()[r] && d.my_offset() == expected.offsets()[r], || "my block".into())?;
        ensure(d.my_tasks() == expected.range(r), || "my_tasks".into())?;
        ensure(d.comm().size() == world.size(), || "comm size".into())?;
        d.barrier().map_err(err)?;
    }
    if world.size() == 3 {
        let d = dist(world, 7)?;
        ensure(d.sizes() == [2, 2, 3] && d.offsets() == [0, 2, 4], || format!("7 on 3: {:?}", d.sizes()))?;
    }
    Ok(())
}

fn scatter_gather<T: TestElem>(world: &SimpleCommunicator) -> Result<(), String> {
    for n in NTASKS {
        let d = dist(world, n)?;
        for row in ROWS {
            let shape = full_shape(n, row);
            let full = pattern::<T>(&shape, 7);
            let mine = my_block(&d, &full);
            for root in roots(world) {
                let is_root = world.rank() == root;
                let input = is_root.then_some(&full);
                let got = d.scatter(input, root, 0).map_err(err)?;
                ensure(got == mine, || format!("scatter {} {shape:?} root {root}: {got:?} != {mine:?}", T::DTYPE.name()))?;
                let mut into = ArrayD::<T>::default(IxDyn(mine.shape()));
                d.scatter_into(input, &mut into, root, 0).map_err(err)?;
                ensure(into == mine, || format!("scatter_into {shape:?} root {root}"))?;

                let gathered = d.gather(&mine, root, 0).map_err(err)?;
                ensure(gathered.as_ref() == is_root.then_some(&full), || format!("gather {} {shape:?} root {root}", T::DTYPE.name()))?;
                let mut out = ArrayD::<T>::default(IxDyn(&shape));
                d.gather_into(&mine, is_root.then_some(&mut out), root, 0).map_err(err)?;
                ensure(!is_root || out == full, || format!("gather_into {shape:?} root {root}"))?;
            }
        }
    }
    Ok(())
}

fn case_scatter_gather_all_dtypes(world: &SimpleCommunicator) -> Result<(), String> {
    for_each_dtype!(T => { scatter_gather::<T>(world)?; });
    Ok(())
}

fn allgather_allreduce<T: TestElem>(world: &SimpleCommunicator) -> Result<(), String> {
    for n in NTASKS {
        let d = dist(world, n)?;
        for row in ROWS {
            let shape = full_shape(n, row);
            let full = pattern::<T>(&shape, 3);
            let mine = my_block(&d, &full);
            let got = d.allgather(&mine, 0).map_err(err)?;
            ensure(got == full, || format!("allgather {} {shape:?}: {got:?}", T::DTYPE.name()))?;
            let mut into = ArrayD::<T>::default(IxDyn(&shape));
            d.allgather_into(&mine, &mut into, 0).map_err(err)?;
            ensure(into == full, || format!("allgather_into {shape:?}"))?;

            let mut a = summand::<T>(&shape, world.rank() as u64);
            d.allreduce(&mut a, 0).map_err(err)?;
            let mut expected = summand::<T>(&shape, 0);
            for r in 1..world.size() {
                expected.zip_mut_with(&summand::<T>(&shape, r as u64), |x, y| *x = x.plus(*y));
            }
            ensure(a == expected, || format!("allreduce {} {shape:?}: {a:?} != {expected:?}", T::DTYPE.name()))?;
        }
    }
    Ok(())
}

/// Rank `r`'s allreduce input: small values, so that no sum overflows a u8
/// (integer overflow in MPI_SUM is the MPI library's business: Open MPI's
/// vectorized u8 sum saturates).
fn summand<T: TestElem>(shape: &[usize], r: u64) -> ArrayD<T> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n as u64).map(|i| T::make(r * 5 + i % 50)).collect()).unwrap()
}

fn case_allgather_allreduce_all_dtypes(world: &SimpleCommunicator) -> Result<(), String> {
    for_each_dtype!(T => { allgather_allreduce::<T>(world)?; });
    Ok(())
}

/// Strided inputs and outputs take the packing paths of every collective.
fn case_strided_buffers(world: &SimpleCommunicator) -> Result<(), String> {
    type C = num_complex::Complex64;
    let n = 9;
    let d = dist(world, n)?;
    let full = pattern::<C>(&[n, 4], 11);
    let mine = my_block(&d, &full);
    // A strided copy of `full`: every other column of a wider array.
    let mut wide = ArrayD::<C>::default(IxDyn(&[n, 8]));
    wide.slice_mut(s![.., ..;2]).assign(&full);
    let root = world.size() - 1;
    let is_root = world.rank() == root;

    let mut out_wide = ArrayD::<C>::default(IxDyn(&[d.my_size(), 8]));
    let mut out = out_wide.slice_mut(s![.., 1..;2]);
    d.scatter_into(is_root.then(|| wide.slice(s![.., ..;2])).as_ref(), &mut out, root, 0).map_err(err)?;
    ensure(out.view().into_dyn() == mine, || "scatter strided in and out".into())?;

    let mut gwide = ArrayD::<C>::default(IxDyn(&[n, 8]));
    let mut gout = gwide.slice_mut(s![.., ..;2]);
    d.gather_into(&out, is_root.then_some(&mut gout), root, 0).map_err(err)?;
    ensure(!is_root || gout.view().into_dyn() == full, || "gather strided".into())?;

    let mut awide = ArrayD::<C>::default(IxDyn(&[n, 8]));
    let mut aout = awide.slice_mut(s![.., 1..;2]);
    d.allgather_into(&out, &mut aout, 0).map_err(err)?;
    ensure(aout.view().into_dyn() == full, || "allgather strided".into())?;

    let mut rwide = pattern::<C>(&[n, 8], world.rank() as u64);
    let mut rview = rwide.slice_mut(s![.., ..;2]);
    d.allreduce(&mut rview, 0).map_err(err)?;
    let mut expected = pattern::<C>(&[n, 8], 0);
    for r in 1..world.size() {
        expected += &pattern::<C>(&[n, 8], r as u64);
    }
    ensure(rview == expected.slice(s![.., ..;2]), || "allreduce strided (reduced columns)".into())?;
    let untouched = pattern::<C>(&[n, 8], world.rank() as u64);
    ensure(rwide.slice(s![.., 1..;2]) == untouched.slice(s![.., 1..;2]), || "allreduce strided touched other columns".into())
}

fn case_broadcasts(world: &SimpleCommunicator) -> Result<(), String> {
    let d = dist(world, 5)?;
    for root in roots(world) {
        let is_root = world.rank() == root;
        for len in [0usize, 1, 1000] {
            let blob: Vec<u8> = (0..len).map(|i| (i * 7 + root as usize) as u8).collect();
            let mut data = if is_root { blob.clone() } else { vec![9; 3] };
            d.bcast_bytes(&mut data, root, 0).map_err(err)?;
            ensure(data == blob, || format!("bcast_bytes len {len} root {root}"))?;
        }
        let a = pattern::<f64>(&[4, 3, 2], 5);
        let got = d.bcast_chunked(is_root.then_some(&a), root, 0).map_err(err)?;
        ensure(got.as_ref() == (!is_root).then_some(&a), || "bcast_chunked".into())?;
        let mut b = if is_root { a.clone() } else { ArrayD::zeros(IxDyn(&[4, 3, 2])) };
        d.bcast_chunked_into(&mut b, root, 0).map_err(err)?;
        ensure(b == a, || "bcast_chunked_into".into())?;

        let m = pattern::<num_complex::Complex64>(&[3, 5], 8);
        let mut meta = if is_root { b"k-point object".to_vec() } else { Vec::new() };
        let got = d.bcast_npoint(&mut meta, is_root.then_some(&m), root, 0).map_err(err)?;
        ensure(meta == b"k-point object", || format!("bcast_npoint meta {meta:?}"))?;
        ensure(got.as_ref() == (!is_root).then_some(&m), || "bcast_npoint array".into())?;
    }
    Ok(())
}

fn case_send_recv_npoint(world: &SimpleCommunicator) -> Result<(), String> {
    let d = dist(world, 3)?;
    let (r, size) = (world.rank(), world.size());
    if size == 1 {
        let m = pattern::<f32>(&[2], 1);
        let e = d.send_to_rank(b"x", &m, 0, 0, 0).expect_err("self-send must be refused");
        return ensure(e.status == Status::InvalidArgument, || format!("self-send status {e}"));
    }
    let (next, prev) = ((r + 1) % size, (r + size - 1) % size);
    let mine = pattern::<num_complex::Complex32>(&[4, 3], r as u64);
    let meta = format!("from rank {r}").into_bytes();
    let mut got = None;
    let send = || d.send_to_rank(&meta, &mine, next, 7, 0).map_err(err);
    let mut recv = || -> Result<(), String> {
        got = Some(d.recv_from_rank::<num_complex::Complex32>(prev, 7).map_err(err)?);
        Ok(())
    };
    if r % 2 == 0 {
        send()?;
        recv()?;
    } else {
        recv()?;
        send()?;
    }
    let (m, a) = got.unwrap();
    ensure(m == format!("from rank {prev}").into_bytes(), || format!("meta {m:?}"))?;
    ensure(a == pattern::<num_complex::Complex32>(&[4, 3], prev as u64), || "npoint array".into())?;

    // A receive buffer of the wrong shape: Mismatch, and the stream stays usable.
    if r < 2 {
        let peer = 1 - r;
        let a = pattern::<f64>(&[5, 2], 1);
        if r == 0 {
            d.send_to_rank(b"bad", &a, peer, 40, 0).map_err(err)?;
            d.send_to_rank(b"good", &a, peer, 40, 0).map_err(err)?;
        } else {
            let mut wrong = ArrayD::<f64>::zeros(IxDyn(&[4, 2]));
            let e = d.recv_from_rank_into(peer, 40, &mut wrong).expect_err("wrong shape must fail");
            ensure(e.status == Status::Mismatch, || format!("status {e}"))?;
            let (m, b) = d.recv_from_rank::<f64>(peer, 40).map_err(err)?;
            ensure(m == b"good" && b == a, || "stream after a rejected receive".into())?;
        }
    }
    d.barrier().map_err(err)
}

/// Every bad-argument case fails on every rank (no rank hangs).
fn case_collective_errors(world: &SimpleCommunicator) -> Result<(), String> {
    let (r, size) = (world.rank(), world.size());
    let d = dist(world, 6)?;
    let expect_fail = |what: &str, res: dgampi::Result<()>, local: Status| -> Result<(), String> {
        match res {
            Ok(()) => Err(format!("{what}: succeeded on rank {r}")),
            Err(e) if e.status == local || e.status == Status::RemoteError => Ok(()),
            Err(e) => Err(format!("{what}: unexpected error {e:?}")),
        }
    };
    // Wrong leading length of the scatter input.
    let bad = pattern::<f64>(&[5, 2], 0);
    expect_fail("scatter wrong length", d.scatter(Some(&bad), 0, 0).map(|_| ()), Status::InvalidArgument)?;
    // Root out of range.
    expect_fail("gather bad root", d.gather(&pattern::<f64>(&[d.my_size()], 0), size, 0).map(|_| ()), Status::OutOfRange)?;
    // Trailing shape differs on the last rank.
    let cols = if r == size - 1 && size > 1 { 3 } else { 2 };
    let res = d.allgather(&pattern::<f64>(&[d.my_size(), cols], 0), 0).map(|_| ());
    if size > 1 {
        expect_fail("allgather trailing shape", res, Status::Mismatch)?;
    }
    // Dtype differs on the last rank.
    let res = if r == size - 1 && size > 1 {
        d.allgather(&pattern::<f32>(&[d.my_size()], 0), 0).map(|_| ())
    } else {
        d.allgather(&pattern::<f64>(&[d.my_size()], 0), 0).map(|_| ())
    };
    if size > 1 {
        expect_fail("allgather dtype", res, Status::Mismatch)?;
    }
    // Reduce shape differs.
    let mut a = pattern::<i64>(&[3 + usize::from(r == size - 1 && size > 1)], 0);
    let res = d.allreduce(&mut a, 0);
    if size > 1 {
        expect_fail("allreduce shape", res, Status::Mismatch)?;
    }
    // scatter_into with a wrong-sized output on one rank.
    let full = pattern::<f64>(&[6], 1);
    let mut out = ArrayD::<f64>::zeros(IxDyn(&[d.my_size() + usize::from(r == 0)]));
    expect_fail("scatter_into wrong output", d.scatter_into((r == 0).then_some(&full), &mut out, 0, 0), Status::Mismatch)?;
    // After all that, the distributor still works.
    let got = d.allgather(&pattern::<f64>(&[6], 2).slice_axis(Axis(0), Slice::from(d.my_tasks())), 0).map_err(err)?;
    ensure(got == pattern::<f64>(&[6], 2), || "distributor unusable after errors".into())
}

/// A distributor over given sizes (empty ranks included) runs every
/// collective against the serial reference; sizes that differ between ranks
/// or do not have one entry per rank fail everywhere; the node-aware split of
/// 5 frequencies (the original module's vslice case) allgathers.
fn case_explicit_sizes(world: &SimpleCommunicator) -> Result<(), String> {
    let (r, size) = (world.rank() as usize, world.size() as usize);
    let sizes: Vec<usize> = (0..size).map(|p| if p % 2 == 1 { 0 } else { p + 2 }).collect();
    let d = Distributor::with_sizes(world, &sizes, "sized", None).map_err(err)?;
    let n: usize = sizes.iter().sum();
    ensure(d.ntasks() == n && d.sizes() == sizes.as_slice() && d.my_size() == sizes[r], || format!("layout {:?}", d.sizes()))?;
    ensure(d.layout() == &BlockLayout::from_sizes(&sizes).map_err(err)?, || "layout".into())?;
    let full = pattern::<f64>(&[n, 3], 7);
    let mine = d.scatter((r == 0).then_some(&full), 0, 0).map_err(err)?;
    ensure(mine == my_block(&d, &full), || "scatter over given sizes".into())?;
    ensure(d.allgather(&mine, 0).map_err(err)? == full, || "allgather over given sizes".into())?;
    let back = d.gather(&mine, size as i32 - 1, 0).map_err(err)?;
    ensure(back.is_none() == (r != size - 1) && back.is_none_or(|b| b == full), || "gather over given sizes".into())?;
    // The same split given explicitly and as an even split agree.
    let even = BlockLayout::new(7, size).map_err(err)?;
    let mixed = if r == 0 { Distributor::with_sizes(world, even.sizes(), "mixed", None) } else { Distributor::new(world, 7, "mixed", None) };
    ensure(mixed.map_err(err)?.sizes() == even.sizes(), || "even split given as sizes".into())?;
    // The node-aware split of 5 frequencies, as the original's vslice installs it.
    let split = dgampi::freq::node_aware_split(&d, 5).map_err(err)?;
    let v = Distributor::with_sizes(world, &split.sizes, "v", None).map_err(err)?;
    let freqs = pattern::<f64>(&[5, 2], 3);
    let got = v.allgather(&freqs.slice_axis(Axis(0), Slice::from(v.my_tasks())), 0).map_err(err)?;
    ensure(got == freqs, || "allgather over the node-aware split".into())?;
    if size > 1 {
        // Sizes that differ on the last rank: Mismatch on every rank.
        let mut other = sizes.clone();
        if r == size - 1 {
            other[0] += 1;
            other[1] = other[1].saturating_sub(1);
        }
        let e = Distributor::with_sizes(world, &other, "bad", None).err().ok_or("differing sizes accepted")?;
        ensure(e.status == Status::Mismatch, || format!("differing sizes: {e}"))?;
    }
    // One entry too many on every rank: InvalidArgument everywhere.
    let e = Distributor::with_sizes(world, &vec![1; size + 1], "bad", None).err().ok_or("wrong length accepted")?;
    ensure(e.status == Status::InvalidArgument && e.message.contains("entries"), || format!("wrong length: {e}"))?;
    d.barrier().map_err(err)
}

/// Both node orders find one node on one host: the whole split on its ranks in rank order.
fn case_node_orders(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::freq::{node_aware_split_by, node_aware_split_with_nodes, NodeOrder};
    let d = dist(world, 4)?;
    let one_node = node_aware_split_with_nodes(11, &vec![0; world.size() as usize]).map_err(err)?;
    for order in [NodeOrder::SharedMemory, NodeOrder::HostName] {
        let split = node_aware_split_by(&d, 11, order).map_err(err)?;
        ensure(split.sizes == one_node.sizes && split.offsets == one_node.offsets, || format!("{order:?}: {split:?}"))?;
    }
    if world.size() > 1 {
        let order = if world.rank() == 0 { NodeOrder::HostName } else { NodeOrder::SharedMemory };
        let e = node_aware_split_by(&d, 11, order).err().ok_or("different node orders accepted")?;
        ensure(e.status == Status::Mismatch && e.message.contains("node order"), || format!("{e}"))?;
    }
    Ok(())
}

/// A remote error names the lowest failing rank and its status, whichever
/// step of the agreement found the error.
fn case_remote_error_names_first_failing_rank(world: &SimpleCommunicator) -> Result<(), String> {
    let (r, size) = (world.rank(), world.size());
    if size < 2 {
        return Ok(());
    }
    let d = dist(world, 6)?;
    // Opening: the odd ranks pass a root out of range.
    let root = if r % 2 == 1 { size } else { 0 };
    let e = d.gather(&pattern::<f64>(&[d.my_size()], 0), root, 0).expect_err("bad root on the odd ranks");
    if r % 2 == 1 {
        ensure(e.status == Status::OutOfRange, || format!("rank {r}: {e}"))?;
    } else {
        ensure(e.status == Status::RemoteError && e.message.contains("rank 1 failed first (status OutOfRange)"), || format!("rank {r}: {e}"))?;
    }
    // Confirmation: only the last rank's output has the wrong length.
    let full = pattern::<f64>(&[6], 1);
    let mut out = ArrayD::<f64>::zeros(IxDyn(&[d.my_size() + usize::from(r == size - 1)]));
    let e = d.scatter_into((r == 0).then_some(&full), &mut out, 0, 0).expect_err("wrong output on the last rank");
    let expected = format!("rank {} failed first (status Mismatch)", size - 1);
    if r == size - 1 {
        ensure(e.status == Status::Mismatch, || format!("rank {r}: {e}"))?;
    } else {
        ensure(e.status == Status::RemoteError && e.message.contains(&expected), || format!("rank {r}: {e}"))?;
    }
    d.barrier().map_err(err)
}

/// Every rank writes its block to its own spill file and reads it back.
fn case_spill_round_trip(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::{ArrayMut, ArrayRef};
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spill_np{}", world.size()));
    let mut d = Distributor::new(world, 10, "case", Some(&dir)).map_err(err)?;
    let expected_path = dir.join(format!("case_Rank{:05}.hdf5", world.rank()));
    ensure(d.spill_path() == Some(expected_path.as_path()), || format!("spill path {:?}", d.spill_path()))?;
    ensure(expected_path.exists(), || "the spill file is created with the distributor".into())?;
    let block = my_block(&d, &pattern::<num_complex::Complex64>(&[10, 3], 4));
    let file = d.spill().map_err(err)?;
    file.write("gamma/q", ArrayRef::new(&block).map_err(err)?).map_err(err)?;
    file.write("count", ArrayRef::new(&ndarray::arr1(&[world.rank() as i64])).map_err(err)?).map_err(err)?;
    ensure(file.list().map_err(err)? == ["count", "gamma/q"], || "spill list".into())?;
    let (dtype, shape) = file.shape("gamma/q").map_err(err)?;
    ensure(dtype == dgampi::DType::Complex128 && shape == block.shape(), || format!("spill shape {shape:?}"))?;
    file.close().map_err(err)?;
    file.close().map_err(err)?;
    file.open().map_err(err)?;
    let mut back = ArrayD::<num_complex::Complex64>::default(IxDyn(block.shape()));
    file.read_into("gamma/q", ArrayMut::new(&mut back).map_err(err)?).map_err(err)?;
    ensure(back == block, || "spill read back".into())?;
    file.remove("count").map_err(err)?;
    let e = file.remove("count").expect_err("second remove");
    ensure(e.status == Status::NotFound, || format!("remove twice: {e}"))?;
    file.delete().map_err(err)?;
    file.delete().map_err(err)?;
    ensure(!expected_path.exists(), || "the spill file is deleted".into())?;
    let mut plain = dist(world, 3)?;
    let e = plain.spill().err().ok_or("a distributor without output_path has no spill file")?;
    ensure(e.status == Status::InvalidArgument, || format!("no output path: {e}"))
}

/// Two distributors with the same name and output path compute the same file
/// name: the second one is refused on every rank (its open is agreed), on the
/// same communicator as on `MPI_COMM_SELF`, and `delete_file` of one never
/// unlinks the file the other writes.
fn case_spill_same_name_twice(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::{ArrayMut, ArrayRef};
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spill_twice_np{}", world.size()));
    let mut first = Distributor::new(world, 4, "twin", Some(&dir)).map_err(err)?;
    let mine = dir.join(format!("twin_Rank{:05}.hdf5", world.rank()));
    let block = ndarray::arr1(&[world.rank() as i64, 7]);
    first.spill().map_err(err)?.write("kept", ArrayRef::new(&block).map_err(err)?).map_err(err)?;
    let refused = |e: Option<dgampi::Error>, what: &str| -> Result<(), String> {
        let e = e.ok_or_else(|| format!("{what}: a second distributor on the same spill file was accepted"))?;
        ensure(e.status == Status::InvalidArgument && e.message.contains("twin_Rank"), || format!("{what}: {e}"))
    };
    refused(Distributor::new(world, 4, "twin", Some(&dir)).err(), "same communicator")?;
    // On MPI_COMM_SELF every rank is rank 0: its file is this rank's (rank 0)
    // or rank 0's, which another process holds.
    let self_comm = SimpleCommunicator::self_comm();
    refused(Distributor::new(&self_comm, 4, "twin", Some(&dir)).err(), "MPI_COMM_SELF")?;
    first.barrier().map_err(err)?;
    if world.rank() == 0 {
        // While `first` has its file closed, a SELF distributor takes it;
        // then `first` may not delete it.
        first.spill().map_err(err)?.close().map_err(err)?;
        let mut second = Distributor::new(&self_comm, 4, "twin", Some(&dir)).map_err(err)?;
        let e = first.spill().map_err(err)?.delete().err().ok_or("delete_file unlinked a file another distributor writes")?;
        ensure(e.status == Status::InvalidArgument && mine.exists(), || format!("delete refused: {e}"))?;
        ensure(second.spill().map_err(err)?.list().map_err(err)? == ["kept"], || "the other's data".into())?;
        second.spill().map_err(err)?.close().map_err(err)?;
    }
    let mut back = ndarray::Array1::<i64>::zeros(2);
    first.spill().map_err(err)?.read_into("kept", ArrayMut::new(&mut back).map_err(err)?).map_err(err)?;
    ensure(back == block, || format!("spill data after the refusals: {back:?}"))?;
    first.spill().map_err(err)?.delete().map_err(err)?;
    ensure(!mine.exists(), || "the spill file is deleted".into())?;
    first.barrier().map_err(err)
}

fn main() {
    let cases: &[Case] = &[
        ("layout_accessors", case_layout_accessors),
        ("scatter_gather_all_dtypes", case_scatter_gather_all_dtypes),
        ("allgather_allreduce_all_dtypes", case_allgather_allreduce_all_dtypes),
        ("strided_buffers", case_strided_buffers),
        ("broadcasts", case_broadcasts),
        ("send_recv_npoint", case_send_recv_npoint),
        ("collective_errors", case_collective_errors),
        ("remote_error_names_first_failing_rank", case_remote_error_names_first_failing_rank),
        ("explicit_sizes", case_explicit_sizes),
        ("node_orders", case_node_orders),
        ("spill_round_trip", case_spill_round_trip),
        ("spill_same_name_twice", case_spill_same_name_twice),
    ];
    common::main("mpi_distributor", cases, &[]);
}
