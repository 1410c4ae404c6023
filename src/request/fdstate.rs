//! Per-descriptor ordering: where requests on one file must not run in
//! parallel, and the `aio_fsync` barrier over earlier writes.
//!
//! Requests on a regular file run in parallel. Three things need order:
//! - non-seekable files (pipes, sockets): reads run one at a time in
//!   submission order, and so do writes (two lanes, so a pending read never
//!   holds back a write on the same socket);
//! - `O_APPEND` writes, which share the write lane;
//! - `aio_fsync`, which runs only after every write submitted before it on
//!   the same descriptor has completed.
//!
//! The state is keyed by descriptor number in a lock-free two-level table; the
//! per-descriptor mutex is taken only by requests that left the inline path.
//! A number reused by a new file can inherit a stale entry: its ordering
//! state only delays, never reorders or loses, a request; its hints carry the
//! identity of the file they were learnt from ([`Hints`]), and are checked
//! against the file behind the number wherever they could steer a request
//! wrongly.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::request::chunks::Chunks;
use crate::request::slots::Lane;

/// Hints about what `RWF_NOWAIT` cannot do on this file.
pub const HINT_NO_NOWAIT_READ: u32 = 1;
pub const HINT_NO_NOWAIT_WRITE: u32 = 2;
/// The bits below were read from the file (status flags and kind).
pub const HINT_KNOWN: u32 = 4;
pub const HINT_DIRECT: u32 = 8;
pub const HINT_APPEND: u32 = 16;
/// A regular file or a block device: kernel AIO may take its `O_DIRECT`
/// I/O at an offset.
pub const HINT_KERNEL_FILE: u32 = 32;
/// A file of a memory filesystem (tmpfs, ramfs): no transfer waits for a
/// disk, so one the filesystem refuses to try with `RWF_NOWAIT` is done in
/// the submitting thread (up to `PAIO_SYNC_WRITE_MAX` bytes).
pub const HINT_MEMORY: u32 = 64;
/// A file of overlayfs, which refuses `RWF_NOWAIT`: reads the pool found in
/// the page cache, several in a row, make the next ones run in the
/// submitting thread (see [`FdState::reads_look_cached`]).
pub const HINT_OVERLAY: u32 = 128;
/// A character device. A non-blocking read of one may stop short for
/// reasons of its own (`/dev/zero` when the CPU is wanted elsewhere), and
/// what it read cannot be told from a record (a tun device's packet): its
/// reads are made as glibc makes them, one blocking read on the pool.
pub const HINT_CHAR: u32 = 256;
/// A file of a FUSE filesystem: no duplicate of its descriptor is taken
/// (closing one is a request to the server, see `submit::place`).
pub const HINT_FUSE: u32 = 512;

const HINT_BITS: u32 = 10;
/// Page-cache reads in a row after which the next read of an overlayfs file
/// is tried in the submitting thread.
const CACHED_STREAK: u64 = 8;
const HINT_MASK: u64 = (1 << HINT_BITS) - 1;
const NOWAIT_HINTS: u64 = (HINT_NO_NOWAIT_READ | HINT_NO_NOWAIT_WRITE) as u64;

/// A fresh look at the file behind a descriptor number: what steers a
/// request, read from the kernel now.
#[derive(Clone, Copy, Debug)]
pub struct FileView {
    /// Status flags (`F_GETFL`).
    pub flags: i32,
    /// `S_IFMT` bits.
    pub kind: u32,
    /// See [`crate::sys::file_identity`].
    pub ident: u64,
    /// The filesystem of a regular file (`Other` for anything else).
    pub fs: crate::sys::Filesystem,
}

impl FileView {
    pub fn read(fd: i32) -> Result<FileView, i32> {
        let flags = crate::sys::status_flags(fd)?;
        let (kind, ident) = crate::sys::file_identity(fd)?;
        Ok(FileView::of(fd, flags, kind, ident))
    }

    fn of(fd: i32, flags: i32, kind: u32, ident: u64) -> FileView {
        let fs = if kind == libc::S_IFREG {
            crate::sys::filesystem(fd)
        } else {
            crate::sys::Filesystem::Other
        };
        FileView {
            flags,
            kind,
            ident,
            fs,
        }
    }

