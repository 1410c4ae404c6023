//! What a sequence may be made of: the families of operations left out
//! (`--without`) and the most steps (`--max-steps`), with the arguments
//! that give them back.

/// Families of operations a run may leave out (`--without`), to look past a
/// known paio defect for others while it is being fixed. All are in by
/// default.
#[derive(Clone, Copy, Default, Debug)]
pub struct Without {
    /// The SIGUSR2 `sigtimedwait` probe.
    pub sigwait: bool,
    pub fork: bool,
    /// Closing (or replacing) the `O_DIRECT` file's descriptor, so its
    /// number is never reused by another file.
    pub direct_reuse: bool,
    /// Cancels of requests in flight.
    pub cancel: bool,
    /// Page-cache evictions (`fsync` + `POSIX_FADV_DONTNEED`), which send
    /// paio's later buffered reads to io_uring.
    pub evict: bool,
}

impl Without {
    pub fn parse(list: &str) -> Option<Without> {
        let mut w = Without::default();
        for k in list.split(',').filter(|k| !k.is_empty()) {
            match k {
                "sigwait" => w.sigwait = true,
                "fork" => w.fork = true,
                "direct-reuse" => w.direct_reuse = true,
                "cancel" => w.cancel = true,
                "evict" => w.evict = true,
                _ => return None,
            }
        }
        Some(w)
    }

    /// The argument that gives this back to `parse`.
    pub fn arg(&self) -> String {
        let mut v = Vec::new();
        for (on, name) in [
            (self.sigwait, "sigwait"),
            (self.fork, "fork"),
            (self.direct_reuse, "direct-reuse"),
            (self.cancel, "cancel"),
            (self.evict, "evict"),
        ] {
            if on {
                v.push(name);
            }
        }
        v.join(",")
    }
}

/// What a sequence is made of: the families left out, and (to shrink a
/// failing sequence) the most steps before the drain. A sequence cut to
/// fewer steps is a prefix of the full one: the steps draw from the
/// generator in the same order.
#[derive(Clone, Copy, Default, Debug)]
pub struct Shape {
    pub without: Without,
    pub max_steps: Option<usize>,
}

impl Shape {
    /// The command-line arguments that give this shape back.
    pub fn args(&self) -> Vec<String> {
        let mut v = Vec::new();
        let w = self.without.arg();
        if !w.is_empty() {
            v.push("--without".to_string());
            v.push(w);
        }
        if let Some(n) = self.max_steps {
            v.push("--max-steps".to_string());
            v.push(n.to_string());
        }
        v
    }
}
