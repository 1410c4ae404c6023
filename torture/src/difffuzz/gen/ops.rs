//! The operations a sequence is made of, as the executor runs them: the
//! vocabulary shared by the generator and the executor.

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
    /// `fsync` then `posix_fadvise(POSIX_FADV_DONTNEED)` of the slot's
    /// file: its pages leave the page cache, so the reads that follow are
    /// uncached (paio serves those on io_uring, not inline). Nothing on a
    /// slot that is closed or not a regular file.
    Evict {
        slot: usize,
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
