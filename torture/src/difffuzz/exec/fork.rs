//! The fork step: under paio the child does AIO of its own
//! (`forkchild`); under glibc it exits at once.

use super::Exec;
use crate::ffi::{errname, errno};
use crate::forkchild::{child_main, wait_child, ChildWork};

impl Exec {
    pub(super) fn fork(&mut self) {
        let st = fork_and_wait(&self.dir, self.on_paio);
        self.out(&format!("fork -> child {st}"));
    }
}

/// `fork`; under paio the child writes and reads back a file of its own
/// through AIO and exits with the step that failed (0: none); under glibc,
/// whose AIO state a child inherits half-reset, it exits 0 at once.
fn fork_and_wait(dir: &str, child_aio: bool) -> String {
    let path = std::ffi::CString::new(format!("{dir}/child")).unwrap();
    // SAFETY: the child only makes syscalls and AIO calls on static buffers,
    // then _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if !child_aio {
            // SAFETY: leaves the child at once.
            unsafe { libc::_exit(0) };
        }
        let work = ChildWork {
            alarm_s: 8,
            give_up_ms: None,
            fsync_and_pipe: false,
        };
        // SAFETY: see above.
        unsafe { child_main(&path, work) }
    }
    if pid < 0 {
        return format!("fork failed {}", errname(errno()));
    }
    match wait_child(pid, 10_000, 1) {
        Ok(status) if libc::WIFEXITED(status) => format!("exit {}", libc::WEXITSTATUS(status)),
        Ok(status) => format!("signal {}", libc::WTERMSIG(status)),
        Err(()) => "hung (killed after 10 s)".into(),
    }
}
