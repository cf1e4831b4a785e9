//! Multi-rank tests of the IBZ → full-BZ maps and the row-movement engine,
//! against a serial unfolding computed in the test.

mod common;

use dgampi::bzmap::square_lattice_irrk_inv as square_lattice_map;
use common::{ensure, limit_in_force, pattern, Case, TestElem};
use dgampi::{ArrayMut, ArrayRef};
use dgampi::bzmap::{exchange_and_map_irrbz_fullbz, map_irrbz_fullbz, plan_map};
use dgampi::orbital::OrbitalTransform;
use dgampi::{Distributor, MapPlan, Status, VslicePlan};
use num_complex::Complex64;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::{ArrayD, Axis, IxDyn, Slice};

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Maps exercised by every case: the 2x2 lattice, 4x4 and 16x16 lattices, one
/// irreducible row feeding every full row, the identity, and fewer
/// irreducible points than ranks, and blocks swapped between rank pairs at
/// 4 ranks (a sparse movement: one peer per rank).
fn maps() -> Vec<(&'static str, Vec<usize>)> {
    vec![
        ("square 2x2", square_lattice_map(2)),
        ("square 4x4", square_lattice_map(4)),
        ("square 16x16", square_lattice_map(16)),
        ("one row feeds all", vec![0; 11]),
        ("identity", (0..9).collect()),
        ("two irreducible", vec![1, 0, 1, 1, 0, 0, 1]),
        ("pairs swap", (0..8).map(|q| q ^ 2).collect()),
    ]
}

fn unfold<T: TestElem>(irr_full: &ArrayD<T>, irrk_inv: &[usize]) -> ArrayD<T> {
    let rows: Vec<_> = irrk_inv.iter().map(|&k| irr_full.index_axis(Axis(0), k).insert_axis(Axis(0))).collect();
    ndarray::concatenate(Axis(0), &rows).unwrap()
}

fn map_case<T: TestElem>(world: &SimpleCommunicator, row: &[usize], exchange: bool) -> Result<(), String> {
    for (name, irrk_inv) in maps() {
        let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);
        let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
        let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
        let shape: Vec<usize> = std::iter::once(n_irr).chain(row.iter().copied()).collect();
        let irr_all = pattern::<T>(&shape, 2);
        let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
        let expected_all = unfold(&irr_all, &irrk_inv);
        let expected = expected_all.slice_axis(Axis(0), Slice::from(full.my_tasks())).to_owned();
        let mut out = ArrayD::<T>::default(IxDyn(expected.shape()));
        let raw_in = ArrayRef::new(&block).map_err(err)?;
        let mut raw_out = ArrayMut::new(&mut out).map_err(err)?;
        let f = if exchange { exchange_and_map_irrbz_fullbz } else { map_irrbz_fullbz };
        f(&irr, &full, &irrk_inv, raw_in.clone(), raw_out.reborrow(), None, 0).map_err(err)?;
        ensure(out == expected, || format!("{name} {} {row:?}: {out:?} != {expected:?}", T::DTYPE.name()))?;
    }
    Ok(())
}

fn case_exchange_all_dtypes(world: &SimpleCommunicator) -> Result<(), String> {
    for_each_dtype!(T => { map_case::<T>(world, &[3], true)?; });
    map_case::<num_complex::Complex64>(world, &[], true)?;
    map_case::<num_complex::Complex64>(world, &[2, 2, 3], true)?;
    map_case::<f64>(world, &[0], true)
}

fn case_simple_map_all_dtypes(world: &SimpleCommunicator) -> Result<(), String> {
    for_each_dtype!(T => { map_case::<T>(world, &[3], false)?; });
    map_case::<num_complex::Complex64>(world, &[2, 2], false)
}

/// Each irreducible row is sent at most once per destination rank.
fn case_rows_cross_once(world: &SimpleCommunicator) -> Result<(), String> {
    ensure(square_lattice_map(2) == [0, 1, 1, 2], || "the 2x2 map".into())?;
    for (n, n_irr) in [(16, 45), (32, 153), (64, 561)] {
        let count = square_lattice_map(n).into_iter().max().unwrap() + 1;
        ensure(count == n_irr, || format!("{n}x{n} lattice has {count} irreducible points, expected {n_irr}"))?;
    }
    let irrk_inv = square_lattice_map(16);
    let n_irr = irrk_inv.iter().max().unwrap() + 1;
    let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
    let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
    let plan = plan_map(&irr, &full, &irrk_inv).map_err(err)?;
    // Minimum: for each other rank, the distinct irreducible rows it needs from me.
    let mut minimum = 0;
    for p in 0..full.mpi_size() {
        if p == full.my_rank() {
            continue;
        }
        let mut needed: Vec<usize> = irrk_inv[full.layout().range(p)].iter().copied().filter(|k| irr.my_tasks().contains(k)).collect();
        needed.sort_unstable();
        needed.dedup();
        minimum += needed.len();
    }
    ensure(plan.rows_sent() == minimum, || format!("sent {} rows, minimum {minimum}", plan.rows_sent()))
}

