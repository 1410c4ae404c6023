//! Fuzz target: arbitrary bytes become a sequence of POSIX AIO calls with
//! arbitrary aiocb fields (see `torture/src/fuzzexec.rs` for the rules and
//! the checks). paio is linked in statically, so libFuzzer's coverage covers
//! its submission, completion, cancel and suspend code; the process keeps one
//! engine across inputs, as a long-running program would.

#![no_main]

#[path = "../../torture/src/ffi.rs"]
mod ffi;
#[path = "../../torture/src/fuzzexec.rs"]
mod fuzzexec;

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

static ENV: Mutex<Option<fuzzexec::Env>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    // Keeps paio (and its exported aio_* symbols) in the link.
    std::hint::black_box(paio::capi::aio_read as *const ());
    let mut g = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let env = g.get_or_insert_with(|| {
        let provider = ffi::aio_provider();
        assert!(!provider.contains("libc.so"), "aio_read resolves to glibc ({provider}), not the linked paio");
        let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        fuzzexec::Env::new(&format!("{base}/paio-fuzz-{}", std::process::id()))
    });
    env.run(data);
});
