//! Whether the process that wrote a statistics file still runs, from
//! `/proc`: the pid exists, is no zombie, started no later than its engine
//! (a later start is another process that reused the pid), and, where its
//! mappings can be read, still maps the file (it does not after an `exec`).

use crate::file::Snapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    /// Ended through `exit` (its exit handlers ran).
    Exited,
    /// Ended without them: `_exit`, a signal, `abort`, or `exec`.
    Gone,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Exited => "exited",
            State::Gone => "gone",
        }
    }
}

pub fn state(s: &Snapshot) -> State {
    if s.exited {
        return State::Exited;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", s.pid)) else {
        return State::Gone;
    };
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return State::Gone;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), fields[19] field 22 (starttime, ticks).
    if matches!(fields.first(), Some(&"Z") | Some(&"X") | None) {
        return State::Gone;
    }
    if let Some(ticks) = fields.get(19).and_then(|t| t.parse::<u64>().ok()) {
        // SAFETY: sysconf takes an integer.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let started_ns = ticks.saturating_mul(1_000_000_000 / hz);
        if started_ns > s.start_boottime_ns {
            return State::Gone;
        }
    }
    if let Ok(maps) = std::fs::read_to_string(format!("/proc/{}/maps", s.pid)) {
        if !maps_file(&maps, s.dev, s.inode) {
            return State::Gone;
        }
    }
    State::Running
}

/// Does a `/proc/PID/maps` text map the file `dev`/`inode`?
fn maps_file(maps: &str, dev: u64, inode: u64) -> bool {
    let dev = format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev));
    let inode = inode.to_string();
    maps.lines().any(|l| {
        let mut f = l.split_whitespace().skip(3);
        f.next() == Some(dev.as_str()) && f.next() == Some(inode.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_among_mappings() {
        let maps = "7f00-7f01 rw-s 00000000 08:02 1234 /tmp/s/paio-9.stats\n\
                    7f02-7f03 r-xp 00000000 08:02 99 /usr/lib/x.so\n";
        let dev = libc::makedev(8, 2);
        assert!(maps_file(maps, dev, 1234));
        assert!(!maps_file(maps, dev, 123));
        assert!(!maps_file(maps, libc::makedev(8, 3), 1234));
    }

    #[test]
    fn this_process_runs_and_a_later_pid_owner_does_not() {
        let dir = std::env::temp_dir().join(format!("paio-stat-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("paio-1.stats");
        crate::file::tests::write_file(&path, std::process::id(), 0, &[]);
        let mut s = crate::file::read(&path).unwrap();
        // This test process does not map the file: gone, as after exec.
        assert_eq!(state(&s), State::Gone);
        s.exited = true;
        assert_eq!(state(&s), State::Exited);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
