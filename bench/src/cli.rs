//! Command-line options of the parent process. Every mistake in them is a
//! [`UsageError`] with a message for the user, never a panic.

use std::path::PathBuf;
use std::time::Duration;

use crate::workload::{
    impl_names, workload_names, workloads_by_name, Family, Impl, Workload, IMPLS, SMOKE_MAX_BLOCK,
    SMOKE_PROCS, WORKLOADS,
};

pub const USAGE: &str = "\
paio-bench: POSIX AIO throughput and cost, glibc vs libpaio.so vs the kernel interfaces

USAGE:
    paio-bench [OPTIONS]

Each workload runs as separate child processes, interleaved rep by rep:
  glibc      this binary's own POSIX AIO calls, resolved in glibc
  paio       the same binary re-executed with LD_PRELOAD=libpaio.so (checked active)
  io_submit  raw kernel AIO (io_setup/io_submit/io_getevents), the limit
  io_uring   io_uring via the io-uring crate, the limit

OPTIONS:
    --workloads A,B   workloads to run (default: all but sizes and procs*):
                      cached-qd1, cached-qd32, cached-qd128, direct-qd32,
                      cold-qd32, write-fsync, threads2-qd32,
                      sizes (not in the default set: 10 rows, about 2.5 minutes
                      per directory; its own table),
                      procs16-direct, procs128-direct, or procs for both (not in
                      the default set: 16 or 128 processes at once, about 35 s
                      for both per directory on 2 CPUs; their own table)
    --impls A,B       implementations to run (default: glibc,paio,io_submit,io_uring)
    --lib PATH        libpaio.so to preload (default: $PAIO_SO, else libpaio.so next
                      to this executable, else target/release/libpaio.so)
    --size SIZE       test file size, e.g. 256M, 1G (default: 256M; --smoke: 8M)
    --duration TIME   measured time per run, e.g. 1s, 500ms (default: 1s)
    --depth N         I/Os in flight per submitting thread, for every workload
    --reps N          repetitions of each cell (default: 3; --smoke: 1)
    --cpu LIST        pin the measured processes to CPUs, e.g. 0 or 0,1 or 0-1
    --dir DIR         where the temporary test file goes (default: $TMPDIR or /tmp)
    --dirs A,B        run every workload in each of these directories (a test file
                      in each) and print one table, filesystem by filesystem
    --busy [N]        run N CPU-bound processes beside every measured child
                      (default N: the CPUs it may use minus one, at least 1)
    --json            print the results as JSON on stdout (the table goes to stderr)
    --plot FILE.svg   draw IOPS against queue depth (cached-qd* workloads, first
                      directory) as SVG
    --smoke           tiny run (a few hundred I/Os per cell) to check the plumbing
    -h, --help        print this help

cold-qd32 drops the page cache (echo 3 > /proc/sys/vm/drop_caches) before each run:
it needs root; without it the row says why it is missing. The table names the
filesystem of each directory (statfs f_type) and its mount point.

sizes: cached reads and writes of 4 KiB, 64 KiB, 1 MiB, 16 MiB and 128 MiB, one in
flight, timing the submitting call itself (aio_read/aio_write; io_submit and
io_uring_enter for the kernel columns): p50, p99 and max, with the throughput. A row
whose request is larger than the test file is skipped (give --size 128M or more;
the default 256M is enough); --smoke keeps the rows up to 1 MiB.

procs16-direct, procs128-direct: 16 or 128 processes at once, each with 32 4 KiB
random O_DIRECT reads in flight on its own 1/N of the test file, all measured over
one common window; IOPS is their sum. For paio, each process runs with PAIO_STATS
set to a directory of the run's own, and the table says how many ran on kernel AIO
and how many fell back to the worker pool; it prints fs.aio-max-nr and the peak
fs.aio-nr seen while the processes ran. --smoke runs 4 processes.

Ratios are taken pair by
pair within one rep, then the median; paio/kernel is against the faster kernel
interface of that rep. Exit status: 0 ok, 1 a cell failed, 2 bad input.
";

