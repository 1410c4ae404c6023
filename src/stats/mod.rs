//! Counters behind `PAIO_STATS`: sharded per thread slot so that the hot path
//! never writes a cache line another CPU is writing.
//!
//! The shards live in one [`layout::Block`]: on the heap, or, with
//! `PAIO_STATS=DIR`, in a file of that directory mapped shared, so the
//! counters are visible while the process runs (`paio-stat`) and outlive it
//! however it ends. Counting costs the same either way: one relaxed add to
//! the thread's own shard, no syscall.

pub mod layout;

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::*};

use crate::config::StatsSink;
use layout::Block;

/// What is counted. The order is the order of the exit line and of the
/// counters in a statistics file.
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
    /// Uncached buffered reads whose data the submitting call asked the
    /// kernel to read ahead, then finished by the pool's small `cold` group.
    Readahead,
    /// The system refused this process one more kernel AIO context
    /// (`fs.aio-max-nr` exhausted): it kept the contexts it had.
    KaioRefused,
    /// Uncached buffered reads served by io_uring (asynchronous in the
    /// kernel, no thread parked per read).
    Uring,
    /// Requests completed (a result published): `requests - done` are in
    /// flight. Not in the exit line, which keeps its fields; `paio-stat
    /// --watch` shows it.
    Done,
}

pub const NAMES: [&str; 16] = [
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
    "readahead",
    "kaio_refused",
    "uring",
    "done",
];
const N: usize = NAMES.len();
/// The exit line prints the counters before `done`.
pub const LINE_COUNTERS: usize = Counter::Done as usize;
const _: () = assert!(N <= layout::SLOTS);

pub struct Stats {
    /// Never freed: on the heap (leaked, like the engine that owns it) or
    /// mapped shared from the process's statistics file.
    block: &'static Block,
    backend: &'static str,
    /// True when `block` is the statistics file's mapping.
    mapped: bool,
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
        let v = NEXT_SHARD.fetch_add(1, Relaxed) % layout::SHARDS;
        s.set(v);
        v
    })
}

impl Default for Stats {
    /// Counters on the heap, for an engine without a statistics directory.
    fn default() -> Self {
        Stats::new(&StatsSink::Off, "threads")
    }
}

impl Stats {
    /// The counters of an engine whose backend is `backend`: in a new file
    /// of the directory with `PAIO_STATS=DIR` (on the heap if it cannot be
    /// made: statistics are never a reason to fail), on the heap otherwise.
    pub fn new(sink: &StatsSink, backend: &'static str) -> Stats {
        let mut header = zeroed_block();
        fill_header(&mut header, backend);
        if let StatsSink::Dir(dir) = sink {
            if let Some(block) = create_process_file(dir, &header) {
                return Stats {
                    block,
                    backend,
                    mapped: true,
                };
            }
        }
        header.header.magic.store(layout::magic_word(), Relaxed);
        Stats {
            block: Box::leak(header),
            backend,
            mapped: false,
        }
    }

    pub fn add(&self, c: Counter, n: u64) {
        self.block.shards[my_shard()].0[c as usize].fetch_add(n, Relaxed);
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.block
            .shards
            .iter()
            .map(|s| s.0[c as usize].load(Relaxed))
            .sum()
    }

    pub fn snapshot(&self) -> [u64; N] {
        std::array::from_fn(|i| self.block.shards.iter().map(|s| s.0[i].load(Relaxed)).sum())
    }

    /// Where the kernel AIO backend records why `io_setup` failed (its
    /// errno; 0 while it has not): the exit line and `paio-stat` name the
    /// fallback.
    pub fn fallback(&self) -> &'static AtomicI32 {
        &self.block.header.fallback
    }

    /// True when the counters are in a statistics file.
    pub fn is_mapped(&self) -> bool {
        self.mapped
    }

    /// The exit line: `paio: pid=… backend=… requests=… …`.
    pub fn line(&self) -> String {
        let values = self.snapshot();
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        let mut s = layout::line(
            pid,
            self.backend,
            self.fallback().load(Relaxed),
            NAMES.iter().copied().zip(values).take(LINE_COUNTERS),
        );
        s.push('\n');
        s
    }

    /// The exit handler's part: the line on stderr or appended to the
    /// `PAIO_STATS` file, or the statistics file marked as exited.
    pub fn at_exit(&self, sink: &StatsSink) {
        match sink {
            StatsSink::Off => {}
            StatsSink::Stderr => write_all(2, self.line().as_bytes()),
            StatsSink::File(path) => {
                if let Some(fd) = open_line_file(path) {
                    write_all(fd, self.line().as_bytes());
                    close(fd);
                }
            }
            StatsSink::Dir(_) => self.block.header.state.store(layout::EXITED, Release),
        }
    }

    /// In a forked child, for the parent's engine that the child abandons:
    /// its statistics file is the parent's, and nothing the child does may
    /// count there. The mapping is replaced in place by private zeroed
    /// memory (one `mmap`, no lock), so a stray reference to the old
    /// engine still counts, into memory no one reads.
    pub fn detach_after_fork(&self) {
        if !self.mapped {
            return;
        }
        let addr = self.block as *const Block as *mut libc::c_void;
        // SAFETY: `addr` is the start of this process's own mapping of
        // FILE_BYTES, made by `create_process_file`; MAP_FIXED replaces
        // exactly those pages, which stay valid (now private) memory.
        unsafe {
            libc::mmap(
                addr,
                layout::FILE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
        }
    }
}

