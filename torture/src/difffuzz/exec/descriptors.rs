//! Descriptor changes (open, close, `dup2`), the plain `write(2)` that
//! feeds a stream, and the page-cache eviction of a slot's file.

use super::content::pattern;
use super::transcript::rc_str;
use super::Exec;
use crate::ffi::{errname, errno};
use crate::gen::Open;

impl Exec {
    pub(super) fn open(&mut self, slots: [usize; 2], what: Open) {
        let mut fds = [-1i32; 2];
        // SAFETY: plain syscalls writing local arrays.
        let rc = unsafe {
            match what {
                Open::File(f) => {
                    let p = std::ffi::CString::new(format!("{}/f{f}", self.dir)).unwrap();
                    let mut fl = libc::O_RDWR;
                    if f == 2 {
                        fl |= libc::O_DIRECT;
                    }
                    fds[0] = libc::open(p.as_ptr(), fl);
                    if fds[0] < 0 && f == 2 {
                        // No O_DIRECT on this filesystem: the same run both ways.
                        fds[0] = libc::open(p.as_ptr(), libc::O_RDWR);
                    }
                    fds[0]
                }
                Open::DevNull => {
                    fds[0] = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                    fds[0]
                }
                Open::DevZero => {
                    fds[0] = libc::open(c"/dev/zero".as_ptr(), libc::O_RDWR);
                    fds[0]
                }
                Open::Pipe => libc::pipe(fds.as_mut_ptr()),
                Open::SocketPair => {
                    libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr())
                }
            }
        };
        self.fds[slots[0]] = fds[0];
        if slots[1] != slots[0] {
            self.fds[slots[1]] = fds[1];
        }
        self.out(&format!(
            "open {what:?} s{} s{} -> {}",
            slots[0],
            slots[1],
            if rc >= 0 {
                "ok".into()
            } else {
                errname(errno())
            }
        ));
    }

    pub(super) fn close(&mut self, slot: usize) {
        // SAFETY: our own descriptor.
        let rc = unsafe { libc::close(self.fds[slot]) };
        self.fds[slot] = -1;
        self.out(&format!(
            "close s{slot} -> {}",
            rc_str(rc as isize, errno())
        ));
    }

    pub(super) fn dup2(&mut self, src: usize, dst: usize) {
        let (s, d) = (self.fds[src], self.fds[dst]);
        // SAFETY: our own descriptors.
        let rc = unsafe {
            if d >= 0 {
                libc::dup2(s, d)
            } else {
                libc::dup(s)
            }
        };
        if rc >= 0 {
            self.fds[dst] = rc;
        }
        self.out(&format!(
            "dup2 s{src} s{dst} -> {}",
            if rc >= 0 {
                "ok".into()
            } else {
                errname(errno())
            }
        ));
    }

    pub(super) fn sync_write(&mut self, slot: usize, len: usize, data: u64) {
        let mut b = vec![0u8; len];
        pattern(&mut b, data);
        // SAFETY: a local buffer.
        let rc = unsafe { libc::write(self.fds[slot], b.as_ptr() as *const _, len) };
        self.out(&format!("write s{slot} {len} -> {}", rc_str(rc, errno())));
    }

    /// `fsync` (so no page is left dirty, which `POSIX_FADV_DONTNEED` would
    /// keep) then `POSIX_FADV_DONTNEED` on the whole file. Both are plain
    /// syscalls that paio does not wrap, so they answer the same under
    /// glibc and paio; they are printed for a regular file only, a fixed
    /// word otherwise, so that what a pipe or a device answers is never
    /// part of the comparison.
    pub(super) fn evict(&mut self, slot: usize) {
        let fd = self.fds[slot];
        if fd < 0 {
            return self.out(&format!("evict s{slot} -> closed"));
        }
        // SAFETY: a plain C struct, for which all zero bytes are a value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: our own descriptor and a local struct.
        if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return self.out(&format!("evict s{slot} -> not a file"));
        }
        let synced = loop {
            // SAFETY: our own descriptor.
            let rc = unsafe { libc::fsync(fd) };
            // A notification signal may land in the middle.
            if rc == 0 || errno() != libc::EINTR {
                break rc_str(rc as isize, errno());
            }
        };
        // SAFETY: our own descriptor; the advice is only a hint about
        // cached pages, never about content.
        let advised = unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
        self.out(&format!(
            "evict s{slot} -> fsync {synced} fadvise {}",
            if advised == 0 {
                "0".into()
            } else {
                errname(advised)
            }
        ));
    }
}