    /// Only FIFOs and sockets are streams: every other file (regular, block
    /// and character devices, `/proc`, `/sys`) is read at the offset, and
    /// only `ESPIPE` turns a request on one into a stream transfer.
    pub fn is_stream(&self) -> bool {
        self.kind == libc::S_IFIFO || self.kind == libc::S_IFSOCK
    }

    /// Open with `O_DIRECT` and of a kind kernel AIO reads at an offset.
    pub fn kernel_direct(&self) -> bool {
        self.flags & libc::O_DIRECT != 0
            && (self.kind == libc::S_IFREG || self.kind == libc::S_IFBLK)
    }

    fn hints(&self) -> u32 {
        let mut h = HINT_KNOWN;
        if self.flags & libc::O_DIRECT != 0 {
            h |= HINT_DIRECT;
        }
        if self.flags & libc::O_APPEND != 0 {
            h |= HINT_APPEND;
        }
        if self.kind == libc::S_IFREG || self.kind == libc::S_IFBLK {
            h |= HINT_KERNEL_FILE;
        }
        if self.kind == libc::S_IFCHR {
            h |= HINT_CHAR;
        }
        match self.fs {
            crate::sys::Filesystem::Memory => h |= HINT_MEMORY,
            crate::sys::Filesystem::Overlay => h |= HINT_OVERLAY,
            crate::sys::Filesystem::Fuse => h |= HINT_FUSE,
            crate::sys::Filesystem::Other => {}
        }
        h
    }
}

/// What is remembered about a descriptor number, with the identity of the
/// file it was learnt from (one word, so the two never disagree).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hints(u64);

impl Hints {
    pub fn has(self, h: u32) -> bool {
        self.0 & h as u64 != 0
    }

    /// The filesystem of the file the hints describe.
    fn filesystem(self) -> crate::sys::Filesystem {
        if self.has(HINT_MEMORY) {
            crate::sys::Filesystem::Memory
        } else if self.has(HINT_OVERLAY) {
            crate::sys::Filesystem::Overlay
        } else if self.has(HINT_FUSE) {
            crate::sys::Filesystem::Fuse
        } else {
            crate::sys::Filesystem::Other
        }
    }

    /// The identity of the file the hints describe.
    pub fn ident(self) -> u64 {
        self.0 >> HINT_BITS
    }

    fn of(view: &FileView) -> Hints {
        Hints(view.ident << HINT_BITS | view.hints() as u64)
    }
}

#[derive(Default)]
struct LaneQ {
    running: bool,
    queue: VecDeque<u32>,
}

struct Epoch {
    writes: u32,
    fsyncs: Vec<u32>,
}

/// The ordering decisions of one descriptor, as pure data over request ids.
#[derive(Default)]
pub struct Order {
    lanes: [LaneQ; 2],
    /// Write epochs still holding writes or barriers; `epochs[0]` is `base`.
    epochs: VecDeque<Epoch>,
    base: u64,
}

impl Order {
    /// A request enters a lane. `Some(id)`: run it now; `None`: it waits.
    pub fn lane_submit(&mut self, lane: Lane, id: u32) -> Option<u32> {
        let l = &mut self.lanes[lane as usize];
        if l.running {
            l.queue.push_back(id);
            None
        } else {
            l.running = true;
            Some(id)
        }
    }

    /// The lane's running request finished. Returns the next to run, skipping
    /// (and handing to `discard`) any that were cancelled while waiting.
    pub fn lane_next(
        &mut self,
        lane: Lane,
        mut cancelled: impl FnMut(u32) -> bool,
        mut discard: impl FnMut(u32),
    ) -> Option<u32> {
        let l = &mut self.lanes[lane as usize];
        while let Some(id) = l.queue.pop_front() {
            if cancelled(id) {
                discard(id);
            } else {
                return Some(id);
            }
        }
        l.running = false;
        None
    }

    pub fn lane_busy(&self, lane: Lane) -> bool {
        self.lanes[lane as usize].running
    }

    /// A write is in flight; returns the epoch it counts in.
    pub fn write_begin(&mut self) -> u64 {
        if self.epochs.is_empty() {
            self.epochs.push_back(Epoch {
                writes: 0,
                fsyncs: Vec::new(),
            });
        }
        let last = self.epochs.len() - 1;
        self.epochs[last].writes += 1;
        self.base + last as u64
    }

