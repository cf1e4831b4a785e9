//! MPI test harness shared by the multi-rank test suites.
//!
//! A suite is an integration test with `harness = false`. Run by cargo, it is
//! the *launcher*: it builds the PMPI message-size checker and starts itself
//! under `mpirun` at 1, 2, 3 and 4 ranks, each with the default limit and with
//! the limit lowered (to 3 bytes, which cuts every element type, and to 20
//! bytes, which cuts rows mid-row), under a timeout. Started by mpirun with
//! `DGAMPI_TEST_WORKER=1`, it is a *worker*: it runs every case on every rank
//! and rank 0 reports `CASE <name> ok` only when all ranks passed.
#![allow(dead_code)]

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;

/// A test case: returns Err with a description on failure.
pub type Case = (&'static str, fn(&SimpleCommunicator) -> Result<(), String>);

/// Limits each configuration runs with (None = library default).
pub const LIMITS: [Option<usize>; 3] = [None, Some(3), Some(20)];
/// Rank counts each configuration runs with.
pub const RANKS: [usize; 4] = [1, 2, 3, 4];
/// Seconds before a hung mpirun is killed.
pub const TIMEOUT_S: u64 = 240;

/// Fails with `msg` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// The limit the library uses in this run (what the checker enforces).
pub fn limit_in_force() -> usize {
    dgampi::max_message_bytes()
}

/// A check the launcher runs itself, outside the rank matrix.
pub type LauncherCheck = (&'static str, fn() -> Result<(), String>);

/// Entry point of a suite: `cases` run in the rank/limit matrix, `checks` once
/// in the launcher.
pub fn main(suite: &str, cases: &[Case], checks: &[LauncherCheck]) {
    match std::env::var("DGAMPI_TEST_WORKER").ok().as_deref() {
        Some("1") => worker(cases),
        Some(special) => special_worker(special),
        None => std::process::exit(launcher(suite, cases, checks)),
    }
}

fn worker(cases: &[Case]) {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    let filter = std::env::var("DGAMPI_TEST_FILTER").unwrap_or_default();
    for (name, case) in cases {
        if !name.contains(&filter) {
            continue;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| case(&world)))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        if let Err(msg) = &outcome {
            eprintln!("rank {}: case {name} FAILED: {msg}", world.rank());
        }
        let mine: u8 = outcome.is_err() as u8;
        let mut any: u8 = 0;
        world.all_reduce_into(&mine, &mut any, mpi::collective::SystemOperation::max());
        if world.rank() == 0 {
            println!("CASE {name} {}", if any == 0 { "ok" } else { "FAILED" });
        }
    }
}

/// Special worker modes used by the checker's own test.
fn special_worker(mode: &str) {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    if mode == "oversize" && world.size() >= 2 {
        let limit = limit_in_force();
        let payload = vec![7u8; limit + 1];
        if world.rank() == 0 {
            world.process_at_rank(1).send(&payload[..]);
        } else if world.rank() == 1 {
            let mut buf = vec![0u8; limit + 1];
            world.process_at_rank(0).receive_into(&mut buf[..]);
        }
        println!("oversize message was NOT caught");
    }
}

/// Launcher check: the PMPI checker aborts a run that sends one byte over the limit.
pub fn checker_catches_oversize() -> Result<(), String> {
    let out = mpirun(2, Some(1000), &pmpi_checker(), "oversize").output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure(!out.status.success(), || "the run with an oversize message exited successfully".into())?;
    ensure(stderr.contains("1001-byte message, above the limit of 1000"), || format!("checker message missing:\n{stderr}"))
}

/// Path of the PMPI checker, built on first use.
pub fn pmpi_checker() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_pmpi_checker).clone()
}

fn build_pmpi_checker() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libdgampi_pmpi_check.so");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pmpi_check/pmpi_check.c");
    let status = Command::new("mpicc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("mpicc not found: run scripts/bootstrap");
    assert!(status.success(), "building the PMPI checker failed");
    out
}

