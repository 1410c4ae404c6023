//! The interface every implementation column is driven through, the I/O
//! buffers they share the shape of, and the loop that keeps the queue full.

use std::time::Instant;

use crate::histogram::Histogram;
use crate::sampler::ThreadSampler;
use crate::workload::{Op, OpGen};

/// An asynchronous I/O interface with `depth` slots; slot `i` always uses
/// buffer `i`, so every implementation touches the same memory the same way.
pub trait Engine {
    /// Start `op` in `slot` (free until now). Batching engines may hold it until
    /// [`Engine::flush`].
    fn queue(&mut self, slot: usize, op: Op) -> Result<(), String>;
    /// Hand everything queued to the kernel or library.
    fn flush(&mut self) -> Result<(), String>;
    /// Block until at least one started operation completes; append each
    /// completed `(slot, result)` to `done` (result: bytes, or `-errno`).
    fn reap(&mut self, done: &mut Vec<(usize, i64)>) -> Result<(), String>;
}

/// Page-aligned anonymous memory for `slots` buffers of `block` bytes each,
/// touched up front so page faults stay out of the measurement.
pub struct Buffers {
    ptr: *mut u8,
    len: usize,
    block: usize,
}

impl Buffers {
    pub fn new(slots: usize, block: usize) -> Result<Buffers, String> {
        let len = slots
            .checked_mul(block)
            .ok_or("buffer size overflows")?
            .max(1);
        // SAFETY: anonymous private mapping, no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!(
                "mmap {len} bytes: {}",
                std::io::Error::last_os_error()
            ));
        }
        let ptr = ptr.cast::<u8>();
        // SAFETY: `ptr` is a fresh writable mapping of `len` bytes.
        unsafe { std::ptr::write_bytes(ptr, 0xA5, len) };
        Ok(Buffers { ptr, len, block })
    }

    /// Start of the buffer of `slot`. It stays valid until `self` is dropped.
    pub fn slot(&self, slot: usize) -> *mut u8 {
        assert!(
            (slot + 1) * self.block <= self.len,
            "slot {slot} out of range"
        );
        // SAFETY: in bounds, checked above.
        unsafe { self.ptr.add(slot * self.block) }
    }

    pub fn block(&self) -> usize {
        self.block
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; engines are dropped (and their I/O
        // drained) before the buffers, see `drive`'s contract.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// When a phase stops starting new operations.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Data I/Os to start (fsyncs come on top).
    pub ios: Option<u64>,
    /// Start nothing after this instant.
    pub until: Option<Instant>,
}

/// What one thread did in one phase.
#[derive(Default)]
pub struct PhaseStats {
    pub ios: u64,
    pub fsyncs: u64,
    pub hist: Histogram,
    /// Time spent handing each batch over (from the first [`Engine::queue`] to
    /// the end of [`Engine::flush`]), when asked for: at queue depth 1 that is
    /// the one submitting call, `aio_read`, `io_submit` or `io_uring_enter`.
    pub submit: Histogram,
    /// The submitting thread's CPU time in the same span, for the sampled
    /// batches ([`SubmitTiming::cpu_every`]): unlike [`PhaseStats::submit`], it
    /// leaves out time the thread spent descheduled.
    pub submit_cpu: Histogram,
}

/// How [`drive`] times the hand-over of each batch.
#[derive(Clone, Copy, Debug)]
pub struct SubmitTiming {
    /// Read the thread's CPU clock around every n-th batch: it is a system
    /// call (about 0.6 µs), too dear to pay on every small request.
    pub cpu_every: u64,
}

/// This thread's CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec.max(0) as u64 * 1_000_000_000 + ts.tv_nsec.max(0) as u64
}

/// Keep `depth` operations in flight until `limit`, then drain. Every
/// completion is checked: a short or failed I/O fails the run. Latency is
/// measured from just before an operation is started until its completion is
/// seen. With `time_submit`, each batch's hand-over is timed as well (two
/// clock reads more per batch, so only the workloads that report it pay).
/// On error the engine may still own I/O: the caller must then exit the
/// process rather than free the buffers.
pub fn drive(
    engine: &mut dyn Engine,
    gen: &mut OpGen,
    depth: usize,
    block: usize,
    limit: Limit,
    time_submit: Option<SubmitTiming>,
    mut sampler: Option<&mut ThreadSampler>,
) -> Result<PhaseStats, String> {
    let base = Instant::now();
    let mut stats = PhaseStats::default();
    let mut started_at = vec![0u64; depth];
    let mut kind = vec![Op::Fsync; depth];
    let mut free: Vec<usize> = (0..depth).rev().collect();
    let mut done = Vec::with_capacity(depth);
    let mut started_ios = 0u64;
    let mut inflight = 0usize;
    let mut stopped = false;
    let mut batches = 0u64;
    loop {
        let now_instant = Instant::now();
        if limit.until.is_some_and(|until| now_instant >= until) {
            stopped = true;
        }
        if let Some(s) = sampler.as_deref_mut() {
            s.maybe_sample(now_instant);
        }
        // Fill every free slot. An fsync waits for the queue to drain, so it
        // covers exactly the writes before it.
        let mut queued = false;
        let cpu_from = match time_submit {
            Some(t) if batches % t.cpu_every.max(1) == 0 => Some(thread_cpu_ns()),
            _ => None,
        };
        let submit_from = time_submit.map(|_| Instant::now());
        if !stopped {
            while let Some(&slot) = free.last() {
                if gen.next_is_fsync() {
                    if inflight > 0 {
                        break;
                    }
                } else if limit.ios.is_some_and(|n| started_ios >= n) {
                    break;
                }
                let op = gen.next_op();
                if !matches!(op, Op::Fsync) {
                    started_ios += 1;
                }
                free.pop();
                started_at[slot] = base.elapsed().as_nanos() as u64;
                kind[slot] = op;
                engine.queue(slot, op)?;
                inflight += 1;
                queued = true;
            }
        }
        if queued {
            engine.flush()?;
            if let Some(t) = submit_from {
                stats.submit.record(t.elapsed().as_nanos() as u64);
                batches += 1;
            }
            if let Some(c) = cpu_from {
                stats.submit_cpu.record(thread_cpu_ns().saturating_sub(c));
            }
        }
        if inflight == 0 {
            break;
        }
        done.clear();
        engine.reap(&mut done)?;
        let seen = base.elapsed().as_nanos() as u64;
        for &(slot, res) in &done {
            let op = kind[slot];
            let want = if matches!(op, Op::Fsync) {
                0
            } else {
                block as i64
            };
            if res != want {
                let what = match op {
                    Op::Read { offset } => format!("read of {block} bytes at {offset}"),
                    Op::Write { offset } => format!("write of {block} bytes at {offset}"),
                    Op::Fsync => "fsync".to_string(),
                };
                return Err(if res < 0 {
                    format!(
                        "{what} failed: {}",
                        std::io::Error::from_raw_os_error(-res as i32)
                    )
                } else {
                    format!("{what} returned {res}")
                });
            }
            stats.hist.record(seen.saturating_sub(started_at[slot]));
            if matches!(op, Op::Fsync) {
                stats.fsyncs += 1;
            } else {
                stats.ios += 1;
            }
            free.push(slot);
            inflight -= 1;
        }
    }
    Ok(stats)
}
