//! The kernel AIO backend: per-CPU kernel contexts fed by `io_submit`.
//!
//! What goes to the kernel: `O_DIRECT` reads and writes (truly asynchronous
//! there), `aio_fsync` once its barrier is met (`IOCB_CMD_FSYNC`/`FDSYNC`, run
//! by the kernel's workqueue), and readiness polls (`IOCB_CMD_POLL`) for pipes
//! and sockets, followed by a non-blocking transfer — so pending network reads
//! park no thread. Everything else, and anything the kernel refuses, goes to
//! the worker pool.
//!
//! Who takes completions from a context's ring: whoever holds its token.
//! Until a request needs more, that is the program's own threads, and paio
//! runs no thread of its own: `aio_error` takes what the mapped ring holds
//! (no syscall), and `aio_suspend` sleeps in `io_getevents` on the ring its
//! requests went to — a completion elsewhere (the pool, another ring) wakes
//! it through the ring's *bell*, an eventfd whose readiness poll sits in the
//! ring. A request whose completion must be acted on without the program
//! asking (a signal or thread notification, an `lio_listio` group, a pipe or
//! socket transfer, `aio_waitcomplete`'s queue) first starts one reaper
//! thread per context, which then owns its ring for good.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU32, AtomicUsize};

use crossbeam_queue::{ArrayQueue, SegQueue};
use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::backend::{Backend, PoolBackend};
use crate::engine::Engine;
use crate::kaio_sys::{self as k, Context, IoEvent, Iocb};
use crate::notify::{self, Delivery};
use crate::slots::{Job, Op, Slot, RING_BARRIER};
use crate::stats::Counter;
use crate::suspend;
use crate::sys;

/// Events per kernel context. Each context is charged against the
/// system-wide `fs.aio-max-nr` (65536 by default), so contexts are kept
/// small and few: many processes can use paio at once. What does not fit in
/// a ring waits in user space (polls) or goes to the pool (transfers).
const CONTEXT_EVENTS: u32 = 256;
const MAX_CONTEXTS: usize = 8;
const REAP_BATCH: usize = 128;
/// Events taken at once by a program thread: its stack may be a signal
/// handler's.
const TAKE_BATCH: usize = 16;
/// `aio_data` of a ring's bell poll.
const BELL: u64 = u64::MAX;

/// One kernel context and who consumes its ring.
struct Ring {
    ctx: Context,
    /// 1 while a thread consumes the ring (a program thread in `aio_error`
    /// or `aio_suspend`, or the reaper, which never gives it back); 0 when
    /// free. The reaper sleeps on it (futex) until a program thread is done.
    token: AtomicU32,
    /// A reaper thread owns the ring (set once, by the reaper).
    reaper: AtomicBool,
    /// Requests submitted to the ring whose event nobody took yet.
    inflight: AtomicU32,
    /// The token holder sleeps in `io_getevents`: completions elsewhere ring
    /// the bell.
    sleeping: AtomicBool,
    /// The bell's eventfd, -1 until a thread first sleeps here.
    bell: AtomicI32,
    /// A readiness poll of the bell is in the ring (only the token holder
    /// arms it or sees it fire).
    bell_armed: AtomicBool,
    /// Events a program thread took but may not complete there (the request
    /// needs the reaper, or a descriptor lock was busy: the thread may be a
    /// signal handler that interrupted the lock's holder). Only the token
    /// holder touches it.
    handoff: ArrayQueue<IoEvent>,
    /// Readiness polls the kernel refused because the ring was full. They
    /// wait here, claimed, until the reaper frees ring slots — never on a
    /// pool thread.
    overflow: SegQueue<Iocb>,
}

impl Ring {
    fn new(ctx: Context) -> Ring {
        Ring {
            ctx,
            token: AtomicU32::new(0),
            reaper: AtomicBool::new(false),
            inflight: AtomicU32::new(0),
            sleeping: AtomicBool::new(false),
            bell: AtomicI32::new(-1),
            bell_armed: AtomicBool::new(false),
            handoff: ArrayQueue::new(4 * CONTEXT_EVENTS as usize),
            overflow: SegQueue::new(),
        }
    }

