//! Turns the runs into medians, spreads and pairwise ratios, and renders them
//! as the text table and the `--json` document.

use std::ffi::{c_char, CStr};
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::cli::Options;
use crate::runner::{ImplRuns, Metrics, Outcome, RunResult, Target, WorkloadResult};
use crate::workload::{Family, Impl, SEED};

/// One implementation's column for one workload, over all reps.
pub enum Column {
    Ok(Summary),
    Na(String),
    Failed(String),
    /// Not run (the workload was skipped).
    Absent,
}

pub struct Summary {
    pub reps: usize,
    pub iops: f64,
    pub iops_min: f64,
    pub iops_max: f64,
    /// (max - min) / median of IOPS over the reps.
    pub spread: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_io: f64,
    pub threads_extra: u64,
    pub threads_created: u64,
    pub maxrss_kib: u64,
    pub bytes_per_s: f64,
    /// Medians over the reps of each rep's p50 and p99 submitting-call time.
    pub submit_p50_us: f64,
    pub submit_p99_us: f64,
    /// The longest submitting call of any rep.
    pub submit_max_us: f64,
    /// The most CPU time any sampled submitting call of any rep took.
    pub submit_cpu_max_us: f64,
}

pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

pub fn column(runs: &ImplRuns) -> Column {
    if let Some(r) = runs.runs.iter().find_map(|o| {
        if let Outcome::Failed(r) = o {
            Some(r)
        } else {
            None
        }
    }) {
        return Column::Failed(r.clone());
    }
    if let Some(r) = runs.runs.iter().find_map(|o| {
        if let Outcome::Na(r) = o {
            Some(r)
        } else {
            None
        }
    }) {
        return Column::Na(r.clone());
    }
    let ok: Vec<&Metrics> = runs
        .runs
        .iter()
        .filter_map(|o| {
            if let Outcome::Ok(m) = o {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    if ok.is_empty() {
        return Column::Absent;
    }
    let pick = |f: fn(&Metrics) -> f64| median(&ok.iter().map(|m| f(m)).collect::<Vec<_>>());
    let iops: Vec<f64> = ok.iter().map(|m| m.iops).collect();
    let med = median(&iops);
    let min = iops.iter().copied().fold(f64::INFINITY, f64::min);
    let max = iops.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Column::Ok(Summary {
        reps: ok.len(),
        iops: med,
        iops_min: min,
        iops_max: max,
        spread: if med > 0.0 { (max - min) / med } else { 0.0 },
        p50_us: pick(|m| m.p50_us),
        p99_us: pick(|m| m.p99_us),
        cpu_us_per_io: pick(|m| m.cpu_us_per_io),
        threads_extra: ok.iter().map(|m| m.threads_extra).max().unwrap_or(0),
        threads_created: ok.iter().map(|m| m.threads_created).max().unwrap_or(0),
        maxrss_kib: ok.iter().map(|m| m.maxrss_kib).max().unwrap_or(0),
        bytes_per_s: pick(|m| m.bytes_per_s),
        submit_p50_us: pick(|m| m.submit_p50_us),
        submit_p99_us: pick(|m| m.submit_p99_us),
        submit_max_us: ok
            .iter()
            .map(|m| m.submit_max_us)
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max),
        submit_cpu_max_us: ok
            .iter()
            .map(|m| m.submit_cpu_max_us)
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max),
    })
}

fn iops_of(w: &WorkloadResult, imp: Impl, rep: usize) -> Option<f64> {
    let runs = w.impls.iter().find(|c| c.imp == imp)?;
    match runs.runs.get(rep)? {
        Outcome::Ok(m) if m.iops > 0.0 => Some(m.iops),
        _ => None,
    }
}

/// Ratios of paio's IOPS to the others', taken within each rep, plus their median.
pub struct Ratio {
    pub per_rep: Vec<f64>,
    pub median: f64,
}

/// `paio / against` per rep; `against` = several impls means the fastest of them that rep.
pub fn ratio(w: &WorkloadResult, against: &[Impl], reps: usize) -> Option<Ratio> {
    let per_rep: Vec<f64> = (0..reps)
        .filter_map(|r| {
            let paio = iops_of(w, Impl::Paio, r)?;
            let other = against
                .iter()
                .filter_map(|&i| iops_of(w, i, r))
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))?;
            Some(paio / other)
        })
        .collect();
    if per_rep.is_empty() {
        return None;
    }
    let median = median(&per_rep);
    Some(Ratio { per_rep, median })
}

