//! The C scenarios in `ctests/*.c`, each run against glibc and against paio.
//!
//! Every scenario is compiled twice with the system gcc: plain (so it uses
//! glibc's AIO, which lives in libc.so.6 since 2.34) and linked with `-lpaio`.
//! It then runs in these modes:
//!
//! * `glibc`         — the plain binary: the reference;
//! * `preload`       — the plain binary under `LD_PRELOAD=libpaio.so`;
//! * `linked`        — the `-lpaio` binary;
//! * `preload-noaio` — the plain binary under `LD_PRELOAD=libpaio.so` and
//!   `ctests/tools/deny_io_setup` (a seccomp filter that makes `io_setup`
//!   fail with `EPERM`, as container profiles do), default backend: paio's
//!   fallback from kernel AIO to its worker pool;
//!
//! and `preload`/`linked` once per backend (`PAIO_BACKEND=threads`, and with
//! `PAIO_BACKEND` unset). Exit 0 is a pass, 77 a skip (the scenario printed
//! `SKIP: reason`), anything else a failure. Every run has a hard timeout and
//! its own `TMPDIR`. A paio run must print on stdout exactly what the glibc
//! run printed, leaving out lines that start with `~` (timings, thread counts),
//! unless the scenario is listed in [`INTENTIONAL`]: there the scenario itself
//! asserts paio's behaviour when it detects paio, paio runs must pass, and the
//! glibc run is only recorded (it may crash or hang; the timeout bounds it).
//!
//! Every paio run also writes paio's exit line to a file (`PAIO_STATS=<run
//! dir>/paio-stats`, one line per process that used AIO), and the harness
//! checks that the engine it meant to test is the one that ran (see
//! [`check_stats`]): `backend=kaio` with the default backend (so a silent
//! fallback cannot pass for kernel AIO), `backend=threads` with
//! `PAIO_BACKEND=threads`, and `backend=threads fallback=io_setup:1` under
//! `preload-noaio`; and that every paio run that passed wrote a line counting
//! requests (so paio, not glibc, served it), unless the scenario is listed in
//! [`NO_REQUESTS`]. The kernel AIO budget (`fs.aio-max-nr`) is shared by the
//! whole machine, so a default-backend run whose `io_setup` failed with
//! `EAGAIN` is run again (twice at most) before its fallback counts.
//!
//! Environment knobs:
//! * `PAIO_CTESTS_MODES`    — comma list of `glibc,preload,linked,preload-noaio`
//!   (default all); `glibc` alone runs only the reference side and never
//!   builds libpaio;
//! * `PAIO_CTESTS_BACKENDS` — comma list of `threads,default` (default both)
//!   for `preload` and `linked`;
//! * `PAIO_CTESTS_TIMEOUT`  — seconds per run (default 60);
//! * `PAIO_CTESTS_KEEP=1`   — keep every run's scratch directory;
//! * `PAIO_SO`              — a prebuilt libpaio.so (see `paio_ctests::paio_so`).
//!
//! Run: `cargo test -p paio-ctests --test scenarios` (add `-- --nocapture` to see
//! every run's summary, or a scenario name to run one).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use paio_ctests::harness::{
    assert_listed, assert_no_failures, backends, check_paio_run, clean_up, compile_c, describe,
    env_list, gcc, Launch, Run, Status, Style,
};
use paio_ctests::scenarios;
use paio_ctests::stats::{
    aio_budget, aio_budget_exhausted, check_stats, check_stats_present, made_requests, EngineSeen,
    AIO_BUDGET_RERUNS,
};

