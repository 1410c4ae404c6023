//! The parent side: prepares a test file in each test directory, runs every
//! cell as a child process (interleaved rep by rep, the implementation order
//! rotated each rep; with `--busy`, beside CPU-bound processes) and collects
//! what the children report.

use std::ffi::CString;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::busy::Busy;
use crate::cell::{CellSpec, RESULT_PREFIX};
use crate::cleanup::{set_child, TempFile};
use crate::cli::Options;
use crate::fsinfo::{self, FsInfo};
use crate::workload::{Family, Impl, Pattern, Workload, WRITES_PER_FSYNC};

/// Data I/Os per cell in `--smoke` mode.
pub const SMOKE_IOS: u64 = 256;

/// Why the run could not go on.
#[derive(Debug)]
pub enum RunError {
    /// The user's input cannot work (exit 2).
    Input(String),
    /// The machine failed us (exit 1).
    Runtime(String),
}

/// Numbers from one successful cell.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub ios: u64,
    pub fsyncs: u64,
    pub hist_count: u64,
    pub iops: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_io: f64,
    pub threads_extra: u64,
    pub threads_created: u64,
    pub maxrss_kib: u64,
    /// Bytes moved per second of the measured phase.
    pub bytes_per_s: f64,
    /// The submitting call's duration (the sizes workloads; NaN otherwise).
    pub submit_p50_us: f64,
    pub submit_p99_us: f64,
    pub submit_max_us: f64,
    /// The longest CPU time inside a sampled submitting call (NaN: not measured).
    pub submit_cpu_max_us: f64,
    /// A procs workload's group of processes (the numbers above are theirs together).
    pub group: Option<crate::procs::GroupStats>,
    /// The child's whole result object, for `--json`.
    pub raw: Value,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Ok(Metrics),
    /// Not available here; the reason is shown in place of numbers.
    Na(String),
    /// Ran and failed: the bench exits non-zero.
    Failed(String),
}

pub struct ImplRuns {
    pub imp: Impl,
    /// One entry per rep that ran; an `Na` ends the column early.
    pub runs: Vec<Outcome>,
}

pub struct WorkloadResult {
    pub workload: Workload,
    /// Index into [`RunResult::targets`]: where it ran.
    pub target: usize,
    /// Why the whole row did not run.
    pub skipped: Option<String>,
    /// A caveat about how it ran.
    pub note: Option<String>,
    pub impls: Vec<ImplRuns>,
}

/// A test directory and the filesystem it is on.
pub struct Target {
    pub dir: PathBuf,
    pub fs: FsInfo,
}

pub struct RunResult {
    pub lib: Option<PathBuf>,
    pub file_size: u64,
    pub targets: Vec<Target>,
    /// CPU-bound processes that ran beside each measured child.
    pub busy: usize,
    /// Workload by workload, and within one workload target by target.
    pub workloads: Vec<WorkloadResult>,
    pub wall_s: f64,
}

impl RunResult {
    /// How the report names target `t`: the filesystem, or the directory too
    /// when two targets share a filesystem type.
    pub fn label(&self, t: usize) -> String {
        let fs = &self.targets[t].fs.name;
        if self.targets.iter().filter(|o| &o.fs.name == fs).count() > 1 {
            format!("{fs}:{}", self.targets[t].dir.display())
        } else {
            fs.clone()
        }
    }
}

/// `--lib`, else `$PAIO_SO`, else `libpaio.so` beside this executable, else
/// `target/release/libpaio.so` under the current directory.
pub fn locate_lib(opts: &Options) -> Result<PathBuf, RunError> {
    if let Some(p) = &opts.lib {
        if !p.is_file() {
            return Err(RunError::Input(format!(
                "--lib {}: no such file",
                p.display()
            )));
        }
        return Ok(p.canonicalize().unwrap_or_else(|_| p.clone()));
    }
    if let Some(p) = std::env::var_os("PAIO_SO").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(RunError::Input(format!(
                "PAIO_SO={}: no such file",
                p.display()
            )));
        }
        return Ok(p.canonicalize().unwrap_or(p));
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        tried.push(dir.join("libpaio.so"));
    }
    tried.push(PathBuf::from("target/release/libpaio.so"));
    for p in &tried {
        if p.is_file() {
            return Ok(p.canonicalize().unwrap_or_else(|_| p.clone()));
        }
    }
    Err(RunError::Input(format!(
        "libpaio.so not found (looked for {}).\n\
         Build it with `cargo build --release` in the paio workspace, or name one with \
         --lib PATH or PAIO_SO=PATH (or leave the paio column out with --impls).",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Whether the filesystem holding `path` accepts `O_DIRECT`; `Err` says why not.
fn direct_io_supported(path: &Path) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "path holds a NUL byte".to_string())?;
    // SAFETY: NUL-terminated path; the descriptor is closed right away.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECT | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Whether `echo 3 > /proc/sys/vm/drop_caches` can work here; `Err` says why not.
fn can_drop_caches() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/vm/drop_caches")
        .map(drop)
        .map_err(|e| format!("needs root and a writable /proc/sys/vm/drop_caches ({e})"))
}

fn drop_caches() -> Result<(), String> {
    // SAFETY: sync(2) has no preconditions; it flushes what the write workload left dirty.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3").map_err(|e| format!("drop_caches: {e}"))
}

/// Fill the test file with non-zero data (holes would make reads free) and
/// flush it, so O_DIRECT and cold reads hit the device.
fn fill(file: &mut std::fs::File, size: u64, dir: &Path) -> Result<(), RunError> {
    let chunk: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8 ^ 0x5A).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n]).map_err(|e| {
            RunError::Runtime(format!(
                "writing the {} MiB test file in {}: {e}",
                size >> 20,
                dir.display()
            ))
        })?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| RunError::Runtime(format!("fsync of the test file: {e}")))
}

