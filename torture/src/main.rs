//! `paio-torture`: many threads issuing a random mix of every POSIX AIO call
//! against regular files (buffered and `O_DIRECT`), pipes and socketpairs,
//! with every notification kind and the occasional `fork`, all checked
//! against an in-memory model:
//!
//! * every request completes exactly once: each one that asks for a
//!   notification (signal, thread callback, thread-directed signal; list
//!   notifications of `lio_listio(LIO_NOWAIT)`) is counted by id, cancelled
//!   ones included, and a second or a stray delivery is a failure;
//! * every `aio_error`/`aio_return` pair is the one the model predicts, and
//!   every call's synchronous result is the one POSIX specifies;
//! * file contents match the model region by region (a region is only ever
//!   touched by one batch at a time, so the model is deterministic), while
//!   requests run, and once more at the end;
//! * pipe and socket byte streams arrive complete and in order;
//! * a watchdog turns a hang into a failure, with a dump of what is pending.
//!
//! Run it under `LD_PRELOAD=libpaio.so` (it refuses to run on glibc's AIO
//! unless `--allow-glibc`, which checks the test itself against glibc).
//!
//! ```text
//! paio-torture [--seconds N | --soak N] [--seed N] [--threads N] [--dir PATH] [--allow-glibc]
//! ```

mod ffi;

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ffi::CString;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};

use ffi::*;

/// A file is `NREG` regions of `REG` bytes; writes cover a whole region.
const REG: usize = 8192;
const NREG: usize = 512;
/// Capacity of each request's buffer (stream reads can be this long).
const BUF_CAP: usize = 64 << 10;
const MAX_BATCH: usize = 8;
/// Notification ledger: one slot per request id, modulo its size.
const RING: usize = 1 << 20;
/// A batch making no progress for this long is a hang.
const HANG_MS: u64 = 30_000;
/// Bytes a stream may hold before a batch only drains it.
const STREAM_HIGH: usize = 16 << 10;

// ------------------------------------------------------------ failing

static FAILED: AtomicBool = AtomicBool::new(false);

macro_rules! fail {
    ($w:expr, $($arg:tt)*) => {{
        let msg = format!($($arg)*);
        crate::die(Some($w), &msg)
    }};
}

/// Report a failure with a dump of everything pending, and exit 1. Only the
/// first failing thread reports; the others wait to be killed by the exit.
fn die(worker: Option<usize>, msg: &str) -> ! {
    if FAILED.swap(true, SeqCst) {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "paio-torture: FAIL (worker {worker:?}, seed {}): {msg}",
        SEED.load(Relaxed)
    );
    dump_pending(&mut s);
    eprint!("{s}");
    // SAFETY: ends the process without running destructors or atexit
    // handlers that might wait for the requests that just misbehaved.
    unsafe { libc::_exit(1) }
}

// ------------------------------------------------------------ counters

#[derive(Clone, Copy)]
#[repr(usize)]
enum K {
    Read,
    Write,
    DirectRead,
    DirectWrite,
    EofRead,
    Fsync,
    StreamRead,
    StreamWrite,
    Refused,
    LioWait,
    LioNowait,
    LioEintr,
    CancelCalls,
    Cancelled,
    Suspends,
    SuspendIntr,
    Forks,
    TopUps,
    NotifySignal,
    NotifyThread,
    NotifyThreadAttr,
    NotifyThreadId,
    NotifyNone,
    NotifyList,
    BarrierChecks,
    BytesRead,
    BytesWritten,
}
const KN: usize = 27;
const KNAMES: [&str; KN] = [
    "read",
    "write",
    "direct_read",
    "direct_write",
    "eof_read",
    "fsync",
    "stream_read",
    "stream_write",
    "refused_einval",
    "lio_wait_lists",
    "lio_nowait_lists",
    "lio_wait_eintr",
    "cancel_calls",
    "cancelled",
    "suspend_calls",
    "suspend_eintr",
    "forks",
    "stream_topups",
    "notify_signal",
    "notify_thread",
    "notify_thread_attr",
    "notify_thread_id",
    "notify_none",
    "notify_list",
    "fsync_barrier_checks",
    "bytes_read",
    "bytes_written",
];
static COUNT: [AtomicU64; KN] = [const { AtomicU64::new(0) }; KN];
fn count(k: K, n: u64) {
    COUNT[k as usize].fetch_add(n, Relaxed);
}
fn counted(k: K) -> u64 {
    COUNT[k as usize].load(Relaxed)
}

// ------------------------------------------------------------ notifications

/// Ledger entry: `id << 16 | expected << 8 | delivered`.
static NOTES: [AtomicU64; RING] = [const { AtomicU64::new(0) }; RING];
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static STRAY: AtomicU64 = AtomicU64::new(0);
static BAD_SIGINFO: AtomicU64 = AtomicU64::new(0);
static SIGNALS: AtomicU64 = AtomicU64::new(0);
static CALLBACKS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
/// `PAIO_TORTURE_CANCEL=0` leaves aio_cancel out of the mix (for bisecting).
static CANCELS: AtomicBool = AtomicBool::new(true);
/// Running on paio: SIGEV_THREAD_ID is honoured (glibc silently ignores
/// it) and aio_fsync is a barrier behind earlier writes (glibc was seen to
/// complete an fsync before a write queued earlier on the same descriptor).
static THREAD_ID_OK: AtomicBool = AtomicBool::new(true);

/// A fresh id expecting `expect` deliveries (0: must never be delivered).
fn note_issue(w: usize, expect: u64) -> u64 {
    let id = NEXT_ID.fetch_add(1, Relaxed);
    let old = NOTES[id as usize % RING].swap(id << 16 | expect << 8, AcqRel);
    if old != 0 {
        check_entry(w, old, "when its ledger slot was reused");
    }
    id
}

/// Request `id` (if any) is now expected never to be notified.
fn note_expect_none(id: u64) {
    if id != 0 {
        NOTES[id as usize % RING].fetch_and(!(0xff << 8), AcqRel);
    }
}

fn check_entry(w: usize, e: u64, when: &str) {
    let (id, expect, got) = (e >> 16, (e >> 8) & 0xff, e & 0xff);
    if got != expect {
        fail!(
            w,
            "request id {id}: {got} notification(s) delivered, expected {expect} ({when})"
        );
    }
}

/// Called from signal handlers and callback threads: async-signal-safe.
fn note_hit(id: usize) {
    let id = id as u64;
    if id == 0 || id >= NEXT_ID.load(Relaxed) {
        STRAY.fetch_add(1, Relaxed);
        return;
    }
    NOTES[id as usize % RING].fetch_add(1, AcqRel);
}

