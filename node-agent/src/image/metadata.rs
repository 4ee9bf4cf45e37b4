//! images.json: which references exist and what they are made of.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::error::{ImageError, IoResultExt};
use super::types::ImageSummary;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct StoreIndex {
    /// Keyed by normalized reference.
    #[serde(default)]
    pub images: BTreeMap<String, ImageRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ImageRecord {
    /// The digest users see: the index digest for multi-platform pulls, else the manifest's.
    pub digest: Digest,
    /// The single-platform manifest actually used.
    pub manifest_digest: Digest,
    pub config_digest: Digest,
    /// Base layer first.
    pub layers: Vec<LayerRecord>,
    /// Every blob (index, manifest, config) this image keeps in blobs/.
    pub blobs: Vec<Digest>,
    pub created: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct LayerRecord {
    /// Digest of the (possibly compressed) layer blob as distributed.
    pub digest: Digest,
    /// Digest of the uncompressed tar; names the unpacked directory.
    pub diff_id: Digest,
    /// Size of the layer blob as distributed.
    pub size: u64,
}

impl ImageRecord {
    pub(super) fn summary(&self, reference: &str) -> ImageSummary {
        ImageSummary {
            reference: reference.to_string(),
            digest: self.digest.to_string(),
            size: self.layers.iter().map(|l| l.size).sum(),
            created: self.created.clone(),
        }
    }
}

impl StoreIndex {
    pub(super) fn load(path: &Path) -> Result<Self, ImageError> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ImageError::Corrupt(format!("cannot parse {}: {e}", path.display()))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(StoreIndex::default()),
            Err(e) => Err(ImageError::io_path("read", path, e)),
        }
    }

    /// Writes via a temp file and rename so readers never see a partial file.
    pub(super) fn save(&self, path: &Path) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| ImageError::json("image index", e))?;
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let mut file = File::create(&tmp).at("create", &tmp)?;
        file.write_all(&bytes).at("write", &tmp)?;
        file.sync_all().at("sync", &tmp)?;
        fs::rename(&tmp, path).at("rename into place", path)?;
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).at("sync", dir)?;
        }
        Ok(())
    }

    pub(super) fn used_blobs(&self) -> BTreeSet<Digest> {
        self.images.values().flat_map(|r| r.blobs.iter().cloned()).collect()
    }

    pub(super) fn used_layers(&self) -> BTreeSet<Digest> {
        self.images.values().flat_map(|r| r.layers.iter().map(|l| l.diff_id.clone())).collect()
    }
}
