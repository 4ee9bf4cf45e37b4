//! Rules shared by many kinds: formats turned into field errors, label selectors, enums,
//! immutability, ports, IPs and int-or-percent values.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde_json::Value;

use super::field_error::{ErrorType, FieldError};
use super::names;
use super::path::FieldPath;
use super::quantity::{parse_quantity, QUANTITY_FORMAT_ERROR};

pub const IS_NEGATIVE_MSG: &str = "must be greater than or equal to 0";
pub const IMMUTABLE_MSG: &str = "field is immutable";
const INVALID_IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const INVALID_CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// The JSON form of a value for an error report.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// One `Invalid` error per message.
pub fn invalid_each(path: &FieldPath, value: impl Into<Value>, messages: Vec<String>) -> Vec<FieldError> {
    let value = value.into();
    messages.into_iter().map(|m| FieldError::invalid(path, value.clone(), m)).collect()
}

pub fn dns1123_label(value: &str, path: &FieldPath) -> Vec<FieldError> {
    invalid_each(path, value, names::is_dns1123_label(value))
}

pub fn dns1123_subdomain(value: &str, path: &FieldPath) -> Vec<FieldError> {
    invalid_each(path, value, names::is_dns1123_subdomain(value))
}

pub fn qualified_name(value: &str, path: &FieldPath) -> Vec<FieldError> {
    invalid_each(path, value, names::is_qualified_name(value))
}

/// `must be greater than or equal to 0`
pub fn non_negative(value: i64, path: &FieldPath) -> Vec<FieldError> {
    if value < 0 {
        vec![FieldError::invalid(path, value, IS_NEGATIVE_MSG)]
    } else {
        Vec::new()
    }
}

/// Non-negativity of an optional count.
pub fn non_negative_opt<T: Into<i64> + Copy>(value: Option<T>, path: &FieldPath) -> Vec<FieldError> {
    value.map(|v| non_negative(v.into(), path)).unwrap_or_default()
}

/// An enumerated string: `Required` when missing (if required), `NotSupported` when unknown.
pub fn enum_value(value: Option<&str>, path: &FieldPath, allowed: &[&str], required: bool) -> Vec<FieldError> {
    match value {
        None | Some("") if required => vec![FieldError::required(path, "")],
        None | Some("") => Vec::new(),
        Some(v) if allowed.contains(&v) => Vec::new(),
        Some(v) => vec![FieldError::not_supported(path, v, allowed)],
    }
}

/// Kubernetes' semantic equality: absent, null and empty values are all the same.
pub fn semantic_eq<T: Serialize + ?Sized>(a: &T, b: &T) -> bool {
    normalized(json(a)) == normalized(json(b))
}

fn normalized(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(k, v)| (k, normalized(v))).filter(|(_, v)| !is_empty_value(v)).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalized).collect()),
        other => other,
    }
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(_) => false,
    }
}

/// `field is immutable` when the value changed.
pub fn immutable<T: Serialize + ?Sized>(new: &T, old: &T, path: &FieldPath) -> Vec<FieldError> {
    if semantic_eq(new, old) {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, json(new), IMMUTABLE_MSG)]
    }
}

/// Label keys and values (`metav1validation.ValidateLabels`: both report at the map's path).
pub fn labels(map: Option<&BTreeMap<String, String>>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, value) in map.into_iter().flatten() {
        errs.extend(qualified_name(key, path));
        errs.extend(invalid_each(path, value.as_str(), names::is_valid_label_value(value)));
    }
    errs
}

/// A `LabelSelector`: valid match labels and well-formed expressions.
pub fn label_selector(selector: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = labels(selector.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, requirement) in selector.match_expressions.iter().flatten().enumerate() {
        errs.extend(selector_requirement(requirement, &path.child("matchExpressions").index(i)));
    }
    errs
}

fn selector_requirement(req: &LabelSelectorRequirement, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => errs
            .push(FieldError::required(path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errs.push(FieldError::invalid(path.child("operator"), other, "not a valid selector operator")),
    }
    errs.extend(qualified_name(&req.key, &path.child("key")));
    for (i, value) in values.iter().enumerate() {
        errs.extend(invalid_each(&path.child("values").index(i), value.as_str(), names::is_valid_label_value(value)));
    }
    errs
}

/// Whether a selector selects nothing in particular (no labels, no expressions).
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

/// Whether `selector` matches `labels`; `None` when the selector has an unknown operator.
pub fn selector_matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> Option<bool> {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let labels_ok = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let mut expressions_ok = true;
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default();
        let current = labels.get(&req.key);
        let ok = match req.operator.as_str() {
            "In" => current.is_some_and(|v| values.contains(v)),
            "NotIn" => current.is_none_or(|v| !values.contains(v)),
            "Exists" => current.is_some(),
            "DoesNotExist" => current.is_none(),
            _ => return None,
        };
        expressions_ok &= ok;
    }
    Some(labels_ok && expressions_ok)
}

