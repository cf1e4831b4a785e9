//! Shared harness for the workload benchmarks in `benches/w_*.rs`.
//!
//! Each benchmark is an example run under `mpirun` (see `scripts/bench`) and
//! includes this file with `#[path = "common/mod.rs"] mod common;`. It gives:
//!
//! - [`Args`]: the flags every benchmark takes (`--reps N`, `--scale N`,
//!   `--out DIR`), plus [`Args::take_value`] for a benchmark's own flags;
//! - [`Bench`]: one warm-up then `reps` timed repetitions of each case,
//!   cases interleaved per repetition (a, b, c, a, b, c, ...) so that drift
//!   hits them equally; every repetition starts at a barrier and counts the
//!   slowest rank (max over ranks of the local elapsed MPI_Wtime);
//! - statistics (median, min, max), GB/s, throughput ratios to the anchors;
//! - peak RSS per rank (VmHWM from /proc/self/status, gathered to rank 0);
//! - a table on rank 0 and `<out>/<bench>.json`, written by hand (no serde).
//!
//! GB/s is `bytes / seconds / 1e9`, where `bytes` is what the case declares
//! it moves (for a transfer: the payload once, for memcpy: the bytes copied).
//! A ratio is `case GB/s / anchor GB/s`: above 1 means faster than the anchor.
//!
//! Optional, for benchmarks with many cases and anchors (e.g. `w_coll`):
//! - [`Case::vs`] pairs a case with one anchor; once any case does, the table
//!   shows one "vs" column (that anchor and the time ratio case/anchor)
//!   instead of a column per anchor, and the JSON ratios list only the pairs;
//! - [`Case::prepare`] runs once before the case's warm-up, outside timing
//!   (e.g. to poison an output buffer so the check proves the case wrote it);
//! - [`Bench::track_case_rss`] records, per case, the peak resident memory
//!   the warm-up added above what the process held before it (max over ranks),
//!   by resetting VmHWM through `/proc/self/clear_refs`; the process peak
//!   reported at the end is unaffected.
//!
//! Every run also records how much CPU other processes took on rank 0's host
//! while it ran (from `/proc/stat`, minus the CPU time of all ranks, which are
//! assumed to share that host): a benchmark on a busy machine says so.

#![allow(dead_code)]

pub mod fft_data;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::fmt::Write as _;
use std::path::PathBuf;

// ------------------------------------------------------------------ arguments

/// Command-line flags common to every benchmark.
#[derive(Clone, Debug)]
pub struct Args {
    /// Timed repetitions per case (after one warm-up), at least 1.
    pub reps: usize,
    /// Multiplies the workload's size (WORKLOADS.md: "`--scale N` multiplies the batch").
    pub scale: f64,
    /// Output directory for the JSON file.
    pub out: PathBuf,
    /// The command line as given (recorded in the JSON).
    pub argv: Vec<String>,
    /// Arguments not consumed yet (a benchmark's own flags).
    rest: Vec<String>,
}

pub const USAGE: &str = "common flags: --reps N (default 5), --scale N (default 1), --out DIR (default bench_results)";

impl Args {
    /// Parses `std::env::args()`.
    pub fn parse() -> Result<Args, String> {
        Args::from_list(std::env::args().skip(1).collect())
    }

    /// Parses a list of arguments (without the program name).
    pub fn from_list(list: Vec<String>) -> Result<Args, String> {
        let mut args = Args { reps: 5, scale: 1.0, out: PathBuf::from("bench_results"), argv: list.clone(), rest: list };
        if let Some(v) = args.take_value("--reps")? {
            args.reps = v.parse().ok().filter(|&n: &usize| n >= 1).ok_or_else(|| format!("--reps {v:?}: expected an integer >= 1"))?;
        }
        if let Some(v) = args.take_value("--scale")? {
            args.scale = v
                .parse()
                .ok()
                .filter(|&s: &f64| s.is_finite() && s > 0.0)
                .ok_or_else(|| format!("--scale {v:?}: expected a positive number"))?;
        }
        if let Some(v) = args.take_value("--out")? {
            args.out = PathBuf::from(v);
        }
        Ok(args)
    }

