//! The per-rank spill file under faults, each fault in a child process:
//! a full disk (the child lowers `RLIMIT_FSIZE` and ignores `SIGXFSZ`, so its
//! writes past the limit fail with `EFBIG` as they would with `ENOSPC`; no
//! mount needed, works as root), a process killed right after creating its file
//! or after acknowledged writes, a file held open by another process, a file
//! the process may not write (the child gives up root with `setuid`, since root
//! ignores permissions), and the host program's own HDF5 error printing and
//! at-exit behaviour.
//!
//! `harness = false`: without arguments this is the launcher and runs every
//! check (a non-flag argument keeps the checks whose name contains it);
//! `spill_faults child ROLE ARGS...` is one child.

use dgampi::{ArrayMut, ArrayRef};
use dgampi::spill::SpillFile;
use dgampi::Status;
use ndarray::Array1;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Elements of dataset `d{i}`: `i * 1e6 + j`.
fn values(i: usize, n: usize) -> Array1<f64> {
    Array1::from_shape_fn(n, |j| i as f64 * 1e6 + j as f64)
}

fn raw(a: &Array1<f64>) -> ArrayRef<'_> {
    ArrayRef::new(a).unwrap()
}

/// A fresh directory under the system temp dir, world-readable (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("dgampi-faults-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn child(role: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("child").arg(role).args(args);
    cmd
}

fn run(mut cmd: Command) -> Result<Output, String> {
    cmd.output().map_err(|e| format!("cannot start the child: {e}"))
}

