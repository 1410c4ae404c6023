//! A bounded, self-sizing group of threads serving a lock-free queue: the
//! engine of the worker pool (blocking I/O) and of the `SIGEV_THREAD`
//! notifiers. Threads start on demand up to a limit and exit after an idle
//! period; submitting takes no lock.
//!
//! Wake-up protocol (all `SeqCst`): a submitter pushes, then reads `idle`; a
//! worker going idle increments `idle`, reads `seq`, re-checks the queues, and
//! sleeps on `seq`. Either the submitter sees the idle worker (and bumps `seq`
//! before waking it) or the worker's re-check sees the item.
//!
//! A worker is a plain C thread whose frames hold no value with a
//! destructor while it serves an item: a `SIGEV_THREAD` callback may end
//! its thread (`pthread_exit`, or a cancel: POSIX runs it "as if it were the
//! start routine of a new thread", and glibc gives it one), and the C
//! library's unwinding then passes through paio's frames to the thread's
//! end. The thread's exit gives the group its count back ([`Ended`]).

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use crossbeam_queue::{ArrayQueue, SegQueue};

use crate::sys;

const PER_CPU_CAPACITY: usize = 1024;
/// Queues per group at most: CPUs beyond share them (lock-free either way),
/// so a process's memory does not grow with the machine (16 queues of 1,024
/// entries: 256 KiB for a pool group, whatever the CPU count).
const MAX_QUEUES: usize = 16;

pub struct Workers<T> {
    name: &'static str,
    queues: Box<[ArrayQueue<T>]>,
    overflow: SegQueue<T>,
    idle: AtomicU32,
    threads: AtomicU32,
    seq: AtomicU32,
    /// 0: the C library's default (as for any thread the program makes).
    stack_size: usize,
}

/// How a worker handles one item, and reads its live limits.
pub trait Serve<T>: Sync + 'static {
    fn serve(&'static self, item: T);
    fn max_threads(&self) -> u32;
    fn idle_ms(&self) -> u32;
    fn thread_started(&self) {}
}

