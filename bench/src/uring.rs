//! The io_uring column, through the `io-uring` crate: plain submission and
//! completion queues, no SQPOLL, no registered buffers, so it does what the
//! other columns do with the least the kernel offers.

use io_uring::{opcode, types, IoUring, Probe};

use crate::engine::{Buffers, Engine};
use crate::workload::Op;

pub struct Uring {
    ring: IoUring,
    fd: i32,
    bufs: Buffers,
}

impl Uring {
    /// `Err` carries the kernel's refusal (io_uring disabled, seccomp, too old),
    /// shown as the column's `n/a` reason.
    pub fn new(fd: i32, bufs: Buffers, depth: usize) -> Result<Uring, String> {
        let entries = depth.next_power_of_two().max(2) as u32;
        let ring = IoUring::new(entries).map_err(|e| format!("io_uring_setup refused: {e}"))?;
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| format!("io_uring probe refused: {e}"))?;
        for (code, name) in [
            (opcode::Read::CODE, "READ"),
            (opcode::Write::CODE, "WRITE"),
            (opcode::Fsync::CODE, "FSYNC"),
        ] {
            if !probe.is_supported(code) {
                return Err(format!("this kernel's io_uring lacks IORING_OP_{name}"));
            }
        }
        Ok(Uring { ring, fd, bufs })
    }
}

impl Engine for Uring {
    fn queue(&mut self, slot: usize, op: Op) -> Result<(), String> {
        let fd = types::Fd(self.fd);
        let len = self.bufs.block() as u32;
        let buf = self.bufs.slot(slot);
        let sqe = match op {
            Op::Read { offset } => opcode::Read::new(fd, buf, len).offset(offset).build(),
            Op::Write { offset } => opcode::Write::new(fd, buf, len).offset(offset).build(),
            Op::Fsync => opcode::Fsync::new(fd).build(),
        }
        .user_data(slot as u64);
        // SAFETY: the buffer belongs to `self.bufs` and its slot stays busy
        // until the completion is reaped, so it outlives the operation.
        let pushed = unsafe { self.ring.submission().push(&sqe) };
        if pushed.is_err() {
            // The ring has at least `depth` entries and holds one SQE per busy
            // slot, so this means the submission queue was not flushed.
            return Err("io_uring submission queue full".into());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(format!("io_uring_enter: {e}")),
            }
        }
    }

    fn reap(&mut self, done: &mut Vec<(usize, i64)>) -> Result<(), String> {
        loop {
            for cqe in self.ring.completion() {
                done.push((cqe.user_data() as usize, cqe.result() as i64));
            }
            if !done.is_empty() {
                return Ok(());
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(format!("io_uring_enter: {e}")),
            }
        }
    }
}
