//! Lets the test binary act as the shim (and as a short-lived "agent") when re-executed with a marker argument.
//!
//! libtest owns `main` and runs tests on threads, but the shim must be a fresh single-threaded process, so the
//! marker is checked in an ELF constructor that runs before `main`.

use std::path::Path;

use super::super::{shim_main, ContainerSpec};
use super::fixture::test_runtime;

pub(super) const SHIM_ARG: &str = "__keel_runtime_test_shim";
pub(super) const START_ARG: &str = "__keel_runtime_test_start";

#[used]
#[link_section = ".init_array"]
static RUN_HELPER_MODE: extern "C" fn() = run_helper_mode;

extern "C" fn run_helper_mode() {
    let Ok(cmdline) = std::fs::read("/proc/self/cmdline") else { return };
    let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some(SHIM_ARG), Some(state_dir)) => std::process::exit(shim_main(Path::new(state_dir))),
        (Some(START_ARG), Some(spec_file)) => std::process::exit(start_and_exit(Path::new(spec_file))),
        _ => {}
    }
}

/// An "agent" that starts one container and exits, to show the container does not depend on its starter.
fn start_and_exit(spec_file: &Path) -> i32 {
    let spec: ContainerSpec = match std::fs::read(spec_file).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(spec)) => spec,
        other => {
            eprintln!("cannot read {}: {other:?}", spec_file.display());
            return 2;
        }
    };
    match test_runtime().start(&spec) {
        Ok(pid) => {
            println!("{pid}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
