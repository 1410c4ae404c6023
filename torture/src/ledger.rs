//! Checking notifications: every request that asks for one gets an id in a
//! ledger, the signal handler and the thread callback count deliveries by id,
//! and a missing, second or stray delivery is a failure. Also where a
//! request's notification is generated (`pick_notify`).

use std::cell::UnsafeCell;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

use crate::ffi::{now_ms, Rng, Sigevent, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, SI_ASYNCIO};
use crate::report::{count, die, K};
use crate::worker::{HANG_MS, THREAD_ID_OK};

/// Notification ledger: one slot per request id, modulo its size.
pub(crate) const RING: usize = 1 << 20;

/// Ledger entry: `id << 16 | expected << 8 | delivered`.
pub(crate) static NOTES: [AtomicU64; RING] = [const { AtomicU64::new(0) }; RING];
pub(crate) static NEXT_ID: AtomicU64 = AtomicU64::new(1);
pub(crate) static STRAY: AtomicU64 = AtomicU64::new(0);
pub(crate) static BAD_SIGINFO: AtomicU64 = AtomicU64::new(0);
pub(crate) static SIGNALS: AtomicU64 = AtomicU64::new(0);
pub(crate) static CALLBACKS: AtomicU64 = AtomicU64::new(0);

/// A fresh id expecting `expect` deliveries (0: must never be delivered).
pub(crate) fn note_issue(w: usize, expect: u64) -> u64 {
    let id = NEXT_ID.fetch_add(1, Relaxed);
    let old = NOTES[id as usize % RING].swap(id << 16 | expect << 8, AcqRel);
    if old != 0 {
        check_entry(w, old, "when its ledger slot was reused");
    }
    id
}

/// Request `id` (if any) is now expected never to be notified.
pub(crate) fn note_expect_none(id: u64) {
    if id != 0 {
        NOTES[id as usize % RING].fetch_and(!(0xff << 8), AcqRel);
    }
}

pub(crate) fn check_entry(w: usize, e: u64, when: &str) {
    let (id, expect, got) = (e >> 16, (e >> 8) & 0xff, e & 0xff);
    if got != expect {
        fail!(
            w,
            "request id {id}: {got} notification(s) delivered, expected {expect} ({when})"
        );
    }
}

/// Called from signal handlers and callback threads: async-signal-safe.
pub(crate) fn note_hit(id: usize) {
    let id = id as u64;
    if id == 0 || id >= NEXT_ID.load(Relaxed) {
        STRAY.fetch_add(1, Relaxed);
        return;
    }
    NOTES[id as usize % RING].fetch_add(1, AcqRel);
}

/// Wait (bounded) until request `id` got its notifications, and check there
/// was no extra one so far.
pub(crate) fn note_wait(w: usize, id: u64) {
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

pub(crate) extern "C" fn on_signal(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
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

pub(crate) extern "C" fn on_callback(value: usize) {
    CALLBACKS.fetch_add(1, Relaxed);
    note_hit(value);
}

pub(crate) fn signo() -> i32 {
    libc::SIGRTMIN() + 2
}

/// Attributes for some SIGEV_THREAD requests (paio runs those on a thread of
/// their own): detached, small stack.
pub(crate) struct Attr(UnsafeCell<libc::pthread_attr_t>);
// SAFETY: initialised once in main before any worker starts; only read after.
unsafe impl Sync for Attr {}
pub(crate) static ATTR: Attr = Attr(UnsafeCell::new(unsafe { std::mem::zeroed() }));

/// A notification for one request: the sigevent and the ledger id (0 when
/// none is expected).
pub(crate) fn pick_notify(w: usize, rng: &mut Rng, tid: i32) -> (Sigevent, u64) {
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

pub(crate) fn install_handler() {
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

/// At the end of the run: late duplicates get a moment, then the whole
/// ledger is swept; stray ids and signals with a wrong `si_code` fail.
pub(crate) fn final_sweep() {
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
}
