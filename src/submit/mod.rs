//! Submission policy: validate the request the way glibc does, complete what
//! cannot block inside the call (`RWF_NOWAIT`), and queue the rest with its
//! own reference to the file, in order where order is required.
//!
//! Every path consumes the request's `lio_listio` group reference exactly
//! once: through [`Engine::complete`] or, on a synchronous refusal, here.

use std::sync::atomic::Ordering;

pub mod suspend;
pub mod user_faults;

use crate::engine::late;
use crate::engine::lio;
use crate::engine::Engine;
use crate::request::aiocb::{Aiocb, Notify, AIO_PRIO_DELTA_MAX};
use crate::request::fdstate::{
    FdState, Hints, HINT_APPEND, HINT_CHAR, HINT_DIRECT, HINT_FUSE, HINT_KERNEL_FILE, HINT_MEMORY,
    HINT_NO_NOWAIT_READ, HINT_NO_NOWAIT_WRITE, HINT_OVERLAY,
};
use crate::request::io;
use crate::request::slots::{self, Job, Lane, Op};
use crate::stats::Counter;
use crate::sys;

/// `AIO_CANCELED`, `AIO_NOTCANCELED`, `AIO_ALLDONE` of glibc's `<aio.h>`.
pub const AIO_CANCELED: i32 = 0;
pub const AIO_NOTCANCELED: i32 = 1;
pub const AIO_ALLDONE: i32 = 2;

/// Refuse synchronously: the aiocb shows the error too (as glibc leaves it),
/// so a program polling `aio_error` never waits on a request that never was.
fn refuse(engine: &'static Engine, cb: Aiocb, group: usize, err: i32) -> Result<(), i32> {
    cb.publish(Err(err), 0);
    if group != 0 {
        lio::member_done(engine, group, true);
    }
    Err(err)
}

/// Refuse a request already counted in `requests`: it counts as done too,
/// so that `requests - done` stays the number in flight.
fn refuse_counted(engine: &'static Engine, cb: Aiocb, group: usize, err: i32) -> Result<(), i32> {
    engine.stats.add(Counter::Done, 1);
    refuse(engine, cb, group, err)
}

/// The checks glibc makes before queueing anything, and the notification.
fn validate(cb: Aiocb) -> Result<Notify, i32> {
    if !(0..=AIO_PRIO_DELTA_MAX).contains(&cb.reqprio()) {
        return Err(libc::EINVAL);
    }
    Notify::from_raw(&cb.sigevent())
        .filter(Notify::is_valid)
        .ok_or(libc::EINVAL)
}

/// A `SIGEV_THREAD` notification without attributes needs a notifier
/// thread; glibc starts its thread when the request is submitted and
/// refuses the request with `EAGAIN` when it cannot (a pids cgroup at its
/// limit, say). paio asks for one at the same moment, before any transfer:
/// a callback it could only run inside the submitting call would deadlock a
/// program that holds a lock its callback takes.
fn notifier_ready(engine: &'static Engine, n: &Notify) -> bool {
    match n {
        Notify::Thread { attributes: 0, .. } => engine.notifier_ready(),
        _ => true,
    }
}

/// `aio_read` / `aio_write` (and their `lio_listio` entries).
pub fn submit_rw(engine: &'static Engine, cb: Aiocb, op: Op, group: usize) -> Result<(), i32> {
    late::submitting(|| submit(engine, cb, op, false, group))
}

/// `aio_readv` / `aio_writev` (FreeBSD's): `aio_buf` is an iovec array and
/// `aio_nbytes` its count.
pub fn submit_vectored(
    engine: &'static Engine,
    cb: Aiocb,
    op: Op,
    group: usize,
) -> Result<(), i32> {
    late::submitting(|| submit(engine, cb, op, true, group))
}

