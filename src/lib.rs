//! paio: POSIX asynchronous I/O for Linux with glibc's ABI.
//!
//! `libpaio.so` exports `aio_read`, `aio_write`, `aio_fsync`, `lio_listio`,
//! `aio_error`, `aio_return`, `aio_suspend`, `aio_cancel`, `aio_init` and the
//! `*64` aliases, so a program gets it by `LD_PRELOAD` or by linking `-lpaio`.
//!
//! Layout: [`capi`] is the only module with exported symbols; [`aiocb`] owns
//! the C structure; [`submit`] decides what runs inline and what is queued;
//! [`engine`] completes every request exactly once; [`backend`] executes what
//! would block; [`sys`] holds the raw kernel interface.

#![deny(unsafe_op_in_unsafe_fn)]

// A panic unwinding into C is undefined behaviour: the library is built with
// `panic = "abort"` in every profile (the crate's own unit tests excepted,
// since the test harness needs unwinding).
#[cfg(all(not(panic = "abort"), not(test)))]
compile_error!("paio must be built with panic = \"abort\" (see Cargo.toml profiles)");

pub mod aiocb;
pub mod backend;
pub mod capi;
pub mod chunks;
pub mod completions;
pub mod config;
pub mod engine;
pub mod fdstate;
pub mod io;
pub mod kaio;
pub mod kaio_sys;
pub mod lio;
pub mod notify;
pub mod once;
pub mod slots;
pub mod stats;
pub mod submit;
pub mod suspend;
pub mod sync;
pub mod sys;
pub mod workers;

#[cfg(all(test, not(loom)))]
mod engine_tests;
#[cfg(all(test, loom))]
mod model;
