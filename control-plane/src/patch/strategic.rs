//! Kubernetes strategic merge patch.
//!
//! Like JSON merge patch (objects merge key by key, `null` deletes a key) but
//! lists whose schema has patch strategy `merge` are merged instead of
//! replaced: lists of objects by their merge key, lists of scalars as a set
//! union. Directives in the patch refine this:
//!
//! - `$patch: replace` in an object replaces the object; as a list element it
//!   replaces the list. `$patch: delete` in an object empties it; as a list
//!   element (with the merge key) it deletes the matching element.
//!   `$patch: merge` is the default and is accepted as a no-op.
//! - `$retainKeys: [..]` drops every key of the object not in the list.
//! - `$deleteFromPrimitiveList/<field>: [..]` removes those scalars from the
//!   list `<field>`.
//! - `$setElementOrder/<field>: [..]` gives the order of the list `<field>`
//!   after the merge (elements the patch does not mention keep their place
//!   relative to the others, as in the live object).
//!
//! Where the schema does not know a field, merging goes on as plain JSON merge
//! patch (lists replaced), still honouring directives.

use std::collections::BTreeSet;
use std::mem;

use serde_json::{Map, Value};

use super::schema::PatchSchema;
use super::values::{kind_of, values_equal};
use super::PatchError;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

type Object = Map<String, Value>;

/// Applies a strategic merge patch to `doc` using `schema` for list
/// semantics. `doc` must be an object (or null, treated as `{}`); the patch
/// must be an object.
pub fn strategic_merge_patch<S: PatchSchema>(doc: &Value, patch: &Value, schema: &S) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::invalid(format!(
            "strategic merge patch must be a JSON object, got {}",
            kind_of(patch)
        )));
    };
    let original = match doc {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(PatchError::invalid(format!(
                "cannot apply a strategic merge patch to {}: the document must be an object",
                kind_of(other)
            )))
        }
    };
    Ok(Value::Object(merge_object(original, patch, Some(schema), &Location::root())?))
}

/// Where in the document we are, for error messages.
struct Location(String);

impl Location {
    fn root() -> Self {
        Location(String::new())
    }

    fn field(&self, name: &str) -> Self {
        Location(format!("{}.{}", self.0, name))
    }

    fn element(&self, key: &str, value: &Value) -> Self {
        Location(format!("{}[{}={}]", self.0, key, value))
    }

    fn index(&self, index: usize) -> Self {
        Location(format!("{}[{}]", self.0, index))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("the top level")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// A `$patch` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Replace,
    Delete,
    Merge,
}

fn directive_of(object: &Object, at: &Location) -> Result<Option<Directive>, PatchError> {
    match object.get(DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(s)) if s == "replace" => Ok(Some(Directive::Replace)),
        Some(Value::String(s)) if s == "delete" => Ok(Some(Directive::Delete)),
        Some(Value::String(s)) if s == "merge" => Ok(Some(Directive::Merge)),
        Some(other) => Err(PatchError::invalid(format!(
            "unknown $patch directive {other} at {at}: expected \"replace\", \"delete\" or \"merge\""
        ))),
    }
}

fn element_directive(element: &Value, at: &Location) -> Result<Option<Directive>, PatchError> {
    match element {
        Value::Object(object) => directive_of(object, at),
        _ => Ok(None),
    }
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        || key.starts_with(SET_ELEMENT_ORDER)
}

/// The field named by a `<prefix>/<field>` directive key, `None` when `key`
/// is not such a directive.
fn directive_field<'k>(key: &'k str, prefix: &str, at: &Location) -> Result<Option<&'k str>, PatchError> {
    let Some(rest) = key.strip_prefix(prefix) else {
        return Ok(None);
    };
    match rest.strip_prefix('/') {
        Some(field) if !field.is_empty() => Ok(Some(field)),
        _ => Err(PatchError::invalid(format!("malformed directive {key:?} at {at}: expected \"{prefix}/<field>\""))),
    }
}

/// Merges `patch` into `original` (an object of the shape `schema`).
fn merge_object<S: PatchSchema>(
    mut original: Object,
    patch: &Object,
    schema: Option<&S>,
    at: &Location,
) -> Result<Object, PatchError> {
    match directive_of(patch, at)? {
        Some(Directive::Delete) => return Ok(Map::new()),
        Some(Directive::Replace) => original = Map::new(),
        Some(Directive::Merge) | None => {}
    }
    apply_retain_keys(&mut original, patch, at)?;
    let ordered = apply_element_orders(&mut original, patch, schema, at)?;
    apply_primitive_deletions(&mut original, patch, at)?;
    for (key, value) in patch {
        if is_directive_key(key) || ordered.contains(key.as_str()) {
            continue;
        }
        let child = schema.and_then(|s| s.field(key));
        merge_field(&mut original, key, value, child.as_ref(), &at.field(key))?;
    }
    Ok(original)
}

