//! Plumbing shared by the C-scenario harnesses (`tests/scenarios.rs` and
//! `tests/extensions.rs`): environment knobs, compiling with gcc, and running
//! one binary with a hard timeout, its own process group and its own `TMPDIR`.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A comma list from the environment variable `var` (blank items dropped),
/// or `default` when it is unset or blank.
pub fn env_list(var: &str, default: &[&str]) -> Vec<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => default.iter().map(|s| s.to_string()).collect(),
    }
}

/// The backends of `PAIO_CTESTS_BACKENDS` (default `threads,default`); `None`
/// means `PAIO_BACKEND` unset (the library's default).
pub fn backends() -> Vec<Option<String>> {
    env_list("PAIO_CTESTS_BACKENDS", &["threads", "default"])
        .into_iter()
        .map(|b| if b == "default" { None } else { Some(b) })
        .collect()
}

/// The hard limit of one run: `PAIO_CTESTS_TIMEOUT` seconds (default 60).
pub fn run_timeout() -> Duration {
    let secs = std::env::var("PAIO_CTESTS_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// `PAIO_CTESTS_KEEP=1`: keep every run's scratch directory.
pub fn keep_scratch() -> bool {
    std::env::var("PAIO_CTESTS_KEEP").is_ok_and(|v| v == "1")
}

/// Asserts that `all` (a `scenarios!` list) names exactly the C files
/// directly in `dir` (`shown` names them in the message, e.g. `ctests/*.c`);
/// returns the listed names.
pub fn assert_listed(dir: &Path, shown: &str, all: &[&str]) -> BTreeSet<String> {
    let on_disk: BTreeSet<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".c").map(str::to_owned)
        })
        .collect();
    let listed: BTreeSet<String> = all.iter().map(|s| s.to_string()).collect();
    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        unlisted.is_empty() && missing.is_empty(),
        "{shown} and the scenarios! list disagree: not listed {unlisted:?}, listed without a file {missing:?}"
    );
    listed
}

/// Declares `const ALL` (every scenario named) and one `#[test]` per name
/// that calls `run_scenario(name)` of the invoking module.
#[macro_export]
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        /// Every scenario; `every_c_file_is_listed` keeps this in step with
        /// the `.c` files.
        const ALL: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_scenario(stringify!($name));
            }
        )*
    };
}

