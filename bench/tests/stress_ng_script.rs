//! `bench/scripts/stress-ng-aio.sh` runs: one pair of small stress-ng runs,
//! glibc then paio, and the table with a ratio. Never asserts on timing.

use std::process::Command;

#[test]
fn the_stress_ng_script_prints_a_pair_and_a_ratio() {
    if Command::new("stress-ng").arg("--version").output().is_err() {
        eprintln!("SKIP: stress-ng is not installed (.ci/apt-packages installs it)");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/stress-ng-aio.sh");
    let dir = std::env::temp_dir().join(format!("stress-ng-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("bash")
        .arg(script)
        .arg("1")
        .env("PRELOAD", paio_ctests::paio_so())
        .env("OPS", "2000")
        .env("TMPDIR", &dir)
        .output()
        .expect("run the script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "script failed:\n{stdout}\n{stderr}");
    let pair = stdout
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap_or_else(|| panic!("no pair row:\n{stdout}"));
    let fields: Vec<f64> = pair
        .split_whitespace()
        .skip(1)
        .map(|f| {
            f.parse()
                .unwrap_or_else(|_| panic!("not a number in {pair:?}"))
        })
        .collect();
    assert_eq!(fields.len(), 3, "glibc_s paio_s ratio: {pair:?}");
    assert!(fields.iter().all(|&v| v > 0.0), "{pair:?}");
    assert!(
        stdout.contains("median glibc/paio time ratio: "),
        "no ratio line:\n{stdout}"
    );
    // The stressors' files are gone with the script's directory.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
