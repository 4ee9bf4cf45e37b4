//! Two network namespaces joined by a veth pair: "client" (10.199.0.1, fd99:199::1) and
//! "backend" (10.199.0.2-4, fd99:199::2-4). Nothing is added to the machine's root namespace.
use std::{fs::File, path::PathBuf, process::Command};

pub const CLIENT_IP: &str = "10.199.0.1";
pub const BACKEND_IPS: [&str; 3] = ["10.199.0.2", "10.199.0.3", "10.199.0.4"];
pub const CLIENT_IP6: &str = "fd99:199::1";
pub const BACKEND_IPS6: [&str; 3] = ["fd99:199::2", "fd99:199::3", "fd99:199::4"];
/// Kubernetes' default Service CIDR; traffic to it must never leave untranslated.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
/// An IPv6 Service CIDR, likewise unreachable from the client.
pub const SERVICE_CIDR6: &str = "fd00:10:96::/112";

pub struct Topology {
    pub client: String,
    pub backend: String,
}

impl Topology {
    pub fn create() -> Result<Self, String> {
        let pid = std::process::id();
        let topo = Self { client: format!("klbt-c-{pid}"), backend: format!("klbt-b-{pid}") };
        let (c, b) = (topo.client.as_str(), topo.backend.as_str());
        ip(&["netns", "add", c])?;
        ip(&["netns", "add", b])?;
        for ns in [c, b] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&["-n", c, "link", "add", "veth-c", "type", "veth", "peer", "name", "veth-b", "netns", b])?;
        ip(&["-n", c, "addr", "add", &format!("{CLIENT_IP}/24"), "dev", "veth-c"])?;
        for addr in BACKEND_IPS {
            ip(&["-n", b, "addr", "add", &format!("{addr}/24"), "dev", "veth-b"])?;
        }
        // nodad: usable at once, without waiting for duplicate address detection.
        ip(&["-n", c, "addr", "add", &format!("{CLIENT_IP6}/64"), "dev", "veth-c", "nodad"])?;
        for addr in BACKEND_IPS6 {
            ip(&["-n", b, "addr", "add", &format!("{addr}/64"), "dev", "veth-b", "nodad"])?;
        }
        ip(&["-n", c, "link", "set", "veth-c", "up"])?;
        ip(&["-n", b, "link", "set", "veth-b", "up"])?;
        // Proves translation happened: an untranslated ClusterIP connect fails with EHOSTUNREACH.
        ip(&["-n", c, "route", "add", "unreachable", SERVICE_CIDR])?;
        ip(&["-n", c, "-6", "route", "add", "unreachable", SERVICE_CIDR6])?;
        Ok(topo)
    }

    pub fn ns_path(name: &str) -> PathBuf {
        PathBuf::from("/run/netns").join(name)
    }

    pub fn open(name: &str) -> Result<File, String> {
        File::open(Self::ns_path(name)).map_err(|e| format!("open netns {name}: {e}"))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting the namespaces also removes the veth pair.
        for ns in [&self.client, &self.backend] {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}
