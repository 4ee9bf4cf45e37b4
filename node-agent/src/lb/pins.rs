//! Where things are pinned under the caller's pin directory:
//! `<pin_dir>/maps/<MAP NAME>` (or `<pin_dir>/maps/v<N>/<MAP NAME>` for a versioned map layout)
//! and `<pin_dir>/links/<program name>`.
use std::{
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
};

use super::LbError;

#[derive(Clone, Debug)]
pub(super) struct PinLayout {
    root: PathBuf,
    maps_version: Option<u32>,
}

impl PinLayout {
    pub(super) fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf(), maps_version: None }
    }

    /// Maps of layout `version` go to their own directory, so a build with another layout never
    /// opens them (and can fill its own before taking over).
    pub(super) fn versioned(root: &Path, version: u32) -> Self {
        Self { root: root.to_path_buf(), maps_version: Some(version) }
    }

    fn maps_root(&self) -> PathBuf {
        self.root.join("maps")
    }

    pub(super) fn maps_dir(&self) -> PathBuf {
        match self.maps_version {
            Some(v) => self.maps_root().join(format!("v{v}")),
            None => self.maps_root(),
        }
    }

    /// Removes the pins of every other map layout (older agents' maps): files directly under
    /// `maps/` and `maps/v<N>` directories other than ours. Returns how many pins went.
    pub(super) fn remove_other_versions(&self) -> Result<usize, LbError> {
        let Some(version) = self.maps_version else { return Ok(0) };
        let ours = format!("v{version}");
        let root = self.maps_root();
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(LbError::io(&root, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| LbError::io(&root, e))?;
            let path = entry.path();
            if entry.file_name() == ours.as_str() {
                continue;
            }
            if path.is_dir() {
                for pin in fs::read_dir(&path).map_err(|e| LbError::io(&path, e))? {
                    remove_pin(&pin.map_err(|e| LbError::io(&path, e))?.path())?;
                    removed += 1;
                }
                fs::remove_dir(&path).map_err(|e| LbError::io(&path, e))?;
            } else {
                remove_pin(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub(super) fn links_dir(&self) -> PathBuf {
        self.root.join("links")
    }

    pub(super) fn map(&self, name: &str) -> PathBuf {
        self.maps_dir().join(name)
    }

    pub(super) fn link(&self, name: &str) -> PathBuf {
        self.links_dir().join(name)
    }

    pub(super) fn create_dirs(&self) -> Result<(), LbError> {
        for dir in [self.maps_dir(), self.links_dir()] {
            fs::create_dir_all(&dir).map_err(|e| LbError::io(&dir, e))?;
        }
        Ok(())
    }

    /// Removes the (by then empty) directories; missing ones are fine.
    pub(super) fn remove_dirs(&self) -> Result<(), LbError> {
        for dir in [self.maps_dir(), self.maps_root(), self.links_dir(), self.root.clone()] {
            match fs::remove_dir(&dir) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(LbError::io(&dir, e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Removes a pin file; a missing one is not an error (unload is idempotent).
pub(super) fn remove_pin(path: &Path) -> Result<(), LbError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LbError::io(path, e)),
        _ => Ok(()),
    }
}
