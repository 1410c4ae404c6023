//! Fault injection: each test sets up one real fault, runs the matching C
//! program from `ctests/faults/` under `LD_PRELOAD=libpaio.so` (with
//! `PAIO_BACKEND=threads` and with the default backend), and the program
//! checks the exact error each faulty request reports through `aio_error`
//! while the requests beside it succeed.
//!
//! | test | fault | how |
//! |---|---|---|
//! | `enospc_full_tmpfs` | ENOSPC | a 1 MiB tmpfs mounted here (root) |
//! | `eio_shrunk_loop_device` | EIO | ext4 on a loop device shrunk under it (`losetup -c`): reads past the new end fail in the block layer |
//! | `efault_bad_buffers` | EFAULT | PROT_NONE, never-mapped and non-canonical buffers |
//! | `ebadf_bad_descriptors` | EBADF | -1, closed, out of range, O_PATH, wrong access mode |
//! | `fd_closed_in_flight` | close() under requests | pipe, file, socket; number reused |
//! | `io_setup_denied_falls_back` | io_setup → EPERM | seccomp filter installed by the program |
//! | `aio_max_nr_exhausted_falls_back` | io_setup → EAGAIN | `fs.aio-max-nr` lowered to 0 (root), restored by a guard |
//! | `thread_creation_denied` | clone → EAGAIN | a pids cgroup (root) the program joins and clamps |
//! | `request_slots_exhausted` | slot pool full | `PAIO_MAX_REQUESTS=1024` |
//!
//! Device-mapper's `error` target would be the classic EIO source, but this
//! kernel has no device-mapper (`/dev/mapper/control` absent, `dmsetup`
//! fails); the shrunk loop device gives real block-layer EIO instead.
//!
//! What needs root (mounts, loop devices, sysctls, cgroups) is skipped with a
//! printed reason when it is not available; everything changed is restored by
//! drop guards, also when a test fails. The tests of this file run one at a
//! time (one lock), because two of them change machine-wide state.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use paio_ctests::system::{is_root, sh, Undo};
use paio_ctests::{paio_so, scratch_dir, workspace_root};

