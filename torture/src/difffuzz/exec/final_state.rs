//! The end of a sequence: every file's content (masked where it is not
//! known) and size, every stream's leftover bytes, then the notifications.

use super::content::hash;
use super::Exec;
use crate::gen::NFILE;

impl Exec {
    pub(super) fn final_state(
        &mut self,
        masks: &[Vec<(u64, u64)>],
        sizes: &[(u64, u64)],
        streams: &[Option<(usize, usize)>],
    ) {
        for f in 0..NFILE {
            let mut data = std::fs::read(format!("{}/f{f}", self.dir)).unwrap_or_default();
            let size = data.len() as u64;
            let (lo, hi) = sizes[f];
            let size_s = if lo == hi {
                format!("size={size}")
            } else if (lo..=hi).contains(&size) {
                format!("size in [{lo}, {hi}]")
            } else {
                format!("size={size} OUTSIDE [{lo}, {hi}]")
            };
            data.truncate(lo as usize);
            for &(a, b) in &masks[f] {
                let (a, b) = (
                    a.min(data.len() as u64) as usize,
                    b.min(data.len() as u64) as usize,
                );
                data[a..b].fill(0);
            }
            self.out(&format!("file f{f} {size_s} content={:016x}", hash(&data)));
        }
        for (s, st) in streams.iter().enumerate() {
            let Some((slot, avail)) = *st else { continue };
            let fd = self.fds[slot];
            let mut b = vec![0u8; avail + 64];
            let mut n = 0usize;
            // SAFETY: our own descriptor, read without blocking.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
                loop {
                    let r = libc::read(fd, b[n..].as_mut_ptr() as *mut _, b.len() - n);
                    if r <= 0 {
                        break;
                    }
                    n += r as usize;
                }
                libc::fcntl(fd, libc::F_SETFL, fl);
            }
            self.out(&format!(
                "stream {s} holds {n} bytes ({avail} expected) content={:016x}",
                hash(&b[..n])
            ));
        }
        self.print_notifications();
    }
}
