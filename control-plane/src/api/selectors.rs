//! Label and field selectors (`?labelSelector=`, `?fieldSelector=`).

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

fn split_top_level(s: &str) -> Vec<&str> {
    // Commas inside "(...)" belong to a set.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set, found {rest:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

fn check_key(k: &str) -> Result<String, String> {
    let k = k.trim();
    if k.is_empty() || k.contains(char::is_whitespace) {
        return Err(format!("invalid label key {k:?}"));
    }
    Ok(k.to_string())
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let words: Vec<&str> = part.split_whitespace().collect();
            if words.len() >= 2 && (words[1] == "in" || words[1] == "notin") {
                let key = check_key(words[0])?;
                let idx = part.find(words[1]).unwrap_or(0) + words[1].len();
                let set = parse_set(&part[idx..])?;
                reqs.push(if words[1] == "in" { Requirement::In(key, set) } else { Requirement::NotIn(key, set) });
            } else if let Some((k, v)) = part.split_once("!=") {
                reqs.push(Requirement::NotEquals(check_key(k)?, v.trim().to_string()));
            } else if let Some((k, v)) = part.split_once("==") {
                reqs.push(Requirement::Equals(check_key(k)?, v.trim().to_string()));
            } else if let Some((k, v)) = part.split_once('=') {
                reqs.push(Requirement::Equals(check_key(k)?, v.trim().to_string()));
            } else if let Some(k) = part.strip_prefix('!') {
                reqs.push(Requirement::NotExists(check_key(k)?));
            } else {
                reqs.push(Requirement::Exists(check_key(part)?));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// A selector from a `metav1.LabelSelector` object (matchLabels and
    /// matchExpressions).
    pub fn from_object(sel: &Value) -> Self {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement::Equals(k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => reqs.push(Requirement::In(key, values)),
                Some("NotIn") => reqs.push(Requirement::NotIn(key, values)),
                Some("Exists") => reqs.push(Requirement::Exists(key)),
                Some("DoesNotExist") => reqs.push(Requirement::NotExists(key)),
                _ => {}
            }
        }
        LabelSelector(reqs)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// One `field=value` / `field!=value` term, with the path it reads split
/// once at parse time (matching runs per object per watcher).
#[derive(Debug, Clone, PartialEq)]
struct Term {
    field: String,
    path: Vec<&'static str>,
    negated: bool,
    value: String,
}

/// A field selector: terms, all required.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<Term>);

impl FieldSelector {
    /// Parse and check every field is one this kind supports.
    pub fn parse(s: &str, group: &str, kind: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, neg, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, false, v)
            } else {
                return Err(format!("invalid selector: '{s}'; can't understand '{part}'"));
            };
            let field = field.trim();
            let Some(ptr) = field_pointer(group, kind, field) else {
                return Err(format!("field label not supported: {field}"));
            };
            let path = ptr.split('/').filter(|p| !p.is_empty()).collect();
            terms.push(Term { field: field.to_string(), path, negated: neg, value: value.trim().to_string() });
        }
        Ok(FieldSelector(terms))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|t| (field_value(t, obj) == t.value) != t.negated)
    }

    /// The name an equality term on `metadata.name` requires, if any (lets
    /// a watcher reject other objects by their key alone).
    pub fn required_name(&self) -> Option<&str> {
        self.0.iter().find(|t| t.field == "metadata.name" && !t.negated).map(|t| t.value.as_str())
    }
}

