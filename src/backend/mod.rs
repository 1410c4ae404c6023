//! Backends execute the requests that cannot complete inline: the kernel's
//! AIO ([`kaio`], over its raw ABI in [`kaio_sys`]), with io_uring for
//! uncached buffered reads ([`uring`], over [`uring_sys`]) where it is
//! allowed, and the worker pool ([`pool`], on the thread groups of
//! [`workers`]). Choosing one is
//! configuration (`PAIO_BACKEND`, read by [`select`]); the engine does not
//! know which it has.
//!
//! A backend is handed a request by its slot id and reports what becomes
//! of it through the [`Sink`] it is given: the narrow part of the engine a
//! backend may call. No backend names the engine.

pub mod kaio;
pub mod kaio_sys;
pub mod pool;
pub mod uring;
pub mod uring_sys;
pub mod wakefd;
pub mod workers;

#[cfg(test)]
pub mod fake;

use crate::config::{BackendChoice, Config};
use crate::request::slots::{Job, Slab};
use crate::stats::Counter;

pub use pool::PoolBackend;

/// What a backend may ask of the engine that gave it a request.
pub trait Sink: Sync + 'static {
    /// The requests in flight, by slot id.
    fn slab(&self) -> &Slab;

    /// Count `n` events in the statistics.
    fn count(&self, counter: Counter, n: u64);

    /// Run queued request `id` on the calling thread, blocking: what a
    /// worker does with a request it is given.
    fn execute(&'static self, id: u32);

    /// Publish `job`'s result and everything that follows from it (status,
    /// wake-ups, notification, its list, its barrier, its file reference).
    fn complete(&'static self, job: &mut Job, result: Result<usize, i32>);

    /// [`Sink::finish`] for a thread that may have interrupted paio itself
    /// (a program thread in `aio_error` or `aio_suspend`, maybe in a signal
    /// handler): the descriptor locks the completion needs are only tried.
    /// False when one stays busy: nothing was done, leave it to another
    /// thread.
    fn try_finish(&'static self, id: u32, job: &mut Job, result: Result<usize, i32>) -> bool;

    /// The slot's container (a queue, a lane, a kernel ring) is done with it.
    fn release(&'static self, id: u32);

    /// paio's own reference to the file behind `fd` (`-1`: none could be
    /// spared, use `fd`); `Err` when `fd` is not open.
    fn take_file(&self, fd: i32) -> Result<i32, i32>;

    /// Where paio's private descriptors start.
    fn dup_floor(&self) -> i32;

    /// A backend found its kernel interface unavailable (`errno`): said in
    /// the statistics.
    fn kernel_refused(&self, errno: i32);

    /// Threads a worker group may run now (`PAIO_THREADS`, `aio_init`).
    fn max_threads(&self) -> u32;

    /// How long an idle worker waits before it exits.
    fn idle_ms(&self) -> u32;

    /// The claimed request `id` has its result: give back paio's file
    /// reference, mark it done, complete it, release its slot.
    fn finish(&'static self, id: u32, job: &mut Job, result: Result<usize, i32>);
}

pub trait Backend: Send + Sync {
    /// Shown in `PAIO_STATS` (`threads`, `kaio`, …).
    fn name(&self) -> &'static str;

    /// True when the backend can accept `job` now (for the worker pool: at
    /// least one thread runs or could be started; for kernel AIO, a reaper
    /// thread where the request needs one). Checked before anything is
    /// queued, so that a refusal can be reported as `EAGAIN` with nothing lost.
    fn ready(&'static self, sink: &'static dyn Sink, job: &Job) -> bool;

    /// Start executing slot `id`; the backend eventually calls
    /// [`Sink::execute`] (or completes it itself). `Err(id)` hands the
    /// request back when no thread can take it.
    fn dispatch(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32>;

    /// Send slot `id` to the worker pool, whatever this backend would do.
    fn dispatch_to_pool(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32>;

    /// Threads the backend runs now.
    fn threads(&self) -> u32;

    /// Would `dispatch` hand this job to the worker pool? A worker that
    /// finished a lane's request then runs the lane's next one itself.
    fn uses_pool(&self, _job: &Job) -> bool {
        false
    }

    /// The kernel runs requests asynchronously here (`O_DIRECT` and
    /// `aio_fsync` go to it): true for kernel AIO until it turns out to be
    /// unavailable.
    fn in_kernel(&self) -> bool {
        false
    }

    /// Uncached buffered reads are asynchronous in the kernel here
    /// (io_uring): the submitting call need not start their read-ahead.
    /// Sets up what they need at the first call.
    fn reads_uncached(&'static self, _sink: &'static dyn Sink) -> bool {
        false
    }

    /// Collect this thread's submissions until [`Backend::end_batch`]
    /// (`lio_listio`: one system call for the list).
    fn begin_batch(&self) {}

    /// Submit what this thread collected since [`Backend::begin_batch`].
    fn end_batch(&'static self, _sink: &'static dyn Sink) {}

    /// An `aio_fsync` is queued behind writes: get ready to act on the
    /// completion that releases it without the program asking.
    fn expect_barrier(&'static self, _sink: &'static dyn Sink) {}

    /// `aio_error` found a request in progress: complete what the kernel
    /// finished and no thread took yet, here, without blocking. True when
    /// anything was completed.
    fn poll(&'static self, _sink: &'static dyn Sink) -> bool {
        false
    }

    /// `aio_suspend` found none of its requests done: wait in the backend's
    /// own way where completions are taken by the waiting threads:
    /// `Some(Ok)` to look again, `Some(Err)` to stop (`ETIMEDOUT`, `EINTR`);
    /// `None`: sleep on the wait queue.
    fn wait(
        &'static self,
        _sink: &'static dyn Sink,
        _done: &mut dyn FnMut() -> bool,
        _deadline: Option<&libc::timespec>,
    ) -> Option<Result<(), i32>> {
        None
    }

    /// A completion while threads wait: wake those that sleep in
    /// [`Backend::wait`].
    fn signal_wake(&self) {}

    /// In a forked child: close what the parent's backend owned.
    fn close_inherited(&self) {}
}

/// The backends a configuration asks for: the one requests go to, and the
/// worker pool behind it (the same one with `PAIO_BACKEND=threads`). Kernel
/// AIO is set up by the first request that needs it, and falls back to the
/// pool if `io_setup` fails then.
pub fn select(config: &Config) -> (&'static dyn Backend, &'static PoolBackend) {
    let pool: &'static PoolBackend = Box::leak(Box::new(PoolBackend::new()));
    let main: &'static dyn Backend = match config.backend {
        BackendChoice::Threads => pool,
        BackendChoice::Kaio => Box::leak(Box::new(kaio::KaioBackend::new(pool, false))),
        BackendChoice::Auto | BackendChoice::Uring => {
            Box::leak(Box::new(kaio::KaioBackend::new(pool, true)))
        }
    };
    (main, pool)
}
