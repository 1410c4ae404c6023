//! Waking the threads that wait for completions (`aio_suspend`,
//! `aio_waitcomplete`), async-signal-safe: no allocation, no lock, only
//! atomics and futex calls.
//!
//! Protocol (a store-buffering pair, both sides `SeqCst`):
//! - a completion publishes the aiocb's status, then reads `waiters`; if any
//!   thread is suspended it bumps `seq` and wakes all sleepers on it;
//! - a waiter increments `waiters`, reads `seq`, checks its aiocbs, and sleeps
//!   on `seq` only if none is done. Either the completion sees the waiter, or
//!   the waiter sees the status; and a bump between the waiter's read of
//!   `seq` and its sleep makes the sleep return at once.
//!
//! With no waiter, a completion costs one read of a read-mostly word; so
//! does one taken by the only waiter, inside its own wait.
//! `model.rs` checks this protocol with loom.

use crate::sync::{fence, AtomicU32, Ordering::SeqCst};
#[cfg(not(loom))]
use crate::sys;

/// Sleeping on a word: the kernel's futex, or a model of it under loom.
pub trait Futex {
    /// Sleep while `*word == expected`, until woken, a signal (`EINTR`) or
    /// the deadline (`ETIMEDOUT`); returning early is always allowed.
    fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        deadline: Option<&libc::timespec>,
    ) -> Result<(), i32>;
    fn wake_all(&self, word: &AtomicU32);
}

impl Default for WaitQueue {
    fn default() -> Self {
        WaitQueue::new()
    }
}

pub struct WaitQueue {
    waiters: AtomicU32,
    seq: AtomicU32,
}

impl WaitQueue {
    #[cfg(not(loom))]
    pub const fn new() -> WaitQueue {
        WaitQueue {
            waiters: AtomicU32::new(0),
            seq: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub fn new() -> WaitQueue {
        WaitQueue {
            waiters: AtomicU32::new(0),
            seq: AtomicU32::new(0),
        }
    }

    /// Called after a status was published. True when threads wait (the
    /// caller may have more of them to wake).
    pub fn wake(&self, futex: &impl Futex) -> bool {
        self.wake_others(futex, 0)
    }

    /// [`WaitQueue::wake`] from a thread that is itself `own` of the waiters
    /// (it takes completions inside its own wait): it is awake, so only
    /// more waiters than that need the futex.
    pub fn wake_others(&self, futex: &impl Futex, own: u32) -> bool {
        fence(SeqCst);
        if self.waiters.load(SeqCst) > own {
            self.seq.fetch_add(1, SeqCst);
            futex.wake_all(&self.seq);
            return true;
        }
        false
    }

    /// Wait until `done()` holds, a signal arrives (`EINTR`), or `deadline`
    /// passes (`EAGAIN`). Before each sleep on the futex, `elsewhere` may
    /// wait in its own way (in a kernel ring): `Some(Ok)` to look again,
    /// `Some(Err)` to stop (`ETIMEDOUT` for the deadline), `None` to sleep
    /// on the futex.
    pub fn wait_until(
        &self,
        futex: &impl Futex,
        mut done: impl FnMut() -> bool,
        mut elsewhere: impl FnMut(&mut dyn FnMut() -> bool) -> Option<Result<(), i32>>,
        deadline: Option<&libc::timespec>,
    ) -> Result<(), i32> {
        self.waiters.fetch_add(1, SeqCst);
        let r = loop {
            let seq = self.seq.load(SeqCst);
            // Pairs with the fence in `wake`: the status loads in `done` may
            // be plain acquire loads (as in `aio_error`).
            fence(SeqCst);
            if done() {
                break Ok(());
            }
            let waited = match elsewhere(&mut done) {
                None => futex.wait(&self.seq, seq, deadline),
                Some(r) => r,
            };
            match waited {
                Ok(()) | Err(libc::EAGAIN) => continue,
                Err(libc::ETIMEDOUT) => break if done() { Ok(()) } else { Err(libc::EAGAIN) },
                Err(e) => break Err(e),
            }
        };
        self.waiters.fetch_sub(1, SeqCst);
        r
    }

    /// In a forked child only the forking thread exists, and it is not waiting.
    pub fn reset(&self) {
        self.waiters.store(0, SeqCst);
    }
}

#[cfg(not(loom))]
pub struct KernelFutex;

#[cfg(not(loom))]
impl Futex for KernelFutex {
    fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        deadline: Option<&libc::timespec>,
    ) -> Result<(), i32> {
        sys::futex_wait(word, expected, deadline)
    }
    fn wake_all(&self, word: &AtomicU32) {
        sys::futex_wake(word, i32::MAX)
    }
}

/// Under loom only the modelled futex is used; this one exists so that the
/// crate builds.
#[cfg(loom)]
pub struct KernelFutex;

#[cfg(loom)]
impl Futex for KernelFutex {
    fn wait(
        &self,
        _word: &AtomicU32,
        _expected: u32,
        _deadline: Option<&libc::timespec>,
    ) -> Result<(), i32> {
        Err(libc::ENOSYS)
    }
    fn wake_all(&self, _word: &AtomicU32) {}
}

#[cfg(not(loom))]
static QUEUE: WaitQueue = WaitQueue::new();

/// Called after a status was published. True when threads wait: the
/// caller also wakes those that sleep in a backend's own way (a kernel
/// ring's wake) rather than on the futex.
#[cfg(not(loom))]
pub fn wake_waiters() -> bool {
    QUEUE.wake_others(&KernelFutex, WAITING.with(|w| w.get()))
}

#[cfg(not(loom))]
thread_local! {
    /// How many waits on [`QUEUE`] this thread is inside (a signal handler
    /// may wait inside a wait).
    static WAITING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

#[cfg(loom)]
pub fn wake_waiters() -> bool {
    false
}

/// Wait on the process's queue: [`WaitQueue::wait_until`].
#[cfg(not(loom))]
pub fn wait_until(
    done: impl FnMut() -> bool,
    elsewhere: impl FnMut(&mut dyn FnMut() -> bool) -> Option<Result<(), i32>>,
    deadline: Option<&libc::timespec>,
) -> Result<(), i32> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            WAITING.with(|w| w.set(w.get() - 1));
        }
    }
    WAITING.with(|w| w.set(w.get() + 1));
    let _leave = Leave;
    QUEUE.wait_until(&KernelFutex, done, elsewhere, deadline)
}

