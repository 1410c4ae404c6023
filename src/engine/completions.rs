//! The completion queue behind `aio_waitcomplete` and `paio_completion_fd`:
//! O(1) reaping however many requests are in flight.
//!
//! It is off until a program first calls `aio_waitcomplete` or
//! `paio_completion_fd`; from then on, every request submitted is queued
//! once, when it completes, with its result. Requests submitted before the
//! queue was turned on are not queued.
//!
//! A request is handed to the program once (FreeBSD's rule): by
//! `aio_return` or by `aio_waitcomplete`, whichever comes first. Each queued
//! result has a claim word ([`Claims`]) whose ticket is left in the aiocb;
//! `aio_return` claims it, and `aio_waitcomplete` passes over claimed
//! results. The claim lives in paio's memory, never in the aiocb, so a
//! program may free or reuse an aiocb after `aio_return` even while its
//! result is still queued.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use crossbeam_queue::SegQueue;
use parking_lot::Mutex;

use crate::engine::wake::WaitQueue;
use crate::request::chunks::Chunks;
use crate::sys;

/// One completed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    pub aiocb: usize,
    pub result: Result<usize, i32>,
    /// Its claim ticket (0: none could be had; it cannot be claimed).
    pub ticket: u64,
}

/// Claim words of queued results, in chunks that are never freed: a ticket
/// read from a stale or reused aiocb only fails to match.
///
/// A word is `gen << 2 | state`, state `QUEUED` or `QUEUED | CLAIMED`
/// (or 0, free). A ticket is `gen << 32 | index + 1`. `aio_return` sets
/// `CLAIMED` if the generation still matches; `aio_waitcomplete` takes the
/// word back (next generation) and returns the result unless it was claimed.
pub struct Claims {
    words: Chunks<AtomicU64>,
    next: AtomicU32,
    free: SegQueue<u32>,
}

const CLAIM_CHUNK: usize = 4096;
const CLAIM_CHUNKS: usize = 1024;
const QUEUED: u64 = 1;
const CLAIMED: u64 = 2;

impl Default for Claims {
    fn default() -> Self {
        Claims {
            words: Chunks::new(CLAIM_CHUNKS, CLAIM_CHUNK),
            next: AtomicU32::new(0),
            free: SegQueue::new(),
        }
    }
}

impl Claims {
    /// A claim word for a result about to be queued; 0 when every word is
    /// in use (the result is then queued unclaimable).
    fn issue(&self) -> u64 {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                if i as usize >= self.words.capacity() {
                    self.next.fetch_sub(1, Ordering::Relaxed);
                    return 0;
                }
                i
            }
        };
        let Some(w) = self.words.get_or_make(index as usize, || AtomicU64::new(0)) else {
            return 0;
        };
        let gen = (w.load(Ordering::Relaxed) >> 2).wrapping_add(1) & 0x3fff_ffff;
        w.store(gen << 2 | QUEUED, Ordering::Release);
        gen << 32 | (index as u64 + 1)
    }

    fn parse(&self, ticket: u64) -> Option<(&AtomicU64, u32, u64)> {
        let index = (ticket as u32).checked_sub(1)?;
        Some((self.words.get(index as usize)?, index, ticket >> 32))
    }

    /// `aio_return` took the result: `aio_waitcomplete` must not.
    /// Async-signal-safe: one compare-and-swap.
    pub fn claim(&self, ticket: u64) {
        if let Some((w, _, gen)) = self.parse(ticket) {
            let _ = w.compare_exchange(
                gen << 2 | QUEUED,
                gen << 2 | QUEUED | CLAIMED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    /// `aio_waitcomplete` popped the result: true when it is the program's
    /// first sight of it. The word is free again either way.
    fn take(&self, ticket: u64) -> bool {
        let Some((w, index, gen)) = self.parse(ticket) else {
            return true;
        };
        let old = w.swap(gen << 2, Ordering::AcqRel);
        self.free.push(index);
        old == gen << 2 | QUEUED
    }
}

pub struct Completions {
    on: AtomicBool,
    /// Held across "publish the status, then queue the result", so that the
    /// queue's order is the order in which programs can see completions, and
    /// a poll right after `aio_error` reported a request done finds it.
    /// Taken only for requests that report here.
    publishing: Mutex<()>,
    queue: SegQueue<Done>,
    pub claims: Claims,
    waiters: WaitQueue,
    /// The eventfd of `paio_completion_fd`, or -1.
    eventfd: AtomicI32,
}

impl Default for Completions {
    fn default() -> Self {
        Completions {
            on: AtomicBool::new(false),
            publishing: Mutex::new(()),
            queue: SegQueue::new(),
            claims: Claims::default(),
            waiters: WaitQueue::new(),
            eventfd: AtomicI32::new(-1),
        }
    }
}

impl Completions {
    pub fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    pub fn enable(&self) {
        if !self.enabled() {
            self.on.store(true, Ordering::Release);
        }
    }

    /// The readiness descriptor for event loops (created once).
    pub fn eventfd(&self) -> Result<i32, i32> {
        self.enable();
        let fd = self.eventfd.load(Ordering::Acquire);
        if fd >= 0 {
            return Ok(fd);
        }
        // SAFETY: eventfd takes no pointers.
        let new = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if new < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EMFILE));
        }
        match self
            .eventfd
            .compare_exchange(-1, new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                // Completions queued before the descriptor existed count too.
                if !self.queue.is_empty() {
                    signal(new);
                }
                Ok(new)
            }
            Err(existing) => {
                sys::close(new);
                Ok(existing)
            }
        }
    }

    /// Publish a result through `publish` (given its claim ticket) and
    /// queue it, as one step.
    pub fn publish_and_push(
        &self,
        aiocb: usize,
        result: Result<usize, i32>,
        publish: impl FnOnce(u64),
    ) {
        let guard = self.publishing.lock();
        let ticket = self.claims.issue();
        publish(ticket);
        self.push(Done {
            aiocb,
            result,
            ticket,
        });
        drop(guard);
    }

    /// The next queued result the program has not taken with `aio_return`.
    fn pop(&self) -> Option<Done> {
        while let Some(d) = self.queue.pop() {
            if self.claims.take(d.ticket) {
                return Some(d);
            }
        }
        None
    }

    pub fn push(&self, done: Done) {
        self.queue.push(done);
        self.waiters.wake(&crate::engine::wake::KernelFutex);
        let fd = self.eventfd.load(Ordering::Acquire);
        if fd >= 0 {
            signal(fd);
        }
    }

    /// `aio_waitcomplete`: the next completion; `EAGAIN` when none arrives
    /// before the deadline, `EINTR` on a signal.
    pub fn wait(&self, timeout: Option<&libc::timespec>) -> Result<Done, i32> {
        self.enable();
        if timeout.is_some_and(|t| t.tv_nsec < 0 || t.tv_nsec >= 1_000_000_000 || t.tv_sec < 0) {
            return Err(libc::EINVAL);
        }
        if let Some(d) = self.pop() {
            return Ok(d);
        }
        // A completion may be between its publication and its queueing.
        drop(self.publishing.lock());
        if let Some(d) = self.pop() {
            return Ok(d);
        }
        let deadline = match timeout {
            Some(t) if t.tv_sec == 0 && t.tv_nsec == 0 => return Err(libc::EAGAIN),
            Some(t) => Some(sys::deadline_after(t)),
            None => None,
        };
        let mut got = None;
        self.waiters.wait_until(
            &crate::engine::wake::KernelFutex,
            || {
                got = self.pop();
                got.is_some()
            },
            // Reported requests always have a reaper (see `kaio`).
            |_| None,
            deadline.as_ref(),
        )?;
        got.ok_or(libc::EAGAIN)
    }
}

