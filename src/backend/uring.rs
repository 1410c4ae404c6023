//! Uncached buffered reads on io_uring: truly asynchronous in the kernel
//! (the page cache is filled and the copy made without a thread parked per
//! read), where legacy kernel AIO has no asynchronous buffered read at all.
//!
//! One thread of paio's, the *uring thread*, owns the ring: it alone
//! submits and takes completions. Submitting threads only queue the slot id
//! (lock-free) and wake it when it sleeps. The owner matters: io_uring
//! finishes a buffered read (the copy into the caller's buffer) as task work
//! of the thread that submitted it, and a program thread interrupted for
//! that would see `EINTR` from calls such as `epoll_wait`, which glibc's
//! AIO never causes. Here the only thread interrupted is paio's, which
//! blocks every signal.
//!
//! The ring is set up by the first read that needs it. Where io_uring is
//! refused (`ENOSYS`, `EPERM` under seccomp or `kernel.io_uring_disabled`,
//! Docker ≥ 25, Podman, RHEL 9…), or its thread cannot start, those reads
//! go to the worker pool's `cold` group as before, and never come back here.
//!
//! Wake-up protocol (`SeqCst`): a submitter pushes its id, then, unless
//! the read's I/O is under way and the thread has reads in the kernel
//! (whose next completion wakes it anyway), swaps `sleeping` to false and, if it was true, writes the wake
//! eventfd; the thread publishes its reads in flight, stores `sleeping =
//! true`, then looks at the queue, and only then waits in `io_uring_enter`
//! for a completion — the wake's poll is always armed in the ring while it
//! waits. Either the thread sees the id, or the submitter sees the sleeper
//! with nothing in flight, or a read in flight completes and wakes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::SeqCst};

use crossbeam_queue::SegQueue;
use once_cell::sync::OnceCell;

use crate::backend::uring_sys::{Sqe, Uring, IORING_ENTER_GETEVENTS, IORING_OP_POLL_ADD};
use crate::backend::wakefd::WakeFd;
use crate::backend::{PoolBackend, Sink};
use crate::request::slots::Op;
use crate::stats::Counter;
use crate::sys;

/// Submission queue entries: the reads in the kernel at once, plus the
/// wake's poll. Beyond that, reads wait in the queue for a free entry.
const ENTRIES: u32 = 256;
/// The `user_data` of the wake's poll (slot ids are 32-bit).
const WAKE: u64 = u64::MAX;
/// Reads in the kernel from which a newly queued read waits for the next
/// completion to be submitted, rather than waking the thread at once.
const LAZY_WAKE: u32 = 4;
/// Longest single read (io_uring lengths are 32-bit); the rest of a longer
/// request is read by the next submission, where this one stopped.
const MAX_READ: usize = 1 << 30;

pub struct UringReads {
    pool: &'static PoolBackend,
    /// The ring, or why it could not be had (errno).
    shared: OnceCell<Result<&'static Shared, i32>>,
}

struct Shared {
    ring: Uring,
    /// Where a read the kernel gave up on goes.
    pool: &'static PoolBackend,
    /// Claimed slot ids waiting to be submitted.
    queue: SegQueue<u32>,
    /// The thread waits in `io_uring_enter` (see the module's protocol).
    sleeping: AtomicBool,
    /// Reads in the kernel, as the thread last published before it waited.
    inflight: AtomicU32,
    /// The ring's identity ([`sys::file_identity`]): its number may be
    /// closed and reused by the program.
    ring_id: u64,
    /// Its eventfd, polled from the ring. A wake the program took (closed,
    /// maybe reused its number) is not replaced here: the thread may sleep
    /// with the lost one armed and nothing else can wake it, so the ring is
    /// given up instead, as when `io_uring_enter` fails.
    wake: WakeFd,
    /// The errno of an `io_uring_enter` that failed for good (a seccomp
    /// filter the program installed later, say): from then on nothing new
    /// comes here, and what was here went to the pool.
    broken: AtomicI32,
}