/// Ends one scenario that found problems: panics with their count, the
/// report of its runs, and each problem.
#[track_caller]
pub fn assert_no_failures(name: &str, report: &str, failures: &[String]) {
    if !failures.is_empty() {
        panic!(
            "scenario {name}: {} problem(s)\n{report}\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// After a scenario passed, unless [`keep_scratch`]: removes its runs'
/// directories and its binaries.
pub fn clean_up<P: AsRef<Path>>(runs: &[Run], bins: impl IntoIterator<Item = P>) {
    if keep_scratch() {
        return;
    }
    for run in runs {
        let _ = fs::remove_dir_all(&run.dir);
    }
    for bin in bins {
        let _ = fs::remove_file(bin);
    }
}

/// The flags every scenario is compiled with.
pub const CFLAGS: &[&str] = &["-O1", "-g", "-Wall", "-Werror", "-pthread", "-D_GNU_SOURCE"];

/// `gcc ARGS -o OUT`; the error carries gcc's output.
pub fn gcc<S: AsRef<str> + AsRef<OsStr>>(args: &[S], out: &Path) -> Result<(), String> {
    let output = Command::new("gcc")
        .args(args)
        .arg("-o")
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let shown: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        Err(format!(
            "gcc {} failed:\n{}{}",
            shown.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Compile one C program with [`CFLAGS`], `-lrt -ldl -lm`: for glibc's AIO
/// (`paio_dir` None), or linked with `-lpaio` from `paio_dir` (with an rpath
/// there, and checked to name libpaio before libc).
pub fn compile_c(src: &Path, out: &Path, paio_dir: Option<&Path>) -> Result<(), String> {
    let src = src.to_str().expect("utf-8 path");
    let mut args: Vec<String> = CFLAGS.iter().map(|s| s.to_string()).collect();
    args.push(src.to_owned());
    if let Some(dir) = paio_dir {
        let dir = dir.to_str().expect("utf-8 path");
        args.extend([
            "-Wl,--no-as-needed".to_owned(),
            format!("-L{dir}"),
            "-lpaio".to_owned(),
            format!("-Wl,-rpath,{dir}"),
        ]);
    }
    args.extend(["-lrt".to_owned(), "-ldl".to_owned(), "-lm".to_owned()]);
    gcc(&args, out)?;
    if paio_dir.is_some() {
        check_needed_order(out)?;
    }
    Ok(())
}

/// The `DT_NEEDED` entries of `bin`, in order (from `readelf -d`).
pub fn needed(bin: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(bin)
        .output()
        .map_err(|e| format!("cannot run readelf: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.split(']').next()?.to_owned()))
        .collect())
}

/// A `-lpaio` binary must name libpaio.so in `DT_NEEDED` before libc.so.6, so
/// the dynamic linker binds the AIO names to paio.
pub fn check_needed_order(bin: &Path) -> Result<(), String> {
    let needed = needed(bin)?;
    let paio = needed.iter().position(|n| n.starts_with("libpaio"));
    let libc = needed.iter().position(|n| n.starts_with("libc.so"));
    match (paio, libc) {
        (Some(p), Some(c)) if p < c => Ok(()),
        (Some(_), None) => Ok(()),
        _ => Err(format!(
            "{}: DT_NEEDED {needed:?} lacks libpaio before libc",
            bin.display()
        )),
    }
}

/// How one run ended: exit 0, exit 77 (with the `SKIP: reason` it printed),
/// or anything else (with what happened).
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Passed,
    Skipped(String),
    Failed(String),
}

/// How a harness reports its runs ([`Run::summary`], [`Run::details`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// The width labels are padded to in summaries.
    pub width: usize,
    /// Summaries list the run's `PAIO_STATS` lines under its `~` lines.
    pub stats_in_summary: bool,
    /// Details always have a `PAIO_STATS` section (`(none)` where the run
    /// wrote no line); otherwise only where the run asked for the lines.
    pub stats_always_in_details: bool,
}

/// One run of one binary, as [`run_binary`] saw it.
pub struct Run {
    pub label: String,
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    /// paio's exit lines (`PAIO_STATS` file), when the run asked for them.
    pub stats: Option<String>,
    pub elapsed: Duration,
    /// The run's own directory (its cwd and `TMPDIR`).
    pub dir: PathBuf,
    /// How the run is reported.
    pub style: Style,
}

impl Run {
    /// `label status [ms]`, then the run's `~` lines and (see [`Style`]) its
    /// `PAIO_STATS` lines, each on its own line indented past the label.
    pub fn summary(&self) -> String {
        let Style {
            width,
            stats_in_summary,
            ..
        } = self.style;
        let what = match &self.status {
            Status::Passed => "pass".to_string(),
            Status::Skipped(r) => format!("skip ({r})"),
            Status::Failed(r) => format!("FAIL ({r})"),
        };
        let mut line = format!(
            "{:<width$} {what} [{} ms]",
            self.label,
            self.elapsed.as_millis()
        );
        for info in self.stdout.lines().filter(|l| l.starts_with('~')) {
            let _ = write!(line, "\n{:<width$} {info}", "");
        }
        let stats = self.stats.iter().filter(|_| stats_in_summary);
        for stats in stats.flat_map(|s| s.lines()) {
            let _ = write!(line, "\n{:<width$} {stats}", "");
        }
        line
    }

    /// Everything the run printed (stdout, stderr, `PAIO_STATS` as [`Style`]
    /// says) and its directory, for a failure.
    pub fn details(&self) -> String {
        let label = &self.label;
        let stats = match &self.stats {
            _ if self.style.stats_always_in_details => {
                // A run that wrote no exit line has an empty `stats`.
                let s = self.stats.as_deref().filter(|s| !s.is_empty());
                let s = s.unwrap_or("(none)").trim_end();
                format!("--- {label} PAIO_STATS ---\n{s}\n")
            }
            Some(s) => format!("--- {label} PAIO_STATS ---\n{s}"),
            None => String::new(),
        };
        format!(
            "--- {label} stdout ---\n{}--- {label} stderr ---\n{}{stats}--- scratch: {}\n",
            self.stdout,
            self.stderr,
            self.dir.display()
        )
    }
}

/// An exit status in words (the signal's name where it was killed by one).
pub fn describe(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        let name = match sig {
            4 => "SIGILL",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            14 => "SIGALRM: the scenario's own watchdog fired",
            15 => "SIGTERM",
            _ => "signal",
        };
        format!("killed by signal {sig} ({name})")
    } else {
        format!("exit status {}", status.code().unwrap_or(-1))
    }
}

/// How to start one run besides the binary and its environment.
#[derive(Clone, Copy, Default)]
pub struct Launch<'a> {
    /// A program that execs the binary (`deny_io_setup`).
    pub wrapper: Option<&'a Path>,
    /// Point `PAIO_STATS` at [`STATS_FILE`] in the run's directory and keep
    /// its lines (empty when the run wrote none); otherwise `PAIO_STATS` is
    /// removed from the environment and [`Run::stats`] is `None`.
    pub stats: bool,
    /// Arguments given to the binary.
    pub args: &'a [&'a str],
    /// Run as this user and group, without supplementary groups (the test
    /// process must be root): for setuid programs run by an unprivileged user.
    pub user: Option<(u32, u32)>,
    /// This run's hard limit instead of [`run_timeout`].
    pub timeout: Option<Duration>,
}

/// The name of the `PAIO_STATS` file in a run's directory.
pub const STATS_FILE: &str = "paio-stats";

/// Run one binary with a hard timeout ([`run_timeout`], or the launch's own)
/// in its own process
/// group and its own directory `scratch/run-NAME-LABEL` (its cwd and
/// `TMPDIR`), with `LD_PRELOAD` and the `PAIO_*` knobs cleared before `env` is
/// applied; stdout/stderr go to files there so a chatty child cannot block.
/// The run is reported in `style`.
pub fn run_binary(
    scratch: &Path,
    style: Style,
    name: &str,
    label: &str,
    bin: &Path,
    env: &[(&str, &str)],
    launch: Launch,
) -> Run {
    let dir = scratch.join(format!(
        "run-{name}-{}",
        label.replace(['/', ' ', '='], "_")
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create run dir");
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let stats_path = dir.join(STATS_FILE);
    let mut cmd = match launch.wrapper {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(launch.args);
    if let Some((uid, gid)) = launch.user {
        // std drops the supplementary groups when root sets a uid.
        cmd.uid(uid).gid(gid);
    }
    cmd.current_dir(&dir)
        .env("TMPDIR", &dir)
        .env_remove("LD_PRELOAD")
        // `cargo test` puts target/debug in it, ahead of the RUNPATH that
        // a `-lpaio` binary was linked with: the library under test must
        // be the one it names.
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PAIO_BACKEND")
        .env_remove("PAIO_THREADS")
        .env_remove("PAIO_STATS")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("stdout file"))
        .stderr(fs::File::create(&err_path).expect("stderr file"))
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if launch.stats {
        cmd.env("PAIO_STATS", &stats_path);
    }
    let start = Instant::now();
    let status = match cmd.spawn() {
        Err(e) => Status::Failed(format!("cannot start {}: {e}", bin.display())),
        Ok(mut child) => {
            let limit = launch.timeout.unwrap_or_else(run_timeout);
            loop {
                match child.try_wait() {
                    Ok(Some(st)) => {
                        break match st.code() {
                            Some(0) => Status::Passed,
                            Some(77) => Status::Skipped(String::new()),
                            _ => Status::Failed(describe(st)),
                        }
                    }
                    Ok(None) if start.elapsed() > limit => {
                        // The whole group (its id is the child's pid), in
                        // case the scenario forked.
                        let _ = Command::new("kill")
                            .args(["-KILL", "--", &format!("-{}", child.id())])
                            .stdin(Stdio::null())
                            .status();
                        let _ = child.kill();
                        let _ = child.wait();
                        break Status::Failed(format!(
                            "timed out after {} s (hang); process group killed",
                            limit.as_secs()
                        ));
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                    Err(e) => break Status::Failed(format!("wait failed: {e}")),
                }
            }
        }
    };
    let elapsed = start.elapsed();
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    let stats = launch
        .stats
        .then(|| fs::read_to_string(&stats_path).unwrap_or_default());
    let status = match status {
        Status::Skipped(_) => Status::Skipped(
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("SKIP: "))
                .unwrap_or("no reason printed")
                .to_owned(),
        ),
        s => s,
    };
    Run {
        label: label.to_owned(),
        status,
        stdout,
        stderr,
        stats,
        elapsed,
        dir,
        style,
    }
}

/// stdout without the informational `~` lines.
pub fn compared(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !l.starts_with('~')).collect()
}

/// A small line diff (longest common subsequence): `-` a line only in `a`
/// (the reference), `+` a line only in `b`.
pub fn diff(a: &[&str], b: &[&str]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            let _ = writeln!(out, "  {}", a[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", a[i]);
            i += 1;
        }
    }
    out
}

/// A paio run judged against glibc's: it must not fail, may skip only where
/// glibc skipped too (the environment lacks something; paio skipping alone
/// means it lacks a feature glibc has), and where both passed it must print
/// what glibc printed, `~` lines left out, unless the difference is
/// `intentional`.
pub fn check_paio_run(
    run: &Run,
    glibc: &Run,
    intentional: Option<&str>,
    failures: &mut Vec<String>,
) {
    match (&run.status, &glibc.status) {
        (Status::Failed(why), _) => {
            failures.push(format!("{}: {why}\n{}", run.label, run.details()))
        }
        // A skip is fine where glibc skipped too (the environment lacks
        // something); paio skipping alone means it lacks a feature glibc has.
        (Status::Skipped(_), Status::Skipped(_)) => {}
        (Status::Skipped(why), _) => failures.push(format!(
            "{}: skipped ({why}) although glibc did not skip\n{}",
            run.label,
            run.details()
        )),
        (Status::Passed, Status::Passed) if intentional.is_none() => {
            let (g, p) = (compared(&glibc.stdout), compared(&run.stdout));
            if g != p {
                failures.push(format!(
                    "{}: stdout differs from glibc's (- glibc, + paio; `~` lines ignored)\n{}{}",
                    run.label,
                    diff(&g, &p),
                    run.details()
                ));
            }
        }
        (Status::Passed, _) => {}
    }
}

/// The `key=value` fields of one `paio: pid=… backend=… …` exit line.
pub fn stats_fields(line: &str) -> Option<Vec<(&str, &str)>> {
    let rest = line.strip_prefix("paio: ")?;
    rest.split_whitespace().map(|f| f.split_once('=')).collect()
}

/// The `backend` and `fallback` fields of one exit line of `run`; the error
/// (naming the run, with its details) where the line is unreadable.
pub fn engine_fields<'a>(
    run: &Run,
    line: &'a str,
) -> Result<(Option<&'a str>, Option<&'a str>), String> {
    let Some(fields) = stats_fields(line) else {
        return Err(format!(
            "{}: unreadable PAIO_STATS line {line:?}\n{}",
            run.label,
            run.details()
        ));
    };
    let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    Ok((get("backend"), get("fallback")))
}
