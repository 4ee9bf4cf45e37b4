//! A minimal registry API client for one repository: manifests and blobs,
//! answering 401 challenges (Bearer token or Basic) once per request.

use std::path::Path;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::super::digest::Digest;
use super::super::error::ImageError;
use super::super::reference::ParsedReference;
use super::super::spec::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use super::auth::{fetch_token, parse_challenge, Authorization, Challenge};

const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;
const MAX_CONFIG_SIZE: u64 = 16 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Per read, not per request: a large layer may take long, a stalled one should fail.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) struct Fetched {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub content_type: Option<String>,
}

pub(super) struct RegistryClient {
    http: reqwest::Client,
    base: String,
    registry: String,
    repository: String,
    credentials: Option<(String, String)>,
    authorization: Authorization,
}

impl RegistryClient {
    pub(super) fn new(
        reference: &ParsedReference,
        credentials: Option<(String, String)>,
        insecure_http: bool,
    ) -> Result<Self, ImageError> {
        let host = reference.api_host().to_string();
        let scheme = if insecure_http || is_loopback_host(&host) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("keel-node-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ImageError::Http { url: host.clone(), source })?;
        Ok(RegistryClient {
            http,
            base: format!("{scheme}://{host}"),
            registry: reference.domain.clone(),
            repository: reference.path.clone(),
            credentials,
            authorization: Authorization::Anonymous,
        })
    }

    /// Fetches a manifest or index by tag or digest; a digest reference is verified.
    pub(super) async fn fetch_manifest(&mut self, reference: &str) -> Result<Fetched, ImageError> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");
        let path = format!("manifests/{reference}");
        let response = self.get(&path, Some(&accept)).await?;
        let content_type = header(&response, CONTENT_TYPE.as_str());
        let announced = header(&response, "docker-content-digest");
        let bytes = read_limited(response, MAX_MANIFEST_SIZE, &self.url(&path)).await?;
        let digest = Digest::of_bytes(&bytes);
        if let Ok(expected) = Digest::parse(reference) {
            expected.verify(&digest, &format!("manifest {reference}"))?;
        } else if let Some(announced) = announced.as_deref().and_then(|a| Digest::parse(a).ok()) {
            announced.verify(&digest, &format!("manifest {reference} (Docker-Content-Digest)"))?;
        }
        Ok(Fetched { bytes, digest, content_type })
    }

    /// A small blob (config) into memory, verified.
    pub(super) async fn fetch_small_blob(&mut self, digest: &Digest, size: u64) -> Result<Vec<u8>, ImageError> {
        if size > MAX_CONFIG_SIZE {
            return Err(self.error(format!("config blob {digest} is {size} bytes; refusing")));
        }
        let path = format!("blobs/{digest}");
        let response = self.get(&path, None).await?;
        let bytes = read_limited(response, size, &self.url(&path)).await?;
        digest.verify(&Digest::of_bytes(&bytes), &format!("blob {digest}"))?;
        check_size(digest, size, bytes.len() as u64)?;
        Ok(bytes)
    }

