//! Extensions beyond glibc, declared in `include/paio.h` (generated from this
//! file by cbindgen; the POSIX names stay with the system `<aio.h>`).
//!
//! - vector AIO: `aio_readv` / `aio_writev`, with FreeBSD's semantics, and
//!   `LIO_READV` / `LIO_WRITEV` in `lio_listio`;
//! - `aio_waitcomplete`: the next completed request, O(1);
//! - `paio_completion_fd`: a descriptor an event loop can poll;
//! - `paio_stats`: the counters behind `PAIO_STATS`.

use crate::capi::{aiocb, set_errno, to_c};
use crate::engine;
use crate::request::aiocb::RawAiocb;
use crate::request::slots::Op;
use crate::stats::Counter;
use crate::submit;

/// `lio_listio` opcode: a vectored read (FreeBSD's value).
pub const LIO_READV: i32 = 6;
/// `lio_listio` opcode: a vectored write (FreeBSD's value).
pub const LIO_WRITEV: i32 = 5;
const _: () = assert!(
    LIO_READV == crate::request::aiocb::LIO_READV
        && LIO_WRITEV == crate::request::aiocb::LIO_WRITEV
);
/// The current layout of `struct paio_stats`.
pub const PAIO_STATS_VERSION: u32 = 1;

/// Start a vectored read: `aio_buf` points to an array of `struct iovec`
/// and `aio_nbytes` is its count (at most `IOV_MAX`, 1024), as on FreeBSD.
/// Data is read at `aio_offset` into the buffers in order; `aio_return`
/// gives the total. Returns 0, or -1 with `errno`: `EINVAL` for a count of 0
/// or above `IOV_MAX` (and the other `aio_read` checks). An unreadable iovec
/// array is reported through `aio_error` as `EFAULT`.
///
/// # Safety
/// `cb` is NULL (-1/`EINVAL`) or a valid aiocb; the iovec array and every
/// buffer it names stay valid until `aio_error(cb)` stops returning
/// `EINPROGRESS`.
#[no_mangle]
pub unsafe extern "C" fn aio_readv(cb: *mut RawAiocb) -> libc::c_int {
    to_c(|| {
        // SAFETY: forwarded from the caller.
        unsafe { aiocb(cb) }
            .and_then(|cb| submit::submit_vectored(engine::get(), cb, Op::Read, 0))
            .map(|()| 0)
    })
}

/// Start a vectored write; see `aio_readv`. The buffers are only read.
///
/// # Safety
/// As for `aio_readv`.
#[no_mangle]
pub unsafe extern "C" fn aio_writev(cb: *mut RawAiocb) -> libc::c_int {
    to_c(|| {
        // SAFETY: forwarded from the caller.
        unsafe { aiocb(cb) }
            .and_then(|cb| submit::submit_vectored(engine::get(), cb, Op::Write, 0))
            .map(|()| 0)
    })
}

/// Wait for the next completed request, as FreeBSD's `aio_waitcomplete`:
/// stores its aiocb in `*iocbp` and returns what `aio_return` would (-1 with
/// `errno` set to the request's error when it failed). `timeout` NULL waits
/// for ever; a zero timeout polls. On failure of the call itself `*iocbp` is
/// NULL and it returns -1 with `errno`: `EAGAIN` (= `EWOULDBLOCK`) when
/// nothing completed in time, `EINTR` on a signal, `EINVAL` for a bad
/// timeout or a NULL `iocbp`.
///
/// Which requests: the queue starts with the first call of
/// `aio_waitcomplete` or `paio_completion_fd`; every request submitted after
/// that is returned at most once, in completion order. As on FreeBSD, a
/// request is handed to the program once, by `aio_return` or by
/// `aio_waitcomplete`, whichever comes first: one the program already took
/// with `aio_return` (`aio_error` alone does not take it) is never returned
/// here, so its aiocb may be freed or reused at once. Requests submitted
/// earlier are not returned. `aio_return` on a request this call returned
/// gives its value again (FreeBSD: `EINVAL`). O(1) per call, however many
/// requests are in flight.
///
/// # Safety
/// `iocbp` is NULL or writable; `timeout` is NULL or a readable timespec.
#[no_mangle]
pub unsafe extern "C" fn aio_waitcomplete(
    iocbp: *mut *mut RawAiocb,
    timeout: *const libc::timespec,
) -> libc::ssize_t {
    if iocbp.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: readable by the caller's contract.
    let timeout = unsafe { timeout.as_ref() };
    let engine = engine::get();
    match engine.completions.wait(timeout) {
        Ok(done) => {
            engine.flush_late_signals();
            // SAFETY: writable by the caller's contract.
            unsafe { *iocbp = done.aiocb as *mut RawAiocb };
            match done.result {
                Ok(n) => n as libc::ssize_t,
                Err(e) => {
                    set_errno(e);
                    -1
                }
            }
        }
        Err(e) => {
            // SAFETY: writable by the caller's contract.
            unsafe { *iocbp = std::ptr::null_mut() };
            set_errno(e);
            -1
        }
    }
}

