//! Real Debian programs that use POSIX AIO, run first on glibc and then under
//! `LD_PRELOAD=libpaio.so`: fio, stress-ng, perf, squid and MPI-IO (MPICH ROMIO).
//!
//! Each test proves that paio, not glibc, served the calls: by the
//! `PAIO_STATS` exit line (`requests=` > 0) where the program exits normally,
//! and by `ctests/e2e/aio_observer.c` (a pass-through shim that logs which
//! library each AIO function was forwarded to) where it cannot: stress-ng's
//! stressors end with `_exit()`, and squid never exits once its AIO disk
//! module has been used (see `LD_PRELOAD.md`).
//!
//! The programs come from Debian packages listed in `.ci/apt-packages`; a
//! missing one fails the test with a pointer to `.ci/run`, unless
//! `PAIO_E2E_OPTIONAL=1`, which turns that into a printed SKIP. Every command
//! runs in a process group of its own under a time limit, and every process
//! started is killed by group before the test returns, on success or panic.
//! The tests take a lock so they run one at a time (the machines are small
//! and squid and fio both want the disk). `PAIO_BACKEND`, `PAIO_THREADS` and
//! the other settings in the environment reach the paio runs unchanged.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use paio_ctests::{paio_so, scratch_dir, workspace_root};

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn geteuid() -> u32;
}
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

// ---------------------------------------------------------------------------
// plumbing