fn zeroed_block() -> Box<Block> {
    // SAFETY: every field of Block (integers, atomics, byte arrays) is
    // valid as all zero bytes.
    Box::new(unsafe { std::mem::zeroed() })
}

/// Everything in the header but the magic, which goes last.
fn fill_header(b: &mut Block, backend: &str) {
    let h = &mut b.header;
    h.version = layout::VERSION;
    h.header_bytes = layout::HEADER_BYTES as u32;
    h.shards = layout::SHARDS as u32;
    h.shard_bytes = layout::SHARD_BYTES as u32;
    h.counters = N as u32;
    h.line_counters = LINE_COUNTERS as u32;
    // SAFETY: getpid cannot fail.
    h.pid = unsafe { libc::getpid() } as u32;
    h.start_realtime_ns = clock_ns(libc::CLOCK_REALTIME);
    h.start_boottime_ns = clock_ns(libc::CLOCK_BOOTTIME);
    layout::put_text(&mut h.backend, backend);
    layout::put_text(&mut h.names, &NAMES.join(" "));
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a local struct.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this module opened.
    unsafe { libc::close(fd) };
}

fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr() as *const _, bytes.len()) };
        if n <= 0 {
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// True when the descriptor is a regular file (not a FIFO that could block,
/// not a device).
fn is_regular(fd: i32) -> bool {
    // SAFETY: fstat writes into a local struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstat(fd, &mut st) }) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// May the user who runs the program (real ids: `access`) create files in `dir`?
fn may_create_in(dir: &CStr) -> bool {
    // SAFETY: a NUL-terminated path.
    unsafe { libc::access(dir.as_ptr(), libc::W_OK) == 0 }
}

/// Flags of every statistics file paio opens: never through a symbolic
/// link, never a controlling terminal, never blocking (a FIFO in its place).
const SAFE_OPEN: i32 = libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// The `PAIO_STATS` file, opened to append a line: never through a
/// symbolic link (`O_NOFOLLOW`), only a regular file (a FIFO could block the
/// exit), and created only in a directory the user who runs the program may
/// write to (`access` checks the real ids).
fn open_line_file(path: &CStr) -> Option<i32> {
    let flags = libc::O_WRONLY | libc::O_APPEND | SAFE_OPEN;
    // SAFETY: a NUL-terminated path.
    let mut fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 && errno() == libc::ENOENT {
        let bytes = path.to_bytes();
        let dir = match bytes.iter().rposition(|&b| b == b'/') {
            Some(0) => c"/".to_owned(),
            Some(i) => CString::new(&bytes[..i]).ok()?,
            None => c".".to_owned(),
        };
        if may_create_in(&dir) {
            // SAFETY: a NUL-terminated path; the descriptor is checked below.
            fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CREAT | libc::O_EXCL, 0o644) };
            if fd < 0 && errno() == libc::EEXIST {
                // SAFETY: as above.
                fd = unsafe { libc::open(path.as_ptr(), flags) };
            }
        }
    }
    if fd < 0 {
        return None;
    }
    if !is_regular(fd) {
        close(fd);
        return None;
    }
    Some(fd)
}

/// This process's statistics file in `dir`, created and mapped shared,
/// holding `initial` (the header without its magic, which is stored last so
/// a reader never sees a half-made header). Created only where the user who
/// runs the program may write (`access`), always a new file (`O_EXCL`, so
/// never through a symbolic link or into someone else's file), mode 0644
/// less the umask. The whole file is written before it is mapped, so its
/// blocks exist: a full filesystem fails here, never as a `SIGBUS` on a
/// counter. `None` when any step fails (the file is then removed).
fn create_process_file(dir: &CStr, initial: &Block) -> Option<&'static Block> {
    if !may_create_in(dir) {
        return None;
    }
    let pid = initial.header.pid;
    let dir = dir.to_bytes();
    let dir = dir
        .strip_suffix(b"/")
        .filter(|d| !d.is_empty())
        .unwrap_or(dir);
    // An earlier image of this pid (before `exec`), or a dead process
    // whose pid was reused, may have left its file: take the next name.
    for k in 0..64 {
        let mut path = dir.to_vec();
        path.push(b'/');
        path.extend_from_slice(layout::file_name(pid, k).as_bytes());
        let path = CString::new(path).ok()?;
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | SAFE_OPEN;
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), flags, 0o644) };
        if fd < 0 {
            if errno() == libc::EEXIST {
                continue;
            }
            return None;
        }
        let block = map_new_file(fd, initial);
        close(fd);
        if block.is_none() {
            // SAFETY: a NUL-terminated path; the file this call created.
            unsafe { libc::unlink(path.as_ptr()) };
        }
        return block;
    }
    None
}

