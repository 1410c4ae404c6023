//! Notifications: the handlers that count each signal and `SIGEV_THREAD`
//! callback by id, the sigevents that ask for them, and the tally the
//! transcript prints at the end; also the SIGUSR2 probe of which thread a
//! blocked signal reaches.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::Exec;
use crate::ffi::*;
use crate::gen::Notify;

/// Notification ids are below this.
const NOTE_MAX: usize = 4096;

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

/// Wait (up to 1 s) until notification `n` was delivered.
pub(super) fn wait_delivered(n: Notify) {
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

impl Exec {
    /// The sigevent asking for `n`; `counted`: the request or list was
    /// accepted, so its notification is now expected.
    pub(super) fn sigevent(&mut self, n: Notify, counted: bool) -> Sigevent {
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

    pub(super) fn sigwait_probe(&mut self) {
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

    /// The set of notifications received, once every expected one arrived
    /// (or 3 s passed), and a moment for duplicates.
    pub(super) fn print_notifications(&mut self) {
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