/// Scenarios where paio deliberately differs from glibc 2.36, with the reason.
/// Their paio runs must pass (the scenario asserts paio's behaviour itself);
/// their glibc run is recorded, never judged, and stdout is not compared.
const INTENTIONAL: &[(&str, &str)] = &[
    ("exports_bind", "symbol binding test: the output names the object each symbol resolves to"),
    ("fd_reuse_close", "fd reuse safety: glibc runs queued writes against the file that reused the fd number (sourceware bug 14942)"),
    ("fork_child", "fork-child clean state: glibc's child deadlocks on __aio_requests_mutex when a worker held it at fork"),
    ("fork_inflight", "fork with kernel requests in flight: glibc's child may deadlock on __aio_requests_mutex (as in fork_child)"),
    ("lio_nent_negative", "lio_listio nent < 0 -> -1/EINVAL; glibc returns 0 (and crashes for INT_MIN)"),
    ("lio_null_list", "lio_listio NULL list with nent > 0 -> -1/EINVAL; glibc crashes"),
    ("lio_wait_eintr", "LIO_WAIT interrupted -> -1/EINTR and the request completes later; glibc leaves a dangling wait record and hangs or crashes"),
    ("nbytes_huge", "aio_nbytes > SSIZE_MAX -> EINVAL; glibc accepts it and fails later with EFAULT"),
    ("notify_thread_id", "SIGEV_THREAD_ID delivered to the named thread; glibc silently ignores it"),
    ("null_aiocb", "NULL aiocb -> -1/EINVAL instead of a crash; glibc segfaults"),
    ("sigev_invalid", "invalid sigev_notify -> -1/EINVAL at submission; glibc accepts it and never notifies"),
];

/// Scenarios that never get a request accepted (every call is refused
/// synchronously, or none is made), so paio writes no exit line counting
/// requests. Every other scenario must show, in some paio run's
/// `PAIO_STATS` line, that paio served it (see [`check_stats_present`]).
const NO_REQUESTS: &[&str] = &[
    "cancel_bad_fd",
    "exports_bind",
    "fsync_bad_fd",
    "lio_bad_mode",
    "lio_nent_negative",
    "lio_null_list",
    "null_aiocb",
    "sigev_invalid",
    "zeroed_error",
];

scenarios! {
    api64_explicit,
    append_ordered,
    big_static_tls,
    buffer_efault,
    buffered_write_ext4,
    cancel_bad_fd,
    cancel_done,
    cancel_fd_all,
    cancel_fd_mismatch,
    cancel_pending_calls,
    cancel_queued,
    cancel_running,
    cancel_thread_suspend,
    close_after_done,
    errno_untouched,
    exports_bind,
    fd_limit_room,
    fd_reuse_close,
    fork_child,
    fork_inflight,
    fsync_bad_fd,
    fsync_bad_op,
    fsync_barrier,
    fsync_odsync,
    fsync_osync,
    inflight_10000,
    inflight_70000,
    inflight_fd_limit,
    init_threads,
    lio_bad_mode,
    lio_bad_opcode,
    lio_entry_refused,
    lio_nent_negative,
    lio_nowait_signal,
    lio_null_list,
    lio_skip_nop_null,
    lio_wait,
    lio_wait_eintr,
    lio_wait_eio,
    mixed_direct_buffered,
    nbytes_huge,
    notify_cancelled,
    notify_none,
    notify_signal,
    notify_signal_before_return,
    notify_signal_burst,
    notify_signal_zero,
    notify_thread,
    notify_thread_attr,
    notify_thread_dependent,
    notify_thread_id,
    notify_thread_many,
    notify_thread_exit,
    notify_thread_fresh_state,
    own_fds_closed,
    null_aiocb,
    odirect_extending_write,
    odirect_rw,
    offset64_redirect,
    offset_negative,
    partly_cached_read,
    pipe_ordered,
    read_basic,
    read_short_eof,
    record_locks_kept,
    reqprio_invalid,
    return_value,
    rw_bad_fd,
    sigev_invalid,
    socket_reads_10000,
    small_stack_calls,
    socket_timeouts,
    socketpair_ordered,
    std_streams_closed,
    stream_wrong_direction,
    suspend_already_done,
    suspend_basic,
    suspend_eintr,
    suspend_many,
    suspend_null_entries,
    suspend_timeout,
    userfault_buffers,
    write_basic,
    write_enospc,
    write_signals,
    zero_length,
    zeroed_error,
}

#[test]
fn every_c_file_is_listed() {
    let listed = assert_listed(&ctests_dir(), "ctests/*.c", ALL);
    for name in NO_REQUESTS {
        assert!(
            listed.contains(*name),
            "NO_REQUESTS names unknown scenario {name}"
        );
    }
    for (name, reason) in INTENTIONAL {
        assert!(
            listed.contains(*name),
            "INTENTIONAL names unknown scenario {name}"
        );
        assert!(
            !reason.is_empty() && !reason.contains('\n'),
            "{name}: reason must be one line"
        );
    }
}

