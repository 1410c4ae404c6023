//! Execution: one sequence run in this process against whichever AIO the
//! process has (glibc, or paio by `LD_PRELOAD`), writing a transcript line
//! for everything POSIX fixes: each call's return value and `errno`, each
//! waited request's `aio_error`/`aio_return` and the bytes it read, the files'
//! and streams' final contents, and the set of notifications received.
//! Anything that legitimately depends on timing is either normalised (an
//! `EINTR` is retried) or only checked for consistency, never printed.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::ffi::*;
use crate::gen::*;

/// Notification ids are below this.
const NOTE_MAX: usize = 4096;
/// A number no descriptor has in the executor.
const BAD_FD: i32 = 999;
/// A request that takes longer than this to finish is hung.
const HANG_MS: u64 = 5000;

static SIG_NOTES: [AtomicU32; NOTE_MAX] = [const { AtomicU32::new(0) }; NOTE_MAX];
static THREAD_NOTES: [AtomicU32; NOTE_MAX] = [const { AtomicU32::new(0) }; NOTE_MAX];
static BAD_CODE: AtomicU32 = AtomicU32::new(0);
static STRAY: AtomicU32 = AtomicU32::new(0);
static USR2_HANDLED: AtomicU32 = AtomicU32::new(0);

fn rt_signo() -> i32 {
    libc::SIGRTMIN() + 1
}

extern "C" fn on_rt(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo (SA_SIGINFO); for a queued
    // signal si_value sits at offset 24.
    let (code, value) = unsafe {
        (
            (*info).si_code,
            *((info as *const u8).add(24) as *const usize),
        )
    };
    if code != SI_ASYNCIO {
        BAD_CODE.fetch_add(1, Relaxed);
    }
    match SIG_NOTES.get(value) {
        Some(n) if value != 0 => {
            n.fetch_add(1, Relaxed);
        }
        _ => {
            STRAY.fetch_add(1, Relaxed);
        }
    }
}

extern "C" fn on_callback(value: usize) {
    match THREAD_NOTES.get(value) {
        Some(n) if value != 0 => {
            n.fetch_add(1, Relaxed);
        }
        _ => {
            STRAY.fetch_add(1, Relaxed);
        }
    }
}

extern "C" fn on_usr2(_sig: libc::c_int) {
    USR2_HANDLED.fetch_add(1, Relaxed);
}

