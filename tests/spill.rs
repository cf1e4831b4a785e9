//! Tests of the per-rank HDF5 spill file (no MPI needed).

use dgampi::{ArrayMut, ArrayRef};
use dgampi::spill::{SpillFile, TEMP_SUFFIX};
use dgampi::{DType, Element, Status};
use ndarray::{s, Array, Array1, Array3, ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Tests that start child processes hold this for writing, all others for
/// reading. A child forked while another test thread is inside HDF5's file open
/// (before the descriptor is marked close-on-exec) would keep that descriptor
/// open until it exits.
static SPAWN: RwLock<()> = RwLock::new(());

fn no_spawn() -> RwLockReadGuard<'static, ()> {
    SPAWN.read().unwrap_or_else(|e| e.into_inner())
}

fn may_spawn() -> RwLockWriteGuard<'static, ()> {
    SPAWN.write().unwrap_or_else(|e| e.into_inner())
}

/// A fresh, unique directory under the system temp dir (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("dgampi-spill-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn raw<T: Element, D: ndarray::Dimension>(a: &Array<T, D>) -> ArrayRef<'_> {
    ArrayRef::new(a).unwrap()
}

fn raw_mut<T: Element, D: ndarray::Dimension>(a: &mut Array<T, D>) -> ArrayMut<'_> {
    ArrayMut::new(a).unwrap()
}

/// Writes `a`, checks `shape`, reads it back into a fresh array and compares.
fn round_trip<T: Element + PartialEq + Debug>(spill: &mut SpillFile, name: &str, a: &ArrayD<T>) {
    spill.write(name, ArrayRef::new(a).unwrap()).unwrap();
    assert_eq!(spill.shape(name).unwrap(), (T::DTYPE, a.shape().to_vec()), "{name}");
    let mut b = ArrayD::<T>::default(IxDyn(a.shape()));
    spill.read_into(name, raw_mut(&mut b)).unwrap();
    assert_eq!(&b, a, "{name}");
}

fn gen<T: Element>(shape: &[usize], f: impl Fn(usize) -> T) -> ArrayD<T> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

fn all_dtypes(spill: &mut SpillFile, prefix: &str, shape: &[usize]) {
    round_trip(spill, &format!("{prefix}/f32"), &gen(shape, |i| i as f32 * 0.5 - 3.0));
    round_trip(spill, &format!("{prefix}/f64"), &gen(shape, |i| i as f64 * 0.25 - 1e300 * (i % 2) as f64));
    round_trip(spill, &format!("{prefix}/c64"), &gen(shape, |i| Complex32::new(i as f32, -(i as f32) - 0.5)));
    round_trip(spill, &format!("{prefix}/c128"), &gen(shape, |i| Complex64::new(i as f64 / 3.0, 1.0 - i as f64)));
    round_trip(spill, &format!("{prefix}/i32"), &gen(shape, |i| i as i32 - 1_000_000));
    round_trip(spill, &format!("{prefix}/i64"), &gen(shape, |i| (i as i64) << 40));
    round_trip(spill, &format!("{prefix}/u8"), &gen(shape, |i| (i * 7 % 256) as u8));
}

