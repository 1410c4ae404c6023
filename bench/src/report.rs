//! Turns the runs into medians, spreads and pairwise ratios, and renders them
//! as the text table and the `--json` document.

use std::ffi::{c_char, CStr};
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::cli::Options;
use crate::runner::{ImplRuns, Metrics, Outcome, RunResult, WorkloadResult};
use crate::workload::{Impl, SEED};

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

pub fn table(res: &RunResult, opts: &Options) -> String {
    let (kernel, cpus, glibc) = host();
    let mut s = String::new();
    let run = if opts.smoke {
        format!("{} I/Os per run (--smoke)", crate::runner::SMOKE_IOS)
    } else {
        format!("{:.2} s per run", opts.duration.as_secs_f64())
    };
    let _ = writeln!(
        s,
        "paio-bench: {} MiB file in {}, {run}, {} rep(s), glibc {glibc}, Linux {kernel}, {cpus} CPU(s){}",
        res.file_size >> 20,
        opts.dir.display(),
        opts.reps,
        opts.cpus.as_ref().map_or(String::new(), |c| format!(", pinned to CPU {}", c.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")))
    );
    if let Some(lib) = &res.lib {
        let _ = writeln!(s, "paio: LD_PRELOAD={}", lib.display());
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<14} {:<10} {:>4} {:>9} {:>6} {:>8} {:>8} {:>9} {:>9} {:>7} {:>10} {:>11}",
        "workload",
        "impl",
        "qd",
        "IOPS",
        "spread",
        "p50 µs",
        "p99 µs",
        "CPU µs/IO",
        "threads",
        "RSS MiB",
        "paio/glibc",
        "paio/kernel"
    );
    for w in &res.workloads {
        let wl = &w.workload;
        let qd = if wl.threads > 1 {
            format!("{}x{}", wl.threads, wl.depth)
        } else {
            wl.depth.to_string()
        };
        if let Some(why) = &w.skipped {
            let _ = writeln!(s, "{:<14} skipped: {why}", wl.name);
            continue;
        }
        for (i, c) in w.impls.iter().enumerate() {
            let name = if i == 0 { wl.name } else { "" };
            match column(c) {
                Column::Ok(m) => {
                    let (rg, rk) = if c.imp == Impl::Paio {
                        (
                            fmt_ratio(ratio(w, &[Impl::Glibc], opts.reps)),
                            fmt_ratio(ratio(w, KERNEL, opts.reps)),
                        )
                    } else {
                        (String::new(), String::new())
                    };
                    let spread = if m.reps > 1 {
                        format!("{:.1}%", m.spread * 100.0)
                    } else {
                        "-".into()
                    };
                    let _ = writeln!(
                        s,
                        "{:<14} {:<10} {:>4} {:>9} {:>6} {:>8} {:>8} {:>9.2} {:>9} {:>7.1} {:>10} {:>11}",
                        name,
                        c.imp.name(),
                        qd,
                        fmt_count(m.iops),
                        spread,
                        fmt_us(m.p50_us),
                        fmt_us(m.p99_us),
                        m.cpu_us_per_io,
                        format!("{}/{}", m.threads_extra, m.threads_created),
                        m.maxrss_kib as f64 / 1024.0,
                        rg,
                        rk
                    );
                }
                Column::Na(r) => {
                    let _ = writeln!(s, "{:<14} {:<10} n/a: {r}", name, c.imp.name());
                }
                Column::Failed(r) => {
                    let _ = writeln!(s, "{:<14} {:<10} FAILED: {r}", name, c.imp.name());
                }
                Column::Absent => {
                    let _ = writeln!(s, "{:<14} {:<10} -", name, c.imp.name());
                }
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "IOPS, latency and CPU are medians over reps; spread = (max-min)/median of IOPS."
    );
    let _ = writeln!(s, "Latency: start of the request to its completion being seen. CPU: the whole child process, all threads.");
    let _ = writeln!(s, "threads: peak extra threads alive / distinct extra threads seen (beyond the benchmark's own).");
    let _ = writeln!(s, "Ratios (IOPS) are taken within each rep, then the median; paio/kernel is against the faster of io_submit and io_uring.");
    for w in &res.workloads {
        if let (Some(note), None) = (&w.note, &w.skipped) {
            let _ = writeln!(s, "{}: {note}.", w.workload.name);
        }
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
                        })),
                        Column::Na(r) => ("na", Value::String(r), Value::Null),
                        Column::Failed(r) => ("failed", Value::String(r), Value::Null),
                        Column::Absent => ("not_run", Value::Null, Value::Null),
                    };
                    json!({ "impl": c.imp.name(), "status": status, "reason": reason, "summary": summary, "runs": runs })
                })
                .collect();
            json!({
                "name": wl.name,
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
            "dir": opts.dir.display().to_string(),
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
