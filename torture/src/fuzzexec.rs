//! The fuzz interpreter: turns arbitrary bytes into a sequence of POSIX AIO
//! calls with arbitrary aiocb fields, and checks what must hold whatever the
//! input: no crash, no hang, every accepted request resolves (reaches a status
//! other than `EINPROGRESS`), `aio_return` agrees with `aio_error`, and every
//! synchronous result is one POSIX allows (a refused read or write also shows
//! its errno through `aio_error`). A violation aborts the process, which the
//! fuzzer reports as a crash with the input that caused it.
//!
//! Shared by the coverage-guided fuzz target (`fuzz/`, paio linked in
//! statically) and `paio-fuzz-replay` (paio by `LD_PRELOAD`), so the same
//! inputs run both ways.
//!
//! Safety rules the interpreter keeps, so that a report is paio's fault and
//! never the harness's: a buffer is either inside the arena with `nbytes`
//! within it, or invalid from its first byte (NULL, PROT_NONE, non-canonical),
//! or `nbytes > SSIZE_MAX`; an aiocb is never reused while in flight;
//! `SIGEV_THREAD` only ever names the harness's own callback; signals are only
//! signo 0 or invalid numbers; no call may block forever (no NULL
//! `aio_suspend` timeout, no `LIO_WAIT` on a pipe or socket).

#![allow(dead_code)]

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::ffi::*;

const NCB: usize = 24;
const ARENA: usize = 1 << 20;
const NONE_LEN: usize = 1 << 16;
/// How long the end of an input may take to resolve what it left in flight.
const DRAIN_MS: u64 = 5000;

pub static CALLBACKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn fuzz_callback(_v: usize) {
    CALLBACKS.fetch_add(1, Relaxed);
}

struct Attr(UnsafeCell<libc::pthread_attr_t>);
// SAFETY: initialised once in `Env::new`, then only read.
unsafe impl Sync for Attr {}
static ATTR: Attr = Attr(UnsafeCell::new(unsafe { std::mem::zeroed() }));

/// State kept across inputs: the arena, the aiocbs, two files.
pub struct Env {
    arena: *mut u8,
    none: *mut u8,
    cbs: Vec<Box<UnsafeCell<Aiocb>>>,
    /// The aiocb was handed to paio and must resolve.
    watch: [bool; NCB],
    file: i32,
    direct: i32,
    dir: String,
    pub inputs: u64,
    pub calls: u64,
    pub accepted: u64,
}

// SAFETY: one thread uses an Env at a time.
unsafe impl Send for Env {}

fn die(msg: &str) -> ! {
    eprintln!("paio-fuzz: VIOLATION: {msg}");
    std::process::abort()
}

struct Bytes<'a> {
    d: &'a [u8],
    i: usize,
}

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.i >= self.d.len()
    }
    fn u8(&mut self) -> u8 {
        let v = self.d.get(self.i).copied().unwrap_or(0);
        self.i += 1;
        v
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        self.u32() as u64 | (self.u32() as u64) << 32
    }
}

/// Descriptors of one input.
struct Fds {
    pipe: [i32; 2],
    sock: [i32; 2],
    /// Non-blocking side doors to feed and drain the streams without
    /// touching the status flags of the descriptors paio sees.
    feed_pipe: i32,
    drain_pipe: i32,
    null: i32,
    zero: i32,
}

impl Fds {
    fn open() -> Fds {
        let mut pipe = [0; 2];
        let mut sock = [0; 2];
        // SAFETY: plain descriptor-creating syscalls on locals.
        unsafe {
            assert_eq!(libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC), 0);
            assert_eq!(
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    0,
                    sock.as_mut_ptr()
                ),
                0
            );
            let reopen = |fd: i32, flags: i32| {
                let p = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).unwrap();
                libc::open(p.as_ptr(), flags | libc::O_NONBLOCK | libc::O_CLOEXEC)
            };
            let feed_pipe = reopen(pipe[1], libc::O_WRONLY);
            let drain_pipe = reopen(pipe[0], libc::O_RDONLY);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            let zero = libc::open(c"/dev/zero".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            Fds {
                pipe,
                sock,
                feed_pipe,
                drain_pipe,
                null,
                zero,
            }
        }
    }
    fn close(&self) {
        for fd in [
            self.pipe[0],
            self.pipe[1],
            self.sock[0],
            self.sock[1],
            self.feed_pipe,
            self.drain_pipe,
            self.null,
            self.zero,
        ] {
            // SAFETY: our own descriptors.
            unsafe { libc::close(fd) };
        }
    }
    /// Push data into every stream and take data out, non-blocking.
    fn pump(&self, scratch: &mut [u8]) {
        // SAFETY: non-blocking transfers between our descriptors and a local buffer.
        unsafe {
            let n = scratch.len().min(4096);
            libc::write(self.feed_pipe, scratch.as_ptr() as *const _, n);
            libc::read(
                self.drain_pipe,
                scratch.as_mut_ptr() as *mut _,
                scratch.len(),
            );
            for &s in &self.sock {
                libc::send(s, scratch.as_ptr() as *const _, n, libc::MSG_DONTWAIT);
                libc::recv(
                    s,
                    scratch.as_mut_ptr() as *mut _,
                    scratch.len(),
                    libc::MSG_DONTWAIT,
                );
            }
        }
    }
}

