//! Reporting: the first failure ends the run with a dump of what every
//! worker has pending; counters of what ran; the watchdog that turns a hang
//! into a failure; the summary printed at the end.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use crate::ffi::{errname, now_ms};
use crate::ledger::{CALLBACKS, SIGNALS};
use crate::req::Req;
use crate::worker::{Shared, HANG_MS};

// ------------------------------------------------------------ failing

/// The run's seed, for the failure report.
pub(crate) static SEED: AtomicU64 = AtomicU64::new(0);

pub(crate) static FAILED: AtomicBool = AtomicBool::new(false);

macro_rules! fail {
    ($w:expr, $($arg:tt)*) => {{
        let msg = format!($($arg)*);
        crate::report::die(Some($w), &msg)
    }};
}

/// Report a failure with a dump of everything pending, and exit 1. Only the
/// first failing thread reports; the others wait to be killed by the exit.
pub(crate) fn die(worker: Option<usize>, msg: &str) -> ! {
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
pub(crate) enum K {
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
pub(crate) const KN: usize = 27;
pub(crate) const KNAMES: [&str; KN] = [
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
pub(crate) static COUNT: [AtomicU64; KN] = [const { AtomicU64::new(0) }; KN];
pub(crate) fn count(k: K, n: u64) {
    COUNT[k as usize].fetch_add(n, Relaxed);
}
pub(crate) fn counted(k: K) -> u64 {
    COUNT[k as usize].load(Relaxed)
}

/// What a worker does now, for the watchdog.
pub(crate) struct Activity {
    pub(crate) heartbeat: AtomicU64,
    pub(crate) what: Mutex<String>,
    pub(crate) pending: Mutex<Vec<usize>>,
}

pub(crate) static SHARED: std::sync::OnceLock<Arc<Shared>> = std::sync::OnceLock::new();

pub(crate) fn dump_pending(s: &mut String) {
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

pub(crate) fn watchdog(sh: Arc<Shared>, deadline: u64) {
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

/// Requests completed so far (every kind, cancelled ones included).
pub(crate) fn completed() -> u64 {
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

/// The counts, the notification totals, and the PASS line the CI test looks for.
pub(crate) fn print_summary(elapsed: u64, regions: usize, leftover: usize, seed: u64) {
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
        seed
    );
}
