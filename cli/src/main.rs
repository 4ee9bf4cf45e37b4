//! The `keel` binary: one program for every role.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keel", version, about = "Keel: a networking-first Kubernetes in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: the Kubernetes API server on the embedded store.
    Server(keel_control_plane::server::ServerArgs),
    /// Run a node agent that joins a cluster.
    Agent(keel_node_agent::AgentArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sled=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Server(args) => runtime.block_on(keel_control_plane::server::run(args)),
        Command::Agent(args) => runtime.block_on(keel_node_agent::run(args)),
    }
}
