//! The *wake*: an eventfd of paio's own that a backend's sleepers poll and
//! that paio (and, for kernel AIO, the kernel) counts up to wake them.
//!
//! A wake outlives the requests that use it, and its number belongs to the
//! program's descriptor table: a program that closes every descriptor it
//! did not open (`close_range`, `closefrom`, a loop of `close`) or `dup2`s
//! onto the number closes it, and the next `open` may get the number.
//! glibc's AIO has no descriptor to lose, so paio must never read, write or
//! close the program's file there, nor spin on it. Before each read, write
//! and close, one `statx` checks that the number still names the file paio
//! made (all eventfds share one anonymous inode, so the check tells an
//! eventfd from any file, pipe, socket or device, though not from another
//! eventfd the program moved onto the number). A wake found gone is
//! replaced by a new eventfd ([`WakeFd::check`]). Neither the threads that
//! sleep on the lost one nor the requests the kernel was told to count it
//! up for can be told of the new one, which is why sleepers wake on their
//! own now and then ([`WakeFd::nap`]): once a second, and often for a while
//! after a replacement.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64};

use crate::sys;

/// A sleeper looks again this often: a wake lost while it slept costs it
/// at most this long (once).
const NAP_NS: i64 = 1_000_000_000;
/// After a wake was replaced, sleepers look again this often, for this
/// long: a request that the kernel was told to count up on the lost wake
/// is found by a sleeper that looks.
const NAP_RECENT_NS: i64 = 1_000_000;
const RECENT_NS: i64 = 10_000_000_000;

pub struct WakeFd {
    fd: AtomicI32,
    /// [`sys::file_identity`] of the eventfd behind `fd`.
    ident: AtomicU64,
    /// Where a replacement is numbered from.
    floor: i32,
    /// When the wake was last replaced (monotonic ns), 0 never.
    renewed_at: AtomicI64,
}

impl WakeFd {
    /// A new eventfd, numbered from `floor` up.
    pub fn new(floor: i32) -> Result<WakeFd, i32> {
        let (fd, ident) = make(floor)?;
        Ok(WakeFd {
            fd: AtomicI32::new(fd),
            ident: AtomicU64::new(ident),
            floor,
            renewed_at: AtomicI64::new(0),
        })
    }

    /// The number, unchecked: for the kernel (`aio_resfd`, a poll), which
    /// refuses a number that is not an eventfd, and for `poll`, which has
    /// no effect on the file it names.
    pub fn fd(&self) -> i32 {
        self.fd.load(SeqCst)
    }

    /// Does the number still name paio's eventfd?
    pub fn ours(&self) -> bool {
        let fd = self.fd.load(SeqCst);
        sys::file_identity(fd).is_ok_and(|(_, id)| id == self.ident.load(SeqCst))
    }

    /// The wake's number, after making sure it is still paio's: if the
    /// program took it, a new eventfd replaces it (the old number is the
    /// program's now, and is left alone). `Err` when none can be made.
    pub fn check(&self) -> Result<i32, i32> {
        loop {
            let fd = self.fd.load(SeqCst);
            let id = self.ident.load(SeqCst);
            if sys::file_identity(fd).is_ok_and(|(_, now)| now == id) {
                return Ok(fd);
            }
            let (new, new_id) = make(self.floor)?;
            // Identity first: a thread that sees the new number checks it
            // against the new identity (a mismatch in between only makes
            // it look again).
            if self
                .ident
                .compare_exchange(id, new_id, SeqCst, SeqCst)
                .is_ok()
            {
                self.fd.store(new, SeqCst);
                self.renewed_at.store(sys::monotonic_ns().max(1), SeqCst);
                return Ok(new);
            }
            // Another thread replaced it first.
            sys::close(new);
        }
    }

    /// Count the wake up (wakes its pollers), unless it cannot be had.
    pub fn signal(&self) {
        if let Ok(fd) = self.check() {
            sys::eventfd_signal(fd);
        }
    }

    /// Reset the wake to zero.
    pub fn drain(&self) {
        if let Ok(fd) = self.check() {
            sys::eventfd_drain(fd);
        }
    }

    /// How long a sleeper on the wake may sleep before it looks again.
    pub fn nap(&self) -> libc::timespec {
        let at = self.renewed_at.load(SeqCst);
        let ns = if at != 0 && sys::monotonic_ns() - at < RECENT_NS {
            NAP_RECENT_NS
        } else {
            NAP_NS
        };
        libc::timespec {
            tv_sec: ns / 1_000_000_000,
            tv_nsec: (ns % 1_000_000_000) as _,
        }
    }

    /// Close the wake (in a forked child, where the parent's is not this
    /// process's; or when it was never used), only if the number is still
    /// the eventfd.
    pub fn close_if_ours(&self) {
        if self.ours() {
            sys::close(self.fd.load(SeqCst));
        }
    }
}

fn make(floor: i32) -> Result<(i32, u64), i32> {
    let fd = sys::eventfd(floor)?;
    match sys::file_identity(fd) {
        Ok((_, id)) => Ok((fd, id)),
        Err(e) => {
            sys::close(fd);
            Err(e)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn count(fd: i32) -> u64 {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into a local from a non-blocking eventfd.
        let n = unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
        if n == 8 {
            v
        } else {
            0
        }
    }

    #[test]
    fn a_file_put_under_the_number_is_never_touched() {
        let w = WakeFd::new(0).unwrap();
        let old = w.fd();
        w.signal();
        w.drain();
        assert_eq!(w.nap().tv_sec, 1, "a second while nothing was lost");
        // The program closes the number and a file of its own gets it.
        let dir = std::env::temp_dir().join(format!("paio-wakefd-{}", std::process::id()));
        std::fs::write(&dir, b"the program's data").unwrap();
        let f = std::fs::File::open(&dir).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto the wake's number, as a program may.
        assert_eq!(unsafe { libc::dup2(f.as_raw_fd(), old) }, old);
        w.drain();
        w.signal();
        let new = w.fd();
        assert_ne!(new, old, "a new eventfd");
        assert_eq!(count(new), 1, "the signal reached the new wake");
        // The file's offset did not move, and nothing was written to it.
        // SAFETY: lseek on a descriptor this test owns.
        assert_eq!(unsafe { libc::lseek(old, 0, libc::SEEK_CUR) }, 0);
        assert_eq!(std::fs::read(&dir).unwrap(), b"the program's data");
        assert_eq!(w.nap().tv_sec, 0, "sleepers look again often");
        w.close_if_ours();
        // SAFETY: F_GETFD only asks; the file under `old` is still open.
        assert!(unsafe { libc::fcntl(old, libc::F_GETFD) } >= 0);
        sys::close(old);
        let _ = std::fs::remove_file(&dir);
    }
}
