//! An image read from an archive or registry, not yet in the store, and how
//! it gets staged: metadata blobs written, layers unpacked and verified.

use std::path::PathBuf;

use super::digest::Digest;
use super::error::ImageError;
use super::layer_blob::stage_layer;
use super::metadata::{ImageRecord, LayerRecord};
use super::paths::StorePaths;
use super::spec::{ConfigFile, Descriptor};
use super::staging::Staging;
use super::types::ImportProgress;

pub(super) struct PendingImage {
    /// Normalized references to record it under.
    pub names: Vec<String>,
    /// The digest users see (index digest when the source was an index).
    pub digest: Digest,
    pub manifest_digest: Digest,
    pub config_digest: Digest,
    pub config: ConfigFile,
    /// Index/manifest/config documents to keep, already verified.
    pub metadata_blobs: Vec<(Digest, Vec<u8>)>,
    pub layers: Vec<PendingLayer>,
}

pub(super) struct PendingLayer {
    /// Where the (verified) layer blob is on disk.
    pub blob: PathBuf,
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

impl PendingImage {
    pub(super) fn record(&self) -> ImageRecord {
        ImageRecord {
            digest: self.digest.clone(),
            manifest_digest: self.manifest_digest.clone(),
            config_digest: self.config_digest.clone(),
            layers: self
                .layers
                .iter()
                .map(|l| LayerRecord { digest: l.digest.clone(), diff_id: l.diff_id.clone(), size: l.size })
                .collect(),
            blobs: self.metadata_blobs.iter().map(|(d, _)| d.clone()).collect(),
            created: self.config.created.clone(),
        }
    }
}

/// Pairs manifest layers with the config's diff-ids, which must match one to one.
pub(super) fn diff_ids_for<'a>(
    layers: &'a [Descriptor],
    config: &'a ConfigFile,
) -> Result<impl Iterator<Item = (&'a Descriptor, &'a Digest)>, ImageError> {
    if layers.len() != config.rootfs.diff_ids.len() {
        return Err(ImageError::InvalidArchive(format!(
            "manifest lists {} layers but the config lists {} diff-ids",
            layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    Ok(layers.iter().zip(config.rootfs.diff_ids.iter()))
}

/// Writes the image's metadata blobs and unpacks its layers into `staging`.
pub(super) fn stage_image(
    paths: &StorePaths,
    staging: &Staging,
    image: &PendingImage,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<(), ImageError> {
    for (digest, bytes) in &image.metadata_blobs {
        staging.add_blob(digest, bytes)?;
    }
    let total = image.layers.len();
    for (i, layer) in image.layers.iter().enumerate() {
        stage_layer(paths, &staging.layer_dir(&layer.diff_id), &layer.blob, &layer.diff_id)?;
        progress(ImportProgress::Layer { digest: layer.digest.to_string(), index: i + 1, total, bytes: layer.size });
    }
    Ok(())
}
