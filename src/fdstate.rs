//! Per-descriptor ordering: where requests on one file must not run in
//! parallel, and the `aio_fsync` barrier over earlier writes.
//!
//! Requests on a regular file run in parallel. Three things need order:
//! - non-seekable files (pipes, sockets): reads run one at a time in
//!   submission order, and so do writes (two lanes, so a pending read never
//!   holds back a write on the same socket);
//! - `O_APPEND` writes, which share the write lane;
//! - `aio_fsync`, which runs only after every write submitted before it on
//!   the same descriptor has completed.
//!
//! The state is keyed by descriptor number in a lock-free two-level table; the
//! per-descriptor mutex is taken only by requests that left the inline path.
//! A number reused by a new file can inherit a stale entry: that only delays,
//! never reorders or loses, a request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use parking_lot::Mutex;

use crate::slots::Lane;

/// Hints about what `RWF_NOWAIT` cannot do on this descriptor.
pub const HINT_NO_NOWAIT_READ: u32 = 1;
pub const HINT_NO_NOWAIT_WRITE: u32 = 2;
/// The bits below were read from the file's status flags.
pub const HINT_KNOWN: u32 = 4;
pub const HINT_DIRECT: u32 = 8;
pub const HINT_APPEND: u32 = 16;

fn flag_hints(flags: i32) -> u32 {
    let mut h = HINT_KNOWN;
    if flags & libc::O_DIRECT != 0 {
        h |= HINT_DIRECT;
    }
    if flags & libc::O_APPEND != 0 {
        h |= HINT_APPEND;
    }
    h
}

#[derive(Default)]
struct LaneQ {
    running: bool,
    queue: VecDeque<u32>,
}

struct Epoch {
    writes: u32,
    fsyncs: Vec<u32>,
}

/// The ordering decisions of one descriptor, as pure data over request ids.
#[derive(Default)]
pub struct Order {
    lanes: [LaneQ; 2],
    /// Write epochs still holding writes or barriers; `epochs[0]` is `base`.
    epochs: VecDeque<Epoch>,
    base: u64,
}

impl Order {
    /// A request enters a lane. `Some(id)`: run it now; `None`: it waits.
    pub fn lane_submit(&mut self, lane: Lane, id: u32) -> Option<u32> {
        let l = &mut self.lanes[lane as usize];
        if l.running {
            l.queue.push_back(id);
            None
        } else {
            l.running = true;
            Some(id)
        }
    }

    /// The lane's running request finished. Returns the next to run, skipping
    /// (and handing to `discard`) any that were cancelled while waiting.
    pub fn lane_next(
        &mut self,
        lane: Lane,
        mut cancelled: impl FnMut(u32) -> bool,
        mut discard: impl FnMut(u32),
    ) -> Option<u32> {
        let l = &mut self.lanes[lane as usize];
        while let Some(id) = l.queue.pop_front() {
            if cancelled(id) {
                discard(id);
            } else {
                return Some(id);
            }
        }
        l.running = false;
        None
    }

    pub fn lane_busy(&self, lane: Lane) -> bool {
        self.lanes[lane as usize].running
    }

    /// A write is in flight; returns the epoch it counts in.
    pub fn write_begin(&mut self) -> u64 {
        if self.epochs.is_empty() {
            self.epochs.push_back(Epoch {
                writes: 0,
                fsyncs: Vec::new(),
            });
        }
        let last = self.epochs.len() - 1;
        self.epochs[last].writes += 1;
        self.base + last as u64
    }

    /// A write of `epoch` finished; barriers it was the last to hold are
    /// appended to `ready`.
    pub fn write_end(&mut self, epoch: u64, ready: &mut Vec<u32>) {
        let Some(i) = epoch.checked_sub(self.base) else {
            return;
        };
        if let Some(e) = self.epochs.get_mut(i as usize) {
            e.writes = e.writes.saturating_sub(1);
        }
        while let Some(front) = self.epochs.front() {
            if front.writes > 0 {
                break;
            }
            let e = self.epochs.pop_front().expect("front exists");
            self.base += 1;
            ready.extend(e.fsyncs);
        }
    }

    /// An fsync arrives. True: no earlier write is in flight, run it now.
    /// False: it waits for the writes before it, and later writes start a new
    /// epoch that it does not wait for.
    pub fn fsync_submit(&mut self, id: u32) -> bool {
        if self.epochs.iter().all(|e| e.writes == 0) {
            return true;
        }
        let last = self.epochs.len() - 1;
        self.epochs[last].fsyncs.push(id);
        self.epochs.push_back(Epoch {
            writes: 0,
            fsyncs: Vec::new(),
        });
        false
    }

