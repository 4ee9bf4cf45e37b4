//! kubectl on the host reaches the API server, which runs inside the
//! cluster's underlay namespace, through a listener on the host's loopback:
//! each connection is dialled from inside that namespace. Nothing of the
//! cluster is reachable from the machine's network.

use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Connect to `target` from inside the namespace at `netns`, on a thread
/// of its own (a socket keeps the namespace it was created in).
async fn connect_in(netns: PathBuf, target: SocketAddr) -> Result<tokio::net::TcpStream> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = (|| -> Result<std::net::TcpStream> {
            let f = std::fs::File::open(&netns).with_context(|| format!("opening {}", netns.display()))?;
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).context("entering the cluster namespace")?;
            let s = std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_secs(5))?;
            s.set_nonblocking(true)?;
            Ok(s)
        })();
        let _ = tx.send(result);
    });
    let stream = rx.await.context("connect thread ended")??;
    Ok(tokio::net::TcpStream::from_std(stream)?)
}

/// Forward 127.0.0.1:`port` on the host to `target` inside `netns`.
pub async fn serve(listener: tokio::net::TcpListener, netns: &Path, target: SocketAddr) -> Result<()> {
    loop {
        let (mut inbound, _) = listener.accept().await?;
        let netns = netns.to_path_buf();
        tokio::spawn(async move {
            match connect_in(netns, target).await {
                Ok(mut out) => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
                Err(e) => eprintln!("forwarding to the API server: {e:#}"),
            }
        });
    }
}
