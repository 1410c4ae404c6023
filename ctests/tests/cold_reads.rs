//! Which path served uncached buffered reads, told by paio's statistics:
//! `ctests/matrix/cold_reads.c` (which the environment matrix compares with
//! glibc on every filesystem) run under the preload on the real filesystem,
//! with `PAIO_STATS` written to a file (one line per process).
//!
//! - default backend: the parent's uncached reads (at least one round of
//!   45) are served by io_uring (`uring` counts them), where this machine
//!   allows io_uring, until the program's own seccomp filter refuses
//!   `io_uring_enter` to every thread: from then on read-ahead and the pool
//!   serve them (`readahead` > 0), and every read completes; its child, in
//!   a sandbox that refuses `io_uring_setup`, falls back the same way
//!   (`uring=0`, `readahead` > 0) and reads the same bytes;
//! - `PAIO_BACKEND=kaio`: no io_uring at all.
//!
//! A check that needs evictable pages or io_uring says why it was skipped
//! (tmpfs as `TMPDIR`, a sandbox that refuses io_uring to the test itself).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use paio_ctests::harness::compile_c;
use paio_ctests::{paio_so, scratch_dir, workspace_root};

/// One statistics line's counters by name.
fn counters(line: &str) -> BTreeMap<String, u64> {
    line.split_whitespace()
        .filter_map(|f| f.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

struct Outcome {
    stdout: String,
    /// Statistics lines: the sandboxed child's (48 requests) and the
    /// parent's (the other one).
    child: BTreeMap<String, u64>,
    parent: BTreeMap<String, u64>,
}

fn run(bin: &Path, dir: &Path, backend: Option<&str>) -> Outcome {
    let stats = dir.join(format!("stats-{}", backend.unwrap_or("default")));
    let _ = fs::remove_file(&stats);
    let mut cmd = Command::new(bin);
    cmd.arg(dir)
        .env("TMPDIR", dir)
        .env("LD_PRELOAD", paio_so())
        .env("PAIO_STATS", &stats)
        .env_remove("PAIO_BACKEND");
    if let Some(b) = backend {
        cmd.env("PAIO_BACKEND", b);
    }
    let out = cmd.output().expect("run cold_reads");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cold_reads under paio ({backend:?}): {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&stats).expect("the statistics file");
    let lines: Vec<_> = text.lines().map(counters).collect();
    assert_eq!(lines.len(), 2, "one line per process:\n{text}");
    let (child, parent) = match lines[0].get("requests") {
        Some(48) => (lines[0].clone(), lines[1].clone()),
        _ => (lines[1].clone(), lines[0].clone()),
    };
    assert_eq!(
        child.get("requests"),
        Some(&48),
        "the child's line:\n{text}"
    );
    Outcome {
        child,
        parent,
        stdout,
    }
}

#[test]
fn uncached_reads_take_io_uring_where_allowed_and_fall_back_where_not() {
    let root = workspace_root();
    let dir = scratch_dir("cold-reads");
    let bin = dir.join("cold_reads");
    compile_c(&root.join("ctests/matrix/cold_reads.c"), &bin, None).expect("compile cold_reads");

    let glibc = Command::new(&bin)
        .arg(&dir)
        .env("TMPDIR", &dir)
        .output()
        .expect("run on glibc");
    assert!(
        glibc.status.success(),
        "cold_reads on glibc: {}",
        glibc.status
    );
    let compared = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with('~'))
            .map(str::to_string)
            .collect()
    };
    let glibc_out = compared(&String::from_utf8_lossy(&glibc.stdout));

    let default = run(&bin, &dir, None);
    let kaio = run(&bin, &dir, Some("kaio"));
    for o in [&default, &kaio] {
        assert_eq!(
            compared(&o.stdout),
            glibc_out,
            "paio and glibc read different bytes"
        );
    }

    let evictable = default.stdout.contains("~in flight: 0 of");
    let uring = match default
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("~io_uring: "))
    {
        Some("allowed") => Ok(()),
        Some(e) => Err(format!("io_uring_setup: {e}")),
        None => Err("the program did not say whether io_uring is allowed".to_string()),
    };
    let c = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    match (&uring, evictable) {
        (Ok(()), true) => {
            assert!(
                c(&default.parent, "uring") >= 45,
                "parent: {:?}",
                default.parent
            );
        }
        (Err(why), _) => eprintln!("SKIP io_uring served: {why}"),
        (_, false) => eprintln!(
            "SKIP io_uring served: {} keeps no page evicted",
            dir.display()
        ),
    }
    if evictable {
        // Sandboxed: io_uring_setup refused, the pool finishes what the
        // submitting call read ahead.
        assert_eq!(c(&default.child, "uring"), 0, "child: {:?}", default.child);
        assert!(
            c(&default.child, "readahead") > 0,
            "child: {:?}",
            default.child
        );
        assert!(
            c(&default.parent, "readahead") > 0,
            "parent: {:?}",
            default.parent
        );
        assert!(c(&kaio.parent, "readahead") > 0, "kaio: {:?}", kaio.parent);
    }
    for m in [&kaio.parent, &kaio.child] {
        assert_eq!(c(m, "uring"), 0, "PAIO_BACKEND=kaio used io_uring: {m:?}");
    }
    let _ = fs::remove_dir_all(&dir);
}