    /// Removes `flag VALUE` or `flag=VALUE` from the unconsumed arguments and
    /// returns the value (the last one if given several times).
    pub fn take_value(&mut self, flag: &str) -> Result<Option<String>, String> {
        let mut found = None;
        let mut kept = Vec::new();
        let mut it = std::mem::take(&mut self.rest).into_iter();
        while let Some(a) = it.next() {
            if a == flag {
                found = Some(it.next().ok_or_else(|| format!("{flag} needs a value"))?);
            } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            } else {
                kept.push(a);
            }
        }
        self.rest = kept;
        Ok(found)
    }

    /// Removes every `flag` (a switch without a value) from the unconsumed
    /// arguments; true if it was given.
    pub fn take_flag(&mut self, flag: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != flag);
        self.rest.len() != before
    }

    /// Fails if arguments remain that nobody consumed.
    pub fn finish(&self) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown arguments {:?}; {USAGE}", self.rest))
        }
    }

    /// `base * scale`, rounded, at least 1.
    pub fn scaled(&self, base: usize) -> usize {
        ((base as f64 * self.scale).round() as usize).max(1)
    }
}

// ------------------------------------------------------------------ JSON

/// A JSON value, written by hand.
#[derive(Clone, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }
    pub fn int(n: impl Into<i128>) -> Json {
        Json::Int(n.into())
    }
    pub fn obj(fields: Vec<(&str, Json)>) -> Json {
        Json::Obj(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn opt_str(s: Option<String>) -> Json {
        s.map_or(Json::Null, Json::Str)
    }

    /// Pretty-printed text (2-space indent).
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s.push('\n');
        s
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => write!(out, "{n}").unwrap(),
            // Rust's Display for f64 is the shortest round-trip form, never an
            // exponent; non-finite values have no JSON form.
            Json::Num(x) if x.is_finite() => write!(out, "{x}").unwrap(),
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => escape_into(out, s),
            Json::Arr(items) if items.iter().all(|v| !matches!(v, Json::Arr(_) | Json::Obj(_))) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out, indent);
                }
                out.push(']');
            }
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    pad(out, indent + 2);
                    v.write(out, indent + 2);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    pad(out, indent + 2);
                    escape_into(out, k);
                    out.push_str(": ");
                    v.write(out, indent + 2);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string literal (RFC 8259 escapes).
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                write!(out, "\\u{:04x}", c as u32).unwrap()
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ------------------------------------------------------------------ environment

/// Highest VmHWM seen before a [`reset_peak_rss`] (so the process peak survives resets).
static PEAK_BEFORE_RESETS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A `/proc/self/status` field in kB, as bytes (None if unknown).
fn proc_status_bytes(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find_map(|l| {
        let kb = l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim();
        kb.parse::<u64>().ok().map(|kb| kb * 1024)
    })
}

/// Peak resident set size of this process in bytes (VmHWM, and the highest
/// value seen before any [`reset_peak_rss`]), 0 if unknown.
pub fn peak_rss_bytes() -> u64 {
    let saved = PEAK_BEFORE_RESETS.load(std::sync::atomic::Ordering::Relaxed);
    proc_status_bytes("VmHWM").unwrap_or(0).max(saved)
}

/// Current resident set size of this process in bytes (VmRSS), 0 if unknown.
pub fn current_rss_bytes() -> u64 {
    proc_status_bytes("VmRSS").unwrap_or(0)
}

/// Resets the kernel's VmHWM to the current RSS (`5` into `/proc/self/clear_refs`,
/// Linux >= 4.0), remembering the old peak for [`peak_rss_bytes`]. Returns
/// false when the reset is not possible (then VmHWM keeps the process peak).
pub fn reset_peak_rss() -> bool {
    PEAK_BEFORE_RESETS.fetch_max(peak_rss_bytes(), std::sync::atomic::Ordering::Relaxed);
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Clock ticks per second of `/proc` CPU times.
fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Host-wide CPU seconds from `/proc/stat`: (busy, steal, online CPUs).
/// Busy counts user, nice, system, irq, softirq and steal time.
pub fn host_cpu_s() -> Option<(f64, f64, usize)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = s.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        return None;
    }
    let cpus = s.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    let tck = clock_ticks_per_s();
    Some(((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) as f64 / tck, v[7] as f64 / tck, cpus))
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
pub fn own_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime); `rest` starts at field 3.
    let (u, k): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((u + k) as f64 / clock_ticks_per_s())
}

