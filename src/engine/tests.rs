//! The engine's request life cycle, driven step by step through the
//! deterministic fake backend, on real files and pipes.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::backend::fake::FakeBackend;
use crate::config::{BackendChoice, Config};
use crate::engine::Engine;
use crate::request::aiocb::{Aiocb, RawAiocb, LIO_READ, LIO_WRITE};
use crate::request::io::temp_file;
use crate::request::slots::Op;
use crate::submit::{self, AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED};
use crate::sys;

fn engine() -> (&'static Engine, &'static FakeBackend) {
    let fake: &'static FakeBackend = Box::leak(Box::default());
    let config = Config {
        backend: BackendChoice::Threads,
        inline: false,
        ..Config::load()
    };
    let e = Box::leak(Box::new(Engine::with_backend(config, fake)));
    (e, fake)
}

fn aiocb(fd: i32, op: i32, buf: &mut [u8], offset: i64) -> Box<RawAiocb> {
    // SAFETY: all-zero is a valid aiocb (SIGEV_SIGNAL with signo 0 is set below to NONE).
    let mut raw: Box<RawAiocb> = Box::new(unsafe { std::mem::zeroed() });
    raw.fildes = fd;
    raw.lio_opcode = op;
    raw.buf = buf.as_mut_ptr() as *mut _;
    raw.nbytes = buf.len();
    raw.offset = offset;
    raw.sigevent.notify = sys::SIGEV_NONE;
    raw
}

fn cb(raw: &mut RawAiocb) -> Aiocb {
    // SAFETY: the box outlives every use in these tests.
    unsafe { Aiocb::from_ptr(raw) }.unwrap()
}

/// One read of `fd` into each buffer, all submitted: their control blocks.
fn submit_reads<const N: usize>(
    e: &'static Engine,
    fd: i32,
    bufs: &mut [[u8; N]],
) -> Vec<Box<RawAiocb>> {
    let mut rs: Vec<_> = bufs.iter_mut().map(|b| aiocb(fd, LIO_READ, b, 0)).collect();
    for r in rs.iter_mut() {
        submit::submit_rw(e, cb(r), Op::Read, 0).unwrap();
    }
    rs
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut p = [0; 2];
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) }
}

#[test]
fn fsync_is_held_until_earlier_writes_complete() {
    let (e, fake) = engine();
    let f = temp_file();
    let mut bufs = [[1u8; 512], [2u8; 512], [3u8; 512]];
    let mut ws: Vec<_> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| aiocb(f.as_raw_fd(), LIO_WRITE, b, i as i64 * 512))
        .collect();
    for w in ws.iter_mut() {
        submit::submit_rw(e, cb(w), Op::Write, 0).unwrap();
    }
    let mut fs = aiocb(f.as_raw_fd(), 0, &mut [], 0);
    submit::submit_fsync(e, libc::O_DSYNC, cb(&mut fs)).unwrap();
    // Buffered writes share the descriptor's write lane: one at a time.
    assert_eq!(
        fake.pending(),
        1,
        "the first write; the others wait in the lane, the fsync behind them"
    );
    fake.run_next(e);
    fake.run_next(e);
    assert_eq!(fake.pending(), 1, "only the third write");
    assert_eq!(cb(&mut fs).error(), libc::EINPROGRESS);
    fake.run_next(e); // the last write releases the barrier
    assert_eq!(fake.pending(), 1, "now the fsync");
    fake.run_next(e);
    assert_eq!(cb(&mut fs).error(), 0);
    for w in ws.iter_mut() {
        assert_eq!((cb(w).error(), cb(w).return_value()), (0, 512));
    }
    assert_eq!(f.metadata().unwrap().len(), 1536);
}

#[test]
fn cancel_queued_then_executor_discards_it() {
    let (e, fake) = engine();
    let f = temp_file();
    let mut buf = [0u8; 64];
    let mut r = aiocb(f.as_raw_fd(), LIO_READ, &mut buf, 0);
    submit::submit_rw(e, cb(&mut r), Op::Read, 0).unwrap();
    assert_eq!(cb(&mut r).error(), libc::EINPROGRESS);
    assert_eq!(
        submit::cancel(Some(e), f.as_raw_fd(), Some(cb(&mut r))),
        Ok(AIO_CANCELED)
    );
    assert_eq!(
        (cb(&mut r).error(), cb(&mut r).return_value()),
        (libc::ECANCELED, -1)
    );
    assert_eq!(
        submit::cancel(Some(e), f.as_raw_fd(), Some(cb(&mut r))),
        Ok(AIO_ALLDONE)
    );
    // The executor later finds it cancelled: no second completion.
    fake.run_next(e);
    assert_eq!(cb(&mut r).error(), libc::ECANCELED);
    assert_eq!(e.stats.get(crate::stats::Counter::Cancelled), 1);
}

