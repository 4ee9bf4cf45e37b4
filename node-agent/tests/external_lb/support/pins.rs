//! The bpffs pin directory of one test run; detaches and removes it on drop.
use std::{fs, mem::MaybeUninit, path::PathBuf, process::Command};

use keel_node_agent::lb::ExternalLb;

const BPFFS: &str = "/sys/fs/bpf";
const BPF_FS_MAGIC: u32 = 0xcafe_4a11;

pub struct PinDir {
    pub path: PathBuf,
}

impl PinDir {
    pub fn create() -> Result<Self, String> {
        ensure_bpffs()?;
        Ok(Self { path: PathBuf::from(BPFFS).join(format!("keel-ext-lb-test-{}", std::process::id())) })
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if let Err(e) = ExternalLb::detach(&self.path) {
            eprintln!("warning: detach {}: {e}", self.path.display());
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Mounts bpffs at /sys/fs/bpf if nothing is mounted there (left mounted: others may use it).
fn ensure_bpffs() -> Result<(), String> {
    if is_bpffs() {
        return Ok(());
    }
    let status = Command::new("mount").args(["-t", "bpf", "bpf", BPFFS]).status().map_err(|e| e.to_string())?;
    if status.success() && is_bpffs() {
        Ok(())
    } else {
        Err(format!("could not mount bpffs at {BPFFS}"))
    }
}

fn is_bpffs() -> bool {
    let mut buf = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: NUL-terminated literal path and a correctly sized buffer.
    let rc = unsafe { libc::statfs(c"/sys/fs/bpf".as_ptr(), buf.as_mut_ptr()) };
    // SAFETY: statfs succeeded, so the buffer is initialised.
    rc == 0 && unsafe { buf.assume_init() }.f_type as u32 == BPF_FS_MAGIC
}
