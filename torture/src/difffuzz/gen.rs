//! Generation: a seed becomes a sequence of operations (descriptor changes,
//! AIO calls, waits, cancels, a fork, a signal probe) whose observable
//! outcome is fixed by POSIX, so that glibc and paio must print the same
//! transcript for it.
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
//!   and what it may have written is masked from every later comparison.

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

/// What a descriptor slot holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Res {
    /// Regular file `file` (file 2 is opened `O_DIRECT`).
    File(usize),
    /// Read end of stream `s`.
    StreamR(usize),
    /// Write end of stream `s`.
    StreamW(usize),
    /// One end of a socketpair: reads stream `rd`, writes stream `wr`.
    Sock {
        rd: usize,
        wr: usize,
    },
    DevNull,
    DevZero,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Open {
    File(usize),
    Pipe,
    SocketPair,
    DevNull,
    DevZero,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    Slot(usize),
    /// A number no descriptor has.
    BadFd,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Notify {
    None,
    /// `SIGEV_SIGNAL` with signal 0 (the null signal: nothing is delivered).
    Signal0,
    /// `SIGEV_SIGNAL` with the harness's real-time signal, `si_value` = id.
    Signal(u32),
    /// `SIGEV_THREAD` calling the harness's callback with the id.
    Thread(u32),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Call {
    Read,
    Write,
    /// `aio_fsync` with `O_DSYNC` (true) or `O_SYNC`; `Some(op)` an invalid op.
    Fsync {
        dsync: bool,
        bad_op: bool,
    },
}

/// One request's aiocb as the generator made it.
#[derive(Clone, Debug)]
pub struct Req {
    pub cb: usize,
    pub call: Call,
    pub target: Target,
    pub off: i64,
    pub len: usize,
    /// Offset of the data inside the aiocb's buffer (0 or a misalignment).
    pub buf_off: usize,
    pub null_buf: bool,
    pub prio: i32,
    pub notify: Notify,
    /// Seed of the bytes a write carries.
    pub data: u64,
}

/// How a waited request's outcome is printed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// `aio_error`, `aio_return` and (reads) the bytes read.
    Exact,
    /// A cancel may have hit it: only the consistency of the pair.
    Settled,
}

#[derive(Clone, Debug)]
pub enum LioEntry {
    Null,
    Nop,
    Req(Req),
}

#[derive(Clone, Debug)]
pub enum Cancel {
    /// `aio_cancel(fd, cb)` of a request in flight: any of the three answers,
    /// consistent with `aio_error` right after.
    InFlight { slot: usize, cb: usize },
    /// `aio_cancel(fd, NULL)` with requests in flight (the aiocbs listed).
    AllInFlight { slot: usize, cbs: Vec<usize> },
    /// Answers fixed by POSIX: nothing in flight, a finished request, a bad
    /// descriptor, an aiocb of another descriptor.
    Fixed { target: Target, cb: Option<usize> },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Timeout {
    Null,
    Zero,
    Ms(u32),
}

#[derive(Clone, Debug)]
pub enum Op {
    Open {
        slots: [usize; 2],
        what: Open,
    },
    Close {
        slot: usize,
    },
    Dup2 {
        src: usize,
        dst: usize,
    },
    Submit(Req),
    Lio {
        wait: bool,
        entries: Vec<LioEntry>,
        notify: Notify,
    },
    /// Wait until every listed request is done, then print each outcome.
    Wait {
        cbs: Vec<(usize, Outcome)>,
    },
    Cancel(Cancel),
    /// `aio_suspend`; `fixed`: the result is fixed (a listed request is
    /// done, or none can finish) and printed.
    Suspend {
        cbs: Vec<Option<usize>>,
        timeout: Timeout,
        fixed: bool,
    },
    /// `write(2)` on a stream slot, `len` bytes of pattern `data`.
    SyncWrite {
        slot: usize,
        len: usize,
        data: u64,
    },
    /// `aio_error` of an aiocb that was never submitted (all zero): 0.
    ZeroedError {
        cb: usize,
    },
    /// `fork`: the child does a write and a read of its own and exits.
    Fork,
    /// SIGUSR2 sent to the process while the main thread blocks it and waits
    /// for it with `sigtimedwait`: no other thread may take it.
    SigwaitProbe,
    /// The end: every file's content and every stream's leftover bytes.
    Final {
        /// Per file: ranges whose content is not known.
        masks: Vec<Vec<(u64, u64)>>,
        /// Per file: the least and the most its size can be.
        sizes: Vec<(u64, u64)>,
        /// Per stream still readable: the slot reading it, the bytes it holds.
        streams: Vec<Option<(usize, usize)>>,
    },
}

// ------------------------------------------------------------ the model

#[derive(Clone, Debug)]
enum Pending {
    FileRead {
        file: usize,
        start: u64,
        end: u64,
    },
    FileWrite {
        file: usize,
        start: u64,
        end: u64,
        certain: bool,
        extends: bool,
    },
    /// Reads on a stream: `blocked` until a write feeds it.
    StreamRead {
        s: usize,
        fed: bool,
    },
    StreamWrite {
        s: usize,
    },
    Other,
}

#[derive(Clone, Debug)]
struct InFlight {
    slot: Option<usize>,
    what: Pending,
    maybe_cancelled: bool,
    /// Its completion (or its list's) starts a `SIGEV_THREAD` callback.
    thread_note: bool,
}

#[derive(Clone, Debug, Default)]
struct FileModel {
    /// Size every completed write is known to have reached.
    min_size: u64,
    max_size: u64,
    /// Ranges whose content is not known (a write that may have failed or
    /// been cancelled).
    taint: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, Default)]
struct StreamModel {
    avail: usize,
    readers: usize,
    writers: usize,
    /// `(cb, asked, fed)` of the read in flight.
    read: Option<(usize, usize, bool)>,
    write: Option<usize>,
    /// Its content is unknown (a cancel may have hit a transfer).
    tainted: bool,
}

/// Families of operations a run may leave out (`--without`), to look past a
/// known paio defect for others while it is being fixed. All are in by
/// default.
#[derive(Clone, Copy, Default, Debug)]
pub struct Without {
    /// The SIGUSR2 `sigtimedwait` probe.
    pub sigwait: bool,
    pub fork: bool,
    /// Closing (or replacing) the `O_DIRECT` file's descriptor, so its
    /// number is never reused by another file.
    pub direct_reuse: bool,
    /// Cancels of requests in flight.
    pub cancel: bool,
}

impl Without {
    pub fn parse(list: &str) -> Option<Without> {
        let mut w = Without::default();
        for k in list.split(',').filter(|k| !k.is_empty()) {
            match k {
                "sigwait" => w.sigwait = true,
                "fork" => w.fork = true,
                "direct-reuse" => w.direct_reuse = true,
                "cancel" => w.cancel = true,
                _ => return None,
            }
        }
        Some(w)
    }

    /// The argument that gives this back to `parse`.
    pub fn arg(&self) -> String {
        let mut v = Vec::new();
        for (on, name) in [
            (self.sigwait, "sigwait"),
            (self.fork, "fork"),
            (self.direct_reuse, "direct-reuse"),
            (self.cancel, "cancel"),
        ] {
            if on {
                v.push(name);
            }
        }
        v.join(",")
    }
}

/// What a sequence is made of: the families left out, and (to shrink a
/// failing sequence) the most steps before the drain. A sequence cut to
/// fewer steps is a prefix of the full one: the steps draw from the
/// generator in the same order.
#[derive(Clone, Copy, Default, Debug)]
pub struct Shape {
    pub without: Without,
    pub max_steps: Option<usize>,
}

impl Shape {
    /// The command-line arguments that give this shape back.
    pub fn args(&self) -> Vec<String> {
        let mut v = Vec::new();
        let w = self.without.arg();
        if !w.is_empty() {
            v.push("--without".to_string());
            v.push(w);
        }
        if let Some(n) = self.max_steps {
            v.push("--max-steps".to_string());
            v.push(n.to_string());
        }
        v
    }
}

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

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
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

    fn free_slots(&self) -> Vec<usize> {
        (0..NSLOT).filter(|&s| self.slots[s].is_none()).collect()
    }

    fn open_slots(&self) -> Vec<usize> {
        (0..NSLOT).filter(|&s| self.slots[s].is_some()).collect()
    }

    /// A request is in flight on the slot's descriptor, or on a stream the
    /// slot reads or writes (closing the last reader decides whether a
    /// write in flight gets `EPIPE`).
    fn busy_slot(&self, slot: usize) -> bool {
        let streams: Vec<usize> = match self.slots[slot] {
            Some(Res::StreamR(s)) | Some(Res::StreamW(s)) => vec![s],
            Some(Res::Sock { rd, wr }) => vec![rd, wr],
            _ => Vec::new(),
        };
        self.pending.iter().flatten().any(|p| {
            p.slot == Some(slot)
                || match p.what {
                    Pending::StreamRead { s, .. } | Pending::StreamWrite { s } => {
                        streams.contains(&s)
                    }
                    _ => false,
                }
        })
    }

    fn stream_counts(&mut self, r: Res, delta: isize) {
        let add = |x: &mut usize| *x = (*x as isize + delta) as usize;
        match r {
            Res::StreamR(s) => add(&mut self.streams[s].readers),
            Res::StreamW(s) => add(&mut self.streams[s].writers),
            Res::Sock { rd, wr } => {
                add(&mut self.streams[rd].readers);
                add(&mut self.streams[wr].writers);
            }
            _ => {}
        }
        if delta < 0 {
            // The last writer gone: a read waiting on an empty stream gets
            // end-of-file now.
            for s in 0..self.streams.len() {
                let st = &mut self.streams[s];
                if st.writers == 0 {
                    if let Some((cb, _, false)) = st.read {
                        if st.avail == 0 {
                            st.read = Some((cb, 0, true));
                            if let Some(p) = self.pending[cb].as_mut() {
                                p.what = Pending::StreamRead { s, fed: true };
                            }
                        }
                    }
                }
            }
        }
    }

    fn set_slot(&mut self, slot: usize, r: Option<Res>) {
        if let Some(old) = self.slots[slot] {
            self.stream_counts(old, -1);
            // A socket closed with unread bytes resets the connection: the
            // peer's reads get ECONNRESET or the bytes, by timing.
            if let Res::Sock { rd, wr } = old {
                if self.streams[rd].readers == 0
                    && (self.streams[rd].avail > 0 || self.streams[rd].tainted)
                {
                    self.streams[rd].tainted = true;
                    self.streams[wr].tainted = true;
                }
            }
        }
        self.slots[slot] = r;
        self.slot_gen[slot] += 1;
        if let Some(new) = r {
            self.stream_counts(new, 1);
        }
    }

    fn open_something(&mut self) {
        let free = self.free_slots();
        if free.is_empty() {
            return;
        }
        let what = match self.rng.below(12) {
            0..=5 => Open::File(self.rng.below(NFILE as u64) as usize),
            6 | 7 => Open::Pipe,
            8 | 9 => Open::SocketPair,
            10 => Open::DevNull,
            _ => Open::DevZero,
        };
        let two = matches!(what, Open::Pipe | Open::SocketPair);
        if two && free.len() < 2 {
            return;
        }
        // The kernel hands out the lowest free numbers: slots are filled in
        // the executor in the order given, the lowest slot first.
        let slots = [free[0], if two { free[1] } else { free[0] }];
        match what {
            Open::File(f) => self.set_slot(slots[0], Some(Res::File(f))),
            Open::DevNull => self.set_slot(slots[0], Some(Res::DevNull)),
            Open::DevZero => self.set_slot(slots[0], Some(Res::DevZero)),
            Open::Pipe => {
                let s = self.streams.len();
                self.streams.push(StreamModel::default());
                self.set_slot(slots[0], Some(Res::StreamR(s)));
                self.set_slot(slots[1], Some(Res::StreamW(s)));
            }
            Open::SocketPair => {
                let s = self.streams.len();
                self.streams.push(StreamModel::default());
                self.streams.push(StreamModel::default());
                self.set_slot(slots[0], Some(Res::Sock { rd: s, wr: s + 1 }));
                self.set_slot(slots[1], Some(Res::Sock { rd: s + 1, wr: s }));
            }
        }
        self.ops.push(Op::Open { slots, what });
    }

    fn step(&mut self) {
        match self.rng.below(100) {
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
            95.. if !self.without.direct_reuse => self.reopen_direct_as_stream(),
            _ => {}
        }
    }

    /// The transition sourceware bug 14942's relative in paio was found
    /// with: the `O_DIRECT` file's number closed (after its requests
    /// finished) and handed to a pipe or a socketpair at once.
    fn reopen_direct_as_stream(&mut self) {
        let Some(slot) = (0..NSLOT).find(|&s| self.slots[s] == Some(Res::File(2))) else {
            self.open_file_direct();
            return;
        };
        if self.busy_slot(slot) {
            return;
        }
        self.ops.push(Op::Close { slot });
        self.set_slot(slot, None);
        let what = if self.rng.pct(50) {
            Open::Pipe
        } else {
            Open::SocketPair
        };
        self.open_something_kind(what);
    }

    fn open_file_direct(&mut self) {
        if let Some(&slot) = self.free_slots().first() {
            self.set_slot(slot, Some(Res::File(2)));
            self.ops.push(Op::Open {
                slots: [slot, slot],
                what: Open::File(2),
            });
        }
    }

    fn open_something_kind(&mut self, what: Open) {
        let free = self.free_slots();
        if free.len() < 2 {
            return;
        }
        let slots = [free[0], free[1]];
        let s = self.streams.len();
        self.streams.push(StreamModel::default());
        if what == Open::Pipe {
            self.set_slot(slots[0], Some(Res::StreamR(s)));
            self.set_slot(slots[1], Some(Res::StreamW(s)));
        } else {
            self.streams.push(StreamModel::default());
            self.set_slot(slots[0], Some(Res::Sock { rd: s, wr: s + 1 }));
            self.set_slot(slots[1], Some(Res::Sock { rd: s + 1, wr: s }));
        }
        self.ops.push(Op::Open { slots, what });
    }

    fn close(&mut self) {
        let open = self.open_slots();
        if open.is_empty() {
            return;
        }
        let slot = open[self.rng.below(open.len() as u64) as usize];
        if self.busy_slot(slot) || self.keep_direct(slot) {
            return;
        }
        self.set_slot(slot, None);
        self.ops.push(Op::Close { slot });
    }

    fn keep_direct(&self, slot: usize) -> bool {
        self.without.direct_reuse && self.slots[slot] == Some(Res::File(2))
    }

    fn dup2(&mut self) {
        let open = self.open_slots();
        if open.is_empty() {
            return;
        }
        let src = open[self.rng.below(open.len() as u64) as usize];
        let dst = self.rng.below(NSLOT as u64) as usize;
        if dst == src || self.busy_slot(dst) || self.keep_direct(dst) {
            return;
        }
        let r = self.slots[src];
        self.set_slot(dst, r);
        self.ops.push(Op::Dup2 { src, dst });
    }

    // -------------------------------------------------------- requests

    /// A request on `cb` (read or write unless `fsync_ok`), if one whose
    /// outcome is fixed can be made now; the model is updated as if it was
    /// submitted.
    fn make_req(&mut self, cb: usize, fsync_ok: bool, in_lio_wait: bool) -> Option<Req> {
        let call = match self.rng.below(10) {
            0 if fsync_ok => Call::Fsync {
                dsync: self.rng.pct(50),
                bad_op: self.rng.pct(10),
            },
            1..=4 => Call::Write,
            _ => Call::Read,
        };
        let open = self.open_slots();
        let target = if open.is_empty() || self.rng.pct(6) {
            Target::BadFd
        } else {
            Target::Slot(open[self.rng.below(open.len() as u64) as usize])
        };
        let mut req = Req {
            cb,
            call,
            target,
            off: 0,
            len: 0,
            buf_off: 0,
            null_buf: false,
            prio: self.rng.below(21) as i32,
            notify: Notify::None,
            data: self.rng.next(),
        };
        // A priority out of range makes aio_read/aio_write refuse the
        // request at once, whatever the target; aio_fsync ignores it.
        let bad_prio = !in_lio_wait && self.rng.pct(4);
        if bad_prio {
            req.prio = if self.rng.pct(50) { 21 } else { -1 };
        }
        let refused = bad_prio && !matches!(call, Call::Fsync { .. });
        if let Target::Slot(s) = target {
            if self.blocked_on(s) {
                return None;
            }
        }
        let res = match target {
            Target::Slot(s) => self.slots[s],
            Target::BadFd => None,
        };
        let what = match (call, res) {
            (Call::Fsync { .. }, _) => {
                req.len = 0;
                Pending::Other
            }
            (_, None) => {
                req.len = self.rng.range(0, 4096) as usize;
                Pending::Other
            }
            (_, Some(Res::File(f))) => {
                let direct = f == 2;
                let (off, len) = if direct && self.rng.pct(85) {
                    (
                        4096 * self.rng.range(0, 20),
                        4096 * self.rng.range(0, 4) as usize,
                    )
                } else if self.rng.pct(3) {
                    (-(self.rng.range(1, 4096) as i64) as u64, 16)
                } else {
                    (
                        self.rng.range(0, 80 << 10),
                        self.rng.range(0, 16 << 10) as usize,
                    )
                };
                req.off = off as i64;
                req.len = len;
                if direct && self.rng.pct(10) {
                    req.buf_off = 512 * self.rng.range(1, 7) as usize;
                } else if !direct && self.rng.pct(20) {
                    req.buf_off = self.rng.range(1, 4095) as usize;
                }
                if self.rng.pct(2) && len > 0 {
                    req.null_buf = true;
                }
                if req.off < 0 {
                    Pending::Other
                } else {
                    let range = (off, off + len as u64);
                    let fm = &self.files[f];
                    let busy = self.pending.iter().flatten().any(|p| match p.what {
                        Pending::FileWrite {
                            file, start, end, ..
                        } => file == f && overlaps(range, (start, end)),
                        Pending::FileRead { file, start, end } => {
                            call == Call::Write && file == f && overlaps(range, (start, end))
                        }
                        _ => false,
                    });
                    if busy || fm.taint.iter().any(|&t| overlaps(range, t)) {
                        return None;
                    }
                    if call == Call::Read {
                        if range.1 > fm.min_size {
                            // Past the known size: only when nothing in
                            // flight can move it.
                            let moving = self.pending.iter().flatten().any(|p| {
                                matches!(p.what, Pending::FileWrite { file, end, .. } if file == f && end > fm.min_size)
                            });
                            if moving || fm.min_size != fm.max_size {
                                return None;
                            }
                        }
                        Pending::FileRead {
                            file: f,
                            start: range.0,
                            end: range.1,
                        }
                    } else {
                        // Nor may a write move the size under a read in
                        // flight that reaches past it.
                        if range.1 > fm.min_size {
                            let reading_past = self.pending.iter().flatten().any(|p| {
                                matches!(p.what, Pending::FileRead { file, end, .. } if file == f && end > fm.min_size)
                            });
                            if reading_past {
                                return None;
                            }
                        }
                        // A misaligned O_DIRECT write fails on most
                        // filesystems but not all; a NULL buffer fails.
                        let aligned =
                            !direct || (off % 4096 == 0 && len % 4096 == 0 && req.buf_off == 0);
                        let certain = aligned && !req.null_buf && !refused;
                        Pending::FileWrite {
                            file: f,
                            start: range.0,
                            end: range.1,
                            certain,
                            extends: len > 0 && range.1 > fm.min_size,
                        }
                    }
                }
            }
            (Call::Read, Some(Res::StreamW(_))) | (Call::Write, Some(Res::StreamR(_))) => {
                // The wrong end of a pipe: EBADF.
                req.len = self.rng.range(1, 100) as usize;
                Pending::Other
            }
            (_, Some(Res::DevNull)) | (_, Some(Res::DevZero)) => {
                req.len = self.rng.range(0, 8192) as usize;
                req.off = if self.rng.pct(5) {
                    -1
                } else {
                    self.rng.range(0, 1 << 20) as i64
                };
                Pending::Other
            }
            (Call::Read, Some(Res::StreamR(s))) | (Call::Read, Some(Res::Sock { rd: s, .. })) => {
                let st = &self.streams[s];
                if st.tainted || st.read.is_some() || st.write.is_some() {
                    return None;
                }
                req.len = self.rng.range(1, 6000) as usize;
                req.off = self.rng.range(0, 1 << 20) as i64;
                let slot = match target {
                    Target::Slot(x) => x,
                    Target::BadFd => unreachable!(),
                };
                if refused {
                    Pending::Other
                } else if st.avail > 0 {
                    // It gets what is there now, and no write may add to it
                    // before it is waited for.
                    let got = req.len.min(st.avail);
                    self.streams[s].avail -= got;
                    self.streams[s].read = Some((cb, req.len, true));
                    Pending::StreamRead { s, fed: true }
                } else if st.writers == 0 {
                    self.streams[s].read = Some((cb, req.len, true));
                    Pending::StreamRead { s, fed: true }
                } else if in_lio_wait {
                    return None;
                } else if self.pending.iter().flatten().any(|p| p.slot == Some(slot)) {
                    // glibc may run this read before what is queued on the
                    // descriptor already (by aio_reqprio), and block it.
                    return None;
                } else {
                    self.streams[s].read = Some((cb, req.len, false));
                    Pending::StreamRead { s, fed: false }
                }
            }
            (Call::Write, Some(Res::StreamW(s))) | (Call::Write, Some(Res::Sock { wr: s, .. })) => {
                let len = self.rng.range(1, ATOMIC as u64) as usize;
                if !self.stream_write_ok(s, len) {
                    return None;
                }
                req.len = len;
                req.off = self.rng.range(0, 1 << 20) as i64;
                if refused {
                    Pending::Other
                } else {
                    self.stream_wrote(s, len);
                    self.streams[s].write = Some(cb);
                    Pending::StreamWrite { s }
                }
            }
        };
        if in_lio_wait {
            if let Pending::StreamRead { fed: false, .. } = what {
                return None;
            }
        }
        req.notify = self.pick_notify();
        self.used[cb] = true;
        self.last_slot[cb] = match target {
            Target::Slot(s) => Some((s, self.slot_gen[s])),
            Target::BadFd => None,
        };
        let sync_refusal = refused
            || matches!(call, Call::Fsync { bad_op: true, .. })
            || (matches!(call, Call::Fsync { .. }) && target == Target::BadFd);
        if !sync_refusal {
            self.pending[cb] = Some(InFlight {
                slot: match target {
                    Target::Slot(s) => Some(s),
                    Target::BadFd => None,
                },
                what,
                maybe_cancelled: false,
                thread_note: matches!(req.notify, Notify::Thread(_)),
            });
        }
        Some(req)
    }

    /// A read on an empty stream waits on the slot: glibc runs the requests
    /// of one descriptor one at a time, so nothing else may be queued there
    /// (`glibc_bugs`: per-descriptor-serialisation).
    /// Also while a cancel may have hit a request on the slot: glibc was
    /// seen to lose what is queued on a descriptor around a cancelled
    /// request (`glibc_bugs`: cancel-loses-queue).
    fn blocked_on(&self, slot: usize) -> bool {
        self.pending.iter().flatten().any(|p| {
            p.slot == Some(slot)
                && (p.maybe_cancelled || matches!(p.what, Pending::StreamRead { fed: false, .. }))
        })
    }

    fn pending_on(&self, slot: usize) -> usize {
        self.pending
            .iter()
            .flatten()
            .filter(|p| p.slot == Some(slot))
            .count()
    }

    fn stream_write_ok(&self, s: usize, len: usize) -> bool {
        let st = &self.streams[s];
        if st.tainted || st.write.is_some() {
            return false;
        }
        if let Some((_, _, fed)) = st.read {
            if fed {
                return false;
            }
        }
        st.readers == 0 || st.avail + len <= STREAM_CAP
    }

    /// `len` bytes written to stream `s` (or EPIPE when nobody reads it).
    fn stream_wrote(&mut self, s: usize, len: usize) {
        let st = &mut self.streams[s];
        if st.readers == 0 {
            return;
        }
        if let Some((cb, asked, false)) = st.read {
            let got = asked.min(len);
            st.read = Some((cb, asked, true));
            st.avail += len - got;
            if let Some(p) = self.pending[cb].as_mut() {
                p.what = Pending::StreamRead { s, fed: true };
            }
        } else {
            st.avail += len;
        }
    }

    fn submit_one(&mut self) {
        let Some(cb) = self.free_cb() else { return };
        if let Some(req) = self.make_req(cb, true, false) {
            self.ops.push(Op::Submit(req));
        }
    }

    fn lio(&mut self) {
        let wait = self.rng.pct(50);
        let mut entries = Vec::new();
        let n = self.rng.range(0, 5);
        let mut taken = Vec::new();
        for _ in 0..n {
            if self.rng.pct(8) {
                entries.push(LioEntry::Null);
            }
            if self.rng.pct(8) {
                entries.push(LioEntry::Nop);
            }
            let Some(cb) = self.free_cb() else { break };
            if let Some(req) = self.make_req(cb, false, wait) {
                // Refused members are left to aio_read/aio_write.
                if req.prio < 0 || req.prio > 20 {
                    self.pending[cb] = None;
                    continue;
                }
                taken.push(cb);
                entries.push(LioEntry::Req(req));
            }
        }
        let notify = self.pick_notify();
        if matches!(notify, Notify::Thread(_)) && !wait {
            for &c in &taken {
                if let Some(p) = self.pending[c].as_mut() {
                    p.thread_note = true;
                }
            }
        }
        if wait {
            // Every member is done when LIO_WAIT returns.
            let outs = taken
                .iter()
                .map(|&c| (c, Outcome::Exact))
                .collect::<Vec<_>>();
            for (c, _) in &outs {
                self.complete(*c);
            }
        }
        self.ops.push(Op::Lio {
            wait,
            entries,
            notify,
        });
    }

    /// Request `cb` is done (waited for): release what it held in the model.
    fn complete(&mut self, cb: usize) -> Outcome {
        let Some(p) = self.pending[cb].take() else {
            return Outcome::Exact;
        };
        let out = if p.maybe_cancelled {
            Outcome::Settled
        } else {
            Outcome::Exact
        };
        match p.what {
            Pending::FileWrite {
                file,
                start,
                end,
                certain,
                ..
            } => {
                // A write of nothing leaves the size alone.
                let fm = &mut self.files[file];
                if end > start {
                    if certain && !p.maybe_cancelled {
                        fm.min_size = fm.min_size.max(end);
                    } else {
                        fm.taint.push((start, end));
                    }
                    fm.max_size = fm.max_size.max(end);
                }
            }
            Pending::StreamRead { s, .. } => {
                self.streams[s].read = None;
                if p.maybe_cancelled {
                    self.streams[s].tainted = true;
                }
            }
            Pending::StreamWrite { s } => {
                self.streams[s].write = None;
                if p.maybe_cancelled {
                    self.streams[s].tainted = true;
                }
            }
            _ => {}
        }
        out
    }

    fn waitable(&self, cb: usize) -> bool {
        match &self.pending[cb] {
            Some(p) => !matches!(p.what, Pending::StreamRead { fed: false, .. }),
            None => false,
        }
    }

    fn wait_some(&mut self) {
        let ready: Vec<usize> = (0..NCB).filter(|&c| self.waitable(c)).collect();
        if ready.is_empty() {
            return;
        }
        let k = self.rng.range(1, ready.len() as u64) as usize;
        let mut cbs = Vec::new();
        for &c in ready.iter().take(k) {
            let out = self.complete(c);
            cbs.push((c, out));
        }
        self.ops.push(Op::Wait { cbs });
    }

    fn cancel(&mut self) {
        let inflight: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_some()).collect();
        match self.rng.below(6) {
            0 | 1 if !inflight.is_empty() => {
                let cb = inflight[self.rng.below(inflight.len() as u64) as usize];
                let Some(slot) = self.pending[cb].as_ref().and_then(|p| p.slot) else {
                    return;
                };
                if !self.cancellable(cb) || self.pending_on(slot) != 1 {
                    return;
                }
                self.mark_cancelled(cb);
                self.ops.push(Op::Cancel(Cancel::InFlight { slot, cb }));
                self.feed_after_cancel(&[cb], true);
            }
            2 => {
                let open = self.open_slots();
                if open.is_empty() {
                    return;
                }
                let slot = open[self.rng.below(open.len() as u64) as usize];
                let cbs: Vec<usize> = inflight
                    .iter()
                    .copied()
                    .filter(|&c| self.pending[c].as_ref().unwrap().slot == Some(slot))
                    .collect();
                if cbs.is_empty() {
                    self.ops.push(Op::Cancel(Cancel::Fixed {
                        target: Target::Slot(slot),
                        cb: None,
                    }));
                } else if cbs.iter().all(|&c| self.cancellable(c)) {
                    for &c in &cbs {
                        self.mark_cancelled(c);
                    }
                    self.ops.push(Op::Cancel(Cancel::AllInFlight {
                        slot,
                        cbs: cbs.clone(),
                    }));
                    self.feed_after_cancel(&cbs, true);
                }
            }
            3 => self.ops.push(Op::Cancel(Cancel::Fixed {
                target: Target::BadFd,
                cb: None,
            })),
            _ => {
                // A finished request: on its own descriptor (AIO_ALLDONE), or
                // named with another open descriptor (EINVAL).
                let done: Vec<usize> = (0..NCB)
                    .filter(|&c| {
                        self.pending[c].is_none()
                            && self.last_slot[c].is_some_and(|(s, g)| self.slot_gen[s] == g)
                    })
                    .collect();
                if done.is_empty() {
                    return;
                }
                let cb = done[self.rng.below(done.len() as u64) as usize];
                let (own, _) = self.last_slot[cb].unwrap();
                let open = self.open_slots();
                let slot = if self.rng.pct(70) {
                    own
                } else {
                    open[self.rng.below(open.len() as u64) as usize]
                };
                self.ops.push(Op::Cancel(Cancel::Fixed {
                    target: Target::Slot(slot),
                    cb: Some(cb),
                }));
            }
        }
    }

    /// A write that may have extended the file must not be cancelled: the
    /// file's size would no longer be known.
    fn cancellable(&self, cb: usize) -> bool {
        !matches!(
            self.pending[cb].as_ref().map(|p| &p.what),
            Some(Pending::FileWrite { extends: true, .. })
        )
    }

    fn mark_cancelled(&mut self, cb: usize) {
        if let Some(p) = self.pending[cb].as_mut() {
            p.maybe_cancelled = true;
            match p.what {
                Pending::StreamRead { s, .. } | Pending::StreamWrite { s } => {
                    self.streams[s].tainted = true;
                }
                _ => {}
            }
        }
    }

    /// A read left waiting on an empty stream may not have been cancelled,
    /// and a write that was to feed a read may have been: write something
    /// so the read can finish either way (the stream is tainted already).
    fn feed_after_cancel(&mut self, cbs: &[usize], uncertain: bool) {
        let mut feed = Vec::new();
        for &cb in cbs {
            match self.pending[cb].as_ref().map(|p| p.what.clone()) {
                Some(Pending::StreamRead { s, fed: false }) => feed.push(s),
                Some(Pending::StreamWrite { s }) if self.streams[s].read.is_some() => feed.push(s),
                _ => {}
            }
        }
        for s in feed {
            let Some(slot) = (0..NSLOT).find(|&w| match self.slots[w] {
                Some(Res::StreamW(x)) => x == s,
                Some(Res::Sock { wr, .. }) => wr == s,
                _ => false,
            }) else {
                continue;
            };
            let len = self.rng.range(1, 512) as usize;
            let data = self.rng.next();
            self.ops.push(Op::SyncWrite { slot, len, data });
            if let Some((c, a, _)) = self.streams[s].read {
                self.streams[s].read = Some((c, a, true));
                if let Some(p) = self.pending[c].as_mut() {
                    p.what = Pending::StreamRead { s, fed: true };
                    // What it reads now depends on whether the cancel hit.
                    p.maybe_cancelled |= uncertain;
                }
            }
        }
    }

    fn suspend(&mut self) {
        let mut cbs: Vec<Option<usize>> = Vec::new();
        let done: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_none()).collect();
        let blocked: Vec<usize> = (0..NCB)
            .filter(|&c| self.pending[c].is_some() && !self.waitable(c))
            .collect();
        let inflight: Vec<usize> = (0..NCB).filter(|&c| self.pending[c].is_some()).collect();
        let kind = self.rng.below(3);
        let (fixed, timeout) = if kind == 0 && !done.is_empty() {
            cbs.push(Some(done[self.rng.below(done.len() as u64) as usize]));
            for &c in inflight.iter().take(3) {
                cbs.push(Some(c));
            }
            let t = match self.rng.below(3) {
                0 => Timeout::Null,
                1 => Timeout::Zero,
                _ => Timeout::Ms(1000),
            };
            (true, t)
        } else if kind == 1 && !blocked.is_empty() {
            cbs.extend(blocked.iter().map(|&c| Some(c)));
            (
                true,
                if self.rng.pct(50) {
                    Timeout::Zero
                } else {
                    Timeout::Ms(5)
                },
            )
        } else if !inflight.is_empty() {
            cbs.extend(inflight.iter().map(|&c| Some(c)));
            (
                false,
                if self.rng.pct(50) {
                    Timeout::Zero
                } else {
                    Timeout::Ms(2)
                },
            )
        } else {
            return;
        };
        if self.rng.pct(15) {
            let at = self.rng.below(cbs.len() as u64 + 1) as usize;
            cbs.insert(at, None);
        }
        // Shuffle: which listed request is done must not matter.
        for i in (1..cbs.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            cbs.swap(i, j);
        }
        self.ops.push(Op::Suspend {
            cbs,
            timeout,
            fixed,
        });
    }

    fn sync_write(&mut self) {
        let writers: Vec<(usize, usize)> = (0..NSLOT)
            .filter_map(|w| match self.slots[w] {
                Some(Res::StreamW(s)) => Some((w, s)),
                Some(Res::Sock { wr, .. }) => Some((w, wr)),
                _ => None,
            })
            .collect();
        if writers.is_empty() {
            return;
        }
        let (slot, s) = writers[self.rng.below(writers.len() as u64) as usize];
        let len = self.rng.range(1, 1024) as usize;
        if !self.stream_write_ok(s, len) {
            return;
        }
        self.stream_wrote(s, len);
        let data = self.rng.next();
        self.ops.push(Op::SyncWrite { slot, len, data });
    }

    // -------------------------------------------------------- the end

    /// Feed every read still waiting on an empty stream, then wait for all.
    fn drain(&mut self) {
        for cb in 0..NCB {
            if self.pending[cb].is_some() && !self.waitable(cb) {
                let before = self.ops.len();
                self.feed_after_cancel(&[cb], false);
                if self.ops.len() > before {
                    // feed_after_cancel marks it fed; the stream model got
                    // bytes the read may leave behind.
                    if let Some(Pending::StreamRead { s, .. }) =
                        self.pending[cb].as_ref().map(|p| p.what.clone())
                    {
                        if let Some(Op::SyncWrite { len, .. }) = self.ops.last() {
                            let len = *len;
                            let asked = self.streams[s].read.map_or(0, |r| r.1);
                            self.streams[s].avail += len - asked.min(len);
                        }
                    }
                }
            }
        }
        let cbs: Vec<(usize, Outcome)> = (0..NCB)
            .filter(|&c| self.waitable(c))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| (c, self.complete(c)))
            .collect();
        if !cbs.is_empty() {
            self.ops.push(Op::Wait { cbs });
        }
    }

    fn finish(&mut self) {
        let masks = self.files.iter().map(|f| f.taint.clone()).collect();
        let sizes = self
            .files
            .iter()
            .map(|f| (f.min_size, f.max_size))
            .collect();
        // Leftover bytes of each stream that is still readable, by the
        // slot that reads it.
        let streams = (0..self.streams.len())
            .map(|s| {
                let st = &self.streams[s];
                if st.tainted {
                    return None;
                }
                let slot = (0..NSLOT).find(|&r| match self.slots[r] {
                    Some(Res::StreamR(x)) => x == s,
                    Some(Res::Sock { rd, .. }) => rd == s,
                    _ => false,
                })?;
                Some((slot, st.avail))
            })
            .collect();
        self.ops.push(Op::Final {
            masks,
            sizes,
            streams,
        });
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
