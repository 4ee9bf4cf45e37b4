//! The REST operations of every served resource, described once and
//! rendered by `v2.rs` (Swagger 2.0) and `v3.rs` (OpenAPI 3.0).
//!
//! Shapes follow kube-apiserver: one path for the collection, one per item,
//! one per subresource and the deprecated `watch/` paths; operation ids like
//! `patchAppsV1NamespacedDeployment`; every operation tagged with
//! `x-kubernetes-action` and `x-kubernetes-group-version-kind`. Parameters
//! are written inline on each operation because kubectl looks for
//! `fieldValidation` among the PATCH operation's own parameters.

use super::definitions::{
    API_GROUP, API_GROUP_LIST, API_RESOURCE_LIST, API_VERSIONS, DELETE_OPTIONS, PATCH, SCALE, STATUS, WATCH_EVENT,
};
use super::Gvk;
use crate::registry::ResourceType;
use serde_json::{json, Map, Value};

/// What a resource's operations refer to: its kind's and list's definitions.
pub(super) struct ResourceSchemas {
    pub object: String,
    pub list: String,
}

/// One path and its operations.
pub(super) struct PathItem {
    pub path: String,
    /// Parameters shared by every operation of the path.
    pub parameters: Vec<Param>,
    pub operations: Vec<Operation>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

pub(super) struct Operation {
    pub method: Method,
    pub id: String,
    pub description: String,
    /// `x-kubernetes-action`: get, list, post, put, patch, delete,
    /// deletecollection, watch, watchlist.
    pub action: &'static str,
    pub tag: String,
    pub gvk: Option<Gvk>,
    pub parameters: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Response>,
    pub produces: &'static [&'static str],
}

impl Operation {
    /// Ends a rendered operation the way both document versions do: the responses (rendered
    /// per version), then the `x-kubernetes-*` extensions kubectl reads.
    pub fn finish_rendering(&self, mut out: Map<String, Value>, responses: Value) -> Value {
        out.insert("responses".into(), responses);
        if !self.action.is_empty() {
            out.insert("x-kubernetes-action".into(), json!(self.action));
        }
        if let Some(gvk) = &self.gvk {
            out.insert("x-kubernetes-group-version-kind".into(), gvk.to_json());
        }
        Value::Object(out)
    }
}

/// A request body: the definition it holds and the media types accepted.
pub(super) struct Body {
    pub schema: String,
    pub consumes: &'static [&'static str],
    pub required: bool,
}