    pub fn writes_in_flight(&self) -> u32 {
        self.epochs.iter().map(|e| e.writes).sum()
    }
}

/// paio's references to the file behind a descriptor number, shared by all
/// the requests that wait for it, so that a thousand queued requests cost
/// one descriptor, not a thousand.
#[derive(Default)]
pub struct FileRefs {
    /// The reference new requests share: (descriptor, users).
    current: Option<(i32, u32)>,
    /// Older references still in use after the number was reused for another
    /// file.
    displaced: Vec<(i32, u32)>,
}

impl FileRefs {
    /// Share `current` if `same(current)` says it is the caller's file,
    /// else take a new reference made by `dup`.
    pub fn acquire(
        &mut self,
        same: impl FnOnce(i32) -> bool,
        dup: impl FnOnce() -> Result<i32, i32>,
    ) -> Result<i32, i32> {
        if let Some((d, users)) = self.current.as_mut() {
            if same(*d) {
                *users += 1;
                return Ok(*d);
            }
        }
        let d = dup()?;
        if let Some(old) = self.current.replace((d, 1)) {
            self.displaced.push(old);
        }
        Ok(d)
    }

    /// One user of `d` is done; true when the caller must close `d`: it has
    /// no user left, or it was never shared (a private duplicate).
    pub fn release(&mut self, d: i32) -> bool {
        if let Some((cur, users)) = self.current.as_mut() {
            if *cur == d {
                *users -= 1;
                if *users == 0 {
                    self.current = None;
                    return true;
                }
                return false;
            }
        }
        if let Some(i) = self.displaced.iter().position(|&(x, _)| x == d) {
            self.displaced[i].1 -= 1;
            if self.displaced[i].1 == 0 {
                self.displaced.swap_remove(i);
                return true;
            }
            return false;
        }
        true
    }
}

pub struct FdState {
    /// Requests of this descriptor waiting in or running from a lane, per
    /// lane; the inline path checks it without the lock.
    pub lane_load: [AtomicU32; 2],
    /// `HINT_*` bits.
    pub hints: AtomicU32,
    pub order: Mutex<Order>,
    pub files: Mutex<FileRefs>,
}

impl FdState {
    fn new() -> FdState {
        FdState {
            lane_load: [AtomicU32::new(0), AtomicU32::new(0)],
            hints: AtomicU32::new(0),
            order: Mutex::new(Order::default()),
            files: Mutex::new(FileRefs::default()),
        }
    }

    pub fn has_hint(&self, h: u32) -> bool {
        self.hints.load(Ordering::Relaxed) & h != 0
    }

    pub fn set_hint(&self, h: u32) {
        if !self.has_hint(h) {
            self.hints.fetch_or(h, Ordering::Relaxed);
        }
    }

    /// What is known of the descriptor's status flags, read once per number
    /// (`F_GETFL`) and refreshed whenever a request takes the slow path. A
    /// stale value only costs speed: it picks a slower route, never a wrong
    /// result.
    pub fn flags(&self, fd: i32) -> Result<u32, i32> {
        let h = self.hints.load(Ordering::Relaxed);
        if h & HINT_KNOWN != 0 {
            return Ok(h);
        }
        let h = flag_hints(crate::sys::status_flags(fd)?);
        self.hints.fetch_or(h, Ordering::Relaxed);
        Ok(h | self.hints.load(Ordering::Relaxed))
    }

    /// Fresh status flags were read: if they differ from what was known, the
    /// number now names another file and every hint is dropped.
    pub fn refresh(&self, flags: i32) {
        let want = flag_hints(flags);
        let mask = HINT_KNOWN | HINT_DIRECT | HINT_APPEND;
        let h = self.hints.load(Ordering::Relaxed);
        if h & mask != want {
            self.hints.store(want, Ordering::Relaxed);
        }
    }

    pub fn lane_idle(&self, lane: Lane) -> bool {
        self.lane_load[lane as usize].load(Ordering::Acquire) == 0
    }
}

const L2: usize = 1024;
const L1: usize = 1024;

/// Descriptor number → state. Numbers beyond the table share entries, which
/// only adds order between them.
pub struct FdTable {
    chunks: Box<[AtomicPtr<FdState>]>,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            chunks: (0..L1)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        }
    }
}

