//! A forked child's own AIO, and the parent's wait for it: shared by
//! `paio-torture` (a fork with requests in flight) and `paio-difffuzz` (a
//! fork in a sequence). The child writes a file of its own through AIO,
//! reads it back (optionally also fsyncs it and reads from a pipe) and
//! exits with the number of the step that failed, 0 for none.

use std::ffi::CStr;

use crate::ffi::{
    aio_error, aio_fsync, aio_read, aio_return, aio_suspend, aio_write, now_ms, Aiocb, Sigevent,
};

/// What the child does besides the write and the read back.
pub(crate) struct ChildWork {
    /// SIGALRM ends a child that hangs after this many seconds.
    pub(crate) alarm_s: u32,
    /// Poll each request with `aio_suspend` every 5 ms and exit 11 once one
    /// takes longer than this; `None`: block in `aio_suspend` without a
    /// timeout (the alarm ends a hang).
    pub(crate) give_up_ms: Option<u64>,
    /// Also `aio_fsync` the file, and read from a pipe that is written after
    /// the read was submitted.
    pub(crate) fsync_and_pipe: bool,
}

/// How the child ended: its `waitpid` status, or `Err` when it was still
/// running after `limit_ms` (it is killed then).
pub(crate) fn wait_child(pid: libc::pid_t, limit_ms: u64, poll_ms: u64) -> Result<i32, ()> {
    let t0 = now_ms();
    loop {
        let mut status = 0;
        // SAFETY: the caller's own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(status);
        }
        if now_ms() - t0 > limit_ms {
            // SAFETY: the caller's own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(());
        }
        std::thread::sleep(std::time::Duration::from_millis(poll_ms));
    }
}

/// The child side of a fork: no allocation, no locks; exit code = the step
/// that failed (10 open, 11 a request took too long, 12 write, 13 fsync,
/// 14 read back, 15 pipe, 16 and 17 the pipe read).
///
/// # Safety
/// Call only in a freshly forked child: it never returns.
pub(crate) unsafe fn child_main(path: &CStr, work: ChildWork) -> ! {
    static mut WBUF: [u8; 4096] = [0; 4096];
    static mut RBUF: [u8; 4096] = [0; 4096];
    // SAFETY (whole body): plain syscalls and AIO on local aiocbs and static
    // buffers in a process that never returns from here, so every request
    // outlives nothing it uses.
    unsafe {
        libc::alarm(work.alarm_s);
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
        let wait = |cb: *const Aiocb| wait_request(cb, work.give_up_ms);
        let mut cb = request(fd, wbuf as *mut libc::c_void, 4096);
        if aio_write(&mut cb) != 0 || wait(&cb) != 0 || aio_return(&mut cb) != 4096 {
            libc::_exit(12);
        }
        if work.fsync_and_pipe {
            let mut fs = request(fd, std::ptr::null_mut(), 0);
            if aio_fsync(libc::O_DSYNC, &mut fs) != 0 || wait(&fs) != 0 {
                libc::_exit(13);
            }
        }
        let mut rc = request(fd, rbuf as *mut libc::c_void, 4096);
        if aio_read(&mut rc) != 0 || wait(&rc) != 0 || aio_return(&mut rc) != 4096 || *rbuf != *wbuf
        {
            libc::_exit(14);
        }
        if work.fsync_and_pipe {
            let mut p = [0i32; 2];
            if libc::pipe(p.as_mut_ptr()) != 0 {
                libc::_exit(15);
            }
            let mut pr = request(p[0], rbuf as *mut libc::c_void, 100);
            if aio_read(&mut pr) != 0 {
                libc::_exit(16);
            }
            if libc::write(p[1], wbuf as *const libc::c_void, 10) != 10
                || wait(&pr) != 0
                || aio_return(&mut pr) != 10
            {
                libc::_exit(17);
            }
        }
        libc::_exit(0)
    }
}

/// An aiocb for `nbytes` at offset 0 of `fd`, with no notification.
fn request(fd: i32, buf: *mut libc::c_void, nbytes: usize) -> Aiocb {
    let mut cb = Aiocb::zeroed();
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = nbytes;
    cb.aio_sigevent = Sigevent::none();
    cb
}

/// `aio_error` of `cb` once it is no longer in progress (see
/// `ChildWork::give_up_ms`).
///
/// # Safety
/// `cb` is a submitted aiocb that stays valid.
unsafe fn wait_request(cb: *const Aiocb, give_up_ms: Option<u64>) -> i32 {
    // SAFETY (whole body): the caller's live aiocb; `_exit` in the child.
    unsafe {
        let t0 = give_up_ms.map(|_| now_ms());
        while aio_error(cb) == libc::EINPROGRESS {
            let l = [cb];
            match (give_up_ms, t0) {
                (Some(limit), Some(t0)) => {
                    let ts = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 5_000_000,
                    };
                    aio_suspend(l.as_ptr(), 1, &ts);
                    if now_ms() - t0 > limit {
                        libc::_exit(11);
                    }
                }
                _ => {
                    aio_suspend(l.as_ptr(), 1, std::ptr::null());
                }
            }
        }
        aio_error(cb)
    }
}
