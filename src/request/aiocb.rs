//! The one owner of the C `struct aiocb`: its layout (glibc's, asserted at
//! compile time), reads of the caller's fields, and the fields paio keeps its
//! per-request state in (`__error_code`, `__return_value`, `__next_prio`,
//! the start of `__glibc_reserved`).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::sys;

/// glibc's `struct sigevent` (64 bytes on x86_64).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawSigevent {
    pub value: usize,
    pub signo: i32,
    pub notify: i32,
    /// `_sigev_un`: `_tid` at 16, or `_function` at 16 and `_attribute` at 24.
    pub un: [usize; 6],
}

/// glibc's `struct aiocb` and `struct aiocb64`, identical on 64-bit targets.
#[repr(C)]
pub struct RawAiocb {
    pub fildes: i32,
    pub lio_opcode: i32,
    pub reqprio: i32,
    _pad0: i32,
    pub buf: *mut libc::c_void,
    pub nbytes: usize,
    pub sigevent: RawSigevent,
    /// `__next_prio`: paio keeps the request's slot tag here while it is queued.
    next_prio: u64,
    abs_prio: i32,
    policy: i32,
    /// `__error_code`: `EINPROGRESS` while in flight; published with release.
    error_code: i32,
    _pad1: i32,
    /// `__return_value`: written before `error_code` is published.
    return_value: isize,
    pub offset: i64,
    /// `__glibc_reserved`: the first 8 bytes hold the claim ticket of a
    /// result queued for `aio_waitcomplete` (0: none).
    ticket: u64,
    reserved: [u8; 24],
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<RawSigevent>() == 64);
    assert!(size_of::<RawSigevent>() == size_of::<libc::sigevent>());
    assert!(size_of::<RawAiocb>() == 168);
    assert!(size_of::<RawAiocb>() == size_of::<libc::aiocb>());
    assert!(offset_of!(RawAiocb, fildes) == offset_of!(libc::aiocb, aio_fildes));
    assert!(offset_of!(RawAiocb, lio_opcode) == offset_of!(libc::aiocb, aio_lio_opcode));
    assert!(offset_of!(RawAiocb, reqprio) == offset_of!(libc::aiocb, aio_reqprio));
    assert!(offset_of!(RawAiocb, buf) == offset_of!(libc::aiocb, aio_buf));
    assert!(offset_of!(RawAiocb, nbytes) == offset_of!(libc::aiocb, aio_nbytes));
    assert!(offset_of!(RawAiocb, sigevent) == offset_of!(libc::aiocb, aio_sigevent));
    assert!(offset_of!(RawAiocb, offset) == offset_of!(libc::aiocb, aio_offset));
    // glibc's private fields, by the offsets of its x86_64 header.
    assert!(offset_of!(RawAiocb, sigevent) == 32);
    assert!(offset_of!(RawAiocb, next_prio) == 96);
    assert!(offset_of!(RawAiocb, abs_prio) == 104);
    assert!(offset_of!(RawAiocb, policy) == 108);
    assert!(offset_of!(RawAiocb, error_code) == 112);
    assert!(offset_of!(RawAiocb, return_value) == 120);
    assert!(offset_of!(RawAiocb, offset) == 128);
    assert!(offset_of!(RawAiocb, ticket) == 136);
};

/// `aio_lio_opcode` values of glibc's `<aio.h>`.
pub const LIO_READ: i32 = 0;
pub const LIO_WRITE: i32 = 1;
pub const LIO_NOP: i32 = 2;
/// FreeBSD's vectored opcodes, accepted by `lio_listio` as an extension.
pub const LIO_WRITEV: i32 = 5;
pub const LIO_READV: i32 = 6;

// glibc uses 0..=4 (read, write, nop, and its internal dsync/sync) and the
// same with bit 7 set (its *64 variants) for `aio_lio_opcode`: the vectored
// opcodes must be none of them.
const _: () = {
    let glibc = [0, 1, 2, 3, 4, 128, 129, 130, 131, 132];
    let mut i = 0;
    while i < glibc.len() {
        assert!(glibc[i] != LIO_WRITEV && glibc[i] != LIO_READV);
        i += 1;
    }
};

