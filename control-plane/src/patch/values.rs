//! Small helpers over JSON values shared by the engines.

use std::cmp::Ordering;

use serde_json::Value;

/// A short name for a JSON value's type, for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Equality where `1` and `1.0` are the same number (JSON does not tell
/// integers from floats; serde_json does).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    compare_values(a, b) == Ordering::Equal
}

/// A total order over JSON values, following structured-merge-diff:
/// numbers < strings < booleans < lists < maps < null. Numbers compare by
/// value, lists element-wise, maps by their sorted entries.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    let by_rank = rank(a).cmp(&rank(b));
    if by_rank != Ordering::Equal {
        return by_rank;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => compare_sequences(x.iter(), y.iter()),
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|l, r| l.0.cmp(r.0));
            ys.sort_by(|l, r| l.0.cmp(r.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(ys.iter()) {
                let order = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if order != Ordering::Equal {
                    return order;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => Ordering::Equal,
    }
}

fn rank(value: &Value) -> u8 {
    match value {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let a = x.as_f64().unwrap_or(f64::NAN);
    let b = y.as_f64().unwrap_or(f64::NAN);
    a.total_cmp(&b)
}

fn compare_sequences<'a>(x: impl Iterator<Item = &'a Value>, y: impl Iterator<Item = &'a Value>) -> Ordering {
    let mut x = x;
    let mut y = y;
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => {
                let order = compare_values(a, b);
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// `true` for an empty object or array (and null): such values count as
/// leaves, because there is nothing inside them to own separately.
pub(crate) fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert!(!values_equal(&json!(1), &json!("1")));
        assert_eq!(compare_values(&json!(-1), &json!(u64::MAX)), Ordering::Less);
        assert_eq!(compare_values(&json!(2.5), &json!(2)), Ordering::Greater);
    }

    #[test]
    fn kinds_are_ordered_like_structured_merge_diff() {
        let ordered = [json!(5), json!("a"), json!(false), json!([1]), json!({"a": 1}), json!(null)];
        for pair in ordered.windows(2) {
            assert_eq!(compare_values(&pair[0], &pair[1]), Ordering::Less, "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn containers_compare_structurally() {
        assert!(values_equal(&json!({"a": 1, "b": [1, 2]}), &json!({"b": [1.0, 2], "a": 1})));
        assert_eq!(compare_values(&json!([1]), &json!([1, 2])), Ordering::Less);
        assert_eq!(compare_values(&json!({"a": 1}), &json!({"a": 2})), Ordering::Less);
        assert_eq!(compare_values(&json!({"a": 1}), &json!({"a": 1, "b": 0})), Ordering::Less);
    }

    #[test]
    fn empty_containers() {
        assert!(is_empty_container(&json!({})));
        assert!(is_empty_container(&json!([])));
        assert!(is_empty_container(&json!(null)));
        assert!(!is_empty_container(&json!("")));
        assert!(!is_empty_container(&json!([0])));
    }
}
