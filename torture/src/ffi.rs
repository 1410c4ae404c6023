//! glibc's POSIX AIO ABI, declared by hand: the structures with glibc's
//! x86_64 layout (checked at compile time against the `libc` crate) and the
//! functions, resolved at run time to libpaio.so when it is preloaded and to
//! glibc otherwise. The `libc` crate's `sigevent` lacks the `SIGEV_THREAD`
//! fields, hence our own.

#![allow(dead_code)]

use libc::{c_int, c_void, ssize_t, timespec};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Sigevent {
    pub sigev_value: usize,
    pub sigev_signo: c_int,
    pub sigev_notify: c_int,
    /// `_sigev_un`: `_tid` (first int) or `_function`, `_attribute`.
    pub un: [usize; 6],
}

#[repr(C)]
pub struct Aiocb {
    pub aio_fildes: c_int,
    pub aio_lio_opcode: c_int,
    pub aio_reqprio: c_int,
    pub _pad0: c_int,
    pub aio_buf: *mut c_void,
    pub aio_nbytes: usize,
    pub aio_sigevent: Sigevent,
    pub private: [u8; 32],
    pub aio_offset: i64,
    pub reserved: [u8; 32],
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Sigevent>() == size_of::<libc::sigevent>());
    assert!(size_of::<Aiocb>() == size_of::<libc::aiocb>());
    assert!(size_of::<Aiocb>() == 168);
    assert!(offset_of!(Aiocb, aio_buf) == offset_of!(libc::aiocb, aio_buf));
    assert!(offset_of!(Aiocb, aio_nbytes) == offset_of!(libc::aiocb, aio_nbytes));
    assert!(offset_of!(Aiocb, aio_sigevent) == offset_of!(libc::aiocb, aio_sigevent));
    assert!(offset_of!(Aiocb, aio_offset) == offset_of!(libc::aiocb, aio_offset));
};

impl Aiocb {
    pub fn zeroed() -> Aiocb {
        // SAFETY: all-zero is a valid aiocb (plain integers and a null pointer).
        unsafe { std::mem::zeroed() }
    }
}

impl Sigevent {
    pub fn none() -> Sigevent {
        Sigevent {
            sigev_value: 0,
            sigev_signo: 0,
            sigev_notify: SIGEV_NONE,
            un: [0; 6],
        }
    }
}

pub const LIO_READ: c_int = 0;
pub const LIO_WRITE: c_int = 1;
pub const LIO_NOP: c_int = 2;
pub const LIO_WAIT: c_int = 0;
pub const LIO_NOWAIT: c_int = 1;
pub const AIO_CANCELED: c_int = 0;
pub const AIO_NOTCANCELED: c_int = 1;
pub const AIO_ALLDONE: c_int = 2;
pub const SIGEV_SIGNAL: c_int = 0;
pub const SIGEV_NONE: c_int = 1;
pub const SIGEV_THREAD: c_int = 2;
pub const SIGEV_THREAD_ID: c_int = 4;
/// `si_code` of an AIO completion signal.
pub const SI_ASYNCIO: c_int = -4;

extern "C" {
    pub fn aio_read(cb: *mut Aiocb) -> c_int;
    pub fn aio_write(cb: *mut Aiocb) -> c_int;
    pub fn aio_fsync(op: c_int, cb: *mut Aiocb) -> c_int;
    pub fn aio_error(cb: *const Aiocb) -> c_int;
    pub fn aio_return(cb: *mut Aiocb) -> ssize_t;
    pub fn aio_suspend(list: *const *const Aiocb, nent: c_int, timeout: *const timespec) -> c_int;
    pub fn aio_cancel(fd: c_int, cb: *mut Aiocb) -> c_int;
    pub fn lio_listio(
        mode: c_int,
        list: *const *mut Aiocb,
        nent: c_int,
        sev: *mut Sigevent,
    ) -> c_int;
}

pub fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn set_errno(e: c_int) {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// The shared object `aio_read` resolves to in this process (dladdr).
pub fn aio_provider() -> String {
    // SAFETY: dlsym/dladdr on a NUL-terminated name; dli_fname is a C string
    // owned by the dynamic linker.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, c"aio_read".as_ptr());
        if sym.is_null() {
            return "<unresolved>".into();
        }
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(sym, &mut info) == 0 || info.dli_fname.is_null() {
            return "<unknown>".into();
        }
        std::ffi::CStr::from_ptr(info.dli_fname)
            .to_string_lossy()
            .into_owned()
    }
}

pub fn errname(e: c_int) -> String {
    let n = match e {
        0 => "0",
        libc::EPERM => "EPERM",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::EFAULT => "EFAULT",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ECANCELED => "ECANCELED",
        libc::EINPROGRESS => "EINPROGRESS",
        _ => return format!("errno{e}"),
    };
    n.to_string()
}

/// Milliseconds on the monotonic clock.
pub fn now_ms() -> u64 {
    let mut ts = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

pub fn gettid() -> c_int {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as c_int }
}

/// A small, fast, seedable generator (splitmix64): reproducible runs from `--seed`.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `pct`/100.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
}