/// Wait (bounded) until request `id` got its notifications, and check there
/// was no extra one so far.
fn note_wait(w: usize, id: u64) {
    let slot = &NOTES[id as usize % RING];
    let t0 = now_ms();
    loop {
        let e = slot.load(Acquire);
        if e >> 16 != id {
            fail!(
                w,
                "ledger slot of request {id} taken by {} while in use",
                e >> 16
            );
        }
        let (expect, got) = ((e >> 8) & 0xff, e & 0xff);
        if got >= expect {
            return check_entry(w, e, "at completion");
        }
        if now_ms() - t0 > HANG_MS {
            fail!(w, "request id {id}: completed but {got} of {expect} notification(s) arrived in {HANG_MS} ms");
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

extern "C" fn on_signal(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo (SA_SIGINFO). For a queued
    // signal, si_value sits at offset 24 (after si_pid and si_uid).
    unsafe {
        let code = (*info).si_code;
        let value = *((info as *const u8).add(24) as *const usize);
        SIGNALS.fetch_add(1, Relaxed);
        if code != SI_ASYNCIO {
            BAD_SIGINFO.fetch_add(1, Relaxed);
        }
        note_hit(value);
    }
}

extern "C" fn on_callback(value: usize) {
    CALLBACKS.fetch_add(1, Relaxed);
    note_hit(value);
}

fn signo() -> i32 {
    libc::SIGRTMIN() + 2
}

/// Attributes for some SIGEV_THREAD requests (paio runs those on a thread of
/// their own): detached, small stack.
struct Attr(UnsafeCell<libc::pthread_attr_t>);
// SAFETY: initialised once in main before any worker starts; only read after.
unsafe impl Sync for Attr {}
static ATTR: Attr = Attr(UnsafeCell::new(unsafe { std::mem::zeroed() }));

/// A notification for one request: the sigevent and the ledger id (0 when
/// none is expected).
fn pick_notify(w: usize, rng: &mut Rng, tid: i32) -> (Sigevent, u64) {
    let mut ev = Sigevent::none();
    let k = rng.below(100);
    if k < 40 {
        count(K::NotifyNone, 1);
        return (ev, 0);
    }
    let id = note_issue(w, 1);
    ev.sigev_value = id as usize;
    if k < 65 {
        count(K::NotifySignal, 1);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = signo();
    } else if k < 85 {
        ev.sigev_notify = SIGEV_THREAD;
        ev.un[0] = on_callback as *const () as usize;
        if rng.pct(3) {
            count(K::NotifyThreadAttr, 1);
            ev.un[1] = ATTR.0.get() as usize;
        } else {
            count(K::NotifyThread, 1);
        }
    } else if !THREAD_ID_OK.load(Relaxed) {
        // glibc ignores SIGEV_THREAD_ID (--allow-glibc runs): a plain signal.
        count(K::NotifySignal, 1);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = signo();
    } else {
        count(K::NotifyThreadId, 1);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = signo();
        ev.un[0] = tid as u32 as usize;
    }
    (ev, id)
}

// ------------------------------------------------------------ resources

/// A regular file of `NREG` regions, with the version each region holds.
struct FileRes {
    name: &'static str,
    id: u64,
    direct: bool,
    fds: [i32; 2],
    path: CString,
    busy: Vec<AtomicBool>,
    version: Vec<AtomicU32>,
}

/// Deterministic content of `region` at `version`.
fn fill_region(buf: &mut [u8], file: u64, region: usize, version: u32) {
    let mut r = Rng(file << 48 ^ (region as u64) << 24 ^ version as u64 ^ 0x5eed);
    for chunk in buf.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

impl FileRes {
    fn try_lock(&self, region: usize) -> bool {
        self.busy[region]
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
    }
    fn unlock(&self, region: usize) {
        self.busy[region].store(false, Release);
    }
}

#[derive(Default)]
struct StreamModel {
    /// Bytes written into the stream and not read yet.
    pending: VecDeque<u8>,
    seq: u64,
}

/// A pipe (one direction) or a socketpair (both directions, one at a time).
struct StreamRes {
    name: String,
    /// (read fd, write fd) per direction.
    dirs: Vec<(i32, i32)>,
    busy: AtomicBool,
    models: Vec<Mutex<StreamModel>>,
}

// ------------------------------------------------------------ requests

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Read,
    Write,
    Fsync,
    StreamRead,
    StreamWrite,
}

/// One request: the aiocb paio sees (through a raw pointer only) and the
/// model's expectations. Leaked, so the watchdog may always read it.
struct Req {
    cb: UnsafeCell<Aiocb>,
    buf: *mut u8,
    kind: Kind,
    note: u64,
    fd: i32,
    file: usize,
    region: usize,
    /// Read: offset inside the region; expected length.
    sub: usize,
    expect_len: usize,
    version: u32,
    /// Stream write: the bytes written.
    data: Vec<u8>,
    /// Request finished (`aio_error` seen not `EINPROGRESS`).
    seen_done: bool,
    desc: String,
}

// SAFETY: a Req is used by its worker; the watchdog only calls aio_error on
// the aiocb, which is what aio_error is for.
unsafe impl Send for Req {}
unsafe impl Sync for Req {}

impl Req {
    fn new() -> &'static mut Req {
        let mut p: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: posix_memalign writes the pointer; O_DIRECT wants 4 KiB alignment.
        let r = unsafe { libc::posix_memalign(&mut p, 4096, BUF_CAP) };
        assert!(r == 0, "posix_memalign");
        Box::leak(Box::new(Req {
            cb: UnsafeCell::new(Aiocb::zeroed()),
            buf: p as *mut u8,
            kind: Kind::Read,
            note: 0,
            fd: -1,
            file: 0,
            region: 0,
            sub: 0,
            expect_len: 0,
            version: 0,
            data: Vec::new(),
            seen_done: false,
            desc: String::new(),
        }))
    }
    fn cbp(&self) -> *mut Aiocb {
        self.cb.get()
    }
    fn error(&self) -> i32 {
        // SAFETY: a live aiocb.
        unsafe { aio_error(self.cbp()) }
    }
    fn ret(&self) -> isize {
        // SAFETY: a live aiocb.
        unsafe { aio_return(self.cbp()) }
    }
    fn buf(&self, len: usize) -> &'static mut [u8] {
        assert!(len <= BUF_CAP);
        // SAFETY: BUF_CAP bytes allocated; only touched while no request uses it.
        unsafe { std::slice::from_raw_parts_mut(self.buf, len) }
    }
    /// Fill the aiocb for a new submission.
    fn prep(&mut self, fd: i32, opcode: i32, len: usize, offset: i64, ev: Sigevent, reqprio: i32) {
        // SAFETY: not in flight (the previous use was reaped).
        let cb = unsafe { &mut *self.cbp() };
        *cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = opcode;
        cb.aio_reqprio = reqprio;
        cb.aio_buf = self.buf as *mut libc::c_void;
        cb.aio_nbytes = len;
        cb.aio_offset = offset;
        cb.aio_sigevent = ev;
        self.fd = fd;
        self.seen_done = false;
    }
}

// ------------------------------------------------------------ workers

/// What a worker does now, for the watchdog.
struct Activity {
    heartbeat: AtomicU64,
    what: Mutex<String>,
    pending: Mutex<Vec<usize>>,
}

struct Shared {
    files: Vec<FileRes>,
    streams: Vec<StreamRes>,
    stop: AtomicBool,
    activity: Vec<Activity>,
    dir: String,
}

static SHARED: std::sync::OnceLock<Arc<Shared>> = std::sync::OnceLock::new();

fn dump_pending(s: &mut String) {
    let Some(sh) = SHARED.get() else { return };
    let now = now_ms();
    for (i, a) in sh.activity.iter().enumerate() {
        let what = a
            .what
            .try_lock()
            .map(|g| g.clone())
            .unwrap_or_else(|_| "<busy>".into());
        let _ = writeln!(
            s,
            "  worker {i}: {what}; last progress {} ms ago",
            now.saturating_sub(a.heartbeat.load(Relaxed))
        );
        if let Ok(p) = a.pending.try_lock() {
            for &r in p.iter() {
                // SAFETY: Reqs are leaked, never freed.
                let r = unsafe { &*(r as *const Req) };
                let e = r.error();
                let _ = writeln!(s, "    {}: aio_error={}", r.desc, errname(e));
            }
        }
    }
}

struct Worker {
    idx: usize,
    rng: Rng,
    tid: i32,
    sh: Arc<Shared>,
    pool: Vec<&'static mut Req>,
    scratch: Vec<u8>,
    /// The NOP entry lists get now and then (never submitted by itself).
    nop: &'static mut Req,
    /// Ledger ids of LIO_NOWAIT list notifications still to be checked.
    list_notes: Vec<u64>,
}

impl Worker {
    fn beat(&self) {
        self.sh.activity[self.idx]
            .heartbeat
            .store(now_ms(), Relaxed);
    }
    fn set_activity(&self, what: String, reqs: &[usize]) {
        let a = &self.sh.activity[self.idx];
        *a.what.lock().unwrap() = what;
        *a.pending.lock().unwrap() = reqs
            .iter()
            .map(|&i| &*self.pool[i] as *const Req as usize)
            .collect();
        self.beat();
    }

    fn run(&mut self) {
        let mut next_fork = now_ms() + 1000 + self.rng.below(2000);
        while !self.sh.stop.load(Relaxed) {
            let k = self.rng.below(100);
            let nfiles = self.sh.files.len();
            if k < 45 {
                self.file_batch(0);
            } else if k < 65 && nfiles > 1 {
                self.file_batch(1);
            } else if k < 97 {
                self.stream_batch();
            } else {
                self.refusal();
            }
            if self.idx == 0 && now_ms() >= next_fork {
                self.fork_child();
                next_fork = now_ms() + 2000 + self.rng.below(3000);
            }
        }
        self.set_activity("finished".into(), &[]);
    }

    /// A request refused at submission (bad aio_reqprio): -1/EINVAL, the
    /// aiocb shows EINVAL, and no notification follows.
    fn refusal(&mut self) {
        let tid = self.tid;
        let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
        // Whatever was picked must never be delivered now.
        note_expect_none(note);
        let fd = self.sh.files[0].fds[0];
        let write = self.rng.pct(50);
        let prio = if self.rng.pct(50) { 21 } else { -1 };
        let r = &mut *self.pool[0];
        r.prep(
            fd,
            if write { LIO_WRITE } else { LIO_READ },
            16,
            0,
            ev,
            prio,
        );
        set_errno(0);
        // SAFETY: a valid aiocb and buffer.
        let rc = unsafe {
            if write {
                aio_write(r.cbp())
            } else {
                aio_read(r.cbp())
            }
        };
        let e = errno();
        if rc != -1 || e != libc::EINVAL {
            fail!(
                self.idx,
                "aio_reqprio={prio}: submission returned {rc} errno {}, expected -1/EINVAL",
                errname(e)
            );
        }
        let ae = r.error();
        if ae != libc::EINVAL {
            fail!(
                self.idx,
                "aio_reqprio={prio}: refused synchronously but aio_error = {}, expected EINVAL",
                errname(ae)
            );
        }
        count(K::Refused, 1);
    }

    // -------------------------------------------------------- files

    fn file_batch(&mut self, fi: usize) {
        let sh = self.sh.clone();
        let f = &sh.files[fi];
        let n = self.rng.range(1, MAX_BATCH as u64) as usize;
        let mut used: Vec<usize> = Vec::new();
        for slot in 0..n {
            let mut region = None;
            for _ in 0..4 {
                let r = self.rng.below(NREG as u64) as usize;
                if f.try_lock(r) {
                    region = Some(r);
                    break;
                }
            }
            let Some(region) = region else { continue };
            let fd = f.fds[self.rng.below(2) as usize];
            let write = self.rng.pct(40);
            let tid = self.tid;
            let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
            let prio = self.rng.below(21) as i32;
            let ver = f.version[region].load(Relaxed);
            let r = &mut *self.pool[slot];
            r.note = note;
            r.file = fi;
            r.region = region;
            let base = (region * REG) as i64;
            if write {
                r.kind = Kind::Write;
                r.version = ver + 1;
                fill_region(r.buf(REG), f.id, region, ver + 1);
                r.expect_len = REG;
                r.sub = 0;
                r.prep(fd, LIO_WRITE, REG, base, ev, prio);
            } else {
                r.kind = Kind::Read;
                r.version = ver;
                let (sub, mut len) = if f.direct {
                    let sub = 4096 * self.rng.below(2) as usize;
                    (sub, if self.rng.pct(50) { 4096 } else { REG - sub })
                } else if self.rng.pct(3) {
                    (self.rng.below(REG as u64) as usize, 0)
                } else {
                    let sub = self.rng.below(REG as u64) as usize;
                    (sub, self.rng.range(1, (REG - sub) as u64) as usize)
                };
                r.expect_len = len;
                if region == NREG - 1 && self.rng.pct(30) {
                    // Reaching past the end of the file: a short read.
                    len = REG - sub
                        + if f.direct {
                            4096
                        } else {
                            self.rng.range(1, 4096) as usize
                        };
                    r.expect_len = REG - sub;
                    count(K::EofRead, 1);
                }
                r.sub = sub;
                r.buf(len).fill(0xEE);
                r.prep(fd, LIO_READ, len, base + sub as i64, ev, prio);
            }
            r.desc = format!(
                "{} {} fd={} region={} off={} len={} note={}",
                f.name,
                if write { "write" } else { "read" },
                fd,
                region,
                base + r.sub as i64,
                // SAFETY: just prepared.
                unsafe { (*r.cbp()).aio_nbytes },
                note
            );
            used.push(slot);
        }
        if used.is_empty() {
            return;
        }
        self.set_activity(format!("{} batch of {}", f.name, used.len()), &used);
        self.submit_batch(&used, false);

        // An fsync behind the writes of one descriptor, now and then.
        let mut barrier: Option<(usize, Vec<usize>)> = None;
        let writes: Vec<usize> = used
            .iter()
            .copied()
            .filter(|&i| self.pool[i].kind == Kind::Write)
            .collect();
        if !writes.is_empty() && self.rng.pct(30) {
            let fd = self.pool[writes[self.rng.below(writes.len() as u64) as usize]].fd;
            let slot = MAX_BATCH;
            let tid = self.tid;
            let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
            let op = if self.rng.pct(50) {
                libc::O_SYNC
            } else {
                libc::O_DSYNC
            };
            let r = &mut *self.pool[slot];
            r.kind = Kind::Fsync;
            r.note = note;
            r.prep(fd, LIO_NOP, 0, 0, ev, 0);
            r.desc = format!("{} fsync fd={fd} note={note}", f.name);
            // SAFETY: a valid aiocb.
            let rc = unsafe { aio_fsync(op, r.cbp()) };
            if rc != 0 {
                fail!(
                    self.idx,
                    "aio_fsync(fd {fd}) = {rc} errno {}",
                    errname(errno())
                );
            }
            let covered = writes
                .iter()
                .copied()
                .filter(|&i| self.pool[i].fd == fd)
                .collect();
            barrier = Some((slot, covered));
            used.push(slot);
            self.set_activity(
                format!("{} batch of {} + fsync", f.name, used.len() - 1),
                &used,
            );
        }
        self.maybe_cancel(&used);
        self.wait_all(&used, barrier.as_ref(), true, None);
        for &i in &used {
            self.reap_file(i);
        }
        for &i in &used {
            let r = &self.pool[i];
            if r.kind != Kind::Fsync {
                f.unlock(r.region);
            }
        }
        self.check_list_notes();
    }

    /// Every member of the batch is done: a LIO_NOWAIT list's own
    /// notification must arrive (once).
    fn check_list_notes(&mut self) {
        for note in std::mem::take(&mut self.list_notes) {
            note_wait(self.idx, note);
        }
    }

    fn reap_file(&mut self, i: usize) {
        let sh = self.sh.clone();
        let r = &*self.pool[i];
        let e = r.error();
        let ret = r.ret();
        let f = &sh.files[r.file];
        match (r.kind, e) {
            (_, libc::ECANCELED) => {
                if ret != -1 {
                    fail!(self.idx, "{}: cancelled but aio_return = {ret}", r.desc);
                }
                count(K::Cancelled, 1);
            }
            (Kind::Fsync, 0) => {
                if ret != 0 {
                    fail!(self.idx, "{}: aio_return = {ret}, expected 0", r.desc);
                }
                count(K::Fsync, 1);
            }
            (Kind::Write, 0) => {
                if ret != REG as isize {
                    fail!(self.idx, "{}: aio_return = {ret}, expected {REG}", r.desc);
                }
                f.version[r.region].store(r.version, Relaxed);
                count(if f.direct { K::DirectWrite } else { K::Write }, 1);
                count(K::BytesWritten, REG as u64);
            }
            (Kind::Read, 0) => {
                if ret != r.expect_len as isize {
                    fail!(
                        self.idx,
                        "{}: aio_return = {ret}, expected {}",
                        r.desc,
                        r.expect_len
                    );
                }
                let mut want = std::mem::take(&mut self.scratch);
                fill_region(&mut want, f.id, r.region, r.version);
                let got = r.buf(r.expect_len);
                if got != &want[r.sub..r.sub + r.expect_len] {
                    let at = got
                        .iter()
                        .zip(&want[r.sub..])
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    fail!(
                        self.idx,
                        "{}: data differs from region version {} at byte {at}",
                        r.desc,
                        r.version
                    );
                }
                self.scratch = want;
                count(if f.direct { K::DirectRead } else { K::Read }, 1);
                count(K::BytesRead, ret as u64);
            }
            (_, e) => fail!(
                self.idx,
                "{}: aio_error = {} (aio_return {ret})",
                r.desc,
                errname(e)
            ),
        }
        if r.note != 0 {
            note_wait(self.idx, r.note);
        }
    }

    // -------------------------------------------------------- submission

    /// Submit the requests `used` one by one, or as one `lio_listio` list in
    /// either mode (LIO_WAIT only when `wait_ok`), with NULL and NOP entries.
    fn submit_batch(&mut self, used: &[usize], stream: bool) {
        let how = self.rng.below(100);
        // LIO_WAIT is safe for streams too: the reads of a batch ask for no
        // more than its writes (and what the stream held) provide, and the
        // writes always fit in the pipe or socket buffer.
        let _ = stream;
        let wait_ok = true;
        if how < 45 {
            for &i in used {
                let r = &*self.pool[i];
                // SAFETY: a prepared aiocb with a live buffer.
                let rc = unsafe {
                    if matches!(r.kind, Kind::Write | Kind::StreamWrite) {
                        aio_write(r.cbp())
                    } else {
                        aio_read(r.cbp())
                    }
                };
                if rc != 0 {
                    fail!(
                        self.idx,
                        "{}: submission returned {rc} errno {}",
                        r.desc,
                        errname(errno())
                    );
                }
            }
            return;
        }
        let mode = if how < 70 && wait_ok {
            LIO_WAIT
        } else {
            LIO_NOWAIT
        };
        let mut list: Vec<*mut Aiocb> = Vec::new();
        for &i in used {
            if self.rng.pct(5) {
                list.push(std::ptr::null_mut());
            }
            if self.rng.pct(5) {
                self.nop.prep(-1, LIO_NOP, 0, 0, Sigevent::none(), 0);
                list.push(self.nop.cbp());
            }
            list.push(self.pool[i].cbp());
        }
        let tid = self.tid;
        let (mut ev, note) = pick_notify(self.idx, &mut self.rng, tid);
        if mode == LIO_WAIT {
            // LIO_WAIT ignores the list's sigevent: it must never be delivered.
            note_expect_none(note);
        } else if note != 0 {
            count(K::NotifyList, 1);
        }
        set_errno(0);
        // SAFETY: every non-NULL entry is a prepared aiocb with a live buffer.
        let rc = unsafe { lio_listio(mode, list.as_ptr(), list.len() as i32, &mut ev) };
        let e = errno();
        if mode == LIO_NOWAIT {
            count(K::LioNowait, 1);
            if rc != 0 {
                fail!(
                    self.idx,
                    "lio_listio(LIO_NOWAIT, {} entries) = {rc} errno {}",
                    list.len(),
                    errname(e)
                );
            }
            if note != 0 {
                // Checked after the batch: it fires once all members are done.
                self.list_notes.push(note);
            }
            return;
        }
        count(K::LioWait, 1);
        let failed = used.iter().any(|&i| {
            let e = self.pool[i].error();
            e != 0 && e != libc::EINPROGRESS
        });
        let inflight = used
            .iter()
            .any(|&i| self.pool[i].error() == libc::EINPROGRESS);
        match (rc, e) {
            (0, _) if !failed && !inflight => {}
            (-1, libc::EIO) if failed && !inflight => {}
            (-1, libc::EINTR) => count(K::LioEintr, 1),
            _ => fail!(
                self.idx,
                "lio_listio(LIO_WAIT) = {rc} errno {} with members failed={failed} in-flight={inflight}",
                errname(e)
            ),
        }
    }

    /// Now and then, cancel one request, every request of a descriptor, or
    /// name a descriptor that is not the aiocb's (EINVAL).
    fn maybe_cancel(&mut self, used: &[usize]) {
        if !self.rng.pct(20) || !CANCELS.load(Relaxed) {
            return;
        }
        count(K::CancelCalls, 1);
        let r = &*self.pool[used[self.rng.below(used.len() as u64) as usize]];
        let k = self.rng.below(100);
        if k < 15 {
            // SAFETY: NULL means every request on the descriptor.
            let rc = unsafe { aio_cancel(r.fd, std::ptr::null_mut()) };
            if !(0..=2).contains(&rc) {
                fail!(
                    self.idx,
                    "aio_cancel(fd {}, NULL) = {rc} errno {}",
                    r.fd,
                    errname(errno())
                );
            }
            return;
        }
        if k < 20 {
            let other = r.fd + 100_000;
            set_errno(0);
            // SAFETY: a live aiocb; the fd does not match it.
            let rc = unsafe { aio_cancel(other, r.cbp()) };
            let e = errno();
            if rc != -1 || (e != libc::EBADF && e != libc::EINVAL) {
                fail!(
                    self.idx,
                    "aio_cancel(fd {other} not the aiocb's) = {rc} errno {}",
                    errname(e)
                );
            }
            return;
        }
        // SAFETY: a live aiocb on its own descriptor.
        let rc = unsafe { aio_cancel(r.fd, r.cbp()) };
        let e = r.error();
        match rc {
            AIO_CANCELED if e == libc::ECANCELED => {}
            AIO_ALLDONE if e != libc::EINPROGRESS => {}
            AIO_NOTCANCELED => {}
            _ => fail!(
                self.idx,
                "{}: aio_cancel = {rc} (errno {}) but aio_error = {}",
                r.desc,
                errname(errno()),
                errname(e)
            ),
        }
    }

    /// Wait until every request in `used` is done: aio_suspend with short,
    /// zero or no timeouts, or polling aio_error. Checks that a successful
    /// aio_suspend means one listed request is done, and that an fsync never
    /// finishes before the writes it covers. `stream`: `(reads, writes)`
    /// handling of a stream batch (top-ups), see `stream_batch`.
    fn wait_all(
        &mut self,
        used: &[usize],
        barrier: Option<&(usize, Vec<usize>)>,
        null_timeout_ok: bool,
        mut stream: Option<&mut StreamWait>,
    ) {
        let mut last_progress = now_ms();
        let mut barrier_checked = false;
        loop {
            let mut pending: Vec<*const Aiocb> = Vec::new();
            let mut progressed = false;
            for &i in used {
                let r = &mut *self.pool[i];
                if r.seen_done {
                    continue;
                }
                if r.error() == libc::EINPROGRESS {
                    pending.push(r.cbp());
                } else {
                    r.seen_done = true;
                    progressed = true;
                }
            }
            if let (Some((fs, covered)), false, true) =
                (barrier, barrier_checked, THREAD_ID_OK.load(Relaxed))
            {
                let fsr = &self.pool[*fs];
                if fsr.seen_done && fsr.error() == 0 {
                    barrier_checked = true;
                    count(K::BarrierChecks, 1);
                    for &w in covered {
                        if self.pool[w].error() == libc::EINPROGRESS {
                            fail!(
                                self.idx,
                                "{} completed before {} it must follow",
                                fsr.desc,
                                self.pool[w].desc
                            );
                        }
                    }
                }
            }
            if pending.is_empty() {
                return;
            }
            let now = now_ms();
            if progressed {
                last_progress = now;
                self.beat();
            } else if now - last_progress > HANG_MS {
                fail!(
                    self.idx,
                    "no request of the batch finished for {HANG_MS} ms"
                );
            }
            if let Some(sw) = stream.as_deref_mut() {
                if sw.maybe_top_up(&self.pool, used, now - last_progress) {
                    last_progress = now;
                }
            }
            let how = self.rng.below(100);
            if how < 60 {
                let mut list = pending.clone();
                if self.rng.pct(10) {
                    list.insert(self.rng.below(list.len() as u64) as usize, std::ptr::null());
                }
                let ts;
                let tsp = match self.rng.below(10) {
                    0 if null_timeout_ok => std::ptr::null(),
                    1 => {
                        ts = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        };
                        &ts as *const _
                    }
                    _ => {
                        ts = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: self.rng.range(100_000, 20_000_000) as i64,
                        };
                        &ts as *const _
                    }
                };
                count(K::Suspends, 1);
                set_errno(0);
                // SAFETY: live aiocbs (and a NULL, which is skipped).
                let rc = unsafe { aio_suspend(list.as_ptr(), list.len() as i32, tsp) };
                let e = errno();
                match (rc, e) {
                    (0, _) => {
                        let any = pending.iter().any(|&cb| {
                            // SAFETY: live aiocbs.
                            unsafe { aio_error(cb) != libc::EINPROGRESS }
                        });
                        if !any {
                            let tags: Vec<String> = pending
                                .iter()
                                // SAFETY: live aiocbs; bytes 96..104 are glibc's __next_prio.
                                .map(|&cb| {
                                    format!("{:#x}", unsafe {
                                        *((cb as *const u8).add(96) as *const u64)
                                    })
                                })
                                .collect();
                            // Lost, or only late? Give them 3 s.
                            let t0 = now_ms();
                            // SAFETY: live aiocbs.
                            while pending
                                .iter()
                                .all(|&cb| unsafe { aio_error(cb) } == libc::EINPROGRESS)
                                && now_ms() - t0 < 3000
                            {
                                std::thread::sleep(std::time::Duration::from_millis(10));
                            }
                            let later = if now_ms() - t0 >= 3000 {
                                "none finished within 3 s"
                            } else {
                                "one finished later"
                            };
                            fail!(
                                self.idx,
                                "aio_suspend returned 0 with all {} listed requests in progress (private tags {}; {later})",
                                pending.len(),
                                tags.join(" ")
                            );
                        }
                    }
                    (-1, libc::EAGAIN) if !tsp.is_null() => {}
                    (-1, libc::EINTR) => count(K::SuspendIntr, 1),
                    _ => fail!(self.idx, "aio_suspend = {rc} errno {}", errname(e)),
                }
            } else if how < 80 {
                // SAFETY: no arguments.
                unsafe { libc::sched_yield() };
            } else {
                std::thread::sleep(std::time::Duration::from_micros(self.rng.range(10, 2000)));
            }
        }
    }

    // -------------------------------------------------------- streams

    fn stream_batch(&mut self) {
        let sh = self.sh.clone();
        let si = self.rng.below(sh.streams.len() as u64) as usize;
        let s = &sh.streams[si];
        if s.busy
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            return;
        }
        let d = self.rng.below(s.dirs.len() as u64) as usize;
        let (rfd, wfd) = s.dirs[d];
        let mut model = s.models[d].lock().unwrap();
        let held = model.pending.len();
        // Writes first decided, then reads asking for exactly what the stream
        // will hold, so no read can starve (each returns at least one byte,
        // in order, and there is always as much data as is still asked for).
        let mut ops: Vec<(Kind, usize)> = Vec::new();
        let mut total = held;
        if held < STREAM_HIGH {
            for _ in 0..self.rng.range(1, 4) {
                let len = self.rng.range(1, 8192) as usize;
                total += len;
                ops.push((Kind::StreamWrite, len));
            }
        }
        let nreads = (self.rng.range(1, 4) as usize).min(total);
        let mut left = total;
        for k in 0..nreads {
            let len = if k + 1 == nreads {
                left
            } else {
                self.rng.range(1, (left - (nreads - k - 1)) as u64) as usize
            };
            let len = len.min(BUF_CAP);
            left -= len;
            ops.push((Kind::StreamRead, len));
        }
        // Random interleaving of reads and writes; the order within each
        // kind is what the stream preserves.
        for i in (1..ops.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            ops.swap(i, j);
        }
        let mut used = Vec::new();
        for (slot, &(kind, len)) in ops.iter().enumerate() {
            let tid = self.tid;
            let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
            let seq = model.seq;
            model.seq += 1;
            let r = &mut *self.pool[slot];
            r.kind = kind;
            r.note = note;
            r.expect_len = len;
            if kind == Kind::StreamWrite {
                let mut g = Rng(seq ^ (si as u64) << 40 ^ 0xabcdef);
                let b = r.buf(len);
                for x in b.iter_mut() {
                    *x = g.next() as u8;
                }
                r.data.clear();
                r.data.extend_from_slice(b);
                r.prep(wfd, LIO_WRITE, len, 0, ev, 0);
            } else {
                r.buf(len).fill(0xEE);
                r.prep(rfd, LIO_READ, len, self.rng.below(1 << 20) as i64, ev, 0);
            }
            r.desc = format!(
                "{} dir {d} {} fd={} len={len} note={note}",
                s.name,
                if kind == Kind::StreamWrite {
                    "write"
                } else {
                    "read"
                },
                r.fd
            );
            used.push(slot);
        }
        self.set_activity(
            format!("{} dir {d}: {} ops, {held} bytes held", s.name, used.len()),
            &used,
        );
        self.submit_batch(&used, true);
        self.maybe_cancel(&used);
        let mut sw = StreamWait {
            wfd,
            held,
            topped: Vec::new(),
        };
        self.wait_all(&used, None, false, Some(&mut sw));

        // The stream as the model has it: what it held, the writes that
        // succeeded (in submission order), then any top-up.
        for &i in &used {
            let r = &*self.pool[i];
            let (e, ret) = (r.error(), r.ret());
            if r.kind != Kind::StreamWrite {
                continue;
            }
            match e {
                0 if ret == r.expect_len as isize => {
                    model.pending.extend(&r.data);
                    count(K::StreamWrite, 1);
                    count(K::BytesWritten, ret as u64);
                }
                libc::ECANCELED if ret == -1 => count(K::Cancelled, 1),
                _ => fail!(
                    self.idx,
                    "{}: aio_error {} aio_return {ret}",
                    r.desc,
                    errname(e)
                ),
            }
        }
        model.pending.extend(&sw.topped);
        for &i in &used {
            let r = &*self.pool[i];
            let (e, ret) = (r.error(), r.ret());
            if r.kind == Kind::StreamRead {
                match e {
                    0 if ret > 0 && ret as usize <= r.expect_len => {
                        let got = r.buf(ret as usize);
                        if model.pending.len() < got.len() {
                            fail!(
                                self.idx,
                                "{}: read {ret} bytes, the stream held only {}",
                                r.desc,
                                model.pending.len()
                            );
                        }
                        for (k, &b) in got.iter().enumerate() {
                            let want = model.pending.pop_front().unwrap_or(0);
                            if b != want {
                                fail!(self.idx, "{}: byte {k} of {ret} is {b:#x}, the stream has {want:#x} there", r.desc);
                            }
                        }
                        count(K::StreamRead, 1);
                        count(K::BytesRead, ret as u64);
                    }
                    libc::ECANCELED if ret == -1 => count(K::Cancelled, 1),
                    _ => fail!(
                        self.idx,
                        "{}: aio_error {} aio_return {ret}",
                        r.desc,
                        errname(e)
                    ),
                }
            }
            if r.note != 0 {
                note_wait(self.idx, r.note);
            }
        }
        drop(model);
        s.busy.store(false, Release);
        self.check_list_notes();
    }

    // -------------------------------------------------------- fork

    /// Fork; the child does a little AIO of its own (write, fsync, read back,
    /// a pipe read) and exits with a status the parent checks.
    fn fork_child(&mut self) {
        let path = CString::new(format!("{}/fork-{}", self.sh.dir, self.rng.next())).unwrap();
        self.set_activity("waiting for a forked child".into(), &[]);
        // SAFETY: the child only calls async-signal-safe functions and AIO
        // (which must work in a forked child), then _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            fail!(self.idx, "fork: {}", errname(errno()));
        }
        if pid == 0 {
            // SAFETY: see above.
            unsafe { fork_child_main(&path) }
        }
        count(K::Forks, 1);
        let t0 = now_ms();
        loop {
            let mut status = 0;
            // SAFETY: our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                    fail!(
                        self.idx,
                        "forked child ended with status {status:#x} (exit {} signal {})",
                        libc::WEXITSTATUS(status),
                        libc::WTERMSIG(status)
                    );
                }
                break;
            }
            if now_ms() - t0 > 20_000 {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                fail!(self.idx, "forked child (pid {pid}) hung for 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // SAFETY: a NUL-terminated path.
        unsafe { libc::unlink(path.as_ptr()) };
    }
}

