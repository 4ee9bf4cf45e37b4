//! NodeNetwork: the node-level setup and the per-pod add/remove operations.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};

use super::bridge::ensure_bridge;
use super::error::NetworkError;
use super::ipam::Ipam;
use super::mtu::detect_mtu;
use super::naming::{host_veth_name, validate_pod_key};
use super::netns::{create_netns, ensure_private_mount_dir, is_netns_mounted, remove_netns};
use super::pod_side::configure_pod_netns;
use super::routes::{ensure_service_route, ensure_service_route6, sync_peer_routes, sync_peer_routes6};
use super::rtnl::Rtnl;
use super::state::PodStore;
use super::sysctl::{enable_ip_forward, enable_ipv6_forward};
use super::veth::{create_pod_veth, delete_pod_veth, pod_veth_ok};
use super::{NetworkConfig, PodNetwork};

/// The pod network of one node. Holds a netlink connection bound to the node netns (the netns of
/// the thread that called [`NodeNetwork::setup`]), so later calls work from any thread.
pub struct NodeNetwork {
    config: NetworkConfig,
    gateway: Ipv4Addr,
    mtu: u32,
    bridge_index: u32,
    netns_dir: PathBuf,
    rtnl: Rtnl,
    ipam: Ipam,
    store: PodStore,
    /// Serialises pod add/remove: they are quick, and this rules out races on one pod key.
    pod_ops: tokio::sync::Mutex<()>,
}

impl NodeNetwork {
    /// Idempotent: the bridge exists and is up with the gateway address and the MTU; IPv4
    /// forwarding is on in this netns; the Service CIDR has an unreachable route. Bridged traffic
    /// needs nothing else: the bridge has STP off (ports forward at once) and no filtering.
    pub async fn setup(config: NetworkConfig) -> Result<Self, NetworkError> {
        validate_config(&config)?;
        // Both of these bind to the netns of the current thread: do them before the first
        // await, which could move this task to another worker thread.
        enable_ip_forward()?;
        if config.ipv6.is_some() {
            enable_ipv6_forward()?;
        }
        let rtnl = Rtnl::connect()?;

        std::fs::create_dir_all(&config.state_dir).map_err(|e| NetworkError::io("create", &config.state_dir, e))?;
        let state_dir =
            config.state_dir.canonicalize().map_err(|e| NetworkError::io("resolve", &config.state_dir, e))?;
        let netns_dir = ensure_private_mount_dir(&state_dir.join("netns"))?;
        let gateway = gateway_of(config.pod_cidr);
        let mtu = match config.mtu {
            Some(mtu) => mtu,
            None => detect_mtu(&rtnl, &config.bridge_name).await?,
        };
        let gateway_net = Ipv4Net::new(gateway, config.pod_cidr.prefix_len())
            .map_err(|e| NetworkError::InvalidConfig(format!("pod CIDR {}: {e}", config.pod_cidr)))?;
        let gateway6 = config.ipv6.as_ref().map(|v6| gateway6_of(v6.pod_cidr)).transpose()?;
        let bridge_index = ensure_bridge(&rtnl, &config.bridge_name, gateway_net, gateway6, mtu).await?;
        ensure_service_route(&rtnl, config.service_cidr).await?;
        if let Some(service_cidr) = config.ipv6.as_ref().and_then(|v6| v6.service_cidr) {
            ensure_service_route6(&rtnl, service_cidr).await?;
        }
        let ipam = Ipam::open(state_dir.join("ipam"), config.pod_cidr, gateway)?;
        let store = PodStore::open(state_dir.join("pods"))?;
        tracing::info!(bridge = %config.bridge_name, %gateway_net, mtu, "node network ready");
        let config = NetworkConfig { state_dir, ..config };
        Ok(NodeNetwork {
            config,
            gateway,
            mtu,
            bridge_index,
            netns_dir,
            rtnl,
            ipam,
            store,
            pod_ops: Default::default(),
        })
    }

    /// host-gw: makes the routes this module owns exactly "<peer pod CIDR> via <peer node IP>" for
    /// each peer (others' routes are never touched). Idempotent.
    pub async fn set_peer_routes(&self, peers: &[(Ipv4Net, Ipv4Addr)]) -> Result<(), NetworkError> {
        if let Some((cidr, _)) = peers.iter().find(|(cidr, _)| cidr.trunc() == self.config.pod_cidr.trunc()) {
            return Err(NetworkError::InvalidConfig(format!("peer pod CIDR {cidr} is this node's own")));
        }
        sync_peer_routes(&self.rtnl, peers).await
    }

