//! The raw kernel interface: syscalls, flags and structures paio uses that the
//! `libc` crate does not wrap. Nothing here decides policy; every function is a
//! thin, safe-to-call shim that returns `Err(errno)` instead of setting `errno`.
//!
//! Calls the C library makes cancellation points (`read`, `write`, `close`,
//! `ppoll`, `fsync`, `clock_nanosleep`, `sigtimedwait`, ...) go to the kernel
//! directly: a thread with a `pthread_cancel` pending would otherwise be
//! unwound inside paio, in the middle of its bookkeeping, where glibc's AIO
//! calls are no cancellation points (only `aio_suspend` is, and it acts on
//! the cancel itself, where it holds nothing).

use std::sync::atomic::AtomicU32;

/// `RWF_NOWAIT`: fail with `EAGAIN` instead of blocking (Linux 4.14).
pub const RWF_NOWAIT: i32 = 0x0000_0008;

/// `si_code` of a signal queued for asynchronous I/O completion.
pub const SI_ASYNCIO: i32 = -4;

/// `sigev_notify` values (glibc's `<bits/sigevent-consts.h>`).
pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;
pub const SIGEV_THREAD: i32 = 2;
pub const SIGEV_THREAD_ID: i32 = 4;

/// Every integer passed through the variadic `syscall()` is widened to a
/// full register: the kernel reads some of them (counts) as `unsigned long`.
type L = libc::c_long;

pub fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check(ret: libc::c_long) -> Result<usize, i32> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret as usize)
    }
}

/// A system call paio makes that glibc's AIO never does, which a seccomp
/// filter written for glibc's (an allow-list predating it, or a kernel
/// before it) may deny with `EPERM` or `ENOSYS` whatever its arguments.
/// Asked once, by a probe whose arguments fail harmlessly, when a real call
/// first gives one of those errors (which the file itself may give too:
/// `EPERM` from a write of an append-only file).
pub struct Denial(std::sync::atomic::AtomicU8);

impl Denial {
    pub const fn new() -> Denial {
        Denial(std::sync::atomic::AtomicU8::new(0))
    }

    /// Does the filter deny the call? `probe` makes it, with arguments that
    /// fail harmlessly or succeed at once, and returns the raw result.
    /// Only a refusal is remembered: a filter may come later (a program
    /// installs one after its first requests), and the probe is made only
    /// when a call failed so, which is rare unless the call is refused.
    pub fn denied(&self, probe: impl FnOnce() -> libc::c_long) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.0.load(Relaxed) == 2 {
            return true;
        }
        let denied = probe() < 0 && matches!(errno(), libc::EPERM | libc::ENOSYS);
        if denied {
            self.0.store(2, Relaxed);
        }
        denied
    }

    /// Already known to be denied (no probe).
    fn known(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) == 2
    }
}

impl Default for Denial {
    fn default() -> Denial {
        Denial::new()
    }
}

static PREADV2: Denial = Denial::new();
static PWRITEV2: Denial = Denial::new();

/// `preadv2`/`pwritev2` (`nr`) over `cnt` iovecs at `iov`; `offset == -1`
/// means the file position, which on pipes and sockets is plain read/write.
/// Where a filter denies them: the calls glibc's AIO makes instead
/// ([`rw_plain`]).
fn rw2(
    nr: libc::c_long,
    fd: i32,
    iov: *const libc::iovec,
    cnt: usize,
    offset: i64,
    flags: i32,
) -> Result<usize, i32> {
    let denial = if nr == libc::SYS_preadv2 {
        &PREADV2
    } else {
        &PWRITEV2
    };
    if denial.known() {
        return rw_plain(nr == libc::SYS_preadv2, fd, iov, cnt, offset, flags);
    }
    let call = |fd: i32, iov: *const libc::iovec, cnt: usize, offset: i64, flags: i32| {
        // SAFETY: the kernel checks the iovec array and every buffer it
        // names (EFAULT); the C caller keeps them valid while the request
        // is in progress. No pointer is dereferenced here.
        unsafe {
            libc::syscall(
                nr,
                fd as L,
                iov,
                cnt as L,
                offset as L,
                (offset >> 32) as L,
                flags as L,
            )
        }
    };
    match check(call(fd, iov, cnt, offset, flags)) {
        // The probe: a transfer of nothing on no descriptor, `EBADF` unless
        // the call itself is refused.
        Err(libc::EPERM | libc::ENOSYS)
            if denial.denied(|| call(-1, std::ptr::null(), 0, 0, 0)) =>
        {
            rw_plain(nr == libc::SYS_preadv2, fd, iov, cnt, offset, flags)
        }
        r => r,
    }
}