/// The total length of a caller's iovec array, read through the kernel so a
/// bad pointer is `EFAULT`, not a crash.
fn iovec_total(addr: usize, cnt: usize) -> Result<usize, i32> {
    let mut chunk = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 64];
    let mut total: usize = 0;
    let mut at = 0;
    while at < cnt {
        let n = (cnt - at).min(chunk.len());
        let here = addr
            .checked_add(at * std::mem::size_of::<libc::iovec>())
            .ok_or(libc::EFAULT)?;
        match sys::copy_iovecs(here, &mut chunk[..n]) {
            Ok(()) => {}
            // No process_vm_readv here (seccomp): trust the caller's pointer.
            Err(libc::EPERM) | Err(libc::ENOSYS) if addr != 0 => {
                // SAFETY: the caller promises a readable iovec array of `cnt`.
                let user = unsafe { std::slice::from_raw_parts(here as *const libc::iovec, n) };
                chunk[..n].copy_from_slice(user);
            }
            Err(_) => return Err(libc::EFAULT),
        }
        for v in &chunk[..n] {
            total = total
                .checked_add(v.iov_len)
                .filter(|&t| t <= isize::MAX as usize)
                .ok_or(libc::EINVAL)?;
        }
        at += n;
    }
    Ok(total)
}

fn submit(
    engine: &'static Engine,
    cb: Aiocb,
    op: Op,
    vectored: bool,
    group: usize,
) -> Result<(), i32> {
    let notify = match validate(cb) {
        Ok(n) => n,
        Err(e) => return refuse(engine, cb, group, e),
    };
    if !notifier_ready(engine, &notify) {
        return refuse(engine, cb, group, libc::EAGAIN);
    }
    if vectored && (cb.nbytes() == 0 || cb.nbytes() > io::IOV_MAX) {
        return refuse(engine, cb, group, libc::EINVAL);
    }
    engine.stats.add(Counter::Requests, 1);
    engine.stats.add(
        if op == Op::Read {
            Counter::Read
        } else {
            Counter::Write
        },
        1,
    );
    let fd = cb.fd();
    let mut job = Job {
        aiocb: cb.addr(),
        op,
        fd,
        buf: cb.buf(),
        len: cb.nbytes(),
        offset: cb.offset(),
        notify,
        group,
        ..Job::EMPTY
    };
    job.report = engine.completions.enabled();
    if vectored {
        job.iovcnt = cb.nbytes() as u32;
        job.len = match iovec_total(cb.buf(), cb.nbytes()) {
            Ok(total) => total,
            Err(e) => return complete_inline(engine, job, Err(e)),
        };
    }
    // Asynchronous errors, as glibc reports them through aio_error.
    if job.len > isize::MAX as usize || job.offset < 0 {
        return complete_inline(engine, job, Err(libc::EINVAL));
    }
    // A buffer reaching past the end of the address space fails whole,
    // before any transfer, as glibc's `pread`/`pwrite` fail it; a transfer
    // in parts (the capped inline attempt, then the pool) would fill the
    // memory up to the first unmapped page and report that much. Asked of
    // the kernel only for lengths above the inline cap: shorter ones are
    // checked whole by the first transfer.
    if !vectored
        && job.len > engine.config.inline_max
        && !sys::user_range_ok(job.buf, job.len, op == Op::Read)
    {
        return complete_inline(engine, job, Err(libc::EFAULT));
    }
    if user_faults::may_fault(job.buf, job.len, job.iovcnt) {
        // The program serves this buffer's faults: only a worker touches it.
        job.faults = true;
        return enqueue(engine, cb, job, None);
    }
    if !engine.inline {
        return enqueue(engine, cb, job, None);
    }
    let st = engine.fds.get(fd);
    let mut hints = match st.hints(fd) {
        Ok(h) => h,
        Err(e) => return complete_inline(engine, job, Err(e)),
    };
    if hints.has(HINT_DIRECT) {
        // The program's descriptor goes to the kernel as it is: the number
        // must still name the file the hint was learnt from (one statx).
        hints = match st.confirm(fd) {
            Ok(h) => h,
            Err(e) => return complete_inline(engine, job, Err(e)),
        };
    }
    if op == Op::Write && sys::write_may_raise_sigxfsz(job.offset, hints.has(HINT_APPEND)) {
        // At or past `RLIMIT_FSIZE`: the write fails with `EFBIG` and raises
        // `SIGXFSZ` in the writing thread; a worker (every signal blocked)
        // writes it, as glibc's helper thread does.
        return enqueue(engine, cb, job, None);
    }
    if hints.has(HINT_DIRECT) && hints.has(HINT_KERNEL_FILE) {
        // O_DIRECT: a non-blocking attempt here would wait for the device.
        // Truly asynchronous in the kernel; otherwise (no kernel AIO, or
        // O_APPEND, which needs the ordered lane) on the pool.
        if hints.has(HINT_APPEND) || !engine.in_kernel() {
            return enqueue(engine, cb, job, None);
        }
        job.direct = true;
        if !engine.backend.ready(engine, &job) {
            return refuse_counted(engine, cb, job.group, libc::EAGAIN);
        }
        if !engine.in_kernel() {
            // Kernel AIO turned out to be unavailable: the pool.
            return enqueue(engine, cb, job, None);
        }
        if op == Op::Write {
            job.epoch = Some(st.order.lock().write_begin());
        }
        return queue(engine, cb, job, st, |_, _| true);
    }
    let (lane, hint) = match op {
        Op::Read => (Lane::Read, HINT_NO_NOWAIT_READ),
        _ => (Lane::Write, HINT_NO_NOWAIT_WRITE),
    };
    if !st.lane_idle(lane) {
        // Earlier requests of this descriptor wait in its ordered lane.
        return enqueue(engine, cb, job, None);
    }
    if op == Op::Read && hints.has(HINT_CHAR) {
        // One blocking read on the pool, as glibc's (see `HINT_CHAR`), if
        // the number still names a character device (one statx): anything
        // else takes the path for what it is now (a pipe's wrong end must
        // fail here, not wait for a readiness that never comes).
        hints = match st.confirm(fd) {
            Ok(h) => h,
            Err(e) => return complete_inline(engine, job, Err(e)),
        };
        if hints.has(HINT_CHAR) {
            return enqueue(engine, cb, job, None);
        }
    }
    // A hint learnt of another file that had this number only sends the
    // request the slow way, where `enqueue` looks at the file again.
    if hints.has(hint) {
        return now_or_enqueue(engine, cb, job, st, hints);
    }
    try_inline(engine, cb, job, st, hints, hint)
}

