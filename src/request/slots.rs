//! Request slots: a type-stable slab of request records, allocated in chunks
//! and recycled through a lock-free free list, so that the steady state
//! allocates nothing per request and a stale slot id is always safe to read.
//!
//! Each slot carries a small state machine (see [`State`]) that decides who
//! owns the request's [`Job`]: exactly one of the executor or `aio_cancel`
//! wins the `Queued` state, and only the thread that took the slot out of a
//! queue returns it to the free list.

use std::cell::UnsafeCell;

use crate::sync::{AtomicI32, AtomicU32, AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;
use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::request::aiocb::Notify;
use crate::request::chunks::Chunks;

pub const CHUNK: usize = 1024;

/// Which way a request moves data, or which barrier it is. Vectored
/// requests are `Read`/`Write` with `Job::iovcnt > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Fsync { data_only: bool },
}

/// The ordered lanes of one descriptor: requests that must run one at a time,
/// in submission order (pipes, sockets, `O_APPEND` writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Read = 0,
    Write = 1,
}

/// Everything needed to run and complete a request, copied out of the aiocb.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// The caller's aiocb (address), published exactly once.
    pub aiocb: usize,
    pub op: Op,
    /// The caller's descriptor number (keys the per-descriptor order).
    pub fd: i32,
    /// The file was opened `O_DIRECT` (kernel AIO is truly asynchronous).
    pub direct: bool,
    /// The file is `O_NONBLOCK`: a stream transfer that cannot proceed reports
    /// `EAGAIN`, as glibc's blocking worker would see it.
    pub nonblocking: bool,
    /// paio's own reference to the file (a duplicate descriptor), or -1.
    pub file: i32,
    /// No offsets: a FIFO or a socket, or a file that answered `ESPIPE`.
    pub stream: bool,
    /// A character device: each transfer is one record (`/dev/kmsg`, a tun
    /// device), so a short one is the answer, never continued.
    pub record: bool,
    /// A socket with a receive or send timeout: the transfer is one blocking
    /// call on a worker, which the timeout ends as it ends glibc's.
    pub timed: bool,
    /// The buffer; for a vectored request (`aio_readv`), the caller's iovec
    /// array, with `iovcnt` entries.
    pub buf: usize,
    pub iovcnt: u32,
    /// Bytes to transfer (the iovecs' total for a vectored request).
    pub len: usize,
    pub offset: i64,
    /// Bytes already transferred by an earlier, partial attempt.
    pub done: usize,
    pub notify: Notify,
    /// The `lio_listio` group (an `Arc<Group>` turned raw), or 0.
    pub group: usize,
    pub lane: Option<Lane>,
    /// The fsync-barrier epoch this write counts in.
    pub epoch: Option<u64>,
    /// Delivered to `aio_waitcomplete` when it completes.
    pub report: bool,
    /// The identity of an overlayfs file whose read the pool times for
    /// [`crate::request::fdstate::FdState::record_read`], or 0.
    pub learn: u64,
    /// An uncached read: io_uring reads it where it is allowed; otherwise
    /// the kernel is already reading it ahead and the pool's small `cold`
    /// group finishes it.
    pub cold: bool,
    /// The buffer lies in memory whose page faults the program itself
    /// serves (`userfaultfd`): only a worker touches it, never the
    /// submitting thread, the kernel AIO submission or the ring
    /// ([`crate::submit::user_faults`]).
    pub faults: bool,
}

impl Job {
    /// The descriptor the transfer uses: paio's own reference, or the
    /// program's where paio could not take one.
    pub fn io_fd(&self) -> i32 {
        if self.file >= 0 {
            self.file
        } else {
            self.fd
        }
    }

    pub const EMPTY: Job = Job {
        aiocb: 0,
        op: Op::Read,
        fd: -1,
        direct: false,
        nonblocking: false,
        record: false,
        timed: false,
        file: -1,
        stream: false,
        buf: 0,
        iovcnt: 0,
        len: 0,
        offset: 0,
        done: 0,
        notify: Notify::None,
        group: 0,
        lane: None,
        epoch: None,
        report: false,
        learn: 0,
        cold: false,
        faults: false,
    };
}

