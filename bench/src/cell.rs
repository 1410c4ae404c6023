//! The child side: one process runs one cell (one implementation, one
//! workload, one rep) and prints one result line that the parent parses.
//!
//! Invoked as `paio-bench __cell key=value…`; the parent sets `LD_PRELOAD` for
//! the paio column and removes it for the others.

use std::cell::Cell;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engine::{drive, Buffers, Engine, Limit, PhaseStats, SubmitTiming};
use crate::histogram::Histogram;
use crate::kaio::KernelAio;
use crate::posix::{aio_read_provider, is_libpaio, PosixAio};
use crate::sampler::{usage, ThreadSampler};
use crate::uring::Uring;
use crate::workload::{workload_by_name, Family, Impl, OpGen, Pattern, Workload};

/// The first argument that makes the binary a cell child.
pub const CELL_ARG: &str = "__cell";
/// The prefix of the one stdout line the parent reads.
pub const RESULT_PREFIX: &str = "PAIO-BENCH-RESULT ";

/// What the parent asks of one child.
#[derive(Clone, Debug)]
pub struct CellSpec {
    pub imp: Impl,
    pub workload: Workload,
    pub file: std::path::PathBuf,
    pub size: u64,
    /// Measured time, or…
    pub duration: Option<Duration>,
    /// …a fixed number of data I/Os (all threads together).
    pub ios: Option<u64>,
    pub cpus: Option<Vec<usize>>,
    /// Kill the child if it runs this long (a lost completion must not hang the bench).
    pub timeout_s: u32,
    /// Which operation sequence to replay (a procs child's index; 0 otherwise).
    pub stream: usize,
    /// Where in the file the child's stretch of `size` bytes starts.
    pub base: u64,
    /// One of a group of processes: after the warm-up, say so on stdout and
    /// wait for the parent's go (see [`crate::procs`]).
    pub sync: bool,
}

impl CellSpec {
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = vec![CELL_ARG.into()];
        a.push(format!("impl={}", self.imp.name()).into());
        a.push(format!("workload={}", self.workload.name).into());
        a.push(format!("depth={}", self.workload.depth).into());
        a.push(format!("size={}", self.size).into());
        if let Some(d) = self.duration {
            a.push(format!("duration_ns={}", d.as_nanos()).into());
        }
        if let Some(n) = self.ios {
            a.push(format!("ios={n}").into());
        }
        if let Some(c) = &self.cpus {
            a.push(
                format!(
                    "cpus={}",
                    c.iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
                .into(),
            );
        }
        a.push(format!("timeout_s={}", self.timeout_s).into());
        a.push(format!("stream={}", self.stream).into());
        a.push(format!("base={}", self.base).into());
        a.push(format!("sync={}", u8::from(self.sync)).into());
        // Last, since a path may hold anything, '=' included.
        let mut f = std::ffi::OsString::from("file=");
        f.push(&self.file);
        a.push(f);
        a
    }

    fn from_args(args: &[std::ffi::OsString]) -> Result<CellSpec, String> {
        let mut imp = None;
        let mut workload = None;
        let mut depth = None;
        let mut file = None;
        let mut size = None;
        let mut duration = None;
        let mut ios = None;
        let mut cpus = None;
        let mut timeout_s = 600;
        let (mut stream, mut base, mut sync) = (0, 0, false);
        for a in args {
            let bytes = a.as_bytes();
            let Some(eq) = bytes.iter().position(|&b| b == b'=') else {
                return Err(format!("bad cell argument {a:?}"));
            };
            let key = String::from_utf8_lossy(&bytes[..eq]).into_owned();
            if key == "file" {
                file = Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
                    &bytes[eq + 1..],
                )));
                continue;
            }
            let val = String::from_utf8_lossy(&bytes[eq + 1..]).into_owned();
            let num = || {
                val.parse::<u64>()
                    .map_err(|_| format!("bad cell argument {key}={val}"))
            };
            match key.as_str() {
                "impl" => imp = Some(Impl::by_name(&val).ok_or(format!("unknown impl {val}"))?),
                "workload" => {
                    workload =
                        Some(workload_by_name(&val).ok_or(format!("unknown workload {val}"))?)
                }
                "depth" => depth = Some(num()? as usize),
                "size" => size = Some(num()?),
                "duration_ns" => duration = Some(Duration::from_nanos(num()?)),
                "ios" => ios = Some(num()?),
                "cpus" => {
                    cpus = Some(
                        val.split(',')
                            .map(|c| c.parse::<usize>().map_err(|_| format!("bad cpu {c}")))
                            .collect::<Result<Vec<_>, _>>()?,
                    )
                }
                "timeout_s" => timeout_s = num()? as u32,
                "stream" => stream = num()? as usize,
                "base" => base = num()?,
                "sync" => sync = num()? != 0,
                _ => return Err(format!("unknown cell argument {key}")),
            }
        }
        let mut workload: Workload = workload.ok_or("no workload")?;
        if let Some(d) = depth {
            if d == 0 {
                return Err("depth 0".into());
            }
            workload.depth = d;
        }
        if duration.is_none() && ios.is_none() {
            return Err("neither duration_ns nor ios".into());
        }
        Ok(CellSpec {
            imp: imp.ok_or("no impl")?,
            workload,
            file: file.ok_or("no file")?,
            size: size.ok_or("no size")?,
            duration,
            ios,
            cpus,
            timeout_s,
            stream,
            base,
            sync,
        })
    }
}

