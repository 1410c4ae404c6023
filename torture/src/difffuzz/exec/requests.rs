//! The AIO calls of a sequence: submissions (`aio_read`, `aio_write`,
//! `aio_fsync`, `lio_listio`), waits and the outcomes they print, cancels
//! and `aio_suspend`.

use super::content::{hash, pattern};
use super::notes::wait_delivered;
use super::transcript::rc_str;
use super::{Exec, HANG_MS};
use crate::ffi::*;
use crate::gen::*;

impl Exec {
    /// Fill the aiocb (and a write's buffer) for `r`.
    pub(super) fn prep(&mut self, r: &Req) {
        // glibc publishes a request's status before it reads the aiocb's
        // sigevent to notify: an aiocb reused at once can have the old
        // request notified with the new sigevent (`glibc_bugs`,
        // notify-after-publication). Wait for the old notification first.
        if let Some(n) = self.note_due[r.cb].take() {
            wait_delivered(n);
        }
        let fd = self.fd_of(r.target);
        let ev = self.sigevent(r.notify, false);
        let buf = self.buf(r.cb);
        let len = r.len.min(BUF_CAP - r.buf_off);
        match r.call {
            Call::Write => pattern(&mut buf[r.buf_off..r.buf_off + len], r.data),
            _ => buf[r.buf_off..r.buf_off + len].fill(0xEE),
        }
        let base = self.bufs[r.cb];
        // SAFETY: the aiocb is not in flight (the generator only reuses an
        // aiocb after its request was waited for).
        let cb = unsafe { &mut *self.cbp(r.cb) };
        *cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = match r.call {
            Call::Read => LIO_READ,
            Call::Write => LIO_WRITE,
            Call::Fsync { .. } => LIO_NOP,
        };
        cb.aio_reqprio = r.prio;
        cb.aio_buf = if r.null_buf {
            std::ptr::null_mut()
        } else {
            // SAFETY: inside the buffer.
            unsafe { base.add(r.buf_off) as *mut libc::c_void }
        };
        cb.aio_nbytes = len;
        cb.aio_offset = r.off;
        cb.aio_sigevent = ev;
        self.reqs[r.cb] = Some(r.clone());
    }

    pub(super) fn submit(&mut self, r: &Req) {
        self.prep(r);
        let cb = self.cbp(r.cb);
        set_errno(0);
        self.calls += 1;
        // SAFETY: a prepared aiocb whose buffer lives as long as the executor.
        let rc = unsafe {
            match r.call {
                Call::Read => aio_read(cb),
                Call::Write => aio_write(cb),
                Call::Fsync { dsync, bad_op } => {
                    let op = if bad_op {
                        12345
                    } else if dsync {
                        libc::O_DSYNC
                    } else {
                        libc::O_SYNC
                    };
                    aio_fsync(op, cb)
                }
            }
        };
        let e = errno();
        let mut s = format!("{} -> {}", Self::describe(r), rc_str(rc as isize, e));
        if rc == 0 {
            self.sigevent(r.notify, true);
            self.note_due[r.cb] = Some(r.notify);
        } else if !matches!(r.call, Call::Fsync { .. }) {
            // A refused read or write shows its error through aio_error too.
            s += &format!(" aio_error={}", errname(self.error(r.cb)));
        }
        self.out(&s);
    }

