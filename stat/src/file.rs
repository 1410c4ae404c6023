//! Reading one statistics file: mapped read-only for the moment of the
//! read, every counter loaded atomically (the process may be adding to it).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::layout::{self, Block};

/// What one file said when it was read.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub pid: u32,
    pub backend: String,
    /// `io_setup` errno when kernel AIO fell back to the pool.
    pub fallback: i32,
    /// The process ran its exit handlers.
    pub exited: bool,
    pub start_realtime_ns: u64,
    pub start_boottime_ns: u64,
    /// The file's identity, to find it among a process's mappings.
    pub dev: u64,
    pub inode: u64,
    pub names: Vec<String>,
    pub values: Vec<u64>,
    /// The first `line_counters` counters make the exit line.
    pub line_counters: usize,
}

impl Snapshot {
    pub fn get(&self, name: &str) -> u64 {
        self.names
            .iter()
            .position(|n| n == name)
            .map_or(0, |i| self.values[i])
    }

    /// The exit line, as `PAIO_STATS=1` prints it.
    pub fn line(&self) -> String {
        layout::line(
            self.pid,
            &self.backend,
            self.fallback,
            self.names
                .iter()
                .map(String::as_str)
                .zip(self.values.iter().copied())
                .take(self.line_counters),
        )
    }

    /// The backend for a table column: `kaio`, `threads`, or
    /// `threads(io_setup:ERRNO)` after a fallback.
    pub fn backend_short(&self) -> String {
        match self.fallback {
            0 => self.backend.clone(),
            e => format!("threads(io_setup:{e})"),
        }
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum Unreadable {
    /// Not (yet) a complete statistics file: a process is still making it.
    NotReady,
    /// A layout this `paio-stat` does not know, or not a statistics file.
    Foreign(String),
    Io(std::io::Error),
}

/// The statistics files in `dir` (by name), sorted.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(layout::is_file_name))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Every readable statistics file in `dir`, oldest process first; files
/// that are not readable are reported on stderr (except those still being
/// made).
pub fn read_all(dir: &Path) -> std::io::Result<Vec<Snapshot>> {
    let mut all = Vec::new();
    for path in list(dir)? {
        match read(&path) {
            Ok(s) => all.push(s),
            Err(Unreadable::NotReady) => {}
            Err(Unreadable::Foreign(why)) => {
                eprintln!("paio-stat: {}: {why}", path.display())
            }
            Err(Unreadable::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(Unreadable::Io(e)) => eprintln!("paio-stat: {}: {e}", path.display()),
        }
    }
    all.sort_by_key(|s| (s.start_boottime_ns, s.pid));
    Ok(all)
}

/// Read one file.
pub fn read(path: &Path) -> Result<Snapshot, Unreadable> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Unreadable::Foreign("a NUL in the path".into()))?;
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(Unreadable::Io(std::io::Error::last_os_error()));
    }
    let r = read_fd(path, fd);
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    r
}

fn read_fd(path: &Path, fd: i32) -> Result<Snapshot, Unreadable> {
    // SAFETY: fstat writes into a local struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Unreadable::Io(std::io::Error::last_os_error()));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Unreadable::Foreign("not a regular file".into()));
    }
    if (st.st_size as u64) < layout::FILE_BYTES as u64 {
        // The library writes the whole file before anything else.
        return Err(Unreadable::NotReady);
    }
    // SAFETY: mapping FILE_BYTES of a regular file at least that long,
    // read-only; unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            layout::FILE_BYTES,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Unreadable::Io(std::io::Error::last_os_error()));
    }
    // SAFETY: the mapping is page-aligned, FILE_BYTES long and lives until
    // the munmap below; every bit pattern is a valid Block. Only loads are
    // made (atomic ones for what the process changes), never stores.
    let block = unsafe { &*(p as *const Block) };
    let r = snapshot(path, &st, block);
    // SAFETY: unmapping the mapping made above; `block` is not used after.
    unsafe { libc::munmap(p, layout::FILE_BYTES) };
    r
}

