//! The environment matrix: every C program of `ctests/matrix/` run on glibc
//! and under paio, side by side, in the environments real users have.
//!
//! A program's first line says where it runs:
//!
//! * `/* matrix: filesystems */` — once per filesystem of [`FILESYSTEMS`]
//!   (ext4, xfs and btrfs on loop devices made here, tmpfs, ramfs, overlayfs,
//!   FUSE by bindfs, with and without `-o direct_io`);
//! * `/* matrix: once */` — once, on the scratch filesystem (environment
//!   `scratch`);
//! * `/* matrix: setuid */` — once (environment `setuid`): the binary is
//!   copied, made root-owned with mode 4755, and run by the unprivileged
//!   user [`SETUID_USER`] (created with `useradd -r` when absent).
//!
//! Each cell (program × environment) is three runs of the program with one
//! argument, `DIR`, a fresh directory on the filesystem under test (also
//! `TMPDIR`):
//!
//! * `glibc` — the plain binary: the reference;
//! * `paio/threads` — the plain binary under `LD_PRELOAD=libpaio.so`,
//!   `PAIO_BACKEND=threads`;
//! * `paio/default` — the same with `PAIO_BACKEND` unset.
//!
//! A setuid program's runs all use the same root-owned mode-4755 copy, run
//! by [`SETUID_USER`]; its paio runs are preloaded the way a system-wide
//! install does it (the dynamic linker ignores `LD_PRELOAD` in secure
//! execution): `/etc/ld.so.preload` naming libpaio.so, in a private mount
//! namespace where an overlay covers `/etc`, so the machine's `/etc` is
//! never touched ([`SETUID_PRELOAD_SH`]).
//!
//! What a paio run prints on stdout must equal glibc's, leaving out lines
//! that start with `~`, unless the cell is in [`INTENTIONAL`] (there paio's
//! runs must still pass; glibc's run is recorded, not judged). Exit 0 is a
//! pass, 77 a skip (after `SKIP: reason`): a paio run may skip only where
//! glibc skipped. Every paio run writes paio's exit lines
//! (`PAIO_STATS=<run dir>/paio-stats`), and they must name the engine the run
//! asked for and count requests (so paio, not glibc, served the run), as in
//! the scenario suite (`paio_ctests::stats`): `backend=threads` with
//! `PAIO_BACKEND=threads`, `backend=kaio` without fallback otherwise, except
//! for the programs of [`MAY_FALL_BACK`], whose environment makes `io_setup`
//! fail on purpose.
//!
//! Environment of every run: `TMPDIR=DIR`, `MATRIX_ENV` (the environment's
//! name), `MATRIX_BLOCKDEV` (a loop block device of [`BLOCKDEV_MIB`] MiB made
//! for the matrix, with no filesystem, which programs may overwrite; absent
//! where none could be made, and `MATRIX_BLOCKDEV_MISSING` says why).
//! Setuid runs get instead of the usual `PAIO_STATS`:
//! `PAIO_STATS=DIR/paio-stats-secure` (DIR is root's, mode 0755, so the user
//! cannot write there), `MATRIX_USER_UID` (the user running it), and
//! `PAIO_BACKEND` as above; paio must ignore its environment in secure
//! execution, so after each run the harness checks that this file does not
//! exist. (The namespace's own processes, which are not setuid, run without
//! `PAIO_STATS`.)
//!
//! Knobs: `PAIO_MATRIX_FILTER` — comma list of substrings; a cell runs when
//! one is part of its program's or its environment's name;
//! `PAIO_MATRIX_TIMEOUT` — seconds per run (default 30; programs have a
//! shorter watchdog of their own); `PAIO_CTESTS_KEEP=1`
//! keeps the scratch directories; `PAIO_SO` a prebuilt libpaio.so.
//!
//! The summary (programs × environments, each cell pass / skip / FAIL /
//! intentional, then every cell that did not pass with its reason) goes to
//! stderr (`-- --nocapture`) and into the failure message.
//!
//! Run: `cargo test -p paio-ctests --test matrix -- --nocapture`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use paio_ctests::harness::{
    check_paio_run, compared, compile_c, diff, env_list, keep_scratch, run_binary, Launch, Run,
    Status, Style,
};
use paio_ctests::stats::{aio_budget_exhausted, check_stats, check_stats_present, EngineSeen};
use paio_ctests::system::{is_root, sh, system_user, FsKind, FsSpec, LoopDevice, Mounted};

