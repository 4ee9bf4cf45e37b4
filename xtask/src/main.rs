//! `cargo xtask`: set-up, build, run, test and benchmark Keel.
//!
//! `up` and `test` are the two commands a fresh machine needs; both install
//! what is missing first and are safe to run again.

mod bench;
mod ebpf;
mod images;
mod setup;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing, build, and run a one-node cluster in the foreground.
    Up {
        /// Data directory of the cluster.
        #[arg(long, default_value = "/var/lib/keel")]
        data_dir: PathBuf,
        /// HTTPS port of the API server.
        #[arg(long, default_value_t = 6443)]
        port: u16,
    },
    /// Run every test: formatting, lints, unit and end-to-end.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
    },
    /// Build the test images (static echo and dnsq, busybox toolbox) into target/images.
    Images,
    /// Build the eBPF programs into target/ebpf (the node agent embeds them).
    BuildEbpf,
    /// Run a benchmark and print its table (`api`, `pods`, `scale`, `lb`, `dns`).
    Bench { name: String },
    /// Run a coverage-guided fuzz target (cargo fuzz, libFuzzer) for a while.
    Fuzz {
        /// The target, in node-agent/fuzz/fuzz_targets.
        #[arg(default_value = "dns_packet")]
        target: String,
        /// How long to fuzz.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Run a command in the workspace root, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("==> {shown}");
    let status = cmd.current_dir(root()).status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Up { data_dir, port } => up(&data_dir, port),
        Cmd::Test { no_lint } => test(!no_lint),
        Cmd::Images => images::run(&root()),
        Cmd::BuildEbpf => {
            setup::ensure()?;
            ebpf::build(&root())
        }
        Cmd::Bench { name } => bench::run(&name),
        Cmd::Fuzz { target, seconds } => {
            setup::ensure()?;
            ebpf::build(&root())?;
            fuzz(&target, seconds)
        }
    }
}

fn up(data_dir: &Path, port: u16) -> Result<()> {
    setup::ensure()?;
    ebpf::build(&root())?;
    eprintln!("==> building the test images");
    images::run(&root())?;
    eprintln!("==> building keel (release)");
    run(cargo().args(["build", "--release", "-p", "keel", "--bin", "keel"]))?;
    let bin = root().join("target/release/keel");
    // The embedded agent's image store gets the test images, so pods run at once.
    let images = root().join("target/images");
    let mut import = Command::new(&bin);
    import.args(["image", "import", "--data-dir"]).arg(data_dir.join("agent"));
    for name in ["echo-v1.tar", "echo-v2.tar", "toolbox.tar"] {
        import.arg(images.join(name));
    }
    eprintln!("==> importing the test images into the node's image store");
    run(&mut import)?;
    let kubeconfig = data_dir.join("kubeconfig.yaml");
    eprintln!("==> starting keel server on :{port} with data in {}", data_dir.display());
    eprintln!("    when it says ready:  export KUBECONFIG={}", kubeconfig.display());
    eprintln!("                         kubectl get namespaces");
    let status = Command::new(bin)
        .args(["server", "--https-port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .status()
        .context("running keel server")?;
    if !status.success() {
        bail!("keel server exited with {status}");
    }
    Ok(())
}

fn test(lint: bool) -> Result<()> {
    setup::ensure()?;
    ebpf::build(&root())?;
    if lint {
        run(cargo().args(["fmt", "--all", "--check"]))?;
        run(cargo().args(["fmt", "--manifest-path", "ebpf/lb-programs/Cargo.toml", "--check"]))?;
        run(cargo().args(["fmt", "--manifest-path", "node-agent/fuzz/Cargo.toml", "--check"]))?;
        run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    }
    // The end-to-end tests drive the real binary and the test images.
    run(cargo().args(["build", "--workspace", "--bins"]))?;
    images::run(&root())?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .env("KEEL_BIN", root().join("target/debug/keel"))
        .env("RUST_BACKTRACE", "1");
    run_tests(&mut cmd)?;
    fuzz("dns_packet", 60)
}

/// `cargo fuzz run` without a sanitizer (the code under test is safe Rust; the sanitizers need
/// a nightly compiler), in its own target directory. libFuzzer prints how many inputs ran and
/// the coverage reached; a failing input is kept in node-agent/fuzz/artifacts.
fn fuzz(target: &str, seconds: u64) -> Result<()> {
    eprintln!("==> fuzzing {target} for {seconds} s");
    run(cargo()
        .args(["fuzz", "run", "--fuzz-dir", "node-agent/fuzz", "--sanitizer", "none", "-O", "--target-dir"])
        .arg(root().join("target/fuzz"))
        .arg(target)
        .args(["--", &format!("-max_total_time={seconds}"), "-max_len=1024", "-print_final_stats=1"]))
}

/// Run `cargo test`, echoing its output, and close with one summary line
/// over every test binary (`tests: N passed, N failed, N skipped`).
fn run_tests(cmd: &mut Command) -> Result<()> {
    use std::io::{BufRead, BufReader};
    eprintln!("==> {cmd:?}");
    let mut child =
        cmd.current_dir(root()).stdout(std::process::Stdio::piped()).spawn().context("starting cargo test")?;
    let (mut passed, mut failed, mut skipped) = (0u64, 0u64, 0u64);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(counts) = line.strip_prefix("test result: ") {
                for part in counts.split(';') {
                    let mut words = part.split_whitespace().rev();
                    let (Some(what), Some(n)) = (words.next(), words.next()) else { continue };
                    let n: u64 = n.parse().unwrap_or(0);
                    match what {
                        "passed" => passed += n,
                        "failed" => failed += n,
                        "ignored" => skipped += n,
                        _ => {}
                    }
                }
            }
        }
    }
    let status = child.wait()?;
    println!("tests: {passed} passed, {failed} failed, {skipped} skipped");
    if !status.success() || failed > 0 {
        bail!("cargo test failed with {status}");
    }
    if passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}