/// The highest `aio_reqprio` glibc accepts (`AIO_PRIO_DELTA_MAX`).
pub const AIO_PRIO_DELTA_MAX: i32 = 20;

/// A notification request, copied out of the aiocb at submission so that it is
/// still known after the caller has reused the aiocb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    None,
    Signal {
        signo: i32,
        value: usize,
    },
    Thread {
        function: usize,
        value: usize,
        attributes: usize,
    },
    ThreadId {
        signo: i32,
        value: usize,
        tid: i32,
    },
}

impl Notify {
    /// Decode a sigevent; `None` for a `sigev_notify` paio does not know.
    pub fn from_raw(ev: &RawSigevent) -> Option<Notify> {
        match ev.notify {
            sys::SIGEV_NONE => Some(Notify::None),
            sys::SIGEV_SIGNAL => Some(Notify::Signal {
                signo: ev.signo,
                value: ev.value,
            }),
            sys::SIGEV_THREAD => Some(Notify::Thread {
                function: ev.un[0],
                value: ev.value,
                attributes: ev.un[1],
            }),
            sys::SIGEV_THREAD_ID => Some(Notify::ThreadId {
                signo: ev.signo,
                value: ev.value,
                tid: ev.un[0] as u32 as i32,
            }),
            _ => None,
        }
    }

    /// Valid as far as can be told without delivering it.
    pub fn is_valid(&self) -> bool {
        match *self {
            Notify::None => true,
            Notify::Signal { signo, .. } => (0..=64).contains(&signo),
            Notify::ThreadId { signo, tid, .. } => (0..=64).contains(&signo) && tid > 0,
            Notify::Thread { function, .. } => function != 0,
        }
    }
}

/// A caller's aiocb. Copy is cheap; the pointer's validity is the caller's
/// promise made at the C boundary (see `capi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aiocb(NonNull<RawAiocb>);

// SAFETY: the aiocb is shared with the C caller by contract; every field paio
// writes concurrently with readers (`__error_code`) is accessed atomically.
unsafe impl Send for Aiocb {}
unsafe impl Sync for Aiocb {}

impl Aiocb {
    /// # Safety
    /// `p` must point to a live, writable `struct aiocb` for as long as the
    /// returned value is used (POSIX: until `aio_error` stops reporting
    /// `EINPROGRESS`).
    pub unsafe fn from_ptr(p: *mut RawAiocb) -> Option<Aiocb> {
        NonNull::new(p).map(Aiocb)
    }

    pub fn as_ptr(self) -> *mut RawAiocb {
        self.0.as_ptr()
    }

    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    fn raw(&self) -> &RawAiocb {
        // SAFETY: validity promised by `from_ptr`'s caller.
        unsafe { self.0.as_ref() }
    }

    pub fn fd(self) -> i32 {
        self.raw().fildes
    }
    pub fn opcode(self) -> i32 {
        self.raw().lio_opcode
    }
    pub fn reqprio(self) -> i32 {
        self.raw().reqprio
    }
    pub fn buf(self) -> usize {
        self.raw().buf as usize
    }
    pub fn nbytes(self) -> usize {
        self.raw().nbytes
    }
    pub fn offset(self) -> i64 {
        self.raw().offset
    }
    pub fn sigevent(self) -> RawSigevent {
        self.raw().sigevent
    }

