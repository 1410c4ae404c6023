//! The kernel AIO backend: per-CPU kernel contexts fed by `io_submit`.
//!
//! What goes to the kernel: `O_DIRECT` reads and writes (truly asynchronous
//! there), `aio_fsync` once its barrier is met (`IOCB_CMD_FSYNC`/`FDSYNC`, run
//! by the kernel's workqueue), and readiness polls (`IOCB_CMD_POLL`) for pipes
//! and sockets, followed by a non-blocking transfer — so pending network reads
//! park no thread. Everything else, and anything the kernel refuses, goes to
//! the worker pool.
//!
//! Who takes completions from the rings the kernel maps: any thread, at any
//! time, without a lock — each event is copied, then claimed with a 64-bit
//! compare-and-swap ([`k::RingMap`]), so a thread interrupted while taking
//! (by a signal handler that takes too, or for good by `siglongjmp`) never
//! holds anything up. Every request is submitted with `IOCB_FLAG_RESFD`, so
//! each completion also counts up one eventfd of the process, the *wake*.
//!
//! Until a request needs more, the program's own threads take completions
//! and paio runs no thread of its own: `aio_error` takes what the mapped
//! rings hold (no syscall), and `aio_suspend` sleeps in `ppoll` on the wake,
//! which the kernel signals for its completions and paio for every other one
//! (the pool's) while someone sleeps there. A request whose completion must
//! be acted on without the program asking — a signal or thread
//! notification, an `lio_listio` list that is waited for or notified, a pipe
//! or socket transfer, `aio_waitcomplete`'s queue, an `aio_fsync` queued
//! behind writes (its barrier is released by a completion) — first starts
//! one reaper thread, which from then on takes every completion.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU32, AtomicUsize};

use crossbeam_queue::{ArrayQueue, SegQueue};
use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::backend::kaio_sys::{self as k, Context, IoEvent, Iocb, RingMap};
use crate::backend::uring::UringReads;
use crate::backend::wakefd::WakeFd;
use crate::backend::{Backend, PoolBackend, Sink};
use crate::request::aiocb::Notify;
use crate::request::slots::{Job, Op};
use crate::stats::Counter;
use crate::sync::AtomicU64;
use crate::sys;

/// Events per kernel context. Each context is charged against the
/// system-wide `fs.aio-max-nr` (65536 by default; the kernel charges about
/// twice the ring size), so contexts are kept small and few: many processes
/// can use paio at once. What does not fit in a ring waits in user space
/// (polls) or goes to the pool (transfers).
const CONTEXT_EVENTS: u32 = 256;
/// Contexts grow with demand: the first kernel request makes one, and each
/// thread that submits to the kernel beyond the first may add one, up to
/// the number of CPUs and at most this many. A process with one submitting
/// thread (a prefork server's worker, fio's job) holds one context however
/// many CPUs the machine has.
const MAX_CONTEXTS: usize = 8;

/// One kernel context and its mapped ring.
struct Ring {
    ctx: Context,
    map: RingMap,
    /// Events taken from the ring so far (see [`RingMap::take`]).
    claim: AtomicU64,
    /// Events a program thread took but may not act on there: the request
    /// needs the reaper, or a descriptor lock was busy (the thread may be a
    /// signal handler that interrupted the lock's holder). The reaper, or
    /// the next taker, acts on them.
    handoff: ArrayQueue<IoEvent>,
    /// Readiness polls the kernel refused because the ring was full. They
    /// wait here, claimed, until the reaper resubmits them — never on a
    /// pool thread.
    overflow: SegQueue<Iocb>,
}

