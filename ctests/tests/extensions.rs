//! The C scenarios of paio's extensions (`ctests/ext/*.c`: `aio_readv`,
//! `aio_writev`, `LIO_READV`/`LIO_WRITEV`, `aio_waitcomplete`,
//! `paio_completion_fd`, `paio_stats`, declared in `include/paio.h`).
//!
//! glibc has none of these functions, so there is no reference run: every
//! scenario asserts paio's documented behaviour itself. Each is compiled
//! twice with the system gcc against `include/paio.h`:
//!
//! * `linked`  — `-lpaio` with an rpath to the library;
//! * `preload` — no `-lpaio`: the extension symbols stay undefined
//!   (`--unresolved-symbols=ignore-in-object-files`, plus
//!   `--export-dynamic-symbol`, see [`compile_preload`]) and are bound at run
//!   time to the `LD_PRELOAD`ed `libpaio.so`, as a program built on a machine
//!   without paio gets them;
//!
//! and each binary runs with `PAIO_BACKEND=threads` and with `PAIO_BACKEND`
//! unset (kernel AIO). Exit 0 is a pass, 77 a skip (the scenario printed
//! `SKIP: reason`; it must then skip in every run), anything else a failure.
//! Every run has a hard timeout (its process group is killed) and its own
//! `TMPDIR`. All runs of a scenario must print the same stdout, leaving out
//! lines that start with `~` (timings, backend-dependent counters). Every run
//! also writes paio's exit line (`PAIO_STATS=<run dir>/paio-stats`) and the
//! harness checks that the engine the run asked for is the one that served it
//! (`backend=threads`, or `backend=kaio` without a fallback).
//!
//! Environment knobs (shared with `tests/scenarios.rs`):
//! * `PAIO_CTESTS_BACKENDS` — comma list of `threads,default` (default both);
//! * `PAIO_CTESTS_TIMEOUT`  — seconds per run (default 60);
//! * `PAIO_CTESTS_KEEP=1`   — keep every run's scratch directory;
//! * `PAIO_SO`              — a prebuilt libpaio.so (see `paio_ctests::paio_so`).
//!
//! Run: `cargo test -p paio-ctests --test extensions` (add `-- --nocapture` to
//! see every run's summary, or a scenario name to run one).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        /// Every scenario; `every_c_file_is_listed` keeps this in step with
        /// the `.c` files of `ctests/ext`.
        const ALL: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_scenario(stringify!($name));
            }
        )*
    };
}

scenarios! {
    completion_fd_basic,
    epoll_loop,
    lio_vectored,
    readv_file,
    stats_basic,
    stats_size,
    vec_count_invalid,
    vec_efault,
    vec_odirect,
    vec_pipe,
    vec_socketpair,
    waitcomplete_1000,
    waitcomplete_basic,
    waitcomplete_before_enable,
    waitcomplete_eintr,
    waitcomplete_einval,
    waitcomplete_error,
    waitcomplete_timeout,
    waitcomplete_with_aio_return,
    writev_file,
}

#[test]
fn every_c_file_is_listed() {
    let on_disk: BTreeSet<String> = fs::read_dir(ext_dir())
        .expect("read ctests/ext/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".c").map(str::to_owned)
        })
        .collect();
    let listed: BTreeSet<String> = ALL.iter().map(|s| s.to_string()).collect();
    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        unlisted.is_empty() && missing.is_empty(),
        "ctests/ext/*.c and the scenarios! list disagree: not listed {unlisted:?}, listed without a file {missing:?}"
    );
}