fn map_new_file(fd: i32, initial: &Block) -> Option<&'static Block> {
    if !is_regular(fd) {
        return None;
    }
    let len = layout::FILE_BYTES;
    let bytes = initial as *const Block as *const u8;
    let mut done = 0;
    while done < len {
        // SAFETY: reading `initial`, a live Block of `len` bytes.
        let n = unsafe { libc::pwrite(fd, bytes.add(done) as *const _, len - done, done as i64) };
        if n <= 0 {
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            return None;
        }
        done += n as usize;
    }
    // SAFETY: mapping `len` bytes of a file of exactly `len` bytes.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: the mapping is page-aligned (more than Block's alignment),
    // `len` bytes long, never unmapped (only replaced in place after fork),
    // and holds a valid Block (written above; all its bit patterns are).
    let block: &'static Block = unsafe { &*(p as *const Block) };
    block.header.magic.store(layout::magic_word(), Release);
    Some(block)
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
        let line = s.line();
        assert!(line.starts_with("paio: pid="));
        assert!(line.contains(" backend=threads requests=0 read=4000 write=0"));
        assert!(
            line.ends_with(" own_fd=0 readahead=0 kaio_refused=0 uring=0\n"),
            "{line}"
        );
    }

    #[test]
    fn fallback_is_named_in_the_line() {
        let s = Stats::new(&StatsSink::Off, "kaio");
        assert!(s.line().contains(" backend=kaio requests=0 "));
        s.fallback().store(libc::EAGAIN, Relaxed);
        assert!(s
            .line()
            .contains(" backend=threads fallback=io_setup:11 requests=0 "));
    }

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("paio-stats-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn sink(dir: &std::path::Path) -> StatsSink {
        use std::os::unix::ffi::OsStrExt;
        StatsSink::Dir(CString::new(dir.as_os_str().as_bytes()).unwrap())
    }

    #[test]
    fn directory_holds_one_file_per_engine_with_live_counters() {
        let dir = scratch("dir");
        let a = Stats::new(&sink(&dir), "kaio");
        let b = Stats::new(&sink(&dir), "kaio");
        assert!(a.is_mapped() && b.is_mapped());
        a.add(Counter::Requests, 3);
        a.add(Counter::Done, 2);
        let pid = std::process::id();
        let first = dir.join(layout::file_name(pid, 0));
        let second = dir.join(layout::file_name(pid, 1));
        let bytes = std::fs::read(&first).unwrap();
        assert_eq!(bytes.len(), layout::FILE_BYTES);
        assert_eq!(&bytes[..8], b"PAIOSTAT");
        assert_eq!(bytes[32..36], pid.to_ne_bytes());
        let names = layout::text(&bytes[96..352]);
        assert_eq!(names, NAMES.join(" "));
        let slot = |name: &str| NAMES.iter().position(|n| *n == name).unwrap();
        let counter = |i: usize| -> u64 {
            (0..layout::SHARDS)
                .map(|s| {
                    let at = layout::HEADER_BYTES + s * layout::SHARD_BYTES + i * 8;
                    u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap())
                })
                .sum()
        };
        assert_eq!(counter(slot("requests")), 3);
        assert_eq!(counter(slot("done")), 2);
        assert!(
            second.is_file(),
            "a second engine of the pid takes the next name"
        );
        let mode = std::fs::metadata(&first).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o7000, 0);
        b.at_exit(&sink(&dir));
        let bytes = std::fs::read(&second).unwrap();
        assert_eq!(bytes[36..40], layout::EXITED.to_ne_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn never_through_a_link_and_never_fatal() {
        let dir = scratch("link");
        let pid = std::process::id();
        let target = dir.join("target");
        std::os::unix::fs::symlink(&target, dir.join(layout::file_name(pid, 0))).unwrap();
        let s = Stats::new(&sink(&dir), "kaio");
        assert!(s.is_mapped());
        assert!(!target.exists(), "created through a symbolic link");
        assert!(dir.join(layout::file_name(pid, 1)).is_file());
        // A directory that does not exist: counters on the heap.
        let gone = Stats::new(&sink(&dir.join("missing")), "kaio");
        assert!(!gone.is_mapped());
        gone.add(Counter::Requests, 1);
        assert_eq!(gone.get(Counter::Requests), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn detached_mapping_no_longer_reaches_the_file() {
        let dir = scratch("fork");
        let s = Stats::new(&sink(&dir), "kaio");
        s.add(Counter::Requests, 5);
        s.detach_after_fork();
        s.add(Counter::Requests, 1);
        assert_eq!(s.get(Counter::Requests), 1);
        let bytes = std::fs::read(dir.join(layout::file_name(std::process::id(), 0))).unwrap();
        let at = layout::HEADER_BYTES;
        let total: u64 = (0..layout::SHARDS)
            .map(|i| {
                let o = at + i * layout::SHARD_BYTES;
                u64::from_ne_bytes(bytes[o..o + 8].try_into().unwrap())
            })
            .sum();
        assert_eq!(total, 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