#[derive(Clone, Debug)]
pub struct Options {
    pub workloads: Vec<Workload>,
    /// Whether `--workloads` named them: then a workload that cannot run is an error.
    pub workloads_explicit: bool,
    pub impls: Vec<Impl>,
    pub lib: Option<PathBuf>,
    pub size: u64,
    pub duration: Duration,
    pub depth: Option<usize>,
    pub reps: usize,
    pub cpus: Option<Vec<usize>>,
    /// Test directories, one test file in each; `--dir` gives one.
    pub dirs: Vec<PathBuf>,
    /// CPU-bound processes beside each measured child (0: none).
    pub busy: usize,
    pub json: bool,
    pub plot: Option<PathBuf>,
    pub smoke: bool,
}

/// A mistake in the command line, or `--help`.
#[derive(Debug)]
pub enum UsageError {
    Help,
    Bad(String),
}

const MIB: u64 = 1 << 20;
/// Every file size is rounded down to this, the largest block of the default suite.
const SIZE_ALIGN: u64 = 64 * 1024;
pub const MAX_DEPTH: usize = 1024;
/// Most directories `--dirs` takes (each holds a test file of `--size`).
pub const MAX_DIRS: usize = 16;
pub const MAX_BUSY: usize = 1024;

pub fn parse(args: &[String]) -> Result<Options, UsageError> {
    let mut o = Options {
        workloads: WORKLOADS.to_vec(),
        workloads_explicit: false,
        impls: IMPLS.to_vec(),
        lib: None,
        size: 0,
        duration: Duration::from_secs(1),
        depth: None,
        reps: 0,
        cpus: None,
        dirs: vec![std::env::var_os("TMPDIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| "/tmp".into())],
        busy: 0,
        json: false,
        plot: None,
        smoke: false,
    };
    let mut size = None;
    let mut reps = None;
    let mut busy: Option<Option<usize>> = None;
    let mut dir_flag: Option<&str> = None;
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, UsageError> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| UsageError::Bad(format!("{name} needs a value"))),
            }
        };
        match flag {
            "-h" | "--help" => return Err(UsageError::Help),
            "--workloads" => {
                o.workloads = parse_list(
                    &value(flag)?,
                    "workload",
                    workloads_by_name,
                    &workload_names(),
                )?;
                o.workloads_explicit = true;
            }
            "--impls" => {
                o.impls = parse_list(
                    &value(flag)?,
                    "implementation",
                    |n| Impl::by_name(n).map(|i| vec![i]),
                    &impl_names(),
                )?
            }
            "--lib" => o.lib = Some(PathBuf::from(value(flag)?)),
            "--size" => size = Some(parse_size(&value(flag)?)?),
            "--duration" => o.duration = parse_duration(&value(flag)?)?,
            "--depth" => {
                let v = value(flag)?;
                let d: usize = v
                    .parse()
                    .map_err(|_| UsageError::Bad(format!("--depth {v:?} is not a number")))?;
                if d == 0 || d > MAX_DEPTH {
                    return Err(UsageError::Bad(format!(
                        "--depth must be between 1 and {MAX_DEPTH}, not {d}"
                    )));
                }
                o.depth = Some(d);
            }
            "--reps" => {
                let v = value(flag)?;
                let r: usize = v
                    .parse()
                    .map_err(|_| UsageError::Bad(format!("--reps {v:?} is not a number")))?;
                if r == 0 || r > 1000 {
                    return Err(UsageError::Bad(format!(
                        "--reps must be between 1 and 1000, not {r}"
                    )));
                }
                reps = Some(r);
            }
            "--cpu" => o.cpus = Some(parse_cpus(&value(flag)?)?),
            "--dir" | "--dirs" => {
                if let Some(other) = dir_flag {
                    return Err(UsageError::Bad(format!(
                        "{flag} after {other}: give the directories once (--dirs A,B,…)"
                    )));
                }
                let v = value(flag)?;
                o.dirs = if flag == "--dir" {
                    vec![PathBuf::from(v)]
                } else {
                    parse_dirs(&v)?
                };
                dir_flag = Some(if flag == "--dir" { "--dir" } else { "--dirs" });
            }
            "--busy" => {
                // The count is optional: `--busy`, `--busy 3`, `--busy=3`.
                let v = match &inline {
                    Some(v) => Some(v.clone()),
                    None => it
                        .next_if(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
                        .cloned(),
                };
                busy = Some(match v {
                    None => None,
                    Some(v) => {
                        let n: usize = v.parse().map_err(|_| {
                            UsageError::Bad(format!("--busy {v:?} is not a number"))
                        })?;
                        if n == 0 || n > MAX_BUSY {
                            return Err(UsageError::Bad(format!(
                                "--busy must be between 1 and {MAX_BUSY}, not {n}"
                            )));
                        }
                        Some(n)
                    }
                });
            }
            "--json" => o.json = true,
            "--plot" => o.plot = Some(PathBuf::from(value(flag)?)),
            "--smoke" => o.smoke = true,
            other => return Err(UsageError::Bad(format!("unknown argument {other:?}"))),
        }
        if inline.is_some() && matches!(flag, "--json" | "--smoke" | "-h" | "--help") {
            return Err(UsageError::Bad(format!("{flag} takes no value")));
        }
    }
    o.size = size.unwrap_or(if o.smoke { 8 * MIB } else { 256 * MIB });
    o.reps = reps.unwrap_or(if o.smoke { 1 } else { 3 });
    if o.smoke {
        o.workloads
            .retain(|w| w.family != Family::Sizes || w.block <= SMOKE_MAX_BLOCK);
        for w in &mut o.workloads {
            if w.family == Family::Procs {
                w.procs = SMOKE_PROCS;
            }
        }
    }
    o.busy = match busy {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => {
            let usable = match &o.cpus {
                Some(c) => c.len(),
                // SAFETY: sysconf has no preconditions.
                None => unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize,
            };
            usable.saturating_sub(1).max(1)
        }
    };
    Ok(o)
}

