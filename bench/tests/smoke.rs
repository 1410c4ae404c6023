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

impl Scratch {
    /// The directory as an argument.
    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `paio_ctests::paio_so()` as an argument.
fn paio_so() -> &'static str {
    paio_ctests::paio_so().to_str().expect("utf-8 path")
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

/// The workloads of a `--json` document, checked to be `names` in that order.
fn workloads_named<'a>(doc: &'a Value, names: &[&str]) -> &'a [Value] {
    let rows = doc["workloads"].as_array().expect("workloads array");
    let got: Vec<&str> = rows.iter().map(|w| str_field(w, "name")).collect();
    assert_eq!(got, names);
    rows
}

#[test]
fn smoke_run_every_column_json_and_plot() {
    let scratch = Scratch(paio_ctests::scratch_dir("bench-smoke"));
    let dir = &scratch.0;
    let svg = dir.join("plot.svg");
    let (_, doc, stderr) = run_json(&[
        "--smoke",
        "--plot",
        svg.to_str().expect("utf-8"),
        "--dir",
        scratch.arg(),
        "--lib",
        paio_so(),
    ]);
    assert_eq!(doc["config"]["smoke"], Value::Bool(true));
    let workloads = workloads_named(
        &doc,
        &[
            "cached-qd1",
            "cached-qd32",
            "cached-qd128",
            "direct-qd32",
            "cold-qd32",
            "write-fsync",
            "threads2-qd32",
        ],
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

/// Runs paio-bench with `args`, returning its pid (the test files carry it in
/// their names), the parsed `--json` document and stderr; asserts success.
fn run_json(args: &[&str]) -> (u32, Value, String) {
    let child = Command::new(BIN)
        .args(args)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run paio-bench");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for paio-bench");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{args:?} failed: {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("--json output parses");
    assert_eq!(doc["ok"], Value::Bool(true), "{stderr}");
    (pid, doc, stderr)
}

/// Test files paio-bench process `pid` left in `dir`.
fn files_of(dir: &Path, pid: u32) -> Vec<String> {
    let prefix = format!("paio-bench-{pid}-");
    leftover_test_files(dir)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
fn dirs_run_side_by_side_with_their_filesystems() {
    let a = Scratch(paio_ctests::scratch_dir("bench-dirs-a"));
    // tmpfs where the machine has it, so the two rows differ; else a second scratch dir.
    let shm = Path::new("/dev/shm");
    let b = Scratch(paio_ctests::scratch_dir("bench-dirs-b"));
    let second = if shm.is_dir() { shm } else { b.0.as_path() };
    let dirs = format!("{},{}", a.0.display(), second.display());
    let (pid, doc, stderr) = run_json(&[
        "--smoke",
        "--dirs",
        &dirs,
        "--workloads",
        "cached-qd1,cached-qd32",
        "--impls",
        "glibc,paio",
        "--lib",
        paio_so(),
    ]);
    let targets = doc["config"]["dirs"].as_array().expect("config.dirs");
    assert_eq!(targets.len(), 2, "{targets:?}");
    for (t, want) in targets.iter().zip([a.0.as_path(), second]) {
        assert_eq!(str_field(t, "dir"), want.to_str().unwrap());
        assert!(!str_field(t, "fs").is_empty(), "{t}");
        assert!(str_field(t, "f_type").starts_with("0x"), "{t}");
    }
    let rows = doc["workloads"].as_array().expect("workloads");
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|w| (str_field(w, "name"), str_field(w, "dir")))
        .collect();
    let (da, db) = (a.0.to_str().unwrap(), second.to_str().unwrap());
    assert_eq!(
        got,
        [
            ("cached-qd1", da),
            ("cached-qd1", db),
            ("cached-qd32", da),
            ("cached-qd32", db)
        ]
    );
    for w in rows {
        assert_eq!(
            str_field(w, "fs"),
            str_field(&targets[usize::from(str_field(w, "dir") == db)], "fs")
        );
        for c in w["impls"].as_array().expect("impls") {
            assert_eq!(str_field(c, "status"), "ok", "{c}");
            assert_eq!(u64_field(&c["runs"][0], "ios"), SMOKE_IOS);
        }
        assert!(w["ratios"]["paio/glibc"]["median"].as_f64().is_some());
    }
    // One table, with a filesystem column and a line per directory above it.
    assert!(stderr.contains("each of 2 directories"), "{stderr}");
    let header = stderr
        .lines()
        .find(|l| l.starts_with("workload"))
        .expect("table header");
    assert!(header.split_whitespace().nth(1) == Some("fs"), "{header}");
    assert_eq!(
        stderr.matches("\nworkload").count(),
        1,
        "one table: {stderr}"
    );
    assert!(files_of(&a.0, pid).is_empty() && files_of(second, pid).is_empty());
}

#[test]
fn sizes_time_the_submitting_call() {
    let scratch = Scratch(paio_ctests::scratch_dir("bench-sizes"));
    let (pid, doc, stderr) = run_json(&[
        "--smoke",
        "--workloads",
        "sizes",
        "--dir",
        scratch.arg(),
        "--lib",
        paio_so(),
    ]);
    // --smoke keeps the sizes up to 1 MiB.
    let rows = workloads_named(
        &doc,
        &[
            "sizes-read-4k",
            "sizes-write-4k",
            "sizes-read-64k",
            "sizes-write-64k",
            "sizes-read-1m",
            "sizes-write-1m",
        ],
    );
    for w in rows {
        let name = str_field(w, "name");
        assert_eq!(str_field(w, "family"), "sizes");
        assert_eq!(u64_field(w, "depth"), 1);
        let block = u64_field(w, "block");
        for c in w["impls"].as_array().expect("impls") {
            let imp = str_field(c, "impl");
            if str_field(c, "status") == "na" && imp.starts_with("io_") {
                continue;
            }
            assert_eq!(str_field(c, "status"), "ok", "{name}/{imp}: {c}");
            let r = &c["runs"][0];
            assert_eq!(u64_field(r, "ios"), SMOKE_IOS, "{name}/{imp}");
            // Queue depth 1: every request is its own submitting call.
            assert_eq!(u64_field(r, "submit_count"), SMOKE_IOS, "{name}/{imp}");
            assert_eq!(u64_field(r, "block"), block);
            let p50 = r["submit_p50_us"].as_f64().expect("submit_p50_us");
            let max = r["submit_max_us"].as_f64().expect("submit_max_us");
            assert!(p50 > 0.0 && max >= p50, "{name}/{imp}: {r}");
            assert!(r["bytes_per_s"].as_f64().is_some_and(|x| x > 0.0));
            assert!(c["summary"]["submit_max_us"].as_f64().is_some());
            // The CPU clock is read around every 32nd call below 1 MiB, every call from there.
            let every = if block >= 1 << 20 { 1 } else { 32 };
            assert_eq!(
                u64_field(r, "submit_cpu_count"),
                SMOKE_IOS.div_ceil(every),
                "{name}/{imp}"
            );
            assert!(r["submit_cpu_max_us"].as_f64().is_some_and(|x| x > 0.0));
        }
    }
    assert!(
        stderr.contains("call p50 µs") && stderr.contains("read 1 MiB"),
        "{stderr}"
    );
    // No IOPS table when only sizes ran.
    assert!(!stderr.contains("paio/kernel"), "{stderr}");
    assert!(files_of(&scratch.0, pid).is_empty());
}

/// Pids of processes running this test's paio-bench binary as a busy child.
fn busy_children() -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let mut args = c.split(|&b| b == 0);
                args.next() == Some(BIN.as_bytes()) && args.next() == Some(b"__busy")
            })
        })
        .collect()
}