/// One transfer in the submitting thread. One that took as long as a device
/// read may have been one: the number may now name an `O_DIRECT` file, which
/// `RWF_NOWAIT` reads synchronously, while the hints say otherwise. One
/// `F_GETFL` tells (a thread preempted during a page-cache copy pays only
/// that), and the hints are learnt again if it did; a stale hint costs this
/// one request and a syscall or two. An attempt that transferred nothing
/// (`EAGAIN`: an uncached read, slow because it started the read-ahead)
/// read nothing from a device.
fn attempt_here(
    job: &Job,
    st: &FdState,
    seen: Hints,
    flags: i32,
    max: usize,
) -> (Result<usize, i32>, bool) {
    let started = sys::ticks();
    let attempt = io::attempt_upto(job, flags, max);
    let slow = sys::ticks().wrapping_sub(started) > sys::DEVICE_TICKS;
    if slow && attempt != Err(libc::EAGAIN) {
        let direct = sys::status_flags(job.fd).is_ok_and(|f| f & libc::O_DIRECT != 0);
        if direct != seen.has(HINT_DIRECT) {
            let _ = st.observe(job.fd);
        }
    }
    (attempt, slow)
}

/// The non-blocking attempt in the submitting thread.
fn try_inline(
    engine: &'static Engine,
    cb: Aiocb,
    mut job: Job,
    st: &FdState,
    seen: Hints,
    hint: u32,
) -> Result<(), i32> {
    let max = engine.config.inline_max;
    match attempt_here(&job, st, seen, sys::RWF_NOWAIT, max).0 {
        Ok(n) if n == job.len || (n == 0 && job.op == Op::Read) => {
            complete_inline(engine, job, Ok(n))
        }
        // Short of what this call asked (not stopped by the cap).
        Ok(n) if n < max && is_record(&job, st, seen) => complete_inline(engine, job, Ok(n)),
        Ok(n) => {
            // Partly cached (or partly written), or the most one call
            // copies (`PAIO_INLINE_MAX`): the rest continues on the pool,
            // where this copy stopped.
            job.done = n;
            engine.stats.add(Counter::Retried, 1);
            enqueue(engine, cb, job, Some(false))
        }
        Err(libc::EAGAIN) => {
            engine.stats.add(Counter::Retried, 1);
            if job.op == Op::Read && job.iovcnt == 0 {
                if engine.backend.reads_uncached(engine) {
                    // io_uring reads it asynchronously in the kernel. The
                    // attempt just made on this descriptor says enough: a
                    // positional read (not a stream, no lane), which the
                    // ring reads right whether or not the file is O_DIRECT
                    // now; no second look at the file is needed.
                    job.cold = true;
                    let st = engine.fds.get(job.fd);
                    return place(engine, cb, job, st, seen.has(HINT_FUSE));
                } else {
                    // Not in the page cache: start reading it now, so that
                    // the device sees every such read at once, and let a
                    // few threads finish the copies as the data comes in.
                    let at = job.offset + job.done as i64;
                    if sys::readahead(job.fd, at, job.len - job.done).is_ok() {
                        engine.stats.add(Counter::Readahead, 1);
                        job.cold = true;
                    }
                }
            }
            enqueue(engine, cb, job, Some(false))
        }
        Err(libc::EOPNOTSUPP) => {
            st.learn_hint(seen, hint);
            now_or_enqueue(engine, cb, job, st, seen)
        }
        Err(libc::ESPIPE) => stream_now_or_enqueue(engine, cb, job),
        Err(e) => complete_inline(engine, job, Err(e)),
    }
}