impl UringReads {
    /// No syscall here: the ring is set up by the first read that needs it.
    pub fn new(pool: &'static PoolBackend) -> Self {
        UringReads {
            pool,
            shared: OnceCell::new(),
        }
    }

    /// The ring and its thread, set up at the first call (in the calling
    /// thread, once). `None` when io_uring is not available here.
    fn shared(&'static self, sink: &'static dyn Sink) -> Option<&'static Shared> {
        self.shared
            .get_or_init(|| start(sink, self.pool))
            .as_ref()
            .ok()
            .copied()
            .filter(|s| s.broken.load(SeqCst) == 0)
    }

    /// Can an uncached buffered read go to the ring now? Sets the ring up
    /// at the first such read.
    pub fn ready(&'static self, sink: &'static dyn Sink) -> bool {
        self.shared(sink).is_some()
    }

    /// The ring's thread runs.
    pub fn running(&self) -> bool {
        matches!(self.shared.get(), Some(Ok(_)))
    }

    /// Why io_uring was refused, or stopped being used (errno), or 0.
    pub fn refused(&self) -> i32 {
        match self.shared.get() {
            Some(Ok(s)) => s.broken.load(SeqCst),
            Some(Err(e)) => *e,
            None => 0,
        }
    }

    /// Queue claimed slot `id` (a buffered read into one buffer) for the
    /// ring. `started`: its I/O is under way already (an uncached read,
    /// whose non-blocking attempt started the read-ahead for it). `Err(id)`
    /// when io_uring is not available: nothing was queued and the caller
    /// still owns the claim.
    pub fn submit(
        &'static self,
        sink: &'static dyn Sink,
        id: u32,
        started: bool,
    ) -> Result<(), u32> {
        let Some(s) = self.shared(sink) else {
            return Err(id);
        };
        s.queue.push(id);
        // A read whose I/O is under way, with reads in the kernel, waits
        // for the next completion to wake the thread: no wake-up paid per
        // read. Any other read wakes it now.
        let lazy = started && s.inflight.load(SeqCst) >= LAZY_WAKE;
        if !lazy && s.sleeping.load(SeqCst) && s.sleeping.swap(false, SeqCst) {
            if s.wake.ours() {
                sys::eventfd_signal(s.wake.fd());
            } else {
                let _ = s.broken.compare_exchange(0, libc::EBADF, SeqCst, SeqCst);
            }
        }
        if s.broken.load(SeqCst) != 0 {
            // Given up meanwhile: nothing queued may wait for the thread.
            while let Some(id) = s.queue.pop() {
                s.pool.take_back(sink, id);
            }
        }
        Ok(())
    }

    /// In a forked child: the parent's ring and wake are not this process's.
    pub fn close_inherited(&self) {
        if let Some(Ok(s)) = self.shared.get() {
            if sys::file_identity(s.ring.fd()).is_ok_and(|(_, id)| id == s.ring_id) {
                sys::close(s.ring.fd());
            }
            s.wake.close_if_ours();
        }
    }
}

/// Set up the ring, the wake and the thread.
fn start(sink: &'static dyn Sink, pool: &'static PoolBackend) -> Result<&'static Shared, i32> {
    let mut ring = Uring::new(ENTRIES)?;
    // Above the numbers a program expects from `open`, like the rest of
    // paio's descriptors.
    ring.move_fd_up(sink.dup_floor());
    probe(&ring)?;
    let ring_id = sys::file_identity(ring.fd())?.1;
    let wake = WakeFd::new(sink.dup_floor())?;
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        ring,
        pool,
        queue: SegQueue::new(),
        sleeping: AtomicBool::new(false),
        inflight: AtomicU32::new(0),
        ring_id,
        wake,
        broken: AtomicI32::new(0),
    }));
    let old = sys::block_all_signals();
    let spawned = std::thread::Builder::new()
        .name("paio-uring".into())
        .stack_size(256 << 10)
        .spawn(move || serve(sink, shared));
    sys::restore_signals(&old);
    match spawned {
        Ok(_) => {
            sink.count(Counter::Threads, 1);
            Ok(shared)
        }
        Err(_) => {
            // Never used: give back what was set up (the ring unmaps and
            // closes itself when dropped).
            shared.wake.close_if_ours();
            // SAFETY: `shared` was leaked just above and never shared.
            drop(unsafe { Box::from_raw(shared as *const Shared as *mut Shared) });
            Err(libc::EAGAIN)
        }
    }
}

