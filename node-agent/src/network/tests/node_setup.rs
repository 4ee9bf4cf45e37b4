//! NodeNetwork::setup: bridge, forwarding, MTU, the Service CIDR route; idempotence.

use anyhow::ensure;

use super::super::NodeNetwork;
use super::support::{config, node_test, sh, underlay_with_default_route, TempDir};

#[test]
fn setup_is_idempotent_and_configures_the_node() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("setup");
        underlay_with_default_route()?;
        let first = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        drop(first);
        let node = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;

        ensure!(node.gateway().to_string() == "10.244.1.1");
        // The private self-bind of the netns dir is not stacked again by the second setup.
        let netns_dir = dir.path().join("netns");
        let mounts = super::super::mounts::mount_points()?;
        ensure!(mounts.iter().filter(|m| **m == netns_dir).count() == 1, "netns dir mounted {mounts:?}");
        // MTU of the interface holding the default route.
        ensure!(node.mtu() == 1400, "mtu {}", node.mtu());
        let bridge = sh("ip -o link show keel0")?;
        ensure!(bridge.contains("mtu 1400") && bridge.contains(",UP"), "bridge: {bridge}");
        let addrs = sh("ip -o -4 addr show dev keel0")?;
        ensure!(addrs.lines().count() == 1 && addrs.contains("10.244.1.1/24"), "addresses: {addrs}");
        let routes = sh("ip route show 10.96.0.0/12")?;
        ensure!(routes.trim() == "unreachable 10.96.0.0/12 proto 75", "service route: {routes:?}");
        ensure!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?.trim() == "1");
        // STP off so ports forward at once.
        let details = sh("ip -d link show keel0")?;
        ensure!(details.contains("stp_state 0") && details.contains("forward_delay 0"), "bridge: {details}");
        Ok(())
    })
}

#[test]
fn setup_moves_the_gateway_when_the_pod_cidr_changes() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("recidr");
        NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        let node = NodeNetwork::setup(config(dir.path(), "10.244.7.0/24")).await?;
        let addrs = sh("ip -o -4 addr show dev keel0")?;
        ensure!(addrs.lines().count() == 1 && addrs.contains("10.244.7.1/24"), "addresses: {addrs}");
        // No default route and no other interface: the 1500 fallback.
        ensure!(node.mtu() == 1500, "mtu {}", node.mtu());
        Ok(())
    })
}

#[test]
fn setup_rejects_bad_configs() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("badcfg");
        let mut outside = config(dir.path(), "10.245.1.0/24");
        ensure!(NodeNetwork::setup(outside.clone()).await.is_err(), "pod CIDR outside the cluster CIDR accepted");
        outside.pod_cidr = "10.244.1.0/24".parse()?;
        outside.bridge_name = "a-very-long-bridge-name".into();
        ensure!(NodeNetwork::setup(outside).await.is_err(), "long bridge name accepted");
        Ok(())
    })
}

#[test]
fn netns_mounts_stay_private_when_the_state_dir_is_on_a_shared_mount() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("shared");
        let (data, peer) = (dir.path().join("data"), dir.path().join("peer"));
        std::fs::create_dir_all(&data)?;
        std::fs::create_dir_all(&peer)?;
        // A shared mount with a peer: anything mounted below `data` would also appear below `peer`.
        sh(&format!("mount -t tmpfs keeltest {0} && mount --make-shared {0}", data.display()))?;
        sh(&format!("mount --bind {} {}", data.display(), peer.display()))?;

        let node = NodeNetwork::setup(config(&data.join("network"), "10.244.1.0/24")).await?;
        let pod = node.add_pod("shared-pod").await?;
        let mounts = super::super::mounts::mount_points()?;
        // The self-bind of the netns dir is made before it turns private, so it does show up at
        // the peer (as with `ip netns`); the netns files mounted inside it must not.
        let peer_netns_dir = peer.join("network").join("netns");
        let under_peer: Vec<_> =
            mounts.iter().filter(|m| m.starts_with(&peer_netns_dir) && **m != peer_netns_dir).collect();
        ensure!(under_peer.is_empty(), "netns mounts propagated: {under_peer:?}");
        ensure!(mounts.iter().filter(|m| **m == pod.netns_path).count() == 1);

        node.remove_pod("shared-pod").await?;
        let mounts = super::super::mounts::mount_points()?;
        ensure!(!mounts.contains(&pod.netns_path) && !pod.netns_path.exists(), "netns left behind");
        Ok(())
    })
}
