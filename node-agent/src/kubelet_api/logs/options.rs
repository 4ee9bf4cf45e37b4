//! The `containerLogs` query parameters.

use super::super::query::Query;
use super::timestamp::parse_rfc3339_nanos;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<usize>,
    /// Only lines at or after this time (Unix nanoseconds).
    pub since_nanos: Option<i128>,
    pub timestamps: bool,
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    pub(crate) fn from_query(query: &Query, now_nanos: i128) -> Result<LogOptions, String> {
        let tail_lines = match query.number::<i64>("tailLines")? {
            Some(n) if n < 0 => return Err(format!("tailLines must be at least 0, got {n}")),
            Some(n) => Some(n as usize),
            None => None,
        };
        let since_seconds = query.number::<i64>("sinceSeconds")?;
        let since_time = query.get("sinceTime");
        let since_nanos = match (since_seconds, since_time) {
            (Some(_), Some(_)) => return Err("at most one of sinceTime or sinceSeconds may be specified".into()),
            (Some(s), None) if s < 1 => return Err(format!("sinceSeconds must be greater than 0, got {s}")),
            (Some(s), None) => Some(now_nanos - i128::from(s) * 1_000_000_000),
            (None, Some(t)) => Some(parse_rfc3339_nanos(t).ok_or_else(|| format!("sinceTime {t:?} is not RFC 3339"))?),
            (None, None) => None,
        };
        let limit_bytes = match query.number::<i64>("limitBytes")? {
            Some(n) if n < 1 => return Err(format!("limitBytes must be greater than 0, got {n}")),
            n => n.map(|n| n as u64),
        };
        let previous = query.flag("previous")?;
        Ok(LogOptions {
            // A previous incarnation's log never grows.
            follow: query.flag("follow")? && !previous,
            previous,
            tail_lines,
            since_nanos,
            timestamps: query.flag("timestamps")?,
            limit_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(query: &str) -> Result<LogOptions, String> {
        LogOptions::from_query(&Query::parse(Some(query)), 100_000_000_000)
    }

    #[test]
    fn reads_every_option() {
        let opts = options("follow=true&tailLines=5&timestamps=1&limitBytes=10&sinceSeconds=30").unwrap();
        assert_eq!(
            opts,
            LogOptions {
                follow: true,
                previous: false,
                tail_lines: Some(5),
                since_nanos: Some(70_000_000_000),
                timestamps: true,
                limit_bytes: Some(10)
            }
        );
        assert_eq!(options("sinceTime=1970-01-01T00:00:10Z").unwrap().since_nanos, Some(10_000_000_000));
        assert!(!options("previous=true&follow=true").unwrap().follow);
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "tailLines=-1",
            "sinceSeconds=0",
            "limitBytes=0",
            "sinceTime=yesterday",
            "follow=maybe",
            "sinceSeconds=5&sinceTime=1970-01-01T00:00:10Z",
        ] {
            assert!(options(bad).is_err(), "{bad}");
        }
    }
}