/// One no-op through the ring and back, before any request depends on it:
/// a sandbox may allow `io_uring_setup` and refuse `io_uring_enter`.
fn probe(ring: &Uring) -> Result<(), i32> {
    // SAFETY: no other thread knows the ring yet: one producer, one consumer.
    if !unsafe { ring.push(&Sqe::nop(0)) } {
        return Err(libc::EBUSY);
    }
    loop {
        match ring.enter(1, 1, IORING_ENTER_GETEVENTS) {
            Ok(_) => break,
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    // SAFETY: as above.
    match unsafe { ring.pop() } {
        Some(c) if c.res == 0 => Ok(()),
        Some(c) => Err(-c.res),
        None => Err(libc::EIO),
    }
}

/// The entry that reads what remains of slot `id`.
fn read_entry(sink: &'static dyn Sink, id: u32) -> Option<Sqe> {
    let slot = sink.slab().get(id)?;
    // SAFETY: the job was claimed before it was queued here; the uring
    // thread is its only owner until it is finished or handed on.
    let job = unsafe { slot.job() };
    let len = (job.len - job.done).min(MAX_READ);
    Some(Sqe::read(
        job.io_fd(),
        (job.buf + job.done) as *mut u8,
        len as u32,
        (job.offset + job.done as i64) as u64,
        id as u64,
    ))
}

/// The uring thread: submit what is queued (while the ring has room), wait
/// for a completion or the wake, act on every completion.
fn serve(sink: &'static dyn Sink, s: &'static Shared) {
    let ring = &s.ring;
    // Reads in the kernel; one entry stays for the wake's poll, so the
    // completion queue (at least as large) can never overflow.
    let room = ring.sq_entries().saturating_sub(1).max(1);
    let mut inflight: u32 = 0;
    let mut armed = false;
    // What was pushed and the kernel has not taken yet, in ring order.
    let mut unsent: VecDeque<u64> = VecDeque::new();
    loop {
        let e = s.broken.load(SeqCst);
        if e != 0 {
            return abandon(sink, s, e, unsent, inflight);
        }
        while inflight < room {
            let Some(id) = s.queue.pop() else {
                break;
            };
            let Some(sqe) = read_entry(sink, id) else {
                continue;
            };
            // SAFETY: this thread is the ring's only producer; `room` keeps
            // a free entry for every read in flight.
            if unsafe { ring.push(&sqe) } {
                inflight += 1;
                unsent.push_back(id as u64);
            } else {
                s.queue.push(id);
                break;
            }
        }
        if !armed {
            let poll = Sqe {
                opcode: IORING_OP_POLL_ADD,
                fd: s.wake.fd(),
                rw_flags: libc::POLLIN as u32,
                user_data: WAKE,
                ..Sqe::default()
            };
            // SAFETY: as above; the wake's entry is the one kept free.
            if unsafe { ring.push(&poll) } {
                armed = true;
                unsent.push_back(WAKE);
            }
        }
        s.inflight.store(inflight, SeqCst);
        s.sleeping.store(true, SeqCst);
        // Work left that the ring has room for: do not sleep.
        let busy = inflight < room && !s.queue.is_empty();
        let wait = if busy || !armed { 0 } else { 1 };
        if busy {
            s.sleeping.store(false, SeqCst);
        }
        match ring.enter(ring.sq_pending(), wait, IORING_ENTER_GETEVENTS) {
            Ok(n) => {
                unsent.drain(..(n as usize).min(unsent.len()));
            }
            Err(libc::EINTR) => {}
            Err(libc::EAGAIN) | Err(libc::ENOMEM) | Err(libc::EBUSY) => {
                // Out of kernel memory for now: the entries stay in the
                // ring; try again shortly.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return abandon(sink, s, e, unsent, inflight),
        }
        s.sleeping.store(false, SeqCst);
        // SAFETY: this thread is the ring's only consumer.
        while let Some(cqe) = unsafe { ring.pop() } {
            if cqe.user_data == WAKE {
                armed = false;
                if s.wake.ours() {
                    sys::eventfd_drain(s.wake.fd());
                } else {
                    // The poll fired on whatever the program put under
                    // the number: give the ring up (above).
                    let _ = s.broken.compare_exchange(0, libc::EBADF, SeqCst, SeqCst);
                }
                continue;
            }
            inflight -= 1;
            on_completion(sink, s, cqe.user_data as u32, cqe.res);
        }
    }
}

/// A read came back: finish it, read on where it stopped short, or hand it
/// to the worker pool where the kernel gave up on it.
fn on_completion(sink: &'static dyn Sink, s: &'static Shared, id: u32, res: i32) {
    let Some(slot) = sink.slab().get(id) else {
        return;
    };
    // SAFETY: the uring thread owns the claimed job (see `read_entry`).
    let job = unsafe { slot.job() };
    debug_assert!(job.op == Op::Read && job.iovcnt == 0);
    match res {
        n if n > 0 => {
            job.done += n as usize;
            if job.done < job.len {
                // Short, not at end of file yet: read on where it stopped
                // (a read of 0 bytes then says end of file).
                s.queue.push(id);
                return;
            }
            sink.count(Counter::Uring, 1);
            let done = job.done;
            sink.finish(id, job, Ok(done));
        }
        0 => {
            sink.count(Counter::Uring, 1);
            let done = job.done;
            sink.finish(id, job, Ok(done));
        }
        // What was read stands; the error shows on the next call.
        _ if job.done > 0 => {
            let done = job.done;
            sink.finish(id, job, Ok(done));
        }
        // paio never cancels a read in the ring, so an error is the
        // kernel's: it gave up (`ECANCELED`, `EINTR`, `EAGAIN`), does not
        // know the operation (`EINVAL` before Linux 5.6), or the read
        // failed. A worker does it again with `pread`, whose answer is the
        // one glibc gives; only error paths pay for it.
        _ => s.pool.take_back(sink, id),
    }
}

/// `io_uring_enter` fails for good: no new read comes here; what the
/// kernel never took, and whatever is still queued, goes to the pool; the
/// reads the kernel took are completed as their results appear in the
/// mapped ring (the task work that posts them runs whenever this thread
/// returns from a system call, even a refused one).
fn abandon(
    sink: &'static dyn Sink,
    s: &'static Shared,
    e: i32,
    unsent: VecDeque<u64>,
    mut inflight: u32,
) {
    s.broken.store(e, SeqCst);
    let to_pool = |id: u32| s.pool.take_back(sink, id);
    for data in unsent {
        if data != WAKE {
            inflight = inflight.saturating_sub(1);
            to_pool(data as u32);
        }
    }
    loop {
        while let Some(id) = s.queue.pop() {
            to_pool(id);
        }
        // SAFETY: this thread is the ring's only consumer.
        while let Some(cqe) = unsafe { s.ring.pop() } {
            if cqe.user_data != WAKE {
                inflight = inflight.saturating_sub(1);
                on_completion(sink, s, cqe.user_data as u32, cqe.res);
            }
        }
        // A submitter that saw the ring usable just before it broke may
        // still queue a read: look again now and then, for ever.
        let nap = libc::timespec {
            tv_sec: 0,
            tv_nsec: if inflight > 0 { 1_000_000 } else { 100_000_000 },
        };
        // (Not a poll of the ring: its number may be the program's now.)
        sys::sleep(&nap);
    }
}
