//! Counters behind `PAIO_STATS`: sharded per thread slot so that the hot path
//! never writes a cache line another CPU is writing.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// What is counted. The order is the order of the exit line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// Requests accepted (read, write, fsync).
    Requests,
    Read,
    Write,
    Fsync,
    /// Completed inside the submitting call, without a thread hop.
    Inline,
    /// Executed by the worker pool.
    Pool,
    /// Executed by kernel AIO.
    Kernel,
    /// Resumed on the pool after a partial or refused non-blocking attempt.
    Retried,
    /// Completed with an error (including cancellations).
    Errors,
    Cancelled,
    /// Threads paio created (I/O workers and notifiers).
    Threads,
    /// Requests that waited on the program's own descriptor because paio
    /// could not take a private reference to the file (no descriptor to
    /// spare): as on glibc, a close and reuse of the number while they wait
    /// would redirect them.
    OwnFd,
}

pub const NAMES: [&str; 12] = [
    "requests",
    "read",
    "write",
    "fsync",
    "inline",
    "pool",
    "kernel",
    "retried",
    "errors",
    "cancelled",
    "threads",
    "own_fd",
];
const N: usize = NAMES.len();
const SHARDS: usize = 16;

#[repr(align(128))]
struct Shard([AtomicU64; N]);

pub struct Stats {
    shards: [Shard; SHARDS],
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_shard() -> usize {
    MY_SHARD.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
        s.set(v);
        v
    })
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            shards: std::array::from_fn(|_| Shard(std::array::from_fn(|_| AtomicU64::new(0)))),
        }
    }
}

impl Stats {
    pub fn add(&self, c: Counter, n: u64) {
        self.shards[my_shard()].0[c as usize].fetch_add(n, Relaxed);
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0[c as usize].load(Relaxed))
            .sum()
    }

    pub fn snapshot(&self) -> [u64; N] {
        std::array::from_fn(|i| self.shards.iter().map(|s| s.0[i].load(Relaxed)).sum())
    }

    /// The exit line: `paio: pid=… backend=… requests=… …`.
    pub fn line(&self, backend: &str) -> String {
        use std::fmt::Write;
        // SAFETY: getpid cannot fail.
        let mut s = format!(
            "paio: pid={} backend={}",
            unsafe { libc::getpid() },
            backend
        );
        for (name, v) in NAMES.iter().zip(self.snapshot()) {
            let _ = write!(s, " {name}={v}");
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_across_threads() {
        let s = std::sync::Arc::new(Stats::default());
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| s.add(Counter::Read, 1)))
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(s.get(Counter::Read), 4000);
        let line = s.line("threads");
        assert!(line.starts_with("paio: pid="));
        assert!(line.contains(" backend=threads requests=0 read=4000 write=0"));
    }
}