fn merge_field<S: PatchSchema>(
    target: &mut Object,
    key: &str,
    patch: &Value,
    schema: Option<&S>,
    at: &Location,
) -> Result<(), PatchError> {
    if patch.is_null() {
        target.shift_remove(key);
        return Ok(());
    }
    let merged = match target.get_mut(key) {
        Some(current) => merge_value(mem::take(current), patch, schema, at)?,
        None => materialize(patch, schema, at)?,
    };
    target.insert(key.to_string(), merged);
    Ok(())
}

fn merge_value<S: PatchSchema>(
    current: Value,
    patch: &Value,
    schema: Option<&S>,
    at: &Location,
) -> Result<Value, PatchError> {
    match (current, patch) {
        (Value::Object(current), Value::Object(patch)) => Ok(Value::Object(merge_object(current, patch, schema, at)?)),
        (Value::Array(current), Value::Array(patch)) => Ok(Value::Array(merge_list(current, patch, schema, at)?)),
        // A change of type replaces the value.
        (_, patch) => materialize(patch, schema, at),
    }
}

/// The value a patch fragment stands for when there is nothing to merge it
/// into: directives are resolved and nulls dropped.
fn materialize<S: PatchSchema>(patch: &Value, schema: Option<&S>, at: &Location) -> Result<Value, PatchError> {
    match patch {
        Value::Object(patch) => Ok(Value::Object(merge_object(Map::new(), patch, schema, at)?)),
        Value::Array(patch) => Ok(Value::Array(merge_list(Vec::new(), patch, schema, at)?)),
        other => Ok(other.clone()),
    }
}

fn apply_retain_keys(original: &mut Object, patch: &Object, at: &Location) -> Result<(), PatchError> {
    let Some(list) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(list) = list else {
        return Err(PatchError::invalid(format!("$retainKeys at {at} must be a list of field names")));
    };
    let mut retained = BTreeSet::new();
    for name in list {
        let Value::String(name) = name else {
            return Err(PatchError::invalid(format!("$retainKeys at {at} must hold field names, got {name}")));
        };
        retained.insert(name.as_str());
    }
    // The patch may only set fields it also retains, or it would contradict itself.
    for (key, value) in patch {
        if !value.is_null() && !is_directive_key(key) && !retained.contains(key.as_str()) {
            return Err(PatchError::invalid(format!(
                "the patch sets field {key:?} at {at} but its $retainKeys list does not include it"
            )));
        }
    }
    original.retain(|key, _| retained.contains(key.as_str()));
    Ok(())
}

fn apply_primitive_deletions(original: &mut Object, patch: &Object, at: &Location) -> Result<(), PatchError> {
    for (key, value) in patch {
        let Some(field) = directive_field(key, DELETE_FROM_PRIMITIVE_LIST, at)? else {
            continue;
        };
        let Value::Array(doomed) = value else {
            return Err(PatchError::invalid(format!("{key} at {at} must be a list, got {}", kind_of(value))));
        };
        if let Some(Value::Array(items)) = original.get_mut(field) {
            items.retain(|item| !doomed.iter().any(|d| values_equal(d, item)));
        }
    }
    Ok(())
}

/// Processes every `$setElementOrder/<field>` directive: merges the patch's
/// list for that field and puts the result in the requested order. Returns
/// the fields so handled, which the caller must not merge again.
fn apply_element_orders<S: PatchSchema>(
    original: &mut Object,
    patch: &Object,
    schema: Option<&S>,
    at: &Location,
) -> Result<BTreeSet<String>, PatchError> {
    let mut handled = BTreeSet::new();
    for (key, order) in patch {
        let Some(field) = directive_field(key, SET_ELEMENT_ORDER, at)? else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(PatchError::invalid(format!("{key} at {at} must be a list, got {}", kind_of(order))));
        };
        let field_schema = schema.and_then(|s| s.field(field));
        if apply_element_order(original, patch, field, order, field_schema.as_ref(), &at.field(field))? {
            handled.insert(field.to_string());
        }
    }
    Ok(handled)
}

