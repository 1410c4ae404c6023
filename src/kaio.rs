//! The kernel AIO backend: per-CPU kernel contexts fed by `io_submit`, each
//! reaped by one thread that takes events from the mapped ring without a
//! syscall while there are any, and sleeps in `io_getevents` otherwise.
//!
//! What goes to the kernel: `O_DIRECT` reads and writes (truly asynchronous
//! there), `aio_fsync` once its barrier is met (`IOCB_CMD_FSYNC`/`FDSYNC`, run
//! by the kernel's workqueue), and readiness polls (`IOCB_CMD_POLL`) for pipes
//! and sockets, followed by a non-blocking transfer — so pending network reads
//! park no thread. Everything else, and anything the kernel refuses, goes to
//! the worker pool.

use std::cell::RefCell;

use crossbeam_queue::SegQueue;
use once_cell::sync::OnceCell;

use crate::backend::{Backend, PoolBackend};
use crate::engine::Engine;
use crate::kaio_sys::{self as k, Context, IoEvent, Iocb};
use crate::slots::{Job, Op};
use crate::stats::Counter;
use crate::sys;

/// Events per kernel context. Each context is charged against the
/// system-wide `fs.aio-max-nr` (65536 by default), so contexts are kept
/// small and few: many processes can use paio at once. What does not fit in
/// a ring waits in user space (polls) or goes to the pool (transfers).
const CONTEXT_EVENTS: u32 = 256;
const MAX_CONTEXTS: usize = 8;
const REAP_BATCH: usize = 128;

/// The kernel side, set up by the first request that needs it.
struct Contexts {
    contexts: Box<[Context]>,
    /// Per context: readiness polls the kernel refused because its ring was
    /// full. They wait here, claimed, until the reaper frees ring slots —
    /// never on a pool thread.
    overflow: Box<[SegQueue<Iocb>]>,
}

impl Contexts {
    fn index(&self, ctx: Context) -> Option<usize> {
        self.contexts.iter().position(|&c| c == ctx)
    }
}

pub struct KaioBackend {
    /// Contexts and reapers exist only once a request needs the kernel: a
    /// program that only reads cached files pays for neither (no threads,
    /// and no context teardown at exit). `Err(errno)` once `io_setup` failed.
    kernel: OnceCell<Result<Contexts, i32>>,
    pool: &'static PoolBackend,
}

thread_local! {
    /// While `Some`, submissions from this thread are collected and sent in
    /// one `io_submit` per context (`lio_listio`).
    static BATCH: RefCell<Option<Vec<(usize, Iocb)>>> = const { RefCell::new(None) };
}

impl KaioBackend {
    /// No syscall here: see [`KaioBackend::kernel`].
    pub fn new(pool: &'static PoolBackend) -> KaioBackend {
        KaioBackend {
            kernel: OnceCell::new(),
            pool,
        }
    }

    /// False once `io_setup` has failed: everything goes to the pool.
    pub fn usable(&self) -> bool {
        !matches!(self.kernel.get(), Some(Err(_)))
    }

