//! `keel cluster up|down`: a multi-node cluster on one machine, like kind
//! without Docker. An underlay namespace holds a bridge and the API server
//! (at 172.31.0.1); each agent runs in its own network namespace ("node")
//! joined to that bridge, so the machine's routes, bridges and sysctls are
//! never touched. The host reaches the API through a loopback port that a
//! detached supervisor forwards into the underlay. The supervisor also
//! starts the server and agents (restarting an agent that exits, like a
//! service manager) and removes everything on `down`.

mod proxy;
mod state;
mod supervise;
mod teardown;
mod topology;

use anyhow::{Context, Result};
use state::ClusterState;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Subcommand)]
pub enum ClusterCmd {
    /// Create and start a cluster: the server plus N agents in network namespaces.
    Up(UpArgs),
    /// Stop a cluster and remove every namespace, interface, mount, cgroup and process it created.
    Down(Target),
    /// Show a cluster's nodes and processes.
    Status(Target),
    /// Stop a node's agent and keep it stopped (its pods keep running), as a node failure would.
    StopNode {
        node: String,
        #[command(flatten)]
        target: Target,
    },
    /// Start a stopped node's agent again.
    StartNode {
        node: String,
        #[command(flatten)]
        target: Target,
    },
    /// Run a cluster in the foreground (what `up` starts in the background).
    #[command(hide = true)]
    Supervise { data_dir: PathBuf },
}

#[derive(clap::Args, Clone)]
pub struct UpArgs {
    /// Number of nodes (agents).
    #[arg(long, default_value_t = 1)]
    pub nodes: u32,
    /// Cluster name: prefixes node and namespace names.
    #[arg(long, default_value = "keel")]
    pub name: String,
    /// Where the cluster keeps its state (default /var/lib/keel/clusters/<name>).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// API server port on the host's loopback (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Image archive to import into every node (repeatable).
    #[arg(long = "image-archive")]
    pub image_archives: Vec<PathBuf>,
    /// Extra argument for `keel server` (repeatable), e.g. --server-arg=--node-monitor-grace-period=5.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// Extra argument for every `keel agent` (repeatable).
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    pub agent_args: Vec<String>,
    /// Seconds to wait for every node to be Ready.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// IPv4 and IPv6: the underlay, pods and Services get both families
    /// (service CIDR 10.96.0.0/12,fd00:10:96::/112, cluster CIDR 10.244.0.0/16,fd00:10:244::/56).
    #[arg(long)]
    pub dual_stack: bool,
}

