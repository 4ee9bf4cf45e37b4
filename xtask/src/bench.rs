//! Benchmarks: `cargo xtask bench NAME`. Each prints a table with a
//! baseline measured in the same run.

use crate::root;
use anyhow::{bail, Result};
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

pub fn run(name: &str) -> Result<()> {
    match name {
        // A release server; no images (bench-dns's "pods" are API objects only).
        "api" | "dns" => {
            crate::setup::ensure()?;
            crate::ebpf::build(&root())?;
            crate::run(cargo().args(["build", "--release", "-p", "keel", "--bin", "keel"]))?;
            crate::run(
                cargo()
                    .args(["run", "--release", "-p", "keel-e2e", "--bin", &format!("bench-{name}")])
                    .env("KEEL_BIN", root().join("target/release/keel")),
            )
        }
        "pods" | "scale" => {
            crate::setup::ensure()?;
            crate::ebpf::build(&root())?;
            crate::images::run(&root())?;
            crate::run(cargo().args(["build", "--release", "-p", "keel", "--bin", "keel"]))?;
            crate::run(
                cargo()
                    .args(["run", "--release", "-p", "keel-e2e", "--bin", &format!("bench-{name}")])
                    .env("KEEL_BIN", root().join("target/release/keel")),
            )
        }
        "lb" => {
            crate::setup::ensure()?;
            crate::ebpf::build(&root())?;
            crate::run(cargo().args(["run", "--release", "-p", "keel-e2e", "--bin", "bench-lb"]))
        }
        other => bail!("unknown benchmark {other:?}; known: api, pods, scale, lb, dns"),
    }
}
