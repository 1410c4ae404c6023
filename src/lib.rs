//! paio: POSIX asynchronous I/O for Linux with glibc's ABI.
//!
//! `libpaio.so` exports `aio_read`, `aio_write`, `aio_fsync`, `lio_listio`,
//! `aio_error`, `aio_return`, `aio_suspend`, `aio_cancel`, `aio_init` and the
//! `*64` aliases, so a program gets it by `LD_PRELOAD` or by linking `-lpaio`.
//!
//! The layers, each calling only the ones below it:
//! - [`capi`]: the C boundary, the only module with exported symbols;
//! - [`submit`]: submission policy (what runs inline, what is queued, in
//!   which order) and `aio_suspend`;
//! - [`engine`]: owns the requests and completes each exactly once (status,
//!   wake-ups, notifications, `lio_listio` groups, `aio_waitcomplete`);
//! - [`backend`]: executes what would block (kernel AIO, io_uring, the
//!   worker pool) and reports through a [`backend::Sink`], never naming the
//!   engine; each backend's raw kernel ABI sits beside it;
//! - [`sys`]: the system calls.
//!
//! [`request`] is the vocabulary they share: the C `struct aiocb`, paio's
//! request slots, what is known per descriptor, and the transfer itself.

#![deny(unsafe_op_in_unsafe_fn)]

// A panic unwinding into C is undefined behaviour: the library is built with
// `panic = "abort"` in every profile (the crate's own unit tests excepted,
// since the test harness needs unwinding).
#[cfg(all(not(panic = "abort"), not(test)))]
compile_error!("paio must be built with panic = \"abort\" (see Cargo.toml profiles)");

pub mod backend;
pub mod capi;
pub mod config;
pub mod engine;
pub mod once;
pub mod request;
pub mod stats;
pub mod submit;
pub mod sync;
pub mod sys;

#[cfg(all(test, loom))]
mod model;