/// Cells where paio differs from glibc on purpose: program, environment
/// (`*` for all) and why. The README's table "In the environment matrix"
/// lists the same programs ([`intentional_cells_match_the_readme`]). A
/// difference caused by a paio defect never belongs here.
const INTENTIONAL: &[(&str, &str, &str)] = &[(
    "fork_child_aio",
    "*",
    "glibc's child inherits the parent's AIO bookkeeping (helper threads that do not exist there): its requests never run",
)];

/// Programs that make no AIO request that paio accepts, so no paio exit
/// line counts requests.
const NO_REQUESTS: &[&str] = &[];

/// Programs whose environment makes `io_setup` fail in some of their
/// processes, so their default-backend runs may show paio's fallback to the
/// pool (`fallback=io_setup:ERRNO`), with why.
const MAY_FALL_BACK: &[(&str, &str)] = &[
    ("sandbox_seccomp", "its seccomp sandboxes deny io_setup"),
    (
        "rlimit_nofile",
        "no descriptor is left for the kernel AIO context (EMFILE)",
    ),
];

fn may_fall_back(program: &str) -> bool {
    MAY_FALL_BACK.iter().any(|(p, _)| *p == program)
}

/// The filesystems of the matrix, in the order of the summary's columns.
const FILESYSTEMS: &[FsSpec] = &[
    FsSpec {
        name: "ext4",
        kind: FsKind::Loop {
            mkfs: &["mkfs.ext4", "-q", "-F"],
            mib: 300,
        },
    },
    FsSpec {
        name: "xfs",
        kind: FsKind::Loop {
            mkfs: &["mkfs.xfs", "-q", "-f"],
            mib: 320,
        },
    },
    FsSpec {
        name: "btrfs",
        kind: FsKind::Loop {
            mkfs: &["mkfs.btrfs", "-q", "-f"],
            mib: 300,
        },
    },
    FsSpec {
        name: "tmpfs",
        kind: FsKind::Memory {
            options: "size=128m",
        },
    },
    FsSpec {
        name: "ramfs",
        kind: FsKind::Memory {
            options: "mode=0755",
        },
    },
    FsSpec {
        name: "overlay",
        kind: FsKind::Overlay,
    },
    FsSpec {
        name: "fuse",
        kind: FsKind::Bindfs { options: &[] },
    },
    FsSpec {
        name: "fuse-direct",
        kind: FsKind::Bindfs {
            options: &["-o", "direct_io"],
        },
    },
];

/// The environment of `once` programs: the scratch filesystem.
const ONCE_ENV: &str = "scratch";
/// The environment of `setuid` programs.
const SETUID_ENV: &str = "setuid";
/// The unprivileged user that runs setuid programs.
const SETUID_USER: &str = "paio-matrix";
/// `setuid-preload BIN ARGS...`, run as root: in a private mount namespace,
/// an overlay on `/etc` (upper directory `$MATRIX_NS_DIR`) gets an
/// `ld.so.preload` naming `$MATRIX_PRELOAD`; after checking that a new
/// process maps libpaio, BIN runs as `$MATRIX_RUN_UID`/`$MATRIX_RUN_GID`
/// with `PAIO_STATS` (taken away from everything before it). Exit 125 where
/// the namespace cannot be made.
const SETUID_PRELOAD_SH: &str = r#"#!/bin/sh
set -eu
stats=${PAIO_STATS-}
unset PAIO_STATS
export stats
exec unshare --mount --propagation private sh -c '
set -eu
ns=$MATRIX_NS_DIR
mkdir -p "$ns/upper" "$ns/work"
mount -t overlay paio-matrix-etc -o "lowerdir=/etc,upperdir=$ns/upper,workdir=$ns/work" /etc || exit 125
printf "%s\n" "$MATRIX_PRELOAD" > /etc/ld.so.preload
grep -q libpaio /proc/self/maps || { echo "setuid-preload: libpaio not mapped" >&2; exit 125; }
exec env PAIO_STATS="$stats" setpriv --reuid="$MATRIX_RUN_UID" --regid="$MATRIX_RUN_GID" --clear-groups -- "$@"
' sh "$@"
"#;