impl<T: Send + 'static> Workers<T> {
    /// Every thread of the group blocks every signal: a program that takes
    /// its signals with `sigwait` in a thread of its own must never lose one
    /// to paio. What a served item runs with is the server's business (the
    /// `SIGEV_THREAD` notifiers unblock around the program's callback).
    pub fn new(name: &'static str, stack_size: usize) -> Self {
        Workers::with_queues(name, stack_size, sys::online_cpus())
    }

    /// A group with `queues` submission queues (at most [`MAX_QUEUES`]):
    /// one suits a group that sees few items.
    pub fn with_queues(name: &'static str, stack_size: usize, queues: usize) -> Self {
        let n = queues.clamp(1, MAX_QUEUES);
        Workers {
            name,
            queues: (0..n).map(|_| ArrayQueue::new(PER_CPU_CAPACITY)).collect(),
            overflow: SegQueue::new(),
            idle: AtomicU32::new(0),
            threads: AtomicU32::new(0),
            seq: AtomicU32::new(0),
            stack_size,
        }
    }

    pub fn threads(&self) -> u32 {
        self.threads.load(SeqCst)
    }

    fn pop(&self, home: usize) -> Option<T> {
        let n = self.queues.len();
        for i in 0..n {
            if let Some(v) = self.queues[(home + i) % n].pop() {
                return Some(v);
            }
        }
        self.overflow.pop()
    }

    fn is_empty(&self) -> bool {
        self.queues.iter().all(|q| q.is_empty()) && self.overflow.is_empty()
    }

    /// At least one thread runs (starting one if none does).
    pub fn ensure_thread<S: Serve<T> + ?Sized>(&'static self, server: &'static S) -> bool {
        self.threads.load(SeqCst) > 0 || self.spawn(server)
    }

    /// Queue an item and make sure a thread will serve it. `Err(item)` only
    /// when no thread exists and none can be created: nothing was queued.
    pub fn submit<S: Serve<T> + ?Sized>(
        &'static self,
        server: &'static S,
        item: T,
    ) -> Result<(), T> {
        if self.threads.load(SeqCst) == 0 && !self.spawn(server) {
            return Err(item);
        }
        let home = sys::current_cpu() % self.queues.len();
        if let Err(v) = self.queues[home].push(item) {
            self.overflow.push(v);
        }
        self.wake_one(server);
        if self.threads.load(SeqCst) == 0 {
            // Every worker exited between our check and the push and a new
            // one could not start: serve what is queued here, losing nothing.
            while let Some(v) = self.pop(home) {
                server.serve(v);
            }
        }
        Ok(())
    }

    /// Make sure some thread will look at the queues: wake an idle one, or
    /// start one more if none is idle.
    fn wake_one<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        if self.idle.load(SeqCst) > 0 {
            self.seq.fetch_add(1, SeqCst);
            sys::futex_wake(&self.seq, 1);
        } else if self.threads.load(SeqCst) < server.max_threads() {
            self.spawn(server);
        }
    }

    /// A worker took an item that may block for long. A submitter may have
    /// counted this worker as idle after it was woken and before it took the
    /// item; if work is still queued, pass the wake-up on so that nothing
    /// waits behind a blocked worker.
    fn take<S: Serve<T> + ?Sized>(&'static self, server: &'static S, item: T) {
        if !self.is_empty() {
            self.wake_one(server);
        }
        ENDED.with(|e| e.inside.set(true));
        server.serve(item);
        ENDED.with(|e| e.inside.set(false));
    }

    /// A worker's thread ended inside an item: one thread fewer, and
    /// another serves what is queued.
    fn ended_inside<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        self.threads.fetch_sub(1, SeqCst);
        if !self.is_empty() {
            self.spawn(server);
        }
    }

    /// Start one more thread if under the limit. True if one is running now.
    fn spawn<S: Serve<T> + ?Sized>(&'static self, server: &'static S) -> bool {
        let mut n = self.threads.load(SeqCst);
        loop {
            if n >= server.max_threads().max(1) {
                return n > 0;
            }
            match self.threads.compare_exchange(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(v) => n = v,
            }
        }
        // The new thread inherits a fully blocked mask and keeps it.
        let old = sys::block_all_signals();
        let spawned = start_thread(self, server);
        sys::restore_signals(&old);
        match spawned {
            Ok(()) => {
                server.thread_started();
                true
            }
            Err(_) => {
                self.threads.fetch_sub(1, SeqCst);
                self.threads.load(SeqCst) > 0
            }
        }
    }

    fn run<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        let home = sys::current_cpu() % self.queues.len();
        loop {
            if let Some(v) = self.pop(home) {
                self.take(server, v);
                continue;
            }
            self.idle.fetch_add(1, SeqCst);
            let seq = self.seq.load(SeqCst);
            if let Some(v) = self.pop(home) {
                self.idle.fetch_sub(1, SeqCst);
                self.take(server, v);
                continue;
            }
            let ms = server.idle_ms().max(1) as libc::time_t;
            let deadline = sys::deadline_after(&libc::timespec {
                tv_sec: ms / 1000,
                tv_nsec: (ms % 1000) * 1_000_000,
            });
            let r = sys::futex_wait(&self.seq, seq, Some(&deadline));
            self.idle.fetch_sub(1, SeqCst);
            let over_limit = self.threads.load(SeqCst) > server.max_threads().max(1);
            if r == Err(libc::ETIMEDOUT) || over_limit {
                self.threads.fetch_sub(1, SeqCst);
                // Work may have arrived after our last look; if so, and the
                // limit allows, stay.
                if self.is_empty() || !self.rejoin(server) {
                    return;
                }
            }
        }
    }

    fn rejoin<S: Serve<T> + ?Sized>(&self, server: &S) -> bool {
        let mut n = self.threads.load(SeqCst);
        loop {
            if n >= server.max_threads().max(1) {
                return false;
            }
            match self.threads.compare_exchange(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(v) => n = v,
            }
        }
    }
}

/// What a new worker thread is handed.
struct Start<T: 'static, S: ?Sized + 'static> {
    group: &'static Workers<T>,
    server: &'static S,
}