/// Serialises the tests of this file (sysctl, mounts, loop devices).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Compile `ctests/faults/NAME.c` once per test process.
fn program(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let src = workspace_root()
        .join("ctests")
        .join("faults")
        .join(format!("{name}.c"));
    let dir = workspace_root().join("target").join("faults-bin");
    std::fs::create_dir_all(&dir).expect("create target/faults-bin");
    // Compiled under a private name, then renamed into place (atomic), so
    // concurrent test processes never see a half-written binary and nothing
    // piles up across runs.
    let out = dir.join(name);
    let tmp = dir.join(format!(".{name}-{}", std::process::id()));
    let o = Command::new("gcc")
        .args(["-O1", "-g", "-Wall", "-Wextra", "-o"])
        .arg(&tmp)
        .arg(&src)
        .arg("-lpthread")
        .output()
        .expect("run gcc");
    assert!(
        o.status.success(),
        "compiling {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &out).expect("move the compiled program into place");
    built.insert(name.to_string(), out.clone());
    out
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    stats: String,
}

/// Run a fault program under the preload, with a hard timeout.
fn run(name: &str, args: &[&str], env: &[(&str, &str)], backend: Option<&str>) -> Outcome {
    let bin = program(name);
    let dir = scratch_dir(&format!("faults-{name}-{}", backend.unwrap_or("default")));
    let stats = dir.join("stats");
    let _ = std::fs::remove_file(&stats);
    let mut cmd = Command::new(&bin);
    cmd.args(args)
        .env("LD_PRELOAD", paio_so())
        .env("TMPDIR", &dir)
        .env("PAIO_STATS", &stats)
        .env_remove("PAIO_BACKEND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(b) = backend {
        cmd.env("PAIO_BACKEND", b);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start fault program");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .map(|mut s| s.read_to_string(&mut stdout));
    child
        .stderr
        .take()
        .map(|mut s| s.read_to_string(&mut stderr));
    let stats = std::fs::read_to_string(&stats).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        stats,
    }
}

/// The program passed (true) or skipped with a reason (false); anything else
/// fails the test with everything it printed.
fn passed(o: &Outcome, what: &str) -> bool {
    println!("--- {what}\n{}{}{}", o.stdout, o.stderr, o.stats);
    match o.code {
        Some(0) => true,
        Some(77) => {
            println!(
                "SKIP {what}: {}",
                o.stdout
                    .lines()
                    .find(|l| l.starts_with("SKIP"))
                    .unwrap_or("(no reason)")
            );
            false
        }
        None => panic!("{what}: timed out\n{}\n{}", o.stdout, o.stderr),
        Some(c) => panic!("{what}: exit {c}\n{}\n{}", o.stdout, o.stderr),
    }
}

/// Both backends: `PAIO_BACKEND=threads`, then the default.
const BACKENDS: [Option<&str>; 2] = [Some("threads"), None];

fn label(name: &str, backend: Option<&str>) -> String {
    format!("{name} (backend {})", backend.unwrap_or("default"))
}

fn skip(test: &str, why: &str) {
    println!("SKIP {test}: {why}");
}

// ------------------------------------------------------------ the tests

#[test]
fn enospc_full_tmpfs() {
    let _g = serial();
    if !is_root() {
        return skip("enospc_full_tmpfs", "mounting a tmpfs needs root");
    }
    let dir = scratch_dir("faults-enospc-mnt");
    let mnt = dir.join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let m = mnt.to_str().unwrap().to_string();
    if let Err(e) = sh(
        "mount",
        &["-t", "tmpfs", "-o", "size=1m", "paio-enospc", &m],
    ) {
        return skip("enospc_full_tmpfs", &format!("cannot mount a tmpfs: {e}"));
    }
    let _undo = Undo(|| {
        let _ = sh("umount", &[&m]);
        let _ = std::fs::remove_dir_all(&dir);
    });
    for b in BACKENDS {
        let o = run("enospc", &[&m], &[], b);
        if passed(&o, &label("enospc", b)) {
            assert!(o.stdout.contains("-> ENOSPC"), "{}", o.stdout);
        }
    }
}

#[test]
fn eio_shrunk_loop_device() {
    let _g = serial();
    const T: &str = "eio_shrunk_loop_device";
    if !is_root() {
        return skip(T, "loop devices and mounts need root");
    }
    for tool in ["losetup", "mkfs.ext4", "mount"] {
        if sh("sh", &["-c", &format!("command -v {tool}")]).is_err() {
            return skip(T, &format!("{tool} is not installed"));
        }
    }
    if !Path::new("/dev/loop-control").exists() {
        return skip(T, "no /dev/loop-control (no loop devices here)");
    }
    let dir = scratch_dir("faults-eio");
    let img = dir.join("ext4.img");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let (img_s, mnt_s) = (
        img.to_str().unwrap().to_string(),
        mnt.to_str().unwrap().to_string(),
    );
    // 32 MiB, no journal (a journal past the cut would abort the whole fs).
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    if let Err(e) = sh(
        "mkfs.ext4",
        &["-q", "-F", "-b", "4096", "-O", "^has_journal", &img_s],
    ) {
        return skip(T, &format!("mkfs.ext4 failed: {e}"));
    }
    let dev = match sh("losetup", &["-f", "--show", &img_s]) {
        Ok(d) => d,
        Err(e) => return skip(T, &format!("no loop device: {e}")),
    };
    let mounted = std::cell::Cell::new(false);
    let _undo = Undo(|| {
        if mounted.get() {
            let _ = sh("umount", &[&mnt_s]).or_else(|_| sh("umount", &["-l", &mnt_s]));
        }
        let _ = sh("losetup", &["-d", &dev]);
        let _ = std::fs::remove_dir_all(&dir);
    });
    if let Err(e) = sh(
        "mount",
        &["-t", "ext4", "-o", "errors=continue", &dev, &mnt_s],
    ) {
        return skip(T, &format!("cannot mount ext4 from {dev}: {e}"));
    }
    mounted.set(true);
    let victim = mnt.join("victim");
    let victim_s = victim.to_str().unwrap();
    let o = run("eio", &["prepare", victim_s], &[], Some("threads"));
    assert!(passed(&o, "eio prepare"), "prepare must not skip");
    // Shrink the device under the mounted filesystem: blocks past `cut` now
    // fail with EIO in the block layer.
    let cut: u64 = 12 << 20;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(cut)
        .unwrap();
    sh("losetup", &["-c", &dev]).expect("losetup -c");
    let size = sh("blockdev", &["--getsize64", &dev]).unwrap_or_default();
    println!("{dev} now {size} bytes");
    let cut_s = cut.to_string();
    for b in BACKENDS {
        let o = run("eio", &["check", victim_s, &cut_s], &[], b);
        if passed(&o, &label("eio check", b)) {
            assert!(o.stdout.contains("-> EIO"), "{}", o.stdout);
        }
    }
}

#[test]
fn efault_bad_buffers() {
    let _g = serial();
    for b in BACKENDS {
        passed(&run("efault", &[], &[], b), &label("efault", b));
    }
}

#[test]
fn ebadf_bad_descriptors() {
    let _g = serial();
    for b in BACKENDS {
        passed(&run("ebadf", &[], &[], b), &label("ebadf", b));
    }
}

#[test]
fn fd_closed_in_flight() {
    let _g = serial();
    for b in BACKENDS {
        passed(&run("fd_closed", &[], &[], b), &label("fd_closed", b));
    }
}

#[test]
fn io_setup_denied_falls_back() {
    let _g = serial();
    for b in [None, Some("kaio")] {
        let o = run(
            "fallback",
            &["--deny-io-setup", "--expect-io-setup", "1"],
            &[],
            b,
        );
        if passed(&o, &label("fallback --deny-io-setup", b)) {
            assert!(
                o.stats.contains("backend=threads fallback=io_setup:1 "),
                "the stats must show the fallback after EPERM: {:?}",
                o.stats
            );
        }
    }
}

#[test]
fn aio_max_nr_exhausted_falls_back() {
    let _g = serial();
    const T: &str = "aio_max_nr_exhausted_falls_back";
    const SYSCTL: &str = "/proc/sys/fs/aio-max-nr";
    let Ok(orig) = std::fs::read_to_string(SYSCTL) else {
        return skip(T, "no /proc/sys/fs/aio-max-nr");
    };
    let orig = orig.trim().to_string();
    if !is_root() || std::fs::write(SYSCTL, &orig).is_err() {
        return skip(T, "fs.aio-max-nr is not writable here (needs root)");
    }
    let _undo = Undo(|| {
        let _ = std::fs::write(SYSCTL, &orig);
        let now = std::fs::read_to_string(SYSCTL).unwrap_or_default();
        assert_eq!(now.trim(), orig, "fs.aio-max-nr not restored");
    });
    std::fs::write(SYSCTL, "0").expect("lower fs.aio-max-nr");
    let o = run("fallback", &["--expect-io-setup", "11"], &[], None);
    // Restore before judging, so the machine is back to normal at once.
    let _ = std::fs::write(SYSCTL, &orig);
    if passed(&o, "fallback with fs.aio-max-nr=0") {
        assert!(
            o.stats.contains("backend=threads fallback=io_setup:11 "),
            "the stats must show the fallback after EAGAIN: {:?}",
            o.stats
        );
    }
}

/// A fresh pids cgroup (v1 `pids` hierarchy, or v2 with the pids
/// controller), removed by the returned guard.
fn pids_cgroup(tag: &str) -> Result<(PathBuf, Undo<impl FnMut()>), String> {
    let name = format!("paio-faults-{}-{tag}", std::process::id());
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let base = if v1.join("cgroup.procs").exists() {
        v1.to_path_buf()
    } else {
        let root = Path::new("/sys/fs/cgroup");
        let ctl = std::fs::read_to_string(root.join("cgroup.controllers"))
            .map_err(|e| format!("no cgroup fs: {e}"))?;
        if !ctl.split_whitespace().any(|c| c == "pids") {
            return Err("no pids controller in this cgroup hierarchy".into());
        }
        let _ = std::fs::write(root.join("cgroup.subtree_control"), "+pids");
        root.to_path_buf()
    };
    let dir = base.join(name);
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    if !dir.join("pids.max").exists() {
        let _ = std::fs::remove_dir(&dir);
        return Err("the new cgroup has no pids.max".into());
    }
    let d = dir.clone();
    Ok((
        dir,
        Undo(move || {
            // The program has exited; its threads may take a moment to go.
            for _ in 0..100 {
                if std::fs::remove_dir(&d).is_ok() || !d.exists() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }),
    ))
}

#[test]
fn thread_creation_denied() {
    let _g = serial();
    const T: &str = "thread_creation_denied";
    if !is_root() {
        return skip(T, "a pids cgroup needs root");
    }
    for b in BACKENDS {
        let (cg, _undo) = match pids_cgroup(b.unwrap_or("default")) {
            Ok(x) => x,
            Err(e) => return skip(T, &e),
        };
        let cg_s = cg.to_str().unwrap();
        let mut args = vec![cg_s];
        if b == Some("threads") {
            args.push("strict");
        }
        passed(
            &run("nothreads", &args, &[("PAIO_IDLE_MS", "100")], b),
            &label("nothreads", b),
        );
    }
}

#[test]
fn request_slots_exhausted() {
    let _g = serial();
    for b in BACKENDS {
        passed(
            &run("slots", &[], &[("PAIO_MAX_REQUESTS", "1024")], b),
            &label("slots", b),
        );
    }
}