/// `pthread_cancel`s seen so far (see `capi::cancel`).
#[cfg(not(loom))]
static CANCELS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// How many `pthread_cancel`s this process made: a sleeper that sees the
/// count change looks whether the cancel is its own.
#[cfg(not(loom))]
pub fn cancels() -> u32 {
    CANCELS.load(SeqCst)
}

/// A thread was cancelled: count it, then wake every sleeper (the count
/// first, so that a woken sleeper sees it).
#[cfg(not(loom))]
pub fn cancelled() -> bool {
    CANCELS.fetch_add(1, SeqCst);
    wake_waiters()
}

#[cfg(loom)]
pub fn cancelled() -> bool {
    false
}

#[cfg(not(loom))]
pub fn reset_after_fork() {
    QUEUE.reset();
}

#[cfg(loom)]
pub fn reset_after_fork() {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Counts wake calls; never sleeps.
    #[derive(Default)]
    struct Counting {
        wakes: Cell<u32>,
    }
    impl Futex for Counting {
        fn wait(&self, _: &AtomicU32, _: u32, _: Option<&libc::timespec>) -> Result<(), i32> {
            Ok(())
        }
        fn wake_all(&self, _: &AtomicU32) {
            self.wakes.set(self.wakes.get() + 1);
        }
    }

    #[test]
    fn a_waiter_taking_its_own_completions_makes_no_wake_call() {
        let q = WaitQueue::new();
        let f = Counting::default();
        let took = Cell::new(0);
        // The waiter takes three completions inside its own wait (as
        // `aio_suspend` does from a kernel ring): no futex call for them.
        let r = q.wait_until(
            &f,
            || took.get() == 3,
            |_| {
                took.set(took.get() + 1);
                assert!(!q.wake_others(&f, 1));
                Some(Ok(()))
            },
            None,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(f.wakes.get(), 0);
        // With a second waiter counted, the same completion wakes it.
        q.waiters.fetch_add(1, SeqCst);
        q.waiters.fetch_add(1, SeqCst);
        assert!(q.wake_others(&f, 1));
        assert_eq!(f.wakes.get(), 1);
        // With none, nothing is woken.
        q.waiters.store(0, SeqCst);
        assert!(!q.wake(&f));
        assert_eq!(f.wakes.get(), 1);
    }
}
