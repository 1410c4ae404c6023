//! Live statistics (`PAIO_STATS=DIR` and `paio-stat`) with programs whose
//! processes end without exit handlers, so `PAIO_STATS=1` shows nothing
//! for them:
//!
//! * fio in its default process mode (no `--thread`), two jobs: every job
//!   process has a file, and its counts match what fio says it did;
//! * stress-ng `--aio 1 --aio-ops N`: the stressor process has a file, with
//!   at least N requests;
//! * a C program that forks and ends with `_exit`, `abort` or `SIGKILL`, or
//!   with `exit` (its line then equals the `PAIO_STATS=1` exit line's form);
//! * `paio-stat --watch` during a running fio: a header, then data lines.
//!
//! fio, stress-ng and jq come from `.ci/apt-packages`; a missing one fails
//! the test, unless `PAIO_E2E_OPTIONAL=1` (then a printed SKIP). Every
//! command runs in its own process group under a time limit and the group
//! is killed afterwards. `PAIO_STAT` names a prebuilt `paio-stat`; otherwise
//! it is built into `target/test-so` (see `paio_ctests::build_release`).
//!
//! Run: `cargo test -p paio-ctests --test stats_live -- --nocapture`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use paio_ctests::{build_release, paio_so, scratch_dir};

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGKILL: i32 = 9;

/// One test at a time: the machines are small, and fio wants the disk.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The named programs on `PATH`, or `None` after printing SKIP when one is
/// missing and `PAIO_E2E_OPTIONAL=1`.
fn require(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut found = Vec::new();
    for name in names {
        match path
            .split(':')
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
        {
            Some(p) => found.push(p),
            None => {
                let msg = format!(
                    "{test}: `{name}` is not installed. Run .ci/run (it installs .ci/apt-packages), \
                     or set PAIO_E2E_OPTIONAL=1 to skip this test"
                );
                if std::env::var("PAIO_E2E_OPTIONAL").as_deref() == Ok("1") {
                    eprintln!("SKIP {msg}");
                    return None;
                }
                panic!("{msg}");
            }
        }
    }
    Some(found)
}

/// The `paio-stat` binary: `PAIO_STAT`, or built once into `target/test-so`
/// (see `paio_ctests::build_release`).
fn paio_stat() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("PAIO_STAT") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "PAIO_STAT={} is not a file", p.display());
            return p;
        }
        build_release("paio-stat", &[], "paio-stat")
    })
}

/// Runs `cmd` (in a process group of its own) to completion within
/// `limit`, then kills whatever of its group is left.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    finish(child, limit, &format!("{cmd:?}"))
}

fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let pid = child.id() as i32;
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            // SAFETY: kill(2) on the process group this test created.
            unsafe { kill(-pid, SIGKILL) };
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{what}: still running after {limit:?}, killed\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    // SAFETY: as above; the group may have left processes behind.
    unsafe { kill(-pid, SIGKILL) };
    out
}

/// A command under paio with `PAIO_STATS=stats` (a directory) and nothing
/// else inherited that would change where counters go.
fn under_paio(program: &Path, stats: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("LD_PRELOAD", paio_so())
        .env("PAIO_STATS", stats)
        .env_remove("PAIO_STAT");
    cmd
}

/// One line of `paio-stat DIR`: the exit line's fields, and the state.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    pid: u32,
    state: String,
    counts: BTreeMap<String, u64>,
    keys: Vec<String>,
}