/// CPU use on rank 0's host while the benchmark ran.
#[derive(Clone, Debug)]
pub struct HostLoad {
    pub cpus: usize,
    pub wall_s: f64,
    /// Busy CPU seconds of the whole host.
    pub host_busy_s: f64,
    /// Of which stolen by the hypervisor.
    pub steal_s: f64,
    /// CPU seconds of all ranks of this benchmark.
    pub ours_s: f64,
}

impl HostLoad {
    /// CPU seconds that other processes (and the hypervisor) took.
    pub fn others_s(&self) -> f64 {
        (self.host_busy_s - self.ours_s).max(0.0)
    }
    /// `others_s` as a fraction of the host's capacity during the run.
    pub fn others_fraction(&self) -> f64 {
        self.others_s() / (self.cpus.max(1) as f64 * self.wall_s)
    }
}

/// Host name (from the kernel), if known.
pub fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|s| s.trim().to_string());
    name.filter(|s| !s.is_empty()).or_else(|| mpi::environment::processor_name().ok())
}

/// First line of a command's standard output, if it runs.
pub fn command_line_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).stderr(std::process::Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).lines().next()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Current UTC time as ISO 8601 (`2024-05-01T12:34:56Z`).
pub fn utc_now_iso8601() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Formats a byte count as GiB/MiB/KiB/B.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if b >= size {
            return format!("{:.2} {name}", b as f64 / size as f64);
        }
    }
    format!("{b} B")
}

// ------------------------------------------------------------------ statistics

/// Median (mean of the two middle values for an even count), NaN if empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

pub fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

// ------------------------------------------------------------------ cases

type RunFn<'a, S> = Box<dyn FnMut(&mut S) + 'a>;
type CheckFn<'a, S> = Box<dyn FnMut(&mut S) -> Result<(), String> + 'a>;

/// One measured operation. `run` is called on every rank (a rank with nothing
/// to do returns at once; the repetition's time is the slowest rank's).
pub struct Case<'a, S> {
    pub name: String,
    pub description: String,
    pub bytes: u64,
    pub anchor: bool,
    /// The anchor this case is compared with (see [`Case::vs`]).
    pub vs: Option<String>,
    run: RunFn<'a, S>,
    check: Option<CheckFn<'a, S>>,
    prepare: Option<RunFn<'a, S>>,
}

impl<'a, S> Case<'a, S> {
    /// A case named `name` (short id, used as table row and JSON name) moving `bytes`.
    pub fn new(name: &str, description: &str, bytes: u64, run: impl FnMut(&mut S) + 'a) -> Self {
        Case {
            name: name.into(),
            description: description.into(),
            bytes,
            anchor: false,
            vs: None,
            run: Box::new(run),
            check: None,
            prepare: None,
        }
    }

    /// Compares this case with the anchor named `anchor` only. Once any case of
    /// a run uses this, ratios are shown and stored for such pairs only.
    pub fn vs(mut self, anchor: &str) -> Self {
        self.vs = Some(anchor.into());
        self
    }

    /// Runs `f` on every rank once before this case's warm-up, outside timing.
    pub fn prepare(mut self, f: impl FnMut(&mut S) + 'a) -> Self {
        self.prepare = Some(Box::new(f));
        self
    }

    /// Marks the case as an anchor: every case gets a ratio column against it.
    pub fn anchor(mut self) -> Self {
        self.anchor = true;
        self
    }

    /// A verification run on every rank once, right after this case's warm-up
    /// (outside any timing); a failure on any rank aborts the benchmark.
    pub fn check(mut self, f: impl FnMut(&mut S) -> Result<(), String> + 'a) -> Self {
        self.check = Some(Box::new(f));
        self
    }
}

/// Timings of one case (each already the max over ranks).
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub description: String,
    pub bytes: u64,
    pub anchor: bool,
    pub warmup_s: f64,
    pub times: Vec<f64>,
    pub verified: Option<bool>,
    /// The anchor this case is compared with ([`Case::vs`]).
    pub vs: Option<String>,
    /// Peak RSS the warm-up added, max over ranks ([`Bench::track_case_rss`]).
    pub peak_extra_rss: Option<u64>,
}

