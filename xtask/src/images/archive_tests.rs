//! Reads written archives back and checks that every reference in them holds.

use super::catalog::{self, ImageSpec};
use super::oci::{blob_path, digest, CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use super::{build_archive, write_if_changed};
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

const CREATED: u64 = 1_700_000_000;

fn sample(version: &str) -> ImageSpec {
    catalog::echo(version, b"\x7fELF pretend binary")
}

/// One archive member with the metadata the tests check.
struct Stored {
    data: Vec<u8>,
    mtime: u64,
    uid: u64,
    gid: u64,
}

type Files = BTreeMap<String, Stored>;

/// Every entry of a tar by path.
fn entries(tar_bytes: &[u8]) -> Result<Files> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let (mtime, uid, gid) = (entry.header().mtime()?, entry.header().uid()?, entry.header().gid()?);
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        out.insert(path, Stored { data, mtime, uid, gid });
    }
    Ok(out)
}

fn json(files: &Files, path: &str) -> Result<Value> {
    let Stored { data, .. } = files.get(path).with_context(|| format!("{path} missing from the archive"))?;
    Ok(serde_json::from_slice(data)?)
}

fn blob<'a>(files: &'a Files, digest: &Value) -> Result<&'a Vec<u8>> {
    let digest = digest.as_str().context("digest is not a string")?;
    files.get(&blob_path(digest)).map(|stored| &stored.data).with_context(|| format!("blob {digest} missing"))
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn every_blob_is_named_by_its_digest_and_entries_are_fixed() -> Result<()> {
    let files = entries(&build_archive(&sample("v1"), CREATED)?.bytes)?;
    let blobs: Vec<_> = files.keys().filter(|p| p.starts_with("blobs/sha256/") && p.len() > 13).collect();
    assert_eq!(blobs.len(), 3, "config, manifest and layer: {blobs:?}");
    for (path, Stored { data, mtime, uid, gid }) in &files {
        if path.starts_with("blobs/sha256/") && path.len() > 13 {
            assert_eq!(blob_path(&digest(data)), *path);
        }
        assert_eq!((*mtime, *uid, *gid), (CREATED, 0, 0), "{path}");
    }
    assert_eq!(files["oci-layout"].data, br#"{"imageLayoutVersion":"1.0.0"}"#);
    Ok(())
}

#[test]
fn index_manifest_config_and_layer_agree() -> Result<()> {
    let archive = build_archive(&sample("v2"), CREATED)?;
    let files = entries(&archive.bytes)?;

    let index = json(&files, "index.json")?;
    let descriptor = &index["manifests"][0];
    assert_eq!(descriptor["mediaType"], MANIFEST_MEDIA_TYPE);
    assert_eq!(descriptor["digest"], archive.manifest_digest.as_str());
    assert_eq!(descriptor["annotations"]["org.opencontainers.image.ref.name"], "v2");
    assert_eq!(descriptor["annotations"]["io.containerd.image.name"], "docker.io/keel-test/echo:v2");
    let manifest_bytes = blob(&files, &descriptor["digest"])?;
    assert_eq!(descriptor["size"], manifest_bytes.len());

    let manifest: Value = serde_json::from_slice(manifest_bytes)?;
    assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
    let config_bytes = blob(&files, &manifest["config"]["digest"])?;
    assert_eq!(manifest["config"]["size"], config_bytes.len());
    let layer_descriptor = &manifest["layers"][0];
    assert_eq!(layer_descriptor["mediaType"], LAYER_MEDIA_TYPE);
    let layer_gzip = blob(&files, &layer_descriptor["digest"])?;
    assert_eq!(layer_descriptor["size"], layer_gzip.len());

    let config: Value = serde_json::from_slice(config_bytes)?;
    assert_eq!(config["rootfs"]["diff_ids"][0], digest(&gunzip(layer_gzip)?).as_str());
    assert_eq!((config["architecture"].as_str(), config["os"].as_str()), (Some("amd64"), Some("linux")));
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let env = config["config"]["Env"].as_array().context("Env")?;
    assert!(env.contains(&Value::from("VERSION=v2")) && env.contains(&Value::from("PORT=8080")));
    assert_eq!(config["config"]["Entrypoint"][0], "/echo");
    assert!(config["config"]["ExposedPorts"]["8080/udp"].is_object());

    let docker = json(&files, "manifest.json")?;
    assert_eq!(docker[0]["RepoTags"][0], "keel-test/echo:v2");
    assert_eq!(docker[0]["Config"], blob_path(manifest["config"]["digest"].as_str().context("digest")?).as_str());
    assert_eq!(docker[0]["Layers"][0], blob_path(layer_descriptor["digest"].as_str().context("digest")?).as_str());
    Ok(())
}

#[test]
fn layer_is_sorted_root_owned_and_keeps_modes() -> Result<()> {
    let files = entries(&build_archive(&sample("v1"), CREATED)?.bytes)?;
    let manifest = json(&files, "index.json")?;
    let manifest: Value = serde_json::from_slice(blob(&files, &manifest["manifests"][0]["digest"])?)?;
    let layer = gunzip(blob(&files, &manifest["layers"][0]["digest"])?)?;

    let mut archive = tar::Archive::new(layer.as_slice());
    let mut paths = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry.path()?.to_string_lossy().trim_end_matches('/').to_string();
        assert_eq!((entry.header().mtime()?, entry.header().uid()?), (CREATED, 0), "{path}");
        match path.as_str() {
            "tmp" => assert_eq!(entry.header().mode()? & 0o7777, 0o1777),
            "echo" => assert_eq!(entry.header().mode()? & 0o7777, 0o755),
            _ => {}
        }
        paths.push(path);
    }
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(paths.iter().any(|p| p == "etc/passwd") && paths.iter().any(|p| p == "echo"));
    Ok(())
}

#[test]
fn rebuilding_gives_identical_bytes_and_versions_differ() -> Result<()> {
    let first = build_archive(&sample("v1"), CREATED)?;
    let second = build_archive(&sample("v1"), CREATED)?;
    assert_eq!(first.manifest_digest, second.manifest_digest);
    assert!(first.bytes == second.bytes);
    assert_ne!(first.manifest_digest, build_archive(&sample("v2"), CREATED)?.manifest_digest);
    Ok(())
}

/// A directory removed on drop, even when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("keel-images-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unchanged_archive_is_not_rewritten() -> Result<()> {
    let dir = TempDir::new("write")?;
    let path = dir.0.join("echo-v1.tar");
    let bytes = build_archive(&sample("v1"), CREATED)?.bytes;
    assert!(write_if_changed(&path, &bytes)?);
    assert!(!write_if_changed(&path, &bytes)?);
    assert_eq!(std::fs::read(&path)?, bytes);
    assert!(!dir.0.join("echo-v1.tar.tmp").exists());
    Ok(())
}