fn apply_element_order<S: PatchSchema>(
    original: &mut Object,
    patch: &Object,
    field: &str,
    order: &[Value],
    schema: Option<&S>,
    at: &Location,
) -> Result<bool, PatchError> {
    let patch_list = match patch.get(field) {
        None => None,
        Some(Value::Array(list)) => Some(list),
        Some(other) => {
            return Err(PatchError::invalid(format!(
                "{at} must be a list to be ordered by $setElementOrder, got {}",
                kind_of(other)
            )))
        }
    };
    let current = match original.get_mut(field) {
        Some(Value::Array(items)) => Some(mem::take(items)),
        _ => None,
    };
    let merge_key = schema.and_then(|s| s.patch_merge_key());
    let keyer = ItemKey::new(merge_key.as_deref());
    let order_keys = keyer.order_keys(order, at)?;
    if let Some(list) = patch_list {
        check_patch_follows_order(list, &order_keys, &keyer, at)?;
    }
    let server_order: Vec<Value> = current.iter().flatten().filter_map(|item| keyer.key(item).cloned()).collect();
    let merged = match (current, patch_list) {
        (None, None) => return Ok(false),
        (Some(items), None) => items,
        (current, Some(list)) => merge_list(current.unwrap_or_default(), list, schema, at)?,
    };
    let (in_order, server_only) = partition(merged, &order_keys, &keyer);
    let order_refs: Vec<&Value> = order_keys.iter().collect();
    let server_refs: Vec<&Value> = server_order.iter().collect();
    let sorted = normalize_order(in_order, server_only, &order_refs, &server_refs, &keyer);
    original.insert(field.to_string(), Value::Array(sorted));
    Ok(true)
}

/// The elements the patch lists must appear in the same relative order in
/// the `$setElementOrder` list, or the two contradict each other.
fn check_patch_follows_order(
    patch_list: &[Value],
    order_keys: &[Value],
    keyer: &ItemKey,
    at: &Location,
) -> Result<(), PatchError> {
    let mut pending = patch_list.iter().filter(|item| !is_directive_element(item)).filter_map(|item| keyer.key(item));
    let mut next = pending.next();
    for key in order_keys {
        if next.is_some_and(|wanted| values_equal(wanted, key)) {
            next = pending.next();
        }
    }
    match next {
        None => Ok(()),
        Some(key) => Err(PatchError::invalid(format!(
            "the list at {at} does not match its $setElementOrder list: element {key} is missing from it or out of order"
        ))),
    }
}

fn is_directive_element(element: &Value) -> bool {
    element.as_object().is_some_and(|object| object.contains_key(DIRECTIVE))
}

/// How list elements are identified: by their merge key, or whole.
enum ItemKey<'k> {
    Whole,
    Field(&'k str),
}

impl<'k> ItemKey<'k> {
    fn new(merge_key: Option<&'k str>) -> Self {
        merge_key.map_or(ItemKey::Whole, ItemKey::Field)
    }

    fn key<'v>(&self, item: &'v Value) -> Option<&'v Value> {
        match self {
            ItemKey::Whole => Some(item),
            ItemKey::Field(name) => item.as_object().and_then(|object| object.get(*name)),
        }
    }

    /// The keys of a `$setElementOrder` list; with a merge key every element
    /// must be an object carrying it.
    fn order_keys(&self, order: &[Value], at: &Location) -> Result<Vec<Value>, PatchError> {
        order
            .iter()
            .enumerate()
            .map(|(index, element)| {
                self.key(element).cloned().ok_or_else(|| {
                    PatchError::invalid(format!(
                        "element {index} of the $setElementOrder list for {at} must be an object with the merge key {:?}",
                        match self {
                            ItemKey::Field(name) => *name,
                            ItemKey::Whole => "",
                        }
                    ))
                })
            })
            .collect()
    }
}

fn position(keys: &[&Value], key: Option<&Value>) -> Option<usize> {
    let key = key?;
    keys.iter().position(|candidate| values_equal(candidate, key))
}

/// Splits `items` into those whose key is in `keys` and the others, keeping
/// their relative order.
fn partition(items: Vec<Value>, keys: &[Value], keyer: &ItemKey) -> (Vec<Value>, Vec<Value>) {
    items.into_iter().partition(|item| keyer.key(item).is_some_and(|key| keys.iter().any(|k| values_equal(k, key))))
}

/// Orders a merged list: `patch_items` follow `patch_order`, `server_only`
/// items follow `server_order`, and the two are interleaved so that each
/// server-only item stays before the patch items that followed it in the
/// live list. Patch items the live list did not have come first, as in
/// Kubernetes.
fn normalize_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[&Value],
    server_order: &[&Value],
    keyer: &ItemKey,
) -> Vec<Value> {
    let patch_items = sort_by_position(patch_items, patch_order, keyer);
    let server_only = sort_by_position(server_only, server_order, keyer);
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().map(|item| (position(server_order, keyer.key(&item)), item)).peekable();
    let mut right = patch_items.into_iter().map(|item| (position(server_order, keyer.key(&item)), item)).peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some((Some(l), _)), Some((Some(r), _))) => l < r,
            (Some(_), Some(_)) => false,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some((_, item)) = next {
            out.push(item);
        }
    }
    out
}