/// Why a cell produced no numbers.
enum CellError {
    /// The implementation is not available here (kernel refusal, preload not active).
    Na(String),
    /// It ran and misbehaved, or the setup broke.
    Failed(String),
}

fn failed(e: impl Into<String>) -> CellError {
    CellError::Failed(e.into())
}

/// Entry point of a cell child; returns the process exit code.
pub fn cell_main(args: &[std::ffi::OsString]) -> i32 {
    let (status, body, code) = match CellSpec::from_args(args) {
        Err(e) => (
            "failed",
            json!({ "reason": format!("bad cell spec: {e}") }),
            2,
        ),
        Ok(spec) => {
            // A lost completion would hang forever; SIGALRM's default action
            // ends the process and the parent reports the cell as failed.
            // SAFETY: alarm has no preconditions.
            unsafe { libc::alarm(spec.timeout_s) };
            match run(&spec) {
                Ok(v) => ("ok", v, 0),
                Err(CellError::Na(r)) => ("na", json!({ "reason": r }), 0),
                Err(CellError::Failed(r)) => ("failed", json!({ "reason": r }), 1),
            }
        }
    };
    let mut body = body;
    if let Value::Object(m) = &mut body {
        m.insert("status".into(), status.into());
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{RESULT_PREFIX}{body}");
    let _ = out.flush();
    code
}

fn pin(cpus: &[usize]) -> Result<(), CellError> {
    // SAFETY: cpu_set_t is plain data; CPU_SET indexes are < CPU_SETSIZE (checked
    // by the parent's option parsing); sched_setaffinity reads the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c >= libc::CPU_SETSIZE as usize {
                return Err(failed(format!("cpu {c} out of range")));
            }
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(failed(format!(
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

fn open_file(spec: &CellSpec) -> Result<i32, CellError> {
    let mut flags = libc::O_CLOEXEC;
    flags |= match spec.workload.pattern {
        Pattern::CachedRead | Pattern::ColdRead => libc::O_RDONLY,
        Pattern::DirectRead => libc::O_RDONLY | libc::O_DIRECT,
        Pattern::WriteFsync | Pattern::CachedWrite => libc::O_WRONLY,
    };
    let path = CString::new(spec.file.as_os_str().as_bytes())
        .map_err(|_| failed("file path holds a NUL byte"))?;
    // SAFETY: a NUL-terminated path; the fd is owned by this process until exit.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(failed(format!(
            "open {}: {}",
            spec.file.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(fd)
}

fn make_engine(imp: Impl, fd: i32, w: &Workload) -> Result<Box<dyn Engine>, CellError> {
    let bufs = Buffers::new(w.depth, w.block).map_err(failed)?;
    Ok(match imp {
        Impl::Glibc | Impl::Paio => Box::new(PosixAio::new(fd, bufs, w.depth)),
        Impl::IoSubmit => Box::new(KernelAio::new(fd, bufs, w.depth).map_err(CellError::Na)?),
        Impl::IoUring => Box::new(Uring::new(fd, bufs, w.depth).map_err(CellError::Na)?),
    })
}

/// The sizes rows time every submitting call, and read the CPU clock around
/// every call from 1 MiB up and every 32nd below (where its cost would show).
fn submit_timing(w: &Workload) -> Option<SubmitTiming> {
    (w.family == Family::Sizes).then_some(SubmitTiming {
        cpu_every: if w.block >= 1 << 20 { 1 } else { 32 },
    })
}

/// Warm-up, then the measured phase, for one submitting thread. `start` runs
/// between the two and `stop` right after the measured phase, before the
/// engine is torn down (io_destroy alone can take tens of milliseconds): that
/// is where the process-wide clocks start and stop. Both run exactly once on
/// every path, so threads meeting at a barrier there never wait forever.
/// `start` may return when the measured phase ends (a group's common end);
/// else it lasts `spec.duration` from then.
fn worker(
    spec: &CellSpec,
    thread: usize,
    engine: Result<Box<dyn Engine>, CellError>,
    start: &dyn Fn() -> Option<Instant>,
    stop: &dyn Fn(),
    mut sampler: Option<&mut ThreadSampler>,
) -> Result<PhaseStats, CellError> {
    let w = &spec.workload;
    let mut engine = match engine {
        Ok(e) => e,
        Err(e) => {
            start();
            stop();
            return Err(e);
        }
    };
    let mut gen = OpGen::new(w, spec.size, spec.stream + thread).at(spec.base);
    let blocks = spec.size / w.block as u64;
    let cold = w.pattern == Pattern::ColdRead;
    // Warm-up: start helper threads, rings and caches alike for everyone. A cold
    // run keeps it tiny so that the measured reads still miss the cache.
    let warm = match (spec.ios, spec.duration) {
        (Some(n), _) => Limit {
            ios: Some(n.min(2 * w.depth as u64).max(1)),
            until: None,
        },
        _ if cold => Limit {
            ios: Some(2 * w.depth as u64),
            until: None,
        },
        (None, Some(d)) => Limit {
            ios: None,
            until: Some(Instant::now() + (d / 5).min(Duration::from_millis(100))),
        },
        (None, None) => Limit {
            ios: Some(1),
            until: None,
        },
    };
    let warm_result = drive(
        engine.as_mut(),
        &mut gen,
        w.depth,
        w.block,
        warm,
        submit_timing(w),
        sampler.as_deref_mut(),
    );
    let until = start();
    // Every submitting thread and the helpers the warm-up started are alive here.
    if let Some(s) = sampler.as_deref_mut() {
        s.sample();
    }
    if let Err(e) = warm_result {
        stop();
        // I/O may still be in flight into the engine's buffers: leak them.
        std::mem::forget(engine);
        return Err(failed(format!("warm-up: {e}")));
    }
    let share = |n: u64| n / w.threads as u64 + u64::from((thread as u64) < n % w.threads as u64);
    let limit = Limit {
        ios: match spec.ios {
            Some(n) => Some(share(n)),
            // Cold runs stop at a quarter of the file's blocks, so most reads
            // still go to the disk.
            None if cold => Some(share((blocks / 4).max(1))),
            None => None,
        },
        until: until.or_else(|| spec.duration.map(|d| Instant::now() + d)),
    };
    let result = drive(
        engine.as_mut(),
        &mut gen,
        w.depth,
        w.block,
        limit,
        submit_timing(w),
        sampler.as_deref_mut(),
    );
    if let Some(s) = sampler {
        s.sample();
    }
    stop();
    if result.is_err() {
        std::mem::forget(engine);
    }
    result.map_err(failed)
}

fn run(spec: &CellSpec) -> Result<Value, CellError> {
    if let Some(c) = &spec.cpus {
        pin(c)?;
    }
    let provider = aio_read_provider().map_err(failed)?;
    match spec.imp {
        Impl::Paio if !is_libpaio(&provider) => {
            return Err(CellError::Na(format!(
                "LD_PRELOAD of libpaio.so did not take effect: aio_read resolves into {provider}"
            )))
        }
        Impl::Glibc if is_libpaio(&provider) => {
            return Err(failed(format!(
                "the glibc column's aio_read resolves into {provider} (LD_PRELOAD leaked?)"
            )))
        }
        _ => {}
    }
    let w = spec.workload;
    if w.threads == 0 || w.depth == 0 {
        return Err(failed("zero threads or depth"));
    }
    let fd = open_file(spec)?;
    let mut sampler = ThreadSampler::default();
    sampler.sample();
    let own_threads = if w.threads > 1 { 1 + w.threads } else { 1 };

    if spec.sync && w.threads != 1 {
        return Err(failed("a group member has one submitting thread"));
    }
    /// When, by `Instant` and by `CLOCK_MONOTONIC` (which the parent compares
    /// across processes), and the process's usage then.
    type Mark = Cell<Option<(Instant, u64, crate::sampler::Usage)>>;
    let mark = || Some((Instant::now(), crate::procs::monotonic_ns(), usage()));
    let (begin, end): (Mark, Mark) = (Cell::new(None), Cell::new(None));
    let mut hist = Histogram::default();
    let mut submit = Histogram::default();
    let mut submit_cpu = Histogram::default();
    let (mut ios, mut fsyncs) = (0u64, 0u64);
    let mut errors = Vec::new();
    if w.threads == 1 {
        let engine = make_engine(spec.imp, fd, &w);
        let start = || {
            let until = if spec.sync {
                crate::procs::await_go()
            } else {
                None
            };
            begin.set(mark());
            until
        };
        let stop = || end.set(mark());
        match worker(spec, 0, engine, &start, &stop, Some(&mut sampler)) {
            Ok(s) => {
                hist.merge(&s.hist);
                submit.merge(&s.submit);
                submit_cpu.merge(&s.submit_cpu);
                ios += s.ios;
                fsyncs += s.fsyncs;
            }
            Err(e) => errors.push(e),
        }
    } else {
        let barrier = Barrier::new(w.threads + 1);
        let results: Vec<(Result<PhaseStats, CellError>, Option<ThreadSampler>)> =
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..w.threads)
                    .map(|t| {
                        let barrier = &barrier;
                        s.spawn(move || {
                            let mut own = (t == 0).then(ThreadSampler::default);
                            let engine = make_engine(spec.imp, fd, &w);
                            let meet = || {
                                barrier.wait();
                            };
                            let start = || {
                                meet();
                                None
                            };
                            let r = worker(spec, t, engine, &start, &meet, own.as_mut());
                            (r, own)
                        })
                    })
                    .collect();
                barrier.wait();
                begin.set(mark());
                barrier.wait();
                end.set(mark());
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| (Err(failed("a submitting thread panicked")), None))
                    })
                    .collect()
            });
        for (r, own) in results {
            if let Some(own) = own {
                sampler.merge(&own);
            }
            match r {
                Ok(s) => {
                    hist.merge(&s.hist);
                    submit.merge(&s.submit);
                    submit_cpu.merge(&s.submit_cpu);
                    ios += s.ios;
                    fsyncs += s.fsyncs;
                }
                Err(e) => errors.push(e),
            }
        }
    }
    sampler.sample();
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let (t0, mono0, u0) = begin
        .get()
        .ok_or_else(|| failed("measured phase never started"))?;
    let end = end
        .get()
        .ok_or_else(|| failed("measured phase never ended"))?;
    let elapsed = end.0.duration_since(t0).as_secs_f64();
    let cpu = end.2.cpu.saturating_sub(u0.cpu).as_secs_f64();
    let us = |ns: u64| ns as f64 / 1000.0;
    let timed = w.family == Family::Sizes && submit.count() > 0;
    let submit_us = |ns: u64| if timed { json!(us(ns)) } else { Value::Null };
    let cpu_timed = timed && submit_cpu.count() > 0;
    let cpu_us = |ns: u64| {
        if cpu_timed {
            json!(us(ns))
        } else {
            Value::Null
        }
    };
    Ok(json!({
        "impl": spec.imp.name(),
        "workload": w.name,
        "depth": w.depth,
        "threads": w.threads,
        "ios": ios,
        "fsyncs": fsyncs,
        "hist_count": hist.count(),
        "elapsed_s": elapsed,
        "iops": if elapsed > 0.0 { ios as f64 / elapsed } else { 0.0 },
        "p50_us": us(hist.quantile(0.50)),
        "p99_us": us(hist.quantile(0.99)),
        "max_us": us(hist.max()),
        "block": w.block,
        "bytes_per_s": if elapsed > 0.0 { (ios * w.block as u64) as f64 / elapsed } else { 0.0 },
        "submit_count": submit.count(),
        "submit_p50_us": submit_us(submit.quantile(0.50)),
        "submit_p99_us": submit_us(submit.quantile(0.99)),
        "submit_max_us": submit_us(submit.max()),
        "submit_cpu_count": submit_cpu.count(),
        "submit_cpu_p50_us": cpu_us(submit_cpu.quantile(0.50)),
        "submit_cpu_max_us": cpu_us(submit_cpu.max()),
        "cpu_s": cpu,
        "cpu_us_per_io": if ios > 0 { cpu * 1e6 / ios as f64 } else { 0.0 },
        "threads_own": own_threads,
        "threads_peak": sampler.peak(),
        "threads_extra": sampler.peak().saturating_sub(own_threads),
        "threads_created": sampler.seen().saturating_sub(own_threads),
        "maxrss_kib": end.2.maxrss_kib,
        "pid": std::process::id(),
        "begin_mono_ns": mono0,
        "end_mono_ns": end.1,
        "aio_read_from": provider,
    }))
}