impl CaseResult {
    pub fn median_s(&self) -> f64 {
        median(&self.times)
    }
    pub fn min_s(&self) -> f64 {
        min(&self.times)
    }
    pub fn max_s(&self) -> f64 {
        max(&self.times)
    }
    /// GB/s at the median time.
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 / self.median_s() / 1e9
    }
    /// Throughput of this case divided by the anchor's (median times).
    pub fn ratio_to(&self, anchor: &CaseResult) -> f64 {
        self.gbps() / anchor.gbps()
    }
    /// Median time of this case divided by the anchor's (above 1: slower).
    pub fn time_ratio_to(&self, anchor: &CaseResult) -> f64 {
        self.median_s() / anchor.median_s()
    }
}

// ------------------------------------------------------------------ the bench

/// One benchmark run: collects case results, prints the table, writes the JSON.
pub struct Bench<'w> {
    pub world: &'w SimpleCommunicator,
    pub rank: i32,
    pub size: i32,
    /// Workload id from WORKLOADS.md, e.g. "W-P2P".
    pub workload: String,
    /// File stem of the outputs, e.g. "w_p2p" (→ `<out>/w_p2p.json`).
    pub stem: String,
    pub args: Args,
    pub results: Vec<CaseResult>,
    params: Vec<(String, Json)>,
    notes: Vec<String>,
    t_start: f64,
    date: String,
    track_rss: bool,
    /// Host CPU (busy, steal) and own CPU seconds at the start.
    cpu_start: Option<(f64, f64, f64)>,
    host_load: Option<HostLoad>,
}

impl<'w> Bench<'w> {
    pub fn new(world: &'w SimpleCommunicator, workload: &str, stem: &str, args: Args) -> Self {
        Bench {
            world,
            rank: world.rank(),
            size: world.size(),
            workload: workload.into(),
            stem: stem.into(),
            args,
            results: Vec::new(),
            params: Vec::new(),
            notes: Vec::new(),
            t_start: mpi::time(),
            date: utc_now_iso8601(),
            track_rss: false,
            cpu_start: host_cpu_s().zip(own_cpu_s()).map(|((busy, steal, _), own)| (busy, steal, own)),
            host_load: None,
        }
    }

    /// Records each case's peak extra RSS during its warm-up (see the module
    /// documentation). Returns false (and stays off) where VmHWM cannot be reset.
    pub fn track_case_rss(&mut self, on: bool) -> bool {
        self.track_rss = on && reset_peak_rss();
        self.track_rss
    }

    /// True on rank 0 (which prints and writes).
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// Records a workload parameter (JSON "params" object, and printed above the table).
    pub fn param(&mut self, key: &str, value: Json) {
        self.params.push((key.into(), value));
    }

    /// A line printed under the table and stored in the JSON "notes".
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Prints on rank 0 (stderr, so progress never mixes into the table on stdout).
    pub fn progress(&self, text: &str) {
        if self.is_root() {
            eprintln!("[{} +{:.1}s] {text}", self.stem, mpi::time() - self.t_start);
        }
    }

    /// Prints `msg` on rank 0 and aborts every rank.
    pub fn fail(&self, msg: &str) -> ! {
        eprintln!("[{} rank {}] error: {msg}", self.stem, self.rank);
        self.world.abort(2)
    }

    /// Times `f` once: barrier, run, local elapsed, max over ranks.
    pub fn time_once(&self, f: impl FnOnce()) -> f64 {
        self.world.barrier();
        let t0 = mpi::time();
        f();
        let local = mpi::time() - t0;
        let mut slowest = 0.0f64;
        self.world.all_reduce_into(&local, &mut slowest, SystemOperation::max());
        slowest
    }

