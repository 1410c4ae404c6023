//! Backends execute the requests that cannot complete inline. Choosing one is
//! configuration (`PAIO_BACKEND`); the engine does not know which it has.

use crate::engine::Engine;
use crate::slots::Job;
use crate::workers::Workers;

pub trait Backend: Send + Sync {
    /// Shown in `PAIO_STATS` (`threads`, `kaio`, …).
    fn name(&self) -> &'static str;

    /// True when the backend can accept `job` now (for the worker pool: at
    /// least one thread runs or could be started; for kernel AIO, a reaper
    /// thread where the request needs one). Checked before anything is
    /// queued, so that a refusal can be reported as `EAGAIN` with nothing lost.
    fn ready(&'static self, engine: &'static Engine, job: &Job) -> bool;

    /// Start executing slot `id`; the backend eventually calls
    /// [`Engine::execute`] (or completes it itself). `Err(id)` hands the
    /// request back when no thread can take it.
    fn dispatch(&'static self, engine: &'static Engine, id: u32) -> Result<(), u32>;

    /// Threads the backend runs now.
    fn threads(&self) -> u32;

    /// Would `dispatch` hand this job to the worker pool? A worker that
    /// finished a lane's request then runs the lane's next one itself.
    fn uses_pool(&self, _job: &Job) -> bool {
        false
    }
}

/// The worker pool: blocking `pread`/`pwrite`/`fsync` on bounded threads.
/// It is the permanent fallback where kernel AIO is unavailable.
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

impl Default for PoolBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for PoolBackend {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn ready(&'static self, engine: &'static Engine, job: &Job) -> bool {
        if job.cold {
            return self.cold.ensure_thread(engine);
        }
        self.workers.ensure_thread(engine)
    }

    fn dispatch(&'static self, engine: &'static Engine, id: u32) -> Result<(), u32> {
        // SAFETY: a queued job is owned by its dispatcher until it is claimed.
        let cold = engine.slab.get(id).is_some_and(|s| unsafe { s.job() }.cold);
        if cold {
            return self.cold.submit(engine, Cold(id)).map_err(|Cold(id)| id);
        }
        self.workers.submit(engine, id)
    }

    fn threads(&self) -> u32 {
        self.workers.threads() + self.cold.threads()
    }

    fn uses_pool(&self, _job: &Job) -> bool {
        true
    }
}

/// A deterministic backend for unit tests: it only records what it is given;
/// the test decides when, and in which order, each request runs.
#[cfg(test)]
pub mod fake {
    use super::*;
    use parking_lot::Mutex;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub struct FakeBackend {
        pub queued: Mutex<VecDeque<u32>>,
    }

    impl FakeBackend {
        /// Run the oldest dispatched request to completion, if any.
        pub fn run_next(&self, engine: &'static Engine) -> Option<u32> {
            let id = self.queued.lock().pop_front()?;
            engine.execute(id);
            Some(id)
        }

        pub fn len(&self) -> usize {
            self.queued.lock().len()
        }
    }

    impl Backend for FakeBackend {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn ready(&'static self, _engine: &'static Engine, _job: &Job) -> bool {
            true
        }
        fn dispatch(&'static self, _engine: &'static Engine, id: u32) -> Result<(), u32> {
            self.queued.lock().push_back(id);
            Ok(())
        }
        fn threads(&self) -> u32 {
            0
        }
    }
}