    pub(super) fn lio(&mut self, wait: bool, entries: &[LioEntry], notify: Notify) {
        let mut nop = Box::new(Aiocb::zeroed());
        nop.aio_lio_opcode = LIO_NOP;
        nop.aio_fildes = -1;
        let mut list: Vec<*mut Aiocb> = Vec::new();
        let mut members = Vec::new();
        let mut desc = Vec::new();
        for e in entries {
            match e {
                LioEntry::Null => {
                    list.push(std::ptr::null_mut());
                    desc.push("NULL".to_string());
                }
                LioEntry::Nop => {
                    list.push(&mut *nop);
                    desc.push("NOP".to_string());
                }
                LioEntry::Req(r) => {
                    self.prep(r);
                    list.push(self.cbp(r.cb));
                    members.push(r.cb);
                    desc.push(Self::describe(r));
                }
            }
        }
        let mut ev = self.sigevent(notify, false);
        set_errno(0);
        self.calls += 1;
        let mode = if wait { LIO_WAIT } else { LIO_NOWAIT };
        // SAFETY: every non-NULL entry is a prepared aiocb with a live buffer.
        let mut rc = unsafe { lio_listio(mode, list.as_ptr(), list.len() as i32, &mut ev) };
        let mut e = errno();
        if wait && rc == -1 && e == libc::EINTR {
            // Interrupted by one of our notifications: timing, not a result.
            // What LIO_WAIT would have returned is fixed by the members.
            self.wait_done(&members);
            let failed = members.iter().any(|&c| self.error(c) != 0);
            (rc, e) = if failed { (-1, libc::EIO) } else { (0, 0) };
        }
        self.out(&format!(
            "lio_listio({}, [{}], {notify:?}) -> {}",
            if wait { "WAIT" } else { "NOWAIT" },
            desc.join("; "),
            rc_str(rc as isize, e)
        ));
        if rc == 0 || (rc == -1 && e == libc::EIO) {
            for e in entries {
                if let LioEntry::Req(r) = e {
                    if self.error(r.cb) != libc::EINVAL {
                        self.sigevent(r.notify, true);
                        self.note_due[r.cb] = Some(r.notify);
                    }
                }
            }
            if !wait {
                self.sigevent(notify, true);
            }
        }
        if wait {
            for &c in &members {
                self.print_outcome(c, Outcome::Exact);
            }
        }
    }

