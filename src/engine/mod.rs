//! The process-wide engine: created by the first AIO call (never at load
//! time), replaced by a fresh one in a forked child, and the place where every
//! request is completed exactly once. It owns the requests ([`Slab`]), what
//! follows a completion ([`completions`], [`lio`], [`notify`], [`wake`]),
//! and hands what would block to a backend, which reports back through the
//! engine's [`Sink`].

pub mod completions;
pub mod late;
pub mod lio;
pub mod notify;
pub mod record_locks;
pub mod wake;

#[cfg(all(test, not(loom)))]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::MutexGuard;

use crate::backend::{self, Backend, Sink};
use crate::config::Config;
use crate::engine::completions::Completions;
use crate::request::aiocb::{Aiocb, Notify};
use crate::request::fdstate::{FdTable, FileRefs, Order};
use crate::request::io;

use crate::backend::workers::{Serve, Workers};
#[cfg(not(loom))]
use crate::once::StartOnce;
use crate::request::slots::{Job, Slab, State};
use crate::stats::{Counter, Stats};
use crate::sys;
use late::Late;
use notify::{Callback, Delivery};

/// Where paio's duplicate descriptors start, so that the low numbers a
/// program expects from `open` stay free.
const DUP_FLOOR: i32 = 256;

pub struct Engine {
    pub config: Config,
    pub stats: Stats,
    /// `aio_waitcomplete`'s queue.
    pub completions: Completions,
    pub slab: Slab,
    pub fds: FdTable,
    /// Executes what cannot complete inline: the kernel AIO backend (which
    /// uses the pool for what the kernel cannot do), or the pool alone.
    pub backend: &'static dyn Backend,
    /// Why kernel AIO is not in use, for the statistics (`io_setup` errno).
    /// Set by the kernel AIO backend when `io_setup` fails at its first use.
    /// It lives with the counters (in the statistics file, when there is one).
    pub kaio_error: &'static std::sync::atomic::AtomicI32,
    notifiers: Workers<Callback>,
    /// The one thread that sends late signals (see `late`).
    late: Workers<Late>,
    /// Try `RWF_NOWAIT` in the submitting thread first.
    pub inline: bool,
    pub dup_floor: i32,
    /// Requests share duplicates (`kcmp` works here).
    share_files: std::sync::atomic::AtomicBool,
}

impl Engine {
    /// An engine with the backend the configuration asks for: kernel AIO
    /// (set up by the first request that needs it, falling back to the pool
    /// if `io_setup` fails then) unless `PAIO_BACKEND=threads`.
    pub fn new(config: Config) -> Engine {
        let (main, _pool) = backend::select(&config);
        Engine::with_backend(config, main)
    }

    /// An engine over a given backend (tests use a deterministic one).
    pub fn with_backend(config: Config, backend: &'static dyn Backend) -> Engine {
        let inline = config.inline;
        // SAFETY: getrlimit writes into a local struct.
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        // Never 0, 1 or 2: a program that closed its standard streams
        // gets them back with `open` (the lowest free number), as on glibc.
        let dup_floor = if rl.rlim_cur > 4 * DUP_FLOOR as u64 {
            DUP_FLOOR
        } else {
            (rl.rlim_cur / 4).max(3) as i32
        };
        sys::refresh_nofile_limit();
        {
            // Grow the descriptor table now: growing it later, once paio's
            // threads exist, makes the kernel wait for an RCU grace period
            // (milliseconds) inside the first request that takes a reference.
            // Of an eventfd of paio's own, never of a program's file: closing
            // a descriptor of that would drop the program's record locks on
            // it ([`record_locks`]).
            // SAFETY: no pointer; a new descriptor of paio's.
            let own = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
            if own >= 0 {
                if let Ok(fd) = sys::dup_high(own, dup_floor) {
                    if let Ok(above) = sys::dup_above_limit(fd) {
                        sys::close(above);
                    }
                    sys::close(fd);
                }
                sys::close(own);
            }
        }
        sys::refresh_file_size_limit();
        let stats = Stats::new(&config.stats, backend.name());
        Engine {
            slab: Slab::new(config.max_requests),
            kaio_error: stats.fallback(),
            stats,
            completions: Completions::default(),
            fds: FdTable::default(),
            backend,
            notifiers: Workers::new("paio-notify", 0),
            late: Workers::with_queues("paio-signal", 64 << 10, 1),
            inline,
            dup_floor,
            share_files: std::sync::atomic::AtomicBool::new(true),
            config,
        }
    }

