//! Generation: a seed becomes a sequence of operations (descriptor changes,
//! AIO calls, waits, cancels, page-cache evictions, a fork, a signal probe)
//! whose observable outcome is fixed by POSIX, so that glibc and paio must
//! print the same transcript for it.
//!
//! The generator keeps a model of every descriptor slot, file and byte
//! stream, and only emits an operation when its outcome cannot depend on
//! timing:
//!
//! * on a regular file, no two requests in flight overlap where one of them
//!   writes, and a read reaching past the known size is only made while no
//!   write in flight could move that size;
//! * on a stream (pipe, socketpair direction) at most one read and one write
//!   are in flight; a read is made only when the bytes it will get are
//!   already there, or when nothing is there and exactly one atomic write
//!   (at most `PIPE_BUF`) will follow before it is waited for;
//! * a request is waited for only when it can complete (a read on an empty
//!   stream is fed first);
//! * a descriptor is closed or replaced only when no request on it is in
//!   flight (sourceware bug 14942, see `glibc_bugs`);
//! * a cancel of a request in flight may or may not cancel it: the request
//!   is then "settled" (its outcome is checked for consistency, not compared),
//!   and what it may have written is masked from every later comparison;
//! * a page-cache eviction may come at any time, requests in flight or not:
//!   it changes where the bytes come from, never what they are.
//!
//! `ops` is what the executor runs, `shape` what a run may leave out;
//! `model` is the generator's picture of the descriptors, files and
//! streams; the choice of each kind of operation lives in `descriptors`,
//! `requests`, `cancels` and `waits`, and this module picks among them.
//! The known-bug filters (`glibc_bugs`) sit where each choice is made.

mod cancels;
mod descriptors;
mod model;
mod ops;
mod requests;
mod shape;
mod waits;

use model::{FileModel, InFlight, StreamModel};
pub use ops::*;
pub use shape::{Shape, Without};

use crate::ffi::Rng;

pub const NCB: usize = 12;
pub const NSLOT: usize = 8;
pub const NFILE: usize = 3;
pub const FILE_SIZE: u64 = 64 << 10;
pub const BUF_CAP: usize = 96 << 10;
/// A stream write is atomic up to this many bytes (`PIPE_BUF`).
const ATOMIC: usize = 4096;
/// Bytes a stream may hold, well below a pipe's or a socket's capacity.
const STREAM_CAP: usize = 32 << 10;

pub struct Gen {
    without: Without,
    rng: Rng,
    slots: [Option<Res>; NSLOT],
    /// Bumped whenever a slot's descriptor changes.
    slot_gen: [u32; NSLOT],
    files: Vec<FileModel>,
    streams: Vec<StreamModel>,
    pending: [Option<InFlight>; NCB],
    /// Per aiocb: submitted at least once; its last target slot and that
    /// slot's generation then.
    used: [bool; NCB],
    last_slot: [Option<(usize, u32)>; NCB],
    next_note: u32,
    pub ops: Vec<Op>,
    forked: bool,
}

impl Gen {
    pub fn new(seed: u64, without: Without) -> Gen {
        Gen {
            without,
            rng: Rng(seed ^ 0xd1ff_f022),
            slots: [None; NSLOT],
            slot_gen: [0; NSLOT],
            files: (0..NFILE)
                .map(|_| FileModel {
                    min_size: FILE_SIZE,
                    max_size: FILE_SIZE,
                    taint: Vec::new(),
                })
                .collect(),
            streams: Vec::new(),
            pending: std::array::from_fn(|_| None),
            used: [false; NCB],
            last_slot: [None; NCB],
            next_note: 1,
            ops: Vec::new(),
            forked: false,
        }
    }

    /// The whole sequence for `seed`.
    pub fn sequence(seed: u64, shape: Shape) -> Vec<Op> {
        let mut g = Gen::new(seed, shape.without);
        // A few descriptors to start with.
        for _ in 0..g.rng.range(2, 4) {
            g.open_something();
        }
        let n = g
            .rng
            .range(15, 60)
            .min(shape.max_steps.unwrap_or(usize::MAX) as u64);
        let mut tries = 0;
        while g.ops.len() < n as usize && tries < 2000 {
            tries += 1;
            g.step();
        }
        g.drain();
        g.finish();
        g.ops
    }

    fn note(&mut self) -> u32 {
        self.next_note += 1;
        self.next_note - 1
    }