/// The check workload controllers share: the selector must pick the template's own labels.
pub fn selector_matches_template(
    selector: &LabelSelector,
    template_labels: Option<&BTreeMap<String, String>>,
    labels_path: &FieldPath,
) -> Vec<FieldError> {
    if selector_is_empty(selector) || selector_matches(selector, template_labels) != Some(false) {
        return Vec::new();
    }
    vec![FieldError::invalid(labels_path, json(&template_labels), "`selector` does not match template `labels`")]
}

/// A port given as a number (1-65535) or an IANA name.
pub fn port_num_or_name(port: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    match port {
        IntOrString::Int(n) => invalid_each(path, *n, names::is_valid_port_num(i64::from(*n))),
        IntOrString::String(s) => invalid_each(path, s.as_str(), names::is_valid_port_name(s)),
    }
}

/// `ValidatePositiveIntOrPercent`: a non-negative count or a `N%` string.
pub fn int_or_percent(value: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    match value {
        IntOrString::Int(n) => non_negative(i64::from(*n), path),
        IntOrString::String(s) => invalid_each(path, s.as_str(), names::is_valid_percent(s)),
    }
}

/// `IsNotMoreThan100Percent`
pub fn not_more_than_100_percent(value: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    match percent_value(value) {
        Some(p) if p > 100 => vec![FieldError::invalid(path, json(value), "must not be greater than 100%")],
        _ => Vec::new(),
    }
}

fn percent_value(value: &IntOrString) -> Option<i64> {
    match value {
        IntOrString::String(s) => s.strip_suffix('%')?.parse().ok(),
        IntOrString::Int(_) => None,
    }
}

/// The number in an int-or-percent (0 when unparseable), to test for zero.
pub fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(_) => percent_value(value).unwrap_or(0),
    }
}

pub fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

pub fn ip_address(text: &str, path: &FieldPath) -> Vec<FieldError> {
    if parse_ip(text).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, text, INVALID_IP_MSG)]
    }
}

/// Parses `address/prefix`, requiring the prefix to fit the address family.
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((address, prefix))
}

pub fn cidr(text: &str, path: &FieldPath) -> Vec<FieldError> {
    if parse_cidr(text).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, text, INVALID_CIDR_MSG)]
    }
}

/// Whether `inner` lies inside `outer` and is strictly smaller.
pub fn cidr_strict_subset(outer: (IpAddr, u8), inner: (IpAddr, u8)) -> bool {
    let (outer_ip, outer_len) = outer;
    let (inner_ip, inner_len) = inner;
    if inner_len <= outer_len {
        return false;
    }
    match (outer_ip, inner_ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            same_prefix(u128::from(a.to_bits()) << 96, u128::from(b.to_bits()) << 96, outer_len)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => same_prefix(a.to_bits(), b.to_bits(), outer_len),
        _ => false,
    }
}

fn same_prefix(a: u128, b: u128, len: u8) -> bool {
    if len == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - u32::from(len.min(128)));
    a & mask == b & mask
}

/// A quantity that parses and is not negative.
pub fn quantity_value(value: &Quantity, path: &FieldPath) -> Vec<FieldError> {
    match parse_quantity(&value.0) {
        None => vec![FieldError::invalid(path, value.0.as_str(), QUANTITY_FORMAT_ERROR)],
        Some(q) if q.is_negative() => vec![FieldError::invalid(path, value.0.as_str(), IS_NEGATIVE_MSG)],
        Some(_) => Vec::new(),
    }
}

/// `Too many: N: must have at most M items`
pub fn too_many(path: &FieldPath, actual: usize, max: usize) -> FieldError {
    FieldError::new(ErrorType::TooMany, path, Some(Value::from(actual)), format!("must have at most {max} items"))
}

/// `Too long: may not be more than N bytes`
pub fn too_long(path: &FieldPath, max: usize) -> FieldError {
    FieldError::new(ErrorType::TooLong, path, None, format!("may not be more than {max} bytes"))
}

/// One top-level string field of an Event: its name, value, byte limit and whether it is required.
pub type LimitedField<'a> = (&'a str, Option<&'a str>, usize, bool);

/// The length (and presence) rules both Event APIs (`v1` and `events.k8s.io/v1`) apply to their
/// short string fields, reported against the bare field name.
pub fn limited_fields(fields: &[LimitedField<'_>]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for &(field, value, max, required) in fields {
        let value = value.unwrap_or_default();
        if required && value.is_empty() {
            errs.push(FieldError::required(field, ""));
        }
        if value.len() > max {
            errs.push(FieldError::invalid(field, "", format!("can have at most {max} characters")));
        }
    }
    errs
}

