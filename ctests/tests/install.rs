//! The library as users install it, not as the tree builds it:
//!
//! * `make install` into a `DESTDIR`: the file set (the SONAME'd library and
//!   its links, `libpaio.a`, `paio.h`, `paio.pc`, the man pages), a C
//!   program built with `cc app.c $(pkg-config --cflags --libs paio)` and one
//!   linked statically, each run and seen served by paio (its `PAIO_STATS`
//!   line); then `make uninstall` leaves no file behind;
//! * the man pages render through `man -l` without a warning, and `paio(7)`
//!   names every `PAIO_*` variable the library reads (taken from `src/`);
//! * `libpaio.a`: scenarios linked `-static` with it pass and are served by
//!   paio;
//! * `make deb`: the package's fields and contents, installed into a scratch
//!   root (`dpkg --root` as root, `dpkg -x` otherwise), a C scenario linked
//!   to it and one preloaded from it; then `/etc/ld.so.preload` naming it,
//!   inside a private mount namespace only (the machine's `/etc` is never
//!   written), preloads it into a program that was told nothing.
//!
//! Tools: make, cc, pkg-config, man, groff, dpkg-deb, dpkg-shlibdeps,
//! unshare (see `.ci/apt-packages`). The libraries come from the same build
//! as the other tests (`paio_ctests::paio_so()`, its target directory handed
//! to the Makefile as `CARGO_TARGET_DIR`).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use paio_ctests::harness::check_needed_order;
use paio_ctests::{paio_so, scratch_dir, workspace_root};

/// A program that reads through `aio_read` and asks `paio_stats` (so it needs
/// `paio.h` from `--cflags` and the library from `--libs`).
const APP_C: &str = r#"
#include <aio.h>
#include <errno.h>
#include <paio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/app-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0 || unlink(path) != 0 || pwrite(fd, "hello, paio", 11, 0) != 11) {
		perror("scratch file");
		return 1;
	}
	char buf[32] = { 0 };
	struct aiocb cb;
	memset(&cb, 0, sizeof cb);
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = sizeof buf;
	if (aio_read(&cb) != 0) {
		perror("aio_read");
		return 1;
	}
	const struct aiocb *list[1] = { &cb };
	while (aio_error(&cb) == EINPROGRESS)
		aio_suspend(list, 1, NULL);
	ssize_t n = aio_return(&cb);
	struct paio_stats s = { .size = sizeof s };
	if (paio_stats(&s) != 0) {
		perror("paio_stats");
		return 1;
	}
	printf("read %zd bytes: %s; paio_stats requests=%llu\n", n, buf,
	       (unsigned long long)s.requests);
	return n == 11 && strcmp(buf, "hello, paio") == 0 && s.requests == 1 ? 0 : 1;
}
"#;

/// `make` runs one at a time: `install` and `deb` both write the build's
/// `paio.pc`, and `cargo` would serialise on the target directory anyway.
static MAKE: Mutex<()> = Mutex::new(());

/// The target directory `paio_so()` was built in (`<dir>/release/libpaio.so`).
fn target_dir() -> PathBuf {
    let release = paio_so().parent().expect("libpaio.so has a directory");
    release
        .parent()
        .expect("libpaio.so sits in <target>/release")
        .to_path_buf()
}

/// `make ARGS` in the workspace root on the tests' build; panics with make's
/// output on failure.
fn make(args: &[&str]) -> String {
    let _one = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("make")
        .current_dir(workspace_root())
        .arg("--no-print-directory")
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run make (install it: .ci/apt-packages): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "make {} failed:\n{text}",
        args.join(" ")
    );
    text
}

/// Runs `cmd`, panics unless it exits 0; returns its output.
fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The package version (Cargo.toml's `[package] version`) and its major
/// number, the SONAME's.
fn version() -> (String, String) {
    let toml = fs::read_to_string(workspace_root().join("Cargo.toml")).expect("read Cargo.toml");
    let mut in_package = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && line.starts_with("version") {
            let v = line
                .split('"')
                .nth(1)
                .expect("version = \"x.y.z\"")
                .to_owned();
            let major = v.split('.').next().unwrap_or_default().to_owned();
            return (v, major);
        }
    }
    panic!("no [package] version in Cargo.toml");
}