/// The kernel side, set up by the first request that needs it.
struct Contexts {
    /// `rings[..live]` are set up, in order; the rest may be later.
    rings: Box<[OnceCell<Ring>]>,
    live: AtomicUsize,
    /// Held while a context is added.
    grow: Mutex<()>,
    /// An `io_setup` for one more context was refused (`fs.aio-max-nr`
    /// exhausted): the process keeps the contexts it has.
    refused: AtomicBool,
    /// The eventfd every request signals when it completes (`IOCB_FLAG_RESFD`)
    /// and paio signals for other completions while program threads sleep on it.
    wake: WakeFd,
    /// Program threads sleeping on `wake` in `aio_suspend`.
    sleepers: AtomicU32,
    /// The reaper thread was started (under the lock: a cold path).
    reaper: Mutex<bool>,
    /// The reaper runs: program threads leave completions to it.
    reaped: AtomicBool,
}

pub struct KaioBackend {
    /// Contexts exist only once a request needs the kernel: a program that
    /// only reads cached files pays for none (and no context teardown at
    /// exit). `Err(errno)` once `io_setup` failed.
    kernel: OnceCell<Result<Contexts, i32>>,
    pool: &'static PoolBackend,
    /// Uncached buffered reads, where io_uring is allowed (`None` with
    /// `PAIO_BACKEND=kaio`): the kernel AIO of this interface has no
    /// asynchronous buffered read.
    uring: Option<UringReads>,
    /// Where paio's own descriptors (the wake) start.
    dup_floor: AtomicI32,
}

