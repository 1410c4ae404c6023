//! The generator's model of what the executor will have: each descriptor
//! slot, each file's known size and unknown ranges, each byte stream's
//! content and the reads and writes in flight on it, and every request in
//! flight. An operation is only generated when this model fixes its outcome.

use super::{Gen, Outcome, Res, NSLOT, STREAM_CAP};

#[derive(Clone, Debug)]
pub(super) enum Pending {
    FileRead {
        file: usize,
        start: u64,
        end: u64,
    },
    FileWrite {
        file: usize,
        start: u64,
        end: u64,
        certain: bool,
        extends: bool,
    },
    /// Reads on a stream: `blocked` until a write feeds it.
    StreamRead {
        s: usize,
        fed: bool,
    },
    StreamWrite {
        s: usize,
    },
    Other,
}

#[derive(Clone, Debug)]
pub(super) struct InFlight {
    pub(super) slot: Option<usize>,
    pub(super) what: Pending,
    pub(super) maybe_cancelled: bool,
    /// Its completion (or its list's) starts a `SIGEV_THREAD` callback.
    pub(super) thread_note: bool,
}

#[derive(Clone, Debug, Default)]
pub(super) struct FileModel {
    /// Size every completed write is known to have reached.
    pub(super) min_size: u64,
    pub(super) max_size: u64,
    /// Ranges whose content is not known (a write that may have failed or
    /// been cancelled).
    pub(super) taint: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct StreamModel {
    pub(super) avail: usize,
    pub(super) readers: usize,
    pub(super) writers: usize,
    /// `(cb, asked, fed)` of the read in flight.
    pub(super) read: Option<(usize, usize, bool)>,
    pub(super) write: Option<usize>,
    /// Its content is unknown (a cancel may have hit a transfer).
    pub(super) tainted: bool,
}

pub(super) fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

impl Gen {
    pub(super) fn free_slots(&self) -> Vec<usize> {
        (0..NSLOT).filter(|&s| self.slots[s].is_none()).collect()
    }

    pub(super) fn open_slots(&self) -> Vec<usize> {
        (0..NSLOT).filter(|&s| self.slots[s].is_some()).collect()
    }

    /// A request is in flight on the slot's descriptor, or on a stream the
    /// slot reads or writes (closing the last reader decides whether a
    /// write in flight gets `EPIPE`).
    pub(super) fn busy_slot(&self, slot: usize) -> bool {
        let streams: Vec<usize> = match self.slots[slot] {
            Some(Res::StreamR(s)) | Some(Res::StreamW(s)) => vec![s],
            Some(Res::Sock { rd, wr }) => vec![rd, wr],
            _ => Vec::new(),
        };
        self.pending.iter().flatten().any(|p| {
            p.slot == Some(slot)
                || match p.what {
                    Pending::StreamRead { s, .. } | Pending::StreamWrite { s } => {
                        streams.contains(&s)
                    }
                    _ => false,
                }
        })
    }

    pub(super) fn stream_counts(&mut self, r: Res, delta: isize) {
        let add = |x: &mut usize| *x = (*x as isize + delta) as usize;
        match r {
            Res::StreamR(s) => add(&mut self.streams[s].readers),
            Res::StreamW(s) => add(&mut self.streams[s].writers),
            Res::Sock { rd, wr } => {
                add(&mut self.streams[rd].readers);
                add(&mut self.streams[wr].writers);
            }
            _ => {}
        }
        if delta < 0 {
            // The last writer gone: a read waiting on an empty stream gets
            // end-of-file now.
            for s in 0..self.streams.len() {
                let st = &mut self.streams[s];
                if st.writers == 0 {
                    if let Some((cb, _, false)) = st.read {
                        if st.avail == 0 {
                            st.read = Some((cb, 0, true));
                            if let Some(p) = self.pending[cb].as_mut() {
                                p.what = Pending::StreamRead { s, fed: true };
                            }
                        }
                    }
                }
            }
        }
    }