/// A transfer without `preadv2`/`pwritev2`: `pread64`/`pwrite64` (`read`/
/// `write` at the file position) for one buffer, as glibc's AIO makes it,
/// the vectored calls for more. With `RWF_NOWAIT`, the answer of a file that
/// refuses it (`EOPNOTSUPP`): the request takes the path of one.
fn rw_plain(
    read: bool,
    fd: i32,
    iov: *const libc::iovec,
    cnt: usize,
    offset: i64,
    flags: i32,
) -> Result<usize, i32> {
    if flags & RWF_NOWAIT != 0 {
        return Err(libc::EOPNOTSUPP);
    }
    // SAFETY: as for `rw2`; `iov` holds `cnt` iovecs (the first read only
    // when `cnt` is 1, by the caller's contract).
    let r = unsafe {
        if cnt == 1 {
            let v = *iov;
            match (read, offset < 0) {
                (true, true) => libc::syscall(libc::SYS_read, fd as L, v.iov_base, v.iov_len as L),
                (true, false) => libc::syscall(
                    libc::SYS_pread64,
                    fd as L,
                    v.iov_base,
                    v.iov_len as L,
                    offset as L,
                ),
                (false, true) => {
                    libc::syscall(libc::SYS_write, fd as L, v.iov_base, v.iov_len as L)
                }
                (false, false) => libc::syscall(
                    libc::SYS_pwrite64,
                    fd as L,
                    v.iov_base,
                    v.iov_len as L,
                    offset as L,
                ),
            }
        } else {
            match (read, offset < 0) {
                (true, true) => libc::syscall(libc::SYS_readv, fd as L, iov, cnt as L),
                (true, false) => libc::syscall(
                    libc::SYS_preadv,
                    fd as L,
                    iov,
                    cnt as L,
                    offset as L,
                    (offset >> 32) as L,
                ),
                (false, true) => libc::syscall(libc::SYS_writev, fd as L, iov, cnt as L),
                (false, false) => libc::syscall(
                    libc::SYS_pwritev,
                    fd as L,
                    iov,
                    cnt as L,
                    offset as L,
                    (offset >> 32) as L,
                ),
            }
        }
    };
    check(r)
}

/// `preadv2` over an iovec array.
#[allow(clippy::not_unsafe_ptr_arg_deref)] // only the kernel reads `iov`
pub fn preadv(
    fd: i32,
    iov: *const libc::iovec,
    cnt: usize,
    offset: i64,
    flags: i32,
) -> Result<usize, i32> {
    rw2(libc::SYS_preadv2, fd, iov, cnt, offset, flags)
}

/// `pwritev2` over an iovec array.
#[allow(clippy::not_unsafe_ptr_arg_deref)] // only the kernel reads `iov`
pub fn pwritev(
    fd: i32,
    iov: *const libc::iovec,
    cnt: usize,
    offset: i64,
    flags: i32,
) -> Result<usize, i32> {
    rw2(libc::SYS_pwritev2, fd, iov, cnt, offset, flags)
}

fn one(buf: usize, len: usize) -> libc::iovec {
    libc::iovec {
        iov_base: buf as *mut libc::c_void,
        iov_len: len,
    }
}

/// `preadv2` of one contiguous buffer; of none, the plain call (see
/// [`empty`]).
pub fn pread(fd: i32, buf: usize, len: usize, offset: i64, flags: i32) -> Result<usize, i32> {
    if len == 0 {
        return empty(libc::SYS_read, libc::SYS_pread64, fd, buf, offset);
    }
    preadv(fd, &one(buf, len), 1, offset, flags)
}

/// `pwritev2` of one contiguous buffer; of none, the plain call (see
/// [`empty`]).
pub fn pwrite(fd: i32, buf: usize, len: usize, offset: i64, flags: i32) -> Result<usize, i32> {
    if len == 0 {
        return empty(libc::SYS_write, libc::SYS_pwrite64, fd, buf, offset);
    }
    pwritev(fd, &one(buf, len), 1, offset, flags)
}

/// A transfer of 0 bytes, as glibc makes it: `read`/`write` at the current
/// position (`offset` -1), `pread64`/`pwrite64` at an offset. The vectored
/// calls return 0 for an empty transfer before the file has a say, where
/// these give the file's answer: `EISDIR` for a directory, `EINVAL` for an
/// eventfd, `EBADF` for the wrong direction, and an empty datagram sent on
/// a datagram or seqpacket socket. Nothing to copy: it cannot wait long.
fn empty(
    stream: libc::c_long,
    at: libc::c_long,
    fd: i32,
    buf: usize,
    offset: i64,
) -> Result<usize, i32> {
    // SAFETY: a transfer of 0 bytes touches no memory.
    check(unsafe {
        if offset < 0 {
            libc::syscall(stream, fd as libc::c_long, buf, 0 as libc::c_long)
        } else {
            libc::syscall(
                at,
                fd as libc::c_long,
                buf,
                0 as libc::c_long,
                offset as libc::c_long,
            )
        }
    })
}

