//! Each node reaches the API server at its own 127.0.0.1:6443: a listener
//! opened inside the node's namespace and forwarded to the server on the
//! host's loopback, so no address of the machine is exposed to the nodes.

use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::Path;

/// The node-side address agents use.
pub const NODE_API: &str = "127.0.0.1:6443";

/// Open a listener inside the namespace at `netns` (on a short-lived
/// thread: a socket keeps the namespace it was made in).
fn listen_in(netns: &Path, addr: SocketAddr) -> Result<std::net::TcpListener> {
    let netns = netns.to_path_buf();
    std::thread::spawn(move || -> Result<std::net::TcpListener> {
        let f = std::fs::File::open(&netns).with_context(|| format!("opening {}", netns.display()))?;
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).context("entering the node namespace")?;
        let l = std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
        l.set_nonblocking(true)?;
        Ok(l)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("listener thread panicked"))?
}

/// Forward connections from the node's 127.0.0.1:6443 to the server.
pub async fn serve(netns: &Path, server_port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listen_in(netns, NODE_API.parse()?)?)?;
    let upstream = SocketAddr::from(([127, 0, 0, 1], server_port));
    loop {
        let (mut inbound, _) = listener.accept().await?;
        tokio::spawn(async move {
            match tokio::net::TcpStream::connect(upstream).await {
                Ok(mut out) => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
                Err(e) => tracing::warn!(error = %e, "forwarding to the API server"),
            }
        });
    }
}
