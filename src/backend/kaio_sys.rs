//! The kernel AIO ABI (`<linux/aio_abi.h>`): `iocb`, `io_event`, the ring
//! the kernel maps into the process, and the raw syscalls. No policy here.

use std::sync::atomic::AtomicU32;

use crate::sync::{AtomicU64, Ordering};

pub const IOCB_CMD_PREAD: u16 = 0;
pub const IOCB_CMD_PWRITE: u16 = 1;
pub const IOCB_CMD_FSYNC: u16 = 2;
pub const IOCB_CMD_FDSYNC: u16 = 3;
pub const IOCB_CMD_POLL: u16 = 5;
pub const IOCB_CMD_PREADV: u16 = 7;
pub const IOCB_CMD_PWRITEV: u16 = 8;
/// `aio_flags`: signal the eventfd in `aio_resfd` when the request completes.
pub const IOCB_FLAG_RESFD: u32 = 1;

/// `struct iocb` (x86_64, little-endian field order).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Iocb {
    pub aio_data: u64,
    pub aio_key: u32,
    pub aio_rw_flags: i32,
    pub aio_lio_opcode: u16,
    pub aio_reqprio: i16,
    pub aio_fildes: u32,
    pub aio_buf: u64,
    pub aio_nbytes: u64,
    pub aio_offset: i64,
    pub aio_reserved2: u64,
    pub aio_flags: u32,
    pub aio_resfd: u32,
}

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct IoEvent {
    pub data: u64,
    pub obj: u64,
    pub res: i64,
    pub res2: i64,
}

const _: () = {
    assert!(std::mem::size_of::<Iocb>() == 64);
    assert!(std::mem::size_of::<IoEvent>() == 32);
};

/// Header of the completion ring; the context id *is* its address.
#[repr(C)]
struct RingHeader {
    id: u32,
    nr: u32,
    head: u32,
    tail: u32,
    magic: u32,
    compat_features: u32,
    incompat_features: u32,
    header_length: u32,
}

const AIO_RING_MAGIC: u32 = 0xa10a_10a1;

pub type Context = libc::c_ulong;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

pub fn io_setup(nr: u32) -> Result<Context, i32> {
    let mut ctx: Context = 0;
    // SAFETY: the kernel writes the new context id into `ctx`.
    let r = unsafe { libc::syscall(libc::SYS_io_setup, nr as libc::c_long, &mut ctx) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(ctx)
    }
}

/// Submit `iocbs`; returns how many the kernel took (it may take fewer).
pub fn io_submit(ctx: Context, iocbs: &mut [*mut Iocb]) -> Result<usize, i32> {
    // SAFETY: each pointer is a live iocb that the kernel copies in during
    // the call; buffers they name are the C caller's, valid until completion.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_submit,
            ctx,
            iocbs.len() as libc::c_long,
            iocbs.as_mut_ptr(),
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// The completion ring the kernel maps for a context, when its layout is
/// one this code knows. Events are taken by any number of threads at once
/// (never with `io_getevents`, the kernel's own consumer, which does not
/// synchronize with user space): each taker copies the next event, then
/// claims it by advancing a 64-bit count of events taken; only then is the
/// ring's head moved past it, so the kernel never reuses a slot before its
/// copy is done, and a copy that lost the race is thrown away.
#[derive(Clone, Copy)]
pub struct RingMap {
    nr: u64,
    head: *const AtomicU32,
    tail: *const AtomicU32,
    events: *const IoEvent,
}

// SAFETY: the pointers name the ring the kernel mapped for this process,
// which stays mapped until io_destroy (never called on a live context); its
// words are only accessed atomically or by volatile copies.
unsafe impl Send for RingMap {}
unsafe impl Sync for RingMap {}

impl RingMap {
    /// The ring of `ctx` (the context id is its address).
    pub fn of(ctx: Context) -> Option<RingMap> {
        let hdr = ctx as *mut RingHeader;
        // SAFETY: see the type's comment; the header is read once here.
        unsafe {
            if (*hdr).magic != AIO_RING_MAGIC || (*hdr).incompat_features != 0 || (*hdr).nr == 0 {
                return None;
            }
            Some(RingMap {
                nr: (*hdr).nr as u64,
                head: AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).head)),
                tail: AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).tail)),
                events: (hdr as *const u8).add((*hdr).header_length as usize) as *const IoEvent,
            })
        }
    }

    /// The count of events taken so far, to start `claim` from.
    pub fn head(&self) -> u64 {
        // SAFETY: see the type's comment.
        unsafe { (*self.head).load(Ordering::Acquire) as u64 }
    }

    /// Is there an event that `claim` has not taken? Two loads.
    pub fn pending(&self, claim: &AtomicU64) -> bool {
        claim.load(Ordering::Acquire) % self.nr != self.tail() as u64
    }

    /// Take the next event, if any.
    pub fn take(&self, claim: &AtomicU64) -> Option<IoEvent> {
        take_next(self, claim)
    }
}

/// The words of a completion ring that takers touch: the kernel's mapped
/// ring, or (under loom) a model of it.
pub trait RingWords {
    /// Slots in the ring.
    fn nr(&self) -> u64;
    /// Where the producer writes next (acquire: the events below it are
    /// whole).
    fn tail(&self) -> u32;
    /// A copy of the event in slot `at` (it may be torn if the slot is being
    /// rewritten: the claim then fails).
    fn event(&self, at: u64) -> IoEvent;
    /// Tell the producer that every slot before `head` may be reused.
    fn set_head(&self, head: u32);
}

impl RingWords for RingMap {
    fn nr(&self) -> u64 {
        self.nr
    }
    fn tail(&self) -> u32 {
        // SAFETY: see `RingMap`.
        unsafe { (*self.tail).load(Ordering::Acquire) }
    }
    fn event(&self, at: u64) -> IoEvent {
        // SAFETY: see `RingMap`; `at` < nr.
        unsafe { self.events.add(at as usize).read_volatile() }
    }
    fn set_head(&self, head: u32) {
        // SAFETY: see `RingMap`.
        unsafe { (*self.head).store(head, Ordering::Release) }
    }
}

/// Take the next event of `ring`, if any, racing any number of takers:
/// copy the event `claim` points at, then claim it by moving `claim` on
/// (compare-and-swap on 64 bits: no wrap-around can fool it); only then is
/// the head moved past it, so the producer never rewrites a slot before its
/// copy is done, and a copy that lost the race is thrown away.
pub fn take_next(ring: &impl RingWords, claim: &AtomicU64) -> Option<IoEvent> {
    loop {
        let c = claim.load(Ordering::Acquire);
        let at = c % ring.nr();
        if at == ring.tail() as u64 {
            return None;
        }
        let ev = ring.event(at);
        if claim
            .compare_exchange(c, c + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Every event before the claim is copied already, so any claim
            // is a safe head. Racing takers may store theirs out of order;
            // an older head only makes the producer count fewer free slots
            // until the next take.
            ring.set_head(((c + 1) % ring.nr()) as u32);
            return Some(ev);
        }
    }
}
