//! Waits: for requests that can complete, `aio_suspend` with a fixed or a
//! timing-dependent answer, and the end of a sequence (feed every read
//! still waiting, wait for all, then the final state to check).

use super::model::Pending;
use super::{Gen, Op, Outcome, Res, Timeout, NCB, NSLOT};

impl Gen {
    pub(super) fn wait_some(&mut self) {
        let ready: Vec<usize> = (0..NCB).filter(|&c| self.waitable(c)).collect();
        if ready.is_empty() {
            return;
        }
        let k = self.rng.range(1, ready.len() as u64) as usize;
        let mut cbs = Vec::new();
        for &c in ready.iter().take(k) {
            let out = self.complete(c);
            cbs.push((c, out));
        }
        self.ops.push(Op::Wait { cbs });
    }

    pub(super) fn suspend(&mut self) {
        let mut cbs: Vec<Option<usize>> = Vec::new();
        let done: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_none()).collect();
        let blocked: Vec<usize> = (0..NCB)
            .filter(|&c| self.pending[c].is_some() && !self.waitable(c))
            .collect();
        let inflight: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_some()).collect();
        let kind = self.rng.below(3);
        let (fixed, timeout) = if kind == 0 && !done.is_empty() {
            cbs.push(Some(done[self.rng.below(done.len() as u64) as usize]));
            for &c in inflight.iter().take(3) {
                cbs.push(Some(c));
            }
            let t = match self.rng.below(3) {
                0 => Timeout::Null,
                1 => Timeout::Zero,
                _ => Timeout::Ms(1000),
            };
            (true, t)
        } else if kind == 1 && !blocked.is_empty() {
            cbs.extend(blocked.iter().map(|&c| Some(c)));
            (
                true,
                if self.rng.pct(50) {
                    Timeout::Zero
                } else {
                    Timeout::Ms(5)
                },
            )
        } else if !inflight.is_empty() {
            cbs.extend(inflight.iter().map(|&c| Some(c)));
            (
                false,
                if self.rng.pct(50) {
                    Timeout::Zero
                } else {
                    Timeout::Ms(2)
                },
            )
        } else {
            return;
        };
        if self.rng.pct(15) {
            let at = self.rng.below(cbs.len() as u64 + 1) as usize;
            cbs.insert(at, None);
        }
        // Shuffle: which listed request is done must not matter.
        for i in (1..cbs.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            cbs.swap(i, j);
        }
        self.ops.push(Op::Suspend {
            cbs,
            timeout,
            fixed,
        });
    }

    /// Feed every read still waiting on an empty stream, then wait for all.
    pub(super) fn drain(&mut self) {
        for cb in 0..NCB {
            if self.pending[cb].is_some() && !self.waitable(cb) {
                let before = self.ops.len();
                self.feed_after_cancel(&[cb], false);
                if self.ops.len() > before {
                    // feed_after_cancel marks it fed; the stream model got
                    // bytes the read may leave behind.
                    if let Some(Pending::StreamRead { s, .. }) =
                        self.pending[cb].as_ref().map(|p| p.what.clone())
                    {
                        if let Some(Op::SyncWrite { len, .. }) = self.ops.last() {
                            let len = *len;
                            let asked = self.streams[s].read.map_or(0, |r| r.1);
                            self.streams[s].avail += len - asked.min(len);
                        }
                    }
                }
            }
        }
        let cbs: Vec<(usize, Outcome)> = (0..NCB)
            .filter(|&c| self.waitable(c))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| (c, self.complete(c)))
            .collect();
        if !cbs.is_empty() {
            self.ops.push(Op::Wait { cbs });
        }
    }

    pub(super) fn finish(&mut self) {
        let masks = self.files.iter().map(|f| f.taint.clone()).collect();
        let sizes = self
            .files
            .iter()
            .map(|f| (f.min_size, f.max_size))
            .collect();
        // Leftover bytes of each stream that is still readable, by the
        // slot that reads it.
        let streams = (0..self.streams.len())
            .map(|s| {
                let st = &self.streams[s];
                if st.tainted {
                    return None;
                }
                let slot = (0..NSLOT).find(|&r| match self.slots[r] {
                    Some(Res::StreamR(x)) => x == s,
                    Some(Res::Sock { rd, .. }) => rd == s,
                    _ => false,
                })?;
                Some((slot, st.avail))
            })
            .collect();
        self.ops.push(Op::Final {
            masks,
            sizes,
            streams,
        });
    }
}
