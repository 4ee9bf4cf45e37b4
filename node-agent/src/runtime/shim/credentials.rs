//! Becoming the container's user and undoing the shim's signal settings before exec.

use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};

use super::super::spec::User;

/// Drops to `user` (root with no supplementary groups when `None`). Order matters: groups and gid need root.
pub(super) fn switch_user(user: Option<&User>) -> Result<(), String> {
    let root = User::default();
    let user = user.unwrap_or(&root);
    let groups: Vec<Gid> = user.supplementary_groups.iter().map(|g| Gid::from_raw(*g)).collect();
    setgroups(&groups).map_err(|e| format!("setgroups {:?}: {e}", user.supplementary_groups))?;
    setgid(Gid::from_raw(user.gid)).map_err(|e| format!("setgid {}: {e}", user.gid))?;
    setuid(Uid::from_raw(user.uid)).map_err(|e| format!("setuid {}: {e}", user.uid))?;
    Ok(())
}

/// Ignored signals survive execve: give the program default dispositions and an empty mask.
pub(super) fn reset_signals() {
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: SIG_DFL runs no code of ours.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}