/// A reference to something that does not exist (Kubernetes' `NotFound`; reported as `Invalid`
/// because the shared error type has no NotFound variant).
pub fn not_found(path: &FieldPath, value: &str) -> FieldError {
    FieldError::invalid(path, value, "not found")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json as j;

    fn selector(value: Value) -> LabelSelector {
        serde_json::from_value(value).unwrap_or_default()
    }

    fn fields(errs: &[FieldError]) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn selector_validation_reports_each_problem() {
        let sel = selector(j!({
            "matchLabels": {"app": "web", "bad key!": "x"},
            "matchExpressions": [
                {"key": "tier", "operator": "In"},
                {"key": "env", "operator": "Exists", "values": ["x"]},
                {"key": "zone", "operator": "Near", "values": ["a"]}
            ]
        }));
        let errs = label_selector(&sel, &FieldPath::new("spec").child("selector"));
        assert_eq!(
            fields(&errs),
            vec![
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].values",
                "spec.selector.matchExpressions[2].operator"
            ]
        );
        assert_eq!(errs[1].kind, ErrorType::Required);
        assert_eq!(errs[2].kind, ErrorType::Forbidden);
    }

    #[test]
    fn selector_matching() {
        let labels: BTreeMap<String, String> =
            [("app".to_string(), "web".to_string()), ("tier".to_string(), "fe".to_string())].into();
        let sel = selector(j!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]},
            {"key": "canary", "operator": "DoesNotExist"}
        ]}));
        assert_eq!(selector_matches(&sel, Some(&labels)), Some(true));
        let other = selector(j!({"matchLabels": {"app": "db"}}));
        assert_eq!(selector_matches(&other, Some(&labels)), Some(false));
        let errs = selector_matches_template(&other, Some(&labels), &FieldPath::new("spec.template.metadata.labels"));
        assert_eq!(errs[0].message(), "spec.template.metadata.labels: Invalid value: {\"app\":\"web\",\"tier\":\"fe\"}: `selector` does not match template `labels`");
    }

    #[test]
    fn enums_and_numbers() {
        let path = FieldPath::new("spec").child("type");
        assert!(enum_value(Some("A"), &path, &["A", "B"], true).is_empty());
        assert_eq!(enum_value(None, &path, &["A"], true)[0].kind, ErrorType::Required);
        assert!(enum_value(None, &path, &["A"], false).is_empty());
        assert_eq!(
            enum_value(Some("C"), &path, &["A", "B"], true)[0].message(),
            "spec.type: Unsupported value: \"C\": supported values: \"A\", \"B\""
        );
        assert_eq!(
            non_negative(-1, &path)[0].message(),
            "spec.type: Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn semantic_equality_ignores_empty_values() {
        assert!(semantic_eq(&j!({"a": [], "b": null, "c": 1}), &j!({"c": 1})));
        assert!(!semantic_eq(&j!({"c": 1}), &j!({"c": 2})));
        let errs = immutable(&j!("x"), &j!("y"), &FieldPath::new("spec").child("selector"));
        assert_eq!(errs[0].message(), "spec.selector: Invalid value: \"x\": field is immutable");
    }

    #[test]
    fn int_or_percent_rules() {
        let path = FieldPath::new("maxUnavailable");
        assert!(int_or_percent(&IntOrString::String("25%".into()), &path).is_empty());
        assert_eq!(int_or_percent(&IntOrString::String("25".into()), &path).len(), 1);
        assert_eq!(int_or_percent(&IntOrString::Int(-1), &path).len(), 1);
        assert_eq!(not_more_than_100_percent(&IntOrString::String("120%".into()), &path).len(), 1);
        assert_eq!(int_or_percent_value(&IntOrString::String("0%".into())), 0);
    }

    #[test]
    fn ips_and_cidrs() {
        let path = FieldPath::new("ip");
        assert!(ip_address("10.0.0.1", &path).is_empty());
        assert!(ip_address("2001:db8::1", &path).is_empty());
        assert_eq!(ip_address("10.0.0", &path).len(), 1);
        assert!(cidr("10.0.0.0/8", &path).is_empty());
        assert_eq!(cidr("10.0.0.0/33", &path).len(), 1);
        let outer = parse_cidr("10.0.0.0/8").unwrap_or((IpAddr::from([0, 0, 0, 0]), 0));
        let inner = parse_cidr("10.1.0.0/16").unwrap_or((IpAddr::from([0, 0, 0, 0]), 0));
        assert!(cidr_strict_subset(outer, inner));
        assert!(!cidr_strict_subset(inner, outer));
    }
}
