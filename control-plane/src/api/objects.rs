//! Small helpers over objects in their JSON form.

use serde_json::{json, Map, Value};

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Now plus some seconds.
pub fn now_plus(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now() + std::time::Duration::from_secs(secs)).to_string()
}

pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The suffix Kubernetes appends to `generateName`: five characters from an
/// alphabet without vowels or look-alikes.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5).map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char).collect()
}

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// The object's top-level map, turning anything else into an empty object.
pub fn as_map(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    match obj {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// `metadata`, created when missing (or replaced when not an object).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    as_map(as_map(obj).entry("metadata").or_insert_with(|| json!({})))
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str().filter(|s| !s.is_empty())
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}

/// The parts of an object that make up its "spec" for generation purposes:
/// everything except metadata and status.
pub fn spec_equal(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            o.remove("status");
        }
        v
    };
    strip(a) == strip(b)
}

/// Whether two versions of an object differ in anything a write would store,
/// ignoring resourceVersion and managed-field timestamps.
pub fn semantically_equal(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries.iter_mut() {
                    if let Some(e) = e.as_object_mut() {
                        e.remove("time");
                    }
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The object's metadata only, as `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}