impl Env {
    pub fn new(dir: &str) -> Env {
        // SAFETY: fresh anonymous mappings and files in our own directory.
        unsafe {
            let arena = libc::mmap(
                std::ptr::null_mut(),
                ARENA,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            let none = libc::mmap(
                std::ptr::null_mut(),
                NONE_LEN,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert!(arena != libc::MAP_FAILED && none != libc::MAP_FAILED);
            libc::pthread_attr_init(ATTR.0.get());
            libc::pthread_attr_setdetachstate(ATTR.0.get(), libc::PTHREAD_CREATE_DETACHED);
            std::fs::create_dir_all(dir).expect("fuzz work directory");
            let path = std::ffi::CString::new(format!("{dir}/fuzz-file")).unwrap();
            let file = libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC,
                0o600,
            );
            let direct = libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_DIRECT | libc::O_CLOEXEC,
            );
            assert!(file >= 0, "open {dir}/fuzz-file");
            Env {
                arena: arena as *mut u8,
                none: none as *mut u8,
                cbs: (0..NCB)
                    .map(|_| Box::new(UnsafeCell::new(Aiocb::zeroed())))
                    .collect(),
                watch: [false; NCB],
                file,
                direct: if direct >= 0 { direct } else { file },
                dir: dir.to_string(),
                inputs: 0,
                calls: 0,
                accepted: 0,
            }
        }
    }

    fn cb(&self, i: usize) -> *mut Aiocb {
        self.cbs[i].get()
    }

    fn busy(&self, i: usize) -> bool {
        // SAFETY: a live aiocb.
        self.watch[i] && unsafe { aio_error(self.cb(i)) } == libc::EINPROGRESS
    }

    /// A descriptor: real files and streams, special files, invalid numbers.
    /// `blocking_ok`: pipes and sockets may be chosen.
    fn fd(&self, b: &mut Bytes, fds: &Fds, blocking_ok: bool) -> i32 {
        let all = [
            self.file,
            self.direct,
            fds.null,
            fds.zero,
            -1,
            i32::MAX,
            1000,
            fds.pipe[0],
            fds.pipe[1],
            fds.sock[0],
            fds.sock[1],
        ];
        let n = if blocking_ok { all.len() } else { 7 };
        all[b.u8() as usize % n]
    }

    /// A buffer and length that are safe for the harness whatever paio does.
    fn buf(&self, b: &mut Bytes) -> (*mut libc::c_void, usize) {
        let sel = b.u8() % 8;
        let v = b.u64();
        let w = b.u32() as usize;
        match sel {
            0..=3 => {
                let off = if sel == 0 {
                    (w % (ARENA / 4096)) * 4096
                } else {
                    w % ARENA
                };
                let max = ARENA - off;
                let len = if sel == 3 {
                    (v as usize) % 4097
                } else {
                    (v as usize) % (max + 1)
                };
                // SAFETY: inside the arena.
                (unsafe { self.arena.add(off) } as *mut _, len.min(max))
            }
            4 => (std::ptr::null_mut(), v as usize),
            // SAFETY: inside the PROT_NONE mapping: faults at the first byte.
            5 => (unsafe { self.none.add(w % NONE_LEN) } as *mut _, v as usize),
            6 => (0xffff_8000_0000_0000u64 as *mut _, v as usize),
            // Longer than SSIZE_MAX: refused before any transfer.
            _ => (self.arena as *mut _, (v as usize) | 1 << 63),
        }
    }