/// Would the kernel take `len` bytes at `buf` for a transfer at all, as
/// `pread`/`pwrite` check the whole range before they move a byte (the
/// vectored calls check only what they will move, at most 2 GiB)? Asked of
/// `/dev/null`, which moves nothing: a range reaching past the end of the
/// address space is refused (`EFAULT`) there too. True when it cannot be
/// told (no `/dev/null`).
pub fn user_range_ok(buf: usize, len: usize, written_into: bool) -> bool {
    let Some(end) = buf.checked_add(len) else {
        return false;
    };
    // Below the smallest end of user space x86_64 has (4-level paging),
    // the kernel's check passes: no system call for an ordinary buffer.
    #[cfg(target_arch = "x86_64")]
    if end <= 0x7fff_ffff_f000 {
        return true;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = end;
    // SAFETY: a NUL-terminated path; the kernel directly (`open` is a
    // cancellation point in the C library).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as libc::c_long,
            c"/dev/null".as_ptr(),
            (libc::O_RDWR | libc::O_CLOEXEC) as libc::c_long,
        )
    };
    if fd < 0 {
        return true;
    }
    // SAFETY: /dev/null reads nothing into `buf` and writes nothing from it;
    // the kernel only checks the range.
    let r = unsafe {
        let nr = if written_into {
            libc::SYS_pread64
        } else {
            libc::SYS_pwrite64
        };
        libc::syscall(nr, fd, buf, len, 0 as libc::c_long)
    };
    let refused = r < 0 && unsafe { *libc::__errno_location() } == libc::EFAULT;
    close(fd as i32);
    !refused
}

/// Does a transfer on socket `fd` in direction `read` need a blocking call
/// to behave as glibc's: a receive (`SO_RCVTIMEO`) or send (`SO_SNDTIMEO`)
/// timeout, which readiness polling never honours (glibc's blocking call
/// fails with `EAGAIN`, or returns what it sent, when it runs out).
pub fn socket_times_out(fd: i32, read: bool) -> bool {
    let opt = if read {
        libc::SO_RCVTIMEO
    } else {
        libc::SO_SNDTIMEO
    };
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into a local timeval.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            &mut tv as *mut libc::timeval as *mut libc::c_void,
            &mut len,
        )
    };
    r == 0 && (tv.tv_sec != 0 || tv.tv_usec != 0)
}

/// Copy `out.len()` iovecs from `addr` in this process through the kernel, so
/// that a bad pointer from the caller gives `EFAULT` instead of a crash.
pub fn copy_iovecs(addr: usize, out: &mut [libc::iovec]) -> Result<(), i32> {
    let bytes = std::mem::size_of_val(out);
    let local = libc::iovec {
        iov_base: out.as_mut_ptr() as *mut libc::c_void,
        iov_len: bytes,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: bytes,
    };
    // SAFETY: `local` covers `out`; the remote range is read by the kernel,
    // which reports a bad address as EFAULT.
    let r = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    match check(r as libc::c_long) {
        Ok(n) if n == bytes => Ok(()),
        Ok(_) => Err(libc::EFAULT),
        Err(e) => Err(e),
    }
}

pub fn fsync(fd: i32, data_only: bool) -> Result<usize, i32> {
    let nr = if data_only {
        libc::SYS_fdatasync
    } else {
        libc::SYS_fsync
    };
    // SAFETY: a plain syscall on an integer descriptor.
    check(unsafe { libc::syscall(nr, fd as libc::c_long) })
}

/// `fcntl` as the system call, with an integer argument: not through the
/// program's `fcntl`, which is paio's own (`capi::interpose`).
pub fn fcntl_int(fd: i32, cmd: i32, arg: usize) -> Result<i32, i32> {
    // SAFETY: the commands paio makes take an integer, or no argument.
    check(unsafe { libc::syscall(libc::SYS_fcntl, fd as L, cmd as L, arg) }).map(|v| v as i32)
}

/// File status flags (`O_APPEND`, `O_DIRECT`, access mode), or `EBADF`.
pub fn status_flags(fd: i32) -> Result<i32, i32> {
    fcntl_int(fd, libc::F_GETFL, 0)
}

/// A close-on-exec duplicate at or above `min`, so that paio's references do not
/// take the low numbers a program expects `open` to return.
pub fn dup_high(fd: i32, min: i32) -> Result<i32, i32> {
    match fcntl_int(fd, libc::F_DUPFD_CLOEXEC, min as usize) {
        Ok(v) => Ok(v),
        // The preferred range is full or beyond the limit: any number will
        // do, above the standard streams if one is free there.
        Err(libc::EINVAL) | Err(libc::EMFILE) if min > 3 => dup_high(fd, 3),
        Err(libc::EINVAL) | Err(libc::EMFILE) if min > 0 => dup_high(fd, 0),
        Err(e) => Err(e),
    }
}

/// Set while paio lifts the soft `RLIMIT_NOFILE` for a moment
/// ([`dup_above_limit`]), and while the program changes that limit itself
/// (`capi::interpose`), so that neither undoes the other.
static NOFILE_WINDOW: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The soft limit [`dup_above_limit`] lifted and is about to put back
/// (`u64::MAX` outside that moment), for a child forked during it.
static LIFTED_FROM: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// The moment of [`NOFILE_WINDOW`], ended on drop.
pub struct NofileWindow(());