    /// A thread was cancelled (`pthread_cancel`): wake every thread asleep
    /// in `aio_suspend`, a cancellation point, to look whether it is the one.
    pub fn wake_for_cancel(&self) {
        if wake::cancelled() {
            self.backend.signal_wake();
        }
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Kernel AIO runs requests here (until it turns out to be unavailable).
    pub fn in_kernel(&self) -> bool {
        self.backend.in_kernel()
    }

    /// Run a queued request on the calling thread (a worker). Called once per
    /// dispatch of `id`.
    ///
    /// When the request belonged to an ordered lane, the next request of that
    /// lane runs right here, on the same thread: draining a lane costs one
    /// wake-up, not one per request.
    pub fn execute(&'static self, mut id: u32) {
        loop {
            let Some(slot) = self.slab.get(id) else {
                return;
            };
            if slot.claim_or_cancelled() {
                // SAFETY: `claim` made this thread the job's only owner.
                let job = unsafe { slot.job() };
                self.stats.add(Counter::Pool, 1);
                // Timed only where the time teaches something (an overlayfs
                // read: page cache or disk?).
                let started = if job.learn != 0 { sys::ticks() } else { 0 };
                let result = io::run_blocking(job);
                if job.learn != 0 {
                    let fast = sys::ticks().wrapping_sub(started) <= sys::DEVICE_TICKS;
                    self.fds
                        .get(job.fd)
                        .record_read(job.learn, fast && result.is_ok());
                }
                self.drop_job_file(job, None);
                slot.mark_done();
                self.complete(job, result);
            }
            match self.retire(id) {
                Some(next) if self.runs_here(next) => id = next,
                Some(next) => return self.dispatch(next),
                None => return,
            }
        }
    }

    /// Would the backend hand this request to the worker pool anyway?
    fn runs_here(&self, id: u32) -> bool {
        // SAFETY: a queued job not yet dispatched belongs to the thread that
        // took it from its lane (this one).
        self.slab
            .get(id)
            .is_some_and(|slot| self.backend.uses_pool(unsafe { slot.job() }))
    }

    /// Publish a result and carry out everything that follows from it:
    /// waking `aio_suspend`, the notification, the `lio_listio` group, the
    /// fsync barrier, and dropping paio's reference to the file.
    pub fn complete(&'static self, job: &mut Job, result: Result<usize, i32>) {
        self.complete_with(job, result, Locks::default())
    }

    /// The descriptor locks that completing `job` needs, tried without
    /// waiting: for a thread that may have interrupted paio itself, since
    /// `aio_error` and `aio_suspend` (which take completions from the kernel
    /// ring when no reaper thread does) are async-signal-safe. `None` when
    /// one stays busy: the completion is then left to another thread.
    pub fn try_locks(&self, job: &Job) -> Option<Locks<'_>> {
        fn spin<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
            for _ in 0..64 {
                if let Some(g) = f() {
                    return Some(g);
                }
                std::hint::spin_loop();
            }
            None
        }
        let st = self.fds.get(job.fd);
        let order = match job.epoch {
            Some(_) => Some(spin(|| st.order.try_lock())?),
            None => None,
        };
        let files = match job.file {
            f if f >= 0 => Some(spin(|| st.files.try_lock())?),
            _ => None,
        };
        Some(Locks { order, files })
    }

    /// [`Engine::complete`] with descriptor locks the caller already holds.
    pub fn complete_with(&'static self, job: &mut Job, result: Result<usize, i32>, locks: Locks) {
        // SAFETY: the aiocb address was a valid aiocb at submission and the C
        // caller keeps it so until it sees the status published here.
        let cb = unsafe { Aiocb::from_ptr(job.aiocb as *mut _) };
        if result.is_err() {
            self.stats.add(Counter::Errors, 1);
        }
        self.stats.add(Counter::Done, 1);
        // Executors gave the file back before they marked the request done;
        // a request completed here (inline, cancelled) gives it back now.
        let Locks { order, files } = locks;
        self.drop_job_file(job, files);
        let st = self.fds.get(job.fd);
        let publish = |ticket| {
            if let Some(cb) = cb {
                cb.publish(result, ticket);
            }
        };
        // A signal this thread sends counts as outstanding from before the
        // result shows until it is queued (see `late::Sending`).
        let sending = match job.notify {
            Notify::Signal { signo, .. } | Notify::ThreadId { signo, .. }
                if signo != 0 && !late::in_submitting_call() =>
            {
                Some(late::sending(job.aiocb))
            }
            _ => None,
        };
        if job.report {
            self.completions
                .publish_and_push(job.aiocb, result, publish);
        } else {
            publish(0);
        }
        // The notifications (the request's, then its list's) before the
        // wake-up, as glibc's worker queues the signals before it wakes
        // whoever waits: a program that sees its wait return finds them
        // already queued.
        self.notify(job.notify, job.aiocb);
        drop(sending);
        if job.group != 0 {
            lio::member_done(self, std::mem::take(&mut job.group), result.is_err());
        }
        if wake::wake_waiters() {
            self.backend.signal_wake();
        }
        // No lock may be held while the barrier dispatches what it released
        // (that may take a file reference): the file's lock went above.
        if let Some(epoch) = job.epoch.take() {
            let mut ready = Vec::new();
            let mut order = order.unwrap_or_else(|| st.order.lock());
            order.write_end(epoch, &mut ready);
            drop(order);
            for id in ready {
                self.dispatch(id);
            }
        }
    }

    /// Give back paio's reference to the file of a request whose result is
    /// known, before it is marked done and before the result shows: a
    /// program that sees its read done and closes a pipe's only read end
    /// must make the next write on the other end fail with `EPIPE`, as on
    /// glibc, whose worker held no reference of its own; and until then
    /// `aio_cancel` still finds the request running (`AIO_NOTCANCELED`),
    /// never done while `aio_error` says in progress. `files`: the lock, if
    /// the caller holds it.
    fn drop_job_file(&self, job: &mut Job, files: Option<MutexGuard<'_, FileRefs>>) {
        if job.file >= 0 {
            let file = std::mem::replace(&mut job.file, -1);
            release_file(
                files.unwrap_or_else(|| self.fds.get(job.fd).files.lock()),
                file,
            );
        }
    }

    /// paio's own reference to the file behind `fd`, for a request that
    /// waits in user space: a `close()` and a reuse of the number by the
    /// program cannot redirect it (sourceware bug 14942). Requests on the
    /// same open file share one duplicate (checked with `kcmp`), numbered
    /// above the program's soft descriptor limit where the hard one leaves
    /// room ([`sys::dup_above_limit`]): the program's own `open` never finds
    /// its numbers taken by paio.
    ///
    /// The reference is a safety margin, never a reason to refuse: where no
    /// descriptor can be spared (`EMFILE` under a program's tight
    /// `RLIMIT_NOFILE`, `ENFILE`), the request runs on the program's own
    /// descriptor, as on glibc (`-1`; counted as `own_fd`). `Err` only when
    /// `fd` is not open.
    ///
    /// Once the program has taken a POSIX record lock, no request takes a
    /// duplicate: closing it would drop the lock ([`record_locks`]).
    pub fn take_file(&self, fd: i32) -> Result<i32, i32> {
        if !record_locks::duplicates_allowed() {
            self.stats.add(Counter::OwnFd, 1);
            return Ok(-1);
        }
        match self.share_or_dup(fd) {
            Err(e) if e != libc::EBADF => {
                self.stats.add(Counter::OwnFd, 1);
                Ok(-1)
            }
            r => r,
        }
    }

    /// No system call is made under the descriptor's lock: the thread that
    /// gives a reference back (a completing one) would wait for it.
    fn share_or_dup(&self, fd: i32) -> Result<i32, i32> {
        let dup = || sys::dup_aside(fd, self.dup_floor);
        if !self.share_files.load(Ordering::Relaxed) {
            return dup();
        }
        let files = &self.fds.get(fd).files;
        let borrowed = files.lock().borrow_current();
        if let Some(d) = borrowed {
            match sys::same_file(fd, d) {
                Ok(true) => return Ok(d),
                Ok(false) => {}
                // No kcmp here (kernel or seccomp): one duplicate each.
                Err(_) => self.share_files.store(false, Ordering::Relaxed),
            }
            release_file(files.lock(), d);
        }
        let d = dup()?;
        if self.share_files.load(Ordering::Relaxed) {
            files.lock().install(d);
        }
        Ok(d)
    }

    /// A request is done with the reference `take_file` gave it.
    pub fn drop_file(&self, fd: i32, file: i32) {
        release_file(self.fds.get(fd).files.lock(), file);
    }

    /// The slot's container (a queue or a lane) is done with it: advance its
    /// lane, return it to the free list, and dispatch the lane's next request.
    pub fn release_slot(&'static self, id: u32) {
        if let Some(next) = self.retire(id) {
            self.dispatch(next);
        }
    }

    /// Advance the slot's lane and free it; the lane's next request, if any,
    /// is returned for the caller to run or dispatch.
    fn retire(&'static self, id: u32) -> Option<u32> {
        let slot = self.slab.get(id)?;
        // SAFETY: the releasing thread is the last owner of the job.
        let job = unsafe { slot.job() };
        if let Some(lane) = job.lane {
            let st = self.fds.get(job.fd);
            st.lane_load[lane as usize].fetch_sub(1, Ordering::AcqRel);
            let mut skipped = Vec::new();
            let next = st.order.lock().lane_next(
                lane,
                |n| {
                    matches!(
                        self.slab.get(n).map(|s| s.state()),
                        // A canceller still at work may yet give the request
                        // back (`abort_cancel`): only a finished cancel is
                        // skipped; the executor waits out the rest.
                        Some(State::Cancelled)
                    )
                },
                |n| skipped.push(n),
            );
            self.slab.release(id);
            for n in skipped {
                st.lane_load[lane as usize].fetch_sub(1, Ordering::AcqRel);
                self.slab.release(n);
            }
            next
        } else {
            self.slab.release(id);
            None
        }
    }

    /// Hand a queued request to the backend; if no thread can take it, run
    /// it here rather than lose it.
    pub fn dispatch(&'static self, id: u32) {
        if let Err(id) = self.backend.dispatch(self as &dyn Sink, id) {
            self.execute(id);
        }
    }

    /// Cancel a request still queued in user space. True when it was.
    /// `gen` is the generation the caller matched the request by (read
    /// before it looked at the slot's descriptor or aiocb), so a slot reused
    /// by another request in between is never cancelled by mistake.
    pub fn try_cancel(&'static self, id: u32, gen: u32, fd: i32) -> bool {
        let Some(slot) = self.slab.get(id) else {
            return false;
        };
        if !slot.begin_cancel() {
            return false;
        }
        if slot.gen() != gen || slot.fd.load(Ordering::Relaxed) != fd {
            // Reused under us by another request: put it back untouched.
            slot.abort_cancel();
            return false;
        }
        // SAFETY: `begin_cancel` made this thread the job's only owner.
        let job = unsafe { slot.job() };
        self.stats.add(Counter::Cancelled, 1);
        self.complete(job, Err(libc::ECANCELED));
        slot.end_cancel();
        true
    }

    /// Carry out a notification; `owner`: the aiocb of the request it is
    /// for, or [`late::LIST`] for a list's.
    pub fn notify(&'static self, n: Notify, owner: usize) {
        match notify::plan(n) {
            Delivery::Nothing => {}
            // Signal 0 is only an existence check: nothing to deliver late.
            Delivery::Signal { signo, value, tid } if signo != 0 && late::in_submitting_call() => {
                if let Err(late) = self.late.submit(self, Late::new(signo, value, tid, owner)) {
                    late.send_now();
                }
            }
            Delivery::Signal { signo, value, tid } => {
                let _ = sys::queue_signal(signo, value, tid);
            }
            Delivery::Pool(function, value) => self.run_callback(Callback { function, value }),
            Delivery::OwnThread {
                function,
                value,
                attributes,
            } => match notify::spawn_with_attributes(Callback { function, value }, attributes) {
                Ok(()) => self.stats.add(Counter::Threads, 1),
                Err(cb) => self.run_callback(cb),
            },
        }
    }

    /// Every late signal sent before a waiting call returns (see
    /// [`late::flush`]): one atomic load when there is none.
    pub fn flush_late_signals(&'static self) {
        late::flush(|| self.late.take_queued());
    }

    /// A notifier thread runs, or one could be started now (see
    /// `submit::notifier_ready`).
    pub fn notifier_ready(&'static self) -> bool {
        self.notifiers.ensure_thread(self)
    }

    fn run_callback(&'static self, cb: Callback) {
        if let Err(cb) = self.notifiers.submit(self, cb) {
            // No notifier thread can be created: call it here rather than
            // drop the notification.
            cb.call();
        }
    }

    /// A forked child inherits paio's duplicate descriptors of requests that
    /// were queued in the parent; close them (plain memory reads, no locks).
    #[cfg_attr(loom, allow(dead_code))] // only the real engine's start uses it
    fn close_inherited_files(&self) {
        self.backend.close_inherited();
        for id in 0..self.slab.allocated() {
            if let Some(slot) = self.slab.get(id) {
                if matches!(slot.state(), State::Queued | State::Running) {
                    // SAFETY: the only thread of the child; nobody else runs.
                    let job = unsafe { slot.job() };
                    if job.file >= 0 {
                        sys::close(job.file);
                        job.file = -1;
                    }
                }
            }
        }
    }
}

