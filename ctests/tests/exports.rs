//! The dynamic symbol table of libpaio.so: among its `aio_*`/`lio_*` symbols
//! it defines exactly the POSIX AIO names glibc has, each unversioned. A
//! version node on any of them would make the dynamic linker skip paio for
//! binaries linked against `aio_read@GLIBC_2.34`, and the preload would
//! silently do nothing. (`exports_bind.c` checks the same from inside a
//! process, through dlsym/dlvsym.) Beyond them it defines a few names of the
//! C library's ([`INTERPOSED`]), each handed on to the C library's, then
//! telling paio what changed (`src/capi/interpose.rs`), unversioned for the
//! same reason.

use std::collections::BTreeSet;
use std::process::Command;

/// The exports, as data: the 16 AIO names and `aio_init`, then the
/// extensions declared in `include/paio.h`.
const EXPORTS: &[&str] = &[
    "aio_readv",
    "aio_writev",
    "aio_waitcomplete",
    "paio_completion_fd",
    "paio_stats",
    "aio_read",
    "aio_read64",
    "aio_write",
    "aio_write64",
    "aio_error",
    "aio_error64",
    "aio_return",
    "aio_return64",
    "aio_suspend",
    "aio_suspend64",
    "aio_cancel",
    "aio_cancel64",
    "aio_fsync",
    "aio_fsync64",
    "lio_listio",
    "lio_listio64",
    "aio_init",
    "pthread_cancel",
    "setrlimit",
    "setrlimit64",
    "prlimit",
    "prlimit64",
    "fcntl",
    "fcntl64",
    "lockf",
    "lockf64",
    "ioctl",
];

/// The C library's names libpaio.so defines (at the end of [`EXPORTS`]).
const INTERPOSED: &[&str] = &[
    "pthread_cancel",
    "setrlimit",
    "setrlimit64",
    "prlimit",
    "prlimit64",
    "fcntl",
    "fcntl64",
    "lockf",
    "lockf64",
    "ioctl",
];

#[test]
fn exports_are_exactly_the_aio_names_unversioned() {
    if std::env::var("PAIO_CTESTS_MODES").is_ok_and(|m| m.trim() == "glibc") {
        eprintln!("PAIO_CTESTS_MODES=glibc: libpaio.so not checked");
        return;
    }
    let so = paio_ctests::paio_so();
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(so)
        .output()
        .expect("run nm");
    assert!(
        out.status.success(),
        "nm -D {} failed: {}",
        so.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);

    let mut found = BTreeSet::new();
    let mut problems = Vec::new();
    for line in text.lines() {
        // "0000000000012340 T aio_read" (or "... T aio_read@@PAIO_1")
        let mut parts = line.split_whitespace();
        let (Some(_addr), Some(kind), Some(sym)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let base = sym.split('@').next().unwrap_or(sym);
        if !(base.starts_with("aio_")
            || base.starts_with("lio_")
            || base.starts_with("paio_")
            || base.starts_with("pthread_")
            || base.contains("rlimit")
            || base.starts_with("fcntl")
            || base.starts_with("lockf")
            || base == "ioctl")
        {
            continue;
        }
        if sym.contains('@') {
            problems.push(format!(
                "{sym} is versioned (the name must carry no version)"
            ));
        }
        if kind != "T" {
            problems.push(format!(
                "{sym} has type {kind}, expected T (a global function)"
            ));
        }
        if !found.insert(base.to_owned()) {
            problems.push(format!("{base} appears more than once"));
        }
    }
    let expected: BTreeSet<String> = EXPORTS.iter().map(|s| s.to_string()).collect();
    for missing in expected.difference(&found) {
        problems.push(format!("{missing} is not exported"));
    }
    for extra in found.difference(&expected) {
        problems.push(format!(
            "{extra} is exported but is neither a glibc AIO name, a listed extension nor one of {INTERPOSED:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{}:\n  {}",
        so.display(),
        problems.join("\n  ")
    );
}