impl Drop for NofileWindow {
    fn drop(&mut self) {
        NOFILE_WINDOW.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Enter the moment of [`NOFILE_WINDOW`], waiting while another thread is
/// in it (a few microseconds); with `patience`, `None` after that long (a
/// signal handler whose own thread it interrupted inside the moment).
pub fn nofile_window(patience: Option<std::time::Duration>) -> Option<NofileWindow> {
    use std::sync::atomic::Ordering::{Acquire, Relaxed};
    let start = std::time::Instant::now();
    while NOFILE_WINDOW
        .compare_exchange(false, true, Acquire, Relaxed)
        .is_err()
    {
        if patience.is_some_and(|p| start.elapsed() >= p) {
            return None;
        }
        std::thread::yield_now();
    }
    Some(NofileWindow(()))
}

/// In a forked child: a moment of [`NOFILE_WINDOW`] in progress at the fork
/// belongs to a thread that does not exist here. Its lifted limit is put
/// back and the moment ended.
pub fn nofile_after_fork() {
    use std::sync::atomic::Ordering::{Relaxed, Release};
    let old = LIFTED_FROM.swap(u64::MAX, Relaxed);
    if old != u64::MAX {
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if nofile(None, Some(&mut now)).is_ok() {
            let back = libc::rlimit {
                rlim_cur: old.min(now.rlim_max),
                rlim_max: now.rlim_max,
            };
            let _ = nofile(Some(&back), None);
        }
    }
    NOFILE_WINDOW.store(false, Release);
}

fn nofile(new: Option<&libc::rlimit>, old: Option<&mut libc::rlimit>) -> Result<(), i32> {
    let new = new.map_or(std::ptr::null(), |r| r as *const libc::rlimit);
    let old = old.map_or(std::ptr::null_mut(), |r| r as *mut libc::rlimit);
    // SAFETY: prlimit64 on this process; `new` is NULL or readable, `old`
    // NULL or writable. The kernel directly: paio defines `prlimit`.
    check(unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0 as libc::c_long,
            libc::RLIMIT_NOFILE as libc::c_long,
            new,
            old,
        )
    })
    .map(|_| ())
}

/// The hard `RLIMIT_NOFILE` as last read (0: not read yet), and whether the
/// soft one was below it then. Read when the engine starts and when the
/// program changes the limit (`capi::interpose`); a change made behind
/// paio's back (another process, a raw system call) costs at most one
/// refused lift before they are read again ([`dup_above_limit`]).
static NOFILE_HARD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static NOFILE_ROOM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Read `RLIMIT_NOFILE` again.
pub fn refresh_nofile_limit() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if nofile(None, Some(&mut now)).is_ok() {
        NOFILE_HARD.store(now.rlim_max, Relaxed);
        NOFILE_ROOM.store(now.rlim_cur < now.rlim_max, Relaxed);
    }
}

/// A close-on-exec duplicate of `fd` numbered at or above the program's
/// soft `RLIMIT_NOFILE`, out of the range the program's own `open`,
/// `socket` and `accept` take numbers from: paio's reference then never
/// makes them fail with `EMFILE` where they would succeed on glibc. The soft
/// limit is lifted to the hard one for the `fcntl` and put back at once (a
/// few microseconds; two `prlimit64`: the lift returns the limit it
/// replaced). `Err` where the hard limit leaves no room (or the numbers
/// above are all taken): the caller duplicates below it.
pub fn dup_above_limit(fd: i32) -> Result<i32, i32> {
    use std::sync::atomic::Ordering::Relaxed;
    if !NOFILE_ROOM.load(Relaxed) {
        return Err(libc::EMFILE);
    }
    let _window = nofile_window(None);
    if NOFILE_HARD.load(Relaxed) == 0 {
        refresh_nofile_limit();
    }
    let hard = NOFILE_HARD.load(Relaxed);
    let lifted = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if let Err(e) = nofile(Some(&lifted), Some(&mut old)) {
        // The hard limit was lowered behind paio's back (raising it back
        // is refused): read it again for the next time.
        refresh_nofile_limit();
        return Err(e);
    }
    if old.rlim_cur >= hard || old.rlim_cur >= i32::MAX as u64 {
        if old.rlim_cur != lifted.rlim_cur || old.rlim_max != lifted.rlim_max {
            let _ = nofile(Some(&old), None);
        }
        refresh_nofile_limit();
        return Err(libc::EMFILE);
    }
    LIFTED_FROM.store(old.rlim_cur, Relaxed);
    let r = fcntl_int(fd, libc::F_DUPFD_CLOEXEC, old.rlim_cur as usize);
    // Cannot fail: the limit it had (its hard one raised back, if the
    // cached one was lower, only where that was allowed to lower it).
    let _ = nofile(Some(&old), None);
    LIFTED_FROM.store(u64::MAX, Relaxed);
    r
}

/// A close-on-exec duplicate of `fd` out of the program's way: above its
/// soft descriptor limit ([`dup_above_limit`]), else at or above `floor`
/// ([`dup_high`]).
pub fn dup_aside(fd: i32, floor: i32) -> Result<i32, i32> {
    dup_above_limit(fd).or_else(|_| dup_high(fd, floor))
}

static PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// This process's id, asked of the kernel once (and again after a fork).
pub fn pid() -> i32 {
    use std::sync::atomic::Ordering::Relaxed;
    match PID.load(Relaxed) {
        0 => {
            // SAFETY: getpid cannot fail.
            let p = unsafe { libc::getpid() };
            PID.store(p, Relaxed);
            p
        }
        p => p,
    }
}

