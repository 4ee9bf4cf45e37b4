//! Custom resources against their CRD's `openAPIV3Schema`.
//!
//! [`validate_custom`] prunes, defaults and validates a custom resource in
//! place the way kube-apiserver's apiextensions-apiserver does on create and
//! update; [`check_structural`] is the part of CRD validation that decides
//! whether a version's schema can be served at all.
//!
//! Algorithms and messages follow apiextensions-apiserver's
//! `pkg/apiserver/schema` (pruning, defaulting, list types, embedded
//! resources, structural invariants) and kube-openapi's
//! `pkg/validation/validate` (value validation). Schemas are read straight
//! from JSON: schema and object both come from users, so nothing here assumes
//! either is well formed, and nothing panics on odd input.

use crate::validation::field_error::{ErrorType, FieldError};
use regex::{Regex, RegexBuilder};
use serde_json::{json, Map, Number, Value};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

/// What [`validate_custom`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Every schema violation, in the order kube-apiserver's validators produce them.
    pub errors: Vec<FieldError>,
    /// Dotted paths with indices of the unknown fields pruned, e.g. `spec.http[0].routee`, sorted.
    pub unknown_fields: Vec<String>,
}

/// Validate, prune and default `obj` (a whole custom resource) in place
/// against `schema` (the CRD version's `openAPIV3Schema`).
///
/// As in kube-apiserver: unknown fields are pruned (and recorded), except
/// `apiVersion`, `kind` and `metadata` at the root and in embedded resources;
/// non-nullable `null`s without a default are dropped; defaults are applied;
/// then the object is validated against the full schema (value validations
/// included), embedded resources' `apiVersion`/`kind` are checked, and
/// `x-kubernetes-list-type` set/map uniqueness is enforced. ObjectMeta itself
/// is left to the caller; only what the schema says about `metadata` applies.
pub fn validate_custom(schema: &Value, obj: &mut Value) -> Outcome {
    let root = Node::new(schema);
    let unknown_fields = prune_resource(obj, root);
    drop_unset_nulls(obj, Some(root));
    apply_defaults(obj, root);
    let mut errors = Checker::new(None).check(root, obj, "");
    check_embedded(obj, root, "", false, &mut errors);
    check_list_types(obj, root, "", &mut errors);
    Outcome { errors, unknown_fields }
}

/// Check a CRD version's schema is structural and valid enough to serve,
/// reporting errors under `path_prefix` (e.g.
/// `spec.versions[0].schema.openAPIV3Schema`), with kube-apiserver's paths and
/// messages: `…properties[spec].type: Required value: must not be empty for
/// specified object fields`.
///
/// Covers the structural invariants, value validations that would not be
/// structural, metadata restrictions, list/map type extensions, keywords
/// kube-apiserver rejects (`$ref`, `uniqueItems`, `additionalProperties`
/// beside `properties`, …) and defaults (pruned and valid against their own
/// schema; checked only once the schema is structural, as upstream).
pub fn check_structural(schema: &Value, path_prefix: &str) -> Vec<FieldError> {
    if !schema.is_object() {
        return vec![FieldError::invalid(path_prefix, schema.clone(), "must be an object")];
    }
    let root = Node::new(schema);
    let mut errors = Vec::new();
    if root.nullable() {
        errors.push(FieldError::forbidden(fp_child(path_prefix, "nullable"), "nullable cannot be true at the root"));
    }
    let mut structural = Vec::new();
    structural_rules(root, Level::Root, path_prefix, &mut structural);
    completeness_rules(root, root, path_prefix, path_prefix, &mut structural);
    if structural.is_empty() {
        default_rules(root, path_prefix, true, false, &mut structural);
    }
    errors.extend(structural);
    openapi_rules(schema, path_prefix, &Scope { root: true, ..Scope::default() }, &mut errors);
    errors
}

// ---------------------------------------------------------------------------
// Reading schemas
// ---------------------------------------------------------------------------

/// The fields every resource keeps, whatever its schema says.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// The `type`s a CRD schema may use, in the order kube-apiserver lists them.
const SCHEMA_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// Formats apiextensions-apiserver validates (compared without `-`). Any
/// other `format`, `int32` and `int64` included, is stripped before
/// validation upstream, so it is accepted unchecked here too.
const SUPPORTED_FORMATS: [&str; 24] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

fn is_meta(key: &str) -> bool {
    META_FIELDS.contains(&key)
}

/// One schema node, read leniently: anything that is not a JSON object reads
/// as an empty schema and keywords of the wrong JSON kind read as absent
/// ([`check_structural`] reports them).
#[derive(Clone, Copy)]
struct Node<'a> {
    map: Option<&'a Map<String, Value>>,
}

/// What `additionalProperties` says.
#[derive(Clone, Copy)]
enum Additional<'a> {
    Unset,
    Bool(bool),
    Schema(Node<'a>),
}

/// The schema one field of an object value falls under.
#[derive(Clone, Copy)]
enum FieldSchema<'a> {
    /// Named in `properties`, or covered by an `additionalProperties` schema.
    Known(Node<'a>),
    /// Covered by `additionalProperties: true|false`: kept, but with no schema below.
    Untyped,
    /// Not in the schema: pruned.
    Unknown,
}

impl<'a> FieldSchema<'a> {
    fn node(self) -> Option<Node<'a>> {
        match self {
            FieldSchema::Known(node) => Some(node),
            FieldSchema::Untyped | FieldSchema::Unknown => None,
        }
    }
}

impl<'a> Node<'a> {
    fn new(value: &'a Value) -> Self {
        Node { map: value.as_object() }
    }

    fn get(self, key: &str) -> Option<&'a Value> {
        self.map?.get(key)
    }

    fn str(self, key: &str) -> Option<&'a str> {
        self.get(key)?.as_str()
    }

    fn flag(self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    fn number(self, key: &str) -> Option<f64> {
        self.get(key)?.as_f64()
    }

    /// A count such as `maxItems`; fractions truncate as Go's int64 conversion does.
    fn limit(self, key: &str) -> Option<i64> {
        let value = self.get(key)?;
        value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
    }

    fn type_name(self) -> &'a str {
        self.str("type").unwrap_or("")
    }

    /// The JSON types allowed; int-or-string replaces `type`, as upstream.
    fn types(self) -> Vec<&'a str> {
        if self.int_or_string() {
            return vec!["integer", "string"];
        }
        Some(self.type_name()).filter(|t| !t.is_empty()).into_iter().collect()
    }

    fn nullable(self) -> bool {
        self.flag("nullable")
    }

    /// `default: null` decodes to no default upstream.
    fn default_value(self) -> Option<&'a Value> {
        self.get("default").filter(|v| !v.is_null())
    }

    fn preserves_unknown(self) -> bool {
        self.flag("x-kubernetes-preserve-unknown-fields")
    }

    fn embedded(self) -> bool {
        self.flag("x-kubernetes-embedded-resource")
    }

    fn int_or_string(self) -> bool {
        self.flag("x-kubernetes-int-or-string")
    }

    fn properties(self) -> impl Iterator<Item = (&'a str, Node<'a>)> {
        self.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(k, v)| (k.as_str(), Node::new(v)))
    }

    fn property(self, name: &str) -> Option<Node<'a>> {
        self.get("properties")?.get(name).map(Node::new)
    }

    fn has_properties(self) -> bool {
        self.get("properties").and_then(Value::as_object).is_some_and(|m| !m.is_empty())
    }

    fn additional(self) -> Additional<'a> {
        match self.get("additionalProperties") {
            Some(Value::Bool(allowed)) => Additional::Bool(*allowed),
            Some(schema @ Value::Object(_)) => Additional::Schema(Node::new(schema)),
            _ => Additional::Unset,
        }
    }

    fn has_additional(self) -> bool {
        !matches!(self.additional(), Additional::Unset)
    }

    /// `items` as a single schema; the tuple form is not structural and is ignored.
    fn items(self) -> Option<Node<'a>> {
        self.get("items").filter(|v| v.is_object()).map(Node::new)
    }

    /// `allOf`, `anyOf` or `oneOf`.
    fn schemas(self, key: &str) -> Vec<Node<'a>> {
        self.get(key).and_then(Value::as_array).into_iter().flatten().map(Node::new).collect()
    }

    fn not(self) -> Option<Node<'a>> {
        self.get("not").filter(|v| v.is_object()).map(Node::new)
    }

    fn strings(self, key: &str) -> Vec<&'a str> {
        self.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
    }

    fn list_type(self) -> Option<&'a str> {
        self.str("x-kubernetes-list-type")
    }

    /// Which schema covers `key` of an object value.
    fn field(self, key: &str) -> FieldSchema<'a> {
        if let Some(property) = self.property(key) {
            return FieldSchema::Known(property);
        }
        match self.additional() {
            Additional::Schema(schema) => FieldSchema::Known(schema),
            Additional::Bool(_) => FieldSchema::Untyped,
            Additional::Unset => FieldSchema::Unknown,
        }
    }
}

// ---------------------------------------------------------------------------
// Field paths (`field.Path` style: `a.b`, `a[key]`, `a[0]`)
// ---------------------------------------------------------------------------