fn snapshot(path: &Path, st: &libc::stat, b: &Block) -> Result<Snapshot, Unreadable> {
    let h = &b.header;
    match h.magic.load(Acquire) {
        0 => return Err(Unreadable::NotReady),
        m if m != layout::magic_word() => {
            return Err(Unreadable::Foreign("not a paio statistics file".into()))
        }
        _ => {}
    }
    if h.version != layout::VERSION
        || h.header_bytes as usize != layout::HEADER_BYTES
        || h.shards as usize != layout::SHARDS
        || h.shard_bytes as usize != layout::SHARD_BYTES
        || h.counters as usize > layout::SLOTS
        || h.line_counters > h.counters
    {
        return Err(Unreadable::Foreign(format!(
            "layout version {} (this paio-stat reads version {})",
            h.version,
            layout::VERSION
        )));
    }
    let names: Vec<String> = layout::text(&h.names)
        .split(' ')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    if names.len() != h.counters as usize {
        return Err(Unreadable::Foreign(
            "counter names do not match their number".into(),
        ));
    }
    let values = (0..names.len())
        .map(|i| {
            // Wrapping: a file is input, and its counters may be anything.
            b.shards
                .iter()
                .fold(0u64, |sum, s| sum.wrapping_add(s.0[i].load(Relaxed)))
        })
        .collect();
    Ok(Snapshot {
        path: path.to_path_buf(),
        pid: h.pid,
        backend: layout::text(&h.backend).to_string(),
        fallback: h.fallback.load(Relaxed),
        exited: h.state.load(Acquire) == layout::EXITED,
        start_realtime_ns: h.start_realtime_ns,
        start_boottime_ns: h.start_boottime_ns,
        dev: st.st_dev,
        inode: st.st_ino,
        names,
        values,
        line_counters: h.line_counters as usize,
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Release;

    pub const NAMES: &str =
        "requests read write fsync inline pool kernel retried errors cancelled threads own_fd done";

    /// A file as the library writes it, counters given per name.
    pub fn write_file(path: &Path, pid: u32, fallback: i32, counts: &[(&str, u64)]) {
        // SAFETY: all-zero bytes are a valid Block.
        let mut b: Box<Block> = Box::new(unsafe { std::mem::zeroed() });
        let h = &mut b.header;
        h.version = layout::VERSION;
        h.header_bytes = layout::HEADER_BYTES as u32;
        h.shards = layout::SHARDS as u32;
        h.shard_bytes = layout::SHARD_BYTES as u32;
        h.counters = 13;
        h.line_counters = 12;
        h.pid = pid;
        h.fallback.store(fallback, Release);
        layout::put_text(&mut h.backend, "kaio");
        layout::put_text(&mut h.names, NAMES);
        h.magic.store(layout::magic_word(), Release);
        for (name, v) in counts {
            let i = NAMES.split(' ').position(|n| n == *name).unwrap();
            // Spread over two shards, as two threads would.
            b.shards[0].0[i].store(v / 2, Release);
            b.shards[7].0[i].store(v - v / 2, Release);
        }
        // SAFETY: viewing the Block's bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(&*b as *const Block as *const u8, layout::FILE_BYTES)
        };
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn reads_back_the_exit_line() {
        let dir = std::env::temp_dir().join(format!("paio-stat-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("paio-42.stats");
        write_file(&path, 42, 0, &[("requests", 11), ("read", 7), ("done", 9)]);
        let s = read(&path).unwrap();
        assert_eq!(
            s.line(),
            "paio: pid=42 backend=kaio requests=11 read=7 write=0 fsync=0 inline=0 pool=0 \
             kernel=0 retried=0 errors=0 cancelled=0 threads=0 own_fd=0"
        );
        assert_eq!(s.get("done"), 9);
        write_file(&path, 42, 1, &[]);
        let s = read(&path).unwrap();
        assert!(s
            .line()
            .starts_with("paio: pid=42 backend=threads fallback=io_setup:1 requests=0 "));
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(read(&path), Err(Unreadable::NotReady)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
