//! The kernel AIO ABI (`<linux/aio_abi.h>`): `iocb`, `io_event`, the ring
//! the kernel maps into the process, and the raw syscalls. No policy here.

use std::sync::atomic::{AtomicU32, Ordering};

pub const IOCB_CMD_PREAD: u16 = 0;
pub const IOCB_CMD_PWRITE: u16 = 1;
pub const IOCB_CMD_FSYNC: u16 = 2;
pub const IOCB_CMD_FDSYNC: u16 = 3;
pub const IOCB_CMD_POLL: u16 = 5;
pub const IOCB_CMD_PREADV: u16 = 7;
pub const IOCB_CMD_PWRITEV: u16 = 8;

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

/// Take up to `out.len()` events, waiting for at least `min_nr` of them
/// until `timeout` (relative; `None`: no limit). `EINTR` when a signal
/// arrives first.
pub fn io_getevents(
    ctx: Context,
    min_nr: usize,
    out: &mut [IoEvent],
    timeout: Option<&libc::timespec>,
) -> Result<usize, i32> {
    let ts = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `out` has room for `out.len()` events; `ts` is NULL or a live
    // timespec that the kernel only reads.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_getevents,
            ctx,
            min_nr as libc::c_long,
            out.len() as libc::c_long,
            out.as_mut_ptr(),
            ts,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// The ring's header, when its layout is one this code knows.
fn header(ctx: Context) -> Option<*mut RingHeader> {
    let hdr = ctx as *mut RingHeader;
    // SAFETY: the context id is the address of the ring the kernel mapped
    // for this process; it stays mapped until io_destroy, which paio never
    // calls on a live context.
    let known = unsafe { (*hdr).magic == AIO_RING_MAGIC && (*hdr).incompat_features == 0 };
    known.then_some(hdr)
}

/// Are there events in the ring? Two loads; true where the layout is
/// unknown (then only `io_getevents` can tell).
pub fn ring_pending(ctx: Context) -> bool {
    let Some(hdr) = header(ctx) else {
        return true;
    };
    // SAFETY: see `header`; head and tail are read as atomics.
    unsafe {
        let head = AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).head));
        let tail = AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).tail));
        head.load(Ordering::Relaxed) != tail.load(Ordering::Acquire)
    }
}

/// Take completed events straight from the mapped ring, without a syscall.
/// Only one thread at a time may consume a given ring, this way or with
/// `io_getevents` (the kernel's own consumer does not synchronize with
/// user space). `None` when the ring's layout is not one this code knows
/// (then use `io_getevents`).
pub fn ring_reap(ctx: Context, out: &mut [IoEvent]) -> Option<usize> {
    let hdr = header(ctx)?;
    // SAFETY: see `header`. Header fields are read as the kernel writes
    // them (tail with release after the event; head is ours).
    unsafe {
        let nr = (*hdr).nr;
        let head_a = AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).head));
        let tail_a = AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).tail));
        let mut head = head_a.load(Ordering::Acquire);
        let tail = tail_a.load(Ordering::Acquire);
        let events = (hdr as *mut u8).add((*hdr).header_length as usize) as *const IoEvent;
        let mut n = 0;
        while head != tail && n < out.len() {
            out[n] = events.add(head as usize % nr as usize).read_volatile();
            head = (head + 1) % nr;
            n += 1;
        }
        if n > 0 {
            head_a.store(head, Ordering::Release);
        }
        Some(n)
    }
}
