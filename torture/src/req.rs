//! One request: the aiocb paio sees and the model's expectations for it.

use std::cell::UnsafeCell;

use crate::ffi::{aio_error, aio_return, Aiocb, Sigevent};
use crate::model::BUF_CAP;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Read,
    Write,
    Fsync,
    StreamRead,
    StreamWrite,
}

/// One request: the aiocb paio sees (through a raw pointer only) and the
/// model's expectations. Leaked, so the watchdog may always read it.
pub(crate) struct Req {
    pub(crate) cb: UnsafeCell<Aiocb>,
    pub(crate) buf: *mut u8,
    pub(crate) kind: Kind,
    pub(crate) note: u64,
    pub(crate) fd: i32,
    pub(crate) file: usize,
    pub(crate) region: usize,
    /// Read: offset inside the region; expected length.
    pub(crate) sub: usize,
    pub(crate) expect_len: usize,
    pub(crate) version: u32,
    /// Stream write: the bytes written.
    pub(crate) data: Vec<u8>,
    /// Request finished (`aio_error` seen not `EINPROGRESS`).
    pub(crate) seen_done: bool,
    pub(crate) desc: String,
}

// SAFETY: a Req is used by its worker; the watchdog only calls aio_error on
// the aiocb, which is what aio_error is for.
unsafe impl Send for Req {}
unsafe impl Sync for Req {}

impl Req {
    pub(crate) fn new() -> &'static mut Req {
        let mut p: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: posix_memalign writes the pointer; O_DIRECT wants 4 KiB alignment.
        let r = unsafe { libc::posix_memalign(&mut p, 4096, BUF_CAP) };
        assert!(r == 0, "posix_memalign");
        Box::leak(Box::new(Req {
            cb: UnsafeCell::new(Aiocb::zeroed()),
            buf: p as *mut u8,
            kind: Kind::Read,
            note: 0,
            fd: -1,
            file: 0,
            region: 0,
            sub: 0,
            expect_len: 0,
            version: 0,
            data: Vec::new(),
            seen_done: false,
            desc: String::new(),
        }))
    }
    pub(crate) fn cbp(&self) -> *mut Aiocb {
        self.cb.get()
    }
    pub(crate) fn error(&self) -> i32 {
        // SAFETY: a live aiocb.
        unsafe { aio_error(self.cbp()) }
    }
    pub(crate) fn ret(&self) -> isize {
        // SAFETY: a live aiocb.
        unsafe { aio_return(self.cbp()) }
    }
    pub(crate) fn buf(&self, len: usize) -> &'static mut [u8] {
        assert!(len <= BUF_CAP);
        // SAFETY: BUF_CAP bytes allocated; only touched while no request uses it.
        unsafe { std::slice::from_raw_parts_mut(self.buf, len) }
    }
    /// Fill the aiocb for a new submission.
    pub(crate) fn prep(
        &mut self,
        fd: i32,
        opcode: i32,
        len: usize,
        offset: i64,
        ev: Sigevent,
        reqprio: i32,
    ) {
        // SAFETY: not in flight (the previous use was reaped).
        let cb = unsafe { &mut *self.cbp() };
        *cb = Aiocb::zeroed();
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = opcode;
        cb.aio_reqprio = reqprio;
        cb.aio_buf = self.buf as *mut libc::c_void;
        cb.aio_nbytes = len;
        cb.aio_offset = offset;
        cb.aio_sigevent = ev;
        self.fd = fd;
        self.seen_done = false;
    }
}
