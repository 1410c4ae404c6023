//! `--busy`: CPU-bound processes that run beside each measured child, so the
//! numbers show an implementation on a loaded machine (thread hand-offs cost
//! more when every CPU has something else to run).
//!
//! Each is this binary re-executed with `__busy`; it spins until it is killed,
//! and dies with the parent (`PR_SET_PDEATHSIG`) however the parent ends.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The first argument that makes the binary a busy child.
pub const BUSY_ARG: &str = "__busy";

/// Entry point of a busy child: pin to `cpus=…` if given, then spin forever.
pub fn busy_main(args: &[std::ffi::OsString]) -> i32 {
    for a in args {
        let Some(list) = a.to_str().and_then(|a| a.strip_prefix("cpus=")) else {
            continue;
        };
        // SAFETY: cpu_set_t is plain data; indexes are checked against CPU_SETSIZE;
        // sched_setaffinity reads the set.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for c in list.split(',').filter_map(|c| c.parse::<usize>().ok()) {
                if c < libc::CPU_SETSIZE as usize {
                    libc::CPU_SET(c, &mut set);
                }
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    loop {
        // Pure user-space work: no system calls, no memory traffic to speak of.
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

/// Running busy children; killed and reaped on drop.
pub struct Busy {
    children: Vec<Child>,
}

impl Busy {
    /// Start `n` busy children (none when `n` is 0), pinned to `cpus` if given.
    pub fn start(exe: &Path, n: usize, cpus: Option<&[usize]>) -> Result<Busy, String> {
        let mut busy = Busy {
            children: Vec::with_capacity(n),
        };
        let parent = std::process::id() as libc::pid_t;
        for _ in 0..n {
            let mut cmd = Command::new(exe);
            cmd.arg(BUSY_ARG)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .env_remove("LD_PRELOAD");
            if let Some(c) = cpus {
                cmd.arg(format!(
                    "cpus={}",
                    c.iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            // SAFETY: prctl and getppid are async-signal-safe; the closure
            // touches no shared state.
            unsafe {
                cmd.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    // The parent may have died before the prctl took effect.
                    if libc::getppid() != parent {
                        libc::_exit(0);
                    }
                    Ok(())
                });
            }
            match cmd.spawn() {
                Ok(c) => busy.children.push(c),
                // Drop kills the ones already started.
                Err(e) => return Err(format!("cannot start a --busy process: {e}")),
            }
        }
        Ok(busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
    }
}