#[derive(clap::Args, Clone)]
pub struct Target {
    #[arg(long, default_value = "keel")]
    pub name: String,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

fn data_dir_for(name: &str, given: Option<&Path>) -> PathBuf {
    given.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/var/lib/keel/clusters").join(name))
}

pub async fn run(cmd: ClusterCmd) -> Result<()> {
    match cmd {
        ClusterCmd::Up(args) => up(args).await,
        ClusterCmd::Down(t) => down(&data_dir_for(&t.name, t.data_dir.as_deref())),
        ClusterCmd::Status(t) => status(&data_dir_for(&t.name, t.data_dir.as_deref())),
        ClusterCmd::StopNode { node, target } => {
            set_node_stopped(&data_dir_for(&target.name, target.data_dir.as_deref()), &node, true)
        }
        ClusterCmd::StartNode { node, target } => {
            set_node_stopped(&data_dir_for(&target.name, target.data_dir.as_deref()), &node, false)
        }
        ClusterCmd::Supervise { data_dir } => supervise::run(&data_dir).await,
    }
}

async fn up(args: UpArgs) -> Result<()> {
    anyhow::ensure!((1..=50).contains(&args.nodes), "--nodes must be between 1 and 50");
    anyhow::ensure!(
        !args.name.is_empty()
            && args.name.len() <= 20
            && args.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "--name must be 1-20 characters of a-z, 0-9 and '-'"
    );
    let dir = data_dir_for(&args.name, args.data_dir.as_deref());
    if let Ok(existing) = ClusterState::load(&dir) {
        if existing.supervisor_alive() {
            println!("cluster {} is already running", existing.name);
            println!("kubeconfig: {}", existing.kubeconfig().display());
            return Ok(());
        }
        println!("removing the remains of an earlier run of cluster {}", existing.name);
        teardown::all(&existing);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = std::fs::canonicalize(&dir)?;
    let port = match args.port {
        Some(p) => p,
        None => free_port()?,
    };
    let mut state = ClusterState::plan(&args.name, &dir, args.nodes, port);
    state.server_args = args.server_args.clone();
    state.agent_args = args.agent_args.clone();
    state.dual_stack = args.dual_stack;
    state.save()?;
    for archive in &args.image_archives {
        for node in &state.nodes {
            println!("importing {} into {}", archive.display(), node.name);
            let store = keel_node_agent::image::ImageStore::open(&node.data_dir.join("images"))?;
            let imported =
                store.import(archive, &mut |_| {}).with_context(|| format!("importing {}", archive.display()))?;
            for i in imported {
                println!("  {} {}", i.reference, i.digest);
            }
        }
    }
    println!("starting cluster {} ({} node(s)) in {}", args.name, args.nodes, dir.display());
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(dir.join("supervisor.log"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["cluster", "supervise"]).arg(&dir);
    cmd.stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log);
    detach(&mut cmd);
    let child = cmd.spawn().context("starting the cluster supervisor")?;
    println!("supervisor pid {}", child.id());
    wait_ready(&state, Duration::from_secs(args.timeout)).await?;
    println!("cluster {} is up", args.name);
    println!("kubeconfig: {}", state.kubeconfig().display());
    println!("  export KUBECONFIG={}", state.kubeconfig().display());
    Ok(())
}

/// A new session, so the supervisor outlives the terminal that ran `up`.
fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Wait for the kubeconfig and every node Ready, printing progress.
async fn wait_ready(state: &ClusterState, timeout: Duration) -> Result<()> {
    use k8s_openapi::api::core::v1::Node;
    let deadline = Instant::now() + timeout;
    let fail = |what: &str| {
        let log = std::fs::read_to_string(state.dir.join("supervisor.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        anyhow::anyhow!("{what}\nsupervisor log ({}):\n{}", state.dir.join("supervisor.log").display(), tail.join("\n"))
    };
    while !state.kubeconfig().exists() {
        anyhow::ensure!(Instant::now() < deadline, fail("the API server did not start in time"));
        if !ClusterState::load(&state.dir).is_ok_and(|s| s.supervisor_alive() || s.supervisor_pid == 0) {
            return Err(fail("the supervisor stopped"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(state.kubeconfig())?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let nodes: kube::Api<Node> = kube::Api::all(client);
    let mut reported = std::collections::HashSet::new();
    loop {
        let list = nodes.list(&Default::default()).await.map(|l| l.items).unwrap_or_default();
        for n in &list {
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let name = n.metadata.name.clone().unwrap_or_default();
            if ready && reported.insert(name.clone()) {
                println!("node {name} is Ready");
            }
        }
        if state.nodes.iter().all(|n| reported.contains(&n.name)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(fail("not every node became Ready in time"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn down(dir: &Path) -> Result<()> {
    let state = ClusterState::load(dir).with_context(|| format!("no cluster at {}", dir.display()))?;
    println!("stopping cluster {}", state.name);
    if state.supervisor_alive() {
        let pid = nix::unistd::Pid::from_raw(state.supervisor_pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while state.supervisor_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Whatever the supervisor did not get to (or if it was gone already).
    let state = ClusterState::load(dir).unwrap_or(state);
    teardown::all(&state);
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    println!("cluster {} removed", state.name);
    Ok(())
}

/// Mark a node stopped (the supervisor does not restart its agent) and
/// stop its agent, or clear the mark so the supervisor starts it again.
fn set_node_stopped(dir: &Path, node: &str, stopped: bool) -> Result<()> {
    let state = ClusterState::load(dir).with_context(|| format!("no cluster at {}", dir.display()))?;
    let n = state.nodes.iter().find(|n| n.name == node).with_context(|| format!("no node {node} in the cluster"))?;
    let flag = n.data_dir.join(state::STOPPED_FLAG);
    if stopped {
        std::fs::write(&flag, b"")?;
        teardown::stop(&[n.agent_pid], Duration::from_secs(10));
        println!("node {node} stopped");
    } else {
        let _ = std::fs::remove_file(&flag);
        println!("node {node} starting");
    }
    Ok(())
}

fn status(dir: &Path) -> Result<()> {
    let state = ClusterState::load(dir).with_context(|| format!("no cluster at {}", dir.display()))?;
    println!("cluster {}  supervisor {} ({})", state.name, state.supervisor_pid, alive(state.supervisor_pid));
    println!("api https://127.0.0.1:{}  kubeconfig {}", state.port, state.kubeconfig().display());
    println!("server pid {} ({})", state.server_pid, alive(state.server_pid));
    for n in &state.nodes {
        println!("node {} ip {} netns {} agent pid {} ({})", n.name, n.ip, n.netns, n.agent_pid, alive(n.agent_pid));
    }
    Ok(())
}

fn alive(pid: u32) -> &'static str {
    if state::pid_alive(pid) {
        "running"
    } else {
        "stopped"
    }
}
