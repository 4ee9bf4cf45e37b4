//! Server-side apply and field ownership tracking (`metadata.managedFields`),
//! following the Kubernetes apiserver and structured-merge-diff.
//!
//! Every write records who set which fields. An apply merges the user's
//! partial object into the live one; it conflicts when it would change a
//! field another manager owns (unless forced, which takes the field over),
//! and it removes fields the same manager applied before but no longer
//! applies, unless someone else owns them too.

use std::fmt;

use serde_json::{Map, Value};

use super::fieldset::{path_to_string, FieldSet, PathElement};
use super::managed::{Entry, ManagedFields, Operation, Owner, MAX_UPDATE_MANAGERS};
use super::schema::PatchSchema;
use super::typed::{compare, complete_keys_from_live, disowned, merge, remove_paths, validate_applied};
use super::values::kind_of;
use super::PatchError;

/// The manager that owns what an object had before its first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// A field an apply would change that another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// The API version the other manager wrote with.
    pub api_version: String,
    /// The field, in human form (`.spec.replicas`).
    pub field: String,
    /// How the other manager wrote the field: `Apply` or `Update`.
    pub operation: String,
    /// The subresource the other manager wrote through, if any.
    pub subresource: Option<String>,
}

impl Conflict {
    /// The manager as the apiserver names it in conflict messages:
    /// `"kubectl" using apps/v1` for updaters, `"kubectl"` for appliers.
    pub fn describe_manager(&self) -> String {
        let mut out = quoted(&self.manager);
        if let Some(subresource) = &self.subresource {
            out.push_str(&format!(" with subresource {}", quoted(subresource)));
        }
        if self.operation == Operation::Update.as_str() {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn owner_key(&self) -> (&str, &str, &str, Option<&str>) {
        (&self.manager, &self.operation, &self.api_version, self.subresource.as_deref())
    }
}

fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change; worded like the
    /// Kubernetes apiserver (`Apply failed with 1 conflict: conflict with
    /// "kubectl" using apps/v1: .spec.replicas`).
    #[error("{}", ConflictsMessage(.0))]
    Conflicts(Vec<Conflict>),
    #[error(transparent)]
    Patch(#[from] PatchError),
}

struct ConflictsMessage<'a>(&'a [Conflict]);

impl fmt::Display for ConflictsMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conflicts = self.0;
        if let [only] = conflicts {
            return write!(
                f,
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.describe_manager(),
                only.field
            );
        }
        write!(f, "Apply failed with {} conflicts: ", conflicts.len())?;
        let mut lines = Vec::new();
        let mut previous: Option<&Conflict> = None;
        // Conflicts come sorted by manager, so each manager heads one group.
        for conflict in conflicts {
            if previous.is_none_or(|p| p.owner_key() != conflict.owner_key()) {
                lines.push(format!("conflicts with {}:", conflict.describe_manager()));
            }
            lines.push(format!("- {}", conflict.field));
            previous = Some(conflict);
        }
        f.write_str(&lines.join("\n"))
    }
}

/// Server-side apply of `applied` (the user's partial object) by `manager`.
///
/// `live` is the current object (`None` when creating). Returns the new
/// object with `metadata.managedFields` updated, or the conflicts with other
/// managers (unless `force`, which takes the conflicting fields over).
pub fn server_side_apply<S: PatchSchema>(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
    schema: &S,
    now: &str,
) -> Result<Value, ApplyError> {
    let applied = checked_config(applied)?;
    let (live, mut managed) = live_and_owners(live, api_version, schema, now)?;
    let mut applied = applied.clone();
    complete_keys_from_live(&mut applied, &live, schema);
    validate_applied(&applied, schema)?;

    let owner = Owner { manager, operation: Operation::Apply, api_version, subresource: None };
    let mut merged = merge(&live, &applied, schema);
    let last = managed.get(owner).map(|entry| entry.fields.clone()).unwrap_or_default();
    let entry = managed.entry_mut(owner);
    entry.fields = tracked(&FieldSet::from_object(&applied, schema));
    entry.api_version = api_version.to_string();
    let owned = managed.all_fields();
    remove_paths(&mut merged, &disowned(&last, &owned), &owned, schema);

    take_over_changes(&mut managed, owner, &live, &merged, force, schema)?;
    // As in Kubernetes, a no-op apply does not move the timestamp.
    if merged != live {
        managed.entry_mut(owner).time = Some(now.to_string());
    }
    managed.drop_empty();
    set_managed_fields(&mut merged, &managed);
    Ok(merged)
}