pub(super) struct Response {
    pub code: u16,
    pub description: &'static str,
    pub schema: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Location {
    Path,
    Query,
}

impl Location {
    /// The parameter's `in` value; the same in Swagger 2.0 and OpenAPI 3.0.
    pub fn name(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum ParamType {
    String,
    Boolean,
    Integer,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Boolean => "boolean",
            ParamType::Integer => "integer",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Param {
    pub name: &'static str,
    pub location: Location,
    pub kind: ParamType,
    pub description: String,
    pub required: bool,
}

/// Media types objects are served in.
const OBJECT_TYPES: &[&str] = &["application/json", "application/yaml"];
/// Media types of lists and watches.
const STREAM_TYPES: &[&str] = &["application/json", "application/yaml", "application/json;stream=watch"];
/// Any body type: the request's Content-Type decides.
const ANY_TYPE: &[&str] = &["*/*"];
/// Patch types of built-in kinds.
const BUILTIN_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
/// Patch types of custom resources: no strategic merge, as kube-apiserver
/// (kubectl then computes JSON merge patches for them).
const CUSTOM_PATCH_TYPES: &[&str] =
    &["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];

fn query(name: &'static str, kind: ParamType, description: &str) -> Param {
    Param { name, location: Location::Query, kind, description: description.to_string(), required: false }
}

fn path_param(name: &'static str, description: String) -> Param {
    Param { name, location: Location::Path, kind: ParamType::String, description, required: true }
}

fn pretty() -> Param {
    query("pretty", ParamType::String, "If 'true', the output is pretty printed.")
}

fn dry_run() -> Param {
    query(
        "dryRun",
        ParamType::String,
        "When present, modifications are not persisted. The only valid value is All: every dry run stage is processed.",
    )
}

fn field_manager() -> Param {
    query(
        "fieldManager",
        ParamType::String,
        "The name of the actor making the change, recorded in managedFields. At most 128 printable characters.",
    )
}

fn field_validation() -> Param {
    query(
        "fieldValidation",
        ParamType::String,
        "How unknown and duplicate fields in the body are handled: Ignore drops them silently, Warn (the default) \
         drops them and returns a warning for each, Strict fails the request.",
    )
}

fn force() -> Param {
    query(
        "force",
        ParamType::Boolean,
        "Apply requests only: take ownership of fields that other managers own instead of failing with a conflict.",
    )
}

/// The parameters of list and watch requests.
fn list_params() -> Vec<Param> {
    use ParamType::{Boolean, Integer, String};
    vec![
        query("allowWatchBookmarks", Boolean, "Watch only: ask for BOOKMARK events. Servers may ignore it."),
        query("continue", String, "The continue token of the previous page of a paged list."),
        query("fieldSelector", String, "Restricts the result to objects whose fields match. Defaults to everything."),
        query("labelSelector", String, "Restricts the result to objects whose labels match. Defaults to everything."),
        query("limit", Integer, "The largest number of objects to return; a continue token is set if more remain."),
        query("resourceVersion", String, "Which version of the collection to read, or where a watch starts."),
        query("resourceVersionMatch", String, "How resourceVersion applies to a list: Exact or NotOlderThan."),
        query("sendInitialEvents", Boolean, "Watch only: begin with synthetic ADDED events for existing objects."),
        query("timeoutSeconds", Integer, "Ends the call after this many seconds, whatever it is doing."),
        query("watch", Boolean, "Stream changes to the described objects instead of listing them."),
    ]
}

/// The parameters of delete requests (besides the optional body).
fn delete_params() -> Vec<Param> {
    use ParamType::{Boolean, Integer, String};
    vec![
        dry_run(),
        query("gracePeriodSeconds", Integer, "Seconds before the object is deleted; 0 deletes at once."),
        query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            Boolean,
            "Delete objects that cannot be read or decoded from storage. Dangerous.",
        ),
        query("orphanDependents", Boolean, "Deprecated: use propagationPolicy."),
        query(
            "propagationPolicy",
            String,
            "Whether and how dependents are garbage collected: Orphan, Background or Foreground.",
        ),
    ]
}

/// The camel-case group in operation ids: `Core`, `Apps`, `Networking` for
/// `networking.k8s.io`, `NetworkingIstioIo` for `networking.istio.io`.
pub(super) fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split(['.', '-']).map(capitalize).collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The operation tag: `core_v1`, `apps_v1`, `networking_v1`.
pub(super) fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let lower: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => camel,
    };
    format!("{lower}_{version}")
}

/// Builds the ids and descriptions of one resource's operations.
struct Naming<'a> {
    resource: &'a ResourceType,
    /// `CoreV1`, `AppsV1`.
    group_version: String,
}

impl<'a> Naming<'a> {
    fn new(resource: &'a ResourceType) -> Self {
        let group_version = format!("{}{}", group_camel(&resource.group), capitalize(&resource.version));
        Naming { resource, group_version }
    }

    /// `verb` + group version + `Namespaced`? + kind + `suffix`.
    fn id(&self, verb: &str, scoped: bool, suffix: &str) -> String {
        let namespaced = if scoped && self.resource.namespaced { "Namespaced" } else { "" };
        format!("{verb}{}{namespaced}{}{suffix}", self.group_version, self.resource.kind)
    }

