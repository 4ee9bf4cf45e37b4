//! Locates the kernel object `keel-lb` and hands its path to the crate as `KEEL_LB_OBJECT`,
//! which `src/lb/object.rs` embeds with `aya::include_bytes_aligned!`.
//!
//! Override with `KEEL_LB_OBJECT=/abs/path/keel-lb`; otherwise the object is expected where
//! `build-ebpf.sh` (or an xtask) puts it: `<repo>/target/ebpf/bpfel-unknown-none/release/keel-lb`.
use std::{env, path::PathBuf, process::ExitCode};

const DEFAULT_RELATIVE: &str = "../target/ebpf/bpfel-unknown-none/release/keel-lb";

fn main() -> ExitCode {
    println!("cargo:rerun-if-env-changed=KEEL_LB_OBJECT");
    let path = match env::var_os("KEEL_LB_OBJECT") {
        Some(p) => PathBuf::from(p),
        None => match env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) => PathBuf::from(dir).join(DEFAULT_RELATIVE),
            None => {
                eprintln!("CARGO_MANIFEST_DIR is not set; run through cargo");
                return ExitCode::FAILURE;
            }
        },
    };
    println!("cargo:rerun-if-changed={}", path.display());
    if !path.is_file() {
        eprintln!(
            "eBPF object {} is missing: build it first with ./build-ebpf.sh (or `cargo xtask build-ebpf`), \
             or point KEEL_LB_OBJECT at it",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let path = path.canonicalize().unwrap_or(path);
    println!("cargo:rustc-env=KEEL_LB_OBJECT={}", path.display());
    ExitCode::SUCCESS
}