/// Is the file a character device, whose every transfer is one record (a
/// `/dev/kmsg` entry, a tun device's packet), so that a short one is the
/// answer, as glibc's one `read` gives it, never continued where it stopped?
/// Regular files and block devices are read and written on. Asked only of a
/// transfer that came back short; a hint learnt of another file is checked
/// first (one statx).
fn is_record(job: &Job, st: &FdState, seen: Hints) -> bool {
    !seen.has(HINT_KERNEL_FILE) && st.confirm(job.fd).is_ok_and(|h| !h.has(HINT_KERNEL_FILE))
}

/// The file answered `ESPIPE`: a pipe, a socket or a device without
/// offsets, read and written at its current position. One non-blocking
/// transfer first: it completes what is ready, and it is what tells a
/// descriptor that can never be ready for this direction (a write on a
/// pipe's reading end: `EBADF`) from one that is not ready yet, which alone
/// may wait for readiness.
fn stream_now_or_enqueue(engine: &'static Engine, cb: Aiocb, mut job: Job) -> Result<(), i32> {
    job.stream = true;
    let attempt = || io::attempt(&job, sys::RWF_NOWAIT);
    let attempt = match job.op {
        Op::Write => sys::without_sigpipe(attempt),
        _ => attempt(),
    };
    match attempt {
        Ok(n) if n == job.len || job.op == Op::Read => complete_inline(engine, job, Ok(n)),
        Ok(n) => {
            job.done = n;
            enqueue(engine, cb, job, Some(true))
        }
        Err(libc::EAGAIN) | Err(libc::EOPNOTSUPP) => enqueue(engine, cb, job, Some(true)),
        Err(e) => complete_inline(engine, job, Err(e)),
    }
}

