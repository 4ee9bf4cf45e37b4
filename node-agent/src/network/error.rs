//! Errors of the pod network module.

use std::path::PathBuf;

/// What went wrong while setting up node or pod networking.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("netlink: {op}: {source}")]
    Netlink {
        op: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Sys {
        op: String,
        #[source]
        source: nix::Error,
    },
    #[error("state file {}: {source}", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid network config: {0}")]
    InvalidConfig(String),
    #[error("invalid pod key {0:?}: use 1-128 characters of [A-Za-z0-9._-]")]
    InvalidPodKey(String),
    #[error("no free IP address left in pod CIDR {0}")]
    AddressesExhausted(ipnet::Ipv4Net),
    #[error("link {name} exists but belongs to {owner:?}, not to pod {pod_key}")]
    LinkNameTaken { name: String, owner: String, pod_key: String },
    #[error("link {0} not found")]
    LinkNotFound(String),
    #[error("helper thread for {0} panicked")]
    ThreadPanicked(String),
}

impl NetworkError {
    pub(crate) fn netlink(op: impl Into<String>, source: rtnetlink::Error) -> Self {
        NetworkError::Netlink { op: op.into(), source }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NetworkError::Io { op, path: path.into(), source }
    }

    pub(crate) fn sys(op: impl Into<String>, source: nix::Error) -> Self {
        NetworkError::Sys { op: op.into(), source }
    }
}
