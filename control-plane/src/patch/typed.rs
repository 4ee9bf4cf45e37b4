//! Schema-aware operations behind server-side apply: merging an applied
//! configuration into an object, comparing two objects path by path, and
//! removing paths from an object.
//!
//! Granular lists (sets and map lists) are handled element by element;
//! atomic lists, scalars and empty containers are leaves.

use std::collections::{BTreeMap, BTreeSet};
use std::mem;

use serde_json::{Map, Value};

use super::fieldset::{item_element, list_type_of, path_to_string, FieldSet, PathElement};
use super::schema::{ListType, PatchSchema};
use super::values::{is_empty_container, values_equal};
use super::PatchError;

/// How two versions of an object differ, as sets of paths.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    /// Paths only in the new object (every node of an added subtree).
    pub added: FieldSet,
    /// Leaves present in both with different values.
    pub modified: FieldSet,
    /// Paths only in the old object (every node of a removed subtree).
    pub removed: FieldSet,
}

impl Comparison {
    /// Paths whose value the change sets: added or modified.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

/// Compares `old` with `new`. Nulls count as absent.
pub(crate) fn compare<S: PatchSchema>(old: &Value, new: &Value, schema: &S) -> Comparison {
    let mut comparison = Comparison::default();
    let mut path = Vec::new();
    compare_at(Some(old), Some(new), Some(schema), &mut path, &mut comparison);
    comparison
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// What two values at the same path are, taken together.
enum Shape {
    /// Objects (or absent), at least one with fields.
    Map,
    /// Granular lists (or absent), at least one with items.
    List(ListType),
    /// Compared as a whole.
    Leaf,
}

fn shape_of<S: PatchSchema>(lhs: Option<&Value>, rhs: Option<&Value>, schema: Option<&S>) -> Shape {
    let all = |test: fn(&Value) -> bool| lhs.is_none_or(test) && rhs.is_none_or(test);
    let both_empty = all(is_empty_container);
    if all(Value::is_object) && !both_empty {
        return Shape::Map;
    }
    match list_type_of(schema) {
        ListType::Atomic => Shape::Leaf,
        list_type if all(Value::is_array) && !both_empty => Shape::List(list_type),
        _ => Shape::Leaf,
    }
}

fn compare_at<S: PatchSchema>(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    schema: Option<&S>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let (lhs, rhs) = (present(lhs), present(rhs));
    if lhs.is_none() && rhs.is_none() {
        return;
    }
    match shape_of(lhs, rhs, schema) {
        Shape::Map => {
            compare_maps(lhs.and_then(Value::as_object), rhs.and_then(Value::as_object), schema, path, out);
            mark_presence(lhs, rhs, path, out);
        }
        Shape::List(list_type) => {
            compare_lists(lhs, rhs, &list_type, schema, path, out);
            mark_presence(lhs, rhs, path, out);
        }
        Shape::Leaf => {
            compare_leaf(lhs, rhs, path, out);
            // A container turned into something else: what was inside it is gone,
            // what is inside the new one is new.
            if lhs.is_some() && rhs.is_some() {
                compare_contents(lhs, None, schema, path, out);
                compare_contents(None, rhs, schema, path, out);
            }
        }
    }
}

/// Compares what is inside two values without looking at the values
/// themselves (used for the one-sided descent of a type change).
fn compare_contents<S: PatchSchema>(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    schema: Option<&S>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    match shape_of(lhs, rhs, schema) {
        Shape::Map => compare_maps(lhs.and_then(Value::as_object), rhs.and_then(Value::as_object), schema, path, out),
        Shape::List(list_type) => compare_lists(lhs, rhs, &list_type, schema, path, out),
        Shape::Leaf => {}
    }
}

fn mark_presence(lhs: Option<&Value>, rhs: Option<&Value>, path: &[PathElement], out: &mut Comparison) {
    if lhs.is_none() {
        out.added.insert(path);
    }
    if rhs.is_none() {
        out.removed.insert(path);
    }
}

fn compare_leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &[PathElement], out: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        (Some(a), Some(b)) if !values_equal(a, b) => out.modified.insert(path),
        _ => {}
    }
}

