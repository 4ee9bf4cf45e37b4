//! Log reopening on request (CRI ReopenContainerLog): the agent renames the log and signals the shim.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The signal `Runtime::reopen_log` sends to the shim.
pub(crate) const REOPEN_SIGNAL: Signal = Signal::SIGUSR1;

static REOPEN_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn request_reopen(_: nix::libc::c_int) {
    REOPEN_REQUESTED.store(true, Ordering::SeqCst);
}

/// Installed without SA_RESTART, so the signal also interrupts the shim's poll and the reopen happens at once.
pub(super) fn install_handler() {
    let action = SigAction::new(SigHandler::Handler(request_reopen), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    if let Err(e) = unsafe { sigaction(REOPEN_SIGNAL, &action) } {
        eprintln!("keel shim: cannot install log reopen handler: {e}");
    }
}

/// True once per request.
pub(super) fn take_request() -> bool {
    REOPEN_REQUESTED.swap(false, Ordering::SeqCst)
}
