//! POSIX record locks and paio's duplicate descriptors.
//!
//! A record lock (`fcntl` `F_SETLK`/`F_SETLKW`, `lockf`) belongs to the
//! process and the file, and Linux drops every one the process holds on a
//! file as soon as the process closes *any* descriptor of that file. paio's
//! own duplicate of a program's descriptor (what keeps a request on its file
//! when the program closes and reuses the number, see
//! [`crate::engine::Engine::take_file`]) would drop them when it is closed at
//! the request's end, where glibc, which has no such duplicate, keeps them:
//! a program locking byte ranges around its writes (MPI-IO's data sieving,
//! a database's page locks) would lose its locks.
//!
//! So paio watches the program take record locks: its `fcntl`, `fcntl64`,
//! `lockf` and `lockf64` ([`before_lock`], then the C library's) mark the
//! process. From then on no request takes a duplicate (it runs on the
//! program's descriptor, as on glibc), and a duplicate taken before is
//! never closed: it stays open, close-on-exec, numbered as paio's
//! duplicates are. Where paio cannot see those calls (loaded with
//! `dlopen`, or linked as `libpaio.a` into a dynamic program whose `fcntl`
//! is the C library's), it takes no duplicate at all. Open-file-description locks (`F_OFD_SETLK`) and `flock` belong to the
//! open file, which a duplicate shares: they need nothing.
//!
//! Protocol (`SeqCst`): a closer counts itself in [`CLOSING`], then reads
//! [`SEEN`]; a locker sets [`SEEN`], then waits for [`CLOSING`] to drain
//! before its lock is taken (every locker, not only the first: a close
//! that began before the mark may still be under way, an NFS `flush`
//! first). Either the closer sees the mark and keeps its duplicate, or its
//! close ends before the lock exists. A locker that is itself inside a
//! close (a signal handler that interrupted it) does not wait for it.
//!
//! Record locks survive `execve`: a process started holding some (a
//! daemon that locked its pid file, then re-executed itself) is marked at
//! the first duplicate it would take, from `/proc/locks`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};

#[cfg(not(test))]
use once_cell::sync::OnceCell;

use crate::sys;

/// The program has asked for a record lock.
static SEEN: AtomicBool = AtomicBool::new(false);
/// Closes of duplicates under way.
static CLOSING: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// This thread is inside [`close_duplicate`].
    static IN_CLOSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// May a request take a duplicate of the program's descriptor now?
pub fn duplicates_allowed() -> bool {
    !SEEN.load(SeqCst) && interposed() && !inherited()
}

/// Close paio's duplicate `d` of a program's descriptor, unless the program
/// may hold record locks on files: then `d` stays open for good.
pub fn close_duplicate(d: i32) {
    IN_CLOSE.with(|c| c.set(true));
    CLOSING.fetch_add(1, SeqCst);
    // Once the program may hold record locks, `d` stays open for good.
    if !SEEN.load(SeqCst) {
        sys::close(d);
    }
    CLOSING.fetch_sub(1, SeqCst);
    IN_CLOSE.with(|c| c.set(false));
}

/// The program is about to take (or change) a record lock.
pub fn before_lock() {
    if !SEEN.load(SeqCst) {
        SEEN.store(true, SeqCst);
    }
    if IN_CLOSE.with(|c| c.get()) {
        return;
    }
    while CLOSING.load(SeqCst) != 0 {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// A forked child holds none of its parent's record locks, and none of
/// its threads is inside a close.
pub fn forget_in_child() {
    SEEN.store(false, SeqCst);
    CLOSING.store(0, SeqCst);
    INHERITED.store(0, SeqCst);
}

/// 0: not looked yet; 1: no record lock of this process in `/proc/locks`;
/// 2: some (then [`SEEN`] is set too).
static INHERITED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Did this process start holding record locks (kept across `execve`)?
/// Looked up once, in `/proc/locks` (a `POSIX` lock whose pid is ours);
/// without `/proc`, no.
fn inherited() -> bool {
    match INHERITED.load(SeqCst) {
        1 => false,
        2 => true,
        _ => {
            let pid = sys::pid().to_string();
            // The C library's open and read are cancellation points: none
            // inside paio's calls.
            let cancel = sys::disable_cancel();
            let text = std::fs::read_to_string("/proc/locks");
            sys::restore_cancel(cancel);
            let held = text.is_ok_and(|text| {
                text.lines().any(|line| {
                    let mut f = line.split_whitespace();
                    // "1: POSIX  ADVISORY  WRITE 4242 08:01:1234 0 EOF"
                    f.nth(1) == Some("POSIX") && f.nth(2) == Some(pid.as_str())
                })
            });
            if held {
                SEEN.store(true, SeqCst);
            }
            INHERITED.store(if held { 2 } else { 1 }, SeqCst);
            held
        }
    }
}

/// Do the process's `fcntl` and `lockf` resolve to paio's (so that
/// [`before_lock`] sees every record lock the program takes through the C
/// library)? Told by the object that defines what the process's global
/// scope finds under those names: this one, or another (the C library's,
/// when paio was loaded by `dlopen`); in a static program, where nothing is
/// found, they are paio's.
#[cfg(not(test))]
fn interposed() -> bool {
    static ANSWER: OnceCell<bool> = OnceCell::new();
    *ANSWER.get_or_init(|| {
        let base = |p: *const libc::c_void| {
            // SAFETY: a plain C struct, all zeroes valid.
            let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is writable; any address may be asked about.
            let found = unsafe { libc::dladdr(p, &mut info) } != 0;
            found.then_some(info.dli_fbase as usize)
        };
        let here = base(interposed as *const libc::c_void);
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT looks in the
        // process's global scope.
        let find =
            |name: &std::ffi::CStr| unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        let (fcntl, lockf) = (find(c"fcntl"), find(c"lockf"));
        if fcntl.is_null() && lockf.is_null() {
            // A static program (linked with `libpaio.a`): no dynamic
            // symbols, and paio's definitions are the program's.
            return true;
        }
        here.is_some()
            && [fcntl, lockf]
                .iter()
                .all(|&p| !p.is_null() && base(p) == here)
    })
}

/// Unit tests call paio's functions directly, with glibc's names left alone.
#[cfg(test)]
fn interposed() -> bool {
    true
}