fn fp_child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn fp_key(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

fn fp_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// `path.properties[key]`, where a schema's property lives.
fn props_path(path: &str, key: &str) -> String {
    fp_key(&fp_child(path, "properties"), key)
}

// ---------------------------------------------------------------------------
// Pruning
// ---------------------------------------------------------------------------

/// Prunes a whole resource, returning the sorted paths of what was dropped.
fn prune_resource(obj: &mut Value, schema: Node) -> Vec<String> {
    let mut pruner = Pruner::default();
    pruner.prune(obj, Some(schema), true);
    pruner.unknown.sort();
    pruner.unknown
}

/// Walks a value beside its schema, dropping fields the schema does not know.
#[derive(Default)]
struct Pruner {
    /// Path of the value being pruned, without a leading dot.
    path: String,
    unknown: Vec<String>,
}

impl Pruner {
    /// `keep_meta` keeps apiVersion, kind and metadata, as for a resource root.
    fn prune(&mut self, x: &mut Value, s: Option<Node>, keep_meta: bool) {
        if let Some(s) = s.filter(|s| s.preserves_unknown()) {
            self.prune_below_preserved(x, s, keep_meta);
            return;
        }
        match x {
            Value::Object(map) => self.prune_object(map, s, keep_meta),
            Value::Array(items) => {
                let item_schema = s.and_then(Node::items);
                for (i, item) in items.iter_mut().enumerate() {
                    self.at_index(i, |p| p.prune(item, item_schema, false));
                }
            }
            _ => {}
        }
    }

    fn prune_object(&mut self, map: &mut Map<String, Value>, s: Option<Node>, keep_meta: bool) {
        let Some(s) = s else {
            // Below `additionalProperties: true|false` nothing is known.
            for key in map.keys() {
                self.record(key);
            }
            map.clear();
            return;
        };
        let dropped: HashSet<String> = self.prune_known_fields(map, s, keep_meta).into_iter().collect();
        for key in &dropped {
            self.record(key);
        }
        map.retain(|key, _| !dropped.contains(key));
    }

    /// Prunes inside each field `s` knows (metadata aside where it is kept) and returns the
    /// keys it does not know, for the caller to drop or to keep. The recorded paths are sorted
    /// at the end, so recording unknown keys after the walk changes nothing.
    fn prune_known_fields(&mut self, map: &mut Map<String, Value>, s: Node, keep_meta: bool) -> Vec<String> {
        let keep_meta = keep_meta || s.embedded();
        let mut unknown = Vec::new();
        for (key, value) in map.iter_mut() {
            if keep_meta && is_meta(key) {
                continue;
            }
            match s.field(key) {
                FieldSchema::Known(field) => self.at_key(key, |p| p.prune(value, Some(field), false)),
                FieldSchema::Untyped => self.at_key(key, |p| p.prune(value, None, false)),
                FieldSchema::Unknown => unknown.push(key.clone()),
            }
        }
        unknown
    }

    /// Under `x-kubernetes-preserve-unknown-fields` unknown fields stay, but
    /// the known ones are still pruned inside.
    fn prune_below_preserved(&mut self, x: &mut Value, s: Node, keep_meta: bool) {
        match x {
            Value::Object(map) => {
                // Unknown fields are preserved here: nothing to drop.
                self.prune_known_fields(map, s, keep_meta);
            }
            Value::Array(items) => {
                if let Some(item_schema) = s.items() {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.at_index(i, |p| p.prune_below_preserved(item, item_schema, false));
                    }
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, key: &str) {
        self.unknown.push(fp_child(&self.path, key));
    }

    fn at_key(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        f(self);
        self.path.truncate(len);
    }

    fn at_index(&mut self, index: usize, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        self.path.push_str(&format!("[{index}]"));
        f(self);
        self.path.truncate(len);
    }
}

// ---------------------------------------------------------------------------
// Defaulting
// ---------------------------------------------------------------------------

/// Drops `null`s where the schema allows no null and has no default to put
/// there instead: upstream treats them as unset rather than invalid.
fn drop_unset_nulls(x: &mut Value, s: Option<Node>) {
    match x {
        Value::Object(map) => {
            let mut dropped = HashSet::new();
            for (key, value) in map.iter_mut() {
                let field = s.and_then(|s| s.field(key).node());
                let unset = field.is_some_and(|f| !f.nullable() && f.default_value().is_none());
                if value.is_null() && unset {
                    dropped.insert(key.clone());
                } else {
                    drop_unset_nulls(value, field);
                }
            }
            map.retain(|key, _| !dropped.contains(key));
        }
        Value::Array(items) => {
            let item_schema = s.and_then(Node::items);
            for item in items {
                drop_unset_nulls(item, item_schema);
            }
        }
        _ => {}
    }
}

/// Fills in `default`s of missing (or non-nullable null) properties,
/// recursively, including inside array items and `additionalProperties`.
fn apply_defaults(x: &mut Value, s: Node) {
    match x {
        Value::Object(map) => {
            for (key, field) in s.properties() {
                let Some(default) = field.default_value() else { continue };
                let unset = map.get(key).is_none_or(|v| v.is_null() && !field.nullable());
                if unset {
                    map.insert(key.to_string(), default.clone());
                }
            }
            for (key, value) in map.iter_mut() {
                if let Some(field) = s.field(key).node() {
                    default_null(value, field);
                    apply_defaults(value, field);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.items() else { return };
            for item in items {
                default_null(item, item_schema);
                apply_defaults(item, item_schema);
            }
        }
        _ => {}
    }
}

/// A `null` where the schema allows none takes the schema's default.
fn default_null(value: &mut Value, s: Node) {
    if value.is_null() && !s.nullable() {
        if let Some(default) = s.default_value() {
            *value = default.clone();
        }
    }
}

// ---------------------------------------------------------------------------
// Value validation (kube-openapi's SchemaValidator)
// ---------------------------------------------------------------------------

/// What the branches of an `anyOf` or `oneOf` came to: how many validated, and the errors of
/// the closest failed branch (the one with the fewest), which follow the summary on failure.
#[derive(Default)]
struct BranchTally {
    valid: usize,
    closest: Option<Vec<FieldError>>,
}

impl BranchTally {
    /// Counts one branch's errors; true when the branch validated.
    fn record(&mut self, errors: Vec<FieldError>) -> bool {
        if errors.is_empty() {
            self.valid += 1;
            return true;
        }
        if self.closest.as_ref().is_none_or(|c| errors.len() < c.len()) {
            self.closest = Some(errors);
        }
        false
    }
}

/// Validates values against schemas, producing kube-apiserver's field errors.
///
/// Names (`spec.hosts[2]`) are kube-openapi's: they appear in messages
/// (`spec.hosts[2] in body must be of type string: "integer"`) and, under
/// `base`, as the error's field.
struct Checker {
    /// Field the validated value sits at; `None` for a whole resource, whose
    /// errors without a field show as `<nil>` like upstream's.
    base: Option<String>,
}

impl Checker {
    fn new(base: Option<String>) -> Self {
        Checker { base }
    }

    /// All errors of `x` against `s`, in kube-openapi's validator order: type,
    /// allOf/anyOf/oneOf/not, string, format, number, array, enum, object.
    fn check(&self, s: Node, x: &Value, name: &str) -> Vec<FieldError> {
        let mut out = Vec::new();
        self.check_type(s, x, name, &mut out);
        if !x.is_null() {
            self.check_combinators(s, x, name, &mut out);
            match x {
                Value::String(text) => {
                    self.check_string(s, text, name, &mut out);
                    self.check_format(s, text, name, &mut out);
                }
                Value::Number(number) => self.check_number(s, number, name, &mut out),
                Value::Array(items) => self.check_array(s, items, name, &mut out),
                _ => {}
            }
        }
        self.check_enum(s, x, name, &mut out);
        if let Value::Object(map) = x {
            self.check_object(s, map, name, &mut out);
        }
        out
    }

    fn check_type(&self, s: Node, x: &Value, name: &str, out: &mut Vec<FieldError>) {
        let types = s.types();
        let format = supported_format(s);
        if types.is_empty() && format.is_none() {
            return;
        }
        let expected = types.join(",");
        if x.is_null() {
            if !types.is_empty() && !types.contains(&"null") && !s.nullable() {
                out.push(self.type_error(name, &expected, "null"));
            }
            return;
        }
        let actual = json_type(x);
        let whole_float = actual == "number" && x.as_f64().is_some_and(is_json_integer);
        let compatible = types.contains(&actual)
            || (whole_float && types.contains(&"integer"))
            || (actual == "integer" && types.contains(&"number"));
        let stringish = x.is_string() || x.is_array();
        if let Some(format) = format {
            // A string format on a non-string: upstream names the format and the Go type.
            let go_format = go_format_name(x);
            if !stringish && !compatible && go_format != format {
                out.push(self.type_error(name, format, go_format));
                return;
            }
            if stringish && !types.iter().any(|t| *t == "number" || *t == "integer") {
                return;
            }
        }
        if !compatible {
            out.push(self.type_error(name, &expected, actual));
        }
    }

    fn check_combinators(&self, s: Node, x: &Value, name: &str, out: &mut Vec<FieldError>) {
        self.check_any_of(s, x, name, out);
        self.check_one_of(s, x, name, out);
        self.check_all_of(s, x, name, out);
        if let Some(not) = s.not() {
            if self.check(not, x, name).is_empty() {
                out.push(self.composite(format!("{} must not validate the schema (not)", go_quote(name))));
            }
        }
    }

    /// On failure, the errors of the closest branch follow the summary.
    fn check_any_of(&self, s: Node, x: &Value, name: &str, out: &mut Vec<FieldError>) {
        let branches = s.schemas("anyOf");
        if branches.is_empty() {
            return;
        }
        let mut tally = BranchTally::default();
        for branch in branches {
            // One valid branch is enough: stop before checking the rest.
            if tally.record(self.check(branch, x, name)) {
                return;
            }
        }
        out.push(self.composite(format!("{} must validate at least one schema (anyOf)", go_quote(name))));
        out.extend(tally.closest.unwrap_or_default());
    }

    fn check_one_of(&self, s: Node, x: &Value, name: &str, out: &mut Vec<FieldError>) {
        let branches = s.schemas("oneOf");
        if branches.is_empty() {
            return;
        }
        let mut tally = BranchTally::default();
        for branch in branches {
            tally.record(self.check(branch, x, name));
        }
        let BranchTally { valid, closest } = tally;
        if valid == 1 {
            return;
        }
        let found =
            if valid == 0 { "Found none valid".to_string() } else { format!("Found {valid} valid alternatives") };
        out.push(self.composite(format!("{} must validate one and only one schema (oneOf). {found}", go_quote(name))));
        if valid == 0 {
            out.extend(closest.unwrap_or_default());
        }
    }

    fn check_all_of(&self, s: Node, x: &Value, name: &str, out: &mut Vec<FieldError>) {
        let branches = s.schemas("allOf");
        if branches.is_empty() {
            return;
        }
        let mut valid = 0;
        for branch in &branches {
            let errors = self.check(*branch, x, name);
            if errors.is_empty() {
                valid += 1;
            }
            out.extend(errors);
        }
        if valid != branches.len() {
            let none = if valid == 0 { ". None validated" } else { "" };
            out.push(self.composite(format!("{} must validate all the schemas (allOf){none}", go_quote(name))));
        }
    }

    /// maxLength, minLength, pattern: only the first failure is reported.
    fn check_string(&self, s: Node, text: &str, name: &str, out: &mut Vec<FieldError>) {
        let length = text.chars().count() as i64;
        if let Some(max) = s.limit("maxLength").filter(|max| length > *max) {
            let detail = format!("may not be longer than {max}");
            out.push(FieldError::new(ErrorType::TooLong, self.field(name), None, detail));
            return;
        }
        if let Some(min) = s.limit("minLength").filter(|min| length < *min) {
            out.push(self.invalid(name, json!(text), &format!("should be at least {min} chars long")));
            return;
        }
        let Some(pattern) = s.str("pattern").filter(|p| !p.is_empty()) else { return };
        let detail = match compiled_pattern(pattern) {
            Ok(re) if re.is_match(text) => return,
            Ok(_) => format!("should match '{pattern}'"),
            Err(err) => format!("should match '{pattern}, but pattern is invalid: {err}'"),
        };
        out.push(self.invalid(name, json!(text), &detail));
    }

    fn check_format(&self, s: Node, text: &str, name: &str, out: &mut Vec<FieldError>) {
        let Some(format) = supported_format(s) else { return };
        if !format_matches(format, text) {
            out.push(self.invalid(name, json!(text), &format!("must be of type {format}: {}", go_quote(text))));
        }
    }

    /// multipleOf, minimum, maximum, in that order. Integers are compared as
    /// integers against bounds truncated to integers, as upstream.
    fn check_number(&self, s: Node, number: &Number, name: &str, out: &mut Vec<FieldError>) {
        let value = Value::Number(number.clone());
        match (number.as_i64(), number.as_f64()) {
            (Some(data), _) => self.check_integer_bounds(s, data, &value, name, out),
            (None, Some(data)) => self.check_float_bounds(s, data, &value, name, out),
            (None, None) => {}
        }
    }

    fn check_integer_bounds(&self, s: Node, data: i64, value: &Value, name: &str, out: &mut Vec<FieldError>) {
        if let Some(factor) = s.number("multipleOf") {
            let whole = factor as i64;
            if whole < 0 {
                out.push(self.not_positive(name, json!(whole), &whole.to_string()));
            } else if whole == 0 {
                // A fractional factor truncates to 0: fall back to float arithmetic.
                self.check_float_multiple(data as f64, factor, value, name, out);
            } else if data.checked_rem(whole).is_some_and(|rest| rest != 0) {
                out.push(self.invalid(name, value.clone(), &format!("should be a multiple of {whole}")));
            }
        }
        if let Some(min) = s.number("minimum").map(|m| m as i64) {
            let exclusive = s.flag("exclusiveMinimum");
            if data < min || (exclusive && data == min) {
                out.push(self.invalid(name, value.clone(), &greater_than(exclusive, &min.to_string())));
            }
        }
        if let Some(max) = s.number("maximum").map(|m| m as i64) {
            let exclusive = s.flag("exclusiveMaximum");
            if data > max || (exclusive && data == max) {
                out.push(self.invalid(name, value.clone(), &less_than(exclusive, &max.to_string())));
            }
        }
    }

    fn check_float_bounds(&self, s: Node, data: f64, value: &Value, name: &str, out: &mut Vec<FieldError>) {
        if let Some(factor) = s.number("multipleOf") {
            self.check_float_multiple(data, factor, value, name, out);
        }
        if let Some(min) = s.number("minimum") {
            let exclusive = s.flag("exclusiveMinimum");
            if data < min || (exclusive && data == min) {
                out.push(self.invalid(name, value.clone(), &greater_than(exclusive, &go_float(min))));
            }
        }
        if let Some(max) = s.number("maximum") {
            let exclusive = s.flag("exclusiveMaximum");
            if data > max || (exclusive && data == max) {
                out.push(self.invalid(name, value.clone(), &less_than(exclusive, &go_float(max))));
            }
        }
    }

    fn check_float_multiple(&self, data: f64, factor: f64, value: &Value, name: &str, out: &mut Vec<FieldError>) {
        if factor < 0.0 {
            out.push(self.not_positive(name, json!(factor), &go_float(factor)));
            return;
        }
        // Dividing by the inverse of small factors keeps 0.3/0.1 whole.
        let ratio = if factor < 1.0 { 1.0 / factor * data } else { data / factor };
        if !is_json_integer(ratio) {
            out.push(self.invalid(name, value.clone(), &format!("should be a multiple of {}", go_float(factor))));
        }
    }

    fn not_positive(&self, name: &str, factor: Value, shown: &str) -> FieldError {
        FieldError::invalid(
            self.field(name),
            factor,
            format!("factor MultipleOf declared for {name} must be positive: {shown}"),
        )
    }

    /// Items first, then minItems, maxItems, uniqueItems.
    fn check_array(&self, s: Node, items: &[Value], name: &str, out: &mut Vec<FieldError>) {
        if let Some(item_schema) = s.items() {
            for (i, item) in items.iter().enumerate() {
                out.extend(self.check(item_schema, item, &format!("{name}[{i}]")));
            }
        }
        let size = items.len() as i64;
        if let Some(min) = s.limit("minItems").filter(|min| size < *min) {
            out.push(self.invalid(name, json!(size), &format!("should have at least {min} items")));
        }
        if let Some(max) = s.limit("maxItems").filter(|max| size > *max) {
            out.push(self.too_many(name, size, max));
        }
        if s.flag("uniqueItems") && !repeated_indices(items.iter().map(|v| canonical(v, true))).is_empty() {
            out.push(self.invalid(name, json!(""), "shouldn't contain duplicates"));
        }
    }

    /// `null` never matches an enum, even one listing null, as upstream.
    fn check_enum(&self, s: Node, x: &Value, name: &str, out: &mut Vec<FieldError>) {
        let Some(allowed) = s.get("enum").and_then(Value::as_array).filter(|a| !a.is_empty()) else { return };
        if !x.is_null() && allowed.iter().any(|candidate| enum_matches(x, candidate)) {
            return;
        }
        let listed: Vec<String> = allowed
            .iter()
            .map(|v| match v {
                Value::String(text) => text.clone(),
                other => go_json(other),
            })
            .collect();
        let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
        out.push(FieldError::not_supported(self.field(name), x.clone(), &listed));
    }

    /// minProperties and maxProperties end the object's checks when they
    /// fail; otherwise additionalProperties, properties, then required.
    fn check_object(&self, s: Node, map: &Map<String, Value>, name: &str, out: &mut Vec<FieldError>) {
        let count = map.len() as i64;
        if let Some(min) = s.limit("minProperties").filter(|min| count < *min) {
            out.push(self.invalid(name, json!(count), &format!("should have at least {min} properties")));
            return;
        }
        if let Some(max) = s.limit("maxProperties").filter(|max| count > *max) {
            out.push(self.too_many(name, count, max));
            return;
        }
        match s.additional() {
            Additional::Bool(false) => {
                for key in map.keys().filter(|key| s.property(key).is_none()) {
                    let detail = format!("{name}.{key} in body is a forbidden property");
                    out.push(FieldError::invalid(self.field(name), json!(key), detail));
                }
            }
            Additional::Schema(schema) => {
                for (key, value) in map.iter().filter(|(key, _)| s.property(key).is_none()) {
                    out.extend(self.check(schema, value, &format!("{name}.{key}")));
                }
            }
            Additional::Bool(true) | Additional::Unset => {}
        }
        for (key, field) in s.properties() {
            if let Some(value) = map.get(key) {
                out.extend(self.check(field, value, &fp_child(name, key)));
            }
        }
        for key in s.strings("required") {
            if !map.contains_key(key) {
                out.push(FieldError::required(self.field(&format!("{name}.{key}")), ""));
            }
        }
    }

    /// The error's field: `base` joined with the name minus one leading dot.
    fn field(&self, name: &str) -> String {
        let relative = name.strip_prefix('.').unwrap_or(name);
        match (&self.base, relative.is_empty()) {
            (Some(base), true) => base.clone(),
            (None, true) => "<nil>".to_string(),
            (Some(base), false) => format!("{base}.{relative}"),
            (None, false) => relative.to_string(),
        }
    }

    /// `name: Invalid value: value: name in body <rest>`.
    fn invalid(&self, name: &str, value: Value, rest: &str) -> FieldError {
        FieldError::invalid(self.field(name), value, format!("{name} in body {rest}"))
    }

    fn type_error(&self, name: &str, expected: &str, actual: &str) -> FieldError {
        self.invalid(name, json!(actual), &format!("must be of type {expected}: {}", go_quote(actual)))
    }

    fn too_many(&self, name: &str, actual: i64, max: i64) -> FieldError {
        FieldError::new(
            ErrorType::TooMany,
            self.field(name),
            Some(json!(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// anyOf/oneOf/allOf/not summaries carry no field upstream.
    fn composite(&self, detail: String) -> FieldError {
        FieldError::invalid(self.base.clone().unwrap_or_else(|| "<nil>".to_string()), "", detail)
    }
}

fn greater_than(exclusive: bool, bound: &str) -> String {
    if exclusive {
        format!("should be greater than {bound}")
    } else {
        format!("should be greater than or equal to {bound}")
    }
}

fn less_than(exclusive: bool, bound: &str) -> String {
    if exclusive {
        format!("should be less than {bound}")
    } else {
        format!("should be less than or equal to {bound}")
    }
}

/// Largest compiled program for one `pattern`. Unicode classes under counted
/// repetition (`[\p{L}]{1,253}`) need tens of MiB; anything past this is refused.
const PATTERN_SIZE_LIMIT: usize = 64 << 20;

/// How many compiled patterns are kept; the cache starts over past this.
const PATTERN_CACHE_SIZE: usize = 512;

/// A schema `pattern`, compiled once per process: the same few patterns are
/// checked on every request and some take milliseconds to compile.
fn compiled_pattern(pattern: &str) -> Result<Regex, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Result<Regex, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked mid-insert; the map is still usable.
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return hit.clone();
    }
    let compiled = compile_pattern(pattern);
    let mut entries = cache.lock().unwrap_or_else(|e| e.into_inner());
    if entries.len() >= PATTERN_CACHE_SIZE {
        entries.clear();
    }
    entries.insert(pattern.to_string(), compiled.clone());
    compiled
}

/// Compiles a pattern written for Go's RE2 with the same meaning. The
/// one-line error is what follows `error:` in the regex crate's report.
fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&go_pattern(pattern)).size_limit(PATTERN_SIZE_LIMIT).build().map_err(|err| {
        let text = err.to_string();
        let last = text.lines().last().unwrap_or_default();
        last.strip_prefix("error: ").unwrap_or(last).to_string()
    })
}

/// Rewrites RE2 syntax whose meaning differs in the regex crate: `\d \w \s
/// \b` are ASCII-only in Go (and far cheaper to compile that way), and inside
/// a class `[` `&` `~` are plain characters in Go but set operators here.
fn go_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => out.push_str(&go_escape(escaped, in_class)),
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // A `]` straight after the opening bracket is a literal in RE2.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class such as [:alpha:], copied through its closing `:]`.
                out.push('[');
                while let Some(inner) = chars.next() {
                    out.push(inner);
                    if inner == ':' && chars.peek() == Some(&']') {
                        chars.next();
                        out.push(']');
                        break;
                    }
                }
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// An escape sequence with Go's meaning, outside or inside a class.
fn go_escape(escaped: char, in_class: bool) -> String {
    let rewritten = match (escaped, in_class) {
        ('d', false) => "[0-9]",
        ('D', false) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('s', false) => "[\\t\\n\\f\\r ]",
        ('S', false) => "[^\\t\\n\\f\\r ]",
        ('b', false) => "(?-u:\\b)",
        ('B', false) => "(?-u:\\B)",
        ('d', true) => "0-9",
        ('D', true) => "[:^digit:]",
        ('w', true) => "0-9A-Za-z_",
        ('W', true) => "[:^word:]",
        ('s', true) => "\\t\\n\\f\\r ",
        ('S', true) => "[:^space:]",
        _ => return format!("\\{escaped}"),
    };
    rewritten.to_string()
}

/// The JSON type kube-openapi sees: whole numbers decode as integers.
fn json_type(x: &Value) -> &'static str {
    match x {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The Go format name upstream reports for a value of the wrong kind.
fn go_format_name(x: &Value) -> &'static str {
    match x {
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        _ => "",
    }
}

/// Whether a float is a whole number a JSON integer could hold (|f| ≤ 2^53),
/// allowing for rounding noise like 3.0000000000000004.
fn is_json_integer(f: f64) -> bool {
    const MAX_SAFE: f64 = 9_007_199_254_740_992.0;
    if !f.is_finite() || f.abs() > MAX_SAFE {
        return false;
    }
    let whole = f.trunc();
    whole == f || (f - whole).abs() / (f.abs() + whole.abs()) < 1e-9
}

/// Enum membership; numbers compare by value whether written 1 or 1.0.
fn enum_matches(x: &Value, candidate: &Value) -> bool {
    match (x, candidate) {
        (Value::Number(a), Value::Number(b)) if !(a.is_i64() && b.is_i64()) => a.as_f64() == b.as_f64(),
        _ => x == candidate,
    }
}

// ---------------------------------------------------------------------------
// Embedded resources (objectmeta.Validate)
// ---------------------------------------------------------------------------

/// Checks apiVersion and kind of every object under
/// `x-kubernetes-embedded-resource`; `as_resource` checks `x` itself too.
fn check_embedded(x: &Value, s: Node, path: &str, as_resource: bool, out: &mut Vec<FieldError>) {
    match x {
        Value::Object(map) => {
            if as_resource || s.embedded() {
                check_type_meta(map, path, out);
            }
            for (key, value) in map {
                if let Some(field) = s.property(key) {
                    check_embedded(value, field, &fp_child(path, key), false, out);
                } else if let Additional::Schema(schema) = s.additional() {
                    check_embedded(value, schema, &fp_key(path, key), false, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items() {
                for (i, item) in items.iter().enumerate() {
                    check_embedded(item, item_schema, &fp_index(path, i), false, out);
                }
            }
        }
        _ => {}
    }
}

fn check_type_meta(map: &Map<String, Value>, path: &str, out: &mut Vec<FieldError>) {
    let api_version_path = fp_child(path, "apiVersion");
    let kind_path = fp_child(path, "kind");
    if !map.contains_key("apiVersion") {
        out.push(FieldError::required(api_version_path.clone(), ""));
    }
    if !map.contains_key("kind") {
        out.push(FieldError::required(kind_path.clone(), ""));
    }
    for (key, value) in map {
        match (key.as_str(), value.as_str()) {
            ("apiVersion" | "kind", None) => {
                out.push(FieldError::invalid(fp_child(path, key), value.clone(), "must be a string"));
            }
            ("apiVersion" | "kind", Some("")) => out.push(FieldError::required(fp_child(path, key), "")),
            ("apiVersion", Some(api_version)) if api_version.matches('/').count() > 1 => {
                let detail = format!("unexpected GroupVersion string: {api_version}");
                out.push(FieldError::invalid(api_version_path.clone(), api_version, detail));
            }
            ("kind", Some(kind)) => {
                let problems = dns1035_label_problems(&kind.to_lowercase());
                if !problems.is_empty() {
                    let detail = format!("may have mixed case, but should otherwise match: {}", problems.join(","));
                    out.push(FieldError::invalid(kind_path.clone(), kind, detail));
                }
            }
            ("metadata", _) if !value.is_object() => {
                out.push(FieldError::invalid(fp_child(path, "metadata"), value.clone(), "must be an object"));
            }
            _ => {}
        }
    }
}

/// What `IsDNS1035Label` says about a value.
fn dns1035_label_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    let bytes = value.as_bytes();
    let well_formed = match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_lowercase()
                && (last.is_ascii_lowercase() || last.is_ascii_digit())
                && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        }
        _ => false,
    };
    if !well_formed {
        problems.push(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an \
             alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', \
             regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
                .to_string(),
        );
    }
    problems
}

// ---------------------------------------------------------------------------
// List types (x-kubernetes-list-type set / map)
// ---------------------------------------------------------------------------

fn check_list_types(x: &Value, s: Node, path: &str, out: &mut Vec<FieldError>) {
    match x {
        Value::Object(map) => {
            if let Additional::Schema(schema) = s.additional() {
                for (key, value) in map {
                    check_list_types(value, schema, &fp_key(path, key), out);
                }
            }
            for (key, value) in map {
                if let Some(field) = s.property(key) {
                    check_list_types(value, field, &fp_child(path, key), out);
                }
            }
        }
        Value::Array(items) => {
            match s.list_type() {
                Some("set") => check_set(items, path, out),
                Some("map") => check_map_list(items, &s.strings("x-kubernetes-list-map-keys"), path, out),
                _ => {}
            }
            if let Some(item_schema) = s.items() {
                for (i, item) in items.iter().enumerate() {
                    check_list_types(item, item_schema, &fp_index(path, i), out);
                }
            }
        }
        _ => {}
    }
}

/// A set's repeated elements, each reported once at its second occurrence.
fn check_set(items: &[Value], path: &str, out: &mut Vec<FieldError>) {
    for i in repeated_indices(items.iter().map(set_identity)) {
        if let Some(item) = items.get(i) {
            out.push(FieldError::duplicate(fp_index(path, i), item.clone()));
        }
    }
}

/// Map-list entries repeating another's keys; the error shows the keys.
fn check_map_list(items: &[Value], keys: &[&str], path: &str, out: &mut Vec<FieldError>) {
    if let Some((i, item)) = items.iter().enumerate().find(|(_, v)| !v.is_null() && !v.is_object()) {
        out.push(FieldError::invalid(
            fp_index(path, i),
            item.clone(),
            "must be an object for an array of list-type map",
        ));
        return;
    }
    let entry_keys: Vec<Map<String, Value>> = items.iter().map(|item| map_entry_keys(item, keys)).collect();
    let identities = entry_keys.iter().map(|entry| match keys {
        // One key compares as a scalar, with "unset" distinct from every value.
        [key] => entry.get(*key).map_or_else(|| "unset".to_string(), set_identity),
        _ => canonical(&Value::Object(entry.clone()), false),
    });
    for i in repeated_indices(identities) {
        if let Some(entry) = entry_keys.get(i) {
            out.push(FieldError::duplicate(fp_index(path, i), Value::Object(entry.clone())));
        }
    }
}

fn map_entry_keys(item: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut entry = Map::new();
    if let Some(object) = item.as_object() {
        for key in keys {
            if let Some(value) = object.get(*key) {
                entry.insert(key.to_string(), value.clone());
            }
        }
    }
    entry
}

/// How upstream tells set elements apart: scalars by Go value (1 ≠ 1.0),
/// objects and arrays by their JSON encoding (where 1 = 1.0).
fn set_identity(x: &Value) -> String {
    match x {
        Value::Object(_) | Value::Array(_) => format!("c{}", canonical(x, false)),
        _ => format!("s{}", canonical(x, true)),
    }
}

/// Indices where an identity occurs for the second time.
fn repeated_indices(identities: impl Iterator<Item = String>) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (i, identity) in identities.enumerate() {
        let count = seen.entry(identity).or_insert(0);
        *count += 1;
        if *count == 2 {
            repeats.push(i);
        }
    }
    repeats
}

// ---------------------------------------------------------------------------
// check_structural: the structural invariants (schema/validation.go)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

/// The invariants of the structural part: properties, items and
/// additionalProperties, each with its value validations.
fn structural_rules(s: Node, level: Level, path: &str, out: &mut Vec<FieldError>) {
    if s.type_name() == "array" && s.items().is_none() {
        out.push(FieldError::required(fp_child(path, "items"), "must be specified"));
    }
    if let Some(items) = s.items() {
        structural_rules(items, Level::Item, &fp_child(path, "items"), out);
    }
    for (key, field) in s.properties() {
        structural_rules(field, Level::Field, &props_path(path, key), out);
    }
    if s.has_additional() && level == Level::Root {
        out.push(FieldError::forbidden(fp_child(path, "additionalProperties"), "must not be used at the root"));
    }
    if let Additional::Schema(schema) = s.additional() {
        structural_rules(schema, Level::Field, &fp_child(path, "additionalProperties"), out);
    }
    extension_conflicts(s, path, out);
    let any_of_is_int_or_string = is_int_or_string_pair(&s.schemas("anyOf"));
    let all_of_is_int_or_string =
        s.schemas("allOf").first().is_some_and(|first| is_int_or_string_pair(&first.schemas("anyOf")));
    value_validation_rules(s, any_of_is_int_or_string, all_of_is_int_or_string, level, path, out);
    type_rules(s, level, path, out);
    meta_rules(s, level, path, out);
}

fn extension_conflicts(s: Node, path: &str, out: &mut Vec<FieldError>) {
    if !s.int_or_string() {
        return;
    }
    if s.preserves_unknown() {
        let at = fp_child(path, "x-kubernetes-preserve-unknown-fields");
        out.push(FieldError::invalid(at, true, "must be false if x-kubernetes-int-or-string is true"));
    }
    if s.embedded() {
        let at = fp_child(path, "x-kubernetes-embedded-resource");
        out.push(FieldError::invalid(at, true, "must be false if x-kubernetes-int-or-string is true"));
    }
}

/// `[{type: integer}, {type: string}]`, the one anyOf allowed to carry types.
fn is_int_or_string_pair(branches: &[Node]) -> bool {
    let only_type = |node: &Node, expected: &str| {
        node.map.is_some_and(|m| m.len() == 1 && m.get("type").and_then(Value::as_str) == Some(expected))
    };
    matches!(branches, [first, second] if only_type(first, "integer") && only_type(second, "string"))
}

/// The allOf/anyOf/oneOf/not below a node must only restrict values.
fn value_validation_rules(
    v: Node,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    level: Level,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, branch) in v.schemas("anyOf").into_iter().enumerate() {
            nested_rules(branch, false, level, &fp_index(&fp_child(path, "anyOf"), i), out);
        }
    }
    for (i, branch) in v.schemas("allOf").into_iter().enumerate() {
        let skip = skip_first_all_of_any_of && i == 0;
        nested_rules(branch, skip, level, &fp_index(&fp_child(path, "allOf"), i), out);
    }
    for (i, branch) in v.schemas("oneOf").into_iter().enumerate() {
        nested_rules(branch, false, level, &fp_index(&fp_child(path, "oneOf"), i), out);
    }
    if let Some(not) = v.not() {
        nested_rules(not, false, level, &fp_child(path, "not"), out);
    }
    if let Some(pattern) = v.str("pattern").filter(|p| !p.is_empty()) {
        if let Err(err) = compiled_pattern(pattern) {
            let detail = format!("must be a valid regular expression, but isn't: {err}");
            out.push(FieldError::invalid(fp_child(path, "pattern"), pattern, detail));
        }
    }
}

/// Keywords that shape values (and so pruning and defaulting) may only
/// appear in the structural part, never under a logical junctor.
const NESTED_FORBIDDEN: [(&str, &str); 13] = [
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
];

fn nested_rules(v: Node, skip_any_of: bool, level: Level, path: &str, out: &mut Vec<FieldError>) {
    value_validation_rules(v, skip_any_of, false, level, path, out);
    if let Some(items) = v.items() {
        nested_rules(items, false, level, &fp_child(path, "items"), out);
    }
    for (key, field) in v.properties() {
        nested_rules(field, false, Level::Field, &props_path(path, key), out);
    }
    for (keyword, detail) in NESTED_FORBIDDEN {
        if v.get(keyword).is_some_and(|value| !is_zero(value)) {
            out.push(FieldError::forbidden(fp_child(path, keyword), detail));
        }
    }
    if v.get("x-kubernetes-validations").is_some_and(|value| !is_zero(value)) {
        out.push(FieldError::forbidden(fp_child(path, "x-kubernetes-validations"), "must be empty to be structural"));
    }
    if v.property("metadata").is_some() {
        out.push(FieldError::forbidden(props_path(path, "metadata"), "must not be specified in a nested context"));
    }
}

/// Go's zero value: unset, false, empty string, list or map.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(_) => false,
    }
}

