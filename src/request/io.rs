//! The blocking transfer a worker performs, resuming where an earlier
//! non-blocking attempt stopped. On a file, a short read is reported only at
//! end of file, and a write keeps going until everything is written or an
//! error stops it. On a stream (a pipe, a socket) and on a character device
//! (each transfer a record), one blocking transfer is the answer, as glibc's
//! one `read` or `write`: a short read, a write cut short by a socket's send
//! timeout, one record.

use crate::request::slots::{Job, Op};
use crate::sys;

pub fn run_blocking(job: &mut Job) -> Result<usize, i32> {
    match job.op {
        Op::Fsync { data_only } => sys::fsync(job.io_fd(), data_only).map(|_| 0),
        Op::Read | Op::Write => transfer(job),
    }
}

/// Most iovecs one call passes (Linux's `IOV_MAX`).
pub const IOV_MAX: usize = 1024;

/// At most `max` bytes of what remains of the job, in one transfer (see
/// [`attempt`]).
pub fn attempt_upto(job: &Job, flags: i32, max: usize) -> Result<usize, i32> {
    if job.len - job.done <= max {
        return attempt(job, flags);
    }
    let part = Job {
        len: job.done + max,
        ..*job
    };
    attempt(&part, flags)
}

/// One transfer of what remains of the job (`flags`: e.g. `RWF_NOWAIT`), on
/// paio's own reference to the file when it has one.
pub fn attempt(job: &Job, flags: i32) -> Result<usize, i32> {
    let fd = job.io_fd();
    let offset = if job.stream {
        -1
    } else {
        job.offset + job.done as i64
    };
    if job.iovcnt == 0 {
        let (buf, len) = (job.buf + job.done, job.len - job.done);
        return match job.op {
            Op::Read => sys::pread(fd, buf, len, offset, flags),
            _ => sys::pwrite(fd, buf, len, offset, flags),
        };
    }
    attempt_vectored(job, fd, offset, flags)
}

/// Iovecs copied on the stack for a vectored request; more go to the heap.
/// The submitting thread's stack may be small (`PTHREAD_STACK_MIN`, 16 KiB):
/// a plain request reserves none of this, a vectored one a few hundred bytes.
const IOVECS_ON_STACK: usize = 16;

const NO_IOVEC: libc::iovec = libc::iovec {
    iov_base: std::ptr::null_mut(),
    iov_len: 0,
};

/// Vectored: the caller's iovecs past the `done` bytes already moved.
#[inline(never)]
fn attempt_vectored(job: &Job, fd: i32, offset: i64, flags: i32) -> Result<usize, i32> {
    let call = |v: &[libc::iovec]| match job.op {
        Op::Read => sys::preadv(fd, v.as_ptr(), v.len(), offset, flags),
        _ => sys::pwritev(fd, v.as_ptr(), v.len(), offset, flags),
    };
    if (job.iovcnt as usize) <= IOVECS_ON_STACK {
        let mut local = [NO_IOVEC; IOVECS_ON_STACK];
        let n = remaining_iovecs(job, &mut local);
        return call(&local[..n]);
    }
    let mut heap = vec![NO_IOVEC; (job.iovcnt as usize).min(IOV_MAX)];
    let n = remaining_iovecs(job, &mut heap);
    call(&heap[..n])
}

/// The caller's iovecs from byte `done` up to byte `len` of the request,
/// into `out` (room for `iovcnt` of them, at most [`IOV_MAX`]).
fn remaining_iovecs(job: &Job, out: &mut [libc::iovec]) -> usize {
    let cnt = (job.iovcnt as usize).min(IOV_MAX).min(out.len());
    // SAFETY: the array was validated (copied through the kernel) at
    // submission, and the caller keeps it valid until completion.
    let user = unsafe { std::slice::from_raw_parts(job.buf as *const libc::iovec, cnt) };
    let mut skip = job.done;
    let mut left = job.len - job.done;
    let mut n = 0;
    for v in user {
        if left == 0 {
            break;
        }
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        let take = (v.iov_len - skip).min(left);
        out[n] = libc::iovec {
            iov_base: (v.iov_base as usize + skip) as *mut libc::c_void,
            iov_len: take,
        };
        left -= take;
        skip = 0;
        n += 1;
    }
    n
}

fn transfer(job: &mut Job) -> Result<usize, i32> {
    // A request of 0 bytes still makes its one call: the file may refuse it.
    let mut tried = false;
    loop {
        if job.len == job.done && (tried || job.len > 0) {
            return Ok(job.done);
        }
        tried = true;
        match attempt(job, 0) {
            Ok(0) => return Ok(job.done),
            Ok(n) => {
                job.done += n;
                if job.stream || job.record {
                    return Ok(job.done);
                }
            }
            Err(libc::EINTR) => {}
            // Not seekable after all (the descriptor was reused): read/write
            // semantics, as glibc falls back to them.
            Err(libc::ESPIPE) if !job.stream => {
                job.stream = true;
                tried = false;
            }
            Err(e) if job.done > 0 => {
                // What was transferred stands; the error shows on the next call.
                let _ = e;
                return Ok(job.done);
            }
            Err(e) => return Err(e),
        }
    }
}

