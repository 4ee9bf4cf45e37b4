//! Keel's container runtime: containers as processes in their own mount, PID, UTS and IPC namespaces (joined to a
//! pod network namespace), on an overlayfs of unpacked image layers, limited by cgroups and supervised by a
//! detached per-container shim that outlives the agent.
//!
//! Wiring in the agent: dispatch the hidden subcommand before starting any threads, e.g.
//! `if args[1] == "container-shim" { std::process::exit(shim_main(Path::new(&args[2]))) }`, and build the runtime
//! with `Runtime::new(std::env::current_exe()?, vec!["container-shim".into()])`.

mod agent_helpers;
mod cgroups;
mod config;
mod cri_log;
mod error;
mod exec;
mod files;
mod handle;
mod launch;
mod layout;
mod process;
mod remove;
mod shim;
mod spec;
mod status;
mod timefmt;

#[cfg(test)]
pub(crate) mod tests;

pub use agent_helpers::load_spec;
pub use error::RuntimeError;
pub use exec::ExecProcess;
pub use handle::Runtime;
pub use shim::shim_main;
pub use spec::{BindMount, ContainerSpec, Resources, User};
pub use status::ContainerState;

/// `<this process's cgroup v2 directory>/<relative>`, created if missing;
/// `None` on a machine without cgroup v2. The pods of a node live below
/// `keel/<node>` there, which is where the socket load balancer attaches.
pub fn cgroup_v2_dir(relative: &str) -> Result<Option<std::path::PathBuf>, RuntimeError> {
    let hierarchies = cgroups::own_hierarchies()?;
    let Some(v2) = hierarchies.iter().find(|h| h.version == cgroups::CgroupVersion::V2) else { return Ok(None) };
    let dir = v2.own_dir.join(relative);
    std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io("create the node's cgroup", e))?;
    Ok(Some(dir))
}
