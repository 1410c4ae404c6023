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
//! end. The thread's exit gives the group its count back ([`Exit`]).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};

use crossbeam_queue::{ArrayQueue, SegQueue};

use crate::sys;

const PER_CPU_CAPACITY: usize = 1024;
/// Queues per group at most: CPUs beyond share them (lock-free either way),
/// so a process's memory does not grow with the machine (16 queues of 1,024
/// entries: 256 KiB for a pool group, whatever the CPU count).
const MAX_QUEUES: usize = 16;
/// An elastic group ([`Serve::elastic`]) whose threads are all busy, with
/// items queued, is looked at this often; one that served nothing in that
/// time gets one more thread, beyond its limit…
const WATCH_NS: i64 = 10_000_000;
/// …up to this many threads in all.
const ELASTIC_MAX: u32 = 1024;
/// How long a thread of a [`Serve::thread_per_item`] group waits for an
/// item before it ends.
const PER_ITEM_WAIT_MS: libc::time_t = 10;

pub struct Workers<T> {
    name: &'static str,
    queues: Box<[ArrayQueue<T>]>,
    overflow: SegQueue<T>,
    idle: AtomicU32,
    threads: AtomicU32,
    seq: AtomicU32,
    /// 0: the C library's default (as for any thread the program makes).
    stack_size: usize,
    /// Items served so far: what the watcher measures progress by.
    served: AtomicU64,
    /// A watcher thread runs (see [`Workers::watch`]).
    watching: AtomicBool,
    /// The group's [`Exit`] record, made by its first thread.
    exit: once_cell::sync::OnceCell<usize>,
    /// Threads of a [`Serve::thread_per_item`] group started and not yet
    /// holding an item: a submitter wakes one of them instead of starting
    /// another.
    fresh: AtomicU32,
}

