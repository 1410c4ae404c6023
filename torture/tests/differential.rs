//! The differential fuzzer (`paio-difffuzz`) in its CI mode: random sequences
//! of AIO calls run on glibc and under `LD_PRELOAD=libpaio.so` with
//! `PAIO_BACKEND=threads` and with the default backend, for
//! `PAIO_DIFFFUZZ_SECONDS` (default 60; the three libraries run side by
//! side, so that is the whole wall time). Any transcript where paio differs
//! from glibc fails the test, with the seed and the command that replays it.
//!
//! Environment: `PAIO_DIFFFUZZ_SECONDS`, `PAIO_DIFFFUZZ_SEED` (default: a
//! fresh seed, printed), `PAIO_SO` (a prebuilt library, see
//! `paio_ctests::paio_so`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn differential_fuzz_glibc_vs_paio() {
    let so = paio_ctests::paio_so();
    let secs: u64 = std::env::var("PAIO_DIFFFUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = paio_ctests::scratch_dir("difffuzz");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paio-difffuzz"));
    cmd.args(["--seconds", &secs.to_string(), "--so"])
        .arg(so)
        .arg("--dir")
        .arg(dir.join("work"))
        .args(["--libs", "glibc,threads,default"])
        .env_remove("LD_PRELOAD")
        .env_remove("PAIO_BACKEND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(seed) = std::env::var("PAIO_DIFFFUZZ_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let t0 = Instant::now();
    let child = cmd.spawn().expect("start paio-difffuzz");
    // The fuzzer bounds each sequence and each batch itself; this is the
    // last line of defence against a hang of the driver.
    let limit = Duration::from_secs(secs + 240);
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        let t = Instant::now();
        while t.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: signal 0 only asks whether the process still exists.
            if unsafe { libc::kill(pid as i32, 0) } != 0 {
                return false;
            }
        }
        // SAFETY: the fuzzer we started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        true
    });
    let out = child.wait_with_output().expect("paio-difffuzz output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}(ran {:.1} s)", t0.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
    let killed = watchdog.join().unwrap_or(false);
    assert!(!killed, "paio-difffuzz hung (killed after {limit:?})");
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" sequences, ") && l.contains(" differences, "))
        .unwrap_or("");
    assert!(
        !summary.is_empty(),
        "no summary line from paio-difffuzz:\n{stdout}\n{stderr}"
    );
    assert!(
        out.status.success(),
        "paio-difffuzz found differences between glibc and paio ({}):\n{summary}\n(see the DIFFERENCE lines above for each seed and its replay command)",
        out.status
    );
    assert!(
        summary.contains(" 0 differences"),
        "unexpected summary: {summary}"
    );
}
