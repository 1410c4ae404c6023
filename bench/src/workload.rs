//! What is measured: the workloads, the implementations under test, and the
//! seeded operation sequence every implementation replays identically.

/// How a workload touches the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// 4 KiB random reads of a file held in the page cache.
    CachedRead,
    /// 4 KiB random reads with `O_DIRECT`.
    DirectRead,
    /// 4 KiB random buffered reads after the page cache was dropped.
    ColdRead,
    /// Sequential 64 KiB writes with an `fsync` after every [`WRITES_PER_FSYNC`].
    WriteFsync,
    /// Random block-aligned buffered writes over a file held in the page cache,
    /// no fsync.
    CachedWrite,
}

/// Which table a workload's rows go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// The IOPS table: the default suite.
    Suite,
    /// The request-size table (`--workloads sizes`): how long the submitting
    /// call takes, and the throughput, per request size.
    Sizes,
    /// The many-processes table (`--workloads procs`): [`Workload::procs`]
    /// processes at once, each on its own stretch of the file, IOPS summed.
    Procs,
}

/// Writes between two fsyncs in [`Pattern::WriteFsync`].
pub const WRITES_PER_FSYNC: u64 = 16;

/// One row group of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub name: &'static str,
    pub pattern: Pattern,
    /// I/Os each submitting thread keeps in flight.
    pub depth: usize,
    /// Submitting threads, each with its own queue of `depth` I/Os.
    pub threads: usize,
    /// Bytes per data I/O.
    pub block: usize,
    /// Processes running it at once, each with its own `threads` and `depth`
    /// (1 but for [`Family::Procs`]).
    pub procs: usize,
    pub family: Family,
    pub about: &'static str,
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Every workload, in the order the report lists them.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "cached-qd1",
        pattern: Pattern::CachedRead,
        depth: 1,
        threads: 1,
        block: 4 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "4 KiB random reads from page cache, 1 in flight",
    },
    Workload {
        name: "cached-qd32",
        pattern: Pattern::CachedRead,
        depth: 32,
        threads: 1,
        block: 4 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "4 KiB random reads from page cache, 32 in flight",
    },
    Workload {
        name: "cached-qd128",
        pattern: Pattern::CachedRead,
        depth: 128,
        threads: 1,
        block: 4 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "4 KiB random reads from page cache, 128 in flight",
    },
    Workload {
        name: "direct-qd32",
        pattern: Pattern::DirectRead,
        depth: 32,
        threads: 1,
        block: 4 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "4 KiB random O_DIRECT reads, 32 in flight",
    },
    Workload {
        name: "cold-qd32",
        pattern: Pattern::ColdRead,
        depth: 32,
        threads: 1,
        block: 4 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "4 KiB random buffered reads after drop_caches, 32 in flight",
    },
    Workload {
        name: "write-fsync",
        pattern: Pattern::WriteFsync,
        depth: 1,
        threads: 1,
        block: 64 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "sequential 64 KiB writes, aio_fsync(O_SYNC) every 16 writes, 1 in flight",
    },
    Workload {
        name: "threads2-qd32",
        pattern: Pattern::CachedRead,
        depth: 32,
        threads: 2,
        block: 4 * KIB,
        procs: 1,
        family: Family::Suite,
        about: "two submitting threads, each 32 cached 4 KiB random reads in flight",
    },
];

/// The name that selects every workload of [`SIZES`].
pub const SIZES_NAME: &str = "sizes";

const fn sized(
    name: &'static str,
    pattern: Pattern,
    block: usize,
    about: &'static str,
) -> Workload {
    Workload {
        name,
        pattern,
        depth: 1,
        threads: 1,
        block,
        procs: 1,
        family: Family::Sizes,
        about,
    }
}

/// `--workloads sizes`: one cached read and one cached write row per request
/// size, each at queue depth 1, timing the submitting call itself. Not in the
/// default set: the large sizes move gigabytes per run.
pub const SIZES: &[Workload] = &[
    sized(
        "sizes-read-4k",
        Pattern::CachedRead,
        4 * KIB,
        "cached 4 KiB reads, QD1",
    ),
    sized(
        "sizes-write-4k",
        Pattern::CachedWrite,
        4 * KIB,
        "cached 4 KiB writes, QD1",
    ),
    sized(
        "sizes-read-64k",
        Pattern::CachedRead,
        64 * KIB,
        "cached 64 KiB reads, QD1",
    ),
    sized(
        "sizes-write-64k",
        Pattern::CachedWrite,
        64 * KIB,
        "cached 64 KiB writes, QD1",
    ),
    sized(
        "sizes-read-1m",
        Pattern::CachedRead,
        MIB,
        "cached 1 MiB reads, QD1",
    ),
    sized(
        "sizes-write-1m",
        Pattern::CachedWrite,
        MIB,
        "cached 1 MiB writes, QD1",
    ),
    sized(
        "sizes-read-16m",
        Pattern::CachedRead,
        16 * MIB,
        "cached 16 MiB reads, QD1",
    ),
    sized(
        "sizes-write-16m",
        Pattern::CachedWrite,
        16 * MIB,
        "cached 16 MiB writes, QD1",
    ),
    sized(
        "sizes-read-128m",
        Pattern::CachedRead,
        128 * MIB,
        "cached 128 MiB reads, QD1",
    ),
    sized(
        "sizes-write-128m",
        Pattern::CachedWrite,
        128 * MIB,
        "cached 128 MiB writes, QD1",
    ),
];

