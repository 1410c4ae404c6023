//! Execution: submitting a batch (one by one or as a `lio_listio` list),
//! cancelling some of it, and waiting for all of it with `aio_suspend` or
//! by polling, checking each synchronous result on the way.

use std::sync::atomic::Ordering::Relaxed;

use crate::ffi::{
    aio_cancel, aio_error, aio_read, aio_suspend, aio_write, errname, errno, lio_listio, now_ms,
    set_errno, Aiocb, Sigevent, AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, LIO_NOP, LIO_NOWAIT,
    LIO_WAIT,
};
use crate::ledger::{note_expect_none, pick_notify};
use crate::report::{count, K};
use crate::req::Kind;
use crate::streams::StreamWait;
use crate::worker::{Worker, CANCELS, HANG_MS, THREAD_ID_OK};

impl Worker {
    /// Submit the requests `used` one by one, or as one `lio_listio` list in
    /// either mode (LIO_WAIT only when `wait_ok`), with NULL and NOP entries.
    pub(crate) fn submit_batch(&mut self, used: &[usize], stream: bool) {
        let how = self.rng.below(100);
        // LIO_WAIT is safe for streams too: the reads of a batch ask for no
        // more than its writes (and what the stream held) provide, and the
        // writes always fit in the pipe or socket buffer.
        let _ = stream;
        let wait_ok = true;
        if how < 45 {
            for &i in used {
                let r = &*self.pool[i];
                // SAFETY: a prepared aiocb with a live buffer.
                let rc = unsafe {
                    if matches!(r.kind, Kind::Write | Kind::StreamWrite) {
                        aio_write(r.cbp())
                    } else {
                        aio_read(r.cbp())
                    }
                };
                if rc != 0 {
                    fail!(
                        self.idx,
                        "{}: submission returned {rc} errno {}",
                        r.desc,
                        errname(errno())
                    );
                }
            }
            return;
        }
        let mode = if how < 70 && wait_ok {
            LIO_WAIT
        } else {
            LIO_NOWAIT
        };
        let mut list: Vec<*mut Aiocb> = Vec::new();
        for &i in used {
            if self.rng.pct(5) {
                list.push(std::ptr::null_mut());
            }
            if self.rng.pct(5) {
                self.nop.prep(-1, LIO_NOP, 0, 0, Sigevent::none(), 0);
                list.push(self.nop.cbp());
            }
            list.push(self.pool[i].cbp());
        }
        let tid = self.tid;
        let (mut ev, note) = pick_notify(self.idx, &mut self.rng, tid);
        if mode == LIO_WAIT {
            // LIO_WAIT ignores the list's sigevent: it must never be delivered.
            note_expect_none(note);
        } else if note != 0 {
            count(K::NotifyList, 1);
        }
        set_errno(0);
        // SAFETY: every non-NULL entry is a prepared aiocb with a live buffer.
        let rc = unsafe { lio_listio(mode, list.as_ptr(), list.len() as i32, &mut ev) };
        let e = errno();
        if mode == LIO_NOWAIT {
            count(K::LioNowait, 1);
            if rc != 0 {
                fail!(
                    self.idx,
                    "lio_listio(LIO_NOWAIT, {} entries) = {rc} errno {}",
                    list.len(),
                    errname(e)
                );
            }
            if note != 0 {
                // Checked after the batch: it fires once all members are done.
                self.list_notes.push(note);
            }
            return;
        }
        count(K::LioWait, 1);
        let failed = used.iter().any(|&i| {
            let e = self.pool[i].error();
            e != 0 && e != libc::EINPROGRESS
        });
        let inflight = used
            .iter()
            .any(|&i| self.pool[i].error() == libc::EINPROGRESS);
        match (rc, e) {
            (0, _) if !failed && !inflight => {}
            (-1, libc::EIO) if failed && !inflight => {}
            (-1, libc::EINTR) => count(K::LioEintr, 1),
            _ => fail!(
                self.idx,
                "lio_listio(LIO_WAIT) = {rc} errno {} with members failed={failed} in-flight={inflight}",
                errname(e)
            ),
        }
    }

    /// Now and then, cancel one request, every request of a descriptor, or
    /// name a descriptor that is not the aiocb's (EINVAL).
    pub(crate) fn maybe_cancel(&mut self, used: &[usize]) {
        if !self.rng.pct(20) || !CANCELS.load(Relaxed) {
            return;
        }
        count(K::CancelCalls, 1);
        let r = &*self.pool[used[self.rng.below(used.len() as u64) as usize]];
        let k = self.rng.below(100);
        if k < 15 {
            // SAFETY: NULL means every request on the descriptor.
            let rc = unsafe { aio_cancel(r.fd, std::ptr::null_mut()) };
            if !(0..=2).contains(&rc) {
                fail!(
                    self.idx,
                    "aio_cancel(fd {}, NULL) = {rc} errno {}",
                    r.fd,
                    errname(errno())
                );
            }
            return;
        }
        if k < 20 {
            let other = r.fd + 100_000;
            set_errno(0);
            // SAFETY: a live aiocb; the fd does not match it.
            let rc = unsafe { aio_cancel(other, r.cbp()) };
            let e = errno();
            if rc != -1 || (e != libc::EBADF && e != libc::EINVAL) {
                fail!(
                    self.idx,
                    "aio_cancel(fd {other} not the aiocb's) = {rc} errno {}",
                    errname(e)
                );
            }
            return;
        }
        // SAFETY: a live aiocb on its own descriptor.
        let rc = unsafe { aio_cancel(r.fd, r.cbp()) };
        let e = r.error();
        match rc {
            AIO_CANCELED if e == libc::ECANCELED => {}
            AIO_ALLDONE if e != libc::EINPROGRESS => {}
            AIO_NOTCANCELED => {}
            _ => fail!(
                self.idx,
                "{}: aio_cancel = {rc} (errno {}) but aio_error = {}",
                r.desc,
                errname(errno()),
                errname(e)
            ),
        }
    }