// ---------------------------------------------------------------- plumbing

fn ctests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn intentional(name: &str) -> Option<&'static str> {
    INTENTIONAL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Glibc,
    Preload,
    Linked,
    /// Preloaded, default backend, `io_setup` denied by seccomp.
    PreloadNoAio,
}

fn modes() -> Vec<Mode> {
    env_list(
        "PAIO_CTESTS_MODES",
        &["glibc", "preload", "linked", "preload-noaio"],
    )
    .iter()
    .map(|m| match m.as_str() {
        "glibc" => Mode::Glibc,
        "preload" => Mode::Preload,
        "linked" => Mode::Linked,
        "preload-noaio" => Mode::PreloadNoAio,
        other => panic!("PAIO_CTESTS_MODES: unknown mode {other:?}"),
    })
    .collect()
}

/// libpaio.so, built once per test process; an error (the library does not
/// build yet) is reported by every paio run instead of aborting the suite.
fn paio_library() -> Result<(&'static Path, &'static Path), String> {
    static LIB: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let lib = LIB.get_or_init(|| {
        std::panic::catch_unwind(|| {
            (
                paio_ctests::paio_so().to_path_buf(),
                paio_ctests::paio_lib_dir().to_path_buf(),
            )
        })
        .map_err(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            format!("libpaio.so unavailable: {msg}")
        })
    });
    match lib {
        Ok((so, dir)) => Ok((so.as_path(), dir.as_path())),
        Err(e) => Err(e.clone()),
    }
}

/// Scratch area of this test process: binaries and per-run TMPDIRs.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| paio_ctests::scratch_dir("scenarios"))
}

fn compile_plain(name: &str) -> Result<PathBuf, String> {
    let out = scratch().join(format!("{name}.glibc"));
    compile_c(&ctests_dir().join(format!("{name}.c")), &out, None)?;
    Ok(out)
}

fn compile_linked(name: &str, lib_dir: &Path) -> Result<PathBuf, String> {
    let out = scratch().join(format!("{name}.paio"));
    compile_c(&ctests_dir().join(format!("{name}.c")), &out, Some(lib_dir))?;
    Ok(out)
}

/// How this harness reports its runs: `PAIO_STATS` lines in the summary.
const STYLE: Style = Style {
    width: 18,
    stats_in_summary: true,
    stats_always_in_details: false,
};

/// [`paio_ctests::harness::run_binary`] in this harness's scratch area.
fn run_binary(name: &str, label: &str, bin: &Path, env: &[(&str, &str)], launch: Launch) -> Run {
    paio_ctests::harness::run_binary(scratch(), STYLE, name, label, bin, env, launch)
}

