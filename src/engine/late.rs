//! Signals of requests that complete inside the submitting call
//! (`aio_read`, `lio_listio`…): "late" signals, [`Late`]. The `paio-signal`
//! thread sends them once the program has stopped submitting:
//!
//! - a program's handler never runs inside its own `aio_read`;
//! - a program that submits a batch and then sleeps until a completion's
//!   signal (stress-ng's aio stressor: an interruptible `usleep` between
//!   passes) is woken by it. Sent at once, the batch's signals would all
//!   land while the program is still submitting, and the sleep would last
//!   until something slower (the pass's `aio_fsync`) completed. On glibc the
//!   signals arrive one by one from its worker, during the sleep.
//!
//! "Stopped submitting" is told from the submitting thread's state (see
//! [`wait_quiet`]): a program waiting for the signal (in `sigsuspend`,
//! `sigwaitinfo`, `pause`, a sleep) gets it as soon as it blocks, and one
//! that never stops gets its signals after [`LATE_MAX_NS`] of its CPU time.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

use crate::sys;

/// CPU time a submitting thread spends outside submitting calls before it
/// counts as having stopped submitting.
pub const QUIET_NS: i64 = 40_000;
/// How long the watch for a quiet period may spin before it sleeps.
pub const SPIN_NS: i64 = 100_000;
/// CPU time of the submitting threads of a program that never stops
/// submitting after which its late signals are sent anyway.
pub const LATE_MAX_NS: i64 = 1_000_000;
/// The longest a late signal waits, in wall time.
pub const STALL_NS: i64 = 10_000_000;

/// The signal of a request that completed inside a submitting call, waiting
/// for the `paio-signal` thread (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct Late {
    pub signo: i32,
    pub value: usize,
    pub tid: Option<i32>,
    /// [`ACTIVITY`] once this signal was counted in it.
    seq: u64,
    /// [`FLUSHES`] when it was queued: a flush since then sends it at once.
    flushes: u64,
    /// Its entry in [`PENDING`], or `None` (counted in [`UNTRACKED`]).
    entry: Option<usize>,
}

/// What a late signal not yet sent belongs to: the aiocb of its request,
/// [`LIST`] for a `lio_listio` list's, 0 for a free entry. `aio_error`
/// sends the late signals only when the request it reports on has one
/// pending (a program polling one request finds that request's signal
/// queued, as glibc queues it as soon as the request completes), not when
/// others have: a program that goes on submitting between its checks keeps
/// its signals for its next sleep.
static PENDING: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];
/// Late signals outstanding that found no free entry in [`PENDING`].
static UNTRACKED: AtomicU32 = AtomicU32::new(0);
/// [`PENDING`]'s mark for a list's signal (no aiocb is at address 1).
pub const LIST: usize = 1;

/// Bumped by [`flush`]: a program about to see a completion through a
/// waiting call must find its signal already queued, as glibc queues it
/// before it wakes the waiter.
static FLUSHES: AtomicU64 = AtomicU64::new(0);

/// Late signals queued and not yet sent.
static OUTSTANDING: AtomicU32 = AtomicU32::new(0);
/// Bumped by every late signal queued and, while any is outstanding, by
/// every submitting call as it begins and ends: a change means the program
/// is still submitting.
static ACTIVITY: AtomicU64 = AtomicU64::new(0);
/// The thread that queued the newest late signal.
static SUBMITTER: AtomicI32 = AtomicI32::new(0);
/// Submitting calls running now that began while late signals were
/// outstanding or queued one (a call may count more than once).
static IN_CALL: AtomicU32 = AtomicU32::new(0);
/// The `ACTIVITY` value at which the program was last seen quiet: a late
/// signal counted at or before it is sent without waiting again.
static SETTLED: AtomicU64 = AtomicU64::new(0);

impl Late {
    /// A late signal, counted as outstanding until [`Late::send`] or
    /// [`Late::send_now`].
    pub fn new(signo: i32, value: usize, tid: Option<i32>, owner: usize) -> Late {
        OUTSTANDING.fetch_add(1, SeqCst);
        let entry = (owner != 0)
            .then(|| {
                PENDING
                    .iter()
                    .position(|p| p.compare_exchange(0, owner, SeqCst, SeqCst).is_ok())
            })
            .flatten();
        if entry.is_none() {
            UNTRACKED.fetch_add(1, SeqCst);
        }
        // The call that queued it counts as running until it returns.
        IN_CALL.fetch_add(1, SeqCst);
        HELD.with(|h| h.set(h.get() + 1));
        SUBMITTER.store(this_thread(), SeqCst);
        let seq = ACTIVITY.fetch_add(1, SeqCst) + 1;
        Late {
            signo,
            value,
            tid,
            seq,
            flushes: FLUSHES.load(SeqCst),
            entry,
        }
    }