/// Size of the raw loop block device given to programs.
const BLOCKDEV_MIB: u64 = 16;

// ---------------------------------------------------------------- programs

/// Where a program runs, from its first line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Where {
    Filesystems,
    Once,
    Setuid,
}

struct Program {
    name: String,
    src: PathBuf,
    kind: Where,
}

fn matrix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("matrix")
}

/// `/* matrix: KIND */` on the first line of `text`.
fn declared_kind(text: &str) -> Result<Where, String> {
    let first = text.lines().next().unwrap_or("");
    let kind = first
        .trim()
        .strip_prefix("/* matrix:")
        .and_then(|r| r.strip_suffix("*/"))
        .map(str::trim);
    match kind {
        Some("filesystems") => Ok(Where::Filesystems),
        Some("once") => Ok(Where::Once),
        Some("setuid") => Ok(Where::Setuid),
        _ => Err(format!(
            "first line {first:?} must be `/* matrix: filesystems */`, `/* matrix: once */` or `/* matrix: setuid */`"
        )),
    }
}

/// Every `ctests/matrix/*.c`, by name; a program whose first line declares
/// no kind is an error.
fn programs() -> Result<Vec<Program>, String> {
    let mut out = Vec::new();
    let dir = matrix_dir();
    let entries = fs::read_dir(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".c"))
        else {
            continue;
        };
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let kind = declared_kind(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(Program {
            name: name.to_owned(),
            src: path,
            kind,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

// ---------------------------------------------------------------- cells

/// How one cell ended.
#[derive(Clone, Debug)]
enum Outcome {
    Pass,
    Skip(String),
    Fail(String),
    Intentional(String),
}

impl Outcome {
    fn short(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Skip(_) => "skip",
            Outcome::Fail(_) => "FAIL",
            Outcome::Intentional(_) => "intent",
        }
    }
}

fn intentional(program: &str, env: &str) -> Option<&'static str> {
    INTENTIONAL
        .iter()
        .find(|(p, e, _)| *p == program && (*e == "*" || *e == env))
        .map(|(_, _, r)| *r)
}

/// `PAIO_MATRIX_FILTER`: a cell runs when one item is part of its
/// program's or environment's name (no filter: every cell).
fn selected(program: &str, env: &str) -> bool {
    let filter = env_list("PAIO_MATRIX_FILTER", &[]);
    filter.is_empty()
        || filter
            .iter()
            .any(|f| program.contains(f.as_str()) || env.contains(f.as_str()))
}

fn run_timeout() -> Duration {
    let secs = std::env::var("PAIO_MATRIX_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

const STYLE: Style = Style {
    width: 14,
    stats_in_summary: true,
    stats_always_in_details: true,
};

/// What the matrix set up once for all cells.
struct Setup {
    scratch: PathBuf,
    so: String,
    blockdev: Result<String, String>,
    user: Result<(u32, u32), String>,
    /// [`SETUID_PRELOAD_SH`], written and tried once.
    preload: Result<PathBuf, String>,
}

/// The program's binary (glibc's AIO; paio comes by preload).
fn compile(p: &Program, setup: &Setup) -> Result<PathBuf, String> {
    let bin = setup.scratch.join(format!("{}.bin", p.name));
    compile_c(&p.src, &bin, None)?;
    Ok(bin)
}

/// The program's binaries, compiled on first use.
fn bins_of<'a>(
    built: &'a mut BTreeMap<String, Result<PathBuf, String>>,
    p: &Program,
    setup: &Setup,
) -> Result<&'a PathBuf, String> {
    built
        .entry(p.name.clone())
        .or_insert_with(|| compile(p, setup))
        .as_ref()
        .map_err(|e| e.clone())
}

/// A copy of `bin` owned by root with mode 4755, in a directory the setuid
/// user can reach.
fn setuid_copy(bin: &Path) -> Result<PathBuf, String> {
    let copy = bin.with_extension("setuid");
    fs::copy(bin, &copy).map_err(|e| format!("copy {}: {e}", bin.display()))?;
    let c = copy.to_string_lossy();
    sh("chown", &["root:root", &c])?;
    sh("chmod", &["4755", &c])?;
    Ok(copy)
}

/// [`SETUID_PRELOAD_SH`] in `scratch`, once tried with `true` as the user
/// (the error says why setuid programs cannot be preloaded here).
fn setuid_preload(scratch: &Path, so: &str, (uid, gid): (u32, u32)) -> Result<PathBuf, String> {
    let script = scratch.join("setuid-preload.sh");
    fs::write(&script, SETUID_PRELOAD_SH)
        .and_then(|_| fs::set_permissions(&script, fs::Permissions::from_mode(0o755)))
        .map_err(|e| format!("write {}: {e}", script.display()))?;
    let out = std::process::Command::new(&script)
        .arg("true")
        .env("MATRIX_NS_DIR", scratch.join("setuid-preload-probe"))
        .env("MATRIX_PRELOAD", so)
        .env("MATRIX_RUN_UID", uid.to_string())
        .env("MATRIX_RUN_GID", gid.to_string())
        .env_remove("PAIO_STATS")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("run {}: {e}", script.display()))?;
    if out.status.success() {
        Ok(script)
    } else {
        Err(format!(
            "/etc/ld.so.preload in a private mount namespace: {} ({})",
            String::from_utf8_lossy(&out.stderr).trim(),
            out.status
        ))
    }
}

