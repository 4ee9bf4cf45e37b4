//! Names outside the cluster zone go to the node's upstream resolvers through hickory-resolver,
//! whose cache honours each record's TTL and, for NXDOMAIN and NODATA, the negative TTL from the
//! upstream's SOA. Answers leave with the TTL that remains in the cache.
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use hickory_proto::{
    op::ResponseCode,
    rr::{Name, Record, RecordType},
    xfer::Protocol,
    ProtoErrorKind,
};
use hickory_resolver::{
    config::{NameServerConfig, NameServerConfigGroup, ResolverConfig, ResolverOpts},
    name_server::TokioConnectionProvider,
    TokioResolver,
};

/// Entries kept by the cache (records of one name and type each).
const CACHE_ENTRIES: usize = 8192;

/// What the upstream said.
#[derive(Debug)]
pub enum Forwarded {
    Records(Vec<Record>),
    /// NXDOMAIN or NODATA, with the upstream's SOA when it sent one.
    Negative {
        code: ResponseCode,
        soa: Option<Box<Record>>,
    },
    /// No upstream answered, or it answered with an error.
    Failed,
}

pub struct Forwarder {
    resolver: TokioResolver,
    /// (name, type) -> expiry of the last answer seen. hickory-resolver hands out a cached answer
    /// with the expiry it was stored with, so an unchanged expiry means a cache hit.
    seen: Mutex<HashMap<(Name, RecordType), Instant>>,
}

/// Where a forwarded answer came from, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Cache,
    Upstream,
}

impl Forwarder {
    /// `upstreams`: resolvers to ask, in order (UDP, and TCP after a truncated answer).
    pub fn new(upstreams: &[SocketAddr]) -> Self {
        let mut group = NameServerConfigGroup::new();
        for addr in upstreams {
            group.push(NameServerConfig::new(*addr, Protocol::Udp));
            group.push(NameServerConfig::new(*addr, Protocol::Tcp));
        }
        let mut options = ResolverOpts::default();
        options.cache_size = CACHE_ENTRIES;
        options.timeout = Duration::from_secs(2);
        options.attempts = 2;
        options.edns0 = true;
        // Keep CNAME chains in the answer, as the upstream gave them.
        options.preserve_intermediates = true;
        let config = ResolverConfig::from_parts(None, Vec::new(), group);
        let resolver = TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(options)
            .build();
        Self { resolver, seen: Mutex::new(HashMap::new()) }
    }

    /// Whether an answer expiring at `valid_until` is the one seen last time for this question.
    fn source(&self, name: &Name, qtype: RecordType, valid_until: Instant) -> Source {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= CACHE_ENTRIES {
            // Bounded like the cache itself; forgetting only turns the next hit into a "miss".
            seen.retain(|_, until| *until > Instant::now());
        }
        match seen.insert((name.clone(), qtype), valid_until) {
            Some(before) if before == valid_until => Source::Cache,
            _ => Source::Upstream,
        }
    }

    pub async fn forward(&self, name: &Name, qtype: RecordType) -> (Forwarded, Option<Source>) {
        let mut name = name.clone();
        // The question is absolute; never let the resolver try search domains.
        name.set_fqdn(true);
        let lowered = name.to_lowercase();
        match self.resolver.lookup(name, qtype).await {
            Ok(lookup) => {
                let source = self.source(&lowered, qtype, lookup.valid_until());
                let left = lookup.valid_until().saturating_duration_since(Instant::now()).as_secs();
                let left = u32::try_from(left).unwrap_or(u32::MAX);
                let records = lookup
                    .records()
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.set_ttl(r.ttl().min(left));
                        r
                    })
                    .collect();
                (Forwarded::Records(records), Some(source))
            }
            Err(e) => match e.proto().map(|p| p.kind()) {
                Some(ProtoErrorKind::NoRecordsFound { response_code, soa, .. })
                    if matches!(*response_code, ResponseCode::NXDomain | ResponseCode::NoError) =>
                {
                    let soa = soa.as_ref().map(|s| Box::new(s.as_ref().clone().into_record_of_rdata()));
                    (Forwarded::Negative { code: *response_code, soa }, None)
                }
                _ => {
                    tracing::debug!(error = %e, "forwarding a DNS query");
                    (Forwarded::Failed, None)
                }
            },
        }
    }
}

/// The nameservers of a resolv.conf, at port 53.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nnameserver 192.0.2.53\nsearch example.org\nnameserver fd00::53\nnameserver bogus\n";
        assert_eq!(
            upstreams_from_resolv_conf(text),
            vec!["192.0.2.53:53".parse::<SocketAddr>().unwrap(), "[fd00::53]:53".parse().unwrap()]
        );
    }
}