/// In a forked child: the id [`pid`] remembered is the parent's.
pub fn forget_pid() {
    PID.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// `kcmp(KCMP_FILE)`: do two descriptors of this process share one open
/// file description? `Err` where the kernel lacks kcmp or a policy denies it.
pub fn same_file(a: i32, b: i32) -> Result<bool, i32> {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp takes integers only.
    let r = unsafe {
        let pid = pid() as libc::c_long;
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            a as libc::c_long,
            b as libc::c_long,
        )
    };
    check(r).map(|v| v == 0)
}

pub fn close(fd: i32) {
    // SAFETY: closing a descriptor paio itself created and still owns.
    unsafe { libc::syscall(libc::SYS_close, fd as libc::c_long) };
}

/// Is this a seekable file? Regular files and block devices are; pipes,
/// sockets and terminals are not.
/// A cheap clock for telling a page-cache copy from a device wait: the time
/// stamp counter where there is one.
#[cfg(target_arch = "x86_64")]
pub fn ticks() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Ticks of [`ticks`] longer than any page-cache copy of a request that
/// completes inline, and shorter than a device read (about 30-100 µs).
#[cfg(target_arch = "x86_64")]
pub const DEVICE_TICKS: u64 = 100_000;

/// A cheap clock for telling a page-cache copy from a device wait
/// (nanoseconds of the vDSO's monotonic clock).
#[cfg(not(target_arch = "x86_64"))]
pub fn ticks() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(not(target_arch = "x86_64"))]
pub const DEVICE_TICKS: u64 = 30_000;

/// `readahead(2)`: queue the reads of a file range into the page cache and
/// return without waiting for them.
pub fn readahead(fd: i32, offset: i64, len: usize) -> Result<(), i32> {
    // SAFETY: readahead takes integers only.
    check(unsafe { libc::readahead(fd, offset, len) } as libc::c_long).map(|_| ())
}

/// What the filesystem of a file is, for the paths that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filesystem {
    /// tmpfs, ramfs: files kept in memory only, no transfer waits for a disk.
    Memory,
    /// overlayfs (every container's root): reads go to the page cache of the
    /// file below, but `RWF_NOWAIT` is refused.
    Overlay,
    /// FUSE (and fuseblk): every close of a descriptor of a file there is a
    /// request to its server (`FLUSH`), which some servers take for the
    /// file's close.
    Fuse,
    Other,
}

/// The filesystem of the file behind `fd` (`fstatfs`).
pub fn filesystem(fd: i32) -> Filesystem {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
    const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;
    // SAFETY: fstatfs writes into a local struct of the right type.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `st` outlives the call.
    if unsafe { libc::fstatfs(fd, &mut st) } != 0 {
        return Filesystem::Other;
    }
    match st.f_type as i64 {
        TMPFS_MAGIC | RAMFS_MAGIC => Filesystem::Memory,
        OVERLAYFS_SUPER_MAGIC => Filesystem::Overlay,
        FUSE_SUPER_MAGIC => Filesystem::Fuse,
        _ => Filesystem::Other,
    }
}

/// `AT_STATX_DONT_SYNC`: what the kernel has, without asking a network or
/// FUSE filesystem's server (identity never changes under an open file).
const AT_STATX_DONT_SYNC: libc::c_int = 0x4000;

/// The kind (`S_IFMT` bits) and identity of the file behind `fd`: a 54-bit
/// digest of its kind, device, inode number and birth time, never 0. A
/// filesystem reuses the inode number of a deleted file at once; the birth
/// time (where the filesystem keeps one) and the kind tell the new file from
/// the old. A digest collision is 2^-54 per pair.
pub fn file_identity(fd: i32) -> Result<(u32, u64), i32> {
    // SAFETY: statx writes into a local struct of the right type; the empty
    // path with AT_EMPTY_PATH names `fd` itself.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
            libc::STATX_TYPE | libc::STATX_INO | libc::STATX_BTIME,
            &mut sx,
        )
    };
    let (kind, dev, ino, born) = if r == 0 {
        let born = if sx.stx_mask & libc::STATX_BTIME != 0 {
            (sx.stx_btime.tv_sec as u64) << 30 ^ sx.stx_btime.tv_nsec as u64
        } else {
            0
        };
        let dev = (sx.stx_dev_major as u64) << 32 | sx.stx_dev_minor as u64;
        (sx.stx_mode as u32 & libc::S_IFMT, dev, sx.stx_ino, born)
    } else {
        // No statx (an old kernel or a seccomp policy): fstat.
        // SAFETY: fstat writes into a local struct of the right type.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `st` outlives the call.
        check(unsafe { libc::fstat(fd, &mut st) } as libc::c_long)?;
        (
            st.st_mode & libc::S_IFMT,
            st.st_dev as u64,
            st.st_ino as u64,
            0,
        )
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in [kind as u64, dev, ino, born] {
        h = (h ^ word)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(23);
    }
    // 54 bits: the hints word keeps 10 bits beside it.
    Ok((kind, (h >> 10).max(1)))
}

