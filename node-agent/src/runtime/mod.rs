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
