//! Bad input gets a clear Status error and changes nothing stored.

use keel_e2e::{json, Server, KUBECTL_NEWEST};

const V: &str = KUBECTL_NEWEST;

fn raw(s: &Server, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, serde_json::Value) {
    // curl is not assumed; kubectl --raw only does GET/POST/PUT/DELETE with
    // files, so use a tiny client over the same kubeconfig credentials.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = s.client().await.expect("client");
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("Content-Type", content_type)
            .body(body.to_vec())
            .expect("request");
        let resp = client.send(req.map(kube::client::Body::from)).await.expect("send");
        let status = resp.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    })
}

fn configmaps(s: &Server) -> String {
    s.ok(V, &["get", "cm", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}"])
}

#[test]
fn bad_requests_get_status_errors_and_store_nothing() {
    let s = Server::start().expect("server");
    s.ok(V, &["create", "configmap", "existing", "--from-literal=a=1"]);
    let before = configmaps(&s);
    let cms = "/api/v1/namespaces/default/configmaps";

    let (code, st) = raw(&s, "POST", cms, "application/json", b"{\"apiVersion\": \"v1\", \"kind\": ");
    assert_eq!(code, 400, "{st}");
    assert_eq!(st["kind"], "Status");
    assert!(st["message"].as_str().unwrap_or_default().contains("line 1 column"), "{st}");

    let (code, st) =
        raw(&s, "POST", cms, "application/yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n");
    assert_eq!(code, 400, "{st}");

    let (code, st) =
        raw(&s, "POST", cms, "application/json", br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#);
    assert_eq!(code, 400, "{st}");
    assert!(st["message"].as_str().unwrap_or_default().contains("kind"), "{st}");

    let (code, st) = raw(
        &s,
        "POST",
        cms,
        "application/json",
        br#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
    );
    assert_eq!(code, 400, "{st}");

    let (code, st) = raw(
        &s,
        "POST",
        &format!("{cms}?fieldValidation=Strict"),
        "application/json",
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"dta":{}}"#,
    );
    assert_eq!(code, 400, "{st}");
    assert!(st["message"].as_str().unwrap_or_default().contains("unknown field \"dta\""), "{st}");

    let (code, st) = raw(
        &s,
        "POST",
        cms,
        "application/json",
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name","labels":{"a":"-x-"}}}"#,
    );
    assert_eq!(code, 422, "{st}");
    assert_eq!(st["reason"], "Invalid");
    let causes = st["details"]["causes"].as_array().cloned().unwrap_or_default();
    assert!(causes.len() >= 2, "every invalid field is listed: {st}");

    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024 + 10)
    );
    let (code, st) = raw(&s, "POST", cms, "application/json", big.as_bytes());
    assert_eq!(code, 413, "{st}");

    // Stale resourceVersion on update: 409 Conflict.
    let (code, st) = raw(&s, "PUT", &format!("{cms}/existing"), "application/json", br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"existing","resourceVersion":"1"},"data":{"a":"2"}}"#);
    assert_eq!(code, 409, "{st}");
    assert_eq!(st["reason"], "Conflict");

    // Wrong URL or method.
    let (code, _) = raw(&s, "GET", "/api/v1/nosuchthings", "application/json", b"");
    assert_eq!(code, 404);

    assert_eq!(configmaps(&s), before, "nothing stored may change");
    let cm = json(&s.ok(V, &["get", "cm", "existing", "-o", "json"]));
    assert_eq!(cm["data"]["a"], "1");
}

#[test]
fn requests_without_credentials_get_401() {
    let s = Server::start().expect("server");
    let out = std::process::Command::new(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{V}"))
        .args(["--server", &s.url(), "--certificate-authority"])
        .arg(s.data_dir().join("pki/ca.crt"))
        .args(["--token", "wrong", "get", "ns"])
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("kubectl");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("provide credentials") || err.contains("Unauthorized"), "{err}");
}
