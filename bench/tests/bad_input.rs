//! Bad input ends with a clear message and exit status 2, never a panic, and
//! leaves no test file behind.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_paio-bench");

fn run(args: &[&str]) -> Output {
    // No paio column unless asked, so these never need libpaio.so.
    Command::new(BIN)
        .args(args)
        .env_remove("PAIO_SO")
        .output()
        .expect("run paio-bench")
}

fn assert_bad(args: &[&str], says: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should exit 2; stderr: {stderr}"
    );
    assert!(
        stderr.contains(says),
        "{args:?}: expected {says:?} in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
}

/// A quick glibc-only run of one cached workload: what is left to go wrong is
/// in the arguments a test adds.
const QUICK: &[&str] = &["--smoke", "--impls", "glibc", "--workloads", "cached-qd1"];

/// `assert_bad` for the quick run with `more` added.
fn assert_bad_quick(more: &[&str], says: &str) {
    assert_bad(&[QUICK, more].concat(), says);
}

#[test]
fn unknown_workload() {
    assert_bad(
        &["--workloads", "cached-qd7"],
        "unknown workload \"cached-qd7\"",
    );
}

#[test]
fn unknown_impl_and_flag() {
    assert_bad(&["--impls", "glibc,posix"], "unknown implementation");
    assert_bad(&["--frobnicate"], "unknown argument");
}

#[test]
fn depth_zero_and_garbage_numbers() {
    assert_bad(&["--depth", "0"], "--depth must be between");
    assert_bad(&["--depth", "many"], "not a number");
    assert_bad(&["--reps", "0"], "--reps must be between");
    assert_bad(&["--size", "12 parsecs"], "not a size");
    assert_bad(&["--duration", "-3s"], "--duration");
    assert_bad(&["--cpu", "100000"], "does not exist");
    assert_bad(&["--depth"], "needs a value");
}

#[test]
fn missing_or_unusable_dir() {
    assert_bad_quick(
        &["--dir", "/nonexistent/paio-bench"],
        "/nonexistent/paio-bench",
    );
    let file = std::env::current_exe().expect("test exe");
    let file = file.to_str().expect("utf-8 path");
    assert_bad_quick(&["--dir", file], "not a directory");
    // Root ignores permission bits, but nobody may create files in /proc.
    assert_bad_quick(&["--dir", "/proc"], "cannot create the test file");
}

#[test]
fn missing_lib() {
    assert_bad(
        &[
            "--smoke",
            "--workloads",
            "cached-qd1",
            "--lib",
            "/nonexistent/libpaio.so",
        ],
        "no such file",
    );
}

#[test]
fn unwritable_plot() {
    assert_bad(
        &[
            "--smoke",
            "--impls",
            "glibc",
            "--plot",
            "/nonexistent/dir/plot.svg",
        ],
        "cannot write --plot",
    );
}

fn accepts_o_direct(dir: &Path) -> bool {
    let path = dir.join(format!("paio-bench-probe-{}", std::process::id()));
    if std::fs::write(&path, [0u8; 4096]).is_err() {
        return true;
    }
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: a NUL-terminated path; the descriptor is closed at once.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECT) };
    if fd >= 0 {
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
    }
    let _ = std::fs::remove_file(&path);
    fd >= 0
}

#[test]
fn no_o_direct_is_refused_when_asked_for() {
    // tmpfs refused O_DIRECT before Linux 6.6; where every filesystem at hand
    // accepts it there is nothing to check.
    let Some(dir) = ["/dev/shm", "/run"]
        .iter()
        .map(Path::new)
        .find(|d| d.is_dir() && !accepts_o_direct(d))
    else {
        eprintln!("skipped: no filesystem without O_DIRECT at hand");
        return;
    };
    let d = dir.to_str().expect("utf-8");
    assert_bad(
        &[
            "--smoke",
            "--impls",
            "glibc",
            "--workloads",
            "direct-qd32",
            "--dir",
            d,
        ],
        "does not support O_DIRECT",
    );
    let left = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("paio-bench-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "test file left in {d}");
}

#[test]
fn help_is_not_an_error() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--workloads") && text.contains("--smoke"));
    assert!(text.contains("--dirs") && text.contains("--busy") && text.contains("sizes"));
}

#[test]
fn dirs_and_busy_mistakes() {
    assert_bad(
        &["--dir", "/tmp", "--dirs", "/tmp"],
        "give the directories once",
    );
    assert_bad(&["--dirs", ","], "--dirs names no directory");
    assert_bad(&["--busy", "0"], "--busy must be between");
    assert_bad_quick(
        &["--dirs", "/tmp,/nonexistent/paio-bench"],
        "--dirs /nonexistent/paio-bench",
    );
}

#[test]
fn an_unusable_second_dir_leaves_nothing_in_the_first() {
    let dir = std::env::temp_dir().join(format!("paio-bench-bad-dirs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let dirs = format!("{},/proc", dir.display());
    assert_bad_quick(&["--dirs", &dirs], "cannot create the test file in /proc");
    let left = std::fs::read_dir(&dir).map(|r| r.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(left, 0, "test file left in {}", dir.display());
}
