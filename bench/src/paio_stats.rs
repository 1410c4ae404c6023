//! Which backend each paio process of a group ran on, read from the
//! statistics file libpaio.so leaves in `PAIO_STATS=DIR`: kernel AIO, or the
//! worker pool after `io_setup` was refused.

use std::path::Path;

use serde_json::{json, Value};

// The file's layout is defined once, in the library; paio-stat includes it
// the same way. The bench reads a few of its fields only.
#[allow(dead_code)]
#[path = "../../src/stats/layout.rs"]
mod layout;

/// What one process's statistics file says.
#[derive(Clone, Debug)]
pub struct ProcessBackend {
    pub pid: u32,
    /// The backend the engine started with (`kaio`, `threads`).
    pub backend: String,
    /// The `io_setup` errno when kernel AIO fell back to the pool, else 0.
    pub fallback: i32,
    /// Counters by name (`kernel`, `pool`, `kaio_refused`…), summed over shards.
    pub counters: Vec<(String, u64)>,
}

impl ProcessBackend {
    /// Kernel AIO was set up and not given up.
    pub fn on_kaio(&self) -> bool {
        self.backend == "kaio" && self.fallback == 0
    }

    /// As the exit line names it: `kaio`, `threads`, `threads fallback=io_setup:11`.
    pub fn label(&self) -> String {
        layout::backend_label(&self.backend, self.fallback)
    }

    pub fn get(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |&(_, v)| v)
    }

    pub fn to_json(&self) -> Value {
        let counters: serde_json::Map<String, Value> = self
            .counters
            .iter()
            .map(|(n, v)| (n.clone(), json!(v)))
            .collect();
        json!({
            "pid": self.pid,
            "backend": self.label(),
            "fallback_errno": self.fallback,
            "counters": counters,
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

/// Read `paio-<pid>.stats` in `dir`, written by a process that has exited.
pub fn read(dir: &Path, pid: u32) -> Result<ProcessBackend, String> {
    use layout::{Block, Header};
    use std::mem::offset_of;
    let path = dir.join(layout::file_name(pid, 0));
    let b = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() < layout::FILE_BYTES || b[..8] != layout::MAGIC {
        return Err(format!(
            "{}: not a complete statistics file",
            path.display()
        ));
    }
    let version = u32_at(&b, offset_of!(Header, version));
    if version != layout::VERSION {
        return Err(format!(
            "{}: layout version {version}, this paio-bench reads {}",
            path.display(),
            layout::VERSION
        ));
    }
    let field = |at: usize, len: usize| layout::text(&b[at..at + len]).to_string();
    let backend = field(offset_of!(Header, backend), 32);
    let names = field(offset_of!(Header, names), 256);
    let in_use = (u32_at(&b, offset_of!(Header, counters)) as usize).min(layout::SLOTS);
    let shards = offset_of!(Block, shards);
    let counters = names
        .split_whitespace()
        .take(in_use)
        .enumerate()
        .map(|(slot, name)| {
            let sum = (0..layout::SHARDS)
                .map(|s| {
                    let at = shards + s * layout::SHARD_BYTES + slot * 8;
                    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
                })
                .fold(0u64, u64::wrapping_add);
            (name.to_string(), sum)
        })
        .collect();
    Ok(ProcessBackend {
        pid: u32_at(&b, offset_of!(Header, pid)),
        backend,
        fallback: u32_at(&b, offset_of!(Header, fallback)) as i32,
        counters,
    })
}
