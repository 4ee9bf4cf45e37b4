//! Where things are pinned under the caller's pin directory:
//! `<pin_dir>/maps/<MAP NAME>` and `<pin_dir>/links/<program name>`.
use std::{
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
};

use super::LbError;

#[derive(Clone, Debug)]
pub(super) struct PinLayout {
    root: PathBuf,
}

impl PinLayout {
    pub(super) fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    pub(super) fn maps_dir(&self) -> PathBuf {
        self.root.join("maps")
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
        for dir in [self.maps_dir(), self.links_dir(), self.root.clone()] {
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