    /// A write of `epoch` finished; barriers it was the last to hold are
    /// appended to `ready`.
    pub fn write_end(&mut self, epoch: u64, ready: &mut Vec<u32>) {
        let Some(i) = epoch.checked_sub(self.base) else {
            return;
        };
        if let Some(e) = self.epochs.get_mut(i as usize) {
            e.writes = e.writes.saturating_sub(1);
        }
        while let Some(front) = self.epochs.front() {
            if front.writes > 0 {
                break;
            }
            let e = self.epochs.pop_front().expect("front exists");
            self.base += 1;
            ready.extend(e.fsyncs);
        }
    }

    /// An fsync arrives. True: no earlier write is in flight, run it now.
    /// False: it waits for the writes before it, and later writes start a new
    /// epoch that it does not wait for.
    pub fn fsync_submit(&mut self, id: u32) -> bool {
        if self.epochs.iter().all(|e| e.writes == 0) {
            return true;
        }
        let last = self.epochs.len() - 1;
        self.epochs[last].fsyncs.push(id);
        self.epochs.push_back(Epoch {
            writes: 0,
            fsyncs: Vec::new(),
        });
        false
    }

    pub fn writes_in_flight(&self) -> u32 {
        self.epochs.iter().map(|e| e.writes).sum()
    }
}

/// paio's references to the file behind a descriptor number, shared by all
/// the requests that wait for it, so that a thousand queued requests cost
/// one descriptor, not a thousand.
#[derive(Default)]
pub struct FileRefs {
    /// The reference new requests share: (descriptor, users).
    current: Option<(i32, u32)>,
    /// Older references still in use after the number was reused for another
    /// file.
    displaced: Vec<(i32, u32)>,
}

impl FileRefs {
    /// A use of the reference new requests share, if there is one. The
    /// caller checks, outside the lock, that it names its file, and gives
    /// the use back with [`FileRefs::release`] if not.
    pub fn borrow_current(&mut self) -> Option<i32> {
        let (d, users) = self.current.as_mut()?;
        *users += 1;
        Some(*d)
    }

    /// A new reference `d`, with its first user, becomes the one new
    /// requests share; the one it replaces lives on for its users.
    pub fn install(&mut self, d: i32) {
        if let Some(old) = self.current.replace((d, 1)) {
            self.displaced.push(old);
        }
    }

    /// One user of `d` is done; true when the caller must close `d`: it has
    /// no user left, or it was never shared (a private duplicate).
    pub fn release(&mut self, d: i32) -> bool {
        if let Some((cur, users)) = self.current.as_mut() {
            if *cur == d {
                *users -= 1;
                if *users == 0 {
                    self.current = None;
                    return true;
                }
                return false;
            }
        }
        if let Some(i) = self.displaced.iter().position(|&(x, _)| x == d) {
            self.displaced[i].1 -= 1;
            if self.displaced[i].1 == 0 {
                self.displaced.swap_remove(i);
                return true;
            }
            return false;
        }
        true
    }
}

pub struct FdState {
    /// Requests of this descriptor waiting in or running from a lane, per
    /// lane; the inline path checks it without the lock.
    pub lane_load: [AtomicU32; 2],
    /// [`Hints`]: `HINT_*` bits and the identity of the file they describe.
    hints: AtomicU64,
    /// Pool reads of one file (`HINT_OVERLAY`) served at page-cache speed
    /// in a row: the file's identity above 8 bits of count.
    cached_reads: AtomicU64,
    pub order: Mutex<Order>,
    pub files: Mutex<FileRefs>,
}

impl FdState {
    fn new() -> FdState {
        FdState {
            lane_load: [AtomicU32::new(0), AtomicU32::new(0)],
            hints: AtomicU64::new(0),
            cached_reads: AtomicU64::new(0),
            order: Mutex::new(Order::default()),
            files: Mutex::new(FileRefs::default()),
        }
    }

    /// What is known of the file behind `fd`, for the inline path: read once
    /// per file (`F_GETFL`, `statx`, `fstatfs`), then no syscall. It may describe a file
    /// the number named before: the inline path only uses it where the
    /// attempt itself, made on the descriptor, shows the truth (see
    /// `submit`), and [`FdState::confirm`] checks it where it does not.
    pub fn hints(&self, fd: i32) -> Result<Hints, i32> {
        let h = Hints(self.hints.load(Ordering::Relaxed));
        if h.has(HINT_KNOWN) {
            return Ok(h);
        }
        self.observe(fd)?;
        Ok(Hints(self.hints.load(Ordering::Relaxed)))
    }

