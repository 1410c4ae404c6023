//! Which filesystem a test directory is on: the `statfs(2)` magic number,
//! named, and the mount point from `/proc/self/mountinfo`, so a table says
//! what it measured (tmpfs and overlayfs behave nothing like ext4).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the report shows about one test directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsInfo {
    /// `statfs`'s `f_type`.
    pub magic: u64,
    /// A short name: `ext4`, `xfs`, `tmpfs`, `overlay`, `fuse.sshfs`…
    pub name: String,
    /// Where that filesystem is mounted, when mountinfo says.
    pub mount: Option<PathBuf>,
}

/// `f_type` values from `<linux/magic.h>` and the filesystems' own headers.
const MAGICS: &[(u64, &str)] = &[
    (0xEF53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0x8584_58F6, "ramfs"),
    (0x794C_7630, "overlay"),
    (0x6573_5546, "fuse"),
    (0x6969, "nfs"),
    (0x2FC1_2FC1, "zfs"),
    (0xF2F5_2010, "f2fs"),
    (0xCA45_1A4E, "bcachefs"),
    (0x0102_1997, "9p"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x00C3_6400, "ceph"),
    (0x4D44, "vfat"),
    (0x2011_BAB0, "exfat"),
    (0x5346_544E, "ntfs"),
    (0x7371_7368, "squashfs"),
    (0x9FA0, "proc"),
    (0x6265_6572, "sysfs"),
];

/// Whether the filesystem keeps its files in memory only, so dropping the
/// page cache leaves them where they are.
pub fn is_memory_fs(magic: u64) -> bool {
    matches!(magic, 0x0102_1994 | 0x8584_58F6)
}

/// Probe the filesystem holding `dir`. `Err` only when `statfs` fails.
pub fn probe(dir: &Path) -> Result<FsInfo, String> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| "path holds a NUL byte".to_string())?;
    // SAFETY: a NUL-terminated path and a zeroed out-struct statfs fills.
    let magic = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut st) != 0 {
            return Err(format!("statfs: {}", std::io::Error::last_os_error()));
        }
        // f_type is signed on some ABIs; the magic numbers are 32-bit.
        st.f_type as u64 & 0xFFFF_FFFF
    };
    let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|t| mount_of(&t, &canon));
    let known = MAGICS.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n);
    let name = match (known, &mounted) {
        // ext2/3/4 share a magic; FUSE's subtype (fuse.sshfs) says more.
        (Some("ext4" | "fuse"), Some((_, t))) if t.starts_with("ext") || t.starts_with("fuse") => {
            t.clone()
        }
        (Some(n), _) => n.to_string(),
        (None, Some((_, t))) => t.clone(),
        (None, None) => format!("{magic:#x}"),
    };
    Ok(FsInfo {
        magic,
        name,
        mount: mounted.map(|(m, _)| m),
    })
}

/// The mount point and type of the last-mounted, longest mount point that
/// holds `path`, from mountinfo's text.
fn mount_of(mountinfo: &str, path: &Path) -> Option<(PathBuf, String)> {
    let mut best: Option<(PathBuf, String)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(point), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else {
            continue;
        };
        let point = PathBuf::from(unescape(point));
        if !path.starts_with(&point) {
            continue;
        }
        // Later lines mount over earlier ones at the same place.
        let longer = match &best {
            Some((b, _)) => point.as_os_str().len() >= b.as_os_str().len(),
            None => true,
        };
        if longer {
            best = Some((point, fstype.to_string()));
        }
    }
    best
}

/// mountinfo writes space, tab, newline and backslash as `\040`-style octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
23 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
24 23 0:21 / /dev/shm rw,relatime shared:2 - tmpfs tmpfs rw,size=1024k
25 23 0:30 / /tmp/ov/merged rw,relatime shared:3 - overlay overlay rw,lowerdir=/a
26 23 0:31 / /mnt/my\\040disk rw - fuse.sshfs host:/ rw
27 24 0:32 / /dev/shm rw - ramfs ramfs rw
";

    #[test]
    fn longest_and_latest_mount_wins() {
        let m = |p: &str| mount_of(MOUNTINFO, Path::new(p)).unwrap();
        assert_eq!(m("/tmp"), ("/".into(), "ext4".into()));
        assert_eq!(
            m("/tmp/ov/merged/x"),
            ("/tmp/ov/merged".into(), "overlay".into())
        );
        assert_eq!(m("/tmp/ov/mergedx"), ("/".into(), "ext4".into()));
        assert_eq!(m("/dev/shm"), ("/dev/shm".into(), "ramfs".into()));
        assert_eq!(
            m("/mnt/my disk/d"),
            ("/mnt/my disk".into(), "fuse.sshfs".into())
        );
    }

    #[test]
    fn probes_this_machines_root() {
        let fs = probe(Path::new("/")).unwrap();
        assert!(!fs.name.is_empty());
        assert_eq!(fs.mount.as_deref(), Some(Path::new("/")));
        assert!(probe(Path::new("/nonexistent/paio-bench")).is_err());
    }
}
