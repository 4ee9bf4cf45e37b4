//! The per-container shim: the container's parent, detached from the agent, that records its fate in files.
//!
//! The agent's executable re-runs itself with a hidden subcommand that calls [`shim_main`]. The first process
//! forks a daemon and exits as soon as the daemon has recorded itself, so the agent never has to reap the
//! long-lived shim and an agent restart cannot take containers down.

mod binds;
mod credentials;
mod init;
mod log_pump;
mod program;
mod reopen;
mod rootfs;
mod special_fs;
mod supervise;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::unistd::{fork, pipe2, ForkResult};

use super::config::ShimConfig;
use super::layout::StateLayout;

pub(crate) use reopen::REOPEN_SIGNAL;

/// Entry point of the shim process; returns the process exit code. Must run in a fresh single-threaded process
/// (call it first thing in `main`, before starting any runtime or thread).
pub fn shim_main(state_dir: &Path) -> i32 {
    let layout = StateLayout::new(state_dir);
    let config = match ShimConfig::load(&layout) {
        Ok(Some(config)) => config,
        Ok(None) => {
            eprintln!("keel shim: {} does not exist", layout.config_file().display());
            return 1;
        }
        Err(e) => {
            eprintln!("keel shim: {e}");
            return 1;
        }
    };
    let (ready_read, ready_write) = match pipe2(OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("keel shim: pipe: {e}");
            return 1;
        }
    };
    // SAFETY: the shim is single-threaded (documented requirement), so the child may do anything.
    match unsafe { fork() } {
        Err(e) => {
            eprintln!("keel shim: fork: {e}");
            1
        }
        Ok(ForkResult::Parent { .. }) => {
            drop(ready_write);
            wait_until_recorded(ready_read)
        }
        Ok(ForkResult::Child) => {
            drop(ready_read);
            supervise::run(&layout, &config, ready_write)
        }
    }
}

/// The daemon writes one byte once its status file names it; EOF without it means it died first.
fn wait_until_recorded(ready: OwnedFd) -> i32 {
    let mut byte = [0u8; 1];
    match std::fs::File::from(ready).read(&mut byte) {
        Ok(1) => 0,
        _ => {
            eprintln!("keel shim: daemon exited before recording its status");
            1
        }
    }
}