/// The child side of a fork: no allocation, no locks; exit code = the step
/// that failed.
unsafe fn fork_child_main(path: &CString) -> ! {
    // SAFETY (whole body): plain syscalls and AIO on local aiocbs and buffers
    // that outlive every request (the function never returns).
    unsafe {
        libc::alarm(15);
        static mut WBUF: [u8; 4096] = [0; 4096];
        static mut RBUF: [u8; 4096] = [0; 4096];
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
            let t0 = now_ms();
            while aio_error(cb) == libc::EINPROGRESS {
                let l = [cb];
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 5_000_000,
                };
                aio_suspend(l.as_ptr(), 1, &ts);
                if now_ms() - t0 > 10_000 {
                    libc::_exit(11);
                }
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
        let mut fs = Aiocb::zeroed();
        fs.aio_fildes = fd;
        fs.aio_sigevent = Sigevent::none();
        if aio_fsync(libc::O_DSYNC, &mut fs) != 0 || wait(&fs) != 0 {
            libc::_exit(13);
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
        let mut p = [0i32; 2];
        if libc::pipe(p.as_mut_ptr()) != 0 {
            libc::_exit(15);
        }
        let mut pr = Aiocb::zeroed();
        pr.aio_fildes = p[0];
        pr.aio_buf = rbuf as *mut libc::c_void;
        pr.aio_nbytes = 100;
        pr.aio_sigevent = Sigevent::none();
        if aio_read(&mut pr) != 0 {
            libc::_exit(16);
        }
        if libc::write(p[1], wbuf as *const libc::c_void, 10) != 10
            || wait(&pr) != 0
            || aio_return(&mut pr) != 10
        {
            libc::_exit(17);
        }
        libc::_exit(0)
    }
}

/// Stream-batch state for `wait_all`: when every write is done and reads
/// still wait with nothing left in the stream (writes were cancelled), write
/// what they ask for synchronously so they can finish; the bytes join the
/// model after the writes.
struct StreamWait {
    wfd: i32,
    held: usize,
    topped: Vec<u8>,
}

impl StreamWait {
    fn maybe_top_up(&mut self, pool: &[&'static mut Req], used: &[usize], idle_ms: u64) -> bool {
        if idle_ms < 20 {
            return false;
        }
        let mut in_stream = self.held as isize + self.topped.len() as isize;
        let mut want = 0usize;
        for &i in used {
            let r = &pool[i];
            let e = r.error();
            match (r.kind, e) {
                (Kind::StreamWrite, libc::EINPROGRESS) => return false,
                (Kind::StreamWrite, 0) => in_stream += r.ret(),
                (Kind::StreamRead, 0) => in_stream -= r.ret(),
                (Kind::StreamRead, libc::EINPROGRESS) => want += r.expect_len,
                _ => {}
            }
        }
        if want == 0 || in_stream > 0 {
            // Data is there for the reads: they must take it by themselves
            // (wait_all's hang check fails the run otherwise).
            return false;
        }
        count(K::TopUps, 1);
        let start = self.topped.len();
        let mut g = Rng(start as u64 ^ 0x70_9009);
        self.topped.extend((0..want).map(|_| g.next() as u8));
        let mut off = start;
        while off < self.topped.len() {
            // SAFETY: writing our own buffer to our own descriptor.
            let n = unsafe {
                libc::write(
                    self.wfd,
                    self.topped[off..].as_ptr() as *const _,
                    self.topped.len() - off,
                )
            };
            if n <= 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                die(
                    None,
                    &format!("top-up write to fd {}: {}", self.wfd, errname(errno())),
                );
            }
            off += n as usize;
        }
        true
    }
}

// ------------------------------------------------------------ main

struct Args {
    seconds: u64,
    soak: bool,
    seed: u64,
    threads: usize,
    dir: Option<String>,
    allow_glibc: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        seconds: 60,
        soak: false,
        seed: 0,
        threads: 8,
        dir: None,
        allow_glibc: false,
    };
    let env_secs = std::env::var("PAIO_TORTURE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(s) = env_secs {
        a.seconds = s;
    }
    a.seed = now_ms() ^ (std::process::id() as u64) << 32;
    let mut it = std::env::args().skip(1);
    let num = |it: &mut dyn Iterator<Item = String>, name: &str| -> u64 {
        it.next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage(&format!("{name} needs a number")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => a.seconds = num(&mut it, "--seconds"),
            "--soak" => {
                a.seconds = num(&mut it, "--soak");
                a.soak = true;
            }
            "--seed" => a.seed = num(&mut it, "--seed"),
            "--threads" => a.threads = num(&mut it, "--threads").max(1) as usize,
            "--dir" => a.dir = Some(it.next().unwrap_or_else(|| usage("--dir needs a path"))),
            "--allow-glibc" => a.allow_glibc = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: paio-torture [--seconds N | --soak N] [--seed N] [--threads N] [--dir PATH] [--allow-glibc]");
    std::process::exit(2)
}

fn open_file(path: &CString, flags: i32) -> i32 {
    // SAFETY: a NUL-terminated path.
    unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | flags, 0o600) }
}