    /// Wait until every request in `used` is done: aio_suspend with short,
    /// zero or no timeouts, or polling aio_error. Checks that a successful
    /// aio_suspend means one listed request is done, and that an fsync never
    /// finishes before the writes it covers. `stream`: `(reads, writes)`
    /// handling of a stream batch (top-ups), see `stream_batch`.
    pub(crate) fn wait_all(
        &mut self,
        used: &[usize],
        barrier: Option<&(usize, Vec<usize>)>,
        null_timeout_ok: bool,
        mut stream: Option<&mut StreamWait>,
    ) {
        let mut last_progress = now_ms();
        let mut barrier_checked = false;
        loop {
            let mut pending: Vec<*const Aiocb> = Vec::new();
            let mut progressed = false;
            for &i in used {
                let r = &mut *self.pool[i];
                if r.seen_done {
                    continue;
                }
                if r.error() == libc::EINPROGRESS {
                    pending.push(r.cbp());
                } else {
                    r.seen_done = true;
                    progressed = true;
                }
            }
            if let (Some((fs, covered)), false, true) =
                (barrier, barrier_checked, THREAD_ID_OK.load(Relaxed))
            {
                let fsr = &self.pool[*fs];
                if fsr.seen_done && fsr.error() == 0 {
                    barrier_checked = true;
                    count(K::BarrierChecks, 1);
                    for &w in covered {
                        if self.pool[w].error() == libc::EINPROGRESS {
                            fail!(
                                self.idx,
                                "{} completed before {} it must follow",
                                fsr.desc,
                                self.pool[w].desc
                            );
                        }
                    }
                }
            }
            if pending.is_empty() {
                return;
            }
            let now = now_ms();
            if progressed {
                last_progress = now;
                self.beat();
            } else if now - last_progress > HANG_MS {
                fail!(
                    self.idx,
                    "no request of the batch finished for {HANG_MS} ms"
                );
            }
            if let Some(sw) = stream.as_deref_mut() {
                if sw.maybe_top_up(&self.pool, used, now - last_progress) {
                    last_progress = now;
                }
            }
            let how = self.rng.below(100);
            if how < 60 {
                let mut list = pending.clone();
                if self.rng.pct(10) {
                    list.insert(self.rng.below(list.len() as u64) as usize, std::ptr::null());
                }
                let ts;
                let tsp = match self.rng.below(10) {
                    0 if null_timeout_ok => std::ptr::null(),
                    1 => {
                        ts = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        };
                        &ts as *const _
                    }
                    _ => {
                        ts = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: self.rng.range(100_000, 20_000_000) as i64,
                        };
                        &ts as *const _
                    }
                };
                count(K::Suspends, 1);
                set_errno(0);
                // SAFETY: live aiocbs (and a NULL, which is skipped).
                let rc = unsafe { aio_suspend(list.as_ptr(), list.len() as i32, tsp) };
                let e = errno();
                match (rc, e) {
                    (0, _) => {
                        let any = pending.iter().any(|&cb| {
                            // SAFETY: live aiocbs.
                            unsafe { aio_error(cb) != libc::EINPROGRESS }
                        });
                        if !any {
                            let tags: Vec<String> = pending
                                .iter()
                                // SAFETY: live aiocbs; bytes 96..104 are glibc's __next_prio.
                                .map(|&cb| {
                                    format!("{:#x}", unsafe {
                                        *((cb as *const u8).add(96) as *const u64)
                                    })
                                })
                                .collect();
                            // Lost, or only late? Give them 3 s.
                            let t0 = now_ms();
                            // SAFETY: live aiocbs.
                            while pending
                                .iter()
                                .all(|&cb| unsafe { aio_error(cb) } == libc::EINPROGRESS)
                                && now_ms() - t0 < 3000
                            {
                                std::thread::sleep(std::time::Duration::from_millis(10));
                            }
                            let later = if now_ms() - t0 >= 3000 {
                                "none finished within 3 s"
                            } else {
                                "one finished later"
                            };
                            fail!(
                                self.idx,
                                "aio_suspend returned 0 with all {} listed requests in progress (private tags {}; {later})",
                                pending.len(),
                                tags.join(" ")
                            );
                        }
                    }
                    (-1, libc::EAGAIN) if !tsp.is_null() => {}
                    (-1, libc::EINTR) => count(K::SuspendIntr, 1),
                    _ => fail!(self.idx, "aio_suspend = {rc} errno {}", errname(e)),
                }
            } else if how < 80 {
                // SAFETY: no arguments.
                unsafe { libc::sched_yield() };
            } else {
                std::thread::sleep(std::time::Duration::from_micros(self.rng.range(10, 2000)));
            }
        }
    }
}
