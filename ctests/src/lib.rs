//! Shared plumbing for the tests that run C programs and real applications
//! against glibc and against `libpaio.so`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub mod harness;
pub mod stats;
pub mod system;

/// The workspace root (the directory holding the `paio` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ctests lives inside the workspace")
        .to_path_buf()
}

/// Path of a release-built `libpaio.so` (built with `panic = "abort"`, exactly as
/// users get it). `PAIO_SO` names a prebuilt one; otherwise the library is built
/// once per test process by [`build_release`].
pub fn paio_so() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        if let Some(p) = std::env::var_os("PAIO_SO") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "PAIO_SO={} is not a file", p.display());
            return p.canonicalize().expect("canonical PAIO_SO");
        }
        build_release("paio", &["--lib"], "libpaio.so")
    })
}

/// Builds `package` of the workspace (`cargo build --release -p PACKAGE
/// EXTRA...`) into `target/test-so`, a target directory of its own so the
/// outer `cargo test` never holds its lock, and returns the path of
/// `artifact` in its `release` directory, checked to exist.
pub fn build_release(package: &str, extra: &[&str], artifact: &str) -> PathBuf {
    let root = workspace_root();
    let target = root.join("target").join("test-so");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", package])
        .args(extra)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap_or_else(|e| panic!("run cargo build for {artifact}: {e}"));
    assert!(status.success(), "building {artifact} failed");
    let built = target.join("release").join(artifact);
    assert!(built.is_file(), "{} missing after build", built.display());
    built
}

/// Directory holding `libpaio.so`, for `-L` and `LD_LIBRARY_PATH`.
pub fn paio_lib_dir() -> &'static Path {
    paio_so()
        .parent()
        .expect("libpaio.so has a parent directory")
}

/// A scratch directory unique to this test process, on the real filesystem
/// (under `$TMPDIR`, default `/tmp`).
pub fn scratch_dir(tag: &str) -> PathBuf {
    let base = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/tmp".into());
    let dir = base.join(format!("paio-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