fn make_file(dir: &str, name: &'static str, id: u64, direct: bool) -> Option<FileRes> {
    let path = CString::new(format!("{dir}/{name}")).unwrap();
    let plain = open_file(&path, libc::O_CREAT | libc::O_TRUNC);
    assert!(plain >= 0, "create {dir}/{name}: errno {}", errno());
    let mut buf = vec![0u8; REG];
    for region in 0..NREG {
        fill_region(&mut buf, id, region, 0);
        // SAFETY: a local buffer.
        let n =
            unsafe { libc::pwrite(plain, buf.as_ptr() as *const _, REG, (region * REG) as i64) };
        assert_eq!(n, REG as isize, "initial write");
    }
    // SAFETY: our descriptor.
    unsafe {
        libc::fsync(plain);
        libc::close(plain);
    }
    let flags = if direct { libc::O_DIRECT } else { 0 };
    let a = open_file(&path, flags);
    let b = open_file(&path, flags);
    if a < 0 || b < 0 {
        eprintln!(
            "paio-torture: note: cannot open {name} with O_DIRECT here ({}); no O_DIRECT requests",
            errname(errno())
        );
        return None;
    }
    Some(FileRes {
        name,
        id,
        direct,
        fds: [a, b],
        path,
        busy: (0..NREG).map(|_| AtomicBool::new(false)).collect(),
        version: (0..NREG).map(|_| AtomicU32::new(0)).collect(),
    })
}