    /// Send it without waiting (no thread can wait for the program).
    pub fn send_now(self) {
        let _ = sys::queue_signal(self.signo, self.value, self.tid);
        match self.entry {
            Some(i) => PENDING[i].store(0, SeqCst),
            None => {
                UNTRACKED.fetch_sub(1, SeqCst);
            }
        }
        OUTSTANDING.fetch_sub(1, SeqCst);
    }

    /// On the `paio-signal` thread: wait until the program has stopped
    /// submitting since this signal was queued ([`wait_quiet`]), then send it.
    /// `floor`: where paio's own descriptors start.
    pub fn send(self, floor: i32) {
        if self.seq > SETTLED.load(SeqCst) && FLUSHES.load(SeqCst) == self.flushes {
            SETTLED.store(wait_quiet(floor, self.flushes), SeqCst);
        }
        self.send_now();
    }
}

/// A signal the completing thread sends itself, counted from before the
/// request's result is published until it is queued: a program that sees
/// the request done through `aio_error` meanwhile waits the microseconds
/// until it is ([`flush`]), as if it had been queued first.
pub struct Sending(Option<usize>);

/// See [`Sending`]; `owner`: the request's aiocb.
pub fn sending(owner: usize) -> Sending {
    OUTSTANDING.fetch_add(1, SeqCst);
    let entry = PENDING
        .iter()
        .position(|p| p.compare_exchange(0, owner, SeqCst, SeqCst).is_ok());
    if entry.is_none() {
        UNTRACKED.fetch_add(1, SeqCst);
    }
    Sending(entry)
}

impl Drop for Sending {
    fn drop(&mut self) {
        match self.0 {
            Some(i) => PENDING[i].store(0, SeqCst),
            None => {
                UNTRACKED.fetch_sub(1, SeqCst);
            }
        }
        OUTSTANDING.fetch_sub(1, SeqCst);
    }
}

/// Are late signals queued and not yet sent?
pub fn outstanding() -> bool {
    OUTSTANDING.load(SeqCst) != 0
}

/// Is a late signal of the request of `aiocb` (or of a list, or one not
/// tracked) still to be sent? One atomic load when none is outstanding.
pub fn pending_for(aiocb: usize) -> bool {
    outstanding()
        && (UNTRACKED.load(SeqCst) != 0
            || PENDING
                .iter()
                .any(|p| matches!(p.load(SeqCst), v if v == aiocb || v == LIST)))
}

/// Before a waiting call (`aio_suspend`, `lio_listio(LIO_WAIT)`,
/// `aio_waitcomplete`) returns what it saw complete: every late signal is
/// sent now, as glibc's worker queues a request's signal before it wakes
/// whoever waits for the request; a program that restores a signal's
/// default action once its wait returns, or reads what its handler set,
/// must not get the signal after that. `take` hands over the signals still
/// queued for the `paio-signal` thread; the one that thread holds, it sends
/// at once. Bounded by [`STALL_NS`] (a signal counted by a submitting call
/// that this thread's signal handler interrupted, say).
pub fn flush(mut take: impl FnMut() -> Option<Late>) {
    if !outstanding() {
        return;
    }
    FLUSHES.fetch_add(1, SeqCst);
    // The signals outstanding now; later ones are other completions'.
    let then: [usize; 64] = std::array::from_fn(|i| PENDING[i].load(SeqCst));
    while let Some(late) = take() {
        late.send_now();
    }
    let start = sys::monotonic_ns();
    let sent = || (0..then.len()).all(|i| then[i] == 0 || PENDING[i].load(SeqCst) != then[i]);
    while !sent() && sys::monotonic_ns() - start < STALL_NS {
        std::thread::yield_now();
    }
}

/// The child of `fork` has none of the parent's late signals to send.
pub fn reset_after_fork() {
    OUTSTANDING.store(0, SeqCst);
    UNTRACKED.store(0, SeqCst);
    for p in &PENDING {
        p.store(0, SeqCst);
    }
    // The forking thread may be inside a submitting call (a handler forked).
    IN_CALL.store(HELD.with(|h| h.get()), SeqCst);
    // It is the child's only thread, with an id of its own.
    TID.with(|t| t.set(0));
    // Its copy of the /proc descriptor, unless the program has put a file
    // of its own under that number.
    STAT_TID.store(0, SeqCst);
    let fd = STAT_FD.swap(-1, SeqCst);
    if fd >= 0 && identity(fd) == Some(STAT_ID.load(SeqCst)) {
        sys::close(fd);
    }
}