fn show(out: &Output) -> String {
    format!(
        "child {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Runs a Python script with h5py on `args`; Err with its output on failure.
fn h5py(script: &str, args: &[&str]) -> Result<(), String> {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {py} (scripts/bootstrap installs python3 + h5py): {e}"))?;
    ensure(out.status.success(), || format!("h5py check failed:\n{}", show(&out)))
}

/// h5py walks the whole file, and every `name:n` dataset holds `values(i, n)`.
const H5PY_CHECK: &str = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    seen = []
    f.visititems(lambda name, obj: seen.append(name))
    for spec in sys.argv[2:]:
        name, n = spec.split(":")
        i = int(name[1:])
        a = f[name][()]
        assert a.dtype == np.float64 and a.shape == (int(n),), (name, a.dtype, a.shape)
        assert np.array_equal(a, i * 1e6 + np.arange(int(n))), name
print("h5py ok")
"#;

/// Checks with dgampi (then h5py) that `path` holds exactly the acknowledged
/// datasets, and that the file takes writes again.
fn check_acknowledged(path: &Path, acked: &[(usize, usize)]) -> Result<(), String> {
    let mut s = SpillFile::new(path.to_path_buf());
    let names: Vec<String> = acked.iter().map(|(i, _)| format!("d{i}")).collect();
    let listed = s.list().map_err(|e| format!("list after the fault: {e}"))?;
    ensure(names.iter().all(|n| listed.contains(n)), || format!("acknowledged {names:?}, listed {listed:?}"))?;
    for &(i, n) in acked {
        let mut back = Array1::<f64>::zeros(n);
        s.read_into(&format!("d{i}"), ArrayMut::new(&mut back).unwrap())
            .map_err(|e| format!("reading acknowledged d{i}: {e}"))?;
        ensure(back == values(i, n), || format!("d{i} changed"))?;
    }
    s.close().map_err(|e| e.to_string())?;
    let specs: Vec<String> = acked.iter().map(|(i, n)| format!("d{i}:{n}")).collect();
    let mut args = vec![path.to_str().unwrap()];
    args.extend(specs.iter().map(String::as_str));
    h5py(H5PY_CHECK, &args)?;
    s.write("after", raw(&values(7, 3))).map_err(|e| format!("writing after the fault: {e}"))?;
    s.delete().map_err(|e| e.to_string())
}

/// Parses `ACK d{i} n` lines.
fn acked(stdout: &str) -> Vec<(usize, usize)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ACK d"))
        .map(|l| {
            let (i, n) = l.split_once(' ').unwrap();
            (i.parse().unwrap(), n.parse().unwrap())
        })
        .collect()
}

// ------------------------------------------------------------------ checks

/// After a write fails on a full disk, later writes and the close change
/// nothing: every acknowledged dataset stays readable by dgampi and h5py.
/// With the default metadata reserve the space check before each write is
/// what fails.
fn full_disk_keeps_every_acknowledged_dataset() -> Result<(), String> {
    let reserve = dgampi::spill::DEFAULT_RESERVE_BYTES;
    // (file size limit, elements per dataset), limits at odd offsets.
    for (limit, n) in [(1_500_000u64, 16_384usize), (1_300_000, 1_000), (2_104_099, 50_000), (1_100_777, 40)] {
        let fail = full_disk_case(limit, n, reserve)?;
        ensure(fail.contains("nothing was written"), || format!("limit {limit}: {fail}"))?;
    }
    Ok(())
}

/// The same with no metadata reserve, so that the disk can run full inside
/// HDF5's own allocation: the write fails before HDF5 writes its data or
/// flushes, and the handle continues read-only as of the last acknowledged
/// write. (Sizes whose metadata fits under the limit: a file-size limit also
/// binds the scratch file a failed handle is diverted to, which `ENOSPC` does
/// not; see the module documentation of `dgampi::spill`.)
fn full_disk_inside_hdf5_keeps_every_acknowledged_dataset() -> Result<(), String> {
    let mut inside = 0;
    for limit in [8_013u64, 26_091, 47_182, 113_468] {
        inside += full_disk_case(limit, 200, 0)?.contains("takes no more writes") as usize;
    }
    ensure(inside > 0, || "no limit made HDF5 itself run out of space".into())
}

/// One child filling a file under `limit` bytes with datasets of `n`
/// elements and `reserve` bytes of metadata reserve; returns its first failure.
fn full_disk_case(limit: u64, n: usize, reserve: u64) -> Result<String, String> {
    let dir = TempDir::new("full");
    let path = dir.0.join("full_Rank00000.hdf5");
    let args = [path.to_str().unwrap(), &limit.to_string(), &n.to_string(), &reserve.to_string()];
    let out = run(child("fill", &args))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    ensure(out.status.success(), || format!("limit {limit}: {}", show(&out)))?;
    let fail = text.lines().find(|l| l.starts_with("FAIL ")).ok_or_else(|| format!("no write failed: {}", show(&out)))?;
    ensure(fail.contains("Hdf5Error") && fail.contains(path.to_str().unwrap()) && fail.contains("'d"), || {
        format!("limit {limit}: the failure must be an HDF5 error naming the file and the dataset: {fail}")
    })?;
    let later: Vec<&str> = text.lines().filter(|l| l.starts_with("LATER ")).collect();
    ensure(later.len() == 3 && later.iter().all(|l| l.contains("Hdf5Error")), || {
        format!("limit {limit}: the writes after the failure must fail too: {later:?}")
    })?;
    ensure(text.contains("CLOSE Ok(())"), || format!("limit {limit}: close after the failure: {}", show(&out)))?;
    let mut acks = acked(&text);
    ensure(!acks.is_empty(), || format!("limit {limit}: nothing acknowledged: {}", show(&out)))?;
    if text.contains("REMOVED d0") {
        acks.retain(|&(i, _)| i != 0);
    } else {
        ensure(text.contains("REMOVE Hdf5Error"), || format!("limit {limit}: removal on a full disk: {}", show(&out)))?;
    }
    check_acknowledged(&path, &acks).map_err(|e| format!("limit {limit}, n {n}: {e}\n{}", show(&out)))?;
    Ok(fail.to_string())
}

/// A process killed right after creating its spill file leaves a file that a
/// later create opens (no "truncated file" error blocking the name).
fn killed_after_create_leaves_a_usable_file() -> Result<(), String> {
    let dir = TempDir::new("killed");
    let path = dir.0.join("k_Rank00000.hdf5");
    let out = run(child("create_and_die", &[path.to_str().unwrap()]))?;
    ensure(out.status.signal() == Some(libc::SIGKILL), || format!("the child should have been killed: {}", show(&out)))?;
    ensure(path.exists(), || "the killed child created no file".into())?;
    let mut s = SpillFile::new(path.clone());
    s.open().map_err(|e| format!("open after a kill right after create: {e}"))?;
    ensure(s.list().map_err(|e| e.to_string())?.is_empty(), || "a fresh file has no datasets".into())?;
    s.write("d1", raw(&values(1, 5))).map_err(|e| e.to_string())?;
    s.close().map_err(|e| e.to_string())?;
    h5py(H5PY_CHECK, &[path.to_str().unwrap(), "d1:5"])
}

/// Datasets acknowledged before a kill are on disk.
fn killed_after_writes_keeps_them() -> Result<(), String> {
    let dir = TempDir::new("killed-w");
    let path = dir.0.join("w_Rank00000.hdf5");
    let out = run(child("write_and_die", &[path.to_str().unwrap()]))?;
    ensure(out.status.signal() == Some(libc::SIGKILL), || format!("the child should have been killed: {}", show(&out)))?;
    let acks = acked(&String::from_utf8_lossy(&out.stdout));
    ensure(acks.len() == 3, || format!("the child acknowledged {acks:?}"))?;
    check_acknowledged(&path, &acks)
}

/// A file another process has open is refused (open and delete) until that
/// process dies; then it opens with everything the other acknowledged.
fn file_held_by_another_process_is_refused_until_it_dies() -> Result<(), String> {
    let dir = TempDir::new("held");
    let path = dir.0.join("h_Rank00000.hdf5");
    let mut holder = child("hold", &[path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut line).map_err(|e| e.to_string())?;
    let outcome = (|| {
        ensure(line.trim() == "READY", || format!("the holder said {line:?}"))?;
        let mut s = SpillFile::new(path.clone());
        let e = s.open().expect_err("a file another process holds must be refused");
        ensure(e.status == Status::InvalidArgument && e.message.contains(path.to_str().unwrap()), || e.to_string())?;
        let e = s.delete().expect_err("deleting a file another process writes must be refused");
        ensure(e.status == Status::InvalidArgument, || e.to_string())?;
        ensure(path.exists(), || "delete removed a file another process writes".into())?;
        let e = s.open_read_only().expect_err("reading a file another process writes must be refused");
        ensure(e.status == Status::InvalidArgument, || e.to_string())
    })();
    holder.kill().map_err(|e| e.to_string())?;
    holder.wait().map_err(|e| e.to_string())?;
    outcome?;
    // Its lock died with it.
    check_acknowledged(&path, &[(5, 8)])
}

/// A file this process may not write opens read-only: reads work, writes
/// are refused saying why. The child gives up root (root ignores permissions).
fn unwritable_file_opens_read_only() -> Result<(), String> {
    let dir = TempDir::new("readonly");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let path = dir.0.join("r_Rank00000.hdf5");
    let mut s = SpillFile::new(path.clone());
    s.write("d3", raw(&values(3, 6))).map_err(|e| e.to_string())?;
    s.close().map_err(|e| e.to_string())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).map_err(|e| e.to_string())?;
    let before = std::fs::read(&path).map_err(|e| e.to_string())?;
    let out = run(child("read_only", &[path.to_str().unwrap()]))?;
    ensure(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("read only ok"), || show(&out))?;
    ensure(std::fs::read(&path).map_err(|e| e.to_string())? == before, || "the read-only file changed".into())
}

/// The host's HDF5 error handler is the same before and after dgampi's calls,
/// and dgampi's own HDF5 failures do not go through it.
fn host_error_printing_is_untouched() -> Result<(), String> {
    let dir = TempDir::new("host-errors");
    let out = run(child("host_errors", &[dir.0.to_str().unwrap()]))?;
    ensure(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("host errors ok"), || show(&out))
}

/// With dgampi the first HDF5 user of the process, HDF5 still closes the
/// host's open files at exit (dgampi does not switch HDF5's at-exit off).
fn host_hdf5_files_are_closed_at_exit() -> Result<(), String> {
    let dir = TempDir::new("host-atexit");
    let out = run(child("host_atexit", &[dir.0.to_str().unwrap()]))?;
    ensure(out.status.success(), || show(&out))?;
    let host = dir.0.join("host.h5");
    h5py(
        r#"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert "host_group" in f, list(f)
"#,
        &[host.to_str().unwrap()],
    )
    .map_err(|e| format!("the host's file was not closed at exit: {e}"))
}

// ------------------------------------------------------------------ children

/// Prints a line and flushes it (the parent reads it even if we die next).
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn child_fill(path: &str, limit: u64, n: usize, reserve: u64) {
    // SAFETY: plain libc calls in a single-threaded child.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0, "setrlimit");
    }
    let mut s = SpillFile::new(PathBuf::from(path));
    s.set_reserve_bytes(reserve);
    // Writes until one fails, then three more (each must change nothing).
    let mut failed_at = None;
    for i in 0..200 {
        if failed_at.is_some_and(|f| i > f + 3) {
            break;
        }
        match s.write(&format!("d{i}"), raw(&values(i, n))) {
            Ok(()) => say(format!("ACK d{i} {n}")),
            Err(e) if failed_at.is_none() => {
                say(format!("FAIL {:?} {}", e.status, e.message));
                failed_at = Some(i);
            }
            Err(e) => say(format!("LATER {:?} {}", e.status, e.message)),
        }
    }
    // A removal on the full disk either works or changes nothing.
    match s.remove("d0") {
        Ok(()) => say("REMOVED d0".into()),
        Err(e) => say(format!("REMOVE {:?} {}", e.status, e.message)),
    }
    let closed = s.close();
    say(format!("CLOSE {closed:?}"));
}

