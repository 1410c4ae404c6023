//! The torture test in its CI mode (about a minute, bounded) under
//! `LD_PRELOAD=libpaio.so`, once with `PAIO_BACKEND=threads` and once with the
//! default backend (kernel AIO where the kernel allows it). The two run in
//! parallel, as two tests of this binary. Any failure of the torture
//! (a wrong result, a lost or duplicated notification, a hang) fails the test
//! with the torture's own report.
//!
//! Environment: `PAIO_TORTURE_SECONDS` (default 60), `PAIO_TORTURE_SEED`
//! (default: a fresh seed, printed, so a failure can be replayed), `PAIO_SO`
//! (a prebuilt library, see `paio_ctests::paio_so`).

use std::process::Command;
use std::time::{Duration, Instant};

fn run(backend: Option<&str>) {
    let so = paio_ctests::paio_so();
    let seconds = std::env::var("PAIO_TORTURE_SECONDS").unwrap_or_else(|_| "60".into());
    let dir = paio_ctests::scratch_dir(&format!("torture-{}", backend.unwrap_or("default")));
    let stats = dir.join("stats");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paio-torture"));
    cmd.args(["--seconds", &seconds, "--dir"])
        .arg(dir.join("work"))
        .env("LD_PRELOAD", so)
        .env("PAIO_STATS", &stats)
        .env_remove("PAIO_BACKEND");
    if let Ok(seed) = std::env::var("PAIO_TORTURE_SEED") {
        cmd.args(["--seed", &seed]);
    }
    if let Some(b) = backend {
        cmd.env("PAIO_BACKEND", b);
    }
    let t0 = Instant::now();
    let out = cmd.output().expect("run paio-torture");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stats = std::fs::read_to_string(&stats).unwrap_or_default();
    println!(
        "{stdout}{stderr}{stats}(ran {:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "paio-torture failed ({}) with backend {}:\n{stdout}\n{stderr}",
        out.status,
        backend.unwrap_or("default")
    );
    assert!(
        stdout.contains("paio-torture: PASS"),
        "no PASS line:\n{stdout}"
    );
    assert!(
        stdout.contains("libpaio"),
        "the torture did not run on libpaio:\n{stdout}"
    );
    assert!(
        stats.starts_with("paio: pid="),
        "PAIO_STATS line missing: {stats:?}"
    );
    match backend {
        Some("threads") => assert!(stats.contains("backend=threads"), "{stats}"),
        _ => assert!(stats.contains("backend="), "{stats}"),
    }
    assert!(
        t0.elapsed() < Duration::from_secs(300),
        "the CI mode must stay bounded"
    );
}

#[test]
fn torture_threads_backend() {
    run(Some("threads"));
}

#[test]
fn torture_default_backend() {
    run(None);
}
