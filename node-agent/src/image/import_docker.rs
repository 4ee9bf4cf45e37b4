//! Reading images from a classic `docker save` archive: manifest.json,
//! `<id>.json` configs and `<id>/layer.tar` layers. There is no registry
//! manifest in it, so an equivalent OCI manifest is written for the store.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::archive_extract::{ExtractedArchive, ExtractedFile};
use super::compression::{sniff, Compression};
use super::digest::Digest;
use super::error::{ImageError, IoResultExt};
use super::pending::{PendingImage, PendingLayer};
use super::reference::normalize_reference;
use super::spec::{
    ConfigFile, Descriptor, DockerSaveEntry, Manifest, OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST,
};

pub(super) fn read_images(archive: &ExtractedArchive) -> Result<Vec<PendingImage>, ImageError> {
    let entries: Vec<DockerSaveEntry> = archive.read_json("manifest.json")?;
    let mut images = Vec::new();
    for entry in entries {
        let names = entry
            .repo_tags
            .iter()
            .flatten()
            .map(|tag| normalize_reference(tag).map_err(|e| ImageError::InvalidArchive(format!("RepoTags: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if names.is_empty() {
            tracing::warn!(config = %entry.config, "skipping image without RepoTags in docker-save archive");
            continue;
        }
        let mut image = read_image(archive, &entry)?;
        image.names = names;
        images.push(image);
    }
    Ok(images)
}

fn read_image(archive: &ExtractedArchive, entry: &DockerSaveEntry) -> Result<PendingImage, ImageError> {
    let config_file = archive.get(&entry.config)?;
    check_named_digest(&entry.config, config_file)?;
    let config_bytes = archive.read_bytes(&entry.config)?;
    let config: ConfigFile = serde_json::from_slice(&config_bytes).map_err(|e| ImageError::json(&entry.config, e))?;
    if entry.layers.len() != config.rootfs.diff_ids.len() {
        return Err(ImageError::InvalidArchive(format!(
            "manifest.json lists {} layers but {} lists {} diff-ids",
            entry.layers.len(),
            entry.config,
            config.rootfs.diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    let mut descriptors = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(config.rootfs.diff_ids.iter()) {
        let file = archive.get(name)?;
        descriptors.push(descriptor(layer_media_type(&file.path)?, &file.digest, file.size));
        layers.push(PendingLayer {
            blob: file.path.clone(),
            digest: file.digest.clone(),
            size: file.size,
            diff_id: diff_id.clone(),
        });
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: descriptor(OCI_CONFIG, &config_file.digest, config_file.size),
        layers: descriptors,
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::json("generated manifest", e))?;
    let manifest_digest = Digest::of_bytes(&manifest_bytes);
    Ok(PendingImage {
        names: Vec::new(),
        digest: manifest_digest.clone(),
        manifest_digest: manifest_digest.clone(),
        config_digest: config_file.digest.clone(),
        config,
        metadata_blobs: vec![(manifest_digest, manifest_bytes), (config_file.digest.clone(), config_bytes)],
        layers,
    })
}

fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.clone(),
        size,
        annotations: Default::default(),
        platform: None,
    }
}

/// Configs are named by their digest ("<hex>.json" or "blobs/sha256/<hex>"); a mismatch means corruption.
fn check_named_digest(name: &str, file: &ExtractedFile) -> Result<(), ImageError> {
    let stem = Path::new(name).file_name().and_then(|n| n.to_str()).unwrap_or("");
    let hex = stem.strip_suffix(".json").unwrap_or(stem);
    match Digest::parse(&format!("sha256:{hex}")) {
        Ok(named) => named.verify(&file.digest, &format!("config {name}")),
        Err(_) => Ok(()), // not named by digest: the diff-ids still verify the layers
    }
}

fn layer_media_type(path: &Path) -> Result<&'static str, ImageError> {
    let file = File::open(path).at("open layer", path)?;
    match sniff(&mut BufReader::new(file)).at("read layer", path)? {
        Compression::Gzip => Ok(OCI_LAYER_GZIP),
        Compression::None => Ok(OCI_LAYER_TAR),
        Compression::Zstd => Err(ImageError::Unsupported(format!("zstd layer {}", path.display()))),
    }
}