/// A transfer the filesystem refuses to try with `RWF_NOWAIT`. When it is
/// small (`PAIO_SYNC_WRITE_MAX`) and nothing of this descriptor waits before
/// it, do it here instead of paying a thread hop: a buffered write (ext4) is
/// a copy into the page cache, as `io_submit` would make it, and can block
/// only where the kernel throttles dirty pages; on a memory filesystem
/// (tmpfs, ramfs) a read or a write is a memory copy; on overlayfs, a read
/// of a file whose last reads all came from the page cache
/// ([`FdState::reads_look_cached`]). Anything else goes to the pool, and
/// so does every transfer of a FUSE file (see `here` below).
/// `PAIO_SYNC_WRITE_MAX=0` sends them all to the pool.
fn now_or_enqueue(
    engine: &'static Engine,
    cb: Aiocb,
    mut job: Job,
    st: &FdState,
    hints: Hints,
) -> Result<(), i32> {
    let cached = |h: Hints| {
        h.has(HINT_MEMORY)
            || (h.has(HINT_OVERLAY) && job.len <= LEARN_MAX && st.reads_look_cached(h.ident()))
    };
    // Never a FUSE file: its transfers are its server's answers, which may
    // never come (a server that hung, a network gone) or come only from
    // the submitting thread (a server in this process).
    let here = (job.op == Op::Write && !hints.has(HINT_FUSE)) || cached(hints);
    if !here || job.len > engine.config.sync_write_max {
        return enqueue(engine, cb, job, None);
    }
    // A read without `RWF_NOWAIT` could wait for ever on another kind of
    // file: the number must still name that file (one statx).
    let hints = match job.op {
        Op::Read => match st.confirm(job.fd) {
            Ok(h) if cached(h) => h,
            _ => return enqueue(engine, cb, job, None),
        },
        _ => hints,
    };
    let (attempt, slow) = attempt_here(&job, st, hints, 0, usize::MAX);
    if slow && job.op == Op::Read && hints.has(HINT_OVERLAY) {
        // It came from the disk after all: the pool again, until it finds
        // this file's reads in the page cache again.
        st.record_read(hints.ident(), false);
    }
    match attempt {
        Ok(n) if n == job.len || job.op == Op::Read => complete_inline(engine, job, Ok(n)),
        Ok(n) if is_record(&job, st, hints) => complete_inline(engine, job, Ok(n)),
        Ok(n) => {
            job.done = n;
            enqueue(engine, cb, job, Some(false))
        }
        Err(libc::ESPIPE) => stream_now_or_enqueue(engine, cb, job),
        Err(libc::EAGAIN) | Err(libc::EINTR) => enqueue(engine, cb, job, None),
        Err(e) => complete_inline(engine, job, Err(e)),
    }
}

/// Largest read of an overlayfs file whose time on the pool says whether it
/// came from the page cache (a larger copy takes as long as a device read).
const LEARN_MAX: usize = 64 << 10;

/// Complete a request inside the submitting call. The call itself
/// succeeded: errors show through `aio_error`.
fn complete_inline(
    engine: &'static Engine,
    mut job: Job,
    result: Result<usize, i32>,
) -> Result<(), i32> {
    engine.stats.add(Counter::Inline, 1);
    engine.complete(&mut job, result);
    Ok(())
}

