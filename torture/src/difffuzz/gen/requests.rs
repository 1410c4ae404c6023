//! Requests: one aiocb's call, target, offset, length, buffer, priority and
//! notification, chosen so that the outcome is fixed (or the request is
//! not made), for `aio_read`/`aio_write`/`aio_fsync` and `lio_listio`.

use super::model::{overlaps, InFlight, Pending};
use super::{Call, Gen, LioEntry, Notify, Op, Outcome, Req, Res, Target, ATOMIC};

impl Gen {
    /// A request on `cb` (read or write unless `fsync_ok`), if one whose
    /// outcome is fixed can be made now; the model is updated as if it was
    /// submitted.
    pub(super) fn make_req(&mut self, cb: usize, fsync_ok: bool, in_lio_wait: bool) -> Option<Req> {
        let call = match self.rng.below(10) {
            0 if fsync_ok => Call::Fsync {
                dsync: self.rng.pct(50),
                bad_op: self.rng.pct(10),
            },
            1..=4 => Call::Write,
            _ => Call::Read,
        };
        let open = self.open_slots();
        let target = if open.is_empty() || self.rng.pct(6) {
            Target::BadFd
        } else {
            Target::Slot(open[self.rng.below(open.len() as u64) as usize])
        };
        let mut req = Req {
            cb,
            call,
            target,
            off: 0,
            len: 0,
            buf_off: 0,
            null_buf: false,
            prio: self.rng.below(21) as i32,
            notify: Notify::None,
            data: self.rng.next(),
        };
        // A priority out of range makes aio_read/aio_write refuse the
        // request at once, whatever the target; aio_fsync ignores it.
        let bad_prio = !in_lio_wait && self.rng.pct(4);
        if bad_prio {
            req.prio = if self.rng.pct(50) { 21 } else { -1 };
        }
        let refused = bad_prio && !matches!(call, Call::Fsync { .. });
        if let Target::Slot(s) = target {
            if self.blocked_on(s) {
                return None;
            }
        }
        let res = match target {
            Target::Slot(s) => self.slots[s],
            Target::BadFd => None,
        };
        let what = match (call, res) {
            (Call::Fsync { .. }, _) => {
                req.len = 0;
                Pending::Other
            }
            (_, None) => {
                req.len = self.rng.range(0, 4096) as usize;
                Pending::Other
            }
            (_, Some(Res::File(f))) => {
                let direct = f == 2;
                let (off, len) = if direct && self.rng.pct(85) {
                    (
                        4096 * self.rng.range(0, 20),
                        4096 * self.rng.range(0, 4) as usize,
                    )
                } else if self.rng.pct(3) {
                    (-(self.rng.range(1, 4096) as i64) as u64, 16)
                } else {
                    (
                        self.rng.range(0, 80 << 10),
                        self.rng.range(0, 16 << 10) as usize,
                    )
                };
                req.off = off as i64;
                req.len = len;
                if direct && self.rng.pct(10) {
                    req.buf_off = 512 * self.rng.range(1, 7) as usize;
                } else if !direct && self.rng.pct(20) {
                    req.buf_off = self.rng.range(1, 4095) as usize;
                }
                if self.rng.pct(2) && len > 0 {
                    req.null_buf = true;
                }
                if req.off < 0 {
                    Pending::Other
                } else {
                    let range = (off, off + len as u64);
                    let fm = &self.files[f];
                    let busy = self.pending.iter().flatten().any(|p| match p.what {
                        Pending::FileWrite {
                            file, start, end, ..
                        } => file == f && overlaps(range, (start, end)),
                        Pending::FileRead { file, start, end } => {
                            call == Call::Write && file == f && overlaps(range, (start, end))
                        }
                        _ => false,
                    });
                    if busy || fm.taint.iter().any(|&t| overlaps(range, t)) {
                        return None;
                    }
                    if call == Call::Read {
                        if range.1 > fm.min_size {
                            // Past the known size: only when nothing in
                            // flight can move it.
                            let moving = self.pending.iter().flatten().any(|p| {
                                matches!(p.what, Pending::FileWrite { file, end, .. } if file == f && end > fm.min_size)
                            });
                            if moving || fm.min_size != fm.max_size {
                                return None;
                            }
                        }
                        Pending::FileRead {
                            file: f,
                            start: range.0,
                            end: range.1,
                        }
                    } else {
                        // Nor may a write move the size under a read in
                        // flight that reaches past it.
                        if range.1 > fm.min_size {
                            let reading_past = self.pending.iter().flatten().any(|p| {
                                matches!(p.what, Pending::FileRead { file, end, .. } if file == f && end > fm.min_size)
                            });
                            if reading_past {
                                return None;
                            }
                        }
                        // A misaligned O_DIRECT write fails on most
                        // filesystems but not all; a NULL buffer fails.
                        let aligned =
                            !direct || (off % 4096 == 0 && len % 4096 == 0 && req.buf_off == 0);
                        let certain = aligned && !req.null_buf && !refused;
                        Pending::FileWrite {
                            file: f,
                            start: range.0,
                            end: range.1,
                            certain,
                            extends: len > 0 && range.1 > fm.min_size,
                        }
                    }
                }
            }
            (Call::Read, Some(Res::StreamW(_))) | (Call::Write, Some(Res::StreamR(_))) => {
                // The wrong end of a pipe: EBADF.
                req.len = self.rng.range(1, 100) as usize;
                Pending::Other
            }
            (_, Some(Res::DevNull)) | (_, Some(Res::DevZero)) => {
                req.len = self.rng.range(0, 8192) as usize;
                req.off = if self.rng.pct(5) {
                    -1
                } else {
                    self.rng.range(0, 1 << 20) as i64
                };
                Pending::Other
            }
            (Call::Read, Some(Res::StreamR(s))) | (Call::Read, Some(Res::Sock { rd: s, .. })) => {
                let st = &self.streams[s];
                if st.tainted || st.read.is_some() || st.write.is_some() {
                    return None;
                }
                req.len = self.rng.range(1, 6000) as usize;
                req.off = self.rng.range(0, 1 << 20) as i64;
                let slot = match target {
                    Target::Slot(x) => x,
                    Target::BadFd => unreachable!(),
                };
                if refused {
                    Pending::Other
                } else if st.avail > 0 {
                    // It gets what is there now, and no write may add to it
                    // before it is waited for.
                    let got = req.len.min(st.avail);
                    self.streams[s].avail -= got;
                    self.streams[s].read = Some((cb, req.len, true));
                    Pending::StreamRead { s, fed: true }
                } else if st.writers == 0 {
                    self.streams[s].read = Some((cb, req.len, true));
                    Pending::StreamRead { s, fed: true }
                } else if in_lio_wait {
                    return None;
                } else if self.pending.iter().flatten().any(|p| p.slot == Some(slot)) {
                    // glibc may run this read before what is queued on the
                    // descriptor already (by aio_reqprio), and block it.
                    return None;
                } else {
                    self.streams[s].read = Some((cb, req.len, false));
                    Pending::StreamRead { s, fed: false }
                }
            }
            (Call::Write, Some(Res::StreamW(s))) | (Call::Write, Some(Res::Sock { wr: s, .. })) => {
                let len = self.rng.range(1, ATOMIC as u64) as usize;
                if !self.stream_write_ok(s, len) {
                    return None;
                }
                req.len = len;
                req.off = self.rng.range(0, 1 << 20) as i64;
                if refused {
                    Pending::Other
                } else {
                    self.stream_wrote(s, len);
                    self.streams[s].write = Some(cb);
                    Pending::StreamWrite { s }
                }
            }
        };
        if in_lio_wait {
            if let Pending::StreamRead { fed: false, .. } = what {
                return None;
            }
        }
        req.notify = self.pick_notify();
        self.used[cb] = true;
        self.last_slot[cb] = match target {
            Target::Slot(s) => Some((s, self.slot_gen[s])),
            Target::BadFd => None,
        };
        let sync_refusal = refused
            || matches!(call, Call::Fsync { bad_op: true, .. })
            || (matches!(call, Call::Fsync { .. }) && target == Target::BadFd);
        if !sync_refusal {
            self.pending[cb] = Some(InFlight {
                slot: match target {
                    Target::Slot(s) => Some(s),
                    Target::BadFd => None,
                },
                what,
                maybe_cancelled: false,
                thread_note: matches!(req.notify, Notify::Thread(_)),
            });
        }
        Some(req)
    }