/// Read the whole file once so the cached workloads find it in the page cache.
fn warm_cache(path: &Path) -> Result<(), RunError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| RunError::Runtime(format!("open {}: {e}", path.display())))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RunError::Runtime(format!("read {}: {e}", path.display()))),
        }
    }
}

/// The command that runs `spec` in a child: stdin closed, stdout and stderr
/// piped, `LD_PRELOAD` for the paio column only, killed if we die.
pub fn cell_command(exe: &Path, spec: &CellSpec, lib: Option<&Path>) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(spec.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match (spec.imp, lib) {
        (Impl::Paio, Some(lib)) => {
            cmd.env("LD_PRELOAD", lib);
        }
        _ => {
            cmd.env_remove("LD_PRELOAD");
        }
    }
    // SAFETY: prctl is async-signal-safe; the closure touches no shared state.
    // The child dies with us if we are killed without a chance to clean up.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// Run one cell in a child process and read its result line.
fn run_cell(exe: &Path, spec: &CellSpec, lib: Option<&Path>) -> Outcome {
    let child = match cell_command(exe, spec, lib).spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot start {}: {e}", exe.display())),
    };
    set_child(child.id());
    let out = child.wait_with_output();
    set_child(0);
    let out = match out {
        Ok(o) => o,
        Err(e) => return Outcome::Failed(format!("waiting for the child: {e}")),
    };
    cell_outcome(
        spec,
        out.status,
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    )
}

/// What a cell child's exit status and output say.
pub fn cell_outcome(
    spec: &CellSpec,
    status: std::process::ExitStatus,
    stdout: &str,
    stderr: &str,
) -> Outcome {
    let tail = || {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; stderr: {tail}")
        }
    };
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix(RESULT_PREFIX)) else {
        let how = match (status.code(), status.signal()) {
            (_, Some(libc::SIGALRM)) => format!("timed out after {} s", spec.timeout_s),
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(code), _) => format!("exited with status {code} without a result"),
            _ => "ended without a result".to_string(),
        };
        return Outcome::Failed(format!("{how}{}", tail()));
    };
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(format!("unreadable result line ({e}): {line}")),
    };
    let reason = || {
        v.get("reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason given")
            .to_string()
    };
    match v.get("status").and_then(Value::as_str) {
        Some("ok") => {}
        // The loader says why a preload was ignored ("cannot be preloaded").
        Some("na") => return Outcome::Na(format!("{}{}", reason(), tail())),
        _ => return Outcome::Failed(format!("{}{}", reason(), tail())),
    }
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let m = Metrics {
        ios: u("ios"),
        fsyncs: u("fsyncs"),
        hist_count: u("hist_count"),
        iops: f("iops"),
        p50_us: f("p50_us"),
        p99_us: f("p99_us"),
        cpu_us_per_io: f("cpu_us_per_io"),
        threads_extra: u("threads_extra"),
        threads_created: u("threads_created"),
        maxrss_kib: u("maxrss_kib"),
        bytes_per_s: f("bytes_per_s"),
        submit_p50_us: f("submit_p50_us"),
        submit_p99_us: f("submit_p99_us"),
        submit_max_us: f("submit_max_us"),
        submit_cpu_max_us: f("submit_cpu_max_us"),
        group: None,
        raw: v,
    };
    // Every started operation must have been seen complete exactly once.
    if m.hist_count != m.ios + m.fsyncs || m.ios == 0 {
        return Outcome::Failed(format!(
            "I/O accounting does not add up: {} I/Os + {} fsyncs, {} completions timed",
            m.ios, m.fsyncs, m.hist_count
        ));
    }
    if let Some(want) = spec.ios {
        let fsyncs = if spec.workload.pattern == Pattern::WriteFsync {
            want / WRITES_PER_FSYNC
        } else {
            0
        };
        if m.ios != want || m.fsyncs != fsyncs {
            return Outcome::Failed(format!(
                "asked for {want} I/Os and {fsyncs} fsyncs, got {} and {}",
                m.ios, m.fsyncs
            ));
        }
    }
    Outcome::Ok(m)
}

