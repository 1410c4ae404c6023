//! Sanitizers over the C scenarios, with paio preloaded:
//!
//! * **valgrind memcheck**: a representative subset of `ctests/*.c`, compiled
//!   plain (`-O1 -g`), run as `valgrind --error-exitcode=99 --leak-check=full
//!   --errors-for-leak-kinds=definite` with `LD_PRELOAD=libpaio.so`, once per
//!   backend (`PAIO_BACKEND=threads` and the default). Any invalid read or
//!   write, use of uninitialised memory in a syscall, or definite leak fails
//!   the test with valgrind's report. (Memory paio leaks on purpose — the
//!   engine, which lives as long as the process — is "still reachable", and
//!   the stacks of its threads still running at exit "possibly lost"; neither
//!   is an error here.)
//! * **AddressSanitizer** for the C side: a few scenarios built with
//!   `-fsanitize=address` and run with `LD_PRELOAD=libasan.so:libpaio.so`
//!   (the ASan runtime must come first in the initial library list). paio
//!   itself is not instrumented: this checks that the scenarios' own memory
//!   use is clean with paio underneath, and that the two preloads coexist
//!   (ASan's malloc and pthread interceptors serve paio's threads).
//!
//! Skips with a printed reason when valgrind or libasan is not installed.
//! `ctests/valgrind.supp` lists known false positives (each with its reason).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use paio_ctests::{paio_so, scratch_dir, workspace_root};

fn ctests() -> PathBuf {
    workspace_root().join("ctests")
}

fn compile(name: &str, extra: &[&str], tag: &str) -> PathBuf {
    let dir = workspace_root().join("target").join("sanitizer-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{name}-{tag}-{}", std::process::id()));
    let o = Command::new("gcc")
        .args(["-O1", "-g", "-Wall"])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(ctests().join(format!("{name}.c")))
        .arg("-lpthread")
        .output()
        .expect("run gcc");
    assert!(
        o.status.success(),
        "compiling {name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run with a hard timeout; (exit code, stdout + stderr).
fn run(mut cmd: Command, limit: Duration, tag: &str) -> (Option<i32>, String) {
    let dir = scratch_dir(&format!("sanitizer-{tag}"));
    cmd.env("TMPDIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start");
    let pid = child.id();
    let t0 = Instant::now();
    let done = std::sync::Arc::new(Mutex::new(false));
    let d2 = done.clone();
    let killer = std::thread::spawn(move || {
        while t0.elapsed() < limit {
            if *d2.lock().unwrap() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().expect("wait");
    *done.lock().unwrap() = true;
    let _ = killer.join();
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn judge(what: &str, code: Option<i32>, text: &str) {
    match code {
        Some(0) => println!("ok   {what}"),
        Some(77) => println!(
            "skip {what}: {}",
            text.lines().find(|l| l.starts_with("SKIP")).unwrap_or("")
        ),
        Some(99) => panic!("{what}: valgrind found errors:\n{text}"),
        Some(c) => panic!("{what}: exit {c}:\n{text}"),
        None => panic!("{what}: killed (timeout or signal):\n{text}"),
    }
}

fn memcheck(name: &str) {
    if !have("valgrind") {
        println!("SKIP valgrind_{name}: valgrind is not installed");
        return;
    }
    let bin = compile(name, &[], "vg");
    let supp = ctests().join("valgrind.supp");
    for backend in [Some("threads"), None] {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "-q",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
            "--vgdb=no",
            // Valgrind runs one thread at a time; its default hand-over is
            // unfair, and a scenario that polls `aio_error` in a loop (as
            // `fsync_barrier` does) can then starve the worker it waits for
            // for seconds. Fair scheduling hands the CPU over in turn.
            "--fair-sched=yes",
        ])
        .arg(format!("--suppressions={}", supp.display()))
        .arg(&bin)
        .env("LD_PRELOAD", paio_so())
        .env_remove("PAIO_BACKEND");
        if let Some(b) = backend {
            cmd.env("PAIO_BACKEND", b);
        }
        let (code, text) = run(
            cmd,
            Duration::from_secs(150),
            &format!("vg-{name}-{}", backend.unwrap_or("default")),
        );
        judge(
            &format!("valgrind {name} (backend {})", backend.unwrap_or("default")),
            code,
            &text,
        );
    }
    let _ = std::fs::remove_file(bin);
}

fn libasan() -> Option<String> {
    let o = Command::new("gcc")
        .arg("-print-file-name=libasan.so")
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
    std::path::Path::new(&p).is_absolute().then_some(p)
}

fn asan(name: &str) {
    let Some(rt) = libasan() else {
        println!("SKIP asan_{name}: gcc has no libasan.so here");
        return;
    };
    let bin = compile(
        name,
        &["-fsanitize=address", "-fno-omit-frame-pointer"],
        "asan",
    );
    for backend in [Some("threads"), None] {
        let mut cmd = Command::new(&bin);
        cmd.env("LD_PRELOAD", format!("{rt}:{}", paio_so().display()))
            // paio's threads and engine live until exit on purpose; LeakSanitizer
            // is for the C side, where valgrind already checks leaks.
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=0:abort_on_error=0:exitcode=99",
            )
            .env_remove("PAIO_BACKEND");
        if let Some(b) = backend {
            cmd.env("PAIO_BACKEND", b);
        }
        let (code, text) = run(
            cmd,
            Duration::from_secs(90),
            &format!("asan-{name}-{}", backend.unwrap_or("default")),
        );
        assert!(!text.contains("does not come first"), "{text}");
        assert!(
            !text.contains("ERROR: AddressSanitizer"),
            "asan {name}: {text}"
        );
        judge(
            &format!("asan {name} (backend {})", backend.unwrap_or("default")),
            code,
            &text,
        );
    }
    let _ = std::fs::remove_file(bin);
}

macro_rules! memcheck {
    ($($name:ident),* $(,)?) => {
        mod valgrind {
            $( #[test] fn $name() { super::memcheck(stringify!($name)); } )*
        }
    };
}

macro_rules! asan {
    ($($name:ident),* $(,)?) => {
        mod asan {
            $( #[test] fn $name() { super::asan(stringify!($name)); } )*
        }
    };
}

// One of each family: plain reads and writes, results, lists, every
// notification kind, suspend, cancel, fsync, streams, O_DIRECT, fork, errors.
memcheck! {
    read_basic,
    write_basic,
    return_value,
    read_short_eof,
    lio_wait,
    lio_wait_eio,
    lio_nowait_signal,
    lio_skip_nop_null,
    notify_signal,
    notify_thread,
    notify_thread_attr,
    notify_cancelled,
    suspend_basic,
    suspend_timeout,
    cancel_queued,
    cancel_fd_all,
    fsync_barrier,
    pipe_ordered,
    socketpair_ordered,
    odirect_rw,
    fork_child,
    offset_negative,
    rw_bad_fd,
    fd_reuse_close,
}

// Not `fork_child`: ASan's own allocator (gcc 12) has no fork handler, so a
// child forked while one of the parent's threads is inside it (a paio worker
// that is just starting, in ASan's thread set-up) finds its lock held forever
// and hangs in its own first thread start (seen in about 1 run in 10, with
// every thread of the child waiting in `SizeClassAllocator64::GetFromAllocator`).
// Memcheck runs it above.
asan! {
    read_basic,
    lio_nowait_signal,
    notify_thread,
    cancel_queued,
    pipe_ordered,
}
