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
    wait_for_stop().await;
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
    eprintln!("starting the API server on 127.0.0.1:{}", s.port);
    let log = std::fs::File::create(s.dir.join("server.log"))?;
    let exe = std::env::current_exe()?;
    let server = Command::new(&exe)
        .args(["server", "--disable-agent", "--bind-address", "127.0.0.1"])
        .arg("--https-port")
        .arg(s.port.to_string())
        .arg("--data-dir")
        .arg(&s.dir)
        .args(&s.server_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the API server")?;
    lock(state).server_pid = server.id();
    lock(state).save()?;
    // Reap it when it exits, so its pid does not linger as a zombie.
    std::thread::spawn(move || {
        let mut server = server;
        let _ = server.wait();
    });
    for _ in 0..600 {
        if s.kubeconfig().exists() && s.dir.join("node-token").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        s.kubeconfig().exists(),
        "the API server did not start; see {}",
        s.dir.join("server.log").display()
    );
    for node in &s.nodes {
        let netns = topology::netns_path(&node.netns);
        let port = s.port;
        tokio::spawn(async move {
            if let Err(e) = proxy::serve(&netns, port).await {
                eprintln!("API forwarder for {} stopped: {e:#}", netns.display());
            }
        });
    }
    Ok(())
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
    let netns = std::fs::File::open(topology::netns_path(&node.netns))
        .with_context(|| format!("opening the namespace of {}", node.name))?;
    let fd = netns.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("agent")
        .arg("--server")
        .arg(format!("https://{}", proxy::NODE_API))
        .arg("--token-file")
        .arg(s.dir.join("node-token"))
        .arg("--ca-file")
        .arg(s.dir.join("pki").join("ca.crt"))
        .arg("--node-name")
        .arg(&node.name)
        .arg("--node-ip")
        .arg(node.ip.to_string())
        .arg("--data-dir")
        .arg(&node.data_dir)
        .args(&s.agent_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setns is a plain system call, async-signal-safe. Only the
    // network namespace changes: the agent shares the host's mounts, so
    // what it mounts survives its restarts.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(netns);
    Ok(child)
}

async fn wait_for_stop() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