    /// `deleteCoreV1CollectionNamespacedPod`.
    fn collection_id(&self) -> String {
        let namespaced = if self.resource.namespaced { "Namespaced" } else { "" };
        format!("delete{}Collection{namespaced}{}", self.group_version, self.resource.kind)
    }
}

/// Everything about one resource that its operations share.
struct Context<'a> {
    resource: &'a ResourceType,
    naming: Naming<'a>,
    schemas: &'a ResourceSchemas,
    gvk: Gvk,
    tag: String,
}

impl Context<'_> {
    fn operation(&self, method: Method, id: String, action: &'static str, description: String) -> Operation {
        Operation {
            method,
            id,
            description,
            action,
            tag: self.tag.clone(),
            gvk: Some(self.gvk.clone()),
            parameters: Vec::new(),
            body: None,
            responses: Vec::new(),
            produces: OBJECT_TYPES,
        }
    }

    fn patch_types(&self) -> &'static [&'static str] {
        if self.resource.is_custom() {
            CUSTOM_PATCH_TYPES
        } else {
            BUILTIN_PATCH_TYPES
        }
    }

    /// The collection's path under `/api/v1` or `/apis/<g>/<v>`, with
    /// `watch/` inserted for the deprecated watch paths.
    fn collection_path(&self, watch: bool) -> String {
        let prefix = super::group_version_prefix(&self.resource.group, &self.resource.version);
        let watch = if watch { "/watch" } else { "" };
        let plural = &self.resource.plural;
        if self.resource.namespaced {
            format!("{prefix}{watch}/namespaces/{{namespace}}/{plural}")
        } else {
            format!("{prefix}{watch}/{plural}")
        }
    }

    /// Path parameters: `name` (for items) and `namespace` (if namespaced).
    fn scope_params(&self, item: bool) -> Vec<Param> {
        let mut params = Vec::new();
        if item {
            params.push(path_param("name", format!("name of the {}", self.resource.kind)));
        }
        if self.resource.namespaced {
            params.push(path_param("namespace", "object name and auth scope, such as for teams and projects".into()));
        }
        params
    }
}

fn responses(codes: &[u16], schema: &str) -> Vec<Response> {
    let mut out: Vec<Response> = codes
        .iter()
        .map(|&code| Response { code, description: status_text(code), schema: Some(schema.to_string()) })
        .collect();
    out.push(Response { code: 401, description: status_text(401), schema: None });
    out
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "",
    }
}

/// Every path of one served resource.
pub(super) fn resource_paths(resource: &ResourceType, schemas: &ResourceSchemas) -> Vec<PathItem> {
    let context = Context {
        resource,
        naming: Naming::new(resource),
        schemas,
        gvk: Gvk::new(&resource.group, &resource.version, &resource.kind),
        tag: tag(&resource.group, &resource.version),
    };
    let mut paths = vec![collection(&context), item(&context)];
    if resource.has_status {
        paths.push(subresource(&context, "status"));
    }
    if resource.scale.is_some() {
        paths.push(subresource(&context, "scale"));
    }
    if resource.namespaced {
        paths.push(all_namespaces(&context));
    }
    paths.extend(watch_paths(&context));
    paths
}

/// list, create and deletecollection on the collection.
fn collection(context: &Context) -> PathItem {
    let kind = &context.resource.kind;
    let schemas = context.schemas;
    let mut list = context.operation(
        Method::Get,
        context.naming.id("list", true, ""),
        "list",
        format!("list or watch objects of kind {kind}"),
    );
    list.parameters = list_params();
    list.responses = responses(&[200], &schemas.list);
    list.produces = STREAM_TYPES;

    let mut create =
        context.operation(Method::Post, context.naming.id("create", true, ""), "post", format!("create a {kind}"));
    create.parameters = vec![dry_run(), field_manager(), field_validation()];
    create.body = Some(Body { schema: schemas.object.clone(), consumes: ANY_TYPE, required: true });
    create.responses = responses(&[200, 201, 202], &schemas.object);

    let mut delete = context.operation(
        Method::Delete,
        context.naming.collection_id(),
        "deletecollection",
        format!("delete collection of {kind}"),
    );
    delete.parameters = delete_params();
    delete
        .parameters
        .extend(list_params().into_iter().filter(|p| p.name != "watch" && p.name != "allowWatchBookmarks"));
    delete.body = Some(Body { schema: DELETE_OPTIONS.into(), consumes: ANY_TYPE, required: false });
    delete.responses = responses(&[200], STATUS);

    let mut parameters = context.scope_params(false);
    parameters.push(pretty());
    PathItem { path: context.collection_path(false), parameters, operations: vec![list, create, delete] }
}

