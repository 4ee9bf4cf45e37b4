//! The verbs on resources: get, list, create, update, patch, delete,
//! deletecollection, and the status and scale subresources. Generic over
//! the resource type; what varies per kind comes from the registry, the
//! validation module and `hooks`.

use super::admit::admit;
use super::convert::{to_storage, to_view};
use super::objects::{self, meta_mut, meta_str};
use super::request::{body_type, parse_body, parse_typed_body, BodyType, Query, Rendering, Target};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};
use super::{hooks, render, ApiServer};
use crate::patch::{self, ApplyError, PatchError};
use crate::registry::{ResourceType, Source};
use crate::store::{object_revision, StoreError};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::Arc;

/// Retries of a read-modify-write when someone else wrote in between.
const MAX_RETRIES: usize = 8;

/// A request on a resource, with what every verb needs.
pub struct Call<'a> {
    pub server: &'a ApiServer,
    pub target: Target,
    pub query: Query,
    pub headers: HeaderMap,
    pub rendering: Rendering,
}

impl Call<'_> {
    fn rt(&self) -> &ResourceType {
        &self.target.rt
    }
    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or_default()
    }
    fn current(&self) -> Option<Arc<Value>> {
        self.server.store.get(&self.target.key())
    }
    fn storage_version(&self) -> String {
        self.server.registry.storage_api_version(self.rt())
    }
    /// The field manager of a write: `?fieldManager=`, else the client's
    /// user agent up to the first `/`, as kube-apiserver does.
    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager") {
            return m.to_string();
        }
        self.headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }
}

fn store_err(rt: &ResourceType, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(rt, name),
        StoreError::NotFound => ApiError::not_found(rt, name),
        StoreError::Conflict => ApiError::modified(rt, name),
        StoreError::Gone { requested, oldest } => {
            ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
        }
        StoreError::Backend(m) => ApiError::internal(m),
    }
}

fn schema_for(rt: &ResourceType) -> crate::openapi::SchemaNode {
    match &rt.source {
        Source::Builtin => crate::openapi::builtin_schema(&rt.group, &rt.version, &rt.kind)
            .unwrap_or_else(|| crate::openapi::custom_schema(&json!({}))),
        Source::Custom(info) => crate::openapi::custom_schema(info.schema.as_ref().unwrap_or(&json!({}))),
    }
}

/// `get` of one object (or its status subresource).
pub fn get(call: &Call) -> ApiResult<Response> {
    let obj = call.current().ok_or_else(|| ApiError::not_found(call.rt(), call.name()))?;
    if call.target.subresource.as_deref() == Some("scale") {
        return Ok(render::json(StatusCode::OK, &scale_view(call.rt(), &obj)?, &[]));
    }
    let view = to_view(call.rt(), &obj);
    Ok(render::one(call.rt(), view, call.rendering, StatusCode::OK, &[]))
}

/// The paging token: where the last page ended.
fn encode_continue(key: &str, rev: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"k": key, "rv": rev}).to_string())
}

fn decode_continue(token: &str) -> ApiResult<String> {
    let bad = || ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("k").and_then(Value::as_str).map(String::from).ok_or_else(bad)
}

pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn from_query(rt: &ResourceType, q: &Query) -> ApiResult<Self> {
        let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), &rt.group, &rt.kind)
            .map_err(ApiError::bad_request)?;
        Ok(Selectors { labels, fields })
    }
    pub fn matches(&self, stored: &Value) -> bool {
        self.labels.matches(stored) && self.fields.matches(stored)
    }
}

/// `list` of a collection, with selectors and paging.
pub fn list(call: &Call) -> ApiResult<Response> {
    let rt = call.rt();
    let sel = Selectors::from_query(rt, &call.query)?;
    let limit: Option<usize> = match call.query.get("limit") {
        Some(l) => {
            Some(l.parse().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?).filter(|l| *l > 0)
        }
        None => None,
    };
    let mut after = match call.query.get("continue") {
        Some(t) => Some(decode_continue(t)?),
        None => None,
    };
    let prefix = call.target.collection_prefix();
    let mut items = Vec::new();
    let mut rev;
    let mut next = None;
    // Fill the page with matching items, reading the store in chunks.
    loop {
        let chunk = limit.map(|l| (l - items.len()).max(64));
        let (page, r, more) = call.server.store.list(&prefix, after.as_deref(), chunk);
        rev = r;
        let mut last_key = None;
        for (key, obj) in page {
            last_key = Some(key.clone());
            if sel.matches(&obj) {
                items.push(to_view(rt, &obj));
                if limit.is_some_and(|l| items.len() >= l) {
                    break;
                }
            }
        }
        let full = limit.is_some_and(|l| items.len() >= l);
        if full {
            if let Some(k) = &last_key {
                let remaining = call.server.store.list(&prefix, Some(k), Some(1)).0;
                if !remaining.is_empty() {
                    next = Some(encode_continue(k, rev));
                }
            }
            break;
        }
        if !more {
            break;
        }
        after = last_key;
    }
    Ok(render::list(rt, items, rev, next.as_deref(), call.rendering))
}

