//! Kubernetes resource quantities ("100m", "1.5Gi", "2e3") as the integers
//! the scheduler counts with, rounded up like apimachinery's `Value()` and
//! `MilliValue()`. Parsing is the API server's own (`validation::quantity`).

use crate::validation::quantity::parse_quantity;

/// Value in base units, rounded up (e.g. bytes, pod counts). `None` if malformed.
pub fn parse_value(text: &str) -> Option<i64> {
    parse_quantity(text.trim()).map(|q| q.scaled_ceil(0))
}

/// Value in thousandths of a base unit, rounded up (e.g. millicores). `None` if malformed.
pub fn parse_milli_value(text: &str) -> Option<i64> {
    parse_quantity(text.trim()).map(|q| q.scaled_ceil(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_decimal_suffixes() {
        assert_eq!(parse_value("0"), Some(0));
        assert_eq!(parse_value("110"), Some(110));
        assert_eq!(parse_value("1k"), Some(1000));
        assert_eq!(parse_value("128M"), Some(128_000_000));
        assert_eq!(parse_value("2G"), Some(2_000_000_000));
        assert_eq!(parse_value("1T"), Some(1_000_000_000_000));
        assert_eq!(parse_value("1P"), Some(1_000_000_000_000_000));
        assert_eq!(parse_value("1E"), Some(1_000_000_000_000_000_000));
    }

    #[test]
    fn parses_binary_suffixes() {
        assert_eq!(parse_value("1Ki"), Some(1024));
        assert_eq!(parse_value("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(parse_value("1.5Gi"), Some(1536 * 1024 * 1024));
        assert_eq!(parse_value("2Ti"), Some(2 << 40));
        assert_eq!(parse_value("1Pi"), Some(1 << 50));
        assert_eq!(parse_value("1Ei"), Some(1 << 60));
    }

    #[test]
    fn parses_millis_and_fractions() {
        assert_eq!(parse_milli_value("100m"), Some(100));
        assert_eq!(parse_milli_value("1"), Some(1000));
        assert_eq!(parse_milli_value("0.5"), Some(500));
        assert_eq!(parse_milli_value(".25"), Some(250));
        assert_eq!(parse_milli_value("2.5"), Some(2500));
        assert_eq!(parse_milli_value("1500u"), Some(2), "rounds up");
        assert_eq!(parse_milli_value("1n"), Some(1), "rounds up");
        assert_eq!(parse_value("100m"), Some(1), "rounds up");
        assert_eq!(parse_value("1.0001k"), Some(1001));
    }

    #[test]
    fn parses_exponents() {
        assert_eq!(parse_value("1e3"), Some(1000));
        assert_eq!(parse_value("1E6"), Some(1_000_000));
        assert_eq!(parse_milli_value("5e-3"), Some(5));
        assert_eq!(parse_value("12e-1"), Some(2));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "abc", "1Xi", "1e", "m", "1.2.3", "--1", "1 Gi"] {
            assert_eq!(parse_value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn saturates_huge_values() {
        assert_eq!(parse_value("100Ei"), Some(i64::MAX));
        assert_eq!(parse_milli_value("9e30"), Some(i64::MAX));
        assert_eq!(parse_value("-1"), Some(-1));
    }
}
