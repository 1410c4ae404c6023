//! `aio_suspend` and the wake-up of its waiters, async-signal-safe: no
//! allocation, no lock, only atomics and futex calls.
//!
//! Protocol (a store-buffering pair, both sides `SeqCst`):
//! - a completion publishes the aiocb's status, then reads `WAITERS`; if any
//!   thread is suspended it bumps `SEQ` and wakes all sleepers on it;
//! - a waiter increments `WAITERS`, reads `SEQ`, checks its aiocbs, and sleeps
//!   on `SEQ` only if none is done. Either the completion sees the waiter, or
//!   the waiter sees the status.
//! With no waiter, a completion costs one read of a read-mostly word.

use std::sync::atomic::{fence, AtomicU32, Ordering::SeqCst};

use crate::aiocb::Aiocb;
use crate::sys;

static WAITERS: AtomicU32 = AtomicU32::new(0);
static SEQ: AtomicU32 = AtomicU32::new(0);

/// Called after a status was published.
pub fn wake_waiters() {
    fence(SeqCst);
    if WAITERS.load(SeqCst) != 0 {
        SEQ.fetch_add(1, SeqCst);
        sys::futex_wake(&SEQ, i32::MAX);
    }
}

/// In a forked child only the forking thread exists, and it is not waiting.
pub fn reset_after_fork() {
    WAITERS.store(0, SeqCst);
}

/// Wait until `done()` holds, a signal arrives (`EINTR`), or `deadline`
/// passes (`EAGAIN`).
pub fn wait_until(mut done: impl FnMut() -> bool, deadline: Option<&libc::timespec>) -> Result<(), i32> {
    WAITERS.fetch_add(1, SeqCst);
    let r = loop {
        let seq = SEQ.load(SeqCst);
        if done() {
            break Ok(());
        }
        match sys::futex_wait(&SEQ, seq, deadline) {
            Ok(()) | Err(libc::EAGAIN) => continue,
            Err(libc::ETIMEDOUT) => break if done() { Ok(()) } else { Err(libc::EAGAIN) },
            Err(libc::EINTR) => break Err(libc::EINTR),
            Err(e) => break Err(e),
        }
    };
    WAITERS.fetch_sub(1, SeqCst);
    r
}

/// `aio_suspend` over a caller's list, given as a function that walks it
/// (NULL entries as `None`, skipped), so a list of any length needs no
/// allocation. `tracked` says whether an aiocb reading `EINPROGRESS` really
/// has a request behind it; one that does not (never submitted, or inherited
/// over `fork`) counts as done, as in glibc, so the call cannot sleep forever.
pub fn suspend<I: Iterator<Item = Option<Aiocb>>>(
    list: impl Fn() -> I,
    timeout: Option<&libc::timespec>,
    tracked: impl Fn(Aiocb) -> bool,
) -> Result<(), i32> {
    let any_done = || list().flatten().any(|cb| cb.error() != libc::EINPROGRESS || !tracked(cb));
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
    wait_until(any_done, deadline.as_ref())
}