const KERNEL: &[Impl] = &[Impl::IoSubmit, Impl::IoUring];

pub fn host() -> (String, usize, String) {
    // SAFETY: uname fills the zeroed struct; its fields are NUL-terminated.
    let kernel = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            CStr::from_ptr(u.release.as_ptr())
                .to_string_lossy()
                .into_owned()
        } else {
            "unknown".into()
        }
    };
    extern "C" {
        fn gnu_get_libc_version() -> *const c_char;
    }
    // SAFETY: returns a static NUL-terminated string.
    let glibc = unsafe {
        CStr::from_ptr(gnu_get_libc_version())
            .to_string_lossy()
            .into_owned()
    };
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    (kernel, cpus, glibc)
}

pub fn fmt_count(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn fmt_us(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn fmt_ratio(r: Option<Ratio>) -> String {
    r.map_or_else(String::new, |r| format!("{:.2}x", r.median))
}

/// Whether any cell failed (the exit status is then 1).
pub fn any_failed(res: &RunResult) -> bool {
    res.workloads
        .iter()
        .flat_map(|w| &w.impls)
        .flat_map(|c| &c.runs)
        .any(|o| matches!(o, Outcome::Failed(_)))
}

/// "ext4, mounted on /".
fn fs_desc(t: &Target) -> String {
    match &t.fs.mount {
        Some(m) => format!("{}, mounted on {}", t.fs.name, m.display()),
        None => t.fs.name.clone(),
    }
}

/// "4 KiB", "128 MiB".
fn fmt_block(b: usize) -> String {
    if b >= 1 << 20 && b % (1 << 20) == 0 {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}

pub fn table(res: &RunResult, opts: &Options) -> String {
    let (kernel, cpus, glibc) = host();
    let mut s = String::new();
    let run = if opts.smoke {
        format!("{} I/Os per run (--smoke)", crate::runner::SMOKE_IOS)
    } else {
        format!("{:.2} s per run", opts.duration.as_secs_f64())
    };
    let multi = res.targets.len() > 1;
    let place = match res.targets.as_slice() {
        [t] => format!("in {} ({})", t.dir.display(), fs_desc(t)),
        ts => format!("in each of {} directories", ts.len()),
    };
    let _ = writeln!(
        s,
        "paio-bench: {} MiB file {place}, {run}, {} rep(s), glibc {glibc}, Linux {kernel}, {cpus} CPU(s){}",
        res.file_size >> 20,
        opts.reps,
        opts.cpus.as_ref().map_or(String::new(), |c| format!(", pinned to CPU {}", c.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")))
    );
    if multi {
        for (i, t) in res.targets.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {:<12} {} ({})",
                res.label(i),
                t.dir.display(),
                fs_desc(t)
            );
        }
    }
    if res.busy > 0 {
        let _ = writeln!(
            s,
            "busy: {} CPU-bound {} ran beside every measured child (--busy)",
            res.busy,
            if res.busy == 1 {
                "process"
            } else {
                "processes"
            }
        );
    }
    if let Some(lib) = &res.lib {
        let _ = writeln!(s, "paio: LD_PRELOAD={}", lib.display());
    }
    let frame = Frame {
        res,
        opts,
        fs_w: multi.then(|| {
            (0..res.targets.len())
                .map(|t| res.label(t).chars().count())
                .max()
                .unwrap_or(0)
                .max(2)
        }),
    };
    let suite: Vec<&WorkloadResult> = res
        .workloads
        .iter()
        .filter(|w| w.workload.family == Family::Suite)
        .collect();
    let sizes: Vec<&WorkloadResult> = res
        .workloads
        .iter()
        .filter(|w| w.workload.family == Family::Sizes)
        .collect();
    let procs: Vec<&WorkloadResult> = res
        .workloads
        .iter()
        .filter(|w| w.workload.family == Family::Procs)
        .collect();
    if !suite.is_empty() {
        suite_table(&mut s, &frame, &suite);
    }
    if !sizes.is_empty() {
        sizes_table(&mut s, &frame, &sizes);
    }
    if !procs.is_empty() {
        procs_table(&mut s, &frame, &procs);
    }
    // Rows without ratios would end in padding.
    s.lines()
        .map(str::trim_end)
        .fold(String::with_capacity(s.len()), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
}

/// What the tables of one report share.
struct Frame<'a> {
    res: &'a RunResult,
    opts: &'a Options,
    /// The width of the fs column, which is there only when there are
    /// several directories.
    fs_w: Option<usize>,
}

impl Frame<'_> {
    fn fs_col(&self, text: &str) -> String {
        match self.fs_w {
            Some(w) => format!(" {text:<w$}"),
            None => String::new(),
        }
    }

    /// The columns left of the numbers, in the header and in every row.
    fn lead(&self, name: &str, fs: &str, imp: &str) -> String {
        format!("{name:<14}{} {imp:<10}", self.fs_col(fs))
    }

    /// `paio / against` on paio's own row; empty on the others.
    fn paio_ratio(&self, w: &WorkloadResult, c: &ImplRuns, against: &[Impl]) -> String {
        if c.imp == Impl::Paio {
            fmt_ratio(ratio(w, against, self.opts.reps))
        } else {
            String::new()
        }
    }

    /// The (workload name, fs label) cells of a row: each printed on the first
    /// row it applies to.
    fn row_labels(
        &self,
        rows: &[&WorkloadResult],
        i: usize,
        c: usize,
        name: &dyn Fn(&WorkloadResult) -> String,
    ) -> (String, String) {
        let w = rows[i];
        let first_of_workload = i == 0 || rows[i - 1].workload.name != w.workload.name;
        (
            if c == 0 && first_of_workload {
                name(w)
            } else {
                String::new()
            },
            if c == 0 {
                self.res.label(w.target)
            } else {
                String::new()
            },
        )
    }

    fn write_header(&self, s: &mut String, first: &str, columns: &[Col]) {
        let headings = pad(columns, columns.iter().map(|c| c.0.to_string()));
        let _ = writeln!(s, "{} {headings}", self.lead(first, "fs", "impl"));
    }

    /// The rows of a table: one line for a skipped workload, else one per
    /// implementation, where `numbers` gives the cells of `columns` for one
    /// that ran.
    fn write_rows(
        &self,
        s: &mut String,
        rows: &[&WorkloadResult],
        columns: &[Col],
        name_of: &dyn Fn(&WorkloadResult) -> String,
        numbers: &dyn Fn(&WorkloadResult, &ImplRuns, &Summary) -> Vec<String>,
    ) {
        for (i, w) in rows.iter().enumerate() {
            if let Some(why) = &w.skipped {
                let (name, fs) = self.row_labels(rows, i, 0, name_of);
                let _ = writeln!(s, "{name:<14}{} skipped: {why}", self.fs_col(&fs));
                continue;
            }
            for (k, c) in w.impls.iter().enumerate() {
                let (name, fs) = self.row_labels(rows, i, k, name_of);
                let cells = match column(c) {
                    Column::Ok(m) => pad(columns, numbers(w, c, &m)),
                    Column::Na(r) => format!("n/a: {r}"),
                    Column::Failed(r) => format!("FAILED: {r}"),
                    Column::Absent => "-".into(),
                };
                let _ = writeln!(s, "{} {cells}", self.lead(&name, &fs, c.imp.name()));
            }
        }
    }
}

/// A numeric column: its heading and width.
type Col = (&'static str, usize);

/// `cells`, each right-aligned in its column, one space apart.
fn pad(columns: &[Col], cells: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = cells.into_iter().collect();
    debug_assert_eq!(cells.len(), columns.len());
    columns
        .iter()
        .zip(cells)
        .map(|(&(_, w), cell)| format!("{cell:>w$}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `-` for one rep, which has no spread.
fn fmt_spread(m: &Summary) -> String {
    if m.reps > 1 {
        format!("{:.1}%", m.spread * 100.0)
    } else {
        "-".into()
    }
}

fn suite_table(s: &mut String, frame: &Frame, rows: &[&WorkloadResult]) {
    const COLUMNS: &[Col] = &[
        ("qd", 4),
        ("IOPS", 9),
        ("spread", 6),
        ("p50 µs", 8),
        ("p99 µs", 8),
        ("CPU µs/IO", 9),
        ("threads", 9),
        ("RSS MiB", 7),
        ("paio/glibc", 10),
        ("paio/kernel", 11),
    ];
    let _ = writeln!(s);
    frame.write_header(s, "workload", COLUMNS);
    let name_of = |w: &WorkloadResult| w.workload.name.to_string();
    let numbers = |w: &WorkloadResult, c: &ImplRuns, m: &Summary| {
        let wl = &w.workload;
        let qd = if wl.threads > 1 {
            format!("{}x{}", wl.threads, wl.depth)
        } else {
            wl.depth.to_string()
        };
        vec![
            qd,
            fmt_count(m.iops),
            fmt_spread(m),
            fmt_us(m.p50_us),
            fmt_us(m.p99_us),
            format!("{:.2}", m.cpu_us_per_io),
            format!("{}/{}", m.threads_extra, m.threads_created),
            format!("{:.1}", m.maxrss_kib as f64 / 1024.0),
            frame.paio_ratio(w, c, &[Impl::Glibc]),
            frame.paio_ratio(w, c, KERNEL),
        ]
    };
    frame.write_rows(s, rows, COLUMNS, &name_of, &numbers);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "IOPS, latency and CPU are medians over reps; spread = (max-min)/median of IOPS."
    );
    let _ = writeln!(s, "Latency: start of the request to its completion being seen. CPU: the whole child process, all threads.");
    let _ = writeln!(s, "threads: peak extra threads alive / distinct extra threads seen (beyond the benchmark's own).");
    let _ = writeln!(s, "Ratios (IOPS) are taken within each rep, then the median; paio/kernel is against the faster of io_submit and io_uring.");
    let mut said: Vec<String> = Vec::new();
    for w in rows {
        if let (Some(note), None) = (&w.note, &w.skipped) {
            let line = format!("{}: {note}.", w.workload.name);
            if !said.contains(&line) {
                let _ = writeln!(s, "{line}");
                said.push(line);
            }
        }
    }
}

fn sizes_table(s: &mut String, frame: &Frame, rows: &[&WorkloadResult]) {
    const COLUMNS: &[Col] = &[
        ("call p50 µs", 11),
        ("call p99 µs", 11),
        ("call max µs", 11),
        ("cpu max µs", 10),
        ("MiB/s", 9),
        ("spread", 6),
        ("paio/glibc", 10),
    ];
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "sizes: cached reads and writes, 1 in flight; call = the submitting call itself"
    );
    let _ = writeln!(s);
    frame.write_header(s, "request", COLUMNS);
    let name_of = |w: &WorkloadResult| {
        let op = match w.workload.pattern {
            crate::workload::Pattern::CachedWrite => "write",
            _ => "read",
        };
        format!("{op} {}", fmt_block(w.workload.block))
    };
    let numbers = |w: &WorkloadResult, c: &ImplRuns, m: &Summary| {
        vec![
            fmt_us(m.submit_p50_us),
            fmt_us(m.submit_p99_us),
            fmt_us(m.submit_max_us),
            fmt_us(m.submit_cpu_max_us),
            format!("{:.0}", m.bytes_per_s / (1u64 << 20) as f64),
            fmt_spread(m),
            frame.paio_ratio(w, c, &[Impl::Glibc]),
        ]
    };
    frame.write_rows(s, rows, COLUMNS, &name_of, &numbers);
    let _ = writeln!(s);
    let _ = writeln!(s, "call: how long the submitting call took (aio_read/aio_write for glibc and paio, io_submit or");
    let _ = writeln!(s, "io_uring_enter for the kernel columns), wall clock; p50 and p99 are medians over reps, max the longest");
    let _ = writeln!(s, "of all, time descheduled included. cpu max: the most CPU time the submitting thread spent in one call");
    let _ = writeln!(s, "(CLOCK_THREAD_CPUTIME_ID; every call from 1 MiB up, every 32nd below), which leaves the scheduler out.");
    let _ = writeln!(s, "MiB/s: bytes moved per second, median over reps; paio/glibc compares it within each rep, then the median.");
}

/// The group numbers of every rep of one column that ran.
fn groups(c: &ImplRuns) -> Vec<&crate::procs::GroupStats> {
    c.runs
        .iter()
        .filter_map(|o| match o {
            Outcome::Ok(m) => m.group.as_ref(),
            _ => None,
        })
        .collect()
}

fn procs_table(s: &mut String, frame: &Frame, rows: &[&WorkloadResult]) {
    const COLUMNS: &[Col] = &[
        ("procs", 5),
        ("qd", 4),
        ("IOPS", 9),
        ("spread", 6),
        ("slowest", 8),
        ("p50 µs", 8),
        ("p99 µs", 8),
        ("CPU µs/IO", 9),
        ("aio-nr peak", 11),
        ("on kaio", 8),
        ("paio/glibc", 10),
        ("paio/kernel", 11),
    ];
    let _ = writeln!(s);
    let max_nr = crate::aio_nr::max_nr().map_or("unknown".into(), |n| n.to_string());
    let before = rows
        .iter()
        .flat_map(|w| &w.impls)
        .flat_map(groups)
        .find_map(|g| g.aio_nr.map(|a| a.0))
        .map_or("unknown".into(), |n| n.to_string());
    let _ = writeln!(
        s,
        "procs: N processes at once, IOPS summed over one common window; fs.aio-max-nr {max_nr}, fs.aio-nr {before} before"
    );
    let _ = writeln!(s);
    frame.write_header(s, "workload", COLUMNS);
    let name_of = |w: &WorkloadResult| w.workload.name.to_string();
    let numbers = |w: &WorkloadResult, c: &ImplRuns, m: &Summary| {
        let g = groups(c);
        let peak = g.iter().filter_map(|g| g.aio_nr.map(|a| a.1)).max();
        // The worst rep: a fallback in any rep shows.
        let on_kaio = if c.imp == Impl::Paio {
            g.iter()
                .min_by_key(|g| g.on_kaio())
                .map_or_else(|| "-".into(), |g| format!("{}/{}", g.on_kaio(), g.procs))
        } else {
            "-".into()
        };
        let slowest = median(&g.iter().map(|g| g.iops_min).collect::<Vec<_>>());
        vec![
            w.workload.procs.to_string(),
            w.workload.depth.to_string(),
            fmt_count(m.iops),
            fmt_spread(m),
            fmt_count(slowest),
            fmt_us(m.p50_us),
            fmt_us(m.p99_us),
            format!("{:.2}", m.cpu_us_per_io),
            peak.map_or("-".into(), |p| p.to_string()),
            on_kaio,
            frame.paio_ratio(w, c, &[Impl::Glibc]),
            frame.paio_ratio(w, c, KERNEL),
        ]
    };
    frame.write_rows(s, rows, COLUMNS, &name_of, &numbers);
    let _ = writeln!(s);
    let _ = writeln!(s, "IOPS: the I/Os of all processes over the span from the first one's start to the last one's stop,");
    let _ = writeln!(s, "median over reps; slowest: the slowest process's own IOPS (median over reps). p50: median over the");
    let _ = writeln!(
        s,
        "processes; p99: the worst process's. CPU: all processes together, per I/O."
    );
    let _ = writeln!(s, "aio-nr peak: the most fs.aio-nr (events held by every kernel AIO context on the system) seen while");
    let _ = writeln!(s, "the processes ran, highest rep. on kaio: paio's processes whose PAIO_STATS file says they ran on");
    let _ = writeln!(s, "kernel AIO, of all (the rep with the fewest).");
    for w in rows {
        for c in w.impls.iter().filter(|c| c.imp == Impl::Paio) {
            for (rep, g) in groups(c).iter().enumerate() {
                let elsewhere = g.elsewhere();
                if !elsewhere.is_empty() {
                    let what: Vec<String> = elsewhere
                        .iter()
                        .map(|(label, n)| format!("{n} on {label}"))
                        .collect();
                    let _ = writeln!(
                        s,
                        "{}: paio rep {}: {} of {} processes not on kernel AIO: {}.",
                        w.workload.name,
                        rep + 1,
                        g.procs - g.on_kaio(),
                        g.procs,
                        what.join(", ")
                    );
                }
                if g.kaio_refused() > 0 {
                    let _ = writeln!(
                        s,
                        "{}: paio rep {}: one more kernel AIO context refused {} time(s) (kaio_refused).",
                        w.workload.name,
                        rep + 1,
                        g.kaio_refused()
                    );
                }
            }
        }
    }
}

/// NaN is not JSON: a number, or null.
fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn ratio_json(r: Option<Ratio>) -> Value {
    match r {
        Some(r) => json!({ "median": r.median, "per_rep": r.per_rep }),
        None => Value::Null,
    }
}

pub fn json_doc(res: &RunResult, opts: &Options) -> Value {
    let (kernel, cpus, glibc) = host();
    let workloads: Vec<Value> = res
        .workloads
        .iter()
        .map(|w| {
            let wl = &w.workload;
            let impls: Vec<Value> = w
                .impls
                .iter()
                .map(|c| {
                    let runs: Vec<Value> = c
                        .runs
                        .iter()
                        .map(|o| match o {
                            Outcome::Ok(m) => m.raw.clone(),
                            Outcome::Na(r) => json!({ "status": "na", "reason": r }),
                            Outcome::Failed(r) => json!({ "status": "failed", "reason": r }),
                        })
                        .collect();
                    let (status, reason, summary) = match column(c) {
                        Column::Ok(m) => ("ok", Value::Null, json!({
                            "reps": m.reps,
                            "iops": m.iops,
                            "iops_min": m.iops_min,
                            "iops_max": m.iops_max,
                            "spread": m.spread,
                            "p50_us": m.p50_us,
                            "p99_us": m.p99_us,
                            "cpu_us_per_io": m.cpu_us_per_io,
                            "threads_extra": m.threads_extra,
                            "threads_created": m.threads_created,
                            "maxrss_kib": m.maxrss_kib,
                            "bytes_per_s": m.bytes_per_s,
                            "submit_p50_us": finite(m.submit_p50_us),
                            "submit_p99_us": finite(m.submit_p99_us),
                            "submit_max_us": finite(m.submit_max_us),
                            "submit_cpu_max_us": finite(m.submit_cpu_max_us),
                        })),
                        Column::Na(r) => ("na", Value::String(r), Value::Null),
                        Column::Failed(r) => ("failed", Value::String(r), Value::Null),
                        Column::Absent => ("not_run", Value::Null, Value::Null),
                    };
                    json!({ "impl": c.imp.name(), "status": status, "reason": reason, "summary": summary, "runs": runs })
                })
                .collect();
            let target = &res.targets[w.target];
            json!({
                "name": wl.name,
                "family": match wl.family {
                    Family::Suite => "suite",
                    Family::Sizes => "sizes",
                    Family::Procs => "procs",
                },
                "procs": wl.procs,
                "dir": target.dir.display().to_string(),
                "fs": target.fs.name,
                "mount": target.fs.mount.as_ref().map(|m| m.display().to_string()),
                "about": wl.about,
                "depth": wl.depth,
                "threads": wl.threads,
                "block": wl.block,
                "skipped": w.skipped,
                "note": w.note,
                "impls": impls,
                "ratios": {
                    "paio/glibc": ratio_json(ratio(w, &[Impl::Glibc], opts.reps)),
                    "paio/kernel": ratio_json(ratio(w, KERNEL, opts.reps)),
                    "paio/io_submit": ratio_json(ratio(w, &[Impl::IoSubmit], opts.reps)),
                    "paio/io_uring": ratio_json(ratio(w, &[Impl::IoUring], opts.reps)),
                },
            })
        })
        .collect();
    json!({
        "tool": "paio-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "config": {
            "size_bytes": res.file_size,
            "duration_s": if opts.smoke { Value::Null } else { json!(opts.duration.as_secs_f64()) },
            "ios_per_run": if opts.smoke { json!(crate::runner::SMOKE_IOS) } else { Value::Null },
            "reps": opts.reps,
            "depth_override": opts.depth,
            "smoke": opts.smoke,
            "dir": opts.dirs.first().map(|d| d.display().to_string()),
            "dirs": res.targets.iter().map(|t| json!({
                "dir": t.dir.display().to_string(),
                "fs": t.fs.name,
                "f_type": format!("{:#x}", t.fs.magic),
                "mount": t.fs.mount.as_ref().map(|m| m.display().to_string()),
            })).collect::<Vec<_>>(),
            "busy": res.busy,
            "cpus": opts.cpus,
            "impls": opts.impls.iter().map(|i| i.name()).collect::<Vec<_>>(),
            "seed": format!("{SEED:#x}"),
        },
        "host": { "kernel": kernel, "cpus": cpus, "glibc": glibc },
        "lib": res.lib.as_ref().map(|p| p.display().to_string()),
        "wall_s": res.wall_s,
        "ok": !any_failed(res),
        "workloads": workloads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn counts() {
        assert_eq!(fmt_count(999.0), "999");
        assert_eq!(fmt_count(12_345.0), "12.3k");
        assert_eq!(fmt_count(1_234_567.0), "1.23M");
    }
}
