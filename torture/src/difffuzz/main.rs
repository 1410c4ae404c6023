//! `paio-difffuzz`: a differential fuzzer. Each seed becomes a random
//! sequence of POSIX AIO calls (every function, every notification kind,
//! cancels, close/dup2/reopen of descriptors, page-cache evictions that
//! send paio's buffered reads to io_uring, a fork, a signal probe) on
//! regular files (buffered and `O_DIRECT`), pipes, socketpairs, `/dev/null`,
//! `/dev/zero` and bad descriptors, built so that POSIX fixes everything the
//! transcript shows (`gen`). The sequence runs once on glibc and once
//! under paio per backend (`exec`, in a fresh forked process each), and
//! the transcripts must be identical (`compare.rs`); glibc's known defects
//! are kept out by name (`glibc_bugs.rs`).
//!
//! ```text
//! paio-difffuzz [--seconds N | --count N] [--seed N] [--so PATH] [--libs glibc,threads,default]
//!               [--batch N] [--verbose] [--max-report N] [--without sigwait,fork,direct-reuse,cancel,evict]
//! paio-difffuzz --shrink --seed N [--libs ...]   the fewest steps of seed N that still differ
//! paio-difffuzz --print-ops --seed N        the generated sequence
//! paio-difffuzz --known-glibc-bugs          the table of what is not generated
//! paio-difffuzz --exec --seed N --count N --dir D   (internal) the executor
//! ```
//!
//! The first library of `--libs` is the reference (glibc by default; `--libs
//! glibc,glibc` checks that the transcripts are deterministic).

#[path = "../cmdline.rs"]
mod cmdline;
#[path = "../ffi.rs"]
mod ffi;
#[path = "../forkchild.rs"]
mod forkchild;

mod compare;
mod exec;
mod gen;
mod glibc_bugs;

use std::collections::BTreeMap;

use cmdline::Words;
use compare::{clean, first_difference, replay_command, run_batch, Lib, Totals, Transcript};
use ffi::now_ms;

struct Args {
    exec: bool,
    seed: u64,
    count: Option<u64>,
    seconds: Option<u64>,
    so: Option<String>,
    libs: Vec<Lib>,
    batch: u64,
    dir: Option<String>,
    verbose: bool,
    max_report: u64,
    print_ops: bool,
    shape: gen::Shape,
    shrink: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: paio-difffuzz [--seconds N | --count N] [--seed N] [--so PATH] [--libs glibc,threads,default] [--batch N] [--verbose] [--max-report N] [--without sigwait,fork,direct-reuse,cancel,evict] [--max-steps N] | --shrink --seed N | --print-ops --seed N | --known-glibc-bugs");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        exec: false,
        seed: now_ms() % 1_000_000_007,
        count: None,
        seconds: None,
        so: std::env::var("PAIO_SO").ok(),
        libs: ["glibc", "threads", "default"]
            .iter()
            .map(|l| Lib::parse(l))
            .collect(),
        batch: 20,
        dir: None,
        verbose: false,
        max_report: 10,
        print_ops: false,
        shape: gen::Shape::default(),
        shrink: false,
    };
    let mut it = Words::from_env(usage);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--exec" => a.exec = true,
            "--seed" => a.seed = it.num("--seed"),
            "--count" => a.count = Some(it.num("--count")),
            "--seconds" => a.seconds = Some(it.num("--seconds")),
            "--batch" => a.batch = it.num("--batch").max(1),
            "--max-report" => a.max_report = it.num("--max-report"),
            "--so" => a.so = Some(it.value("--so", "a path")),
            "--dir" => a.dir = Some(it.value("--dir", "a path")),
            "--libs" => {
                let v = it.value("--libs", "a list");
                a.libs = v.split(',').map(Lib::parse).collect();
                if a.libs.len() < 2 {
                    usage("--libs needs a reference and at least one library to compare");
                }
            }
            "--without" => {
                let v = it.value("--without", "a list");
                a.shape.without = gen::Without::parse(&v).unwrap_or_else(|| {
                    usage("--without takes sigwait, fork, direct-reuse, cancel, evict (comma-separated)")
                });
            }
            "--max-steps" => a.shape.max_steps = Some(it.num("--max-steps") as usize),
            "--shrink" => a.shrink = true,
            "--verbose" => a.verbose = true,
            "--print-ops" => a.print_ops = true,
            "--known-glibc-bugs" => {
                glibc_bugs::print_table();
                std::process::exit(0)
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a
}

fn main() {
    let args = parse_args();
    if args.print_ops {
        for (i, op) in gen::Gen::sequence(args.seed, args.shape).iter().enumerate() {
            println!("{i} {op:?}");
        }
        return;
    }
    if args.exec {
        return exec_mode(&args);
    }
    drive(&args);
}