/// `--dirs A,B`: distinct, non-empty, at most [`MAX_DIRS`].
fn parse_dirs(s: &str) -> Result<Vec<PathBuf>, UsageError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for d in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let p = PathBuf::from(d);
        if !dirs.contains(&p) {
            dirs.push(p);
        }
    }
    if dirs.is_empty() {
        return Err(UsageError::Bad("--dirs names no directory".into()));
    }
    if dirs.len() > MAX_DIRS {
        return Err(UsageError::Bad(format!(
            "--dirs names {} directories; at most {MAX_DIRS}",
            dirs.len()
        )));
    }
    Ok(dirs)
}

fn parse_list<T: PartialEq>(
    s: &str,
    what: &str,
    lookup: impl Fn(&str) -> Option<Vec<T>>,
    known: &str,
) -> Result<Vec<T>, UsageError> {
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let items = lookup(name)
            .ok_or_else(|| UsageError::Bad(format!("unknown {what} {name:?} (known: {known})")))?;
        for item in items {
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    if out.is_empty() {
        return Err(UsageError::Bad(format!("no {what} given (known: {known})")));
    }
    Ok(out)
}

/// `256M`, `256MiB`, `1g`, `65536`: bytes, rounded down to 64 KiB, at least 1 MiB.
pub fn parse_size(s: &str) -> Result<u64, UsageError> {
    let bad = || UsageError::Bad(format!("--size {s:?} is not a size like 256M or 1G"));
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some(_) => (t, 1),
        None => return Err(bad()),
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    let bytes = n.checked_mul(mult).ok_or_else(bad)? / SIZE_ALIGN * SIZE_ALIGN;
    if bytes < MIB {
        return Err(UsageError::Bad(format!(
            "--size {s:?} is below the minimum of 1M"
        )));
    }
    Ok(bytes)
}

/// `1s`, `500ms`, `2.5` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, UsageError> {
    let bad = || UsageError::Bad(format!("--duration {s:?} is not a time like 1s or 500ms"));
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let secs = v * scale;
    if !(0.01..=3600.0).contains(&secs) {
        return Err(UsageError::Bad(format!(
            "--duration {s:?} must be between 10ms and 1h"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `0`, `0,1`, `0-3`: CPU numbers this machine has.
pub fn parse_cpus(s: &str) -> Result<Vec<usize>, UsageError> {
    let bad = || {
        UsageError::Bad(format!(
            "--cpu {s:?} is not a CPU list like 0 or 0,1 or 0-3"
        ))
    };
    // SAFETY: sysconf has no preconditions.
    let ncpu = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) }.max(1) as usize;
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad())?,
                b.trim().parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let c = part.parse::<usize>().map_err(|_| bad())?;
                (c, c)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        for c in lo..=hi {
            if c >= ncpu || c >= libc::CPU_SETSIZE as usize {
                return Err(UsageError::Bad(format!(
                    "--cpu {c} does not exist (this machine has CPUs 0-{})",
                    ncpu - 1
                )));
            }
            if !cpus.contains(&c) {
                cpus.push(c);
            }
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M").unwrap(), 256 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert!(parse_size("12k").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("NaN").is_err());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            parse(&args("--workloads nope")),
            Err(UsageError::Bad(_))
        ));
        assert!(matches!(parse(&args("--depth 0")), Err(UsageError::Bad(_))));
        assert!(matches!(parse(&args("--depth")), Err(UsageError::Bad(_))));
        assert!(matches!(
            parse(&args("--cpu 99999")),
            Err(UsageError::Bad(_))
        ));
        assert!(matches!(
            parse(&args("--frobnicate")),
            Err(UsageError::Bad(_))
        ));
        assert!(matches!(parse(&args("--help")), Err(UsageError::Help)));
        let o = parse(&args(
            "--workloads=cached-qd1,write-fsync --depth=4 --smoke",
        ))
        .unwrap();
        assert_eq!(o.workloads.len(), 2);
        assert_eq!(o.depth, Some(4));
        assert_eq!(o.reps, 1);
        assert_eq!(o.size, 8 << 20);
        assert_eq!(o.busy, 0);
    }

    #[test]
    fn dirs_busy_and_sizes() {
        let o = parse(&args("--dirs /tmp,/dev/shm,/tmp --busy 3")).unwrap();
        assert_eq!(o.dirs, [PathBuf::from("/tmp"), PathBuf::from("/dev/shm")]);
        assert_eq!(o.busy, 3);
        let o = parse(&args("--busy --dir /x")).unwrap();
        assert!(o.busy >= 1);
        assert_eq!(o.dirs, [PathBuf::from("/x")]);
        assert_eq!(parse(&args("--busy=2")).unwrap().busy, 2);
        assert!(matches!(parse(&args("--busy 0")), Err(UsageError::Bad(_))));
        assert!(matches!(
            parse(&args("--dir /a --dirs /b")),
            Err(UsageError::Bad(_))
        ));
        assert!(matches!(parse(&args("--dirs ,")), Err(UsageError::Bad(_))));
        let o = parse(&args("--workloads sizes,cached-qd1")).unwrap();
        assert_eq!(o.workloads.len(), 11);
        assert!(!parse(&args(""))
            .unwrap()
            .workloads
            .iter()
            .any(|w| w.family == Family::Sizes));
        let o = parse(&args("--smoke --workloads sizes")).unwrap();
        assert!(o.workloads.iter().all(|w| w.block <= SMOKE_MAX_BLOCK));
        assert_eq!(o.workloads.len(), 6);
        let o = parse(&args("--workloads procs")).unwrap();
        let procs: Vec<usize> = o.workloads.iter().map(|w| w.procs).collect();
        assert_eq!(procs, [16, 128]);
        let o = parse(&args("--smoke --workloads procs128-direct")).unwrap();
        assert_eq!(o.workloads[0].procs, SMOKE_PROCS);
        assert!(!parse(&args(""))
            .unwrap()
            .workloads
            .iter()
            .any(|w| w.family == Family::Procs));
    }
}