fn make_streams() -> Vec<StreamRes> {
    let mut v = Vec::new();
    for i in 0..3 {
        let mut p = [0i32; 2];
        // SAFETY: writes two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        v.push(StreamRes {
            name: format!("pipe{i}"),
            dirs: vec![(p[0], p[1])],
            busy: AtomicBool::new(false),
            models: vec![Mutex::default()],
        });
    }
    for i in 0..3 {
        let mut p = [0i32; 2];
        // SAFETY: writes two descriptors.
        assert_eq!(
            unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    0,
                    p.as_mut_ptr(),
                )
            },
            0
        );
        v.push(StreamRes {
            name: format!("socketpair{i}"),
            dirs: vec![(p[0], p[1]), (p[1], p[0])],
            busy: AtomicBool::new(false),
            models: vec![Mutex::default(), Mutex::default()],
        });
    }
    v
}

fn install_handler() {
    // SAFETY: installing a SA_SIGINFO handler that only touches atomics.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(signo(), &sa, std::ptr::null_mut()), 0);
        libc::pthread_attr_init(ATTR.0.get());
        libc::pthread_attr_setdetachstate(ATTR.0.get(), libc::PTHREAD_CREATE_DETACHED);
        libc::pthread_attr_setstacksize(ATTR.0.get(), 128 << 10);
    }
}