/// Strided input and output blocks go through the packing paths.
fn case_strided_blocks(world: &SimpleCommunicator) -> Result<(), String> {
    use ndarray::s;
    type C = num_complex::Complex64;
    let irrk_inv = square_lattice_map(4);
    let n_irr = irrk_inv.iter().max().unwrap() + 1;
    let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
    let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
    let irr_all = pattern::<C>(&[n_irr, 3], 5);
    let mut wide = ArrayD::<C>::default(IxDyn(&[irr.my_size(), 6]));
    wide.slice_mut(s![.., ..;2]).assign(&irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())));
    let mut out_wide = ArrayD::<C>::default(IxDyn(&[full.my_size(), 6]));
    let view_in = wide.slice(s![.., ..;2]);
    let mut view_out = out_wide.slice_mut(s![.., 1..;2]);
    let raw_in = ArrayRef::new(&view_in).map_err(err)?;
    let mut raw_out = ArrayMut::new(&mut view_out).map_err(err)?;
    exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, raw_in.clone(), raw_out.reborrow(), None, 0).map_err(err)?;
    let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full.my_tasks())).to_owned();
    ensure(view_out.view().into_dyn() == expected, || "strided map".into())
}

/// Rows of 4 KiB and more (the engine's `SCATTERED_ROW_MIN_BYTES`): with
/// every rank's rows contiguous, a peer's scattered rows travel in one
/// message of an MPI indexed type and runs of rows in one vector or span, at
/// the limit alone; the same rows as a column window of a wider array
/// (contiguous rows, not adjacent) and fully strided (rows staged) give the
/// same result.
fn case_wide_rows(world: &SimpleCommunicator) -> Result<(), String> {
    use ndarray::s;
    type C = num_complex::Complex64;
    if limit_in_force() < 1024 {
        return Ok(()); // 4 KiB rows in 3-byte messages take minutes on 2 cores
    }
    let width = 4096 / 16 + 8; // 264 complex128: 4224 B rows
    // the default limit (one message per peer) and one of three rows (several passes)
    for (name, irrk_inv, limit) in [
        ("square 8x8", square_lattice_map(8), 0),
        ("square 8x8", square_lattice_map(8), 3 * 4224 + 100),
        ("reversed", (0..13).rev().collect::<Vec<_>>(), 0),
        ("reversed", (0..13).rev().collect::<Vec<_>>(), 3 * 4224 + 100),
    ] {
        let n_irr = irrk_inv.iter().max().unwrap() + 1;
        let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
        let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
        let irr_all = pattern::<C>(&[n_irr, width], 7);
        let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full.my_tasks())).to_owned();
        let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
        // contiguous in and out
        let mut out = ArrayD::<C>::default(IxDyn(expected.shape()));
        exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?, None, limit)
            .map_err(err)?;
        ensure(out == expected, || format!("{name} (limit {limit}): contiguous rows differ"))?;
        // column windows: each row contiguous, rows not adjacent
        let mut wide_in = ArrayD::<C>::default(IxDyn(&[irr.my_size(), width + 5]));
        wide_in.slice_mut(s![.., 2..width + 2]).assign(&block);
        let mut wide_out = ArrayD::<C>::default(IxDyn(&[full.my_size(), width + 3]));
        let view_in = wide_in.slice(s![.., 2..width + 2]);
        let mut view_out = wide_out.slice_mut(s![.., 1..width + 1]);
        exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, ArrayRef::new(&view_in).map_err(err)?, ArrayMut::new(&mut view_out).map_err(err)?, None, limit)
            .map_err(err)?;
        ensure(view_out.view().into_dyn() == expected, || format!("{name} (limit {limit}): column windows differ"))?;
        // fully strided output on even ranks only (the ranks disagree: every message is staged)
        let mut strided = ArrayD::<C>::default(IxDyn(&[full.my_size(), 2 * width]));
        let mut out_view = if world.rank() % 2 == 0 { strided.slice_mut(s![.., ..;2]) } else { strided.slice_mut(s![.., ..width]) };
        exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out_view).map_err(err)?, None, limit)
            .map_err(err)?;
        ensure(out_view.view().into_dyn() == expected, || format!("{name} (limit {limit}): mixed strided output differs"))?;
    }
    Ok(())
}

