//! `/alloc/<MiB>`: memory that is really used (every page written) and never given back,
//! so a container with a memory limit gets OOM-killed.

use std::sync::Mutex;

static HELD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Allocates and touches `mib` MiB; returns the total MiB now held by the process.
pub fn allocate(mib: usize) -> usize {
    // A non-zero fill writes every page; zeroed memory could stay untouched copy-on-write pages.
    let block = vec![0x5a_u8; mib * 1024 * 1024];
    let mut held = HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    held.push(block);
    held.iter().map(Vec::len).sum::<usize>() / (1024 * 1024)
}
