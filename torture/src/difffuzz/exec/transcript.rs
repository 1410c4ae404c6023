//! Writing the transcript: one line per step, prefixed by the step's
//! number, and the forms that calls and requests are printed in.

use super::Exec;
use crate::ffi::{errname, errno};
use crate::gen::{Req, Target};

pub(super) fn rc_str(rc: isize, e: i32) -> String {
    if rc == -1 {
        format!("-1 {}", errname(e))
    } else {
        format!("{rc}")
    }
}

impl Exec {
    pub(super) fn out(&self, s: &str) {
        let line = format!("{} {s}\n", self.step);
        let mut b = line.as_bytes();
        while !b.is_empty() {
            // SAFETY: writing our own buffer to stdout.
            let n = unsafe { libc::write(1, b.as_ptr() as *const _, b.len()) };
            if n <= 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                return;
            }
            b = &b[n as usize..];
        }
    }

    pub(super) fn describe(r: &Req) -> String {
        let t = match r.target {
            Target::Slot(s) => format!("s{s}"),
            Target::BadFd => "badfd".into(),
        };
        format!(
            "cb{} {:?} {t} off={} len={} buf+{}{} prio={} {:?}",
            r.cb,
            r.call,
            r.off,
            r.len,
            r.buf_off,
            if r.null_buf { " NULL" } else { "" },
            r.prio,
            r.notify
        )
    }
}