    /// Runs the cases: each once as warm-up (then its check, if any), then
    /// `reps` repetitions interleaved case by case. Results are appended.
    pub fn run_cases<S>(&mut self, state: &mut S, mut cases: Vec<Case<'_, S>>) {
        let reps = self.args.reps;
        let mut results: Vec<CaseResult> = cases
            .iter()
            .map(|c| CaseResult {
                name: c.name.clone(),
                description: c.description.clone(),
                bytes: c.bytes,
                anchor: c.anchor,
                warmup_s: f64::NAN,
                times: Vec::with_capacity(reps),
                verified: None,
                vs: c.vs.clone(),
                peak_extra_rss: None,
            })
            .collect();
        for (c, r) in cases.iter_mut().zip(results.iter_mut()) {
            if let Some(prepare) = c.prepare.as_mut() {
                prepare(state);
            }
            let rss_before = if self.track_rss {
                reset_peak_rss();
                Some(current_rss_bytes())
            } else {
                None
            };
            r.warmup_s = self.time_once(|| (c.run)(state));
            if let Some(before) = rss_before {
                let extra = proc_status_bytes("VmHWM").unwrap_or(0).saturating_sub(before);
                let mut worst = 0u64;
                self.world.all_reduce_into(&extra, &mut worst, SystemOperation::max());
                r.peak_extra_rss = Some(worst);
            }
            if let Some(check) = c.check.as_mut() {
                let outcome = check(state);
                if let Err(msg) = &outcome {
                    eprintln!("[{} rank {}] verification of {} FAILED: {msg}", self.stem, self.rank, c.name);
                }
                let (mine, mut all) = (i32::from(outcome.is_ok()), 0i32);
                self.world.all_reduce_into(&mine, &mut all, SystemOperation::min());
                if all == 0 {
                    self.fail(&format!("verification of case {} failed", c.name));
                }
                r.verified = Some(true);
            }
            self.progress(&format!(
                "warm-up {:<12} {:>9.4} s{}",
                c.name,
                r.warmup_s,
                if r.verified.is_some() { "  (verified)" } else { "" }
            ));
        }
        for rep in 0..reps {
            let mut line = format!("rep {}/{reps}:", rep + 1);
            for (c, r) in cases.iter_mut().zip(results.iter_mut()) {
                let t = self.time_once(|| (c.run)(state));
                r.times.push(t);
                write!(line, "  {} {:.4} s", c.name, t).unwrap();
            }
            self.progress(&line);
        }
        self.results.extend(results);
    }

    /// Peak RSS of every rank, gathered on rank 0 (empty on other ranks).
    pub fn gather_peak_rss(&self) -> Vec<u64> {
        let mine = peak_rss_bytes();
        let root = self.world.process_at_rank(0);
        if self.is_root() {
            let mut all = vec![0u64; self.size as usize];
            root.gather_into_root(&mine, &mut all[..]);
            all
        } else {
            root.gather_into(&mine);
            Vec::new()
        }
    }

    /// Gathers peak RSS, prints the table and writes the JSON (rank 0). Collective.
    /// Returns the JSON path on rank 0.
    pub fn finish(mut self) -> Option<PathBuf> {
        let rss = self.gather_peak_rss();
        let wall = mpi::time() - self.t_start;
        self.host_load = self.measure_host_load(wall);
        if !self.is_root() {
            return None;
        }
        print!("{}", self.table(&rss, wall));
        let json = self.to_json(&rss, wall);
        let path = self.args.out.join(format!("{}.json", self.stem));
        let written = std::fs::create_dir_all(&self.args.out).and_then(|_| std::fs::write(&path, json.render()));
        match written {
            Ok(()) => {
                println!("results: {}", path.display());
                Some(path)
            }
            Err(e) => {
                eprintln!("[{}] cannot write {}: {e}", self.stem, path.display());
                None
            }
        }
    }

    /// CPU use on rank 0's host since [`Bench::new`] (collective; `Some` on rank 0
    /// when every rank could read its own CPU time).
    fn measure_host_load(&self, wall: f64) -> Option<HostLoad> {
        let own = self.cpu_start.and_then(|(_, _, start)| own_cpu_s().map(|now| now - start));
        let mine = own.unwrap_or(f64::NAN);
        let mut ours = 0.0f64;
        self.world.all_reduce_into(&mine, &mut ours, SystemOperation::sum());
        let (busy0, steal0, _) = self.cpu_start?;
        let (busy, steal, cpus) = host_cpu_s()?;
        (self.is_root() && ours.is_finite()).then_some(HostLoad {
            cpus,
            wall_s: wall,
            host_busy_s: busy - busy0,
            steal_s: steal - steal0,
            ours_s: ours,
        })
    }

    fn anchors(&self) -> Vec<&CaseResult> {
        self.results.iter().filter(|r| r.anchor).collect()
    }

    /// True when some case names its anchor ([`Case::vs`]): ratios only for those pairs.
    fn paired_mode(&self) -> bool {
        self.results.iter().any(|r| r.vs.is_some())
    }

