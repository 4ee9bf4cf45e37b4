//! End-to-end test of the external (TC) load balancer on the real kernel (needs root): an outside
//! client, node A running `ExternalLb` with one local backend pod, node B with a remote backend
//! pod, all in network namespaces this test creates and removes.
//!
//! `harness = false`: the cases share one topology and run in order, like `socket_lb`.
mod cases;
mod support;

use std::{process::ExitCode, time::Instant};

fn main() -> ExitCode {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("external_lb: SKIPPED (needs root: loads eBPF, creates network namespaces)");
        return ExitCode::SUCCESS;
    }
    let start = Instant::now();
    let result = cases::run_all();
    println!("external_lb: {} in {:.2?}", if result.is_ok() { "ok" } else { "FAILED" }, start.elapsed());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("external_lb: {e}");
            ExitCode::FAILURE
        }
    }
}