fn compare_maps<S: PatchSchema>(
    lhs: Option<&Map<String, Value>>,
    rhs: Option<&Map<String, Value>>,
    schema: Option<&S>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let lhs_keys = lhs.into_iter().flat_map(|m| m.keys());
    let rhs_only = rhs.into_iter().flat_map(|m| m.keys()).filter(|k| !lhs.is_some_and(|m| m.contains_key(*k)));
    let keys: Vec<&String> = lhs_keys.chain(rhs_only).collect();
    for key in keys {
        let child = schema.and_then(|s| s.field(key));
        path.push(PathElement::Field(key.clone()));
        compare_at(lhs.and_then(|m| m.get(key)), rhs.and_then(|m| m.get(key)), child.as_ref(), path, out);
        path.pop();
    }
}

/// The items of a granular list by path element, first occurrence winning.
fn index_items<'v>(list: Option<&'v Value>, list_type: &ListType) -> Vec<(PathElement, &'v Value)> {
    let items = list.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let element = item_element(list_type, index, item);
        if seen.insert(element.clone()) {
            out.push((element, item));
        }
    }
    out
}

fn compare_lists<S: PatchSchema>(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    list_type: &ListType,
    schema: Option<&S>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let item_schema = schema.and_then(|s| s.items());
    let left = index_items(lhs, list_type);
    let right = index_items(rhs, list_type);
    let right_by_key: BTreeMap<&PathElement, &Value> = right.iter().map(|(k, v)| (k, *v)).collect();
    let left_keys: BTreeSet<&PathElement> = left.iter().map(|(k, _)| k).collect();
    let pairs = left
        .iter()
        .map(|(key, item)| (key, Some(*item), right_by_key.get(key).copied()))
        .chain(right.iter().filter(|(key, _)| !left_keys.contains(key)).map(|(key, item)| (key, None, Some(*item))));
    for (key, l, r) in pairs {
        path.push(key.clone());
        if matches!(list_type, ListType::Set) {
            // Set elements are their own identity: only presence matters.
            compare_leaf(l, r, path, out);
        } else {
            compare_at(l, r, item_schema.as_ref(), path, out);
        }
        path.pop();
    }
}

/// Merges an applied configuration into `live`: objects merge per field,
/// granular lists per element, anything else is replaced by the applied
/// value. A null in the configuration removes the field.
pub(crate) fn merge<S: PatchSchema>(live: &Value, applied: &Value, schema: &S) -> Value {
    merge_value(live.clone(), applied, Some(schema))
}

fn merge_value<S: PatchSchema>(live: Value, applied: &Value, schema: Option<&S>) -> Value {
    let list_type = list_type_of(schema);
    match (live, applied) {
        (Value::Object(live), Value::Object(fields)) => Value::Object(merge_maps(live, fields, schema)),
        (Value::Array(live), Value::Array(items)) if !matches!(list_type, ListType::Atomic) => {
            let item_schema = schema.and_then(|s| s.items());
            Value::Array(merge_lists(live, items, &list_type, item_schema.as_ref()))
        }
        // Scalars, atomic lists and changes of type: the applied value wins.
        (_, applied) => without_nulls(applied),
    }
}

fn merge_maps<S: PatchSchema>(
    mut live: Map<String, Value>,
    applied: &Map<String, Value>,
    schema: Option<&S>,
) -> Map<String, Value> {
    for (key, value) in applied {
        if value.is_null() {
            live.shift_remove(key);
            continue;
        }
        let child = schema.and_then(|s| s.field(key));
        let merged = match live.get_mut(key) {
            Some(current) => merge_value(mem::take(current), value, child.as_ref()),
            None => without_nulls(value),
        };
        live.insert(key.clone(), merged);
    }
    live
}

