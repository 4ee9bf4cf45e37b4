//! End-to-end test of the socket load balancer on the real kernel (needs root).
//!
//! `harness = false`: this binary is also the probe client, re-executed inside the test cgroup and
//! client network namespace (`socket_lb probe ...`), which keeps the test process itself
//! single-purpose and avoids fork() in a multi-threaded process.
mod cases;
mod support;

use std::{process::ExitCode, time::Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("probe") {
        return ExitCode::from(support::probe::client_main(&args[2..]) as u8);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("socket_lb: SKIPPED (needs root: loads eBPF, creates namespaces and cgroups)");
        return ExitCode::SUCCESS;
    }
    let start = Instant::now();
    let result = cases::run_all();
    println!("socket_lb: {} in {:.2?}", if result.is_ok() { "ok" } else { "FAILED" }, start.elapsed());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socket_lb: {e}");
            ExitCode::FAILURE
        }
    }
}