/// Wait while `*word == expected`, until woken, a signal, or the absolute
/// CLOCK_MONOTONIC `deadline`. Returns `Err(ETIMEDOUT | EINTR | EAGAIN)`.
pub fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&libc::timespec>,
) -> Result<(), i32> {
    let ts = deadline.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live atomic for the duration of the call; the kernel
    // only reads it. FUTEX_WAIT_BITSET takes an absolute monotonic timeout.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            (libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG) as L,
            expected as L,
            ts,
            std::ptr::null::<u32>(),
            u32::MAX as L,
        )
    };
    check(r).map(|_| ())
}

pub fn futex_wake(word: &AtomicU32, count: i32) {
    // SAFETY: wakes waiters on an address; no memory is accessed by the kernel.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as L,
            count as L,
        );
    }
}

pub fn monotonic_now() -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts
}

/// `now + rel`, normalised.
pub fn deadline_after(rel: &libc::timespec) -> libc::timespec {
    let now = monotonic_now();
    let mut sec = now.tv_sec.saturating_add(rel.tv_sec);
    let mut nsec = now.tv_nsec + rel.tv_nsec;
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

/// Time left until the absolute CLOCK_MONOTONIC `deadline`, as a relative
/// timespec; `None` once it has passed.
/// The calling thread's id.
pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// The CPU time of thread `tid` of this process, in nanoseconds (its
/// per-thread CPU clock; `None` once it has exited).
pub fn thread_cpu_ns(tid: i32) -> Option<i64> {
    // The kernel's encoding of a per-thread CPU-time clock id: the thread
    // id, complemented and shifted, with "per thread" (4) and "sched" (2).
    let clock = ((!tid) << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into a local timespec.
    let r = unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) };
    (r == 0).then_some(ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
}

/// `CLOCK_MONOTONIC` in nanoseconds (the vDSO: no system call).
pub fn monotonic_ns() -> i64 {
    let t = monotonic_now();
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Sleep for `rel` (signals of the program are blocked on paio's threads,
/// so an interrupted sleep is only cut short).
pub fn sleep(rel: &libc::timespec) {
    // SAFETY: a relative sleep on a live timespec; the remainder is not wanted.
    unsafe {
        libc::syscall(
            libc::SYS_clock_nanosleep,
            libc::CLOCK_MONOTONIC as libc::c_long,
            0 as libc::c_long,
            rel as *const libc::timespec,
            std::ptr::null_mut::<libc::timespec>(),
        )
    };
}

pub fn remaining(deadline: &libc::timespec) -> Option<libc::timespec> {
    let now = monotonic_now();
    let mut sec = deadline.tv_sec - now.tv_sec;
    let mut nsec = deadline.tv_nsec - now.tv_nsec;
    if nsec < 0 {
        nsec += 1_000_000_000;
        sec -= 1;
    }
    (sec > 0 || (sec == 0 && nsec > 0)).then_some(libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    })
}

extern "C" {
    fn pthread_testcancel();
    fn pthread_setcancelstate(state: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
    fn pthread_setcanceltype(kind: libc::c_int, old: *mut libc::c_int) -> libc::c_int;
}

/// glibc's `PTHREAD_CANCEL_ENABLE` and `PTHREAD_CANCEL_DEFERRED`.
const PTHREAD_CANCEL_ENABLE: libc::c_int = 0;
const PTHREAD_CANCEL_DISABLE: libc::c_int = 1;
const PTHREAD_CANCEL_DEFERRED: libc::c_int = 0;

/// `RLIMIT_FSIZE`'s soft limit as last read, `u64::MAX` for none. A write
/// that starts at or past it fails with `EFBIG` and raises `SIGXFSZ` in the
/// writing thread, which kills by default; glibc writes from a helper thread
/// that blocks every signal, so a program sees only `EFBIG`. paio writes in
/// the program's thread only where no signal can come.
static FILE_SIZE_LIMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// Read `RLIMIT_FSIZE` again: when the engine starts, and when the program
/// changes it (`capi::interpose`).
pub fn refresh_file_size_limit() {
    let mut rl = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit writes into a local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut rl) };
    let limit = if rl.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        rl.rlim_cur
    };
    FILE_SIZE_LIMIT.store(limit, std::sync::atomic::Ordering::Relaxed);
}

/// Could a write of a regular file at `offset` (or, `append`, at its end)
/// raise `SIGXFSZ`? Only under a finite `RLIMIT_FSIZE`.
pub fn write_may_raise_sigxfsz(offset: i64, append: bool) -> bool {
    let limit = FILE_SIZE_LIMIT.load(std::sync::atomic::Ordering::Relaxed);
    limit != u64::MAX && (append || offset as u64 >= limit)
}