    /// The contexts, set up on first use: one per CPU (at most
    /// `MAX_CONTEXTS`), each with a reaper thread. `None` when `io_setup`
    /// fails — no kernel AIO (`ENOSYS`), a seccomp policy (`EPERM`),
    /// `fs.aio-max-nr` exhausted (`EAGAIN`) — or no reaper can start; the
    /// engine records why and uses the pool from then on.
    fn kernel(&'static self, engine: &'static Engine) -> Option<&'static Contexts> {
        let r = self.kernel.get_or_init(|| {
            let r = setup(engine);
            if let Err(e) = r {
                engine
                    .kaio_error
                    .store(e, std::sync::atomic::Ordering::Relaxed);
            }
            r
        });
        r.as_ref().ok()
    }

    fn context(&self, k: &Contexts) -> Context {
        k.contexts[sys::current_cpu() % k.contexts.len()]
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
        let mut by_ctx: Vec<(usize, Vec<Iocb>)> = Vec::new();
        for (ctx, cb) in batch {
            match by_ctx.iter_mut().find(|(c, _)| *c == ctx) {
                Some((_, v)) => v.push(cb),
                None => by_ctx.push((ctx, vec![cb])),
            }
        }
        for (ctx, mut cbs) in by_ctx {
            self.submit(engine, ctx as Context, &mut cbs);
        }
    }

    /// `io_submit` a set of iocbs of claimed jobs; whatever the kernel does
    /// not take goes to the pool.
    fn submit(&'static self, engine: &'static Engine, ctx: Context, cbs: &mut [Iocb]) {
        // Pointers in chunks on the stack: no allocation per submission.
        let mut refused_from = cbs.len();
        let mut ring_full = false;
        let mut base = 0;
        'chunks: while base < cbs.len() {
            let end = (base + 64).min(cbs.len());
            let mut ptrs = [std::ptr::null_mut::<Iocb>(); 64];
            for (p, cb) in ptrs.iter_mut().zip(cbs[base..end].iter_mut()) {
                *p = cb as *mut Iocb;
            }
            let mut done = 0;
            while base + done < end {
                match k::io_submit(ctx, &mut ptrs[done..end - base]) {
                    Ok(0) => {
                        refused_from = base + done;
                        break 'chunks;
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
        engine.stats.add(Counter::Kernel, refused_from as u64);
        for cb in &cbs[refused_from..] {
            let id = cb.aio_data as u32;
            if ring_full && cb.aio_lio_opcode == k::IOCB_CMD_POLL {
                if let Some(Ok(kernel)) = self.kernel.get() {
                    if let Some(q) = kernel.index(ctx) {
                        kernel.overflow[q].push(*cb);
                        continue;
                    }
                }
            }
            if let Some(slot) = engine.slab.get(id) {
                slot.unclaim();
            }
            if let Err(id) = self.to_pool(engine, id) {
                engine.execute(id);
            }
        }
    }
}

impl KaioBackend {
    /// The reaper freed `freed` ring slots of `ctx`: resubmit polls that
    /// waited for room.
    fn resubmit_overflow(&'static self, engine: &'static Engine, ctx: Context, freed: usize) {
        let Some(Ok(kernel)) = self.kernel.get() else {
            return;
        };
        let Some(q) = kernel.index(ctx) else {
            return;
        };
        let mut batch = [Iocb::default(); 64];
        let mut n = 0;
        while n < freed.min(batch.len()) {
            match kernel.overflow[q].pop() {
                Some(cb) => {
                    batch[n] = cb;
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.submit(engine, ctx, &mut batch[..n]);
        }
    }
}

fn setup(engine: &'static Engine) -> Result<Contexts, i32> {
    let n = sys::online_cpus().clamp(1, MAX_CONTEXTS);
    let mut contexts = Vec::with_capacity(n);
    for _ in 0..n {
        match k::io_setup(CONTEXT_EVENTS) {
            Ok(c) => contexts.push(c),
            Err(e) if contexts.is_empty() => return Err(e),
            Err(_) => break, // fewer contexts than CPUs is fine
        }
    }
    for &ctx in &contexts {
        let old = sys::block_all_signals();
        let r = std::thread::Builder::new()
            .name("paio-reap".into())
            .stack_size(256 << 10)
            .spawn(move || reap(engine, ctx));
        sys::restore_signals(&old);
        if r.is_err() {
            return Err(libc::EAGAIN);
        }
        engine.stats.add(Counter::Threads, 1);
    }
    let overflow = contexts.iter().map(|_| SegQueue::new()).collect();
    Ok(Contexts {
        contexts: contexts.into_boxed_slice(),
        overflow,
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

    /// The first request that leaves the submitting thread sets up the
    /// kernel side (a program whose requests all complete inline never does).
    /// Without it, the pool must have a thread for the request.
    fn ready(&'static self, engine: &'static Engine) -> bool {
        match self.kernel(engine) {
            Some(_) => true,
            None => self.pool.ready(engine),
        }
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
        // The kernel cannot cancel most requests: once submitted, the job
        // belongs to the reaper.
        if !slot.claim_or_cancelled() {
            engine.release_slot(id);
            return Ok(());
        }
        let ctx = self.context(kernel);
        let batched = BATCH.with(|b| match b.borrow_mut().as_mut() {
            Some(v) => {
                v.push((ctx as usize, cb));
                true
            }
            None => false,
        });
        if !batched {
            self.submit(engine, ctx, &mut [cb]);
        }
        Ok(())
    }

    fn uses_pool(&self, job: &Job) -> bool {
        !(self.usable() && self.iocb(0, job).is_some())
    }

    fn threads(&self) -> u32 {
        let reapers = match self.kernel.get() {
            Some(Ok(k)) => k.contexts.len() as u32,
            _ => 0,
        };
        self.pool.threads() + reapers
    }
}

/// The reaper of one context: ring first, `io_getevents` when it is empty.
fn reap(engine: &'static Engine, ctx: Context) {
    let mut events = [IoEvent::default(); REAP_BATCH];
    loop {
        let n = match k::ring_reap(ctx, &mut events) {
            Some(n) if n > 0 => n,
            _ => match k::io_getevents(ctx, &mut events) {
                Ok(n) => n,
                Err(libc::EINTR) => 0,
                Err(_) => return,
            },
        };
        for ev in &events[..n] {
            on_event(engine, ev.data as u32, ev.res);
        }
        if let Some(k) = engine.kaio() {
            k.resubmit_overflow(engine, ctx, n);
        }
    }
}

fn on_event(engine: &'static Engine, id: u32, res: i64) {
    let Some(slot) = engine.slab.get(id) else {
        return;
    };
    // SAFETY: the job was claimed before submission; the reaper is now its
    // only owner.
    let job = unsafe { slot.job() };
    let result = if res < 0 {
        Err(-res as i32)
    } else {
        Ok(res as usize)
    };
    if job.stream && !matches!(job.op, Op::Fsync { .. }) {
        match result {
            Err(e) => finish(engine, id, job, Err(e)),
            Ok(_) => ready_stream(engine, id, job),
        }
        return;
    }
    finish(engine, id, job, result);
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
            Err(e) if job.done > 0 => {
                let _ = e;
                let done = job.done;
                return finish(engine, id, job, Ok(done));
            }
            Err(e) => return finish(engine, id, job, Err(e)),
        }
    }
    // Not ready after all: poll again.
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
    kaio.submit(engine, kaio.context(kernel), std::slice::from_mut(&mut cb));
}