/// Namespaced objects may only be created in a namespace that exists and
/// is not being deleted.
fn check_namespace(call: &Call) -> ApiResult<()> {
    let Some(ns) = call.target.namespace.as_deref().filter(|_| call.rt().namespaced) else { return Ok(()) };
    let key = format!("/registry/core/namespaces/{ns}");
    match call.server.store.get(&key) {
        None => Err(ApiError::namespace_not_found(ns)),
        Some(n) if objects::is_deleting(&n) => Err(ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            call.rt().group_resource(),
            call.name()
        ))),
        Some(_) => Ok(()),
    }
}

/// Check a body's apiVersion and kind name this resource.
fn check_type(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request must be a JSON or YAML object"));
    }
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if kind.is_empty() {
        return Err(ApiError::bad_request("Object 'Kind' is missing in the request body"));
    }
    if av.is_empty() {
        return Err(ApiError::bad_request("Object 'apiVersion' is missing in the request body"));
    }
    if kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    if av != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    Ok(())
}

/// Make the body's namespace agree with the URL's.
fn set_namespace(call: &Call, obj: &mut Value) -> ApiResult<()> {
    let url_ns = call.target.namespace.clone();
    let meta = meta_mut(obj);
    if !call.rt().namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(url_ns) = url_ns else {
        return Err(ApiError::bad_request("a namespace is required to create or change this resource"));
    };
    match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() && ns != url_ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.insert("namespace".into(), Value::String(url_ns));
            Ok(())
        }
    }
}

/// Server-set metadata of a new object.
fn init_metadata(obj: &mut Value) {
    let meta = meta_mut(obj);
    meta.insert("uid".into(), json!(objects::new_uid()));
    meta.insert("creationTimestamp".into(), json!(objects::now()));
    meta.insert("generation".into(), json!(1));
    for f in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
        meta.remove(f);
    }
}

/// `create` (POST on a collection).
pub async fn create(call: &Call<'_>, body: &[u8]) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let ty = body_type(&call.headers)?;
    let mut obj = parse_typed_body(body, ty)?;
    check_type(call.rt(), &obj)?;
    set_namespace(call, &mut obj)?;
    if meta_str(&obj, "name").is_none() {
        if let Some(prefix) = meta_str(&obj, "generateName").map(String::from) {
            meta_mut(&mut obj).insert("name".into(), json!(format!("{prefix}{}", objects::random_suffix())));
        }
    }
    if meta_str(&obj, "resourceVersion").is_some() {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    let name = objects::name(&obj).to_string();
    let target = Target { name: Some(name.clone()), ..call.target.clone() };
    let call = Call { target, query: call.query.clone(), headers: call.headers.clone(), ..*call };
    check_namespace(&call)?;
    init_metadata(&mut obj);
    let mut warnings = Vec::new();
    let mut obj = admit(call.rt(), obj, None, call.query.field_validation()?, &mut warnings)?;
    if name.is_empty() {
        // admit reported it; kept for objects whose validator did not.
        return Err(ApiError::invalid(
            call.rt(),
            "",
            &[crate::validation::field_error::FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        ));
    }
    hooks::prepare_create(call.server, call.rt(), &mut obj)?;
    let schema = schema_for(call.rt());
    patch::track_update(None, &mut obj, &call.manager(), &call.rt().api_version(), None, &schema, &objects::now());
    if call.query.dry_run() {
        return Ok(render::one(call.rt(), obj, call.rendering, StatusCode::CREATED, &warnings));
    }
    let stored = call
        .server
        .store
        .create(&call.target.key(), to_storage(call.rt(), obj, &call.storage_version()))
        .await
        .map_err(|e| store_err(call.rt(), &name, e))?;
    hooks::after_write(call.server, call.rt(), &stored).await;
    Ok(render::one(call.rt(), to_view(call.rt(), &stored), call.rendering, StatusCode::CREATED, &warnings))
}

/// Where a write lands: the main resource or its status subresource.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Main,
    Status,
}

impl Part {
    fn of(call: &Call) -> Self {
        if call.target.subresource.as_deref() == Some("status") {
            Part::Status
        } else {
            Part::Main
        }
    }
    fn subresource(self) -> Option<&'static str> {
        match self {
            Part::Main => None,
            Part::Status => Some("status"),
        }
    }
}

