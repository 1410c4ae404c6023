//! `lio_listio` groups: one count of outstanding members per list, the
//! futex that `LIO_WAIT` sleeps on, and the list's own notification.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use crate::engine::Engine;
use crate::request::aiocb::Notify;
use crate::sys;

pub struct Group {
    /// Members not yet complete, plus one held by the submitter until every
    /// member is queued. Also the futex word `LIO_WAIT` sleeps on.
    pending: AtomicU32,
    failed: AtomicBool,
    /// The list's sigevent (`LIO_NOWAIT`), delivered once when all are done.
    notify: Notify,
}

impl Group {
    pub fn new(notify: Notify) -> Arc<Group> {
        Arc::new(Group {
            pending: AtomicU32::new(1),
            failed: AtomicBool::new(false),
            notify,
        })
    }

    /// A reference for one more member, to store in its job (`Job::group`).
    pub fn add_member(self: &Arc<Group>) -> usize {
        self.pending.fetch_add(1, Ordering::AcqRel);
        Arc::into_raw(self.clone()) as usize
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// `LIO_WAIT`: sleep until every member is done, or a signal (`EINTR`).
    pub fn wait(&self) -> Result<(), i32> {
        loop {
            let p = self.pending.load(Ordering::Acquire);
            if p == 0 {
                return Ok(());
            }
            match sys::futex_wait(&self.pending, p, None) {
                Err(libc::EINTR) => return Err(libc::EINTR),
                _ => continue,
            }
        }
    }
}

/// One member (or the submitter's hold, via [`release_hold`]) is done.
/// Consumes the reference `add_member` made.
pub fn member_done(engine: &'static Engine, member: usize, failed: bool) {
    // SAFETY: `member` came from `Arc::into_raw` in `add_member` and is
    // consumed exactly once (the job's `group` field is taken before this).
    let g = unsafe { Arc::from_raw(member as *const Group) };
    finish_one(engine, &g, failed);
}

/// The submitter has queued every member.
pub fn release_hold(engine: &'static Engine, g: &Arc<Group>) {
    finish_one(engine, g, false);
}

fn finish_one(engine: &'static Engine, g: &Group, failed: bool) {
    if failed {
        g.failed.store(true, Ordering::Release);
    }
    if g.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        sys::futex_wake(&g.pending, i32::MAX);
        engine.notify(g.notify, crate::engine::late::LIST);
    }
}
