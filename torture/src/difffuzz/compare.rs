//! Checking and reporting: the driver runs the executor over a batch of
//! seeds once per library (glibc, then paio under `LD_PRELOAD` with each
//! backend), splits each output into one transcript per seed, and reports
//! the first line where a paio transcript differs from glibc's, with the
//! command that replays that seed.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One way of running the executor.
#[derive(Clone)]
pub struct Lib {
    pub name: String,
    /// `None`: glibc. `Some(backend)`: paio preloaded, `PAIO_BACKEND` set
    /// when the backend is not "default".
    pub paio: Option<String>,
}

impl Lib {
    pub fn parse(name: &str) -> Lib {
        match name {
            "glibc" => Lib {
                name: "glibc".into(),
                paio: None,
            },
            b => Lib {
                name: format!("paio-{b}"),
                paio: Some(b.into()),
            },
        }
    }
}

/// One seed's transcript; `status` is how its process ended.
#[derive(Default, Clone)]
pub struct Transcript {
    pub lines: Vec<String>,
    pub status: String,
    pub calls: u64,
}

pub struct Totals {
    pub sequences: u64,
    pub calls: u64,
    pub differences: u64,
    pub glibc_failures: u64,
    /// Seeds whose reference transcript differed between two runs.
    pub unstable: u64,
    pub failing_seeds: Vec<(u64, String)>,
}

/// Run the executor over seeds `first..first + count` with `lib`.
pub fn run_batch(
    so: &str,
    lib: &Lib,
    first: u64,
    count: u64,
    dir: &str,
    shape: &crate::gen::Shape,
) -> BTreeMap<u64, Transcript> {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exec",
        "--seed",
        &first.to_string(),
        "--count",
        &count.to_string(),
        "--dir",
        dir,
    ])
    .args(shape.args())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .env_remove("LD_PRELOAD")
    .env_remove("PAIO_BACKEND");
    if let Some(b) = &lib.paio {
        cmd.env("LD_PRELOAD", so);
        if b != "default" {
            cmd.env("PAIO_BACKEND", b);
        }
    }
    let child = cmd.spawn().expect("start the executor");
    let limit = Duration::from_secs(30 + 15 * count);
    let pid = child.id();
    // A watchdog for the whole batch (each sequence has its own alarm).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if d2.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: the executor we started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("executor output");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn parse(text: &str) -> BTreeMap<u64, Transcript> {
    let mut map = BTreeMap::new();
    let mut cur: Option<(u64, Transcript)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("=== seed ") {
            if let Some((s, t)) = cur.take() {
                map.insert(s, t);
            }
            cur = Some((rest.trim().parse().unwrap_or(0), Transcript::default()));
        } else if let Some(rest) = line.strip_prefix("=== end ") {
            if let Some((s, mut t)) = cur.take() {
                t.status = rest.to_string();
                map.insert(s, t);
            }
        } else if let Some(rest) = line.strip_prefix("# calls ") {
            if let Some((_, t)) = cur.as_mut() {
                t.calls = rest.trim().parse().unwrap_or(0);
            }
        } else if let Some((_, t)) = cur.as_mut() {
            t.lines.push(line.to_string());
        }
    }
    if let Some((s, mut t)) = cur {
        t.status = "cut off (the executor died)".into();
        map.insert(s, t);
    }
    map
}

/// The first difference between the reference and another transcript.
pub fn first_difference(a: &Transcript, b: &Transcript) -> Option<(usize, String, String)> {
    let n = a.lines.len().max(b.lines.len());
    for i in 0..n {
        let (x, y) = (a.lines.get(i), b.lines.get(i));
        if x != y {
            return Some((
                i,
                x.cloned().unwrap_or_else(|| format!("<end: {}>", a.status)),
                y.cloned().unwrap_or_else(|| format!("<end: {}>", b.status)),
            ));
        }
    }
    if a.status != b.status {
        return Some((
            n,
            format!("<end: {}>", a.status),
            format!("<end: {}>", b.status),
        ));
    }
    None
}

/// The reference ran cleanly: the transcript is worth comparing.
pub fn clean(t: &Transcript) -> bool {
    t.status == "exit 0"
        && !t
            .lines
            .iter()
            .any(|l| l.contains("INCONSISTENT") || l.contains("HANG"))
}

pub fn replay_command(so: &str, seed: u64, libs: &[Lib], shape: &crate::gen::Shape) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let names: Vec<String> = libs
        .iter()
        .map(|l| l.paio.clone().unwrap_or_else(|| "glibc".into()))
        .collect();
    let w: String = shape.args().iter().map(|a| format!(" {a}")).collect();
    format!(
        "{exe} --so {so} --seed {seed} --count 1 --libs {}{w} --verbose",
        names.join(",")
    )
}
