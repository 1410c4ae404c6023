//! Process-wide costs of a run: CPU time (all threads, `getrusage`), peak RSS,
//! and the threads the implementation creates, sampled from `/proc/self/task`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Sample at most this often, so the sampling itself stays a small, equal cost.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// Threads seen in `/proc/self/task`: the peak number alive at once and every
/// distinct thread id met (threads that came and went between samples too,
/// as long as one sample saw them).
pub struct ThreadSampler {
    peak: usize,
    seen: HashSet<u32>,
    next_at: Option<Instant>,
}

impl Default for ThreadSampler {
    fn default() -> Self {
        ThreadSampler {
            peak: 0,
            seen: HashSet::with_capacity(1024),
            next_at: None,
        }
    }
}

impl ThreadSampler {
    /// Sample if the last sample is older than [`SAMPLE_EVERY`].
    pub fn maybe_sample(&mut self, now: Instant) {
        if !matches!(self.next_at, Some(t) if now < t) {
            self.sample();
            self.next_at = Some(now + SAMPLE_EVERY);
        }
    }

    pub fn sample(&mut self) {
        let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        let mut alive = 0;
        for entry in dir.flatten() {
            if let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            {
                alive += 1;
                self.seen.insert(tid);
            }
        }
        self.peak = self.peak.max(alive);
    }

    pub fn merge(&mut self, other: &ThreadSampler) {
        self.peak = self.peak.max(other.peak);
        self.seen.extend(other.seen.iter().copied());
    }

    pub fn peak(&self) -> usize {
        self.peak
    }

    pub fn seen(&self) -> usize {
        self.seen.len()
    }
}

/// CPU time and peak RSS of this whole process, all threads, living or exited.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub cpu: Duration,
    pub maxrss_kib: u64,
}

pub fn usage() -> Usage {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv =
        |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    Usage {
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        maxrss_kib: ru.ru_maxrss.max(0) as u64,
    }
}