/// Bad maps fail on every rank.
fn case_bad_input(world: &SimpleCommunicator) -> Result<(), String> {
    let irr = Distributor::new(world, 3, "irr", None).map_err(err)?;
    let full = Distributor::new(world, 4, "full", None).map_err(err)?;
    let block = pattern::<f64>(&[irr.my_size(), 2], 0);
    let raw_in = ArrayRef::new(&block).map_err(err)?;
    let mut out = ArrayD::<f64>::zeros(IxDyn(&[full.my_size(), 2]));
    let mut raw_out = ArrayMut::new(&mut out).map_err(err)?;
    let cases: [(&str, Vec<usize>, Status); 2] =
        [("value out of range", vec![0, 1, 3, 2], Status::OutOfRange), ("wrong length", vec![0, 1, 2], Status::Mismatch)];
    for (what, map, status) in cases {
        let e = exchange_and_map_irrbz_fullbz(&irr, &full, &map, raw_in.clone(), raw_out.reborrow(), None, 0).expect_err(what);
        ensure(e.status == status, || format!("{what}: {e}"))?;
    }
    // A wrong leading length on one rank: that rank gets Mismatch, the others RemoteError.
    let bad = pattern::<f64>(&[irr.my_size() + usize::from(world.rank() == 0), 2], 0);
    let raw_bad = ArrayRef::new(&bad).map_err(err)?;
    let e = exchange_and_map_irrbz_fullbz(&irr, &full, &[0, 1, 1, 2], raw_bad.clone(), raw_out.reborrow(), None, 0).expect_err("bad block");
    ensure(e.status == Status::Mismatch || e.status == Status::RemoteError, || format!("bad block: {e}"))?;
    // Distributors on different groups of ranks.
    if world.size() < 2 {
        return Ok(());
    }
    let split = world.split_by_color(mpi::topology::Color::with_value(world.rank() % 2)).ok_or("split")?;
    let other = Distributor::new(&split, 4, "other", None).map_err(err)?;
    let mut out = ArrayD::<f64>::zeros(IxDyn(&[other.my_size(), 2]));
    let mut raw_out = ArrayMut::new(&mut out).map_err(err)?;
    let e = exchange_and_map_irrbz_fullbz(&irr, &other, &[0, 1, 1, 2], raw_in.clone(), raw_out.reborrow(), None, 0).expect_err("comms");
    ensure(e.status == Status::Mismatch, || format!("different communicators: {e}"))
}

/// A deterministic pseudo-random unitary matrix (Gram-Schmidt of LCG values).
fn unitary(nb: usize, seed: u64) -> Vec<Complex64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut rows: Vec<Vec<Complex64>> = Vec::new();
    for _ in 0..nb {
        let mut v: Vec<Complex64> = (0..nb).map(|_| Complex64::new(next(), next())).collect();
        for r in &rows {
            let dot: Complex64 = r.iter().zip(&v).map(|(a, b)| a.conj() * b).sum();
            v.iter_mut().zip(r).for_each(|(x, a)| *x -= dot * a);
        }
        let norm = v.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
        v.iter_mut().for_each(|z| *z /= norm);
        rows.push(v);
    }
    rows.concat()
}

/// The transform by its definition, one output element at a time.
fn transform_reference(m: &ArrayD<Complex64>, u: &[Complex64], nb: usize, axes: usize, sigma: f64, conj: bool) -> ArrayD<Complex64> {
    let x = if conj { m.mapv(|z| z.conj()) } else { m.clone() };
    let uu = |a: usize, b: usize| u[a * nb + b];
    let mut out = ArrayD::<Complex64>::zeros(m.raw_dim());
    let trailing: usize = m.shape()[axes..].iter().product();
    let flat_x = x.as_slice().unwrap();
    let flat = out.as_slice_mut().unwrap();
    let orbital = nb.pow(axes as u32);
    for o in 0..orbital {
        let idx: Vec<usize> = (0..axes).map(|k| o / nb.pow((axes - 1 - k) as u32) % nb).collect();
        for t in 0..trailing {
            let mut acc = Complex64::default();
            for o2 in 0..orbital {
                let idx2: Vec<usize> = (0..axes).map(|k| o2 / nb.pow((axes - 1 - k) as u32) % nb).collect();
                let mut coef = Complex64::new(1.0, 0.0);
                for k in 0..axes {
                    let f = uu(idx[k], idx2[k]);
                    coef *= if k % 2 == 0 { f } else { f.conj() };
                }
                acc += coef * flat_x[o2 * trailing + t];
            }
            flat[o * trailing + t] = acc * if axes == 2 { sigma } else { 1.0 };
        }
    }
    out
}

