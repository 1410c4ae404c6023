//! Cancels: of requests in flight (whose outcome is then only checked for
//! consistency, and whose stream or file range is no longer known), and
//! those whose answer POSIX fixes.

use super::model::Pending;
use super::{Cancel, Gen, Op, Res, Target, NCB, NSLOT};

impl Gen {
    pub(super) fn cancel(&mut self) {
        let inflight: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_some()).collect();
        match self.rng.below(6) {
            0 | 1 if !inflight.is_empty() => {
                let cb = inflight[self.rng.below(inflight.len() as u64) as usize];
                let Some(slot) = self.pending[cb].as_ref().and_then(|p| p.slot) else {
                    return;
                };
                if !self.cancellable(cb) || self.pending_on(slot) != 1 {
                    return;
                }
                self.mark_cancelled(cb);
                self.ops.push(Op::Cancel(Cancel::InFlight { slot, cb }));
                self.feed_after_cancel(&[cb], true);
            }
            2 => {
                let open = self.open_slots();
                if open.is_empty() {
                    return;
                }
                let slot = open[self.rng.below(open.len() as u64) as usize];
                let cbs: Vec<usize> = inflight
                    .iter()
                    .copied()
                    .filter(|&c| self.pending[c].as_ref().unwrap().slot == Some(slot))
                    .collect();
                if cbs.is_empty() {
                    self.ops.push(Op::Cancel(Cancel::Fixed {
                        target: Target::Slot(slot),
                        cb: None,
                    }));
                } else if cbs.iter().all(|&c| self.cancellable(c)) {
                    for &c in &cbs {
                        self.mark_cancelled(c);
                    }
                    self.ops.push(Op::Cancel(Cancel::AllInFlight {
                        slot,
                        cbs: cbs.clone(),
                    }));
                    self.feed_after_cancel(&cbs, true);
                }
            }
            3 => self.ops.push(Op::Cancel(Cancel::Fixed {
                target: Target::BadFd,
                cb: None,
            })),
            _ => {
                // A finished request: on its own descriptor (AIO_ALLDONE), or
                // named with another open descriptor (EINVAL).
                let done: Vec<usize> = (0..NCB)
                    .filter(|&c| {
                        self.pending[c].is_none()
                            && self.last_slot[c].is_some_and(|(s, g)| self.slot_gen[s] == g)
                    })
                    .collect();
                if done.is_empty() {
                    return;
                }
                let cb = done[self.rng.below(done.len() as u64) as usize];
                let (own, _) = self.last_slot[cb].unwrap();
                let open = self.open_slots();
                let slot = if self.rng.pct(70) {
                    own
                } else {
                    open[self.rng.below(open.len() as u64) as usize]
                };
                self.ops.push(Op::Cancel(Cancel::Fixed {
                    target: Target::Slot(slot),
                    cb: Some(cb),
                }));
            }
        }
    }

    /// A read left waiting on an empty stream may not have been cancelled,
    /// and a write that was to feed a read may have been: write something
    /// so the read can finish either way (the stream is tainted already).
    pub(super) fn feed_after_cancel(&mut self, cbs: &[usize], uncertain: bool) {
        let mut feed = Vec::new();
        for &cb in cbs {
            match self.pending[cb].as_ref().map(|p| p.what.clone()) {
                Some(Pending::StreamRead { s, fed: false }) => feed.push(s),
                Some(Pending::StreamWrite { s }) if self.streams[s].read.is_some() => feed.push(s),
                _ => {}
            }
        }
        for s in feed {
            let Some(slot) = (0..NSLOT).find(|&w| match self.slots[w] {
                Some(Res::StreamW(x)) => x == s,
                Some(Res::Sock { wr, .. }) => wr == s,
                _ => false,
            }) else {
                continue;
            };
            let len = self.rng.range(1, 512) as usize;
            let data = self.rng.next();
            self.ops.push(Op::SyncWrite { slot, len, data });
            if let Some((c, a, _)) = self.streams[s].read {
                self.streams[s].read = Some((c, a, true));
                if let Some(p) = self.pending[c].as_mut() {
                    p.what = Pending::StreamRead { s, fed: true };
                    // What it reads now depends on whether the cancel hit.
                    p.maybe_cancelled |= uncertain;
                }
            }
        }
    }
}