#[test]
fn pipe_reads_run_in_order_one_at_a_time() {
    let (e, fake) = engine();
    let (rd, wr) = pipe();
    let mut bufs = [[0u8; 1]; 3];
    let mut rs = submit_reads(e, rd.as_raw_fd(), &mut bufs);
    assert_eq!(fake.pending(), 1, "one request of the read lane at a time");
    // Cancel the middle one while it waits in the lane.
    assert_eq!(
        submit::cancel(Some(e), rd.as_raw_fd(), Some(cb(&mut rs[1]))),
        Ok(AIO_CANCELED)
    );
    assert_eq!(
        unsafe { libc::write(wr.as_raw_fd(), b"ab".as_ptr() as *const _, 2) },
        2
    );
    fake.run_next(e);
    assert_eq!(cb(&mut rs[0]).return_value(), 1);
    assert_eq!(fake.pending(), 1, "the lane skipped the cancelled one");
    fake.run_next(e);
    assert_eq!(cb(&mut rs[2]).return_value(), 1);
    drop(rs);
    assert_eq!(bufs, [[b'a'], [0], [b'b']]);
}

#[test]
fn cancel_all_on_fd_reports_running_ones() {
    let (e, fake) = engine();
    let f = temp_file();
    let mut bufs = [[0u8; 8]; 4];
    let mut rs = submit_reads(e, f.as_raw_fd(), &mut bufs);
    // Claim one as if a worker were running it.
    let running = fake.queued.lock()[0];
    assert!(e.slab.get(running).unwrap().claim());
    assert_eq!(
        submit::cancel(Some(e), f.as_raw_fd(), None),
        Ok(AIO_NOTCANCELED)
    );
    let cancelled = rs
        .iter_mut()
        .map(|r| cb(r))
        .filter(|c| c.error() == libc::ECANCELED)
        .count();
    assert_eq!(cancelled, 3);
    assert_eq!(submit::cancel(Some(e), -1, None), Err(libc::EBADF));
}

#[test]
fn lio_nowait_counts_invalid_opcode_and_completes() {
    let (e, fake) = engine();
    let f = temp_file();
    let mut b1 = [9u8; 16];
    let mut b2 = [0u8; 16];
    let mut w = aiocb(f.as_raw_fd(), LIO_WRITE, &mut b1, 0);
    let mut bad = aiocb(f.as_raw_fd(), 77, &mut b2, 0);
    let list = [Some(cb(&mut w)), None, Some(cb(&mut bad))];
    submit::listio(e, submit::LIO_NOWAIT, &list, None).unwrap();
    assert_eq!(cb(&mut bad).error(), libc::EINVAL);
    while fake.run_next(e).is_some() {}
    assert_eq!(cb(&mut w).return_value(), 16);
    assert_eq!(submit::listio(e, 5, &list, None), Err(libc::EINVAL));
}

#[test]
fn synchronous_errors_match_glibc() {
    let (e, _fake) = engine();
    let f = temp_file();
    let mut buf = [0u8; 8];
    let mut r = aiocb(f.as_raw_fd(), LIO_READ, &mut buf, 0);
    r.reqprio = 21;
    assert_eq!(
        submit::submit_rw(e, cb(&mut r), Op::Read, 0),
        Err(libc::EINVAL)
    );
    r.reqprio = 0;
    assert_eq!(
        submit::submit_fsync(e, 12345, cb(&mut r)),
        Err(libc::EINVAL)
    );
    r.fildes = -1;
    assert_eq!(
        submit::submit_fsync(e, libc::O_SYNC, cb(&mut r)),
        Err(libc::EBADF)
    );
    // A bad descriptor in read/write is reported through aio_error.
    assert_eq!(submit::submit_rw(e, cb(&mut r), Op::Read, 0), Ok(()));
    assert_eq!(cb(&mut r).error(), libc::EBADF);
    r.fildes = f.as_raw_fd();
    r.offset = -1;
    assert_eq!(submit::submit_rw(e, cb(&mut r), Op::Read, 0), Ok(()));
    assert_eq!(cb(&mut r).error(), libc::EINVAL);
}

#[test]
fn reads_of_one_file_run_in_parallel() {
    let (e, fake) = engine();
    let f = temp_file();
    let mut bufs = [[0u8; 8]; 5];
    let mut rs = submit_reads(e, f.as_raw_fd(), &mut bufs);
    assert_eq!(
        fake.pending(),
        5,
        "all dispatched at once: no per-descriptor queue"
    );
    while fake.run_next(e).is_some() {}
    assert!(rs.iter_mut().all(|r| cb(r).error() == 0));
}
