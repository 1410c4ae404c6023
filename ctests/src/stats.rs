//! paio's exit lines (`PAIO_STATS`): which engine served a run, and whether
//! paio served it at all. Shared by the scenario suite and the environment
//! matrix, so both judge a run's engine by the same rules.

use std::fs;

use crate::harness::{engine_fields, stats_fields, Run, Status};

/// Which of paio's engines a run's `PAIO_STATS` lines must show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EngineSeen {
    /// Default backend: kernel AIO, and no fallback.
    Kaio,
    /// `PAIO_BACKEND=threads`: the pool, by choice (no fallback).
    Threads,
    /// `io_setup` denied: the pool, after `fallback=io_setup:1` (EPERM).
    Fallback,
    /// Default backend in a program that denies `io_setup` to some of its
    /// own processes (a seccomp sandbox): kernel AIO without fallback, or
    /// the pool after `io_setup` failed (`EPERM`, `EAGAIN`, `ENOSYS`...).
    KaioOrFallback,
    /// A backend named in `PAIO_CTESTS_BACKENDS` that this harness does not
    /// know what to expect of.
    Unchecked,
}

/// Every exit line of a run names the engine its mode asks for. A run that
/// wrote no line is judged by [`check_stats_present`].
pub fn check_stats(run: &Run, expect: EngineSeen, failures: &mut Vec<String>) {
    if matches!(run.status, Status::Failed(_)) || expect == EngineSeen::Unchecked {
        return;
    }
    let Some(stats) = &run.stats else { return };
    for line in stats.lines() {
        let (backend, fallback) = match engine_fields(run, line) {
            Ok(fields) => fields,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let ok = match expect {
            EngineSeen::Kaio => backend == Some("kaio") && fallback.is_none(),
            EngineSeen::Threads => backend == Some("threads") && fallback.is_none(),
            // Kernel AIO is set up by the first request that needs it; a run
            // that never needed it never tried io_setup, and must then show
            // that nothing went to the kernel.
            EngineSeen::Fallback => {
                (backend == Some("threads") && fallback == Some("io_setup:1"))
                    || (backend == Some("kaio")
                        && fallback.is_none()
                        && stats_fields(line)
                            .is_some_and(|f| f.iter().any(|&(k, v)| k == "kernel" && v == "0")))
            }
            EngineSeen::KaioOrFallback => {
                (backend == Some("kaio") && fallback.is_none())
                    || (backend == Some("threads")
                        && fallback.is_some_and(|f| f.starts_with("io_setup:")))
            }
            EngineSeen::Unchecked => true,
        };
        if !ok {
            let want = match expect {
                EngineSeen::Kaio => "backend=kaio without fallback",
                EngineSeen::Threads => "backend=threads without fallback",
                EngineSeen::KaioOrFallback => "backend=kaio without fallback, or backend=threads fallback=io_setup:ERRNO (the program's own seccomp sandbox)",
                _ => "backend=threads fallback=io_setup:1 (EPERM from the seccomp filter), or backend=kaio kernel=0 for a run that never needed the kernel",
            };
            let budget = if line.contains(" fallback=io_setup:11 ") {
                format!(
                    " ({}; {AIO_BUDGET_RERUNS} reruns fell back too)",
                    aio_budget()
                )
            } else {
                String::new()
            };
            failures.push(format!(
                "{}: paio ran another engine than this mode tests: {want} expected{budget}, PAIO_STATS says\n  {line}\n{}",
                run.label,
                run.details()
            ));
        }
    }
}

/// How often a default-backend run is repeated when `io_setup` failed with
/// `EAGAIN` (see [`aio_budget_exhausted`]).
pub const AIO_BUDGET_RERUNS: usize = 2;

/// True when paio fell back because `io_setup` failed with `EAGAIN`: the
/// system-wide `fs.aio-max-nr` was used up, by this run or by any other
/// process on the machine (each paio process takes 1024 events per CPU).
pub fn aio_budget_exhausted(run: &Run) -> bool {
    run.stats
        .iter()
        .flat_map(|s| s.lines())
        .any(|l| l.contains(" fallback=io_setup:11 "))
}

/// `fs.aio-nr of fs.aio-max-nr` now, for the report.
pub fn aio_budget() -> String {
    let read = |f: &str| {
        fs::read_to_string(format!("/proc/sys/fs/{f}"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".into())
    };
    format!(
        "fs.aio-nr now {} of fs.aio-max-nr {}",
        read("aio-nr"),
        read("aio-max-nr")
    )
}

/// True when one of the run's processes made AIO requests, by its exit line.
pub fn made_requests(run: &Run) -> bool {
    run.stats.iter().flat_map(|s| s.lines()).any(|line| {
        stats_fields(line).is_some_and(|f| {
            f.iter()
                .any(|(k, v)| *k == "requests" && v.parse::<u64>().is_ok_and(|n| n > 0))
        })
    })
}

/// Every paio run that passed must have written an exit line counting
/// requests, unless the program makes none (`makes_requests` false);
/// otherwise paio was not what served it (a preload that did not take, an
/// exit line never written) and the engine check above proved nothing.
pub fn check_stats_present(makes_requests: bool, paio_runs: &[Run], failures: &mut Vec<String>) {
    let Some(witness) = paio_runs.iter().find(|r| made_requests(r)) else {
        let passed = paio_runs
            .iter()
            .find(|r| matches!(r.status, Status::Passed) && r.stats.is_some());
        if let (Some(run), true) = (passed, makes_requests) {
            failures.push(format!(
                "no paio run wrote a PAIO_STATS line with requests > 0: did paio serve them? \
                 (a program that makes no request must be declared so)\n{}",
                run.details()
            ));
        }
        return;
    };
    for run in paio_runs {
        if matches!(run.status, Status::Passed) && run.stats.is_some() && !made_requests(run) {
            failures.push(format!(
                "{}: no PAIO_STATS line with requests > 0, although {} wrote one: did paio serve this run?\n{}",
                run.label,
                witness.label,
                run.details()
            ));
        }
    }
}
