//! Host-local IP address management: one lease file per address (`<dir>/<ip>` holding the pod
//! key), so leases survive agent restarts and two allocations can never get the same address.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;

use super::error::NetworkError;

const LAST_RESERVED: &str = "last_reserved";
const TMP_PREFIX: &str = ".tmp-";

pub(crate) struct Ipam {
    dir: PathBuf,
    cidr: Ipv4Net,
    gateway: Ipv4Addr,
}

impl Ipam {
    pub(crate) fn open(dir: PathBuf, cidr: Ipv4Net, gateway: Ipv4Addr) -> Result<Self, NetworkError> {
        std::fs::create_dir_all(&dir).map_err(|e| NetworkError::io("create directory", &dir, e))?;
        let ipam = Ipam { dir, cidr, gateway };
        ipam.remove_temp_files();
        Ok(ipam)
    }

    /// The address leased to `pod_key` in this CIDR, if any.
    pub(crate) fn lease_of(&self, pod_key: &str) -> Result<Option<Ipv4Addr>, NetworkError> {
        Ok(self.leases()?.into_iter().find(|(ip, owner)| owner == pod_key && self.cidr.contains(ip)).map(|(ip, _)| ip))
    }

    /// Returns the lease of `pod_key`, or leases the next free address to it.
    pub(crate) fn allocate(&self, pod_key: &str) -> Result<Ipv4Addr, NetworkError> {
        if let Some(ip) = self.lease_of(pod_key)? {
            return Ok(ip);
        }
        // Leases from an earlier pod CIDR of this node are of no use any more.
        self.release(pod_key)?;
        let tmp = self.dir.join(format!("{TMP_PREFIX}{pod_key}"));
        write_file(&tmp, pod_key)?;
        let result = self.claim_free_address(&tmp);
        let _ = std::fs::remove_file(&tmp);
        let ip = result?;
        // Best effort: only steers where the next search starts (avoids quick reuse of addresses).
        let _ = std::fs::write(self.dir.join(LAST_RESERVED), ip.to_string());
        Ok(ip)
    }

    /// Releases every lease held by `pod_key`. Idempotent.
    pub(crate) fn release(&self, pod_key: &str) -> Result<(), NetworkError> {
        for (ip, owner) in self.leases()? {
            if owner == pod_key {
                let path = self.dir.join(ip.to_string());
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(NetworkError::io("remove lease", path, e))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// All leases on disk as (address, pod key).
    pub(crate) fn leases(&self) -> Result<Vec<(Ipv4Addr, String)>, NetworkError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| NetworkError::io("list leases", &self.dir, e))?;
        let mut leases = Vec::new();
        for entry in entries.flatten() {
            let Some(ip) = entry.file_name().to_str().and_then(|n| n.parse::<Ipv4Addr>().ok()) else { continue };
            // A lease removed concurrently is simply not a lease any more.
            if let Ok(owner) = std::fs::read_to_string(entry.path()) {
                leases.push((ip, owner.trim().to_string()));
            }
        }
        Ok(leases)
    }

    /// Hard-links the prepared lease file `tmp` to the first free address: link() fails if the
    /// name exists, which makes claiming atomic, and the lease is never seen without its owner.
    fn claim_free_address(&self, tmp: &Path) -> Result<Ipv4Addr, NetworkError> {
        for ip in self.candidates() {
            let lease = self.dir.join(ip.to_string());
            match std::fs::hard_link(tmp, &lease) {
                Ok(()) => return Ok(ip),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(NetworkError::io("create lease", lease, e)),
            }
        }
        Err(NetworkError::AddressesExhausted(self.cidr))
    }

    /// Usable addresses (no network, gateway or broadcast address), starting after the last one
    /// handed out and wrapping around.
    fn candidates(&self) -> Vec<Ipv4Addr> {
        let hosts: Vec<Ipv4Addr> = self.cidr.hosts().filter(|ip| *ip != self.gateway).collect();
        let last = std::fs::read_to_string(self.dir.join(LAST_RESERVED)).ok().and_then(|s| s.trim().parse().ok());
        let start = last.and_then(|l: Ipv4Addr| hosts.iter().position(|ip| *ip == l)).map_or(0, |p| p + 1);
        hosts[start..].iter().chain(hosts[..start].iter()).copied().collect()
    }

    fn remove_temp_files(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn write_file(path: &Path, content: &str) -> Result<(), NetworkError> {
    let mut file = std::fs::File::create(path).map_err(|e| NetworkError::io("create", path, e))?;
    file.write_all(content.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| NetworkError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::TempDir;
    use super::*;

    fn ipam(dir: &TempDir, cidr: &str) -> Ipam {
        let cidr: Ipv4Net = cidr.parse().unwrap();
        let gateway = cidr.hosts().next().unwrap();
        Ipam::open(dir.path().join("ipam"), cidr, gateway).unwrap()
    }

    #[test]
    fn skips_network_gateway_and_broadcast_and_exhausts() {
        let dir = TempDir::new("ipam-small");
        let ipam = ipam(&dir, "10.244.9.0/29");
        let ips: Vec<Ipv4Addr> = (0..5).map(|i| ipam.allocate(&format!("pod{i}")).unwrap()).collect();
        let expected: Vec<Ipv4Addr> = (2..=6).map(|i| Ipv4Addr::new(10, 244, 9, i)).collect();
        assert_eq!(ips, expected);
        assert!(matches!(ipam.allocate("pod-late"), Err(NetworkError::AddressesExhausted(_))));
    }

    #[test]
    fn allocation_is_sticky_and_release_frees() {
        let dir = TempDir::new("ipam-sticky");
        let ipam = ipam(&dir, "10.244.3.0/24");
        let a = ipam.allocate("a").unwrap();
        assert_eq!(ipam.allocate("a").unwrap(), a);
        assert_eq!(std::fs::read_to_string(dir.path().join("ipam").join(a.to_string())).unwrap(), "a");
        ipam.release("a").unwrap();
        ipam.release("a").unwrap();
        assert_eq!(ipam.lease_of("a").unwrap(), None);
        // The next allocation moves on instead of reusing the address just freed.
        assert_ne!(ipam.allocate("b").unwrap(), a);
    }

    #[test]
    fn leases_survive_reopening() {
        let dir = TempDir::new("ipam-reopen");
        let a = ipam(&dir, "10.244.4.0/24").allocate("a").unwrap();
        assert_eq!(ipam(&dir, "10.244.4.0/24").lease_of("a").unwrap(), Some(a));
    }
}