/// Store a new version of an existing object: keep what clients may not
/// change, bump the generation, validate, track fields, and write with the
/// revision precondition. Returns the stored object (view form).
async fn write_update(
    call: &Call<'_>,
    old: &Value,
    mut new: Value,
    part: Part,
    expected: u64,
    managed_by_apply: bool,
    warnings: &mut Vec<String>,
) -> ApiResult<Value> {
    let rt = call.rt();
    let name = call.name().to_string();
    check_type(rt, &new)?;
    set_namespace(call, &mut new)?;
    if objects::name(&new) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            objects::name(&new)
        )));
    }
    // Each part only changes its own half.
    if rt.has_status {
        match part {
            Part::Main => match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(o) = new.as_object_mut() {
                        o.remove("status");
                    }
                }
            },
            Part::Status => {
                let status = new.get("status").cloned();
                let mut base = old.clone();
                if let Some(o) = base.as_object_mut() {
                    match status {
                        Some(s) => o.insert("status".into(), s),
                        None => o.remove("status"),
                    };
                }
                // Metadata edits ride along on status writes only for managed fields.
                new = base;
            }
        }
    }
    carry_system_metadata(old, &mut new);
    let mut new = admit(rt, new, Some(old), call.query.field_validation()?, warnings)?;
    if !objects::spec_equal(old, &new) || (!rt.has_status && old.get("status") != new.get("status")) {
        let g = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        meta_mut(&mut new).insert("generation".into(), json!(g + 1));
    }
    hooks::prepare_update(call.server, rt, old, &mut new)?;
    if objects::semantically_equal(old, &new) {
        return Ok(old.clone());
    }
    if !managed_by_apply {
        let schema = schema_for(rt);
        patch::track_update(
            Some(old),
            &mut new,
            &call.manager(),
            &rt.api_version(),
            part.subresource(),
            &schema,
            &objects::now(),
        );
    }
    if objects::is_deleting(&new) && objects::finalizers(&new).is_empty() && !hooks::deletion_blocked(rt, &new) {
        // The last finalizer is gone: the deletion completes now.
        if call.query.dry_run() {
            return Ok(new);
        }
        let last =
            call.server.store.delete(&call.target.key(), Some(expected)).await.map_err(|e| store_err(rt, &name, e))?;
        hooks::after_delete(call.server, rt, &last).await;
        return Ok(to_view(rt, &last));
    }
    if call.query.dry_run() {
        return Ok(new);
    }
    let stored = call
        .server
        .store
        .update(&call.target.key(), to_storage(rt, new, &call.storage_version()), Some(expected))
        .await
        .map_err(|e| store_err(rt, &name, e))?;
    hooks::after_write(call.server, rt, &stored).await;
    Ok(to_view(rt, &stored))
}

/// Keep the metadata only the server sets.
fn carry_system_metadata(old: &Value, new: &mut Value) {
    let old_meta = objects::meta(old).cloned().unwrap_or_default();
    let meta = meta_mut(new);
    for f in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old_meta.get(f) {
            Some(v) => meta.insert(f.into(), v.clone()),
            None => meta.remove(f),
        };
    }
}

/// `update` (PUT) of an object or its status.
pub async fn update(call: &Call<'_>, body: &[u8]) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let ty = body_type(&call.headers)?;
    let new = parse_typed_body(body, ty)?;
    let rt = call.rt();
    let Some(old) = call.current() else {
        if hooks::allow_create_on_update(rt) {
            return create(call, body).await;
        }
        return Err(ApiError::not_found(rt, call.name()));
    };
    let old_rev = object_revision(&old).unwrap_or(0);
    if let Some(rv) = meta_str(&new, "resourceVersion") {
        if rv.parse::<u64>().ok() != Some(old_rev) {
            return Err(ApiError::modified(rt, call.name()));
        }
    }
    let mut warnings = Vec::new();
    let stored = write_update(call, &to_view(rt, &old), new, Part::of(call), old_rev, false, &mut warnings).await?;
    Ok(render::one(rt, stored, call.rendering, StatusCode::OK, &warnings))
}

