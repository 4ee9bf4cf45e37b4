//! The container's init process between fork and exec: namespaces, root filesystem, identity, then execve.
//!
//! Runs in a child of the single-threaded shim, so ordinary Rust is fine here. Any failure is written to the
//! close-on-exec failure pipe; a successful execve closes that pipe without data.

use std::convert::Infallible;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, sethostname, write};

use super::super::cgroups::{self, CgroupDir};
use super::super::layout::StateLayout;
use super::super::spec::ContainerSpec;
use super::{binds, credentials, program, rootfs};

/// Everything the init needs, prepared by the shim before fork.
pub(super) struct InitContext<'a> {
    pub spec: &'a ContainerSpec,
    pub layout: &'a StateLayout,
    pub cgroups: &'a [CgroupDir],
    pub stdin: File,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub failure: OwnedFd,
    pub netns: Option<File>,
}

/// Never returns: either execs the container's program or reports why not and exits.
pub(super) fn run(context: InitContext<'_>) -> ! {
    let message = match set_up_and_exec(&context) {
        Ok(never) => match never {},
        Err(message) => message,
    };
    let _ = write(&context.failure, message.as_bytes());
    // SAFETY: _exit skips atexit handlers and buffered-output flushing that belong to the shim.
    unsafe { nix::libc::_exit(127) }
}

fn set_up_and_exec(context: &InitContext<'_>) -> Result<Infallible, String> {
    let spec = context.spec;
    dup2_stdin(&context.stdin).map_err(|e| format!("set up stdin: {e}"))?;
    dup2_stdout(&context.stdout).map_err(|e| format!("set up stdout: {e}"))?;
    dup2_stderr(&context.stderr).map_err(|e| format!("set up stderr: {e}"))?;
    // Before anything else, so even setup work is accounted and limited.
    cgroups::join(context.cgroups, "0").map_err(|e| e.to_string())?;
    if let (Some(netns), Some(path)) = (&context.netns, &spec.netns) {
        setns(netns, CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("join network namespace {}: {e}", path.display()))?;
    }
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
        .map_err(|e| format!("unshare mount/UTS/IPC namespaces: {e}"))?;
    rootfs::enter(spec, context.layout)?;
    sethostname(&spec.hostname).map_err(|e| format!("set hostname {:?}: {e}", spec.hostname))?;
    let working_dir = spec.working_dir.as_deref().unwrap_or("/");
    binds::create_dir_all(Path::new(working_dir))
        .map_err(|e| format!("create working directory {working_dir:?}: {e}"))?;
    credentials::switch_user(spec.user.as_ref())?;
    std::env::set_current_dir(working_dir).map_err(|e| format!("chdir to {working_dir:?}: {e}"))?;
    credentials::reset_signals();
    program::exec(&spec.args, &spec.env)
}