/// A copy of `value` with null object fields dropped: in an object a null
/// means "absent".
pub(crate) fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Merges granular lists element by element. Order follows the applied
/// list for the elements it names, while live-only elements keep their
/// place (the structured-merge-diff ordering).
fn merge_lists<S: PatchSchema>(
    live: Vec<Value>,
    applied: &[Value],
    list_type: &ListType,
    item_schema: Option<&S>,
) -> Vec<Value> {
    let live_keys: Vec<PathElement> =
        live.iter().enumerate().map(|(index, item)| item_element(list_type, index, item)).collect();
    let mut live_at: BTreeMap<PathElement, usize> = BTreeMap::new();
    for (index, key) in live_keys.iter().enumerate() {
        live_at.entry(key.clone()).or_insert(index);
    }
    let mut applied_items: Vec<(PathElement, &Value)> = Vec::with_capacity(applied.len());
    let mut in_applied: BTreeSet<PathElement> = BTreeSet::new();
    for (index, item) in applied.iter().enumerate() {
        let key = item_element(list_type, index, item);
        if in_applied.insert(key.clone()) {
            applied_items.push((key, item));
        }
    }
    let shared: Vec<&PathElement> = applied_items.iter().map(|(k, _)| k).filter(|k| live_at.contains_key(*k)).collect();
    let mut live_items: Vec<Option<Value>> = live.into_iter().map(Some).collect();
    let merge_one = |live_items: &mut Vec<Option<Value>>, key: &PathElement, applied_item: &Value| {
        let current = live_at.get(key).and_then(|&index| live_items.get_mut(index)).and_then(Option::take);
        merge_item(current, applied_item, list_type, item_schema)
    };

    let mut out = Vec::with_capacity(live_keys.len().max(applied_items.len()));
    let mut emitted: BTreeSet<&PathElement> = BTreeSet::new();
    let mut next_shared = 0;
    let (mut i, mut j) = (0, 0);
    while i < live_keys.len() || j < applied_items.len() {
        let live_key = live_keys.get(i);
        if let (Some(key), Some((applied_key, item))) = (live_key, applied_items.get(j)) {
            if key == applied_key && !emitted.contains(key) {
                out.push(merge_one(&mut live_items, key, item));
                emitted.insert(key);
                next_shared += 1;
                i += 1;
                j += 1;
                continue;
            }
            // A shared element the applied list places later: emitted there.
            if in_applied.contains(key) && shared.get(next_shared).is_some_and(|s| *s != key) {
                i += 1;
                continue;
            }
        }
        if let Some(key) = live_key {
            if !in_applied.contains(key) {
                // Taken by position: live lists may repeat a key.
                if let Some(item) = live_items.get_mut(i).and_then(Option::take) {
                    out.push(item);
                }
                i += 1;
                continue;
            }
            if emitted.contains(key) {
                i += 1;
                continue;
            }
        }
        match applied_items.get(j) {
            Some((key, item)) => {
                out.push(merge_one(&mut live_items, key, item));
                emitted.insert(key);
                if shared.get(next_shared).is_some_and(|s| *s == key) {
                    next_shared += 1;
                }
                j += 1;
            }
            // Only live elements the applied list named remain, all emitted.
            None => i += 1,
        }
    }
    out
}

/// One element of a merged list: the applied element merged into the live
/// one it names, if any.
fn merge_item<S: PatchSchema>(
    current: Option<Value>,
    applied: &Value,
    list_type: &ListType,
    item_schema: Option<&S>,
) -> Value {
    match current {
        Some(current) if matches!(list_type, ListType::Map(_)) => merge_value(current, applied, item_schema),
        _ => without_nulls(applied),
    }
}

/// The paths of `last` nobody owns any more: neither the path nor anything
/// below it is in `owned`. These are what an applier gave up.
pub(crate) fn disowned(last: &FieldSet, owned: &FieldSet) -> FieldSet {
    let mut out = FieldSet::new();
    for path in last.path_elements() {
        if !touches_path(owned, &path) {
            out.insert(&path);
        }
    }
    out
}

fn touches_path(set: &FieldSet, path: &[PathElement]) -> bool {
    match path {
        [] => !set.is_empty(),
        [last] => set.touches(last),
        [first, rest @ ..] => set.child(first).is_some_and(|child| touches_path(child, rest)),
    }
}

/// Removes every path of `paths` from `value`. Objects and lists emptied by
/// the removal go too, as they only existed to hold what was removed, unless
/// `keep` names them (someone applied them, empty).
pub(crate) fn remove_paths<S: PatchSchema>(value: &mut Value, paths: &FieldSet, keep: &FieldSet, schema: &S) {
    remove_in(value, paths, Some(keep), Some(schema));
}

