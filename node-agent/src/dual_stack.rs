//! Which address families the agent runs: its `--cluster-cidr`/`--service-cidr` lists (one
//! network, or an IPv4 and an IPv6 one as given to the server) and the node's podCIDRs.
use anyhow::{bail, Context, Result};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

#[derive(Debug, Clone, Copy)]
pub struct Families {
    pub cluster_cidr: Ipv4Net,
    pub cluster_cidr6: Option<Ipv6Net>,
    pub service_cidr: Ipv4Net,
    pub service_cidr6: Option<Ipv6Net>,
}

impl Families {
    /// IPv4 is required (the node's own address and the external path are IPv4); IPv6 is the
    /// optional second family.
    pub fn from_args(cluster: &[IpNet], service: &[IpNet]) -> Result<Self> {
        let (cluster_cidr, cluster_cidr6) = split("--cluster-cidr", cluster)?;
        let (service_cidr, service_cidr6) = split("--service-cidr", service)?;
        Ok(Self { cluster_cidr, cluster_cidr6, service_cidr, service_cidr6 })
    }

    /// Whether the node takes part in IPv6 too (pods get both families).
    pub fn is_dual(&self) -> bool {
        self.cluster_cidr6.is_some()
    }
}

fn split(flag: &str, nets: &[IpNet]) -> Result<(Ipv4Net, Option<Ipv6Net>)> {
    let mut v4 = None;
    let mut v6 = None;
    for net in nets {
        let duplicate = match net {
            IpNet::V4(n) => v4.replace(*n).is_some(),
            IpNet::V6(n) => v6.replace(*n).is_some(),
        };
        if duplicate {
            bail!("{flag}: at most one network per address family, got {nets:?}");
        }
    }
    let v4 = v4.with_context(|| format!("{flag}: an IPv4 network is required (IPv6-only nodes are not supported)"))?;
    Ok((v4, v6))
}

/// The node's podCIDRs as (IPv4, optional IPv6).
pub fn split_pod_cidrs(cidrs: &[String]) -> Result<(Ipv4Net, Option<Ipv6Net>)> {
    let nets: Vec<IpNet> = cidrs
        .iter()
        .map(|c| c.parse().with_context(|| format!("podCIDR {c} is not a network")))
        .collect::<Result<_>>()?;
    split("podCIDRs", &nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn one_network_per_family_and_ipv4_required() {
        let f = Families::from_args(&nets(&["fd00:10:244::/56", "10.244.0.0/16"]), &nets(&["10.96.0.0/12"])).unwrap();
        assert!(f.is_dual());
        assert_eq!(f.cluster_cidr.to_string(), "10.244.0.0/16");
        assert_eq!(f.service_cidr6, None);
        assert!(Families::from_args(&nets(&["10.0.0.0/16", "10.1.0.0/16"]), &nets(&["10.96.0.0/12"])).is_err());
        assert!(Families::from_args(&nets(&["fd00::/56"]), &nets(&["10.96.0.0/12"])).is_err());
        let (v4, v6) = split_pod_cidrs(&["10.244.1.0/24".into(), "fd00:10:244:1::/64".into()]).unwrap();
        assert_eq!(
            (v4.to_string(), v6.map(|n| n.to_string())),
            ("10.244.1.0/24".into(), Some("fd00:10:244:1::/64".into()))
        );
    }
}
