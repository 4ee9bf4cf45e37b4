//! add_pod / remove_pod on one node: addressing, connectivity, idempotence, persistence, repair.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

use super::super::mounts::mount_points;
use super::super::naming::host_veth_name;
use super::super::netns::{create_netns, in_netns, is_netns_mounted};
use super::super::{NodeNetwork, PodNetwork};
use super::support::{
    config, node_test, node_test_multi_thread, sh, sh_in, tcp_round_trip, underlay_with_default_route, TempDir,
};

const POD_A: &str = "0b5f6f0e-aaaa-4f3a-9c1e-000000000001";
const POD_B: &str = "0b5f6f0e-bbbb-4f3a-9c1e-000000000002";

fn link_exists(name: &str) -> bool {
    sh(&format!("ip link show {name}")).is_ok()
}

#[test]
fn two_pods_get_distinct_addresses_and_reach_each_other_and_the_gateway() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("pods");
        underlay_with_default_route()?;
        let node = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        let a = node.add_pod(POD_A).await?;
        let b = node.add_pod(POD_B).await?;

        let cidr: ipnet::Ipv4Net = "10.244.1.0/24".parse()?;
        ensure!(a.ip != b.ip && cidr.contains(&a.ip) && cidr.contains(&b.ip), "{} {}", a.ip, b.ip);
        ensure!(![node.gateway(), cidr.network(), cidr.broadcast()].contains(&a.ip));
        ensure!(a.prefix_len == 24 && a.gateway == node.gateway() && a.mtu == 1400);
        ensure!(a.netns_path == dir.path().join("netns").join(POD_A));
        ensure!(a.host_veth == host_veth_name(POD_A) && a.host_veth.len() <= 15);

        let eth0 = sh_in(&a.netns_path, "ip -o link show eth0")?;
        ensure!(eth0.contains("mtu 1400") && eth0.contains(",UP"), "eth0: {eth0}");
        ensure!(sh_in(&a.netns_path, "ip -o -4 addr show dev eth0")?.contains(&format!("{}/24", a.ip)));
        let default = sh_in(&a.netns_path, "ip route show default")?;
        ensure!(default.contains(&format!("via {}", node.gateway())), "pod default route: {default}");
        ensure!(sh_in(&a.netns_path, "ip -o link show lo")?.contains(",UP"));
        let host = sh(&format!("ip -o link show {}", a.host_veth))?;
        ensure!(host.contains("master keel0") && host.contains("mtu 1400"), "host veth: {host}");

        tcp_round_trip(&a.netns_path, Some(&b.netns_path), b.ip).context("pod a -> pod b")?;
        tcp_round_trip(&b.netns_path, Some(&a.netns_path), a.ip).context("pod b -> pod a")?;
        tcp_round_trip(&a.netns_path, None, node.gateway()).context("pod a -> gateway")?;

        // Idempotent: the same pod twice is the same attachment.
        ensure!(node.add_pod(POD_A).await? == a);
        let mut keys: Vec<String> = node.pods().into_iter().map(|p| p.pod_key).collect();
        keys.sort();
        ensure!(keys == [POD_A, POD_B]);
        Ok(())
    })
}

#[test]
fn remove_pod_deletes_veth_netns_and_lease_and_is_idempotent() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("remove");
        let node = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        let a = node.add_pod(POD_A).await?;
        let lease = dir.path().join("ipam").join(a.ip.to_string());
        ensure!(lease.exists() && link_exists(&a.host_veth) && is_netns_mounted(&a.netns_path));

        node.remove_pod(POD_A).await?;
        ensure!(!link_exists(&a.host_veth), "veth still there");
        ensure!(!a.netns_path.exists(), "netns file still there");
        ensure!(!mount_points()?.contains(&a.netns_path), "netns still mounted");
        ensure!(!lease.exists(), "lease still there");
        ensure!(node.pods().is_empty());
        node.remove_pod(POD_A).await?;
        Ok(())
    })
}