    /// The result table as printed by [`Bench::finish`].
    pub fn table(&self, rss: &[u64], wall: f64) -> String {
        let mut s = String::new();
        let anchors = self.anchors();
        writeln!(s, "{} ({}): {} ranks, median of {} reps after 1 warm-up, max over ranks per rep", self.workload, self.stem, self.size, self.args.reps).unwrap();
        for (k, v) in &self.params {
            let shown = match v {
                Json::Str(t) => t.clone(),
                other => other.render().trim_end().to_string(),
            };
            writeln!(s, "  {k}: {shown}").unwrap();
        }
        let wname = self.results.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        let mut header = format!("{:<wname$} {:>10} {:>10} {:>10} {:>9}", "case", "median s", "min s", "max s", "GB/s");
        let paired = self.paired_mode();
        let wvs = self.results.iter().filter_map(|r| r.vs.as_ref().map(|v| v.len())).max().unwrap_or(2).max(2);
        if paired {
            write!(header, " {:<wvs$} {:>9} {:>9}", "vs", "t/anchor", "GB/s/anc").unwrap();
        } else {
            for a in &anchors {
                let col = format!("vs {}", a.name);
                write!(header, " {:>w$}", col, w = col.len().max(8)).unwrap();
            }
        }
        if self.track_rss {
            write!(header, " {:>12}", "+peak RSS").unwrap();
        }
        writeln!(s, "{header}").unwrap();
        writeln!(s, "{}", "-".repeat(header.len())).unwrap();
        for r in &self.results {
            write!(s, "{:<wname$} {:>10.4} {:>10.4} {:>10.4} {:>9.3}", r.name, r.median_s(), r.min_s(), r.max_s(), r.gbps()).unwrap();
            if paired {
                match r.vs.as_ref().and_then(|v| self.results.iter().find(|a| &a.name == v)) {
                    Some(a) => write!(s, " {:<wvs$} {:>9.3} {:>9.3}", a.name, r.time_ratio_to(a), r.ratio_to(a)).unwrap(),
                    None => write!(s, " {:<wvs$} {:>9} {:>9}", "-", "-", "-").unwrap(),
                }
            } else {
                for a in &anchors {
                    let w = format!("vs {}", a.name).len().max(8);
                    write!(s, " {:>w$.3}", r.ratio_to(a)).unwrap();
                }
            }
            if self.track_rss {
                write!(s, " {:>12}", r.peak_extra_rss.map_or("-".to_string(), human_bytes)).unwrap();
            }
            writeln!(s).unwrap();
        }
        if paired {
            writeln!(s, "  t/anchor: median time / the anchor's median time (above 1: slower); GB/s/anc: throughput ratio").unwrap();
        }
        if self.track_rss {
            writeln!(s, "  +peak RSS: resident memory the warm-up added at its peak above what the rank held before (max over ranks)").unwrap();
        }
        for r in &self.results {
            let tag = if r.anchor { "anchor" } else { "case" };
            let ver = match r.verified {
                Some(true) => ", data verified",
                _ => "",
            };
            writeln!(s, "  {:<wname$} {tag}: {} ({} per rep{ver})", r.name, r.description, human_bytes(r.bytes)).unwrap();
        }
        if !rss.is_empty() {
            let per: Vec<String> = rss.iter().enumerate().map(|(i, b)| format!("r{i} {}", human_bytes(*b))).collect();
            writeln!(s, "peak RSS: max {} ({})", human_bytes(rss.iter().copied().max().unwrap_or(0)), per.join(", ")).unwrap();
        }
        for n in &self.notes {
            writeln!(s, "note: {n}").unwrap();
        }
        if let Some(h) = &self.host_load {
            writeln!(
                s,
                "host CPU during the run: other processes {:.1} CPU-s ({:.0}% of {} CPUs x {:.1} s; steal {:.1} s), this benchmark {:.1} CPU-s",
                h.others_s(),
                100.0 * h.others_fraction(),
                h.cpus,
                h.wall_s,
                h.steal_s,
                h.ours_s
            )
            .unwrap();
        }
        writeln!(s, "wall time of the run: {wall:.1} s").unwrap();
        s
    }