/// Wait until the program has stopped submitting; the `ACTIVITY` value it
/// stopped at. The thread that queued the newest late signal ("the
/// submitter") has stopped when, outside any submitting call:
///
/// - it is blocked (state `S` or `D` in `/proc`: it sleeps, waits for the
///   signal, or does other I/O), or
/// - it has run [`QUIET_NS`] of its own CPU time since the last submitting
///   call (it went on with other work), or
/// - it has exited.
///
/// Time it spends waiting for a CPU does not count: a program preempted
/// between two submissions has not stopped. Without `/proc`, [`QUIET_NS`]
/// of wall time without a submitting call stands for "blocked". A program
/// that keeps submitting gets its signals once its submitting threads have
/// run [`LATE_MAX_NS`] of CPU time since the wait began, and any wait ends
/// after [`STALL_NS`] (a submitter starved of CPU, stopped, or blocked
/// inside a submitting call such as `lio_listio(LIO_WAIT)`).
///
/// While the program's last activity is within [`SPIN_NS`] of the start,
/// the watch yields the CPU rather than sleeps: on a virtual machine,
/// waking from a sleep this short takes longer than the period itself
/// (about 100 µs for a 20 µs `clock_nanosleep` on the 2-CPU machine this
/// was measured on), and the program is woken by the signal only after it.
/// A program still submitting after that is watched with sleeps, so that a
/// steady stream of such requests costs this thread little CPU.
fn wait_quiet(floor: i32, flushes: u64) -> u64 {
    let start = sys::monotonic_ns();
    let mut seen = ACTIVITY.load(SeqCst);
    let mut since = start;
    let mut tid = SUBMITTER.load(SeqCst);
    // The submitter's CPU time when the watch began and at its last activity.
    let mut cpu_start = sys::thread_cpu_ns(tid);
    let mut cpu_since = cpu_start;
    // CPU time of the submitters seen before this one, and this one's at
    // the last look: a program that never stops submitting, from any number
    // of threads, gets its signals after LATE_MAX_NS of their CPU time.
    let mut spent = 0;
    let mut cpu_last = cpu_start;
    // The submitter's CPU time at the previous look: `/proc` is read only
    // once it stands still.
    let mut cpu_before = None;
    loop {
        if since - start < SPIN_NS {
            std::thread::yield_now();
        } else {
            sys::sleep(&libc::timespec {
                tv_sec: 0,
                tv_nsec: QUIET_NS,
            });
        }
        let now = sys::monotonic_ns();
        let a = ACTIVITY.load(SeqCst);
        if now - start >= STALL_NS || FLUSHES.load(SeqCst) != flushes {
            return a;
        }
        let submitter = SUBMITTER.load(SeqCst);
        if submitter != tid {
            // Another thread submits now: its clock starts here.
            if let (Some(first), Some(last)) = (cpu_start, cpu_last) {
                spent += last - first;
            }
            tid = submitter;
            cpu_start = sys::thread_cpu_ns(tid);
            cpu_since = cpu_start;
            cpu_before = None;
        }
        let (Some(first), Some(cpu)) = (cpu_start, sys::thread_cpu_ns(tid)) else {
            return a; // the submitter has exited
        };
        cpu_last = Some(cpu);
        if spent + (cpu - first) >= LATE_MAX_NS {
            return a;
        }
        let still = cpu_before.replace(cpu) == Some(cpu);
        if a != seen {
            seen = a;
            since = now;
            cpu_since = Some(cpu);
            continue;
        }
        if IN_CALL.load(SeqCst) != 0 {
            continue;
        }
        let stopped = cpu - cpu_since.unwrap_or(cpu) >= QUIET_NS
            || (still
                && match asleep(tid, floor) {
                    Some(blocked) => blocked,
                    None => now - since >= QUIET_NS,
                });
        if stopped && ACTIVITY.load(SeqCst) == a {
            return a;
        }
    }
}

/// `/proc/self/task/TID/stat` of the last thread [`asleep`] looked at, kept
/// open above paio's descriptor floor (-1: it could not be opened), and the
/// file's identity (a program that closes every descriptor it did not open, and
/// opens another file under the number, must not have that file read: an
/// eventfd's count would be taken). Only the `paio-signal` thread uses them.
static STAT_TID: AtomicI32 = AtomicI32::new(0);
static STAT_FD: AtomicI32 = AtomicI32::new(-1);
static STAT_ID: AtomicU64 = AtomicU64::new(0);

