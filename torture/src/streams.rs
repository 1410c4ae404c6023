//! Batches on pipes and socketpairs: reads that ask for exactly what the
//! writes provide, so none can starve, checked byte by byte against the
//! stream's model.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::ffi::{errname, errno, Rng, LIO_READ, LIO_WRITE};
use crate::ledger::{note_wait, pick_notify};
use crate::model::BUF_CAP;
use crate::report::{count, die, K};
use crate::req::{Kind, Req};
use crate::worker::{Worker, STREAM_HIGH};

impl Worker {
    pub(crate) fn stream_batch(&mut self) {
        let sh = self.sh.clone();
        let si = self.rng.below(sh.streams.len() as u64) as usize;
        let s = &sh.streams[si];
        if s.busy
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            return;
        }
        let d = self.rng.below(s.dirs.len() as u64) as usize;
        let (rfd, wfd) = s.dirs[d];
        let mut model = s.models[d].lock().unwrap();
        let held = model.pending.len();
        // Writes first decided, then reads asking for exactly what the stream
        // will hold, so no read can starve (each returns at least one byte,
        // in order, and there is always as much data as is still asked for).
        let mut ops: Vec<(Kind, usize)> = Vec::new();
        let mut total = held;
        if held < STREAM_HIGH {
            for _ in 0..self.rng.range(1, 4) {
                let len = self.rng.range(1, 8192) as usize;
                total += len;
                ops.push((Kind::StreamWrite, len));
            }
        }
        let nreads = (self.rng.range(1, 4) as usize).min(total);
        let mut left = total;
        for k in 0..nreads {
            let len = if k + 1 == nreads {
                left
            } else {
                self.rng.range(1, (left - (nreads - k - 1)) as u64) as usize
            };
            let len = len.min(BUF_CAP);
            left -= len;
            ops.push((Kind::StreamRead, len));
        }
        // Random interleaving of reads and writes; the order within each
        // kind is what the stream preserves.
        for i in (1..ops.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            ops.swap(i, j);
        }
        let mut used = Vec::new();
        for (slot, &(kind, len)) in ops.iter().enumerate() {
            let tid = self.tid;
            let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
            let seq = model.seq;
            model.seq += 1;
            let r = &mut *self.pool[slot];
            r.kind = kind;
            r.note = note;
            r.expect_len = len;
            if kind == Kind::StreamWrite {
                let mut g = Rng(seq ^ (si as u64) << 40 ^ 0xabcdef);
                let b = r.buf(len);
                for x in b.iter_mut() {
                    *x = g.next() as u8;
                }
                r.data.clear();
                r.data.extend_from_slice(b);
                r.prep(wfd, LIO_WRITE, len, 0, ev, 0);
            } else {
                r.buf(len).fill(0xEE);
                r.prep(rfd, LIO_READ, len, self.rng.below(1 << 20) as i64, ev, 0);
            }
            r.desc = format!(
                "{} dir {d} {} fd={} len={len} note={note}",
                s.name,
                if kind == Kind::StreamWrite {
                    "write"
                } else {
                    "read"
                },
                r.fd
            );
            used.push(slot);
        }
        self.set_activity(
            format!("{} dir {d}: {} ops, {held} bytes held", s.name, used.len()),
            &used,
        );
        self.submit_batch(&used, true);
        self.maybe_cancel(&used);
        let mut sw = StreamWait {
            wfd,
            held,
            topped: Vec::new(),
        };
        self.wait_all(&used, None, false, Some(&mut sw));

        // The stream as the model has it: what it held, the writes that
        // succeeded (in submission order), then any top-up.
        for &i in &used {
            let r = &*self.pool[i];
            let (e, ret) = (r.error(), r.ret());
            if r.kind != Kind::StreamWrite {
                continue;
            }
            match e {
                0 if ret == r.expect_len as isize => {
                    model.pending.extend(&r.data);
                    count(K::StreamWrite, 1);
                    count(K::BytesWritten, ret as u64);
                }
                _ => cancelled_or_fail(self.idx, r, e, ret),
            }
        }
        model.pending.extend(&sw.topped);
        for &i in &used {
            let r = &*self.pool[i];
            let (e, ret) = (r.error(), r.ret());
            if r.kind == Kind::StreamRead {
                match e {
                    0 if ret > 0 && ret as usize <= r.expect_len => {
                        let got = r.buf(ret as usize);
                        if model.pending.len() < got.len() {
                            fail!(
                                self.idx,
                                "{}: read {ret} bytes, the stream held only {}",
                                r.desc,
                                model.pending.len()
                            );
                        }
                        for (k, &b) in got.iter().enumerate() {
                            let want = model.pending.pop_front().unwrap_or(0);
                            if b != want {
                                fail!(self.idx, "{}: byte {k} of {ret} is {b:#x}, the stream has {want:#x} there", r.desc);
                            }
                        }
                        count(K::StreamRead, 1);
                        count(K::BytesRead, ret as u64);
                    }
                    _ => cancelled_or_fail(self.idx, r, e, ret),
                }
            }
            if r.note != 0 {
                note_wait(self.idx, r.note);
            }
        }
        drop(model);
        s.busy.store(false, Release);
        self.check_list_notes();
    }
}

/// A stream request of worker `idx` that did not complete as the model
/// expects: counted if it was cancelled, a failure otherwise.
fn cancelled_or_fail(idx: usize, r: &Req, e: i32, ret: isize) {
    if e == libc::ECANCELED && ret == -1 {
        count(K::Cancelled, 1);
    } else {
        fail!(idx, "{}: aio_error {} aio_return {ret}", r.desc, errname(e));
    }
}

/// Stream-batch state for `wait_all`: when every write is done and reads
/// still wait with nothing left in the stream (writes were cancelled), write
/// what they ask for synchronously so they can finish; the bytes join the
/// model after the writes.
pub(crate) struct StreamWait {
    pub(crate) wfd: i32,
    pub(crate) held: usize,
    pub(crate) topped: Vec<u8>,
}

impl StreamWait {
    pub(crate) fn maybe_top_up(
        &mut self,
        pool: &[&'static mut Req],
        used: &[usize],
        idle_ms: u64,
    ) -> bool {
        if idle_ms < 20 {
            return false;
        }
        let mut in_stream = self.held as isize + self.topped.len() as isize;
        let mut want = 0usize;
        for &i in used {
            let r = &pool[i];
            let e = r.error();
            match (r.kind, e) {
                (Kind::StreamWrite, libc::EINPROGRESS) => return false,
                (Kind::StreamWrite, 0) => in_stream += r.ret(),
                (Kind::StreamRead, 0) => in_stream -= r.ret(),
                (Kind::StreamRead, libc::EINPROGRESS) => want += r.expect_len,
                _ => {}
            }
        }
        if want == 0 || in_stream > 0 {
            // Data is there for the reads: they must take it by themselves
            // (wait_all's hang check fails the run otherwise).
            return false;
        }
        count(K::TopUps, 1);
        let start = self.topped.len();
        let mut g = Rng(start as u64 ^ 0x70_9009);
        self.topped.extend((0..want).map(|_| g.next() as u8));
        let mut off = start;
        while off < self.topped.len() {
            // SAFETY: writing our own buffer to our own descriptor.
            let n = unsafe {
                libc::write(
                    self.wfd,
                    self.topped[off..].as_ptr() as *const _,
                    self.topped.len() - off,
                )
            };
            if n <= 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                die(
                    None,
                    &format!("top-up write to fd {}: {}", self.wfd, errname(errno())),
                );
            }
            off += n as usize;
        }
        true
    }
}