    fn pick_notify(&mut self) -> Notify {
        match self.rng.below(10) {
            0..=3 => Notify::None,
            4 => Notify::Signal0,
            5..=7 => {
                let n = self.note();
                Notify::Signal(n)
            }
            _ => {
                let n = self.note();
                Notify::Thread(n)
            }
        }
    }

    fn free_cb(&mut self) -> Option<usize> {
        let free: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_none()).collect();
        if free.is_empty() {
            return None;
        }
        Some(free[self.rng.below(free.len() as u64) as usize])
    }

    fn step(&mut self) {
        match self.rng.below(103) {
            0..=29 => self.submit_one(),
            30..=39 => self.lio(),
            40..=59 => self.wait_some(),
            60..=67 if !self.without.cancel => self.cancel(),
            68..=72 => self.suspend(),
            73..=76 => self.sync_write(),
            77..=80 => self.close(),
            81..=85 => self.open_something(),
            86..=88 => self.dup2(),
            89 | 90 => {
                if let Some(cb) = (0..NCB).find(|&c| !self.used[c]) {
                    self.ops.push(Op::ZeroedError { cb });
                }
            }
            // The child's own AIO runs only under paio (glibc's state is not
            // reset in a child: `glibc_bugs`, fork-child-state).
            91 | 92 if !self.forked && !self.without.fork => {
                self.forked = true;
                self.ops.push(Op::Fork);
            }
            // glibc runs a SIGEV_THREAD callback with signals unblocked: only
            // while none can run is the probe's answer fixed.
            93 | 94
                if !self.without.sigwait
                    && !self.pending.iter().flatten().any(|p| p.thread_note) =>
            {
                self.ops.push(Op::SigwaitProbe);
            }
            95..=99 if !self.without.direct_reuse => self.reopen_direct_as_stream(),
            // As often as dup2: most sequences then read, cancel, list and
            // fork on a file whose pages are gone.
            100.. if !self.without.evict => self.evict(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The executor of each library regenerates the sequence from the seed:
    /// it must be the same every time.
    #[test]
    fn a_seed_gives_one_sequence() {
        for seed in 0..300 {
            let a = format!("{:?}", Gen::sequence(seed, Shape::default()));
            let b = format!("{:?}", Gen::sequence(seed, Shape::default()));
            assert_eq!(a, b, "seed {seed}");
        }
    }

    /// `--without evict` leaves every eviction out, and the replay command
    /// (`Shape::args`) gives the same choice back.
    #[test]
    fn evictions_are_generated_and_can_be_left_out() {
        let evicts = |shape: Shape| {
            (0..300)
                .flat_map(|seed| Gen::sequence(seed, shape))
                .filter(|op| matches!(op, Op::Evict { .. }))
                .count()
        };
        assert!(evicts(Shape::default()) > 100);
        let without = Without::parse("evict").expect("a known family");
        assert_eq!(without.arg(), "evict");
        let shape = Shape {
            without,
            ..Shape::default()
        };
        assert_eq!(evicts(shape), 0);
    }

    /// No aiocb is submitted again while the model has it in flight, and
    /// every sequence ends with everything waited for and the final check.
    #[test]
    fn aiocbs_are_reused_only_after_a_wait() {
        for seed in 0..2000 {
            let ops = Gen::sequence(seed, Shape::default());
            let mut inflight = [false; NCB];
            let submit = |inflight: &mut [bool; NCB], r: &Req| {
                assert!(!inflight[r.cb], "seed {seed}: cb{} reused in flight", r.cb);
                let refused = !matches!(r.call, Call::Fsync { .. }) && !(0..=20).contains(&r.prio);
                let fsync_refused = matches!(r.call, Call::Fsync { bad_op: true, .. })
                    || (matches!(r.call, Call::Fsync { .. }) && r.target == Target::BadFd);
                inflight[r.cb] = !refused && !fsync_refused;
            };
            for op in &ops {
                match op {
                    Op::Submit(r) => submit(&mut inflight, r),
                    Op::Lio { wait, entries, .. } => {
                        for e in entries {
                            if let LioEntry::Req(r) = e {
                                submit(&mut inflight, r);
                                if *wait {
                                    inflight[r.cb] = false;
                                }
                            }
                        }
                    }
                    Op::Wait { cbs } => {
                        for &(c, _) in cbs {
                            inflight[c] = false;
                        }
                    }
                    _ => {}
                }
            }
            assert!(
                inflight.iter().all(|&f| !f),
                "seed {seed}: left in flight at the end"
            );
            assert!(matches!(ops.last(), Some(Op::Final { .. })), "seed {seed}");
        }
    }
}