/// Builds an mpirun command for `np` ranks of this executable.
pub fn mpirun(np: usize, limit: Option<usize>, checker: &std::path::Path, mode: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "10", &TIMEOUT_S.to_string(), "mpirun", "--oversubscribe", "-n", &np.to_string()]);
    cmd.args(["-x", &format!("LD_PRELOAD={}", checker.display())]);
    cmd.args(["-x", &format!("DGAMPI_TEST_WORKER={mode}")]);
    match limit {
        Some(l) => {
            cmd.args(["-x", &format!("DGAMPI_MAX_MESSAGE_BYTES={l}")]);
        }
        None => {
            cmd.env_remove("DGAMPI_MAX_MESSAGE_BYTES");
        }
    }
    cmd.arg(exe);
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    cmd.env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    cmd
}

fn launcher(suite: &str, cases: &[Case], checks: &[LauncherCheck]) -> i32 {
    let checker = pmpi_checker();
    let (mut passed, mut failed) = (0usize, 0usize);
    let filter = std::env::var("DGAMPI_TEST_FILTER").unwrap_or_default();
    for (name, check) in checks.iter().filter(|c| c.0.contains(&filter)) {
        let outcome = check();
        println!("test {suite}::{name} ... {}", if outcome.is_ok() { "ok" } else { "FAILED" });
        match outcome {
            Ok(()) => passed += 1,
            Err(msg) => {
                eprintln!("{suite}::{name}: {msg}");
                failed += 1;
            }
        }
    }
    let selected: Vec<&str> = cases.iter().map(|c| c.0).filter(|n| n.contains(&filter)).collect();
    let ranks: Vec<usize> = std::env::var("DGAMPI_TEST_RANKS")
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| RANKS.to_vec());
    for np in ranks {
        for limit in LIMITS {
            let label = format!("np={np} limit={}", limit.map_or("default".into(), |l| l.to_string()));
            let out = mpirun(np, limit, &checker, "1").output().expect("mpirun");
            let stdout = String::from_utf8_lossy(&out.stdout);
            for name in &selected {
                let ok = stdout.lines().any(|l| l.trim() == format!("CASE {name} ok"));
                println!("test {suite}::{name} [{label}] ... {}", if ok { "ok" } else { "FAILED" });
                if ok {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            if !out.status.success() || stdout.contains("FAILED") {
                eprintln!("--- {suite} [{label}] exit {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out\n");
    (failed != 0) as i32
}

/// Element types with a deterministic test-value generator.
pub trait TestElem: dgampi::Element + PartialEq + std::fmt::Debug {
    /// A value derived from `x` (exact in every type for small integers).
    fn make(x: u64) -> Self;
    /// `self + other`, wrapping for integers (as MPI_SUM does).
    fn plus(self, other: Self) -> Self;
}
macro_rules! float_elem {
    ($t:ty, $make:expr) => {
        impl TestElem for $t {
            fn make(x: u64) -> Self { let f: fn(u64) -> $t = $make; f(x) }
            fn plus(self, other: Self) -> Self { self + other }
        }
    };
}
macro_rules! int_elem {
    ($t:ty, $make:expr) => {
        impl TestElem for $t {
            fn make(x: u64) -> Self { let f: fn(u64) -> $t = $make; f(x) }
            fn plus(self, other: Self) -> Self { self.wrapping_add(other) }
        }
    };
}
float_elem!(f32, |x| (x % 100_000) as f32 + 0.25);
float_elem!(f64, |x| x as f64 + 0.5);
float_elem!(num_complex::Complex32, |x| num_complex::Complex32::new((x % 100_000) as f32, -((x % 777) as f32)));
float_elem!(num_complex::Complex64, |x| num_complex::Complex64::new(x as f64, -(x as f64) / 4.0));
int_elem!(i32, |x| x as i32 - 7);
int_elem!(i64, |x| -(x as i64) * 3);
int_elem!(u8, |x| (x % 251) as u8);

/// Runs `$body` once per element type, with `$t` bound to it.
#[macro_export]
macro_rules! for_each_dtype {
    ($t:ident => $body:block) => {{
        { type $t = f32; $body }
        { type $t = f64; $body }
        { type $t = num_complex::Complex32; $body }
        { type $t = num_complex::Complex64; $body }
        { type $t = i32; $body }
        { type $t = i64; $body }
        { type $t = u8; $body }
    }};
}

/// An array of `shape` whose element `i` is `T::make(seed * 100_000 + i)`.
pub fn pattern<T: TestElem>(shape: &[usize], seed: u64) -> ndarray::ArrayD<T> {
    let n: usize = shape.iter().product();
    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), (0..n).map(|i| T::make(seed * 100_000 + i as u64)).collect())
        .unwrap()
}