fn run_scenario(name: &str) {
    let modes = modes();
    let intentional = intentional(name);
    let mut report = String::new();
    let mut failures: Vec<String> = Vec::new();

    // The reference run always happens: paio output is compared against it.
    let plain = match compile_plain(name) {
        Ok(p) => p,
        Err(e) => panic!("{name}: {e}"),
    };
    let glibc = run_binary(name, "glibc", &plain, &[], Launch::default());
    let _ = writeln!(report, "{}", glibc.summary());
    match (&glibc.status, intentional) {
        (Status::Failed(why), None) => failures.push(format!(
            "glibc run failed ({why}); the scenario's expectations do not hold on glibc\n{}",
            glibc.details()
        )),
        (_, Some(reason)) => {
            let _ = writeln!(report, "  intentional difference: {reason}");
            let _ = writeln!(
                report,
                "  glibc recorded: {}",
                glibc
                    .stdout
                    .trim_end()
                    .replace('\n', "\n                  ")
            );
        }
        _ => {}
    }
    let mut runs = vec![glibc];

    let paio_modes: Vec<Mode> = modes
        .iter()
        .copied()
        .filter(|m| *m != Mode::Glibc)
        .collect();
    if !paio_modes.is_empty() {
        match paio_library() {
            Err(e) => failures.push(format!("paio modes not run: {e}")),
            Ok((so, lib_dir)) => {
                let linked = if paio_modes.contains(&Mode::Linked) {
                    Some(compile_linked(name, lib_dir))
                } else {
                    None
                };
                let so = so.to_str().expect("utf-8 path").to_owned();
                for backend in backends() {
                    let backend_label = backend.clone().unwrap_or_else(|| "default".into());
                    let engine = match backend.as_deref() {
                        None => EngineSeen::Kaio,
                        Some("threads") | Some("pool") => EngineSeen::Threads,
                        Some(_) => EngineSeen::Unchecked,
                    };
                    for mode in &paio_modes {
                        let mut env: Vec<(&str, &str)> = Vec::new();
                        if let Some(b) = &backend {
                            env.push(("PAIO_BACKEND", b.as_str()));
                        }
                        let (label, bin) = match mode {
                            Mode::Preload => {
                                env.push(("LD_PRELOAD", so.as_str()));
                                (format!("preload/{backend_label}"), plain.clone())
                            }
                            Mode::Linked => match linked.as_ref().expect("compiled when Linked") {
                                Ok(bin) => (format!("linked/{backend_label}"), bin.clone()),
                                Err(e) => {
                                    failures.push(format!("linked/{backend_label}: {e}"));
                                    continue;
                                }
                            },
                            // Runs once, below, whatever the backends.
                            Mode::PreloadNoAio => continue,
                            Mode::Glibc => unreachable!(),
                        };
                        let launch = Launch {
                            wrapper: None,
                            stats: true,
                            ..Launch::default()
                        };
                        let mut run = run_binary(name, &label, &bin, &env, launch);
                        // fs.aio-max-nr is one budget for the whole machine:
                        // another process may hold it for a moment. Run again
                        // (a lasting fallback still fails below).
                        for _ in 0..AIO_BUDGET_RERUNS {
                            if engine != EngineSeen::Kaio || !aio_budget_exhausted(&run) {
                                break;
                            }
                            let _ = writeln!(
                                report,
                                "{}\n{:<18} rerun: io_setup failed with EAGAIN ({})",
                                run.summary(),
                                "",
                                aio_budget()
                            );
                            std::thread::sleep(Duration::from_millis(500));
                            run = run_binary(name, &label, &bin, &env, launch);
                        }
                        let _ = writeln!(report, "{}", run.summary());
                        check_paio_run(&run, &runs[0], intentional, &mut failures);
                        check_stats(&run, engine, &mut failures);
                        runs.push(run);
                    }
                }
                if paio_modes.contains(&Mode::PreloadNoAio) {
                    match deny_io_setup() {
                        Err(e) => failures.push(format!("preload-noaio: {e}")),
                        Ok(wrapper) => {
                            let env = [("LD_PRELOAD", so.as_str())];
                            let launch = Launch {
                                wrapper: Some(wrapper),
                                stats: true,
                                ..Launch::default()
                            };
                            let run = run_binary(name, "preload-noaio", &plain, &env, launch);
                            let _ = writeln!(report, "{}", run.summary());
                            check_paio_run(&run, &runs[0], intentional, &mut failures);
                            check_stats(&run, EngineSeen::Fallback, &mut failures);
                            runs.push(run);
                        }
                    }
                }
                check_stats_present(!NO_REQUESTS.contains(&name), &runs[1..], &mut failures);
            }
        }
    }

    assert_no_failures(name, &report, &failures);
    let bins = ["glibc", "paio"].map(|ext| scratch().join(format!("{name}.{ext}")));
    clean_up(&runs, bins);
    eprintln!("scenario {name}\n{report}");
}

// ---------------------------------------------------------------- tools

/// Compile `ctests/tools/<name>.c` into the scratch area.
fn compile_tool(name: &str) -> Result<PathBuf, String> {
    let src = ctests_dir().join("tools").join(format!("{name}.c"));
    let out = scratch().join(format!("tool-{name}"));
    gcc(
        &["-O1", "-Wall", "-Werror", src.to_str().expect("utf-8 path")],
        &out,
    )?;
    Ok(out)
}

