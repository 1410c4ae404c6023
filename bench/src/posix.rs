//! The POSIX AIO column (glibc, or libpaio.so when preloaded): `aio_read`,
//! `aio_write`, `aio_fsync`, waiting with `aio_suspend`, reaping with
//! `aio_error` and `aio_return`, the way a portable program uses them.

use std::ffi::{c_int, c_void, CStr};

use crate::engine::{Buffers, Engine};
use crate::workload::Op;

// Declared here rather than taken from the `libc` crate so the calls go through
// the dynamic symbols `aio_*` exactly as a C program's would: glibc >= 2.34 has
// them in libc.so.6, and LD_PRELOAD of libpaio.so interposes them.
extern "C" {
    fn aio_read(cb: *mut libc::aiocb) -> c_int;
    fn aio_write(cb: *mut libc::aiocb) -> c_int;
    fn aio_fsync(op: c_int, cb: *mut libc::aiocb) -> c_int;
    fn aio_suspend(
        list: *const *const libc::aiocb,
        n: c_int,
        timeout: *const libc::timespec,
    ) -> c_int;
    fn aio_error(cb: *const libc::aiocb) -> c_int;
    fn aio_return(cb: *mut libc::aiocb) -> libc::ssize_t;
}

/// The file that the process's `aio_read` resolves into (`dlsym` with
/// `RTLD_DEFAULT`, then `dladdr`): libc.so.6 as linked, libpaio.so when the
/// preload took effect.
pub fn aio_read_provider() -> Result<String, String> {
    // SAFETY: dlsym/dladdr with a NUL-terminated name and a zeroed out-struct;
    // dli_fname is a NUL-terminated string owned by the loader while the object
    // stays loaded, and it is copied at once.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, c"aio_read".as_ptr());
        if sym.is_null() {
            return Err("dlsym(RTLD_DEFAULT, \"aio_read\") found nothing".into());
        }
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(sym as *const c_void, &mut info) == 0 || info.dli_fname.is_null() {
            return Err("dladdr could not name the object holding aio_read".into());
        }
        Ok(CStr::from_ptr(info.dli_fname)
            .to_string_lossy()
            .into_owned())
    }
}

/// Whether `path` names a libpaio build (`libpaio.so`, `libpaio.so.1`, …).
pub fn is_libpaio(path: &str) -> bool {
    std::path::Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f.starts_with("libpaio"))
}

pub struct PosixAio {
    fd: c_int,
    /// Boxed so every control block keeps its address while in flight.
    cbs: Box<[libc::aiocb]>,
    /// `aio_suspend`'s list: the control block of each busy slot, null otherwise.
    list: Vec<*const libc::aiocb>,
    busy: Vec<usize>,
    bufs: Buffers,
}

impl PosixAio {
    pub fn new(fd: c_int, bufs: Buffers, depth: usize) -> PosixAio {
        // SAFETY: aiocb is plain C data; all-zero is its documented initial state.
        let cbs = (0..depth)
            .map(|_| unsafe { std::mem::zeroed::<libc::aiocb>() })
            .collect();
        PosixAio {
            fd,
            cbs,
            list: vec![std::ptr::null(); depth],
            busy: Vec::with_capacity(depth),
            bufs,
        }
    }
}

impl Engine for PosixAio {
    fn queue(&mut self, slot: usize, op: Op) -> Result<(), String> {
        let buf = self.bufs.slot(slot);
        let block = self.bufs.block();
        let cb = &mut self.cbs[slot];
        // SAFETY: zeroing a plain C struct that no I/O uses (the slot is free).
        *cb = unsafe { std::mem::zeroed() };
        cb.aio_fildes = self.fd;
        cb.aio_buf = buf.cast();
        cb.aio_nbytes = block;
        cb.aio_sigevent.sigev_notify = libc::SIGEV_NONE;
        let (name, rc) = match op {
            Op::Read { offset } => {
                cb.aio_offset = offset as libc::off_t;
                // SAFETY: `cb` and its buffer live in `self` until the request
                // is reaped in `reap` (drive never frees a busy slot).
                ("aio_read", unsafe { aio_read(cb) })
            }
            Op::Write { offset } => {
                cb.aio_offset = offset as libc::off_t;
                // SAFETY: as for aio_read.
                ("aio_write", unsafe { aio_write(cb) })
            }
            Op::Fsync => {
                // SAFETY: as for aio_read; only aio_fildes matters.
                ("aio_fsync", unsafe { aio_fsync(libc::O_SYNC, cb) })
            }
        };
        if rc != 0 {
            return Err(format!("{name}: {}", std::io::Error::last_os_error()));
        }
        self.list[slot] = cb as *const libc::aiocb;
        self.busy.push(slot);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn reap(&mut self, done: &mut Vec<(usize, i64)>) -> Result<(), String> {
        loop {
            // SAFETY: `list` has `len` entries, each null or a live aiocb of ours.
            let rc = unsafe {
                aio_suspend(
                    self.list.as_ptr(),
                    self.list.len() as c_int,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EINTR) {
                    return Err(format!("aio_suspend: {err}"));
                }
            }
            let mut i = 0;
            while i < self.busy.len() {
                let slot = self.busy[i];
                let cb = &mut self.cbs[slot];
                // SAFETY: `cb` was submitted by `queue` and not yet returned.
                let err = unsafe { aio_error(cb) };
                if err == libc::EINPROGRESS {
                    i += 1;
                    continue;
                }
                // SAFETY: the request finished (aio_error != EINPROGRESS); aio_return
                // is called exactly once for it.
                let ret = unsafe { aio_return(cb) };
                let res = if err == 0 {
                    ret as i64
                } else if err > 0 {
                    -(err as i64)
                } else {
                    -(libc::EIO as i64)
                };
                self.list[slot] = std::ptr::null();
                self.busy.swap_remove(i);
                done.push((slot, res));
            }
            if !done.is_empty() {
                return Ok(());
            }
        }
    }
}