/// Stable sort by position in `order`; items not in it go last.
fn sort_by_position(items: Vec<Value>, order: &[&Value], keyer: &ItemKey) -> Vec<Value> {
    let mut keyed: Vec<(usize, Value)> =
        items.into_iter().map(|item| (position(order, keyer.key(&item)).unwrap_or(usize::MAX), item)).collect();
    keyed.sort_by_key(|(pos, _)| *pos);
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// Merges a patch list into the current list according to the schema's
/// patch strategy.
fn merge_list<S: PatchSchema>(
    current: Vec<Value>,
    patch: &[Value],
    schema: Option<&S>,
    at: &Location,
) -> Result<Vec<Value>, PatchError> {
    let item_schema = schema.and_then(|s| s.items());
    if !schema.is_some_and(|s| s.patch_strategy_merge()) {
        return replace_list(patch, item_schema.as_ref(), at);
    }
    if current.is_empty() && patch.is_empty() {
        return Ok(current);
    }
    let merge_key = schema.and_then(|s| s.patch_merge_key());
    if holds_objects(&current, patch, merge_key.is_some(), at)? {
        let Some(merge_key) = merge_key else {
            return Err(PatchError::invalid(format!(
                "cannot merge the list of objects at {at}: its schema gives no merge key"
            )));
        };
        merge_object_list(current, patch, &merge_key, item_schema.as_ref(), at)
    } else {
        merge_scalar_list(current, patch, at)
    }
}

/// A list without merge strategy is replaced by the patch's list. Directive
/// elements mean nothing there and are dropped.
fn replace_list<S: PatchSchema>(
    patch: &[Value],
    item_schema: Option<&S>,
    at: &Location,
) -> Result<Vec<Value>, PatchError> {
    patch
        .iter()
        .enumerate()
        .filter(|(_, element)| !is_directive_element(element))
        .map(|(index, element)| materialize(element, item_schema, &at.index(index)))
        .collect()
}

/// Whether a merged list holds objects (else scalars). Directive elements do
/// not count; all other elements must agree, and lists of lists are refused.
fn holds_objects(current: &[Value], patch: &[Value], default: bool, at: &Location) -> Result<bool, PatchError> {
    let mut kind = None;
    for element in current.iter().chain(patch.iter()).filter(|element| !is_directive_element(element)) {
        if element.is_array() {
            return Err(PatchError::invalid(format!(
                "cannot merge the list at {at}: lists of lists are not supported"
            )));
        }
        match kind {
            None => kind = Some(element.is_object()),
            Some(objects) if objects != element.is_object() => {
                return Err(PatchError::invalid(format!(
                    "cannot merge the list at {at}: its elements mix objects and scalars"
                )))
            }
            Some(_) => {}
        }
    }
    Ok(kind.unwrap_or(default))
}

/// Set union of scalars, keeping the first occurrence of each value.
fn merge_scalar_list(current: Vec<Value>, patch: &[Value], at: &Location) -> Result<Vec<Value>, PatchError> {
    let mut replace = false;
    let mut additions = Vec::new();
    for element in patch {
        match element_directive(element, at)? {
            Some(Directive::Replace) => replace = true,
            Some(Directive::Merge) => {}
            Some(Directive::Delete) => {
                return Err(PatchError::invalid(format!(
                    "$patch: delete cannot be used in the list of scalars at {at}; use $deleteFromPrimitiveList"
                )))
            }
            None => additions.push(element.clone()),
        }
    }
    let base = if replace { Vec::new() } else { current };
    let server_order = base.clone();
    let mut merged: Vec<Value> = Vec::with_capacity(base.len() + additions.len());
    for item in base.into_iter().chain(additions.iter().cloned()) {
        if !merged.iter().any(|seen| values_equal(seen, &item)) {
            merged.push(item);
        }
    }
    let (from_patch, server_only) = partition(merged, &additions, &ItemKey::Whole);
    let patch_order: Vec<&Value> = additions.iter().collect();
    let server_refs: Vec<&Value> = server_order.iter().collect();
    Ok(normalize_order(from_patch, server_only, &patch_order, &server_refs, &ItemKey::Whole))
}

/// Merges lists of objects by `merge_key`, honouring `$patch` elements.
fn merge_object_list<S: PatchSchema>(
    current: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    item_schema: Option<&S>,
    at: &Location,
) -> Result<Vec<Value>, PatchError> {
    let mut items = current;
    let mut replace = false;
    let mut regular = Vec::new();
    for (index, element) in patch.iter().enumerate() {
        let Value::Object(object) = element else {
            return Err(PatchError::invalid(format!(
                "element {index} of the list at {at} must be an object, got {}",
                kind_of(element)
            )));
        };
        match directive_of(object, at)? {
            Some(Directive::Delete) => {
                let key = required_key(object, merge_key, index, at)?;
                items.retain(|item| !ItemKey::Field(merge_key).key(item).is_some_and(|k| values_equal(k, key)));
            }
            Some(Directive::Replace) => replace = true,
            // A bare `{"$patch": "merge"}` marks the default and carries nothing.
            Some(Directive::Merge) if object.len() == 1 => {}
            Some(Directive::Merge) | None => regular.push((index, object)),
        }
    }
    if replace {
        items.clear();
    }
    let keyer = ItemKey::Field(merge_key);
    let server_order: Vec<Value> = items.iter().filter_map(|item| keyer.key(item).cloned()).collect();
    let mut patch_order = Vec::with_capacity(regular.len());
    for (index, object) in regular {
        let key = required_key(object, merge_key, index, at)?;
        let item_at = at.element(merge_key, key);
        merge_into_list(&mut items, object, key, &keyer, item_schema, &item_at)?;
        patch_order.push(key.clone());
    }
    let (from_patch, server_only) = partition(items, &patch_order, &keyer);
    let patch_refs: Vec<&Value> = patch_order.iter().collect();
    let server_refs: Vec<&Value> = server_order.iter().collect();
    Ok(normalize_order(from_patch, server_only, &patch_refs, &server_refs, &keyer))
}

fn required_key<'o>(object: &'o Object, merge_key: &str, index: usize, at: &Location) -> Result<&'o Value, PatchError> {
    object.get(merge_key).ok_or_else(|| {
        PatchError::invalid(format!("element {index} of the list at {at} has no value for the merge key {merge_key:?}"))
    })
}