/// How a worker handles one item, and reads its live limits.
pub trait Serve<T>: Sync + 'static {
    fn serve(&'static self, item: T);
    fn max_threads(&self) -> u32;
    fn idle_ms(&self) -> u32;
    fn thread_started(&self) {}
    /// Items are the program's code (`SIGEV_THREAD` callbacks). They may
    /// block on one another, as they may where each gets a thread, as in
    /// glibc: a group whose every thread stays busy while items wait grows
    /// past its limit ([`Workers::watch`]). And they may end their thread
    /// ([`Exit`]). Only such a group pays for either, per item.
    fn elastic(&self) -> bool {
        false
    }
    /// Each item on a thread of its own, as if the thread had been started
    /// for it (glibc starts one per `SIGEV_THREAD` callback): a thread ends
    /// after its item, so that the item's thread-specific data is destroyed
    /// and its `__thread` values, name, affinity and scheduling are gone
    /// before the next; another starts for what is queued. The group's
    /// limit still bounds how many run at once.
    fn thread_per_item(&self) -> bool {
        false
    }
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
            served: AtomicU64::new(0),
            watching: AtomicBool::new(false),
            exit: once_cell::sync::OnceCell::new(),
            fresh: AtomicU32::new(0),
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

    /// An item still queued, taken by a thread outside the group.
    pub fn take_queued(&self) -> Option<T> {
        self.pop(0)
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
        if self.threads.load(SeqCst) == 0 && !self.spawn(server) {
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
        if self.idle.load(SeqCst) > 0 || (server.thread_per_item() && self.fresh.load(SeqCst) > 0) {
            self.seq.fetch_add(1, SeqCst);
            sys::futex_wake(&self.seq, 1);
        } else if self.threads.load(SeqCst) < server.max_threads() {
            self.spawn(server);
        } else if server.elastic() {
            self.watch(server);
        }
    }

    /// Every thread of an elastic group is busy and an item waits: start
    /// the watcher, unless it runs. Every [`WATCH_NS`] it looks: nothing
    /// queued, it ends; nothing served since its last look and no thread
    /// idle, it starts one more thread, beyond the limit (those end when
    /// idle, as any thread over the limit does). Items that wait on one
    /// another then get the threads they need; quick ones never see it.
    fn watch<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        if self.watching.swap(true, SeqCst) {
            return;
        }
        let old = sys::block_all_signals();
        let started = spawn_raw(
            watcher_main::<T, S>,
            Box::into_raw(Box::new(Start {
                group: self,
                server,
            }))
            .cast(),
            64 << 10,
        );
        sys::restore_signals(&old);
        if let Err(arg) = started {
            // SAFETY: no thread took it.
            drop(unsafe { Box::from_raw(arg.cast::<Start<T, S>>()) });
            self.watching.store(false, SeqCst);
        }
    }

    fn watcher<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        let tick = libc::timespec {
            tv_sec: 0,
            tv_nsec: WATCH_NS as _,
        };
        let mut last = self.served.load(SeqCst);
        loop {
            sys::sleep(&tick);
            if self.is_empty() {
                self.watching.store(false, SeqCst);
                // An item queued after the look, whose submitter saw this
                // watcher still running, is watched here.
                if self.is_empty() || self.watching.swap(true, SeqCst) {
                    return;
                }
                continue;
            }
            let now = self.served.load(SeqCst);
            if now == last && self.idle.load(SeqCst) == 0 {
                self.spawn_extra(server);
            }
            last = now;
        }
    }

    /// One more thread, beyond the limit (up to [`ELASTIC_MAX`]).
    fn spawn_extra<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        if self.threads.fetch_add(1, SeqCst) >= ELASTIC_MAX {
            self.threads.fetch_sub(1, SeqCst);
            return;
        }
        let per_item = server.thread_per_item();
        if per_item {
            self.fresh.fetch_add(1, SeqCst);
        }
        let old = sys::block_all_signals();
        let spawned = start_thread(self, server);
        sys::restore_signals(&old);
        match spawned {
            Ok(()) => server.thread_started(),
            Err(_) => {
                if per_item {
                    self.fresh.fetch_sub(1, SeqCst);
                }
                self.threads.fetch_sub(1, SeqCst);
            }
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
        if !server.elastic() {
            // paio's own work (I/O, signals): it never ends its thread.
            server.serve(item);
            return;
        }
        let key = exit_key();
        if let Some(k) = key {
            // SAFETY: a key of paio's own; the record lives for ever.
            unsafe { libc::pthread_setspecific(k, self.exit_record(server)) };
        }
        server.serve(item);
        if let Some(k) = key {
            // SAFETY: as above.
            unsafe { libc::pthread_setspecific(k, std::ptr::null()) };
        }
        self.served.fetch_add(1, SeqCst);
    }

    /// The group's [`Exit`] record (one per group, made once).
    fn exit_record<S: Serve<T> + ?Sized>(&'static self, server: &'static S) -> *const libc::c_void {
        *self.exit.get_or_init(|| {
            Box::into_raw(Box::new(Exit {
                run: run_exit::<T, S>,
                group: self,
                server,
            })) as usize
        }) as *const libc::c_void
    }

    /// A worker's thread ended inside an item: one thread fewer, and
    /// another serves what is queued.
    fn ended_inside<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        self.served.fetch_add(1, SeqCst);
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
        let per_item = server.thread_per_item();
        if per_item {
            self.fresh.fetch_add(1, SeqCst);
        }
        let old = sys::block_all_signals();
        let spawned = start_thread(self, server);
        sys::restore_signals(&old);
        match spawned {
            Ok(()) => {
                server.thread_started();
                true
            }
            Err(_) => {
                if per_item {
                    self.fresh.fetch_sub(1, SeqCst);
                }
                self.threads.fetch_sub(1, SeqCst);
                self.threads.load(SeqCst) > 0
            }
        }
    }

    fn run<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        let home = sys::current_cpu() % self.queues.len();
        loop {
            if let Some(v) = self.pop(home) {
                if server.thread_per_item() {
                    self.fresh.fetch_sub(1, SeqCst);
                    self.take(server, v);
                    return self.leave(server);
                }
                self.take(server, v);
                continue;
            }
            self.idle.fetch_add(1, SeqCst);
            let seq = self.seq.load(SeqCst);
            if let Some(v) = self.pop(home) {
                self.idle.fetch_sub(1, SeqCst);
                if server.thread_per_item() {
                    self.fresh.fetch_sub(1, SeqCst);
                    self.take(server, v);
                    return self.leave(server);
                }
                self.take(server, v);
                continue;
            }
            // A thread of a thread-per-item group waits only a moment for
            // its item (it may have been started just before the item was
            // queued): none waits long with what an earlier thread had.
            let ms = if server.thread_per_item() {
                PER_ITEM_WAIT_MS
            } else {
                server.idle_ms().max(1) as libc::time_t
            };
            let deadline = sys::deadline_after(&libc::timespec {
                tv_sec: ms / 1000,
                tv_nsec: (ms % 1000) * 1_000_000,
            });
            let r = sys::futex_wait(&self.seq, seq, Some(&deadline));
            self.idle.fetch_sub(1, SeqCst);
            let over_limit = self.threads.load(SeqCst) > server.max_threads().max(1);
            if (r == Err(libc::ETIMEDOUT) || over_limit) && server.thread_per_item() {
                // Not taken an item: it ends as any thread that took one.
                self.fresh.fetch_sub(1, SeqCst);
                return self.leave(server);
            }
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

    /// A worker of a [`Serve::thread_per_item`] group is done with its item:
    /// its thread ends, and another starts for what is queued. An item
    /// queued by a submitter that counted this thread as running is seen
    /// here, or by the watcher of an elastic group.
    fn leave<S: Serve<T> + ?Sized>(&'static self, server: &'static S) {
        self.threads.fetch_sub(1, SeqCst);
        if !self.is_empty() {
            self.spawn(server);
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
    match spawn_raw(worker_main::<T, S>, arg.cast(), group.stack_size) {
        Ok(()) => Ok(()),
        Err(arg) => {
            // SAFETY: no thread took `arg`.
            drop(unsafe { Box::from_raw(arg.cast::<Start<T, S>>()) });
            Err(libc::EAGAIN)
        }
    }
}

type Entry = extern "C" fn(*mut libc::c_void) -> *mut libc::c_void;

/// A detached C thread running `entry(arg)` on a stack of `stack_size`
/// bytes (0, or a size the C library refuses because its static TLS lives
/// on the stack: its default). `Err(arg)` when none could start.
fn spawn_raw(
    entry: Entry,
    arg: *mut libc::c_void,
    stack_size: usize,
) -> Result<(), *mut libc::c_void> {
    let sizes: &[usize] = if stack_size == 0 {
        &[0]
    } else {
        &[stack_size, 0]
    };
    for &size in sizes {
        // SAFETY: a zeroed attribute object, initialised before use and
        // destroyed after.
        let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `arg` is handed to the thread only if it starts.
        let r = unsafe {
            libc::pthread_attr_init(&mut attr);
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            if size > 0 {
                libc::pthread_attr_setstacksize(&mut attr, size + tls_and_guard(&attr));
            }
            let mut tid: libc::pthread_t = 0;
            let r = libc::pthread_create(&mut tid, &attr, entry, arg);
            libc::pthread_attr_destroy(&mut attr);
            r
        };
        match r {
            0 => return Ok(()),
            libc::EINVAL => continue,
            _ => break,
        }
    }
    Err(arg)
}

/// What the C library takes from a new thread's stack before the thread
/// runs: the program's static TLS (a few bytes, or megabytes) and the
/// guard page. paio's sizes are for paio's own frames, so this comes on
/// top. (`__pthread_get_minstack`, which glibc keeps for this, where it
/// has it; `PTHREAD_STACK_MIN` otherwise.)
fn tls_and_guard(attr: &libc::pthread_attr_t) -> usize {
    type MinStack = unsafe extern "C" fn(*const libc::pthread_attr_t) -> libc::size_t;
    static MIN_STACK: once_cell::sync::OnceCell<Option<MinStack>> =
        once_cell::sync::OnceCell::new();
    let f = *MIN_STACK.get_or_init(|| {
        // SAFETY: a NUL-terminated name looked up in the loaded objects.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__pthread_get_minstack".as_ptr()) };
        // SAFETY: glibc's function of this type, when it exists.
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, MinStack>(p) })
    });
    match f {
        // SAFETY: an initialised attribute object.
        Some(f) => unsafe { f(attr) },
        None => libc::PTHREAD_STACK_MIN,
    }
}

