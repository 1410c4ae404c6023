//! Batches on regular files: reads and writes of whole regions (one batch
//! at a time per region), an fsync behind them now and then, and the check
//! of each result against the region's version.

use std::sync::atomic::Ordering::Relaxed;

use crate::ffi::{aio_fsync, errname, errno, LIO_NOP, LIO_READ, LIO_WRITE};
use crate::ledger::{note_wait, pick_notify};
use crate::model::{fill_region, NREG, REG};
use crate::report::{count, K};
use crate::req::Kind;
use crate::worker::{Worker, MAX_BATCH};

impl Worker {
    pub(crate) fn file_batch(&mut self, fi: usize) {
        let sh = self.sh.clone();
        let f = &sh.files[fi];
        let n = self.rng.range(1, MAX_BATCH as u64) as usize;
        let mut used: Vec<usize> = Vec::new();
        for slot in 0..n {
            let mut region = None;
            for _ in 0..4 {
                let r = self.rng.below(NREG as u64) as usize;
                if f.try_lock(r) {
                    region = Some(r);
                    break;
                }
            }
            let Some(region) = region else { continue };
            let fd = f.fds[self.rng.below(2) as usize];
            let write = self.rng.pct(40);
            let tid = self.tid;
            let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
            let prio = self.rng.below(21) as i32;
            let ver = f.version[region].load(Relaxed);
            let r = &mut *self.pool[slot];
            r.note = note;
            r.file = fi;
            r.region = region;
            let base = (region * REG) as i64;
            if write {
                r.kind = Kind::Write;
                r.version = ver + 1;
                fill_region(r.buf(REG), f.id, region, ver + 1);
                r.expect_len = REG;
                r.sub = 0;
                r.prep(fd, LIO_WRITE, REG, base, ev, prio);
            } else {
                r.kind = Kind::Read;
                r.version = ver;
                let (sub, mut len) = if f.direct {
                    let sub = 4096 * self.rng.below(2) as usize;
                    (sub, if self.rng.pct(50) { 4096 } else { REG - sub })
                } else if self.rng.pct(3) {
                    (self.rng.below(REG as u64) as usize, 0)
                } else {
                    let sub = self.rng.below(REG as u64) as usize;
                    (sub, self.rng.range(1, (REG - sub) as u64) as usize)
                };
                r.expect_len = len;
                if region == NREG - 1 && self.rng.pct(30) {
                    // Reaching past the end of the file: a short read.
                    len = REG - sub
                        + if f.direct {
                            4096
                        } else {
                            self.rng.range(1, 4096) as usize
                        };
                    r.expect_len = REG - sub;
                    count(K::EofRead, 1);
                }
                r.sub = sub;
                r.buf(len).fill(0xEE);
                r.prep(fd, LIO_READ, len, base + sub as i64, ev, prio);
            }
            r.desc = format!(
                "{} {} fd={} region={} off={} len={} note={}",
                f.name,
                if write { "write" } else { "read" },
                fd,
                region,
                base + r.sub as i64,
                // SAFETY: just prepared.
                unsafe { (*r.cbp()).aio_nbytes },
                note
            );
            used.push(slot);
        }
        if used.is_empty() {
            return;
        }
        self.set_activity(format!("{} batch of {}", f.name, used.len()), &used);
        self.submit_batch(&used, false);

        // An fsync behind the writes of one descriptor, now and then.
        let mut barrier: Option<(usize, Vec<usize>)> = None;
        let writes: Vec<usize> = used
            .iter()
            .copied()
            .filter(|&i| self.pool[i].kind == Kind::Write)
            .collect();
        if !writes.is_empty() && self.rng.pct(30) {
            let fd = self.pool[writes[self.rng.below(writes.len() as u64) as usize]].fd;
            let slot = MAX_BATCH;
            let tid = self.tid;
            let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
            let op = if self.rng.pct(50) {
                libc::O_SYNC
            } else {
                libc::O_DSYNC
            };
            let r = &mut *self.pool[slot];
            r.kind = Kind::Fsync;
            r.note = note;
            r.prep(fd, LIO_NOP, 0, 0, ev, 0);
            r.desc = format!("{} fsync fd={fd} note={note}", f.name);
            // SAFETY: a valid aiocb.
            let rc = unsafe { aio_fsync(op, r.cbp()) };
            if rc != 0 {
                fail!(
                    self.idx,
                    "aio_fsync(fd {fd}) = {rc} errno {}",
                    errname(errno())
                );
            }
            let covered = writes
                .iter()
                .copied()
                .filter(|&i| self.pool[i].fd == fd)
                .collect();
            barrier = Some((slot, covered));
            used.push(slot);
            self.set_activity(
                format!("{} batch of {} + fsync", f.name, used.len() - 1),
                &used,
            );
        }
        self.maybe_cancel(&used);
        self.wait_all(&used, barrier.as_ref(), true, None);
        for &i in &used {
            self.reap_file(i);
        }
        for &i in &used {
            let r = &self.pool[i];
            if r.kind != Kind::Fsync {
                f.unlock(r.region);
            }
        }
        self.check_list_notes();
    }

    pub(crate) fn reap_file(&mut self, i: usize) {
        let sh = self.sh.clone();
        let r = &*self.pool[i];
        let e = r.error();
        let ret = r.ret();
        let f = &sh.files[r.file];
        match (r.kind, e) {
            (_, libc::ECANCELED) => {
                if ret != -1 {
                    fail!(self.idx, "{}: cancelled but aio_return = {ret}", r.desc);
                }
                count(K::Cancelled, 1);
            }
            (Kind::Fsync, 0) => {
                if ret != 0 {
                    fail!(self.idx, "{}: aio_return = {ret}, expected 0", r.desc);
                }
                count(K::Fsync, 1);
            }
            (Kind::Write, 0) => {
                if ret != REG as isize {
                    fail!(self.idx, "{}: aio_return = {ret}, expected {REG}", r.desc);
                }
                f.version[r.region].store(r.version, Relaxed);
                count(if f.direct { K::DirectWrite } else { K::Write }, 1);
                count(K::BytesWritten, REG as u64);
            }
            (Kind::Read, 0) => {
                if ret != r.expect_len as isize {
                    fail!(
                        self.idx,
                        "{}: aio_return = {ret}, expected {}",
                        r.desc,
                        r.expect_len
                    );
                }
                let mut want = std::mem::take(&mut self.scratch);
                fill_region(&mut want, f.id, r.region, r.version);
                let got = r.buf(r.expect_len);
                if got != &want[r.sub..r.sub + r.expect_len] {
                    let at = got
                        .iter()
                        .zip(&want[r.sub..])
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    fail!(
                        self.idx,
                        "{}: data differs from region version {} at byte {at}",
                        r.desc,
                        r.version
                    );
                }
                self.scratch = want;
                count(if f.direct { K::DirectRead } else { K::Read }, 1);
                count(K::BytesRead, ret as u64);
            }
            (_, e) => fail!(
                self.idx,
                "{}: aio_error = {} (aio_return {ret})",
                r.desc,
                errname(e)
            ),
        }
        if r.note != 0 {
            note_wait(self.idx, r.note);
        }
    }
}