impl Serve<Callback> for Engine {
    /// The program's callback runs with every signal unblocked, the mask
    /// glibc's notifier threads give it, and the rest of a new thread's
    /// state ([`sys::fresh_thread_state`]: a callback before it may have
    /// changed it); the thread blocks every signal again before it waits
    /// for the next one, so between callbacks no signal meant for the
    /// program can land here.
    fn serve(&'static self, cb: Callback) {
        sys::fresh_thread_state();
        sys::unblock_all_signals();
        cb.call();
        sys::block_all_signals();
    }
    fn max_threads(&self) -> u32 {
        self.config.notify_threads
    }
    fn elastic(&self) -> bool {
        true
    }
    fn thread_per_item(&self) -> bool {
        true
    }
    fn idle_ms(&self) -> u32 {
        self.config.limits.idle_ms.load(Ordering::Relaxed)
    }
    fn thread_started(&self) {
        self.stats.add(Counter::Threads, 1);
    }
}

/// One thread waits for the program to go quiet and sends the late signals.
impl Serve<Late> for Engine {
    fn serve(&'static self, late: Late) {
        late.send(self.dup_floor);
    }
    fn max_threads(&self) -> u32 {
        1
    }
    fn idle_ms(&self) -> u32 {
        self.config.limits.idle_ms.load(Ordering::Relaxed)
    }
    fn thread_started(&self) {
        self.stats.add(Counter::Threads, 1);
    }
}