    /// Wait until none of `cbs` is in progress; a hang ends the sequence.
    pub(super) fn wait_done(&mut self, cbs: &[usize]) {
        let t0 = now_ms();
        loop {
            let pending: Vec<*const Aiocb> = cbs
                .iter()
                .filter(|&&c| self.error(c) == libc::EINPROGRESS)
                .map(|&c| self.cbp(c) as *const Aiocb)
                .collect();
            if pending.is_empty() {
                return;
            }
            if now_ms() - t0 > HANG_MS {
                let which: Vec<String> = cbs
                    .iter()
                    .filter(|&&c| self.error(c) == libc::EINPROGRESS)
                    .map(|&c| format!("cb{c}"))
                    .collect();
                self.out(&format!(
                    "HANG: {} still in progress after {HANG_MS} ms",
                    which.join(" ")
                ));
                // SAFETY: ends this sequence's process at once.
                unsafe { libc::_exit(3) };
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            self.calls += 1;
            // SAFETY: live aiocbs.
            unsafe { aio_suspend(pending.as_ptr(), pending.len() as i32, &ts) };
        }
    }

    pub(super) fn print_outcome(&mut self, cb: usize, out: Outcome) {
        let e = self.error(cb);
        // SAFETY: a live aiocb, reaped once.
        let ret = unsafe { aio_return(self.cbp(cb)) };
        self.calls += 2;
        let s = match out {
            Outcome::Settled => {
                if e == libc::EINPROGRESS || (e == libc::ECANCELED && ret != -1) {
                    format!(
                        "cb{cb} settled: INCONSISTENT aio_error={} aio_return={ret}",
                        errname(e)
                    )
                } else {
                    format!("cb{cb} settled")
                }
            }
            Outcome::Exact => {
                let mut s = format!("cb{cb} aio_error={} aio_return={ret}", errname(e));
                let r = self.reqs[cb].clone();
                if let Some(r) = r {
                    if r.call == Call::Read && e == 0 && ret > 0 && !r.null_buf {
                        let n = (ret as usize).min(BUF_CAP - r.buf_off);
                        let h = hash(&self.buf(cb)[r.buf_off..r.buf_off + n]);
                        s += &format!(" data={h:016x}");
                    }
                }
                s
            }
        };
        self.out(&s);
    }

    pub(super) fn cancel(&mut self, c: &Cancel) {
        self.calls += 1;
        set_errno(0);
        let s = match c {
            Cancel::InFlight { slot, cb } => {
                // SAFETY: a live aiocb on its own descriptor.
                let rc = unsafe { aio_cancel(self.fds[*slot], self.cbp(*cb)) };
                let e = self.error(*cb);
                let ok = match rc {
                    AIO_CANCELED => e == libc::ECANCELED,
                    AIO_NOTCANCELED => true,
                    AIO_ALLDONE => e != libc::EINPROGRESS,
                    _ => false,
                };
                if ok {
                    format!("aio_cancel(s{slot}, cb{cb}) in flight -> consistent")
                } else {
                    format!(
                        "aio_cancel(s{slot}, cb{cb}) in flight -> INCONSISTENT {rc} errno {} aio_error {}",
                        errname(errno()),
                        errname(e)
                    )
                }
            }
            Cancel::AllInFlight { slot, cbs } => {
                // SAFETY: NULL means every request on the descriptor.
                let rc = unsafe { aio_cancel(self.fds[*slot], std::ptr::null_mut()) };
                let busy = cbs.iter().any(|&c| self.error(c) == libc::EINPROGRESS);
                let ok = match rc {
                    AIO_CANCELED | AIO_ALLDONE => !busy,
                    AIO_NOTCANCELED => true,
                    _ => false,
                };
                if ok {
                    format!("aio_cancel(s{slot}, NULL) in flight -> consistent")
                } else {
                    format!(
                        "aio_cancel(s{slot}, NULL) in flight -> INCONSISTENT {rc} errno {} (one still in progress: {busy})",
                        errname(errno())
                    )
                }
            }
            Cancel::Fixed { target, cb } => {
                let fd = self.fd_of(*target);
                let p = cb.map_or(std::ptr::null_mut(), |c| self.cbp(c));
                // SAFETY: a live aiocb that is not in flight, or NULL.
                let rc = unsafe { aio_cancel(fd, p) };
                let e = errno();
                format!(
                    "aio_cancel({target:?}, {}) -> {}",
                    cb.map_or("NULL".into(), |c| format!("cb{c}")),
                    rc_str(rc as isize, e)
                )
            }
        };
        self.out(&s);
    }

    pub(super) fn suspend(&mut self, cbs: &[Option<usize>], timeout: Timeout, fixed: bool) {
        let list: Vec<*const Aiocb> = cbs
            .iter()
            .map(|c| c.map_or(std::ptr::null(), |c| self.cbp(c) as *const Aiocb))
            .collect();
        let ts = match timeout {
            Timeout::Null | Timeout::Zero => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            Timeout::Ms(ms) => libc::timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: (ms % 1000) as i64 * 1_000_000,
            },
        };
        let tsp = if timeout == Timeout::Null {
            std::ptr::null()
        } else {
            &ts as *const _
        };
        let mut tries = 0;
        let (rc, e) = loop {
            set_errno(0);
            self.calls += 1;
            // SAFETY: live aiocbs and NULL entries.
            let rc = unsafe { aio_suspend(list.as_ptr(), list.len() as i32, tsp) };
            let e = errno();
            tries += 1;
            if rc == -1 && e == libc::EINTR && tries < 20 {
                continue;
            }
            break (rc, e);
        };
        let names: Vec<String> = cbs
            .iter()
            .map(|c| c.map_or("NULL".into(), |c| format!("cb{c}")))
            .collect();
        if fixed {
            self.out(&format!(
                "aio_suspend([{}], {timeout:?}) -> {}",
                names.join(" "),
                rc_str(rc as isize, e)
            ));
        } else {
            self.out(&format!(
                "aio_suspend([{}], {timeout:?}) (timing: not compared)",
                names.join(" ")
            ));
        }
    }

    pub(super) fn zeroed_error(&mut self, cb: usize) {
        self.calls += 1;
        self.out(&format!(
            "aio_error(zeroed cb{cb}) -> {}",
            errname(self.error(cb))
        ));
    }
}