fn remove_in<S: PatchSchema>(value: &mut Value, paths: &FieldSet, keep: Option<&FieldSet>, schema: Option<&S>) {
    match value {
        Value::Object(map) => remove_from_map(map, paths, keep, schema),
        Value::Array(items) => {
            let list_type = list_type_of(schema);
            if !matches!(list_type, ListType::Atomic) {
                let item_schema = schema.and_then(|s| s.items());
                remove_from_list(items, paths, keep, &list_type, item_schema.as_ref());
            }
        }
        _ => {}
    }
}

fn remove_from_map<S: PatchSchema>(
    map: &mut Map<String, Value>,
    paths: &FieldSet,
    keep: Option<&FieldSet>,
    schema: Option<&S>,
) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let element = PathElement::Field(key.clone());
        if paths.has_member(&element) {
            map.shift_remove(&key);
            continue;
        }
        let (Some(below), Some(child)) = (paths.child(&element), map.get_mut(&key)) else {
            continue;
        };
        let was_empty = is_empty_container(child);
        let child_schema = schema.and_then(|s| s.field(&key));
        remove_in(child, below, keep.and_then(|k| k.child(&element)), child_schema.as_ref());
        let kept = keep.is_some_and(|k| k.has_member(&element));
        if !was_empty && !kept && is_empty_container(child) {
            map.shift_remove(&key);
        }
    }
}

fn remove_from_list<S: PatchSchema>(
    items: &mut Vec<Value>,
    paths: &FieldSet,
    keep: Option<&FieldSet>,
    list_type: &ListType,
    item_schema: Option<&S>,
) {
    let old = mem::take(items);
    for (index, mut item) in old.into_iter().enumerate() {
        let element = item_element(list_type, index, &item);
        if paths.has_member(&element) {
            continue;
        }
        if let Some(below) = paths.child(&element) {
            remove_in(&mut item, below, keep.and_then(|k| k.child(&element)), item_schema);
        }
        items.push(item);
    }
}

/// Checks an applied configuration: items of map lists must be objects
/// carrying at least one key field, and no list may name the same element
/// twice.
pub(crate) fn validate_applied<S: PatchSchema>(applied: &Value, schema: &S) -> Result<(), PatchError> {
    let mut path = Vec::new();
    validate_at(applied, Some(schema), &mut path)
}

fn validate_at<S: PatchSchema>(
    value: &Value,
    schema: Option<&S>,
    path: &mut Vec<PathElement>,
) -> Result<(), PatchError> {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_schema = schema.and_then(|s| s.field(key));
                path.push(PathElement::Field(key.clone()));
                validate_at(child, child_schema.as_ref(), path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Array(items) => validate_list(items, schema, path),
        _ => Ok(()),
    }
}

fn validate_list<S: PatchSchema>(
    items: &[Value],
    schema: Option<&S>,
    path: &mut Vec<PathElement>,
) -> Result<(), PatchError> {
    let list_type = list_type_of(schema);
    if matches!(list_type, ListType::Atomic) {
        return Ok(());
    }
    let item_schema = schema.and_then(|s| s.items());
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        let element = item_element(&list_type, index, item);
        if let (ListType::Map(keys), PathElement::Index(_)) = (&list_type, &element) {
            return Err(PatchError::invalid(format!(
                "{}: element {index} must be an object with at least one of the key fields {keys:?}",
                path_to_string(path)
            )));
        }
        if !seen.insert(element.clone()) {
            return Err(PatchError::invalid(format!("{}: duplicate entries for key {element}", path_to_string(path))));
        }
        if matches!(list_type, ListType::Map(_)) {
            path.push(element);
            validate_at(item, item_schema.as_ref(), path)?;
            path.pop();
        }
    }
    Ok(())
}

/// Fills in key fields an applied map-list element leaves out, from the one
/// live element that agrees with the key fields it does give. Kubernetes
/// gets these from schema defaults (`protocol: TCP` for container ports),
/// which this engine does not know; without it a port applied as
/// `{containerPort: 80}` would not match the live `{containerPort: 80,
/// protocol: TCP}`.
pub(crate) fn complete_keys_from_live<S: PatchSchema>(applied: &mut Value, live: &Value, schema: &S) {
    complete_at(applied, live, Some(schema));
}