/// Run one cell: glibc, then paio with each backend; judge them.
fn run_cell(
    p: &Program,
    bin: &Path,
    env_name: &str,
    fs_dir: &Path,
    setup: &Setup,
    report: &mut String,
) -> Outcome {
    let cell = format!("{}@{env_name}", p.name);
    let intentional = intentional(&p.name, env_name);
    let setuid = p.kind == Where::Setuid;
    let (user, setuid_bin, preload) = match (setuid, &setup.user, &setup.preload) {
        (false, _, _) => (None, None, None),
        (true, Ok(u), Ok(w)) => match setuid_copy(bin) {
            Ok(copy) => (Some(*u), Some(copy), Some(w.as_path())),
            Err(e) => return Outcome::Fail(format!("setuid copy: {e}")),
        },
        (true, Err(e), _) | (true, _, Err(e)) => {
            return Outcome::Skip(format!("not run setuid: {e}"))
        }
    };
    let mut failures: Vec<String> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let variants: [(&str, Option<&str>); 3] = [
        ("glibc", None),
        ("paio/threads", Some("threads")),
        ("paio/default", None),
    ];
    for (i, (label, backend)) in variants.iter().enumerate() {
        let paio = i > 0;
        let dir = fs_dir.join(format!("{}-{}", p.name, label.replace('/', "-")));
        let _ = fs::remove_dir_all(&dir);
        if let Err(e) = fs::create_dir_all(&dir)
            .and_then(|_| fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)))
        {
            return Outcome::Fail(format!("cannot make {}: {e}", dir.display()));
        }
        let dir_s = dir.to_string_lossy().into_owned();
        let secure_stats = dir.join("paio-stats-secure");
        let secure_stats_s = secure_stats.to_string_lossy().into_owned();
        let mut env: Vec<(&str, &str)> = vec![("TMPDIR", &dir_s), ("MATRIX_ENV", env_name)];
        match &setup.blockdev {
            Ok(dev) => env.push(("MATRIX_BLOCKDEV", dev)),
            Err(why) => env.push(("MATRIX_BLOCKDEV_MISSING", why)),
        }
        if let Some(b) = backend {
            env.push(("PAIO_BACKEND", b));
        }
        let (uid_s, gid_s) = user
            .map(|(u, g)| (u.to_string(), g.to_string()))
            .unwrap_or_default();
        let ns_dir = fs_dir.join(format!("{}-{}-ns", p.name, label.replace('/', "-")));
        let ns_dir_s = ns_dir.to_string_lossy().into_owned();
        let mut launch = Launch {
            wrapper: None,
            stats: paio && !setuid,
            args: &[],
            user,
            timeout: Some(run_timeout()),
        };
        let bin = match (&setuid_bin, paio) {
            (None, false) => bin,
            (None, true) => {
                env.push(("LD_PRELOAD", &setup.so));
                bin
            }
            (Some(copy), _) => {
                env.push(("PAIO_STATS", &secure_stats_s));
                env.push(("MATRIX_USER_UID", &uid_s));
                if paio {
                    let _ = fs::remove_dir_all(&ns_dir);
                    env.extend([
                        ("MATRIX_NS_DIR", ns_dir_s.as_str()),
                        ("MATRIX_PRELOAD", setup.so.as_str()),
                        ("MATRIX_RUN_UID", &uid_s),
                        ("MATRIX_RUN_GID", &gid_s),
                    ]);
                    launch.wrapper = preload;
                    launch.user = None;
                }
                copy.as_path()
            }
        };
        let args = [dir_s.as_str()];
        launch.args = &args;
        let mut run = run_binary(&setup.scratch, STYLE, &cell, label, bin, &env, launch);
        // fs.aio-max-nr is shared by the machine: another process may hold
        // it for a moment; one rerun (a lasting fallback still fails).
        if backend.is_none() && paio && aio_budget_exhausted(&run) && !may_fall_back(&p.name) {
            let _ = writeln!(
                report,
                "{}\n{:14} rerun: io_setup failed with EAGAIN",
                run.summary(),
                ""
            );
            std::thread::sleep(Duration::from_millis(500));
            run = run_binary(&setup.scratch, STYLE, &cell, label, bin, &env, launch);
        }
        let _ = writeln!(report, "{}", run.summary());
        if setuid && paio && secure_stats.exists() {
            failures.push(format!(
                "{label}: paio created {} from PAIO_STATS in secure execution (setuid run by uid {uid_s})",
                secure_stats.display()
            ));
        }
        if paio {
            judge_paio_run(&run, &runs[0], intentional, &mut failures);
            if !setuid {
                let engine = match (backend, may_fall_back(&p.name)) {
                    (Some(_), _) => EngineSeen::Threads,
                    (None, false) => EngineSeen::Kaio,
                    (None, true) => EngineSeen::KaioOrFallback,
                };
                check_stats(&run, engine, &mut failures);
            }
        } else if let (Status::Failed(why), None) = (&run.status, intentional) {
            failures.push(format!(
                "glibc run failed ({why}): the program's expectations do not hold on glibc\n{}",
                run.details()
            ));
        }
        runs.push(run);
    }
    if !setuid {
        check_stats_present(
            !NO_REQUESTS.contains(&p.name.as_str()),
            &runs[1..],
            &mut failures,
        );
    }
    let outcome = if !failures.is_empty() {
        Outcome::Fail(failures.join("\n"))
    } else if let Some(reason) = intentional {
        let _ = writeln!(
            report,
            "{:14} intentional: {reason}; glibc recorded: {}",
            "",
            runs[0].stdout.trim_end().replace('\n', " | ")
        );
        Outcome::Intentional(reason.to_owned())
    } else {
        match &runs[0].status {
            Status::Skipped(why) => Outcome::Skip(why.clone()),
            _ => Outcome::Pass,
        }
    };
    if matches!(
        outcome,
        Outcome::Pass | Outcome::Skip(_) | Outcome::Intentional(_)
    ) && !keep_scratch()
    {
        for run in &runs {
            let _ = fs::remove_dir_all(&run.dir);
        }
    }
    outcome
}

