//! cgroup v1 and v2 handling: where a container's cgroups go, their limits, joining, killing and removal.

mod discover;
mod files;
mod lifecycle;
mod limits;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use discover::{own_hierarchies, Hierarchy};
pub(crate) use lifecycle::{create, join, kill_all, oom_kills, remove, remove_dir};

/// cgroup API generation of a hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CgroupVersion {
    V1,
    V2,
}

/// One of the container's cgroup directories (one per hierarchy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CgroupDir {
    pub version: CgroupVersion,
    /// Resource controllers the runtime uses in this directory (may be empty: v2 without controllers).
    pub controllers: Vec<String>,
    /// The agent's own cgroup in this hierarchy; directories between it and `path` belong to the runtime.
    pub base: PathBuf,
    /// The container's cgroup directory.
    pub path: PathBuf,
}

impl CgroupDir {
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The container's cgroup directories for `<agent cgroup>/<cgroup_parent>/<id>` in every hierarchy.
pub(crate) fn plan(hierarchies: &[Hierarchy], cgroup_parent: &str, id: &str) -> Vec<CgroupDir> {
    hierarchies
        .iter()
        .map(|h| CgroupDir {
            version: h.version,
            controllers: h.controllers.clone(),
            base: h.own_dir.clone(),
            path: h.own_dir.join(cgroup_parent).join(id),
        })
        .collect()
}
