//! The UDP side: every datagram is answered with a JSON description of it and of this pod.

use super::pod_info::PodInfo;
use std::sync::Arc;
use tokio::net::UdpSocket;

pub async fn serve(socket: UdpSocket, info: Arc<PodInfo>) -> anyhow::Result<()> {
    let local = socket.local_addr()?;
    let mut buf = vec![0u8; 65_536];
    loop {
        let (len, remote) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                // E.g. ICMP port unreachable from an earlier reply; the socket stays usable.
                eprintln!("udp receive: {err}");
                continue;
            }
        };
        let mut fields = info.fields(Some(local.ip()));
        fields.insert("remote".into(), remote.to_string().into());
        fields.insert("local".into(), local.to_string().into());
        fields.insert("payload".into(), String::from_utf8_lossy(&buf[..len]).into_owned().into());
        let reply = serde_json::Value::Object(fields).to_string();
        match socket.send_to(reply.as_bytes(), remote).await {
            Ok(_) => println!("{remote} UDP {len} bytes"),
            Err(err) => eprintln!("udp reply to {remote}: {err}"),
        }
    }
}