extern "C" fn watcher_main<T: Send + 'static, S: Serve<T> + ?Sized>(
    arg: *mut libc::c_void,
) -> *mut libc::c_void {
    // SAFETY: `arg` is the Box<Start> that `watch` leaked for us.
    let Start { group, server } = *unsafe { Box::from_raw(arg.cast::<Start<T, S>>()) };
    sys::name_thread("paio-watch");
    group.watcher(server);
    std::ptr::null_mut()
}

extern "C" fn worker_main<T: Send + 'static, S: Serve<T> + ?Sized>(
    arg: *mut libc::c_void,
) -> *mut libc::c_void {
    // SAFETY: `arg` is the Box<Start> that `start_thread` leaked for us.
    let Start { group, server } = *unsafe { Box::from_raw(arg.cast::<Start<T, S>>()) };
    sys::name_thread(group.name);
    group.run(server);
    std::ptr::null_mut()
}

/// What a worker's thread does if it ends while it serves an item: the
/// value of [`exit_key`] while it serves one, whose destructor the C library
/// runs at any thread exit (`pthread_exit` and cancellation included). One
/// per group, kept for ever; no allocation per thread or per item.
#[repr(C)]
struct Exit<T: 'static, S: ?Sized + 'static> {
    /// First, so that [`exit_key`]'s destructor finds it without the types.
    run: unsafe fn(*const libc::c_void),
    group: &'static Workers<T>,
    server: &'static S,
}

