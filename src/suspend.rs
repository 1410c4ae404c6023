//! `aio_suspend` and the wake-up of its waiters, async-signal-safe: no
//! allocation, no lock, only atomics and futex calls.
//!
//! Protocol (a store-buffering pair, both sides `SeqCst`):
//! - a completion publishes the aiocb's status, then reads `waiters`; if any
//!   thread is suspended it bumps `seq` and wakes all sleepers on it;
//! - a waiter increments `waiters`, reads `seq`, checks its aiocbs, and sleeps
//!   on `seq` only if none is done. Either the completion sees the waiter, or
//!   the waiter sees the status; and a bump between the waiter's read of
//!   `seq` and its sleep makes the sleep return at once.
//!
//! With no waiter, a completion costs one read of a read-mostly word.
//! `model.rs` checks this protocol with loom.

use crate::aiocb::Aiocb;
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
        fence(SeqCst);
        if self.waiters.load(SeqCst) != 0 {
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

/// Called after a status was published; also wakes threads that sleep on
/// the kernel backend's wake rather than on the futex.
#[cfg(not(loom))]
pub fn wake_waiters() {
    if QUEUE.wake(&KernelFutex) {
        if let Some(k) = crate::engine::try_get().and_then(|e| e.kaio()) {
            k.signal_wake();
        }
    }
}

#[cfg(loom)]
pub fn wake_waiters() {}

#[cfg(not(loom))]
pub fn reset_after_fork() {
    QUEUE.reset();
}

#[cfg(loom)]
pub fn reset_after_fork() {}

/// `aio_suspend` over a caller's list, given as a function that walks it
/// (NULL entries as `None`, skipped), so a list of any length needs no
/// allocation. `tracked` says whether an aiocb reading `EINPROGRESS` really
/// has a request behind it; one that does not (never submitted, or inherited
/// over `fork`) counts as done, as in glibc, so the call cannot sleep forever.
/// `elsewhere` is [`WaitQueue::wait_until`]'s (given the deadline).
#[cfg(not(loom))]
pub fn suspend<I: Iterator<Item = Option<Aiocb>>>(
    list: impl Fn() -> I,
    timeout: Option<&libc::timespec>,
    tracked: impl Fn(Aiocb) -> bool,
    mut elsewhere: impl FnMut(
        &mut dyn FnMut() -> bool,
        Option<&libc::timespec>,
    ) -> Option<Result<(), i32>>,
) -> Result<(), i32> {
    let any_done = || {
        list()
            .flatten()
            .any(|cb| cb.error() != libc::EINPROGRESS || !tracked(cb))
    };
    if list().flatten().next().is_none() || any_done() {
        return Ok(());
    }
    if let Some(t) = timeout {
        if t.tv_nsec < 0 || t.tv_nsec >= 1_000_000_000 || t.tv_sec < 0 {
            return Err(libc::EINVAL);
        }
        if t.tv_sec == 0 && t.tv_nsec == 0 {
            return Err(libc::EAGAIN);
        }
    }
    let deadline = timeout.map(sys::deadline_after);
    let d = deadline.as_ref();
    QUEUE.wait_until(&KernelFutex, any_done, |done| elsewhere(done, d), d)
}

#[cfg(loom)]
pub fn suspend<I: Iterator<Item = Option<Aiocb>>>(
    _list: impl Fn() -> I,
    _timeout: Option<&libc::timespec>,
    _tracked: impl Fn(Aiocb) -> bool,
    _elsewhere: impl FnMut(&mut dyn FnMut() -> bool, Option<&libc::timespec>) -> Option<Result<(), i32>>,
) -> Result<(), i32> {
    Err(libc::ENOSYS)
}
