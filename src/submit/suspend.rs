//! `aio_suspend`, async-signal-safe: no allocation, no lock. It sleeps on
//! the engine's wait queue ([`crate::engine::wake`]), or in a backend's
//! own way where no paio thread reaps the kernel's completions.

#[cfg(not(loom))]
use crate::engine::wake;
use crate::request::aiocb::Aiocb;
#[cfg(not(loom))]
use crate::sys;

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
    // The timeout counts as its seconds plus its nanoseconds, whatever
    // their signs and range, as glibc adds them to the clock: one of 0 or
    // less is over at once (the usual "deadline minus now" of a loop whose
    // deadline has passed). glibc aborts on a sum it cannot normalise
    // (an assertion in its wait); paio waits that long.
    let timeout = match timeout.map(normalised) {
        Some(None) => return Err(libc::EAGAIN),
        Some(t) => t,
        None => None,
    };
    let deadline = timeout.as_ref().map(sys::deadline_after);
    let d = deadline.as_ref();
    // A cancellation point, as in glibc: a cancel pending when the call
    // would sleep, or one that comes while it sleeps, unwinds the thread
    // from here — between sleeps, where paio holds nothing (no value with
    // a destructor is live in this frame or the C boundary's).
    let mut seen = wake::cancels();
    sys::cancellation_point();
    loop {
        let r = wake::wait_until(
            || any_done() || wake::cancels() != seen,
            |done| elsewhere(done, d),
            d,
        );
        if r.is_ok() && !any_done() {
            // Woken by a `pthread_cancel`, maybe of another thread.
            seen = wake::cancels();
            sys::cancellation_point();
            continue;
        }
        return r;
    }
}

/// `t` as a normalised relative time, `None` when it is 0 or less.
#[cfg(not(loom))]
fn normalised(t: &libc::timespec) -> Option<libc::timespec> {
    const NS: i128 = 1_000_000_000;
    let total = t.tv_sec as i128 * NS + t.tv_nsec as i128;
    (total > 0).then(|| libc::timespec {
        tv_sec: (total / NS).min(i64::MAX as i128) as libc::time_t,
        tv_nsec: (total % NS) as libc::c_long,
    })
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
