//! The description of one container, as the node agent hands it to the runtime.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::RuntimeError;

/// PATH used for program lookup when the container's environment has none (the OCI/Docker default).
pub(crate) const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to run one container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Filesystem-safe unique id, e.g. `<pod-uid>_<container-name>`.
    pub id: String,
    /// Directory owned by the runtime for this container (overlay dirs, spec.json, status files).
    pub state_dir: PathBuf,
    /// Unpacked image layer directories, bottom (base) first, whiteouts already in overlayfs form.
    pub layers: Vec<PathBuf>,
    /// Network namespace file to join; `None` keeps the caller's.
    pub netns: Option<PathBuf>,
    pub hostname: String,
    /// argv; `argv[0]` without '/' is looked up in `PATH` from `env` inside the new root.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Default "/"; created if missing.
    pub working_dir: Option<String>,
    /// `None` runs as root.
    pub user: Option<User>,
    pub mounts: Vec<BindMount>,
    /// Container stdout/stderr go here in CRI log format.
    pub log_path: PathBuf,
    pub resources: Resources,
    /// Relative cgroup path like `keel/node-1/pod-<uid>`, below the agent's own cgroup in each hierarchy.
    pub cgroup_parent: String,
}

/// Numeric identity the container process runs as.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub supplementary_groups: Vec<u32>,
}

/// A host file or directory bind-mounted into the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    pub source: PathBuf,
    /// Absolute path inside the container; created to match the source (file or directory).
    pub destination: String,
    pub read_only: bool,
}

/// cgroup limits; `None` leaves the kernel default (unlimited).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub memory_limit_bytes: Option<u64>,
    pub cpu_quota_micros: Option<i64>,
    pub cpu_period_micros: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub pids_max: Option<u64>,
}

impl ContainerSpec {
    /// Rejects specs that would be unsafe or impossible to run, before anything is created.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        let invalid = |msg: String| Err(RuntimeError::InvalidSpec(msg));
        if !is_safe_name(&self.id) {
            return invalid(format!("id {:?} must be non-empty and use only [A-Za-z0-9_.-]", self.id));
        }
        if !self.state_dir.is_absolute() {
            return invalid(format!("state_dir {} must be absolute", self.state_dir.display()));
        }
        if self.layers.is_empty() {
            return invalid("at least one image layer is required".into());
        }
        // overlayfs splits its options on ',' and lowerdir on ':'.
        for dir in self.layers.iter().chain(std::iter::once(&self.state_dir)) {
            let text = dir.to_string_lossy();
            if !dir.is_absolute() || text.contains([',', ':', '\\']) {
                return invalid(format!("{} must be absolute and free of ',', ':' and '\\'", dir.display()));
            }
        }
        if self.args.first().is_none_or(|a| a.is_empty()) {
            return invalid("args must contain the program to run".into());
        }
        if self.env.iter().any(|(k, _)| k.is_empty() || k.contains('=') || k.contains('\0')) {
            return invalid("env names must be non-empty and contain no '=' or NUL".into());
        }
        if let Some(dir) = &self.working_dir {
            if !dir.starts_with('/') {
                return invalid(format!("working_dir {dir:?} must be absolute"));
            }
        }
        for mount in &self.mounts {
            if !mount.destination.starts_with('/') || mount.destination.split('/').any(|c| c == "..") {
                return invalid(format!("mount destination {:?} must be absolute without '..'", mount.destination));
            }
            if !mount.source.is_absolute() {
                return invalid(format!("mount source {} must be absolute", mount.source.display()));
            }
        }
        if self.cgroup_parent.starts_with('/') || self.cgroup_parent.split('/').any(|c| c == ".." || c == ".") {
            return invalid(format!("cgroup_parent {:?} must be relative without '.' or '..'", self.cgroup_parent));
        }
        if !self.log_path.is_absolute() {
            return invalid(format!("log_path {} must be absolute", self.log_path.display()));
        }
        Ok(())
    }
}

fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            id: "pod_c".into(),
            state_dir: "/var/lib/keel/c".into(),
            layers: vec!["/var/lib/keel/layers/a".into()],
            netns: None,
            hostname: "h".into(),
            args: vec!["sh".into()],
            env: vec![],
            working_dir: None,
            user: None,
            mounts: vec![],
            log_path: "/var/log/c.log".into(),
            resources: Resources::default(),
            cgroup_parent: "keel/pod".into(),
        }
    }

    #[test]
    fn accepts_a_plain_spec() {
        assert!(spec().validate().is_ok());
    }

    #[test]
    fn rejects_unsafe_values() {
        let cases: Vec<fn(&mut ContainerSpec)> = vec![
            |s| s.id = "../x".into(),
            |s| s.id = String::new(),
            |s| s.layers = vec![],
            |s| s.layers = vec!["/a:b".into()],
            |s| s.state_dir = "rel".into(),
            |s| s.args = vec![],
            |s| s.cgroup_parent = "/abs".into(),
            |s| s.cgroup_parent = "a/../b".into(),
            |s| s.working_dir = Some("rel".into()),
            |s| s.env = vec![("A=B".into(), "c".into())],
        ];
        for change in cases {
            let mut s = spec();
            change(&mut s);
            assert!(matches!(s.validate(), Err(RuntimeError::InvalidSpec(_))), "{s:?}");
        }
    }
}
