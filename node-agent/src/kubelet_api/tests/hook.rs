//! Lets the test binary act as the container shim when re-executed with a marker argument (checked in an ELF
//! constructor, before libtest starts its threads).

use std::path::Path;

use super::super::super::runtime::shim_main;

pub(super) const SHIM_ARG: &str = "__keel_kubelet_api_test_shim";

#[used]
#[link_section = ".init_array"]
static RUN_SHIM_MODE: extern "C" fn() = run_shim_mode;

extern "C" fn run_shim_mode() {
    let Ok(cmdline) = std::fs::read("/proc/self/cmdline") else { return };
    let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    if let (Some(SHIM_ARG), Some(state_dir)) = (args.get(1).map(String::as_str), args.get(2)) {
        std::process::exit(shim_main(Path::new(state_dir)));
    }
}
