//! The C boundary: every exported symbol, and nothing else. Each export
//! checks its raw arguments, turns them into safe values, calls the core, and
//! converts the `Result` into the C return value and `errno` in one place.
//!
//! In `cfg(test)` builds the POSIX names are ordinary Rust functions, so a
//! test process keeps glibc's AIO and can call both side by side.
//!
//! [`ext`] holds what glibc lacks; `include/paio.h` is generated from it.

pub mod ext;

use crate::config::{self, AioInit};
use crate::engine;
use crate::request::aiocb::{Aiocb, RawAiocb, RawSigevent};
use crate::request::slots::Op;
use crate::submit;
use crate::submit::suspend;

pub(crate) fn set_errno(e: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// Run an export's work: `Ok(v)` → `v`, with `errno` as the caller left it
/// (a system call paio made on the way, an `RWF_NOWAIT` attempt answered
/// `EAGAIN` say, must not show: glibc's calls leave `errno` alone when they
/// succeed, and a signal handler that calls one must not change it for the
/// code it interrupted); `Err(e)` → `errno = e`, `-1`.
pub(crate) fn to_c<T: From<i8>>(work: impl FnOnce() -> Result<T, i32>) -> T {
    // SAFETY: __errno_location returns this thread's errno slot, valid for
    // the thread's life.
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *slot };
    let (v, errno) = match work() {
        Ok(v) => (v, saved),
        Err(e) => (T::from(-1), e),
    };
    // SAFETY: as above.
    unsafe { *slot = errno };
    v
}

/// # Safety
/// `p` is NULL or points to a live aiocb (see the exports' contracts).
pub(crate) unsafe fn aiocb(p: *const RawAiocb) -> Result<Aiocb, i32> {
    // SAFETY: forwarded from the caller.
    unsafe { Aiocb::from_ptr(p as *mut RawAiocb) }.ok_or(libc::EINVAL)
}

/// # Safety
/// `list` is NULL (then `nent` must be 0) or points to `nent` readable
/// pointers, each NULL or a live aiocb.
unsafe fn aiocb_list<'a>(
    list: *const *const RawAiocb,
    nent: i32,
) -> Result<&'a [*const RawAiocb], i32> {
    if nent < 0 || (list.is_null() && nent > 0) {
        return Err(libc::EINVAL);
    }
    if nent == 0 {
        return Ok(&[]);
    }
    // SAFETY: `list` holds `nent` pointers by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(list, nent as usize) })
}

