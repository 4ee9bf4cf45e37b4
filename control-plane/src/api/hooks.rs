//! What some kinds need beyond the generic verbs: status reset on create,
//! Service IP and port allocation, graceful pod deletion, namespace and CRD
//! life cycles.

use super::objects;
use super::status::{ApiError, ApiResult};
use super::ApiServer;
use crate::registry::ResourceType;
use serde_json::{json, Value};

fn is(rt: &ResourceType, group: &str, kind: &str) -> bool {
    !rt.is_custom() && rt.group == group && rt.kind == kind
}

/// Server-set state of a new object.
pub fn prepare_create(server: &ApiServer, rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    if rt.has_status {
        let status = match (rt.group.as_str(), rt.kind.as_str(), rt.is_custom()) {
            (_, _, true) => None,
            ("", "Namespace", _) => Some(json!({"phase": "Active"})),
            ("", "Pod", _) => Some(json!({"phase": "Pending"})),
            ("", "Service", _) => Some(json!({"loadBalancer": {}})),
            ("", "PersistentVolume" | "PersistentVolumeClaim", _) => Some(json!({"phase": "Pending"})),
            // Nodes register with their status; controllers report the rest.
            ("", "Node", _) => obj.get("status").cloned(),
            _ => None,
        };
        let map = objects::as_map(obj);
        match status {
            Some(s) => map.insert("status".into(), s),
            None => map.remove("status"),
        };
    }
    if is(rt, "", "Namespace") {
        let spec = objects::as_map(objects::as_map(obj).entry("spec").or_insert_with(|| json!({})));
        spec.entry("finalizers").or_insert_with(|| json!(["kubernetes"]));
    }
    if is(rt, "", "Pod") {
        add_default_tolerations(server, obj);
    }
    if is(rt, "", "Service") {
        crate::services::allocate(server, obj, None)
            .map_err(|errs| ApiError::invalid(rt, objects::name(obj), &errs))?;
    }
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crate::crd::prepare(rt, obj, None)?;
    }
    Ok(())
}

/// DefaultTolerationSeconds admission: a pod that does not say how long it
/// tolerates a not-ready or unreachable node gets the server's default, so
/// taint-based eviction moves it after that long.
fn add_default_tolerations(server: &ApiServer, pod: &mut Value) {
    let defaults = server.default_toleration_seconds;
    let wanted = [
        ("node.kubernetes.io/not-ready", defaults.not_ready),
        ("node.kubernetes.io/unreachable", defaults.unreachable),
    ];
    let spec = objects::as_map(objects::as_map(pod).entry("spec").or_insert_with(|| json!({})));
    let list = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = list.as_array_mut() else { return };
    for (key, seconds) in wanted {
        // Any toleration that already covers this key with NoExecute (or
        // every effect) is the pod's own choice.
        let covered = list.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
            (effect.is_empty() || effect == "NoExecute") && (k == key || (k.is_empty() && exists))
        });
        if !covered {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}));
        }
    }
}

/// Server-kept state on update.
pub fn prepare_update(server: &ApiServer, rt: &ResourceType, old: &Value, new: &mut Value) -> ApiResult<()> {
    if is(rt, "", "Service") {
        crate::services::allocate(server, new, Some(old))
            .map_err(|errs| ApiError::invalid(rt, objects::name(new), &errs))?;
    }
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crate::crd::prepare(rt, new, Some(old))?;
    }
    Ok(())
}

/// After a create or update is stored.
pub async fn after_write(server: &ApiServer, rt: &ResourceType, stored: &Value) {
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crate::crd::register(&server.registry, stored);
    }
}

/// After an object is gone from the store.
pub async fn after_delete(server: &ApiServer, rt: &ResourceType, last: &Value) {
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crate::crd::remove(server, last).await;
    }
}

/// Kinds a PUT may create (as in Kubernetes: endpoints and leases are
/// written by controllers that do not care whether they exist).
pub fn allow_create_on_update(rt: &ResourceType) -> bool {
    is(rt, "", "Endpoints") || is(rt, "coordination.k8s.io", "Lease")
}

/// Seconds to wait before an object is really removed. Non-zero only for
/// pods running on a node: the node agent finishes the deletion.
pub fn graceful_period(rt: &ResourceType, obj: &Value, requested: Option<i64>) -> i64 {
    if !is(rt, "", "Pod") {
        return 0;
    }
    let scheduled = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
    let finished = matches!(obj.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
    if !scheduled || finished {
        return 0;
    }
    requested
        .or_else(|| obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64))
        .unwrap_or(30)
        .max(0)
}

/// Whether something other than metadata.finalizers holds a deletion: a
/// namespace's spec.finalizers (its contents are deleted first).
pub fn deletion_blocked(rt: &ResourceType, obj: &Value) -> bool {
    is(rt, "", "Namespace") && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

/// Namespaces being deleted show phase Terminating.
pub fn mark_terminating(rt: &ResourceType, obj: &mut Value) {
    if is(rt, "", "Namespace") && objects::is_deleting(obj) {
        objects::as_map(obj).insert("status".into(), json!({"phase": "Terminating"}));
    }
}