/// Handlers for the notification signal and SIGUSR2; SIGPIPE ignored (a
/// write to a stream nobody reads gives `EPIPE`); SIGUSR2 blocked in this
/// (the main) thread, so only `sigtimedwait` may take it here.
pub fn install_handlers() {
    // SAFETY: handlers that only touch atomics; signal masks of this thread.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_rt as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(rt_signo(), &sa, std::ptr::null_mut());
        let mut su: libc::sigaction = std::mem::zeroed();
        su.sa_sigaction = on_usr2 as *const () as usize;
        su.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut su.sa_mask);
        libc::sigaction(libc::SIGUSR2, &su, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// FNV-1a, for printing what was read as one short token.
pub fn hash(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in b {
        h = (h ^ x as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn pattern(buf: &mut [u8], seed: u64) {
    let mut r = Rng(seed);
    for c in buf.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        c.copy_from_slice(&v[..c.len()]);
    }
}

/// Initial content of file `f`.
pub fn file_content(f: usize) -> Vec<u8> {
    let mut v = vec![0u8; FILE_SIZE as usize];
    pattern(&mut v, 0xf11e ^ f as u64);
    v
}

fn rc_str(rc: isize, e: i32) -> String {
    if rc == -1 {
        format!("-1 {}", errname(e))
    } else {
        format!("{rc}")
    }
}

pub struct Exec {
    dir: String,
    fds: [i32; NSLOT],
    /// Never resized: the aiocbs keep their addresses while in flight.
    cbs: Vec<std::cell::UnsafeCell<Aiocb>>,
    bufs: Vec<*mut u8>,
    /// The last request made on each aiocb.
    reqs: Vec<Option<Req>>,
    /// Notifications that accepted requests and lists will deliver.
    expected: u32,
    expected_thread: u32,
    /// The notification each aiocb's last accepted request will deliver.
    note_due: [Option<Notify>; NCB],
    pub calls: u64,
    step: usize,
    /// AIO comes from libpaio.so (the forked child's own AIO runs only then).
    on_paio: bool,
}

impl Exec {
    pub fn new(dir: &str) -> Exec {
        let bufs = (0..NCB)
            .map(|_| {
                let mut p: *mut libc::c_void = std::ptr::null_mut();
                // SAFETY: writes the pointer; O_DIRECT wants 4 KiB alignment.
                let r = unsafe { libc::posix_memalign(&mut p, 4096, BUF_CAP) };
                assert_eq!(r, 0, "posix_memalign");
                p as *mut u8
            })
            .collect();
        for f in 0..NFILE {
            std::fs::write(format!("{dir}/f{f}"), file_content(f)).expect("create a test file");
        }
        Exec {
            dir: dir.to_string(),
            fds: [-1; NSLOT],
            cbs: (0..NCB)
                .map(|_| std::cell::UnsafeCell::new(Aiocb::zeroed()))
                .collect(),
            bufs,
            reqs: vec![None; NCB],
            expected: 0,
            expected_thread: 0,
            note_due: [None; NCB],
            calls: 0,
            step: 0,
            on_paio: aio_provider().contains("libpaio"),
        }
    }

    fn out(&self, s: &str) {
        let line = format!("{} {s}\n", self.step);
        let mut b = line.as_bytes();
        while !b.is_empty() {
            // SAFETY: writing our own buffer to stdout.
            let n = unsafe { libc::write(1, b.as_ptr() as *const _, b.len()) };
            if n <= 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                return;
            }
            b = &b[n as usize..];
        }
    }

    fn cbp(&self, cb: usize) -> *mut Aiocb {
        self.cbs[cb].get()
    }

    // The buffers are the harness's raw memory shared with the library, not
    // Rust-owned data of `self`.
    #[allow(clippy::mut_from_ref)]
    fn buf(&self, cb: usize) -> &mut [u8] {
        // SAFETY: BUF_CAP bytes owned by this aiocb, touched only while its
        // request is not in flight.
        unsafe { std::slice::from_raw_parts_mut(self.bufs[cb], BUF_CAP) }
    }

    fn fd_of(&self, t: Target) -> i32 {
        match t {
            Target::Slot(s) => self.fds[s],
            Target::BadFd => BAD_FD,
        }
    }

    fn sigevent(&mut self, n: Notify, counted: bool) -> Sigevent {
        let mut ev = Sigevent::none();
        match n {
            Notify::None => {}
            Notify::Signal0 => {
                ev.sigev_notify = SIGEV_SIGNAL;
                ev.sigev_signo = 0;
            }
            Notify::Signal(id) => {
                ev.sigev_notify = SIGEV_SIGNAL;
                ev.sigev_signo = rt_signo();
                ev.sigev_value = id as usize;
            }
            Notify::Thread(id) => {
                ev.sigev_notify = SIGEV_THREAD;
                ev.sigev_value = id as usize;
                ev.un[0] = on_callback as *const () as usize;
            }
        }
        if counted && matches!(n, Notify::Signal(_) | Notify::Thread(_)) {
            self.expected += 1;
        }
        if counted && matches!(n, Notify::Thread(_)) {
            self.expected_thread += 1;
        }
        ev
    }

    /// Fill the aiocb (and a write's buffer) for `r`.
    fn prep(&mut self, r: &Req) {
        // glibc publishes a request's status before it reads the aiocb's
        // sigevent to notify: an aiocb reused at once can have the old
        // request notified with the new sigevent (`glibc_bugs`,
        // notify-after-publication). Wait for the old notification first.
        if let Some(n) = self.note_due[r.cb].take() {
            let count = |n: Notify| match n {
                Notify::Signal(id) => SIG_NOTES[id as usize].load(Relaxed),
                Notify::Thread(id) => THREAD_NOTES[id as usize].load(Relaxed),
                _ => 1,
            };
            let t0 = now_ms();
            while count(n) == 0 && now_ms() - t0 < 1000 {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
        let fd = self.fd_of(r.target);
        let ev = self.sigevent(r.notify, false);
        let buf = self.buf(r.cb);
        let len = r.len.min(BUF_CAP - r.buf_off);
        match r.call {
            Call::Write => pattern(&mut buf[r.buf_off..r.buf_off + len], r.data),
            _ => buf[r.buf_off..r.buf_off + len].fill(0xEE),
        }
        let base = self.bufs[r.cb];
        // SAFETY: the aiocb is not in flight (the generator only reuses an
        // aiocb after its request was waited for).
        let cb = unsafe { &mut *self.cbp(r.cb) };
        *cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = match r.call {
            Call::Read => LIO_READ,
            Call::Write => LIO_WRITE,
            Call::Fsync { .. } => LIO_NOP,
        };
        cb.aio_reqprio = r.prio;
        cb.aio_buf = if r.null_buf {
            std::ptr::null_mut()
        } else {
            // SAFETY: inside the buffer.
            unsafe { base.add(r.buf_off) as *mut libc::c_void }
        };
        cb.aio_nbytes = len;
        cb.aio_offset = r.off;
        cb.aio_sigevent = ev;
        self.reqs[r.cb] = Some(r.clone());
    }

    fn error(&self, cb: usize) -> i32 {
        // SAFETY: a live aiocb.
        unsafe { aio_error(self.cbp(cb)) }
    }

    /// One sequence, op by op.
    pub fn run(&mut self, ops: &[Op]) {
        for (i, op) in ops.iter().enumerate() {
            self.step = i;
            self.op(op);
        }
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Open { slots, what } => self.open(*slots, *what),
            Op::Close { slot } => {
                // SAFETY: our own descriptor.
                let rc = unsafe { libc::close(self.fds[*slot]) };
                self.fds[*slot] = -1;
                self.out(&format!(
                    "close s{slot} -> {}",
                    rc_str(rc as isize, errno())
                ));
            }
            Op::Dup2 { src, dst } => {
                let (s, d) = (self.fds[*src], self.fds[*dst]);
                // SAFETY: our own descriptors.
                let rc = unsafe {
                    if d >= 0 {
                        libc::dup2(s, d)
                    } else {
                        libc::dup(s)
                    }
                };
                if rc >= 0 {
                    self.fds[*dst] = rc;
                }
                self.out(&format!(
                    "dup2 s{src} s{dst} -> {}",
                    if rc >= 0 {
                        "ok".into()
                    } else {
                        errname(errno())
                    }
                ));
            }
            Op::Submit(r) => self.submit(r),
            Op::Lio {
                wait,
                entries,
                notify,
            } => self.lio(*wait, entries, *notify),
            Op::Wait { cbs } => {
                let list: Vec<usize> = cbs.iter().map(|c| c.0).collect();
                self.wait_done(&list);
                for &(cb, out) in cbs {
                    self.print_outcome(cb, out);
                }
            }
            Op::Cancel(c) => self.cancel(c),
            Op::Suspend {
                cbs,
                timeout,
                fixed,
            } => self.suspend(cbs, *timeout, *fixed),
            Op::SyncWrite { slot, len, data } => {
                let mut b = vec![0u8; *len];
                pattern(&mut b, *data);
                // SAFETY: a local buffer.
                let rc = unsafe { libc::write(self.fds[*slot], b.as_ptr() as *const _, *len) };
                self.out(&format!("write s{slot} {len} -> {}", rc_str(rc, errno())));
            }
            Op::ZeroedError { cb } => {
                self.calls += 1;
                self.out(&format!(
                    "aio_error(zeroed cb{cb}) -> {}",
                    errname(self.error(*cb))
                ));
            }
            Op::Fork => {
                let st = fork_and_wait(&self.dir, self.on_paio);
                self.out(&format!("fork -> child {st}"));
            }
            Op::SigwaitProbe => self.sigwait_probe(),
            Op::Final {
                masks,
                sizes,
                streams,
            } => self.final_state(masks, sizes, streams),
        }
    }

    fn open(&mut self, slots: [usize; 2], what: Open) {
        let mut fds = [-1i32; 2];
        // SAFETY: plain syscalls writing local arrays.
        let rc = unsafe {
            match what {
                Open::File(f) => {
                    let p = std::ffi::CString::new(format!("{}/f{f}", self.dir)).unwrap();
                    let mut fl = libc::O_RDWR;
                    if f == 2 {
                        fl |= libc::O_DIRECT;
                    }
                    fds[0] = libc::open(p.as_ptr(), fl);
                    if fds[0] < 0 && f == 2 {
                        // No O_DIRECT on this filesystem: the same run both ways.
                        fds[0] = libc::open(p.as_ptr(), libc::O_RDWR);
                    }
                    fds[0]
                }
                Open::DevNull => {
                    fds[0] = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                    fds[0]
                }
                Open::DevZero => {
                    fds[0] = libc::open(c"/dev/zero".as_ptr(), libc::O_RDWR);
                    fds[0]
                }
                Open::Pipe => libc::pipe(fds.as_mut_ptr()),
                Open::SocketPair => {
                    libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr())
                }
            }
        };
        self.fds[slots[0]] = fds[0];
        if slots[1] != slots[0] {
            self.fds[slots[1]] = fds[1];
        }
        self.out(&format!(
            "open {what:?} s{} s{} -> {}",
            slots[0],
            slots[1],
            if rc >= 0 {
                "ok".into()
            } else {
                errname(errno())
            }
        ));
    }

    fn describe(r: &Req) -> String {
        let t = match r.target {
            Target::Slot(s) => format!("s{s}"),
            Target::BadFd => "badfd".into(),
        };
        format!(
            "cb{} {:?} {t} off={} len={} buf+{}{} prio={} {:?}",
            r.cb,
            r.call,
            r.off,
            r.len,
            r.buf_off,
            if r.null_buf { " NULL" } else { "" },
            r.prio,
            r.notify
        )
    }

    fn submit(&mut self, r: &Req) {
        self.prep(r);
        let cb = self.cbp(r.cb);
        set_errno(0);
        self.calls += 1;
        // SAFETY: a prepared aiocb whose buffer lives as long as the executor.
        let rc = unsafe {
            match r.call {
                Call::Read => aio_read(cb),
                Call::Write => aio_write(cb),
                Call::Fsync { dsync, bad_op } => {
                    let op = if bad_op {
                        12345
                    } else if dsync {
                        libc::O_DSYNC
                    } else {
                        libc::O_SYNC
                    };
                    aio_fsync(op, cb)
                }
            }
        };
        let e = errno();
        let mut s = format!("{} -> {}", Self::describe(r), rc_str(rc as isize, e));
        if rc == 0 {
            self.sigevent(r.notify, true);
            self.note_due[r.cb] = Some(r.notify);
        } else if !matches!(r.call, Call::Fsync { .. }) {
            // A refused read or write shows its error through aio_error too.
            s += &format!(" aio_error={}", errname(self.error(r.cb)));
        }
        self.out(&s);
    }

    fn lio(&mut self, wait: bool, entries: &[LioEntry], notify: Notify) {
        let mut nop = Box::new(Aiocb::zeroed());
        nop.aio_lio_opcode = LIO_NOP;
        nop.aio_fildes = -1;
        let mut list: Vec<*mut Aiocb> = Vec::new();
        let mut members = Vec::new();
        let mut desc = Vec::new();
        for e in entries {
            match e {
                LioEntry::Null => {
                    list.push(std::ptr::null_mut());
                    desc.push("NULL".to_string());
                }
                LioEntry::Nop => {
                    list.push(&mut *nop);
                    desc.push("NOP".to_string());
                }
                LioEntry::Req(r) => {
                    self.prep(r);
                    list.push(self.cbp(r.cb));
                    members.push(r.cb);
                    desc.push(Self::describe(r));
                }
            }
        }
        let mut ev = self.sigevent(notify, false);
        set_errno(0);
        self.calls += 1;
        let mode = if wait { LIO_WAIT } else { LIO_NOWAIT };
        // SAFETY: every non-NULL entry is a prepared aiocb with a live buffer.
        let mut rc = unsafe { lio_listio(mode, list.as_ptr(), list.len() as i32, &mut ev) };
        let mut e = errno();
        if wait && rc == -1 && e == libc::EINTR {
            // Interrupted by one of our notifications: timing, not a result.
            // What LIO_WAIT would have returned is fixed by the members.
            self.wait_done(&members);
            let failed = members.iter().any(|&c| self.error(c) != 0);
            (rc, e) = if failed { (-1, libc::EIO) } else { (0, 0) };
        }
        self.out(&format!(
            "lio_listio({}, [{}], {notify:?}) -> {}",
            if wait { "WAIT" } else { "NOWAIT" },
            desc.join("; "),
            rc_str(rc as isize, e)
        ));
        if rc == 0 || (rc == -1 && e == libc::EIO) {
            for e in entries {
                if let LioEntry::Req(r) = e {
                    if self.error(r.cb) != libc::EINVAL {
                        self.sigevent(r.notify, true);
                        self.note_due[r.cb] = Some(r.notify);
                    }
                }
            }
            if !wait {
                self.sigevent(notify, true);
            }
        }
        if wait {
            for &c in &members {
                self.print_outcome(c, Outcome::Exact);
            }
        }
    }

    /// Wait until none of `cbs` is in progress; a hang ends the sequence.
    fn wait_done(&mut self, cbs: &[usize]) {
        let t0 = now_ms();
        loop {
            let pending: Vec<*const Aiocb> = cbs
                .iter()
                .filter(|&&c| self.error(c) == libc::EINPROGRESS)
                .map(|&c| self.cbp(c) as *const Aiocb)
                .collect();
            if pending.is_empty() {
                return;
            }
            if now_ms() - t0 > HANG_MS {
                let which: Vec<String> = cbs
                    .iter()
                    .filter(|&&c| self.error(c) == libc::EINPROGRESS)
                    .map(|&c| format!("cb{c}"))
                    .collect();
                self.out(&format!(
                    "HANG: {} still in progress after {HANG_MS} ms",
                    which.join(" ")
                ));
                // SAFETY: ends this sequence's process at once.
                unsafe { libc::_exit(3) };
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            self.calls += 1;
            // SAFETY: live aiocbs.
            unsafe { aio_suspend(pending.as_ptr(), pending.len() as i32, &ts) };
        }
    }

    fn print_outcome(&mut self, cb: usize, out: Outcome) {
        let e = self.error(cb);
        // SAFETY: a live aiocb, reaped once.
        let ret = unsafe { aio_return(self.cbp(cb)) };
        self.calls += 2;
        let s = match out {
            Outcome::Settled => {
                if e == libc::EINPROGRESS || (e == libc::ECANCELED && ret != -1) {
                    format!(
                        "cb{cb} settled: INCONSISTENT aio_error={} aio_return={ret}",
                        errname(e)
                    )
                } else {
                    format!("cb{cb} settled")
                }
            }
            Outcome::Exact => {
                let mut s = format!("cb{cb} aio_error={} aio_return={ret}", errname(e));
                let r = self.reqs[cb].clone();
                if let Some(r) = r {
                    if r.call == Call::Read && e == 0 && ret > 0 && !r.null_buf {
                        let n = (ret as usize).min(BUF_CAP - r.buf_off);
                        let h = hash(&self.buf(cb)[r.buf_off..r.buf_off + n]);
                        s += &format!(" data={h:016x}");
                    }
                }
                s
            }
        };
        self.out(&s);
    }

    fn cancel(&mut self, c: &Cancel) {
        self.calls += 1;
        set_errno(0);
        let s = match c {
            Cancel::InFlight { slot, cb } => {
                // SAFETY: a live aiocb on its own descriptor.
                let rc = unsafe { aio_cancel(self.fds[*slot], self.cbp(*cb)) };
                let e = self.error(*cb);
                let ok = match rc {
                    AIO_CANCELED => e == libc::ECANCELED,
                    AIO_NOTCANCELED => true,
                    AIO_ALLDONE => e != libc::EINPROGRESS,
                    _ => false,
                };
                if ok {
                    format!("aio_cancel(s{slot}, cb{cb}) in flight -> consistent")
                } else {
                    format!(
                        "aio_cancel(s{slot}, cb{cb}) in flight -> INCONSISTENT {rc} errno {} aio_error {}",
                        errname(errno()),
                        errname(e)
                    )
                }
            }
            Cancel::AllInFlight { slot, cbs } => {
                // SAFETY: NULL means every request on the descriptor.
                let rc = unsafe { aio_cancel(self.fds[*slot], std::ptr::null_mut()) };
                let busy = cbs.iter().any(|&c| self.error(c) == libc::EINPROGRESS);
                let ok = match rc {
                    AIO_CANCELED | AIO_ALLDONE => !busy,
                    AIO_NOTCANCELED => true,
                    _ => false,
                };
                if ok {
                    format!("aio_cancel(s{slot}, NULL) in flight -> consistent")
                } else {
                    format!(
                        "aio_cancel(s{slot}, NULL) in flight -> INCONSISTENT {rc} errno {} (one still in progress: {busy})",
                        errname(errno())
                    )
                }
            }
            Cancel::Fixed { target, cb } => {
                let fd = self.fd_of(*target);
                let p = cb.map_or(std::ptr::null_mut(), |c| self.cbp(c));
                // SAFETY: a live aiocb that is not in flight, or NULL.
                let rc = unsafe { aio_cancel(fd, p) };
                let e = errno();
                format!(
                    "aio_cancel({target:?}, {}) -> {}",
                    cb.map_or("NULL".into(), |c| format!("cb{c}")),
                    rc_str(rc as isize, e)
                )
            }
        };
        self.out(&s);
    }

    fn suspend(&mut self, cbs: &[Option<usize>], timeout: Timeout, fixed: bool) {
        let list: Vec<*const Aiocb> = cbs
            .iter()
            .map(|c| c.map_or(std::ptr::null(), |c| self.cbp(c) as *const Aiocb))
            .collect();
        let ts = match timeout {
            Timeout::Null | Timeout::Zero => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            Timeout::Ms(ms) => libc::timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: (ms % 1000) as i64 * 1_000_000,
            },
        };
        let tsp = if timeout == Timeout::Null {
            std::ptr::null()
        } else {
            &ts as *const _
        };
        let mut tries = 0;
        let (rc, e) = loop {
            set_errno(0);
            self.calls += 1;
            // SAFETY: live aiocbs and NULL entries.
            let rc = unsafe { aio_suspend(list.as_ptr(), list.len() as i32, tsp) };
            let e = errno();
            tries += 1;
            if rc == -1 && e == libc::EINTR && tries < 20 {
                continue;
            }
            break (rc, e);
        };
        let names: Vec<String> = cbs
            .iter()
            .map(|c| c.map_or("NULL".into(), |c| format!("cb{c}")))
            .collect();
        if fixed {
            self.out(&format!(
                "aio_suspend([{}], {timeout:?}) -> {}",
                names.join(" "),
                rc_str(rc as isize, e)
            ));
        } else {
            self.out(&format!(
                "aio_suspend([{}], {timeout:?}) (timing: not compared)",
                names.join(" ")
            ));
        }
    }

    fn sigwait_probe(&mut self) {
        // Every callback ran (the generator saw to it that none is still
        // due); give their threads a moment to end.
        let t0 = now_ms();
        while THREAD_NOTES.iter().map(|n| n.load(Relaxed)).sum::<u32>() < self.expected_thread
            && now_ms() - t0 < 1000
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let before = USR2_HANDLED.load(Relaxed);
        // SAFETY: signals to ourselves; sigtimedwait on a local set.
        let got = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            libc::kill(libc::getpid(), libc::SIGUSR2);
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 300_000_000,
            };
            let mut r;
            loop {
                r = libc::sigtimedwait(&set, std::ptr::null_mut(), &ts);
                if r == -1 && errno() == libc::EINTR {
                    continue;
                }
                break;
            }
            r
        };
        let handled = USR2_HANDLED.load(Relaxed) - before;
        self.out(&format!(
            "SIGUSR2 (blocked in the main thread) -> {}",
            if got == libc::SIGUSR2 && handled == 0 {
                "taken by sigtimedwait".to_string()
            } else {
                format!("sigtimedwait {got}, handled by another thread {handled} time(s)")
            }
        ));
    }

    fn final_state(
        &mut self,
        masks: &[Vec<(u64, u64)>],
        sizes: &[(u64, u64)],
        streams: &[Option<(usize, usize)>],
    ) {
        for f in 0..NFILE {
            let mut data = std::fs::read(format!("{}/f{f}", self.dir)).unwrap_or_default();
            let size = data.len() as u64;
            let (lo, hi) = sizes[f];
            let size_s = if lo == hi {
                format!("size={size}")
            } else if (lo..=hi).contains(&size) {
                format!("size in [{lo}, {hi}]")
            } else {
                format!("size={size} OUTSIDE [{lo}, {hi}]")
            };
            data.truncate(lo as usize);
            for &(a, b) in &masks[f] {
                let (a, b) = (
                    a.min(data.len() as u64) as usize,
                    b.min(data.len() as u64) as usize,
                );
                data[a..b].fill(0);
            }
            self.out(&format!("file f{f} {size_s} content={:016x}", hash(&data)));
        }
        for (s, st) in streams.iter().enumerate() {
            let Some((slot, avail)) = *st else { continue };
            let fd = self.fds[slot];
            let mut b = vec![0u8; avail + 64];
            let mut n = 0usize;
            // SAFETY: our own descriptor, read without blocking.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
                loop {
                    let r = libc::read(fd, b[n..].as_mut_ptr() as *mut _, b.len() - n);
                    if r <= 0 {
                        break;
                    }
                    n += r as usize;
                }
                libc::fcntl(fd, libc::F_SETFL, fl);
            }
            self.out(&format!(
                "stream {s} holds {n} bytes ({avail} expected) content={:016x}",
                hash(&b[..n])
            ));
        }
        // Notifications: the set, once every expected one arrived (or 3 s
        // passed), and a moment for duplicates.
        let t0 = now_ms();
        let total = || -> u32 {
            SIG_NOTES
                .iter()
                .chain(THREAD_NOTES.iter())
                .map(|n| n.load(Relaxed))
                .sum()
        };
        while total() < self.expected && now_ms() - t0 < 3000 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut notes = Vec::new();
        for id in 0..NOTE_MAX {
            let (s, t) = (SIG_NOTES[id].load(Relaxed), THREAD_NOTES[id].load(Relaxed));
            if s != 0 {
                notes.push(format!("sig#{id}x{s}"));
            }
            if t != 0 {
                notes.push(format!("thread#{id}x{t}"));
            }
        }
        self.out(&format!("notifications: {}", notes.join(" ")));
        self.out(&format!(
            "signals with si_code other than SI_ASYNCIO: {}; unknown ids: {}",
            BAD_CODE.load(Relaxed),
            STRAY.load(Relaxed)
        ));
    }
}