    pub(super) fn set_slot(&mut self, slot: usize, r: Option<Res>) {
        if let Some(old) = self.slots[slot] {
            self.stream_counts(old, -1);
            // A socket closed with unread bytes resets the connection: the
            // peer's reads get ECONNRESET or the bytes, by timing.
            if let Res::Sock { rd, wr } = old {
                if self.streams[rd].readers == 0
                    && (self.streams[rd].avail > 0 || self.streams[rd].tainted)
                {
                    self.streams[rd].tainted = true;
                    self.streams[wr].tainted = true;
                }
            }
        }
        self.slots[slot] = r;
        self.slot_gen[slot] += 1;
        if let Some(new) = r {
            self.stream_counts(new, 1);
        }
    }

    /// A read on an empty stream waits on the slot: glibc runs the requests
    /// of one descriptor one at a time, so nothing else may be queued there
    /// (`glibc_bugs`: per-descriptor-serialisation).
    /// Also while a cancel may have hit a request on the slot: glibc was
    /// seen to lose what is queued on a descriptor around a cancelled
    /// request (`glibc_bugs`: cancel-loses-queue).
    pub(super) fn blocked_on(&self, slot: usize) -> bool {
        self.pending.iter().flatten().any(|p| {
            p.slot == Some(slot)
                && (p.maybe_cancelled || matches!(p.what, Pending::StreamRead { fed: false, .. }))
        })
    }

    pub(super) fn pending_on(&self, slot: usize) -> usize {
        self.pending
            .iter()
            .flatten()
            .filter(|p| p.slot == Some(slot))
            .count()
    }

    pub(super) fn stream_write_ok(&self, s: usize, len: usize) -> bool {
        let st = &self.streams[s];
        if st.tainted || st.write.is_some() {
            return false;
        }
        if let Some((_, _, fed)) = st.read {
            if fed {
                return false;
            }
        }
        st.readers == 0 || st.avail + len <= STREAM_CAP
    }

    /// `len` bytes written to stream `s` (or EPIPE when nobody reads it).
    pub(super) fn stream_wrote(&mut self, s: usize, len: usize) {
        let st = &mut self.streams[s];
        if st.readers == 0 {
            return;
        }
        if let Some((cb, asked, false)) = st.read {
            let got = asked.min(len);
            st.read = Some((cb, asked, true));
            st.avail += len - got;
            if let Some(p) = self.pending[cb].as_mut() {
                p.what = Pending::StreamRead { s, fed: true };
            }
        } else {
            st.avail += len;
        }
    }

    /// Request `cb` is done (waited for): release what it held in the model.
    pub(super) fn complete(&mut self, cb: usize) -> Outcome {
        let Some(p) = self.pending[cb].take() else {
            return Outcome::Exact;
        };
        let out = if p.maybe_cancelled {
            Outcome::Settled
        } else {
            Outcome::Exact
        };
        match p.what {
            Pending::FileWrite {
                file,
                start,
                end,
                certain,
                ..
            } => {
                // A write of nothing leaves the size alone.
                let fm = &mut self.files[file];
                if end > start {
                    if certain && !p.maybe_cancelled {
                        fm.min_size = fm.min_size.max(end);
                    } else {
                        fm.taint.push((start, end));
                    }
                    fm.max_size = fm.max_size.max(end);
                }
            }
            Pending::StreamRead { s, .. } => {
                self.streams[s].read = None;
                if p.maybe_cancelled {
                    self.streams[s].tainted = true;
                }
            }
            Pending::StreamWrite { s } => {
                self.streams[s].write = None;
                if p.maybe_cancelled {
                    self.streams[s].tainted = true;
                }
            }
            _ => {}
        }
        out
    }

    pub(super) fn waitable(&self, cb: usize) -> bool {
        match &self.pending[cb] {
            Some(p) => !matches!(p.what, Pending::StreamRead { fed: false, .. }),
            None => false,
        }
    }

    /// A write that may have extended the file must not be cancelled: the
    /// file's size would no longer be known.
    pub(super) fn cancellable(&self, cb: usize) -> bool {
        !matches!(
            self.pending[cb].as_ref().map(|p| &p.what),
            Some(Pending::FileWrite { extends: true, .. })
        )
    }

    pub(super) fn mark_cancelled(&mut self, cb: usize) {
        if let Some(p) = self.pending[cb].as_mut() {
            p.maybe_cancelled = true;
            match p.what {
                Pending::StreamRead { s, .. } | Pending::StreamWrite { s } => {
                    self.streams[s].tainted = true;
                }
                _ => {}
            }
        }
    }
}