/// The JSON pointer a selectable field reads, per kind (as Kubernetes'
/// field label conversion functions allow).
fn field_pointer(group: &str, kind: &str, field: &str) -> Option<&'static str> {
    let common = match field {
        "metadata.name" => Some("/metadata/name"),
        "metadata.namespace" => Some("/metadata/namespace"),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match (group, kind, field) {
        ("", "Pod", "spec.nodeName") => Some("/spec/nodeName"),
        ("", "Pod", "spec.restartPolicy") => Some("/spec/restartPolicy"),
        ("", "Pod", "spec.schedulerName") => Some("/spec/schedulerName"),
        ("", "Pod", "spec.serviceAccountName") => Some("/spec/serviceAccountName"),
        ("", "Pod", "spec.hostNetwork") => Some("/spec/hostNetwork"),
        ("", "Pod", "status.phase") => Some("/status/phase"),
        ("", "Pod", "status.podIP") => Some("/status/podIP"),
        ("", "Pod", "status.nominatedNodeName") => Some("/status/nominatedNodeName"),
        ("", "Event", "involvedObject.kind") => Some("/involvedObject/kind"),
        ("", "Event", "involvedObject.namespace") => Some("/involvedObject/namespace"),
        ("", "Event", "involvedObject.name") => Some("/involvedObject/name"),
        ("", "Event", "involvedObject.uid") => Some("/involvedObject/uid"),
        ("", "Event", "involvedObject.apiVersion") => Some("/involvedObject/apiVersion"),
        ("", "Event", "involvedObject.resourceVersion") => Some("/involvedObject/resourceVersion"),
        ("", "Event", "involvedObject.fieldPath") => Some("/involvedObject/fieldPath"),
        ("", "Event", "reason") => Some("/reason"),
        ("", "Event", "reportingComponent") => Some("/reportingComponent"),
        ("", "Event", "source") => Some("/source/component"),
        ("", "Event", "type") => Some("/type"),
        ("events.k8s.io", "Event", "regarding.kind") => Some("/involvedObject/kind"),
        ("events.k8s.io", "Event", "regarding.name") => Some("/involvedObject/name"),
        ("events.k8s.io", "Event", "regarding.namespace") => Some("/involvedObject/namespace"),
        ("events.k8s.io", "Event", "regarding.uid") => Some("/involvedObject/uid"),
        ("events.k8s.io", "Event", "reason") => Some("/reason"),
        ("events.k8s.io", "Event", "type") => Some("/type"),
        ("", "Secret", "type") => Some("/type"),
        ("", "Node", "spec.unschedulable") => Some("/spec/unschedulable"),
        ("", "Namespace", "status.phase") => Some("/status/phase"),
        ("", "ReplicationController", "status.replicas") => Some("/status/replicas"),
        ("apps", "ReplicaSet", "status.replicas") => Some("/status/replicas"),
        ("batch", "Job", "status.successful") => Some("/status/succeeded"),
        _ => None,
    }
}

/// The value a field selector compares against, rendered as Kubernetes does
/// (missing fields are "", booleans "true"/"false", numbers in decimal).
/// Event fields are read from the stored core/v1 form.
fn field_value(term: &Term, obj: &Value) -> String {
    let mut cur = Some(obj);
    for seg in &term.path {
        cur = cur.and_then(|v| v.get(seg));
    }
    match cur {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Null) | None => match term.path.as_slice() {
            ["spec", "unschedulable" | "hostNetwork"] => "false".into(),
            ["status", "replicas" | "succeeded"] => "0".into(),
            _ => String::new(),
        },
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_forms() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (web, api)", true),
            ("tier notin (front)", false),
            ("app,!missing", true),
            ("missing", false),
            ("app in (api),tier", false),
        ] {
            assert_eq!(LabelSelector::parse(sel).expect(sel).matches(&o), want, "{sel}");
        }
        assert!(LabelSelector::parse("app in web").is_err());
    }

    #[test]
    fn field_selector_forms() {
        let pod = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Pending", "", "Pod").expect("parse");
        assert!(s.matches(&pod));
        let s = FieldSelector::parse("spec.nodeName=", "", "Pod").expect("parse");
        assert!(!s.matches(&pod));
        assert_eq!(FieldSelector::parse("spec.foo=1", "", "Pod").unwrap_err(), "field label not supported: spec.foo");
    }

    #[test]
    fn selector_object() {
        let sel = json!({"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]});
        let s = LabelSelector::from_object(&sel);
        assert!(s.matches(&json!({"metadata": {"labels": {"app": "a", "env": "prod"}}})));
        assert!(!s.matches(&json!({"metadata": {"labels": {"app": "a"}}})));
    }
}