#[test]
fn every_dtype_round_trips_1d_3d_and_zero_length() {
    let _spawn = no_spawn();
    let dir = TempDir::new("dtypes");
    let mut spill = SpillFile::new(SpillFile::path_for(dir.path(), "dtypes", 3));
    all_dtypes(&mut spill, "one", &[17]);
    all_dtypes(&mut spill, "three", &[3, 4, 5]);
    all_dtypes(&mut spill, "empty0", &[0, 3]);
    all_dtypes(&mut spill, "empty1", &[4, 0, 2]);
    all_dtypes(&mut spill, "empty1d", &[0]);
    let names = spill.list().unwrap();
    assert_eq!(names.len(), 35);
    assert_eq!(spill.shape("empty1/c128").unwrap(), (DType::Complex128, vec![4, 0, 2]));
    // Round trip again after reopening: the data is on disk, not cached.
    spill.close().unwrap();
    let a = gen(&[3, 4, 5], |i| Complex64::new(i as f64 / 3.0, 1.0 - i as f64));
    let mut b = ArrayD::<Complex64>::zeros(IxDyn(&[3, 4, 5]));
    spill.read_into("three/c128", raw_mut(&mut b)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn strided_arrays_are_written_and_read_correctly() {
    let _spawn = no_spawn();
    let dir = TempDir::new("strided");
    let mut spill = SpillFile::new(dir.path().join("s.hdf5"));
    let big = Array3::from_shape_fn((6, 7, 8), |(i, j, k)| (i * 100 + j * 10 + k) as f64);
    let views = [
        big.slice(s![..;2, 1..6;2, ..;3]).to_owned(),
        big.slice(s![..;-1, .., 1..;2]).to_owned(),
        big.view().permuted_axes([2, 0, 1]).to_owned(),
    ];
    for staging in [usize::MAX, 24, 1] {
        spill.set_staging_bytes(staging);
        // Strided sources.
        let srcs = [
            big.slice(s![..;2, 1..6;2, ..;3]),
            big.slice(s![..;-1, .., 1..;2]),
            big.view().permuted_axes([2, 0, 1]),
        ];
        for (n, (src, expected)) in srcs.iter().zip(&views).enumerate() {
            assert!(!src.is_standard_layout());
            let name = format!("w{n}");
            spill.write(&name, ArrayRef::new(src).unwrap()).unwrap();
            let mut back = Array3::<f64>::zeros(expected.raw_dim());
            spill.read_into(&name, raw_mut(&mut back)).unwrap();
            assert_eq!(&back, expected, "staging {staging}, view {n}");
        }
        // Strided destinations: only the viewed elements change.
        for (n, expected) in views.iter().enumerate() {
            let name = format!("c{n}");
            spill.write(&name, raw(expected)).unwrap();
            let mut target = Array3::<f64>::from_elem((6, 7, 8), -1.0);
            let mut reference = target.clone();
            {
                let mut dst = match n {
                    0 => target.slice_mut(s![..;2, 1..6;2, ..;3]),
                    1 => target.slice_mut(s![..;-1, .., 1..;2]),
                    _ => target.view_mut().permuted_axes([2, 0, 1]),
                };
                spill.read_into(&name, ArrayMut::new(&mut dst).unwrap()).unwrap();
                assert_eq!(&dst, expected, "staging {staging}, view {n}");
            }
            let mut ref_view = match n {
                0 => reference.slice_mut(s![..;2, 1..6;2, ..;3]),
                1 => reference.slice_mut(s![..;-1, .., 1..;2]),
                _ => reference.view_mut().permuted_axes([2, 0, 1]),
            };
            ref_view.assign(expected);
            assert_eq!(target, reference, "elements outside the view changed (staging {staging}, view {n})");
        }
    }
    // Complex strided, 1-D with a negative step, via a tiny staging buffer.
    spill.set_staging_bytes(16);
    let c = Array1::from_shape_fn(9, |i| Complex64::new(i as f64, -(i as f64)));
    let v = c.slice(s![..;-2]);
    spill.write("cplx", ArrayRef::new(&v).unwrap()).unwrap();
    let mut back = Array1::<Complex64>::zeros(5);
    spill.read_into("cplx", raw_mut(&mut back)).unwrap();
    assert_eq!(back, v);
}

#[test]
fn unaligned_contiguous_buffers_go_through_staging() {
    let _spawn = no_spawn();
    let dir = TempDir::new("unaligned");
    let mut spill = SpillFile::new(dir.path().join("u.hdf5"));
    let values: Vec<f64> = (0..10).map(|i| i as f64 * 1.5).collect();
    let mut bytes = vec![0u8; 10 * 8 + 1];
    for (i, v) in values.iter().enumerate() {
        bytes[1 + 8 * i..9 + 8 * i].copy_from_slice(&v.to_ne_bytes());
    }
    // SAFETY: 80 valid bytes at an odd address, described as 10 f64.
    // SAFETY: 80 valid bytes at an odd address, described as 10 f64, used
    // only through the view while the borrow of `bytes` lasts.
    let unaligned = |bytes: &mut Vec<u8>| unsafe { ArrayMut::from_raw_parts(bytes.as_mut_ptr().add(1), DType::F64, &[2, 5], None).unwrap() };
    spill.write("u", unaligned(&mut bytes).as_ref()).unwrap();
    let mut back = ndarray::Array2::<f64>::zeros((2, 5));
    spill.read_into("u", raw_mut(&mut back)).unwrap();
    assert_eq!(back.iter().copied().collect::<Vec<_>>(), values);
    bytes.iter_mut().for_each(|b| *b = 0);
    spill.read_into("u", unaligned(&mut bytes)).unwrap();
    let got: Vec<f64> = (0..10).map(|i| f64::from_ne_bytes(bytes[1 + 8 * i..9 + 8 * i].try_into().unwrap())).collect();
    assert_eq!(got, values);
}

#[test]
fn groups_list_shape_remove_and_errors() {
    let _spawn = no_spawn();
    let dir = TempDir::new("groups");
    let mut spill = SpillFile::new(SpillFile::path_for(dir.path(), "g", 0));
    let a = Array1::from_vec(vec![1.0f64, 2.0, 3.0]);
    for name in ["gamma/q1", "gamma/q0", "a/b/c/d", "top", "/abs"] {
        spill.write(name, raw(&a)).unwrap();
    }
    assert_eq!(spill.list().unwrap(), ["a/b/c/d", "abs", "gamma/q0", "gamma/q1", "top"]);
    assert_eq!(spill.shape("gamma/q0").unwrap(), (DType::F64, vec![3]));
    assert_eq!(spill.shape("/gamma/q0").unwrap(), (DType::F64, vec![3]));

    spill.remove("gamma/q0").unwrap();
    assert_eq!(spill.list().unwrap(), ["a/b/c/d", "abs", "gamma/q1", "top"]);
    assert_eq!(spill.remove("gamma/q0").unwrap_err().status, Status::NotFound);
    assert_eq!(spill.remove("nope/deeper").unwrap_err().status, Status::NotFound);
    assert_eq!(spill.shape("gamma/q0").unwrap_err().status, Status::NotFound);
    assert_eq!(spill.shape("top/below").unwrap_err().status, Status::NotFound);
    let mut b = Array1::<f64>::zeros(3);
    let e = spill.read_into("missing", raw_mut(&mut b)).unwrap_err();
    assert_eq!(e.status, Status::NotFound);
    assert!(e.message.contains("missing") && e.message.contains("g_Rank00000.hdf5"), "{}", e.message);

    // A group is not a dataset; a dataset is not a group.
    assert_eq!(spill.write("gamma", raw(&a)).unwrap_err().status, Status::InvalidArgument);
    assert_eq!(spill.write("top/x", raw(&a)).unwrap_err().status, Status::InvalidArgument);
    assert_eq!(spill.shape("gamma").unwrap_err().status, Status::InvalidArgument);
    assert_eq!(spill.remove("a/b").unwrap_err().status, Status::InvalidArgument);
    // Bad names.
    for bad in ["", "/", "a//b", "a/", "../x", "a/./b", "x\0y", "q.dgampi-tmp"] {
        assert_eq!(spill.write(bad, raw(&a)).unwrap_err().status, Status::InvalidArgument, "{bad:?}");
    }
    // Nothing above disturbed the data.
    spill.read_into("gamma/q1", raw_mut(&mut b)).unwrap();
    assert_eq!(b, a);
    assert_eq!(spill.list().unwrap(), ["a/b/c/d", "abs", "gamma/q1", "top"]);
}

#[test]
fn replace_existing_dataset_and_mismatches() {
    let _spawn = no_spawn();
    let dir = TempDir::new("replace");
    let mut spill = SpillFile::new(dir.path().join("r.hdf5"));
    let a = Array1::from_vec(vec![1.0f64, 2.0, 3.0]);
    spill.write("x/y", raw(&a)).unwrap();
    spill.write("other", raw(&a)).unwrap();
    let c = ndarray::Array2::from_shape_fn((2, 2), |(i, j)| Complex64::new(i as f64, j as f64));
    spill.write("x/y", raw(&c)).unwrap();
    assert_eq!(spill.shape("x/y").unwrap(), (DType::Complex128, vec![2, 2]));
    let mut back = ndarray::Array2::<Complex64>::zeros((2, 2));
    spill.read_into("x/y", raw_mut(&mut back)).unwrap();
    assert_eq!(back, c);
    // Same dtype and shape, new values.
    let c2 = c.mapv(|z| z * 2.0);
    spill.write("x/y", raw(&c2)).unwrap();
    spill.read_into("x/y", raw_mut(&mut back)).unwrap();
    assert_eq!(back, c2);
    let names = spill.list().unwrap();
    assert_eq!(names, ["other", "x/y"]);
    assert!(names.iter().all(|n| !n.ends_with(TEMP_SUFFIX)));

    // dtype or shape disagree: Mismatch, destination untouched.
    let mut wrong_shape = ndarray::Array2::<Complex64>::zeros((2, 3));
    assert_eq!(spill.read_into("x/y", raw_mut(&mut wrong_shape)).unwrap_err().status, Status::Mismatch);
    let mut wrong_ndim = Array1::<Complex64>::zeros(4);
    assert_eq!(spill.read_into("x/y", raw_mut(&mut wrong_ndim)).unwrap_err().status, Status::Mismatch);
    let mut wrong_dtype = ndarray::Array2::<Complex32>::zeros((2, 2));
    assert_eq!(spill.read_into("x/y", raw_mut(&mut wrong_dtype)).unwrap_err().status, Status::Mismatch);
    assert!(wrong_dtype.iter().all(|z| *z == Complex32::new(0.0, 0.0)));
    let mut other = Array1::<f64>::zeros(3);
    spill.read_into("other", raw_mut(&mut other)).unwrap();
    assert_eq!(other, a);
}

#[test]
fn open_close_delete_are_idempotent_and_safe_on_missing_files() {
    let _spawn = no_spawn();
    let dir = TempDir::new("lifecycle");
    let out = dir.path().join("nested/output");
    let path = SpillFile::path_for(&out, "vertex", 12);
    assert!(path.ends_with("nested/output/vertex_Rank00012.hdf5"));
    let mut spill = SpillFile::new(path.clone());
    assert_eq!(spill.path(), path);
    assert!(!spill.is_open());
    // Everything is safe on a file that does not exist, and creates nothing.
    spill.close().unwrap();
    spill.delete().unwrap();
    assert_eq!(spill.list().unwrap(), Vec::<String>::new());
    assert_eq!(spill.shape("a").unwrap_err().status, Status::NotFound);
    assert_eq!(spill.remove("a").unwrap_err().status, Status::NotFound);
    assert!(!path.exists() && !out.exists());
    assert!(!spill.is_open());

    spill.open().unwrap();
    assert!(spill.is_open() && path.exists());
    spill.open().unwrap();
    spill.write("d", raw(&Array1::from_vec(vec![1i64, 2]))).unwrap();
    spill.close().unwrap();
    assert!(!spill.is_open());
    spill.close().unwrap();
    assert!(path.exists());
    spill.delete().unwrap();
    assert!(!path.exists() && !spill.is_open());
    spill.delete().unwrap();

    // write opens lazily; delete closes an open file.
    spill.write("d", raw(&Array1::from_vec(vec![1u8]))).unwrap();
    assert!(spill.is_open());
    spill.delete().unwrap();
    assert!(!path.exists());

    // Drop closes; the file stays.
    {
        let mut s2 = SpillFile::new(path.clone());
        s2.write("kept", raw(&Array1::from_vec(vec![5i32]))).unwrap();
    }
    assert!(path.exists());
}

#[test]
fn reopening_an_existing_file_keeps_its_data() {
    let _spawn = no_spawn();
    let dir = TempDir::new("reopen");
    let path = SpillFile::path_for(dir.path(), "keep", 1);
    let a = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as i32);
    {
        let mut s = SpillFile::new(path.clone());
        s.write("first", raw(&a)).unwrap();
        s.close().unwrap();
    }
    let mut s = SpillFile::new(path.clone());
    s.open().unwrap();
    assert_eq!(s.list().unwrap(), ["first"]);
    s.write("second", raw(&a)).unwrap();
    s.close().unwrap();
    s.open().unwrap();
    assert_eq!(s.list().unwrap(), ["first", "second"]);
    let mut b = Array3::<i32>::zeros((2, 3, 4));
    s.read_into("first", raw_mut(&mut b)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_non_hdf5_file_is_never_truncated() {
    let _spawn = no_spawn();
    let dir = TempDir::new("garbage");
    let path = dir.path().join("x_Rank00000.hdf5");
    std::fs::write(&path, b"not an HDF5 file, precious bytes").unwrap();
    let mut s = SpillFile::new(path.clone());
    let e = s.open().unwrap_err();
    assert_eq!(e.status, Status::Hdf5Error);
    assert!(e.message.contains(path.to_str().unwrap()), "{}", e.message);
    let e = s.write("a", raw(&Array1::from_vec(vec![1.0f32]))).unwrap_err();
    assert_eq!(e.status, Status::Hdf5Error);
    assert_eq!(std::fs::read(&path).unwrap(), b"not an HDF5 file, precious bytes");
    assert!(!s.is_open());
}

#[test]
fn unwritable_location_gives_hdf5_error_naming_the_file() {
    let _spawn = no_spawn();
    let dir = TempDir::new("readonly");
    // A regular file where a directory is needed: fails even as root.
    let blocker = dir.path().join("plain_file");
    std::fs::write(&blocker, b"x").unwrap();
    let path = SpillFile::path_for(&blocker.join("sub"), "w", 2);
    let mut s = SpillFile::new(path.clone());
    let e = s.write("a", raw(&Array1::from_vec(vec![1.0f64]))).unwrap_err();
    assert_eq!(e.status, Status::Hdf5Error);
    assert!(e.message.contains(path.to_str().unwrap()), "{}", e.message);
    assert_eq!(s.open().unwrap_err().status, Status::Hdf5Error);
    assert!(!s.is_open());
    s.close().unwrap();
    s.delete().unwrap();

    // The path itself is a directory: HDF5 cannot open it.
    let as_dir = dir.path().join("d_Rank00000.hdf5");
    std::fs::create_dir(&as_dir).unwrap();
    let mut s = SpillFile::new(as_dir.clone());
    let e = s.write("a", raw(&Array1::from_vec(vec![1.0f64]))).unwrap_err();
    assert_eq!(e.status, Status::Hdf5Error);
    assert!(e.message.contains(as_dir.to_str().unwrap()), "{}", e.message);
}

#[test]
fn files_open_in_h5py_and_h5dump() {
    let _spawn = may_spawn();
    let dir = TempDir::new("h5py");
    let path = SpillFile::path_for(dir.path(), "py", 4);
    {
        let mut s = SpillFile::new(path.clone());
        let f = Array1::from_vec(vec![0.5f64, -1.25, 3.0]);
        let c = ndarray::Array2::from_shape_fn((2, 3), |(i, j)| Complex64::new(i as f64 + 0.5, j as f64 - 2.0));
        let c32 = Array1::from_vec(vec![Complex32::new(1.0, -1.0), Complex32::new(0.0, 2.5)]);
        let i = Array3::from_shape_fn((2, 2, 2), |(a, b, c)| (a * 4 + b * 2 + c) as i32 - 3);
        s.write("f64", raw(&f)).unwrap();
        s.write("gamma/c128", raw(&c)).unwrap();
        s.write("gamma/c64", raw(&c32)).unwrap();
        s.write("ints/i32", raw(&i)).unwrap();
        s.write("empty", raw(&ndarray::Array2::<f64>::zeros((0, 4)))).unwrap();
        s.close().unwrap();
    }
    let script = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    a = f["f64"][()]
    assert a.dtype == np.float64 and a.tolist() == [0.5, -1.25, 3.0], a
    c = f["gamma/c128"][()]
    assert c.dtype == np.complex128, c.dtype
    exp = np.array([[complex(i + 0.5, j - 2.0) for j in range(3)] for i in range(2)])
    assert np.array_equal(c, exp), c
    c32 = f["gamma/c64"][()]
    assert c32.dtype == np.complex64, c32.dtype
    assert c32.tolist() == [complex(1, -1), complex(0, 2.5)], c32
    i = f["ints/i32"][()]
    assert i.dtype == np.int32 and i.shape == (2, 2, 2), i
    assert i.ravel().tolist() == list(range(-3, 5)), i
    e = f["empty"]
    assert e.shape == (0, 4) and e.dtype == np.float64, e
print("h5py ok")
"#;
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py} (scripts/bootstrap installs python3 + h5py): {e}"));
    assert!(
        out.status.success(),
        "h5py check failed (scripts/bootstrap installs h5py):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("h5py ok"));

    let out = Command::new("h5dump")
        .arg("-H")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run h5dump (Debian package hdf5-tools): {e}"));
    assert!(out.status.success(), "h5dump -H failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let header = String::from_utf8_lossy(&out.stdout);
    assert!(header.contains("\"c128\"") && header.contains("H5T_IEEE_F64LE"), "{header}");
    assert!(header.contains("H5T_COMPOUND") && header.contains("\"r\"") && header.contains("\"i\""), "{header}");

    // And a file h5py wrote reads back through SpillFile (complex included).
    let py_path = dir.path().join("from_h5py.hdf5");
    let script = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["z"] = (np.arange(6) + 1j * np.arange(6)[::-1]).reshape(2, 3).astype(np.complex128)
    f.create_group("g")["u"] = np.arange(5, dtype=np.uint8)
"#;
    let out = Command::new(&py).arg("-c").arg(script).arg(&py_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut s = SpillFile::new(py_path);
    assert_eq!(s.list().unwrap(), ["g/u", "z"]);
    assert_eq!(s.shape("z").unwrap(), (DType::Complex128, vec![2, 3]));
    let mut z = ndarray::Array2::<Complex64>::zeros((2, 3));
    s.read_into("z", raw_mut(&mut z)).unwrap();
    let expected = ndarray::Array2::from_shape_fn((2, 3), |(i, j)| {
        let k = i * 3 + j;
        Complex64::new(k as f64, (5 - k) as f64)
    });
    assert_eq!(z, expected);
    let mut u = Array1::<u8>::zeros(5);
    s.read_into("g/u", raw_mut(&mut u)).unwrap();
    assert_eq!(u.to_vec(), [0, 1, 2, 3, 4]);
}

#[test]
fn hdf5_file_locking_is_off() {
    let _spawn = no_spawn();
    let dir = TempDir::new("nolock");
    let path = dir.path().join("l_Rank00000.hdf5");
    let mut s = SpillFile::new(path.clone());
    s.write("a", raw(&Array1::from_vec(vec![1.0f64]))).unwrap();
    // HDF5's own lock is a flock on its descriptor; none may be held.
    let other = std::fs::File::open(&path).unwrap();
    use std::os::unix::io::AsRawFd;
    // SAFETY: a valid descriptor.
    let r = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(r, 0, "HDF5 holds a file lock on the spill file: {}", std::io::Error::last_os_error());
}

#[test]
fn a_second_handle_on_the_same_file_is_refused() {
    let _spawn = no_spawn();
    let dir = TempDir::new("second");
    let path = SpillFile::path_for(dir.path(), "same", 0);
    let a = Array1::from_vec(vec![1.0f64, 2.0]);
    let mut first = SpillFile::new(path.clone());
    first.write("first", raw(&a)).unwrap();
    let mut second = SpillFile::new(path.clone());
    for e in [
        second.open().unwrap_err(),
        second.write("second", raw(&a)).unwrap_err(),
        second.list().unwrap_err(),
        second.open_read_only().unwrap_err(),
        second.delete().unwrap_err(),
    ] {
        assert_eq!(e.status, Status::InvalidArgument, "{e}");
        assert!(e.message.contains(path.to_str().unwrap()) && e.message.contains("another open handle"), "{e}");
    }
    assert!(!second.is_open() && path.exists());
    // The first handle is untouched and keeps writing.
    first.write("more", raw(&a)).unwrap();
    assert_eq!(first.list().unwrap(), ["first", "more"]);
    // Once it is closed the second may open; now the first is refused.
    first.close().unwrap();
    assert_eq!(second.list().unwrap(), ["first", "more"]);
    assert_eq!(first.open().unwrap_err().status, Status::InvalidArgument);
    second.close().unwrap();

    // Readers share the file; a writer is refused while one reads, and a
    // reader's delete is refused while a writer has it.
    first.open_read_only().unwrap();
    second.open_read_only().unwrap();
    assert!(first.is_read_only() && second.is_read_only());
    let mut writer = SpillFile::new(path.clone());
    assert_eq!(writer.open().unwrap_err().status, Status::InvalidArgument);
    first.close().unwrap();
    second.close().unwrap();
    writer.open().unwrap();
    assert_eq!(first.delete().unwrap_err().status, Status::InvalidArgument);
    assert!(path.exists());
    // The writer's own delete removes it.
    writer.delete().unwrap();
    assert!(!path.exists());
    first.delete().unwrap();
}

#[test]
fn explicit_read_only_open() {
    let _spawn = no_spawn();
    let dir = TempDir::new("ro");
    let path = dir.path().join("ro_Rank00000.hdf5");
    let mut s = SpillFile::new(path.clone());
    assert_eq!(s.open_read_only().unwrap_err().status, Status::NotFound);
    assert!(!path.exists());
    let a = Array1::from_vec(vec![3i32, 4, 5]);
    s.write("a", raw(&a)).unwrap();
    assert!(!s.is_read_only());
    // Reopened read-only from read/write.
    s.open_read_only().unwrap();
    assert!(s.is_open() && s.is_read_only());
    let bytes = std::fs::read(&path).unwrap();
    let e = s.write("b", raw(&a)).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("read-only") && e.message.contains(path.to_str().unwrap()), "{e}");
    assert_eq!(s.remove("a").unwrap_err().status, Status::InvalidArgument);
    let mut back = Array1::<i32>::zeros(3);
    s.read_into("a", raw_mut(&mut back)).unwrap();
    assert_eq!(back, a);
    assert_eq!(s.list().unwrap(), ["a"]);
    // open() keeps the read-only handle; close, then open() writes again.
    s.open().unwrap();
    assert!(s.is_read_only());
    s.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "a read-only handle changed the file");
    s.open().unwrap();
    assert!(!s.is_read_only());
    s.write("b", raw(&a)).unwrap();
    assert_eq!(s.list().unwrap(), ["a", "b"]);
}

#[test]
fn empty_files_are_created_afresh_and_damaged_ones_named() {
    let _spawn = no_spawn();
    let dir = TempDir::new("damaged");
    // An empty file (its creator died before HDF5 wrote anything).
    let empty = dir.path().join("e_Rank00000.hdf5");
    std::fs::write(&empty, b"").unwrap();
    let mut s = SpillFile::new(empty.clone());
    s.write("a", raw(&Array1::from_vec(vec![1u8, 2]))).unwrap();
    assert_eq!(s.list().unwrap(), ["a"]);
    s.close().unwrap();
    // A truncated HDF5 file: refused with a message naming it and the way out.
    let bytes = std::fs::read(&empty).unwrap();
    let damaged = dir.path().join("d_Rank00000.hdf5");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let mut d = SpillFile::new(damaged.clone());
    let e = d.open().unwrap_err();
    assert_eq!(e.status, Status::Hdf5Error);
    assert!(e.message.contains(damaged.to_str().unwrap()) && e.message.contains("delete it"), "{e}");
    assert_eq!(std::fs::read(&damaged).unwrap(), &bytes[..bytes.len() / 2], "a damaged file was changed");
    d.delete().unwrap();
    d.write("b", raw(&Array1::from_vec(vec![3u8]))).unwrap();
    assert_eq!(d.list().unwrap(), ["b"]);
}