/// The executor: each seed in a forked process of its own, its transcript
/// framed by `=== seed N` and `=== end STATUS` lines on stdout.
fn exec_mode(args: &Args) {
    let base = args.dir.clone().unwrap_or_else(|| "/tmp".into());
    exec::install_handlers();
    let say = |s: &str| {
        let b = s.as_bytes();
        // SAFETY: writing our own buffer to stdout (no buffering to share
        // with the forked children).
        unsafe { libc::write(1, b.as_ptr() as *const _, b.len()) };
    };
    for seed in args.seed..args.seed + args.count.unwrap_or(1) {
        let dir = format!("{base}/seq-{seed}");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the sequence directory");
        say(&format!("=== seed {seed}\n"));
        // SAFETY: this process never started an AIO call, so no library
        // thread exists to be lost in the child.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: a sequence that hangs past this is killed.
            unsafe { libc::alarm(25) };
            let ops = gen::Gen::sequence(seed, args.shape);
            let mut e = exec::Exec::new(&dir);
            e.run(&ops);
            say(&format!("# calls {}\n", e.calls));
            // SAFETY: no destructors or atexit handlers that could wait on
            // what the sequence left behind.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let st = if libc::WIFEXITED(status) {
            format!("exit {}", libc::WEXITSTATUS(status))
        } else {
            format!("signal {}", libc::WTERMSIG(status))
        };
        say(&format!("=== end {st}\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Cut the failing sequence of `--seed` to the fewest steps that still show
/// the difference (a binary search over `--max-steps`; each cut sequence
/// is a prefix of the full one), and print its transcripts.
fn shrink(args: &Args, so: &str, base: &str) {
    let dir = format!("{base}/shrink");
    std::fs::create_dir_all(&dir).expect("create the work directory");
    let run = |lib: &Lib, steps: Option<usize>| {
        let shape = gen::Shape {
            max_steps: steps,
            ..args.shape
        };
        run_batch(so, lib, args.seed, 1, &dir, &shape)
            .remove(&args.seed)
            .unwrap_or_default()
    };
    for lib in &args.libs[1..] {
        // A difference that depends on timing may need a few tries.
        let differs = |steps: Option<usize>| {
            (0..3).any(|_| {
                let r = run(&args.libs[0], steps);
                clean(&r) && first_difference(&r, &run(lib, steps)).is_some()
            })
        };
        if !differs(args.shape.max_steps) {
            println!(
                "paio-difffuzz: seed {} shows no difference on {}",
                args.seed, lib.name
            );
            continue;
        }
        let (mut lo, mut hi) = (0usize, args.shape.max_steps.unwrap_or(64));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if differs(Some(mid)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let shape = gen::Shape {
            max_steps: Some(hi),
            ..args.shape
        };
        let (r, t) = (run(&args.libs[0], Some(hi)), run(lib, Some(hi)));
        println!(
            "paio-difffuzz: seed {} on {}: {hi} steps still differ\n  replay: {}",
            args.seed,
            lib.name,
            replay_command(so, args.seed, &[args.libs[0].clone(), lib.clone()], &shape)
        );
        for (name, tr) in [(&args.libs[0].name, &r), (&lib.name, &t)] {
            println!("--- {name} ({})", tr.status);
            for l in &tr.lines {
                println!("  {l}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(base);
}

fn drive(args: &Args) {
    let so = args.so.clone().unwrap_or_default();
    if args.libs.iter().any(|l| l.paio.is_some()) && !std::path::Path::new(&so).is_file() {
        usage("libpaio.so not found: give --so PATH or PAIO_SO");
    }
    let base = args.dir.clone().unwrap_or_else(|| {
        let t = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        format!("{t}/paio-difffuzz-{}", std::process::id())
    });
    if args.shrink {
        return shrink(args, &so, &base);
    }
    let names: Vec<&str> = args.libs.iter().map(|l| l.name.as_str()).collect();
    println!(
        "paio-difffuzz: first seed {}, {}, comparing {} against {}",
        args.seed,
        match (args.count, args.seconds) {
            (Some(c), _) => format!("{c} sequences"),
            (None, s) => format!("{} s", s.unwrap_or(20)),
        },
        names[1..].join(", "),
        names[0]
    );
    let t0 = now_ms();
    let deadline = t0 + args.seconds.unwrap_or(20) * 1000;
    let mut tot = Totals {
        sequences: 0,
        calls: 0,
        differences: 0,
        glibc_failures: 0,
        unstable: 0,
        failing_seeds: Vec::new(),
    };
    let mut seed = args.seed;
    loop {
        let left = match args.count {
            Some(c) => c.saturating_sub(tot.sequences),
            None if now_ms() < deadline => args.batch,
            None => 0,
        };
        if left == 0 {
            break;
        }
        let n = left.min(args.batch);
        // Every library runs the batch at the same time, each in its own
        // directory.
        let results: Vec<BTreeMap<u64, Transcript>> = std::thread::scope(|sc| {
            let hs: Vec<_> = args
                .libs
                .iter()
                .enumerate()
                .map(|(i, lib)| {
                    let dir = format!("{base}/{i}");
                    let so = so.clone();
                    sc.spawn(move || {
                        std::fs::create_dir_all(&dir).expect("create the work directory");
                        run_batch(&so, lib, seed, n, &dir, &args.shape)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("batch thread"))
                .collect()
        });
        for s in seed..seed + n {
            tot.sequences += 1;
            let reference = results[0].get(&s).cloned().unwrap_or_default();
            tot.calls += results
                .iter()
                .filter_map(|r| r.get(&s))
                .map(|t| t.calls)
                .sum::<u64>();
            if args.verbose {
                for (lib, r) in args.libs.iter().zip(&results) {
                    let t = r.get(&s).cloned().unwrap_or_default();
                    println!("--- seed {s} on {} ({})", lib.name, t.status);
                    for l in &t.lines {
                        println!("  {l}");
                    }
                }
            }
            if !clean(&reference) {
                tot.glibc_failures += 1;
                println!(
                    "paio-difffuzz: seed {s}: the reference ({}) did not run cleanly ({}), not compared: {}",
                    args.libs[0].name,
                    reference.status,
                    reference.lines.last().map_or("", |l| l.as_str())
                );
                continue;
            }
            let diffs: Vec<(&Lib, (usize, String, String))> = args
                .libs
                .iter()
                .zip(&results)
                .skip(1)
                .filter_map(|(lib, r)| {
                    let t = r.get(&s).cloned().unwrap_or_else(|| Transcript {
                        status: "missing (the executor died)".into(),
                        ..Transcript::default()
                    });
                    first_difference(&reference, &t).map(|d| (lib, d))
                })
                .collect();
            if diffs.is_empty() {
                continue;
            }
            // A difference counts only where the reference gives the same
            // transcript again (twice): a sequence whose glibc run varies
            // has an outcome POSIX does not fix, which is the generator's
            // fault, not paio's.
            let again = |lib: &Lib| {
                let dir = format!("{base}/confirm");
                std::fs::create_dir_all(&dir).expect("create the work directory");
                run_batch(&so, lib, s, 1, &dir, &args.shape)
                    .remove(&s)
                    .unwrap_or_default()
            };
            let unstable =
                (0..2).any(|_| first_difference(&reference, &again(&args.libs[0])).is_some());
            if unstable {
                tot.unstable += 1;
                println!(
                    "paio-difffuzz: seed {s}: the reference's transcript varies between runs, not compared"
                );
                continue;
            }
            for (lib, (line, want, got)) in diffs {
                let repeated = first_difference(&reference, &again(lib)).is_some();
                tot.differences += 1;
                tot.failing_seeds.push((s, lib.name.clone()));
                if tot.differences <= args.max_report {
                    println!(
                        "paio-difffuzz: DIFFERENCE seed {s} on {} at transcript line {line} ({}):\n  {:<12} {want}\n  {:<12} {got}\n  replay: {}",
                        lib.name,
                        if repeated { "again on a second run" } else { "not on a second run: intermittent" },
                        args.libs[0].name,
                        lib.name,
                        replay_command(&so, s, &[args.libs[0].clone(), lib.clone()], &args.shape)
                    );
                }
            }
        }
        seed += n;
    }
    let _ = std::fs::remove_dir_all(&base);
    let secs = (now_ms() - t0) as f64 / 1000.0;
    println!(
        "paio-difffuzz: {} sequences, {} calls (AIO calls of all runs), {} differences, {} not compared (reference failed: {}, reference varies: {}) in {secs:.1} s (seeds {}..{})",
        tot.sequences,
        tot.calls,
        tot.differences,
        tot.glibc_failures + tot.unstable,
        tot.glibc_failures,
        tot.unstable,
        args.seed,
        seed
    );
    if !tot.failing_seeds.is_empty() {
        let list: Vec<String> = tot
            .failing_seeds
            .iter()
            .take(50)
            .map(|(s, l)| format!("{s}@{l}"))
            .collect();
        println!("paio-difffuzz: failing seeds: {}", list.join(" "));
        std::process::exit(1);
    }
}