macro_rules! export {
    ($(#[$m:meta])* fn $name:ident / $alias:ident ($($arg:ident : $ty:ty),*) -> $ret:ty $body:block) => {
        $(#[$m])*
        #[cfg_attr(not(test), no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret $body

        /// The `*64` name glibc exports for the same function (identical
        /// structures on 64-bit Linux).
        ///
        /// # Safety
        /// As for the function without the suffix.
        #[cfg_attr(not(test), no_mangle)]
        pub unsafe extern "C" fn $alias($($arg: $ty),*) -> $ret {
            // SAFETY: same contract as the unsuffixed export.
            unsafe { $name($($arg),*) }
        }
    };
}

// After the macro, which it uses.
pub mod interpose;

export! {
    /// [`aio_read`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_read.html).
    ///
    /// # Safety
    /// - `cb` is NULL (→ -1/`EINVAL`) or a valid, writable `struct aiocb`;
    /// - the aiocb and `aio_nbytes` bytes at `aio_buf` stay valid and are not
    ///   reused until `aio_error(cb)` stops returning `EINPROGRESS`.
    fn aio_read / aio_read64 (cb: *mut RawAiocb) -> libc::c_int {
        to_c(|| unsafe { aiocb(cb) }.and_then(|cb| submit::submit_rw(engine::get(), cb, Op::Read, 0)).map(|()| 0))
    }
}

export! {
    /// [`aio_write`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_write.html).
    ///
    /// # Safety
    /// As for `aio_read`; the buffer is only read.
    fn aio_write / aio_write64 (cb: *mut RawAiocb) -> libc::c_int {
        to_c(|| unsafe { aiocb(cb) }.and_then(|cb| submit::submit_rw(engine::get(), cb, Op::Write, 0)).map(|()| 0))
    }
}

export! {
    /// [`aio_fsync`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_fsync.html):
    /// completes after every write queued earlier on the same descriptor.
    ///
    /// # Safety
    /// `cb` is NULL (→ -1/`EINVAL`) or a valid aiocb kept until it completes.
    fn aio_fsync / aio_fsync64 (operation: libc::c_int, cb: *mut RawAiocb) -> libc::c_int {
        to_c(|| unsafe { aiocb(cb) }.and_then(|cb| submit::submit_fsync(engine::get(), operation, cb)).map(|()| 0))
    }
}

export! {
    /// [`aio_error`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_error.html):
    /// one load; while the request is in progress, also takes the
    /// completions waiting in kernel rings that no paio thread reaps (from
    /// the mapped ring: no syscall, no lock waited for). Async-signal-safe.
    ///
    /// # Safety
    /// `cb` is NULL (→ -1/`EINVAL`) or a readable aiocb.
    fn aio_error / aio_error64 (cb: *const RawAiocb) -> libc::c_int {
        to_c(|| unsafe { aiocb(cb) }.map(|cb| {
            let status = match cb.error() {
                libc::EINPROGRESS => {
                    let took = engine::try_get().is_some_and(|e| e.backend.poll(e));
                    if took { cb.error() } else { libc::EINPROGRESS }
                }
                e => e,
            };
            // Seen complete: its signal is queued already, as glibc's.
            if status != libc::EINPROGRESS && crate::engine::late::pending_for(cb.addr()) {
                if let Some(e) = engine::try_get() {
                    e.flush_late_signals();
                }
            }
            status
        }))
    }
}

export! {
    /// [`aio_return`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_return.html):
    /// no lock, no syscall; async-signal-safe. A result queued for
    /// `aio_waitcomplete` is claimed here (one compare-and-swap), so that
    /// `aio_waitcomplete` does not return it again.
    ///
    /// # Safety
    /// `cb` is NULL (→ -1/`EINVAL`) or a readable aiocb.
    fn aio_return / aio_return64 (cb: *mut RawAiocb) -> libc::ssize_t {
        to_c(|| unsafe { aiocb(cb) }.map(|cb| {
            let ticket = cb.ticket();
            if ticket != 0 {
                if let Some(e) = engine::try_get() {
                    e.completions.claims.claim(ticket);
                }
            }
            cb.return_value()
        }))
    }
}

export! {
    /// [`aio_suspend`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_suspend.html):
    /// async-signal-safe (no allocation, no lock).
    ///
    /// # Safety
    /// `list` holds `nent` pointers, each NULL or a readable aiocb;
    /// `timeout` is NULL or a readable timespec (relative).
    fn aio_suspend / aio_suspend64 (list: *const *const RawAiocb, nent: libc::c_int, timeout: *const libc::timespec) -> libc::c_int {
        to_c(|| unsafe { aiocb_list(list, nent) }.and_then(|raw| {
            // SAFETY: each entry is NULL or a readable aiocb (caller's contract).
            let entries = || raw.iter().map(|&p| unsafe { aiocb(p) }.ok());
            // SAFETY: a readable timespec by the caller's contract.
            let timeout = unsafe { timeout.as_ref() };
            let tracked = |cb: Aiocb| engine::try_get().is_some_and(|e| e.slab.lookup(cb.tag(), cb.addr()).is_some());
            // Kernel completions that no paio thread takes: take them, and
            // sleep where they are signalled.
            let elsewhere = |done: &mut dyn FnMut() -> bool, deadline: Option<&libc::timespec>| {
                let e = engine::try_get()?;
                e.backend.wait(e, done, deadline)
            };
            let r = suspend::suspend(entries, timeout, tracked, elsewhere);
            // What it saw complete has its signal queued already, as glibc's.
            if r.is_ok() {
                if let Some(e) = engine::try_get() {
                    e.flush_late_signals();
                }
            }
            r
        }).map(|()| 0))
    }
}

export! {
    /// [`aio_cancel`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/aio_cancel.html):
    /// cancels what is still queued in user space (`ECANCELED`, notified).
    ///
    /// # Safety
    /// `cb` is NULL (every request on `fd`) or a readable aiocb.
    fn aio_cancel / aio_cancel64 (fd: libc::c_int, cb: *mut RawAiocb) -> libc::c_int {
        // SAFETY: NULL is allowed and means "all on fd".
        let cb = unsafe { Aiocb::from_ptr(cb) };
        to_c(|| submit::cancel(engine::try_get(), fd, cb))
    }
}

export! {
    /// [`lio_listio`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/lio_listio.html).
    ///
    /// # Safety
    /// `list` holds `nent` pointers, each NULL or a valid aiocb kept (with its
    /// buffer) until it completes; `sevp` is NULL or a readable sigevent.
    fn lio_listio / lio_listio64 (mode: libc::c_int, list: *const *mut RawAiocb, nent: libc::c_int, sevp: *mut RawSigevent) -> libc::c_int {
        to_c(|| unsafe { aiocb_list(list as *const *const RawAiocb, nent) }.and_then(|raw| {
            if mode != submit::LIO_WAIT && mode != submit::LIO_NOWAIT {
                return Err(libc::EINVAL);
            }
            let cbs: Vec<Option<Aiocb>> = raw.iter().map(|&p| unsafe { aiocb(p) }.ok()).collect();
            // SAFETY: a readable sigevent by the caller's contract.
            let ev = unsafe { sevp.as_ref() }.copied();
            submit::listio(engine::get(), mode, &cbs, ev)
        }).map(|()| 0))
    }
}

/// `aio_init` (a GNU extension): `aio_threads` caps the worker threads,
/// `aio_num` is a hint paio needs not (its request table grows as requests
/// come), `aio_idle_time` is how long an idle
/// thread waits before exiting. `PAIO_*` variables take precedence.
///
/// # Safety
/// `init` is NULL (ignored) or a readable `struct aioinit`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn aio_init(init: *const AioInit) {
    // SAFETY: readable by the caller's contract.
    if let Some(init) = unsafe { init.as_ref() } {
        config::apply_aio_init(init, engine::try_get().map(|e| &e.config.limits));
    }
}
