//! Memory whose page faults the program itself serves (`userfaultfd`).
//!
//! paio copies a cached transfer inside the submitting call, and
//! `io_submit` pins an `O_DIRECT` buffer in the submitting thread: both
//! touch the program's buffer there, where glibc's helper thread touches it
//! instead. A fault in a range registered with `userfaultfd` waits until the
//! program resolves it, and a program that resolves it in the very thread
//! that submitted (its event loop, after the call returns) would wait for
//! ever inside `aio_read`.
//!
//! paio's `ioctl` (the C library's, then [`registered`] / [`unregistered`])
//! sees the ranges a program registers (`UFFDIO_REGISTER`) and lets go of
//! (`UFFDIO_UNREGISTER`); a request whose buffer meets one is a worker's
//! from the start (`Job::faults`: no inline copy, no kernel AIO, no ring).
//! A range registered by a raw `syscall`, or by another process holding the
//! descriptor, is not seen. Until a program registers a range, the check is
//! one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// Ranges kept at most; past that, every buffer counts as one.
const MAX_RANGES: usize = 256;

/// Some range is, or was, registered.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// More than [`MAX_RANGES`] were registered, or a registration found the
/// ranges busy: every buffer may fault.
static OVERFLOWED: AtomicBool = AtomicBool::new(false);

/// `[start, end)`, unordered, not overlapping.
static RANGES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// `UFFDIO_REGISTER` of `[start, start + len)` succeeded. Never waits for
/// the lock (a signal handler may have interrupted its holder in this
/// thread): when it is busy, every buffer counts as one that may fault.
pub fn registered(start: usize, len: usize) {
    let end = start.saturating_add(len);
    ACTIVE.store(true, Ordering::SeqCst);
    let Some(mut r) = RANGES.try_lock() else {
        OVERFLOWED.store(true, Ordering::SeqCst);
        return;
    };
    remove(&mut r, start, end);
    if r.len() < MAX_RANGES {
        r.push((start, end));
    } else {
        OVERFLOWED.store(true, Ordering::SeqCst);
    }
}

/// `UFFDIO_UNREGISTER` of `[start, start + len)` succeeded. A busy lock (see
/// [`registered`]) leaves the range counted: only more requests go to a
/// worker.
pub fn unregistered(start: usize, len: usize) {
    if let Some(mut r) = RANGES.try_lock() {
        remove(&mut r, start, start.saturating_add(len));
    }
}

/// Take `[start, end)` out of `list`, splitting a range that holds it.
fn remove(list: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    let mut kept = Vec::with_capacity(list.len() + 1);
    for &(s, e) in list.iter() {
        if e <= start || end <= s {
            kept.push((s, e));
            continue;
        }
        if s < start {
            kept.push((s, start));
        }
        if end < e {
            kept.push((end, e));
        }
    }
    *list = kept;
}

/// May touching the buffer of a request wait on the program? `iovcnt`: a
/// vectored request, whose buffers are behind `buf` (counted as one that
/// may, once any range was registered).
pub fn may_fault(buf: usize, len: usize, iovcnt: u32) -> bool {
    if !ACTIVE.load(Ordering::Relaxed) {
        return false;
    }
    if iovcnt != 0 {
        return true;
    }
    if OVERFLOWED.load(Ordering::SeqCst) {
        return true;
    }
    let end = buf.saturating_add(len);
    // Busy (a registration under way, maybe in the code this call
    // interrupted): counted as meeting one.
    match RANGES.try_lock() {
        Some(r) => r.iter().any(|&(s, e)| buf < e && s < end),
        None => true,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_met_until_it_is_let_go_even_in_parts() {
        let base = 0x7000_0000_0000usize;
        registered(base, 4 * 4096);
        assert!(may_fault(base + 4096, 10, 0));
        assert!(may_fault(base - 10, 20, 0), "a buffer reaching into it");
        assert!(!may_fault(base + 4 * 4096, 4096, 0), "just after it");
        assert!(
            may_fault(base + 8 * 4096, 8, 1),
            "vectored: counted as meeting one"
        );
        unregistered(base + 4096, 4096);
        assert!(!may_fault(base + 4096, 4096, 0), "the hole let go");
        assert!(may_fault(base, 4096, 0) && may_fault(base + 2 * 4096, 4096, 0));
        unregistered(base, 4 * 4096);
        assert!(!may_fault(base, 4 * 4096, 0));
    }
}
