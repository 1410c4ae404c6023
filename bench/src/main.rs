//! paio-bench: glibc's POSIX AIO against libpaio.so (preloaded into the same
//! binary) against the kernel's io_submit and io_uring, workload by workload,
//! interleaved and repeated, reported as medians and pairwise ratios.
//!
//! The parent process only orchestrates; every measurement runs in a child
//! (this binary re-executed with `__cell`), so each implementation gets a fresh
//! process whose CPU time, threads and memory are its own; `--busy` load runs
//! beside it as more re-executions (`__busy`); the procs workloads run a
//! group of cells at once.

#![deny(unsafe_op_in_unsafe_fn)]

mod aio_nr;
mod busy;
mod cell;
mod cleanup;
mod cli;
mod engine;
mod fsinfo;
mod histogram;
mod kaio;
mod paio_stats;
mod plot;
mod posix;
mod procs;
mod report;
mod runner;
mod sampler;
mod uring;
mod workload;

use std::io::Write;
use std::process::ExitCode;

use cli::UsageError;
use runner::RunError;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == cell::CELL_ARG) {
        return ExitCode::from(cell::cell_main(&args[1..]) as u8);
    }
    if args.first().is_some_and(|a| a == busy::BUSY_ARG) {
        return ExitCode::from(busy::busy_main(&args[1..]) as u8);
    }
    let args: Vec<String> = match args.into_iter().map(|a| a.into_string()).collect() {
        Ok(a) => a,
        Err(a) => return usage_error(&format!("argument {a:?} is not valid UTF-8")),
    };
    let opts = match cli::parse(&args) {
        Ok(o) => o,
        Err(UsageError::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(UsageError::Bad(msg)) => return usage_error(&msg),
    };
    if let Some(path) = &opts.plot {
        // Fail now rather than after minutes of measuring.
        if let Err(e) = std::fs::File::create(path) {
            eprintln!(
                "paio-bench: error: cannot write --plot {}: {e}",
                path.display()
            );
            return ExitCode::from(2);
        }
    }
    cleanup::install_signal_handlers();
    let res = match runner::run(&opts) {
        Ok(r) => r,
        Err(RunError::Input(msg)) => {
            eprintln!("paio-bench: error: {msg}");
            return ExitCode::from(2);
        }
        Err(RunError::Runtime(msg)) => {
            eprintln!("paio-bench: error: {msg}");
            return ExitCode::from(1);
        }
    };
    let table = report::table(&res, &opts);
    if opts.json {
        eprint!("{table}");
        let doc = report::json_doc(&res, &opts);
        let mut out = std::io::stdout().lock();
        let text = serde_json::to_string_pretty(&doc)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        if writeln!(out, "{text}").is_err() {
            return ExitCode::from(1);
        }
    } else {
        print!("{table}");
    }
    if let Some(path) = &opts.plot {
        if let Err(e) = std::fs::write(path, plot::svg(&res)) {
            eprintln!(
                "paio-bench: error: cannot write --plot {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
        eprintln!("paio-bench: plot written to {}", path.display());
    }
    if report::any_failed(&res) {
        eprintln!("paio-bench: some cells FAILED (see the table)");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("paio-bench: error: {msg}\nTry 'paio-bench --help'.");
    ExitCode::from(2)
}