fn type_rules(s: Node, level: Level, path: &str, out: &mut Vec<FieldError>) {
    let type_name = s.type_name();
    let type_path = fp_child(path, "type");
    if s.embedded() && type_name != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        out.push(if type_name.is_empty() {
            FieldError::required(type_path.clone(), detail)
        } else {
            FieldError::invalid(type_path.clone(), type_name, detail)
        });
    } else if type_name.is_empty() && !s.int_or_string() && !s.preserves_unknown() {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(FieldError::required(type_path.clone(), detail));
    }
    if s.embedded() && s.has_additional() {
        let detail = "must not be used if x-kubernetes-embedded-resource is set";
        out.push(FieldError::forbidden(fp_child(path, "additionalProperties"), detail));
    }
    if level == Level::Root && !type_name.is_empty() && type_name != "object" {
        out.push(FieldError::invalid(type_path, type_name, "must be object at the root"));
    }
}

/// TypeMeta and ObjectMeta of the root and of embedded resources.
fn meta_rules(s: Node, level: Level, path: &str, out: &mut Vec<FieldError>) {
    let check_meta = level == Level::Root || s.embedded();
    if check_meta {
        for name in ["kind", "apiVersion"] {
            let Some(field) = s.property(name) else { continue };
            if field.type_name() != "string" {
                let at = fp_child(&props_path(path, name), "type");
                out.push(FieldError::invalid(at, field.type_name(), "must be string"));
            }
        }
    }
    if let Some(metadata) = s.property("metadata") {
        let at = props_path(path, "metadata");
        if check_meta && metadata.type_name() != "object" {
            out.push(FieldError::invalid(fp_child(&at, "type"), metadata.type_name(), "must be object"));
        }
        if level == Level::Root && !restricts_only_names(metadata) {
            let detail =
                "must not specify anything other than name and generateName, but metadata is implicitly specified";
            out.push(FieldError::forbidden(at, detail));
        }
    }
    if s.embedded() && !s.preserves_unknown() && !s.has_properties() {
        let detail =
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields";
        out.push(FieldError::required(fp_child(path, "properties"), detail));
    }
}