#[test]
fn busy_runs_beside_and_is_gone_after() {
    let scratch = Scratch(paio_ctests::scratch_dir("bench-busy"));
    let (_, doc, stderr) = run_json(&[
        "--smoke",
        "--busy",
        "2",
        "--workloads",
        "cached-qd1",
        "--impls",
        "glibc",
        "--dir",
        scratch.arg(),
    ]);
    assert_eq!(doc["config"]["busy"], 2);
    assert!(
        stderr.contains("busy: 2 CPU-bound processes ran beside every measured child"),
        "{stderr}"
    );
    assert_eq!(
        busy_children(),
        Vec::<u32>::new(),
        "busy processes left running"
    );
}

/// Whether files in `dir` can be opened with `O_DIRECT`.
fn direct_io_works(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = dir.join("o_direct-probe");
    let ok = std::fs::write(&probe, [0u8; 4096]).is_ok()
        && std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&probe)
            .is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

#[test]
fn procs_run_a_group_per_cell_and_say_where_paio_ran() {
    let scratch = Scratch(paio_ctests::scratch_dir("bench-procs"));
    if !direct_io_works(&scratch.0) {
        eprintln!("skipped: no O_DIRECT in {}", scratch.0.display());
        return;
    }
    let (pid, doc, stderr) = run_json(&[
        "--smoke",
        "--workloads",
        "procs",
        "--dir",
        scratch.arg(),
        "--lib",
        paio_so(),
    ]);
    let rows = workloads_named(&doc, &["procs16-direct", "procs128-direct"]);
    for w in rows {
        let name = str_field(w, "name");
        assert_eq!(str_field(w, "family"), "procs");
        // --smoke runs 4 processes of each.
        assert_eq!(u64_field(w, "procs"), 4, "{name}");
        for c in w["impls"].as_array().expect("impls") {
            let imp = str_field(c, "impl");
            if str_field(c, "status") == "na" && imp.starts_with("io_") {
                continue;
            }
            assert_eq!(str_field(c, "status"), "ok", "{name}/{imp}: {c}");
            let r = &c["runs"][0];
            assert_eq!(u64_field(r, "procs"), 4);
            assert_eq!(u64_field(r, "ios"), 4 * SMOKE_IOS, "{name}/{imp}");
            assert!(r["iops"].as_f64().is_some_and(|x| x > 0.0), "{r}");
            let procs = r["processes"].as_array().expect("processes");
            let mut pids: Vec<u64> = procs.iter().map(|p| u64_field(p, "pid")).collect();
            pids.sort_unstable();
            pids.dedup();
            assert_eq!(pids.len(), 4, "four distinct processes: {r}");
            for p in procs {
                assert_eq!(u64_field(p, "ios"), SMOKE_IOS, "{name}/{imp}");
                // Each process reports its window on the clock all of them share.
                assert!(u64_field(p, "end_mono_ns") > u64_field(p, "begin_mono_ns"));
            }
            if std::path::Path::new("/proc/sys/fs/aio-nr").exists() {
                assert!(u64_field(r, "aio_max_nr") > 0, "{r}");
                assert!(u64_field(r, "aio_nr_peak") >= u64_field(r, "aio_nr_before"));
            }
            if imp == "paio" {
                // Every process left a PAIO_STATS file naming its backend.
                let backends = r["paio_backends"].as_array().expect("paio_backends");
                assert_eq!(backends.len(), 4, "{r}");
                let mut on_kaio = 0;
                for b in backends {
                    let label = str_field(b, "backend");
                    assert!(pids.contains(&u64_field(b, "pid")), "{b}");
                    if label == "kaio" {
                        on_kaio += 1;
                        assert!(u64_field(&b["counters"], "kernel") > 0, "{b}");
                    }
                }
                assert_eq!(u64_field(r, "paio_on_kaio"), on_kaio);
            }
        }
        assert!(
            w["ratios"]["paio/glibc"]["median"]
                .as_f64()
                .is_some_and(|x| x > 0.0),
            "{name}"
        );
    }
    assert!(
        stderr.contains("fs.aio-max-nr") && stderr.contains("on kaio"),
        "{stderr}"
    );
    // The test file and the groups' directories are gone.
    assert!(files_of(&scratch.0, pid).is_empty());
    let left: Vec<String> = std::fs::read_dir(&scratch.0)
        .expect("scratch dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("paio-bench-{pid}-procs-")))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