#[test]
fn leases_and_records_survive_recreating_the_node_network() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("restart");
        let first = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        let a = first.add_pod(POD_A).await?;
        drop(first);

        let node = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        ensure!(node.pods() == vec![a.clone()]);
        ensure!(node.add_pod(POD_A).await? == a);
        let b = node.add_pod(POD_B).await?;
        ensure!(b.ip != a.ip);
        Ok(())
    })
}

#[test]
fn add_pod_repairs_what_a_crash_left_behind() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("repair");
        let node = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        // A crash mid-way: netns file mounted, untagged veth created, no record.
        let netns_path = dir.path().join("netns").join(POD_A);
        create_netns(&netns_path)?;
        let veth = host_veth_name(POD_A);
        sh(&format!("ip link add {veth} type veth peer name stale0"))?;

        let a = node.add_pod(POD_A).await?;
        ensure!(!link_exists("stale0"), "stale peer kept");
        tcp_round_trip(&a.netns_path, None, node.gateway())?;

        // The veth disappears under a recorded pod: add_pod rebuilds it with the same address.
        sh(&format!("ip link del {veth}"))?;
        let again = node.add_pod(POD_A).await?;
        ensure!(again == a);
        tcp_round_trip(&a.netns_path, None, node.gateway())?;

        // A veth of that name that belongs to another pod is never taken over.
        node.remove_pod(POD_A).await?;
        sh(&format!("ip link add {veth} type veth peer name other0 && ip link set {veth} alias someone-else"))?;
        ensure!(node.add_pod(POD_A).await.is_err());
        ensure!(link_exists(&veth) && !a.netns_path.exists() && node.pods().is_empty());
        Ok(())
    })
}

#[test]
fn service_cidr_is_unreachable_and_nothing_leaves_the_node() -> anyhow::Result<()> {
    node_test(|| async {
        let dir = TempDir::new("svc");
        underlay_with_default_route()?;
        let node = NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?;
        let a: PodNetwork = node.add_pod(POD_A).await?;
        let sent_before = tx_packets("up0")?;

        let started = Instant::now();
        let target = SocketAddr::from((Ipv4Addr::new(10, 96, 0, 1), 80));
        let result = in_netns(&a.netns_path, move || TcpStream::connect_timeout(&target, Duration::from_secs(5)))?;
        let err = match result {
            Ok(_) => anyhow::bail!("connected to an untranslated service IP"),
            Err(e) => e,
        };
        ensure!(matches!(err.raw_os_error(), Some(113) | Some(101)), "expected EHOSTUNREACH/ENETUNREACH, got {err}");
        ensure!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        ensure!(tx_packets("up0")? == sent_before, "packets left through the underlay");
        Ok(())
    })
}

fn tx_packets(link: &str) -> anyhow::Result<u64> {
    let out = sh(&format!("ip -s -o link show {link}"))?;
    // "... TX: bytes packets errors ...\    <bytes> <packets> ..." in one-line mode.
    let tx = out.split("TX:").nth(1).context("no TX stats")?;
    let numbers: Vec<u64> = tx.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    numbers.get(1).copied().context("no TX packet count")
}

#[test]
fn concurrent_adds_on_a_multi_thread_runtime_get_distinct_addresses() -> anyhow::Result<()> {
    node_test_multi_thread(|| async {
        let dir = TempDir::new("concurrent");
        let node = std::sync::Arc::new(NodeNetwork::setup(config(dir.path(), "10.244.1.0/24")).await?);
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let node = node.clone();
                tokio::spawn(async move { node.add_pod(&format!("pod-{}", i % 3)).await })
            })
            .collect();
        let mut pods = Vec::new();
        for task in tasks {
            pods.push(task.await??);
        }
        let mut ips: Vec<Ipv4Addr> = pods.iter().map(|p| p.ip).collect();
        ips.sort();
        ips.dedup();
        ensure!(ips.len() == 3, "three pods, each added twice, must hold three addresses: {ips:?}");
        ensure!(node.pods().len() == 3);
        ensure!(std::fs::read_dir(dir.path().join("ipam"))?.count() == 4, "3 leases + last_reserved");
        let first = node.pods().remove(0);
        let second = node.pods().remove(1);
        tcp_round_trip(&first.netns_path, Some(&second.netns_path), second.ip)?;
        Ok(())
    })
}
