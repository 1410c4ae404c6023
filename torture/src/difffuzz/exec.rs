//! Execution: one sequence run in this process against whichever AIO the
//! process has (glibc, or paio by `LD_PRELOAD`), writing a transcript line
//! for everything POSIX fixes: each call's return value and `errno`, each
//! waited request's `aio_error`/`aio_return` and the bytes it read, the files'
//! and streams' final contents, and the set of notifications received.
//! Anything that legitimately depends on timing is either normalised (an
//! `EINTR` is retried) or only checked for consistency, never printed.
//!
//! This module holds the executor's state and sends each operation to the
//! module of its kind: `descriptors` (and the page-cache eviction),
//! `requests`, `fork`, `notes` (and the SIGUSR2 probe), `final_state`;
//! `transcript` writes the lines and `content` makes and hashes the bytes.

mod content;
mod descriptors;
mod final_state;
mod fork;
mod notes;
mod requests;
mod transcript;

use content::file_content;
pub use notes::install_handlers;

use crate::ffi::*;
use crate::gen::*;

/// A number no descriptor has in the executor.
const BAD_FD: i32 = 999;
/// A request that takes longer than this to finish is hung.
const HANG_MS: u64 = 5000;

pub struct Exec {
    dir: String,
    fds: [i32; NSLOT],
    /// Never resized: the aiocbs keep their addresses while in flight.
    cbs: Vec<std::cell::UnsafeCell<Aiocb>>,
    bufs: Vec<*mut u8>,
    /// The last request made on each aiocb.
    reqs: Vec<Option<Req>>,
    /// Notifications that accepted requests and lists will deliver.
    expected: u32,
    expected_thread: u32,
    /// The notification each aiocb's last accepted request will deliver.
    note_due: [Option<Notify>; NCB],
    pub calls: u64,
    step: usize,
    /// AIO comes from libpaio.so (the forked child's own AIO runs only then).
    on_paio: bool,
}

impl Exec {
    pub fn new(dir: &str) -> Exec {
        let bufs = (0..NCB)
            .map(|_| {
                let mut p: *mut libc::c_void = std::ptr::null_mut();
                // SAFETY: writes the pointer; O_DIRECT wants 4 KiB alignment.
                let r = unsafe { libc::posix_memalign(&mut p, 4096, BUF_CAP) };
                assert_eq!(r, 0, "posix_memalign");
                p as *mut u8
            })
            .collect();
        for f in 0..NFILE {
            std::fs::write(format!("{dir}/f{f}"), file_content(f)).expect("create a test file");
        }
        Exec {
            dir: dir.to_string(),
            fds: [-1; NSLOT],
            cbs: (0..NCB)
                .map(|_| std::cell::UnsafeCell::new(Aiocb::zeroed()))
                .collect(),
            bufs,
            reqs: vec![None; NCB],
            expected: 0,
            expected_thread: 0,
            note_due: [None; NCB],
            calls: 0,
            step: 0,
            on_paio: aio_provider().contains("libpaio"),
        }
    }

    fn cbp(&self, cb: usize) -> *mut Aiocb {
        self.cbs[cb].get()
    }

    // The buffers are the harness's raw memory shared with the library, not
    // Rust-owned data of `self`.
    #[allow(clippy::mut_from_ref)]
    fn buf(&self, cb: usize) -> &mut [u8] {
        // SAFETY: BUF_CAP bytes owned by this aiocb, touched only while its
        // request is not in flight.
        unsafe { std::slice::from_raw_parts_mut(self.bufs[cb], BUF_CAP) }
    }

    fn fd_of(&self, t: Target) -> i32 {
        match t {
            Target::Slot(s) => self.fds[s],
            Target::BadFd => BAD_FD,
        }
    }

    fn error(&self, cb: usize) -> i32 {
        // SAFETY: a live aiocb.
        unsafe { aio_error(self.cbp(cb)) }
    }

    /// One sequence, op by op.
    pub fn run(&mut self, ops: &[Op]) {
        for (i, op) in ops.iter().enumerate() {
            self.step = i;
            self.op(op);
        }
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Open { slots, what } => self.open(*slots, *what),
            Op::Close { slot } => self.close(*slot),
            Op::Dup2 { src, dst } => self.dup2(*src, *dst),
            Op::Submit(r) => self.submit(r),
            Op::Lio {
                wait,
                entries,
                notify,
            } => self.lio(*wait, entries, *notify),
            Op::Wait { cbs } => {
                let list: Vec<usize> = cbs.iter().map(|c| c.0).collect();
                self.wait_done(&list);
                for &(cb, out) in cbs {
                    self.print_outcome(cb, out);
                }
            }
            Op::Cancel(c) => self.cancel(c),
            Op::Suspend {
                cbs,
                timeout,
                fixed,
            } => self.suspend(cbs, *timeout, *fixed),
            Op::SyncWrite { slot, len, data } => self.sync_write(*slot, *len, *data),
            Op::Evict { slot } => self.evict(*slot),
            Op::ZeroedError { cb } => self.zeroed_error(*cb),
            Op::Fork => self.fork(),
            Op::SigwaitProbe => self.sigwait_probe(),
            Op::Final {
                masks,
                sizes,
                streams,
            } => self.final_state(masks, sizes, streams),
        }
    }
}