/// Merges one patch element into the element of `items` with the same key,
/// or appends it.
fn merge_into_list<S: PatchSchema>(
    items: &mut Vec<Value>,
    patch: &Object,
    key: &Value,
    keyer: &ItemKey,
    item_schema: Option<&S>,
    at: &Location,
) -> Result<(), PatchError> {
    let existing = items.iter_mut().find(|item| keyer.key(item).is_some_and(|k| values_equal(k, key)));
    match existing {
        Some(item) => {
            let current = match mem::take(item) {
                Value::Object(object) => object,
                _ => Map::new(),
            };
            *item = Value::Object(merge_object(current, patch, item_schema, at)?);
        }
        None => items.push(Value::Object(merge_object(Map::new(), patch, item_schema, at)?)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::schema::Unknown;
    use crate::patch::test_schema::{deployment, Node};
    use serde_json::json;

    fn smp(doc: Value, patch: Value) -> Value {
        strategic_merge_patch(&doc, &patch, &deployment()).unwrap()
    }

    fn smp_err(doc: Value, patch: Value) -> String {
        strategic_merge_patch(&doc, &patch, &deployment()).unwrap_err().to_string()
    }

    fn pod(containers: Value) -> Value {
        json!({"spec": {"template": {"spec": {"containers": containers}}}})
    }

    fn containers(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let doc = json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}, "spec": {"replicas": 1}});
        let out = smp(doc, json!({"metadata": {"labels": {"x": null, "z": "3"}}, "spec": {"replicas": 3}}));
        assert_eq!(out, json!({"metadata": {"name": "a", "labels": {"y": "2", "z": "3"}}, "spec": {"replicas": 3}}));
    }

    #[test]
    fn key_order_is_preserved() {
        let doc = json!({"b": 1, "a": 2, "c": 3});
        let out = smp(doc, json!({"a": null, "b": 5, "d": 4}));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "c", "d"]);
    }

    #[test]
    fn null_for_missing_key_is_ignored() {
        assert_eq!(smp(json!({"a": 1}), json!({"b": null})), json!({"a": 1}));
    }

    #[test]
    fn new_subtrees_drop_nulls_and_resolve_directives() {
        let out =
            smp(json!({}), json!({"spec": {"replicas": null, "paused": true, "x": {"$patch": "replace", "y": 1}}}));
        assert_eq!(out, json!({"spec": {"paused": true, "x": {"y": 1}}}));
    }

    #[test]
    fn containers_merge_by_name() {
        let doc = pod(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]));
        let out = smp(doc, pod(json!([{"name": "b", "image": "b:2"}])));
        assert_eq!(containers(&out), &json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}]));
    }

    #[test]
    fn new_list_elements_come_first_like_kubernetes() {
        let doc = pod(json!([{"name": "a"}, {"name": "b"}]));
        let out = smp(doc, pod(json!([{"name": "c", "image": "c"}])));
        assert_eq!(containers(&out), &json!([{"name": "c", "image": "c"}, {"name": "a"}, {"name": "b"}]));
    }

    #[test]
    fn patch_order_wins_for_elements_it_lists() {
        let doc = pod(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let out = smp(doc, pod(json!([{"name": "c", "image": "c"}, {"name": "a", "image": "a"}])));
        let names: Vec<&str> =
            containers(&out).as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["b", "c", "a"]);
    }

    #[test]
    fn nested_lists_merge_with_their_own_keys() {
        let doc = pod(json!([{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
            "ports": [{"containerPort": 80, "protocol": "TCP"}]}]));
        let patch =
            pod(json!([{"name": "a", "env": [{"name": "Y", "value": "3"}], "ports": [{"containerPort": 443}]}]));
        let out = smp(doc, patch);
        assert_eq!(
            containers(&out),
            &json!([{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}],
                "ports": [{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}]}])
        );
    }

    #[test]
    fn merge_key_numbers_match_across_int_and_float() {
        let doc = pod(json!([{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]));
        let out = smp(doc, pod(json!([{"name": "a", "ports": [{"containerPort": 80.0, "protocol": "UDP"}]}])));
        assert_eq!(containers(&out)[0]["ports"], json!([{"containerPort": 80.0, "name": "http", "protocol": "UDP"}]));
    }

    #[test]
    fn delete_directive_in_list_removes_element() {
        let doc = pod(json!([{"name": "a"}, {"name": "b"}]));
        let out = smp(doc, pod(json!([{"name": "a", "$patch": "delete"}])));
        assert_eq!(containers(&out), &json!([{"name": "b"}]));
    }

    #[test]
    fn delete_directive_without_merge_key_is_an_error() {
        let msg = smp_err(pod(json!([{"name": "a"}])), pod(json!([{"$patch": "delete"}])));
        assert!(msg.contains("merge key \"name\""), "{msg}");
        assert!(msg.contains(".spec.template.spec.containers"), "{msg}");
    }

    #[test]
    fn replace_directive_in_list_replaces_list() {
        let doc = pod(json!([{"name": "a", "image": "x"}, {"name": "b"}]));
        let out = smp(doc, pod(json!([{"name": "c"}, {"$patch": "replace"}])));
        assert_eq!(containers(&out), &json!([{"name": "c"}]));
    }

    #[test]
    fn replace_directive_in_map_replaces_map() {
        let doc = json!({"spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}}});
        let out = smp(doc, json!({"spec": {"selector": {"matchLabels": {"$patch": "replace", "c": "3"}}}}));
        assert_eq!(out, json!({"spec": {"selector": {"matchLabels": {"c": "3"}}}}));
    }

    #[test]
    fn delete_directive_in_map_empties_it() {
        let doc = json!({"spec": {"selector": {"matchLabels": {"a": "1"}}, "replicas": 1}});
        let out = smp(doc, json!({"spec": {"selector": {"$patch": "delete"}}}));
        assert_eq!(out, json!({"spec": {"selector": {}, "replicas": 1}}));
    }

    #[test]
    fn merge_directive_is_the_default() {
        let doc = json!({"spec": {"replicas": 1, "paused": false}});
        let out = smp(doc, json!({"spec": {"$patch": "merge", "replicas": 2}}));
        assert_eq!(out, json!({"spec": {"replicas": 2, "paused": false}}));
        let doc = pod(json!([{"name": "a"}]));
        let out = smp(doc, pod(json!([{"$patch": "merge"}, {"name": "a", "image": "i", "$patch": "merge"}])));
        assert_eq!(containers(&out), &json!([{"name": "a", "image": "i"}]));
    }

    #[test]
    fn unknown_directive_is_an_error() {
        let msg = smp_err(json!({}), json!({"spec": {"$patch": "explode"}}));
        assert!(msg.contains("unknown $patch directive \"explode\" at .spec"), "{msg}");
        assert!(smp_err(pod(json!([])), pod(json!([{"name": "a", "$patch": 3}]))).contains("unknown $patch"));
        assert!(smp_err(json!({}), json!({"$patch": "nope"})).contains("the top level"));
    }

    #[test]
    fn finalizers_are_a_set() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        let out = smp(doc, json!({"metadata": {"finalizers": ["b", "c", "c"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    }

    #[test]
    fn scalar_set_replace_directive() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        let out = smp(doc, json!({"metadata": {"finalizers": [{"$patch": "replace"}, "z"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["z"]));
        let msg = smp_err(
            json!({"metadata": {"finalizers": ["a"]}}),
            json!({"metadata": {"finalizers": [{"$patch": "delete"}]}}),
        );
        assert!(msg.contains("$deleteFromPrimitiveList"), "{msg}");
    }

    #[test]
    fn delete_from_primitive_list() {
        let doc = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let out = smp(doc, json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zzz"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "c"]));
        // Nothing to delete from: nothing happens (the list is not invented).
        let out = smp(json!({"metadata": {}}), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}));
        assert_eq!(out, json!({"metadata": {}}));
    }

    #[test]
    fn delete_from_primitive_list_with_additions() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        let patch = json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]}});
        assert_eq!(smp(doc, patch)["metadata"]["finalizers"], json!(["c", "b"]));
    }

    #[test]
    fn malformed_parallel_lists_are_errors() {
        let msg = smp_err(json!({}), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}));
        assert!(msg.contains("must be a list"), "{msg}");
        let msg = smp_err(json!({}), json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}));
        assert!(msg.contains("malformed directive"), "{msg}");
        let msg = smp_err(json!({}), json!({"metadata": {"$setElementOrder/": ["a"]}}));
        assert!(msg.contains("malformed directive"), "{msg}");
        let msg = smp_err(json!({}), json!({"metadata": {"$setElementOrder/finalizers": {}}}));
        assert!(msg.contains("must be a list"), "{msg}");
    }

    #[test]
    fn set_element_order_for_map_list() {
        let doc = pod(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "new"}]
        }}}});
        let out = smp(doc, patch);
        assert_eq!(containers(&out), &json!([{"name": "c"}, {"name": "a", "image": "new"}, {"name": "b"}]));
    }

    #[test]
    fn set_element_order_interleaves_server_only_elements_like_kubernetes() {
        let doc = pod(json!([{"name": "a"}, {"name": "x"}, {"name": "b"}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "new"}, {"name": "b"}],
            "containers": [{"name": "new"}]
        }}}});
        let out = smp(doc, patch);
        let names: Vec<&str> =
            containers(&out).as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        // "x" keeps its place before "b"; "new" (unknown to the live list) goes as early as it can.
        assert_eq!(names, ["a", "new", "x", "b"]);
    }

    #[test]
    fn set_element_order_with_deletions_like_kubectl() {
        // What kubectl sends to drop container "b" and reorder the rest.
        let doc = pod(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"name": "b", "$patch": "delete"}]
        }}}});
        assert_eq!(containers(&smp(doc, patch)), &json!([{"name": "c"}, {"name": "a"}]));
    }

    #[test]
    fn set_element_order_for_primitives_with_deletion() {
        let doc = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let patch = json!({"metadata": {
            "$setElementOrder/finalizers": ["c", "a", "d"],
            "$deleteFromPrimitiveList/finalizers": ["b"],
            "finalizers": ["d"]
        }});
        assert_eq!(smp(doc, patch)["metadata"]["finalizers"], json!(["c", "a", "d"]));
    }

    #[test]
    fn set_element_order_only_reorders() {
        let doc = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let out = smp(doc, json!({"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "b", "a"]));
        // No list anywhere: nothing is created.
        let out = smp(json!({"metadata": {}}), json!({"metadata": {"$setElementOrder/finalizers": ["a"]}}));
        assert_eq!(out, json!({"metadata": {}}));
    }

    #[test]
    fn set_element_order_must_agree_with_patch() {
        let doc = pod(json!([]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b"}, {"name": "a"}]
        }}}});
        let msg = smp_err(doc.clone(), patch);
        assert!(msg.contains("does not match its $setElementOrder"), "{msg}");
        let patch = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": ["a"]}}}});
        assert!(smp_err(doc.clone(), patch).contains("merge key \"name\""));
        let patch = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [], "containers": {}}}}});
        assert!(smp_err(doc, patch).contains("must be a list"));
    }

    #[test]
    fn retain_keys_clears_other_fields() {
        let doc = json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "v", "emptyDir": {"medium": "Memory"}}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "v", "hostPath": {"path": "/tmp"}, "$retainKeys": ["name", "hostPath"]}
        ]}}}});
        let out = smp(doc, patch);
        assert_eq!(out["spec"]["template"]["spec"]["volumes"], json!([{"name": "v", "hostPath": {"path": "/tmp"}}]));
    }

    #[test]
    fn retain_keys_must_cover_the_patch() {
        let patch = json!({"spec": {"replicas": 1, "paused": null, "$retainKeys": ["paused"]}});
        let msg = smp_err(json!({}), patch);
        assert!(msg.contains("\"replicas\""), "{msg}");
        assert!(msg.contains(".spec"), "{msg}");
        assert!(smp_err(json!({}), json!({"spec": {"$retainKeys": "x"}})).contains("must be a list"));
        assert!(smp_err(json!({}), json!({"spec": {"$retainKeys": [1]}})).contains("field names"));
        // Nulls may name fields outside the list.
        let out = smp(
            json!({"spec": {"replicas": 1, "paused": true}}),
            json!({"spec": {"paused": null, "$retainKeys": ["replicas"]}}),
        );
        assert_eq!(out, json!({"spec": {"replicas": 1}}));
    }

    #[test]
    fn lists_without_merge_strategy_are_replaced() {
        let doc = pod(json!([{"name": "a", "args": ["1", "2"]}]));
        let out = smp(doc, pod(json!([{"name": "a", "args": ["3", {"$patch": "replace"}]}])));
        assert_eq!(containers(&out), &json!([{"name": "a", "args": ["3"]}]));
    }

    #[test]
    fn unknown_fields_merge_like_json_merge_patch() {
        let doc = json!({"spec": {"custom": {"list": [1, 2], "m": {"a": 1}}}});
        let out = smp(doc, json!({"spec": {"custom": {"list": [3], "m": {"b": 2, "a": null}}}}));
        assert_eq!(out, json!({"spec": {"custom": {"list": [3], "m": {"b": 2}}}}));
    }

    #[test]
    fn unknown_schema_everywhere() {
        let doc = json!({"a": [1, 2], "b": {"c": 1}});
        let out = strategic_merge_patch(&doc, &json!({"a": [3], "b": {"d": 2}}), &Unknown).unwrap();
        assert_eq!(out, json!({"a": [3], "b": {"c": 1, "d": 2}}));
    }

    #[test]
    fn type_changes_replace() {
        let doc = json!({"spec": {"replicas": {"weird": true}, "template": "x"}});
        let out = smp(
            doc,
            json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": null}]}}}}),
        );
        assert_eq!(out, json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a"}]}}}}));
    }

    #[test]
    fn malformed_lists_are_errors() {
        let msg = smp_err(pod(json!([{"name": "a"}])), pod(json!(["a"])));
        assert!(msg.contains("mix objects and scalars"), "{msg}");
        let msg = smp_err(pod(json!([])), pod(json!([[1]])));
        assert!(msg.contains("lists of lists"), "{msg}");
        let msg = smp_err(pod(json!([])), pod(json!([{"image": "x"}])));
        assert!(msg.contains("merge key \"name\""), "{msg}");
        let msg = smp_err(json!({"metadata": {"finalizers": ["a"]}}), json!({"metadata": {"finalizers": [{"a": 1}]}}));
        assert!(msg.contains("mix objects and scalars"), "{msg}");
    }

    #[test]
    fn merge_list_of_objects_needs_a_merge_key() {
        let schema = Node::object(vec![("items", Node::set(Node::scalar()))]);
        let err = strategic_merge_patch(&json!({"items": [{"a": 1}]}), &json!({"items": [{"a": 2}]}), &schema);
        assert!(err.unwrap_err().to_string().contains("no merge key"));
    }

    #[test]
    fn bad_documents_and_patches() {
        let schema = deployment();
        assert!(strategic_merge_patch(&json!({}), &json!([]), &schema).is_err());
        assert!(strategic_merge_patch(&json!([]), &json!({}), &schema)
            .unwrap_err()
            .to_string()
            .contains("must be an object"));
        assert_eq!(strategic_merge_patch(&json!(null), &json!({"a": 1}), &schema).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn top_level_directives() {
        assert_eq!(smp(json!({"a": 1}), json!({"$patch": "delete"})), json!({}));
        assert_eq!(smp(json!({"a": 1}), json!({"$patch": "replace", "b": 2})), json!({"b": 2}));
    }

    #[test]
    fn duplicate_patch_elements_merge_together() {
        let out = smp(pod(json!([])), pod(json!([{"name": "a", "image": "1"}, {"name": "a", "args": ["x"]}])));
        assert_eq!(containers(&out), &json!([{"name": "a", "image": "1", "args": ["x"]}]));
    }

    #[test]
    fn malformed_live_lists_are_reported() {
        let msg = smp_err(pod(json!(["junk", {"name": "a"}])), pod(json!([{"name": "a", "image": "i"}])));
        assert!(msg.contains("mix objects and scalars"), "{msg}");
    }
}