/// One test at a time: two cores, one disk.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `sig` to every process in the group `pgid` (the group a spawned
/// command leads; see [`spawn`]).
fn kill_group(pgid: u32, sig: i32) {
    // SAFETY: kill(2) takes plain integers; -pgid names only the process group
    // this test created with process_group(0).
    unsafe {
        kill(-(pgid as i32), sig);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { geteuid() == 0 }
}

/// Where a program lives, looked up in `PATH` and the sbin directories.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// The named programs, or `None` after printing SKIP when one is missing and
/// `PAIO_E2E_OPTIONAL=1`. Without that variable a missing program fails.
fn require(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in names {
        match which(name) {
            Some(p) => found.push(p),
            None => {
                let msg = format!(
                    "{test}: `{name}` is not installed. Run .ci/run (it installs the Debian packages \
                     in .ci/apt-packages), or set PAIO_E2E_OPTIONAL=1 to skip this test"
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

/// Which AIO library a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lib {
    Glibc,
    Paio,
}

impl Lib {
    fn name(self) -> &'static str {
        match self {
            Lib::Glibc => "glibc",
            Lib::Paio => "paio",
        }
    }
}

/// Sets up `cmd`'s environment for `lib`: no inherited preload or
/// `PAIO_STATS`; for paio, `LD_PRELOAD` (after `extra_preload`, if any) and
/// `PAIO_STATS=stats_file`. Other `PAIO_*` settings pass through, so
/// `PAIO_BACKEND=threads cargo test …` runs the programs on the pool backend.
fn preload(cmd: &mut Command, lib: Lib, extra_preload: Option<&Path>, stats_file: &Path) {
    cmd.env_remove("LD_PRELOAD").env_remove("PAIO_STATS");
    let mut libs: Vec<String> = Vec::new();
    if let Some(p) = extra_preload {
        libs.push(p.display().to_string());
    }
    if lib == Lib::Paio {
        libs.push(paio_so().display().to_string());
        cmd.env("PAIO_STATS", stats_file);
    }
    if !libs.is_empty() {
        cmd.env("LD_PRELOAD", libs.join(" "));
    }
}

/// What a bounded run of a command left behind.
struct Ran {
    what: String,
    status: Option<ExitStatus>,
    pid: u32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn describe(&self) -> String {
        let status = match self.status {
            Some(s) => format!("{s}"),
            None => "killed: time limit reached".into(),
        };
        format!(
            "{} ({status})\n--- stdout (last 3000 bytes)\n{}\n--- stderr (last 3000 bytes)\n{}",
            self.what,
            tail(&self.stdout, 3000),
            tail(&self.stderr, 3000)
        )
    }

    fn assert_ok(&self) {
        assert!(self.ok(), "{}", self.describe());
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Spawns `cmd` as the leader of a new process group, stdout and stderr to
/// files `log_base.{out,err}`.
fn spawn(cmd: &mut Command, log_base: &Path) -> Child {
    let out = fs::File::create(log_base.with_extension("out")).expect("create stdout file");
    let err = fs::File::create(log_base.with_extension("err")).expect("create stderr file");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

/// Runs `cmd` to completion within `limit`; past it the whole process group
/// is killed. Whatever the group left running is killed either way.
fn run(cmd: &mut Command, limit: Duration, log_base: &Path) -> Ran {
    let what = format!("{cmd:?}");
    let mut child = spawn(cmd, log_base);
    let pid = child.id();
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(s) => break Some(s),
            None if start.elapsed() > limit => {
                kill_group(pid, SIGKILL);
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    kill_group(pid, SIGKILL);
    let read = |ext| {
        fs::read(log_base.with_extension(ext)).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    Ran {
        what,
        status,
        pid,
        stdout: read("out").unwrap_or_default(),
        stderr: read("err").unwrap_or_default(),
    }
}

/// A long-running process (squid, the origin server): its group is stopped
/// with SIGTERM, then SIGKILL after `grace`, when this is dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    grace: Duration,
}

impl Daemon {
    fn start(name: &'static str, cmd: &mut Command, log_base: &Path, grace: Duration) -> Daemon {
        Daemon {
            name,
            child: spawn(cmd, log_base),
            grace,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll daemon")
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL for the whole group.
    /// Returns whether it exited on SIGTERM.
    fn stop(&mut self) -> bool {
        if self.exited().is_some() {
            kill_group(self.pid(), SIGKILL);
            return true;
        }
        kill_group(self.pid(), SIGTERM);
        let start = Instant::now();
        let mut clean = false;
        while start.elapsed() < self.grace {
            if self.exited().is_some() {
                clean = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(self.pid(), SIGKILL);
        let _ = self.child.wait();
        clean
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() && self.exited().is_none() {
            eprintln!(
                "stopping {} (pid {}) after a failure",
                self.name,
                self.pid()
            );
        }
        self.stop();
    }
}

/// One `PAIO_STATS` line: `paio: pid=<n> backend=<name> requests=<n> ...`.
#[derive(Debug, Clone)]
struct Stats {
    line: String,
    pid: u32,
    backend: String,
    counts: BTreeMap<String, u64>,
}

impl Stats {
    fn get(&self, key: &str) -> u64 {
        *self
            .counts
            .get(key)
            .unwrap_or_else(|| panic!("stats line has no `{key}=`: {}", self.line))
    }
}

fn parse_stats(text: &str) -> Vec<Stats> {
    let mut all = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("paio: ") else {
            continue;
        };
        let mut counts = BTreeMap::new();
        let (mut pid, mut backend) = (0, String::new());
        for field in rest.split_whitespace() {
            let Some((k, v)) = field.split_once('=') else {
                continue;
            };
            match k {
                "pid" => pid = v.parse().unwrap_or(0),
                "backend" => backend = v.to_string(),
                _ => {
                    if let Ok(n) = v.parse() {
                        counts.insert(k.to_string(), n);
                    }
                }
            }
        }
        all.push(Stats {
            line: line.to_string(),
            pid,
            backend,
            counts,
        });
    }
    all
}

/// The stats lines appended to `file` (by every process that loaded paio).
fn read_stats(file: &Path) -> Vec<Stats> {
    parse_stats(&fs::read_to_string(file).unwrap_or_default())
}

/// The stats lines of processes that served at least one request; fails when
/// there are none.
fn served(file: &Path, what: &str) -> Vec<Stats> {
    let all = read_stats(file);
    let busy: Vec<Stats> = all
        .iter()
        .filter(|s| s.get("requests") > 0)
        .cloned()
        .collect();
    assert!(
        !busy.is_empty(),
        "{what}: no PAIO_STATS line with requests > 0 in {}, so paio did not serve the program's AIO \
         calls.\nlines found:\n{}",
        file.display(),
        all.iter().map(|s| s.line.as_str()).collect::<Vec<_>>().join("\n")
    );
    for s in &busy {
        println!("{what}: {}", s.line);
    }
    busy
}

/// Asserts, where `nm` is available, that `binary` imports each of `symbols`
/// from the dynamic symbol table: the preload can only replace what the
/// program imports.
fn assert_imports(binary: &Path, symbols: &[&str]) {
    let Some(nm) = which("nm") else {
        println!(
            "(nm not installed; not checking the imports of {})",
            binary.display()
        );
        return;
    };
    let out = Command::new(nm)
        .arg("-D")
        .arg(binary)
        .output()
        .expect("run nm -D");
    let text = String::from_utf8_lossy(&out.stdout);
    for sym in symbols {
        let found = text.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.next() == Some("U") && f.next().is_some_and(|n| n.split('@').next() == Some(*sym))
        });
        assert!(
            found,
            "{} does not import {sym} (nm -D), so LD_PRELOAD cannot reach it",
            binary.display()
        );
    }
}

/// Compiles `ctests/e2e/aio_observer.c` into `dir`.
fn build_observer(dir: &Path) -> PathBuf {
    let src = workspace_root().join("ctests/e2e/aio_observer.c");
    let so = dir.join("aio_observer.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .args(["-ldl", "-lpthread"])
        .output()
        .unwrap_or_else(|e| panic!("run {cc}: {e}"));
    assert!(
        out.status.success(),
        "building the observer failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// One `first pid=P fn=NAME lib=PATH` line of the observer log.
#[derive(Debug)]
struct FirstCall {
    pid: u32,
    func: String,
    lib: String,
}

fn observer_fields(line: &str) -> BTreeMap<&str, &str> {
    line.split_whitespace()
        .skip(1)
        .filter_map(|f| f.split_once('='))
        .collect()
}

fn first_calls(log: &str) -> Vec<FirstCall> {
    log.lines()
        .filter(|l| l.starts_with("first "))
        .map(|l| {
            let f = observer_fields(l);
            FirstCall {
                pid: f.get("pid").and_then(|p| p.parse().ok()).unwrap_or(0),
                func: f.get("fn").unwrap_or(&"").to_string(),
                lib: f.get("lib").unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

/// Asserts that every AIO function the observer saw called was forwarded to
/// `lib`'s implementation, and that `needed` functions were called at all.
fn assert_served_by(log: &str, lib: Lib, needed: &[&str], what: &str) -> Vec<FirstCall> {
    let calls = first_calls(log);
    let want = match lib {
        Lib::Paio => paio_so().display().to_string(),
        Lib::Glibc => "/libc.so.6".to_string(),
    };
    for c in &calls {
        assert!(
            c.lib.ends_with(&want),
            "{what}: pid {} called {} and it went to {}, not {want}\nobserver log:\n{log}",
            c.pid,
            c.func,
            c.lib
        );
    }
    for n in needed {
        assert!(
            calls.iter().any(|c| c.func == *n),
            "{what}: the program never called {n}; observer log:\n{log}"
        );
    }
    calls
}

fn jq(file: &Path, filter: &str) -> String {
    let out = Command::new("jq")
        .arg("-r")
        .arg(filter)
        .arg(file)
        .output()
        .expect("run jq");
    assert!(
        out.status.success(),
        "jq {filter} {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------------------
// fio

const FIO_LIMIT: Duration = Duration::from_secs(90);

/// One fio invocation: a job name, its size and extra options.
struct FioJob<'a> {
    name: &'a str,
    size_mib: u64,
    numjobs: u32,
    extra: &'a [&'a str],
}

/// Per fio job (thread): `(jobname, error, write bytes, read bytes)`.
type FioResult = Vec<(String, i64, u64, u64)>;

/// Runs `job` in `dir` with `lib`, JSON output, and returns its per-thread results.
fn fio(
    fio_bin: &Path,
    dir: &Path,
    job: &FioJob,
    lib: Lib,
    stats: &Path,
    also: &[&str],
) -> (Ran, FioResult) {
    let json = dir.join(format!("{}-{}.json", job.name, lib.name()));
    let _ = fs::remove_file(&json);
    let mut cmd = Command::new(fio_bin);
    cmd.current_dir(dir)
        .arg(format!("--name={}", job.name))
        .arg(format!("--directory={}", dir.display()))
        .args([
            "--ioengine=posixaio",
            "--iodepth=16",
            "--rw=randwrite",
            "--bs=4k",
        ])
        .arg(format!("--size={}m", job.size_mib))
        .arg(format!("--numjobs={}", job.numjobs))
        .args([
            "--thread",
            "--verify=crc32c",
            "--verify_state_save=0",
            "--output-format=json",
        ])
        .arg(format!("--output={}", json.display()))
        .args(job.extra)
        .args(also);
    preload(&mut cmd, lib, None, stats);
    let ran = run(
        &mut cmd,
        FIO_LIMIT,
        &dir.join(format!("{}-{}", job.name, lib.name())),
    );
    // fio writes error lines before the JSON document when a job fails.
    let text = fs::read_to_string(&json).unwrap_or_default();
    let Some(start) = text
        .find("\n{")
        .map(|i| i + 1)
        .or_else(|| text.starts_with('{').then_some(0))
    else {
        return (ran, Vec::new());
    };
    let clean = dir.join(format!("{}-{}.clean.json", job.name, lib.name()));
    fs::write(&clean, &text[start..]).unwrap();
    let rows = jq(
        &clean,
        r#".jobs[] | "\(.jobname) \(.error) \(.write.io_bytes) \(.read.io_bytes)""#,
    );
    let result = rows
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    (ran, result)
}

/// Every job wrote its whole file, read it all back in the verify pass, and
/// reported no error (a verify mismatch is error 84, EILSEQ).
fn assert_fio_clean(job: &FioJob, lib: Lib, ran: &Ran, result: &FioResult) {
    let what = format!("fio {} on {}", job.name, lib.name());
    ran.assert_ok();
    assert_eq!(
        result.len(),
        job.numjobs as usize,
        "{what}: expected {} job reports\n{}",
        job.numjobs,
        ran.describe()
    );
    let size = job.size_mib << 20;
    for (name, error, written, read) in result {
        assert_eq!(
            *error,
            0,
            "{what}: job {name} reported error {error}\n{}",
            ran.describe()
        );
        assert_eq!(
            *written, size,
            "{what}: job {name} wrote {written} bytes, not {size}"
        );
        assert_eq!(
            *read, size,
            "{what}: job {name} verified {read} bytes, not {size}"
        );
    }
    println!(
        "{what}: {} job(s), {} MiB written and verified each, no errors",
        result.len(),
        job.size_mib
    );
}

#[test]
fn fio_posixaio_verify() {
    let _serial = serial();
    let Some(bins) = require("fio_posixaio_verify", &["fio", "jq"]) else {
        return;
    };
    let fio_bin = &bins[0];
    assert_imports(
        fio_bin,
        &[
            "aio_read64",
            "aio_write64",
            "aio_fsync64",
            "aio_suspend64",
            "aio_error64",
        ],
    );
    let dir = scratch_dir("real-fio");

    let jobs = [
        FioJob {
            name: "buffered",
            size_mib: 32,
            numjobs: 2,
            extra: &[],
        },
        FioJob {
            name: "direct",
            size_mib: 32,
            numjobs: 2,
            extra: &["--direct=1"],
        },
        FioJob {
            name: "fsync",
            size_mib: 16,
            numjobs: 1,
            extra: &["--fsync=16"],
        },
    ];
    for job in &jobs {
        for lib in [Lib::Glibc, Lib::Paio] {
            let stats = dir.join(format!("{}-{}.stats", job.name, lib.name()));
            let _ = fs::remove_file(&stats);
            let (ran, result) = fio(fio_bin, &dir, job, lib, &stats, &[]);
            assert_fio_clean(job, lib, &ran, &result);
            if lib == Lib::Paio {
                let what = format!("fio {}", job.name);
                let busy = served(&stats, &what);
                let s = busy.iter().find(|s| s.pid == ran.pid).unwrap_or_else(|| {
                    panic!(
                        "{what}: no stats line from fio's own pid {}: {busy:?}",
                        ran.pid
                    )
                });
                let blocks = job.size_mib * 256 * u64::from(job.numjobs);
                assert!(
                    s.get("write") >= blocks,
                    "{what}: paio counted fewer writes than fio issued: {}",
                    s.line
                );
                assert!(
                    s.get("read") >= blocks,
                    "{what}: paio counted fewer reads than fio verified: {}",
                    s.line
                );
                if job.name == "fsync" {
                    assert!(
                        s.get("fsync") > 0,
                        "{what}: fio --fsync=16 but paio served no aio_fsync: {}",
                        s.line
                    );
                }
                assert_eq!(
                    s.get("errors"),
                    0,
                    "{what}: paio reported failed requests: {}",
                    s.line
                );
            }
            for i in 0..job.numjobs {
                let _ = fs::remove_file(dir.join(format!("{}.{i}.0", job.name)));
            }
        }
    }

    // Data written through one library, verified through the other; then a
    // corrupted block must be caught by both (proves the check can fail).
    let cross = FioJob {
        name: "cross",
        size_mib: 8,
        numjobs: 1,
        extra: &[],
    };
    let cross_stats = dir.join("cross.stats");
    for (writer, reader) in [(Lib::Paio, Lib::Glibc), (Lib::Glibc, Lib::Paio)] {
        let (ran, result) = fio(
            fio_bin,
            &dir,
            &cross,
            writer,
            &cross_stats,
            &["--do_verify=0"],
        );
        ran.assert_ok();
        assert_eq!(
            result.first().map(|r| r.1),
            Some(0),
            "fio cross write on {}:\n{}",
            writer.name(),
            ran.describe()
        );
        let (ran, result) = fio(
            fio_bin,
            &dir,
            &cross,
            reader,
            &cross_stats,
            &["--verify_only"],
        );
        ran.assert_ok();
        assert_eq!(result.len(), 1, "{}", ran.describe());
        let (_, error, _, read) = &result[0];
        assert_eq!(
            *error,
            0,
            "data written by {} failed verification read by {}\n{}",
            writer.name(),
            reader.name(),
            ran.describe()
        );
        assert_eq!(*read, 8 << 20, "verify read {read} bytes");
        println!(
            "fio: 8 MiB written through {} verified through {}",
            writer.name(),
            reader.name()
        );
    }
    {
        let file = dir.join("cross.0.0");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .expect("open cross.0.0");
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(3 * 4096 + 100)).unwrap();
        f.write_all(b"this block is corrupt").unwrap();
        drop(f);
        // Depth 1: fio 3.33's posixaio engine often dies with SIGSEGV when a
        // verify fails with several requests in flight (on glibc as well).
        for lib in [Lib::Glibc, Lib::Paio] {
            let (ran, result) = fio(
                fio_bin,
                &dir,
                &cross,
                lib,
                &cross_stats,
                &["--verify_only", "--iodepth=1"],
            );
            assert!(
                !ran.ok(),
                "fio verify on {} accepted a corrupted file\n{}",
                lib.name(),
                ran.describe()
            );
            assert_eq!(
                result.first().map(|r| r.1),
                Some(84),
                "fio on {}: expected EILSEQ\n{}",
                lib.name(),
                ran.describe()
            );
            println!(
                "fio: a corrupted block is reported (error 84) through {}",
                lib.name()
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// stress-ng

#[test]
fn stress_ng_aio_verify() {
    let _serial = serial();
    let Some(bins) = require("stress_ng_aio_verify", &["stress-ng", "cc"]) else {
        return;
    };
    let stress = &bins[0];
    assert_imports(
        stress,
        &[
            "aio_read64",
            "aio_write64",
            "aio_fsync64",
            "aio_cancel64",
            "aio_error64",
        ],
    );
    let dir = scratch_dir("real-stress-ng");
    let observer = build_observer(&dir);

    let stress_cmd = |tag: &str| {
        let tmp = dir.join(tag);
        fs::create_dir_all(&tmp).unwrap();
        let mut cmd = Command::new(stress);
        cmd.current_dir(&tmp)
            .args([
                "--aio",
                "2",
                "--aio-requests",
                "16",
                "--aio-ops",
                "200000",
                "--timeout",
                "20s",
            ])
            .args(["--verify", "--metrics-brief", "--temp-path"])
            .arg(&tmp);
        cmd
    };
    let check = |ran: &Ran, what: &str| {
        let all = format!("{}{}", ran.stdout, ran.stderr);
        assert!(ran.ok(), "{what}: stress-ng failed\n{}", ran.describe());
        assert!(
            all.contains("successful run completed"),
            "{what}: no 'successful run completed'\n{}",
            ran.describe()
        );
        let fails: Vec<&str> = all
            .lines()
            .filter(|l| l.contains(" fail:") || l.contains("error:"))
            .collect();
        assert!(
            fails.is_empty(),
            "{what}: stress-ng reported failures:\n{}",
            fails.join("\n")
        );
        let metric = all
            .lines()
            .find(|l| l.contains("metrc:") && l.contains(" aio "))
            .unwrap_or("");
        println!("{what}: ok  {}", metric.trim());
    };
    let limit = Duration::from_secs(60);

    // glibc
    let stats = dir.join("stats");
    let mut cmd = stress_cmd("glibc");
    preload(&mut cmd, Lib::Glibc, None, &stats);
    check(
        &run(&mut cmd, limit, &dir.join("glibc")),
        "stress-ng --aio 2 --verify on glibc",
    );

    // paio, exactly as a user runs it; LD_DEBUG shows where the dynamic linker
    // bound the AIO imports (stress-ng is linked with BIND_NOW, so the parent
    // binds them at start and the forked stressors inherit that).
    let mut cmd = stress_cmd("paio");
    preload(&mut cmd, Lib::Paio, None, &stats);
    let ld_debug = dir.join("ld");
    cmd.env("LD_DEBUG", "bindings")
        .env("LD_DEBUG_OUTPUT", &ld_debug);
    check(
        &run(&mut cmd, limit, &dir.join("paio")),
        "stress-ng --aio 2 --verify on paio",
    );
    let mut bound = BTreeMap::new();
    for entry in fs::read_dir(&dir).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with("ld.") {
            continue;
        }
        for line in fs::read_to_string(entry.path()).unwrap_or_default().lines() {
            // "binding file stress-ng [0] to /…/libpaio.so [0]: normal symbol `aio_read64'"
            let (Some(to), Some(sym)) = (line.split(" to ").nth(1), line.split('`').nth(1)) else {
                continue;
            };
            if sym.starts_with("aio_") && line.contains("stress-ng [0] to ") {
                let sym = sym.split('\'').next().unwrap_or(sym);
                bound.insert(
                    sym.to_string(),
                    to.split_whitespace().next().unwrap_or("").to_string(),
                );
            }
        }
    }
    for sym in [
        "aio_read64",
        "aio_write64",
        "aio_fsync64",
        "aio_cancel64",
        "aio_error64",
    ] {
        let lib = bound
            .get(sym)
            .unwrap_or_else(|| panic!("LD_DEBUG shows no binding of {sym}: {bound:?}"));
        assert!(
            Path::new(lib) == paio_so(),
            "stress-ng's {sym} was bound to {lib}, not {}",
            paio_so().display()
        );
    }
    println!("stress-ng: LD_DEBUG=bindings: {bound:?}");
    match read_stats(&stats).iter().find(|s| s.get("requests") > 0) {
        Some(s) => println!("stress-ng: {}", s.line),
        None => println!(
            "stress-ng: no PAIO_STATS line with requests > 0: the stressors end with _exit(), which runs \
             no exit handlers; the observer run below shows the calls reaching paio"
        ),
    }

    // paio behind the pass-through observer: each stressor's calls of every
    // AIO function it uses reached libpaio.so.
    let log = dir.join("observer.log");
    let mut cmd = stress_cmd("observed");
    preload(&mut cmd, Lib::Paio, Some(&observer), &stats);
    cmd.env("AIO_OBSERVER_LOG", &log);
    let ran = run(&mut cmd, limit, &dir.join("observed"));
    check(
        &ran,
        "stress-ng --aio 2 --verify on paio behind aio_observer",
    );
    let text = fs::read_to_string(&log).unwrap_or_default();
    // aio_cancel64 is called only for requests still in flight when a
    // stressor stops, which depends on timing: every call made must reach
    // paio (checked for each function seen), and LD_DEBUG above showed
    // aio_cancel64 bound to paio; its being called is not required.
    let calls = assert_served_by(
        &text,
        Lib::Paio,
        &["aio_read64", "aio_write64", "aio_fsync64", "aio_error64"],
        "stress-ng",
    );
    let stressors: std::collections::BTreeSet<u32> = calls.iter().map(|c| c.pid).collect();
    assert!(
        stressors.len() >= 2 && !stressors.contains(&ran.pid),
        "expected the two stressor processes (not the parent {}) to call AIO: {stressors:?}",
        ran.pid
    );
    let cancelled = calls.iter().any(|c| c.func == "aio_cancel64");
    println!(
        "stress-ng: stressors {stressors:?} called aio_read64/write64/fsync64/error64{} in libpaio.so",
        if cancelled { "/cancel64" } else { " (no request was in flight at the end to cancel)" }
    );
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// perf record --aio

#[test]
fn perf_record_aio() {
    let _serial = serial();
    let Some(bins) = require("perf_record_aio", &["perf", "dd"]) else {
        return;
    };
    let perf = &bins[0];
    // /usr/bin/perf is the real ELF binary on Debian 12 (linux-perf 6.1), not a wrapper script.
    assert_imports(
        perf,
        &[
            "aio_write64",
            "aio_suspend64",
            "aio_error64",
            "aio_return64",
        ],
    );
    let dir = scratch_dir("real-perf");
    let limit = Duration::from_secs(60);

    let record = |lib: Lib, event: &str| {
        let data = dir.join(format!("perf-{}.data", lib.name()));
        let stats = dir.join(format!("perf-{}.stats", lib.name()));
        let _ = fs::remove_file(&data);
        let _ = fs::remove_file(&stats);
        let mut cmd = Command::new(perf);
        cmd.current_dir(&dir)
            // A 2-page ring buffer makes perf flush (aio_write64) many times
            // during the run instead of once at the end.
            .args([
                "record", "--aio=4", "-m", "2", "-e", event, "-F", "10000", "-o",
            ])
            .arg(&data)
            .args([
                "--",
                "dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=1k",
                "count=300000",
            ]);
        preload(&mut cmd, lib, None, &stats);
        let ran = run(&mut cmd, limit, &dir.join(format!("record-{}", lib.name())));
        (ran, data, stats)
    };

    // Pick an event perf_event_open accepts here (cpu-clock needs no PMU,
    // which VMs often lack; :u also works with perf_event_paranoid=2 unprivileged).
    let mut event = "cpu-clock";
    let (mut ran, _, _) = record(Lib::Glibc, event);
    if !ran.ok() {
        event = "cpu-clock:u";
        (ran, _, _) = record(Lib::Glibc, event);
    }
    if !ran.ok() {
        let e = &ran.stderr;
        if e.contains("perf_event_open")
            || e.contains("No permission")
            || e.contains("not supported")
        {
            eprintln!(
                "SKIP perf_record_aio: perf_event_open is refused on this machine (perf_event_paranoid={}):\n{}",
                fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").unwrap_or_default().trim(),
                tail(e, 1500)
            );
            return;
        }
        ran.assert_ok();
    }

    for lib in [Lib::Glibc, Lib::Paio] {
        let (ran, data, stats) = record(lib, event);
        let what = format!("perf record --aio=4 on {}", lib.name());
        ran.assert_ok();
        // "[ perf record: Captured and wrote 0.024 MB FILE (588 samples) ]"
        let captured: u64 = ran
            .stderr
            .lines()
            .find(|l| l.contains("Captured and wrote"))
            .and_then(|l| l.rsplit('(').next())
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no sample count\n{}", ran.describe()));
        assert!(captured > 0, "{what}: no samples");

        // Read the file back (no preload: this checks what was written).
        let mut cmd = Command::new(perf);
        cmd.args(["report", "--stdio", "-i"]).arg(&data);
        preload(&mut cmd, Lib::Glibc, None, &stats);
        let report = run(&mut cmd, limit, &dir.join(format!("report-{}", lib.name())));
        report.assert_ok();
        // (The report's own count is rounded, "Samples: 1K"; perf script below counts exactly.)
        assert!(
            report.stdout.lines().any(|l| l.starts_with("# Samples:")),
            "{what}: perf report shows no '# Samples:'\n{}",
            report.describe()
        );
        assert!(
            report.stdout.contains(" dd "),
            "{what}: the workload is missing from the report\n{}",
            report.describe()
        );

        let mut cmd = Command::new(perf);
        cmd.args(["script", "-i"]).arg(&data);
        preload(&mut cmd, Lib::Glibc, None, &stats);
        let script = run(&mut cmd, limit, &dir.join(format!("script-{}", lib.name())));
        script.assert_ok();
        let lines = script.stdout.lines().count() as u64;
        assert_eq!(
            lines, captured,
            "{what}: perf script prints {lines} samples, record wrote {captured}"
        );
        println!(
            "{what}: {captured} samples written; perf report and perf script read all of them back"
        );

        if lib == Lib::Paio {
            let busy = served(&stats, "perf record --aio");
            let s = busy.iter().find(|s| s.pid == ran.pid).unwrap_or_else(|| {
                panic!("no stats line from perf's own pid {}: {busy:?}", ran.pid)
            });
            assert!(
                s.get("write") >= 2,
                "perf record --aio: paio served fewer than 2 writes: {}",
                s.line
            );
            assert_eq!(
                s.get("errors"),
                0,
                "perf record --aio: failed requests: {}",
                s.line
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// squid

/// Two different ports on 127.0.0.1 that were free a moment ago.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn wait_listening(port: u16, limit: Duration, who: &mut Daemon, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(status) = who.exited() {
            panic!(
                "{} exited ({status}) before listening on {port}; log {}:\n{}",
                who.name,
                log.display(),
                tail(&fs::read_to_string(log).unwrap_or_default(), 4000)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{} does not listen on 127.0.0.1:{port} after {limit:?}; log {}:\n{}",
        who.name,
        log.display(),
        tail(&fs::read_to_string(log).unwrap_or_default(), 4000)
    );
}

/// Who squid runs as after it starts: it drops root to `cache_effective_user`.
fn squid_user() -> String {
    if is_root() {
        "proxy".into()
    } else {
        let out = Command::new("id").arg("-un").output().expect("id -un");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn chown_to(user: &str, path: &Path) {
    if is_root() {
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(path)
            .status()
            .expect("chown");
        assert!(st.success(), "chown -R {user}: {}", path.display());
    }
}

/// Removes `/dev/shm/<service>-*` when dropped (after squid has been killed;
/// declare it before the squid [`Daemon`] so it drops after it).
struct ShmCleanup(String);

impl Drop for ShmCleanup {
    fn drop(&mut self) {
        let prefix = format!("{}-", self.0);
        if let Ok(entries) = fs::read_dir("/dev/shm") {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
}

/// A tracked swap-file write from the observer log.
#[derive(Debug, Default, Clone)]
struct SquidWrite {
    offset: i64,
    nbytes: u64,
    rc: i32,
    /// `(error, return)` once complete.
    done: Option<(i32, i64)>,
}

fn squid_writes(log: &str) -> Vec<SquidWrite> {
    let mut by_cb: Vec<(String, SquidWrite)> = Vec::new();
    for line in log.lines() {
        let f = observer_fields(line);
        let num = |k: &str| {
            f.get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(i64::MIN)
        };
        if line.starts_with("submit ") {
            by_cb.push((
                f.get("aiocb").unwrap_or(&"").to_string(),
                SquidWrite {
                    offset: num("offset"),
                    nbytes: num("nbytes") as u64,
                    rc: num("rc") as i32,
                    done: None,
                },
            ));
        } else if line.starts_with("done ") {
            let cb = f.get("aiocb").unwrap_or(&"");
            if let Some((_, w)) = by_cb
                .iter_mut()
                .rev()
                .find(|(c, w)| c == cb && w.done.is_none())
            {
                w.done = Some((num("error") as i32, num("return")));
            }
        }
    }
    by_cb.into_iter().map(|(_, w)| w).collect()
}

/// How squid was run.
struct SquidRun {
    lib: Lib,
    /// Behind `aio_observer.so` with write tracking.
    observed: bool,
}

/// Result of one squid session.
struct SquidOutcome {
    writes: Vec<SquidWrite>,
    observer_log: String,
    /// `(swap file, size, contains the object's URL)`.
    swap_files: Vec<(PathBuf, u64, bool)>,
}

const SQUID_OBJECTS: [(&str, usize); 3] = [
    ("small.txt", 190),
    ("five-k.bin", 5000),
    ("twelve-k.bin", 12000),
];

fn squid_session(
    squid: &Path,
    curl: &Path,
    python: &Path,
    observer: &Path,
    base: &Path,
    how: SquidRun,
) -> SquidOutcome {
    let tag = format!(
        "{}{}",
        how.lib.name(),
        if how.observed { "-observed" } else { "" }
    );
    let what = format!("squid ({tag})");
    let dir = base.join(&tag);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("cache")).unwrap();
    let www = base.join("www");
    let (squid_port, origin_port) = free_ports();
    let user = squid_user();
    let conf = fs::read_to_string(workspace_root().join("ctests/e2e/squid.conf.in"))
        .unwrap()
        .replace("@DIR@", &dir.display().to_string())
        .replace("@PORT@", &squid_port.to_string())
        .replace("@USER@", &user);
    // squid names its shared-memory segments (/dev/shm/NAME-cf__*.shm) after
    // the service name, "squid" by default: a name of our own keeps this
    // instance apart from a system squid and from other runs, and lets us
    // remove the segments a killed squid leaves behind.
    let service = format!("paioe2e{}{}", std::process::id(), tag.replace('-', ""));
    let _shm = ShmCleanup(service.clone());
    let conf_path = dir.join("squid.conf");
    fs::write(&conf_path, conf).unwrap();
    let stats = dir.join("paio.stats");
    let obs_log = dir.join("observer.log");
    fs::write(&stats, "").unwrap();
    fs::write(&obs_log, "").unwrap();
    chown_to(&user, &dir);

    // Create the cache directories. `squid -z` then aborts on its way out
    // (assertion in AIODiskIOStrategy.cc: its destructor syncs a strategy that
    // was never initialised), on glibc as well; the directories are made.
    let mut cmd = Command::new(squid);
    cmd.current_dir(&dir)
        .args(["-n", &service, "-z", "-N", "-f"])
        .arg(&conf_path);
    preload(&mut cmd, how.lib, None, &stats);
    let z = run(&mut cmd, Duration::from_secs(30), &dir.join("squid-z"));
    assert!(
        dir.join("cache/00/00").is_dir(),
        "{what}: squid -z did not create the cache directories\n{}",
        z.describe()
    );

    let mut origin_cmd = Command::new(python);
    origin_cmd
        .args([
            "-m",
            "http.server",
            &origin_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&www);
    preload(&mut origin_cmd, Lib::Glibc, None, &stats);
    let origin_log = dir.join("origin");
    let mut origin = Daemon::start(
        "origin http.server",
        &mut origin_cmd,
        &origin_log,
        Duration::from_secs(2),
    );
    wait_listening(
        origin_port,
        Duration::from_secs(20),
        &mut origin,
        &origin_log.with_extension("err"),
    );

    let mut squid_cmd = Command::new(squid);
    squid_cmd
        .current_dir(&dir)
        .args(["-n", &service, "-N", "-f"])
        .arg(&conf_path);
    preload(
        &mut squid_cmd,
        how.lib,
        how.observed.then_some(observer),
        &stats,
    );
    if how.observed {
        squid_cmd
            .env("AIO_OBSERVER_LOG", &obs_log)
            .env("AIO_OBSERVER_TRACK", "1");
    }
    // squid never exits by itself after using its AIO module (it spins in
    // AIODiskIOStrategy::sync() at shutdown), so a short grace and SIGKILL.
    let mut proxy = Daemon::start(
        "squid",
        &mut squid_cmd,
        &dir.join("squid"),
        Duration::from_secs(2),
    );
    wait_listening(
        squid_port,
        Duration::from_secs(30),
        &mut proxy,
        &dir.join("cache.log"),
    );

    let mut urls = Vec::new();
    for (round, expect) in [(0, "MISS"), (1, "HIT")] {
        for (name, _) in SQUID_OBJECTS {
            let url = format!("http://127.0.0.1:{origin_port}/{name}");
            let body = dir.join(format!("{name}.{round}"));
            let headers = dir.join(format!("{name}.{round}.headers"));
            let mut cmd = Command::new(curl);
            cmd.args(["-sS", "--max-time", "10", "--noproxy", "", "-x"])
                .arg(format!("http://127.0.0.1:{squid_port}"))
                .arg("-o")
                .arg(&body)
                .arg("-D")
                .arg(&headers)
                .arg(&url);
            preload(&mut cmd, Lib::Glibc, None, &stats);
            let ran = run(
                &mut cmd,
                Duration::from_secs(20),
                &dir.join(format!("curl-{name}-{round}")),
            );
            ran.assert_ok();
            let h = fs::read_to_string(&headers).unwrap_or_default();
            assert!(h.starts_with("HTTP/1.1 200"), "{what}: {url}: {h}");
            let x_cache = h
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("x-cache:"))
                .unwrap_or("");
            assert!(
                x_cache.contains(expect),
                "{what}: {url} round {round}: expected {expect}, got '{x_cache}'"
            );
            assert!(
                fs::read(&body).unwrap() == fs::read(www.join(name)).unwrap(),
                "{what}: body of {url} ({expect}) differs from the origin's file"
            );
            if round == 0 {
                urls.push(url);
            }
        }
    }
    let access = fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    let mem_hits = access
        .lines()
        .filter(|l| l.contains("TCP_MEM_HIT/200"))
        .count();
    assert_eq!(
        mem_hits,
        SQUID_OBJECTS.len(),
        "{what}: expected memory hits in access.log:\n{access}"
    );
    assert!(
        proxy.exited().is_none(),
        "{what}: squid exited during the requests"
    );
    println!(
        "{what}: {} objects: MISS then TCP_MEM_HIT, bodies identical to the origin; squid up",
        SQUID_OBJECTS.len()
    );

    // Let the swap-outs finish (the observer polls every 5 ms).
    let start = Instant::now();
    let mut writes;
    loop {
        let log = fs::read_to_string(&obs_log).unwrap_or_default();
        writes = squid_writes(&log);
        let pending = writes.iter().any(|w| w.rc == 0 && w.done.is_none());
        if !how.observed
            || (!pending && !writes.is_empty())
            || start.elapsed() > Duration::from_secs(10)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !how.observed {
        // Give the swap-out writes the same time to land.
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(proxy.exited().is_none(), "{what}: squid exited");

    let mut swap_files = Vec::new();
    for l1 in fs::read_dir(dir.join("cache"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
    {
        for l2 in fs::read_dir(l1.path()).unwrap().flatten() {
            for f in fs::read_dir(l2.path()).unwrap().flatten() {
                let data = fs::read(f.path()).unwrap_or_default();
                let has_url = urls
                    .iter()
                    .any(|u| data.windows(u.len()).any(|w| w == u.as_bytes()));
                swap_files.push((f.path(), data.len() as u64, has_url));
            }
        }
    }

    let clean = proxy.stop();
    drop(origin);
    println!(
        "{what}: squid {} on SIGTERM (it spins in AIODiskIOStrategy::sync() with unreaped requests; \
         killed after 2 s)",
        if clean { "exited" } else { "did not exit" }
    );
    if !read_stats(&stats).is_empty() {
        println!(
            "{what}: stats: {:?}",
            read_stats(&stats)
                .iter()
                .map(|s| &s.line)
                .collect::<Vec<_>>()
        );
    }
    SquidOutcome {
        writes,
        observer_log: fs::read_to_string(&obs_log).unwrap_or_default(),
        swap_files,
    }
}

#[test]
fn squid_aio_cache_dir() {
    let _serial = serial();
    let Some(bins) = require("squid_aio_cache_dir", &["squid", "curl", "python3", "cc"]) else {
        return;
    };
    let (squid, curl, python) = (&bins[0], &bins[1], &bins[2]);
    assert_imports(squid, &["aio_read", "aio_write"]);
    let version = Command::new(squid).arg("-v").output().expect("squid -v");
    let version = String::from_utf8_lossy(&version.stdout);
    println!("{}", version.lines().next().unwrap_or(""));

    let base = scratch_dir("real-squid");
    let observer = build_observer(&base);
    let www = base.join("www");
    fs::create_dir_all(&www).unwrap();
    for (i, (name, len)) in SQUID_OBJECTS.iter().enumerate() {
        let body: Vec<u8> = (0..*len)
            .map(|j| (j * 31 + i * 7 + j / 251) as u8)
            .collect();
        fs::write(www.join(name), body).unwrap();
        // A day-old Last-Modified keeps the objects fresh for squid's
        // heuristic (refresh_pattern . 60 50% 600), so the second request is a
        // hit instead of a revalidation.
        let day_ago = std::time::SystemTime::now() - Duration::from_secs(86400);
        fs::File::options()
            .write(true)
            .open(www.join(name))
            .unwrap()
            .set_modified(day_ago)
            .unwrap();
    }
    chown_to(&squid_user(), &base);

    for how in [
        SquidRun {
            lib: Lib::Glibc,
            observed: true,
        },
        SquidRun {
            lib: Lib::Paio,
            observed: true,
        },
        SquidRun {
            lib: Lib::Paio,
            observed: false,
        },
    ] {
        let (lib, observed) = (how.lib, how.observed);
        let what = format!(
            "squid ({}{})",
            lib.name(),
            if observed { ", observed" } else { "" }
        );
        let out = squid_session(squid, curl, python, &observer, &base, how);

        // One swap file per object (its URL inside); squid queued the header
        // at offset 0 and closed the fd straight after.
        assert_eq!(
            out.swap_files.len(),
            SQUID_OBJECTS.len(),
            "{what}: swap files: {:?}",
            out.swap_files
        );
        let headers_on_disk = out
            .swap_files
            .iter()
            .filter(|(_, size, url)| *size > 0 && *url)
            .count();
        match lib {
            Lib::Paio => assert_eq!(
                headers_on_disk,
                SQUID_OBJECTS.len(),
                "{what}: swap-file headers missing: squid closes the fd right after aio_write, and paio \
                 must still write them: {:?}",
                out.swap_files
            ),
            Lib::Glibc => println!(
                "{what}: {headers_on_disk} of {} swap-file headers on disk (glibc races squid's close(); \
                 a lost header shows as EBADF below)",
                SQUID_OBJECTS.len()
            ),
        }
        for (path, size, _) in &out.swap_files {
            println!("{what}: {} {size} bytes", path.display());
        }

        if !observed {
            continue;
        }
        // Every AIO call went to the library under test, and the writes
        // behaved as glibc's do: header at offset 0 written whole, body
        // writes at offset -1 accepted by aio_write and failed with EINVAL.
        assert_served_by(&out.observer_log, lib, &["aio_write"], &what);
        let w = &out.writes;
        assert!(
            !w.is_empty(),
            "{what}: squid submitted no aio_write\n{}",
            out.observer_log
        );
        assert!(
            w.len() < 128,
            "{what}: {} writes would exhaust squid's 128 aiocb slots",
            w.len()
        );
        for x in w {
            assert_eq!(x.rc, 0, "{what}: aio_write returned {} for {x:?}", x.rc);
            assert!(
                x.done.is_some(),
                "{what}: a write never completed: {x:?}\n{}",
                out.observer_log
            );
        }
        let negative: Vec<&SquidWrite> = w.iter().filter(|x| x.offset == -1).collect();
        let headers: Vec<&SquidWrite> = w.iter().filter(|x| x.offset == 0).collect();
        assert_eq!(
            headers.len(),
            SQUID_OBJECTS.len(),
            "{what}: header writes: {w:?}"
        );
        assert!(
            !negative.is_empty(),
            "{what}: squid submitted no aio_offset = -1 writes: {w:?}"
        );
        for x in &negative {
            assert_eq!(
                x.done,
                Some((22, -1)),
                "{what}: an aio_offset = -1 write must fail with EINVAL: {x:?}"
            );
        }
        match lib {
            Lib::Paio => {
                for x in &headers {
                    assert_eq!(
                        x.done,
                        Some((0, x.nbytes as i64)),
                        "{what}: header write: {x:?}"
                    );
                }
            }
            Lib::Glibc => {
                for x in &headers {
                    println!(
                        "{what}: header write of {} bytes: (error, return) = {:?}",
                        x.nbytes, x.done
                    );
                }
            }
        }
        println!(
            "{what}: {} writes: {} headers at offset 0, {} at offset -1 all EINVAL; every call in {}",
            w.len(),
            headers.len(),
            negative.len(),
            if lib == Lib::Paio { "libpaio.so" } else { "libc.so.6" }
        );
    }
    let _ = fs::remove_dir_all(&base);
}

// ---------------------------------------------------------------------------
// MPI-IO (MPICH ROMIO)

#[test]
fn mpi_io_romio() {
    let _serial = serial();
    let Some(bins) = require("mpi_io_romio", &["mpicc", "mpiexec"]) else {
        return;
    };
    let (mpicc, mpiexec) = (&bins[0], &bins[1]);
    let dir = scratch_dir("real-mpi");
    let exe = dir.join("mpi_io");
    let out = Command::new(mpicc)
        .args(["-O2", "-Wall", "-o"])
        .arg(&exe)
        .arg(workspace_root().join("ctests/e2e/mpi_io.c"))
        .output()
        .expect("run mpicc");
    assert!(
        out.status.success(),
        "mpicc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ROMIO lives in libmpich; that is what imports POSIX AIO.
    let ldd = Command::new("ldd").arg(&exe).output().expect("ldd");
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    if let Some(libmpi) = ldd.lines().find_map(|l| {
        let p = l.split("=>").nth(1)?.split_whitespace().next()?;
        (p.contains("libmpi")).then(|| PathBuf::from(p))
    }) {
        assert_imports(
            &libmpi,
            &["aio_read", "aio_write", "aio_error", "aio_return"],
        );
    }

    for lib in [Lib::Glibc, Lib::Paio] {
        let file = dir.join(format!("shared-{}.dat", lib.name()));
        let stats = dir.join(format!("{}.stats", lib.name()));
        let _ = fs::remove_file(&file);
        let _ = fs::remove_file(&stats);
        let mut cmd = Command::new(mpiexec);
        // "ufs:" selects ROMIO's generic Unix driver whatever the file system.
        cmd.current_dir(&dir)
            .args(["-n", "2"])
            .arg(&exe)
            .arg(format!("ufs:{}", file.display()));
        preload(&mut cmd, lib, None, &stats);
        let ran = run(
            &mut cmd,
            Duration::from_secs(120),
            &dir.join(format!("mpiexec-{}", lib.name())),
        );
        let what = format!("MPI-IO (2 ranks) on {}", lib.name());
        ran.assert_ok();
        for rank in 0..2 {
            let line = format!("mpi_io: rank {rank} verified 524288 bytes");
            assert!(
                ran.stdout.contains(&line),
                "{what}: missing '{line}'\n{}",
                ran.describe()
            );
        }
        assert_eq!(
            fs::metadata(&file).map(|m| m.len()).unwrap_or(0),
            2 * 8 * 65536,
            "{what}: file size"
        );
        println!("{what}: iwrite_at/iread_at of 8 x 64 KiB per rank verified");
        if lib == Lib::Paio {
            let busy = served(&stats, "MPI-IO");
            let ranks: Vec<&Stats> = busy
                .iter()
                .filter(|s| s.get("write") >= 8 && s.get("read") >= 8)
                .collect();
            assert!(
                ranks.len() >= 2,
                "MPI-IO: expected two rank processes each with >= 8 writes and >= 8 reads served by paio: {busy:?}"
            );
            for s in &ranks {
                assert_eq!(s.get("errors"), 0, "MPI-IO: failed requests: {}", s.line);
                println!(
                    "MPI-IO rank pid {} backend {}: {}",
                    s.pid, s.backend, s.line
                );
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