fn child_create_and_die(path: &str) {
    let mut s = SpillFile::new(PathBuf::from(path));
    s.open().unwrap();
    // SAFETY: ends this process at once, as a crash or an OOM kill would.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
}

fn child_write_and_die(path: &str) {
    let mut s = SpillFile::new(PathBuf::from(path));
    for i in 1..=3 {
        s.write(&format!("d{i}"), raw(&values(i, 10 * i))).unwrap();
        say(format!("ACK d{i} {}", 10 * i));
    }
    // SAFETY: see child_create_and_die.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
}

fn child_hold(path: &str) {
    let mut s = SpillFile::new(PathBuf::from(path));
    s.write("d5", raw(&values(5, 8))).unwrap();
    say("READY".into());
    // Holds the file until killed.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

fn child_read_only(path: &str) {
    // SAFETY: plain libc calls in a single-threaded child.
    unsafe {
        if libc::geteuid() == 0 {
            assert_eq!(libc::setgid(65534), 0, "setgid(nobody)");
            assert_eq!(libc::setuid(65534), 0, "setuid(nobody)");
        }
    }
    let mut s = SpillFile::new(PathBuf::from(path));
    s.open().unwrap();
    assert!(s.is_open() && s.is_read_only());
    assert_eq!(s.list().unwrap(), ["d3"]);
    let mut back = Array1::<f64>::zeros(6);
    s.read_into("d3", ArrayMut::new(&mut back).unwrap()).unwrap();
    assert_eq!(back, values(3, 6));
    let e = s.write("d4", raw(&values(4, 2))).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e}");
    assert!(e.message.contains("read-only because") && e.message.contains(path), "{e}");
    let e = s.remove("d3").unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e}");
    s.close().unwrap();
    // Lazily opened by a read, the same.
    let mut s = SpillFile::new(PathBuf::from(path));
    assert_eq!(s.shape("d3").unwrap().1, vec![6]);
    assert!(s.is_read_only());
    // A new file cannot be created in a directory we may not write.
    let other = Path::new(path).with_file_name("new_Rank00000.hdf5");
    let e = SpillFile::new(other).open().unwrap_err();
    assert_eq!(e.status, Status::Hdf5Error, "{e}");
    say("read only ok".into());
}

