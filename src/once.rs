//! The process-wide engine's start: made once by whichever thread gets there
//! first, without a lock, and forgotten in a forked child (where
//! `std::sync::OnceLock` could not be reset). `model.rs` checks it with loom.

use crate::sync::{yield_now, AtomicU32, AtomicUsize, Ordering::*};

/// A value (a non-zero word, here a leaked pointer) made at most once until
/// [`StartOnce::reset`].
pub struct StartOnce {
    value: AtomicUsize,
    /// 1 while one thread makes the value.
    starting: AtomicU32,
}

impl Default for StartOnce {
    fn default() -> Self {
        StartOnce::new()
    }
}

impl StartOnce {
    #[cfg(not(loom))]
    pub const fn new() -> StartOnce {
        StartOnce {
            value: AtomicUsize::new(0),
            starting: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub fn new() -> StartOnce {
        StartOnce {
            value: AtomicUsize::new(0),
            starting: AtomicU32::new(0),
        }
    }

    /// The value, 0 before it is made.
    pub fn get(&self) -> usize {
        self.value.load(Acquire)
    }

    /// The value, made by `make` (which must return non-zero) if no thread
    /// has made it yet; threads that come while it is being made wait.
    pub fn get_or_start(&self, make: impl FnOnce() -> usize) -> usize {
        loop {
            let v = self.get();
            if v != 0 {
                return v;
            }
            if self
                .starting
                .compare_exchange(0, 1, AcqRel, Acquire)
                .is_ok()
            {
                // Another thread may have finished making it between the
                // load above and this claim: never make a second one.
                let v = self.get();
                if v != 0 {
                    self.starting.store(0, Release);
                    return v;
                }
                let v = make();
                self.value.store(v, Release);
                self.starting.store(0, Release);
                return v;
            }
            yield_now();
        }
    }

    /// Forget the value (in a forked child, where only this thread exists).
    pub fn reset(&self) {
        self.value.store(0, Release);
        self.starting.store(0, Release);
    }
}