    fn error_word(self) -> &'static AtomicI32 {
        // SAFETY: `error_code` is an aligned i32 inside a live aiocb; every
        // concurrent access by paio goes through this atomic view.
        unsafe { AtomicI32::from_ptr(std::ptr::addr_of_mut!((*self.0.as_ptr()).error_code)) }
    }

    fn tag_word(self) -> &'static AtomicU64 {
        // SAFETY: `__next_prio` is an aligned 8-byte field of a live aiocb.
        unsafe { AtomicU64::from_ptr(std::ptr::addr_of_mut!((*self.0.as_ptr()).next_prio)) }
    }

    /// `aio_error`: the published status (0 for a zeroed, never-submitted aiocb).
    pub fn error(self) -> i32 {
        self.error_word().load(Ordering::Acquire)
    }

    /// `aio_return`: the value published with the status.
    pub fn return_value(self) -> isize {
        // SAFETY: written before the release store of `error_code`, which the
        // caller has observed (POSIX forbids aio_return before completion).
        unsafe { std::ptr::addr_of!((*self.0.as_ptr()).return_value).read_volatile() }
    }

    /// Mark in flight, before the request becomes visible to any other thread.
    pub fn begin(self, tag: u64) {
        self.tag_word().store(tag, Ordering::Relaxed);
        // SAFETY: the request is not yet visible to any other paio thread.
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).return_value).write_volatile(0) };
        self.error_word()
            .store(libc::EINPROGRESS, Ordering::Release);
    }

    fn ticket_word(self) -> &'static AtomicU64 {
        // SAFETY: the ticket is an aligned 8-byte field of a live aiocb.
        unsafe { AtomicU64::from_ptr(std::ptr::addr_of_mut!((*self.0.as_ptr()).ticket)) }
    }

    /// The claim ticket of the result queued for `aio_waitcomplete` (0 when
    /// none), for `aio_return` to claim it.
    pub fn ticket(self) -> u64 {
        self.ticket_word().load(Ordering::Relaxed)
    }

    /// The slot tag stored by `begin` (0 when none).
    pub fn tag(self) -> u64 {
        self.tag_word().load(Ordering::Acquire)
    }

    /// Publish the result: `__return_value` first, then `__error_code` with
    /// release ordering. After this the caller owns the aiocb again: paio must
    /// not touch it any more.
    /// `ticket`: the claim ticket of its result in `aio_waitcomplete`'s
    /// queue, or 0.
    pub fn publish(self, result: Result<usize, i32>, ticket: u64) {
        let (ret, err) = match result {
            Ok(n) => (n as isize, 0),
            Err(e) => (-1, e),
        };
        self.ticket_word().store(ticket, Ordering::Relaxed);
        // SAFETY: paio still owns the aiocb until the store below.
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).return_value).write_volatile(ret) };
        self.error_word().store(err, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed() -> Box<RawAiocb> {
        // SAFETY: the all-zero pattern is a valid RawAiocb (integers, raw pointer).
        Box::new(unsafe { std::mem::zeroed() })
    }

    #[test]
    fn zeroed_aiocb_reports_zero() {
        let mut raw = zeroed();
        let cb = unsafe { Aiocb::from_ptr(&mut *raw) }.unwrap();
        assert_eq!(cb.error(), 0);
        assert_eq!(cb.return_value(), 0);
    }

    #[test]
    fn begin_then_publish() {
        let mut raw = zeroed();
        let cb = unsafe { Aiocb::from_ptr(&mut *raw) }.unwrap();
        cb.begin(77);
        assert_eq!(cb.error(), libc::EINPROGRESS);
        assert_eq!(cb.tag(), 77);
        cb.publish(Ok(4096), 5);
        assert_eq!((cb.error(), cb.return_value(), cb.ticket()), (0, 4096, 5));
        cb.publish(Err(libc::EBADF), 0);
        assert_eq!(
            (cb.error(), cb.return_value(), cb.ticket()),
            (libc::EBADF, -1, 0)
        );
    }

    #[test]
    fn notify_decoding() {
        let mut ev = RawSigevent {
            value: 9,
            signo: 10,
            notify: sys::SIGEV_SIGNAL,
            un: [0; 6],
        };
        assert_eq!(
            Notify::from_raw(&ev),
            Some(Notify::Signal {
                signo: 10,
                value: 9
            })
        );
        ev.notify = sys::SIGEV_THREAD_ID;
        ev.un[0] = 1234;
        assert_eq!(
            Notify::from_raw(&ev),
            Some(Notify::ThreadId {
                signo: 10,
                value: 9,
                tid: 1234
            })
        );
        ev.notify = 99;
        assert_eq!(Notify::from_raw(&ev), None);
        assert!(!Notify::Signal {
            signo: 65,
            value: 0
        }
        .is_valid());
        assert!(Notify::Signal { signo: 0, value: 0 }.is_valid());
        assert!(!Notify::Thread {
            function: 0,
            value: 0,
            attributes: 0
        }
        .is_valid());
    }
}