/// Progress on stderr: one rewritten line on a terminal, a line per workload otherwise.
struct Progress {
    tty: bool,
    done: usize,
    total: usize,
    started: Instant,
}

impl Progress {
    fn step(&mut self, w: &str, rep: usize, reps: usize, imp: Impl) {
        if self.tty {
            let elapsed = self.started.elapsed().as_secs_f64();
            let left = if self.done > 0 {
                format!(
                    "~{:.0}s left",
                    elapsed / self.done as f64 * (self.total - self.done) as f64
                )
            } else {
                String::new()
            };
            eprint!(
                "\r\x1b[K[{:>3}/{}] {elapsed:>5.1}s {left:>10}  {w}  rep {}/{reps}  {}",
                self.done + 1,
                self.total,
                rep + 1,
                imp.name()
            );
            let _ = std::io::stderr().flush();
        }
        self.done += 1;
    }

    /// `on`: where it runs, when there are several directories.
    fn workload(&self, w: &Workload, on: &str, reps: usize, impls: usize, skipped: Option<&str>) {
        if self.tty {
            return;
        }
        match skipped {
            Some(why) => eprintln!("paio-bench: {}{on}: skipped: {why}", w.name),
            None => eprintln!(
                "paio-bench: {}{on} ({reps} rep(s) x {impls} implementations)",
                w.name
            ),
        }
    }

    fn finish(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

pub fn run(opts: &Options) -> Result<RunResult, RunError> {
    let started = Instant::now();
    let lib = if opts.impls.contains(&Impl::Paio) {
        Some(locate_lib(opts)?)
    } else {
        None
    };
    let exe = std::env::current_exe()
        .map_err(|e| RunError::Runtime(format!("cannot find my own executable: {e}")))?;

    let flag = if opts.dirs.len() > 1 {
        "--dirs"
    } else {
        "--dir"
    };
    for dir in &opts.dirs {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(RunError::Input(format!(
                    "{flag} {}: not a directory",
                    dir.display()
                )))
            }
            Err(e) => return Err(RunError::Input(format!("{flag} {}: {e}", dir.display()))),
        }
    }
    let wants = |p: Pattern| opts.workloads.iter().any(|w| w.pattern == p);
    /// A test directory ready to run in.
    struct Prepared {
        temp: TempFile,
        fs: FsInfo,
        /// Whether O_DIRECT works there; `Err` says why not.
        direct: Result<(), String>,
    }
    let mut prepared = Vec::with_capacity(opts.dirs.len());
    let mut files = Vec::with_capacity(opts.dirs.len());
    for dir in &opts.dirs {
        let (temp, file) = TempFile::create(dir).map_err(|e| {
            RunError::Input(format!(
                "cannot create the test file in {}: {e}",
                dir.display()
            ))
        })?;
        let fs = fsinfo::probe(dir).unwrap_or_else(|e| FsInfo {
            magic: 0,
            name: format!("unknown ({e})"),
            mount: None,
        });
        let direct = if wants(Pattern::DirectRead) {
            direct_io_supported(temp.path())
        } else {
            Ok(())
        };
        if let Err(why) = &direct {
            // With several directories the row of this one says why instead.
            if opts.workloads_explicit && opts.dirs.len() == 1 {
                let direct: Vec<&str> = opts
                    .workloads
                    .iter()
                    .filter(|w| w.pattern == Pattern::DirectRead)
                    .map(|w| w.name)
                    .collect();
                return Err(RunError::Input(format!(
                    "the filesystem under {} does not support O_DIRECT ({why}); give --dir on a \
                     disk filesystem, or leave {} out of --workloads",
                    dir.display(),
                    direct.join(", ")
                )));
            }
        }
        prepared.push(Prepared { temp, fs, direct });
        files.push(file);
    }
    let cold = if !wants(Pattern::ColdRead) || opts.smoke {
        Ok(())
    } else {
        can_drop_caches()
    };

    for ((dir, p), mut file) in opts.dirs.iter().zip(&prepared).zip(files) {
        eprintln!(
            "paio-bench: writing a {} MiB test file in {} ({})",
            opts.size >> 20,
            dir.display(),
            p.fs.name
        );
        fill(&mut file, opts.size, dir)?;
    }