fn watchdog(sh: Arc<Shared>, deadline: u64) {
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = now_ms();
        if now > deadline {
            die(None, "the run overran its deadline");
        }
        for (i, a) in sh.activity.iter().enumerate() {
            let hb = a.heartbeat.load(Relaxed);
            let what = a.what.lock().map(|g| g.clone()).unwrap_or_default();
            if what != "finished" && now.saturating_sub(hb) > HANG_MS + 10_000 {
                die(
                    Some(i),
                    &format!("worker {i} made no progress for {} ms", now - hb),
                );
            }
        }
    }
}

/// Read every region back through a fresh descriptor and compare it with
/// the model; drain every stream and compare what it still held.
fn final_check(sh: &Shared) -> (usize, usize) {
    let mut want = vec![0u8; REG];
    let mut got = vec![0u8; REG];
    let mut regions = 0;
    for f in &sh.files {
        let fd = open_file(&f.path, 0);
        for region in 0..NREG {
            let v = f.version[region].load(Relaxed);
            fill_region(&mut want, f.id, region, v);
            // SAFETY: local buffer.
            let n =
                unsafe { libc::pread(fd, got.as_mut_ptr() as *mut _, REG, (region * REG) as i64) };
            if n != REG as isize || got != want {
                die(
                    None,
                    &format!(
                        "final check: {} region {region} does not hold version {v} (read {n})",
                        f.name
                    ),
                );
            }
            regions += 1;
        }
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    }
    let mut bytes = 0;
    for s in &sh.streams {
        for (d, &(rfd, _)) in s.dirs.iter().enumerate() {
            let mut m = s.models[d].lock().unwrap();
            while !m.pending.is_empty() {
                let mut b = vec![0u8; m.pending.len()];
                // SAFETY: local buffer; the data is known to be there.
                let n = unsafe { libc::read(rfd, b.as_mut_ptr() as *mut _, b.len()) };
                if n <= 0 {
                    die(
                        None,
                        &format!(
                            "final check: {} dir {d} should hold {} more bytes (read {n})",
                            s.name,
                            m.pending.len()
                        ),
                    );
                }
                for &x in &b[..n as usize] {
                    if m.pending.pop_front() != Some(x) {
                        die(
                            None,
                            &format!("final check: {} dir {d}: leftover bytes differ", s.name),
                        );
                    }
                }
                bytes += n as usize;
            }
            // Nothing more may be there.
            let mut x = 0u8;
            // SAFETY: non-blocking probe of our own descriptor.
            let n = unsafe { libc::recv(rfd, &mut x as *mut u8 as *mut _, 1, libc::MSG_DONTWAIT) };
            let n = if n < 0 && errno() == libc::ENOTSOCK {
                let fl = unsafe { libc::fcntl(rfd, libc::F_GETFL) };
                unsafe { libc::fcntl(rfd, libc::F_SETFL, fl | libc::O_NONBLOCK) };
                let n = unsafe { libc::read(rfd, &mut x as *mut u8 as *mut _, 1) };
                unsafe { libc::fcntl(rfd, libc::F_SETFL, fl) };
                n
            } else {
                n
            };
            if n > 0 {
                die(
                    None,
                    &format!("final check: {} dir {d} holds bytes nobody wrote", s.name),
                );
            }
        }
    }
    (regions, bytes)
}