thread_local! {
    /// While `Some`, submissions from this thread are collected and sent in
    /// one `io_submit` per context (`lio_listio`).
    static BATCH: RefCell<Option<Vec<(usize, Iocb)>>> = const { RefCell::new(None) };
    /// The ring this thread submits to, chosen at its first submission.
    static MY_RING: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Rings are handed to submitting threads round robin.
static NEXT_RING: AtomicUsize = AtomicUsize::new(0);

/// Must the completion of this request be acted on without the program
/// asking (so the reaper must run before it goes to the kernel)?
fn needs_reaper(job: &Job) -> bool {
    job.stream
        || job.group != 0
        || job.report
        || job.lane.is_some()
        || !matches!(job.notify, Notify::None)
}

impl KaioBackend {
    /// No syscall here: see [`KaioBackend::kernel`].
    pub fn new(pool: &'static PoolBackend, uring: bool) -> KaioBackend {
        KaioBackend {
            kernel: OnceCell::new(),
            pool,
            uring: uring.then(|| UringReads::new(pool)),
            dup_floor: AtomicI32::new(0),
        }
    }

    /// False once `io_setup` has failed: everything goes to the pool.
    pub fn usable(&self) -> bool {
        !matches!(self.kernel.get(), Some(Err(_)))
    }

    /// The contexts, set up on first use: one per CPU (at most
    /// `MAX_CONTEXTS`). `None` when `io_setup` fails — no kernel AIO
    /// (`ENOSYS`), a seccomp policy (`EPERM`), `fs.aio-max-nr` exhausted
    /// (`EAGAIN`) — or no eventfd can be made; the engine records why and
    /// uses the pool from then on.
    fn kernel(&'static self, sink: &'static dyn Sink) -> Option<&'static Contexts> {
        let r = self.kernel.get_or_init(|| {
            self.dup_floor.store(sink.dup_floor(), Relaxed);
            let r = setup(sink.dup_floor());
            if let Err(e) = r {
                sink.kernel_refused(e);
            }
            r
        });
        r.as_ref().ok()
    }

    /// The contexts, if they exist already.
    fn rings(&self) -> Option<&Contexts> {
        match self.kernel.get() {
            Some(Ok(k)) => Some(k),
            _ => None,
        }
    }

    /// This thread's ring: each thread keeps one (chosen round robin), so
    /// threads on different CPUs use different contexts. A thread whose
    /// turn comes beyond the contexts that exist adds one, while the CPUs,
    /// `MAX_CONTEXTS` and the system's budget allow.
    fn ring_index(&self, sink: &dyn Sink, k: &Contexts) -> usize {
        let turn = MY_RING.with(|m| {
            if m.get() == usize::MAX {
                m.set(NEXT_RING.fetch_add(1, Relaxed));
            }
            m.get()
        });
        let want = turn % k.rings.len();
        while want >= k.live.load(Acquire) {
            if !k.grow(sink) {
                return want % k.live.load(Acquire);
            }
        }
        want
    }

    /// Start the reaper (once): from now on completions are acted on
    /// without the program asking. False when its thread cannot be made.
    fn ensure_reaper(&'static self, sink: &'static dyn Sink, k: &'static Contexts) -> bool {
        if k.reaped.load(Acquire) {
            return true;
        }
        let mut started = k.reaper.lock();
        if !*started {
            let old = sys::block_all_signals();
            let r = std::thread::Builder::new()
                .name("paio-reap".into())
                .stack_size(256 << 10)
                .spawn(move || reap(sink, self, k));
            sys::restore_signals(&old);
            if r.is_err() {
                return false;
            }
            sink.count(Counter::Threads, 1);
            *started = true;
        }
        k.reaped.store(true, Release);
        true
    }

    /// The iocb for a job, or `None` when the kernel should not get it.
    fn iocb(&self, id: u32, job: &Job) -> Option<Iocb> {
        let fd = job.io_fd();
        let mut cb = Iocb {
            aio_data: id as u64,
            aio_fildes: fd as u32,
            ..Iocb::default()
        };
        match job.op {
            Op::Fsync { data_only } => {
                cb.aio_lio_opcode = if data_only {
                    k::IOCB_CMD_FDSYNC
                } else {
                    k::IOCB_CMD_FSYNC
                };
            }
            _ if job.faults => return None,
            _ if job.stream && (job.nonblocking || job.timed) => return None,
            _ if job.stream => {
                cb.aio_lio_opcode = k::IOCB_CMD_POLL;
                cb.aio_buf = if job.op == Op::Read {
                    libc::POLLIN as u64
                } else {
                    libc::POLLOUT as u64
                };
            }
            Op::Read | Op::Write if job.direct && job.done == 0 => {
                // A vectored request's buffer is its iovec array, its
                // length the iovec count.
                let vectored = job.iovcnt != 0;
                cb.aio_lio_opcode = match (job.op, vectored) {
                    (Op::Read, false) => k::IOCB_CMD_PREAD,
                    (Op::Read, true) => k::IOCB_CMD_PREADV,
                    (_, false) => k::IOCB_CMD_PWRITE,
                    (_, true) => k::IOCB_CMD_PWRITEV,
                };
                cb.aio_buf = job.buf as u64;
                cb.aio_nbytes = if vectored {
                    job.iovcnt as u64
                } else {
                    job.len as u64
                };
                cb.aio_offset = job.offset;
            }
            _ => return None,
        }
        Some(cb)
    }

    /// Hand the request to the pool instead; it must hold its own reference
    /// to the file there.
    fn to_pool(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        if let Some(slot) = sink.slab().get(id) {
            // SAFETY: the dispatching thread owns a queued job until it is
            // handed to an executor.
            let job = unsafe { slot.job() };
            if job.file < 0 {
                match sink.take_file(job.fd) {
                    Ok(f) => job.file = f,
                    Err(e) => {
                        // Only reachable for a request submitted just now, in
                        // the caller's thread: the descriptor is bad.
                        if slot.claim_or_cancelled() {
                            slot.mark_done();
                            sink.complete(job, Err(e));
                        }
                        sink.release(id);
                        return Ok(());
                    }
                }
            }
        }
        self.pool.dispatch(sink, id)
    }

    /// The io_uring reads, for a job they take: a buffered read into one
    /// buffer, uncached (`cold`: the submitting call found it so, which
    /// only a filesystem taking `RWF_NOWAIT` can). Never a FUSE file: on a
    /// `direct_io` mount the kernel's io_uring read repeats the data of a
    /// short read (a 45-byte file read as 200 bytes, the 45 over and over,
    /// with a plain liburing program too; Linux 6.18), where `pread` is
    /// right.
    fn uring_for(&self, job: &Job) -> Option<&UringReads> {
        let u = self.uring.as_ref()?;
        (job.cold && job.op == Op::Read && job.iovcnt == 0 && !job.stream && !job.faults)
            .then_some(u)
    }

    /// `io_submit` a set of iocbs of claimed jobs to ring `i`; whatever the
    /// kernel does not take goes to the pool (polls wait for room).
    fn submit(&'static self, sink: &'static dyn Sink, i: usize, cbs: &mut [Iocb]) {
        let Some(kernel) = self.rings() else {
            return;
        };
        let ring = kernel.ring(i);
        for cb in cbs.iter_mut() {
            cb.aio_flags |= k::IOCB_FLAG_RESFD;
            cb.aio_resfd = kernel.wake.fd() as u32;
        }
        // The wake was found replaced (the program took its number) once:
        // the refused requests are sent again, counting up the new one.
        let mut renewed = false;
        // Pointers in chunks on the stack: no allocation per submission.
        let mut refused_from = cbs.len();
        let mut ring_full = false;
        let mut made_room = false;
        let mut base = 0;
        'chunks: while base < cbs.len() {
            let end = (base + 64).min(cbs.len());
            let mut ptrs = [std::ptr::null_mut::<Iocb>(); 64];
            for (p, cb) in ptrs.iter_mut().zip(cbs[base..end].iter_mut()) {
                *p = cb as *mut Iocb;
            }
            let mut done = 0;
            while base + done < end {
                match k::io_submit(ring.ctx, &mut ptrs[done..end - base]) {
                    Ok(0) => {
                        refused_from = base + done;
                        break 'chunks;
                    }
                    // The ring is full of events nobody took (the program
                    // has not asked yet): take them here, once.
                    Err(libc::EAGAIN) if !made_room && !kernel.reaped.load(Relaxed) => {
                        made_room = true;
                        take(sink, self, kernel, ring, true);
                    }
                    // `aio_resfd` no longer names an eventfd: the program
                    // closed the wake's number, maybe opened a file under it.
                    // (Another thread may have replaced it already.)
                    Err(libc::EBADF) | Err(libc::EINVAL)
                        if !renewed
                            && kernel.wake.check().is_ok_and(|fd| {
                                // SAFETY: `ptrs[done]` points into `cbs`.
                                fd as u32 != unsafe { (*ptrs[done]).aio_resfd }
                            }) =>
                    {
                        renewed = true;
                        let fd = kernel.wake.fd() as u32;
                        for &p in &ptrs[done..end - base] {
                            // SAFETY: `p` points into `cbs`, which this call
                            // borrows mutably; the kernel took none of these.
                            unsafe { (*p).aio_resfd = fd };
                        }
                        for cb in cbs[end..].iter_mut() {
                            cb.aio_resfd = fd;
                        }
                    }
                    Err(e) => {
                        refused_from = base + done;
                        ring_full = e == libc::EAGAIN;
                        break 'chunks;
                    }
                    Ok(n) => done += n,
                }
            }
            base = end;
        }
        sink.count(Counter::Kernel, refused_from as u64);
        for cb in &cbs[refused_from..] {
            let id = cb.aio_data as u32;
            if ring_full && cb.aio_lio_opcode == k::IOCB_CMD_POLL {
                ring.overflow.push(*cb);
                continue;
            }
            if let Some(slot) = sink.slab().get(id) {
                slot.unclaim();
            }
            if let Err(id) = self.to_pool(sink, id) {
                sink.execute(id);
            }
        }
    }

    /// The reaper made room in ring `i`: resubmit polls that waited for it.
    fn resubmit_overflow(&'static self, sink: &'static dyn Sink, i: usize) {
        let Some(kernel) = self.rings() else {
            return;
        };
        let mut batch = [Iocb::default(); 64];
        let mut n = 0;
        while n < batch.len() {
            match kernel.ring(i).overflow.pop() {
                Some(cb) => {
                    batch[n] = cb;
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.submit(sink, i, &mut batch[..n]);
        }
    }

    /// `ppoll` on the wake until it is signalled, a signal, or the
    /// deadline; `nap` caps the sleep at a millisecond, and the wake's own
    /// nap ([`WakeFd::nap`]) caps it anyway.
    fn sleep(&self, k: &Contexts, deadline: Option<&libc::timespec>, nap: bool) -> Result<(), i32> {
        let mut timeout = match deadline {
            Some(d) => Some(sys::remaining(d).ok_or(libc::ETIMEDOUT)?),
            None => None,
        };
        let n = if nap {
            libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000,
            }
        } else {
            k.wake.nap()
        };
        timeout = Some(match timeout {
            Some(t) if (t.tv_sec, t.tv_nsec) < (n.tv_sec, n.tv_nsec) => t,
            _ => n,
        });
        match sys::poll_in(k.wake.fd(), timeout.as_ref()) {
            Ok(_) => {
                let expired = deadline.is_some_and(|d| sys::remaining(d).is_none());
                if expired {
                    Err(libc::ETIMEDOUT)
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        }
    }
}

fn setup(dup_floor: i32) -> Result<Contexts, i32> {
    let n = sys::online_cpus().clamp(1, MAX_CONTEXTS);
    let first = new_ring()?;
    let wake = WakeFd::new(dup_floor)?;
    let rings: Box<[OnceCell<Ring>]> = (0..n).map(|_| OnceCell::new()).collect();
    let _ = rings[0].set(first);
    Ok(Contexts {
        rings,
        live: AtomicUsize::new(1),
        grow: Mutex::new(()),
        refused: AtomicBool::new(false),
        wake,
        sleepers: AtomicU32::new(0),
        reaper: Mutex::new(false),
        reaped: AtomicBool::new(false),
    })
}

/// One kernel context and its mapped ring.
fn new_ring() -> Result<Ring, i32> {
    let ctx = k::io_setup(CONTEXT_EVENTS)?;
    // A ring whose layout this code does not know cannot be shared by
    // takers: without it, the pool does everything.
    let map = RingMap::of(ctx).ok_or(libc::ENOSYS)?;
    Ok(Ring {
        ctx,
        map,
        claim: AtomicU64::new(map.head()),
        handoff: ArrayQueue::new(4 * CONTEXT_EVENTS as usize),
        overflow: SegQueue::new(),
    })
}

impl Contexts {
    /// The rings set up so far.
    fn live(&self) -> impl Iterator<Item = &Ring> {
        self.rings[..self.live.load(Acquire)]
            .iter()
            .filter_map(OnceCell::get)
    }

    /// Ring `i`, which is live (an index from `ring_index`).
    fn ring(&self, i: usize) -> &Ring {
        self.rings[i].get().expect("a ring index below `live`")
    }

    /// Add one context. False when none can be added: every one allowed
    /// exists, or the system refused one (counted once, as `kaio_refused`).
    fn grow(&self, sink: &dyn Sink) -> bool {
        let _g = self.grow.lock();
        let live = self.live.load(Acquire);
        if live >= self.rings.len() || self.refused.load(Relaxed) {
            return false;
        }
        match new_ring() {
            Ok(ring) => {
                let _ = self.rings[live].set(ring);
                self.live.store(live + 1, Release);
                true
            }
            Err(_) => {
                self.refused.store(true, Relaxed);
                sink.count(Counter::KaioRefused, 1);
                false
            }
        }
    }
}

impl Backend for KaioBackend {
    fn name(&self) -> &'static str {
        "kaio"
    }

    /// The first request for the kernel sets up the kernel side (a program
    /// whose requests complete inline or on the pool never does). One that
    /// needs the reaper needs its thread now; one for the pool, a worker.
    /// A reaper that cannot start is no reason to refuse: `dispatch` then
    /// sends the request to the pool, which is refused only where glibc's
    /// would be too (no thread runs and none can be made).
    fn ready(&'static self, sink: &'static dyn Sink, job: &Job) -> bool {
        if let Some(u) = self.uring_for(job) {
            if u.ready(sink) {
                return true;
            }
        }
        if self.iocb(0, job).is_some() {
            if let Some(k) = self.kernel(sink) {
                if !needs_reaper(job) || self.ensure_reaper(sink, k) {
                    return true;
                }
            }
        }
        self.pool.ready(sink, job)
    }

    fn dispatch(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        let Some(slot) = sink.slab().get(id) else {
            return Ok(());
        };
        // SAFETY: a queued job is owned by its dispatcher until claimed.
        let job = unsafe { slot.job() };
        if let Some(u) = self.uring_for(job) {
            // Like the kernel's, a read in the ring cannot be cancelled.
            if !slot.claim_or_cancelled() {
                sink.release(id);
                return Ok(());
            }
            match u.submit(sink, id, job.cold) {
                Ok(()) => return Ok(()),
                Err(_) => slot.unclaim(),
            }
        }
        let Some(cb) = self.iocb(id, job) else {
            return self.to_pool(sink, id);
        };
        let Some(kernel) = self.kernel(sink) else {
            return self.to_pool(sink, id);
        };
        if needs_reaper(job) && !self.ensure_reaper(sink, kernel) {
            // Nobody could act on its completion in time.
            return self.to_pool(sink, id);
        }
        // The kernel cannot cancel most requests: once submitted, the job
        // belongs to whoever takes its event.
        if !slot.claim_or_cancelled() {
            sink.release(id);
            return Ok(());
        }
        let ring = self.ring_index(sink, kernel);
        let batched = BATCH.with(|b| match b.borrow_mut().as_mut() {
            Some(v) => {
                v.push((ring, cb));
                true
            }
            None => false,
        });
        if !batched {
            self.submit(sink, ring, &mut [cb]);
        }
        Ok(())
    }

    fn dispatch_to_pool(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        self.to_pool(sink, id)
    }

    fn uses_pool(&self, job: &Job) -> bool {
        if self.uring_for(job).is_some_and(|u| u.refused() == 0) {
            return false;
        }
        !(self.usable() && self.iocb(0, job).is_some())
    }

    fn in_kernel(&self) -> bool {
        self.usable()
    }

    fn reads_uncached(&'static self, sink: &'static dyn Sink) -> bool {
        self.uring.as_ref().is_some_and(|u| u.ready(sink))
    }

    fn begin_batch(&self) {
        BATCH.with(|b| *b.borrow_mut() = Some(Vec::new()));
    }

    /// Flush this thread's batch (see [`Backend::begin_batch`]).
    fn end_batch(&'static self, sink: &'static dyn Sink) {
        let Some(batch) = BATCH.with(|b| b.borrow_mut().take()) else {
            return;
        };
        let mut by_ring: Vec<(usize, Vec<Iocb>)> = Vec::new();
        for (ring, cb) in batch {
            match by_ring.iter_mut().find(|(r, _)| *r == ring) {
                Some((_, v)) => v.push(cb),
                None => by_ring.push((ring, vec![cb])),
            }
        }
        for (ring, mut cbs) in by_ring {
            self.submit(sink, ring, &mut cbs);
        }
    }

    /// An `aio_fsync` is being queued behind writes of its descriptor: the
    /// completion that releases it may be a kernel one, taken by a program
    /// thread maybe in a signal handler, which must not dispatch it. Start
    /// the reaper now, in the submitting call, if its thread can be made.
    fn expect_barrier(&'static self, sink: &'static dyn Sink) {
        if let Some(Ok(k)) = self.kernel.get() {
            self.ensure_reaper(sink, k);
        }
    }

    /// `aio_error` found a request in progress: take what the rings hold,
    /// in the calling thread, without a syscall. True when anything was
    /// completed.
    fn poll(&'static self, sink: &'static dyn Sink) -> bool {
        let Some(k) = self.rings() else {
            return false;
        };
        if k.reaped.load(Relaxed) {
            return false;
        }
        let mut any = false;
        for ring in k.live() {
            if ring.map.pending(&ring.claim) || !ring.handoff.is_empty() {
                any |= take(sink, self, k, ring, true).completed;
            }
        }
        any
    }

    /// `aio_suspend` found none of its requests done. Unless the reaper
    /// runs (then `None`: sleep on the futex, it wakes the waiters), take
    /// what the rings hold, then sleep on the wake until a completion, a
    /// signal (`EINTR`) or the deadline (`ETIMEDOUT`). `Some(Ok)`: look
    /// again.
    fn wait(
        &'static self,
        sink: &'static dyn Sink,
        done: &mut dyn FnMut() -> bool,
        deadline: Option<&libc::timespec>,
    ) -> Option<Result<(), i32>> {
        let k: &'static Contexts = self.rings()?;
        if k.reaped.load(Acquire) {
            return None;
        }
        // Reset the wake first: whatever completes after this counts it up
        // again, and whatever completed before is in a ring, taken below.
        k.wake.drain();
        let mut took = Taken::default();
        for ring in k.live() {
            took.add(take(sink, self, k, ring, true));
        }
        if took.completed {
            return Some(Ok(()));
        }
        k.sleepers.fetch_add(1, SeqCst);
        // Pairs with the fence in `engine::wake::wake_waiters`: either a
        // completion elsewhere sees this sleeper and signals the wake, or
        // this sees its status.
        fence(SeqCst);
        let r = if done() || k.reaped.load(SeqCst) {
            Ok(())
        } else {
            // Events left for another taker (a busy descriptor lock): look
            // again every millisecond until they are done.
            self.sleep(k, deadline, took.handed_off)
        };
        k.sleepers.fetch_sub(1, SeqCst);
        Some(r)
    }

    /// A completion while threads wait (see `engine::wake::wake_waiters`): wake
    /// those sleeping on the wake.
    fn signal_wake(&self) {
        if let Some(k) = self.rings() {
            if k.sleepers.load(SeqCst) != 0 {
                k.wake.signal();
            }
        }
    }

    /// In a forked child: the parent's wake is not this process's.
    fn close_inherited(&self) {
        if let Some(k) = self.rings() {
            k.wake.close_if_ours();
        }
        if let Some(u) = &self.uring {
            u.close_inherited();
        }
    }

    fn threads(&self) -> u32 {
        let reaper = match self.rings() {
            Some(k) => *k.reaper.lock() as u32,
            None => 0,
        };
        let uring = self.uring.as_ref().is_some_and(|u| u.running()) as u32;
        self.pool.threads() + reaper + uring
    }
}

/// The reaper: takes every ring's events (and what program threads handed
/// off), resubmits polls that waited for room, and sleeps on the wake.
fn reap(sink: &'static dyn Sink, kaio: &'static KaioBackend, k: &'static Contexts) {
    loop {
        k.wake.drain();
        for (i, ring) in k.live().enumerate() {
            take(sink, kaio, k, ring, false);
            if !ring.overflow.is_empty() {
                kaio.resubmit_overflow(sink, i);
            }
        }
        let _ = sys::poll_in(k.wake.fd(), Some(&k.wake.nap()));
    }
}

/// What a [`take`] did.
#[derive(Default, Clone, Copy)]
struct Taken {
    /// Some request was completed.
    completed: bool,
    /// Some event was left in the hand-off queue.
    handed_off: bool,
}

impl Taken {
    fn add(&mut self, o: Taken) {
        self.completed |= o.completed;
        self.handed_off |= o.handed_off;
    }
}

/// Take and act on everything ring holds (first what was handed off).
/// `here`: the caller is a program thread (see [`on_event`]).
fn take(
    sink: &'static dyn Sink,
    kaio: &'static KaioBackend,
    k: &Contexts,
    ring: &Ring,
    here: bool,
) -> Taken {
    let mut t = Taken::default();
    let act = |ev: IoEvent, t: &mut Taken| {
        if on_event(sink, kaio, ev, here) {
            t.completed = true;
        } else {
            t.handed_off = true;
            if let Err(ev) = ring.handoff.push(ev) {
                // Never lose it: act on it here after all.
                on_event(sink, kaio, ev, false);
                t.completed = true;
            }
        }
    };
    for _ in 0..ring.handoff.len() {
        match ring.handoff.pop() {
            Some(ev) => act(ev, &mut t),
            None => break,
        }
    }
    while let Some(ev) = ring.map.take(&ring.claim) {
        act(ev, &mut t);
    }
    if t.handed_off && here {
        // The reaper (or another waiter) acts on it: wake it.
        k.wake.signal();
    }
    t
}

/// Act on one event. `here`: the calling thread is a program thread (in
/// `aio_error` or `aio_suspend`, maybe in a signal handler): it completes
/// only requests that need no reaper, and only when the descriptor locks
/// are free at once; false leaves the event to another taker.
fn on_event(sink: &'static dyn Sink, kaio: &'static KaioBackend, ev: IoEvent, here: bool) -> bool {
    let id = ev.data as u32;
    let Some(slot) = sink.slab().get(id) else {
        return true;
    };
    // SAFETY: the job was claimed before submission; the taker of its event
    // (this thread, which won the claim) is now its only owner.
    let job = unsafe { slot.job() };
    let result = if ev.res < 0 {
        Err(-ev.res as i32)
    } else {
        Ok(ev.res as usize)
    };
    if here {
        if needs_reaper(job) {
            return false;
        }
        return sink.try_finish(id, job, result);
    }
    if job.stream && !matches!(job.op, Op::Fsync { .. }) {
        match result {
            Err(e) => sink.finish(id, job, Err(e)),
            Ok(_) => ready_stream(sink, kaio, id, job),
        }
        return true;
    }
    sink.finish(id, job, result);
    true
}

/// A pipe or socket became ready: transfer without blocking; poll again if
/// it is not (or no longer) ready.
fn ready_stream(sink: &'static dyn Sink, kaio: &'static KaioBackend, id: u32, job: &mut Job) {
    loop {
        match crate::request::io::attempt(job, sys::RWF_NOWAIT) {
            Ok(n) => {
                job.done += n;
                if job.op == Op::Read || job.done == job.len || n == 0 {
                    let done = job.done;
                    return sink.finish(id, job, Ok(done));
                }
            }
            Err(libc::EINTR) => {}
            Err(libc::EAGAIN) => break,
            Err(libc::EOPNOTSUPP) => {
                // No non-blocking transfer on this file: a worker blocks for it.
                return kaio.pool.take_back(sink, id);
            }
            Err(_) if job.done > 0 => {
                let done = job.done;
                return sink.finish(id, job, Ok(done));
            }
            Err(e) => return sink.finish(id, job, Err(e)),
        }
    }
    // Not ready after all: poll again, from the ring the reaper serves.
    let mut cb = Iocb {
        aio_data: id as u64,
        aio_fildes: job.io_fd() as u32,
        aio_lio_opcode: k::IOCB_CMD_POLL,
        aio_buf: if job.op == Op::Read {
            libc::POLLIN as u64
        } else {
            libc::POLLOUT as u64
        },
        ..Iocb::default()
    };
    let Some(kernel) = kaio.kernel(sink) else {
        return kaio.pool.take_back(sink, id);
    };
    let ring = kaio.ring_index(sink, kernel);
    kaio.submit(sink, ring, std::slice::from_mut(&mut cb));
}
