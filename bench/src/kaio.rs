//! The raw kernel AIO column: `io_setup`, `io_submit`, `io_getevents` through
//! `syscall(2)` (no libaio), with the kernel's `struct iocb` and `io_event`.

use std::ffi::c_long;

use crate::engine::{Buffers, Engine};
use crate::workload::Op;

/// `struct iocb` from `<linux/aio_abi.h>` (little-endian field order).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Iocb {
    aio_data: u64,
    aio_key: u32,
    aio_rw_flags: i32,
    aio_lio_opcode: u16,
    aio_reqprio: i16,
    aio_fildes: u32,
    aio_buf: u64,
    aio_nbytes: u64,
    aio_offset: i64,
    aio_reserved2: u64,
    aio_flags: u32,
    aio_resfd: u32,
}

/// `struct io_event` from `<linux/aio_abi.h>`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

const _: () = assert!(std::mem::size_of::<Iocb>() == 64);
const _: () = assert!(std::mem::size_of::<IoEvent>() == 32);
#[cfg(target_endian = "big")]
compile_error!("Iocb's aio_key/aio_rw_flags order is the little-endian one");

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;

type AioContext = libc::c_ulong;

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

pub struct KernelAio {
    ctx: AioContext,
    fd: i32,
    /// Boxed so every iocb keeps its address until `io_submit` has copied it.
    iocbs: Box<[Iocb]>,
    /// Pointers to the iocbs of queued, not yet submitted slots.
    pending: Vec<*mut Iocb>,
    events: Vec<IoEvent>,
    bufs: Buffers,
}

impl KernelAio {
    /// `Err` carries the kernel's refusal, shown as the column's `n/a` reason.
    pub fn new(fd: i32, bufs: Buffers, depth: usize) -> Result<KernelAio, String> {
        let mut ctx: AioContext = 0;
        // SAFETY: io_setup writes one aio_context_t to `ctx`, which outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_setup,
                depth as c_long,
                &mut ctx as *mut AioContext,
            )
        };
        if rc != 0 {
            return Err(format!("io_setup({depth}) refused: {}", errno()));
        }
        Ok(KernelAio {
            ctx,
            fd,
            iocbs: vec![Iocb::default(); depth].into_boxed_slice(),
            pending: Vec::with_capacity(depth),
            events: vec![IoEvent::default(); depth],
            bufs,
        })
    }
}

impl Engine for KernelAio {
    fn queue(&mut self, slot: usize, op: Op) -> Result<(), String> {
        let (opcode, offset) = match op {
            Op::Read { offset } => (IOCB_CMD_PREAD, offset),
            Op::Write { offset } => (IOCB_CMD_PWRITE, offset),
            Op::Fsync => (IOCB_CMD_FSYNC, 0),
        };
        let fsync = matches!(op, Op::Fsync);
        self.iocbs[slot] = Iocb {
            aio_data: slot as u64,
            aio_lio_opcode: opcode,
            aio_fildes: self.fd as u32,
            aio_buf: if fsync {
                0
            } else {
                self.bufs.slot(slot) as u64
            },
            aio_nbytes: if fsync { 0 } else { self.bufs.block() as u64 },
            aio_offset: offset as i64,
            ..Iocb::default()
        };
        self.pending.push(&mut self.iocbs[slot]);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let mut start = 0;
        while start < self.pending.len() {
            let n = self.pending.len() - start;
            // SAFETY: `pending[start..]` are pointers to initialised iocbs in
            // `self.iocbs`; their buffers live in `self.bufs` until reaped.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_io_submit,
                    self.ctx,
                    n as c_long,
                    self.pending.as_mut_ptr().add(start),
                )
            };
            if rc < 0 {
                let e = errno();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(format!("io_submit: {e}"));
            }
            start += rc as usize;
        }
        self.pending.clear();
        Ok(())
    }

    fn reap(&mut self, done: &mut Vec<(usize, i64)>) -> Result<(), String> {
        loop {
            // SAFETY: `events` has room for `len` io_events; no timeout.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_io_getevents,
                    self.ctx,
                    1 as c_long,
                    self.events.len() as c_long,
                    self.events.as_mut_ptr(),
                    std::ptr::null_mut::<libc::timespec>(),
                )
            };
            if rc < 0 {
                let e = errno();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(format!("io_getevents: {e}"));
            }
            for ev in &self.events[..rc as usize] {
                done.push((ev.data as usize, ev.res));
            }
            if rc > 0 {
                return Ok(());
            }
        }
    }
}

impl Drop for KernelAio {
    fn drop(&mut self) {
        // SAFETY: the context made in `new`; io_destroy waits for its I/O.
        unsafe { libc::syscall(libc::SYS_io_destroy, self.ctx) };
    }
}
