//! Property-based fuzzing of request decoding through the whole router:
//! random paths, methods, content types and bodies must never panic or
//! produce a 5xx, and every error must be a `Status`.

use super::{router, ApiServer, User};
use crate::registry::Registry;
use crate::services::{Cidr, Ranges};
use crate::store::{SledBackend, Store};
use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

const TOKEN: &str = "fuzz-token";

fn server(dir: &std::path::Path) -> Arc<ApiServer> {
    let backend = SledBackend::open(dir, 4 << 20).expect("sled");
    let store = Store::open(Box::new(backend)).expect("store");
    let tokens = HashMap::from([(TOKEN.to_string(), User { name: "admin".into() })]);
    let cidr = Ranges::single(Cidr::parse("10.96.0.0/12").expect("cidr"));
    Arc::new(ApiServer::new(store, Arc::new(Registry::new()), tokens, "127.0.0.1:6443".into(), cidr))
}

fn paths() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/api/v1/namespaces/default/configmaps".to_string()),
        Just("/api/v1/namespaces/default/configmaps/x".to_string()),
        Just("/apis/apps/v1/namespaces/default/deployments".to_string()),
        Just("/apis/apps/v1/namespaces/default/deployments/d/scale".to_string()),
        Just("/api/v1/namespaces/default/pods/p/status".to_string()),
        Just("/api/v1/namespaces".to_string()),
        Just("/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_string()),
        "/[a-z0-9/._%-]{0,60}",
    ]
}

fn content_types() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("application/json"),
        Just("application/yaml"),
        Just("application/merge-patch+json"),
        Just("application/json-patch+json"),
        Just("application/strategic-merge-patch+json"),
        Just("application/apply-patch+yaml"),
        Just("application/vnd.kubernetes.protobuf"),
        Just("text/plain"),
    ]
}

/// Bodies: raw bytes, JSON of random shape, and near-valid objects.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let json_leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9 ._-]{0,12}".prop_map(serde_json::Value::from),
    ];
    let json = json_leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("spec".to_string()),
                    Just("kind".to_string()),
                    Just("apiVersion".to_string()),
                    Just("name".to_string()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let near_valid = (prop_oneof![Just("ConfigMap"), Just("Deployment"), Just("Pod"), Just("Namespace")], json.clone())
        .prop_map(|(kind, spec)| {
            let av = if kind == "Deployment" { "apps/v1" } else { "v1" };
            serde_json::json!({"apiVersion": av, "kind": kind, "metadata": {"name": "x", "namespace": "default"}, "spec": spec, "data": spec})
                .to_string()
                .into_bytes()
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..200), json.prop_map(|v| v.to_string().into_bytes()), near_valid,]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_get_clean_answers(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE")],
        path in paths(),
        query in prop_oneof![Just(""), Just("?fieldValidation=Strict"), Just("?dryRun=All"), Just("?labelSelector=a%20in%20(b"), Just("?fieldSelector=spec.x=1"), Just("?limit=-1"), Just("?continue=zz"), Just("?fieldManager=f&force=true")],
        ct in content_types(),
        body in bodies(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (status, bytes) = rt.block_on(async {
            let app = router(server(dir.path()));
            let req = Request::builder()
                .method(method)
                .uri(format!("{path}{query}"))
                .header("Authorization", format!("Bearer {TOKEN}"))
                .header("Content-Type", ct)
                .body(Body::from(body))
                .expect("request");
            let resp = app.oneshot(req).await.expect("infallible");
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
            (status, bytes)
        });
        prop_assert!(status < 500, "status {} body {}", status, String::from_utf8_lossy(&bytes));
        if status >= 400 {
            let v: serde_json::Value = serde_json::from_slice(&bytes).expect("error bodies are JSON");
            prop_assert_eq!(&v["kind"], "Status");
            prop_assert_eq!(v["code"].as_u64(), Some(status as u64));
        }
    }
}