/// `write` (a transfer to a pipe or a socket) with `SIGPIPE` blocked in
/// this thread, and the `SIGPIPE` it raised taken back: a reader that went
/// away must give the program `EPIPE`, as glibc's helper thread (every
/// signal blocked) gives it, not kill it. A `SIGPIPE` the program had
/// pending before is left alone.
pub fn without_sigpipe(write: impl FnOnce() -> Result<usize, i32>) -> Result<usize, i32> {
    // SAFETY: plain signal-set manipulation on locals.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        let blocked = libc::sigismember(&old, libc::SIGPIPE) == 1;
        let pending_before = blocked && {
            let mut p: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut p);
            libc::sigismember(&p, libc::SIGPIPE) == 1
        };
        let r = write();
        if r == Err(libc::EPIPE) && !pending_before {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                &pipe as *const libc::sigset_t,
                std::ptr::null_mut::<libc::siginfo_t>(),
                &zero as *const libc::timespec,
                8 as libc::c_long,
            );
        }
        if !blocked {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
        r
    }
}

/// Cancellation disabled for the calling thread; the state it had, for
/// [`restore_cancel`].
pub fn disable_cancel() -> libc::c_int {
    let mut old = PTHREAD_CANCEL_ENABLE;
    // SAFETY: a plain call on the calling thread, with a local for the old value.
    unsafe { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut old) };
    old
}

pub fn restore_cancel(old: libc::c_int) {
    let mut was = 0;
    // SAFETY: as above.
    unsafe { pthread_setcancelstate(old, &mut was) };
}

/// Cancellation enabled and deferred, as a new thread has it.
pub fn fresh_cancel_state() {
    let mut old = 0;
    // SAFETY: plain calls on the calling thread, with a local for the old value.
    unsafe {
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &mut old);
        pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &mut old);
    }
}

/// glibc's `LC_GLOBAL_LOCALE`.
const LC_GLOBAL_LOCALE: libc::locale_t = -1isize as libc::locale_t;

/// Before a `SIGEV_THREAD` callback: the state glibc's new thread per
/// callback starts with, where a callback may have changed it for the
/// thread that runs the next one (a notifier that ends after its callback
/// starts the next notifier, which inherits its floating-point registers):
/// - cancellation enabled and deferred ([`fresh_cancel_state`]);
/// - the default floating-point environment: rounding to nearest, no
///   exception trapped, no flag raised, no flush-to-zero (a callback that
///   enabled a trap made a later one die of `SIGFPE`);
/// - the global locale, not one a callback set with `uselocale`;
/// - no alternate signal stack (one a callback set up in its own frame
///   would be gone).
///
/// `__thread` and `pthread_setspecific` values need nothing here: each
/// callback has a thread of its own (`Serve::thread_per_item`).
pub fn fresh_thread_state() {
    fresh_cancel_state();
    default_float_environment();
    // SAFETY: uselocale with 0 only asks; with LC_GLOBAL_LOCALE it sets the
    // calling thread back to the global locale.
    unsafe {
        if libc::uselocale(std::ptr::null_mut()) != LC_GLOBAL_LOCALE {
            libc::uselocale(LC_GLOBAL_LOCALE);
        }
    }
    let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigaltstack with a NULL new stack only reports the current
    // one into a local; the second call only disables it.
    unsafe {
        if libc::sigaltstack(std::ptr::null(), &mut old) == 0
            && old.ss_flags & libc::SS_DISABLE == 0
        {
            let off = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            libc::sigaltstack(&off, std::ptr::null_mut());
        }
    }
}

/// The floating-point environment a new process starts with (`FE_DFL_ENV`),
/// set without `libm`: x87 control word 0x037f, MXCSR 0x1f80.
#[cfg(target_arch = "x86_64")]
fn default_float_environment() {
    let mxcsr: u32 = 0x1f80;
    // SAFETY: fninit resets the x87 unit (paio's code keeps no x87 value
    // across this point); ldmxcsr loads the default SSE control and status.
    unsafe {
        std::arch::asm!("fninit", "ldmxcsr [{0}]", in(reg) &mxcsr, options(nostack));
    }
}