/// read, replace, patch and delete on one object.
fn item(context: &Context) -> PathItem {
    let kind = &context.resource.kind;
    let object = &context.schemas.object;
    let mut read = context.operation(
        Method::Get,
        context.naming.id("read", true, ""),
        "get",
        format!("read the specified {kind}"),
    );
    read.responses = responses(&[200], object);

    let replace = replace_operation(context, "", object, format!("replace the specified {kind}"));
    let patch = patch_operation(context, "", object, format!("partially update the specified {kind}"));

    let mut delete =
        context.operation(Method::Delete, context.naming.id("delete", true, ""), "delete", format!("delete a {kind}"));
    delete.parameters = delete_params();
    delete.body = Some(Body { schema: DELETE_OPTIONS.into(), consumes: ANY_TYPE, required: false });
    delete.responses = responses(&[200, 202], object);

    let mut parameters = context.scope_params(true);
    parameters.push(pretty());
    let path = format!("{}/{{name}}", context.collection_path(false));
    PathItem { path, parameters, operations: vec![read, replace, patch, delete] }
}

fn replace_operation(context: &Context, suffix: &str, schema: &str, description: String) -> Operation {
    let mut replace = context.operation(Method::Put, context.naming.id("replace", true, suffix), "put", description);
    replace.parameters = vec![dry_run(), field_manager(), field_validation()];
    replace.body = Some(Body { schema: schema.to_string(), consumes: ANY_TYPE, required: true });
    replace.responses = responses(&[200, 201], schema);
    replace
}

fn patch_operation(context: &Context, suffix: &str, schema: &str, description: String) -> Operation {
    let mut patch = context.operation(Method::Patch, context.naming.id("patch", true, suffix), "patch", description);
    patch.parameters = vec![dry_run(), field_manager(), field_validation(), force()];
    patch.body = Some(Body { schema: PATCH.into(), consumes: context.patch_types(), required: true });
    patch.responses = responses(&[200, 201], schema);
    patch
}

/// `status` (the kind itself) or `scale` (autoscaling/v1 Scale).
fn subresource(context: &Context, name: &str) -> PathItem {
    let kind = &context.resource.kind;
    let (suffix, schema, gvk) = match name {
        "scale" => ("Scale", SCALE.to_string(), Gvk::new("autoscaling", "v1", "Scale")),
        _ => ("Status", context.schemas.object.clone(), context.gvk.clone()),
    };
    let mut read = context.operation(
        Method::Get,
        context.naming.id("read", true, suffix),
        "get",
        format!("read {name} of the specified {kind}"),
    );
    read.responses = responses(&[200], &schema);
    let replace = replace_operation(context, suffix, &schema, format!("replace {name} of the specified {kind}"));
    let patch = patch_operation(context, suffix, &schema, format!("partially update {name} of the specified {kind}"));
    let mut operations = vec![read, replace, patch];
    for operation in &mut operations {
        operation.gvk = Some(gvk.clone());
    }
    let mut parameters = context.scope_params(true);
    parameters.push(pretty());
    let path = format!("{}/{{name}}/{name}", context.collection_path(false));
    PathItem { path, parameters, operations }
}