/// A root `metadata` schema may only give its type and restrict name and generateName.
fn restricts_only_names(metadata: Node) -> bool {
    metadata.map.into_iter().flatten().all(|(key, value)| match key.as_str() {
        "type" | "default" | "example" => true,
        "properties" => value.as_object().is_some_and(|m| m.keys().all(|k| k == "name" || k == "generateName")),
        _ => is_zero(value),
    })
}

/// Every property or items named in the root's value validations must
/// exist in the structural part too.
fn completeness_rules(v: Node, s: Node, s_path: &str, v_path: &str, out: &mut Vec<FieldError>) {
    if let Some(not) = v.not() {
        nested_completeness(not, Some(s), s_path, &fp_child(v_path, "not"), out);
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        for (i, branch) in v.schemas(junctor).into_iter().enumerate() {
            nested_completeness(branch, Some(s), s_path, &fp_index(&fp_child(v_path, junctor), i), out);
        }
    }
}

fn nested_completeness(v: Node, s: Option<Node>, s_path: &str, v_path: &str, out: &mut Vec<FieldError>) {
    let Some(s) = s else {
        out.push(FieldError::required(s_path, format!("because it is defined in {v_path}")));
        return;
    };
    completeness_rules(v, s, s_path, v_path, out);
    if let Some(items) = v.items() {
        nested_completeness(items, s.items(), &fp_child(s_path, "items"), &fp_child(v_path, "items"), out);
    }
    for (key, field) in v.properties() {
        let (s_field_path, v_field_path) = (props_path(s_path, key), props_path(v_path, key));
        match s.property(key) {
            Some(structural) => nested_completeness(field, Some(structural), &s_field_path, &v_field_path, out),
            None => out.push(FieldError::required(s_field_path, format!("because it is defined in {v_field_path}"))),
        }
    }
}

// ---------------------------------------------------------------------------
// check_structural: defaults (defaulting/validation.go)
// ---------------------------------------------------------------------------

/// Every default must survive pruning unchanged and validate against its
/// own node. `resource` marks a node whose apiVersion/kind/metadata are
/// TypeMeta/ObjectMeta (the root, embedded resources).
fn default_rules(s: Node, path: &str, resource: bool, inside_meta: bool, out: &mut Vec<FieldError>) {
    let resource = resource || s.embedded();
    let inside_meta = inside_meta && !s.embedded();
    if let Some(default) = s.default_value() {
        check_default(s, default, path, resource, inside_meta, out);
    }
    if let Some(items) = s.items() {
        default_rules(items, &fp_child(path, "items"), false, inside_meta, out);
    }
    // additionalProperties is not followed: defaults there are never applied.
    for (key, field) in s.properties() {
        let meta = inside_meta || (resource && is_meta(key));
        default_rules(field, &props_path(path, key), false, meta, out);
    }
}

fn check_default(s: Node, default: &Value, path: &str, resource: bool, inside_meta: bool, out: &mut Vec<FieldError>) {
    let at = fp_child(path, "default");
    if inside_meta {
        // Metadata is not pruned like the rest; only the schema applies.
        out.extend(Checker::new(Some(at)).check(s, default, ""));
        return;
    }
    let mut pruned = default.clone();
    Pruner::default().prune(&mut pruned, Some(s), resource);
    if pruned != *default {
        out.push(FieldError::invalid(at.clone(), default.clone(), "must not have unknown fields"));
    }
    let mut meta = Vec::new();
    check_embedded(default, s, &at, resource, &mut meta);
    if meta.is_empty() {
        out.extend(Checker::new(Some(at)).check(s, default, ""));
    } else {
        out.extend(meta);
    }
}

// ---------------------------------------------------------------------------
// check_structural: what CRD validation rejects (ValidateCustomResourceDefinitionOpenAPISchema)
// ---------------------------------------------------------------------------

/// Where in a CRD schema a node sits, for the rules that depend on it.
#[derive(Clone, Default)]
struct Scope {
    root: bool,
    /// Inside the schema of TypeMeta/ObjectMeta of the root or an embedded resource.
    inside_meta: bool,
    /// Why `default` is not allowed here, if it is not.
    no_defaults: Option<String>,
}

impl Scope {
    fn child(&self) -> Scope {
        Scope { root: false, ..self.clone() }
    }
}

fn openapi_rules(value: &Value, path: &str, scope: &Scope, out: &mut Vec<FieldError>) {
    let Some(map) = value.as_object() else {
        out.push(FieldError::invalid(path, value.clone(), "must be an object"));
        return;
    };
    let s = Node { map: Some(map) };
    keyword_kind_rules(map, path, out);
    unsupported_keyword_rules(s, path, scope, out);
    if s.flag("uniqueItems") {
        let detail = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic";
        out.push(FieldError::forbidden(fp_child(path, "uniqueItems"), detail));
    }
    if s.has_properties() && matches!(s.additional(), Additional::Bool(false) | Additional::Schema(_)) {
        let detail = "additionalProperties and properties are mutual exclusive";
        out.push(FieldError::forbidden(fp_child(path, "additionalProperties"), detail));
    }
    openapi_children(s, path, scope, out);
    extension_rules(s, path, out);
}

fn openapi_children(s: Node, path: &str, scope: &Scope, out: &mut Vec<FieldError>) {
    if let Some(schema @ Value::Object(_)) = s.get("additionalProperties") {
        let mut sub = scope.child();
        if scope.inside_meta {
            sub.no_defaults = Some("inside additionalProperties applying to object metadata".to_string());
        }
        openapi_rules(schema, &fp_child(path, "additionalProperties"), &sub, out);
    }
    for (key, field) in s.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let mut sub = scope.child();
        if (scope.root || s.embedded()) && is_meta(key) {
            sub.inside_meta = true;
            if scope.root {
                sub.no_defaults = Some(format!("in top-level {key}"));
            }
        }
        openapi_rules(field, &props_path(path, key), &sub, out);
    }
    if let Some(not) = s.get("not").filter(|v| !v.is_null()) {
        openapi_rules(not, &fp_child(path, "not"), &scope.child(), out);
    }
    for junctor in ["allOf", "oneOf", "anyOf"] {
        for (i, branch) in s.get(junctor).and_then(Value::as_array).into_iter().flatten().enumerate() {
            openapi_rules(branch, &fp_index(&fp_child(path, junctor), i), &scope.child(), out);
        }
    }
    for (key, definition) in s.get("definitions").and_then(Value::as_object).into_iter().flatten() {
        openapi_rules(definition, &fp_key(&fp_child(path, "definitions"), key), &scope.child(), out);
    }
    match s.get("items") {
        Some(items @ Value::Object(_)) => openapi_rules(items, &fp_child(path, "items"), &scope.child(), out),
        Some(Value::Array(tuple)) => {
            for (i, items) in tuple.iter().enumerate() {
                openapi_rules(items, &fp_index(&fp_child(path, "items"), i), &scope.child(), out);
            }
        }
        _ => {}
    }
}

/// The JSON kind a keyword's value must have.
#[derive(Clone, Copy)]
enum Expect {
    Text,
    Flag,
    Number,
    Count,
    Texts,
    List,
    Object,
    ObjectOrFlag,
    ObjectOrList,
}

const KEYWORD_KINDS: [(&str, Expect); 31] = [
    ("type", Expect::Text),
    ("format", Expect::Text),
    ("pattern", Expect::Text),
    ("title", Expect::Text),
    ("description", Expect::Text),
    ("x-kubernetes-list-type", Expect::Text),
    ("x-kubernetes-map-type", Expect::Text),
    ("nullable", Expect::Flag),
    ("uniqueItems", Expect::Flag),
    ("exclusiveMinimum", Expect::Flag),
    ("exclusiveMaximum", Expect::Flag),
    ("x-kubernetes-preserve-unknown-fields", Expect::Flag),
    ("x-kubernetes-embedded-resource", Expect::Flag),
    ("x-kubernetes-int-or-string", Expect::Flag),
    ("minimum", Expect::Number),
    ("maximum", Expect::Number),
    ("multipleOf", Expect::Number),
    ("minLength", Expect::Count),
    ("maxLength", Expect::Count),
    ("minItems", Expect::Count),
    ("maxItems", Expect::Count),
    ("minProperties", Expect::Count),
    ("maxProperties", Expect::Count),
    ("required", Expect::Texts),
    ("x-kubernetes-list-map-keys", Expect::Texts),
    ("enum", Expect::List),
    ("allOf", Expect::List),
    ("anyOf", Expect::List),
    ("oneOf", Expect::List),
    ("properties", Expect::Object),
    ("additionalProperties", Expect::ObjectOrFlag),
];

/// Keywords of the wrong JSON kind. kube-apiserver would fail to decode
/// such a CRD; here they read as absent elsewhere, so they are named here.
fn keyword_kind_rules(map: &Map<String, Value>, path: &str, out: &mut Vec<FieldError>) {
    let extra = [("not", Expect::Object), ("items", Expect::ObjectOrList)];
    for (keyword, expect) in KEYWORD_KINDS.into_iter().chain(extra) {
        let Some(value) = map.get(keyword).filter(|v| !v.is_null()) else { continue };
        let (fits, detail) = match expect {
            Expect::Text => (value.is_string(), "must be a string"),
            Expect::Flag => (value.is_boolean(), "must be a boolean"),
            Expect::Number => (value.is_number(), "must be a number"),
            Expect::Count => (value.as_u64().is_some(), "must be a non-negative integer"),
            Expect::Texts => {
                (value.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "must be a list of strings")
            }
            Expect::List => (value.is_array(), "must be a list"),
            Expect::Object => (value.is_object(), "must be an object"),
            Expect::ObjectOrFlag => (value.is_object() || value.is_boolean(), "must be an object or a boolean"),
            Expect::ObjectOrList => (value.is_object() || value.is_array(), "must be an object"),
        };
        if !fits {
            out.push(FieldError::invalid(fp_child(path, keyword), value.clone(), detail));
        }
    }
}