/// `include/paio.h` compiles on its own, first and alone, as C and as C++,
/// with every warning an error, and what it declares has the documented
/// values and layout.
#[test]
fn header_is_self_contained() {
    let dir = scratch().join("header");
    fs::create_dir_all(&dir).expect("create header scratch dir");
    let body = r#"#include <paio.h>
#include <paio.h> /* include guard */

#if LIO_READV != 6 || LIO_WRITEV != 5 || PAIO_STATS_VERSION != 1
#error "paio.h constants changed"
#endif

typedef char stats_layout_ok[(sizeof(struct paio_stats) == 104 &&
                              offsetof(struct paio_stats, requests) == 8 &&
                              offsetof(struct paio_stats, kernel_aio) == 96) ? 1 : -1];

int (*const readv_p)(struct aiocb *) = aio_readv;
int (*const writev_p)(struct aiocb *) = aio_writev;
ssize_t (*const waitcomplete_p)(struct aiocb **, const struct timespec *) = aio_waitcomplete;
int (*const completion_fd_p)(void) = paio_completion_fd;
int (*const stats_p)(struct paio_stats *) = paio_stats;

int use_header(struct aiocb *cb, struct iovec *iov);
int use_header(struct aiocb *cb, struct iovec *iov)
{
    struct paio_stats s;
    struct aiocb *done = 0;
    struct timespec zero = { 0, 0 };
    s.size = (uint32_t)sizeof s;
    cb->aio_buf = iov;
    cb->aio_nbytes = 1;
    cb->aio_lio_opcode = LIO_READV;
    return aio_readv(cb) + aio_writev(cb) + (int)aio_waitcomplete(&done, &zero) +
           paio_completion_fd() + paio_stats(&s) + (int)sizeof(stats_layout_ok);
}
"#;
    let c = dir.join("use_paio.c");
    let cxx = dir.join("use_paio.cc");
    fs::write(&c, body).expect("write use_paio.c");
    fs::write(&cxx, body).expect("write use_paio.cc");
    let include = format!("-I{}", include_dir().display());
    let warn = ["-Wall", "-Wextra", "-Werror"];
    // (compiler, standard flags, source)
    let builds: [(&str, &[&str], &Path); 4] = [
        ("gcc", &[], &c),
        (
            "gcc",
            &["-std=c11", "-pedantic", "-D_POSIX_C_SOURCE=200809L"],
            &c,
        ),
        ("g++", &[], &cxx),
        ("g++", &["-std=c++11", "-pedantic"], &cxx),
    ];
    let mut failures = Vec::new();
    for (compiler, std_flags, src) in builds {
        let out = Command::new(compiler)
            .arg(&include)
            .args(warn)
            .args(std_flags)
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(dir.join(format!("{compiler}.o")))
            .stdin(Stdio::null())
            .output();
        match out {
            Err(e) => failures.push(format!(
                "cannot run {compiler} ({e}); on Debian it is the package of that name \
                 (add it to .ci/apt-packages)"
            )),
            Ok(o) if !o.status.success() => failures.push(format!(
                "{compiler} {} {}: {}\n{}{}",
                warn.join(" "),
                std_flags.join(" "),
                describe(o.status),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Ok(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "include/paio.h is not self-contained:\n{}",
        failures.join("\n")
    );
    if !keep_scratch() {
        let _ = fs::remove_dir_all(&dir);
    }
}

// ---------------------------------------------------------------- plumbing

fn ext_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ext")
}

fn include_dir() -> PathBuf {
    paio_ctests::workspace_root().join("include")
}

fn env_list(var: &str, default: &[&str]) -> Vec<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => default.iter().map(|s| s.to_string()).collect(),
    }
}

/// `None` means PAIO_BACKEND unset (the library's default).
fn backends() -> Vec<Option<String>> {
    env_list("PAIO_CTESTS_BACKENDS", &["threads", "default"])
        .into_iter()
        .map(|b| if b == "default" { None } else { Some(b) })
        .collect()
}

fn run_timeout() -> Duration {
    let secs = std::env::var("PAIO_CTESTS_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn keep_scratch() -> bool {
    std::env::var("PAIO_CTESTS_KEEP").is_ok_and(|v| v == "1")
}

/// Scratch area of this test process: binaries and per-run TMPDIRs.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| paio_ctests::scratch_dir("extensions"))
}

fn gcc(args: &[String], out: &Path) -> Result<(), String> {
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
        Err(format!(
            "gcc {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

const CFLAGS: &[&str] = &["-O1", "-g", "-Wall", "-Werror", "-pthread", "-D_GNU_SOURCE"];

fn base_args(name: &str) -> Vec<String> {
    let src = ext_dir().join(format!("{name}.c"));
    let mut args: Vec<String> = CFLAGS.iter().map(|s| s.to_string()).collect();
    args.push(format!("-I{}", include_dir().display()));
    args.push(src.display().to_string());
    args
}

/// Linked with `-lpaio`: libpaio.so must come before libc.so.6 in DT_NEEDED
/// so the POSIX names bind to paio too.
fn compile_linked(name: &str, lib_dir: &Path) -> Result<PathBuf, String> {
    let out = scratch().join(format!("{name}.linked"));
    let dir = lib_dir.display();
    let mut args = base_args(name);
    args.extend([
        "-Wl,--no-as-needed".to_string(),
        format!("-L{dir}"),
        "-lpaio".to_string(),
        format!("-Wl,-rpath,{dir}"),
        "-lrt".to_string(),
        "-ldl".to_string(),
    ]);
    gcc(&args, &out)?;
    let needed = needed(&out)?;
    let paio = needed.iter().position(|n| n.starts_with("libpaio"));
    let libc = needed.iter().position(|n| n.starts_with("libc.so"));
    match (paio, libc) {
        (Some(p), Some(c)) if p < c => Ok(out),
        (Some(_), None) => Ok(out),
        _ => Err(format!(
            "{}: DT_NEEDED {needed:?} lacks libpaio before libc",
            out.display()
        )),
    }
}

/// For LD_PRELOAD: no -lpaio, the extension symbols left undefined. GNU ld
/// then needs them in the dynamic symbol table explicitly
/// (`--export-dynamic-symbol`): without it, an undefined function a PIE calls
/// through its PLT gets an `R_X86_64_NONE` relocation and ld.so refuses the
/// binary ("unexpected PLT reloc type 0x00"), preload or not.
fn compile_preload(name: &str) -> Result<PathBuf, String> {
    let out = scratch().join(format!("{name}.preload"));
    let mut args = base_args(name);
    args.extend([
        "-Wl,--unresolved-symbols=ignore-in-object-files".to_string(),
        "-Wl,--export-dynamic-symbol=aio_*".to_string(),
        "-Wl,--export-dynamic-symbol=paio_*".to_string(),
        "-lrt".to_string(),
        "-ldl".to_string(),
    ]);
    gcc(&args, &out)?;
    let needed = needed(&out)?;
    if needed.iter().any(|n| n.starts_with("libpaio")) {
        return Err(format!(
            "{}: DT_NEEDED {needed:?} names libpaio although built for the preload",
            out.display()
        ));
    }
    Ok(out)
}

fn needed(bin: &Path) -> Result<Vec<String>, String> {
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

/// libpaio.so, built once per test process.
fn paio_library() -> (&'static Path, &'static Path) {
    (paio_ctests::paio_so(), paio_ctests::paio_lib_dir())
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    Passed,
    Skipped(String),
    Failed(String),
}

struct Run {
    label: String,
    status: Status,
    stdout: String,
    stderr: String,
    stats: Option<String>,
    elapsed: Duration,
    dir: PathBuf,
}

impl Run {
    fn summary(&self) -> String {
        let what = match &self.status {
            Status::Passed => "pass".to_string(),
            Status::Skipped(r) => format!("skip ({r})"),
            Status::Failed(r) => format!("FAIL ({r})"),
        };
        let mut line = format!(
            "{:<16} {what} [{} ms]",
            self.label,
            self.elapsed.as_millis()
        );
        for info in self.stdout.lines().filter(|l| l.starts_with('~')) {
            let _ = write!(line, "\n{:<16} {info}", "");
        }
        line
    }

    fn details(&self) -> String {
        format!(
            "--- {} stdout ---\n{}--- {} stderr ---\n{}--- {} PAIO_STATS ---\n{}\n--- scratch: {}\n",
            self.label,
            self.stdout,
            self.label,
            self.stderr,
            self.label,
            self.stats.as_deref().unwrap_or("(none)").trim_end(),
            self.dir.display()
        )
    }
}

fn describe(status: ExitStatus) -> String {
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

/// Run one binary with a hard timeout in its own process group and its own
/// TMPDIR; stdout/stderr go to files there so a chatty child cannot block.
fn run_binary(name: &str, label: &str, bin: &Path, env: &[(&str, &str)]) -> Run {
    let dir = scratch().join(format!("run-{name}-{}", label.replace('/', "_")));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create run dir");
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let stats_path = dir.join("paio-stats");
    let mut cmd = Command::new(bin);
    cmd.current_dir(&dir)
        .env("TMPDIR", &dir)
        .env("PAIO_STATS", &stats_path)
        .env_remove("LD_PRELOAD")
        .env_remove("PAIO_BACKEND")
        .env_remove("PAIO_THREADS")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("stdout file"))
        .stderr(fs::File::create(&err_path).expect("stderr file"))
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let status = match cmd.spawn() {
        Err(e) => Status::Failed(format!("cannot start {}: {e}", bin.display())),
        Ok(mut child) => {
            let limit = run_timeout();
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
    let stats = fs::read_to_string(&stats_path).ok();
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
    }
}

/// stdout without the informational `~` lines.
fn compared(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !l.starts_with('~')).collect()
}

/// A small line diff (longest common subsequence), `-` first run, `+` this one.
fn diff(a: &[&str], b: &[&str]) -> String {
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

/// The `key=value` fields of one `paio: pid=… backend=… …` exit line.
fn stats_fields(line: &str) -> Option<Vec<(&str, &str)>> {
    let rest = line.strip_prefix("paio: ")?;
    rest.split_whitespace().map(|f| f.split_once('=')).collect()
}

/// Every exit line names the engine the run asked for.
fn check_stats(run: &Run, backend: Option<&str>, failures: &mut Vec<String>) {
    if !matches!(run.status, Status::Passed) {
        return;
    }
    let lines: Vec<&str> = run.stats.iter().flat_map(|s| s.lines()).collect();
    let want = match backend {
        None => "kaio",
        Some("threads") | Some("pool") => "threads",
        Some(_) => return,
    };
    for line in lines {
        let Some(fields) = stats_fields(line) else {
            failures.push(format!(
                "{}: unreadable PAIO_STATS line {line:?}\n{}",
                run.label,
                run.details()
            ));
            continue;
        };
        let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        if get("backend") != Some(want) || get("fallback").is_some() {
            failures.push(format!(
                "{}: paio ran another engine than this run asks for: backend={want} without \
                 fallback expected, PAIO_STATS says\n  {line}\n{}",
                run.label,
                run.details()
            ));
        }
    }
}

fn run_scenario(name: &str) {
    let (so, lib_dir) = paio_library();
    let so = so.to_str().expect("utf-8 path").to_owned();
    let mut report = String::new();
    let mut failures: Vec<String> = Vec::new();

    let linked = compile_linked(name, lib_dir);
    let preload = compile_preload(name);
    for built in [&linked, &preload] {
        if let Err(e) = built {
            failures.push(e.clone());
        }
    }

    let mut runs: Vec<Run> = Vec::new();
    for backend in backends() {
        let backend_label = backend.clone().unwrap_or_else(|| "default".into());
        for (mode, bin) in [("linked", &linked), ("preload", &preload)] {
            let Ok(bin) = bin else { continue };
            let mut env: Vec<(&str, &str)> = Vec::new();
            if let Some(b) = &backend {
                env.push(("PAIO_BACKEND", b.as_str()));
            }
            if mode == "preload" {
                env.push(("LD_PRELOAD", so.as_str()));
            }
            let label = format!("{mode}/{backend_label}");
            let run = run_binary(name, &label, bin, &env);
            let _ = writeln!(report, "{}", run.summary());
            if let Status::Failed(why) = &run.status {
                failures.push(format!("{}: {why}\n{}", run.label, run.details()));
            }
            check_stats(&run, backend.as_deref(), &mut failures);
            runs.push(run);
        }
    }

    // paio writes its exit line once a process started its engine: where one
    // passed run wrote it, every passed run must have (a run without it was
    // not served by paio: a preload that did not take).
    let wrote = |r: &Run| r.stats.as_deref().is_some_and(|s| !s.trim().is_empty());
    if let Some(witness) = runs.iter().find(|r| wrote(r)) {
        for run in &runs {
            if matches!(run.status, Status::Passed) && !wrote(run) {
                failures.push(format!(
                    "{}: passed without a PAIO_STATS exit line, although {} wrote one: \
                     did paio serve this run?\n{}",
                    run.label,
                    witness.label,
                    run.details()
                ));
            }
        }
    }

    // Every run behaves alike: the same skip, or the same stdout.
    if let Some(first) = runs.first() {
        for run in &runs[1..] {
            match (&first.status, &run.status) {
                (Status::Failed(_), _) | (_, Status::Failed(_)) => {}
                (Status::Skipped(a), Status::Skipped(b)) if a == b => {}
                (Status::Passed, Status::Passed) => {
                    let (a, b) = (compared(&first.stdout), compared(&run.stdout));
                    if a != b {
                        failures.push(format!(
                            "{}: stdout differs from {}'s (- {}, + {}; `~` lines ignored)\n{}{}",
                            run.label,
                            first.label,
                            first.label,
                            run.label,
                            diff(&a, &b),
                            run.details()
                        ));
                    }
                }
                _ => failures.push(format!(
                    "{} {:?} but {} {:?}: a scenario must skip in every run or in none\n{}{}",
                    first.label,
                    first.status,
                    run.label,
                    run.status,
                    first.details(),
                    run.details()
                )),
            }
        }
    }

    if failures.is_empty() {
        if !keep_scratch() {
            for run in &runs {
                let _ = fs::remove_dir_all(&run.dir);
            }
            for bin in [&linked, &preload].into_iter().flatten() {
                let _ = fs::remove_file(bin);
            }
        }
        let skipped = runs.iter().find_map(|r| match &r.status {
            Status::Skipped(why) => Some(why.as_str()),
            _ => None,
        });
        match skipped {
            Some(why) => eprintln!("scenario {name}: SKIPPED ({why})\n{report}"),
            None => eprintln!("scenario {name}\n{report}"),
        }
    } else {
        panic!(
            "scenario {name}: {} problem(s)\n{report}\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
