//! The blocking transfer a worker performs, resuming where an earlier
//! non-blocking attempt stopped. A short read is reported only at end of file
//! (or on a stream, where a short read is the answer); a write keeps going
//! until everything is written or an error stops it.

use crate::slots::{Job, Op};
use crate::sys;

pub fn run_blocking(job: &mut Job) -> Result<usize, i32> {
    match job.op {
        Op::Fsync { data_only } => sys::fsync(job.file, data_only).map(|_| 0),
        Op::Read | Op::Write => transfer(job),
    }
}

fn transfer(job: &mut Job) -> Result<usize, i32> {
    loop {
        let remaining = job.len - job.done;
        if remaining == 0 {
            return Ok(job.done);
        }
        let offset = if job.stream { -1 } else { job.offset + job.done as i64 };
        let buf = job.buf + job.done;
        let r = match job.op {
            Op::Read => sys::pread(job.file, buf, remaining, offset, 0),
            _ => sys::pwrite(job.file, buf, remaining, offset, 0),
        };
        match r {
            Ok(0) => return Ok(job.done),
            Ok(n) => {
                job.done += n;
                if job.stream && job.op == Op::Read {
                    return Ok(job.done);
                }
            }
            Err(libc::EINTR) => {}
            Err(e) if job.done > 0 => {
                // What was transferred stands; the error shows on the next call.
                let _ = e;
                return Ok(job.done);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn job(op: Op, fd: i32, buf: &mut [u8], offset: i64) -> Job {
        Job { op, fd, file: fd, buf: buf.as_mut_ptr() as usize, len: buf.len(), offset, ..Job::EMPTY }
    }

    #[test]
    fn read_resumes_after_partial_and_stops_at_eof() {
        let mut f = tempfile();
        f.write_all(&[7u8; 10_000]).unwrap();
        let mut buf = vec![0u8; 8192];
        let mut j = job(Op::Read, f.as_raw_fd(), &mut buf, 4096);
        j.done = 100; // as if the inline attempt had read 100 bytes
        assert_eq!(run_blocking(&mut j), Ok(10_000 - 4096));
        assert!(buf[100..10_000 - 4096].iter().all(|&b| b == 7));
        assert_eq!(buf[0], 0, "bytes before `done` are not read again");
    }

    #[test]
    fn write_then_errors() {
        let f = tempfile();
        let mut data = vec![3u8; 5000];
        let mut j = job(Op::Write, f.as_raw_fd(), &mut data, 10);
        assert_eq!(run_blocking(&mut j), Ok(5000));
        assert_eq!(f.metadata().unwrap().len(), 5010);
        let mut j = job(Op::Read, -1, &mut data, 0);
        assert_eq!(run_blocking(&mut j), Err(libc::EBADF));
        let mut j = job(Op::Fsync { data_only: true }, f.as_raw_fd(), &mut data, 0);
        assert_eq!(run_blocking(&mut j), Ok(0));
    }

    fn tempfile() -> std::fs::File {
        let dir = std::env::temp_dir();
        let p = dir.join(format!("paio-io-{}-{:?}", std::process::id(), std::thread::current().id()));
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        f
    }
}
