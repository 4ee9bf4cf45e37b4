//! Counters of the node's DNS server for Prometheus: queries by type and response code, and a
//! latency histogram (time from the request to the response handed to the socket).
use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use hickory_proto::{op::ResponseCode, rr::RecordType};

/// Upper bounds of the latency buckets, in seconds (Prometheus `le`).
const BUCKETS: [f64; 8] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0];

#[derive(Default)]
pub struct DnsStats {
    /// (query type, response code), as on the wire -> queries. Numbers, not names, so counting
    /// a query allocates nothing.
    queries: Mutex<BTreeMap<(u16, u16), u64>>,
    /// Positive forwarded answers from the cache, and from an upstream.
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl DnsStats {
    /// One answered query; `qtype` is `None` for requests without a question.
    pub fn record(&self, qtype: Option<RecordType>, rcode: ResponseCode, took: Duration) {
        *self
            .queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((qtype.map_or(0, u16::from), u16::from(rcode)))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// One forwarded answer: from the cache, from an upstream, or negative/failed (`None`).
    pub fn forwarded(&self, source: Option<super::forward::Source>) {
        match source {
            Some(super::forward::Source::Cache) => self.cache_hits.fetch_add(1, Ordering::Relaxed),
            Some(super::forward::Source::Upstream) => self.cache_misses.fetch_add(1, Ordering::Relaxed),
            None => 0,
        };
    }

    /// Appends the text exposition to `out`.
    pub fn render(&self, node: &str, out: &mut String) {
        let _ =
            writeln!(out, "# HELP keel_dns_queries_total DNS queries answered by the node, by type and response code.");
        let _ = writeln!(out, "# TYPE keel_dns_queries_total counter");
        for (&(qtype, rcode), n) in self.queries.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let qtype = if qtype == 0 { "none".to_string() } else { RecordType::from(qtype).to_string() };
            let rcode = rcode_name(<ResponseCode as From<u16>>::from(rcode));
            let _ = writeln!(out, "keel_dns_queries_total{{node=\"{node}\",type=\"{qtype}\",rcode=\"{rcode}\"}} {n}");
        }
        let (hits, misses) = (self.cache_hits.load(Ordering::Relaxed), self.cache_misses.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP keel_dns_forward_cache_total Positive answers for outside names, by where they came from."
        );
        let _ = writeln!(out, "# TYPE keel_dns_forward_cache_total counter");
        let _ = writeln!(out, "keel_dns_forward_cache_total{{node=\"{node}\",result=\"hit\"}} {hits}");
        let _ = writeln!(out, "keel_dns_forward_cache_total{{node=\"{node}\",result=\"miss\"}} {misses}");
        let ratio = if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 };
        let _ = writeln!(out, "# HELP keel_dns_forward_cache_hit_ratio Share of those answered from the cache.");
        let _ = writeln!(out, "# TYPE keel_dns_forward_cache_hit_ratio gauge");
        let _ = writeln!(out, "keel_dns_forward_cache_hit_ratio{{node=\"{node}\"}} {ratio}");
        let _ = writeln!(out, "# HELP keel_dns_request_duration_seconds Time to answer a DNS query.");
        let _ = writeln!(out, "# TYPE keel_dns_request_duration_seconds histogram");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "keel_dns_request_duration_seconds_bucket{{node=\"{node}\",le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "keel_dns_request_duration_seconds_bucket{{node=\"{node}\",le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "keel_dns_request_duration_seconds_sum{{node=\"{node}\"}} {sum}");
        let _ = writeln!(out, "keel_dns_request_duration_seconds_count{{node=\"{node}\"}} {count}");
    }
}

/// The mnemonic dig prints (NOERROR, NXDOMAIN...), for metric labels.
fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::BADVERS => "BADVERS".into(),
        other => u16::from(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_type_and_code_and_fills_cumulative_buckets() {
        let stats = DnsStats::default();
        stats.record(Some(RecordType::A), ResponseCode::NoError, Duration::from_micros(80));
        stats.record(Some(RecordType::A), ResponseCode::NoError, Duration::from_millis(2));
        stats.record(Some(RecordType::AAAA), ResponseCode::NXDomain, Duration::from_micros(200));
        let mut out = String::new();
        stats.render("n1", &mut out);
        assert!(out.contains("keel_dns_queries_total{node=\"n1\",type=\"A\",rcode=\"NOERROR\"} 2"), "{out}");
        assert!(out.contains("keel_dns_queries_total{node=\"n1\",type=\"AAAA\",rcode=\"NXDOMAIN\"} 1"), "{out}");
        assert!(out.contains("le=\"0.0001\"} 1\n"), "{out}");
        assert!(out.contains("le=\"0.00025\"} 2\n"), "{out}");
        assert!(out.contains("le=\"0.0025\"} 3\n"), "{out}");
        assert!(out.contains("keel_dns_request_duration_seconds_count{node=\"n1\"} 3"), "{out}");
    }
}