    /// Streams a blob to `dest`, verifying size and digest; nothing is held in memory.
    pub(super) async fn download_blob(&mut self, digest: &Digest, size: u64, dest: &Path) -> Result<(), ImageError> {
        let path = format!("blobs/{digest}");
        let url = self.url(&path);
        let mut response = self.get(&path, None).await?;
        let mut file =
            tokio::fs::File::create(dest).await.map_err(|e| ImageError::io_path("create download", dest, e))?;
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        while let Some(chunk) =
            response.chunk().await.map_err(|source| ImageError::Http { url: url.clone(), source })?
        {
            received += chunk.len() as u64;
            if received > size {
                return Err(ImageError::DigestMismatch {
                    what: format!("blob {digest} size"),
                    expected: size.to_string(),
                    actual: format!("more than {size} bytes"),
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(|e| ImageError::io_path("write download", dest, e))?;
        }
        file.flush().await.map_err(|e| ImageError::io_path("write download", dest, e))?;
        check_size(digest, size, received)?;
        digest.verify(&Digest::from_hasher(hasher), &format!("blob {digest}"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{}", self.base, self.repository, path)
    }

    fn error(&self, message: String) -> ImageError {
        ImageError::Registry { registry: self.registry.clone(), message }
    }

    fn unauthorized(&self, message: String) -> ImageError {
        ImageError::Unauthorized { registry: self.registry.clone(), message }
    }

    /// GET with the current authorization; on 401 answers the challenge and retries once.
    async fn get(&mut self, path: &str, accept: Option<&str>) -> Result<Response, ImageError> {
        let url = self.url(path);
        let mut answered_challenge = false;
        loop {
            let mut request = self.http.get(&url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            request = match &self.authorization {
                Authorization::Anonymous => request,
                Authorization::Bearer(token) => request.bearer_auth(token),
                Authorization::Basic { username, password } => request.basic_auth(username, Some(password)),
            };
            let response = request.send().await.map_err(|source| ImageError::Http { url: url.clone(), source })?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !answered_challenge {
                let challenge = header(&response, WWW_AUTHENTICATE.as_str()).and_then(|h| parse_challenge(&h));
                let challenge = challenge
                    .ok_or_else(|| self.unauthorized("HTTP 401 without a Bearer or Basic challenge".into()))?;
                self.authorization = self.answer(challenge).await?;
                answered_challenge = true;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let detail = registry_error_text(response).await;
                let hint = if self.credentials.is_some() { "credentials rejected" } else { "anonymous access denied" };
                return Err(self.unauthorized(format!("GET {url}: HTTP {status} ({hint}){detail}")));
            }
            if status == StatusCode::NOT_FOUND && path.starts_with("manifests/") {
                let name = format!("{}/{}:{}", self.registry, self.repository, path.trim_start_matches("manifests/"));
                return Err(ImageError::NotFound(format!("{name} (registry answered 404)")));
            }
            if !status.is_success() {
                let detail = registry_error_text(response).await;
                return Err(self.error(format!("GET {url}: HTTP {status}{detail}")));
            }
            return Ok(response);
        }
    }

    async fn answer(&self, challenge: Challenge) -> Result<Authorization, ImageError> {
        match challenge {
            Challenge::Bearer { realm, service, scope } => {
                let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", self.repository));
                let token = fetch_token(
                    &self.http,
                    &self.registry,
                    &realm,
                    service.as_deref(),
                    &scope,
                    self.credentials.as_ref(),
                )
                .await?;
                Ok(Authorization::Bearer(token))
            }
            Challenge::Basic => match &self.credentials {
                Some((username, password)) => {
                    Ok(Authorization::Basic { username: username.clone(), password: password.clone() })
                }
                None => Err(self.unauthorized("registry requires basic auth and no credentials were given".into())),
            },
        }
    }
}

/// Docker treats loopback registries as insecure by default; so do we.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rfind(':') {
        Some(i) if !host.ends_with(']') => &host[..i],
        _ => host,
    };
    name == "localhost" || name == "[::1]" || name.starts_with("127.")
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn check_size(digest: &Digest, expected: u64, actual: u64) -> Result<(), ImageError> {
    if expected == actual {
        return Ok(());
    }
    Err(ImageError::DigestMismatch {
        what: format!("blob {digest} size"),
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}

async fn read_limited(mut response: Response, limit: u64, url: &str) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|source| ImageError::Http { url: url.to_string(), source })?
    {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(ImageError::Unsupported(format!("{url}: response larger than {limit} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// ": CODE: message" from a registry error body, if it has one.
async fn registry_error_text(response: Response) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let Ok(bytes) = response.bytes().await else { return String::new() };
    match serde_json::from_slice::<Errors>(&bytes) {
        Ok(errors) => errors.errors.iter().map(|e| format!(": {}: {}", e.code, e.message)).collect(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts_use_http() {
        assert!(is_loopback_host("localhost:5000"));
        assert!(is_loopback_host("127.0.0.1:5000"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]:5000"));
        assert!(!is_loopback_host("registry-1.docker.io"));
        assert!(!is_loopback_host("localhost.example.com:443"));
    }
}
