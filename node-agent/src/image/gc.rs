//! Deleting blobs and layers that no recorded image uses any more.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::digest::Digest;
use super::error::{ImageError, IoResultExt};
use super::metadata::StoreIndex;
use super::paths::StorePaths;
use super::staging::Staging;

/// Caller holds the exclusive gc lock, so nothing is between unpacking and recording.
pub(super) fn collect_garbage(paths: &StorePaths, index: &StoreIndex) -> Result<(), ImageError> {
    let used_blobs = index.used_blobs();
    for (digest, path) in digest_entries(&paths.blobs_dir())? {
        if !used_blobs.contains(&digest) {
            fs::remove_file(&path).at("remove unused blob", &path)?;
        }
    }
    let used_layers: BTreeSet<Digest> = index.used_layers();
    let trash = Staging::create(paths, "gc")?;
    for (diff_id, path) in digest_entries(&paths.layers_dir())? {
        if !used_layers.contains(&diff_id) {
            // Rename first, so a crash mid-delete never leaves a partial layer under its real name.
            let doomed = trash.dir().join(diff_id.hex());
            fs::rename(&path, &doomed).at("remove unused layer", &path)?;
            tracing::debug!(layer = %diff_id, "removed unused layer");
        }
    }
    Ok(())
}

/// Entries of a directory named by digest hex; others are ignored.
fn digest_entries(dir: &Path) -> Result<Vec<(Digest, std::path::PathBuf)>, ImageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if let Ok(digest) = Digest::parse(&format!("sha256:{name}")) {
            out.push((digest, entry.path()));
        }
    }
    Ok(out)
}
