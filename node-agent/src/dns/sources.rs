//! The part of each Service, EndpointSlice and Pod the cluster zone needs. The watches keep only
//! these, not the objects: a Pod as the API sends it is kilobytes, its addresses a few bytes, and
//! every node holds all of them.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::{core::v1::Pod, core::v1::Service, discovery::v1::EndpointSlice};

/// A named port: one SRV name `_<name>._<protocol>` (protocol in lower case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPort {
    pub name: Box<str>,
    pub protocol: Box<str>,
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

/// A ready endpoint (a missing `ready` counts as ready; the EndpointSlice controller has already
/// folded publishNotReadyAddresses in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    pub addresses: Box<[IpAddr]>,
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
            .map(|ep| EndpointInfo {
                addresses: ep.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
                hostname: ep.hostname.as_deref().map(Into::into),
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

/// A pod's addresses: at most one per family. Inline, as every node keeps one per pod of the
/// cluster in verified mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodAddresses {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl PodAddresses {
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> {
        self.v4.map(IpAddr::V4).into_iter().chain(self.v6.map(IpAddr::V6))
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
            IpAddr::V6(v6) => out.v6 = out.v6.or(Some(v6)),
        }
    }
    (out != PodAddresses::default()).then_some(out)
}

fn named_port(name: Option<&str>, protocol: Option<&str>, port: Option<i32>) -> Option<NamedPort> {
    let name = name.filter(|n| !n.is_empty())?;
    Some(NamedPort {
        name: name.into(),
        protocol: protocol.unwrap_or("TCP").to_ascii_lowercase().into(),
        port: u16::try_from(port?).ok()?,
    })
}
