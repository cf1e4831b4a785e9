//! MPI test harness shared by the multi-rank test suites.
//!
//! A suite is an integration test with `harness = false`. Run by cargo, it is
//! the *launcher*: it builds the PMPI message-size checker and starts itself
//! under `mpirun` at 1, 2, 3 and 4 ranks, each with the default limit and with
//! the limit lowered (to 3 bytes, which cuts every element type, and to 20
//! bytes, which cuts rows mid-row), under a timeout. The launcher (`mpirun`,
//! hydra's `mpiexec.mpich`, a site `mpiexec`) and its flags come from
//! `scripts/mpi_env` (see [`mpi_settings`]). Started by the launcher with
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
/// Seconds before a hung mpirun is killed (`DGAMPI_TEST_TIMEOUT_S` overrides).
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
    check_world_size(&world);
    let filter = std::env::var("DGAMPI_TEST_FILTER").unwrap_or_default();
    for (name, case) in cases {
        if !name.contains(&filter) {
            continue;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| case(&world)))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        let skipped = matches!(&outcome, Err(msg) if msg.starts_with(SKIP));
        if let (Err(msg), false) = (&outcome, skipped) {
            eprintln!("rank {}: case {name} FAILED: {msg}", world.rank());
        }
        // 0 ok, 1 skipped (on every rank alike), 2 failed
        let mine: u8 = match (&outcome, skipped) {
            (Ok(()), _) => 0,
            (Err(_), true) => 1,
            (Err(_), false) => 2,
        };
        let mut worst: u8 = 0;
        world.all_reduce_into(&mine, &mut worst, mpi::collective::SystemOperation::max());
        if world.rank() == 0 {
            match (worst, &outcome) {
                (0, _) => println!("CASE {name} ok"),
                (1, Err(msg)) => println!("CASE {name} ignored {}", msg.trim_start_matches(SKIP).trim()),
                _ => println!("CASE {name} FAILED"),
            }
        }
    }
}

/// A launcher of another MPI starts `np` singletons, each of which would pass
/// every case alone: refuse to run then.
fn check_world_size(world: &SimpleCommunicator) {
    let expected: Option<i32> = std::env::var("DGAMPI_TEST_NP").ok().and_then(|v| v.parse().ok());
    if let Some(np) = expected.filter(|&np| np != world.size()) {
        eprintln!(
            "rank {} of {}: started as one of {np} ranks by {}: the launcher does not belong to the MPI \
             these tests were built with (DGAMPI_MPI={}, see scripts/mpi_env)",
            world.rank(),
            world.size(),
            mpi_settings().mpiexec,
            mpi_settings().mpi
        );
        std::process::exit(3);
    }
}

/// Special worker modes used by the checker's own test.
fn special_worker(mode: &str) {
    let universe = mpi::initialize().expect("MPI_Init");
    let world = universe.world();
    check_world_size(&world);
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
    // The checker also writes its message to DGAMPI_PMPI_LOG: the launcher may
    // tear the job down before it forwards the aborting rank's stderr.
    let log = std::env::temp_dir().join(format!("dgampi_pmpi_oversize_{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let out = mpirun(2, Some(1000), &pmpi_checker(), "oversize").env("DGAMPI_PMPI_LOG", &log).output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    ensure(!out.status.success(), || "the run with an oversize message exited successfully".into())?;
    let want = "1001-byte message, above the limit of 1000";
    ensure(logged.contains(want), || format!("checker message missing from DGAMPI_PMPI_LOG ({logged:?}); stderr:\n{stderr}"))
}

/// Path of the PMPI checker, built on first use.
pub fn pmpi_checker() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_pmpi_checker).clone()
}

fn build_pmpi_checker() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libdgampi_pmpi_check.so");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pmpi_check/pmpi_check.c");
    let mpicc = &mpi_settings().mpicc;
    let status = Command::new(mpicc)
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("{mpicc} not found ({e}): run scripts/bootstrap"));
    assert!(status.success(), "building the PMPI checker with {mpicc} failed");
    out
}