/// Both maps apply the orbital transform like the definition, 2 and 4 axes,
/// with the inputs given for the local rows or for all rows.
fn case_orbital_transform(world: &SimpleCommunicator) -> Result<(), String> {
    let irrk_inv = square_lattice_map(4);
    let n_irr = irrk_inv.iter().max().unwrap() + 1;
    let nfull = irrk_inv.len();
    let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
    let full = Distributor::new(world, nfull, "full", None).map_err(err)?;
    let nb = 2;
    let u_all: Vec<Complex64> = (0..nfull).flat_map(|k| unitary(nb, k as u64)).collect();
    let sigma_all: Vec<f64> = (0..nfull).map(|k| if k % 3 == 0 { -1.0 } else { 1.0 }).collect();
    let conj_all: Vec<bool> = (0..nfull).map(|k| k % 2 == 1).collect();
    for axes in [2usize, 4] {
        let row: Vec<usize> = std::iter::repeat_n(nb, axes).chain([3]).collect();
        let shape: Vec<usize> = std::iter::once(n_irr).chain(row.iter().copied()).collect();
        let irr_all = pattern::<Complex64>(&shape, 1);
        let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
        let raw_in = ArrayRef::new(&block).map_err(err)?;
        let mine = full.my_tasks();
        let u_local = &u_all[mine.start * nb * nb..mine.end * nb * nb];
        for (local, exchange) in [(true, true), (false, true), (true, false)] {
            let t = if local {
                OrbitalTransform { u: u_local, nb, axes, sigma: &sigma_all[mine.clone()], conj: &conj_all[mine.clone()] }
            } else {
                OrbitalTransform { u: &u_all, nb, axes, sigma: &sigma_all, conj: &conj_all }
            };
            let mut out = ArrayD::<Complex64>::default(IxDyn(&[full.my_size()].iter().chain(&row).copied().collect::<Vec<_>>()));
            let mut raw_out = ArrayMut::new(&mut out).map_err(err)?;
            let f = if exchange { exchange_and_map_irrbz_fullbz } else { map_irrbz_fullbz };
            f(&irr, &full, &irrk_inv, raw_in.clone(), raw_out.reborrow(), Some(&t), 0).map_err(err)?;
            for (i, q) in mine.clone().enumerate() {
                let m = irr_all.index_axis(Axis(0), irrk_inv[q]).to_owned();
                let expected = transform_reference(&m, &u_all[q * nb * nb..(q + 1) * nb * nb], nb, axes, sigma_all[q], conj_all[q]);
                let got = out.index_axis(Axis(0), i);
                let scale = expected.iter().map(|z| z.norm()).fold(1.0, f64::max);
                let diff = got.iter().zip(expected.iter()).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
                ensure(diff <= 1e-12 * scale, || format!("{axes} axes, q {q}: difference {diff:e} (local inputs {local})"))?;
            }
        }
    }
    // Wrong number of k-points in the inputs: an error on every rank.
    let row = [nb, nb];
    let block = pattern::<Complex64>(&[irr.my_size(), nb, nb], 0);
    let raw_in = ArrayRef::new(&block).map_err(err)?;
    let mut out = ArrayD::<Complex64>::default(IxDyn(&[full.my_size(), row[0], row[1]]));
    let mut raw_out = ArrayMut::new(&mut out).map_err(err)?;
    let t = OrbitalTransform { u: &u_all[..nb * nb * 3], nb, axes: 2, sigma: &sigma_all[..3], conj: &conj_all[..3] };
    let e = exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, raw_in.clone(), raw_out.reborrow(), Some(&t), 0)
        .expect_err("wrong transform length");
    ensure(e.status == Status::Mismatch || e.status == Status::RemoteError, || format!("transform length: {e}"))
}

/// The vertex regrouped by frequency: every q (unfolded) for this rank's
/// node-aware slice of nu, with simulated node layouts and an orbital transform.
fn case_vslice(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::freq::{gather_full_ibz_for_vslice, node_aware_split, node_aware_split_with_nodes};
    let (r, size) = (world.rank() as usize, world.size() as usize);
    let irrk_inv = square_lattice_map(4);
    let n_irr = irrk_inv.iter().max().unwrap() + 1;
    let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
    let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
    let real = node_aware_split(&full, 5).map_err(err)?;
    ensure(real.total() == 5, || format!("split of this machine {real:?}"))?;
    let layouts: [Vec<i64>; 3] = [
        (0..size as i64).map(|r| r % 2).collect(),
        (0..size as i64).map(|r| [7, 3, 5, 7][r as usize % 4]).collect(),
        vec![0; size],
    ];
    let nb = 2;
    for nodes in layouts {
        for n_nu in [6usize, 5, 1] {
            let split = node_aware_split_with_nodes(n_nu, &nodes).map_err(err)?;
            let shape = [n_irr, nb, nb, n_nu, 3];
            let irr_all = pattern::<Complex64>(&shape, 3);
            let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
            let raw_in = ArrayRef::new(&block).map_err(err)?;
            let nus = split.range(r);
            for with_transform in [false, true] {
                let u: Vec<Complex64> = (0..irrk_inv.len()).flat_map(|k| unitary(nb, 100 + k as u64)).collect();
                let sigma: Vec<f64> = (0..irrk_inv.len()).map(|k| if k % 2 == 0 { 1.0 } else { -1.0 }).collect();
                let conj: Vec<bool> = (0..irrk_inv.len()).map(|k| k % 3 == 0).collect();
                let t = OrbitalTransform { u: &u, nb, axes: 2, sigma: &sigma, conj: &conj };
                let mut out = ArrayD::<Complex64>::default(IxDyn(&[irrk_inv.len(), nb, nb, nus.len(), 3]));
                let mut raw_out = ArrayMut::new(&mut out).map_err(err)?;
                gather_full_ibz_for_vslice(&irr, &full, &irrk_inv, &split, raw_in.clone(), raw_out.reborrow(),
                                           with_transform.then_some(&t), 0).map_err(err)?;
                for (q, &k) in irrk_inv.iter().enumerate() {
                    let m = irr_all.index_axis(Axis(0), k).slice_axis(Axis(2), Slice::from(nus.clone())).to_owned();
                    let expected = if with_transform {
                        transform_reference(&m, &u[q * nb * nb..(q + 1) * nb * nb], nb, 2, sigma[q], conj[q])
                    } else {
                        m
                    };
                    let got = out.index_axis(Axis(0), q);
                    let diff = got.iter().zip(expected.iter()).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
                    ensure(diff <= 1e-9, || format!("nodes {nodes:?} n_nu {n_nu} q {q} transform {with_transform}: diff {diff:e}"))?;
                }
            }
        }
    }
    Ok(())
}