/// `deny_io_setup`, built once per test process and checked to install its
/// filter here (a kernel without seccomp, or a sandbox that forbids adding a
/// filter, fails the `preload-noaio` runs with the reason).
fn deny_io_setup() -> Result<&'static Path, String> {
    static TOOL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let tool = TOOL.get_or_init(|| {
        let tool = compile_tool("deny_io_setup")?;
        let out = Command::new(&tool)
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
        if out.status.success() {
            Ok(tool)
        } else {
            Err(format!(
                "deny_io_setup cannot install its seccomp filter here ({}): {}",
                describe(out.status),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    });
    match tool {
        Ok(p) => Ok(p.as_path()),
        Err(e) => Err(e.clone()),
    }
}

/// The wrapper denies `io_setup` with EPERM and leaves the other kernel AIO
/// calls (and everything else) to the kernel.
#[test]
fn deny_io_setup_denies_only_io_setup() {
    if !modes().contains(&Mode::PreloadNoAio) {
        eprintln!("preload-noaio not among PAIO_CTESTS_MODES: not checked");
        return;
    }
    let wrapper = deny_io_setup().unwrap_or_else(|e| panic!("{e}"));
    let probe = compile_tool("probe_io_setup").unwrap_or_else(|e| panic!("{e}"));
    let run = |wrapped: bool| {
        let mut cmd = if wrapped {
            let mut c = Command::new(wrapper);
            c.arg(&probe);
            c
        } else {
            Command::new(&probe)
        };
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run probe_io_setup");
        assert!(
            out.status.success(),
            "probe_io_setup (wrapped: {wrapped}): {}",
            describe(out.status)
        );
        String::from_utf8(out.stdout).expect("utf-8 probe output")
    };
    let plain = run(false);
    let denied = run(true);
    assert_eq!(
        denied,
        "io_setup: -1 EPERM\nio_destroy(0): -1 EINVAL\nio_submit(0): -1 EINVAL\ngetppid: ok\n",
        "under deny_io_setup (without it the probe said:\n{plain})"
    );
    // Without the filter the same calls reach the kernel: io_setup is not
    // refused with EPERM there (it may be ENOSYS or EAGAIN on some hosts,
    // which would make the preload-noaio mode prove less, not fail).
    assert!(
        !plain.starts_with("io_setup: -1 EPERM"),
        "io_setup is denied even without the wrapper:\n{plain}"
    );
    let _ = fs::remove_file(probe);
}

#[test]
fn stats_lines_are_read() {
    let run = |stats: &str| Run {
        label: "t".into(),
        status: Status::Passed,
        stdout: String::new(),
        stderr: String::new(),
        stats: Some(stats.into()),
        elapsed: Duration::ZERO,
        dir: PathBuf::new(),
        style: STYLE,
    };
    let fallback = "paio: pid=7 backend=threads fallback=io_setup:1 requests=3 read=3\n";
    let idle = "paio: pid=8 backend=kaio requests=0 read=0\n";
    assert!(made_requests(&run(fallback)));
    assert!(!made_requests(&run(idle)));
    assert!(!made_requests(&run("")));
    let eagain = "paio: pid=9 backend=threads fallback=io_setup:11 requests=1\n";
    assert!(aio_budget_exhausted(&run(eagain)));
    assert!(!aio_budget_exhausted(&run(fallback)));
    let mut failures = Vec::new();
    check_stats(&run(fallback), EngineSeen::Fallback, &mut failures);
    check_stats(&run(idle), EngineSeen::Kaio, &mut failures);
    assert!(failures.is_empty(), "{failures:?}");
    check_stats(&run(fallback), EngineSeen::Kaio, &mut failures);
    check_stats(&run(idle), EngineSeen::Threads, &mut failures);
    check_stats(&run("garbage\n"), EngineSeen::Kaio, &mut failures);
    assert_eq!(failures.len(), 3, "{failures:?}");
    let mut failures = Vec::new();
    check_stats_present(true, &[run(fallback), run(idle)], &mut failures);
    assert_eq!(failures.len(), 1, "{failures:?}");
    check_stats_present(true, &[run(idle)], &mut failures);
    assert_eq!(failures.len(), 2, "{failures:?}");
    check_stats_present(false, &[run(idle)], &mut failures);
    assert_eq!(failures.len(), 2, "{failures:?}");
}