/// How to compile against and launch the MPI these tests run on: one place,
/// `scripts/mpi_env` (`DGAMPI_MPI=openmpi|mpich|site`). The scripts export its
/// values; run by plain `cargo test`, the harness asks it itself.
pub struct MpiSettings {
    /// Which MPI (`DGAMPI_MPI`).
    pub mpi: String,
    /// The MPI C compiler wrapper (the PMPI checker is built with it).
    pub mpicc: String,
    /// The launcher and the flags it takes before `-n N`.
    pub mpiexec: String,
    pub mpiexec_flags: Vec<String>,
    /// Variables the launcher itself needs (Open MPI as root).
    pub env: Vec<(String, String)>,
}

/// The settings of `scripts/mpi_env`, read once.
pub fn mpi_settings() -> &'static MpiSettings {
    static SETTINGS: std::sync::OnceLock<MpiSettings> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| {
        let vars: Vec<(String, String)> = if std::env::var_os("DGAMPI_MPIEXEC").is_some() {
            std::env::vars().collect()
        } else {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/mpi_env");
            let out = Command::new("bash").arg(&script).output().expect("bash scripts/mpi_env");
            assert!(out.status.success(), "scripts/mpi_env failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect()
        };
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        MpiSettings {
            mpi: get("DGAMPI_MPI").unwrap_or_else(|| "openmpi".into()),
            mpicc: get("DGAMPI_MPICC").unwrap_or_else(|| "mpicc".into()),
            mpiexec: get("DGAMPI_MPIEXEC").unwrap_or_else(|| "mpirun".into()),
            mpiexec_flags: get("DGAMPI_MPIEXEC_FLAGS").unwrap_or_default().split_whitespace().map(String::from).collect(),
            env: vars.into_iter().filter(|(k, _)| k.starts_with("OMPI_")).collect(),
        }
    })
}

/// Builds a launcher command for `np` ranks of this executable. Variables
/// for the ranks go through `env NAME=VALUE` (every launcher runs it; Open
/// MPI's `-x` and hydra's `-genv` differ), so the PMPI checker is preloaded
/// into the ranks only, never into the launcher.
pub fn mpirun(np: usize, limit: Option<usize>, checker: &std::path::Path, mode: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mpi = mpi_settings();
    let mut cmd = Command::new("timeout");
    let timeout = std::env::var("DGAMPI_TEST_TIMEOUT_S").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(TIMEOUT_S);
    cmd.args(["-k", "10", &timeout.to_string(), &mpi.mpiexec]);
    cmd.args(&mpi.mpiexec_flags);
    cmd.args(["-n", &np.to_string(), "env"]);
    // the checker in front of what the scripts preload (MPICH's yield_when_idle)
    let inherited = std::env::var("LD_PRELOAD").unwrap_or_default();
    let sep = if inherited.is_empty() { "" } else { ":" };
    cmd.arg(format!("LD_PRELOAD={}{sep}{inherited}", checker.display()));
    cmd.arg(format!("DGAMPI_TEST_WORKER={mode}"));
    cmd.arg(format!("DGAMPI_TEST_NP={np}"));
    match limit {
        Some(l) => {
            cmd.arg(format!("DGAMPI_MAX_MESSAGE_BYTES={l}"));
        }
        None => {
            cmd.env_remove("DGAMPI_MAX_MESSAGE_BYTES");
        }
    }
    cmd.arg(exe);
    cmd.envs(mpi.env.iter().map(|(k, v)| (k, v)));
    cmd
}

