//! Which pod CIDR blocks a node should have: one per family of the
//! cluster CIDR (`--cluster-cidr`, primary first), each of that family's
//! node mask size, the first one no other node holds. Pure.

use crate::services::{Cidr, IpFamily, Ranges};
use std::collections::HashSet;

/// kube-controller-manager refuses to split a cluster CIDR into more than
/// 2^16 node blocks; it also keeps our first-free scan short.
pub const MAX_MASK_DIFF: u8 = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("node CIDR mask size /{mask} does not fit the cluster CIDR {cidr}")]
    MaskOutside { cidr: Cidr, mask: u8 },
    #[error(
        "node CIDR mask size /{mask} splits the cluster CIDR {cidr} into more than 2^{MAX_MASK_DIFF} blocks; \
         use a mask of at most /{max}"
    )]
    TooManyBlocks { cidr: Cidr, mask: u8, max: u8 },
    #[error("the cluster CIDR {0} has no free /{1} left")]
    Exhausted(Cidr, u8),
}

/// One family's pod network and the prefix of each node's block of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodNetwork {
    pub cidr: Cidr,
    pub mask: u8,
}

/// The cluster's pod networks, primary family first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNetworks(Vec<PodNetwork>);

impl PodNetworks {
    /// `mask_v4` sizes IPv4 blocks (`--node-cidr-mask-size`), `mask_v6`
    /// IPv6 ones (`--node-cidr-mask-size-ipv6`).
    pub fn new(ranges: &Ranges, mask_v4: u8, mask_v6: u8) -> Result<Self, BlockError> {
        let mut nets = Vec::new();
        for cidr in ranges.iter() {
            let mask = match cidr.family {
                IpFamily::V4 => mask_v4,
                IpFamily::V6 => mask_v6,
            };
            if mask < cidr.prefix || mask > cidr.family.bits() {
                return Err(BlockError::MaskOutside { cidr, mask });
            }
            if mask - cidr.prefix > MAX_MASK_DIFF {
                return Err(BlockError::TooManyBlocks { cidr, mask, max: cidr.prefix + MAX_MASK_DIFF });
            }
            nets.push(PodNetwork { cidr, mask });
        }
        Ok(PodNetworks(nets))
    }

    pub fn iter(&self) -> impl Iterator<Item = &PodNetwork> {
        self.0.iter()
    }
}

/// The first block of `net` not in `used`.
pub fn first_free(net: &PodNetwork, used: &HashSet<Cidr>) -> Option<Cidr> {
    let diff = net.mask.checked_sub(net.cidr.prefix)?.min(MAX_MASK_DIFF);
    (0..1u128 << diff).filter_map(|i| net.cidr.subnet(net.mask, i)).find(|c| !used.contains(c))
}

/// The podCIDRs a node should have, or None when it has what it needs.
/// Blocks it holds are kept as they are (podCIDRs only grow); a family it
/// lacks gets the first free block, appended, so podCIDRs[0] never moves.
pub fn wanted(nets: &PodNetworks, current: &[String], used: &HashSet<Cidr>) -> Result<Option<Vec<String>>, BlockError> {
    let held: Vec<IpFamily> = current.iter().filter_map(|c| Cidr::parse(c).ok()).map(|c| c.family).collect();
    let mut out: Vec<String> = current.to_vec();
    for net in nets.iter().filter(|n| !held.contains(&n.cidr.family)) {
        // Upstream holds podCIDRs to one block per family, two at most.
        if out.len() >= 2 {
            break;
        }
        let block = first_free(net, used).ok_or(BlockError::Exhausted(net.cidr, net.mask))?;
        out.push(block.to_string());
    }
    Ok((out.len() != current.len()).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(s: &str) -> Ranges {
        Ranges::parse("--cluster-cidr", s).expect("ranges")
    }

    fn cidrs(list: &[&str]) -> HashSet<Cidr> {
        list.iter().map(|c| Cidr::parse(c).expect("cidr")).collect()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn blocks_in_order_skipping_used() {
        let nets = PodNetworks::new(&ranges("10.244.0.0/16"), 24, 64).expect("nets");
        let net = nets.iter().next().copied().expect("v4");
        assert_eq!(
            first_free(&net, &cidrs(&["10.244.0.0/24", "10.244.2.0/24"])).map(|c| c.to_string()).as_deref(),
            Some("10.244.1.0/24")
        );
        let small = PodNetworks::new(&ranges("10.0.0.0/23"), 24, 64).expect("nets");
        let small = small.iter().next().copied().expect("v4");
        assert_eq!(first_free(&small, &cidrs(&["10.0.0.0/24", "10.0.1.0/24"])), None);
    }

    #[test]
    fn dual_stack_nodes_get_one_block_per_family() {
        let nets = PodNetworks::new(&ranges("10.244.0.0/16,fd00:10:244::/56"), 24, 64).expect("nets");
        let used = cidrs(&["10.244.0.0/24", "fd00:10:244::/64"]);
        assert_eq!(wanted(&nets, &[], &used), Ok(Some(strings(&["10.244.1.0/24", "fd00:10:244:1::/64"]))));
        // A node from before the cluster went dual-stack gains the IPv6 block.
        assert_eq!(
            wanted(&nets, &strings(&["10.244.0.0/24"]), &used),
            Ok(Some(strings(&["10.244.0.0/24", "fd00:10:244:1::/64"])))
        );
        assert_eq!(wanted(&nets, &strings(&["10.244.0.0/24", "fd00:10:244::/64"]), &used), Ok(None));

        let v6_first = PodNetworks::new(&ranges("fd00:10:244::/56,10.244.0.0/16"), 24, 64).expect("nets");
        assert_eq!(wanted(&v6_first, &[], &HashSet::new()), Ok(Some(strings(&["fd00:10:244::/64", "10.244.0.0/24"]))));
    }

    #[test]
    fn exhaustion_and_bad_masks() {
        let nets = PodNetworks::new(&ranges("10.0.0.0/24,fd00::/64"), 24, 64).expect("nets");
        let full = cidrs(&["10.0.0.0/24"]);
        assert_eq!(
            wanted(&nets, &[], &full),
            Err(BlockError::Exhausted(Cidr::parse("10.0.0.0/24").expect("cidr"), 24))
        );
        let msg = |r: Result<PodNetworks, BlockError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg(PodNetworks::new(&ranges("10.244.0.0/16,fd00:10:244::/56"), 24, 48)),
            "node CIDR mask size /48 does not fit the cluster CIDR fd00:10:244::/56"
        );
        assert_eq!(
            msg(PodNetworks::new(&ranges("fd00::/32"), 24, 64)),
            "node CIDR mask size /64 splits the cluster CIDR fd00::/32 into more than 2^16 blocks; use a mask of at most /48"
        );
    }
}
