//! Runs Debian's `docker-registry` (CNCF distribution) on loopback for pull tests,
//! and pushes images into it with plain HTTP calls.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::super::Digest;
use super::fixtures::TestImage;

pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// Kills and reaps the registry on drop; its storage lives in `_dir`.
pub struct RegistryProcess {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl RegistryProcess {
    pub async fn start() -> Self {
        assert!(Path::new(REGISTRY_BINARY).exists(), "{REGISTRY_BINARY} missing: apt-get install -y docker-registry");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = RegistryProcess { child, port, _dir: dir };
        registry.wait_ready().await;
        registry
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(response) = client.get(format!("{}/v2/", self.base())).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("docker-registry did not become ready on port {}", self.port);
    }
}

/// Monolithic blob upload: POST to start, PUT with ?digest= to finish.
pub async fn push_blob(base: &str, repository: &str, digest: &Digest, bytes: &[u8]) {
    let client = reqwest::Client::new();
    let started = client.post(format!("{base}/v2/{repository}/blobs/uploads/")).send().await.expect("start upload");
    assert_eq!(started.status().as_u16(), 202, "start upload");
    let location = started.headers()["location"].to_str().expect("location").to_string();
    let location = if location.starts_with("http") { location } else { format!("{base}{location}") };
    let separator = if location.contains('?') { '&' } else { '?' };
    let finished = client
        .put(format!("{location}{separator}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("finish upload");
    assert_eq!(finished.status().as_u16(), 201, "finish upload of {digest}");
}

pub async fn push_manifest(base: &str, repository: &str, reference: &str, media_type: &str, bytes: &[u8]) {
    let response = reqwest::Client::new()
        .put(format!("{base}/v2/{repository}/manifests/{reference}"))
        .header("content-type", media_type)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("put manifest");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 201, "put manifest {reference}: {body}");
}

pub async fn push_image(base: &str, repository: &str, tag: &str, image: &TestImage) {
    push_blob(base, repository, &image.config_digest, &image.config).await;
    for layer in &image.layers {
        push_blob(base, repository, &layer.digest, &layer.blob).await;
    }
    let manifest: serde_json::Value = serde_json::from_slice(&image.manifest).expect("manifest");
    let media_type = manifest["mediaType"].as_str().expect("mediaType").to_string();
    push_manifest(base, repository, tag, &media_type, &image.manifest).await;
}
