//! Tunables: glibc's `aio_init()` values, overridden by `PAIO_*` environment
//! variables. Read once when the engine starts; `aio_init` may change the pool
//! limits later, which take effect for the next thread started or retired.

use std::sync::atomic::{AtomicU32, Ordering};

/// glibc's `struct aioinit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AioInit {
    pub aio_threads: i32,
    pub aio_num: i32,
    pub aio_locks: i32,
    pub aio_usedba: i32,
    pub aio_debug: i32,
    pub aio_numusers: i32,
    pub aio_idle_time: i32,
    pub aio_reserved: i32,
}

/// Which engine executes requests that cannot complete inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// Kernel AIO where available, io_uring for uncached buffered reads
    /// where allowed, the thread pool otherwise.
    Auto,
    /// Kernel AIO and the pool, no io_uring (falls back when `io_setup` fails).
    Kaio,
    /// Kernel AIO, and io_uring for uncached buffered reads (the pool where
    /// either is refused). What `Auto` does today.
    Uring,
    /// Only the worker pool.
    Threads,
}

/// Where `PAIO_STATS` sends the counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsSink {
    Off,
    /// `1`: the exit line on stderr.
    Stderr,
    /// A path that is not a directory: the exit line appended there.
    File(std::ffi::CString),
    /// An existing directory: each process that starts an engine keeps its
    /// counters, live, in a file of its own there (`paio-stat` reads them).
    Dir(std::ffi::CString),
}

pub const DEFAULT_THREADS: u32 = 20;
pub const DEFAULT_NOTIFY_THREADS: u32 = 4;
pub const DEFAULT_IDLE_MS: u32 = 1000;
/// As many as the ceiling: glibc refuses no request for want of room, and
/// paio's slots cost memory only in chunks of 1,024 as requests are in
/// flight (an unused chunk costs two pointers).
pub const DEFAULT_MAX_REQUESTS: u32 = MAX_MAX_REQUESTS;
pub const DEFAULT_SYNC_WRITE_MAX: u32 = 128 << 10;
/// About 0.1 ms of copying from the page cache here (2.8 GB/s for a 1 MiB
/// `preadv2`, measured; 0.2 ms with the other CPU busy): well below the
/// 1 ms a submitting call may take however loaded the machine.
pub const DEFAULT_INLINE_MAX: u32 = 256 << 10;
/// A hard ceiling for `PAIO_MAX_REQUESTS` (and the default): 4,194,304
/// requests in flight take about 1 GiB of slots.
pub const MAX_MAX_REQUESTS: u32 = 1 << 22;

/// Live limits, adjustable by `aio_init` after start.
pub struct Limits {
    pub threads: AtomicU32,
    pub idle_ms: AtomicU32,
}

pub struct Config {
    pub limits: Limits,
    pub notify_threads: u32,
    pub max_requests: u32,
    pub backend: BackendChoice,
    /// Try to complete requests inside the submitting call (`RWF_NOWAIT`).
    /// Off with `PAIO_BACKEND=threads`, which runs everything on the pool.
    pub inline: bool,
    /// Largest buffered write done in the submitting thread when the
    /// filesystem refuses `RWF_NOWAIT` writes (0: never).
    pub sync_write_max: usize,
    /// Most bytes one submitting call copies inline; the rest of a larger
    /// request continues on the pool exactly where the copy stopped, so an
    /// event loop that submits a 128 MiB read is not stalled by it.
    pub inline_max: usize,
    pub stats: StatsSink,
}

/// Values given to `aio_init` before the engine started; applied at start.
static PENDING_THREADS: AtomicU32 = AtomicU32::new(0);
static PENDING_IDLE_MS: AtomicU32 = AtomicU32::new(0);

/// A `PAIO_*` variable, as glibc's `secure_getenv` reads one: in a program
/// run with more privilege than its caller (setuid, setgid, file
/// capabilities: `AT_SECURE`), paio ignores its whole environment, since
/// the caller chose it.
fn env(name: &str) -> Option<std::ffi::OsString> {
    if secure_execution() {
        return None;
    }
    std::env::var_os(name)
}