    /// The JSON document written by [`Bench::finish`].
    pub fn to_json(&self, rss: &[u64], wall: f64) -> Json {
        let cases = self
            .results
            .iter()
            .map(|r| {
                Json::obj(vec![
                    ("name", Json::str(&r.name)),
                    ("description", Json::str(&r.description)),
                    ("anchor", Json::Bool(r.anchor)),
                    ("bytes", Json::int(r.bytes)),
                    ("median_s", Json::Num(r.median_s())),
                    ("min_s", Json::Num(r.min_s())),
                    ("max_s", Json::Num(r.max_s())),
                    ("gbps", Json::Num(r.gbps())),
                    ("gbps_at_min_s", Json::Num(r.bytes as f64 / r.min_s() / 1e9)),
                    ("gbps_at_max_s", Json::Num(r.bytes as f64 / r.max_s() / 1e9)),
                    ("reps", Json::int(r.times.len() as u64)),
                    ("times_s", Json::Arr(r.times.iter().map(|&t| Json::Num(t)).collect())),
                    ("warmup_s", Json::Num(r.warmup_s)),
                    ("verified", r.verified.map_or(Json::Null, Json::Bool)),
                    ("vs", Json::opt_str(r.vs.clone())),
                    ("peak_extra_rss_bytes", r.peak_extra_rss.map_or(Json::Null, Json::int)),
                ])
            })
            .collect();
        let mut ratios = Vec::new();
        let paired = self.paired_mode();
        for a in self.anchors() {
            for r in self.results.iter().filter(|r| r.name != a.name) {
                if paired && r.vs.as_deref() != Some(a.name.as_str()) {
                    continue;
                }
                ratios.push(Json::obj(vec![
                    ("case", Json::str(&r.name)),
                    ("anchor", Json::str(&a.name)),
                    ("throughput_ratio", Json::Num(r.ratio_to(a))),
                    ("time_ratio", Json::Num(r.time_ratio_to(a))),
                ]));
            }
        }
        Json::obj(vec![
            ("workload", Json::str(&self.workload)),
            ("bench", Json::str(&self.stem)),
            ("date", Json::str(&self.date)),
            ("ranks", Json::int(self.size)),
            ("hostname", Json::opt_str(hostname())),
            ("rustc", Json::opt_str(command_line_output("rustc", &["--version"]))),
            ("dgampi_version", Json::str(env!("CARGO_PKG_VERSION"))),
            ("git_commit", Json::opt_str(command_line_output("git", &["rev-parse", "HEAD"]))),
            ("mpi_library", Json::opt_str(mpi::environment::library_version().ok().map(|s| s.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string()))),
            ("argv", Json::Arr(self.args.argv.iter().map(Json::str).collect())),
            (
                "args",
                Json::obj(vec![
                    ("reps", Json::int(self.args.reps as u64)),
                    ("scale", Json::Num(self.args.scale)),
                    ("out", Json::str(self.args.out.display().to_string())),
                ]),
            ),
            ("params", Json::Obj(self.params.clone())),
            ("cases", Json::Arr(cases)),
            ("ratios", Json::Arr(ratios)),
            ("peak_rss_bytes", Json::Arr(rss.iter().map(|&b| Json::int(b)).collect())),
            ("peak_rss_max_bytes", Json::int(rss.iter().copied().max().unwrap_or(0))),
            ("notes", Json::Arr(self.notes.iter().map(Json::str).collect())),
            ("wall_s", Json::Num(wall)),
            (
                "host_cpu",
                self.host_load.as_ref().map_or(Json::Null, |h| {
                    Json::obj(vec![
                        ("cpus", Json::int(h.cpus as u64)),
                        ("wall_s", Json::Num(h.wall_s)),
                        ("host_busy_cpu_s", Json::Num(h.host_busy_s)),
                        ("steal_cpu_s", Json::Num(h.steal_s)),
                        ("benchmark_cpu_s", Json::Num(h.ours_s)),
                        ("others_cpu_s", Json::Num(h.others_s())),
                        ("others_fraction", Json::Num(h.others_fraction())),
                    ])
                }),
            ),
        ])
    }
}

/// Parses the common flags or exits (every rank prints nothing but rank 0).
pub fn parse_args_or_exit(rank: i32) -> Args {
    match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            if rank == 0 {
                eprintln!("error: {e}\n{USAGE}");
            }
            std::process::exit(2)
        }
    }
}
