//! Known glibc 2.36 defects the fuzzer stays away from, by name. glibc is the
//! reference of the comparison, so an input where glibc is wrong would report
//! paio's correct answer as a difference; each of these is never generated
//! (the generator's rules named below see to it). paio's own answers in
//! these cases are checked by the C scenarios and the fuzz interpreter
//! (`fuzzexec.rs`), not here.

pub struct GlibcBug {
    pub name: &'static str,
    pub what_glibc_does: &'static str,
    pub how_avoided: &'static str,
}

pub const GLIBC_BUGS: &[GlibcBug] = &[
    GlibcBug {
        name: "lio-negative-nent",
        what_glibc_does: "lio_listio with nent < 0 returns 0 instead of -1/EINVAL",
        how_avoided: "lists have 0 to 14 entries",
    },
    GlibcBug {
        name: "null-aiocb",
        what_glibc_does: "aio_read/aio_write/aio_fsync(NULL) crash (SIGSEGV)",
        how_avoided: "every call names one of the sequence's aiocbs (NULL only inside lio_listio and aio_suspend lists, which skip it)",
    },
    GlibcBug {
        name: "nbytes-over-ssize-max",
        what_glibc_does: "aio_nbytes > SSIZE_MAX is accepted (the transfer then fails or is truncated)",
        how_avoided: "aio_nbytes is at most 96 KiB",
    },
    GlibcBug {
        name: "invalid-sigev-notify",
        what_glibc_does: "an unknown sigev_notify is accepted and ignored instead of EINVAL",
        how_avoided: "sigev_notify is SIGEV_NONE, SIGEV_SIGNAL or SIGEV_THREAD",
    },
    GlibcBug {
        name: "sigev-thread-id-ignored",
        what_glibc_does: "SIGEV_THREAD_ID is accepted and no signal is ever sent",
        how_avoided: "never generated",
    },
    GlibcBug {
        name: "sourceware-14942-close-reuse",
        what_glibc_does: "a request still queued when its descriptor is closed runs on whatever file reuses the number",
        how_avoided: "a slot is closed, dup2'd over or reopened only when no request is in flight on it (or on a stream it reads or writes)",
    },
    GlibcBug {
        name: "fsync-not-a-barrier",
        what_glibc_does: "aio_fsync can complete before a write queued earlier on the same descriptor",
        how_avoided: "an fsync's result is compared, never the order of its completion against writes",
    },
    GlibcBug {
        name: "per-descriptor-serialisation",
        what_glibc_does: "requests on one descriptor run one at a time: anything queued behind a read waiting on an empty pipe or socket waits with it, so a write on the same socket that would feed the other direction never runs",
        how_avoided: "no request is made on a descriptor while a read on it waits for data that has not been written",
    },
    GlibcBug {
        name: "fork-child-state",
        what_glibc_does: "a forked child inherits the parent's request queues and idle-thread count: its first request may be handed to a thread that does not exist and never run",
        how_avoided: "the forked child makes its AIO calls only under paio (a paio-only property check); under glibc it exits 0 without them",
    },
    GlibcBug {
        name: "notify-after-publication",
        what_glibc_does: "a request's status is published before its sigevent is read for the notification: an aiocb reused as soon as aio_error says done can have the old request notified with the new request's sigevent",
        how_avoided: "the executor reuses an aiocb only once its previous request's notification has arrived",
    },
    GlibcBug {
        name: "cancel-loses-queue",
        what_glibc_does: "after aio_cancel of a request on a descriptor with other requests queued, those requests (and ones queued later on it) were seen never to complete",
        how_avoided: "a request in flight is cancelled only when it is the only one on its descriptor, and nothing more is queued there until it was waited for",
    },
    GlibcBug {
        name: "lio-member-refused",
        what_glibc_does: "a list member refused at submission (bad aio_reqprio) leaves the list's result and the member's status in states POSIX does not fix",
        how_avoided: "refused requests are made only through aio_read/aio_write, never inside a list",
    },
];

/// The table, for `--known-glibc-bugs`.
pub fn print_table() {
    for b in GLIBC_BUGS {
        println!(
            "{}\n    glibc: {}\n    avoided: {}",
            b.name, b.what_glibc_does, b.how_avoided
        );
    }
}
