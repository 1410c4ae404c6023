//! The completion queue behind `aio_waitcomplete` and `paio_completion_fd`:
//! O(1) reaping however many requests are in flight.
//!
//! It is off until a program first calls `aio_waitcomplete` or
//! `paio_completion_fd`; from then on, every request submitted is queued
//! once, when it completes, with its result. A queued result is returned by
//! exactly one `aio_waitcomplete`, whether or not the program also called
//! `aio_error` or `aio_return` on that request (the result is copied into the
//! queue, so the aiocb may be reused after `aio_return`; it is only handed
//! back as a pointer). Requests submitted before the queue was turned on are
//! not queued.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crossbeam_queue::SegQueue;
use parking_lot::Mutex;

use crate::suspend::WaitQueue;
use crate::sys;

/// One completed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    pub aiocb: usize,
    pub result: Result<usize, i32>,
}

pub struct Completions {
    on: AtomicBool,
    /// Held across "publish the status, then queue the result", so that the
    /// queue's order is the order in which programs can see completions, and
    /// a poll right after `aio_error` reported a request done finds it.
    /// Taken only for requests that report here.
    publishing: Mutex<()>,
    queue: SegQueue<Done>,
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

    /// Publish a result through `publish` and queue it, as one step.
    pub fn publish_and_push(&self, done: Done, publish: impl FnOnce()) {
        let guard = self.publishing.lock();
        publish();
        self.push(done);
        drop(guard);
    }

    pub fn push(&self, done: Done) {
        self.queue.push(done);
        self.waiters.wake(&crate::suspend::KernelFutex);
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
        if let Some(d) = self.queue.pop() {
            return Ok(d);
        }
        // A completion may be between its publication and its queueing.
        drop(self.publishing.lock());
        if let Some(d) = self.queue.pop() {
            return Ok(d);
        }
        let deadline = match timeout {
            Some(t) if t.tv_sec == 0 && t.tv_nsec == 0 => return Err(libc::EAGAIN),
            Some(t) => Some(sys::deadline_after(t)),
            None => None,
        };
        let mut got = None;
        self.waiters.wait_until(
            &crate::suspend::KernelFutex,
            || {
                got = self.queue.pop();
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
    let one: u64 = 1;
    // SAFETY: writing 8 bytes from a local to an eventfd paio owns.
    unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_once_each_with_timeouts() {
        let c = Completions::default();
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        assert_eq!(c.wait(Some(&zero)), Err(libc::EAGAIN));
        assert!(c.enabled());
        c.push(Done {
            aiocb: 1,
            result: Ok(10),
        });
        c.push(Done {
            aiocb: 2,
            result: Err(libc::EIO),
        });
        assert_eq!(
            c.wait(None),
            Ok(Done {
                aiocb: 1,
                result: Ok(10)
            })
        );
        assert_eq!(
            c.wait(Some(&zero)),
            Ok(Done {
                aiocb: 2,
                result: Err(libc::EIO)
            })
        );
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
        c.push(Done {
            aiocb: 3,
            result: Ok(0),
        });
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
        c.push(Done {
            aiocb: 9,
            result: Ok(1),
        });
        assert_eq!(
            t.join().unwrap(),
            Ok(Done {
                aiocb: 9,
                result: Ok(1)
            })
        );
    }
}