mod host {
    //! The host program's own raw HDF5 calls.
    use std::ffi::CString;
    use std::os::raw::c_void;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub static CALLS: AtomicUsize = AtomicUsize::new(0);

    /// The host's error handler: counts the error stacks it is given.
    pub unsafe extern "C" fn count(_stack: i64, _data: *mut c_void) -> i32 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        0
    }

    pub const MARK: usize = 0x5eed;

    pub static CALLS_V1: AtomicUsize = AtomicUsize::new(0);

    /// The host's error handler of the old (v1) API.
    pub unsafe extern "C" fn count_v1(_data: *mut c_void) -> i32 {
        CALLS_V1.fetch_add(1, Ordering::SeqCst);
        0
    }

    /// Installs `count_v1` through the old API.
    #[allow(deprecated)]
    pub fn install_v1() {
        // SAFETY: HDF5 C API with valid arguments.
        let r = unsafe { hdf5_sys::h5e::H5Eset_auto1(Some(count_v1), (MARK + 1) as *mut c_void) };
        assert!(r >= 0, "H5Eset_auto1");
    }

    /// The v1 handler and client data in force now.
    #[allow(deprecated)]
    pub fn current_v1() -> (usize, usize) {
        let mut func: hdf5_sys::h5e::H5E_auto1_t = None;
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out pointers.
        unsafe { hdf5_sys::h5e::H5Eget_auto1(&mut func, &mut data) };
        (func.map_or(0, |f| f as usize), data as usize)
    }

    pub fn install() {
        // SAFETY: HDF5 C API with valid arguments.
        let r = unsafe { hdf5_sys::h5e::H5Eset_auto2(hdf5_sys::h5e::H5E_DEFAULT, Some(count), MARK as *mut c_void) };
        assert!(r >= 0, "H5Eset_auto2");
    }

    /// The handler and client data in force now.
    pub fn current() -> (usize, usize) {
        let mut func: hdf5_sys::h5e::H5E_auto2_t = None;
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out pointers.
        unsafe { hdf5_sys::h5e::H5Eget_auto2(hdf5_sys::h5e::H5E_DEFAULT, &mut func, &mut data) };
        (func.map_or(0, |f| f as usize), data as usize)
    }

    /// A host call that fails (opens a file that does not exist).
    pub fn failing_open(dir: &str) -> i64 {
        let name = CString::new(format!("{dir}/no_such_file.h5")).unwrap();
        // SAFETY: valid C string.
        unsafe { hdf5_sys::h5f::H5Fopen(name.as_ptr(), hdf5_sys::h5f::H5F_ACC_RDONLY, hdf5_sys::h5p::H5P_DEFAULT) }
    }

    /// Creates `path` with one group and leaves both open.
    pub fn create_and_leave_open(path: &str) {
        let name = CString::new(path).unwrap();
        let group = CString::new("host_group").unwrap();
        // SAFETY: valid C strings and default property lists.
        unsafe {
            let f = hdf5_sys::h5f::H5Fcreate(name.as_ptr(), hdf5_sys::h5f::H5F_ACC_TRUNC, 0, 0);
            assert!(f >= 0, "H5Fcreate");
            let g = hdf5_sys::h5g::H5Gcreate2(f, group.as_ptr(), 0, 0, 0);
            assert!(g >= 0, "H5Gcreate2");
        }
    }
}