pub fn secure_execution() -> bool {
    // SAFETY: getauxval takes an integer and reads the process's own vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

fn env_u32(name: &str) -> Option<u32> {
    env(name)?.to_str()?.trim().parse().ok()
}

impl Config {
    /// Build from the environment and any earlier `aio_init`.
    pub fn load() -> Config {
        let pending = |a: &AtomicU32, d: u32| match a.load(Ordering::Relaxed) {
            0 => d,
            v => v,
        };
        let threads = env_u32("PAIO_THREADS")
            .filter(|&v| v > 0)
            .unwrap_or(pending(&PENDING_THREADS, DEFAULT_THREADS));
        let idle_ms = env_u32("PAIO_IDLE_MS").unwrap_or(pending(&PENDING_IDLE_MS, DEFAULT_IDLE_MS));
        let max_requests = env_u32("PAIO_MAX_REQUESTS")
            .filter(|&v| v > 0)
            .unwrap_or(DEFAULT_MAX_REQUESTS)
            .min(MAX_MAX_REQUESTS);
        let notify_threads = env_u32("PAIO_NOTIFY_THREADS")
            .filter(|&v| v > 0)
            .unwrap_or(DEFAULT_NOTIFY_THREADS);
        let backend = match env("PAIO_BACKEND").as_ref().and_then(|v| v.to_str()) {
            Some("threads") | Some("pool") => BackendChoice::Threads,
            Some("kaio") => BackendChoice::Kaio,
            Some("uring") | Some("io_uring") => BackendChoice::Uring,
            _ => BackendChoice::Auto,
        };
        let stats = match env("PAIO_STATS") {
            None => StatsSink::Off,
            Some(v) if v.is_empty() || v == "0" => StatsSink::Off,
            Some(v) if v == "1" => StatsSink::Stderr,
            Some(v) => {
                use std::os::unix::ffi::OsStrExt;
                let is_dir = std::fs::metadata(&v).is_ok_and(|m| m.is_dir());
                std::ffi::CString::new(v.as_bytes())
                    .map(if is_dir {
                        StatsSink::Dir
                    } else {
                        StatsSink::File
                    })
                    .unwrap_or(StatsSink::Stderr)
            }
        };
        Config {
            limits: Limits {
                threads: AtomicU32::new(threads),
                idle_ms: AtomicU32::new(idle_ms),
            },
            notify_threads,
            max_requests,
            backend,
            inline: backend != BackendChoice::Threads,
            sync_write_max: env_u32("PAIO_SYNC_WRITE_MAX").unwrap_or(DEFAULT_SYNC_WRITE_MAX)
                as usize,
            inline_max: env_u32("PAIO_INLINE_MAX")
                .filter(|&v| v > 0)
                .unwrap_or(DEFAULT_INLINE_MAX) as usize,
            stats,
        }
    }
}

/// `aio_init`: remember the values for a later start, and apply them to a
/// running engine. The environment still wins, as documented.
pub fn apply_aio_init(init: &AioInit, live: Option<&Limits>) {
    if init.aio_threads > 0 && env("PAIO_THREADS").is_none() {
        PENDING_THREADS.store(init.aio_threads as u32, Ordering::Relaxed);
        if let Some(l) = live {
            l.threads.store(init.aio_threads as u32, Ordering::Relaxed);
        }
    }
    if init.aio_idle_time > 0 && env("PAIO_IDLE_MS").is_none() {
        let ms = (init.aio_idle_time as u32).saturating_mul(1000);
        PENDING_IDLE_MS.store(ms, Ordering::Relaxed);
        if let Some(l) = live {
            l.idle_ms.store(ms, Ordering::Relaxed);
        }
    }
    // `aio_num` (glibc's hint of how many requests to expect) is no limit:
    // the slots grow as requests come, up to `PAIO_MAX_REQUESTS`.
}