/// Under `--smoke` the sizes rows stop here, so the plumbing check stays quick.
pub const SMOKE_MAX_BLOCK: usize = MIB;

/// The name that selects every workload of [`PROCS`].
pub const PROCS_NAME: &str = "procs";

const fn procs_direct(name: &'static str, procs: usize, about: &'static str) -> Workload {
    Workload {
        name,
        pattern: Pattern::DirectRead,
        depth: 32,
        threads: 1,
        block: 4 * KIB,
        procs,
        family: Family::Procs,
        about,
    }
}

/// `--workloads procs`: many processes at once, as a prefork server has them,
/// each taking its own kernel AIO contexts out of the system's `fs.aio-max-nr`.
/// Not in the default set: starting 128 processes per cell takes a while.
pub const PROCS: &[Workload] = &[
    procs_direct(
        "procs16-direct",
        16,
        "16 processes at once, each 32 4 KiB random O_DIRECT reads in flight on its own stretch",
    ),
    procs_direct(
        "procs128-direct",
        128,
        "128 processes at once, each 32 4 KiB random O_DIRECT reads in flight on its own stretch",
    ),
];

/// Under `--smoke` every procs workload runs this many processes.
pub const SMOKE_PROCS: usize = 4;

pub fn workload_by_name(name: &str) -> Option<Workload> {
    WORKLOADS
        .iter()
        .chain(SIZES)
        .chain(PROCS)
        .copied()
        .find(|w| w.name == name)
}

/// What a `--workloads` entry selects: one workload, or a whole family
/// (`sizes`, `procs`).
pub fn workloads_by_name(name: &str) -> Option<Vec<Workload>> {
    match name {
        SIZES_NAME => Some(SIZES.to_vec()),
        PROCS_NAME => Some(PROCS.to_vec()),
        _ => workload_by_name(name).map(|w| vec![w]),
    }
}

pub fn workload_names() -> String {
    WORKLOADS
        .iter()
        .chain(PROCS)
        .map(|w| w.name)
        .chain([SIZES_NAME, PROCS_NAME])
        .collect::<Vec<_>>()
        .join(", ")
}

/// An implementation column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Impl {
    /// glibc's POSIX AIO, as the binary is linked.
    Glibc,
    /// The same POSIX AIO calls with `LD_PRELOAD=libpaio.so`.
    Paio,
    /// Raw kernel AIO: `io_setup`/`io_submit`/`io_getevents` syscalls.
    IoSubmit,
    /// io_uring through the `io-uring` crate.
    IoUring,
}

pub const IMPLS: &[Impl] = &[Impl::Glibc, Impl::Paio, Impl::IoSubmit, Impl::IoUring];

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Glibc => "glibc",
            Impl::Paio => "paio",
            Impl::IoSubmit => "io_submit",
            Impl::IoUring => "io_uring",
        }
    }

    pub fn by_name(name: &str) -> Option<Impl> {
        IMPLS.iter().copied().find(|i| i.name() == name)
    }
}

