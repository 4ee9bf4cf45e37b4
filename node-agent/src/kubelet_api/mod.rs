//! The node's kubelet API (port 10250) as the API server uses it: container logs, exec and port-forward, over
//! the same wire protocols as a real kubelet (WebSocket channel protocols v4/v5, SPDY/3.1, and SPDY tunneled in
//! WebSocket for port-forward), behind TLS with client certificates from the cluster CA.

mod body;
mod channel_ws;
mod error;
mod exec;
mod logs;
mod lookup;
mod portforward;
mod query;
mod router;
mod server;
mod spdy;
mod status;
mod tls;
mod upgrade;

#[cfg(test)]
mod tests;

use super::runtime::{ContainerState, Runtime};

pub use error::KubeletApiError;
pub use lookup::{ContainerTarget, PodLookup};
pub use server::{serve, KubeletApiConfig};