/// `specStandardValidatorV3`: keywords CRD schemas may not use.
fn unsupported_keyword_rules(s: Node, path: &str, scope: &Scope, out: &mut Vec<FieldError>) {
    let type_name = s.type_name();
    if !type_name.is_empty() && !SCHEMA_TYPES.contains(&type_name) {
        out.push(FieldError::not_supported(fp_child(path, "type"), type_name, &SCHEMA_TYPES));
    }
    if let (Some(_), Some(reason)) = (s.default_value(), &scope.no_defaults) {
        out.push(FieldError::forbidden(fp_child(path, "default"), format!("must not be set {reason}")));
    }
    let unsupported = [
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ];
    for (keyword, detail) in unsupported {
        if s.get(keyword).is_some_and(|v| !is_zero(v)) {
            out.push(FieldError::forbidden(fp_child(path, keyword), detail));
        }
    }
    if type_name == "null" {
        let detail = "type cannot be set to null, use nullable as an alternative";
        out.push(FieldError::forbidden(fp_child(path, "type"), detail));
    }
    if s.get("items").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        let detail = "items must be a schema object and not an array";
        out.push(FieldError::forbidden(fp_child(path, "items"), detail));
    }
    if scope.inside_meta && s.embedded() {
        let detail = "must not be used inside of resource meta";
        out.push(FieldError::forbidden(fp_child(path, "x-kubernetes-embedded-resource"), detail));
    }
}

/// x-kubernetes-preserve-unknown-fields, -map-type, -list-type and -list-map-keys.
fn extension_rules(s: Node, path: &str, out: &mut Vec<FieldError>) {
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        let at = fp_child(path, "x-kubernetes-preserve-unknown-fields");
        out.push(FieldError::invalid(at, false, "must be true or undefined"));
    }
    if let Some(map_type) = s.str("x-kubernetes-map-type") {
        require_type(s, "object", "must be object if x-kubernetes-map-type is specified", path, out);
        if map_type != "atomic" && map_type != "granular" {
            let at = fp_child(path, "x-kubernetes-map-type");
            out.push(FieldError::not_supported(at, map_type, &["atomic", "granular"]));
        }
    }
    let list_type = s.list_type();
    if let Some(list_type) = list_type {
        if s.type_name() != "array" {
            require_type(s, "array", "must be array if x-kubernetes-list-type is specified", path, out);
        } else if list_type == "set" {
            atomic_set_item_rules(s, path, out);
        }
        if !["atomic", "set", "map"].contains(&list_type) {
            let at = fp_child(path, "x-kubernetes-list-type");
            out.push(FieldError::not_supported(at, list_type, &["atomic", "set", "map"]));
        }
    }
    if !s.strings("x-kubernetes-list-map-keys").is_empty() && list_type != Some("map") {
        let at = fp_child(path, "x-kubernetes-list-type");
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        out.push(match list_type {
            None => FieldError::required(at, detail),
            Some(other) => FieldError::invalid(at, other, detail),
        });
    }
    if list_type == Some("map") {
        list_map_rules(s, path, out);
    }
    if matches!(list_type, Some("set" | "map")) {
        list_key_rules(s, list_type.unwrap_or_default(), path, out);
    }
}

/// `type` must be `expected`: Required when missing, Invalid when different.
fn require_type(s: Node, expected: &str, detail: &str, path: &str, out: &mut Vec<FieldError>) {
    let type_name = s.type_name();
    if type_name == expected {
        return;
    }
    let at = fp_child(path, "type");
    out.push(if type_name.is_empty() {
        FieldError::required(at, detail)
    } else {
        FieldError::invalid(at, type_name, detail)
    });
}

/// Items of a set are compared whole, so they must be atomic themselves.
fn atomic_set_item_rules(s: Node, path: &str, out: &mut Vec<FieldError>) {
    let Some(items) = s.items() else { return };
    let items_path = fp_child(path, "items");
    let detail = "must be atomic as item of a list with x-kubernetes-list-type=set";
    let item_list_type = items.list_type();
    match items.type_name() {
        "array" if item_list_type.is_some_and(|t| t != "atomic") => {
            let at = fp_child(&items_path, "x-kubernetes-list-type");
            out.push(FieldError::invalid(at, json!(item_list_type), detail));
        }
        "object" if items.str("x-kubernetes-map-type") != Some("atomic") => {
            let at = fp_child(&items_path, "x-kubernetes-map-type");
            out.push(FieldError::invalid(at, json!(item_list_type), detail));
        }
        _ => {}
    }
}

fn list_map_rules(s: Node, path: &str, out: &mut Vec<FieldError>) {
    let keys = s.strings("x-kubernetes-list-map-keys");
    let keys_path = fp_child(path, "x-kubernetes-list-map-keys");
    let items_path = fp_child(path, "items");
    if keys.is_empty() {
        out.push(FieldError::required(keys_path.clone(), "must not be empty if x-kubernetes-list-type is map"));
    }
    let items = match s.get("items") {
        None | Some(Value::Null) => {
            out.push(FieldError::required(items_path, "must have a schema if x-kubernetes-list-type is map"));
            return;
        }
        Some(items @ Value::Object(_)) => Node::new(items),
        Some(other) => {
            let detail = "must only have a single schema if x-kubernetes-list-type is map";
            out.push(FieldError::invalid(items_path, other.clone(), detail));
            return;
        }
    };
    if items.type_name() != "object" {
        let detail = "must be object if parent array's x-kubernetes-list-type is map";
        out.push(FieldError::invalid(fp_child(&items_path, "type"), items.type_name(), detail));
        return;
    }
    let mut seen = HashSet::new();
    for key in &keys {
        match items.property(key) {
            Some(field) if matches!(field.type_name(), "array" | "object") => {
                let at = fp_child(&props_path(&items_path, key), "type");
                let detail = "must be a scalar type if parent array's x-kubernetes-list-type is map";
                out.push(FieldError::invalid(at, field.type_name(), detail));
            }
            Some(_) => {}
            None => {
                let detail = "entries must all be names of item properties";
                out.push(FieldError::invalid(keys_path.clone(), json!(keys), detail));
            }
        }
        if !seen.insert(*key) {
            out.push(FieldError::invalid(keys_path.clone(), json!(keys), "must not contain duplicate entries"));
        }
    }
}

/// Items of sets and maps cannot be null, and map keys must always be set.
fn list_key_rules(s: Node, list_type: &str, path: &str, out: &mut Vec<FieldError>) {
    let Some(items) = s.items() else { return };
    let items_path = fp_child(path, "items");
    if items.nullable() {
        let detail = format!("cannot be nullable when x-kubernetes-list-type is {list_type}");
        out.push(FieldError::forbidden(fp_child(&items_path, "nullable"), detail));
    }
    if list_type != "map" {
        return;
    }
    let required = items.strings("required");
    for key in s.strings("x-kubernetes-list-map-keys") {
        let Some(field) = items.property(key) else { continue };
        let field_path = props_path(&items_path, key);
        if !required.contains(&key) && field.default_value().is_none() {
            let detail =
                "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property";
            out.push(FieldError::required(fp_child(&field_path, "default"), detail));
        }
        if field.nullable() {
            let detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable";
            out.push(FieldError::forbidden(fp_child(&field_path, "nullable"), detail));
        }
    }
}

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------

/// The node's `format` if upstream validates it.
fn supported_format(s: Node<'_>) -> Option<&str> {
    let format = s.str("format")?;
    SUPPORTED_FORMATS.contains(&format.replace('-', "").as_str()).then_some(format)
}

/// Whether `text` is a valid `format`. isbn, creditcard and password are
/// accepted unchecked; the rest follow kube-openapi's strfmt closely.
fn format_matches(format: &str, text: &str) -> bool {
    match format.replace('-', "").as_str() {
        "datetime" => is_date_time(text),
        "date" => is_full_date(text),
        "byte" => is_base64(text),
        "ipv4" => text.contains('.') && text.parse::<IpAddr>().is_ok(),
        "ipv6" => text.contains(':') && text.parse::<IpAddr>().is_ok(),
        "cidr" => is_cidr(text),
        "hostname" => is_hostname(text),
        "email" => is_email(text),
        "uri" => is_uri(text),
        "mac" => is_mac(text),
        "uuid" => is_uuid(text, None),
        "uuid3" => is_uuid(text, Some('3')),
        "uuid4" => is_uuid(text, Some('4')),
        "uuid5" => is_uuid(text, Some('5')),
        "bsonobjectid" => text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()),
        "hexcolor" => is_hex_color(text),
        "rgbcolor" => is_rgb_color(text),
        "ssn" => is_ssn(text),
        "duration" => is_duration(text),
        _ => true,
    }
}

/// RFC 3339 date-time as strfmt checks it: a full date, `T`, then
/// `hh:mm:ss[.frac]` and `Z` or an offset, case-insensitively.
fn is_date_time(text: &str) -> bool {
    if text.len() < 4 {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let mut parts = lower.split('t');
    match (parts.next(), parts.next()) {
        (Some(date), Some(time)) => is_full_date(date) && is_time_of_day(time),
        _ => false,
    }
}

fn is_time_of_day(time: &str) -> bool {
    let bytes = time.as_bytes();
    if bytes.len() < 9 || bytes.get(2) != Some(&b':') || bytes.get(5) != Some(&b':') {
        return false;
    }
    let in_range = |range: std::ops::Range<usize>, max: u32| two_digits(time.get(range)).is_some_and(|n| n <= max);
    if !(in_range(0..2, 23) && in_range(3..5, 59) && in_range(6..8, 59)) {
        return false;
    }
    let mut rest = time.get(8..).unwrap_or("");
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = fraction.get(digits..).unwrap_or("");
    }
    rest == "z" || is_utc_offset(rest)
}

fn is_utc_offset(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 6
        && matches!(bytes.first(), Some(b'+' | b'-'))
        && bytes.get(3) == Some(&b':')
        && two_digits(text.get(1..3)).is_some()
        && two_digits(text.get(4..6)).is_some()
}

fn two_digits(text: Option<&str>) -> Option<u32> {
    let text = text.filter(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))?;
    text.parse().ok()
}

/// `YYYY-MM-DD`, a real calendar day.
fn is_full_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        text.get(range).filter(|t| t.bytes().all(|b| b.is_ascii_digit())).and_then(|t| t.parse::<u32>().ok())
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else { return false };
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Standard base64 with padding; line breaks are skipped as Go's decoder does.
fn is_base64(text: &str) -> bool {
    let data: Vec<u8> = text.bytes().filter(|b| *b != b'\r' && *b != b'\n').collect();
    if !data.len().is_multiple_of(4) {
        return false;
    }
    let padding = data.iter().rev().take_while(|b| **b == b'=').count();
    let body = &data[..data.len() - padding];
    padding <= 2 && body.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else { return false };
    let Ok(address) = address.parse::<IpAddr>() else { return false };
    let max = if address.is_ipv4() { 32 } else { 128 };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|p| p <= max)
}