/// Give back one reference to paio's duplicate `file`, closing it with the last.
/// The lock is let go before the `close`, which a submitting thread taking
/// a reference to the same file would otherwise wait for.
fn release_file(mut files: MutexGuard<'_, FileRefs>, file: i32) {
    let last = files.release(file);
    drop(files);
    if last {
        record_locks::close_duplicate(file);
    }
}

/// Descriptor locks held for a completion (see [`Engine::try_locks`]);
/// `None` fields are taken when needed.
#[derive(Default)]
pub struct Locks<'a> {
    order: Option<MutexGuard<'a, Order>>,
    files: Option<MutexGuard<'a, FileRefs>>,
}

#[cfg(not(loom))]
static ENGINE: StartOnce = StartOnce::new();
#[cfg_attr(loom, allow(dead_code))] // only the real engine's start uses it
static HOOKS_INSTALLED: AtomicBool = AtomicBool::new(false);

/// The engine, if a previous AIO call started it.
#[cfg(not(loom))]
pub fn try_get() -> Option<&'static Engine> {
    let p = ENGINE.get() as *const Engine;
    // SAFETY: engines are leaked, never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Under loom the engine is not modelled (its start is: `StartOnce`).
#[cfg(loom)]
pub fn try_get() -> Option<&'static Engine> {
    None
}