/// # Safety
/// `p` is an `Exit<T, S>` made by [`Workers::exit_record`].
unsafe fn run_exit<T: Send + 'static, S: Serve<T> + ?Sized>(p: *const libc::c_void) {
    // SAFETY: by the contract.
    let e = unsafe { &*p.cast::<Exit<T, S>>() };
    e.group.ended_inside(e.server);
}

extern "C" fn exit_key_destructor(p: *mut libc::c_void) {
    // SAFETY: the key's values are `Exit` records, whose first field is
    // their `run`.
    unsafe {
        let run = *p.cast::<unsafe fn(*const libc::c_void)>();
        run(p);
    }
}

/// The thread-specific key whose value, while a worker serves an item, is
/// its group's [`Exit`] record; `None` when the C library had no key left
/// (a thread ending inside an item then keeps its count, which only lowers
/// the group's bound).
fn exit_key() -> Option<libc::pthread_key_t> {
    static KEY: once_cell::sync::OnceCell<Option<libc::pthread_key_t>> =
        once_cell::sync::OnceCell::new();
    *KEY.get_or_init(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: a destructor of the right type; the key is never deleted.
        let r = unsafe { libc::pthread_key_create(&mut key, Some(exit_key_destructor)) };
        (r == 0).then_some(key)
    })
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

    /// Items that each wait for the next one to be served, in a group of
    /// one thread: only growing past the bound serves them all.
    struct Chain {
        done: [AtomicU32; 6],
    }
    impl Serve<usize> for Chain {
        fn serve(&'static self, i: usize) {
            let t0 = std::time::Instant::now();
            while i + 1 < self.done.len()
                && self.done[i + 1].load(SeqCst) == 0
                && t0.elapsed().as_secs() < 10
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            self.done[i].store(1, SeqCst);
        }
        fn max_threads(&self) -> u32 {
            1
        }
        fn idle_ms(&self) -> u32 {
            20
        }
        fn elastic(&self) -> bool {
            true
        }
    }

    fn leak<T>(v: T) -> &'static T {
        Box::leak(Box::new(v))
    }

    /// Every thread of `w` ends (idle, or done with its item) within 20 s
    /// of `t0`.
    fn all_threads_end<T: Send + 'static>(w: &Workers<T>, t0: std::time::Instant) {
        while w.threads() > 0 {
            assert!(t0.elapsed().as_secs() < 20, "threads never end");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn an_elastic_group_grows_while_its_items_wait_on_one_another() {
        let w: &'static Workers<usize> = leak(Workers::new("t", 64 << 10));
        let c: &'static Chain = leak(Chain {
            done: Default::default(),
        });
        let t0 = std::time::Instant::now();
        for i in 0..c.done.len() {
            w.submit(c, i).unwrap();
        }
        while c.done.iter().any(|d| d.load(SeqCst) == 0) {
            assert!(t0.elapsed().as_secs() < 8, "the chain is stuck");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // The extra threads end once idle.
        all_threads_end(w, t0);
    }

    thread_local! {
        static SEEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Items that each find their thread fresh, then mark it.
    struct Fresh {
        served: AtomicU32,
        reused: AtomicU32,
    }
    impl Serve<u32> for Fresh {
        fn serve(&'static self, _: u32) {
            if SEEN.with(|s| s.replace(true)) {
                self.reused.fetch_add(1, SeqCst);
            }
            self.served.fetch_add(1, SeqCst);
        }
        fn max_threads(&self) -> u32 {
            2
        }
        fn idle_ms(&self) -> u32 {
            1000
        }
        fn thread_per_item(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_thread_per_item_group_serves_each_on_a_new_thread() {
        let w: &'static Workers<u32> = leak(Workers::new("t", 64 << 10));
        let f: &'static Fresh = leak(Fresh {
            served: AtomicU32::new(0),
            reused: AtomicU32::new(0),
        });
        for i in 0..300 {
            w.submit(f, i).unwrap();
            if i % 7 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let t0 = std::time::Instant::now();
        while f.served.load(SeqCst) < 300 {
            assert!(t0.elapsed().as_secs() < 20, "lost items");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(
            f.reused.load(SeqCst),
            0,
            "an item ran on a thread that served another"
        );
        all_threads_end(w, t0);
    }

    #[test]
    fn serves_everything_bounded_and_idles_out() {
        let w: &'static Workers<u64> = leak(Workers::new("t", 64 << 10));
        let s: &'static Summer = leak(Summer {
            total: AtomicU64::new(0),
            count: AtomicU64::new(0),
            started: AtomicU32::new(0),
        });
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
            all_threads_end(w, std::time::Instant::now());
        }
        assert_eq!(s.total.load(SeqCst), 3 * 5000 * 5001 / 2);
        assert!(s.started.load(SeqCst) >= 3);
    }
}