    /// One `statx`: is the file behind `fd` the one the hints were learnt
    /// from? If not, learn them again (`F_GETFL`). For the paths that hand
    /// the program's descriptor to the kernel as it is.
    pub fn confirm(&self, fd: i32) -> Result<Hints, i32> {
        let (kind, ident) = crate::sys::file_identity(fd)?;
        let h = Hints(self.hints.load(Ordering::Relaxed));
        if h.has(HINT_KNOWN) && h.ident() == ident {
            return Ok(h);
        }
        let flags = crate::sys::status_flags(fd)?;
        self.learn(&FileView::of(fd, flags, kind, ident));
        Ok(Hints(self.hints.load(Ordering::Relaxed)))
    }

    /// A fresh look at the file behind `fd`, remembered for the next
    /// requests.
    /// The filesystem is looked up (`fstatfs`) only for a file the hints do
    /// not describe yet: a file's filesystem never changes.
    pub fn observe(&self, fd: i32) -> Result<FileView, i32> {
        let flags = crate::sys::status_flags(fd)?;
        let (kind, ident) = crate::sys::file_identity(fd)?;
        let known = Hints(self.hints.load(Ordering::Relaxed));
        let view = if known.has(HINT_KNOWN) && known.ident() == ident {
            FileView {
                flags,
                kind,
                ident,
                fs: known.filesystem(),
            }
        } else {
            FileView::of(fd, flags, kind, ident)
        };
        self.learn(&view);
        Ok(view)
    }

