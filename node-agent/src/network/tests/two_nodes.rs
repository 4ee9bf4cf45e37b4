//! Two nodes joined by an underlay veth pair: host-gw routes carry pod traffic both ways.

use anyhow::{ensure, Context};

use super::super::NodeNetwork;
use super::support::{config, node_test, sh, sh_in, tcp_round_trip, Entered, NetnsFile, TempDir};

#[test]
fn pods_on_two_nodes_reach_each_other_over_host_gw_routes() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("twonodes");
        // Node 1 is the test thread's netns; node 2 lives in a netns file.
        let node2_ns = NetnsFile::new(dir.path().join("node2.netns"))?;
        let n2 = node2_ns.0.clone();
        // iproute2 takes a netns file path wherever it takes a netns name.
        sh(&format!("ip link add u1 type veth peer name u2 netns {}", n2.display()))?;
        sh("ip addr add 192.0.2.1/24 dev u1 && ip link set u1 up")?;
        sh_in(&n2, "sh -c 'ip link set lo up && ip addr add 192.0.2.2/24 dev u2 && ip link set u2 up'")?;

        let node1 = NodeNetwork::setup(config(&dir.path().join("n1"), "10.244.1.0/24")).await?;
        let node2 = {
            let _inside = Entered::new(&n2)?;
            NodeNetwork::setup(config(&dir.path().join("n2"), "10.244.2.0/24")).await?
        };
        ensure!(sh_in(&n2, "cat /proc/sys/net/ipv4/ip_forward")?.trim() == "1", "forwarding off on node 2");

        node1.set_peer_routes(&[("10.244.2.0/24".parse()?, "192.0.2.2".parse()?)]).await?;
        node2.set_peer_routes(&[("10.244.1.0/24".parse()?, "192.0.2.1".parse()?)]).await?;
        node1.set_peer_routes(&[("10.244.2.0/24".parse()?, "192.0.2.2".parse()?)]).await?;
        let route = sh("ip route show 10.244.2.0/24")?;
        ensure!(route.trim() == "10.244.2.0/24 via 192.0.2.2 dev u1 proto 75", "route: {route:?}");

        let a = node1.add_pod("pod-on-node-1").await?;
        let b = node2.add_pod("pod-on-node-2").await?;
        tcp_round_trip(&a.netns_path, Some(&b.netns_path), b.ip).context("node 1 pod -> node 2 pod")?;
        tcp_round_trip(&b.netns_path, Some(&a.netns_path), a.ip).context("node 2 pod -> node 1 pod")?;

        // Peers that go away lose their route; routes of others are left alone.
        sh("ip route add 10.244.9.0/24 via 192.0.2.2")?;
        node1.set_peer_routes(&[]).await?;
        ensure!(sh("ip route show 10.244.2.0/24")?.trim().is_empty(), "stale peer route kept");
        ensure!(!sh("ip route show 10.244.9.0/24")?.trim().is_empty(), "foreign route removed");
        ensure!(node1.set_peer_routes(&[("10.244.1.0/24".parse()?, "192.0.2.2".parse()?)]).await.is_err());
        Ok(())
    })
}
