//! The system's kernel AIO budget: `fs.aio-max-nr`, and `fs.aio-nr` (the
//! events all processes' contexts hold now) watched while a group of
//! processes runs, so the report can say how close they came to the limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the watcher reads `fs.aio-nr`: contexts live from a process's
/// first kernel request to its exit, far longer than this.
const EVERY: Duration = Duration::from_millis(2);

fn read(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/fs/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `fs.aio-max-nr`: the events all contexts together may hold.
pub fn max_nr() -> Option<u64> {
    read("aio-max-nr")
}

/// `fs.aio-nr` now.
pub fn nr() -> Option<u64> {
    read("aio-nr")
}

/// Reads `fs.aio-nr` on a thread of its own until stopped, keeping the peak.
pub struct Watch {
    before: Option<u64>,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    pub fn start() -> Watch {
        let before = nr();
        let peak = Arc::new(AtomicU64::new(before.unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = before.is_some().then(|| {
            let (peak, stop) = (Arc::clone(&peak), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(n) = nr() {
                        peak.fetch_max(n, Ordering::Relaxed);
                    }
                    std::thread::sleep(EVERY);
                }
            })
        });
        Watch {
            before,
            peak,
            stop,
            thread,
        }
    }

    /// Take one reading now (the moment every process holds its contexts).
    pub fn sample(&self) {
        if let Some(n) = nr() {
            self.peak.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// `fs.aio-nr` before the start and its peak since; `None` without /proc.
    pub fn finish(mut self) -> Option<(u64, u64)> {
        self.sample();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.before.map(|b| (b, self.peak.load(Ordering::Relaxed)))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