    fn offset(b: &mut Bytes) -> i64 {
        let sel = b.u8() % 4;
        let v = b.u64();
        match sel {
            0 => ((v % 32) * 4096) as i64,
            1 => (v % (1 << 20)) as i64,
            2 => v as i64,
            _ => -((v % 4097) as i64),
        }
    }

    fn sigevent(b: &mut Bytes) -> Sigevent {
        let mut ev = Sigevent::none();
        let sel = b.u8() % 8;
        let v = b.u32();
        ev.sigev_value = b.u64() as usize;
        let bad_signo = || match v % 4 {
            0 => -1,
            1 => 65,
            2 => 1000,
            _ => (v as i32).saturating_abs().max(65),
        };
        match sel {
            0..=2 => {}
            3 => {
                ev.sigev_notify = SIGEV_SIGNAL;
                ev.sigev_signo = 0;
            }
            4 => {
                ev.sigev_notify = SIGEV_SIGNAL;
                ev.sigev_signo = bad_signo();
            }
            5 => {
                ev.sigev_notify = SIGEV_THREAD;
                ev.un[0] = fuzz_callback as *const () as usize;
                ev.un[1] = if v % 4 == 0 { ATTR.0.get() as usize } else { 0 };
            }
            6 => {
                ev.sigev_notify = SIGEV_THREAD_ID;
                ev.sigev_signo = if v % 2 == 0 { 0 } else { bad_signo() };
                ev.un[0] = (if v % 3 == 0 { gettid() as u32 } else { v }) as usize;
            }
            _ => {
                // Any other notify value, except the ones that name a callback.
                let n = v as i32;
                ev.sigev_notify = if n == SIGEV_THREAD { SIGEV_NONE } else { n };
                ev.sigev_signo = 0;
            }
        }
        ev
    }

    fn reqprio(b: &mut Bytes) -> i32 {
        match b.u8() % 4 {
            0 | 1 => 0,
            2 => (b.u8() % 24) as i32,
            _ => b.u32() as i32,
        }
    }

    /// A free aiocb (not in flight), filled from the input.
    fn fill(&mut self, b: &mut Bytes, fds: &Fds, blocking_ok: bool) -> Option<usize> {
        let i = b.u8() as usize % NCB;
        if self.busy(i) {
            return None;
        }
        let fd = self.fd(b, fds, blocking_ok);
        let (buf, nbytes) = self.buf(b);
        let offset = Self::offset(b);
        let reqprio = Self::reqprio(b);
        let opcode = match b.u8() % 6 {
            0 | 1 => LIO_READ,
            2 | 3 => LIO_WRITE,
            4 => LIO_NOP,
            // Any other value, except the vectored opcodes (5, 6), whose
            // aio_buf would be an iovec array.
            _ => match b.u32() as i32 {
                5 | 6 => 7,
                x => x,
            },
        };
        let ev = Self::sigevent(b);
        // SAFETY: not in flight.
        let cb = unsafe { &mut *self.cb(i) };
        *cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = opcode;
        cb.aio_reqprio = reqprio;
        cb.aio_buf = buf;
        cb.aio_nbytes = nbytes;
        cb.aio_offset = offset;
        cb.aio_sigevent = ev;
        Some(i)
    }

    /// A read or write was submitted: 0 and it must resolve, or -1 with an
    /// errno POSIX allows, shown by aio_error too.
    fn submitted(&mut self, i: usize, rc: i32, what: &str, allowed: &[i32]) {
        let e = errno();
        self.calls += 1;
        if rc == 0 {
            self.watch[i] = true;
            self.accepted += 1;
            return;
        }
        if rc != -1 || !allowed.contains(&e) {
            die(&format!("{what} returned {rc} errno {}", errname(e)));
        }
        // SAFETY: a live aiocb.
        let ae = unsafe { aio_error(self.cb(i)) };
        if (e == libc::EINVAL || e == libc::EAGAIN) && ae != e && what != "aio_fsync" {
            die(&format!(
                "{what} refused with {} but aio_error = {}",
                errname(e),
                errname(ae)
            ));
        }
        self.watch[i] = false;
    }