/// The live object without its managed fields (`{}` when creating), and
/// who owns what in it. An object nobody tracked yet gets a placeholder
/// updater owning everything, so that applying over it can conflict.
fn live_and_owners<S: PatchSchema>(
    live: Option<&Value>,
    api_version: &str,
    schema: &S,
    now: &str,
) -> Result<(Value, ManagedFields), PatchError> {
    let Some(live) = live else {
        return Ok((Value::Object(Map::new()), ManagedFields::default()));
    };
    let mut managed = ManagedFields::decode(managed_fields_of(live))?;
    let live = without_managed_fields(live);
    if managed.is_empty() && !is_empty_object(&live) {
        let placeholder =
            Owner { manager: BEFORE_FIRST_APPLY, operation: Operation::Update, api_version, subresource: None };
        record_update(&mut managed, &Value::Null, &live, placeholder, schema, now);
    }
    Ok((live, managed))
}

/// The applier's changes from `live` to `merged` conflict with every other
/// owner of a changed field; with `force` (or no conflicts) those owners
/// lose the changed and the removed fields.
fn take_over_changes<S: PatchSchema>(
    managed: &mut ManagedFields,
    owner: Owner,
    live: &Value,
    merged: &Value,
    force: bool,
    schema: &S,
) -> Result<(), ApplyError> {
    let comparison = compare(live, merged, schema);
    let changed = comparison.changed();
    let conflicts = find_conflicts(managed, owner, &changed);
    if !conflicts.is_empty() && !force {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for entry in managed.entries.iter_mut().filter(|entry| !entry.belongs_to(owner)) {
        entry.fields = entry.fields.difference(&changed).difference(&comparison.removed);
    }
    Ok(())
}

/// Records a non-apply write (create, update, any non-apply patch) in
/// `new`'s `metadata.managedFields`: the fields that differ between `old`
/// (`None` on create) and `new` become owned by `manager` (operation
/// Update), and no longer by anyone else.
///
/// Like the apiserver: a `managedFields` list the writer sent (valid and
/// non-empty) is taken as the starting point instead of the live one; an
/// empty list (or one empty entry) clears tracking, and an existing object
/// without tracking stays untracked until it is applied to. Writes through
/// a subresource never change `managedFields` by hand.
pub fn track_update<S: PatchSchema>(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    schema: &S,
    now: &str,
) {
    if !new.is_object() {
        return;
    }
    let mut managed = starting_point(old, new, subresource);
    remove_managed_fields(new);
    if managed.is_empty() && old.is_some() {
        return;
    }
    let old = old.map(without_managed_fields).unwrap_or(Value::Null);
    let owner = Owner {
        manager,
        operation: Operation::Update,
        api_version,
        subresource: subresource.filter(|s| !s.is_empty()),
    };
    record_update(&mut managed, &old, new, owner, schema, now);
    managed.cap_update_entries(MAX_UPDATE_MANAGERS);
    set_managed_fields(new, &managed);
}

/// The managed fields a non-apply write starts from.
fn starting_point(old: Option<&Value>, new: &Value, subresource: Option<&str>) -> ManagedFields {
    let from_old = || old.and_then(|o| ManagedFields::decode(managed_fields_of(o)).ok()).unwrap_or_default();
    if subresource.is_some_and(|s| !s.is_empty()) {
        return from_old();
    }
    let sent = managed_fields_of(new);
    if sent.is_some_and(is_reset) {
        return ManagedFields::default();
    }
    match ManagedFields::decode(sent) {
        Ok(managed) if !managed.is_empty() => managed,
        _ => from_old(),
    }
}

/// `[]` or `[{}]`: the writer asks to drop all tracking.
fn is_reset(value: &Value) -> bool {
    match value.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([only]) => only.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// Gives `owner` the fields that changed from `old` to `new`, taking them
/// away from everyone else.
fn record_update<S: PatchSchema>(
    managed: &mut ManagedFields,
    old: &Value,
    new: &Value,
    owner: Owner,
    schema: &S,
    now: &str,
) {
    let comparison = compare(old, new, schema);
    let changed = comparison.changed();
    for entry in managed.entries.iter_mut() {
        entry.fields = entry.fields.difference(&changed).difference(&comparison.removed);
    }
    let taken = without_top_level_objects(&tracked(&changed.difference(&comparison.removed)));
    if !taken.is_empty() {
        let entry = managed.entry_mut(owner);
        entry.fields = entry.fields.union(&taken);
        entry.time = Some(now.to_string());
    }
    managed.drop_empty();
}

/// Conflicts of the apply by `owner` with every other manager whose fields
/// `changed` touches, sorted by manager then path.
fn find_conflicts(managed: &ManagedFields, owner: Owner, changed: &FieldSet) -> Vec<Conflict> {
    let mut others: Vec<&Entry> = managed.entries.iter().filter(|entry| !entry.belongs_to(owner)).collect();
    others.sort_by(|a, b| {
        (&a.manager, a.operation, &a.api_version, &a.subresource).cmp(&(
            &b.manager,
            b.operation,
            &b.api_version,
            &b.subresource,
        ))
    });
    let mut conflicts = Vec::new();
    for entry in others {
        for path in entry.fields.intersection(changed).path_elements() {
            conflicts.push(Conflict {
                manager: entry.manager.clone(),
                api_version: entry.api_version.clone(),
                field: path_to_string(&path),
                operation: entry.operation.as_str().to_string(),
                subresource: entry.subresource.clone(),
            });
        }
    }
    conflicts
}

/// `fields` without the top-level objects themselves (`.spec`, `.status`),
/// keeping what is inside them. Kubernetes compares against a Go zero value
/// in which those objects always exist, so no writer ever owns them as such.
fn without_top_level_objects(fields: &FieldSet) -> FieldSet {
    let mut containers = FieldSet::new();
    for path in fields.path_elements() {
        if let [first, _, ..] = path.as_slice() {
            containers.insert(std::slice::from_ref(first));
        }
    }
    fields.difference(&containers)
}

/// `fields` without what is never tracked: apiVersion, kind and the
/// server-managed parts of metadata.
fn tracked(fields: &FieldSet) -> FieldSet {
    let field = |name: &str| PathElement::Field(name.to_string());
    let mut untracked = FieldSet::new();
    untracked.insert(&[field("apiVersion")]);
    untracked.insert(&[field("kind")]);
    for name in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "managedFields",
        "selfLink",
        "clusterName",
    ] {
        untracked.insert(&[field("metadata"), field(name)]);
    }
    let mut metadata_itself = FieldSet::new();
    metadata_itself.insert(&[field("metadata")]);
    fields.recursive_difference(&untracked).difference(&metadata_itself)
}

/// The applied configuration, checked: an object without managedFields.
fn checked_config(applied: &Value) -> Result<&Value, PatchError> {
    if !applied.is_object() {
        return Err(PatchError::invalid(format!("apply patch must be a JSON object, got {}", kind_of(applied))));
    }
    if managed_fields_of(applied).is_some_and(|v| !v.is_null()) {
        return Err(PatchError::invalid("metadata.managedFields must be nil in an apply patch"));
    }
    Ok(applied)
}

fn managed_fields_of(object: &Value) -> Option<&Value> {
    object.get("metadata").and_then(|metadata| metadata.get("managedFields"))
}

fn remove_managed_fields(object: &mut Value) {
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.shift_remove("managedFields");
    }
}

fn without_managed_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    remove_managed_fields(&mut copy);
    copy
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_none_or(Map::is_empty)
}

/// Stores `managed` in `object.metadata.managedFields` (removing the field
/// when nobody owns anything).
fn set_managed_fields(object: &mut Value, managed: &ManagedFields) {
    let Value::Object(fields) = object else {
        return;
    };
    match managed.encode() {
        Some(encoded) => {
            let metadata = fields.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(metadata) = metadata {
                metadata.insert("managedFields".to_string(), encoded);
            }
        }
        None => remove_managed_fields(object),
    }
}

#[cfg(test)]
mod tests;
