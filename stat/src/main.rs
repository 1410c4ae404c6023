//! `paio-stat`: the counters of the processes that use libpaio.so with
//! `PAIO_STATS=DIR`, read from their files in DIR (see
//! `src/stats/layout.rs` in the library, compiled in here).
//!
//! ```text
//! paio-stat [-p PID] DIR                      once: each process's exit line
//! paio-stat --watch [--interval S] [--count N] [-p PID] DIR
//! ```

// The writer's half of it (file names, the running state) is the library's.
#[allow(dead_code)]
#[path = "../../src/stats/layout.rs"]
mod layout;

mod file;
mod process;
mod watch;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: paio-stat [-p PID] DIR
       paio-stat --watch [--interval S] [--count N] [-p PID] DIR

Shows the counters of every process that ran with PAIO_STATS=DIR and
LD_PRELOAD=libpaio.so (or linked -lpaio); each keeps them in DIR/paio-PID.stats.

Once: one line per process, in the format PAIO_STATS=1 prints at exit,
followed by (running), (exited) — it ran its exit handlers — or (gone) —
it ended without them: _exit, a signal, abort, exec.

--watch: every interval (default 1 s) one line per live process:
  req/s       requests accepted per second in the interval
  inline%     share of them completed inside the submitting call
  kernel%     share sent to kernel AIO (io_submit)
  pool%       share run on paio's worker threads
  retried%    share continued on the pool after a refused or partial
              non-blocking attempt (also counted in pool%)
  inflight    requests accepted and not yet completed, now
  errors      requests completed with an error in the interval
  threads     threads paio has created so far
until interrupted, or for --count N intervals.
";

struct Args {
    dir: PathBuf,
    pid: Option<u32>,
    watch: bool,
    interval: Duration,
    count: Option<u64>,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut dir = None;
    let mut pid = None;
    let mut watch = false;
    let mut interval = Duration::from_secs(1);
    let mut count = None;
    while let Some(a) = argv.next() {
        let (flag, inline_value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline_value
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "-p" | "--pid" => {
                let v = value("-p")?;
                pid = Some(v.parse().map_err(|_| format!("-p {v}: not a pid"))?);
            }
            "-w" | "--watch" => watch = true,
            "-i" | "--interval" => {
                let v = value("--interval")?;
                let s: f64 = v
                    .parse()
                    .map_err(|_| format!("--interval {v}: not a number"))?;
                if !(0.01..=86400.0).contains(&s) {
                    return Err(format!("--interval {v}: from 0.01 to 86400 seconds"));
                }
                interval = Duration::from_secs_f64(s);
            }
            "-c" | "--count" => {
                let v = value("--count")?;
                count = Some(v.parse().map_err(|_| format!("--count {v}: not a count"))?);
            }
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option {f}")),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => return Err(format!("one directory only ({a})")),
        }
    }
    let dir = dir.ok_or("no directory given")?;
    Ok(Args {
        dir,
        pid,
        watch,
        interval,
        count,
    })
}

fn once(args: &Args) -> Result<ExitCode, String> {
    let all = file::read_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut shown = 0;
    let mut out = std::io::stdout().lock();
    for s in all.iter().filter(|s| args.pid.map_or(true, |p| p == s.pid)) {
        match writeln!(out, "{} ({})", s.line(), process::state(s).word()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(e.to_string()),
        }
        shown += 1;
    }
    match (shown, args.pid) {
        (0, Some(p)) => Err(format!(
            "no statistics file of pid {p} in {}",
            args.dir.display()
        )),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("paio-stat: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !args.dir.is_dir() {
        eprintln!("paio-stat: {}: not a directory", args.dir.display());
        return ExitCode::from(2);
    }
    let r = if args.watch {
        let opt = watch::Options {
            interval: args.interval,
            count: args.count,
            pid: args.pid,
        };
        watch::run(&args.dir, &opt)
            .or_else(|e| match e.kind() {
                // `paio-stat --watch | head`: the reader has seen enough.
                std::io::ErrorKind::BrokenPipe => Ok(()),
                _ => Err(e),
            })
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| format!("{}: {e}", args.dir.display()))
    } else {
        once(&args)
    };
    r.unwrap_or_else(|e| {
        eprintln!("paio-stat: {e}");
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn options() {
        let a = args("--watch --interval 0.5 --count=3 -p 12 /tmp/x").unwrap();
        assert!(a.watch);
        assert_eq!(a.interval, Duration::from_millis(500));
        assert_eq!((a.count, a.pid), (Some(3), Some(12)));
        assert_eq!(a.dir, PathBuf::from("/tmp/x"));
        assert!(args("--bogus /tmp").is_err());
        assert!(args("-p").is_err());
        assert!(args("").is_err());
        assert!(args("--interval 0 /tmp").is_err());
    }
}
