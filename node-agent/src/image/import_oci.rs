//! Reading images from an OCI image layout (also what docker >= 25 saves).

use std::collections::{BTreeMap, HashMap};

use super::archive_extract::ExtractedArchive;
use super::digest::Digest;
use super::error::ImageError;
use super::pending::{diff_ids_for, PendingImage, PendingLayer};
use super::reference::normalize_reference;
use super::spec::{
    parse_manifest_document, select_platform, ConfigFile, Descriptor, DockerSaveEntry, Index, ManifestDocument,
    ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME,
};

pub(super) fn read_images(archive: &ExtractedArchive) -> Result<Vec<PendingImage>, ImageError> {
    let _layout: serde_json::Value = archive.read_json("oci-layout")?;
    let index: Index = archive.read_json("index.json")?;
    let docker_tags = docker_tags_by_config(archive);
    let mut images = Vec::new();
    for top in &index.manifests {
        let mut image = read_image(archive, top)?;
        image.names = annotation_names(&top.annotations)?;
        if image.names.is_empty() {
            image.names = docker_tags.get(&image.config_digest).cloned().unwrap_or_default();
        }
        if image.names.is_empty() {
            tracing::warn!(digest = %top.digest, "skipping image without a name annotation in archive");
            continue;
        }
        images.push(image);
    }
    Ok(images)
}

fn read_image(archive: &ExtractedArchive, top: &Descriptor) -> Result<PendingImage, ImageError> {
    let top_bytes = archive.read_blob(&top.digest, top.size, "manifest")?;
    let mut metadata_blobs = vec![(top.digest.clone(), top_bytes.clone())];
    let (manifest, manifest_digest) = match parse_manifest_document(&top_bytes, Some(&top.media_type))? {
        ManifestDocument::Image(manifest) => (manifest, top.digest.clone()),
        ManifestDocument::Index(nested) => {
            let chosen = select_platform(&nested)?;
            let bytes = archive.read_blob(&chosen.digest, chosen.size, "manifest")?;
            metadata_blobs.push((chosen.digest.clone(), bytes.clone()));
            match parse_manifest_document(&bytes, Some(&chosen.media_type))? {
                ManifestDocument::Image(manifest) => (manifest, chosen.digest.clone()),
                ManifestDocument::Index(_) => {
                    return Err(ImageError::Unsupported("an image index nested more than one level deep".into()));
                }
            }
        }
    };
    let config_bytes = archive.read_blob(&manifest.config.digest, manifest.config.size, "config")?;
    let config: ConfigFile = serde_json::from_slice(&config_bytes).map_err(|e| ImageError::json("image config", e))?;
    metadata_blobs.push((manifest.config.digest.clone(), config_bytes));
    let mut layers = Vec::new();
    for (layer, diff_id) in diff_ids_for(&manifest.layers, &config)? {
        let file = archive.verified_blob(&layer.digest, layer.size, "layer")?;
        layers.push(PendingLayer {
            blob: file.path.clone(),
            digest: layer.digest.clone(),
            size: layer.size,
            diff_id: diff_id.clone(),
        });
    }
    Ok(PendingImage {
        names: Vec::new(),
        digest: top.digest.clone(),
        manifest_digest,
        config_digest: manifest.config.digest.clone(),
        config,
        metadata_blobs,
        layers,
    })
}

/// containerd's full name wins; the OCI ref.name is used as a reference when it is the only one.
fn annotation_names(annotations: &BTreeMap<String, String>) -> Result<Vec<String>, ImageError> {
    let name = annotations.get(ANNOTATION_CONTAINERD_NAME).or_else(|| annotations.get(ANNOTATION_REF_NAME));
    match name {
        Some(name) => normalize_reference(name)
            .map(|n| vec![n])
            .map_err(|e| ImageError::InvalidArchive(format!("image name annotation: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// Docker's manifest.json next to an OCI layout names images saved without annotations.
fn docker_tags_by_config(archive: &ExtractedArchive) -> HashMap<Digest, Vec<String>> {
    let mut tags = HashMap::new();
    if !archive.contains("manifest.json") {
        return tags;
    }
    let entries: Vec<DockerSaveEntry> = match archive.read_json("manifest.json") {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable manifest.json in OCI layout archive");
            return tags;
        }
    };
    for entry in entries {
        let Ok(file) = archive.get(&entry.config) else { continue };
        let names: Vec<String> =
            entry.repo_tags.unwrap_or_default().iter().filter_map(|t| normalize_reference(t).ok()).collect();
        tags.insert(file.digest.clone(), names);
    }
    tags
}
