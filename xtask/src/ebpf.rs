//! `cargo xtask build-ebpf`: the kernel programs (`ebpf/lb-programs`) for
//! bpfel-unknown-none, into target/ebpf, where the node agent's build.rs
//! finds the object to embed.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

pub fn build(root: &Path) -> Result<()> {
    let dir = root.join("ebpf/lb-programs");
    let target = root.join("target/ebpf");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Run from the crate's directory so its .cargo/config.toml (target,
    // build-std, BTF) applies; the host's flags must not leak in.
    cmd.current_dir(&dir)
        .args(["build", "--release"])
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER");
    eprintln!("==> building the eBPF programs in {} (bpfel-unknown-none)", dir.display());
    let status = cmd.status().context("starting cargo for the eBPF programs")?;
    if !status.success() {
        bail!(
            "building the eBPF programs failed with {status} (is bpf-linker installed? `cargo xtask up` installs it)"
        );
    }
    let object = target.join("bpfel-unknown-none/release/keel-lb");
    eprintln!("==> {}", object.display());
    Ok(())
}