fn launcher(suite: &str, cases: &[Case], checks: &[LauncherCheck]) -> i32 {
    let checker = pmpi_checker();
    let (mut passed, mut failed, mut ignored_n) = (0usize, 0usize, 0usize);
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
    let matrix = std::env::var("DGAMPI_TEST_MATRIX").unwrap_or_default();
    if !matrix.trim().is_empty() {
        println!("{suite}: rank/limit runs trimmed by DGAMPI_TEST_MATRIX=\"{matrix}\" (scripts/mpi_env)");
    }
    for np in ranks {
        for limit in limits_for(np, &matrix) {
            let label = format!("np={np} limit={}", limit.map_or("default".into(), |l| l.to_string()));
            let out = mpirun(np, limit, &checker, "1").output().expect("mpirun");
            let stdout = String::from_utf8_lossy(&out.stdout);
            for name in &selected {
                let ok = stdout.lines().any(|l| l.trim() == format!("CASE {name} ok"));
                let ignored_prefix = format!("CASE {name} ignored ");
                let ignored = stdout.lines().find_map(|l| l.trim().strip_prefix(ignored_prefix.as_str()).map(str::to_string));
                if let Some(why) = ignored {
                    println!("test {suite}::{name} [{label}] ... ignored ({why})");
                    ignored_n += 1;
                    continue;
                }
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
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed; {ignored_n} ignored; 0 measured; 0 filtered out\n");
    (failed != 0) as i32
}

/// The limits the runs at `np` ranks use: every one of [`LIMITS`], unless
/// `matrix` (`DGAMPI_TEST_MATRIX`, space-separated `NP=WHICH`) names `np`:
/// WHICH is `all`, `default` (the library default only), `lowered` (every
/// lowered limit) or `min` (the lowest limit only). Set by scripts/mpi_env
/// for an MPI whose ranks busy-poll when there are more ranks than cores.
pub fn limits_for(np: usize, matrix: &str) -> Vec<Option<usize>> {
    let which = matrix
        .split_whitespace()
        .filter_map(|e| e.split_once('='))
        .find(|(n, _)| n.trim().parse::<usize>().ok() == Some(np))
        .map(|(_, w)| w.trim().to_string());
    match which.as_deref() {
        None | Some("all") => LIMITS.to_vec(),
        Some("default") => vec![None],
        Some("lowered") => LIMITS.iter().copied().filter(Option::is_some).collect(),
        Some("min") => vec![LIMITS.iter().copied().flatten().min()],
        Some(other) => panic!("DGAMPI_TEST_MATRIX: '{other}' for {np} ranks is not all, default, lowered or min"),
    }
}

/// A case that returns `Err` starting with this is reported as ignored, with
/// the rest of the message as the reason (it must do so on every rank).
pub const SKIP: &str = "SKIP:";

/// Whether a blocking send to this rank itself completes before its receive is
/// posted. Open MPI buffers small messages to self; MPICH (ch4) completes a
/// send to self only when the receive matches it, which is allowed by the MPI
/// standard: a single-threaded send-then-receive to self then never returns.
/// Probed once (a 1-byte `MPI_Isend` to self on a duplicate of the world,
/// tested before and completed after the matching receive).
pub fn self_send_is_buffered(world: &SimpleCommunicator) -> bool {
    static BUFFERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *BUFFERED.get_or_init(|| {
        let comm = world.duplicate();
        let me = comm.rank();
        let byte = [1u8];
        let mut got = [0u8];
        let buffered = mpi::request::scope(|scope| {
            let req = comm.process_at_rank(me).immediate_send(scope, &byte[..]);
            let mut req = Some(req);
            for _ in 0..1000 {
                match req.take().unwrap().test() {
                    Ok(_) => break,
                    Err(r) => req = Some(r),
                }
            }
            let done = req.is_none();
            comm.process_at_rank(me).receive_into(&mut got[..]);
            if let Some(r) = req {
                r.wait();
            }
            done
        });
        buffered
    })
}

/// For point-to-point cases that send to the next rank before receiving from
/// the previous one: at one rank that is a send to self, which only an MPI
/// that buffers it (Open MPI) can run; elsewhere the case is ignored with the
/// reason (MPICH).
pub fn skip_unless_self_send_buffered(world: &SimpleCommunicator) -> Result<(), String> {
    if world.size() == 1 && !self_send_is_buffered(world) {
        return Err(format!(
            "{SKIP} at 1 rank the ring is a blocking send to self, which this MPI ({}) completes only \
             once the receive is posted; the case runs at 2, 3 and 4 ranks",
            mpi_settings().mpi
        ));
    }
    Ok(())
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
