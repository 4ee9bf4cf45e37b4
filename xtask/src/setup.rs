//! Installing what a fresh machine of this kind lacks. Idempotent: checks
//! first, installs only what is missing.

use crate::run;
use anyhow::Result;
use std::process::Command;

/// rustup components the build and lints use.
fn ensure_components() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> =
        // rust-src: the eBPF programs build `core` for the bpfel target.
        ["rustfmt", "clippy", "rust-src"].into_iter().filter(|c| !installed.lines().any(|l| l.starts_with(c))).collect();
    if !missing.is_empty() {
        let mut cmd = Command::new("rustup");
        cmd.args(["component", "add"]).args(&missing);
        run(&mut cmd)?;
    }
    Ok(())
}

/// Debian packages the tests and benchmarks use.
fn ensure_packages() -> Result<()> {
    // (a file the package provides, the package)
    let wanted: &[(&str, &str)] = &[
        ("/usr/bin/curl", "curl"),
        ("/usr/bin/openssl", "openssl"),
        ("/usr/sbin/ip", "iproute2"),
        ("/usr/bin/nsenter", "util-linux"),
        // Static busybox for the toolbox test image.
        ("/bin/busybox", "busybox-static"),
        // The OCI registry the image-pull tests push to and pull from.
        ("/usr/bin/docker-registry", "docker-registry"),
        // bpf-linker links the eBPF programs against LLVM 22 (rustc's LLVM).
        ("/usr/lib/llvm-22/bin/llvm-config", "llvm-22-dev"),
        ("/usr/include/zstd.h", "libzstd-dev"),
        ("/usr/include/zlib.h", "zlib1g-dev"),
        // Inspecting maps and attachments when debugging the load balancer.
        ("/usr/sbin/bpftool", "bpftool"),
        // The kube-proxy-style baseline of the load-balancer benchmark.
        ("/usr/sbin/iptables-restore", "iptables"),
        // dig: the DNS tests query the nodes' cluster DNS servers with it.
        ("/usr/bin/dig", "dnsutils"),
        // The upstream resolver the DNS forwarding test starts in a cluster's own namespace.
        ("/usr/sbin/dnsmasq", "dnsmasq-base"),
        // The DNS benchmark's load generator, and its ceiling (an authoritative server in C).
        ("/usr/bin/dnsperf", "dnsperf"),
        ("/usr/sbin/nsd", "nsd"),
    ];
    let missing: Vec<&str> =
        wanted.iter().filter(|(file, _)| !std::path::Path::new(file).exists()).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut cmd)
}

/// kubectl binaries the end-to-end tests drive (present on every machine of
/// this kind; checked so a missing one fails with a clear message).
fn check_kubectl() -> Result<()> {
    for v in ["1.27", "1.33"] {
        let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{v}");
        if !std::path::Path::new(&bin).exists() {
            anyhow::bail!("{bin} is missing: the end-to-end tests need real kubectl {v}");
        }
    }
    Ok(())
}

/// bpf-linker, built against Debian's LLVM 22 (its default, LLVM 23, is
/// not packaged here); without LLVM_PREFIX its build finds LLVM 14.
fn ensure_bpf_linker() -> Result<()> {
    ensure_cargo_tool("bpf-linker", "LLVM 22; about a minute", |cmd| {
        cmd.args(["install", "bpf-linker", "--locked", "--no-default-features", "--features", "llvm-22"])
            .env("LLVM_PREFIX", "/usr/lib/llvm-22")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
    })
}

/// cargo-fuzz, for the coverage-guided fuzz targets (`cargo xtask fuzz`).
fn ensure_cargo_fuzz() -> Result<()> {
    ensure_cargo_tool("cargo-fuzz", "about half a minute", |cmd| {
        cmd.args(["install", "cargo-fuzz", "--locked"]);
    })
}

/// `cargo install`s `binary` unless it already answers `--version`; `install` sets the
/// command's arguments.
fn ensure_cargo_tool(binary: &str, how_long: &str, install: impl FnOnce(&mut Command)) -> Result<()> {
    let have = Command::new(binary).arg("--version").output().is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    eprintln!("==> installing {binary} ({how_long})");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    install(&mut cmd);
    run(&mut cmd)
}

pub fn ensure() -> Result<()> {
    eprintln!("==> checking the machine");
    ensure_components()?;
    ensure_packages()?;
    ensure_bpf_linker()?;
    ensure_cargo_fuzz()?;
    check_kubectl()
}