/// The identity of the file behind `fd` ([`sys::file_identity`]).
fn identity(fd: i32) -> Option<u64> {
    sys::file_identity(fd).ok().map(|(_, id)| id)
}

/// Is thread `tid` blocked (state `S` or `D`), rather than running or
/// waiting for a CPU? `None` when that cannot be told (no `/proc`).
fn asleep(tid: i32, floor: i32) -> Option<bool> {
    let ours = |fd: i32| identity(fd) == Some(STAT_ID.load(SeqCst));
    let fd = STAT_FD.load(SeqCst);
    if STAT_TID.load(SeqCst) != tid || (fd >= 0 && !ours(fd)) {
        // The number is no longer ours to close if the file changed: it
        // is the program's now.
        let old = STAT_FD.swap(-1, SeqCst);
        if old >= 0 && ours(old) {
            sys::close(old);
        }
        STAT_TID.store(tid, SeqCst);
        let path = format!("/proc/self/task/{tid}/stat\0");
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        let high = sys::dup_aside(fd, floor).unwrap_or(fd);
        if high != fd {
            sys::close(fd);
        }
        STAT_ID.store(identity(high).unwrap_or(0), SeqCst);
        STAT_FD.store(high, SeqCst);
    }
    let fd = STAT_FD.load(SeqCst);
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 256];
    let n = sys::pread(fd, buf.as_mut_ptr() as usize, buf.len(), 0, 0).ok()?;
    // "TID (COMM) STATE ...": COMM may hold spaces and parentheses.
    let line = &buf[..n];
    let i = line.iter().rposition(|&b| b == b')')?;
    Some(matches!(line.get(i + 2), Some(b'S') | Some(b'D')))
}

thread_local! {
    /// Depth of submitting calls on this thread (a signal handler may submit
    /// while the thread it interrupted was submitting).
    static SUBMITTING: Cell<u32> = const { Cell::new(0) };
    /// What this thread's running submitting calls added to `IN_CALL`.
    static HELD: Cell<u32> = const { Cell::new(0) };
    /// This thread's id, once asked (0: not yet).
    static TID: Cell<i32> = const { Cell::new(0) };
}

/// The calling thread's id, asked of the kernel once per thread.
fn this_thread() -> i32 {
    TID.with(|t| {
        if t.get() == 0 {
            t.set(sys::gettid());
        }
        t.get()
    })
}

/// Run `f`, a submitting call: the signals of requests it completes are
/// sent after it returns (see the module documentation).
pub fn submitting<R>(f: impl FnOnce() -> R) -> R {
    /// `HELD` when the call began.
    struct Leave(u32);
    impl Drop for Leave {
        fn drop(&mut self) {
            SUBMITTING.with(|d| d.set(d.get() - 1));
            let held = HELD.with(|h| h.replace(self.0)) - self.0;
            if held > 0 {
                ACTIVITY.fetch_add(1, SeqCst);
                IN_CALL.fetch_sub(held, SeqCst);
            }
        }
    }
    SUBMITTING.with(|d| d.set(d.get() + 1));
    let _leave = Leave(HELD.with(|h| h.get()));
    if OUTSTANDING.load(SeqCst) != 0 {
        IN_CALL.fetch_add(1, SeqCst);
        HELD.with(|h| h.set(h.get() + 1));
        ACTIVITY.fetch_add(1, SeqCst);
    }
    f()
}

/// Is this thread inside a submitting call?
pub fn in_submitting_call() -> bool {
    SUBMITTING.with(|d| d.get() > 0)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_call_counts_as_running_until_it_returns_nested_or_not() {
        let before = IN_CALL.load(SeqCst);
        let (late, inner) = submitting(|| {
            assert!(in_submitting_call());
            // Signal 0 sends nothing: only the bookkeeping is exercised.
            let late = Late::new(0, 0, None, 0);
            assert_eq!(IN_CALL.load(SeqCst), before + 1);
            assert_eq!(SUBMITTER.load(SeqCst), sys::gettid());
            assert_eq!(this_thread(), sys::gettid());
            // A handler that submits inside the call: that call began with
            // a late signal outstanding, so it counts too, until it returns.
            let inner = submitting(|| IN_CALL.load(SeqCst));
            assert_eq!(IN_CALL.load(SeqCst), before + 1);
            (late, inner)
        });
        assert_eq!(inner, before + 2);
        assert_eq!(IN_CALL.load(SeqCst), before, "both calls returned");
        assert!(!in_submitting_call());
        let outstanding = OUTSTANDING.load(SeqCst);
        late.send_now();
        assert_eq!(OUTSTANDING.load(SeqCst), outstanding - 1);
    }
}