/// `/api/v1/pods`: a namespaced kind listed across namespaces.
fn all_namespaces(context: &Context) -> PathItem {
    let resource = context.resource;
    let mut list = context.operation(
        Method::Get,
        context.naming.id("list", false, "ForAllNamespaces"),
        "list",
        format!("list or watch objects of kind {}", resource.kind),
    );
    list.parameters = list_params();
    list.responses = responses(&[200], &context.schemas.list);
    list.produces = STREAM_TYPES;
    let prefix = super::group_version_prefix(&resource.group, &resource.version);
    PathItem { path: format!("{prefix}/{}", resource.plural), parameters: vec![pretty()], operations: vec![list] }
}

/// The deprecated `watch/` paths: the collection, one object, and (for
/// namespaced kinds) all namespaces.
fn watch_paths(context: &Context) -> Vec<PathItem> {
    let resource = context.resource;
    let kind = &resource.kind;
    let watch = |id: String, action: &'static str, description: String| {
        let mut operation = context.operation(Method::Get, id, action, description);
        operation.parameters = list_params();
        operation.responses = responses(&[200], WATCH_EVENT);
        operation.produces = STREAM_TYPES;
        operation
    };
    let list = watch(
        context.naming.id("watch", true, "List"),
        "watchlist",
        format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
    );
    let one = watch(
        context.naming.id("watch", true, ""),
        "watch",
        format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
    );
    let collection = context.collection_path(true);
    let mut paths = vec![
        PathItem { path: collection.clone(), parameters: context.scope_params(false), operations: vec![list] },
        PathItem {
            path: format!("{collection}/{{name}}"),
            parameters: context.scope_params(true),
            operations: vec![one],
        },
    ];
    if resource.namespaced {
        let all = watch(
            context.naming.id("watch", false, "ListForAllNamespaces"),
            "watchlist",
            format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
        );
        let prefix = super::group_version_prefix(&resource.group, &resource.version);
        paths.push(PathItem {
            path: format!("{prefix}/watch/{}", resource.plural),
            parameters: vec![],
            operations: vec![all],
        });
    }
    paths
}

/// A discovery document's path: no kind, no action.
fn discovery(path: String, id: String, tag: String, description: &str, schema: &str) -> PathItem {
    let operation = Operation {
        method: Method::Get,
        id,
        description: description.to_string(),
        action: "",
        tag,
        gvk: None,
        parameters: Vec::new(),
        body: None,
        responses: responses(&[200], schema),
        produces: &["application/json", "application/yaml"],
    };
    PathItem { path, parameters: Vec::new(), operations: vec![operation] }
}

/// `/api/`: the core group's versions.
pub(super) fn core_versions_path() -> PathItem {
    discovery("/api/".into(), "getCoreAPIVersions".into(), "core".into(), "get available API versions", API_VERSIONS)
}

/// `/apis/`: every group.
pub(super) fn groups_path() -> PathItem {
    discovery("/apis/".into(), "getAPIVersions".into(), "apis".into(), "get available API versions", API_GROUP_LIST)
}

/// `/apis/<group>/`: one group.
pub(super) fn group_path(group: &str) -> PathItem {
    let camel = group_camel(group);
    let tag = tag(group, "").trim_end_matches('_').to_string();
    discovery(format!("/apis/{group}/"), format!("get{camel}APIGroup"), tag, "get information of a group", API_GROUP)
}