/// A `MapPlan` made once and executed several times (new data each time),
/// for every map and two dtypes, into contiguous and strided outputs, with
/// the orbital transform, after its distributors are gone, and with a wrong
/// block on one rank (refused everywhere; the plan stays usable).
fn case_map_plan(world: &SimpleCommunicator) -> Result<(), String> {
    fn run<T: TestElem>(world: &SimpleCommunicator, row: &[usize]) -> Result<(), String> {
        for (name, irrk_inv) in maps() {
            let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);
            let (mut plan, irr_tasks, full_tasks) = {
                let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
                let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
                let plan = MapPlan::new(&irr, &full, &irrk_inv, T::DTYPE, row, None, 0).map_err(err)?;
                (plan, irr.my_tasks(), full.my_tasks())
            }; // the distributors are dropped: the plan keeps its own communicator
            let shape: Vec<usize> = std::iter::once(n_irr).chain(row.iter().copied()).collect();
            ensure(plan.block_shape()[0] == irr_tasks.len() && plan.out_shape()[0] == full_tasks.len(), || format!("{name}: plan shapes"))?;
            for seed in 0..3u64 {
                let irr_all = pattern::<T>(&shape, seed);
                let block = irr_all.slice_axis(Axis(0), Slice::from(irr_tasks.clone())).to_owned();
                let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full_tasks.clone())).to_owned();
                let mut out = ArrayD::<T>::default(IxDyn(plan.out_shape()));
                plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
                ensure(out == expected, || format!("{name} {} {row:?} execution {seed}: {out:?} != {expected:?}", T::DTYPE.name()))?;
                if seed == 1 && !row.is_empty() {
                    // A strided output (every other row of a twice-as-long array).
                    let mut long = ArrayD::<T>::default(IxDyn(&[2 * full_tasks.len()].iter().chain(row).copied().collect::<Vec<_>>()));
                    let mut view = long.slice_axis_mut(Axis(0), Slice::new(0, None, 2));
                    plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut view).map_err(err)?).map_err(err)?;
                    ensure(view.to_owned() == expected, || format!("{name}: strided output"))?;
                }
            }
            // A wrong block on rank 0: every rank fails, nothing moves, the plan stays usable.
            let wrong: Vec<usize> = std::iter::once(irr_tasks.len() + usize::from(world.rank() == 0)).chain(row.iter().copied()).collect();
            let bad = ArrayD::<T>::default(IxDyn(&wrong));
            let mut out = ArrayD::<T>::default(IxDyn(plan.out_shape()));
            let e = plan.execute(ArrayRef::new(&bad).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).expect_err("wrong block");
            let want = if world.rank() == 0 { Status::Mismatch } else { Status::RemoteError };
            ensure(e.status == want, || format!("{name}: wrong block gave {e}"))?;
            let irr_all = pattern::<T>(&shape, 9);
            let block = irr_all.slice_axis(Axis(0), Slice::from(irr_tasks.clone())).to_owned();
            plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
            let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full_tasks.clone())).to_owned();
            ensure(out == expected, || format!("{name}: execution after a refused one"))?;
        }
        Ok(())
    }
    run::<Complex64>(world, &[2, 3])?;
    run::<f32>(world, &[3])?;
    run::<i64>(world, &[])?;
    // With the transform: the plan copies this rank's inputs (given for all q here).
    let irrk_inv = square_lattice_map(4);
    let (n_irr, nfull, nb) = (irrk_inv.iter().max().unwrap() + 1, irrk_inv.len(), 2);
    let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
    let full = Distributor::new(world, nfull, "full", None).map_err(err)?;
    let u: Vec<Complex64> = (0..nfull).flat_map(|k| unitary(nb, 7 + k as u64)).collect();
    let sigma: Vec<f64> = (0..nfull).map(|k| if k % 3 == 0 { -1.0 } else { 1.0 }).collect();
    let conj: Vec<bool> = (0..nfull).map(|k| k % 2 == 0).collect();
    let row = [nb, nb, 3];
    let mut plan = {
        let t = OrbitalTransform { u: &u, nb, axes: 2, sigma: &sigma, conj: &conj };
        MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &row, Some(&t), 0).map_err(err)?
    };
    for seed in [4u64, 5] {
        let irr_all = pattern::<Complex64>(&[n_irr, nb, nb, 3], seed);
        let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
        let mut out = ArrayD::<Complex64>::default(IxDyn(plan.out_shape()));
        plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
        for (i, q) in full.my_tasks().enumerate() {
            let m = irr_all.index_axis(Axis(0), irrk_inv[q]).to_owned();
            let expected = transform_reference(&m, &u[q * nb * nb..(q + 1) * nb * nb], nb, 2, sigma[q], conj[q]);
            let diff = out.index_axis(Axis(0), i).iter().zip(expected.iter()).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
            let scale = expected.iter().map(|z| z.norm()).fold(1.0, f64::max);
            ensure(diff <= 1e-14 * scale, || format!("transformed plan, q {q}: difference {diff:e}"))?;
        }
    }
    // Ranks planning different row shapes: Mismatch on every rank.
    let row = if world.rank() == 0 { vec![2, 3] } else { vec![3, 2] };
    if world.size() > 1 {
        let e = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::F64, &row, None, 0).expect_err("row shapes differ");
        ensure(e.status == Status::Mismatch, || format!("different row shapes: {e}"))?;
    }
    Ok(())
}

