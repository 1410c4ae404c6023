//! Model checks of the concurrent core with loom: every interleaving of
//! completion vs `aio_suspend` wake-up, and of executor vs `aio_cancel` on a
//! request slot. Run with
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test -p paio --release --lib --target-dir target/loom model`
//! (as `.ci/run` does).

use loom::sync::atomic::AtomicI32;
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use crate::engine::wake::{Futex, WaitQueue};
use crate::request::slots::{Slot, State};
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// The kernel futex, modelled: the value check and the sleep are atomic with
/// respect to a wake.
#[derive(Default)]
struct ModelFutex {
    lock: Mutex<()>,
    cond: Condvar,
}

impl Futex for ModelFutex {
    fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        _deadline: Option<&libc::timespec>,
    ) -> Result<(), i32> {
        let g = self.lock.lock().unwrap();
        if word.load(SeqCst) != expected {
            return Err(libc::EAGAIN);
        }
        drop(self.cond.wait(g).unwrap());
        Ok(())
    }
    fn wake_all(&self, _word: &AtomicU32) {
        let _g = self.lock.lock().unwrap();
        self.cond.notify_all();
    }
}

/// A completion (publish the status, then wake) racing a waiter: the waiter
/// never sleeps through the completion (loom reports a deadlock if it does).
#[test]
fn completion_never_lost_by_suspend() {
    loom::model(|| {
        let q = Arc::new(WaitQueue::new());
        let futex = Arc::new(ModelFutex::default());
        let status = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let completer = {
            let (q, futex, status) = (q.clone(), futex.clone(), status.clone());
            thread::spawn(move || {
                status.store(0, Release);
                q.wake(&*futex);
            })
        };
        let r = q.wait_until(
            &*futex,
            || status.load(Acquire) != libc::EINPROGRESS,
            |_| None,
            None,
        );
        assert_eq!(r, Ok(()));
        completer.join().unwrap();
    });
}

/// Two completions, two waiters each waiting for a different one.
#[test]
fn two_waiters_two_completions() {
    loom::model(|| {
        let q = Arc::new(WaitQueue::new());
        let futex = Arc::new(ModelFutex::default());
        let a = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let b = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let mut hs = Vec::new();
        for st in [a.clone(), b.clone()] {
            let (q, futex) = (q.clone(), futex.clone());
            hs.push(thread::spawn(move || {
                st.store(0, Release);
                q.wake(&*futex);
            }));
        }
        let waiter = {
            let (q, futex, b) = (q.clone(), futex.clone(), b.clone());
            thread::spawn(move || q.wait_until(&*futex, || b.load(Acquire) == 0, |_| None, None))
        };
        assert_eq!(
            q.wait_until(&*futex, || a.load(Acquire) == 0, |_| None, None),
            Ok(())
        );
        assert_eq!(waiter.join().unwrap(), Ok(()));
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

/// A waiter sleeping on the kernel backend's wake (`KaioBackend::wait`;
/// the `ppoll` on the eventfd modelled as a futex on its count) and a
/// completion elsewhere (the pool): the completion either sees the sleeper
/// and signals the wake, or the waiter sees the status before it sleeps (as
/// in `wake::wake_waiters`).
#[test]
fn completion_elsewhere_signals_the_wake() {
    use loom::sync::atomic::fence;
    loom::model(|| {
        let q = Arc::new(WaitQueue::new());
        let futex = Arc::new(ModelFutex::default());
        let wakes = Arc::new(ModelFutex::default());
        let wake = Arc::new(AtomicU32::new(0));
        let sleepers = Arc::new(AtomicU32::new(0));
        let status = Arc::new(AtomicI32::new(libc::EINPROGRESS));
        let completer = {
            let (q, futex, wakes, wake, sleepers, status) = (
                q.clone(),
                futex.clone(),
                wakes.clone(),
                wake.clone(),
                sleepers.clone(),
                status.clone(),
            );
            thread::spawn(move || {
                status.store(0, Release);
                if q.wake(&*futex) && sleepers.load(SeqCst) != 0 {
                    wake.fetch_add(1, SeqCst);
                    wakes.wake_all(&wake);
                }
            })
        };
        let on_wake = |done: &mut dyn FnMut() -> bool| {
            wake.store(0, SeqCst); // drained before looking
            sleepers.fetch_add(1, SeqCst);
            fence(SeqCst);
            if !done() {
                let _ = wakes.wait(&wake, 0, None);
            }
            sleepers.fetch_sub(1, SeqCst);
            Some(Ok(()))
        };
        let r = q.wait_until(
            &*futex,
            || status.load(Acquire) != libc::EINPROGRESS,
            on_wake,
            None,
        );
        assert_eq!(r, Ok(()));
        completer.join().unwrap();
    });
}

/// Two threads whose first AIO calls race: exactly one engine is made and
/// both get it (a thread claiming the start just after the other finished
/// it must not make a second one).
#[test]
fn one_engine_however_first_calls_race() {
    use crate::once::StartOnce;
    loom::model(|| {
        let once = Arc::new(StartOnce::new());
        let made = Arc::new(AtomicUsize::new(0));
        let racer = {
            let (once, made) = (once.clone(), made.clone());
            thread::spawn(move || once.get_or_start(|| made.fetch_add(1, SeqCst) + 1))
        };
        let mine = once.get_or_start(|| made.fetch_add(1, SeqCst) + 1);
        assert_eq!(racer.join().unwrap(), mine);
        assert_eq!(made.load(SeqCst), 1);
    });
}

/// A completion ring of 2 slots (so it wraps) in loom atomics, produced
/// into as the kernel does (event, then tail; a slot is rewritten only once
/// the head has moved past it).
struct ModelRing {
    slots: [AtomicU64; 2],
    tail: AtomicU32,
    head: AtomicU32,
}

impl crate::backend::kaio_sys::RingWords for ModelRing {
    fn nr(&self) -> u64 {
        2
    }
    fn tail(&self) -> u32 {
        self.tail.load(Acquire)
    }
    fn event(&self, at: u64) -> crate::backend::kaio_sys::IoEvent {
        crate::backend::kaio_sys::IoEvent {
            data: self.slots[at as usize].load(Relaxed),
            ..Default::default()
        }
    }
    fn set_head(&self, head: u32) {
        self.head.store(head, Release);
    }
}

/// Two threads take events from one ring while the producer wraps around
/// it: every event is taken exactly once, with the data it was produced
/// with (`kaio_sys::take_next`: copy, then claim, then move the head).
#[test]
fn ring_events_taken_once_by_racing_takers() {
    use crate::backend::kaio_sys::take_next;
    const EVENTS: u64 = 3;
    loom::model(|| {
        let ring = Arc::new(ModelRing {
            slots: [AtomicU64::new(0), AtomicU64::new(0)],
            tail: AtomicU32::new(0),
            head: AtomicU32::new(0),
        });
        let claim = Arc::new(AtomicU64::new(0));
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for id in 1..=EVENTS {
                    let t = ring.tail.load(Relaxed);
                    // At most nr - 1 events wait in the ring.
                    while (t + 1) % 2 == ring.head.load(Acquire) {
                        thread::yield_now();
                    }
                    ring.slots[t as usize].store(id, Relaxed);
                    ring.tail.store((t + 1) % 2, Release);
                }
            })
        };
        // Two takers race a bounded number of takes each; this thread then
        // takes what is left (the producer waits for room meanwhile).
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let (ring, claim) = (ring.clone(), claim.clone());
                thread::spawn(move || {
                    (0..2)
                        .filter_map(|_| take_next(&*ring, &claim))
                        .map(|ev| ev.data)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = takers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        while all.len() < EVENTS as usize {
            match take_next(&*ring, &claim) {
                Some(ev) => all.push(ev.data),
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert!(take_next(&*ring, &claim).is_none());
        all.sort_unstable();
        assert_eq!(all, (1..=EVENTS).collect::<Vec<_>>());
    });
}

/// Executor vs `aio_cancel` on one queued request: exactly one of them
/// completes it, and the slot ends in the matching state.
#[test]
fn executor_and_cancel_complete_exactly_once() {
    loom::model(|| {
        let slot = Arc::new(Slot::queued());
        let completions = Arc::new(AtomicUsize::new(0));
        let canceller = {
            let (slot, completions) = (slot.clone(), completions.clone());
            thread::spawn(move || {
                if slot.begin_cancel() {
                    completions.fetch_add(1, SeqCst);
                    slot.end_cancel();
                    true
                } else {
                    false
                }
            })
        };
        let ran = slot.claim_or_cancelled();
        if ran {
            completions.fetch_add(1, SeqCst);
            slot.mark_done();
        }
        let cancelled = canceller.join().unwrap();
        assert!(ran ^ cancelled);
        assert_eq!(completions.load(SeqCst), 1);
        assert_eq!(
            slot.state(),
            if ran { State::Done } else { State::Cancelled }
        );
    });
}

/// A canceller that finds the slot reused by another request gives it back;
/// the executor must still run it (nothing lost).
#[test]
fn aborted_cancel_leaves_the_request_to_the_executor() {
    loom::model(|| {
        let slot = Arc::new(Slot::queued());
        let canceller = {
            let slot = slot.clone();
            thread::spawn(move || {
                if slot.begin_cancel() {
                    slot.abort_cancel();
                }
            })
        };
        assert!(slot.claim_or_cancelled(), "the request must run");
        canceller.join().unwrap();
        assert_eq!(slot.state(), State::Running);
    });
}