/// `fork`; under paio the child writes and reads back a file of its own
/// through AIO and exits with the step that failed (0: none); under glibc,
/// whose AIO state a child inherits half-reset, it exits 0 at once.
fn fork_and_wait(dir: &str, child_aio: bool) -> String {
    let path = std::ffi::CString::new(format!("{dir}/child")).unwrap();
    // SAFETY: the child only makes syscalls and AIO calls on static buffers,
    // then _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if !child_aio {
            // SAFETY: leaves the child at once.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: see above.
        unsafe { fork_child(&path) }
    }
    if pid < 0 {
        return format!("fork failed {}", errname(errno()));
    }
    let t0 = now_ms();
    loop {
        let mut status = 0;
        // SAFETY: our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(status) {
                format!("exit {}", libc::WEXITSTATUS(status))
            } else {
                format!("signal {}", libc::WTERMSIG(status))
            };
        }
        if now_ms() - t0 > 10_000 {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return "hung (killed after 10 s)".into();
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

unsafe fn fork_child(path: &std::ffi::CStr) -> ! {
    static mut WBUF: [u8; 4096] = [0; 4096];
    static mut RBUF: [u8; 4096] = [0; 4096];
    // SAFETY (whole body): syscalls and AIO on static buffers in a process
    // that never returns from here.
    unsafe {
        libc::alarm(8);
        let wbuf = &raw mut WBUF;
        let rbuf = &raw mut RBUF;
        for (i, b) in (*wbuf).iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let fd = libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
            0o600,
        );
        if fd < 0 {
            libc::_exit(10);
        }
        let wait = |cb: *const Aiocb| {
            while aio_error(cb) == libc::EINPROGRESS {
                let l = [cb];
                aio_suspend(l.as_ptr(), 1, std::ptr::null());
            }
            aio_error(cb)
        };
        let mut cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_buf = wbuf as *mut libc::c_void;
        cb.aio_nbytes = 4096;
        cb.aio_sigevent = Sigevent::none();
        if aio_write(&mut cb) != 0 || wait(&cb) != 0 || aio_return(&mut cb) != 4096 {
            libc::_exit(12);
        }
        let mut rc = Aiocb::zeroed();
        rc.aio_fildes = fd;
        rc.aio_buf = rbuf as *mut libc::c_void;
        rc.aio_nbytes = 4096;
        rc.aio_sigevent = Sigevent::none();
        if aio_read(&mut rc) != 0 || wait(&rc) != 0 || aio_return(&mut rc) != 4096 || *rbuf != *wbuf
        {
            libc::_exit(14);
        }
        libc::_exit(0)
    }
}