/// Every file and symlink under `root`, as `path` or `path -> target`,
/// relative to `root`.
fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let meta = fs::symlink_metadata(&path).expect("lstat");
            if meta.file_type().is_symlink() {
                let to = fs::read_link(&path).expect("readlink");
                out.insert(format!("{rel} -> {}", to.display()));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// Whether the tree has `paio-stat` (stat/), which the Makefile then builds
/// and installs with the library.
fn have_stat() -> bool {
    workspace_root().join("stat/Cargo.toml").is_file()
}

/// The `Library soname` of an ELF file.
fn soname(lib: &Path) -> Option<String> {
    let out = run(Command::new("readelf").arg("-d").arg(lib), "readelf");
    stdout(&out)
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| Some(l.split('[').nth(1)?.split(']').next()?.to_owned()))
}

/// Runs `bin` with `env`, `PAIO_STATS` pointing to a file and its own
/// `TMPDIR`; asserts exit 0 and returns paio's exit line.
fn run_on_paio(bin: &Path, env: &[(&str, &Path)], scratch: &Path, what: &str) -> String {
    let stats = scratch.join(format!("{what}.stats"));
    let tmp = scratch.join(format!("{what}.tmp"));
    fs::create_dir_all(&tmp).expect("create TMPDIR");
    let _ = fs::remove_file(&stats);
    let mut cmd = Command::new(bin);
    cmd.env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("PAIO_BACKEND")
        .env("PAIO_STATS", &stats)
        .env("TMPDIR", &tmp);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(&mut cmd, what);
    println!("{what}: {}", stdout(&out).trim());
    let line = fs::read_to_string(&stats).unwrap_or_default();
    let line = line.lines().next().unwrap_or_default().to_owned();
    assert!(
        line.starts_with("paio: pid=") && requests(&line) > 0,
        "{what}: paio did not serve {}: PAIO_STATS file holds {line:?}",
        bin.display()
    );
    println!("{what}: {line}");
    line
}

/// The keys of a `PAIO_STATS` line (`pid`, `backend`, `requests`, …), in
/// order; `fallback`, part of `backend`'s value when `io_setup` failed, is
/// left out.
fn stats_keys(line: &str) -> Vec<String> {
    line.split_whitespace()
        .skip(1)
        .filter_map(|f| f.split_once('=').map(|(k, _)| k.to_owned()))
        .filter(|k| k != "fallback")
        .collect()
}

/// The statistics line paio writes and the one `paio(7)` shows have the same
/// fields, and the page describes each.
fn assert_paio7_documents_stats_line(line: &str) {
    let page = fs::read_to_string(workspace_root().join("man/paio.7")).expect("read man/paio.7");
    let example = page
        .lines()
        .find(|l| l.starts_with("paio: pid="))
        .expect("man/paio.7 shows a statistics line");
    assert_eq!(
        stats_keys(example),
        stats_keys(line),
        "man/paio.7's statistics line and the one paio wrote differ:\n  {example}\n  {line}"
    );
    for key in stats_keys(line).iter().filter(|k| *k != "pid") {
        assert!(
            page.contains(&format!("\n.B {key}\n")) || page.contains(&format!("\n.BR {key} ")),
            "man/paio.7 does not describe the statistics field {key}"
        );
    }
}

