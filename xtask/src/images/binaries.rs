//! Builds the `keel-test-images` programs as static x86_64 executables.

use super::elf;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Built explicitly for the host triple: with `--target`, RUSTFLAGS apply to the target only,
/// so the static flags do not invalidate the host build of the rest of the workspace.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
const PROFILE: &str = "image";
const PACKAGE: &str = "keel-test-images";

/// The programs that go into the images, read into memory.
pub struct Binaries {
    pub echo: Vec<u8>,
    pub dnsq: Vec<u8>,
}

/// `CARGO_TARGET_DIR` (relative to the workspace) when set, else `<workspace>/target`.
pub fn target_dir(workspace_root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root.join(dir),
        _ => workspace_root.join("target"),
    }
}

/// Runs cargo with `+crt-static` and checks that every produced program is really static.
pub fn build(workspace_root: &Path, target_dir: &Path) -> Result<Binaries> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", PACKAGE, "--bins", "--profile", PROFILE, "--target", TARGET])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        // Takes precedence over RUSTFLAGS when set (e.g. by an outer cargo).
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .current_dir(workspace_root);
    println!("==> {cmd:?}");
    let status = cmd.status().context("starting cargo")?;
    if !status.success() {
        bail!("building {PACKAGE} failed with {status}");
    }
    let out = target_dir.join(TARGET).join(PROFILE);
    Ok(Binaries { echo: read_static(&out.join("echo"))?, dnsq: read_static(&out.join("dnsq"))? })
}

/// Reads an executable, refusing one that would need a dynamic loader inside the image.
pub fn read_static(path: &Path) -> Result<Vec<u8>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !elf::is_static(&data).with_context(|| format!("inspecting {}", path.display()))? {
        bail!("{} is dynamically linked; the image has no libc to run it", path.display());
    }
    Ok(data)
}
