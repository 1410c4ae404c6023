//! `fork` with requests in flight: the child does a little AIO of its own
//! and exits with a status the parent checks.

use std::ffi::CString;

use crate::ffi::{
    aio_error, aio_fsync, aio_read, aio_return, aio_suspend, aio_write, errname, errno, now_ms,
    Aiocb, Sigevent,
};
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
            // SAFETY: see above.
            unsafe { fork_child_main(&path) }
        }
        count(K::Forks, 1);
        let t0 = now_ms();
        loop {
            let mut status = 0;
            // SAFETY: our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                    fail!(
                        self.idx,
                        "forked child ended with status {status:#x} (exit {} signal {})",
                        libc::WEXITSTATUS(status),
                        libc::WTERMSIG(status)
                    );
                }
                break;
            }
            if now_ms() - t0 > 20_000 {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                fail!(self.idx, "forked child (pid {pid}) hung for 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // SAFETY: a NUL-terminated path.
        unsafe { libc::unlink(path.as_ptr()) };
    }
}

/// The child side of a fork: no allocation, no locks; exit code = the step
/// that failed.
pub(crate) unsafe fn fork_child_main(path: &CString) -> ! {
    // SAFETY (whole body): plain syscalls and AIO on local aiocbs and buffers
    // that outlive every request (the function never returns).
    unsafe {
        libc::alarm(15);
        static mut WBUF: [u8; 4096] = [0; 4096];
        static mut RBUF: [u8; 4096] = [0; 4096];
        let wbuf = &raw mut WBUF;
        let rbuf = &raw mut RBUF;
        for (i, b) in (*wbuf).iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let fd = libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
            0o600,
        );
        if fd < 0 {
            libc::_exit(10);
        }
        let wait = |cb: *const Aiocb| {
            let t0 = now_ms();
            while aio_error(cb) == libc::EINPROGRESS {
                let l = [cb];
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 5_000_000,
                };
                aio_suspend(l.as_ptr(), 1, &ts);
                if now_ms() - t0 > 10_000 {
                    libc::_exit(11);
                }
            }
            aio_error(cb)
        };
        let mut cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_buf = wbuf as *mut libc::c_void;
        cb.aio_nbytes = 4096;
        cb.aio_sigevent = Sigevent::none();
        if aio_write(&mut cb) != 0 || wait(&cb) != 0 || aio_return(&mut cb) != 4096 {
            libc::_exit(12);
        }
        let mut fs = Aiocb::zeroed();
        fs.aio_fildes = fd;
        fs.aio_sigevent = Sigevent::none();
        if aio_fsync(libc::O_DSYNC, &mut fs) != 0 || wait(&fs) != 0 {
            libc::_exit(13);
        }
        let mut rc = Aiocb::zeroed();
        rc.aio_fildes = fd;
        rc.aio_buf = rbuf as *mut libc::c_void;
        rc.aio_nbytes = 4096;
        rc.aio_sigevent = Sigevent::none();
        if aio_read(&mut rc) != 0 || wait(&rc) != 0 || aio_return(&mut rc) != 4096 || *rbuf != *wbuf
        {
            libc::_exit(14);
        }
        let mut p = [0i32; 2];
        if libc::pipe(p.as_mut_ptr()) != 0 {
            libc::_exit(15);
        }
        let mut pr = Aiocb::zeroed();
        pr.aio_fildes = p[0];
        pr.aio_buf = rbuf as *mut libc::c_void;
        pr.aio_nbytes = 100;
        pr.aio_sigevent = Sigevent::none();
        if aio_read(&mut pr) != 0 {
            libc::_exit(16);
        }
        if libc::write(p[1], wbuf as *const libc::c_void, 10) != 10
            || wait(&pr) != 0
            || aio_return(&mut pr) != 10
        {
            libc::_exit(17);
        }
        libc::_exit(0)
    }
}