/// The `requests=` count of a `PAIO_STATS` line.
fn requests(line: &str) -> u64 {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("requests="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The names `include/paio.h` declares as functions.
fn header_functions() -> BTreeSet<String> {
    let h = fs::read_to_string(workspace_root().join("include/paio.h")).expect("read paio.h");
    h.lines()
        .filter(|l| {
            let t = l.trim_start();
            l.starts_with(|c: char| c.is_ascii_alphabetic())
                && !t.starts_with("struct ")
                && !t.starts_with("extern ")
                && l.contains('(')
        })
        .filter_map(|l| {
            let before = l.split('(').next()?;
            let name = before.rsplit([' ', '*']).next()?;
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn make_install_pkg_config_static_and_uninstall() {
    let (version, major) = version();
    let scratch = scratch_dir("install");
    let dest = scratch.join("dest");
    make(&["all"]);
    make(&["install", &format!("DESTDIR={}", dest.display())]);

    // The file set, under the default PREFIX=/usr/local.
    let so = format!("libpaio.so.{version}");
    let expected: BTreeSet<String> = [
        format!("usr/local/lib/{so}"),
        format!("usr/local/lib/libpaio.so.{major} -> {so}"),
        format!("usr/local/lib/libpaio.so -> libpaio.so.{major}"),
        "usr/local/lib/libpaio.a".into(),
        "usr/local/lib/pkgconfig/paio.pc".into(),
        "usr/local/include/paio.h".into(),
        "usr/local/share/man/man7/paio.7".into(),
        "usr/local/share/man/man3/aio_readv.3".into(),
        "usr/local/share/man/man3/aio_writev.3 -> aio_readv.3".into(),
        "usr/local/share/man/man3/aio_waitcomplete.3".into(),
        "usr/local/share/man/man3/paio_completion_fd.3".into(),
        "usr/local/share/man/man3/paio_stats.3".into(),
    ]
    .into_iter()
    .chain(
        [
            "usr/local/bin/paio-stat",
            "usr/local/share/man/man1/paio-stat.1",
        ]
        .into_iter()
        .filter(|_| have_stat())
        .map(String::from),
    )
    .collect();
    let installed = tree(&dest);
    println!(
        "installed:\n  {}",
        installed.iter().cloned().collect::<Vec<_>>().join("\n  ")
    );
    assert_eq!(installed, expected, "make install's file set");
    let libdir = dest.join("usr/local/lib");
    assert_eq!(
        soname(&libdir.join(&so)).as_deref(),
        Some(format!("libpaio.so.{major}").as_str()),
        "SONAME of the installed library"
    );
    let mode = fs::metadata(libdir.join(&so))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "mode of {so}");
    for f in header_functions() {
        assert!(
            dest.join(format!("usr/local/share/man/man3/{f}.3"))
                .exists(),
            "paio.h declares {f}() but no {f}(3) man page is installed"
        );
    }

    // pkg-config, as a user with the install in a staging root sees it.
    let pkg_config = |args: &[&str]| -> String {
        let out = run(
            Command::new("pkg-config")
                .args(args)
                .arg("paio")
                .env("PKG_CONFIG_PATH", libdir.join("pkgconfig"))
                .env("PKG_CONFIG_SYSROOT_DIR", &dest),
            "pkg-config",
        );
        stdout(&out).trim().to_owned()
    };
    assert_eq!(pkg_config(&["--modversion"]), version);
    let cflags_libs = pkg_config(&["--cflags", "--libs"]);
    let static_libs = pkg_config(&["--static", "--cflags", "--libs"]);
    println!("pkg-config --cflags --libs paio: {cflags_libs}");
    println!("pkg-config --static --cflags --libs paio: {static_libs}");
    assert!(cflags_libs.contains("-lpaio"), "{cflags_libs}");

    let app = scratch.join("app.c");
    fs::write(&app, APP_C).expect("write app.c");
    let cc_sh = |line: &str, what: &str| {
        run(
            Command::new("sh").arg("-c").arg(line).current_dir(&scratch),
            what,
        );
    };

    // Shared: cc app.c $(pkg-config --cflags --libs paio).
    let bin = scratch.join("app");
    cc_sh(
        &format!("cc -Wall -Werror app.c {cflags_libs} -o app"),
        "cc (shared)",
    );
    check_needed_order(&bin).expect("DT_NEEDED order");
    let needed = paio_ctests::harness::needed(&bin).expect("readelf");
    assert!(
        needed.contains(&format!("libpaio.so.{major}")),
        "the program should need the SONAME, not the file: {needed:?}"
    );
    let line = run_on_paio(&bin, &[("LD_LIBRARY_PATH", &libdir)], &scratch, "shared");
    assert_eq!(requests(&line), 1, "{line}");
    assert_paio7_documents_stats_line(&line);

    // Static: cc -static app.c $(pkg-config --static --cflags --libs paio).
    let bin = scratch.join("app-static");
    cc_sh(
        &format!("cc -static app.c {static_libs} -o app-static"),
        "cc -static",
    );
    let nm = stdout(&run(Command::new("nm").arg(&bin), "nm"));
    let defined = |name: &str| nm.lines().any(|l| l.ends_with(&format!(" T {name}")));
    assert!(
        defined("aio_read") && defined("paio_stats"),
        "aio_read and paio_stats from libpaio.a"
    );
    assert!(
        !nm.lines().any(|l| l.ends_with(" __aio_enqueue_request")),
        "glibc's AIO (aio_misc.o) was linked in beside paio's"
    );
    let line = run_on_paio(&bin, &[], &scratch, "static");
    assert_eq!(requests(&line), 1, "{line}");

    // Uninstall: no file or link left (directories may stay).
    make(&["uninstall", &format!("DESTDIR={}", dest.display())]);
    let left = tree(&dest);
    assert!(left.is_empty(), "make uninstall left {left:?}");
    let _ = fs::remove_dir_all(&scratch);
}

/// Scenarios linked statically with `libpaio.a` (signals, thread and
/// thread-id notification, fork, lists, cancel, fsync barriers, pipes,
/// sockets, `O_DIRECT`, record locks and `setrlimit` through paio's own
/// `fcntl`, `lockf` and `setrlimit`, which make the system calls where no
/// C library's can be found): each passes (exit 0, or 77 for a skip) and is
/// served by paio. `README.md` reports the whole `ctests/*.c` set run so.
const STATIC_SCENARIOS: &[&str] = &[
    "read_basic",
    "write_basic",
    "notify_signal",
    "notify_thread",
    "notify_thread_id",
    "fork_child",
    "lio_wait",
    "lio_nowait_signal",
    "suspend_basic",
    "cancel_queued",
    "fsync_barrier",
    "pipe_ordered",
    "socketpair_ordered",
    "odirect_rw",
    "record_locks_kept",
    "fd_limit_room",
    "cancel_thread_suspend",
];

#[test]
fn static_link_with_libpaio_a_runs_scenarios() {
    make(&["all"]);
    let archive = target_dir().join("release").join("libpaio.a");
    let ctests = workspace_root().join("ctests");
    let scratch = scratch_dir("static");
    let include = format!("-I{}", ctests.display());
    let mut problems = Vec::new();
    for name in STATIC_SCENARIOS {
        let bin = scratch.join(name);
        let mut args: Vec<String> = paio_ctests::harness::CFLAGS
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend([
            "-static".to_string(),
            include.clone(),
            ctests.join(format!("{name}.c")).display().to_string(),
            archive.display().to_string(),
        ]);
        if let Err(e) = paio_ctests::harness::gcc(&args, &bin) {
            problems.push(format!("{name}: {e}"));
            continue;
        }
        let stats = scratch.join(format!("{name}.stats"));
        let tmp = scratch.join(format!("{name}.tmp"));
        fs::create_dir_all(&tmp).expect("TMPDIR");
        let out = Command::new("timeout")
            .arg("60")
            .arg(&bin)
            .env_remove("LD_PRELOAD")
            .env_remove("PAIO_BACKEND")
            .env("PAIO_STATS", &stats)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .output()
            .expect("run a static scenario");
        let line = fs::read_to_string(&stats).unwrap_or_default();
        match out.status.code() {
            Some(0) if requests(&line) > 0 => println!("static {name}: {}", line.trim()),
            Some(77) => println!("static {name}: skipped: {}", stdout(&out).trim()),
            _ => problems.push(format!(
                "{name}: {} (stats {line:?}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "static scenarios:\n{}",
        problems.join("\n")
    );
    let _ = fs::remove_dir_all(&scratch);
}

/// Every man page through `man -l` with groff's warnings on: nothing on
/// stderr, something on stdout, and the version in its title line is the
/// package's.
#[test]
fn man_pages_render_without_warnings() {
    let (version, _) = version();
    let dir = workspace_root().join("man");
    let mut pages: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("read man/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "1" || x == "3" || x == "7")
        })
        .collect();
    pages.sort();
    assert!(pages.len() >= 5, "man pages in man/: {pages:?}");
    let mut problems = Vec::new();
    for page in &pages {
        let out = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(page)
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run man (install man-db): {e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !err.trim().is_empty() || out.stdout.len() < 200 {
            problems.push(format!(
                "{}: man -l exit {}, {} bytes rendered, stderr:\n{err}",
                page.display(),
                out.status,
                out.stdout.len()
            ));
        }
        let src = fs::read_to_string(page).expect("read page");
        let th = src
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_default();
        if !th.contains(&format!("\"paio {version}\"")) {
            problems.push(format!(
                "{}: .TH should name \"paio {version}\": {th}",
                page.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The field names between `struct paio_stats {` and `};` in `text` (the
/// header, or the man page's synopsis), in order.
fn paio_stats_fields(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.contains("struct paio_stats {"))
        .skip(1)
        .take_while(|l| !l.contains("};"))
        .filter_map(|l| {
            let decl = l.split(';').next()?;
            if !l.contains(';') || !decl.contains("int") {
                return None;
            }
            decl.split_whitespace().last().map(str::to_owned)
        })
        .collect()
}

#[test]
fn paio_stats3_shows_the_struct_of_the_header() {
    let root = workspace_root();
    let header = fs::read_to_string(root.join("include/paio.h")).expect("read paio.h");
    let page = fs::read_to_string(root.join("man/paio_stats.3")).expect("read paio_stats.3");
    let want = paio_stats_fields(&header);
    assert!(
        want.len() > 2,
        "no struct paio_stats fields found in paio.h"
    );
    assert_eq!(
        paio_stats_fields(&page),
        want,
        "man/paio_stats.3's synopsis and include/paio.h's struct paio_stats differ"
    );
}

/// `PAIO_*` string literals in the library's source, outside `#[cfg(test)]`
/// modules and test-only files: the variables it reads.
fn variables_read_by_the_library() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![workspace_root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.ends_with(".rs") || name.ends_with("_tests.rs") || name == "model.rs" {
                continue;
            }
            let src = fs::read_to_string(&path).expect("read source");
            literals(&without_test_modules(&src), &mut found);
        }
    }
    found
}

/// `src` with every `#[cfg(test)] mod … { … }` block removed (braces
/// counted; the test code's own string literals are balanced).
fn without_test_modules(src: &str) -> String {
    let mut out = String::new();
    let mut lines = src.lines().peekable();
    while let Some(line) = lines.next() {
        let is_test_mod = line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|n| {
                let n = n.trim_start();
                (n.starts_with("mod ") || n.starts_with("pub mod ")) && n.ends_with('{')
            });
        if !is_test_mod {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut depth = 0i64;
        for l in lines.by_ref() {
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            if depth <= 0 {
                break;
            }
        }
    }
    out
}

/// Adds every `"PAIO_NAME"` literal: `"PAIO_`, capitals, digits and `_`,
/// then the closing quote (what `grep -o '"PAIO_[A-Z0-9_]*"'` finds).
fn literals(src: &str, out: &mut BTreeSet<String>) {
    let mut rest = src;
    while let Some(at) = rest.find("\"PAIO_") {
        let tail = &rest[at + 1..];
        let len = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if tail[len..].starts_with('"') && len > 5 {
            out.insert(tail[..len].to_owned());
        }
        rest = &tail[len..];
    }
}

#[test]
fn paio7_names_every_variable_the_library_reads() {
    let vars = variables_read_by_the_library();
    for expected in ["PAIO_STATS", "PAIO_BACKEND", "PAIO_THREADS"] {
        assert!(
            vars.contains(expected),
            "the scan of src/ missed {expected}: {vars:?}"
        );
    }
    let page = fs::read_to_string(workspace_root().join("man/paio.7")).expect("read man/paio.7");
    // Documented means an entry of ENVIRONMENT: a `.B NAME` line after `.TP`.
    let documented: BTreeSet<&str> = page
        .lines()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .filter_map(|w| w[1].strip_prefix(".B "))
        .collect();
    let missing: Vec<&String> = vars
        .iter()
        .filter(|v| !documented.contains(v.as_str()))
        .collect();
    println!("PAIO_* variables read by src/: {vars:?}");
    assert!(
        missing.is_empty(),
        "man/paio.7 (ENVIRONMENT: .TP then .B NAME) does not document {missing:?}"
    );
}

/// Is the real `/etc/ld.so.preload` (or its absence) what it was?
fn host_preload() -> Option<Vec<u8>> {
    fs::read("/etc/ld.so.preload").ok()
}

/// Runs `script` (sh, with `args` as `$1`…) in a private mount namespace
/// (`unshare -m` as root, `unshare -r -m` otherwise). `None` when no such
/// namespace can be made here, with the reason printed.
fn in_mount_namespace(script: &str, args: &[&Path]) -> Option<Output> {
    let base: &[&str] = if is_root() { &["-m"] } else { &["-r", "-m"] };
    let probe = Command::new("unshare")
        .args(base)
        .arg("true")
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!(
                "SKIP ld.so.preload: unshare {} refused here: {}",
                base.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            println!("SKIP ld.so.preload: cannot run unshare: {e}");
            return None;
        }
    }
    let mut cmd = Command::new("unshare");
    cmd.args(base)
        .args(["--propagation", "private", "sh", "-c", script, "sh"]);
    cmd.args(args);
    Some(cmd.stdin(Stdio::null()).output().expect("run unshare"))
}

/// Whether the tests run as root (`id -u`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// In the namespace: a copy of `/etc` made of links to the real entries
/// (reached through a bind mount of the real `/etc`), plus an
/// `ld.so.preload` naming `$2`, bound over `/etc`. Then `grep` shows that an
/// unrelated program maps the library, and `$3`, a scenario linked to glibc
/// alone, runs with `PAIO_STATS=$1/preload.stats`. Exit 77 when the
/// namespace may not mount (a container's profile): skipped, with the reason.
const LD_SO_PRELOAD_SH: &str = r#"
set -eu
s=$1 lib=$2 bin=$3
mkdir "$s/host-etc" "$s/etc"
mount --bind /etc "$s/host-etc" 2>"$s/mount.err" || { echo "mount --bind refused: $(cat "$s/mount.err")"; exit 77; }
for e in /etc/* /etc/.[!.]*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	n=${e#/etc/}
	[ "$n" = ld.so.preload ] && continue
	ln -s "$s/host-etc/$n" "$s/etc/$n"
done
printf '%s\n' "$lib" > "$s/etc/ld.so.preload"
mount --bind "$s/etc" /etc
grep -c libpaio /proc/self/maps > "$s/grep-maps"
TMPDIR=$s PAIO_STATS=$s/preload.stats "$bin"
"#;

#[test]
fn deb_package_in_a_scratch_root_then_ld_so_preload_in_a_namespace() {
    let (version, major) = version();
    make(&["all"]);
    make(&["deb"]);
    let arch = stdout(&run(
        Command::new("dpkg").arg("--print-architecture"),
        "dpkg",
    ))
    .trim()
    .to_owned();
    let multiarch = stdout(&run(Command::new("gcc").arg("-print-multiarch"), "gcc"))
        .trim()
        .to_owned();
    let deb = target_dir()
        .join("release")
        .join(format!("paio_{version}_{arch}.deb"));
    assert!(deb.is_file(), "make deb made no {}", deb.display());

    // Fields and contents.
    let info = stdout(&run(
        Command::new("dpkg-deb").arg("-f").arg(&deb),
        "dpkg-deb -f",
    ));
    println!("{}:\n{info}", deb.display());
    for field in [
        "Package: paio".to_string(),
        format!("Version: {version}"),
        format!("Architecture: {arch}"),
    ] {
        assert!(
            info.lines().any(|l| l == field),
            "control lacks {field:?}:\n{info}"
        );
    }
    assert!(
        info.lines()
            .any(|l| l.starts_with("Depends: ") && l.contains("libc6 (>= ")),
        "Depends should name libc6 with a version:\n{info}"
    );
    let contents = stdout(&run(
        Command::new("dpkg-deb").arg("-c").arg(&deb),
        "dpkg-deb -c",
    ));
    println!("dpkg-deb -c:\n{contents}");
    let lib = format!("/usr/lib/{multiarch}");
    let listed: BTreeSet<String> = contents
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_once(" ./").map(|(_, p)| format!("/{p}")))
        .collect();
    let expected: BTreeSet<String> = [
        format!("{lib}/libpaio.so.{version}"),
        format!("{lib}/libpaio.so.{major} -> libpaio.so.{version}"),
        format!("{lib}/libpaio.so -> libpaio.so.{major}"),
        format!("{lib}/libpaio.a"),
        format!("{lib}/pkgconfig/paio.pc"),
        "/usr/include/paio.h".into(),
        "/usr/share/man/man7/paio.7.gz".into(),
        "/usr/share/man/man3/aio_readv.3.gz".into(),
        "/usr/share/man/man3/aio_writev.3.gz -> aio_readv.3.gz".into(),
        "/usr/share/man/man3/aio_waitcomplete.3.gz".into(),
        "/usr/share/man/man3/paio_completion_fd.3.gz".into(),
        "/usr/share/man/man3/paio_stats.3.gz".into(),
        "/usr/share/doc/paio/copyright".into(),
        "/usr/share/doc/paio/README.md.gz".into(),
        "/usr/share/doc/paio/LD_PRELOAD.md.gz".into(),
    ]
    .into_iter()
    .chain(
        ["/usr/bin/paio-stat", "/usr/share/man/man1/paio-stat.1.gz"]
            .into_iter()
            .filter(|_| have_stat())
            .map(String::from),
    )
    .collect();
    assert_eq!(listed, expected, "the package's files");

    // Installed into a scratch root: registered by dpkg where it may (root),
    // unpacked otherwise.
    let scratch = scratch_dir("deb");
    let root = scratch.join("root");
    let as_root = is_root();
    let dpkg_root = |args: &[&str], what: &str| {
        run(
            Command::new("dpkg")
                .arg(format!("--root={}", root.display()))
                .arg(format!("--log={}", scratch.join("dpkg.log").display()))
                .args(["--force-depends", "--force-script-chrootless"])
                .args(args),
            what,
        )
    };
    if as_root {
        for d in [
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/lib/dpkg/triggers",
        ] {
            fs::create_dir_all(root.join(d)).expect("dpkg admin dir");
        }
        for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
            fs::write(root.join(f), "").expect("dpkg admin file");
        }
        dpkg_root(&["-i", deb.to_str().expect("utf-8 path")], "dpkg --root -i");
    } else {
        run(
            Command::new("dpkg").arg("-x").arg(&deb).arg(&root),
            "dpkg -x",
        );
    }
    let libdir = root.join(lib.trim_start_matches('/'));
    let installed = libdir.join(format!("libpaio.so.{major}"));
    assert!(
        installed.exists(),
        "{} missing after install",
        installed.display()
    );

    // A C scenario linked to the installed library, and the same one built
    // against glibc alone and preloaded with it.
    let ctests = workspace_root().join("ctests");
    let scenario = ctests.join("read_basic.c");
    let include = format!("-I{}", ctests.display());
    let linked = scratch.join("read_basic-linked");
    run(
        Command::new("gcc")
            .args(["-O1", "-Wall", "-pthread", "-D_GNU_SOURCE", &include])
            .arg(&scenario)
            .arg(format!("-L{}", libdir.display()))
            .arg("-lpaio")
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .arg("-o")
            .arg(&linked),
        "gcc -lpaio (package)",
    );
    check_needed_order(&linked).expect("DT_NEEDED order");
    let line = run_on_paio(&linked, &[], &scratch, "deb-linked");
    assert_eq!(requests(&line), 8, "read_basic submits 8 reads: {line}");
    let plain = scratch.join("read_basic-glibc");
    run(
        Command::new("gcc")
            .args(["-O1", "-Wall", "-pthread", "-D_GNU_SOURCE", &include])
            .arg(&scenario)
            .arg("-o")
            .arg(&plain),
        "gcc (glibc only)",
    );
    let line = run_on_paio(
        &plain,
        &[("LD_PRELOAD", &installed)],
        &scratch,
        "deb-preload",
    );
    assert_eq!(requests(&line), 8, "{line}");

    // /etc/ld.so.preload, in a private mount namespace only.
    let before = host_preload();
    let ns = in_mount_namespace(LD_SO_PRELOAD_SH, &[&scratch, &installed, &plain]);
    assert_eq!(
        host_preload(),
        before,
        "the machine's /etc/ld.so.preload changed"
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(scratch.to_str().unwrap_or("\0")),
        "a mount of the namespace leaked into the test's own namespace"
    );
    let ns = ns.filter(|out| {
        let refused = out.status.code() == Some(77);
        if refused {
            println!("SKIP ld.so.preload: {}", stdout(out).trim());
        }
        !refused
    });
    if let Some(out) = ns {
        assert!(
            out.status.success(),
            "ld.so.preload run failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("ld.so.preload: {}", stdout(&out).trim());
        let maps = fs::read_to_string(scratch.join("grep-maps")).unwrap_or_default();
        assert!(
            maps.trim().parse::<u32>().unwrap_or(0) > 0,
            "grep under /etc/ld.so.preload did not map libpaio ({maps:?})"
        );
        let line = fs::read_to_string(scratch.join("preload.stats")).unwrap_or_default();
        println!("ld.so.preload: {}", line.trim());
        assert_eq!(
            requests(&line),
            8,
            "read_basic (glibc only) under /etc/ld.so.preload was not served by paio: {line:?}"
        );
    }

    if as_root {
        dpkg_root(&["-r", "paio"], "dpkg --root -r");
        let usr = root.join("usr");
        let left: Vec<_> = if usr.exists() {
            tree(&usr).into_iter().collect()
        } else {
            Vec::new()
        };
        assert!(left.is_empty(), "dpkg -r left {left:?}");
    }
    let _ = fs::remove_dir_all(&scratch);
}
