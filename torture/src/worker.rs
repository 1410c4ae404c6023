//! Generation: a worker thread picks what to do next (a batch on a file, a
//! batch on a stream, a refused submission, a fork) from its own seeded
//! generator.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::ffi::{
    aio_read, aio_write, errname, errno, gettid, now_ms, set_errno, Rng, LIO_READ, LIO_WRITE,
};
use crate::ledger::{note_expect_none, note_wait, pick_notify};
use crate::model::REG;
use crate::model::{FileRes, StreamRes};
use crate::report::{count, Activity, K};
use crate::req::Req;

pub(crate) const MAX_BATCH: usize = 8;

/// A batch making no progress for this long is a hang.
pub(crate) const HANG_MS: u64 = 30_000;
/// Bytes a stream may hold before a batch only drains it.
pub(crate) const STREAM_HIGH: usize = 16 << 10;

/// `PAIO_TORTURE_CANCEL=0` leaves aio_cancel out of the mix (for bisecting).
pub(crate) static CANCELS: AtomicBool = AtomicBool::new(true);
/// Running on paio: SIGEV_THREAD_ID is honoured (glibc silently ignores
/// it) and aio_fsync is a barrier behind earlier writes (glibc was seen to
/// complete an fsync before a write queued earlier on the same descriptor).
pub(crate) static THREAD_ID_OK: AtomicBool = AtomicBool::new(true);

pub(crate) struct Shared {
    pub(crate) files: Vec<FileRes>,
    pub(crate) streams: Vec<StreamRes>,
    pub(crate) stop: AtomicBool,
    pub(crate) activity: Vec<Activity>,
    pub(crate) dir: String,
}

pub(crate) struct Worker {
    pub(crate) idx: usize,
    pub(crate) rng: Rng,
    pub(crate) tid: i32,
    pub(crate) sh: Arc<Shared>,
    pub(crate) pool: Vec<&'static mut Req>,
    pub(crate) scratch: Vec<u8>,
    /// The NOP entry lists get now and then (never submitted by itself).
    pub(crate) nop: &'static mut Req,
    /// Ledger ids of LIO_NOWAIT list notifications still to be checked.
    pub(crate) list_notes: Vec<u64>,
}

impl Worker {
    pub(crate) fn beat(&self) {
        self.sh.activity[self.idx]
            .heartbeat
            .store(now_ms(), Relaxed);
    }
    pub(crate) fn set_activity(&self, what: String, reqs: &[usize]) {
        let a = &self.sh.activity[self.idx];
        *a.what.lock().unwrap() = what;
        *a.pending.lock().unwrap() = reqs
            .iter()
            .map(|&i| &*self.pool[i] as *const Req as usize)
            .collect();
        self.beat();
    }

    pub(crate) fn run(&mut self) {
        let mut next_fork = now_ms() + 1000 + self.rng.below(2000);
        while !self.sh.stop.load(Relaxed) {
            let k = self.rng.below(100);
            let nfiles = self.sh.files.len();
            if k < 45 {
                self.file_batch(0);
            } else if k < 65 && nfiles > 1 {
                self.file_batch(1);
            } else if k < 97 {
                self.stream_batch();
            } else {
                self.refusal();
            }
            if self.idx == 0 && now_ms() >= next_fork {
                self.fork_child();
                next_fork = now_ms() + 2000 + self.rng.below(3000);
            }
        }
        self.set_activity("finished".into(), &[]);
    }

    /// A request refused at submission (bad aio_reqprio): -1/EINVAL, the
    /// aiocb shows EINVAL, and no notification follows.
    pub(crate) fn refusal(&mut self) {
        let tid = self.tid;
        let (ev, note) = pick_notify(self.idx, &mut self.rng, tid);
        // Whatever was picked must never be delivered now.
        note_expect_none(note);
        let fd = self.sh.files[0].fds[0];
        let write = self.rng.pct(50);
        let prio = if self.rng.pct(50) { 21 } else { -1 };
        let r = &mut *self.pool[0];
        r.prep(
            fd,
            if write { LIO_WRITE } else { LIO_READ },
            16,
            0,
            ev,
            prio,
        );
        set_errno(0);
        // SAFETY: a valid aiocb and buffer.
        let rc = unsafe {
            if write {
                aio_write(r.cbp())
            } else {
                aio_read(r.cbp())
            }
        };
        let e = errno();
        if rc != -1 || e != libc::EINVAL {
            fail!(
                self.idx,
                "aio_reqprio={prio}: submission returned {rc} errno {}, expected -1/EINVAL",
                errname(e)
            );
        }
        let ae = r.error();
        if ae != libc::EINVAL {
            fail!(
                self.idx,
                "aio_reqprio={prio}: refused synchronously but aio_error = {}, expected EINVAL",
                errname(ae)
            );
        }
        count(K::Refused, 1);
    }

    /// Every member of the batch is done: a LIO_NOWAIT list's own
    /// notification must arrive (once).
    pub(crate) fn check_list_notes(&mut self) {
        for note in std::mem::take(&mut self.list_notes) {
            note_wait(self.idx, note);
        }
    }
}

/// Start worker `idx` of the run, with a generator derived from the run's seed.
pub(crate) fn spawn(sh: Arc<Shared>, idx: usize, run_seed: u64) -> std::thread::JoinHandle<()> {
    let seed = run_seed ^ (idx as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    std::thread::Builder::new()
        .name(format!("torture-{idx}"))
        .spawn(move || {
            let mut w = Worker {
                idx,
                rng: Rng(seed),
                tid: gettid(),
                sh,
                pool: (0..=MAX_BATCH + 4).map(|_| Req::new()).collect(),
                scratch: vec![0u8; REG],
                nop: Req::new(),
                list_notes: Vec::new(),
            };
            w.run();
            for note in std::mem::take(&mut w.list_notes) {
                note_wait(idx, note);
            }
        })
        .unwrap()
}