/// The engine, started on first use.
pub fn get() -> &'static Engine {
    if let Some(e) = try_get() {
        return e;
    }
    start()
}

#[cold]
#[cfg(not(loom))]
fn start() -> &'static Engine {
    // A thread with a cancel pending must not be unwound half-way through
    // the start (a file the statistics open, say): the others would wait
    // for it for ever. glibc's AIO calls are no cancellation points.
    let cancel = sys::disable_cancel();
    let p = ENGINE.get_or_start(|| {
        let config = Config::load();
        let engine: &'static Engine = Box::leak(Box::new(Engine::new(config)));
        if !HOOKS_INSTALLED.swap(true, Ordering::AcqRel) {
            // SAFETY: registering plain extern "C" functions without arguments.
            unsafe {
                libc::pthread_atfork(None, None, Some(after_fork_in_child));
                libc::atexit(at_exit);
            }
        }
        engine as *const Engine as usize
    });
    sys::restore_cancel(cancel);
    // SAFETY: the value is a leaked engine, never freed.
    unsafe { &*(p as *const Engine) }
}

#[cfg(loom)]
fn start() -> &'static Engine {
    unreachable!("the engine is not modelled under loom")
}

/// The child of `fork` starts clean: the parent's engine (its threads do not
/// exist here, its locks may be held forever) is abandoned, and the next AIO
/// call starts a new one.
#[cfg_attr(loom, allow(dead_code))] // only the real engine's start uses it
extern "C" fn after_fork_in_child() {
    if let Some(old) = try_get() {
        old.close_inherited_files();
        old.stats.detach_after_fork();
    }
    #[cfg(not(loom))]
    ENGINE.reset();
    wake::reset_after_fork();
    late::reset_after_fork();
    sys::nofile_after_fork();
    sys::forget_pid();
    record_locks::forget_in_child();
}

