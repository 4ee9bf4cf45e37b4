//! A tiny registry + token server on loopback for the authentication flows
//! (the real registry needs a certificate bundle for token auth).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::fixtures::TestImage;

pub const USER: &str = "keel";
pub const PASSWORD: &str = "s3cret";
const TOKEN: &str = "stub-token-123";
const SERVICE: &str = "stub-registry";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubAuth {
    /// Bearer challenge; the token server wants basic credentials.
    BearerWithCredentials,
    /// Bearer challenge; the token server hands out tokens to anyone.
    BearerAnonymous,
    /// Basic challenge on the registry itself.
    Basic,
}

struct Stub {
    auth: StubAuth,
    port: u16,
    repository: String,
    /// URL path after /v2/<repo>/ -> (content type, body).
    content: HashMap<String, (String, Vec<u8>)>,
    blob_requests: AtomicUsize,
    token_requests: AtomicUsize,
}

/// Stops the server on drop.
pub struct StubRegistry {
    pub port: u16,
    state: Arc<Stub>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StubRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StubRegistry {
    pub async fn start(auth: StubAuth, repository: &str, tag: &str, image: &TestImage, tampered_layer: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut content = HashMap::new();
        content.insert(
            format!("manifests/{tag}"),
            ("application/vnd.oci.image.manifest.v1+json".to_string(), image.manifest.clone()),
        );
        for (digest, mut bytes) in image.blobs() {
            if tampered_layer && image.layers.iter().any(|l| l.digest == digest) {
                bytes[0] ^= 0xff;
            }
            content.insert(format!("blobs/{digest}"), ("application/octet-stream".to_string(), bytes));
        }
        let state = Arc::new(Stub {
            auth,
            port,
            repository: repository.to_string(),
            content,
            blob_requests: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
        });
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StubRegistry { port, state, task }
    }

    pub fn reference(&self, tag: &str) -> String {
        format!("127.0.0.1:{}/{}:{tag}", self.port, self.state.repository)
    }

    pub fn blob_requests(&self) -> usize {
        self.state.blob_requests.load(Ordering::SeqCst)
    }

    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }
}

fn basic_header() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")))
}

async fn handle(State(stub): State<Arc<Stub>>, uri: Uri, headers: HeaderMap) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if uri.path() == "/token" {
        return token(&stub, &uri, &authorization);
    }
    let authorized = match stub.auth {
        StubAuth::Basic => authorization == basic_header(),
        _ => authorization == format!("Bearer {TOKEN}"),
    };
    if !authorized {
        let challenge = match stub.auth {
            StubAuth::Basic => r#"Basic realm="stub""#.to_string(),
            _ => format!(
                r#"Bearer realm="http://127.0.0.1:{}/token",service="{SERVICE}",scope="repository:{}:pull""#,
                stub.port, stub.repository
            ),
        };
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        return (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)], body).into_response();
    }
    let prefix = format!("/v2/{}/", stub.repository);
    let Some(key) = uri.path().strip_prefix(&prefix) else { return StatusCode::NOT_FOUND.into_response() };
    let Some((content_type, body)) = stub.content.get(key) else { return StatusCode::NOT_FOUND.into_response() };
    if key.starts_with("blobs/") {
        stub.blob_requests.fetch_add(1, Ordering::SeqCst);
    }
    (StatusCode::OK, [("content-type", content_type.clone())], body.clone()).into_response()
}

fn token(stub: &Stub, uri: &Uri, authorization: &str) -> Response {
    stub.token_requests.fetch_add(1, Ordering::SeqCst);
    let query = uri.query().unwrap_or("");
    let expected_scope = format!("scope=repository%3A{}%3Apull", stub.repository.replace('/', "%2F"));
    if !query.contains(&format!("service={SERVICE}")) || !query.contains(&expected_scope) {
        return (StatusCode::BAD_REQUEST, format!("unexpected token query {query}")).into_response();
    }
    match stub.auth {
        StubAuth::BearerWithCredentials if authorization != basic_header() => StatusCode::UNAUTHORIZED.into_response(),
        // Some token servers answer "access_token" instead of "token".
        StubAuth::BearerAnonymous => {
            ([("content-type", "application/json")], format!(r#"{{"access_token":"{TOKEN}"}}"#)).into_response()
        }
        _ => ([("content-type", "application/json")], format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#))
            .into_response(),
    }
}
