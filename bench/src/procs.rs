//! The procs workloads: N cell children at once, each on its own stretch of
//! the test file, measured over one common window.
//!
//! Each child warms up (that is where paio and io_submit set up their kernel
//! AIO contexts), prints [`READY`] and waits on stdin for `go START END`
//! (`CLOCK_MONOTONIC` nanoseconds, system-wide): it sleeps until START and
//! stops starting I/O at END, so every process is measured over the same
//! window. The group's IOPS are the I/Os of all of them over the span from
//! the first start to the last stop. For the paio column each child runs with
//! `PAIO_STATS` pointing at a directory of the group's own, and the report
//! says how many processes ran on kernel AIO and how many fell back to the
//! pool; `fs.aio-nr` is watched throughout.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::aio_nr;
use crate::cell::CellSpec;
use crate::paio_stats::{self, ProcessBackend};
use crate::report::median;
use crate::runner::{cell_command, cell_outcome, Metrics, Outcome};
use crate::workload::Impl;

/// The line a group child prints on stdout once it is warmed up.
pub const READY: &str = "PAIO-BENCH-READY";

/// Time between the go and the common start, so every child has read it.
const START_MARGIN: Duration = Duration::from_millis(20);
/// More margin per process (each needs a moment of CPU to read its go).
const START_MARGIN_PER_PROC: Duration = Duration::from_micros(200);

/// `CLOCK_MONOTONIC` now, in nanoseconds: the same clock in every process.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec.max(0) as u64 * 1_000_000_000 + ts.tv_nsec.max(0) as u64
}

/// The child's side: say it is ready, wait for the go, sleep until the
/// common start. Returns the common end, if the parent set one (it does not
/// under `--smoke`, where each child does a fixed number of I/Os). A parent
/// that went away is no reason to hang: the child then just goes on.
pub fn await_go() -> Option<Instant> {
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{READY}");
        let _ = out.flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    if words.next() != Some("go") {
        return None;
    }
    let start: u64 = words.next()?.parse().ok()?;
    let end: u64 = words.next()?.parse().ok()?;
    let now = monotonic_ns();
    if start > now {
        std::thread::sleep(Duration::from_nanos(start - now));
    }
    let now = monotonic_ns();
    (end > 0).then(|| Instant::now() + Duration::from_nanos(end.saturating_sub(now)))
}

/// What a group's run adds to the summed numbers.
#[derive(Clone, Debug)]
pub struct GroupStats {
    pub procs: usize,
    /// `fs.aio-nr` before the children started, and its peak while they ran.
    pub aio_nr: Option<(u64, u64)>,
    /// paio only: each process's backend, from its statistics file (`Err`:
    /// why that file could not be read).
    pub backends: Vec<Result<ProcessBackend, String>>,
    /// The slowest and the fastest process's own IOPS.
    pub iops_min: f64,
    pub iops_max: f64,
}

impl GroupStats {
    /// paio's processes that ran on kernel AIO, of those whose file was read.
    pub fn on_kaio(&self) -> usize {
        self.backends
            .iter()
            .filter(|b| b.as_ref().is_ok_and(ProcessBackend::on_kaio))
            .count()
    }

    /// `(label, processes)` of every backend other than kernel AIO, and of
    /// unreadable files.
    pub fn elsewhere(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for b in &self.backends {
            let label = match b {
                Ok(b) if b.on_kaio() => continue,
                Ok(b) => b.label(),
                Err(_) => "no statistics file".to_string(),
            };
            match out.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => out.push((label, 1)),
            }
        }
        out
    }

    /// The `kaio_refused` counter summed over the processes.
    pub fn kaio_refused(&self) -> u64 {
        self.backends
            .iter()
            .flatten()
            .map(|b| b.get("kaio_refused"))
            .sum()
    }
}

/// A directory for one group run (the children's stderr, paio's statistics
/// files), removed on drop.
struct RunDir(PathBuf);