fn complete_at<S: PatchSchema>(applied: &mut Value, live: &Value, schema: Option<&S>) {
    match (applied, live) {
        (Value::Object(applied), Value::Object(live)) => {
            for (key, child) in applied.iter_mut() {
                if let Some(live_child) = live.get(key) {
                    let child_schema = schema.and_then(|s| s.field(key));
                    complete_at(child, live_child, child_schema.as_ref());
                }
            }
        }
        (Value::Array(applied), Value::Array(live)) => {
            if let ListType::Map(keys) = list_type_of(schema) {
                let item_schema = schema.and_then(|s| s.items());
                complete_items(applied, live, &keys, item_schema.as_ref());
            }
        }
        _ => {}
    }
}

fn complete_items<S: PatchSchema>(applied: &mut [Value], live: &[Value], keys: &[String], item_schema: Option<&S>) {
    let list_type = ListType::Map(keys.to_vec());
    for item in applied.iter_mut() {
        let Value::Object(object) = item else {
            continue;
        };
        fill_missing_keys(object, live, keys);
        let element = item_element(&list_type, 0, item);
        let matching =
            live.iter().enumerate().find(|(index, candidate)| item_element(&list_type, *index, candidate) == element);
        if let Some((_, live_item)) = matching {
            complete_at(item, live_item, item_schema);
        }
    }
}