fn signal(fd: i32) {
    crate::sys::eventfd_signal(fd);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(aiocb: usize, result: Result<usize, i32>) -> Done {
        Done {
            aiocb,
            result,
            ticket: 0,
        }
    }

    #[test]
    fn fifo_once_each_with_timeouts() {
        let c = Completions::default();
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        assert_eq!(c.wait(Some(&zero)), Err(libc::EAGAIN));
        assert!(c.enabled());
        c.push(done(1, Ok(10)));
        c.push(done(2, Err(libc::EIO)));
        assert_eq!(c.wait(None), Ok(done(1, Ok(10))));
        assert_eq!(c.wait(Some(&zero)), Ok(done(2, Err(libc::EIO))));
        let short = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        assert_eq!(c.wait(Some(&short)), Err(libc::EAGAIN));
        let bad = libc::timespec {
            tv_sec: 0,
            tv_nsec: 2_000_000_000,
        };
        assert_eq!(c.wait(Some(&bad)), Err(libc::EINVAL));
    }

    #[test]
    fn eventfd_becomes_readable() {
        let c = Completions::default();
        let fd = c.eventfd().unwrap();
        assert_eq!(c.eventfd().unwrap(), fd);
        c.push(done(3, Ok(0)));
        let mut v: u64 = 0;
        assert_eq!(
            unsafe { libc::read(fd, &mut v as *mut u64 as *mut _, 8) },
            8
        );
        assert_eq!(v, 1);
        sys::close(fd);
    }

    #[test]
    fn a_waiter_is_woken_by_a_push() {
        let c: &'static Completions = Box::leak(Box::default());
        c.enable();
        let t = std::thread::spawn(move || c.wait(None));
        std::thread::sleep(std::time::Duration::from_millis(30));
        c.push(done(9, Ok(1)));
        assert_eq!(t.join().unwrap(), Ok(done(9, Ok(1))));
    }

    #[test]
    fn a_result_taken_by_aio_return_is_not_returned_again() {
        let c = Completions::default();
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut tickets = Vec::new();
        for aiocb in 1..=3 {
            c.publish_and_push(aiocb, Ok(aiocb), |t| tickets.push(t));
        }
        assert!(tickets.iter().all(|&t| t != 0));
        c.claims.claim(tickets[0]);
        c.claims.claim(tickets[2]);
        c.claims.claim(tickets[2]);
        let got = c.wait(Some(&zero)).unwrap();
        assert_eq!((got.aiocb, got.result), (2, Ok(2)));
        assert_eq!(c.wait(Some(&zero)), Err(libc::EAGAIN));
        // A ticket of a result already popped (a stale aiocb) claims nothing
        // of the result that reuses its word.
        c.claims.claim(tickets[1]);
        c.publish_and_push(4, Ok(4), |_| {});
        assert_eq!(c.wait(Some(&zero)).map(|d| d.aiocb), Ok(4));
        // Garbage tickets are harmless.
        c.claims.claim(u64::MAX);
        c.claims.claim(1 << 40 | 1_000_000);
    }
}
