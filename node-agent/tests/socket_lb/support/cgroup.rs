//! A throw-away cgroup v2 directory the programs attach to and the probes run in.
use std::{fs, path::PathBuf, thread, time::Duration};

pub const CGROUP2_ROOT: &str = "/sys/fs/cgroup/unified";

pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    pub fn create() -> Result<Self, String> {
        let path = PathBuf::from(CGROUP2_ROOT).join(format!("keel-lb-test-{}", std::process::id()));
        fs::create_dir(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        Ok(Self { path })
    }

    pub fn procs_file(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Only our probe processes can be in here; kill stragglers so the directory can go.
        if let Ok(procs) = fs::read_to_string(self.procs_file()) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: plain kill(2) on a pid read from our own test cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for _ in 0..50 {
            if fs::remove_dir(&self.path).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("warning: could not remove {}", self.path.display());
    }
}