    /// Remember `view`: what was learnt of `RWF_NOWAIT` stays only if it
    /// was learnt of the same file.
    fn learn(&self, view: &FileView) {
        let fresh = Hints::of(view);
        let mut cur = self.hints.load(Ordering::Relaxed);
        loop {
            let keep = if Hints(cur).ident() == view.ident {
                cur & NOWAIT_HINTS
            } else {
                0
            };
            let new = fresh.0 | keep;
            if new == cur {
                return;
            }
            match self
                .hints
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// `RWF_NOWAIT` cannot do `h` on the file that `seen` described: remember
    /// it, unless the number has meanwhile been found to name another file.
    pub fn learn_hint(&self, seen: Hints, h: u32) {
        let mut cur = self.hints.load(Ordering::Relaxed);
        while Hints(cur).ident() == seen.ident() && !Hints(cur).has(h) {
            match self.hints.compare_exchange_weak(
                cur,
                cur | (h as u64 & HINT_MASK),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// A read of the file `ident` took `fast` (page-cache speed) or not.
    pub fn record_read(&self, ident: u64, fast: bool) {
        let mut cur = self.cached_reads.load(Ordering::Relaxed);
        loop {
            let count = if cur >> HINT_BITS == ident && fast {
                (cur & HINT_MASK).saturating_add(1).min(HINT_MASK)
            } else {
                fast as u64
            };
            let new = ident << HINT_BITS | count;
            if new == cur {
                return;
            }
            match self.cached_reads.compare_exchange_weak(
                cur,
                new,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Have the last reads of the file `ident` all come from the page
    /// cache? Then the next one is tried in the submitting thread: a
    /// measured policy for a filesystem that cannot say in advance
    /// (overlayfs refuses `RWF_NOWAIT`, and `cachestat` sees only its own
    /// empty cache). A read there that turns out slow resets the count.
    pub fn reads_look_cached(&self, ident: u64) -> bool {
        let cur = self.cached_reads.load(Ordering::Relaxed);
        cur >> HINT_BITS == ident && cur & HINT_MASK >= CACHED_STREAK
    }

    pub fn lane_idle(&self, lane: Lane) -> bool {
        self.lane_load[lane as usize].load(Ordering::Acquire) == 0
    }
}

const L2: usize = 1024;
const L1: usize = 1024;

/// Descriptor number → state. Numbers beyond the table share entries, which
/// only adds order between them.
pub struct FdTable {
    chunks: Chunks<FdState>,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            chunks: Chunks::new(L1, L2),
        }
    }
}

impl FdTable {
    pub fn get(&self, fd: i32) -> &FdState {
        let n = (fd.max(0) as usize) % self.chunks.capacity();
        self.chunks
            .get_or_make(n, FdState::new)
            .expect("an index below the capacity")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_runs_one_at_a_time_in_order() {
        let mut o = Order::default();
        assert_eq!(o.lane_submit(Lane::Read, 1), Some(1));
        assert_eq!(o.lane_submit(Lane::Read, 2), None);
        assert_eq!(o.lane_submit(Lane::Read, 3), None);
        // The write lane is independent of the read lane.
        assert_eq!(o.lane_submit(Lane::Write, 9), Some(9));
        let mut dropped = vec![];
        assert_eq!(
            o.lane_next(Lane::Read, |_| false, |id| dropped.push(id)),
            Some(2)
        );
        assert_eq!(
            o.lane_next(Lane::Read, |_| false, |id| dropped.push(id)),
            Some(3)
        );
        assert_eq!(
            o.lane_next(Lane::Read, |_| false, |id| dropped.push(id)),
            None
        );
        assert!(!o.lane_busy(Lane::Read));
        assert!(dropped.is_empty());
    }

    #[test]
    fn lane_skips_cancelled() {
        let mut o = Order::default();
        o.lane_submit(Lane::Write, 1);
        o.lane_submit(Lane::Write, 2);
        o.lane_submit(Lane::Write, 3);
        let mut dropped = vec![];
        assert_eq!(
            o.lane_next(Lane::Write, |id| id == 2, |id| dropped.push(id)),
            Some(3)
        );
        assert_eq!(dropped, vec![2]);
    }

    #[test]
    fn fsync_without_writes_runs_at_once() {
        let mut o = Order::default();
        assert!(o.fsync_submit(5));
    }

    #[test]
    fn fsync_waits_for_earlier_writes_only() {
        let mut o = Order::default();
        let w1 = o.write_begin();
        let w2 = o.write_begin();
        assert!(!o.fsync_submit(100));
        let w3 = o.write_begin(); // after the fsync: not waited for
        assert_ne!(w3, w1);
        let mut ready = vec![];
        o.write_end(w1, &mut ready);
        assert!(ready.is_empty());
        o.write_end(w2, &mut ready);
        assert_eq!(ready, vec![100]);
        assert_eq!(o.writes_in_flight(), 1);
        ready.clear();
        o.write_end(w3, &mut ready);
        assert!(ready.is_empty());
        assert_eq!(o.writes_in_flight(), 0);
    }

    #[test]
    fn later_writes_finishing_first_do_not_release_barrier() {
        let mut o = Order::default();
        let w1 = o.write_begin();
        assert!(!o.fsync_submit(1));
        let w2 = o.write_begin();
        assert!(!o.fsync_submit(2));
        let mut ready = vec![];
        o.write_end(w2, &mut ready);
        assert!(ready.is_empty(), "fsync 2 also covers w1");
        o.write_end(w1, &mut ready);
        assert_eq!(ready, vec![1, 2]);
    }

    #[test]
    fn file_refs_are_shared_and_released() {
        let mut r = FileRefs::default();
        assert_eq!(r.borrow_current(), None, "nothing to share yet");
        r.install(101);
        assert_eq!(r.borrow_current(), Some(101));
        // The number now names another file: the borrowed use is given
        // back, a new reference installed; the old one lives on for its user.
        assert_eq!(r.borrow_current(), Some(101));
        assert!(!r.release(101));
        r.install(102);
        assert!(!r.release(101));
        assert!(r.release(101), "last user of the displaced reference");
        assert!(r.release(102));
        assert_eq!(r.borrow_current(), None, "nothing left to share");
        r.install(103);
        assert_eq!(r.borrow_current(), Some(103));
        assert!(!r.release(103));
        assert!(r.release(103));
        assert!(r.release(999), "a private duplicate is closed by its user");
    }

    #[test]
    fn hints_follow_the_file_not_the_number() {
        use std::os::fd::AsRawFd;
        let t = FdTable::default();
        let f = crate::request::io::temp_file();
        let fd = f.as_raw_fd();
        let st = t.get(fd);
        let h = st.hints(fd).unwrap();
        assert!(h.has(HINT_KNOWN) && h.has(HINT_KERNEL_FILE) && !h.has(HINT_DIRECT));
        st.learn_hint(h, HINT_NO_NOWAIT_READ);
        assert!(st.hints(fd).unwrap().has(HINT_NO_NOWAIT_READ));
        assert_eq!(st.confirm(fd).unwrap(), st.hints(fd).unwrap(), "same file");
        // The number now names a pipe.
        let mut p = [0; 2];
        // SAFETY: pipe and dup2 on descriptors this test owns.
        unsafe {
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            assert_eq!(libc::dup2(p[0], fd), fd);
        }
        assert!(
            st.hints(fd).unwrap().has(HINT_NO_NOWAIT_READ),
            "the inline path does not look"
        );
        let c = st.confirm(fd).unwrap();
        assert!(c.has(HINT_KNOWN));
        assert!(!c.has(HINT_NO_NOWAIT_READ) && !c.has(HINT_KERNEL_FILE));
        // What an attempt learnt of the old file is not taken over.
        st.learn_hint(h, HINT_NO_NOWAIT_WRITE);
        assert!(!st.hints(fd).unwrap().has(HINT_NO_NOWAIT_WRITE));
        let v = st.observe(fd).unwrap();
        assert!(v.is_stream() && !v.kernel_direct());
        assert_eq!(v.fs, crate::sys::Filesystem::Other);
        // SAFETY: closing the pipe's own ends.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }

    #[test]
    fn memory_filesystems_are_known() {
        use std::os::fd::AsRawFd;
        let disk = crate::request::io::temp_file();
        let memory = |fd| FileView::read(fd).unwrap().fs == crate::sys::Filesystem::Memory;
        let on_disk = memory(disk.as_raw_fd());
        match std::fs::File::create("/dev/shm/paio-unit-memory-fs") {
            Ok(f) => {
                let _ = std::fs::remove_file("/dev/shm/paio-unit-memory-fs");
                assert!(memory(f.as_raw_fd()), "tmpfs");
            }
            Err(e) => eprintln!("no /dev/shm here ({e}): tmpfs not checked"),
        }
        // The temporary directory may itself be tmpfs; then both agree.
        let tmp_is_memory =
            crate::sys::filesystem(disk.as_raw_fd()) == crate::sys::Filesystem::Memory;
        assert_eq!(on_disk, tmp_is_memory);
        // Seen again, the same file keeps its filesystem without a lookup.
        let st = FdState::new();
        let first = st.observe(disk.as_raw_fd()).unwrap().fs;
        assert_eq!(st.observe(disk.as_raw_fd()).unwrap().fs, first);
    }

    #[test]
    fn a_streak_of_cached_reads_of_one_file() {
        let st = FdState::new();
        for _ in 0..CACHED_STREAK - 1 {
            st.record_read(42, true);
        }
        assert!(!st.reads_look_cached(42));
        st.record_read(42, true);
        assert!(st.reads_look_cached(42));
        assert!(!st.reads_look_cached(43), "another file");
        st.record_read(42, false);
        assert!(!st.reads_look_cached(42), "one slow read resets");
        for _ in 0..CACHED_STREAK {
            st.record_read(42, true);
        }
        st.record_read(43, true);
        assert!(!st.reads_look_cached(42) && !st.reads_look_cached(43));
        for _ in 0..300 {
            st.record_read(43, true);
        }
        assert!(st.reads_look_cached(43), "the count saturates");
    }

    #[test]
    fn only_fifos_and_sockets_are_streams() {
        for (path, stream) in [("/dev/null", false), ("/dev/zero", false)] {
            let f = std::fs::File::open(path).unwrap();
            use std::os::fd::AsRawFd;
            assert_eq!(
                FileView::read(f.as_raw_fd()).unwrap().is_stream(),
                stream,
                "{path}"
            );
        }
    }

    #[test]
    fn table_entries_are_stable() {
        let t = FdTable::default();
        let a = t.get(7) as *const FdState;
        assert_eq!(a, t.get(7) as *const FdState);
        assert_ne!(a, t.get(8) as *const FdState);
        let _ = t.get(5_000_000); // aliases, never out of bounds
        let _ = t.get(-1);
    }
}