    /// Run one input.
    pub fn run(&mut self, data: &[u8]) {
        self.inputs += 1;
        // SAFETY: our own descriptor.
        unsafe { libc::ftruncate(self.file, 1 << 17) };
        let fds = Fds::open();
        let mut b = Bytes { d: data, i: 0 };
        let mut ops = 0;
        while !b.done() && ops < 48 {
            ops += 1;
            match b.u8() % 9 {
                0 | 1 => {
                    let Some(i) = self.fill(&mut b, &fds, true) else {
                        continue;
                    };
                    set_errno(0);
                    // SAFETY: a filled aiocb obeying the module's safety rules.
                    let rc = unsafe { aio_read(self.cb(i)) };
                    self.submitted(i, rc, "aio_read", &[libc::EINVAL, libc::EAGAIN]);
                }
                2 | 3 => {
                    let Some(i) = self.fill(&mut b, &fds, true) else {
                        continue;
                    };
                    set_errno(0);
                    // SAFETY: as above.
                    let rc = unsafe { aio_write(self.cb(i)) };
                    self.submitted(i, rc, "aio_write", &[libc::EINVAL, libc::EAGAIN]);
                }
                4 => {
                    let Some(i) = self.fill(&mut b, &fds, true) else {
                        continue;
                    };
                    let op = match b.u8() % 4 {
                        0 | 1 => libc::O_SYNC,
                        2 => libc::O_DSYNC,
                        _ => b.u32() as i32,
                    };
                    set_errno(0);
                    // SAFETY: as above.
                    let rc = unsafe { aio_fsync(op, self.cb(i)) };
                    self.submitted(
                        i,
                        rc,
                        "aio_fsync",
                        &[libc::EINVAL, libc::EAGAIN, libc::EBADF],
                    );
                }
                5 => self.listio(&mut b, &fds),
                6 => {
                    let fd = self.fd(&mut b, &fds, true);
                    let i = b.u8() as usize % (NCB + 1);
                    let cb = if i == NCB {
                        std::ptr::null_mut()
                    } else {
                        self.cb(i)
                    };
                    set_errno(0);
                    // SAFETY: NULL or a live aiocb.
                    let rc = unsafe { aio_cancel(fd, cb) };
                    let e = errno();
                    self.calls += 1;
                    if !(matches!(rc, AIO_CANCELED | AIO_NOTCANCELED | AIO_ALLDONE)
                        || rc == -1 && (e == libc::EBADF || e == libc::EINVAL))
                    {
                        die(&format!(
                            "aio_cancel({fd}) returned {rc} errno {}",
                            errname(e)
                        ));
                    }
                }
                7 => {
                    let n = b.u8() as usize % 10;
                    let mut list: Vec<*const Aiocb> = (0..n)
                        .map(|_| {
                            let i = b.u8() as usize % (NCB + 2);
                            if i >= NCB {
                                std::ptr::null()
                            } else {
                                self.cb(i) as *const _
                            }
                        })
                        .collect();
                    list.push(std::ptr::null());
                    let ts = match b.u8() % 5 {
                        0 => libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        },
                        1 => libc::timespec {
                            tv_sec: 0,
                            tv_nsec: (b.u32() % 2_000_000) as i64,
                        },
                        2 => libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 1_000_000_000,
                        },
                        3 => libc::timespec {
                            tv_sec: -1,
                            tv_nsec: 0,
                        },
                        _ => libc::timespec {
                            tv_sec: 0,
                            tv_nsec: -1,
                        },
                    };
                    let nent = if b.u8() % 8 == 0 {
                        -(b.u8() as i32)
                    } else {
                        n as i32
                    };
                    set_errno(0);
                    // SAFETY: `nent` entries (or fewer), each NULL or a live aiocb.
                    let rc = unsafe { aio_suspend(list.as_ptr(), nent, &ts) };
                    let e = errno();
                    self.calls += 1;
                    if !(rc == 0
                        || rc == -1 && matches!(e, libc::EAGAIN | libc::EINTR | libc::EINVAL))
                    {
                        die(&format!("aio_suspend returned {rc} errno {}", errname(e)));
                    }
                }
                _ => {
                    let mut scratch = [0u8; 512];
                    fds.pump(&mut scratch);
                }
            }
        }
        self.drain(&fds);
        fds.close();
    }

    fn listio(&mut self, b: &mut Bytes, fds: &Fds) {
        let mode = match b.u8() % 5 {
            0 | 1 => LIO_WAIT,
            2 | 3 => LIO_NOWAIT,
            _ => b.u32() as i32,
        };
        // LIO_WAIT on a pipe or socket could legitimately wait forever.
        let blocking_ok = mode != LIO_WAIT;
        let n = b.u8() as usize % 9;
        let mut list: Vec<*mut Aiocb> = Vec::new();
        let mut members = Vec::new();
        for _ in 0..n {
            if b.u8() % 6 == 0 {
                list.push(std::ptr::null_mut());
                continue;
            }
            let Some(i) = self.fill(b, fds, blocking_ok) else {
                continue;
            };
            if members.contains(&i) {
                continue;
            }
            members.push(i);
            list.push(self.cb(i));
        }
        let nent = match b.u8() % 10 {
            0 => -(b.u8() as i32) - 1,
            1 => 0,
            _ => list.len() as i32,
        };
        let mut ev = Self::sigevent(b);
        let evp: *mut Sigevent = if b.u8() % 3 == 0 {
            std::ptr::null_mut()
        } else {
            &mut ev
        };
        let lp = if list.is_empty() && b.u8() % 2 == 0 {
            std::ptr::null()
        } else {
            list.as_ptr()
        };
        set_errno(0);
        // SAFETY: `nent` is at most the list's length; entries NULL or filled aiocbs.
        let rc = unsafe { lio_listio(mode, lp, nent, evp) };
        let e = errno();
        self.calls += 1;
        if !(rc == 0
            || rc == -1 && matches!(e, libc::EINVAL | libc::EAGAIN | libc::EIO | libc::EINTR))
        {
            die(&format!(
                "lio_listio(mode {mode}, nent {nent}) returned {rc} errno {}",
                errname(e)
            ));
        }
        if nent > 0 {
            // Whatever was submitted must resolve; an entry never submitted
            // still reads 0 (zeroed) or its refusal.
            for &i in &members {
                self.watch[i] = true;
            }
        }
        if mode == LIO_WAIT && nent > 0 && (rc == 0 || e == libc::EIO) {
            for &i in &members {
                // SAFETY: live aiocbs.
                let (ae, op) = unsafe { (aio_error(self.cb(i)), (*self.cb(i)).aio_lio_opcode) };
                if ae == libc::EINPROGRESS {
                    die(&format!(
                        "lio_listio(LIO_WAIT) returned {rc} with a member in progress"
                    ));
                }
                if rc == 0 && ae != 0 && (op == LIO_READ || op == LIO_WRITE) {
                    die(&format!(
                        "lio_listio(LIO_WAIT) returned 0 but a member failed with {}",
                        errname(ae)
                    ));
                }
            }
        }
    }

    /// Everything accepted must resolve: feed and drain the streams until it
    /// does, and check each result's consistency.
    fn drain(&mut self, fds: &Fds) {
        let t0 = now_ms();
        let mut scratch = vec![0u8; 65536];
        loop {
            let pending: Vec<usize> = (0..NCB).filter(|&i| self.busy(i)).collect();
            if pending.is_empty() {
                break;
            }
            if now_ms() - t0 > DRAIN_MS {
                let mut s = String::new();
                for i in pending {
                    // SAFETY: live aiocbs.
                    let cb = unsafe { &*self.cb(i) };
                    s += &format!(
                        "\n  aiocb {i}: fd {} opcode {} nbytes {} offset {} notify {}",
                        cb.aio_fildes,
                        cb.aio_lio_opcode,
                        cb.aio_nbytes,
                        cb.aio_offset,
                        cb.aio_sigevent.sigev_notify
                    );
                }
                die(&format!(
                    "requests still in progress {DRAIN_MS} ms after the input ended:{s}"
                ));
            }
            fds.pump(&mut scratch);
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        for i in 0..NCB {
            if !self.watch[i] {
                continue;
            }
            self.watch[i] = false;
            // SAFETY: a resolved aiocb.
            let (e, r, n) = unsafe {
                (
                    aio_error(self.cb(i)),
                    aio_return(self.cb(i)),
                    (*self.cb(i)).aio_nbytes,
                )
            };
            let ok = if e == 0 {
                r >= 0 && r as usize <= n
            } else {
                r == -1
            };
            if !ok {
                die(&format!(
                    "aiocb {i}: aio_error {} with aio_return {r} (nbytes {n})",
                    errname(e)
                ));
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