/// A paio run against glibc's ([`check_paio_run`]); besides, a paio run
/// that passed where glibc did not (skipped, failed) differs from it too.
fn judge_paio_run(run: &Run, glibc: &Run, intentional: Option<&str>, failures: &mut Vec<String>) {
    check_paio_run(run, glibc, intentional, failures);
    if intentional.is_none()
        && matches!(run.status, Status::Passed)
        && !matches!(glibc.status, Status::Passed)
    {
        failures.push(format!(
            "{}: passed where glibc did not (- glibc, + paio; `~` lines ignored)\n{}{}",
            run.label,
            diff(&compared(&glibc.stdout), &compared(&run.stdout)),
            run.details()
        ));
    }
}

// ---------------------------------------------------------------- summary

/// The grid (programs × environments that have cells) and every cell that
/// did not pass.
fn summary(
    envs: &[String],
    cells: &BTreeMap<(String, String), Outcome>,
    programs: &[Program],
) -> String {
    let has = |p: &str, e: &str| cells.contains_key(&(p.to_owned(), e.to_owned()));
    let envs: Vec<&String> = envs
        .iter()
        .filter(|e| programs.iter().any(|p| has(&p.name, e)))
        .collect();
    let programs: Vec<&Program> = programs
        .iter()
        .filter(|p| envs.iter().any(|e| has(&p.name, e)))
        .collect();
    let width = programs
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    let _ = write!(out, "{:width$}", "program");
    for e in &envs {
        let _ = write!(out, " {e:>7}");
    }
    out.push('\n');
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &programs {
        let _ = write!(out, "{:width$}", p.name);
        for e in &envs {
            let shown = match cells.get(&(p.name.clone(), (*e).clone())) {
                Some(o) => {
                    *counts.entry(o.short()).or_default() += 1;
                    o.short()
                }
                None => "-",
            };
            let _ = write!(out, " {shown:>7}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "cells: {counts:?}");
    for ((p, e), o) in cells {
        let first = |s: &str| s.lines().next().unwrap_or("").to_owned();
        match o {
            Outcome::Pass => {}
            Outcome::Skip(why) => {
                let _ = writeln!(out, "  skip   {p}@{e}: {why}");
            }
            Outcome::Intentional(why) => {
                let _ = writeln!(out, "  intent {p}@{e}: {why}");
            }
            Outcome::Fail(why) => {
                let _ = writeln!(out, "  FAIL   {p}@{e}: {}", first(why));
            }
        }
    }
    out
}

// ---------------------------------------------------------------- the matrix

#[test]
fn matrix() {
    let started = Instant::now();
    let programs = programs().unwrap_or_else(|e| panic!("{e}"));
    let so_path = paio_ctests::paio_so();
    let scratch = paio_ctests::scratch_dir("matrix");
    // The setuid user must reach binaries and directories in here.
    let _ = fs::set_permissions(&scratch, fs::Permissions::from_mode(0o755));
    let blockdev_guard = LoopDevice::new(&scratch.join("blockdev.img"), BLOCKDEV_MIB);
    let needs_user = programs
        .iter()
        .any(|p| p.kind == Where::Setuid && selected(&p.name, SETUID_ENV));
    let so = so_path.to_string_lossy().into_owned();
    let user = if !needs_user {
        Err("not needed".into())
    } else if !is_root() {
        Err("a root-owned setuid copy needs root".into())
    } else {
        system_user(SETUID_USER)
    };
    let preload = match &user {
        Ok(u) => setuid_preload(&scratch, &so, *u),
        Err(e) => Err(e.clone()),
    };
    let setup = Setup {
        scratch: scratch.clone(),
        so,
        blockdev: blockdev_guard
            .as_ref()
            .map(|d| d.dev.clone())
            .map_err(|e| e.clone()),
        user,
        preload,
    };
    let mut envs: Vec<String> = FILESYSTEMS.iter().map(|f| f.name.to_owned()).collect();
    envs.extend([ONCE_ENV.to_owned(), SETUID_ENV.to_owned()]);

    let mut cells: BTreeMap<(String, String), Outcome> = BTreeMap::new();
    let mut report = String::new();
    let mut binaries: BTreeMap<String, Result<PathBuf, String>> = BTreeMap::new();

    // Programs that run once, on the scratch filesystem, or setuid.
    let cells_dir = scratch.join("cells");
    for p in programs.iter().filter(|p| p.kind != Where::Filesystems) {
        let env = if p.kind == Where::Setuid {
            SETUID_ENV
        } else {
            ONCE_ENV
        };
        if !selected(&p.name, env) {
            continue;
        }
        let outcome = match bins_of(&mut binaries, p, &setup) {
            Err(e) => Outcome::Fail(e),
            Ok(bin) => {
                let _ = writeln!(report, "== {}@{env}", p.name);
                run_cell(p, bin, env, &cells_dir, &setup, &mut report)
            }
        };
        eprintln!(
            "{:>5.1}s {}@{env}: {}",
            started.elapsed().as_secs_f64(),
            p.name,
            outcome.short()
        );
        cells.insert((p.name.clone(), env.to_owned()), outcome);
    }

    // Filesystem programs, one filesystem at a time (mounted only while its
    // cells run).
    for spec in FILESYSTEMS {
        let wanted: Vec<&Program> = programs
            .iter()
            .filter(|p| p.kind == Where::Filesystems && selected(&p.name, spec.name))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let mounted: Result<Mounted, String> =
            spec.mount(&scratch.join(format!("fs-{}", spec.name)));
        let _ = writeln!(
            report,
            "== filesystem {}: {}",
            spec.name,
            match &mounted {
                Ok(m) => format!("mounted at {}", m.dir.display()),
                Err(e) => format!("skipped: {e}"),
            }
        );
        for p in wanted {
            let outcome = match (&mounted, bins_of(&mut binaries, p, &setup)) {
                (Err(e), _) => Outcome::Skip(format!("no {}: {e}", spec.name)),
                (_, Err(e)) => Outcome::Fail(e),
                (Ok(m), Ok(bin)) => {
                    let _ = writeln!(report, "== {}@{}", p.name, spec.name);
                    run_cell(p, bin, spec.name, &m.dir, &setup, &mut report)
                }
            };
            eprintln!(
                "{:>5.1}s {}@{}: {}",
                started.elapsed().as_secs_f64(),
                p.name,
                spec.name,
                outcome.short()
            );
            cells.insert((p.name.clone(), spec.name.to_owned()), outcome);
        }
        drop(mounted);
    }
    drop(blockdev_guard);

    let table = summary(&envs, &cells, &programs);
    eprintln!(
        "environment matrix ({} cells, {:.0} s):\n{table}",
        cells.len(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<String> = cells
        .iter()
        .filter_map(|((p, e), o)| match o {
            Outcome::Fail(why) => Some(format!("==== {p}@{e}\n{why}")),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        panic!(
            "{} matrix cell(s) failed\n{}\n---- runs\n{report}\n---- summary\n{table}",
            failed.len(),
            failed.join("\n")
        );
    }
    if !keep_scratch() {
        let _ = fs::remove_dir_all(&scratch);
    }
}

// ---------------------------------------------------------------- checks

#[test]
fn every_program_declares_where_it_runs() {
    let programs = programs().unwrap_or_else(|e| panic!("{e}"));
    assert!(!programs.is_empty(), "no program in ctests/matrix/");
    let names: Vec<&str> = programs.iter().map(|p| p.name.as_str()).collect();
    for name in NO_REQUESTS
        .iter()
        .chain(MAY_FALL_BACK.iter().map(|(p, _)| p))
    {
        assert!(names.contains(name), "unknown program {name}");
    }
    for (name, env, reason) in INTENTIONAL {
        assert!(
            names.contains(name),
            "INTENTIONAL names unknown program {name}"
        );
        let known = *env == "*"
            || FILESYSTEMS.iter().any(|f| f.name == *env)
            || [ONCE_ENV, SETUID_ENV].contains(env);
        assert!(known, "INTENTIONAL names unknown environment {env}");
        assert!(
            !reason.is_empty() && !reason.contains('\n'),
            "{name}: reason must be one line"
        );
    }
    assert_eq!(
        declared_kind("/* matrix: once */\n").ok(),
        Some(Where::Once)
    );
    assert!(declared_kind("/* matrix: twice */\n").is_err());
    assert!(declared_kind("#include <aio.h>\n").is_err());
}

/// The README's table "In the environment matrix" (in "Differences from
/// glibc, on purpose") names exactly the programs of [`INTENTIONAL`].
#[test]
fn intentional_cells_match_the_readme() {
    let readme =
        fs::read_to_string(paio_ctests::workspace_root().join("README.md")).expect("README.md");
    let section = readme
        .split("### In the environment matrix")
        .nth(1)
        .expect("README.md: no section \"### In the environment matrix\"");
    let section = section.split("\n#").next().unwrap_or("");
    let in_readme: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    let mut in_table: Vec<&str> = INTENTIONAL.iter().map(|(p, _, _)| *p).collect();
    in_table.dedup();
    let mut a = in_readme.clone();
    a.sort();
    a.dedup();
    in_table.sort();
    assert_eq!(
        a, in_table,
        "README's matrix table and INTENTIONAL disagree"
    );
}