fn patch_error(e: PatchError) -> ApiError {
    match e {
        PatchError::Invalid(m) => ApiError::new(422, "Invalid", m),
    }
}

fn apply_error(rt: &ResourceType, name: &str, e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(conflicts) => {
            let mut err = ApiError::conflict(rt, name, "");
            err.message = ApplyError::Conflicts(conflicts.clone()).to_string();
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| {
                    json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.describe_manager()), "field": c.field})
                })
                .collect();
            if let Some(d) = err.details.as_mut() {
                d["causes"] = Value::Array(causes);
            }
            err
        }
        ApplyError::Patch(p) => patch_error(p),
    }
}

/// `patch` (PATCH) of an object or its status, any patch type including
/// server-side apply.
pub async fn patch(call: &Call<'_>, body: &[u8]) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let ty = body_type(&call.headers)?;
    let rt = call.rt();
    if ty == BodyType::Protobuf {
        return Err(ApiError::unsupported_media("patches are JSON or YAML, not protobuf"));
    }
    let patch_doc = parse_body(body, ty == BodyType::ApplyPatch)?;
    if ty == BodyType::StrategicMergePatch && rt.is_custom() {
        return Err(ApiError::unsupported_media(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    let schema = schema_for(rt);
    let mut warnings = Vec::new();
    for _ in 0..MAX_RETRIES {
        let current = call.current();
        if ty == BodyType::ApplyPatch {
            let Some(manager) = call.query.get("fieldManager") else {
                return Err(ApiError::bad_request("PATCH requests with apply content type must set fieldManager"));
            };
            check_type(rt, &patch_doc)?;
            let force = call.query.flag("force");
            let live = current.as_ref().map(|c| to_view(rt, c));
            let merged = patch::server_side_apply(
                live.as_ref(),
                &patch_doc,
                manager,
                &rt.api_version(),
                force,
                &schema,
                &objects::now(),
            )
            .map_err(|e| apply_error(rt, call.name(), e))?;
            let Some(old) = live else {
                return apply_create(call, merged, &mut warnings).await;
            };
            let old_rev = object_revision(&old).unwrap_or(0);
            match write_update(call, &old, merged, Part::of(call), old_rev, true, &mut warnings).await {
                Err(e)
                    if e.code == 409 && e.reason == "Conflict" && meta_str(&patch_doc, "resourceVersion").is_none() =>
                {
                    continue
                }
                Err(e) => return Err(e),
                Ok(stored) => return Ok(render::one(rt, stored, call.rendering, StatusCode::OK, &warnings)),
            }
        }
        let old = current.ok_or_else(|| ApiError::not_found(rt, call.name()))?;
        let old_view = to_view(rt, &old);
        let old_rev = object_revision(&old).unwrap_or(0);
        let patched = match ty {
            BodyType::JsonPatch => patch::json_patch(&old_view, &patch_doc),
            BodyType::MergePatch | BodyType::Json => patch::merge_patch(&old_view, &patch_doc),
            BodyType::StrategicMergePatch => patch::strategic_merge_patch(&old_view, &patch_doc, &schema),
            BodyType::Yaml | BodyType::ApplyPatch | BodyType::Protobuf => {
                return Err(ApiError::unsupported_media("the body of the request was in an unknown format"))
            }
        }
        .map_err(patch_error)?;
        let user_rv = meta_str(&patched, "resourceVersion").map(String::from);
        if user_rv.as_deref().is_some_and(|rv| rv != old_rev.to_string()) {
            return Err(ApiError::modified(rt, call.name()));
        }
        let user_precondition = meta_str(&patch_doc, "resourceVersion").is_some();
        match write_update(call, &old_view, patched, Part::of(call), old_rev, false, &mut warnings).await {
            Err(e) if e.code == 409 && e.reason == "Conflict" && !user_precondition => continue,
            Err(e) => return Err(e),
            Ok(stored) => return Ok(render::one(rt, stored, call.rendering, StatusCode::OK, &warnings)),
        }
    }
    Err(ApiError::modified(rt, call.name()))
}

/// Server-side apply of an object that does not exist yet creates it.
async fn apply_create(call: &Call<'_>, mut obj: Value, warnings: &mut Vec<String>) -> ApiResult<Response> {
    let rt = call.rt();
    set_namespace(call, &mut obj)?;
    if objects::name(&obj) != call.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            objects::name(&obj),
            call.name()
        )));
    }
    check_namespace(call)?;
    let managed = objects::meta(&obj).and_then(|m| m.get("managedFields")).cloned();
    init_metadata(&mut obj);
    let mut obj = admit(rt, obj, None, call.query.field_validation()?, warnings)?;
    if let Some(m) = managed {
        meta_mut(&mut obj).insert("managedFields".into(), m);
    }
    hooks::prepare_create(call.server, rt, &mut obj)?;
    if call.query.dry_run() {
        return Ok(render::one(rt, obj, call.rendering, StatusCode::CREATED, warnings));
    }
    let stored = call
        .server
        .store
        .create(&call.target.key(), to_storage(rt, obj, &call.storage_version()))
        .await
        .map_err(|e| store_err(rt, call.name(), e))?;
    hooks::after_write(call.server, rt, &stored).await;
    Ok(render::one(rt, to_view(rt, &stored), call.rendering, StatusCode::CREATED, warnings))
}

