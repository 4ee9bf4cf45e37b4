//! Who this echo server is: the pod identity taken from the environment at start-up.

use serde_json::{Map, Value};
use std::net::IpAddr;

/// Identity fields reported in every HTTP and UDP answer.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub pod_ip: Option<String>,
    pub node: Option<String>,
    pub version: Option<String>,
    pub hostname: Option<String>,
}

impl PodInfo {
    /// Reads POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME and VERSION, and the kernel hostname.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            pod: var("POD_NAME"),
            namespace: var("POD_NAMESPACE"),
            pod_ip: var("POD_IP"),
            node: var("NODE_NAME"),
            version: var("VERSION"),
            hostname: nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned()),
        }
    }

    /// The identity as JSON fields; `ip` falls back to the address the traffic arrived on.
    pub fn fields(&self, arrived_on: Option<IpAddr>) -> Map<String, Value> {
        let ip = self.pod_ip.clone().or_else(|| arrived_on.filter(|ip| !ip.is_unspecified()).map(|ip| ip.to_string()));
        let mut map = Map::new();
        map.insert("pod".into(), self.pod.clone().into());
        map.insert("namespace".into(), self.namespace.clone().into());
        map.insert("ip".into(), ip.into());
        map.insert("node".into(), self.node.clone().into());
        map.insert("version".into(), self.version.clone().into());
        map.insert("hostname".into(), self.hostname.clone().into());
        map
    }
}
