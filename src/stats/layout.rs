//! The per-process statistics file of `PAIO_STATS=DIR`, defined once.
//!
//! libpaio.so creates `DIR/paio-<pid>.stats` when a process starts its
//! engine and maps it shared; its counters are the file's own bytes, so
//! they outlive the process however it ends (`_exit`, `abort`, a signal).
//! The `paio-stat` command reads the same file. This module is compiled
//! into both (paio-stat includes it by path, without depending on the
//! paio crate), so it uses nothing but `core`/`std`.
//!
//! The file, native byte order (x86_64: little-endian), 2560 bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `PAIOSTAT`, written last (release): the rest is valid once it is there |
//! | 8 | 4 | layout version ([`VERSION`]) |
//! | 12 | 4 | header size in bytes ([`HEADER_BYTES`]; the first shard starts here) |
//! | 16 | 4 | number of shards ([`SHARDS`]) |
//! | 20 | 4 | bytes per shard ([`SHARD_BYTES`]) |
//! | 24 | 4 | counters in use per shard (at most [`SLOTS`]) |
//! | 28 | 4 | how many of them (the first ones) the exit line prints |
//! | 32 | 4 | pid |
//! | 36 | 4 | state: [`RUNNING`], or [`EXITED`] once the exit handler ran |
//! | 40 | 4 | `io_setup` errno when kernel AIO fell back to the pool, else 0 |
//! | 48 | 8 | engine start, `CLOCK_REALTIME`, nanoseconds |
//! | 56 | 8 | engine start, `CLOCK_BOOTTIME`, nanoseconds (the process started before it: a reused pid started later) |
//! | 64 | 32 | backend name, NUL-padded |
//! | 96 | 256 | counter names, space-separated, NUL-padded, in slot order |
//! | 512 | 16 × 128 | shards: [`SLOTS`] `u64` counters each; a counter's value is the sum over the shards |
//!
//! A reader takes the names from the file, so a counter added later needs
//! no new `paio-stat`; a change of anything else changes [`VERSION`].

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64};

pub const MAGIC: [u8; 8] = *b"PAIOSTAT";
pub const VERSION: u32 = 1;
pub const SHARDS: usize = 16;
/// Counters a shard has room for.
pub const SLOTS: usize = 16;
pub const SHARD_BYTES: usize = std::mem::size_of::<Shard>();
pub const HEADER_BYTES: usize = std::mem::size_of::<Header>();
pub const FILE_BYTES: usize = std::mem::size_of::<Block>();

/// `Header::state`.
pub const RUNNING: u32 = 0;
pub const EXITED: u32 = 1;

/// The file name of process `pid` (`k` > 0 when an earlier image of the
/// same pid, before an `exec`, or a dead process whose pid was reused,
/// left its file there).
pub fn file_name(pid: u32, k: u32) -> String {
    match k {
        0 => format!("paio-{pid}.stats"),
        k => format!("paio-{pid}.{k}.stats"),
    }
}

/// True for names [`file_name`] makes.
pub fn is_file_name(name: &str) -> bool {
    name.strip_prefix("paio-")
        .and_then(|s| s.strip_suffix(".stats"))
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

#[repr(C, align(128))]
pub struct Header {
    pub magic: AtomicU64,
    pub version: u32,
    pub header_bytes: u32,
    pub shards: u32,
    pub shard_bytes: u32,
    pub counters: u32,
    pub line_counters: u32,
    pub pid: u32,
    pub state: AtomicU32,
    pub fallback: AtomicI32,
    pub _pad: u32,
    pub start_realtime_ns: u64,
    pub start_boottime_ns: u64,
    pub backend: [u8; 32],
    pub names: [u8; 256],
    pub _reserved: [u8; 160],
}

/// One writer thread's counters (a thread keeps its shard), alone in its
/// cache lines.
#[repr(C, align(128))]
pub struct Shard(pub [AtomicU64; SLOTS]);

#[repr(C)]
pub struct Block {
    pub header: Header,
    pub shards: [Shard; SHARDS],
}

const _: () = {
    assert!(HEADER_BYTES == 512);
    assert!(SHARD_BYTES == 128);
    assert!(FILE_BYTES == 512 + 16 * 128);
    assert!(std::mem::offset_of!(Header, version) == 8);
    assert!(std::mem::offset_of!(Header, pid) == 32);
    assert!(std::mem::offset_of!(Header, state) == 36);
    assert!(std::mem::offset_of!(Header, fallback) == 40);
    assert!(std::mem::offset_of!(Header, start_realtime_ns) == 48);
    assert!(std::mem::offset_of!(Header, start_boottime_ns) == 56);
    assert!(std::mem::offset_of!(Header, backend) == 64);
    assert!(std::mem::offset_of!(Header, names) == 96);
    assert!(std::mem::offset_of!(Block, shards) == 512);
};

/// The magic as the `u64` stored at offset 0.
pub fn magic_word() -> u64 {
    u64::from_ne_bytes(MAGIC)
}

/// The text up to the first NUL.
pub fn text(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("?")
}

/// Copy `s` into a NUL-padded field (cut short if it does not fit with a NUL).
pub fn put_text(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len().saturating_sub(1));
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
    field[n..].fill(0);
}

/// The backend as the exit line names it: `kaio`, `threads`, or
/// `threads fallback=io_setup:ERRNO` when kernel AIO could not be set up.
pub fn backend_label(backend: &str, fallback: i32) -> String {
    match fallback {
        0 => backend.to_string(),
        errno => format!("threads fallback=io_setup:{errno}"),
    }
}

/// The exit line, `paio: pid=… backend=… requests=… … own_fd=…` (no
/// newline): what `PAIO_STATS=1` prints at exit and `paio-stat` prints for
/// every process.
pub fn line<'a>(
    pid: u32,
    backend: &str,
    fallback: i32,
    counters: impl IntoIterator<Item = (&'a str, u64)>,
) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "paio: pid={pid} backend={}",
        backend_label(backend, fallback)
    );
    for (name, v) in counters {
        let _ = write!(s, " {name}={v}");
    }
    s
}