#[cfg_attr(loom, allow(dead_code))] // only the real engine's start uses it
extern "C" fn at_exit() {
    if let Some(e) = try_get() {
        // Writing the statistics opens and writes a file: not a place to
        // act on a cancel the exiting thread has pending.
        let cancel = sys::disable_cancel();
        e.stats.at_exit(&e.config.stats);
        sys::restore_cancel(cancel);
    }
}

impl Sink for Engine {
    fn slab(&self) -> &Slab {
        &self.slab
    }
    fn count(&self, counter: Counter, n: u64) {
        self.stats.add(counter, n)
    }
    fn execute(&'static self, id: u32) {
        Engine::execute(self, id)
    }
    fn complete(&'static self, job: &mut Job, result: Result<usize, i32>) {
        Engine::complete(self, job, result)
    }
    fn try_finish(&'static self, id: u32, job: &mut Job, result: Result<usize, i32>) -> bool {
        let Some(Locks { order, files }) = self.try_locks(job) else {
            return false;
        };
        self.drop_job_file(job, files);
        if let Some(slot) = self.slab.get(id) {
            slot.mark_done();
        }
        let locks = Locks { order, files: None };
        self.complete_with(job, result, locks);
        self.release_slot(id);
        true
    }
    fn finish(&'static self, id: u32, job: &mut Job, result: Result<usize, i32>) {
        self.drop_job_file(job, None);
        if let Some(slot) = self.slab.get(id) {
            slot.mark_done();
        }
        self.complete(job, result);
        self.release_slot(id);
    }
    fn release(&'static self, id: u32) {
        self.release_slot(id)
    }
    fn take_file(&self, fd: i32) -> Result<i32, i32> {
        Engine::take_file(self, fd)
    }
    fn dup_floor(&self) -> i32 {
        self.dup_floor
    }
    fn kernel_refused(&self, errno: i32) {
        self.kaio_error.store(errno, Ordering::Relaxed)
    }
    fn max_threads(&self) -> u32 {
        self.config.limits.threads.load(Ordering::Relaxed)
    }
    fn idle_ms(&self) -> u32 {
        self.config.limits.idle_ms.load(Ordering::Relaxed)
    }
}
