//! Exact parsing of Kubernetes resource quantities ("100m", "1.5Gi", "2e3").
//!
//! A quantity is `mantissa * 10^exp10 * 2^exp2`; we keep it in that form and only
//! round (up, like apimachinery's `Value()`/`MilliValue()`) when asked for an integer.

/// A parsed quantity kept exact as `mantissa * 10^exp10 * 2^exp2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exact {
    mantissa: i128,
    exp10: i32,
    exp2: u32,
}

/// Value in base units, rounded up (e.g. bytes, pod counts). `None` if malformed.
pub fn parse_value(text: &str) -> Option<i64> {
    parse_exact(text).map(|q| scaled_ceil(q, 0))
}

/// Value in thousandths of a base unit, rounded up (e.g. millicores). `None` if malformed.
pub fn parse_milli_value(text: &str) -> Option<i64> {
    parse_exact(text).map(|q| scaled_ceil(q, 3))
}

fn parse_exact(text: &str) -> Option<Exact> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut mantissa: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        if !digit.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(digit - b'0'))?;
    }
    let (suffix_exp10, exp2) = parse_suffix(suffix)?;
    let exp10 = suffix_exp10.checked_sub(i32::try_from(fraction.len()).ok()?)?;
    Some(Exact { mantissa: if negative { -mantissa } else { mantissa }, exp10, exp2 })
}

/// Returns (decimal exponent, binary exponent) for a suffix.
fn parse_suffix(suffix: &str) -> Option<(i32, u32)> {
    let parsed = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => {
            let exponent = other.strip_prefix('e').or_else(|| other.strip_prefix('E'))?;
            if exponent.is_empty() {
                return None;
            }
            (exponent.parse::<i32>().ok()?, 0)
        }
    };
    Some(parsed)
}

/// ceil(q * 10^scale), saturated to the i64 range.
fn scaled_ceil(q: Exact, scale: i32) -> i64 {
    let saturated = if q.mantissa < 0 { i64::MIN } else { i64::MAX };
    let Some(with_binary) = q.mantissa.checked_mul(1i128 << q.exp2.min(126)) else {
        return saturated;
    };
    let exp10 = q.exp10.saturating_add(scale);
    let value = if exp10 >= 0 {
        match 10i128.checked_pow(exp10.unsigned_abs()).and_then(|p| with_binary.checked_mul(p)) {
            Some(v) => v,
            None if with_binary == 0 => 0,
            None => return saturated,
        }
    } else {
        match 10i128.checked_pow(exp10.unsigned_abs()) {
            // Round towards +infinity, as apimachinery does.
            Some(divisor) => {
                let quotient = with_binary.div_euclid(divisor);
                if with_binary.rem_euclid(divisor) != 0 {
                    quotient + 1
                } else {
                    quotient
                }
            }
            None => i128::from(with_binary > 0),
        }
    };
    i64::try_from(value).unwrap_or(saturated)
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
