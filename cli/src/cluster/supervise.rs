//! The cluster supervisor: builds the namespaces, runs the server and one
//! agent per node (restarting an agent that exits), forwards each node's
//! API address, and tears it all down on SIGTERM.

use super::state::ClusterState;
use super::{proxy, teardown, topology};
use anyhow::{Context, Result};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub async fn run(dir: &Path) -> Result<()> {
    let mut state = ClusterState::load(dir)?;
    state.supervisor_pid = std::process::id();
    state.save()?;
    let state = Arc::new(Mutex::new(state));
    let snapshot = lock(&state).clone();
    if let Err(e) = start(&state, &snapshot).await {
        eprintln!("cluster start failed: {e:#}");
        teardown::all(&lock(&state).clone());
        return Err(e);
    }
    let stopping = Arc::new(AtomicBool::new(false));
    for i in 0..snapshot.nodes.len() {
        tokio::spawn(keep_agent_running(state.clone(), i, stopping.clone()));
    }
    keel_node_agent::shutdown_signal().await;
    eprintln!("stopping cluster {}", snapshot.name);
    stopping.store(true, Ordering::SeqCst);
    let last = lock(&state).clone();
    tokio::task::spawn_blocking(move || teardown::all(&last)).await?;
    eprintln!("cluster {} stopped", snapshot.name);
    Ok(())
}

fn lock(state: &Mutex<ClusterState>) -> std::sync::MutexGuard<'_, ClusterState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn start(state: &Arc<Mutex<ClusterState>>, s: &ClusterState) -> Result<()> {
    eprintln!("creating network namespaces");
    topology::create(s)?;
    // Bind the host side first, so a taken port fails before anything runs.
    let host = tokio::net::TcpListener::bind(("127.0.0.1", s.port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", s.port))?;
    let api = std::net::SocketAddr::from((s.underlay_gateway, SERVER_PORT));
    eprintln!("starting the API server at {api} (host: 127.0.0.1:{})", s.port);
    let server_dir = s.server_dir();
    std::fs::create_dir_all(&server_dir)?;
    let log = std::fs::File::create(s.dir.join("server.log"))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(&exe);
    cmd.args(["server", "--disable-agent", "--bind-address", "0.0.0.0"])
        .arg("--https-port")
        .arg(SERVER_PORT.to_string())
        .arg("--advertise-address")
        .arg(s.underlay_gateway.to_string())
        .arg("--data-dir")
        .arg(&server_dir)
        .args(&s.server_args)
        .args(s.implied_server_args())
        .args(default_lb_pool(&s.server_args, s.underlay_gateway))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let ns = in_netns(&mut cmd, &topology::netns_path(&s.underlay_netns))?;
    let server = cmd.spawn().context("starting the API server")?;
    drop(ns);
    lock(state).server_pid = server.id();
    lock(state).save()?;
    // Reap it when it exits, so its pid does not linger as a zombie.
    std::thread::spawn(move || {
        let mut server = server;
        let _ = server.wait();
    });
    let written = server_dir.join("kubeconfig.yaml");
    for _ in 0..600 {
        if written.exists() && server_dir.join("node-token").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(written.exists(), "the API server did not start; see {}", s.dir.join("server.log").display());
    let netns = topology::netns_path(&s.underlay_netns);
    tokio::spawn(async move {
        if let Err(e) = proxy::serve(host, &netns, api).await {
            eprintln!("API forwarder stopped: {e:#}");
        }
    });
    // The host's kubeconfig points at the forwarded port.
    let text = std::fs::read_to_string(&written)?;
    let host_url = format!("https://127.0.0.1:{}", s.port);
    let rewritten: String = text
        .lines()
        .map(|l| match l.trim_start().strip_prefix("server: ") {
            Some(_) => format!("{}server: {host_url}", &l[..l.len() - l.trim_start().len()]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tmp = s.dir.join("kubeconfig.yaml.tmp");
    std::fs::write(&tmp, rewritten + "\n")?;
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    std::fs::rename(&tmp, s.kubeconfig())?;
    Ok(())
}

/// The API server's port inside the underlay namespace.
pub const SERVER_PORT: u16 = 6443;

/// Start `cmd` in the network namespace at `path` (only the network
/// namespace: the process shares the host's mounts, so what it mounts
/// survives its restarts).
/// Returns the namespace file, which must stay open until `spawn`.
fn in_netns(cmd: &mut Command, path: &Path) -> Result<std::fs::File> {
    let netns = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let fd = netns.as_raw_fd();
    // SAFETY: setns is a plain system call, async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(netns)
}

/// Run node `i`'s agent inside its namespace; start it again if it exits.
async fn keep_agent_running(state: Arc<Mutex<ClusterState>>, i: usize, stopping: Arc<AtomicBool>) {
    loop {
        let s = lock(&state).clone();
        let node = &s.nodes[i];
        if node.data_dir.join(super::state::STOPPED_FLAG).exists() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            continue;
        }
        match spawn_agent(&s, i) {
            Ok(mut child) => {
                {
                    let mut st = lock(&state);
                    st.nodes[i].agent_pid = child.id();
                    let _ = st.save();
                }
                let status = tokio::task::spawn_blocking(move || child.wait()).await;
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                eprintln!("agent of {} exited ({status:?}); starting it again", node.name);
            }
            Err(e) => eprintln!("starting the agent of {}: {e:#}", node.name),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if stopping.load(Ordering::SeqCst) {
            return;
        }
    }
}

fn spawn_agent(s: &ClusterState, i: usize) -> Result<std::process::Child> {
    let node = &s.nodes[i];
    std::fs::create_dir_all(&node.data_dir)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(node.data_dir.join("agent.log"))?;
    let server_dir = s.server_dir();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("agent")
        .arg("--server")
        .arg(format!("https://{}:{SERVER_PORT}", s.underlay_gateway))
        .arg("--token-file")
        .arg(server_dir.join("node-token"))
        .arg("--ca-file")
        .arg(server_dir.join("pki").join("ca.crt"))
        .arg("--node-name")
        .arg(&node.name)
        .arg("--node-ip")
        .arg(node_ips(s, node.ip))
        .arg("--data-dir")
        .arg(&node.data_dir)
        .args(&s.agent_args)
        .args(s.implied_agent_args())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let ns = in_netns(&mut cmd, &topology::netns_path(&node.netns))?;
    let child = cmd.spawn()?;
    drop(ns);
    Ok(child)
}

/// The node's underlay address, and its IPv6 twin on a dual-stack cluster.
fn node_ips(s: &ClusterState, ip: std::net::Ipv4Addr) -> String {
    if s.dual_stack {
        format!("{ip},{}", super::state::underlay_ipv6(ip))
    } else {
        ip.to_string()
    }
}

/// LoadBalancer addresses from the top of the underlay subnet (.200-.239),
/// reachable from the underlay like the nodes, unless the user set a pool.
fn default_lb_pool(server_args: &[String], gateway: std::net::Ipv4Addr) -> Vec<String> {
    if server_args.iter().any(|a| a.starts_with("--load-balancer-pool")) {
        return Vec::new();
    }
    let [a, b, c, _] = gateway.octets();
    vec![format!("--load-balancer-pool={a}.{b}.{c}.200-{a}.{b}.{c}.239")]
}
