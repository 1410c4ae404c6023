//! Changes to the machine that tests make as root — mounts, loop devices, a
//! user — each undone by a guard when it is dropped, whether the test passes,
//! fails or panics; and the filesystems of the environment matrix.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// True when this process runs as root (mounts, loop devices, sysctls).
pub fn is_root() -> bool {
    extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { geteuid() == 0 }
}

/// Run `prog ARGS`; its trimmed stdout, or an error with its stderr.
pub fn sh(prog: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(format!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// True when `tool` is on `PATH`.
pub fn have_tool(tool: &str) -> bool {
    sh("sh", &["-c", &format!("command -v {tool}")]).is_ok()
}

/// Runs its closure when dropped: every change to the machine is undone,
/// whether the test passes, fails or panics.
pub struct Undo<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for Undo<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Unmount `dir`, lazily when something still holds it.
fn unmount(dir: &Path) {
    let d = dir.to_string_lossy();
    if sh("umount", &[&d]).is_err() {
        let _ = sh("umount", &["-l", &d]);
    }
}

/// A loop device over a sparse image file, detached (and the image
/// removed) when dropped.
pub struct LoopDevice {
    pub dev: String,
    image: PathBuf,
}

impl LoopDevice {
    /// A new `mib` MiB sparse image at `image`, attached to a free loop
    /// device; the error says why there is none (not root, no
    /// `/dev/loop-control`, no free device).
    pub fn new(image: &Path, mib: u64) -> Result<LoopDevice, String> {
        if !is_root() {
            return Err("loop devices need root".into());
        }
        if !Path::new("/dev/loop-control").exists() {
            return Err("no /dev/loop-control (no loop devices here)".into());
        }
        if !have_tool("losetup") {
            return Err("losetup is not installed".into());
        }
        std::fs::File::create(image)
            .and_then(|f| f.set_len(mib << 20))
            .map_err(|e| format!("create {}: {e}", image.display()))?;
        let img = image.to_string_lossy();
        match sh("losetup", &["-f", "--show", &img]) {
            Ok(dev) => Ok(LoopDevice {
                dev,
                image: image.to_path_buf(),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(image);
                Err(format!("no free loop device: {e}"))
            }
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = sh("losetup", &["-d", &self.dev]);
        let _ = std::fs::remove_file(&self.image);
    }
}

/// How one filesystem of the matrix is made.
#[derive(Clone, Copy, Debug)]
pub enum FsKind {
    /// `mkfs` (with these arguments, then the device) on a loop device
    /// over a sparse image of `mib` MiB, mounted with its own type.
    Loop {
        mkfs: &'static [&'static str],
        mib: u64,
    },
    /// `mount -t TYPE -o OPTIONS` of a memory filesystem.
    Memory { options: &'static str },
    /// overlayfs, lower/upper/work directories on the scratch filesystem
    /// (the layout of a container's root).
    Overlay,
    /// bindfs (FUSE) over a directory of the scratch filesystem, with these
    /// extra arguments (`-o direct_io`: every read goes to the daemon).
    Bindfs { options: &'static [&'static str] },
}

/// One filesystem of the matrix: its name (also its mount type where that
/// applies) and how to make it.
#[derive(Clone, Copy, Debug)]
pub struct FsSpec {
    pub name: &'static str,
    pub kind: FsKind,
}

/// A mounted filesystem, unmounted (and its loop device detached, its
/// scratch directories removed) when dropped.
pub struct Mounted {
    /// Where the filesystem is mounted: programs get directories below it.
    pub dir: PathBuf,
    base: PathBuf,
    device: Option<LoopDevice>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        unmount(&self.dir);
        // The device goes only after the unmount.
        drop(self.device.take());
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

impl FsSpec {
    /// Make and mount this filesystem under `base` (a fresh directory on
    /// the scratch filesystem); the error is the reason to skip it.
    pub fn mount(&self, base: &Path) -> Result<Mounted, String> {
        if !is_root() {
            return Err("mounting needs root".into());
        }
        let _ = std::fs::remove_dir_all(base);
        let mnt = base.join("mnt");
        std::fs::create_dir_all(&mnt).map_err(|e| format!("mkdir {}: {e}", mnt.display()))?;
        // From here on the guard cleans up whatever got made.
        let mut m = Mounted {
            dir: mnt.clone(),
            base: base.to_path_buf(),
            device: None,
        };
        let mnt_s = mnt.to_string_lossy().into_owned();
        match self.kind {
            FsKind::Loop { mkfs, mib } => {
                let tool = mkfs[0];
                if !have_tool(tool) {
                    return Err(format!("{tool} is not installed"));
                }
                let dev = LoopDevice::new(&base.join("image"), mib)?;
                let mut args: Vec<&str> = mkfs[1..].to_vec();
                args.push(&dev.dev);
                sh(tool, &args)?;
                let dev_s = dev.dev.clone();
                m.device = Some(dev);
                sh("mount", &["-t", self.name, &dev_s, &mnt_s])?;
            }
            FsKind::Memory { options } => {
                let src = format!("paio-matrix-{}", self.name);
                sh("mount", &["-t", self.name, "-o", options, &src, &mnt_s])?;
            }
            FsKind::Overlay => {
                let [lower, upper, work] = ["lower", "upper", "work"].map(|d| base.join(d));
                for d in [&lower, &upper, &work] {
                    std::fs::create_dir_all(d)
                        .map_err(|e| format!("mkdir {}: {e}", d.display()))?;
                }
                let opts = format!(
                    "lowerdir={},upperdir={},workdir={}",
                    lower.display(),
                    upper.display(),
                    work.display()
                );
                sh(
                    "mount",
                    &["-t", "overlay", "-o", &opts, "paio-matrix", &mnt_s],
                )?;
            }
            FsKind::Bindfs { options } => {
                if !have_tool("bindfs") {
                    return Err("bindfs is not installed (Debian: bindfs, fuse3)".into());
                }
                if !Path::new("/dev/fuse").exists() {
                    return Err("no /dev/fuse".into());
                }
                let src = base.join("source");
                std::fs::create_dir_all(&src)
                    .map_err(|e| format!("mkdir {}: {e}", src.display()))?;
                let src_s = src.to_string_lossy();
                let mut args: Vec<&str> = options.to_vec();
                args.extend([&*src_s, &*mnt_s]);
                sh("bindfs", &args)?;
            }
        }
        // A failed mount above leaves nothing mounted: the guard's umount
        // fails quietly.
        Ok(m)
    }
}

/// The uid and gid of the system user `name`, created (`useradd -r`) when
/// absent; the user is left in place for later runs.
pub fn system_user(name: &str) -> Result<(u32, u32), String> {
    if sh("id", &["-u", name]).is_err() {
        if !is_root() {
            return Err(format!("no user {name}, and creating one needs root"));
        }
        sh(
            "useradd",
            &[
                "-r",
                "-M",
                "-d",
                "/nonexistent",
                "-s",
                "/usr/sbin/nologin",
                name,
            ],
        )?;
    }
    let num = |flag: &str| -> Result<u32, String> {
        sh("id", &[flag, name])?
            .parse()
            .map_err(|e| format!("id {flag} {name}: {e}"))
    };
    Ok((num("-u")?, num("-g")?))
}