/// `/api/v1/` or `/apis/<group>/<version>/`: one group version's resources.
pub(super) fn group_version_path(group: &str, version: &str) -> PathItem {
    let path = format!("{}/", super::group_version_prefix(group, version));
    let id = format!("get{}{}APIResources", group_camel(group), capitalize(version));
    discovery(path, id, tag(group, version), "get available resources", API_RESOURCE_LIST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin_types;

    fn find(kind: &str) -> ResourceType {
        builtin_types().into_iter().find(|r| r.kind == kind).expect("kind")
    }

    fn schemas(object: &str) -> ResourceSchemas {
        ResourceSchemas { object: object.into(), list: format!("{object}List") }
    }

    fn ids(paths: &[PathItem]) -> Vec<String> {
        paths.iter().flat_map(|p| p.operations.iter().map(|o| o.id.clone())).collect()
    }

    #[test]
    fn group_names() {
        assert_eq!(group_camel(""), "Core");
        assert_eq!(group_camel("networking.k8s.io"), "Networking");
        assert_eq!(group_camel("apiextensions.k8s.io"), "Apiextensions");
        assert_eq!(group_camel("stable.example.com"), "StableExampleCom");
        assert_eq!(tag("", "v1"), "core_v1");
        assert_eq!(tag("networking.k8s.io", "v1"), "networking_v1");
    }

    #[test]
    fn namespaced_kind_has_kubernetes_paths_and_ids() {
        let paths = resource_paths(&find("Deployment"), &schemas("io.k8s.api.apps.v1.Deployment"));
        let names: Vec<&str> = paths.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "/apis/apps/v1/namespaces/{namespace}/deployments",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
                "/apis/apps/v1/deployments",
                "/apis/apps/v1/watch/namespaces/{namespace}/deployments",
                "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}",
                "/apis/apps/v1/watch/deployments",
            ]
        );
        let ids = ids(&paths);
        for id in [
            "listAppsV1NamespacedDeployment",
            "createAppsV1NamespacedDeployment",
            "deleteAppsV1CollectionNamespacedDeployment",
            "patchAppsV1NamespacedDeployment",
            "replaceAppsV1NamespacedDeploymentStatus",
            "readAppsV1NamespacedDeploymentScale",
            "listAppsV1DeploymentForAllNamespaces",
            "watchAppsV1NamespacedDeploymentList",
            "watchAppsV1NamespacedDeployment",
            "watchAppsV1DeploymentListForAllNamespaces",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn cluster_scoped_kind_has_no_namespace() {
        let paths = resource_paths(&find("Node"), &schemas("io.k8s.api.core.v1.Node"));
        assert_eq!(paths[0].path, "/api/v1/nodes");
        assert!(ids(&paths).contains(&"patchCoreV1NodeStatus".to_string()));
        assert!(paths.iter().all(|p| p.parameters.iter().all(|param| param.name != "namespace")));
    }

    #[test]
    fn patch_takes_field_validation_and_scale_is_autoscaling() {
        let paths = resource_paths(&find("Deployment"), &schemas("io.k8s.api.apps.v1.Deployment"));
        let patches: Vec<&Operation> =
            paths.iter().flat_map(|p| &p.operations).filter(|o| o.method == Method::Patch).collect();
        assert_eq!(patches.len(), 3);
        for patch in &patches {
            let names: Vec<&str> = patch.parameters.iter().map(|p| p.name).collect();
            assert_eq!(names, ["dryRun", "fieldManager", "fieldValidation", "force"]);
            assert!(patch
                .body
                .as_ref()
                .is_some_and(|b| b.consumes.contains(&"application/strategic-merge-patch+json")));
        }
        let scale = patches.iter().find(|o| o.id.ends_with("Scale")).expect("scale patch");
        assert_eq!(scale.gvk, Some(Gvk::new("autoscaling", "v1", "Scale")));
    }

    #[test]
    fn actions_cover_every_verb() {
        let paths = resource_paths(&find("Pod"), &schemas("io.k8s.api.core.v1.Pod"));
        let mut actions: Vec<&str> = paths.iter().flat_map(|p| &p.operations).map(|o| o.action).collect();
        actions.sort();
        actions.dedup();
        assert_eq!(
            actions,
            ["delete", "deletecollection", "get", "list", "patch", "post", "put", "watch", "watchlist"]
        );
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(group_version_path("", "v1").path, "/api/v1/");
        assert_eq!(group_version_path("apps", "v1").operations[0].id, "getAppsV1APIResources");
        assert_eq!(group_path("networking.k8s.io").operations[0].id, "getNetworkingAPIGroup");
        assert_eq!(group_path("apps").operations[0].tag, "apps");
        assert_eq!(core_versions_path().path, "/api/");
        assert_eq!(groups_path().operations[0].responses[0].schema.as_deref(), Some(API_GROUP_LIST));
    }
}
