//! `ImageStore`: the node-local image store and its public operations.
//!
//! Layout under the root:
//! - `blobs/sha256/<hex>`: manifests, indexes, configs
//! - `layers/<diff-id hex>/`: unpacked layers, shared between images
//! - `images.json`: reference -> image record
//! - `tmp/`: per-operation staging
//! - `gc.lock`, `images.lock`: flock files (see `paths.rs`)
//!
//! Blocking: everything but `pull` does blocking file I/O and may wait on a lock;
//! call it from `spawn_blocking` in async code.

use std::fs;
use std::path::Path;

use super::digest::Digest;
use super::error::{ImageError, IoResultExt};
use super::gc::collect_garbage;
use super::import::import_archive;
use super::lock::{lock_exclusive, lock_shared};
use super::metadata::{ImageRecord, StoreIndex};
use super::paths::StorePaths;
use super::reference::ParsedReference;
use super::registry;
use super::spec::ConfigFile;
use super::staging::remove_stale;
use super::types::{Image, ImageConfig, ImageSummary, ImportProgress};

#[derive(Clone, Debug)]
pub struct ImageStore {
    paths: StorePaths,
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let paths = StorePaths::new(root);
        for dir in [paths.blobs_dir(), paths.layers_dir(), paths.tmp_dir()] {
            fs::create_dir_all(&dir).at("create", &dir)?;
        }
        remove_stale(&paths)?;
        Ok(ImageStore { paths })
    }

    pub fn root(&self) -> &Path {
        self.paths.root()
    }

    /// Imports every named image of a docker-save or OCI image-layout archive (.tar or .tar.gz).
    pub fn import(
        &self,
        archive: &Path,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Vec<ImageSummary>, ImageError> {
        import_archive(self, archive, progress)
    }

    /// Pulls from an OCI Distribution registry (see `registry::pull`).
    pub async fn pull(
        &self,
        reference: &str,
        credentials: Option<(String, String)>,
        insecure_http: bool,
        progress: &mut (dyn FnMut(ImportProgress) + Send),
    ) -> Result<ImageSummary, ImageError> {
        registry::pull(self, reference, credentials, insecure_http, progress).await
    }

    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let index = StoreIndex::load(&self.paths.index_file())?;
        Ok(index.images.iter().map(|(reference, record)| record.summary(reference)).collect())
    }

    /// Removes the reference and deletes blobs and layers no other image uses.
    /// Callers must not remove images whose layers are mounted by running containers.
    pub fn remove(&self, reference: &str) -> Result<(), ImageError> {
        // Exclusive: no import or pull may be between unpacking and recording while we collect.
        let _gc = lock_exclusive(&self.paths.gc_lock())?;
        let index = {
            let _lock = lock_exclusive(&self.paths.index_lock())?;
            let mut index = StoreIndex::load(&self.paths.index_file())?;
            let key = find_key(&index, reference)?.ok_or_else(|| ImageError::NotFound(reference.to_string()))?;
            index.images.remove(&key);
            index.save(&self.paths.index_file())?;
            index
        };
        collect_garbage(&self.paths, &index)
    }

    /// The layers and config to run `reference`, or `None` if it is not stored.
    pub fn resolve(&self, reference: &str) -> Result<Option<Image>, ImageError> {
        let index = StoreIndex::load(&self.paths.index_file())?;
        let Some(key) = find_key(&index, reference)? else { return Ok(None) };
        let Some(record) = index.images.get(&key) else { return Ok(None) };
        let config_path = self.paths.blob(&record.config_digest);
        let config_bytes = fs::read(&config_path).at("read image config", &config_path)?;
        let config: ConfigFile =
            serde_json::from_slice(&config_bytes).map_err(|e| ImageError::json("image config", e))?;
        let mut layers = Vec::new();
        for layer in &record.layers {
            let dir = self.paths.layer(&layer.diff_id);
            if !dir.is_dir() {
                return Err(ImageError::Corrupt(format!("layer {} of {key} is missing", layer.diff_id)));
            }
            layers.push(dir);
        }
        Ok(Some(Image { summary: record.summary(&key), layers, config: ImageConfig::from(&config) }))
    }

    pub(super) fn paths(&self) -> &StorePaths {
        &self.paths
    }

    pub(super) fn has_layer(&self, diff_id: &Digest) -> bool {
        self.paths.layer(diff_id).is_dir()
    }

    /// Records images whose blobs and layers are already committed.
    pub(super) fn record_images(&self, records: Vec<(String, ImageRecord)>) -> Result<Vec<ImageSummary>, ImageError> {
        let _lock = lock_exclusive(&self.paths.index_lock())?;
        let mut index = StoreIndex::load(&self.paths.index_file())?;
        let mut summaries = Vec::new();
        for (reference, record) in records {
            summaries.push(record.summary(&reference));
            index.images.insert(reference, record);
        }
        index.save(&self.paths.index_file())?;
        Ok(summaries)
    }

    /// For pulls: the shared lock that keeps garbage collection away while staging.
    pub(super) fn lock_for_adding(&self) -> Result<super::lock::StoreLock, ImageError> {
        lock_shared(&self.paths.gc_lock())
    }
}

/// Finds the stored reference matching what a user typed: exact (normalized), or
/// `name@digest` matching a record of that repository, or a bare `sha256:...` digest.
fn find_key(index: &StoreIndex, reference: &str) -> Result<Option<String>, ImageError> {
    let matches_digest =
        |record: &ImageRecord, digest: &Digest| &record.digest == digest || &record.manifest_digest == digest;
    if reference.starts_with("sha256:") {
        let digest = Digest::parse(reference)?;
        return Ok(index.images.iter().find(|(_, r)| matches_digest(r, &digest)).map(|(k, _)| k.clone()));
    }
    let parsed = ParsedReference::parse(reference)?;
    let normalized = parsed.to_string();
    if index.images.contains_key(&normalized) {
        return Ok(Some(normalized));
    }
    let Some(digest) = &parsed.digest else { return Ok(None) };
    let repository = parsed.repository();
    let found = index.images.iter().find(|(key, record)| {
        let same_repo = ParsedReference::parse(key).map(|k| k.repository() == repository).unwrap_or(false);
        same_repo && matches_digest(record, digest)
    });
    Ok(found.map(|(key, _)| key.clone()))
}