/// The floating-point environment a new process starts with: FPCR and FPSR 0.
#[cfg(target_arch = "aarch64")]
fn default_float_environment() {
    // SAFETY: writes the floating-point control and status registers only.
    unsafe {
        std::arch::asm!("msr fpcr, xzr", "msr fpsr, xzr", options(nostack, nomem));
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn default_float_environment() {}

/// Name the calling thread (at most 15 bytes are kept).
pub fn name_thread(name: &str) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: a NUL-terminated name of at most 16 bytes, for this thread.
    unsafe { libc::pthread_setname_np(libc::pthread_self(), buf.as_ptr().cast()) };
}

/// A cancellation point: if this thread was cancelled (and cancellation is
/// enabled), the C library unwinds it from here and it never returns. The
/// caller and every frame above it up to the C boundary must hold no value
/// with a destructor (Rust skips no destructor only in such frames) and
/// nothing of paio's shared state.
pub fn cancellation_point() {
    // SAFETY: no arguments; see above for what the unwinding requires.
    unsafe { pthread_testcancel() };
}

/// A non-blocking eventfd of paio's own, numbered out of the program's way
/// ([`dup_aside`]; `min` 0: wherever the kernel puts it).
pub fn eventfd(min: i32) -> Result<i32, i32> {
    // SAFETY: plain syscall with flags.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    let fd = check(fd as libc::c_long)? as i32;
    if min <= 0 {
        return Ok(fd);
    }
    let aside = dup_aside(fd, min);
    close(fd);
    aside
}

/// Wait until `fd` is readable, a signal arrives (`EINTR`, only when a
/// handler ran), or `timeout` (relative) passes. True when readable.
pub fn poll_in(fd: i32, timeout: Option<&libc::timespec>) -> Result<bool, i32> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // The kernel writes the time left into the timeout: a copy.
    let mut local = timeout.copied();
    let ts = local
        .as_mut()
        .map_or(std::ptr::null_mut(), |t| t as *mut libc::timespec);
    static PPOLL: Denial = Denial::new();
    let ppoll = |p: *mut libc::pollfd, n: L, ts: *mut libc::timespec| {
        // SAFETY: `n` live pollfds at `p`; `ts` is NULL or a live local
        // timespec; no mask.
        unsafe {
            libc::syscall(
                libc::SYS_ppoll,
                p,
                n,
                ts,
                std::ptr::null::<libc::sigset_t>(),
                8 as L,
            )
        }
    };
    if !PPOLL.known() {
        match check(ppoll(&mut p, 1, ts)) {
            Err(libc::EPERM | libc::ENOSYS)
                if PPOLL.denied(|| {
                    let mut zero = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    ppoll(std::ptr::null_mut(), 0, &mut zero)
                }) => {}
            r => return r.map(|n| n > 0),
        }
    }
    // A filter denies `ppoll`: `poll` (x86_64; other architectures have
    // only `ppoll`), in whole milliseconds rounded up; where that is denied
    // too, or absent, a millisecond's nap, answered as a timeout (the
    // callers look again, and a sleeper's own nap bounds it).
    #[cfg(target_arch = "x86_64")]
    {
        let ms = timeout.map_or(-1, |t| {
            let ms =
                t.tv_sec.max(0).saturating_mul(1000) + (t.tv_nsec.max(0) + 999_999) / 1_000_000;
            ms.min(i32::MAX as L)
        });
        // SAFETY: one live pollfd.
        let r = unsafe { libc::syscall(libc::SYS_poll, &mut p as *mut libc::pollfd, 1 as L, ms) };
        match check(r) {
            Err(libc::EPERM | libc::ENOSYS) => {}
            r => return r.map(|n| n > 0),
        }
    }
    let nap = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    let nap = match timeout {
        Some(t) if (t.tv_sec, t.tv_nsec) < (nap.tv_sec, nap.tv_nsec) => *t,
        _ => nap,
    };
    sleep(&nap);
    Ok(false)
}

/// Add one to an eventfd (wakes its pollers).
pub fn eventfd_signal(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a local.
    unsafe {
        libc::syscall(
            libc::SYS_write,
            fd as libc::c_long,
            &one as *const u64,
            8 as libc::c_long,
        )
    };
}

/// Reset an eventfd of paio's own to zero.
pub fn eventfd_drain(fd: i32) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a local; the descriptor is non-blocking.
    unsafe {
        libc::syscall(
            libc::SYS_read,
            fd as libc::c_long,
            &mut v as *mut u64,
            8 as libc::c_long,
        )
    };
}

/// Queue `signo` with `si_code = SI_ASYNCIO` and `value` to this process, or,
/// with `tid`, to that thread of it.
pub fn queue_signal(signo: i32, value: usize, tid: Option<i32>) -> Result<(), i32> {
    // SAFETY: siginfo_t is plain data; we fill the rt fields by hand below.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    info.si_signo = signo;
    info.si_code = SI_ASYNCIO;
    // SAFETY: getpid/getuid cannot fail.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    // The `_rt` member of the union: si_pid at 16, si_uid at 20, si_value at 24.
    let raw = &mut info as *mut libc::siginfo_t as *mut u8;
    // SAFETY: these offsets lie inside the 128-byte siginfo_t (x86_64 layout).
    unsafe {
        (raw.add(16) as *mut i32).write(pid);
        (raw.add(20) as *mut u32).write(uid);
        (raw.add(24) as *mut usize).write_unaligned(value);
    }
    // SAFETY: `info` is a valid siginfo_t for the duration of the call.
    let r = unsafe {
        match tid {
            None => libc::syscall(libc::SYS_rt_sigqueueinfo, pid as L, signo as L, &info),
            Some(t) => libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid as L,
                t as L,
                signo as L,
                &info,
            ),
        }
    };
    check(r).map(|_| ())
}

/// Block every signal in the calling thread; returns the previous mask.
pub fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t values are initialised by sigfillset/pthread_sigmask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

pub fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` came from pthread_sigmask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

pub fn unblock_all_signals() {
    // SAFETY: an empty set built by sigemptyset.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory arguments.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}

pub fn current_cpu() -> usize {
    // SAFETY: glibc's sched_getcpu reads the vDSO; no arguments.
    let c = unsafe { libc::sched_getcpu() };
    if c < 0 {
        0
    } else {
        c as usize
    }
}
