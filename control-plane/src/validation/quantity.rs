//! Resource quantities (`500m`, `1.5Gi`, `2e3`): parsing and exact comparison.

use std::cmp::Ordering;

/// The message Kubernetes gives for a string that is not a quantity.
pub const QUANTITY_FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A parsed quantity: `±mantissa × 10^exp10`, with binary suffixes folded into the mantissa.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i32,
}

/// Parses a quantity string; `None` when it does not follow the Kubernetes format.
pub fn parse_quantity(text: &str) -> Option<Quantity> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = unsigned.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let (binary_power, decimal_exp) = parse_suffix(suffix)?;
    let digits = format!("{whole}{fraction}");
    let mut mantissa: u128 = digits.parse().ok()?;
    for _ in 0..binary_power {
        mantissa = mantissa.checked_mul(1024)?;
    }
    let exp10 = decimal_exp.checked_sub(i32::try_from(fraction.len()).ok()?)?;
    Some(Quantity { negative: negative && mantissa != 0, mantissa, exp10 })
}

/// Returns (powers of 1024, power of ten) for a suffix.
fn parse_suffix(suffix: &str) -> Option<(u32, i32)> {
    let known = match suffix {
        "" => Some((0, 0)),
        "n" => Some((0, -9)),
        "u" => Some((0, -6)),
        "m" => Some((0, -3)),
        "k" => Some((0, 3)),
        "M" => Some((0, 6)),
        "G" => Some((0, 9)),
        "T" => Some((0, 12)),
        "P" => Some((0, 15)),
        "E" => Some((0, 18)),
        "Ki" => Some((1, 0)),
        "Mi" => Some((2, 0)),
        "Gi" => Some((3, 0)),
        "Ti" => Some((4, 0)),
        "Pi" => Some((5, 0)),
        "Ei" => Some((6, 0)),
        _ => None,
    };
    known.or_else(|| parse_exponent(suffix))
}

/// `e3`, `E-2`: a decimal exponent.
fn parse_exponent(suffix: &str) -> Option<(u32, i32)> {
    let rest = suffix.strip_prefix(['e', 'E'])?;
    let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((0, rest.parse().ok()?))
}

impl Quantity {
    /// ceil(value × 10^scale) as an integer, saturated to the i64 range:
    /// apimachinery's `Value()` (scale 0) and `MilliValue()` (scale 3).
    pub fn scaled_ceil(&self, scale: i32) -> i64 {
        let saturated = if self.negative { i64::MIN } else { i64::MAX };
        let exp10 = self.exp10.saturating_add(scale);
        let magnitude: i128 = match i128::try_from(self.mantissa) {
            Ok(m) => m,
            Err(_) => return saturated,
        };
        let value = if exp10 >= 0 {
            match 10i128.checked_pow(exp10.unsigned_abs()).and_then(|p| magnitude.checked_mul(p)) {
                Some(v) => v,
                None if magnitude == 0 => 0,
                None => return saturated,
            }
        } else {
            match 10i128.checked_pow(exp10.unsigned_abs()) {
                // Towards +infinity: up for positive values, towards zero for negative ones.
                Some(divisor) => {
                    let (q, r) = (magnitude / divisor, magnitude % divisor);
                    if self.negative {
                        q
                    } else {
                        q + i128::from(r != 0)
                    }
                }
                None => i128::from(magnitude > 0 && !self.negative),
            }
        };
        let signed = if self.negative { -value } else { value };
        i64::try_from(signed).unwrap_or(saturated)
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the value has no fractional part (extended resources must be whole numbers).
    pub fn is_integer(&self) -> bool {
        if self.exp10 >= 0 || self.mantissa == 0 {
            return true;
        }
        let divisor = u32::try_from(-self.exp10).ok().and_then(|e| 10u128.checked_pow(e));
        divisor.is_some_and(|d| self.mantissa.is_multiple_of(d))
    }

    /// Numeric comparison, exact while the values fit in 128 bits.
    pub fn compare(&self, other: &Quantity) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => return Ordering::Greater,
            (true, false) => return Ordering::Less,
            _ => {}
        }
        let magnitude = compare_magnitude(self, other);
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }

    fn approx(&self) -> f64 {
        // Precision loss is acceptable here: this is only the fallback for huge values.
        let value = self.mantissa as f64 * 10f64.powi(self.exp10);
        if self.negative {
            -value
        } else {
            value
        }
    }
}

fn compare_magnitude(a: &Quantity, b: &Quantity) -> Ordering {
    let common = a.exp10.min(b.exp10);
    let scale = |q: &Quantity| {
        let shift = u32::try_from(q.exp10 - common).ok()?;
        q.mantissa.checked_mul(10u128.checked_pow(shift)?)
    };
    match (scale(a), scale(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.approx().abs().partial_cmp(&b.approx().abs()).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        parse_quantity(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn parses_kubernetes_formats() {
        for ok in ["1", "500m", "1.5Gi", "2e3", "0.1", ".5", "+3k", "-1", "100Mi", "1E-2", "0"] {
            assert!(parse_quantity(ok).is_some(), "{ok}");
        }
        for bad in ["", "abc", "1.2.3", "5 Gi", "1Gib", "e3", "1e", "--1", "1KiB"] {
            assert!(parse_quantity(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn compares_across_suffixes() {
        assert_eq!(q("1Gi").compare(&q("1073741824")), Ordering::Equal);
        assert_eq!(q("100m").compare(&q("0.1")), Ordering::Equal);
        assert_eq!(q("1").compare(&q("999m")), Ordering::Greater);
        assert_eq!(q("1Mi").compare(&q("1M")), Ordering::Greater);
        assert_eq!(q("-1").compare(&q("0")), Ordering::Less);
        assert_eq!(q("2e3").compare(&q("2k")), Ordering::Equal);
    }

    #[test]
    fn sign_and_integrality() {
        assert!(q("-1").is_negative());
        assert!(!q("-0").is_negative());
        assert!(q("0").is_zero());
        assert!(q("2").is_integer());
        assert!(q("2000m").is_integer());
        assert!(!q("1500m").is_integer());
    }
}