pub fn impl_names() -> String {
    IMPLS
        .iter()
        .map(|i| i.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One operation of the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read { offset: u64 },
    Write { offset: u64 },
    Fsync,
}

/// The fixed seed: every implementation reads the same blocks in the same order.
pub const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The operation sequence of one submitting thread: xorshift64 block numbers for
/// reads, a wrapping sequential cursor plus periodic fsyncs for writes.
pub struct OpGen {
    pattern: Pattern,
    /// Added to every offset: where this process's stretch of the file starts.
    base: u64,
    state: u64,
    blocks: u64,
    block: u64,
    cursor: u64,
    writes_since_fsync: u64,
}

impl OpGen {
    /// `thread` picks a distinct, still fixed, sequence per submitting thread.
    pub fn new(w: &Workload, file_size: u64, thread: usize) -> OpGen {
        let block = w.block as u64;
        let mut state = SEED ^ ((thread as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        if state == 0 {
            state = SEED;
        }
        OpGen {
            pattern: w.pattern,
            base: 0,
            state,
            blocks: (file_size / block).max(1),
            block,
            // Each writer starts its own stretch of the file.
            cursor: (thread as u64 * (file_size / block / w.threads.max(1) as u64))
                % (file_size / block).max(1),
            writes_since_fsync: 0,
        }
    }

    /// The same sequence, moved `base` bytes into the file (a procs child's
    /// stretch; `file_size` given to [`OpGen::new`] is then the stretch's length).
    pub fn at(mut self, base: u64) -> OpGen {
        self.base = base;
        self
    }

    fn xorshift(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// Whether the next operation is an fsync, which waits for the queue to drain.
    pub fn next_is_fsync(&self) -> bool {
        self.pattern == Pattern::WriteFsync && self.writes_since_fsync == WRITES_PER_FSYNC
    }

    pub fn next_op(&mut self) -> Op {
        match self.pattern {
            Pattern::CachedRead | Pattern::DirectRead | Pattern::ColdRead => {
                let b = self.xorshift() % self.blocks;
                Op::Read {
                    offset: self.base + b * self.block,
                }
            }
            Pattern::CachedWrite => {
                let b = self.xorshift() % self.blocks;
                Op::Write {
                    offset: self.base + b * self.block,
                }
            }
            Pattern::WriteFsync => {
                if self.writes_since_fsync == WRITES_PER_FSYNC {
                    self.writes_since_fsync = 0;
                    return Op::Fsync;
                }
                self.writes_since_fsync += 1;
                let offset = self.base + self.cursor * self.block;
                self.cursor = (self.cursor + 1) % self.blocks;
                Op::Write { offset }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_reproducible_and_in_bounds() {
        let w = workload_by_name("cached-qd32").unwrap();
        let size = 8 << 20;
        let a: Vec<Op> = {
            let mut g = OpGen::new(&w, size, 0);
            (0..1000).map(|_| g.next_op()).collect()
        };
        let b: Vec<Op> = {
            let mut g = OpGen::new(&w, size, 0);
            (0..1000).map(|_| g.next_op()).collect()
        };
        assert_eq!(a, b);
        for op in a {
            match op {
                Op::Read { offset } => assert!(offset % 4096 == 0 && offset + 4096 <= size),
                other => panic!("unexpected {other:?}"),
            }
        }
        let c: Vec<Op> = {
            let mut g = OpGen::new(&w, size, 1);
            (0..10).map(|_| g.next_op()).collect()
        };
        assert_ne!(&c[..], &b[..10]);
    }

    #[test]
    fn writes_fsync_every_sixteen() {
        let w = workload_by_name("write-fsync").unwrap();
        let mut g = OpGen::new(&w, 1 << 20, 0);
        let ops: Vec<Op> = (0..34).map(|_| g.next_op()).collect();
        assert_eq!(ops[16], Op::Fsync);
        assert_eq!(ops[33], Op::Fsync);
        assert_eq!(ops[0], Op::Write { offset: 0 });
        // 1 MiB of 64 KiB blocks wraps after 16 writes.
        assert_eq!(ops[17], Op::Write { offset: 0 });
    }

    #[test]
    fn sizes_family_in_bounds() {
        let all = workloads_by_name("sizes").unwrap();
        assert_eq!(all.len(), SIZES.len());
        let size = 256u64 << 20;
        for w in all {
            assert_eq!((w.family, w.depth, w.threads), (Family::Sizes, 1, 1));
            let mut g = OpGen::new(&w, size, 0);
            for _ in 0..100 {
                let (Op::Read { offset } | Op::Write { offset }) = g.next_op() else {
                    panic!("{}: fsync", w.name);
                };
                assert!(offset % w.block as u64 == 0 && offset + w.block as u64 <= size);
            }
        }
        assert!(workloads_by_name("sizes-write-16m").is_some());
        assert!(!WORKLOADS.iter().any(|w| w.family == Family::Sizes));
    }

    #[test]
    fn procs_family_stays_in_its_stretch() {
        let all = workloads_by_name("procs").unwrap();
        assert_eq!(all.len(), PROCS.len());
        assert!(!WORKLOADS.iter().any(|w| w.family == Family::Procs));
        let w = workload_by_name("procs128-direct").unwrap();
        assert_eq!(
            (w.procs, w.depth, w.pattern),
            (128, 32, Pattern::DirectRead)
        );
        let (stretch, base) = (2u64 << 20, 6u64 << 20);
        let mut g = OpGen::new(&w, stretch, 3).at(base);
        for _ in 0..1000 {
            let Op::Read { offset } = g.next_op() else {
                panic!("not a read");
            };
            assert!(offset % 4096 == 0 && offset >= base && offset + 4096 <= base + stretch);
        }
    }
}