/// A file descriptor (an eventfd) that is readable while completions wait
/// for `aio_waitcomplete`, for `poll`/`epoll` loops that serve sockets and
/// files together. Reading it (8 bytes) resets it; then call
/// `aio_waitcomplete` with a zero timeout until it fails with `EAGAIN`.
/// Calling it turns the completion queue on (see `aio_waitcomplete`). The
/// same descriptor is returned every time; do not close it. Returns -1 with
/// `errno` when no descriptor can be created.
#[no_mangle]
pub extern "C" fn paio_completion_fd() -> libc::c_int {
    to_c(|| engine::get().completions.eventfd())
}

/// The counters behind `PAIO_STATS`. Versioned: the caller sets `size` to
/// `sizeof(struct paio_stats)`; paio fills at most that many bytes and sets
/// `size` to the number it filled and `version` to `PAIO_STATS_VERSION`.
/// Fields are only ever added at the end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PaioStats {
    /// In: the size of the caller's structure. Out: bytes filled.
    pub size: u32,
    /// Out: the layout version (`PAIO_STATS_VERSION`).
    pub version: u32,
    /// Requests accepted (reads, writes, fsyncs).
    pub requests: u64,
    pub reads: u64,
    pub writes: u64,
    pub fsyncs: u64,
    /// Completed inside the submitting call.
    pub inline_completions: u64,
    /// Executed by the worker pool.
    pub pool: u64,
    /// Submitted to kernel AIO.
    pub kernel: u64,
    /// Continued on the pool after a refused or partial non-blocking attempt.
    pub retried: u64,
    /// Completed with an error (cancellations included).
    pub errors: u64,
    pub cancelled: u64,
    /// Threads paio has created.
    pub threads: u64,
    /// 1 when kernel AIO serves this process (set up by the first request
    /// that needs it), 0 for the worker pool alone (by configuration, or
    /// after `io_setup` failed).
    pub kernel_aio: u32,
    /// The `errno` of `io_setup` when paio fell back to the pool, else 0.
    pub fallback_errno: i32,
}

/// Fill `*stats` (see `struct paio_stats`). Returns 0, or -1 with `errno`
/// `EINVAL` when `stats` is NULL or its `size` is smaller than 8. Before the
/// first AIO call every counter is 0.
///
/// # Safety
/// `stats` is NULL or points to at least `stats->size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn paio_stats(stats: *mut PaioStats) -> libc::c_int {
    if stats.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: the first 4 bytes are readable by the caller's contract.
    let size = unsafe { std::ptr::addr_of!((*stats).size).read_unaligned() } as usize;
    if size < 8 {
        set_errno(libc::EINVAL);
        return -1;
    }
    let mut s = PaioStats {
        version: PAIO_STATS_VERSION,
        ..PaioStats::default()
    };
    if let Some(e) = engine::try_get() {
        let c = |k| e.stats.get(k);
        s.requests = c(Counter::Requests);
        s.reads = c(Counter::Read);
        s.writes = c(Counter::Write);
        s.fsyncs = c(Counter::Fsync);
        s.inline_completions = c(Counter::Inline);
        s.pool = c(Counter::Pool);
        s.kernel = c(Counter::Kernel);
        s.retried = c(Counter::Retried);
        s.errors = c(Counter::Errors);
        s.cancelled = c(Counter::Cancelled);
        s.threads = c(Counter::Threads);
        s.kernel_aio = e.in_kernel() as u32;
        s.fallback_errno = e.kaio_error.load(std::sync::atomic::Ordering::Relaxed);
    }
    let n = size.min(std::mem::size_of::<PaioStats>());
    s.size = n as u32;
    // SAFETY: `n` bytes are writable (at most the caller's size); the source
    // is a local of at least `n` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(&s as *const PaioStats as *const u8, stats as *mut u8, n)
    };
    0
}

/// `include/paio.h` is what cbindgen makes of this file, byte for byte.
/// `PAIO_BLESS=1` rewrites it.
#[cfg(test)]
mod header {
    #[test]
    fn header_is_up_to_date() {
        let root = env!("CARGO_MANIFEST_DIR");
        let config =
            cbindgen::Config::from_file(format!("{root}/cbindgen.toml")).expect("cbindgen.toml");
        let mut out = Vec::new();
        cbindgen::Builder::new()
            .with_config(config)
            .with_src(format!("{root}/src/capi/ext.rs"))
            .generate()
            .expect("cbindgen parses src/capi/ext.rs")
            .write(&mut out);
        let path = format!("{root}/include/paio.h");
        if std::env::var_os("PAIO_BLESS").is_some() {
            std::fs::write(&path, &out).expect("write include/paio.h");
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == out,
            "include/paio.h differs from what cbindgen generates from src/capi/ext.rs; \
             run `PAIO_BLESS=1 cargo test -p paio header` and commit the result\n{}",
            String::from_utf8_lossy(&out)
        );
    }
}