/// A `VslicePlan` made once and executed several times, for simulated node
/// layouts (ranks with empty slices included), with a strided block and
/// the transform, against the serial regrouping.
fn case_vslice_plan(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::freq::node_aware_split_with_nodes;
    let (r, size) = (world.rank() as usize, world.size() as usize);
    let irrk_inv = square_lattice_map(4);
    let (n_irr, nfull, nb) = (irrk_inv.iter().max().unwrap() + 1, irrk_inv.len(), 2);
    let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
    let full = Distributor::new(world, nfull, "full", None).map_err(err)?;
    let u: Vec<Complex64> = (0..nfull).flat_map(|k| unitary(nb, 50 + k as u64)).collect();
    let sigma: Vec<f64> = (0..nfull).map(|k| if k % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let conj: Vec<bool> = (0..nfull).map(|k| k % 3 == 1).collect();
    let t = OrbitalTransform { u: &u, nb, axes: 2, sigma: &sigma, conj: &conj };
    let layouts: [Vec<i64>; 2] = [(0..size as i64).map(|r| [7, 3, 5, 7][r as usize % 4]).collect(), vec![0; size]];
    for nodes in layouts {
        for n_nu in [5usize, 2] {
            let split = node_aware_split_with_nodes(n_nu, &nodes).map_err(err)?;
            let nus = split.range(r);
            for with_transform in [false, true] {
                let row = [nb, nb, n_nu, 3];
                let mut plan = VslicePlan::new(&irr, &full, &irrk_inv, &split, dgampi::DType::Complex128, &row, with_transform.then_some(&t), 0)
                    .map_err(err)?;
                ensure(plan.out_shape() == [nfull, nb, nb, nus.len(), 3], || format!("out shape {:?}", plan.out_shape()))?;
                for seed in 0..3u64 {
                    let irr_all = pattern::<Complex64>(&[n_irr, nb, nb, n_nu, 3], seed);
                    let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
                    let mut out = ArrayD::<Complex64>::default(IxDyn(plan.out_shape()));
                    if seed == 2 {
                        // A strided block: the vertex as every other nu' of a wider array.
                        let mut wide = ArrayD::<Complex64>::default(IxDyn(&[irr.my_size(), nb, nb, n_nu, 6]));
                        wide.slice_axis_mut(Axis(4), Slice::new(0, None, 2)).assign(&block);
                        let view = wide.slice_axis(Axis(4), Slice::new(0, None, 2));
                        plan.execute(ArrayRef::new(&view).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
                    } else {
                        plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
                    }
                    for (q, &k) in irrk_inv.iter().enumerate() {
                        let m = irr_all.index_axis(Axis(0), k).slice_axis(Axis(2), Slice::from(nus.clone())).to_owned();
                        let expected = if with_transform { transform_reference(&m, &u[q * nb * nb..(q + 1) * nb * nb], nb, 2, sigma[q], conj[q]) } else { m };
                        let diff = out.index_axis(Axis(0), q).iter().zip(expected.iter()).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
                        let scale = expected.iter().map(|z| z.norm()).fold(1.0, f64::max);
                        ensure(diff <= 1e-14 * scale, || format!("nodes {nodes:?} n_nu {n_nu} execution {seed} q {q} transform {with_transform}: diff {diff:e}"))?;
                    }
                }
            }
            // The rows are sent once per receiving rank: the plan's traffic is the minimum.
            let plan = VslicePlan::new(&irr, &full, &irrk_inv, &split, dgampi::DType::Complex128, &[nb, nb, n_nu, 3], None, 0).map_err(err)?;
            let receivers = (0..size).filter(|&p| p != r && split.sizes[p] > 0).count();
            let minimum = irr.my_size() * nb * nb * receivers;
            ensure(plan.row_plan().rows_sent() == minimum, || format!("sent {} (q, orbital) rows, minimum {minimum}", plan.row_plan().rows_sent()))?;
        }
    }
    // A split that does not tile n_nu: an error on every rank.
    let bad = dgampi::freq::FreqSplit { sizes: vec![1; size], offsets: vec![0; size] };
    let e = VslicePlan::new(&irr, &full, &irrk_inv, &bad, dgampi::DType::Complex128, &[nb, nb, size + 1, 3], None, 0).expect_err("bad split");
    ensure(matches!(e.status, Status::InvalidArgument | Status::Mismatch | Status::OutOfRange), || format!("bad split: {e}"))
}

/// A serial count of a map's blocks: the largest block any rank sends
/// another (bytes), and whether some rank exchanges rows with more than
/// half of the other ranks.
#[allow(clippy::needless_range_loop)]
fn map_blocks(irrk_inv: &[usize], n_irr: usize, size: usize, row_bytes: usize) -> (usize, bool) {
    use std::collections::BTreeSet;
    let (irr, full) = (dgampi::BlockLayout::new(n_irr, size).unwrap(), dgampi::BlockLayout::new(irrk_inv.len(), size).unwrap());
    // rows[p][q]: distinct irreducible rows rank p sends rank q.
    let mut rows = vec![vec![BTreeSet::new(); size]; size];
    for q in 0..size {
        for g in full.range(q) {
            rows[irr.owner(irrk_inv[g]).0][q].insert(irrk_inv[g]);
        }
    }
    let largest = (0..size).flat_map(|p| (0..size).map(move |q| (p, q))).filter(|(p, q)| p != q).map(|(p, q)| rows[p][q].len() * row_bytes).max().unwrap_or(0);
    let peers = |r: usize| (0..size).filter(|&o| o != r && (!rows[r][o].is_empty() || !rows[o][r].is_empty())).count();
    (largest, (0..size).any(|r| 2 * peers(r) > size - 1))
}

/// The route a map plan should take: the engine when asked, at one rank,
/// when a block exceeds the limit or when no rows cross ranks; else `MPI_Alltoallw` when the movement
/// is dense, else the neighbourhood collective.
fn expected_map_route(setting: dgampi::ExchangePath, irrk_inv: &[usize], n_irr: usize, size: usize, row_bytes: usize, limit: usize) -> &'static str {
    let (largest, dense) = map_blocks(irrk_inv, n_irr, size, row_bytes);
    match () {
        _ if setting == dgampi::ExchangePath::PointToPoint || size == 1 || largest > limit || largest == 0 => "point-to-point",
        _ if dense => "MPI_Alltoallw",
        _ => "MPI_Neighbor_alltoallw",
    }
}

/// Every exchange-path setting: the plans report the route the rule gives
/// (checked against a serial count of the blocks) and move the same data as
/// the serial reference, through the collective route, through the engine
/// for a strided output, and in the one-shot calls.
fn case_exchange_paths(world: &SimpleCommunicator) -> Result<(), String> {
    use dgampi::{set_exchange_path, ExchangePath};
    use dgampi::freq::{gather_full_ibz_for_vslice, node_aware_split_with_nodes};
    let (r, size) = (world.rank() as usize, world.size() as usize);
    let row = [2usize, 3];
    let row_bytes = 6 * std::mem::size_of::<Complex64>();
    let result = (|| {
        for setting in [ExchangePath::PointToPoint, ExchangePath::Collective, ExchangePath::Auto] {
            set_exchange_path(setting);
            for (name, irrk_inv) in maps() {
                let n_irr = irrk_inv.iter().max().map_or(0, |m| m + 1);
                let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
                let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
                let mut plan = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &row, None, 0).map_err(err)?;
                let want = expected_map_route(setting, &irrk_inv, n_irr, size, row_bytes, limit_in_force());
                ensure(plan.exchange_route().name() == want, || format!("{name} {setting:?}: route {} but the rule gives {want}", plan.exchange_route().name()))?;
                let (largest, _) = map_blocks(&irrk_inv, n_irr, size, row_bytes);
                if setting == ExchangePath::Auto && largest > 0 && largest < limit_in_force() {
                    // At the boundary: a limit of the largest block admits the collective, one byte less does not.
                    for limit in [largest, largest - 1] {
                        let p = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &row, None, limit).map_err(err)?;
                        let want = expected_map_route(setting, &irrk_inv, n_irr, size, row_bytes, limit);
                        ensure(p.exchange_route().name() == want, || format!("{name}, limit {limit}: route {} (expected {want})", p.exchange_route().name()))?;
                    }
                }
                for seed in 0..2u64 {
                    let irr_all = pattern::<Complex64>(&[n_irr, 2, 3], seed);
                    let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
                    let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full.my_tasks())).to_owned();
                    let mut out = ArrayD::<Complex64>::default(IxDyn(plan.out_shape()));
                    plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
                    ensure(out == expected, || format!("{name} {setting:?} execution {seed}"))?;
                    // A strided output on every rank: this execution takes the engine.
                    let mut long = ArrayD::<Complex64>::default(IxDyn(&[2 * full.my_size(), 2, 3]));
                    let mut view = long.slice_axis_mut(Axis(0), Slice::new(0, None, 2));
                    plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut view).map_err(err)?).map_err(err)?;
                    ensure(view.to_owned() == expected, || format!("{name} {setting:?}: strided output"))?;
                    let mut once = ArrayD::<Complex64>::default(IxDyn(plan.out_shape()));
                    exchange_and_map_irrbz_fullbz(&irr, &full, &irrk_inv, ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut once).map_err(err)?, None, 0)
                        .map_err(err)?;
                    ensure(once == expected, || format!("{name} {setting:?}: one-shot"))?;
                }
                // One-byte rows: neighbouring rows merge into longer blocks
                // of the collective's datatypes (found wrong once).
                for row in [&[][..], &[1][..]] {
                    let mut plan = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::U8, row, None, 0).map_err(err)?;
                    let shape: Vec<usize> = std::iter::once(n_irr).chain(row.iter().copied()).collect();
                    let irr_all = pattern::<u8>(&shape, 5);
                    let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
                    let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full.my_tasks())).to_owned();
                    // The block stored in reverse: rows at a stride of minus one byte.
                    let mut stored = block.clone();
                    stored.invert_axis(Axis(0));
                    let stored = stored.as_standard_layout().into_owned();
                    let mut reversed = stored.view();
                    reversed.invert_axis(Axis(0));
                    for (execution, source) in [block.view(), block.view(), reversed].into_iter().enumerate() {
                        let mut out = ArrayD::<u8>::default(IxDyn(plan.out_shape()));
                        plan.execute(ArrayRef::new(&source).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
                        ensure(out == expected, || {
                            format!("{name} {setting:?} uint8 row {row:?} execution {execution} ({}): {out:?} expected {expected:?}", plan.exchange_route().name())
                        })?;
                    }
                }
            }
            // The frequency re-layout (every receiving rank gets every q: dense).
            let irrk_inv = square_lattice_map(4);
            let n_irr = irrk_inv.iter().max().unwrap() + 1;
            let irr = Distributor::new(world, n_irr, "irr", None).map_err(err)?;
            let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
            let nodes: Vec<i64> = (0..size as i64).map(|r| [7, 3, 5, 7][r as usize % 4]).collect();
            let split = node_aware_split_with_nodes(5, &nodes).map_err(err)?;
            let vrow = [2usize, 2, 5, 3];
            let mut plan = VslicePlan::new(&irr, &full, &irrk_inv, &split, dgampi::DType::Complex128, &vrow, None, 0).map_err(err)?;
            let largest = (0..size).map(|p| split.sizes[p]).max().unwrap() * 3 * std::mem::size_of::<Complex64>() * 4 * irr.layout().range(0).len();
            let collective = setting != ExchangePath::PointToPoint && size > 1 && largest <= limit_in_force();
            let want = if collective { "MPI_Alltoallw" } else { "point-to-point" };
            ensure(plan.exchange_route().name() == want, || format!("vslice {setting:?}: route {} (expected {want})", plan.exchange_route().name()))?;
            let irr_all = pattern::<Complex64>(&[n_irr, 2, 2, 5, 3], 3);
            let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
            let mut out = ArrayD::<Complex64>::default(IxDyn(plan.out_shape()));
            plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
            let mut once = ArrayD::<Complex64>::default(IxDyn(plan.out_shape()));
            gather_full_ibz_for_vslice(&irr, &full, &irrk_inv, &split, ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut once).map_err(err)?, None, 0)
                .map_err(err)?;
            for (q, &k) in irrk_inv.iter().enumerate() {
                let expected = irr_all.index_axis(Axis(0), k).slice_axis(Axis(2), Slice::from(split.range(r))).to_owned();
                ensure(out.index_axis(Axis(0), q) == expected, || format!("vslice {setting:?} q {q}"))?;
                ensure(once.index_axis(Axis(0), q) == expected, || format!("vslice one-shot {setting:?} q {q}"))?;
            }
        }
        Ok(())
    })();
    set_exchange_path(ExchangePath::Auto);
    result
}