/// Dot-separated labels of letters, digits and inner hyphens, at most 63
/// bytes each and 255 in all.
fn is_hostname(text: &str) -> bool {
    text.len() <= 255
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

fn is_email(text: &str) -> bool {
    match text.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// An absolute URI (`scheme:…`) or an absolute path, without spaces or controls.
fn is_uri(text: &str) -> bool {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if text.starts_with('/') {
        return true;
    }
    let Some((scheme, _)) = text.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// EUI-48, EUI-64 or 20-byte InfiniBand addresses, as Go's `net.ParseMAC` reads them.
fn is_mac(text: &str) -> bool {
    let groups = |separator: char, width: usize, counts: &[usize]| {
        let parts: Vec<&str> = text.split(separator).collect();
        counts.contains(&parts.len())
            && parts.iter().all(|p| p.len() == width && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    groups(':', 2, &[6, 8, 20]) || groups('-', 2, &[6, 8, 20]) || groups('.', 4, &[3, 4, 10])
}

/// 8-4-4-4-12 hex digits, hyphens optional; uuid3/4/5 also pin the version
/// digit, and uuid4/5 the variant.
fn is_uuid(text: &str, version: Option<char>) -> bool {
    let mut hex = String::with_capacity(32);
    let mut rest = text;
    for (i, width) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('-').unwrap_or(rest);
        }
        let Some(group) = rest.get(..width).filter(|g| g.bytes().all(|b| b.is_ascii_hexdigit())) else {
            return false;
        };
        hex.push_str(group);
        rest = rest.get(width..).unwrap_or("");
    }
    if !rest.is_empty() {
        return false;
    }
    let digit = |i: usize| hex.chars().nth(i).map(|c| c.to_ascii_lowercase());
    match version {
        None => true,
        Some('3') => digit(12) == Some('3'),
        Some(v) => digit(12) == Some(v) && digit(16).is_some_and(|c| matches!(c, '8' | '9' | 'a' | 'b')),
    }
}

fn is_hex_color(text: &str) -> bool {
    let digits = text.strip_prefix('#').unwrap_or(text);
    (digits.len() == 3 || digits.len() == 6) && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `rgb(r, g, b)` with components 0-255 written without leading zeros.
fn is_rgb_color(text: &str) -> bool {
    let Some(inner) = text.strip_prefix("rgb(").and_then(|t| t.strip_suffix(')')) else { return false };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|n| n <= 255)
        })
}

/// `123-45-6789`, separators (`-` or space) optional.
fn is_ssn(text: &str) -> bool {
    static SSN: OnceLock<Option<Regex>> = OnceLock::new();
    static_match(&SSN, r"^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$", text)
}

/// Go durations (`1h30m`, `-1.5s`) or strfmt's `<n> <unit>` (`22 ns`, `3 days`).
fn is_duration(text: &str) -> bool {
    static GO: OnceLock<Option<Regex>> = OnceLock::new();
    static WORDS: OnceLock<Option<Regex>> = OnceLock::new();
    matches!(text, "0" | "+0" | "-0")
        || static_match(&GO, r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$", text)
        || static_match(
            &WORDS,
            r"(?i)^[0-9]+\s*(ns|nanos?(econds?)?|us|µs|μs|micros?(econds?)?|ms|millis?(econds?)?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)$",
            text,
        )
}

/// Matches `text` against a fixed pattern compiled once.
fn static_match(cell: &OnceLock<Option<Regex>>, pattern: &str, text: &str) -> bool {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref().is_some_and(|re| re.is_match(text))
}

// ---------------------------------------------------------------------------
// Go-compatible rendering
// ---------------------------------------------------------------------------

/// Go's `%q`: a double-quoted string with Go escapes.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Shortest decimal digits of a finite, non-zero float and its decimal exponent.
fn float_digits(f: f64) -> (String, i32) {
    let scientific = format!("{:e}", f.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exponent.parse().unwrap_or(0))
}

/// Digits placed around the decimal point, without exponent.
fn fixed_notation(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("0.{zeros}{digits}");
    }
    let integer_len = exponent as usize + 1;
    if digits.len() <= integer_len {
        format!("{digits}{}", "0".repeat(integer_len - digits.len()))
    } else {
        format!("{}.{}", &digits[..integer_len], &digits[integer_len..])
    }
}

/// `d.ddd` followed by an exponent written by `exponent_text`.
fn scientific_notation(digits: &str, exponent: i32, exponent_text: impl Fn(i32) -> String) -> String {
    let (first, rest) = digits.split_at(digits.len().min(1));
    let point = if rest.is_empty() { String::new() } else { format!(".{rest}") };
    format!("{first}{point}e{}", exponent_text(exponent))
}

/// Go's `%v` for a float64: `0.5`, `100000`, `1e+06`, `1.5e-05`.
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exponent) = float_digits(f);
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if !(-4..6).contains(&exponent) {
        scientific_notation(&digits, exponent, |e| format!("{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()))
    } else {
        fixed_notation(&digits, exponent)
    };
    format!("{sign}{body}")
}

/// A float as Go's encoding/json writes it: `1`, `0.5`, `1e+21`, `1e-7`.
fn go_json_float(f: f64) -> String {
    if !f.is_finite() || f == 0.0 {
        return "0".into();
    }
    let (digits, exponent) = float_digits(f);
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if f.abs() < 1e-6 || f.abs() >= 1e21 {
        scientific_notation(&digits, exponent, |e| if e < 0 { format!("-{}", -e) } else { format!("+{e:02}") })
    } else {
        fixed_notation(&digits, exponent)
    };
    format!("{sign}{body}")
}

/// JSON as Go's encoding/json writes it: object keys sorted.
fn go_json(value: &Value) -> String {
    canonical(value, false)
}

/// A stable rendering of a value with object keys sorted. `strict_numbers`
/// keeps `1` and `1.0` apart (Go values); otherwise floats print as Go's JSON.
fn canonical(value: &Value, strict_numbers: bool) -> String {
    match value {
        Value::Number(n) if !strict_numbers && !n.is_i64() && !n.is_u64() => go_json_float(n.as_f64().unwrap_or(0.0)),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|v| canonical(v, strict_numbers)).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), canonical(v, strict_numbers)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    /// Validates `obj` and returns the outcome and the object as stored.
    fn run(schema: &Value, obj: Value) -> (Outcome, Value) {
        let mut obj = obj;
        let outcome = validate_custom(schema, &mut obj);
        (outcome, obj)
    }

    fn run_messages(schema: &Value, obj: Value) -> Vec<String> {
        messages(&run(schema, obj).0.errors)
    }

    /// A resource of `spec` under a schema whose `spec` is `spec_schema`.
    fn resource_schema(spec_schema: Value) -> Value {
        json!({"type": "object", "properties": {"spec": spec_schema}})
    }

    fn resource(spec: Value) -> Value {
        json!({"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "a"}, "spec": spec})
    }

    /// Shaped after Istio's VirtualService: nested objects, arrays of
    /// objects, maps of objects.
    fn virtual_service_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["hosts"],
                    "properties": {
                        "hosts": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        "gateways": {"type": "array", "items": {"type": "string"}},
                        "http": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "match": {"type": "array", "items": {
                                    "type": "object",
                                    "properties": {
                                        "uri": {"type": "object", "properties": {
                                            "exact": {"type": "string"},
                                            "prefix": {"type": "string"}
                                        }},
                                        "headers": {"type": "object", "additionalProperties": {
                                            "type": "object",
                                            "properties": {"exact": {"type": "string"}}
                                        }}
                                    }
                                }},
                                "route": {"type": "array", "items": {
                                    "type": "object",
                                    "required": ["destination"],
                                    "properties": {
                                        "destination": {"type": "object", "required": ["host"], "properties": {
                                            "host": {"type": "string"},
                                            "port": {"type": "object", "properties": {
                                                "number": {"type": "integer", "minimum": 1, "maximum": 65535}
                                            }}
                                        }},
                                        "weight": {"type": "integer", "format": "int32"}
                                    }
                                }},
                                "timeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                                "retries": {"type": "object", "properties": {"attempts": {"type": "integer"}}}
                            }
                        }}
                    }
                },
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }
        })
    }

    fn virtual_service() -> Value {
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {
                "hosts": ["reviews.prod.svc.cluster.local"],
                "http": [{
                    "name": "v2",
                    "match": [{"uri": {"prefix": "/wpcatalog"}, "headers": {"end-user": {"exact": "jason"}}}],
                    "route": [{"destination": {"host": "reviews", "port": {"number": 9080}}, "weight": 100}],
                    "timeout": "10s"
                }]
            }
        })
    }

    /// Shaped after the Kubernetes docs' CronTab, with defaults, enums,
    /// int-or-string, preserved fields, nullables, list types and an
    /// embedded resource.
    fn crontab_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                        "image": {"type": "string", "maxLength": 20},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "concurrencyPolicy": {"type": "string", "enum": ["Allow", "Forbid", "Replace"], "default": "Allow"},
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "note": {"type": "string", "nullable": true},
                        "window": {"type": "object", "nullable": true, "properties": {
                            "start": {"type": "string", "format": "date-time"},
                            "days": {"type": "integer", "default": 7}
                        }},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "required": ["name"], "properties": {
                                "name": {"type": "string"},
                                "port": {"type": "integer"},
                                "protocol": {"type": "string", "default": "TCP"}
                            }}
                        },
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                        "data": {"type": "string", "format": "byte"},
                        "size": {"type": "integer", "format": "int32"},
                        "ratio": {"type": "number", "minimum": 0, "exclusiveMaximum": true, "maximum": 1}
                    }
                },
                "status": {"type": "object", "properties": {"lastScheduleTime": {"type": "string", "format": "date-time"}}}
            }
        })
    }

    fn crontab(spec: Value) -> Value {
        json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c"}, "spec": spec})
    }

    // --- pruning -----------------------------------------------------------

    #[test]
    fn a_valid_virtual_service_passes_untouched() {
        let (outcome, obj) = run(&virtual_service_schema(), virtual_service());
        assert_eq!(outcome, Outcome::default());
        assert_eq!(obj, virtual_service());
    }

    #[test]
    fn unknown_fields_are_pruned_and_reported_with_their_paths() {
        let mut obj = virtual_service();
        obj["spec"]["http"][0]["routee"] = json!([{"destination": {"host": "x"}}]);
        obj["spec"]["http"][0]["match"][0]["headers"]["end-user"]["regex"] = json!(".*");
        obj["spec"]["http"][0]["route"][0]["destination"]["subset"] = json!("v2");
        obj["spec"]["colour"] = json!("blue");
        obj["extra"] = json!(1);
        let (outcome, pruned) = run(&virtual_service_schema(), obj);
        assert_eq!(
            outcome.unknown_fields,
            [
                "extra",
                "spec.colour",
                "spec.http[0].match[0].headers.end-user.regex",
                "spec.http[0].route[0].destination.subset",
                "spec.http[0].routee",
            ]
        );
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(pruned, virtual_service());
    }

    #[test]
    fn pruning_keeps_field_order() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "b": {"type": "string"}, "a": {"type": "string"}
        }}));
        let (_, obj) = run(&schema, resource(json!({"z": 1, "b": "1", "y": 2, "a": "2"})));
        let keys: Vec<&String> = obj["spec"].as_object().into_iter().flat_map(|m| m.keys()).collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn type_and_object_meta_stay_at_the_root_even_without_a_schema() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object"}}});
        let obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"x": 1}});
        let (outcome, pruned) = run(&schema, obj);
        assert_eq!(outcome.unknown_fields, ["spec.x"]);
        assert_eq!(
            pruned,
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {}})
        );
    }

    #[test]
    fn preserve_unknown_fields_keeps_everything_below() {
        let mut obj = virtual_service();
        obj["status"] = json!({"conditions": [{"type": "Ready", "anything": {"deep": [1, 2]}}]});
        let (outcome, pruned) = run(&virtual_service_schema(), obj.clone());
        assert!(outcome.unknown_fields.is_empty());
        assert_eq!(pruned, obj);
    }

    #[test]
    fn preserve_unknown_fields_still_prunes_inside_known_fields() {
        let schema = resource_schema(json!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}
        }));
        let (outcome, obj) = run(&schema, resource(json!({"free": {"x": 1}, "known": {"a": "1", "b": 2}})));
        assert_eq!(outcome.unknown_fields, ["spec.known.b"]);
        assert_eq!(obj["spec"], json!({"free": {"x": 1}, "known": {"a": "1"}}));
    }

    #[test]
    fn embedded_resources_keep_their_type_and_object_meta() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
                "spec": {"type": "object", "properties": {"image": {"type": "string"}}}
            }}
        }}));
        let template =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"image": "nginx", "x": 1}});
        let (outcome, obj) = run(&schema, resource(json!({"template": template})));
        assert_eq!(outcome.unknown_fields, ["spec.template.spec.x"]);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(
            obj["spec"]["template"],
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"image": "nginx"}})
        );
    }

    #[test]
    fn additional_properties_true_keeps_keys_but_knows_nothing_below() {
        let schema = resource_schema(json!({"type": "object", "additionalProperties": true}));
        let (outcome, obj) = run(&schema, resource(json!({"a": 1, "b": {"c": 2}})));
        assert_eq!(outcome.unknown_fields, ["spec.b.c"]);
        assert_eq!(obj["spec"], json!({"a": 1, "b": {}}));
    }

    // --- defaulting --------------------------------------------------------

    #[test]
    fn defaults_fill_missing_fields_recursively() {
        let spec = json!({"cronSpec": "* * * * */5", "ports": [{"name": "http", "port": 80}], "window": {}});
        let (outcome, obj) = run(&crontab_schema(), crontab(spec));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(obj["spec"]["replicas"], json!(1));
        assert_eq!(obj["spec"]["concurrencyPolicy"], json!("Allow"));
        assert_eq!(obj["spec"]["ports"][0]["protocol"], json!("TCP"));
        assert_eq!(obj["spec"]["window"]["days"], json!(7));
    }

    #[test]
    fn defaults_do_not_override_given_values() {
        let spec = json!({"replicas": 3, "concurrencyPolicy": "Forbid", "ports": [{"name": "dns", "protocol": "UDP"}]});
        let (_, obj) = run(&crontab_schema(), crontab(spec));
        assert_eq!(obj["spec"]["replicas"], json!(3));
        assert_eq!(obj["spec"]["concurrencyPolicy"], json!("Forbid"));
        assert_eq!(obj["spec"]["ports"][0]["protocol"], json!("UDP"));
    }

    #[test]
    fn defaults_apply_inside_additional_properties_and_to_null_items() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "byName": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {"weight": {"type": "integer", "default": 10}}
            }},
            "levels": {"type": "array", "items": {"type": "string", "default": "info"}}
        }}));
        let (outcome, obj) =
            run(&schema, resource(json!({"byName": {"a": {}, "b": {"weight": 1}}, "levels": [null, "debug"]})));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(
            obj["spec"],
            json!({"byName": {"a": {"weight": 10}, "b": {"weight": 1}}, "levels": ["info", "debug"]})
        );
    }

    #[test]
    fn nulls_take_the_default_or_are_dropped_unless_nullable() {
        let spec = json!({"replicas": null, "image": null, "note": null, "window": null});
        let (outcome, obj) = run(&crontab_schema(), crontab(spec));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(obj["spec"]["replicas"], json!(1), "non-nullable null with a default takes it");
        assert!(obj["spec"].get("image").is_none(), "non-nullable null without a default is dropped");
        assert_eq!(obj["spec"]["note"], Value::Null, "nullable null stays");
        assert_eq!(obj["spec"]["window"], Value::Null);
    }

    #[test]
    fn a_whole_missing_object_is_defaulted_when_its_default_says_so() {
        let schema = resource_schema(json!({"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 2}
        }}));
        let (_, obj) = run(&schema, json!({"apiVersion": "x.io/v1", "kind": "X", "metadata": {}}));
        assert_eq!(obj["spec"], json!({"replicas": 2}));
    }

    // --- type, required, nested errors ------------------------------------

    #[test]
    fn type_errors_read_like_kube_apiserver() {
        let schema = resource_schema(json!({"type": "object", "properties": {"replicas": {"type": "integer"}}}));
        assert_eq!(
            run_messages(&schema, resource(json!({"replicas": "three"}))),
            [r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#]
        );
    }

    #[test]
    fn every_error_is_reported_with_its_full_path() {
        let mut obj = virtual_service();
        obj["spec"]["hosts"] = json!(["a", 2]);
        obj["spec"]["http"][0]["route"] = json!([{"destination": {"port": {"number": 70000}}}, {"weight": "heavy"}]);
        obj["spec"]["http"][0]["timeout"] = json!("soon");
        obj["spec"]["http"][0]["retries"] = json!([]);
        let errors = run_messages(&virtual_service_schema(), obj);
        assert_eq!(
            errors,
            [
                r#"spec.hosts[1]: Invalid value: "integer": spec.hosts[1] in body must be of type string: "integer""#,
                "spec.http[0].route[0].destination.port.number: Invalid value: 70000: spec.http[0].route[0].destination.port.number in body should be less than or equal to 65535",
                "spec.http[0].route[0].destination.host: Required value",
                r#"spec.http[0].route[1].weight: Invalid value: "string": spec.http[0].route[1].weight in body must be of type integer: "string""#,
                "spec.http[0].route[1].destination: Required value",
                r#"spec.http[0].timeout: Invalid value: "soon": spec.http[0].timeout in body should match '^[0-9]+(ms|s|m|h)$'"#,
                r#"spec.http[0].retries: Invalid value: "array": spec.http[0].retries in body must be of type object: "array""#,
            ]
        );
    }

    #[test]
    fn required_and_min_items_at_the_top() {
        let mut obj = virtual_service();
        obj["spec"] = json!({"gateways": []});
        assert_eq!(run_messages(&virtual_service_schema(), obj.clone()), ["spec.hosts: Required value"]);
        obj["spec"] = json!({"hosts": []});
        assert_eq!(
            run_messages(&virtual_service_schema(), obj),
            ["spec.hosts: Invalid value: 0: spec.hosts in body should have at least 1 items"]
        );
    }

    #[test]
    fn integers_accept_whole_floats_only() {
        let spec = |replicas: Value| crontab(json!({"replicas": replicas}));
        assert!(run_messages(&crontab_schema(), spec(json!(3.0))).is_empty());
        assert_eq!(
            run_messages(&crontab_schema(), spec(json!(2.5))),
            [r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#]
        );
        assert_eq!(
            run_messages(&crontab_schema(), spec(json!(0))),
            ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]
        );
    }

    #[test]
    fn numbers_accept_integers_and_check_float_bounds() {
        let spec = |ratio: Value| crontab(json!({"ratio": ratio}));
        assert!(run_messages(&crontab_schema(), spec(json!(0))).is_empty());
        assert!(run_messages(&crontab_schema(), spec(json!(0.25))).is_empty());
        assert_eq!(
            run_messages(&crontab_schema(), spec(json!(1))),
            ["spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"]
        );
        assert_eq!(
            run_messages(&crontab_schema(), spec(json!(-0.5))),
            ["spec.ratio: Invalid value: -0.5: spec.ratio in body should be greater than or equal to 0"]
        );
    }

    #[test]
    fn null_where_only_items_allow_none_is_a_type_error() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "names": {"type": "array", "items": {"type": "string"}}
        }}));
        assert_eq!(
            run_messages(&schema, resource(json!({"names": ["a", null]}))),
            [r#"spec.names[1]: Invalid value: "null": spec.names[1] in body must be of type string: "null""#]
        );
    }

    #[test]
    fn nullable_objects_accept_null_and_validate_otherwise() {
        let spec = |window: Value| crontab(json!({"window": window}));
        assert!(run_messages(&crontab_schema(), spec(Value::Null)).is_empty());
        assert_eq!(
            run_messages(&crontab_schema(), spec(json!("weekly"))),
            [r#"spec.window: Invalid value: "string": spec.window in body must be of type object: "string""#]
        );
    }

    // --- enum, strings, formats ---------------------------------------------

    #[test]
    fn enums_list_their_supported_values() {
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"concurrencyPolicy": "Sometimes"}))),
            [
                r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#
            ]
        );
        let schema = resource_schema(
            json!({"type": "object", "properties": {"level": {"type": "number", "enum": [1, 2.5, 3]}}}),
        );
        assert!(run_messages(&schema, resource(json!({"level": 1.0}))).is_empty());
        assert_eq!(
            run_messages(&schema, resource(json!({"level": 2}))),
            [r#"spec.level: Unsupported value: 2: supported values: "1", "2.5", "3""#]
        );
    }

    #[test]
    fn string_length_and_pattern() {
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"image": "registry.example.com/a/very/long/image"}))),
            ["spec.image: Too long: may not be longer than 20"]
        );
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"cronSpec": "every minute"}))),
            [
                r#"spec.cronSpec: Invalid value: "every minute": spec.cronSpec in body should match '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'"#
            ]
        );
        let schema =
            resource_schema(json!({"type": "object", "properties": {"code": {"type": "string", "minLength": 3}}}));
        assert_eq!(
            run_messages(&schema, resource(json!({"code": "ab"}))),
            [r#"spec.code: Invalid value: "ab": spec.code in body should be at least 3 chars long"#]
        );
    }

    #[test]
    fn an_invalid_pattern_fails_the_value_instead_of_panicking() {
        let schema =
            resource_schema(json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}}));
        let errors = run_messages(&schema, resource(json!({"a": "x"})));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("should match '([, but pattern is invalid:"), "{errors:?}");
    }

    #[test]
    fn formats_are_checked() {
        let status = |time: &str| {
            let mut obj = crontab(json!({}));
            obj["status"] = json!({"lastScheduleTime": time});
            obj
        };
        assert!(run_messages(&crontab_schema(), status("2024-02-29T10:00:00Z")).is_empty());
        assert!(run_messages(&crontab_schema(), status("2024-02-29t10:00:00.123+02:00")).is_empty());
        assert_eq!(
            run_messages(&crontab_schema(), status("yesterday")),
            [
                r#"status.lastScheduleTime: Invalid value: "yesterday": status.lastScheduleTime in body must be of type date-time: "yesterday""#
            ]
        );
        assert_eq!(run_messages(&crontab_schema(), status("2023-02-29T10:00:00Z")).len(), 1, "no 29 Feb in 2023");
        assert!(run_messages(&crontab_schema(), crontab(json!({"data": "aGVsbG8="}))).is_empty());
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"data": "hello!"}))),
            [r#"spec.data: Invalid value: "hello!": spec.data in body must be of type byte: "hello!""#]
        );
    }

    #[test]
    fn int32_and_int64_formats_are_not_range_checked_as_upstream() {
        assert!(run_messages(&crontab_schema(), crontab(json!({"size": 1_i64 << 40}))).is_empty());
    }

    #[test]
    fn format_checkers() {
        let cases = [
            ("date-time", "2024-01-01T00:00:00Z", true),
            ("date-time", "2024-01-01T24:00:00Z", false),
            ("date-time", "2024-01-01 00:00:00Z", false),
            ("date", "2024-12-31", true),
            ("date", "2024-13-01", false),
            ("byte", "", true),
            ("byte", "YQ==", true),
            ("byte", "YQ=", false),
            ("byte", "Y=Q=", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123e4567e89b12d3a456426614174000", true),
            ("uuid", "123e4567-e89b-12d3-a456", false),
            ("uuid4", "123e4567-e89b-42d3-a456-426614174000", true),
            ("uuid4", "123e4567-e89b-42d3-c456-426614174000", false),
            ("uuid3", "123e4567-e89b-32d3-c456-426614174000", true),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0.256", false),
            ("ipv6", "fe80::1", true),
            ("ipv6", "10.0.0.1", false),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("cidr", "fd00::/64", true),
            ("hostname", "example.com", true),
            ("hostname", "-bad.example.com", false),
            ("email", "a@example.com", true),
            ("email", "example.com", false),
            ("uri", "https://example.com/x", true),
            ("uri", "/relative/path", true),
            ("uri", "not a uri", false),
            ("mac", "00:00:5e:00:53:01", true),
            ("mac", "0000.5e00.5301", true),
            ("mac", "00:00:5e:00:53", false),
            ("hexcolor", "#ffaa00", true),
            ("hexcolor", "#ffaa0", false),
            ("rgbcolor", "rgb(255, 0, 10)", true),
            ("rgbcolor", "rgb(256, 0, 10)", false),
            ("ssn", "123-45-6789", true),
            ("ssn", "123-456-789", false),
            ("bsonobjectid", "507f1f77bcf86cd799439011", true),
            ("bsonobjectid", "507f1f77bcf86cd79943901", false),
            ("duration", "1h30m", true),
            ("duration", "22 ns", true),
            ("duration", "3 days", true),
            ("duration", "soon", false),
            ("password", "anything at all", true),
        ];
        for (format, text, ok) in cases {
            assert_eq!(format_matches(format, text), ok, "{format} {text:?}");
        }
    }

    // --- int-or-string, combinators ------------------------------------------

    #[test]
    fn int_or_string_accepts_both_and_explains_otherwise() {
        assert!(run_messages(&crontab_schema(), crontab(json!({"port": 8080}))).is_empty());
        assert!(run_messages(&crontab_schema(), crontab(json!({"port": "http"}))).is_empty());
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"port": true}))),
            [
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
                r#"<nil>: Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#,
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#,
            ]
        );
    }

    #[test]
    fn one_of_all_of_and_not() {
        let schema = resource_schema(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "not": {"required": ["c"]},
            "allOf": [{"properties": {"a": {"maxLength": 3}}}]
        }));
        assert!(run_messages(&schema, resource(json!({"a": "x"}))).is_empty());
        assert_eq!(
            run_messages(&schema, resource(json!({"a": "x", "b": "y"}))),
            [
                r#"<nil>: Invalid value: "": "spec" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ]
        );
        assert_eq!(
            run_messages(&schema, resource(json!({}))),
            [
                r#"<nil>: Invalid value: "": "spec" must validate one and only one schema (oneOf). Found none valid"#,
                "spec.a: Required value",
            ]
        );
        assert_eq!(
            run_messages(&schema, resource(json!({"a": "long"}))),
            [
                "spec.a: Too long: may not be longer than 3",
                r#"<nil>: Invalid value: "": "spec" must validate all the schemas (allOf). None validated"#,
            ]
        );
        let not_schema = resource_schema(json!({
            "type": "object", "properties": {"c": {"type": "integer"}}, "not": {"required": ["c"]}
        }));
        assert_eq!(
            run_messages(&not_schema, resource(json!({"c": 1}))),
            [r#"<nil>: Invalid value: "": "spec" must not validate the schema (not)"#]
        );
    }

    // --- arrays, objects, numbers ---------------------------------------------

    #[test]
    fn array_and_object_limits() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "list": {"type": "array", "maxItems": 2, "uniqueItems": true, "items": {"type": "integer"}},
            "map": {"type": "object", "minProperties": 1, "maxProperties": 2, "additionalProperties": {"type": "string"}},
            "closed": {"type": "object", "additionalProperties": false}
        }}));
        assert_eq!(
            run_messages(&schema, resource(json!({"list": [1, 1, 2], "map": {}}))),
            [
                "spec.list: Too many: 3: must have at most 2 items",
                r#"spec.list: Invalid value: "": spec.list in body shouldn't contain duplicates"#,
                "spec.map: Invalid value: 0: spec.map in body should have at least 1 properties",
            ]
        );
        assert_eq!(
            run_messages(&schema, resource(json!({"map": {"a": "1", "b": "2", "c": "3"}}))),
            ["spec.map: Too many: 3: must have at most 2 items"]
        );
        // additionalProperties: false keeps scalar keys through pruning, then forbids them.
        assert_eq!(
            run_messages(&schema, resource(json!({"closed": {"x": 1}}))),
            [r#"spec.closed: Invalid value: "x": spec.closed.x in body is a forbidden property"#]
        );
    }

    #[test]
    fn additional_properties_values_are_validated() {
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"labels": {"team": 7, "tier": "web"}}))),
            [
                r#"spec.labels.team: Invalid value: "integer": spec.labels.team in body must be of type string: "integer""#
            ]
        );
    }

    #[test]
    fn multiple_of_for_integers_and_floats() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "n": {"type": "integer", "multipleOf": 5},
            "f": {"type": "number", "multipleOf": 0.1},
            "m": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}
        }}));
        assert!(run_messages(&schema, resource(json!({"n": 15, "f": 0.3, "m": 1}))).is_empty());
        assert_eq!(
            run_messages(&schema, resource(json!({"n": 7, "f": 0.25, "m": 0}))),
            [
                "spec.n: Invalid value: 7: spec.n in body should be a multiple of 5",
                "spec.f: Invalid value: 0.25: spec.f in body should be a multiple of 0.1",
                "spec.m: Invalid value: 0: spec.m in body should be greater than 0",
            ]
        );
    }
    // --- list types, embedded resources -------------------------------------

    #[test]
    fn list_type_set_and_map_reject_duplicates() {
        let spec = json!({
            "tags": ["a", "b", "a", "a"],
            "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 8080}, {"port": 1}, {"port": 2}]
        });
        assert_eq!(
            run_messages(&crontab_schema(), crontab(spec)),
            [
                "spec.ports[2].name: Required value",
                "spec.ports[3].name: Required value",
                r#"spec.tags[2]: Duplicate value: "a""#,
                r#"spec.ports[1]: Duplicate value: {"name":"http"}"#,
                "spec.ports[3]: Duplicate value: {}",
            ]
        );
    }

    #[test]
    fn list_type_map_with_several_keys_and_non_objects() {
        let schema = resource_schema(json!({"type": "object", "properties": {"routes": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["host", "port"],
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }}}));
        let routes = json!([{"host": "a", "port": 1}, {"host": "a", "port": 2}, {"port": 1, "host": "a", "x": 0}]);
        assert_eq!(
            run_messages(&schema, resource(json!({"routes": routes}))),
            [r#"spec.routes[2]: Duplicate value: {"host":"a","port":1}"#]
        );
        let loose = resource_schema(json!({"type": "object", "properties": {"routes": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["host"],
            "items": {"x-kubernetes-preserve-unknown-fields": true}
        }}}));
        assert_eq!(
            run_messages(&loose, resource(json!({"routes": [{"host": "a"}, "b"]}))),
            [r#"spec.routes[1]: Invalid value: "b": must be an object for an array of list-type map"#]
        );
    }

    #[test]
    fn embedded_resources_need_api_version_and_kind() {
        let template = json!({"metadata": {"name": "p"}, "spec": {}});
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"template": template}))),
            ["spec.template.apiVersion: Required value", "spec.template.kind: Required value"]
        );
        let template = json!({"apiVersion": "a/b/c", "kind": "Bad_Kind", "metadata": "x"});
        assert_eq!(
            run_messages(&crontab_schema(), crontab(json!({"template": template}))),
            [
                r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
                "spec.template.kind: Invalid value: \"Bad_Kind\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                r#"spec.template.metadata: Invalid value: "x": must be an object"#,
            ]
        );
        let template = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}, "spec": {"any": 1}});
        assert!(run_messages(&crontab_schema(), crontab(json!({"template": template}))).is_empty());
    }

    #[test]
    fn metadata_is_only_checked_against_what_the_schema_says() {
        let schema = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}}
        }});
        let obj =
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "too-long-name", "labels": {"x": "y"}}});
        let (outcome, obj) = run(&schema, obj);
        assert_eq!(messages(&outcome.errors), ["metadata.name: Too long: may not be longer than 5"]);
        assert!(outcome.unknown_fields.is_empty());
        assert_eq!(obj["metadata"]["labels"], json!({"x": "y"}));
    }

    // --- robustness -----------------------------------------------------------

    /// Values of every JSON kind, including awkward ones.
    fn junk() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(u64::MAX),
            json!(-9.9e300),
            json!(""),
            json!("(["),
            json!("x"),
            json!([]),
            json!([null, 1, "a", {}]),
            json!({}),
            json!({"type": 5}),
            json!({"properties": "x", "items": 1, "additionalProperties": "y"}),
        ]
    }

    const KEYWORDS: [&str; 34] = [
        "type",
        "format",
        "pattern",
        "nullable",
        "default",
        "enum",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "$ref",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    ];

    #[test]
    fn junk_schemas_and_objects_never_panic() {
        for keyword in KEYWORDS {
            for bad in junk() {
                let node = json!({"type": "object", keyword: bad.clone(), "properties": {"a": {keyword: bad.clone()}}});
                let schema = json!({"type": "object", "properties": {"spec": node.clone(), "list": {"type": "array", "items": node}}});
                let _ = check_structural(&schema, "s");
                let _ = check_structural(&bad, "s");
                for value in junk() {
                    let mut obj = json!({"spec": value.clone(), "list": [value.clone(), {"a": value.clone()}]});
                    let _ = validate_custom(&schema, &mut obj);
                    let mut raw = value.clone();
                    let _ = validate_custom(&bad, &mut raw);
                }
            }
        }
    }

    #[test]
    fn special_numbers_do_not_break_bounds() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "n": {"type": "integer", "multipleOf": -3, "minimum": 1e300, "maximum": -1e300},
            "z": {"type": "integer", "multipleOf": 0},
            "f": {"type": "number", "multipleOf": 0, "minimum": -1e300}
        }}));
        let errors = run_messages(&schema, resource(json!({"n": i64::MIN, "z": 7, "f": 1e300})));
        assert!(
            errors.iter().any(|e| e.contains("factor MultipleOf declared for spec.n must be positive: -3")),
            "{errors:?}"
        );
    }

    // --- check_structural -------------------------------------------------------

    const P: &str = "spec.versions[0].schema.openAPIV3Schema";

    fn structural_messages(schema: Value) -> Vec<String> {
        messages(&check_structural(&schema, P))
    }

    #[test]
    fn good_schemas_are_structural() {
        assert_eq!(structural_messages(virtual_service_schema()), Vec::<String>::new());
        assert_eq!(structural_messages(crontab_schema()), Vec::<String>::new());
    }

    #[test]
    fn every_node_needs_a_type() {
        let schema = json!({"properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "list": {"type": "array", "items": {}},
            "free": {"x-kubernetes-preserve-unknown-fields": true},
            "port": {"x-kubernetes-int-or-string": true}
        }});
        assert_eq!(
            structural_messages(schema),
            [
                format!("{P}.properties[spec].type: Required value: must not be empty for specified object fields"),
                format!("{P}.properties[list].items.type: Required value: must not be empty for specified array items"),
                format!("{P}.type: Required value: must not be empty at the root"),
            ]
        );
    }

    #[test]
    fn the_root_is_an_object_without_additional_properties_or_nullable() {
        assert_eq!(
            structural_messages(
                json!({"type": "object", "nullable": true, "additionalProperties": {"type": "string"}})
            ),
            [
                format!("{P}.nullable: Forbidden: nullable cannot be true at the root"),
                format!("{P}.additionalProperties: Forbidden: must not be used at the root"),
            ]
        );
        assert_eq!(
            structural_messages(json!({"type": "array", "items": {"type": "string"}})),
            [format!(r#"{P}.type: Invalid value: "array": must be object at the root"#)]
        );
        assert_eq!(
            structural_messages(json!("object")),
            [format!(r#"{P}: Invalid value: "object": must be an object"#)]
        );
    }

    #[test]
    fn unsupported_keywords_are_forbidden() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "a": {"$ref": "#/definitions/a"},
            "b": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "c": {"type": "array", "uniqueItems": true, "items": [{"type": "string"}]},
            "d": {"type": "null"},
            "e": {"type": "strin"},
            "f": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}
        }}));
        let errors = structural_messages(schema);
        let s = format!("{P}.properties[spec].properties");
        for expected in [
            format!("{s}[a].$ref: Forbidden: $ref is not supported"),
            format!("{s}[b].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"),
            format!("{s}[c].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
            format!("{s}[c].items: Forbidden: items must be a schema object and not an array"),
            format!("{s}[c].items: Required value: must be specified"),
            format!("{s}[d].type: Forbidden: type cannot be set to null, use nullable as an alternative"),
            format!(r#"{s}[e].type: Unsupported value: "strin": supported values: "array", "boolean", "integer", "number", "object", "string""#),
            format!("{s}[f].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"),
        ] {
            assert!(errors.contains(&expected), "missing {expected}\nin {errors:#?}");
        }
    }

    #[test]
    fn value_validations_must_not_shape_values() {
        let schema = resource_schema(json!({
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "anyOf": [{"type": "object", "properties": {"a": {"default": "x"}, "b": {"pattern": "x"}}}],
            "allOf": [{"properties": {"metadata": {}}}],
            "oneOf": [{"nullable": true, "x-kubernetes-preserve-unknown-fields": true}],
            "not": {"additionalProperties": {"type": "string"}, "description": "no"}
        }));
        let s = format!("{P}.properties[spec]");
        assert_eq!(
            structural_messages(schema),
            [
                format!("{s}.anyOf[0].properties[a].default: Forbidden: must be undefined to be structural"),
                format!("{s}.anyOf[0].type: Forbidden: must be empty to be structural"),
                format!("{s}.allOf[0].properties[metadata]: Forbidden: must not be specified in a nested context"),
                format!("{s}.oneOf[0].nullable: Forbidden: must be false to be structural"),
                format!("{s}.oneOf[0].x-kubernetes-preserve-unknown-fields: Forbidden: must be false to be structural"),
                format!("{s}.not.additionalProperties: Forbidden: must be undefined to be structural"),
                format!("{s}.not.description: Forbidden: must be empty to be structural"),
            ]
        );
    }

    #[test]
    fn root_value_validations_must_name_structural_fields() {
        let schema = json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
            "anyOf": [{"properties": {"spec": {"properties": {"a": {"minLength": 1}, "b": {"minLength": 1}}}}}, {"properties": {"status": {}}}]
        });
        assert_eq!(
            structural_messages(schema),
            [
                format!("{P}.properties[spec].properties[b]: Required value: because it is defined in {P}.anyOf[0].properties[spec].properties[b]"),
                format!("{P}.properties[status]: Required value: because it is defined in {P}.anyOf[1].properties[status]"),
            ]
        );
    }

    #[test]
    fn int_or_string_may_spell_out_its_types() {
        let any_of = json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]});
        let all_of = json!({"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]});
        for port in [any_of, all_of] {
            assert_eq!(
                structural_messages(resource_schema(json!({"type": "object", "properties": {"port": port}}))),
                Vec::<String>::new()
            );
        }
        let conflicting = json!({"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true});
        assert_eq!(
            structural_messages(resource_schema(json!({"type": "object", "properties": {"port": conflicting}}))),
            [format!("{P}.properties[spec].properties[port].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true")]
        );
    }

    #[test]
    fn metadata_may_only_restrict_names() {
        let ok = json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 10}
        }}}});
        assert_eq!(structural_messages(ok), Vec::<String>::new());
        let labels = json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "labels": {"type": "object"}
        }}}});
        assert_eq!(
            structural_messages(labels),
            [format!("{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified")]
        );
        let kind =
            json!({"type": "object", "properties": {"kind": {"type": "integer"}, "metadata": {"type": "string"}}});
        assert_eq!(
            structural_messages(kind),
            [
                format!(r#"{P}.properties[kind].type: Invalid value: "integer": must be string"#),
                format!(r#"{P}.properties[metadata].type: Invalid value: "string": must be object"#),
            ]
        );
        let defaulted =
            json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {"name": "x"}}}});
        assert_eq!(
            structural_messages(defaulted),
            [format!("{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata")]
        );
    }

    #[test]
    fn embedded_resources_are_objects_with_fields() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "a": {"x-kubernetes-embedded-resource": true},
            "b": {"type": "object", "x-kubernetes-embedded-resource": true}
        }}));
        let s = format!("{P}.properties[spec].properties");
        assert_eq!(
            structural_messages(schema),
            [
                format!("{s}[a].type: Required value: must be object if x-kubernetes-embedded-resource is true"),
                format!("{s}[a].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"),
                format!("{s}[b].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"),
            ]
        );
    }

    #[test]
    fn list_type_extensions_are_consistent() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "a": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "string"}},
            "b": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "nope"],
                  "items": {"type": "object", "properties": {"name": {"type": "string", "nullable": true}}}},
            "c": {"type": "string", "x-kubernetes-list-type": "bag"},
            "d": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object"}}
        }}));
        let s = format!("{P}.properties[spec].properties");
        let errors = structural_messages(schema);
        for expected in [
            format!("{s}[a].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"),
            format!(r#"{s}[a].items.type: Invalid value: "string": must be object if parent array's x-kubernetes-list-type is map"#),
            format!(r#"{s}[b].x-kubernetes-list-map-keys: Invalid value: ["name","nope"]: entries must all be names of item properties"#),
            format!("{s}[b].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"),
            format!("{s}[b].items.properties[name].nullable: Forbidden: this property is in x-kubernetes-list-map-keys, so it cannot be nullable"),
            format!(r#"{s}[c].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified"#),
            format!(r#"{s}[c].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#),
            format!("{s}[d].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set"),
        ] {
            assert!(errors.contains(&expected), "missing {expected}\nin {errors:#?}");
        }
    }

    #[test]
    fn patterns_must_compile() {
        let schema =
            resource_schema(json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}}));
        let errors = structural_messages(schema);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!(
                r#"{P}.properties[spec].properties[a].pattern: Invalid value: "([": must be a valid regular expression, but isn't: "#
            )),
            "{errors:?}"
        );
    }

    #[test]
    fn defaults_must_validate_against_their_schema() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "replicas": {"type": "integer", "default": "one"},
            "policy": {"type": "string", "enum": ["A", "B"], "default": "C"},
            "limits": {"type": "object", "default": {"cpu": "1"}, "required": ["memory"], "properties": {
                "cpu": {"type": "integer"}, "memory": {"type": "string"}
            }},
            "extra": {"type": "object", "default": {"unknown": true}, "properties": {"known": {"type": "string"}}}
        }}));
        let s = format!("{P}.properties[spec].properties");
        assert_eq!(
            structural_messages(schema),
            [
                format!(
                    r#"{s}[replicas].default: Invalid value: "string":  in body must be of type integer: "string""#
                ),
                format!(r#"{s}[policy].default: Unsupported value: "C": supported values: "A", "B""#),
                format!(
                    r#"{s}[limits].default.cpu: Invalid value: "string": cpu in body must be of type integer: "string""#
                ),
                format!("{s}[limits].default.memory: Required value"),
                format!(r#"{s}[extra].default: Invalid value: {{"unknown":true}}: must not have unknown fields"#),
            ]
        );
    }

    #[test]
    fn defaults_are_checked_only_once_the_schema_is_structural() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "a": {"type": "integer", "default": "one"},
            "b": {}
        }}));
        assert_eq!(
            structural_messages(schema),
            [format!("{P}.properties[spec].properties[b].type: Required value: must not be empty for specified object fields")]
        );
    }

    #[test]
    fn keywords_of_the_wrong_kind_are_reported() {
        let schema = resource_schema(json!({"type": "object", "properties": {
            "a": {"type": 5, "required": "x", "maxLength": -1, "nullable": "yes"}
        }}));
        let s = format!("{P}.properties[spec].properties[a]");
        let errors = structural_messages(schema);
        for expected in [
            format!("{s}.type: Invalid value: 5: must be a string"),
            format!(r#"{s}.required: Invalid value: "x": must be a list of strings"#),
            format!("{s}.maxLength: Invalid value: -1: must be a non-negative integer"),
            format!(r#"{s}.nullable: Invalid value: "yes": must be a boolean"#),
        ] {
            assert!(errors.contains(&expected), "missing {expected}\nin {errors:#?}");
        }
    }

    // --- Go-compatible rendering ---------------------------------------------------

    #[test]
    fn patterns_keep_go_meaning() {
        let matches = |pattern: &str, text: &str| compiled_pattern(pattern).is_ok_and(|re| re.is_match(text));
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d+$", "١٢٣"), "Go's \\d is ASCII only");
        assert!(!matches(r"^\w+$", "héllo"), "Go's \\w is ASCII only");
        assert!(matches(r"^[\w.-]+$", "a.b-c_d"));
        assert!(matches(r"^[^\s]+$", "a"));
        assert!(matches(r"^[]a]+$", "]a]"), "a leading ] is a literal");
        assert!(matches(r"^[[]+$", "[["), "[ inside a class is a literal");
        assert!(matches(r"^[a&~]+$", "&~a"), "& and ~ inside a class are literals");
        assert!(matches(r"^[[:alpha:]]+$", "abc"));
        assert!(matches(r"\bfoo\b", "a foo b"));
        assert!(matches(r"^\p{L}{1,253}$", "héllo"), "big Unicode repetitions still compile");
        assert_eq!(compiled_pattern("([").err().as_deref(), Some("unclosed character class"));
    }

    #[test]
    fn floats_render_like_go() {
        let cases = [
            (0.5, "0.5"),
            (1.0, "1"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1.5e-5, "1.5e-05"),
            (-2.25, "-2.25"),
            (0.0001, "0.0001"),
        ];
        for (f, expected) in cases {
            assert_eq!(go_float(f), expected);
        }
        let json_cases = [(1.0, "1"), (0.5, "0.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (123456789.0, "123456789")];
        for (f, expected) in json_cases {
            assert_eq!(go_json_float(f), expected);
        }
        assert_eq!(go_json(&json!({"b": 1.0, "a": [2, "x"]})), r#"{"a":[2,"x"],"b":1}"#);
        assert_eq!(go_quote("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\x01""#);
    }
}