    /// Consume the ring in the calling thread; never once a reaper owns it.
    fn try_take(&self) -> bool {
        !self.reaper.load(SeqCst) && self.token.compare_exchange(0, 1, Acquire, Relaxed).is_ok()
    }

    /// Done consuming: a reaper waiting for the ring gets it, and waiters
    /// that found it taken look again.
    fn give_back(&self) {
        self.token.store(0, SeqCst);
        if self.reaper.load(SeqCst) {
            sys::futex_wake(&self.token, 1);
        }
        suspend::wake_waiters();
    }

    /// Anything for the token holder to take? Plain loads.
    fn has_events(&self) -> bool {
        !self.handoff.is_empty() || k::ring_pending(self.ctx)
    }

    /// The bell's poll fired: empty the eventfd so that the next poll waits
    /// for the next ring.
    fn bell_rung(&self) {
        self.bell_armed.store(false, Relaxed);
        let fd = self.bell.load(Relaxed);
        if fd >= 0 {
            sys::eventfd_drain(fd);
        }
    }
}

/// The kernel side, set up by the first request that needs it.
struct Contexts {
    rings: Box<[Ring]>,
    /// How many rings have a reaper thread started (a cold path).
    reapers: Mutex<usize>,
    /// Every ring has one: program threads no longer take completions.
    all_reaped: AtomicBool,
}