impl Line {
    fn get(&self, key: &str) -> u64 {
        *self
            .counts
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}=` in {}", self.text))
    }
}

fn parse_line(text: &str) -> Option<Line> {
    let rest = text.strip_prefix("paio: ")?;
    let mut line = Line {
        text: text.to_string(),
        pid: 0,
        state: String::new(),
        counts: BTreeMap::new(),
        keys: Vec::new(),
    };
    for field in rest.split_whitespace() {
        if let Some(s) = field.strip_prefix('(').and_then(|f| f.strip_suffix(')')) {
            line.state = s.to_string();
            continue;
        }
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        line.keys.push(k.to_string());
        match k {
            "pid" => line.pid = v.parse().unwrap_or(0),
            "backend" | "fallback" => {}
            _ => {
                line.counts
                    .insert(k.to_string(), v.parse().expect("a count"));
            }
        }
    }
    Some(line)
}

/// `paio-stat DIR` (with `extra` arguments first): its lines.
fn paio_stat_once(dir: &Path, extra: &[&str]) -> Vec<Line> {
    let out = run(
        Command::new(paio_stat()).args(extra).arg(dir),
        Duration::from_secs(30),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "paio-stat {extra:?} {} failed: {}\n{text}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| parse_line(l).unwrap_or_else(|| panic!("paio-stat printed {l:?}")))
        .collect()
}

/// The lines of processes that made requests.
fn busy(dir: &Path) -> Vec<Line> {
    let all = paio_stat_once(dir, &[]);
    for l in &all {
        println!("  {}", l.text);
    }
    all.into_iter().filter(|l| l.get("requests") > 0).collect()
}

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = scratch_dir(tag);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("stats")).unwrap();
    dir
}

// ---------------------------------------------------------------------------
// fio

/// fio, default process mode (no `--thread`): two job processes, random
/// reads and writes on scratch files, JSON report.
fn fio_command(fio: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = under_paio(fio, &dir.join("stats"));
    cmd.current_dir(dir)
        .arg("--name=live")
        .arg(format!("--directory={}", dir.display()))
        .args([
            "--ioengine=posixaio",
            "--rw=randrw",
            "--bs=4k",
            "--iodepth=8",
            "--numjobs=2",
        ])
        .args(extra);
    cmd
}

/// Per job: `(read ios, write ios)` from fio's JSON report.
fn fio_ios(json: &Path) -> Vec<(u64, u64)> {
    let text = fs::read_to_string(json).unwrap_or_default();
    // fio may print error lines before the JSON document.
    let start = text.find('{').unwrap_or(0);
    let clean = json.with_extension("clean.json");
    fs::write(&clean, &text[start..]).unwrap();
    let out = Command::new("jq")
        .args([
            "-r",
            r#".jobs[] | "\(.read.total_ios) \(.write.total_ios)""#,
        ])
        .arg(&clean)
        .output()
        .expect("run jq");
    assert!(out.status.success(), "jq on {}: {}", json.display(), text);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<u64> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            (f[0], f[1])
        })
        .collect()
}

/// fio's job processes end with `_exit`: before `PAIO_STATS=DIR` they
/// printed no exit line. Each must now appear, gone, with the counts fio
/// reports. fio's `total_ios` counts the requests it completed and
/// accounted; paio counts every request it accepted, so per direction
/// `fio <= paio <= fio + iodepth` (a job may have requests in flight that
/// it reaps without accounting when it stops). Jobs and processes are
/// paired by sorting both by reads (fio's report does not give pids).
#[test]
fn fio_process_mode_every_job_appears() {
    let _serial = serial();
    let Some(bins) = require("fio_process_mode_every_job_appears", &["fio", "jq"]) else {
        return;
    };
    let dir = fresh_dir("stats-live-fio");
    let json = dir.join("fio.json");
    let out = run(
        fio_command(&bins[0], &dir, &["--size=8m", "--output-format=json"])
            .arg(format!("--output={}", json.display())),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "fio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut jobs = fio_ios(&json);
    assert_eq!(jobs.len(), 2, "fio reported {jobs:?}");
    let mut procs = busy(&dir.join("stats"));
    assert_eq!(
        procs.len(),
        2,
        "expected one process per fio job with requests: {procs:#?}"
    );
    jobs.sort();
    procs.sort_by_key(|l| (l.get("read"), l.get("write")));
    for ((reads, writes), p) in jobs.iter().zip(&procs) {
        assert_eq!(
            p.state, "gone",
            "fio's job processes end with _exit: {}",
            p.text
        );
        for (name, fio_n, paio_n) in [
            ("read", *reads, p.get("read")),
            ("write", *writes, p.get("write")),
        ] {
            assert!(
                fio_n <= paio_n && paio_n <= fio_n + 8,
                "fio job reported {fio_n} {name}s, paio counted {paio_n}: {}",
                p.text
            );
        }
        assert_eq!(
            p.get("requests"),
            p.get("read") + p.get("write") + p.get("fsync")
        );
        assert_eq!(p.get("errors"), 0, "{}", p.text);
        println!(
            "fio job: {reads} reads, {writes} writes; paio pid {}: read={} write={}",
            p.pid,
            p.get("read"),
            p.get("write")
        );
    }
    let one = paio_stat_once(&dir.join("stats"), &["-p", &procs[0].pid.to_string()]);
    assert_eq!(one.len(), 1, "paio-stat -p {}: {one:?}", procs[0].pid);
    assert_eq!(one[0].text, procs[0].text);
    let _ = fs::remove_dir_all(&dir);
}

/// `paio-stat --watch` while fio runs: a header line, then lines for the
/// job processes with requests per second.
#[test]
fn watch_shows_a_running_fio() {
    let _serial = serial();
    let Some(bins) = require("watch_shows_a_running_fio", &["fio"]) else {
        return;
    };
    let dir = fresh_dir("stats-live-watch");
    let fio = fio_command(
        &bins[0],
        &dir,
        &[
            "--size=4m",
            "--time_based",
            "--runtime=6",
            "--output-format=terse",
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .process_group(0)
    .spawn()
    .expect("spawn fio");
    let watch = run(
        Command::new(paio_stat())
            .args(["--watch", "--interval", "0.5", "--count", "8"])
            .arg(dir.join("stats")),
        Duration::from_secs(30),
    );
    let fio = finish(fio, Duration::from_secs(60), "fio");
    assert!(
        fio.status.success(),
        "fio failed: {}",
        String::from_utf8_lossy(&fio.stderr)
    );
    let text = String::from_utf8_lossy(&watch.stdout);
    println!("{text}");
    assert!(
        watch.status.success(),
        "paio-stat --watch: {}",
        String::from_utf8_lossy(&watch.stderr)
    );
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "time", "pid", "backend", "req/s", "inline%", "kernel%", "pool%", "retried%",
            "inflight", "errors", "threads"
        ],
        "no header first:\n{text}"
    );
    let pids: Vec<u32> = busy(&dir.join("stats")).iter().map(|l| l.pid).collect();
    let data: Vec<Vec<&str>> = lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.first() != Some(&"time"))
        .collect();
    let live = data.iter().filter(|f| {
        f.len() >= 11
            && f[1].parse().is_ok_and(|p: u32| pids.contains(&p))
            && f[3].parse::<f64>().is_ok_and(|r| r > 0.0)
    });
    assert!(
        live.count() >= 1,
        "no data line with requests/s > 0 for fio's job processes {pids:?}:\n{text}"
    );
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// stress-ng

/// stress-ng's stressors end with `_exit`. The stressor must appear with
/// at least as many requests as stress-ng's bogo ops (one op per completed
/// request; a few more may be in flight when it stops).
#[test]
fn stress_ng_stressor_appears() {
    let _serial = serial();
    let Some(bins) = require("stress_ng_stressor_appears", &["stress-ng"]) else {
        return;
    };
    let dir = fresh_dir("stats-live-stress");
    let ops = 2000;
    let out = run(
        under_paio(&bins[0], &dir.join("stats"))
            .current_dir(&dir)
            .args([
                "--aio",
                "1",
                "--aio-ops",
                &ops.to_string(),
                "--timeout",
                "60s",
            ])
            .args(["--metrics-brief", "--temp-path"])
            .arg(&dir),
        Duration::from_secs(120),
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "stress-ng failed:\n{all}");
    // "stress-ng: metrc: [PID] aio  2000  0.43 ..."
    let (main_pid, did) = all
        .lines()
        .filter(|l| l.contains("metrc:"))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == "aio")?;
            let pid = f
                .get(2)?
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<u32>()
                .ok()?;
            Some((pid, f.get(i + 1)?.parse::<u64>().ok()?))
        })
        .unwrap_or_else(|| panic!("no aio metrics line from stress-ng:\n{all}"));
    let procs = busy(&dir.join("stats"));
    assert_eq!(procs.len(), 1, "one stressor process expected: {procs:#?}");
    let p = &procs[0];
    assert_ne!(
        p.pid, main_pid,
        "the stressor is a child of stress-ng: {}",
        p.text
    );
    assert_eq!(p.state, "gone", "stressors end with _exit: {}", p.text);
    assert!(
        p.get("requests") >= did,
        "stress-ng did {did} aio ops, paio counted fewer requests: {}",
        p.text
    );
    assert_eq!(p.get("errors"), 0, "{}", p.text);
    println!("stress-ng: {did} bogo ops; paio: {}", p.text);
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// a C program that forks and ends in each way

const ENDINGS_C: &str = r#"
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[4096];

static void one(int fd, int write, off_t at) {
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    cb.aio_offset = at;
    if ((write ? aio_write(&cb) : aio_read(&cb)) != 0) { perror("submit"); exit(2); }
    const struct aiocb *list[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS) aio_suspend(list, 1, NULL);
    if (aio_return(&cb) != (ssize_t)sizeof buf) { fprintf(stderr, "short\n"); exit(3); }
}

/* argv[1]: a scratch file; argv[2]: exit, _exit, abort, kill, or exec
   (itself again, to end with exit).
   Parent: 8 writes; a child: 3 reads then _exit; parent: 5 reads. */
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); return 2; }
    for (int i = 0; i < 8; i++) one(fd, 1, i * 4096);
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 3; i++) one(fd, 0, i * 4096);
        _exit(0);
    }
    int status;
    if (waitpid(child, &status, 0) != child || status != 0) return 4;
    for (int i = 0; i < 5; i++) one(fd, 0, i * 4096);
    printf("pid %d child %d\n", (int)getpid(), (int)child);
    fflush(stdout);
    if (!strcmp(argv[2], "exit")) exit(0);
    if (!strcmp(argv[2], "_exit")) _exit(0);
    if (!strcmp(argv[2], "abort")) abort();
    if (!strcmp(argv[2], "kill")) raise(SIGKILL);
    if (!strcmp(argv[2], "exec")) {
        char *again[] = { argv[0], argv[1], "exit", NULL };
        execv(argv[0], again);
        perror("execv");
        return 6;
    }
    return 5;
}
"#;

/// Compiles [`ENDINGS_C`] in `dir`.
fn build_endings(dir: &Path) -> PathBuf {
    let src = dir.join("endings.c");
    fs::write(&src, ENDINGS_C).unwrap();
    let bin = dir.join("endings");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-Wall", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("run {cc}: {e}"));
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// What the program printed: `(pid, child)` per image.
fn printed(out: &Output) -> Vec<(u32, u32)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                ["pid", p, "child", c] => Some((p.parse().ok()?, c.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

/// The counters of a process survive however it ends, a forked child has a
/// file of its own (its requests never count in the parent's), and for a
/// program that exits normally `paio-stat` prints the fields of the
/// `PAIO_STATS=1` exit line, in its order.
#[test]
fn counts_survive_every_ending() {
    let _serial = serial();
    let dir = fresh_dir("stats-live-endings");
    let bin = build_endings(&dir);
    for ending in ["exit", "_exit", "abort", "kill"] {
        let stats = dir.join(format!("stats-{ending}"));
        fs::create_dir_all(&stats).unwrap();
        let out = run(
            under_paio(&bin, &stats).arg(dir.join("data")).arg(ending),
            Duration::from_secs(60),
        );
        let Some(&(_, child)) = printed(&out).first() else {
            panic!(
                "{ending}: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        };
        println!("ending {ending}: {:?}", out.status);
        let lines = busy(&stats);
        assert_eq!(
            lines.len(),
            2,
            "{ending}: parent and child expected: {lines:#?}"
        );
        let (kid, parent): (Vec<&Line>, Vec<&Line>) = lines.iter().partition(|l| l.pid == child);
        let (kid, parent) = (kid[0], parent[0]);
        assert_eq!(
            (
                parent.get("requests"),
                parent.get("write"),
                parent.get("read")
            ),
            (13, 8, 5),
            "{ending}: parent {}",
            parent.text
        );
        assert_eq!(
            (kid.get("requests"), kid.get("write"), kid.get("read")),
            (3, 0, 3),
            "{ending}: child {}",
            kid.text
        );
        assert_eq!(kid.state, "gone", "the child ends with _exit: {}", kid.text);
        let want = if ending == "exit" { "exited" } else { "gone" };
        assert_eq!(parent.state, want, "{ending}: {}", parent.text);
        if ending == "exit" {
            // The same program with PAIO_STATS=1: its exit line has the
            // same fields in the same order, and the same request counts.
            let mut cmd = under_paio(&bin, Path::new("1"));
            let out = run(
                cmd.arg(dir.join("data")).arg("exit"),
                Duration::from_secs(60),
            );
            let err = String::from_utf8_lossy(&out.stderr);
            let exit_line = err
                .lines()
                .filter_map(parse_line)
                .find(|l| l.get("requests") == 13)
                .unwrap_or_else(|| panic!("no exit line with requests=13 on stderr:\n{err}"));
            assert_eq!(
                exit_line.keys, parent.keys,
                "\n{}\n{}",
                exit_line.text, parent.text
            );
            for k in ["requests", "read", "write", "fsync", "errors"] {
                assert_eq!(exit_line.get(k), parent.get(k), "{k}");
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// A process that `exec`s keeps its pid: the new image's engine takes the
/// next file name, and the old image's file shows as gone while the pid
/// still runs.
#[test]
fn exec_takes_the_next_file() {
    let _serial = serial();
    let dir = fresh_dir("stats-live-exec");
    let bin = build_endings(&dir);
    let stats = dir.join("stats");
    let out = run(
        under_paio(&bin, &stats).arg(dir.join("data")).arg("exec"),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = busy(&stats);
    assert_eq!(lines.len(), 4, "two images, each with a child: {lines:#?}");
    let run_pids = printed(&out);
    assert_eq!(run_pids.len(), 2, "two images: {run_pids:?}");
    assert_eq!(run_pids[0].0, run_pids[1].0, "exec keeps the pid");
    let pid = run_pids[0].0;
    let images: Vec<&Line> = lines.iter().filter(|l| l.pid == pid).collect();
    assert_eq!(images.len(), 2, "{lines:#?}");
    assert_eq!(
        (images[0].state.as_str(), images[1].state.as_str()),
        ("gone", "exited"),
        "{images:#?}"
    );
    for image in &images {
        assert_eq!(image.get("requests"), 13, "{}", image.text);
    }
    assert!(stats.join(format!("paio-{pid}.stats")).is_file());
    assert!(stats.join(format!("paio-{pid}.1.stats")).is_file());
    let by_pid = paio_stat_once(&stats, &["-p", &pid.to_string()]);
    assert_eq!(by_pid.len(), 2, "{by_pid:#?}");
    let _ = fs::remove_dir_all(&dir);
}
