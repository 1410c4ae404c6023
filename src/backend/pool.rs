//! The worker pool: blocking `pread`/`pwrite`/`fsync` on bounded threads.

use crate::backend::workers::{Serve, Workers};
use crate::backend::{Backend, Sink};
use crate::request::slots::Job;
use crate::stats::Counter;

/// The worker pool. It is the permanent fallback where kernel AIO is unavailable.
pub struct PoolBackend {
    workers: Workers<u32>,
    /// Uncached buffered reads whose data the submitting thread already
    /// asked the kernel to read (`readahead`): their I/O is in flight at the
    /// device's full queue depth, so a few threads waiting for the pages in
    /// turn serve them as fast as many would (the retry model: start the
    /// I/O without waiting, finish the copy when the data is in).
    cold: Workers<Cold>,
}

/// A request of the `cold` group (see [`PoolBackend`]).
#[derive(Clone, Copy, Debug)]
pub struct Cold(pub u32);

/// Threads of the `cold` group at most (never more than `PAIO_THREADS`).
pub const COLD_THREADS: u32 = 4;

/// I/O workers only make syscalls; a small stack keeps many cheap.
const WORKER_STACK: usize = 256 << 10;

impl PoolBackend {
    pub fn new() -> Self {
        PoolBackend {
            workers: Workers::new("paio-io", WORKER_STACK),
            cold: Workers::new("paio-cold", WORKER_STACK),
        }
    }
}

impl PoolBackend {
    /// Take back a request an executor had claimed (the kernel refused it,
    /// or gave up on it): a worker runs it or, where no worker can be had,
    /// the calling thread, so that nothing is lost.
    pub fn take_back(&'static self, sink: &'static dyn Sink, id: u32) {
        if let Some(slot) = sink.slab().get(id) {
            slot.unclaim();
        }
        if let Err(id) = self.dispatch(sink, id) {
            sink.execute(id);
        }
    }
}

impl Default for PoolBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for PoolBackend {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn ready(&'static self, sink: &'static dyn Sink, job: &Job) -> bool {
        if job.cold {
            return self.cold.ensure_thread(sink);
        }
        self.workers.ensure_thread(sink)
    }

    fn dispatch(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        // SAFETY: a queued job is owned by its dispatcher until it is claimed.
        let cold = sink.slab().get(id).is_some_and(|s| unsafe { s.job() }.cold);
        if cold {
            return self.cold.submit(sink, Cold(id)).map_err(|Cold(id)| id);
        }
        self.workers.submit(sink, id)
    }

    fn dispatch_to_pool(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        self.dispatch(sink, id)
    }

    fn threads(&self) -> u32 {
        self.workers.threads() + self.cold.threads()
    }

    fn uses_pool(&self, _job: &Job) -> bool {
        true
    }
}

impl Serve<u32> for dyn Sink {
    fn serve(&'static self, id: u32) {
        self.execute(id)
    }
    fn max_threads(&self) -> u32 {
        Sink::max_threads(self)
    }
    fn idle_ms(&self) -> u32 {
        Sink::idle_ms(self)
    }
    fn thread_started(&self) {
        self.count(Counter::Threads, 1);
    }
}

impl Serve<Cold> for dyn Sink {
    fn serve(&'static self, Cold(id): Cold) {
        self.execute(id)
    }
    fn max_threads(&self) -> u32 {
        COLD_THREADS.min(Sink::max_threads(self))
    }
    fn idle_ms(&self) -> u32 {
        Sink::idle_ms(self)
    }
    fn thread_started(&self) {
        self.count(Counter::Threads, 1);
    }
}