/// Options of a delete, from the body (DeleteOptions) and the query.
#[derive(Debug, Default)]
pub struct DeleteOptions {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    pub fn parse(q: &Query, body: &[u8]) -> ApiResult<Self> {
        let b: Value = if body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { parse_body(body, false)? };
        let grace = b
            .get("gracePeriodSeconds")
            .and_then(Value::as_i64)
            .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
        let mut propagation =
            b.get("propagationPolicy").and_then(Value::as_str).or(q.get("propagationPolicy")).map(String::from);
        if propagation.is_none() && (b.get("orphanDependents") == Some(&json!(true)) || q.flag("orphanDependents")) {
            propagation = Some("Orphan".into());
        }
        if let Some(p) = &propagation {
            if !["Orphan", "Background", "Foreground"].contains(&p.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "DeleteOptions is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                )));
            }
        }
        if grace.is_some_and(|g| g < 0) {
            return Err(ApiError::bad_request("DeleteOptions is invalid: gracePeriodSeconds: must be >= 0"));
        }
        Ok(DeleteOptions {
            grace_period: grace,
            propagation,
            uid: b.pointer("/preconditions/uid").and_then(Value::as_str).map(String::from),
            resource_version: b.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(String::from),
        })
    }
}

/// Delete one object: complete at once, or mark it (deletionTimestamp) when
/// finalizers or a graceful pod shutdown must run first.
pub async fn delete_object(
    server: &ApiServer,
    rt: &ResourceType,
    key: &str,
    name: &str,
    opts: &DeleteOptions,
    dry_run: bool,
) -> ApiResult<Value> {
    for _ in 0..MAX_RETRIES {
        let old = server.store.get(key).ok_or_else(|| ApiError::not_found(rt, name))?;
        let rev = object_revision(&old).unwrap_or(0);
        if let Some(uid) = &opts.uid {
            let have = meta_str(&old, "uid").unwrap_or_default();
            if have != uid {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
                ));
            }
        }
        if let Some(want) = &opts.resource_version {
            if *want != rev.to_string() {
                return Err(ApiError::conflict(rt, name, &format!("Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rev}")));
            }
        }
        let mut new = (*old).clone();
        let mut finalizers = objects::finalizers(&old);
        let wanted = match opts.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = wanted {
            if !finalizers.iter().any(|x| x == f) && !objects::is_deleting(&old) {
                finalizers.push(f.to_string());
            }
        }
        let grace = hooks::graceful_period(rt, &old, opts.grace_period);
        if finalizers.is_empty() && grace == 0 && !hooks::deletion_blocked(rt, &old) {
            if dry_run {
                return Ok(to_view(rt, &old));
            }
            match server.store.delete(key, Some(rev)).await {
                Ok(last) => {
                    hooks::after_delete(server, rt, &last).await;
                    return Ok(to_view(rt, &last));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(store_err(rt, name, e)),
            }
        }
        {
            let meta = meta_mut(&mut new);
            if !finalizers.is_empty() {
                meta.insert("finalizers".into(), json!(finalizers));
            }
            let shorter = meta.get("deletionGracePeriodSeconds").and_then(Value::as_i64).is_none_or(|g| grace < g);
            if meta.get("deletionTimestamp").is_none() || shorter {
                meta.insert("deletionTimestamp".into(), json!(objects::now_plus(grace.max(0) as u64)));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
        }
        hooks::mark_terminating(rt, &mut new);
        if objects::semantically_equal(&old, &new) || dry_run {
            return Ok(to_view(rt, &new));
        }
        match server.store.update(key, new, Some(rev)).await {
            Ok(stored) => {
                hooks::after_write(server, rt, &stored).await;
                return Ok(to_view(rt, &stored));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(store_err(rt, name, e)),
        }
    }
    Err(ApiError::modified(rt, name))
}

/// `delete` of one object.
pub async fn delete(call: &Call<'_>, body: &[u8]) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let opts = DeleteOptions::parse(&call.query, body)?;
    let obj =
        delete_object(call.server, call.rt(), &call.target.key(), call.name(), &opts, call.query.dry_run()).await?;
    let code =
        if objects::is_deleting(&obj) && call.current().is_some() { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(render::json(code, &obj, &[]))
}

/// `deletecollection`: delete every matching object.
pub async fn delete_collection(call: &Call<'_>, body: &[u8]) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let rt = call.rt();
    let sel = Selectors::from_query(rt, &call.query)?;
    let opts = DeleteOptions::parse(&call.query, body)?;
    let (items, _, _) = call.server.store.list(&call.target.collection_prefix(), None, None);
    let mut deleted = Vec::new();
    for (key, obj) in items {
        if !sel.matches(&obj) {
            continue;
        }
        match delete_object(call.server, rt, &key, objects::name(&obj), &opts, call.query.dry_run()).await {
            Ok(v) => deleted.push(v),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let rev = call.server.store.revision();
    Ok(render::list(rt, deleted, rev, None, Rendering::Full))
}

/// The autoscaling/v1 Scale view of an object.
fn scale_view(rt: &ResourceType, obj: &Value) -> ApiResult<Value> {
    let spec = rt.scale.as_ref().ok_or_else(ApiError::not_found_path)?;
    let ptr = |p: &str| p.replace('.', "/");
    let replicas = obj.pointer(&ptr(&spec.spec_replicas_path)).cloned().unwrap_or(json!(0));
    let status_replicas = obj.pointer(&ptr(&spec.status_replicas_path)).cloned().unwrap_or(json!(0));
    let selector = match rt.source {
        // Built-ins report their spec.selector as a string.
        Source::Builtin => obj.pointer("/spec/selector").map(selector_string).unwrap_or_default(),
        Source::Custom(_) => spec
            .label_selector_path
            .as_ref()
            .and_then(|p| obj.pointer(&ptr(p)))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    let m = objects::meta(obj).cloned().unwrap_or_default();
    let mut meta = json!({});
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = m.get(f) {
            meta[f] = v.clone();
        }
    }
    let mut status = json!({"replicas": status_replicas});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    Ok(
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": {"replicas": replicas}, "status": status}),
    )
}

/// `metav1.LabelSelector` (or a plain map, as ReplicationController has) as a
/// selector string.
fn selector_string(sel: &Value) -> String {
    let mut parts = Vec::new();
    let labels = sel.get("matchLabels").or(if sel.get("matchExpressions").is_none() { Some(sel) } else { None });
    if let Some(m) = labels.and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match e.get("operator").and_then(Value::as_str) {
            Some("In") => parts.push(format!("{key} in ({})", values.join(","))),
            Some("NotIn") => parts.push(format!("{key} notin ({})", values.join(","))),
            Some("Exists") => parts.push(key.to_string()),
            Some("DoesNotExist") => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// PUT or PATCH of the scale subresource: change spec.replicas.
pub async fn write_scale(call: &Call<'_>, body: &[u8], is_patch: bool) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let rt = call.rt();
    let spec = rt.scale.clone().ok_or_else(ApiError::not_found_path)?;
    let ty = body_type(&call.headers)?;
    let doc = parse_typed_body(body, ty)?;
    for _ in 0..MAX_RETRIES {
        let old = call.current().ok_or_else(|| ApiError::not_found(rt, call.name()))?;
        let old_rev = object_revision(&old).unwrap_or(0);
        let scale = scale_view(rt, &old)?;
        let new_scale = if is_patch {
            match ty {
                BodyType::JsonPatch => patch::json_patch(&scale, &doc),
                _ => patch::merge_patch(&scale, &doc),
            }
            .map_err(patch_error)?
        } else {
            doc.clone()
        };
        if let Some(rv) = meta_str(&new_scale, "resourceVersion") {
            if rv != old_rev.to_string() {
                return Err(ApiError::modified(rt, call.name()));
            }
        }
        let replicas = new_scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
        if replicas.as_i64().is_none_or(|r| r < 0) {
            return Err(ApiError::invalid(
                rt,
                call.name(),
                &[crate::validation::field_error::FieldError::invalid(
                    "spec.replicas",
                    replicas,
                    "must be greater than or equal to 0",
                )],
            ));
        }
        let mut new = to_view(rt, &old);
        let path: Vec<&str> = spec.spec_replicas_path.trim_start_matches('.').split('.').collect();
        set_path(&mut new, &path, replicas);
        let mut warnings = Vec::new();
        match write_update(call, &to_view(rt, &old), new, Part::Main, old_rev, false, &mut warnings).await {
            Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
            Err(e) => return Err(e),
            Ok(stored) => return Ok(render::json(StatusCode::OK, &scale_view(rt, &stored)?, &warnings)),
        }
    }
    Err(ApiError::modified(rt, call.name()))
}

fn set_path(obj: &mut Value, path: &[&str], v: Value) {
    let mut cur = obj;
    for (i, p) in path.iter().enumerate() {
        let map = objects::as_map(cur);
        if i + 1 == path.len() {
            map.insert(p.to_string(), v);
            return;
        }
        cur = map.entry(p.to_string()).or_insert_with(|| json!({}));
    }
}

/// `POST pods/<name>/binding`: what a scheduler does to place a pod. Sets
/// `spec.nodeName` once; a pod already placed (or being deleted) is a 409.
pub async fn bind(call: &Call<'_>, body: &[u8]) -> ApiResult<Response> {
    call.query.validate_dry_run()?;
    let rt = call.rt();
    let name = call.name().to_string();
    let binding = parse_typed_body(body, body_type(&call.headers)?)?;
    let node = binding.pointer("/target/name").and_then(Value::as_str).filter(|n| !n.is_empty());
    let Some(node) = node.map(String::from) else {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!("Binding \"{name}\" is invalid: target.name: Required value"),
        ));
    };
    if let Some(kind) =
        binding.pointer("/target/kind").and_then(Value::as_str).filter(|k| !k.is_empty() && *k != "Node")
    {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!("Binding \"{name}\" is invalid: target.kind: Unsupported value: \"{kind}\""),
        ));
    }
    for _ in 0..MAX_RETRIES {
        let old = call.current().ok_or_else(|| ApiError::not_found(rt, &name))?;
        let expected = object_revision(&old).unwrap_or(0);
        if objects::is_deleting(&old) {
            return Err(ApiError::conflict(
                rt,
                &name,
                &format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        if let Some(current) = old.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            return Err(ApiError::conflict(
                rt,
                &name,
                &format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        let mut new = to_view(rt, &old);
        set_path(&mut new, &["spec", "nodeName"], json!(node));
        if call.query.dry_run() {
            return Ok(render::json(
                StatusCode::CREATED,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}),
                &[],
            ));
        }
        match call
            .server
            .store
            .update(&call.target.key(), to_storage(rt, new, &call.storage_version()), Some(expected))
            .await
        {
            Ok(stored) => {
                hooks::after_write(call.server, rt, &stored).await;
                let ok =
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                return Ok(render::json(StatusCode::CREATED, &ok, &[]));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(store_err(rt, &name, e)),
        }
    }
    Err(ApiError::modified(rt, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_strings() {
        assert_eq!(selector_string(&json!({"matchLabels": {"app": "web"}})), "app=web");
        assert_eq!(
            selector_string(&json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})),
            "tier in (a,b)"
        );
        assert_eq!(selector_string(&json!({"app": "rc"})), "app=rc");
    }

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue("/registry/core/pods/default/x", 7);
        assert_eq!(decode_continue(&t).expect("decode"), "/registry/core/pods/default/x");
        assert!(decode_continue("!!").is_err());
    }
}