/// Queue a request for the backend. `stream`: already known to be (or not
/// be) a pipe or socket.
fn enqueue(
    engine: &'static Engine,
    cb: Aiocb,
    mut job: Job,
    stream: Option<bool>,
) -> Result<(), i32> {
    // A fresh look at the file: nothing remembered of the number steers a
    // request that leaves the inline path.
    let st = engine.fds.get(job.fd);
    let view = match st.observe(job.fd) {
        Ok(v) => v,
        Err(e) => return complete_inline(engine, job, Err(e)),
    };
    let flags = view.flags;
    let fuse = view.fs == sys::Filesystem::Fuse;
    // A descriptor not open for this direction (a pipe's other end, a file
    // opened for the other one) fails at once, as the transfer would: a
    // stream must not wait for a readiness that never comes.
    let forbidden = match job.op {
        Op::Read => flags & libc::O_ACCMODE == libc::O_WRONLY,
        Op::Write => flags & libc::O_ACCMODE == libc::O_RDONLY,
        Op::Fsync { .. } => false,
    };
    if forbidden && job.done == 0 {
        return complete_inline(engine, job, Err(libc::EBADF));
    }
    if job.op == Op::Read && job.done > 0 && flags & libc::O_DIRECT != 0 && !view.is_stream() {
        // The inline attempt read part of an `O_DIRECT` file, which the
        // hints did not know it to be (`F_SETFL`, or a reopen under the
        // number): that part came from the device. glibc's one `pread`
        // fails whole where any part fails; so does this request, read
        // again from its start the `O_DIRECT` way.
        job.done = 0;
    }
    // `io_submit` runs in the calling thread: a write that could raise
    // `SIGXFSZ` there goes to a worker instead.
    job.direct = view.kernel_direct()
        && !job.faults
        && job.done == 0
        && !(job.op == Op::Write
            && sys::write_may_raise_sigxfsz(job.offset, flags & libc::O_APPEND != 0));
    job.nonblocking = flags & libc::O_NONBLOCK != 0;
    job.stream = stream.unwrap_or_else(|| view.is_stream());
    job.record = view.kind == libc::S_IFCHR;
    job.timed = job.stream
        && view.kind == libc::S_IFSOCK
        && !matches!(job.op, Op::Fsync { .. })
        && sys::socket_times_out(job.fd, job.op == Op::Read);
    if job.op == Op::Read
        && !job.stream
        && !job.direct
        && matches!(view.fs, sys::Filesystem::Overlay | sys::Filesystem::Fuse)
        && job.len - job.done <= LEARN_MAX
    {
        job.learn = view.ident;
    }
    job.lane = match job.op {
        _ if job.stream => Some(if job.op == Op::Read {
            Lane::Read
        } else {
            Lane::Write
        }),
        Op::Write if flags & libc::O_APPEND != 0 => Some(Lane::Write),
        // A buffered write the filesystem cannot do without blocking: the
        // inode lock serializes them in the kernel anyway, so one worker
        // drains them in order instead of waking a thread per write.
        Op::Write if !job.direct => Some(Lane::Write),
        // A FUSE file whose last reads on the pool took page-cache time: one
        // worker reads them in turn, as glibc's one thread per descriptor
        // does, instead of a thread woken per read; slow ones (the server
        // answers) run side by side.
        Op::Read if job.learn != 0 && fuse && st.reads_look_cached(job.learn) => Some(Lane::Read),
        _ => None,
    };
    place(engine, cb, job, st, fuse)
}

/// Queue a request whose kind and order are decided: paio's own reference
/// to the file, then the slot. `fuse`: a file of FUSE, whose descriptors
/// paio never duplicates: each close of one is a `FLUSH` request to the
/// server (a round trip per request, which glibc does not make, and some
/// servers take it for the file's close); the request runs on the
/// program's descriptor, as on glibc.
fn place(
    engine: &'static Engine,
    cb: Aiocb,
    mut job: Job,
    st: &FdState,
    fuse: bool,
) -> Result<(), i32> {
    if !engine.backend.ready(engine, &job) {
        return refuse_counted(engine, cb, job.group, libc::EAGAIN);
    }
    // paio's own reference to the file: a close() and a reuse of the number
    // by the program cannot redirect this request (sourceware bug 14942).
    job.file = match fuse {
        true => -1,
        false => match engine.take_file(job.fd) {
            Ok(f) => f,
            Err(e) => return complete_inline(engine, job, Err(e)),
        },
    };
    if job.op == Op::Write {
        job.epoch = Some(st.order.lock().write_begin());
    }
    let lane = job.lane;
    queue(engine, cb, job, st, |order, id| match lane {
        Some(lane) => {
            st.lane_load[lane as usize].fetch_add(1, Ordering::AcqRel);
            order.lane_submit(lane, id).is_some()
        }
        None => true,
    })
}

