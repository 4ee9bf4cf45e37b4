//! The subset of the OCI image spec, Docker manifest v2 and `docker save`
//! formats that the store reads and writes. Unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::error::ImageError;

pub(super) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(super) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(super) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(super) const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub(super) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub(super) const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Annotation with the full image name (containerd and newer docker write it).
pub(super) const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// OCI annotation: a tag, or (as skopeo and docker often write it) a full reference.
pub(super) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// The parts of an image config the store uses.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct ConfigFile {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContainerConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Clone, Debug, Deserialize)]
pub(super) struct RootFs {
    pub diff_ids: Vec<Digest>,
}

/// One entry of a `docker save` manifest.json.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DockerSaveEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// What a manifest document turned out to be.
pub(super) enum ManifestDocument {
    Index(Index),
    Image(Manifest),
}

/// Classifies a manifest by its media type (header or field), falling back to its shape.
pub(super) fn parse_manifest_document(bytes: &[u8], media_type: Option<&str>) -> Result<ManifestDocument, ImageError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| ImageError::json("manifest", e))?;
    if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        return Err(ImageError::Unsupported("docker schema 1 manifests are deprecated and not supported".into()));
    }
    let field = value.get("mediaType").and_then(|v| v.as_str()).map(str::to_string);
    let kind = field.as_deref().or(media_type).unwrap_or("");
    let is_index = match kind {
        OCI_INDEX | DOCKER_MANIFEST_LIST => true,
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        _ => value.get("manifests").is_some(),
    };
    if is_index {
        let index = serde_json::from_value(value).map_err(|e| ImageError::json("image index", e))?;
        Ok(ManifestDocument::Index(index))
    } else {
        let manifest = serde_json::from_value(value).map_err(|e| ImageError::json("image manifest", e))?;
        Ok(ManifestDocument::Image(manifest))
    }
}

/// The platform this node runs images for, in OCI terms.
pub(super) fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch)
}

/// Picks the entry for this node's platform from an index.
pub(super) fn select_platform(index: &Index) -> Result<&Descriptor, ImageError> {
    let (os, arch) = host_platform();
    let matches = |d: &&Descriptor| d.platform.as_ref().is_some_and(|p| p.os == os && p.architecture == arch);
    if let Some(found) = index.manifests.iter().find(matches) {
        return Ok(found);
    }
    // An index without platform fields (common in image-layout archives) with one image.
    let images: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.platform.is_none() && matches!(d.media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST | ""))
        .collect();
    match images.as_slice() {
        [only] => Ok(only),
        _ => {
            let available: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| format!("{}/{}", p.os, p.architecture)))
                .collect();
            Err(ImageError::Unsupported(format!(
                "no image for platform {os}/{arch} in index (available: {})",
                if available.is_empty() { "none".to_string() } else { available.join(", ") }
            )))
        }
    }
}
