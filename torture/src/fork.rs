//! `fork` with requests in flight: the child does a little AIO of its own
//! and exits with a status the parent checks.

use std::ffi::CString;

use crate::ffi::{errname, errno};
use crate::forkchild::{child_main, wait_child, ChildWork};
use crate::report::{count, K};
use crate::worker::Worker;

impl Worker {
    /// Fork; the child does a little AIO of its own (write, fsync, read back,
    /// a pipe read) and exits with a status the parent checks.
    pub(crate) fn fork_child(&mut self) {
        let path = CString::new(format!("{}/fork-{}", self.sh.dir, self.rng.next())).unwrap();
        self.set_activity("waiting for a forked child".into(), &[]);
        // SAFETY: the child only calls async-signal-safe functions and AIO
        // (which must work in a forked child), then _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            fail!(self.idx, "fork: {}", errname(errno()));
        }
        if pid == 0 {
            let work = ChildWork {
                alarm_s: 15,
                give_up_ms: Some(10_000),
                fsync_and_pipe: true,
            };
            // SAFETY: see above.
            unsafe { child_main(&path, work) }
        }
        count(K::Forks, 1);
        match wait_child(pid, 20_000, 2) {
            Ok(status) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {}
            Ok(status) => fail!(
                self.idx,
                "forked child ended with status {status:#x} (exit {} signal {})",
                libc::WEXITSTATUS(status),
                libc::WTERMSIG(status)
            ),
            Err(()) => fail!(self.idx, "forked child (pid {pid}) hung for 20 s"),
        }
        // SAFETY: a NUL-terminated path.
        unsafe { libc::unlink(path.as_ptr()) };
    }
}
