//! A bounded run of the fuzz interpreter under `LD_PRELOAD=libpaio.so`, for
//! machines without the coverage-guided fuzzer: the saved corpus
//! (`fuzz/corpus/submit`, inputs libFuzzer found to reach new code) and then
//! random inputs for `PAIO_FUZZ_SECONDS` (default 20), on both backends. Any
//! violation (crash, hang, unresolved request, inconsistent result) fails.

use std::process::Command;

fn run(backend: Option<&str>) {
    let so = paio_ctests::paio_so();
    let secs = std::env::var("PAIO_FUZZ_SECONDS").unwrap_or_else(|_| "20".into());
    let corpus = paio_ctests::workspace_root()
        .join("fuzz")
        .join("corpus")
        .join("submit");
    let dir = paio_ctests::scratch_dir(&format!("fuzz-replay-{}", backend.unwrap_or("default")));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paio-fuzz-replay"));
    cmd.args(["--seconds", &secs])
        .env("LD_PRELOAD", so)
        .env("TMPDIR", &dir)
        .env_remove("PAIO_BACKEND");
    if corpus.is_dir() {
        cmd.arg(&corpus);
    }
    if let Some(b) = backend {
        cmd.env("PAIO_BACKEND", b);
    }
    let mut child = cmd.spawn().expect("start paio-fuzz-replay");
    let t0 = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(secs.parse::<u64>().unwrap_or(20) + 120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "paio-fuzz-replay hung (backend {})",
                backend.unwrap_or("default")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "paio-fuzz-replay failed: {status} (backend {})",
        backend.unwrap_or("default")
    );
}

#[test]
fn fuzz_replay_threads_backend() {
    run(Some("threads"));
}

#[test]
fn fuzz_replay_default_backend() {
    run(None);
}
