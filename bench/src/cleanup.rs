//! The temporary test files (one per test directory) and the running child:
//! removed and killed on every way out, Ctrl-C (SIGINT), SIGTERM and SIGHUP
//! included.

use std::ffi::{c_char, c_int, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// Slots for the test files' paths, leaked so the signal handler can read
/// them at any time: one per directory of `--dirs`.
const SLOTS: usize = crate::cli::MAX_DIRS;
static FILES: [AtomicPtr<c_char>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];
/// Pid of the child being measured, 0 when none.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Owns the temporary test file: it is removed on drop, and by the signal
/// handler if the run is interrupted.
pub struct TempFile {
    path: PathBuf,
    /// Its slot in [`FILES`], if one was free.
    slot: Option<usize>,
}

impl TempFile {
    /// Create a new, empty file in `dir` (never an existing one) and register
    /// it for removal.
    pub fn create(dir: &Path) -> std::io::Result<(TempFile, std::fs::File)> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut n = 0u32;
        loop {
            let path = dir.join(format!("paio-bench-{}-{n}.dat", std::process::id()));
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => {
                    let mut slot = None;
                    if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
                        // Leaked for good: the handler may read it at any moment.
                        let raw = c.into_raw();
                        slot = FILES.iter().position(|s| {
                            s.compare_exchange(
                                std::ptr::null_mut(),
                                raw,
                                Ordering::SeqCst,
                                Ordering::SeqCst,
                            )
                            .is_ok()
                        });
                    }
                    return Ok((TempFile { path, slot }, f));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(s) = self.slot {
            FILES[s].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Note the child being measured (0: none), for the signal handler to kill.
pub fn set_child(pid: u32) {
    CHILD.store(pid as i32, Ordering::SeqCst);
}

extern "C" fn on_signal(sig: c_int) {
    // Only async-signal-safe calls here: kill, unlink, write, _exit.
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for slot in &FILES {
        let file = slot.load(Ordering::SeqCst);
        if !file.is_null() {
            // SAFETY: `file` is a leaked, NUL-terminated CString; unlink is
            // async-signal-safe.
            unsafe { libc::unlink(file) };
        }
    }
    let msg = b"\npaio-bench: interrupted; test files removed\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(128 + sig);
    }
}

/// Install the handler for SIGINT, SIGTERM and SIGHUP.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a plain handler (no SA_SIGINFO) and an
        // empty mask; `on_signal` only makes async-signal-safe calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