    /// The IPv6 host-gw routes of a dual-stack node: "<peer IPv6 pod CIDR> via <peer node IPv6>".
    pub async fn set_peer_routes6(&self, peers: &[(Ipv6Net, Ipv6Addr)]) -> Result<(), NetworkError> {
        let Some(v6) = &self.config.ipv6 else { return Ok(()) };
        if let Some((cidr, _)) = peers.iter().find(|(cidr, _)| cidr.trunc() == v6.pod_cidr.trunc()) {
            return Err(NetworkError::InvalidConfig(format!("peer pod CIDR {cidr} is this node's own")));
        }
        sync_peer_routes6(&self.rtnl, peers).await
    }

    /// Gives the pod a netns (bind-mounted at `<state_dir>/netns/<pod_key>`), an address and a veth
    /// pair to the bridge. Idempotent: returns the existing attachment when it is intact, and
    /// repairs what a crash or a lost veth left behind.
    pub async fn add_pod(&self, pod_key: &str) -> Result<PodNetwork, NetworkError> {
        validate_pod_key(pod_key)?;
        let _serial = self.pod_ops.lock().await;
        let record = self.store.load(pod_key)?;
        if let Some(pod) = &record {
            if self.is_intact(pod).await? {
                return Ok(pod.clone());
            }
            tracing::warn!(pod_key, "pod network incomplete, repairing");
        }
        let had_lease = self.ipam.lease_of(pod_key)?.is_some();
        let ip = self.ipam.allocate(pod_key)?;
        let netns_path = self.netns_dir.join(pod_key);
        let host_veth = host_veth_name(pod_key);
        // A netns with a record may already hold the pod's processes: keep it. Without a record it
        // is left over from an attempt that never returned: start afresh.
        let fresh_netns = record.is_none() || !is_netns_mounted(&netns_path);
        let result = self.attach(pod_key, &netns_path, &host_veth, ip, fresh_netns).await;
        if result.is_err() {
            let _ = delete_pod_veth(&self.rtnl, &host_veth, pod_key).await;
            if record.is_none() {
                let _ = remove_netns(&netns_path);
                if !had_lease {
                    let _ = self.ipam.release(pod_key);
                }
            }
        }
        result
    }

    async fn attach(
        &self,
        pod_key: &str,
        netns_path: &Path,
        host_veth: &str,
        ip: Ipv4Addr,
        fresh_netns: bool,
    ) -> Result<PodNetwork, NetworkError> {
        delete_pod_veth(&self.rtnl, host_veth, pod_key).await?;
        if fresh_netns {
            remove_netns(netns_path)?;
            let path = netns_path.to_path_buf();
            blocking(pod_key, move || create_netns(&path)).await?;
        }
        create_pod_veth(&self.rtnl, host_veth, pod_key, netns_path, self.mtu, self.bridge_index).await?;
        let prefix_len = self.config.pod_cidr.prefix_len();
        let address = Ipv4Net::new(ip, prefix_len).map_err(|e| NetworkError::InvalidConfig(e.to_string()))?;
        let ipv6 = match &self.config.ipv6 {
            Some(v6) => Some((ipv6_of(v6.pod_cidr, self.config.pod_cidr, ip)?, gateway6_of(v6.pod_cidr)?.addr())),
            None => None,
        };
        let (path, gateway) = (netns_path.to_path_buf(), self.gateway);
        blocking(pod_key, move || configure_pod_netns(&path, address, gateway, ipv6)).await?;
        let pod = PodNetwork {
            pod_key: pod_key.to_string(),
            netns_path: netns_path.to_path_buf(),
            ip,
            prefix_len,
            gateway,
            ip6: ipv6.map(|(net, _)| net.addr()),
            host_veth: host_veth.to_string(),
            mtu: self.mtu,
        };
        self.store.save(&pod)?;
        Ok(pod)
    }

    async fn is_intact(&self, pod: &PodNetwork) -> Result<bool, NetworkError> {
        // A record from before the node went dual-stack lacks the IPv6 address: repair it.
        Ok(self.config.pod_cidr.contains(&pod.ip)
            && self.config.ipv6.is_some() == pod.ip6.is_some()
            && is_netns_mounted(&pod.netns_path)
            && pod_veth_ok(&self.rtnl, &pod.host_veth, &pod.pod_key, self.bridge_index).await?)
    }