    let runnable = |w: &Workload, t: usize| -> Option<String> {
        if w.block as u64 > opts.size {
            return Some(format!(
                "its {} MiB requests need a test file at least that large (--size {}M or more)",
                w.block >> 20,
                w.block >> 20
            ));
        }
        match w.pattern {
            Pattern::DirectRead => prepared[t]
                .direct
                .clone()
                .err()
                .map(|e| format!("no O_DIRECT on {} ({e})", opts.dirs[t].display())),
            Pattern::ColdRead => cold.clone().err(),
            _ => None,
        }
    };
    let with_depth = |base: &Workload| {
        let mut w = *base;
        // The sizes rows are defined at queue depth 1: their submit time is one call's.
        if let (Some(d), Family::Suite | Family::Procs) = (opts.depth, w.family) {
            w.depth = d;
        }
        w
    };
    let mut progress = Progress {
        tty: std::io::stderr().is_terminal(),
        done: 0,
        total: opts
            .workloads
            .iter()
            .map(|b| {
                let w = with_depth(b);
                (0..prepared.len())
                    .filter(|&t| runnable(&w, t).is_none())
                    .count()
            })
            .sum::<usize>()
            * opts.reps
            * opts.impls.len(),
        started,
    };
    let targets: Vec<Target> = opts
        .dirs
        .iter()
        .zip(&prepared)
        .map(|(dir, p)| Target {
            dir: dir.clone(),
            fs: p.fs.clone(),
        })
        .collect();
    let mut results = Vec::new();
    for base in &opts.workloads {
        let w = with_depth(base);
        for (t, target) in prepared.iter().enumerate() {
            let skipped = runnable(&w, t);
            let on = if prepared.len() > 1 {
                format!(" on {} ({})", opts.dirs[t].display(), target.fs.name)
            } else {
                String::new()
            };
            progress.workload(&w, &on, opts.reps, opts.impls.len(), skipped.as_deref());
            let mut result = WorkloadResult {
                workload: w,
                target: t,
                skipped: skipped.clone(),
                note: match w.pattern {
                    Pattern::ColdRead if opts.smoke => {
                        Some("page cache not dropped in --smoke".into())
                    }
                    Pattern::ColdRead if fsinfo::is_memory_fs(target.fs.magic) => Some(format!(
                        "{} keeps its files in memory, so dropping the page cache leaves them cached",
                        target.fs.name
                    )),
                    Pattern::ColdRead => {
                        Some("stops at a quarter of the file's blocks so most reads miss".into())
                    }
                    Pattern::WriteFsync => Some(
                        "IOPS and CPU per 64 KiB write; latency covers writes and fsyncs".into(),
                    ),
                    _ => None,
                },
                impls: opts
                    .impls
                    .iter()
                    .map(|&imp| ImplRuns {
                        imp,
                        runs: Vec::new(),
                    })
                    .collect(),
            };
            if skipped.is_none() {
                if matches!(w.pattern, Pattern::CachedRead | Pattern::CachedWrite) {
                    warm_cache(target.temp.path())?;
                }
                for rep in 0..opts.reps {
                    let n = result.impls.len();
                    for k in 0..n {
                        // Rotate the order each rep so no column always goes first.
                        let col = &mut result.impls[(k + rep) % n];
                        progress.step(w.name, rep, opts.reps, col.imp);
                        if matches!(col.runs.last(), Some(Outcome::Na(_))) {
                            continue;
                        }
                        if w.pattern == Pattern::ColdRead && !opts.smoke {
                            drop_caches().map_err(RunError::Runtime)?;
                        }
                        let spec = CellSpec {
                            imp: col.imp,
                            workload: w,
                            file: target.temp.path().to_path_buf(),
                            size: opts.size,
                            duration: (!opts.smoke).then_some(opts.duration),
                            ios: opts.smoke.then_some(SMOKE_IOS),
                            cpus: opts.cpus.clone(),
                            timeout_s: if opts.smoke {
                                120
                            } else {
                                opts.duration.as_secs() as u32 + 120
                            },
                            stream: 0,
                            base: 0,
                            sync: false,
                        };
                        // Started for each cell and gone before the next, so
                        // the file preparation between cells runs unloaded.
                        let busy = Busy::start(&exe, opts.busy, opts.cpus.as_deref())
                            .map_err(RunError::Runtime)?;
                        col.runs.push(if w.family == Family::Procs {
                            crate::procs::run_group(&exe, &spec, lib.as_deref())
                        } else {
                            run_cell(&exe, &spec, lib.as_deref())
                        });
                        drop(busy);
                    }
                }
            }
            results.push(result);
        }
    }
    progress.finish();
    drop(prepared);
    Ok(RunResult {
        lib,
        file_size: opts.size,
        targets,
        busy: opts.busy,
        workloads: results,
        wall_s: started.elapsed().as_secs_f64(),
    })
}