pub struct KaioBackend {
    /// Contexts exist only once a request needs the kernel: a program that
    /// only reads cached files pays for none (and no context teardown at
    /// exit). `Err(errno)` once `io_setup` failed.
    kernel: OnceCell<Result<Contexts, i32>>,
    pool: &'static PoolBackend,
    /// Where paio's own descriptors (the bells) start.
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
/// asking (so a reaper thread must exist before it goes to the kernel)?
fn needs_reaper(job: &Job) -> bool {
    job.stream
        || job.group != 0
        || job.report
        || job.lane.is_some()
        || !matches!(notify::plan(job.notify), Delivery::Nothing)
}

impl KaioBackend {
    /// No syscall here: see [`KaioBackend::kernel`].
    pub fn new(pool: &'static PoolBackend) -> KaioBackend {
        KaioBackend {
            kernel: OnceCell::new(),
            pool,
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
    /// (`EAGAIN`); the engine records why and uses the pool from then on.
    fn kernel(&'static self, engine: &'static Engine) -> Option<&'static Contexts> {
        let r = self.kernel.get_or_init(|| {
            self.dup_floor.store(engine.dup_floor, Relaxed);
            let r = setup();
            if let Err(e) = r {
                engine.kaio_error.store(e, Relaxed);
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

    /// This thread's ring. Each thread keeps one, so that `aio_suspend` over
    /// its own requests can sleep in a single `io_getevents`.
    fn ring_index(&self, k: &Contexts) -> usize {
        MY_RING.with(|m| {
            if m.get() == usize::MAX {
                m.set(NEXT_RING.fetch_add(1, Relaxed));
            }
            m.get() % k.rings.len()
        })
    }

    /// Start one reaper per ring (once): from now on completions are acted
    /// on without the program asking. False when a thread cannot be made.
    fn ensure_reapers(&'static self, engine: &'static Engine, k: &'static Contexts) -> bool {
        if k.all_reaped.load(Acquire) {
            return true;
        }
        let mut started = k.reapers.lock();
        while *started < k.rings.len() {
            let ring: &'static Ring = &k.rings[*started];
            let old = sys::block_all_signals();
            let r = std::thread::Builder::new()
                .name("paio-reap".into())
                .stack_size(256 << 10)
                .spawn(move || reap(engine, ring));
            sys::restore_signals(&old);
            if r.is_err() {
                return false;
            }
            engine.stats.add(Counter::Threads, 1);
            *started += 1;
        }
        k.all_reaped.store(true, Release);
        true
    }

    /// The iocb for a job, or `None` when the kernel should not get it.
    fn iocb(&self, id: u32, job: &Job) -> Option<Iocb> {
        let fd = if job.file >= 0 { job.file } else { job.fd };
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
            _ if job.stream && job.nonblocking => return None,
            _ if job.stream => {
                cb.aio_lio_opcode = k::IOCB_CMD_POLL;
                cb.aio_buf = if job.op == Op::Read {
                    libc::POLLIN as u64
                } else {
                    libc::POLLOUT as u64
                };
            }
            Op::Read | Op::Write if job.direct && job.done == 0 && job.iovcnt == 0 => {
                cb.aio_lio_opcode = if job.op == Op::Read {
                    k::IOCB_CMD_PREAD
                } else {
                    k::IOCB_CMD_PWRITE
                };
                cb.aio_buf = job.buf as u64;
                cb.aio_nbytes = job.len as u64;
                cb.aio_offset = job.offset;
            }
            Op::Read | Op::Write if job.direct && job.done == 0 => {
                cb.aio_lio_opcode = if job.op == Op::Read {
                    k::IOCB_CMD_PREADV
                } else {
                    k::IOCB_CMD_PWRITEV
                };
                cb.aio_buf = job.buf as u64;
                cb.aio_nbytes = job.iovcnt as u64;
                cb.aio_offset = job.offset;
            }
            _ => return None,
        }
        Some(cb)
    }

    /// Hand the request to the pool instead; it must hold its own reference
    /// to the file there.
    fn to_pool(&'static self, engine: &'static Engine, id: u32) -> Result<(), u32> {
        if let Some(slot) = engine.slab.get(id) {
            slot.ring.store(0, Relaxed);
            // SAFETY: the dispatching thread owns a queued job until it is
            // handed to an executor.
            let job = unsafe { slot.job() };
            if job.file < 0 {
                match engine.take_file(job.fd) {
                    Ok(f) => job.file = f,
                    Err(e) => {
                        // Only reachable for a request submitted just now, in
                        // the caller's thread: the descriptor is bad.
                        if slot.claim_or_cancelled() {
                            slot.mark_done();
                            engine.complete(job, Err(e));
                        }
                        engine.release_slot(id);
                        return Ok(());
                    }
                }
            }
        }
        self.pool.dispatch(engine, id)
    }

    /// Flush this thread's batch (see [`begin_batch`]).
    pub fn end_batch(&'static self, engine: &'static Engine) {
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
            self.submit(engine, ring, &mut cbs);
        }
    }

    /// `io_submit` a set of iocbs of claimed jobs to ring `i`; whatever the
    /// kernel does not take goes to the pool (polls wait for room).
    fn submit(&'static self, engine: &'static Engine, i: usize, cbs: &mut [Iocb]) {
        let Some(kernel) = self.rings() else {
            return;
        };
        let ring = &kernel.rings[i];
        ring.inflight.fetch_add(cbs.len() as u32, SeqCst);
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
                    // The ring is full of events nobody took (no reaper, and
                    // the program has not asked yet): take them here, once.
                    Err(libc::EAGAIN) if !made_room && ring.try_take() => {
                        made_room = true;
                        take_here(engine, ring);
                        ring.give_back();
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
        let refused = (cbs.len() - refused_from) as u32;
        if refused > 0 {
            ring.inflight.fetch_sub(refused, SeqCst);
        }
        engine.stats.add(Counter::Kernel, refused_from as u64);
        if refused_from > 0 && !ring.reaper.load(Relaxed) {
            // A waiter that saw one of these queued in user space must now
            // look for it in this ring.
            suspend::wake_waiters();
        }
        for cb in &cbs[refused_from..] {
            let id = cb.aio_data as u32;
            if ring_full && cb.aio_lio_opcode == k::IOCB_CMD_POLL {
                ring.overflow.push(*cb);
                continue;
            }
            if let Some(slot) = engine.slab.get(id) {
                slot.unclaim();
            }
            if let Err(id) = self.to_pool(engine, id) {
                engine.execute(id);
            }
        }
    }

    /// The reaper freed `freed` slots of ring `i`: resubmit polls that
    /// waited for room.
    fn resubmit_overflow(&'static self, engine: &'static Engine, i: usize, freed: usize) {
        let Some(kernel) = self.rings() else {
            return;
        };
        let mut batch = [Iocb::default(); 64];
        let mut n = 0;
        while n < freed.min(batch.len()) {
            match kernel.rings[i].overflow.pop() {
                Some(cb) => {
                    batch[n] = cb;
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.submit(engine, i, &mut batch[..n]);
        }
    }

    /// `aio_error` found a request in progress: take what the rings that no
    /// reaper owns hold, in the calling thread, without a syscall. True when
    /// anything was taken.
    pub fn poll(&'static self, engine: &'static Engine) -> bool {
        let Some(k) = self.rings() else {
            return false;
        };
        if k.all_reaped.load(Relaxed) {
            return false;
        }
        let mut any = false;
        for ring in k.rings.iter() {
            if ring.reaper.load(Relaxed) || !ring.has_events() {
                continue;
            }
            if ring.try_take() {
                any |= take_here(engine, ring);
                ring.give_back();
            }
        }
        any
    }

    /// `aio_suspend` found none of its requests done (`pending`: those in
    /// progress). Where their completions would sit unseen in a ring that
    /// no reaper owns, take them here: what is there already, then by
    /// sleeping in `io_getevents` on that ring until an event, the bell, a
    /// signal (`EINTR`) or the deadline (`ETIMEDOUT`). `Some(Ok)`: look
    /// again. `None`: sleep on the futex instead — whoever completes the
    /// requests will wake it.
    pub fn wait<'a>(
        &'static self,
        engine: &'static Engine,
        pending: impl Iterator<Item = &'a Slot>,
        done: &mut dyn FnMut() -> bool,
        deadline: Option<&libc::timespec>,
    ) -> Option<Result<(), i32>> {
        let k: &'static Contexts = self.rings()?;
        if k.all_reaped.load(Acquire) {
            return None;
        }
        let mut want = 0u32;
        let mut barrier = false;
        for slot in pending {
            match slot.ring.load(Acquire) {
                0 => {}
                RING_BARRIER => barrier = true,
                r => want |= 1 << (r - 1),
            }
        }
        if barrier {
            // An fsync behind its barrier: the writes it waits for may be
            // in any ring.
            for (i, ring) in k.rings.iter().enumerate() {
                if ring.inflight.load(SeqCst) > 0 || !ring.handoff.is_empty() {
                    want |= 1 << i;
                }
            }
        }
        let mut mine: Option<&Ring> = None;
        let mut several = false;
        let mut took = false;
        for (i, ring) in k.rings.iter().enumerate() {
            if want & (1 << i) == 0 || !ring.try_take() {
                continue;
            }
            took |= take_here(engine, ring);
            if mine.is_none() {
                mine = Some(ring);
            } else {
                several = true;
                ring.give_back();
            }
        }
        let Some(ring) = mine else {
            // Every ring that matters is taken by a thread that will wake
            // this one when it gives it back.
            return took.then_some(Ok(()));
        };
        if took {
            ring.give_back();
            return Some(Ok(()));
        }
        let mut nap = false;
        if several {
            // One sleep cannot watch several rings: let reapers do it.
            ring.give_back();
            if self.ensure_reapers(engine, k) {
                return None;
            }
            // No thread can be made: watch this ring, looking again often.
            if !ring.try_take() {
                return None;
            }
            nap = true;
        }
        let r = self.sleep_on(engine, ring, done, deadline, nap);
        ring.give_back();
        Some(r)
    }

    /// Sleep in `io_getevents` on a ring whose token this thread holds, and
    /// act on what it returns. `nap`: wake every millisecond to look again
    /// (also when the bell cannot be armed).
    fn sleep_on(
        &'static self,
        engine: &'static Engine,
        ring: &Ring,
        done: &mut dyn FnMut() -> bool,
        deadline: Option<&libc::timespec>,
        nap: bool,
    ) -> Result<(), i32> {
        let nap = nap || !self.arm_bell(ring);
        ring.sleeping.store(true, SeqCst);
        // Pairs with the fence in `suspend::wake_waiters`: either the
        // completion sees `sleeping` and rings, or this sees its status.
        fence(SeqCst);
        if done() || ring.reaper.load(SeqCst) {
            ring.sleeping.store(false, Relaxed);
            return Ok(());
        }
        let mut timeout = match deadline {
            Some(d) => match sys::remaining(d) {
                Some(t) => Some(t),
                None => {
                    ring.sleeping.store(false, Relaxed);
                    return Err(libc::ETIMEDOUT);
                }
            },
            None => None,
        };
        if nap {
            let ms = libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000,
            };
            timeout = Some(match timeout {
                Some(t) if (t.tv_sec, t.tv_nsec) < (ms.tv_sec, ms.tv_nsec) => t,
                _ => ms,
            });
        }
        let mut events = [IoEvent::default(); TAKE_BATCH];
        let r = k::io_getevents(ring.ctx, 1, &mut events, timeout.as_ref());
        ring.sleeping.store(false, Relaxed);
        match r {
            Ok(n) => {
                for ev in &events[..n] {
                    take_one(engine, ring, *ev);
                }
                take_here(engine, ring);
                let expired = deadline.is_some_and(|d| sys::remaining(d).is_none());
                if n == 0 && expired {
                    Err(libc::ETIMEDOUT)
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Put the bell's readiness poll in the ring (the token holder's job).
    fn arm_bell(&self, ring: &Ring) -> bool {
        if ring.bell_armed.load(Relaxed) {
            return true;
        }
        let mut fd = ring.bell.load(Relaxed);
        if fd < 0 {
            match sys::eventfd(self.dup_floor.load(Relaxed)) {
                Ok(f) => {
                    fd = f;
                    ring.bell.store(f, Relaxed);
                }
                Err(_) => return false,
            }
        }
        let mut cb = Iocb {
            aio_data: BELL,
            aio_fildes: fd as u32,
            aio_lio_opcode: k::IOCB_CMD_POLL,
            aio_buf: libc::POLLIN as u64,
            ..Iocb::default()
        };
        let ok = matches!(k::io_submit(ring.ctx, &mut [&mut cb as *mut Iocb]), Ok(1));
        ring.bell_armed.store(ok, Relaxed);
        ok
    }

    /// A completion while threads wait (see `suspend::wake_waiters`): wake
    /// those sleeping in `io_getevents`.
    pub fn ring_bells(&self) {
        let Some(k) = self.rings() else {
            return;
        };
        for ring in k.rings.iter() {
            if ring.sleeping.load(SeqCst) {
                let fd = ring.bell.load(Relaxed);
                if fd >= 0 {
                    sys::eventfd_signal(fd);
                }
            }
        }
    }
}

fn setup() -> Result<Contexts, i32> {
    let n = sys::online_cpus().clamp(1, MAX_CONTEXTS);
    let mut rings = Vec::with_capacity(n);
    for _ in 0..n {
        match k::io_setup(CONTEXT_EVENTS) {
            Ok(c) => rings.push(Ring::new(c)),
            Err(e) if rings.is_empty() => return Err(e),
            Err(_) => break, // fewer contexts than CPUs is fine
        }
    }
    Ok(Contexts {
        rings: rings.into_boxed_slice(),
        reapers: Mutex::new(0),
        all_reaped: AtomicBool::new(false),
    })
}

/// Collect this thread's kernel submissions until `end_batch`.
pub fn begin_batch() {
    BATCH.with(|b| *b.borrow_mut() = Some(Vec::new()));
}

impl Backend for KaioBackend {
    fn name(&self) -> &'static str {
        "kaio"
    }

    /// The first request for the kernel sets up the kernel side (a program
    /// whose requests complete inline or on the pool never does). One that
    /// needs a reaper needs its thread now; one for the pool, a worker.
    fn ready(&'static self, engine: &'static Engine, job: &Job) -> bool {
        if self.iocb(0, job).is_some() {
            if let Some(k) = self.kernel(engine) {
                return !needs_reaper(job) || self.ensure_reapers(engine, k);
            }
        }
        self.pool.ready(engine, job)
    }

    fn dispatch(&'static self, engine: &'static Engine, id: u32) -> Result<(), u32> {
        let Some(slot) = engine.slab.get(id) else {
            return Ok(());
        };
        // SAFETY: a queued job is owned by its dispatcher until claimed.
        let job = unsafe { slot.job() };
        let Some(cb) = self.iocb(id, job) else {
            return self.to_pool(engine, id);
        };
        let Some(kernel) = self.kernel(engine) else {
            return self.to_pool(engine, id);
        };
        if needs_reaper(job) && !self.ensure_reapers(engine, kernel) {
            // Nobody could act on its completion in time.
            return self.to_pool(engine, id);
        }
        // The kernel cannot cancel most requests: once submitted, the job
        // belongs to whoever takes its event.
        if !slot.claim_or_cancelled() {
            engine.release_slot(id);
            return Ok(());
        }
        let ring = self.ring_index(kernel);
        slot.ring.store(ring as u8 + 1, Release);
        let batched = BATCH.with(|b| match b.borrow_mut().as_mut() {
            Some(v) => {
                v.push((ring, cb));
                true
            }
            None => false,
        });
        if !batched {
            self.submit(engine, ring, &mut [cb]);
        }
        Ok(())
    }

    fn uses_pool(&self, job: &Job) -> bool {
        !(self.usable() && self.iocb(0, job).is_some())
    }

    fn threads(&self) -> u32 {
        let reapers = match self.rings() {
            Some(k) => *k.reapers.lock() as u32,
            None => 0,
        };
        self.pool.threads() + reapers
    }
}

/// The reaper of one ring: it waits for a program thread to give the ring
/// back, then owns it: ring first, `io_getevents` when it is empty.
fn reap(engine: &'static Engine, ring: &'static Ring) {
    ring.reaper.store(true, SeqCst);
    while ring.token.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
        let _ = sys::futex_wait(&ring.token, 1, None);
    }
    let Some(kaio) = engine.kaio() else {
        return;
    };
    let i = kaio
        .rings()
        .and_then(|k| k.rings.iter().position(|r| std::ptr::eq(r, ring)))
        .unwrap_or(0);
    let mut events = [IoEvent::default(); REAP_BATCH];
    loop {
        while let Some(ev) = ring.handoff.pop() {
            on_event(engine, ring, ev, false);
        }
        let n = match k::ring_reap(ring.ctx, &mut events) {
            Some(n) if n > 0 => n,
            _ => match k::io_getevents(ring.ctx, 1, &mut events, None) {
                Ok(n) => n,
                Err(libc::EINTR) => 0,
                Err(_) => return,
            },
        };
        for ev in &events[..n] {
            on_event(engine, ring, *ev, false);
        }
        kaio.resubmit_overflow(engine, i, n);
    }
}

/// Take what the ring holds now, in a program thread that holds its token.
/// True when anything was taken.
fn take_here(engine: &'static Engine, ring: &Ring) -> bool {
    let mut any = false;
    for _ in 0..ring.handoff.len() {
        let Some(ev) = ring.handoff.pop() else {
            break;
        };
        any |= take_one(engine, ring, ev);
    }
    let mut events = [IoEvent::default(); TAKE_BATCH];
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        let n = match k::ring_reap(ring.ctx, &mut events) {
            Some(n) => n,
            None => k::io_getevents(ring.ctx, 0, &mut events, Some(&zero)).unwrap_or(0),
        };
        if n == 0 {
            return any;
        }
        for ev in &events[..n] {
            take_one(engine, ring, *ev);
        }
        any = true;
    }
}

/// One event taken by a program thread: acted on here, or handed off.
/// True when acted on.
fn take_one(engine: &'static Engine, ring: &Ring, ev: IoEvent) -> bool {
    if on_event(engine, ring, ev, true) {
        return true;
    }
    if let Err(ev) = ring.handoff.push(ev) {
        // Never lose it: act on it here after all.
        on_event(engine, ring, ev, false);
        return true;
    }
    false
}

/// Act on one event. `here`: the calling thread is a program thread (in
/// `aio_error` or `aio_suspend`, maybe in a signal handler): it completes
/// only requests that need no reaper, and only when the descriptor locks
/// are free at once; false leaves the event to the ring's next consumer.
fn on_event(engine: &'static Engine, ring: &Ring, ev: IoEvent, here: bool) -> bool {
    if ev.data == BELL {
        ring.bell_rung();
        return true;
    }
    let id = ev.data as u32;
    let Some(slot) = engine.slab.get(id) else {
        return true;
    };
    // SAFETY: the job was claimed before submission; the ring's consumer
    // (this thread, holding the token) is now its only owner.
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
        let Some(locks) = engine.try_locks(job) else {
            return false;
        };
        ring.inflight.fetch_sub(1, SeqCst);
        slot.mark_done();
        engine.complete_with(job, result, locks);
        engine.release_slot(id);
        return true;
    }
    ring.inflight.fetch_sub(1, SeqCst);
    if job.stream && !matches!(job.op, Op::Fsync { .. }) {
        match result {
            Err(e) => finish(engine, id, job, Err(e)),
            Ok(_) => ready_stream(engine, id, job),
        }
        return true;
    }
    finish(engine, id, job, result);
    true
}

fn finish(engine: &'static Engine, id: u32, job: &mut Job, result: Result<usize, i32>) {
    if let Some(slot) = engine.slab.get(id) {
        slot.mark_done();
    }
    engine.complete(job, result);
    engine.release_slot(id);
}

/// A pipe or socket became ready: transfer without blocking; poll again if
/// it is not (or no longer) ready.
fn ready_stream(engine: &'static Engine, id: u32, job: &mut Job) {
    loop {
        match crate::io::attempt(job, sys::RWF_NOWAIT) {
            Ok(n) => {
                job.done += n;
                if job.op == Op::Read || job.done == job.len || n == 0 {
                    let done = job.done;
                    return finish(engine, id, job, Ok(done));
                }
            }
            Err(libc::EINTR) => {}
            Err(libc::EAGAIN) => break,
            Err(libc::EOPNOTSUPP) => {
                // No non-blocking transfer on this file: a worker blocks for it.
                if let Some(slot) = engine.slab.get(id) {
                    slot.unclaim();
                }
                engine.dispatch_to_pool(id);
                return;
            }
            Err(_) if job.done > 0 => {
                let done = job.done;
                return finish(engine, id, job, Ok(done));
            }
            Err(e) => return finish(engine, id, job, Err(e)),
        }
    }
    // Not ready after all: poll again, from the ring the reaper serves.
    let Some(kaio) = engine.kaio() else {
        if let Some(slot) = engine.slab.get(id) {
            slot.unclaim();
        }
        return engine.dispatch_to_pool(id);
    };
    let mut cb = Iocb {
        aio_data: id as u64,
        aio_fildes: job.file as u32,
        aio_lio_opcode: k::IOCB_CMD_POLL,
        aio_buf: if job.op == Op::Read {
            libc::POLLIN as u64
        } else {
            libc::POLLOUT as u64
        },
        ..Iocb::default()
    };
    let Some(kernel) = kaio.kernel(engine) else {
        if let Some(slot) = engine.slab.get(id) {
            slot.unclaim();
        }
        return engine.dispatch_to_pool(id);
    };
    let ring = kaio.ring_index(kernel);
    if let Some(slot) = engine.slab.get(id) {
        slot.ring.store(ring as u8 + 1, Release);
    }
    kaio.submit(engine, ring, std::slice::from_mut(&mut cb));
}