/// Allocate the slot, mark the aiocb in flight, and let `place` decide under
/// the descriptor's lock whether it runs now.
fn queue(
    engine: &'static Engine,
    cb: Aiocb,
    mut job: Job,
    st: &FdState,
    place: impl FnOnce(&mut crate::request::fdstate::Order, u32) -> bool,
) -> Result<(), i32> {
    let Some((id, gen)) = engine.slab.alloc(job.aiocb, job) else {
        // Out of request slots: undo, report EAGAIN, lose nothing.
        if let Some(epoch) = job.epoch.take() {
            let mut ready = Vec::new();
            st.order.lock().write_end(epoch, &mut ready);
            ready.into_iter().for_each(|id| engine.dispatch(id));
        }
        if job.file >= 0 {
            engine.drop_file(job.fd, job.file);
        }
        return refuse_counted(engine, cb, job.group, libc::EAGAIN);
    };
    cb.begin(slots::tag(id, gen));
    if let Some(slot) = engine.slab.get(id) {
        slot.expose(job.fd);
    }
    let run_now = place(&mut st.order.lock(), id);
    if run_now {
        engine.dispatch(id);
    }
    Ok(())
}

/// `aio_fsync`: a barrier behind every write queued before it on the fd.
pub fn submit_fsync(engine: &'static Engine, operation: i32, cb: Aiocb) -> Result<(), i32> {
    late::submitting(|| fsync(engine, operation, cb))
}

fn fsync(engine: &'static Engine, operation: i32, cb: Aiocb) -> Result<(), i32> {
    let data_only = match operation {
        libc::O_SYNC => false,
        libc::O_DSYNC => true,
        _ => return Err(libc::EINVAL),
    };
    if sys::status_flags(cb.fd()).is_err() {
        return Err(libc::EBADF);
    }
    // glibc checks aio_reqprio for reads and writes only.
    let notify = match Notify::from_raw(&cb.sigevent()).filter(Notify::is_valid) {
        Some(n) => n,
        None => return refuse(engine, cb, 0, libc::EINVAL),
    };
    if !notifier_ready(engine, &notify) {
        return refuse(engine, cb, 0, libc::EAGAIN);
    }
    engine.stats.add(Counter::Requests, 1);
    engine.stats.add(Counter::Fsync, 1);
    let mut job = Job {
        aiocb: cb.addr(),
        op: Op::Fsync { data_only },
        fd: cb.fd(),
        notify,
        report: engine.completions.enabled(),
        ..Job::EMPTY
    };
    // Also starts the reapers now if its completion needs one, rather than
    // where its barrier is met (that may be a signal handler's `aio_error`).
    if !engine.backend.ready(engine, &job) {
        return refuse_counted(engine, cb, 0, libc::EAGAIN);
    }
    let st = engine.fds.get(cb.fd());
    if st.order.lock().writes_in_flight() > 0 {
        // Its barrier will be released by a completion, which a program
        // thread (maybe in a signal handler) may take: the reaper should
        // run. If its thread cannot be made, the program's own calls
        // release the barrier; a missing thread is no reason to refuse.
        engine.backend.expect_barrier(engine);
    }
    job.file = engine.take_file(cb.fd())?;
    queue(engine, cb, job, st, |order, id| order.fsync_submit(id))
}

/// `aio_cancel`.
pub fn cancel(engine: Option<&'static Engine>, fd: i32, cb: Option<Aiocb>) -> Result<i32, i32> {
    if sys::status_flags(fd).is_err() {
        return Err(libc::EBADF);
    }
    if cb.is_some_and(|cb| cb.fd() != fd) {
        return Err(libc::EINVAL);
    }
    let Some(engine) = engine else {
        return Ok(AIO_ALLDONE);
    };
    match cb {
        Some(cb) => {
            if cb.error() != libc::EINPROGRESS {
                return Ok(AIO_ALLDONE);
            }
            let Some((id, _)) = engine.slab.lookup(cb.tag(), cb.addr()) else {
                return Ok(AIO_ALLDONE);
            };
            let gen = slots::untag(cb.tag()).map_or(0, |(_, g)| g);
            if engine.try_cancel(id, gen, fd) {
                Ok(AIO_CANCELED)
            } else if cb.error() == libc::EINPROGRESS {
                Ok(AIO_NOTCANCELED)
            } else {
                Ok(AIO_ALLDONE)
            }
        }
        None => {
            let (mut cancelled, mut running) = (0, 0);
            for id in 0..engine.slab.allocated() {
                let Some(slot) = engine.slab.get(id) else {
                    continue;
                };
                let gen = slot.gen();
                if slot.fd.load(Ordering::Relaxed) != fd {
                    continue;
                }
                match slot.state() {
                    slots::State::Queued if engine.try_cancel(id, gen, fd) => cancelled += 1,
                    slots::State::Queued | slots::State::Running if slot.gen() == gen => {
                        running += 1
                    }
                    _ => {}
                }
            }
            Ok(if running > 0 {
                AIO_NOTCANCELED
            } else if cancelled > 0 {
                AIO_CANCELED
            } else {
                AIO_ALLDONE
            })
        }
    }
}