impl FdTable {
    pub fn get(&self, fd: i32) -> &FdState {
        let n = (fd.max(0) as usize) % (L1 * L2);
        let slot = &self.chunks[n / L2];
        let mut p = slot.load(Ordering::Acquire);
        if p.is_null() {
            let fresh: Box<[FdState]> = (0..L2).map(|_| FdState::new()).collect();
            let fresh = Box::into_raw(fresh) as *mut FdState;
            match slot.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => p = fresh,
                Err(existing) => {
                    // SAFETY: `fresh` was never shared; rebuild the box to free it.
                    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, L2)) });
                    p = existing;
                }
            }
        }
        // SAFETY: chunks are published once and never freed; index < L2.
        unsafe { &*p.add(n % L2) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_runs_one_at_a_time_in_order() {
        let mut o = Order::default();
        assert_eq!(o.lane_submit(Lane::Read, 1), Some(1));
        assert_eq!(o.lane_submit(Lane::Read, 2), None);
        assert_eq!(o.lane_submit(Lane::Read, 3), None);
        // The write lane is independent of the read lane.
        assert_eq!(o.lane_submit(Lane::Write, 9), Some(9));
        let mut dropped = vec![];
        assert_eq!(
            o.lane_next(Lane::Read, |_| false, |id| dropped.push(id)),
            Some(2)
        );
        assert_eq!(
            o.lane_next(Lane::Read, |_| false, |id| dropped.push(id)),
            Some(3)
        );
        assert_eq!(
            o.lane_next(Lane::Read, |_| false, |id| dropped.push(id)),
            None
        );
        assert!(!o.lane_busy(Lane::Read));
        assert!(dropped.is_empty());
    }

    #[test]
    fn lane_skips_cancelled() {
        let mut o = Order::default();
        o.lane_submit(Lane::Write, 1);
        o.lane_submit(Lane::Write, 2);
        o.lane_submit(Lane::Write, 3);
        let mut dropped = vec![];
        assert_eq!(
            o.lane_next(Lane::Write, |id| id == 2, |id| dropped.push(id)),
            Some(3)
        );
        assert_eq!(dropped, vec![2]);
    }

    #[test]
    fn fsync_without_writes_runs_at_once() {
        let mut o = Order::default();
        assert!(o.fsync_submit(5));
    }

    #[test]
    fn fsync_waits_for_earlier_writes_only() {
        let mut o = Order::default();
        let w1 = o.write_begin();
        let w2 = o.write_begin();
        assert!(!o.fsync_submit(100));
        let w3 = o.write_begin(); // after the fsync: not waited for
        assert_ne!(w3, w1);
        let mut ready = vec![];
        o.write_end(w1, &mut ready);
        assert!(ready.is_empty());
        o.write_end(w2, &mut ready);
        assert_eq!(ready, vec![100]);
        assert_eq!(o.writes_in_flight(), 1);
        ready.clear();
        o.write_end(w3, &mut ready);
        assert!(ready.is_empty());
        assert_eq!(o.writes_in_flight(), 0);
    }

    #[test]
    fn later_writes_finishing_first_do_not_release_barrier() {
        let mut o = Order::default();
        let w1 = o.write_begin();
        assert!(!o.fsync_submit(1));
        let w2 = o.write_begin();
        assert!(!o.fsync_submit(2));
        let mut ready = vec![];
        o.write_end(w2, &mut ready);
        assert!(ready.is_empty(), "fsync 2 also covers w1");
        o.write_end(w1, &mut ready);
        assert_eq!(ready, vec![1, 2]);
    }

    #[test]
    fn file_refs_are_shared_and_released() {
        let mut r = FileRefs::default();
        let mut next = 100;
        let mut dup = || {
            next += 1;
            Ok(next)
        };
        assert_eq!(r.acquire(|_| false, &mut dup), Ok(101));
        assert_eq!(r.acquire(|d| d == 101, &mut dup), Ok(101));
        // The number now names another file: a new reference, the old one
        // lives on for its user.
        assert_eq!(r.acquire(|_| false, &mut dup), Ok(102));
        assert!(!r.release(101));
        assert!(r.release(101), "last user of the displaced reference");
        assert!(r.release(102));
        assert_eq!(
            r.acquire(|_| true, &mut dup),
            Ok(103),
            "nothing left to share"
        );
        assert_eq!(r.acquire(|_| true, || Err(libc::EMFILE)), Ok(103));
        assert!(!r.release(103));
        assert!(r.release(103));
        assert!(r.release(999), "a private duplicate is closed by its user");
    }

    #[test]
    fn table_entries_are_stable() {
        let t = FdTable::default();
        let a = t.get(7) as *const FdState;
        assert_eq!(a, t.get(7) as *const FdState);
        assert_ne!(a, t.get(8) as *const FdState);
        t.get(7).set_hint(HINT_NO_NOWAIT_WRITE);
        assert!(t.get(7).has_hint(HINT_NO_NOWAIT_WRITE));
        assert!(!t.get(7).has_hint(HINT_NO_NOWAIT_READ));
        let _ = t.get(5_000_000); // aliases, never out of bounds
        let _ = t.get(-1);
    }
}
