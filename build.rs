//! Gives `libpaio.so` its SONAME, `libpaio.so.<major>` (the major number of
//! the package version; README, "Versioning", says what changes it), and puts
//! a `libpaio.so.<major>` symlink beside the built library, so that programs
//! linked with `-L target/release -lpaio` (whose `DT_NEEDED` names the
//! SONAME) still find the library there, as before it had one. The installed
//! file set (the real file, the SONAME link, the `libpaio.so` link for `-lpaio`)
//! is the Makefile's.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the package version");
    let soname = format!("libpaio.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // Never unmapped by dlclose: paio's threads (the reaper, the pool, the
    // notifiers) and the requests in flight outlive any handle a program or
    // plugin held, as glibc's AIO, which lives in libc, outlives them.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    if let Some(dir) = artifact_dir() {
        link_soname(&dir, &soname);
    }
}

/// Where cargo puts the final `libpaio.so`: `OUT_DIR` is
/// `<target>/<profile>/build/paio-<hash>/out`, the library lands in
/// `<target>/<profile>`.
fn artifact_dir() -> Option<PathBuf> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR")?);
    Some(out.ancestors().nth(3)?.to_path_buf())
}

/// `dir/<soname> -> libpaio.so`, relative, so it follows the directory when
/// it is moved. It dangles until the library is linked, just after this
/// script. A failure costs only the `-lpaio`-from-the-tree convenience, so
/// it is reported as a warning, never as a build failure.
fn link_soname(dir: &Path, soname: &str) {
    let link = dir.join(soname);
    match std::fs::read_link(&link) {
        Ok(to) if to == Path::new("libpaio.so") => return,
        Ok(_) => {
            let _ = std::fs::remove_file(&link);
        }
        Err(_) if link.exists() => return, // a real file put there by hand: leave it
        Err(_) => {}
    }
    if let Err(e) = std::os::unix::fs::symlink("libpaio.so", &link) {
        println!("cargo:warning=cannot create {}: {e}", link.display());
    }
}