/// `lio_listio` modes of glibc's `<aio.h>`.
pub const LIO_WAIT: i32 = 0;
pub const LIO_NOWAIT: i32 = 1;

/// `lio_listio` over a list already read from the caller (NULL entries as
/// `None`). Returns the synchronous result.
pub fn listio(
    engine: &'static Engine,
    mode: i32,
    list: &[Option<Aiocb>],
    sigevent: Option<crate::request::aiocb::RawSigevent>,
) -> Result<(), i32> {
    late::submitting(|| submit_list(engine, mode, list, sigevent))
}

fn submit_list(
    engine: &'static Engine,
    mode: i32,
    list: &[Option<Aiocb>],
    sigevent: Option<crate::request::aiocb::RawSigevent>,
) -> Result<(), i32> {
    if mode != LIO_WAIT && mode != LIO_NOWAIT {
        return Err(libc::EINVAL);
    }
    let list_notify = match (mode, sigevent) {
        (LIO_NOWAIT, Some(ev)) => Notify::from_raw(&ev)
            .filter(Notify::is_valid)
            .ok_or(libc::EINVAL)?,
        _ => Notify::None,
    };
    let group = lio::Group::new(list_notify);
    // Members report to the group only where someone waits for it: without
    // that, a list is just its requests (and needs no completion thread).
    let grouped = mode == LIO_WAIT || !matches!(list_notify, Notify::None);
    let member = || if grouped { group.add_member() } else { 0 };
    let mut refused = None;
    let mut accepted = false;
    // One io_submit per kernel context for the whole list.
    engine.backend.begin_batch();
    for cb in list.iter().flatten() {
        let (op, vectored) = match cb.opcode() {
            crate::request::aiocb::LIO_NOP => continue,
            crate::request::aiocb::LIO_READ => (Op::Read, false),
            crate::request::aiocb::LIO_WRITE => (Op::Write, false),
            crate::request::aiocb::LIO_READV => (Op::Read, true),
            crate::request::aiocb::LIO_WRITEV => (Op::Write, true),
            _ => {
                // An unknown opcode fails that entry alone, through aio_error.
                let member = member();
                let notify = Notify::from_raw(&cb.sigevent())
                    .filter(Notify::is_valid)
                    .unwrap_or(Notify::None);
                let report = engine.completions.enabled();
                let job = Job {
                    aiocb: cb.addr(),
                    fd: cb.fd(),
                    notify,
                    group: member,
                    report,
                    ..Job::EMPTY
                };
                let _ = complete_inline(engine, job, Err(libc::EINVAL));
                accepted = true;
                continue;
            }
        };
        match submit(engine, *cb, op, vectored, member()) {
            Ok(()) => accepted = true,
            Err(e) => refused = Some(e),
        }
    }
    engine.backend.end_batch(engine);
    lio::release_hold(engine, &group);
    if mode == LIO_WAIT {
        group.wait()?;
        // The list's requests have their signals queued before it returns.
        engine.flush_late_signals();
        if let Some(e) = refused {
            // As glibc: a list of which some requests ran failed as a
            // whole (each aiocb tells which); one of which none ran fails
            // with the reason the last was refused.
            return Err(if accepted { libc::EIO } else { e });
        }
        if group.failed() {
            return Err(libc::EIO);
        }
    } else if let Some(e) = refused {
        return Err(e);
    }
    Ok(())
}