fn child_host_errors(dir: &str) {
    use std::sync::atomic::Ordering;
    host::install();
    let installed = host::current();
    assert!(installed.0 != 0 && installed.1 == host::MARK, "the handler was not installed");
    let path = Path::new(dir).join("e_Rank00000.hdf5");
    let mut s = SpillFile::new(path);
    s.write("a", raw(&values(1, 4))).unwrap();
    assert_eq!(s.shape("missing").unwrap_err().status, Status::NotFound);
    let garbage = Path::new(dir).join("garbage_Rank00000.hdf5");
    std::fs::write(&garbage, b"not HDF5").unwrap();
    assert_eq!(SpillFile::new(garbage).open().unwrap_err().status, Status::Hdf5Error);
    s.close().unwrap();
    assert_eq!(host::CALLS.load(Ordering::SeqCst), 0, "dgampi's own HDF5 errors went to the host's handler");
    assert_eq!(host::current(), installed, "dgampi changed the host's HDF5 error handler");
    assert!(host::failing_open(dir) < 0);
    assert!(host::CALLS.load(Ordering::SeqCst) >= 1, "the host's handler no longer sees the host's errors");

    // The same with a handler of the old API.
    host::install_v1();
    let installed = host::current_v1();
    assert!(installed.0 != 0 && installed.1 == host::MARK + 1, "the v1 handler was not installed");
    let mut s = SpillFile::new(Path::new(dir).join("e1_Rank00000.hdf5"));
    s.write("a", raw(&values(1, 4))).unwrap();
    assert_eq!(SpillFile::new(Path::new(dir).join("garbage_Rank00000.hdf5")).open().unwrap_err().status, Status::Hdf5Error);
    s.close().unwrap();
    assert_eq!(host::CALLS_V1.load(Ordering::SeqCst), 0, "dgampi's own HDF5 errors went to the host's v1 handler");
    assert_eq!(host::current_v1(), installed, "dgampi changed the host's v1 HDF5 error handler");
    assert!(host::failing_open(dir) < 0);
    assert!(host::CALLS_V1.load(Ordering::SeqCst) >= 1, "the host's v1 handler no longer sees the host's errors");
    say("host errors ok".into());
}

