//! The test cluster, all in namespaces created here (nothing touches the machine's root netns):
//!
//! ```text
//!  client ns: bridge ul0 172.31.250.100 + .200 (underlay)
//!     |-- ul-a <-> ext0 in node A (172.31.250.1)   cbr0 10.244.1.1 -- pod A 10.244.1.2 (local backend)
//!     |-- ul-b <-> ext0 in node B (172.31.250.2)   cbr0 10.244.2.1 -- pod B 10.244.2.2 (remote backend)
//! ```
//!
//! Node A routes 10.244.2.0/24 via node B and back (host-gw). The client has no route to any pod,
//! so every answer it gets went through the load balancer.
use super::netns::{disable_tx_checksum, ip, sysctl};

pub const NODE_A_IP: &str = "172.31.250.1";
pub const NODE_B_IP: &str = "172.31.250.2";
pub const CLIENT_IP: &str = "172.31.250.100";
/// A second client address, outside the source ranges the test allows.
pub const OTHER_CLIENT_IP: &str = "172.31.250.200";
pub const POD_A_IP: &str = "10.244.1.2";
pub const POD_B_IP: &str = "10.244.2.2";
pub const EXT_IFACE: &str = "ext0";

pub struct Topology {
    pub client: String,
    pub node_a: String,
    pub node_b: String,
    pub pod_a: String,
    pub pod_b: String,
}

impl Topology {
    pub fn create() -> Result<Self, String> {
        let pid = std::process::id();
        let name = |role: &str| format!("kxlb-{role}-{pid}");
        let topo = Self {
            client: name("client"),
            node_a: name("node-a"),
            node_b: name("node-b"),
            pod_a: name("pod-a"),
            pod_b: name("pod-b"),
        };
        // From here on, Drop removes whatever was created, even if a later step fails.
        for ns in topo.all() {
            ip("", &["netns", "add", ns])?;
            ip(ns, &["link", "set", "lo", "up"])?;
        }
        topo.underlay()?;
        topo.node(&topo.node_a, &topo.pod_a, "ul-a", NODE_A_IP, "10.244.1", ("10.244.2.0/24", NODE_B_IP))?;
        topo.node(&topo.node_b, &topo.pod_b, "ul-b", NODE_B_IP, "10.244.2", ("10.244.1.0/24", NODE_A_IP))?;
        Ok(topo)
    }

    fn all(&self) -> [&str; 5] {
        [&self.client, &self.node_a, &self.node_b, &self.pod_a, &self.pod_b]
    }

    fn underlay(&self) -> Result<(), String> {
        let c = self.client.as_str();
        ip(c, &["link", "add", "ul0", "type", "bridge"])?;
        ip(c, &["addr", "add", &format!("{CLIENT_IP}/24"), "dev", "ul0"])?;
        ip(c, &["addr", "add", &format!("{OTHER_CLIENT_IP}/24"), "dev", "ul0"])?;
        ip(c, &["link", "set", "ul0", "up"])?;
        disable_tx_checksum(c, "ul0")
    }

    /// A node: its end of the underlay as `ext0`, a pod bridge with one pod, forwarding and the
    /// host-gw route to the other node's pods.
    fn node(
        &self,
        node: &str,
        pod: &str,
        underlay_port: &str,
        node_ip: &str,
        pod_net: &str,
        (other_pods, other_node): (&str, &str),
    ) -> Result<(), String> {
        let c = self.client.as_str();
        ip(c, &["link", "add", underlay_port, "type", "veth", "peer", "name", "ext0", "netns", node])?;
        ip(c, &["link", "set", underlay_port, "master", "ul0", "up"])?;
        ip(node, &["addr", "add", &format!("{node_ip}/24"), "dev", "ext0"])?;
        ip(node, &["link", "set", "ext0", "up"])?;
        ip(node, &["link", "add", "cbr0", "type", "bridge"])?;
        ip(node, &["addr", "add", &format!("{pod_net}.1/24"), "dev", "cbr0"])?;
        ip(node, &["link", "set", "cbr0", "up"])?;
        ip(node, &["link", "add", "vpod", "type", "veth", "peer", "name", "eth0", "netns", pod])?;
        ip(node, &["link", "set", "vpod", "master", "cbr0", "up"])?;
        ip(pod, &["addr", "add", &format!("{pod_net}.2/24"), "dev", "eth0"])?;
        ip(pod, &["link", "set", "eth0", "up"])?;
        ip(pod, &["route", "add", "default", "via", &format!("{pod_net}.1")])?;
        disable_tx_checksum(pod, "eth0")?;
        ip(node, &["route", "add", other_pods, "via", other_node])?;
        sysctl(node, "net.ipv4.ip_forward", "1")
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace also deletes its interfaces (and their veth peers).
        for ns in self.all() {
            let _ = ip("", &["netns", "del", ns]);
        }
    }
}
