//! Connecting to a port inside a pod's network namespace: a short-lived thread joins the namespace, connects
//! to 127.0.0.1, and hands the socket back (a socket stays in the namespace it was created in).

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use tokio::sync::oneshot;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn connect_in_netns(netns: PathBuf, port: u16) -> io::Result<tokio::net::TcpStream> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new().name("keel-portforward-connect".into()).spawn(move || {
        let connect = || -> io::Result<TcpStream> {
            let namespace = File::open(&netns)?;
            // Only this thread changes namespace; it exits right after.
            setns(&namespace, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            let stream = TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), CONNECT_TIMEOUT)?;
            stream.set_nonblocking(true)?;
            Ok(stream)
        };
        let _ = tx.send(connect());
    })?;
    let stream = rx.await.map_err(|_| io::Error::other("connect thread vanished"))??;
    tokio::net::TcpStream::from_std(stream)
}
