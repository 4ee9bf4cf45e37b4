//! The part of each Service, EndpointSlice and Pod the cluster zone needs. The watches keep only
//! these, not the objects: a Pod as the API sends it is kilobytes, its addresses a few bytes, and
//! every node holds all of them.
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use k8s_openapi::api::{core::v1::Pod, core::v1::Service, discovery::v1::EndpointSlice};

/// A named port: one SRV name `_<name>._<protocol>` (protocol in lower case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPort {
    pub name: Box<str>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: &'static str,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A CNAME to this name.
    ExternalName(Box<str>),
    /// Address records for these ClusterIPs, SRV records for the named ports.
    ClusterIp { ips: Box<[IpAddr]>, ports: Box<[NamedPort]> },
    /// Records per ready endpoint, from the Service's EndpointSlices.
    Headless,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    pub namespace: Box<str>,
    pub name: Box<str>,
    pub kind: ServiceKind,
}

/// One address of a ready endpoint (a missing `ready` counts as ready; the EndpointSlice
/// controller has already folded publishNotReadyAddresses in). An endpoint with several
/// addresses gives one of these per address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    pub address: IpAddr,
    pub hostname: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceInfo {
    pub namespace: Box<str>,
    /// The Service it belongs to (label `kubernetes.io/service-name`).
    pub service: Box<str>,
    pub ports: Box<[NamedPort]>,
    pub endpoints: Box<[EndpointInfo]>,
}

impl ServiceInfo {
    /// `None` for objects without a name, namespace or spec.
    pub fn from_service(svc: &Service) -> Option<Self> {
        let spec = svc.spec.as_ref()?;
        let kind = if spec.type_.as_deref() == Some("ExternalName") {
            ServiceKind::ExternalName(spec.external_name.clone().unwrap_or_default().into())
        } else {
            let mut ips: Vec<IpAddr> = spec
                .cluster_ips
                .iter()
                .flatten()
                .chain(spec.cluster_ip.iter())
                .filter_map(|ip| ip.parse().ok())
                .collect();
            ips.sort();
            ips.dedup();
            if ips.is_empty() {
                ServiceKind::Headless
            } else {
                let ports = spec
                    .ports
                    .iter()
                    .flatten()
                    .filter_map(|p| named_port(p.name.as_deref(), p.protocol.as_deref(), Some(p.port)))
                    .collect();
                ServiceKind::ClusterIp { ips: ips.into(), ports }
            }
        };
        Some(Self {
            namespace: svc.metadata.namespace.as_deref()?.into(),
            name: svc.metadata.name.as_deref()?.into(),
            kind,
        })
    }
}

impl SliceInfo {
    /// `None` for slices that belong to no Service.
    pub fn from_slice(slice: &EndpointSlice) -> Option<Self> {
        let service = slice.metadata.labels.as_ref()?.get("kubernetes.io/service-name")?;
        let ports = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| named_port(p.name.as_deref(), p.protocol.as_deref(), p.port))
            .collect();
        let endpoints = slice
            .endpoints
            .iter()
            .filter(|ep| ep.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .flat_map(|ep| {
                ep.addresses
                    .iter()
                    .filter_map(|a| a.parse().ok())
                    .map(|address| EndpointInfo { address, hostname: ep.hostname.as_deref().map(Into::into) })
            })
            .collect();
        Some(Self {
            namespace: slice.metadata.namespace.as_deref()?.into(),
            service: service.as_str().into(),
            ports,
            endpoints,
        })
    }
}

/// A pod's addresses: at most one per family. 16 bytes, as every node keeps one per pod of the
/// cluster in verified mode; the IPv6 address is boxed, so single-stack IPv4 clusters do not pay
/// for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAddresses {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Box<Ipv6Addr>>,
}

impl PodAddresses {
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.v4.map(IpAddr::V4).into_iter().chain(self.v6.as_deref().map(|v6| IpAddr::V6(*v6)))
    }
}

/// A pod's addresses (`status.podIPs`, else `status.podIP`), for verified pod records.
pub fn pod_addresses(pod: &Pod) -> Option<PodAddresses> {
    let status = pod.status.as_ref()?;
    let mut out = PodAddresses::default();
    let ips = status.pod_ips.iter().flatten().map(|i| i.ip.as_str()).chain(status.pod_ip.as_deref());
    for ip in ips.filter_map(|ip| ip.parse::<IpAddr>().ok()) {
        match ip {
            IpAddr::V4(v4) => out.v4 = out.v4.or(Some(v4)),
            IpAddr::V6(v6) => out.v6 = out.v6.or(Some(Box::new(v6))),
        }
    }
    (out != PodAddresses::default()).then_some(out)
}

/// Verified pod records: which namespaces have a pod with which address. Namespaces are numbered,
/// so the per-address part is 24 bytes, in a sorted vector rather than a hash table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PodIndex {
    namespaces: HashMap<Box<str>, u32>,
    /// (address, namespace number), sorted.
    addresses: Vec<(IpAddr, u32)>,
}

impl PodIndex {
    /// `namespaces`: name -> the number `addresses` uses.
    pub fn new(namespaces: HashMap<Box<str>, u32>, mut addresses: Vec<(IpAddr, u32)>) -> Self {
        addresses.sort_unstable();
        addresses.dedup();
        addresses.shrink_to_fit();
        Self { namespaces, addresses }
    }

    /// From (address, namespace) pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (IpAddr, &'a str)>) -> Self {
        let mut namespaces: HashMap<Box<str>, u32> = HashMap::new();
        let mut addresses = Vec::new();
        for (ip, ns) in pairs {
            let next = u32::try_from(namespaces.len()).unwrap_or(u32::MAX);
            let id = *namespaces.entry(ns.into()).or_insert(next);
            addresses.push((ip, id));
        }
        Self::new(namespaces, addresses)
    }

    pub fn contains(&self, ip: IpAddr, namespace: &str) -> bool {
        self.namespaces.get(namespace).is_some_and(|id| self.addresses.binary_search(&(ip, *id)).is_ok())
    }

    /// Every (address, namespace).
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, &str)> {
        let names: HashMap<u32, &str> = self.namespaces.iter().map(|(name, id)| (*id, &**name)).collect();
        self.addresses.iter().filter_map(move |(ip, id)| Some((*ip, *names.get(id)?)))
    }
}

fn named_port(name: Option<&str>, protocol: Option<&str>, port: Option<i32>) -> Option<NamedPort> {
    let name = name.filter(|n| !n.is_empty())?;
    let protocol = match protocol.unwrap_or("TCP").to_ascii_uppercase().as_str() {
        "TCP" => "tcp",
        "UDP" => "udp",
        "SCTP" => "sctp",
        _ => return None,
    };
    Some(NamedPort { name: name.into(), protocol, port: u16::try_from(port?).ok()? })
}
