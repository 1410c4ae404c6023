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

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use paio_ctests::harness::{
    assert_listed, assert_no_failures, backends, check_needed_order, clean_up, compared, describe,
    diff, engine_fields, gcc, keep_scratch, needed, Launch, Run, Status, Style, CFLAGS,
};
use paio_ctests::scenarios;

scenarios! {
    completion_fd_basic,
    epoll_loop,
    kernel_no_thread,
    lio_vectored,
    readv_file,
    reap_in_signal_handler,
    stats_basic,
    stats_size,
    suspend_nested_in_handler,
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
    waitcomplete_once,
    waitcomplete_timeout,
    waitcomplete_with_aio_return,
    writev_file,
}

#[test]
fn every_c_file_is_listed() {
    assert_listed(&ext_dir(), "ctests/ext/*.c", ALL);
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

/// Scratch area of this test process: binaries and per-run TMPDIRs.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| paio_ctests::scratch_dir("extensions"))
}

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
    check_needed_order(&out)?;
    Ok(out)
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

/// libpaio.so, built once per test process.
fn paio_library() -> (&'static Path, &'static Path) {
    (paio_ctests::paio_so(), paio_ctests::paio_lib_dir())
}

/// How this harness reports its runs: a `PAIO_STATS` section in every
/// failure's details.
const STYLE: Style = Style {
    width: 16,
    stats_in_summary: false,
    stats_always_in_details: true,
};

/// [`paio_ctests::harness::run_binary`] in this harness's scratch area, with
/// `PAIO_STATS` always set.
fn run_binary(name: &str, label: &str, bin: &Path, env: &[(&str, &str)]) -> Run {
    let launch = Launch {
        wrapper: None,
        stats: true,
        ..Launch::default()
    };
    paio_ctests::harness::run_binary(scratch(), STYLE, name, label, bin, env, launch)
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
        let (backend, fallback) = match engine_fields(run, line) {
            Ok(fields) => fields,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if backend != Some(want) || fallback.is_some() {
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

    assert_no_failures(name, &report, &failures);
    clean_up(&runs, [&linked, &preload].into_iter().flatten());
    let skipped = runs.iter().find_map(|r| match &r.status {
        Status::Skipped(why) => Some(why.as_str()),
        _ => None,
    });
    match skipped {
        Some(why) => eprintln!("scenario {name}: SKIPPED ({why})\n{report}"),
        None => eprintln!("scenario {name}\n{report}"),
    }
}
