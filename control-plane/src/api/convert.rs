//! Serving one stored resource in more than one API version.
//!
//! Events are stored in their core/v1 form and served as events.k8s.io/v1
//! too; a CRD's versions share one stored form (conversion strategy None:
//! only apiVersion changes).

use crate::registry::ResourceType;
use serde_json::{Map, Value};

/// Field renames between core/v1 Event and events.k8s.io/v1 Event.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("message", "note"),
    ("involvedObject", "regarding"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

fn rename(obj: &Value, forward: bool, api_version: &str) -> Value {
    let Some(src) = obj.as_object() else { return obj.clone() };
    let mut out = Map::new();
    for (k, v) in src {
        let renamed = EVENT_FIELDS
            .iter()
            .find(|(core, new)| if forward { core == k } else { new == k })
            .map(|(core, new)| if forward { *new } else { *core });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    Value::Object(out)
}

/// Stored form -> the form served for `rt`.
pub fn to_view(rt: &ResourceType, stored: &Value) -> Value {
    if rt.group == "events.k8s.io" {
        let mut v = rename(stored, true, &rt.api_version());
        // events.k8s.io requires reportingController; old clients set only source.
        if v.get("reportingController").is_none() {
            if let Some(c) = stored.pointer("/source/component").cloned() {
                v["reportingController"] = c;
            }
        }
        return v;
    }
    if stored.get("apiVersion").and_then(Value::as_str) != Some(&rt.api_version()) && rt.is_custom() {
        let mut v = stored.clone();
        v["apiVersion"] = Value::String(rt.api_version());
        return v;
    }
    stored.clone()
}

/// The served form for `rt` -> stored form. `storage_api_version` is the
/// apiVersion objects are stored with (a CRD's storage version).
pub fn to_storage(rt: &ResourceType, view: Value, storage_api_version: &str) -> Value {
    if rt.group == "events.k8s.io" {
        return rename(&view, false, "v1");
    }
    if rt.is_custom() {
        let mut v = view;
        v["apiVersion"] = Value::String(storage_api_version.into());
        return v;
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn events_round_trip() {
        let reg = Registry::new();
        let rt = reg.find("events.k8s.io", "v1", "events").expect("events.k8s.io");
        let core =
            json!({"apiVersion": "v1", "kind": "Event", "message": "hi", "involvedObject": {"name": "p"}, "count": 2});
        let view = to_view(&rt, &core);
        assert_eq!(view["note"], "hi");
        assert_eq!(view["regarding"]["name"], "p");
        assert_eq!(view["apiVersion"], "events.k8s.io/v1");
        assert_eq!(to_storage(&rt, view, "v1"), core);
    }
}
