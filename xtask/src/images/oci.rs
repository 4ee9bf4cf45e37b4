//! Writes an OCI image-layout tar (also readable as a `docker save` archive) for one single-layer image.

use super::layer::Layer;
use super::timestamp::rfc3339;
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a container of the image runs: the `config` part of the image config.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Extra `NAME=value` entries after PATH.
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// Like "8080/tcp".
    pub exposed_ports: Vec<String>,
}

/// The name an image is known by: repository ("keel-test/echo") and tag ("v1").
#[derive(Debug, Clone)]
pub struct ImageRef {
    pub repository: String,
    pub tag: String,
}

impl ImageRef {
    pub fn short(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// containerd's fully qualified form: docker.io/<repository>:<tag>.
    pub fn qualified(&self) -> String {
        format!("docker.io/{}", self.short())
    }
}

/// The written archive and the identity of the image inside it.
pub struct Archive {
    pub bytes: Vec<u8>,
    pub manifest_digest: String,
}

/// `sha256:<hex>` of some bytes.
pub fn digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Assembles config, manifest, index.json, oci-layout and manifest.json around one layer.
pub fn archive(image: &ImageRef, run: &RunConfig, layer: &Layer, created: u64) -> Result<Archive> {
    let layer_digest = digest(&layer.gzip);
    let config = to_bytes(&config_json(run, &digest(&layer.tar), created))?;
    let config_digest = digest(&config);
    let manifest = to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer.gzip.len() }],
    }))?;
    let manifest_digest = digest(&manifest);
    let index = to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {
                "io.containerd.image.name": image.qualified(),
                "org.opencontainers.image.ref.name": image.tag,
            },
        }],
    }))?;
    // docker-save readers (docker load, older tools) look for this file instead of index.json.
    let docker_manifest = to_bytes(&json!([{
        "Config": blob_path(&config_digest),
        "RepoTags": [image.short()],
        "Layers": [blob_path(&layer_digest)],
    }]))?;

    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    files.insert(blob_path(&config_digest), &config);
    files.insert(blob_path(&layer_digest), &layer.gzip);
    files.insert(blob_path(&manifest_digest), &manifest);
    files.insert("index.json".into(), &index);
    files.insert("manifest.json".into(), &docker_manifest);
    files.insert("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    let bytes = outer_tar(&files, created)?;
    Ok(Archive { bytes, manifest_digest })
}

/// Path of a blob inside the layout: blobs/sha256/<hex>.
pub fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

fn config_json(run: &RunConfig, diff_id: &str, created: u64) -> Value {
    let created = rfc3339(created);
    let mut env = vec![DEFAULT_PATH.to_string()];
    env.extend(run.env.iter().cloned());
    let mut config = Map::new();
    config.insert("Env".into(), json!(env));
    if !run.entrypoint.is_empty() {
        config.insert("Entrypoint".into(), json!(run.entrypoint));
    }
    if !run.cmd.is_empty() {
        config.insert("Cmd".into(), json!(run.cmd));
    }
    if !run.exposed_ports.is_empty() {
        let ports: Map<String, Value> = run.exposed_ports.iter().map(|p| (p.clone(), json!({}))).collect();
        config.insert("ExposedPorts".into(), Value::Object(ports));
    }
    config.insert("WorkingDir".into(), json!("/"));
    json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": created, "created_by": "cargo xtask images" }],
    })
}

fn to_bytes(value: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(value).context("serialising image JSON")
}

/// The archive itself: directories first by sorted path, fixed mtime, root owner.
fn outer_tar(files: &BTreeMap<String, &[u8]>, mtime: u64) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut header = header(mtime, 0o755, 0);
        header.set_entry_type(tar::EntryType::Directory);
        builder.append_data(&mut header, dir, std::io::empty()).context("adding a directory to the archive")?;
    }
    for (path, data) in files {
        let mut header = header(mtime, 0o644, data.len() as u64);
        builder.append_data(&mut header, path, *data).with_context(|| format!("adding {path} to the archive"))?;
    }
    builder.into_inner().context("finishing the image archive")
}

fn header(mtime: u64, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mode(mode);
    header.set_size(size);
    header
}