/// Slot states.
///
/// ```text
/// Free --alloc--> Queued --claim--> Running --> Done --release--> Free
///                    \--cancel--> Cancelling --> Cancelled --release--> Free
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum State {
    Free = 0,
    Queued = 1,
    Running = 2,
    Cancelling = 3,
    Cancelled = 4,
    /// The executor has a result and is publishing it.
    Done = 5,
}

pub struct Slot {
    /// A [`State`]; transitions out of `Queued` are CAS so exactly one of the
    /// executor and the canceller owns the job.
    state: AtomicU32,
    /// Bumped at every allocation, so a stale aiocb tag never matches.
    gen: AtomicU32,
    /// The caller's descriptor number, for `aio_cancel(fd, NULL)`; -1 when free.
    pub fd: AtomicI32,
    /// The caller's aiocb address, for `aio_cancel(fd, aiocb)`.
    pub aiocb: AtomicUsize,
    job: UnsafeCell<Job>,
}

// SAFETY: `job` is only accessed by the owner the state machine designates
// (the submitter before `Queued` is published, then the claimer or canceller).
unsafe impl Sync for Slot {}

impl Slot {
    pub(crate) fn new() -> Slot {
        Slot {
            state: AtomicU32::new(State::Free as u32),
            gen: AtomicU32::new(0),
            fd: AtomicI32::new(-1),
            aiocb: AtomicUsize::new(0),
            job: UnsafeCell::new(Job::EMPTY),
        }
    }