/// An anonymous regular file on the real filesystem, for tests.
#[cfg(test)]
pub(crate) fn temp_file() -> std::fs::File {
    let p = std::env::temp_dir().join(format!(
        "paio-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .expect("create a temporary file");
    std::fs::remove_file(&p).expect("unlink the temporary file");
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One iovec per buffer.
    fn iovecs(bufs: &mut [&mut [u8]]) -> Vec<libc::iovec> {
        bufs.iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr() as *mut _,
                iov_len: b.len(),
            })
            .collect()
    }
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn job(op: Op, fd: i32, buf: &mut [u8], offset: i64) -> Job {
        Job {
            op,
            fd,
            file: fd,
            buf: buf.as_mut_ptr() as usize,
            len: buf.len(),
            offset,
            ..Job::EMPTY
        }
    }

    #[test]
    fn read_resumes_after_partial_and_stops_at_eof() {
        let mut f = temp_file();
        f.write_all(&[7u8; 10_000]).unwrap();
        let mut buf = vec![0u8; 8192];
        let mut j = job(Op::Read, f.as_raw_fd(), &mut buf, 4096);
        j.done = 100; // as if the inline attempt had read 100 bytes
        assert_eq!(run_blocking(&mut j), Ok(10_000 - 4096));
        assert!(buf[100..10_000 - 4096].iter().all(|&b| b == 7));
        assert_eq!(buf[0], 0, "bytes before `done` are not read again");
    }

    #[test]
    fn vectored_read_resumes_across_iovecs() {
        let mut f = temp_file();
        let data: Vec<u8> = (0..100u8).collect();
        f.write_all(&data).unwrap();
        let (mut a, mut b, mut c) = ([0u8; 10], [0u8; 30], [0u8; 60]);
        let iov = iovecs(&mut [&mut a, &mut b, &mut c]);
        let mut j = Job {
            op: Op::Read,
            fd: f.as_raw_fd(),
            file: f.as_raw_fd(),
            buf: iov.as_ptr() as usize,
            iovcnt: 3,
            len: 100,
            done: 25, // as if 25 bytes had arrived already
            ..Job::EMPTY
        };
        assert_eq!(run_blocking(&mut j), Ok(100));
        assert_eq!(a, [0; 10]);
        assert_eq!(&b[..15], &[0; 15]);
        assert_eq!(&b[15..], &data[25..40]);
        assert_eq!(&c[..], &data[40..100]);
    }

    #[test]
    fn attempt_upto_stops_at_the_cap_in_plain_and_vectored_requests() {
        let mut f = temp_file();
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        f.write_all(&data).unwrap();
        let mut buf = vec![0u8; 10_000];
        let mut j = job(Op::Read, f.as_raw_fd(), &mut buf, 0);
        j.done = 1000;
        assert_eq!(attempt_upto(&j, 0, 3000), Ok(3000));
        assert_eq!(&buf[1000..4000], &data[1000..4000]);
        assert_eq!(buf[4000], 0, "nothing past the cap");
        let (mut a, mut b) = ([0u8; 100], [0u8; 100]);
        let iov = iovecs(&mut [&mut a, &mut b]);
        let v = Job {
            op: Op::Read,
            fd: f.as_raw_fd(),
            file: f.as_raw_fd(),
            buf: iov.as_ptr() as usize,
            iovcnt: 2,
            len: 200,
            done: 50,
            ..Job::EMPTY
        };
        assert_eq!(attempt_upto(&v, 0, 80), Ok(80));
        assert_eq!(&a[50..], &data[50..100]);
        assert_eq!(&b[..30], &data[100..130]);
        assert_eq!(b[30], 0, "nothing past the cap");
    }

    #[test]
    fn write_then_errors() {
        let f = temp_file();
        let mut data = vec![3u8; 5000];
        let mut j = job(Op::Write, f.as_raw_fd(), &mut data, 10);
        assert_eq!(run_blocking(&mut j), Ok(5000));
        assert_eq!(f.metadata().unwrap().len(), 5010);
        let mut j = job(Op::Read, -1, &mut data, 0);
        assert_eq!(run_blocking(&mut j), Err(libc::EBADF));
        let mut j = job(Op::Fsync { data_only: true }, f.as_raw_fd(), &mut data, 0);
        assert_eq!(run_blocking(&mut j), Ok(0));
    }

    #[test]
    fn an_empty_transfer_still_asks_the_file() {
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        let mut none: [u8; 0] = [];
        let mut j = job(Op::Read, dir.as_raw_fd(), &mut none, 0);
        assert_eq!(run_blocking(&mut j), Err(libc::EISDIR));
        // Not seekable: asked again at the current position (`read`).
        // SAFETY: a fresh eventfd.
        let ev = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        let mut j = job(Op::Write, ev, &mut none, 0);
        assert_eq!(run_blocking(&mut j), Err(libc::EINVAL));
        crate::sys::close(ev);
    }

    #[test]
    fn a_short_stream_read_is_the_answer() {
        let mut p = [0i32; 2];
        // SAFETY: pipe writes two descriptors into a local array.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        let mut data = *b"abcdef";
        let mut j = job(Op::Write, p[1], &mut data[..3], -1);
        j.stream = true;
        assert_eq!(run_blocking(&mut j), Ok(3));
        let mut buf = [0u8; 6];
        let mut j = job(Op::Read, p[0], &mut buf, -1);
        j.stream = true;
        assert_eq!(
            run_blocking(&mut j),
            Ok(3),
            "a short stream read is the answer"
        );
        crate::sys::close(p[0]);
        crate::sys::close(p[1]);
    }
}
