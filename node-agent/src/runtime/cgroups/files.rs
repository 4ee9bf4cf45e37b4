//! Reading and writing cgroup control files with useful error messages.

use std::fs;
use std::io;
use std::path::Path;

use super::super::error::RuntimeError;

pub(super) fn write(dir: &Path, name: &str, value: &str) -> Result<(), RuntimeError> {
    let path = dir.join(name);
    fs::write(&path, value).map_err(|e| RuntimeError::Cgroup(format!("write {value:?} to {}: {e}", path.display())))
}

/// Like [`write`], but a missing file (optional kernel feature) is not an error.
pub(super) fn write_if_present(dir: &Path, name: &str, value: &str) -> Result<(), RuntimeError> {
    if dir.join(name).exists() {
        write(dir, name, value)
    } else {
        Ok(())
    }
}

/// Value of `key` in a "key value" per line file such as memory.events.
pub(super) fn read_keyed(dir: &Path, name: &str, key: &str) -> io::Result<Option<u64>> {
    let text = fs::read_to_string(dir.join(name))?;
    Ok(text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    }))
}

/// Pids listed in the directory's cgroup.procs (empty if the directory is gone).
pub(super) fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