impl RunDir {
    fn create(near: &Path) -> std::io::Result<RunDir> {
        let parent = near.parent().unwrap_or(Path::new("."));
        let mut n = 0u32;
        loop {
            let dir = parent.join(format!("paio-bench-{}-procs-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(RunDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One running child of the group.
struct Member {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// What it printed before [`READY`] (a result line, if it ended early).
    early: String,
    ready: bool,
    stderr: PathBuf,
}

/// Run `spec` (a procs workload) as `spec.workload.procs` children at once:
/// child `i` replays sequence `i` on the `i`-th stretch of the file.
pub fn run_group(exe: &Path, spec: &CellSpec, lib: Option<&Path>) -> Outcome {
    let procs = spec.workload.procs.max(1);
    let dir = match RunDir::create(&spec.file) {
        Ok(d) => d,
        Err(e) => return Outcome::Failed(format!("cannot make a directory for the group: {e}")),
    };
    let stats_dir = dir.0.join("stats");
    if spec.imp == Impl::Paio {
        if let Err(e) = std::fs::create_dir(&stats_dir) {
            return Outcome::Failed(format!("mkdir {}: {e}", stats_dir.display()));
        }
    }
    let block = spec.workload.block as u64;
    let stretch = (spec.size / procs as u64) / block * block;
    if stretch < block {
        return Outcome::Failed(format!(
            "a {} MiB file gives {procs} processes less than a block each (give --size)",
            spec.size >> 20
        ));
    }
    let watch = aio_nr::Watch::start();
    let mut members: Vec<Member> = Vec::with_capacity(procs);
    let mut specs = Vec::with_capacity(procs);
    let mut spawn_error = None;
    for i in 0..procs {
        let child_spec = CellSpec {
            size: stretch,
            base: i as u64 * stretch,
            stream: i,
            sync: true,
            ..spec.clone()
        };
        let stderr_path = dir.0.join(format!("stderr-{i}"));
        let stderr = match std::fs::File::create(&stderr_path) {
            Ok(f) => f,
            Err(e) => {
                spawn_error = Some(format!("create {}: {e}", stderr_path.display()));
                break;
            }
        };
        let mut cmd = cell_command(exe, &child_spec, lib);
        cmd.stdin(Stdio::piped()).stderr(stderr);
        if spec.imp == Impl::Paio {
            cmd.env("PAIO_STATS", &stats_dir);
        }
        match cmd.spawn() {
            Ok(mut child) => {
                let Some(out) = child.stdout.take() else {
                    spawn_error = Some("child without a stdout pipe".into());
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                };
                members.push(Member {
                    child,
                    stdout: BufReader::new(out),
                    early: String::new(),
                    ready: false,
                    stderr: stderr_path,
                });
                specs.push(child_spec);
            }
            Err(e) => {
                spawn_error = Some(format!("cannot start process {i} of {procs}: {e}"));
                break;
            }
        }
    }
    // Wait until every child is warmed up (or has ended: it then said why).
    for m in &mut members {
        let mut line = String::new();
        loop {
            line.clear();
            match m.stdout.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.trim_end() == READY => {
                    m.ready = true;
                    break;
                }
                Ok(_) => m.early.push_str(&line),
            }
        }
    }
    // Every child holds its contexts now.
    watch.sample();
    let start =
        monotonic_ns() + (START_MARGIN + START_MARGIN_PER_PROC * procs as u32).as_nanos() as u64;
    let end = match (spawn_error.is_some(), spec.duration) {
        // Those that started stop at once.
        (true, _) => start,
        (false, Some(d)) => start + d.as_nanos() as u64,
        (false, None) => 0,
    };
    for m in &mut members {
        if let Some(mut stdin) = m.child.stdin.take() {
            if m.ready {
                // A child that died meanwhile says so in its outcome.
                let _ = writeln!(stdin, "go {start} {end}");
            }
        }
    }
    let mut outcomes = Vec::with_capacity(members.len());
    for (m, child_spec) in members.iter_mut().zip(&specs) {
        let mut stdout = std::mem::take(&mut m.early);
        let _ = m.stdout.read_to_string(&mut stdout);
        let status = m.child.wait();
        let stderr = std::fs::read_to_string(&m.stderr).unwrap_or_default();
        outcomes.push(match status {
            Ok(st) => cell_outcome(child_spec, st, &stdout, &stderr),
            Err(e) => Outcome::Failed(format!("waiting for the child: {e}")),
        });
    }
    let aio_nr = watch.finish();
    if let Some(e) = spawn_error {
        return Outcome::Failed(e);
    }
    let pids: Vec<u32> = members.iter().map(|m| m.child.id()).collect();
    let backends = if spec.imp == Impl::Paio {
        pids.iter()
            .map(|&pid| paio_stats::read(&stats_dir, pid))
            .collect()
    } else {
        Vec::new()
    };
    summed(spec, outcomes, aio_nr, backends)
}

/// The group's numbers from its children's: I/Os and CPU summed, IOPS over
/// the span from the first start to the last stop.
fn summed(
    spec: &CellSpec,
    outcomes: Vec<Outcome>,
    aio_nr: Option<(u64, u64)>,
    backends: Vec<Result<ProcessBackend, String>>,
) -> Outcome {
    let procs = outcomes.len();
    let mut ok = Vec::with_capacity(procs);
    for (i, o) in outcomes.into_iter().enumerate() {
        match o {
            Outcome::Ok(m) => ok.push(m),
            Outcome::Na(r) => return Outcome::Na(r),
            Outcome::Failed(r) => return Outcome::Failed(format!("process {i} of {procs}: {r}")),
        }
    }
    let u = |m: &Metrics, k: &str| m.raw.get(k).and_then(Value::as_u64).unwrap_or(0);
    let f = |m: &Metrics, k: &str| m.raw.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let first = ok.iter().map(|m| u(m, "begin_mono_ns")).min().unwrap_or(0);
    let last = ok.iter().map(|m| u(m, "end_mono_ns")).max().unwrap_or(0);
    let window = last.saturating_sub(first) as f64 / 1e9;
    let ios: u64 = ok.iter().map(|m| m.ios).sum();
    let cpu_s: f64 = ok.iter().map(|m| f(m, "cpu_s")).sum();
    let iops = if window > 0.0 {
        ios as f64 / window
    } else {
        0.0
    };
    let own: Vec<f64> = ok.iter().map(|m| m.iops).collect();
    let group = GroupStats {
        procs,
        aio_nr,
        backends,
        iops_min: own.iter().copied().fold(f64::INFINITY, f64::min),
        iops_max: own.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    let raw = json!({
        "status": "ok",
        "impl": spec.imp.name(),
        "workload": spec.workload.name,
        "procs": procs,
        "depth": spec.workload.depth,
        "ios": ios,
        "fsyncs": 0,
        "window_s": window,
        "iops": iops,
        "iops_slowest_process": group.iops_min,
        "iops_fastest_process": group.iops_max,
        "cpu_s": cpu_s,
        "aio_nr_before": aio_nr.map(|a| a.0),
        "aio_nr_peak": aio_nr.map(|a| a.1),
        "aio_max_nr": aio_nr::max_nr(),
        "paio_on_kaio": (spec.imp == Impl::Paio).then(|| group.on_kaio()),
        "paio_kaio_refused": (spec.imp == Impl::Paio).then(|| group.kaio_refused()),
        "paio_backends": group.backends.iter().map(|b| match b {
            Ok(b) => b.to_json(),
            Err(e) => json!({ "error": e }),
        }).collect::<Vec<_>>(),
        "processes": ok.iter().map(|m| m.raw.clone()).collect::<Vec<_>>(),
    });
    Outcome::Ok(Metrics {
        ios,
        fsyncs: 0,
        hist_count: ok.iter().map(|m| m.hist_count).sum(),
        iops,
        p50_us: median(&ok.iter().map(|m| m.p50_us).collect::<Vec<_>>()),
        p99_us: ok.iter().map(|m| m.p99_us).fold(f64::NAN, f64::max),
        cpu_us_per_io: if ios > 0 {
            cpu_s * 1e6 / ios as f64
        } else {
            0.0
        },
        threads_extra: ok.iter().map(|m| m.threads_extra).max().unwrap_or(0),
        threads_created: ok.iter().map(|m| m.threads_created).max().unwrap_or(0),
        maxrss_kib: ok.iter().map(|m| m.maxrss_kib).max().unwrap_or(0),
        bytes_per_s: iops * spec.workload.block as f64,
        submit_p50_us: f64::NAN,
        submit_p99_us: f64::NAN,
        submit_max_us: f64::NAN,
        submit_cpu_max_us: f64::NAN,
        group: Some(group),
        raw,
    })
}
