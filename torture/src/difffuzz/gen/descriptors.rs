//! Descriptor changes: open (files, pipes, socketpairs, `/dev/null`,
//! `/dev/zero`), close and `dup2`, only on slots no request in flight
//! depends on; the plain `write(2)` that feeds a stream; and the eviction
//! of a file's pages from the page cache.

use super::model::StreamModel;
use super::{Gen, Op, Open, Res, NFILE, NSLOT};

impl Gen {
    pub(super) fn open_something(&mut self) {
        let free = self.free_slots();
        if free.is_empty() {
            return;
        }
        let what = match self.rng.below(12) {
            0..=5 => Open::File(self.rng.below(NFILE as u64) as usize),
            6 | 7 => Open::Pipe,
            8 | 9 => Open::SocketPair,
            10 => Open::DevNull,
            _ => Open::DevZero,
        };
        let two = matches!(what, Open::Pipe | Open::SocketPair);
        if two && free.len() < 2 {
            return;
        }
        // The kernel hands out the lowest free numbers: slots are filled in
        // the executor in the order given, the lowest slot first.
        let slots = [free[0], if two { free[1] } else { free[0] }];
        match what {
            Open::File(f) => self.set_slot(slots[0], Some(Res::File(f))),
            Open::DevNull => self.set_slot(slots[0], Some(Res::DevNull)),
            Open::DevZero => self.set_slot(slots[0], Some(Res::DevZero)),
            Open::Pipe => {
                let s = self.streams.len();
                self.streams.push(StreamModel::default());
                self.set_slot(slots[0], Some(Res::StreamR(s)));
                self.set_slot(slots[1], Some(Res::StreamW(s)));
            }
            Open::SocketPair => {
                let s = self.streams.len();
                self.streams.push(StreamModel::default());
                self.streams.push(StreamModel::default());
                self.set_slot(slots[0], Some(Res::Sock { rd: s, wr: s + 1 }));
                self.set_slot(slots[1], Some(Res::Sock { rd: s + 1, wr: s }));
            }
        }
        self.ops.push(Op::Open { slots, what });
    }

    /// The transition sourceware bug 14942's relative in paio was found
    /// with: the `O_DIRECT` file's number closed (after its requests
    /// finished) and handed to a pipe or a socketpair at once.
    pub(super) fn reopen_direct_as_stream(&mut self) {
        let Some(slot) = (0..NSLOT).find(|&s| self.slots[s] == Some(Res::File(2))) else {
            self.open_file_direct();
            return;
        };
        if self.busy_slot(slot) {
            return;
        }
        self.ops.push(Op::Close { slot });
        self.set_slot(slot, None);
        let what = if self.rng.pct(50) {
            Open::Pipe
        } else {
            Open::SocketPair
        };
        self.open_something_kind(what);
    }

    pub(super) fn open_file_direct(&mut self) {
        if let Some(&slot) = self.free_slots().first() {
            self.set_slot(slot, Some(Res::File(2)));
            self.ops.push(Op::Open {
                slots: [slot, slot],
                what: Open::File(2),
            });
        }
    }

    pub(super) fn open_something_kind(&mut self, what: Open) {
        let free = self.free_slots();
        if free.len() < 2 {
            return;
        }
        let slots = [free[0], free[1]];
        let s = self.streams.len();
        self.streams.push(StreamModel::default());
        if what == Open::Pipe {
            self.set_slot(slots[0], Some(Res::StreamR(s)));
            self.set_slot(slots[1], Some(Res::StreamW(s)));
        } else {
            self.streams.push(StreamModel::default());
            self.set_slot(slots[0], Some(Res::Sock { rd: s, wr: s + 1 }));
            self.set_slot(slots[1], Some(Res::Sock { rd: s + 1, wr: s }));
        }
        self.ops.push(Op::Open { slots, what });
    }

    pub(super) fn close(&mut self) {
        let open = self.open_slots();
        if open.is_empty() {
            return;
        }
        let slot = open[self.rng.below(open.len() as u64) as usize];
        if self.busy_slot(slot) || self.keep_direct(slot) {
            return;
        }
        self.set_slot(slot, None);
        self.ops.push(Op::Close { slot });
    }

    pub(super) fn keep_direct(&self, slot: usize) -> bool {
        self.without.direct_reuse && self.slots[slot] == Some(Res::File(2))
    }

    pub(super) fn dup2(&mut self) {
        let open = self.open_slots();
        if open.is_empty() {
            return;
        }
        let src = open[self.rng.below(open.len() as u64) as usize];
        let dst = self.rng.below(NSLOT as u64) as usize;
        if dst == src || self.busy_slot(dst) || self.keep_direct(dst) {
            return;
        }
        let r = self.slots[src];
        self.set_slot(dst, r);
        self.ops.push(Op::Dup2 { src, dst });
    }

    /// Evict a slot's file from the page cache. Content and size stay what
    /// the model says, so nothing in flight constrains it; what it changes
    /// is that paio's next buffered reads of that file find no cached page
    /// and go to io_uring. Mostly a file slot; now and then any slot, where
    /// the executor prints a fixed line (closed, not a file).
    pub(super) fn evict(&mut self) {
        let files: Vec<usize> = (0..NSLOT)
            .filter(|&s| matches!(self.slots[s], Some(Res::File(_))))
            .collect();
        let slot = if !files.is_empty() && self.rng.pct(90) {
            files[self.rng.below(files.len() as u64) as usize]
        } else {
            self.rng.below(NSLOT as u64) as usize
        };
        self.ops.push(Op::Evict { slot });
    }

    pub(super) fn sync_write(&mut self) {
        let writers: Vec<(usize, usize)> = (0..NSLOT)
            .filter_map(|w| match self.slots[w] {
                Some(Res::StreamW(s)) => Some((w, s)),
                Some(Res::Sock { wr, .. }) => Some((w, wr)),
                _ => None,
            })
            .collect();
        if writers.is_empty() {
            return;
        }
        let (slot, s) = writers[self.rng.below(writers.len() as u64) as usize];
        let len = self.rng.range(1, 1024) as usize;
        if !self.stream_write_ok(s, len) {
            return;
        }
        self.stream_wrote(s, len);
        let data = self.rng.next();
        self.ops.push(Op::SyncWrite { slot, len, data });
    }
}
