//! Locates the kernel objects and hands their paths to the crate, which `src/lb/object.rs` embeds
//! with `aya::include_bytes_aligned!`:
//! - `keel-lb` (socket LB) as `KEEL_LB_OBJECT`,
//! - `keel-ext-lb` (external TC LB) as `KEEL_EXT_LB_OBJECT`.
//!
//! Override each with the environment variable of the same name (an absolute path); otherwise
//! both are expected where `build-ebpf.sh` (or an xtask) puts them:
//! `<repo>/target/ebpf/bpfel-unknown-none/release/`.
use std::{env, path::PathBuf, process::ExitCode};

const DEFAULT_DIR: &str = "../target/ebpf/bpfel-unknown-none/release";
const OBJECTS: [(&str, &str); 2] = [("KEEL_LB_OBJECT", "keel-lb"), ("KEEL_EXT_LB_OBJECT", "keel-ext-lb")];

fn main() -> ExitCode {
    for (var, file) in OBJECTS {
        if let Err(message) = locate(var, file) {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn locate(var: &str, file: &str) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed={var}");
    let path = match env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => match env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) => PathBuf::from(dir).join(DEFAULT_DIR).join(file),
            None => return Err("CARGO_MANIFEST_DIR is not set; run through cargo".into()),
        },
    };
    println!("cargo:rerun-if-changed={}", path.display());
    if !path.is_file() {
        return Err(format!(
            "eBPF object {} is missing: build it first with ./build-ebpf.sh (or `cargo xtask build-ebpf`), \
             or point {var} at it",
            path.display()
        ));
    }
    let path = path.canonicalize().unwrap_or(path);
    println!("cargo:rustc-env={var}={}", path.display());
    Ok(())
}