/// Local copies and replication of at least 8 MiB per rank, which the
/// engine writes with non-temporal stores: every rank's 96 full points copy
/// 256 KiB rows, the first 48 from its own irreducible point (local copies),
/// the others from the next rank's (one row received, replicated 47 times).
/// At the lowered limits the rows are 64 B (the same map, plain copies).
fn case_large_local_copies(world: &SimpleCommunicator) -> Result<(), String> {
    type C = num_complex::Complex64;
    let size = world.size() as usize;
    let width = if limit_in_force() >= 1 << 20 { 16384 } else { 4 };
    let irrk_inv: Vec<usize> = (0..96 * size).map(|q| (q / 96 + usize::from(q % 96 >= 48)) % size).collect();
    let irr = Distributor::new(world, size, "irr", None).map_err(err)?;
    let full = Distributor::new(world, irrk_inv.len(), "full", None).map_err(err)?;
    let irr_all = pattern::<C>(&[size, width], 11);
    let expected = unfold(&irr_all, &irrk_inv).slice_axis(Axis(0), Slice::from(full.my_tasks())).to_owned();
    let block = irr_all.slice_axis(Axis(0), Slice::from(irr.my_tasks())).to_owned();
    let mut plan = MapPlan::new(&irr, &full, &irrk_inv, dgampi::DType::Complex128, &[width], None, 0).map_err(err)?;
    for round in 0..2 {
        let mut out = ArrayD::<C>::default(IxDyn(expected.shape()));
        plan.execute(ArrayRef::new(&block).map_err(err)?, ArrayMut::new(&mut out).map_err(err)?).map_err(err)?;
        ensure(out == expected, || format!("round {round}: the mapped rows differ ({width} elements per row)"))?;
    }
    Ok(())
}

fn main() {
    let cases: &[Case] = &[
        ("large_local_copies", case_large_local_copies),
        ("exchange_all_dtypes", case_exchange_all_dtypes),
        ("simple_map_all_dtypes", case_simple_map_all_dtypes),
        ("rows_cross_once", case_rows_cross_once),
        ("strided_blocks", case_strided_blocks),
        ("bad_input", case_bad_input),
        ("orbital_transform", case_orbital_transform),
        ("vslice", case_vslice),
        ("wide_rows", case_wide_rows),
        ("map_plan", case_map_plan),
        ("vslice_plan", case_vslice_plan),
        ("exchange_paths", case_exchange_paths),
    ];
    common::main("mpi_bzmap", cases, &[]);
}
