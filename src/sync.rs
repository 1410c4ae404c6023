//! The atomics and thread primitives of the concurrent core, behind one
//! facade so that `--cfg loom` builds can model-check them (see `model.rs`).

#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::thread::yield_now;

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub use loom::thread::yield_now;
