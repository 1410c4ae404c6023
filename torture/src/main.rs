//! `paio-torture`: many threads issuing a random mix of every POSIX AIO call
//! against regular files (buffered and `O_DIRECT`), pipes and socketpairs,
//! with every notification kind and the occasional `fork`, all checked
//! against an in-memory model:
//!
//! * every request completes exactly once: each one that asks for a
//!   notification (signal, thread callback, thread-directed signal; list
//!   notifications of `lio_listio(LIO_NOWAIT)`) is counted by id, cancelled
//!   ones included, and a second or a stray delivery is a failure;
//! * every `aio_error`/`aio_return` pair is the one the model predicts, and
//!   every call's synchronous result is the one POSIX specifies;
//! * file contents match the model region by region (a region is only ever
//!   touched by one batch at a time, so the model is deterministic), while
//!   requests run, and once more at the end;
//! * pipe and socket byte streams arrive complete and in order;
//! * a watchdog turns a hang into a failure, with a dump of what is pending.
//!
//! Run it under `LD_PRELOAD=libpaio.so` (it refuses to run on glibc's AIO
//! unless `--allow-glibc`, which checks the test itself against glibc).
//!
//! ```text
//! paio-torture [--seconds N | --soak N] [--seed N] [--threads N] [--dir PATH] [--allow-glibc]
//! ```

#[macro_use]
mod report;
mod args;
mod cmdline;
mod ffi;
mod files;
mod fork;
mod forkchild;
mod ledger;
mod model;
mod req;
mod streams;
mod submit;
mod worker;

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use crate::args::parse_args;
use crate::ffi::{aio_provider, now_ms};
use crate::ledger::install_handler;
use crate::model::{final_check, make_file, make_streams};
use crate::report::{completed, die, watchdog, Activity, SEED, SHARED};
use crate::worker::{Shared, CANCELS, THREAD_ID_OK};

fn main() {
    let args = parse_args();
    SEED.store(args.seed, Relaxed);
    let provider = aio_provider();
    let on_paio = provider.contains("libpaio");
    println!(
        "paio-torture: seed {} threads {} seconds {} aio from {provider}",
        args.seed, args.threads, args.seconds
    );
    if !on_paio && !args.allow_glibc {
        eprintln!("paio-torture: aio_read resolves to {provider}, not libpaio: run under LD_PRELOAD=libpaio.so (or pass --allow-glibc)");
        std::process::exit(3);
    }
    THREAD_ID_OK.store(on_paio, Relaxed);
    CANCELS.store(
        std::env::var("PAIO_TORTURE_CANCEL").map_or(true, |v| v != "0"),
        Relaxed,
    );
    let own_dir = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        format!("{base}/paio-torture-{}", std::process::id())
    });
    std::fs::create_dir_all(&dir).expect("create the work directory");
    let mut files = vec![make_file(&dir, "buffered", 1, false).expect("buffered file")];
    if let Some(f) = make_file(&dir, "direct", 2, true) {
        files.push(f);
    }
    install_handler();
    let sh = Arc::new(Shared {
        files,
        streams: make_streams(),
        stop: AtomicBool::new(false),
        activity: (0..args.threads)
            .map(|_| Activity {
                heartbeat: AtomicU64::new(now_ms()),
                what: Mutex::new("starting".into()),
                pending: Mutex::new(Vec::new()),
            })
            .collect(),
        dir: dir.clone(),
    });
    let _ = SHARED.set(sh.clone());
    let t0 = now_ms();
    let end = t0 + args.seconds * 1000;
    {
        let sh = sh.clone();
        let deadline = end + 120_000;
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watchdog(sh, deadline))
            .unwrap();
    }
    let handles: Vec<_> = (0..args.threads)
        .map(|idx| worker::spawn(sh.clone(), idx, args.seed))
        .collect();
    let mut last_report = t0;
    while now_ms() < end {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = now_ms();
        let every = if args.soak { 60_000 } else { 10_000 };
        if now - last_report >= every {
            last_report = now;
            eprintln!(
                "paio-torture: {:>5} s: {} requests",
                (now - t0) / 1000,
                completed()
            );
        }
    }
    sh.stop.store(true, SeqCst);
    for h in handles {
        if h.join().is_err() {
            die(None, "a worker thread panicked");
        }
    }
    let elapsed = (now_ms() - t0).max(1);
    let (regions, leftover) = final_check(&sh);
    ledger::final_sweep();
    report::print_summary(elapsed, regions, leftover, args.seed);
    if own_dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