fn child_host_atexit(dir: &str) {
    // dgampi is the process's first HDF5 user.
    let mut s = SpillFile::new(Path::new(dir).join("x_Rank00000.hdf5"));
    s.write("a", raw(&values(1, 4))).unwrap();
    host::create_and_leave_open(&format!("{dir}/host.h5"));
    // exit() runs the at-exit handlers, HDF5's among them unless switched off.
    std::process::exit(0);
}

fn child_main(role: &str, args: &[String]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match (role, a.as_slice()) {
        ("fill", [path, limit, n, reserve]) => {
            child_fill(path, limit.parse().unwrap(), n.parse().unwrap(), reserve.parse().unwrap())
        }
        ("create_and_die", [path]) => child_create_and_die(path),
        ("hold", [path]) => child_hold(path),
        ("read_only", [path]) => child_read_only(path),
        ("write_and_die", [path]) => child_write_and_die(path),
        ("host_errors", [dir]) => child_host_errors(dir),
        ("host_atexit", [dir]) => child_host_atexit(dir),
        _ => panic!("unknown child role {role} {args:?}"),
    }
}

type Check = (&'static str, fn() -> Result<(), String>);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child_main(&args[2], &args[3..]);
        return;
    }
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned().unwrap_or_default();
    let checks: &[Check] = &[
        ("full_disk_keeps_every_acknowledged_dataset", full_disk_keeps_every_acknowledged_dataset),
        ("full_disk_inside_hdf5_keeps_every_acknowledged_dataset", full_disk_inside_hdf5_keeps_every_acknowledged_dataset),
        ("killed_after_create_leaves_a_usable_file", killed_after_create_leaves_a_usable_file),
        ("killed_after_writes_keeps_them", killed_after_writes_keeps_them),
        ("file_held_by_another_process_is_refused_until_it_dies", file_held_by_another_process_is_refused_until_it_dies),
        ("unwritable_file_opens_read_only", unwritable_file_opens_read_only),
        ("host_error_printing_is_untouched", host_error_printing_is_untouched),
        ("host_hdf5_files_are_closed_at_exit", host_hdf5_files_are_closed_at_exit),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks.iter().filter(|c| c.0.contains(&filter)) {
        let outcome = check();
        println!("test spill_faults::{name} ... {}", if outcome.is_ok() { "ok" } else { "FAILED" });
        if let Err(msg) = outcome {
            eprintln!("spill_faults::{name}: {msg}\n");
            failed += 1;
        } else {
            passed += 1;
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out\n");
    std::process::exit((failed != 0) as i32);
}