/// A detached C thread running `group`'s loop, with the group's stack size
/// (or, where the C library refuses that size, its default).
fn start_thread<T: Send + 'static, S: Serve<T> + ?Sized>(
    group: &'static Workers<T>,
    server: &'static S,
) -> Result<(), i32> {
    let arg = Box::into_raw(Box::new(Start { group, server }));
    let sizes: &[usize] = if group.stack_size == 0 {
        &[0]
    } else {
        &[group.stack_size, 0]
    };
    let mut r = libc::EAGAIN;
    for &size in sizes {
        // SAFETY: a zeroed attribute object, initialised before use and
        // destroyed after.
        let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `arg` is handed to the thread only if it starts.
        unsafe {
            libc::pthread_attr_init(&mut attr);
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            if size > 0 {
                libc::pthread_attr_setstacksize(&mut attr, size.max(libc::PTHREAD_STACK_MIN));
            }
            let mut tid: libc::pthread_t = 0;
            r = libc::pthread_create(&mut tid, &attr, worker_main::<T, S>, arg.cast());
            libc::pthread_attr_destroy(&mut attr);
        }
        // EINVAL: the size is below what the C library needs (its static
        // TLS lives on the stack): the default then.
        if r != libc::EINVAL {
            break;
        }
    }
    if r != 0 {
        // SAFETY: no thread took `arg`.
        drop(unsafe { Box::from_raw(arg) });
        return Err(r);
    }
    Ok(())
}

extern "C" fn worker_main<T: Send + 'static, S: Serve<T> + ?Sized>(
    arg: *mut libc::c_void,
) -> *mut libc::c_void {
    // SAFETY: `arg` is the Box<Start> that `start_thread` leaked for us.
    let Start { group, server } = *unsafe { Box::from_raw(arg.cast::<Start<T, S>>()) };
    sys::name_thread(group.name);
    ENDED.with(|e| {
        e.hook
            .set(Some(Box::new(move || group.ended_inside(server))))
    });
    group.run(server);
    ENDED.with(|e| drop(e.hook.take()));
    std::ptr::null_mut()
}

/// A worker thread's way back into its group if the thread ends while it
/// serves an item, run by the thread-local's destructor (the C library runs
/// those at any thread exit, `pthread_exit` and cancellation included).
struct Ended {
    inside: Cell<bool>,
    hook: Cell<Option<Box<dyn FnOnce()>>>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(hook) = self.hook.take() {
            if self.inside.get() {
                hook();
            }
        }
    }
}

thread_local! {
    static ENDED: Ended = const {
        Ended {
            inside: Cell::new(false),
            hook: Cell::new(None),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    struct Summer {
        total: AtomicU64,
        count: AtomicU64,
        started: AtomicU32,
    }
    impl Serve<u64> for Summer {
        fn serve(&'static self, item: u64) {
            self.total.fetch_add(item, SeqCst);
            self.count.fetch_add(1, SeqCst);
        }
        fn max_threads(&self) -> u32 {
            3
        }
        fn idle_ms(&self) -> u32 {
            20
        }
        fn thread_started(&self) {
            self.started.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn serves_everything_bounded_and_idles_out() {
        let w: &'static Workers<u64> = Box::leak(Box::new(Workers::new("t", 64 << 10)));
        let s: &'static Summer = Box::leak(Box::new(Summer {
            total: AtomicU64::new(0),
            count: AtomicU64::new(0),
            started: AtomicU32::new(0),
        }));
        for round in 0..3 {
            for i in 1..=5000u64 {
                w.submit(s, i).unwrap();
            }
            let t0 = std::time::Instant::now();
            while s.count.load(SeqCst) < 5000 * (round + 1) {
                assert!(t0.elapsed().as_secs() < 20, "lost items");
                std::thread::yield_now();
            }
            assert!(w.threads() <= 3);
            // Let the threads idle out, then submit again: they come back.
            let t0 = std::time::Instant::now();
            while w.threads() > 0 {
                assert!(t0.elapsed().as_secs() < 20, "idle threads never exit");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        assert_eq!(s.total.load(SeqCst), 3 * 5000 * 5001 / 2);
        assert!(s.started.load(SeqCst) >= 3);
    }
}