    /// Idempotent: deletes the veth pair, unmounts and removes the netns file, releases the lease
    /// and forgets the record.
    pub async fn remove_pod(&self, pod_key: &str) -> Result<(), NetworkError> {
        validate_pod_key(pod_key)?;
        let _serial = self.pod_ops.lock().await;
        // An unreadable record must not block removal: fall back to the derived names.
        let record = self.store.load(pod_key).unwrap_or_else(|e| {
            tracing::warn!(pod_key, error = %e, "ignoring unreadable pod network record");
            None
        });
        let host_veth = record.as_ref().map_or_else(|| host_veth_name(pod_key), |p| p.host_veth.clone());
        delete_pod_veth(&self.rtnl, &host_veth, pod_key).await?;
        if let Some(pod) = &record {
            remove_netns(&pod.netns_path)?;
        }
        remove_netns(&self.netns_dir.join(pod_key))?;
        self.ipam.release(pod_key)?;
        self.store.remove(pod_key)
    }

    /// Every pod attachment on record (for reconciliation after an agent restart).
    pub fn pods(&self) -> Vec<PodNetwork> {
        self.store.list()
    }

    /// The bridge address, which is every local pod's default gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// MTU of the bridge and of every pod interface.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// The configuration in use (with `state_dir` made absolute).
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }
}

/// First host address of the pod CIDR, e.g. 10.244.1.1 for 10.244.1.0/24.
fn gateway_of(pod_cidr: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(pod_cidr.network()).saturating_add(1))
}

/// First host address of the IPv6 pod CIDR, with the CIDR's prefix (fd00:10:244:1::1/64).
fn gateway6_of(pod_cidr: Ipv6Net) -> Result<Ipv6Net, NetworkError> {
    let gateway = Ipv6Addr::from(u128::from(pod_cidr.network()).saturating_add(1));
    Ipv6Net::new(gateway, pod_cidr.prefix_len()).map_err(|e| NetworkError::InvalidConfig(e.to_string()))
}

/// The pod's IPv6 address: the IPv6 pod CIDR plus the host number of its IPv4 address.
fn ipv6_of(pod_cidr6: Ipv6Net, pod_cidr: Ipv4Net, ip: Ipv4Addr) -> Result<Ipv6Net, NetworkError> {
    let host = u32::from(ip).wrapping_sub(u32::from(pod_cidr.network()));
    let addr = Ipv6Addr::from(u128::from(pod_cidr6.network()) | u128::from(host));
    Ipv6Net::new(addr, pod_cidr6.prefix_len()).map_err(|e| NetworkError::InvalidConfig(e.to_string()))
}

fn validate_config(config: &NetworkConfig) -> Result<(), NetworkError> {
    let invalid = |msg: String| Err(NetworkError::InvalidConfig(msg));
    if let Some(v6) = &config.ipv6 {
        // Every IPv4 host number must fit in the IPv6 block's host part.
        let v4_host_bits = 32 - u32::from(config.pod_cidr.prefix_len());
        if 128 - u32::from(v6.pod_cidr.prefix_len()) < v4_host_bits {
            return invalid(format!("IPv6 pod CIDR {} is smaller than IPv4 pod CIDR {}", v6.pod_cidr, config.pod_cidr));
        }
    }
    if config.pod_cidr.prefix_len() > 30 {
        return invalid(format!("pod CIDR {} is too small (at most /30)", config.pod_cidr));
    }
    if !config.cluster_cidr.contains(&config.pod_cidr) {
        return invalid(format!("pod CIDR {} is not inside cluster CIDR {}", config.pod_cidr, config.cluster_cidr));
    }
    if config.service_cidr.contains(&config.cluster_cidr) || config.cluster_cidr.contains(&config.service_cidr) {
        return invalid(format!("service CIDR {} overlaps cluster CIDR {}", config.service_cidr, config.cluster_cidr));
    }
    if config.bridge_name.is_empty() || config.bridge_name.len() > 15 {
        return invalid(format!("bridge name {:?} must have 1-15 characters", config.bridge_name));
    }
    if config.mtu.is_some_and(|mtu| !(576..=65535).contains(&mtu)) {
        return invalid(format!("MTU {:?} out of range 576-65535", config.mtu));
    }
    Ok(())
}

/// Runs blocking namespace work (thread spawn + join) off the async worker threads.
async fn blocking<T: Send + 'static>(
    pod_key: &str,
    f: impl FnOnce() -> Result<T, NetworkError> + Send + 'static,
) -> Result<T, NetworkError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| NetworkError::ThreadPanicked(format!("pod {pod_key}")))?
}