fn fill_missing_keys(object: &mut Map<String, Value>, live: &[Value], keys: &[String]) {
    let (given, missing): (Vec<&String>, Vec<&String>) = keys.iter().partition(|key| object.contains_key(*key));
    if given.is_empty() || missing.is_empty() {
        return;
    }
    let agrees = |candidate: &&Map<String, Value>| {
        given
            .iter()
            .all(|key| candidate.get(*key).is_some_and(|v| object.get(*key).is_some_and(|w| values_equal(v, w))))
    };
    let mut candidates = live.iter().filter_map(Value::as_object).filter(agrees);
    let (Some(only), None) = (candidates.next(), candidates.next()) else {
        return;
    };
    for key in missing {
        if let Some(value) = only.get(key) {
            object.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::test_schema::deployment;
    use serde_json::json;

    fn pod(containers: Value) -> Value {
        json!({"spec": {"template": {"spec": {"containers": containers}}}})
    }

    fn containers(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]["containers"]
    }

    fn paths(set: &FieldSet) -> Vec<String> {
        set.paths()
    }

    fn set_of(fields_v1: Value) -> FieldSet {
        FieldSet::from_fields_v1(&fields_v1).unwrap()
    }

    #[test]
    fn compare_scalars_and_maps() {
        let old = json!({"spec": {"replicas": 1, "paused": true, "selector": {"matchLabels": {"a": "1"}}}});
        let new = json!({"spec": {"replicas": 2, "selector": {"matchLabels": {"a": "1", "b": "2"}}}, "status": {"replicas": 1}});
        let c = compare(&old, &new, &deployment());
        assert_eq!(paths(&c.modified), [".spec.replicas"]);
        assert_eq!(paths(&c.added), [".spec.selector.matchLabels.b", ".status", ".status.replicas"]);
        assert_eq!(paths(&c.removed), [".spec.paused"]);
        assert_eq!(
            paths(&c.changed()),
            [".spec.replicas", ".spec.selector.matchLabels.b", ".status", ".status.replicas"]
        );
    }

    #[test]
    fn compare_equal_objects_is_empty() {
        let obj = pod(json!([{"name": "a", "ports": [{"containerPort": 80}]}]));
        let c = compare(&obj, &obj, &deployment());
        assert!(c.added.is_empty() && c.modified.is_empty() && c.removed.is_empty());
        let c = compare(&json!({"a": 1}), &json!({"a": 1.0}), &deployment());
        assert!(c.modified.is_empty());
    }

    #[test]
    fn compare_map_lists_per_element() {
        let old = pod(json!([{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]));
        let new = pod(json!([{"name": "b", "image": "2"}, {"name": "c"}]));
        let c = compare(&old, &new, &deployment());
        let list = ".spec.template.spec.containers";
        assert_eq!(paths(&c.modified), [format!("{list}[name=\"b\"].image")]);
        assert_eq!(paths(&c.added), [format!("{list}[name=\"c\"]"), format!("{list}[name=\"c\"].name")]);
        assert_eq!(
            paths(&c.removed),
            [format!("{list}[name=\"a\"]"), format!("{list}[name=\"a\"].image"), format!("{list}[name=\"a\"].name")]
        );
    }

    #[test]
    fn compare_sets_and_atomic_lists() {
        let old = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"template": {"spec": {"containers": [{"name": "x", "args": ["1"]}]}}}});
        let new = json!({"metadata": {"finalizers": ["b", "c"]}, "spec": {"template": {"spec": {"containers": [{"name": "x", "args": ["2"]}]}}}});
        let c = compare(&old, &new, &deployment());
        assert_eq!(paths(&c.added), [".metadata.finalizers[=\"c\"]"]);
        assert_eq!(paths(&c.removed), [".metadata.finalizers[=\"a\"]"]);
        assert_eq!(paths(&c.modified), [".spec.template.spec.containers[name=\"x\"].args"]);
    }

    #[test]
    fn compare_empty_containers_are_leaves_and_nulls_absent() {
        let c = compare(
            &json!({"spec": {"selector": {}}}),
            &json!({"spec": {"selector": {}, "paused": null}}),
            &deployment(),
        );
        assert!(c.added.is_empty() && c.modified.is_empty() && c.removed.is_empty());
        let c = compare(&json!({}), &json!({"metadata": {"finalizers": []}}), &deployment());
        assert_eq!(paths(&c.added), [".metadata", ".metadata.finalizers"]);
        let c = compare(&json!({"spec": {"selector": {}}}), &json!({}), &deployment());
        assert_eq!(paths(&c.removed), [".spec", ".spec.selector"]);
    }

    #[test]
    fn compare_type_change() {
        let c = compare(&json!({"spec": {"x": {"a": 1}}}), &json!({"spec": {"x": [1]}}), &deployment());
        assert_eq!(paths(&c.modified), [".spec.x"]);
        assert_eq!(paths(&c.removed), [".spec.x.a"]);
        assert!(c.added.is_empty());
        let c = compare(
            &json!({"metadata": {"finalizers": "a"}}),
            &json!({"metadata": {"finalizers": ["a"]}}),
            &deployment(),
        );
        assert_eq!(paths(&c.modified), [".metadata.finalizers"]);
        assert_eq!(paths(&c.added), [".metadata.finalizers[=\"a\"]"]);
    }

    #[test]
    fn merge_maps_and_nulls() {
        let live = json!({"spec": {"replicas": 1, "paused": true, "selector": {"matchLabels": {"a": "1"}}}});
        let applied =
            json!({"spec": {"paused": null, "selector": {"matchLabels": {"b": "2"}}, "new": {"x": null, "y": 1}}});
        let out = merge(&live, &applied, &deployment());
        assert_eq!(
            out,
            json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"a": "1", "b": "2"}}, "new": {"y": 1}}})
        );
    }

    #[test]
    fn merge_map_lists_by_key() {
        let live = pod(json!([{"name": "a", "image": "1", "args": ["x"]}, {"name": "b"}]));
        let applied = pod(json!([{"name": "a", "image": "2"}, {"name": "c"}]));
        let out = merge(&live, &applied, &deployment());
        assert_eq!(
            containers(&out),
            &json!([{"name": "a", "image": "2", "args": ["x"]}, {"name": "b"}, {"name": "c"}])
        );
    }

    #[test]
    fn merge_list_ordering() {
        let names = |v: &Value| -> Vec<String> {
            containers(v).as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
        };
        let live = pod(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let cases = [
            (json!([{"name": "c"}, {"name": "a"}]), vec!["b", "c", "a"]),
            (json!([{"name": "b"}]), vec!["a", "b", "c"]),
            (json!([{"name": "x"}, {"name": "c"}]), vec!["a", "b", "x", "c"]),
            (json!([{"name": "c"}, {"name": "b"}, {"name": "a"}]), vec!["c", "b", "a"]),
            (json!([]), vec!["a", "b", "c"]),
        ];
        for (applied, expected) in cases {
            assert_eq!(names(&merge(&live, &pod(applied.clone()), &deployment())), expected, "{applied}");
        }
    }

    #[test]
    fn merge_keeps_live_duplicates_it_does_not_touch() {
        let live = pod(json!([{"name": "a", "image": "1"}, {"name": "a", "image": "2"}, {"name": "b"}]));
        let out = merge(&live, &pod(json!([{"name": "b", "image": "x"}])), &deployment());
        assert_eq!(
            containers(&out),
            &json!([{"name": "a", "image": "1"}, {"name": "a", "image": "2"}, {"name": "b", "image": "x"}])
        );
        let out = merge(&live, &pod(json!([{"name": "a", "args": []}])), &deployment());
        assert_eq!(containers(&out), &json!([{"name": "a", "image": "1", "args": []}, {"name": "b"}]));
    }

    #[test]
    fn merge_sets_atomic_lists_and_type_changes() {
        let live = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"template": {"spec": {"containers": [{"name": "x", "args": ["1", "2"]}]}}, "replicas": {"odd": 1}}});
        let applied = json!({"metadata": {"finalizers": ["c", "a"]}, "spec": {"template": {"spec": {"containers": [{"name": "x", "args": ["3"]}]}}, "replicas": 2}});
        let out = merge(&live, &applied, &deployment());
        // "c" goes before the shared "a" that leads the applied list; "b" stays after "a".
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
        assert_eq!(containers(&out)[0]["args"], json!(["3"]));
        assert_eq!(out["spec"]["replicas"], 2);
    }

    #[test]
    fn disowned_keeps_what_others_touch() {
        let last = set_of(json!({"f:spec": {"f:replicas": {}, "f:paused": {},
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}}}}}}));
        let owned = set_of(json!({"f:spec": {"f:paused": {},
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:args": {}}}}}}}));
        assert_eq!(
            paths(&disowned(&last, &owned)),
            [".spec.replicas", ".spec.template.spec.containers[name=\"a\"].image"]
        );
        assert!(disowned(&last, &last).is_empty());
    }

    #[test]
    fn remove_paths_cleans_up_emptied_containers() {
        let mut obj = json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1"}},
            "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b"}]}}}});
        let doomed = set_of(
            json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}, "f:labels": {"f:x": {}}},
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}, "k:{\"name\":\"b\"}": {}}}}}}),
        );
        let keep = set_of(json!({"f:metadata": {"f:labels": {}}}));
        remove_paths(&mut obj, &doomed, &keep, &deployment());
        assert_eq!(
            obj,
            json!({"metadata": {"labels": {}}, "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a"}]}}}})
        );
    }

    #[test]
    fn remove_paths_leaves_atomic_lists_and_scalars_alone() {
        let mut obj = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["1"]}]}}}, "x": 1});
        let before = obj.clone();
        let doomed = set_of(
            json!({"f:x": {"f:y": {}}, "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {"f:args": {"i:0": {}}}}}}}}),
        );
        remove_paths(&mut obj, &doomed, &FieldSet::new(), &deployment());
        assert_eq!(obj, before);
    }

    #[test]
    fn validation() {
        let schema = deployment();
        assert!(validate_applied(&pod(json!([{"name": "a"}, {"name": "b"}])), &schema).is_ok());
        assert!(validate_applied(&json!({"spec": {"custom": [1, 1]}}), &schema).is_ok());
        let err = validate_applied(
            &pod(json!([{"name": "a", "ports": [{"containerPort": 1}, {"containerPort": 1.0}]}])),
            &schema,
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("containers[name=\"a\"].ports: duplicate entries for key [containerPort=1"));
    }

    #[test]
    fn complete_keys_only_from_a_unique_match() {
        let schema = deployment();
        let live = pod(
            json!([{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53, "protocol": "TCP"}]}]),
        );
        let mut applied = pod(
            json!([{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 53}, {"protocol": "UDP", "containerPort": 9}]}]),
        );
        complete_keys_from_live(&mut applied, &live, &schema);
        assert_eq!(
            containers(&applied)[0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53}, {"protocol": "UDP", "containerPort": 9}])
        );
    }

    #[test]
    fn without_nulls_is_recursive() {
        assert_eq!(
            without_nulls(&json!({"a": null, "b": [{"c": null, "d": 1}, null]})),
            json!({"b": [{"d": 1}, null]})
        );
    }
}
