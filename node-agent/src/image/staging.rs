//! A scratch directory per import or pull. Everything is prepared here first
//! and only moved into the store once all of it verified, so a failure (or a
//! crash) never leaves a half layer or a partial image behind.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::digest::Digest;
use super::error::{ImageError, IoResultExt};
use super::paths::StorePaths;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removed with everything in it when dropped.
pub(super) struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub(super) fn create(paths: &StorePaths, purpose: &str) -> Result<Self, ImageError> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        // The pid in the name lets `open` clean up after processes that died.
        let dir = paths.tmp_dir().join(format!("{purpose}-{}-{nanos}-{unique}", std::process::id()));
        fs::create_dir_all(dir.join("blobs")).at("create", &dir)?;
        fs::create_dir_all(dir.join("layers")).at("create", &dir)?;
        Ok(Staging { dir })
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join("layers").join(diff_id.hex())
    }

    pub(super) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join(digest.hex())
    }

    /// Stages a metadata blob (manifest, index, config) to keep in the store.
    pub(super) fn add_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), ImageError> {
        Digest::of_bytes(bytes).verify(digest, "staged blob")?;
        let path = self.blob_path(digest);
        fs::write(&path, bytes).at("write", &path)
    }

    /// Moves staged blobs and layers into the store. Items the store already has are left behind.
    pub(super) fn commit(&self, paths: &StorePaths) -> Result<(), ImageError> {
        fs::create_dir_all(paths.blobs_dir()).at("create", &paths.blobs_dir())?;
        fs::create_dir_all(paths.layers_dir()).at("create", &paths.layers_dir())?;
        for (name, source) in list_dir(&self.dir.join("blobs"))? {
            let target = paths.blobs_dir().join(&name);
            fs::rename(&source, &target).at("move blob into store", &target)?;
        }
        for (name, source) in list_dir(&self.dir.join("layers"))? {
            let target = paths.layers_dir().join(&name);
            match fs::rename(&source, &target) {
                Ok(()) => {}
                // Another import unpacked the same layer first; theirs is identical.
                Err(e) if matches!(e.raw_os_error(), Some(nix::libc::EEXIST | nix::libc::ENOTEMPTY)) => {}
                Err(e) => return Err(ImageError::io_path("move layer into store", &target, e)),
            }
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            if e.kind() != ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove image staging directory");
            }
        }
    }
}

/// Entries of a directory whose names are layer/blob names (skips in-progress "*.partial").
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, ImageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if !name.ends_with(".partial") {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

/// Removes staging directories left by processes that no longer exist.
pub(super) fn remove_stale(paths: &StorePaths) -> Result<(), ImageError> {
    let tmp = paths.tmp_dir();
    for entry in fs::read_dir(&tmp).at("list", &tmp)? {
        let entry = entry.at("list", &tmp)?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.split('-').nth(1)).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!(dir = %entry.path().display(), "removing staging directory of a dead process");
            if let Err(e) = fs::remove_dir_all(entry.path()) {
                tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove stale staging directory");
            }
        }
    }
    Ok(())
}