    pub(super) fn submit_one(&mut self) {
        let Some(cb) = self.free_cb() else { return };
        if let Some(req) = self.make_req(cb, true, false) {
            self.ops.push(Op::Submit(req));
        }
    }

    pub(super) fn lio(&mut self) {
        let wait = self.rng.pct(50);
        let mut entries = Vec::new();
        let n = self.rng.range(0, 5);
        let mut taken = Vec::new();
        for _ in 0..n {
            if self.rng.pct(8) {
                entries.push(LioEntry::Null);
            }
            if self.rng.pct(8) {
                entries.push(LioEntry::Nop);
            }
            let Some(cb) = self.free_cb() else { break };
            if let Some(req) = self.make_req(cb, false, wait) {
                // Refused members are left to aio_read/aio_write.
                if req.prio < 0 || req.prio > 20 {
                    self.pending[cb] = None;
                    continue;
                }
                taken.push(cb);
                entries.push(LioEntry::Req(req));
            }
        }
        let notify = self.pick_notify();
        if matches!(notify, Notify::Thread(_)) && !wait {
            for &c in &taken {
                if let Some(p) = self.pending[c].as_mut() {
                    p.thread_note = true;
                }
            }
        }
        if wait {
            // Every member is done when LIO_WAIT returns.
            let outs = taken
                .iter()
                .map(|&c| (c, Outcome::Exact))
                .collect::<Vec<_>>();
            for (c, _) in &outs {
                self.complete(*c);
            }
        }
        self.ops.push(Op::Lio {
            wait,
            entries,
            notify,
        });
    }
}
