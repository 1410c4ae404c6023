//! `paio-fuzz-replay`: runs fuzz inputs through the fuzz interpreter
//! (`fuzzexec.rs`) with paio loaded by `LD_PRELOAD`: the saved corpus and
//! crash files given as arguments, then random inputs for `--seconds`. The
//! bounded run the test suite makes where the coverage-guided fuzzer
//! (`fuzz/`, cargo-fuzz) is not installed.
//!
//! ```text
//! paio-fuzz-replay [--seconds N] [--seed N] [--allow-glibc] [FILE|DIR]...
//! ```

#[path = "../ffi.rs"]
mod ffi;
#[path = "../fuzzexec.rs"]
mod fuzzexec;

use ffi::{now_ms, Rng};

fn main() {
    let mut seconds = 0u64;
    let mut seed = now_ms();
    let mut allow_glibc = false;
    let mut paths = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--seed" => seed = it.next().and_then(|v| v.parse().ok()).expect("--seed N"),
            "--allow-glibc" => allow_glibc = true,
            _ => paths.push(std::path::PathBuf::from(a)),
        }
    }
    let provider = ffi::aio_provider();
    println!("paio-fuzz-replay: aio from {provider}, seed {seed}");
    if !provider.contains("libpaio") && !allow_glibc {
        eprintln!("paio-fuzz-replay: not running on libpaio (use LD_PRELOAD, or --allow-glibc)");
        std::process::exit(3);
    }
    let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    let mut env = fuzzexec::Env::new(&format!("{base}/paio-fuzz-replay-{}", std::process::id()));
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(&p)
                .expect("read corpus dir")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            v.sort();
            files.extend(v);
        } else {
            files.push(p);
        }
    }
    let t0 = now_ms();
    for f in &files {
        let data = std::fs::read(f).expect("read input");
        env.run(&data);
    }
    let replayed = env.inputs;
    let mut rng = Rng(seed);
    let end = now_ms() + seconds * 1000;
    let mut data = Vec::new();
    while now_ms() < end {
        let len = rng.below(600) as usize;
        data.clear();
        data.extend((0..len).map(|_| rng.next() as u8));
        env.run(&data);
    }
    let ms = (now_ms() - t0).max(1);
    println!(
        "paio-fuzz-replay: PASS {} inputs ({replayed} from files, {} random), {} calls, {} requests accepted and resolved, {:.0} inputs/s, {} SIGEV_THREAD callbacks",
        env.inputs,
        env.inputs - replayed,
        env.calls,
        env.accepted,
        env.inputs as f64 * 1000.0 / ms as f64,
        fuzzexec::CALLBACKS.load(std::sync::atomic::Ordering::Relaxed)
    );
}
