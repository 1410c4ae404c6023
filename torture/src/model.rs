//! The model the run is checked against: regular files made of regions whose
//! content is a function of (file, region, version), byte streams (pipes,
//! socketpairs) as queues of the bytes written and not read yet, and the
//! final comparison of both with what the files and streams hold.

use std::collections::VecDeque;
use std::ffi::CString;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Mutex;

use crate::ffi::{errname, errno, Rng};
use crate::report::die;
use crate::worker::Shared;

/// A file is `NREG` regions of `REG` bytes; writes cover a whole region.
pub(crate) const REG: usize = 8192;
pub(crate) const NREG: usize = 512;
/// Capacity of each request's buffer (stream reads can be this long).
pub(crate) const BUF_CAP: usize = 64 << 10;

/// A regular file of `NREG` regions, with the version each region holds.
pub(crate) struct FileRes {
    pub(crate) name: &'static str,
    pub(crate) id: u64,
    pub(crate) direct: bool,
    pub(crate) fds: [i32; 2],
    pub(crate) path: CString,
    pub(crate) busy: Vec<AtomicBool>,
    pub(crate) version: Vec<AtomicU32>,
}

/// Deterministic content of `region` at `version`.
pub(crate) fn fill_region(buf: &mut [u8], file: u64, region: usize, version: u32) {
    let mut r = Rng(file << 48 ^ (region as u64) << 24 ^ version as u64 ^ 0x5eed);
    for chunk in buf.chunks_mut(8) {
        let v = r.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

impl FileRes {
    pub(crate) fn try_lock(&self, region: usize) -> bool {
        self.busy[region]
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
    }
    pub(crate) fn unlock(&self, region: usize) {
        self.busy[region].store(false, Release);
    }
}

#[derive(Default)]
pub(crate) struct StreamModel {
    /// Bytes written into the stream and not read yet.
    pub(crate) pending: VecDeque<u8>,
    pub(crate) seq: u64,
}

/// A pipe (one direction) or a socketpair (both directions, one at a time).
pub(crate) struct StreamRes {
    pub(crate) name: String,
    /// (read fd, write fd) per direction.
    pub(crate) dirs: Vec<(i32, i32)>,
    pub(crate) busy: AtomicBool,
    pub(crate) models: Vec<Mutex<StreamModel>>,
}

pub(crate) fn open_file(path: &CString, flags: i32) -> i32 {
    // SAFETY: a NUL-terminated path.
    unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | flags, 0o600) }
}

pub(crate) fn make_file(dir: &str, name: &'static str, id: u64, direct: bool) -> Option<FileRes> {
    let path = CString::new(format!("{dir}/{name}")).unwrap();
    let plain = open_file(&path, libc::O_CREAT | libc::O_TRUNC);
    assert!(plain >= 0, "create {dir}/{name}: errno {}", errno());
    let mut buf = vec![0u8; REG];
    for region in 0..NREG {
        fill_region(&mut buf, id, region, 0);
        // SAFETY: a local buffer.
        let n =
            unsafe { libc::pwrite(plain, buf.as_ptr() as *const _, REG, (region * REG) as i64) };
        assert_eq!(n, REG as isize, "initial write");
    }
    // SAFETY: our descriptor.
    unsafe {
        libc::fsync(plain);
        libc::close(plain);
    }
    let flags = if direct { libc::O_DIRECT } else { 0 };
    let a = open_file(&path, flags);
    let b = open_file(&path, flags);
    if a < 0 || b < 0 {
        eprintln!(
            "paio-torture: note: cannot open {name} with O_DIRECT here ({}); no O_DIRECT requests",
            errname(errno())
        );
        return None;
    }
    Some(FileRes {
        name,
        id,
        direct,
        fds: [a, b],
        path,
        busy: (0..NREG).map(|_| AtomicBool::new(false)).collect(),
        version: (0..NREG).map(|_| AtomicU32::new(0)).collect(),
    })
}

pub(crate) fn make_streams() -> Vec<StreamRes> {
    let mut v = Vec::new();
    for i in 0..3 {
        let mut p = [0i32; 2];
        // SAFETY: writes two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        v.push(StreamRes {
            name: format!("pipe{i}"),
            dirs: vec![(p[0], p[1])],
            busy: AtomicBool::new(false),
            models: vec![Mutex::default()],
        });
    }
    for i in 0..3 {
        let mut p = [0i32; 2];
        // SAFETY: writes two descriptors.
        assert_eq!(
            unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    0,
                    p.as_mut_ptr(),
                )
            },
            0
        );
        v.push(StreamRes {
            name: format!("socketpair{i}"),
            dirs: vec![(p[0], p[1]), (p[1], p[0])],
            busy: AtomicBool::new(false),
            models: vec![Mutex::default(), Mutex::default()],
        });
    }
    v
}

/// Read every region back through a fresh descriptor and compare it with
/// the model; drain every stream and compare what it still held.
pub(crate) fn final_check(sh: &Shared) -> (usize, usize) {
    let mut want = vec![0u8; REG];
    let mut got = vec![0u8; REG];
    let mut regions = 0;
    for f in &sh.files {
        let fd = open_file(&f.path, 0);
        for region in 0..NREG {
            let v = f.version[region].load(Relaxed);
            fill_region(&mut want, f.id, region, v);
            // SAFETY: local buffer.
            let n =
                unsafe { libc::pread(fd, got.as_mut_ptr() as *mut _, REG, (region * REG) as i64) };
            if n != REG as isize || got != want {
                die(
                    None,
                    &format!(
                        "final check: {} region {region} does not hold version {v} (read {n})",
                        f.name
                    ),
                );
            }
            regions += 1;
        }
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    }
    let mut bytes = 0;
    for s in &sh.streams {
        for (d, &(rfd, _)) in s.dirs.iter().enumerate() {
            let mut m = s.models[d].lock().unwrap();
            while !m.pending.is_empty() {
                let mut b = vec![0u8; m.pending.len()];
                // SAFETY: local buffer; the data is known to be there.
                let n = unsafe { libc::read(rfd, b.as_mut_ptr() as *mut _, b.len()) };
                if n <= 0 {
                    die(
                        None,
                        &format!(
                            "final check: {} dir {d} should hold {} more bytes (read {n})",
                            s.name,
                            m.pending.len()
                        ),
                    );
                }
                for &x in &b[..n as usize] {
                    if m.pending.pop_front() != Some(x) {
                        die(
                            None,
                            &format!("final check: {} dir {d}: leftover bytes differ", s.name),
                        );
                    }
                }
                bytes += n as usize;
            }
            // Nothing more may be there.
            let mut x = 0u8;
            // SAFETY: non-blocking probe of our own descriptor.
            let n = unsafe { libc::recv(rfd, &mut x as *mut u8 as *mut _, 1, libc::MSG_DONTWAIT) };
            let n = if n < 0 && errno() == libc::ENOTSOCK {
                let fl = unsafe { libc::fcntl(rfd, libc::F_GETFL) };
                unsafe { libc::fcntl(rfd, libc::F_SETFL, fl | libc::O_NONBLOCK) };
                let n = unsafe { libc::read(rfd, &mut x as *mut u8 as *mut _, 1) };
                unsafe { libc::fcntl(rfd, libc::F_SETFL, fl) };
                n
            } else {
                n
            };
            if n > 0 {
                die(
                    None,
                    &format!("final check: {} dir {d} holds bytes nobody wrote", s.name),
                );
            }
        }
    }
    (regions, bytes)
}
