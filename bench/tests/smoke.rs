//! Runs the built `paio-bench` in `--smoke --json --plot` mode against a
//! release-built libpaio.so and checks the plumbing: every column ran, the I/O
//! counts add up, the JSON parses, the SVG is well-formed, the test file is
//! gone. Never asserts on timing.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_paio-bench");
/// `SMOKE_IOS` in src/runner.rs.
const SMOKE_IOS: u64 = 256;

fn leftover_test_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("paio-bench-") && n.ends_with(".dat"))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the scratch directory however the test ends.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {k} in {v}"))
}

fn u64_field(v: &Value, k: &str) -> u64 {
    v.get(k)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer {k} in {v}"))
}

#[test]
fn smoke_run_every_column_json_and_plot() {
    let so = paio_ctests::paio_so();
    let scratch = Scratch(paio_ctests::scratch_dir("bench-smoke"));
    let dir = &scratch.0;
    let svg = dir.join("plot.svg");
    let out = Command::new(BIN)
        .args(["--smoke", "--json", "--plot"])
        .arg(&svg)
        .arg("--dir")
        .arg(dir)
        .arg("--lib")
        .arg(so)
        .output()
        .expect("run paio-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "paio-bench --smoke failed: {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let doc: Value = serde_json::from_slice(&out.stdout).expect("--json output parses");
    assert_eq!(doc["ok"], Value::Bool(true));
    assert_eq!(doc["config"]["smoke"], Value::Bool(true));
    let workloads = doc["workloads"].as_array().expect("workloads array");
    let names: Vec<&str> = workloads.iter().map(|w| str_field(w, "name")).collect();
    assert_eq!(
        names,
        [
            "cached-qd1",
            "cached-qd32",
            "cached-qd128",
            "direct-qd32",
            "cold-qd32",
            "write-fsync",
            "threads2-qd32"
        ]
    );

    let mut runs_ok = 0u64;
    let mut ios_total = 0u64;
    for w in workloads {
        let name = str_field(w, "name");
        if let Some(why) = w["skipped"].as_str() {
            // Only a filesystem without O_DIRECT may skip a row in smoke mode.
            assert_eq!(name, "direct-qd32", "{name} skipped: {why}");
            continue;
        }
        let impls = w["impls"].as_array().expect("impls array");
        let cols: Vec<&str> = impls.iter().map(|c| str_field(c, "impl")).collect();
        assert_eq!(cols, ["glibc", "paio", "io_submit", "io_uring"], "{name}");
        for c in impls {
            let imp = str_field(c, "impl");
            let status = str_field(c, "status");
            // The kernel columns may be refused (seccomp, io_uring disabled); the
            // POSIX columns must run.
            if status == "na" && (imp == "io_submit" || imp == "io_uring") {
                assert!(c["reason"].as_str().is_some_and(|r| !r.is_empty()));
                continue;
            }
            assert_eq!(status, "ok", "{name}/{imp}: {}", c["reason"]);
            let runs = c["runs"].as_array().expect("runs");
            assert_eq!(runs.len(), 1, "--smoke runs one rep");
            for r in runs {
                assert_eq!(str_field(r, "status"), "ok");
                assert_eq!(str_field(r, "impl"), imp);
                assert_eq!(str_field(r, "workload"), name);
                let ios = u64_field(r, "ios");
                let fsyncs = u64_field(r, "fsyncs");
                assert_eq!(ios, SMOKE_IOS, "{name}/{imp}");
                assert_eq!(
                    fsyncs,
                    if name == "write-fsync" {
                        SMOKE_IOS / 16
                    } else {
                        0
                    },
                    "{name}/{imp}"
                );
                assert_eq!(
                    u64_field(r, "hist_count"),
                    ios + fsyncs,
                    "{name}/{imp}: every I/O timed once"
                );
                assert!(r["iops"].as_f64().is_some_and(|x| x > 0.0), "{name}/{imp}");
                assert!(u64_field(r, "maxrss_kib") > 0);
                assert!(u64_field(r, "threads_peak") >= u64_field(r, "threads_own"));
                let from = str_field(r, "aio_read_from");
                let file = Path::new(from)
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or("");
                match imp {
                    "paio" => assert!(
                        file.starts_with("libpaio"),
                        "paio column ran with aio_read from {from}"
                    ),
                    _ => assert!(
                        file.starts_with("libc"),
                        "{imp} column ran with aio_read from {from}"
                    ),
                }
                runs_ok += 1;
                ios_total += ios;
            }
            let summary = &c["summary"];
            assert!(summary["iops"].as_f64().is_some_and(|x| x > 0.0));
        }
        // Both POSIX columns ran, so the paio/glibc ratio exists.
        assert!(
            w["ratios"]["paio/glibc"]["median"]
                .as_f64()
                .is_some_and(|x| x > 0.0),
            "{name}"
        );
    }
    assert!(runs_ok >= 12, "too few cells ran: {runs_ok}");
    assert_eq!(ios_total, runs_ok * SMOKE_IOS);

    // The table went to stderr alongside the JSON.
    assert!(
        stderr.contains("cached-qd32") && stderr.contains("paio/glibc"),
        "{stderr}"
    );

    let text = std::fs::read_to_string(&svg).expect("--plot wrote the SVG");
    let xml = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    let root = xml.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let lines = root
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert!(lines >= 2, "one line per implementation, found {lines}");
    let labels: String = root.descendants().filter_map(|n| n.text()).collect();
    assert!(
        labels.contains("paio") && labels.contains("glibc"),
        "legend names the columns"
    );

    assert!(
        leftover_test_files(dir).is_empty(),
        "test file left behind: {:?}",
        leftover_test_files(dir)
    );
}

/// The path of the libc.so.6 this test process runs on: a real library that is
/// not libpaio.
fn system_libc() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so"))
        .map(String::from)
}

#[test]
fn a_library_that_is_not_libpaio_is_refused() {
    let Some(libc_so) = system_libc() else {
        eprintln!("skipped: cannot find libc.so in /proc/self/maps");
        return;
    };
    let scratch = Scratch(paio_ctests::scratch_dir("bench-notpaio"));
    let dir = &scratch.0;
    let out = Command::new(BIN)
        .args([
            "--smoke",
            "--json",
            "--workloads",
            "cached-qd1",
            "--impls",
            "glibc,paio",
            "--lib",
            &libc_so,
            "--dir",
        ])
        .arg(dir)
        .output()
        .expect("run paio-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let paio = &doc["workloads"][0]["impls"][1];
    assert_eq!(paio["impl"], "paio");
    assert_eq!(paio["status"], "na", "{paio}");
    assert!(
        paio["reason"]
            .as_str()
            .is_some_and(|r| r.contains("did not take effect")),
        "{paio}"
    );
    assert_eq!(doc["workloads"][0]["ratios"]["paio/glibc"], Value::Null);
    assert!(leftover_test_files(dir).is_empty());
}