fn main() {
    let args = parse_args();
    SEED.store(args.seed, Relaxed);
    let provider = aio_provider();
    let on_paio = provider.contains("libpaio");
    println!(
        "paio-torture: seed {} threads {} seconds {} aio from {provider}",
        args.seed, args.threads, args.seconds
    );
    if !on_paio && !args.allow_glibc {
        eprintln!("paio-torture: aio_read resolves to {provider}, not libpaio: run under LD_PRELOAD=libpaio.so (or pass --allow-glibc)");
        std::process::exit(3);
    }
    THREAD_ID_OK.store(on_paio, Relaxed);
    CANCELS.store(
        std::env::var("PAIO_TORTURE_CANCEL").map_or(true, |v| v != "0"),
        Relaxed,
    );
    let own_dir = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        format!("{base}/paio-torture-{}", std::process::id())
    });
    std::fs::create_dir_all(&dir).expect("create the work directory");
    let mut files = vec![make_file(&dir, "buffered", 1, false).expect("buffered file")];
    if let Some(f) = make_file(&dir, "direct", 2, true) {
        files.push(f);
    }
    install_handler();
    let sh = Arc::new(Shared {
        files,
        streams: make_streams(),
        stop: AtomicBool::new(false),
        activity: (0..args.threads)
            .map(|_| Activity {
                heartbeat: AtomicU64::new(now_ms()),
                what: Mutex::new("starting".into()),
                pending: Mutex::new(Vec::new()),
            })
            .collect(),
        dir: dir.clone(),
    });
    let _ = SHARED.set(sh.clone());
    let t0 = now_ms();
    let end = t0 + args.seconds * 1000;
    {
        let sh = sh.clone();
        let deadline = end + 120_000;
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watchdog(sh, deadline))
            .unwrap();
    }
    let mut handles = Vec::new();
    for idx in 0..args.threads {
        let sh = sh.clone();
        let seed = args.seed ^ (idx as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        handles.push(
            std::thread::Builder::new()
                .name(format!("torture-{idx}"))
                .spawn(move || {
                    let mut w = Worker {
                        idx,
                        rng: Rng(seed),
                        tid: gettid(),
                        sh,
                        pool: (0..=MAX_BATCH + 4).map(|_| Req::new()).collect(),
                        scratch: vec![0u8; REG],
                        nop: Req::new(),
                        list_notes: Vec::new(),
                    };
                    w.run();
                    for note in std::mem::take(&mut w.list_notes) {
                        note_wait(idx, note);
                    }
                })
                .unwrap(),
        );
    }
    let mut last_report = t0;
    while now_ms() < end {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = now_ms();
        let every = if args.soak { 60_000 } else { 10_000 };
        if now - last_report >= every {
            last_report = now;
            eprintln!(
                "paio-torture: {:>5} s: {} requests",
                (now - t0) / 1000,
                completed()
            );
        }
    }
    sh.stop.store(true, SeqCst);
    for h in handles {
        if h.join().is_err() {
            die(None, "a worker thread panicked");
        }
    }
    let elapsed = (now_ms() - t0).max(1);
    let (regions, leftover) = final_check(&sh);
    // Late duplicates: give them a moment, then sweep the whole ledger.
    std::thread::sleep(std::time::Duration::from_millis(300));
    for e in NOTES.iter() {
        let v = e.load(Acquire);
        if v != 0 {
            check_entry(usize::MAX, v, "at the end of the run");
        }
    }
    if STRAY.load(Relaxed) != 0 {
        die(
            None,
            &format!("{} notification(s) with an unknown id", STRAY.load(Relaxed)),
        );
    }
    if BAD_SIGINFO.load(Relaxed) != 0 {
        die(
            None,
            &format!(
                "{} signal(s) without si_code SI_ASYNCIO",
                BAD_SIGINFO.load(Relaxed)
            ),
        );
    }
    let total = completed();
    let mut line = String::new();
    for (i, name) in KNAMES.iter().enumerate() {
        let _ = write!(line, " {name}={}", COUNT[i].load(Relaxed));
    }
    println!("paio-torture: counts:{line}");
    println!(
        "paio-torture: signals={} callbacks={} final check: {regions} regions, {leftover} stream bytes",
        SIGNALS.load(Relaxed),
        CALLBACKS.load(Relaxed)
    );
    println!(
        "paio-torture: PASS {total} requests in {:.1} s = {:.0} requests/s (seed {})",
        elapsed as f64 / 1000.0,
        total as f64 * 1000.0 / elapsed as f64,
        args.seed
    );
    if own_dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Requests completed so far (every kind, cancelled ones included).
fn completed() -> u64 {
    [
        K::Read,
        K::Write,
        K::DirectRead,
        K::DirectWrite,
        K::Fsync,
        K::StreamRead,
        K::StreamWrite,
        K::Cancelled,
    ]
    .iter()
    .map(|&k| counted(k))
    .sum()
}