    /// The submitter has marked the aiocb in progress: from now on
    /// `aio_cancel(fd, NULL)` may cancel the request.
    pub fn expose(&self, fd: i32) {
        self.fd.store(fd, Ordering::Release);
    }

    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::Free,
            1 => State::Queued,
            2 => State::Running,
            3 => State::Cancelling,
            4 => State::Cancelled,
            _ => State::Done,
        }
    }

    pub fn gen(&self) -> u32 {
        self.gen.load(Ordering::Acquire)
    }

    /// The job, for its current owner.
    ///
    /// # Safety
    /// The caller must own the slot per the state machine: it allocated it and
    /// has not yet published it, or it won `claim`/`cancel`, or it is releasing
    /// a slot whose job no one else touches any more.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn job(&self) -> &mut Job {
        // SAFETY: exclusivity is the caller's obligation above.
        unsafe { &mut *self.job.get() }
    }

    /// Executor: take the job for running. False when it was cancelled.
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(
                State::Queued as u32,
                State::Running as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Executor: hand a claimed job back to the queue (the kernel refused it
    /// and it goes to another executor).
    pub fn unclaim(&self) {
        self.state.store(State::Queued as u32, Ordering::Release);
    }

    /// Executor: the result is known; from now on `aio_cancel` reports the
    /// request as done rather than running.
    pub fn mark_done(&self) {
        self.state.store(State::Done as u32, Ordering::Release);
    }

    /// Executor side, waiting out a canceller in flight (which may also give
    /// the slot back as `Queued` when it finds it holds another request).
    /// True: the job is ours to run; false: it was cancelled.
    pub fn claim_or_cancelled(&self) -> bool {
        loop {
            if self.claim() {
                return true;
            }
            match self.state() {
                State::Cancelling => crate::sync::yield_now(),
                State::Queued => continue,
                _ => return false,
            }
        }
    }

    /// A slot in the `Queued` state, for the model checker.
    #[cfg(loom)]
    pub(crate) fn queued() -> Slot {
        let s = Slot::new();
        s.state.store(State::Queued as u32, Ordering::Release);
        s
    }

    /// Canceller: take the job for cancelling. False when it already runs.
    pub fn begin_cancel(&self) -> bool {
        self.state
            .compare_exchange(
                State::Queued as u32,
                State::Cancelling as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Canceller: the slot turned out to hold another request; give it back.
    pub fn abort_cancel(&self) {
        self.state.store(State::Queued as u32, Ordering::Release);
    }

    pub fn end_cancel(&self) {
        self.state.store(State::Cancelled as u32, Ordering::Release);
    }
}

/// Tag kept in the aiocb: generation in the high half, id + 1 in the low half.
pub fn tag(id: u32, gen: u32) -> u64 {
    ((gen as u64) << 32) | (id as u64 + 1)
}

pub fn untag(tag: u64) -> Option<(u32, u32)> {
    let low = tag as u32;
    if low == 0 {
        None
    } else {
        Some((low - 1, (tag >> 32) as u32))
    }
}

pub struct Slab {
    chunks: Chunks<Slot>,
    grown: AtomicU32,
    /// Free slot ids, one queue per chunk, made with the chunk: a slab costs
    /// memory (and the first request time) only for the chunks in use; an
    /// unused chunk costs one pointer here and one in `chunks`.
    free: Box<[OnceCell<Box<ArrayQueue<u32>>>]>,
    grow_lock: Mutex<()>,
    capacity: u32,
}

impl Slab {
    /// A slab for at most `capacity` requests in flight (rounded up to a chunk).
    pub fn new(capacity: u32) -> Slab {
        let nchunks = (capacity as usize).div_ceil(CHUNK).max(1);
        Slab {
            chunks: Chunks::new(nchunks, CHUNK),
            grown: AtomicU32::new(0),
            free: (0..nchunks).map(|_| OnceCell::new()).collect(),
            grow_lock: Mutex::new(()),
            capacity: (nchunks * CHUNK) as u32,
        }
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Slots handed out so far (the scan range of `aio_cancel(fd, NULL)`).
    pub fn allocated(&self) -> u32 {
        self.grown.load(Ordering::Acquire) * CHUNK as u32
    }

    pub fn get(&self, id: u32) -> Option<&Slot> {
        self.chunks.get(id as usize)
    }

    /// Take a free slot and mark it `Queued` with a fresh generation; `None`
    /// when `capacity` requests are in flight (the caller reports `EAGAIN`).
    /// `aio_cancel(fd, NULL)` does not see it until [`Slot::expose`], once
    /// the submitter has marked the aiocb in progress: a cancel before that
    /// would publish `ECANCELED`, which the marking would then overwrite,
    /// leaving the aiocb in progress forever.
    pub fn alloc(&self, aiocb: usize, job: Job) -> Option<(u32, u32)> {
        let id = match self.pop_free() {
            Some(id) => id,
            None => self.grow()?,
        };
        let slot = self.get(id)?;
        // SAFETY: a free slot is owned by whoever popped it from the free list.
        unsafe { *slot.job() = job };
        slot.aiocb.store(aiocb, Ordering::Relaxed);
        // Release: whoever reads the new generation also sees the new aiocb.
        let gen = slot.gen.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        slot.state.store(State::Queued as u32, Ordering::Release);
        Some((id, gen))
    }

    /// A free id, from the lowest chunk that has one.
    fn pop_free(&self) -> Option<u32> {
        let grown = self.grown.load(Ordering::Acquire) as usize;
        self.free[..grown]
            .iter()
            .filter_map(OnceCell::get)
            .find_map(|q| q.pop())
    }

    fn grow(&self) -> Option<u32> {
        let _g = self.grow_lock.lock();
        if let Some(id) = self.pop_free() {
            return Some(id);
        }
        let c = self.grown.load(Ordering::Relaxed) as usize;
        self.chunks.get_or_make(c * CHUNK, Slot::new)?;
        let base = (c * CHUNK) as u32;
        let free = Box::new(ArrayQueue::new(CHUNK));
        for i in 1..CHUNK as u32 {
            // Cannot fail: the queue holds every id of its chunk.
            let _ = free.push(base + i);
        }
        let _ = self.free[c].set(free);
        self.grown.store(c as u32 + 1, Ordering::Release);
        Some(base)
    }

    /// Return a slot; its owner no longer touches the job.
    pub fn release(&self, id: u32) {
        if let Some(slot) = self.get(id) {
            slot.fd.store(-1, Ordering::Relaxed);
            slot.aiocb.store(0, Ordering::Relaxed);
            slot.state.store(State::Free as u32, Ordering::Release);
            if let Some(free) = self.free[id as usize / CHUNK].get() {
                let _ = free.push(id);
            }
        }
    }

    /// Find the slot an aiocb's tag names, if it still describes that aiocb.
    pub fn lookup(&self, tag: u64, aiocb: usize) -> Option<(u32, &Slot)> {
        let (id, gen) = untag(tag)?;
        let slot = self.get(id)?;
        (slot.gen() == gen && slot.aiocb.load(Ordering::Relaxed) == aiocb).then_some((id, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_release_reuses_without_growth() {
        let slab = Slab::new(10);
        assert_eq!(slab.capacity(), CHUNK as u32);
        let (a, g1) = slab.alloc(0x1000, Job::EMPTY).unwrap();
        assert_eq!(slab.get(a).unwrap().state(), State::Queued);
        slab.release(a);
        for _ in 0..10_000 {
            let (b, _) = slab.alloc(0x1000, Job::EMPTY).unwrap();
            slab.release(b);
        }
        assert_eq!(slab.allocated(), CHUNK as u32, "steady state must not grow");
        let (c, g2) = slab.alloc(0x2000, Job::EMPTY).unwrap();
        let _ = (c, g1, g2);
    }

    #[test]
    fn exhaustion_reports_none_then_recovers() {
        let slab = Slab::new(1);
        let ids: Vec<u32> = (0..CHUNK)
            .map(|i| slab.alloc(i, Job::EMPTY).unwrap().0)
            .collect();
        assert!(slab.alloc(0, Job::EMPTY).is_none());
        slab.release(ids[7]);
        assert_eq!(slab.alloc(0, Job::EMPTY).unwrap().0, ids[7]);
    }

    #[test]
    fn stale_tags_do_not_match() {
        let slab = Slab::new(1);
        let (id, gen) = slab.alloc(0xabc, Job::EMPTY).unwrap();
        let t = tag(id, gen);
        assert!(slab.lookup(t, 0xabc).is_some());
        assert!(slab.lookup(t, 0xabd).is_none());
        slab.release(id);
        // The free list is FIFO: cycle until the same slot comes back.
        let (id2, gen2) = loop {
            let (i, g) = slab.alloc(0xabc, Job::EMPTY).unwrap();
            if i == id {
                break (i, g);
            }
        };
        assert!(slab.lookup(t, 0xabc).is_none(), "old generation");
        assert!(slab.lookup(tag(id2, gen2), 0xabc).is_some());
        assert!(slab.lookup(0, 0xabc).is_none());
    }

    #[test]
    fn claim_and_cancel_are_exclusive() {
        let slab = Slab::new(1);
        let (id, _) = slab.alloc(1, Job::EMPTY).unwrap();
        let s = slab.get(id).unwrap();
        assert!(s.begin_cancel());
        assert!(!s.claim());
        s.end_cancel();
        assert_eq!(s.state(), State::Cancelled);
        slab.release(id);
        let (id, _) = slab.alloc(1, Job::EMPTY).unwrap();
        let s = slab.get(id).unwrap();
        assert!(s.claim());
        assert!(!s.begin_cancel());
    }

    #[test]
    fn claim_vs_cancel_race_has_one_winner() {
        let slab = std::sync::Arc::new(Slab::new(1));
        for _ in 0..200 {
            let (id, _) = slab.alloc(1, Job::EMPTY).unwrap();
            let s2 = slab.clone();
            let t = std::thread::spawn(move || s2.get(id).unwrap().claim());
            let cancelled = slab.get(id).unwrap().begin_cancel();
            let claimed = t.join().unwrap();
            assert!(cancelled ^ claimed);
            slab.release(id);
        }
    }
}
