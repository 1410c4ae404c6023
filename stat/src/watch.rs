//! `paio-stat --watch`: every interval, one line per live process with what
//! it did in that interval, under a header repeated now and then, the way
//! `iostat` and `perf stat -I` show theirs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::file::{self, Snapshot};
use crate::process::{self, State};

pub struct Options {
    pub interval: Duration,
    /// Stop after this many intervals (`None`: until interrupted).
    pub count: Option<u64>,
    pub pid: Option<u32>,
}

/// Data lines between two headers.
const HEADER_EVERY: usize = 40;

pub fn header() -> String {
    format!(
        "{:>9} {:>8} {:<8} {:>10} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7}",
        "time",
        "pid",
        "backend",
        "req/s",
        "inline%",
        "kernel%",
        "pool%",
        "retried%",
        "inflight",
        "errors",
        "threads"
    )
}

/// One process's line for an interval of `secs` seconds, from `before`
/// (`None`: it started during the interval) to `now`.
pub fn row(
    at_secs: f64,
    secs: f64,
    before: Option<&Snapshot>,
    now: &Snapshot,
    state: State,
) -> String {
    let delta = |name: &str| now.get(name) - before.map_or(0, |b| b.get(name).min(now.get(name)));
    let requests = delta("requests");
    let share = |name: &str| {
        if requests == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", 100.0 * delta(name) as f64 / requests as f64)
        }
    };
    let inflight = now.get("requests").saturating_sub(now.get("done"));
    let mut line = format!(
        "{:>9.3} {:>8} {:<8} {:>10.1} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7}",
        at_secs,
        now.pid,
        now.backend_short(),
        requests as f64 / secs.max(1e-3),
        share("inline"),
        share("kernel"),
        share("pool"),
        share("retried"),
        inflight,
        delta("errors"),
        now.get("threads"),
    );
    if state != State::Running {
        line.push_str(&format!("  ({})", state.word()));
    }
    line
}

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn run(dir: &Path, opt: &Options) -> std::io::Result<()> {
    let out = std::io::stdout();
    let start = Instant::now();
    // Processes seen running at the previous sample, by file; the first
    // sample is now, so processes already running count from now, not
    // from their start.
    let mut last_ns = realtime_ns();
    let mut last: BTreeMap<PathBuf, Snapshot> = file::read_all(dir)?
        .into_iter()
        .filter(|s| process::state(s) == State::Running)
        .map(|s| (s.path.clone(), s))
        .collect();
    let mut since_header = HEADER_EVERY;
    for tick in 1u64.. {
        if opt.count.is_some_and(|n| tick > n) {
            break;
        }
        let due = start + opt.interval.mul_f64(tick as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let now_ns = realtime_ns();
        let at = start.elapsed().as_secs_f64();
        let mut seen = BTreeMap::new();
        let mut lines = Vec::new();
        for s in file::read_all(dir)? {
            if opt.pid.is_some_and(|p| p != s.pid) {
                continue;
            }
            let before = last.get(&s.path);
            let state = process::state(&s);
            if state != State::Running && before.is_none() && s.start_realtime_ns <= last_ns {
                continue; // ended before this interval: not live
            }
            // A process that started during the interval is measured from
            // its start.
            let from = if before.is_some() {
                last_ns
            } else {
                s.start_realtime_ns.clamp(last_ns, now_ns)
            };
            let secs = (now_ns.saturating_sub(from)) as f64 / 1e9;
            lines.push(row(at, secs, before, &s, state));
            if state == State::Running {
                seen.insert(s.path.clone(), s);
            }
        }
        let mut o = out.lock();
        if !lines.is_empty() && since_header + lines.len() > HEADER_EVERY {
            writeln!(o, "{}", header())?;
            since_header = 0;
        }
        for l in &lines {
            writeln!(o, "{l}")?;
        }
        since_header += lines.len();
        o.flush()?;
        last = seen;
        last_ns = now_ns;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_shares_are_of_the_interval() {
        let dir = std::env::temp_dir().join(format!("paio-stat-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("paio-7.stats");
        file::tests::write_file(
            &path,
            7,
            0,
            &[("requests", 100), ("inline", 40), ("done", 90)],
        );
        let a = file::read(&path).unwrap();
        file::tests::write_file(
            &path,
            7,
            0,
            &[
                ("requests", 300),
                ("inline", 140),
                ("kernel", 100),
                ("done", 296),
                ("threads", 2),
            ],
        );
        let b = file::read(&path).unwrap();
        let r = row(2.0, 2.0, Some(&a), &b, State::Running);
        let h = header();
        assert_eq!(r.len(), h.len(), "\n{h}\n{r}");
        let f: Vec<&str> = r.split_whitespace().collect();
        assert_eq!(
            f,
            ["2.000", "7", "kaio", "100.0", "50.0", "50.0", "0.0", "0.0", "4", "0", "2"]
        );
        let gone = row(3.0, 1.0, Some(&b), &b, State::Gone);
        let f: Vec<&str> = gone.split_whitespace().collect();
        assert_eq!(
            f,
            ["3.000", "7", "kaio", "0.0", "-", "-", "-", "-", "4", "0", "2", "(gone)"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
