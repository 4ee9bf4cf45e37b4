//! Integration tests of the image store. They run as root for real: whiteouts
//! are device nodes, opaque dirs use trusted.* xattrs, overlay mounts are real.

mod auth_flow_tests;
mod concurrency_tests;
mod fixtures;
mod import_tests;
mod overlay_tests;
mod registry_process;
mod registry_tests;
mod stub_registry;
mod unpack_tests;

use std::path::{Path, PathBuf};

use super::{ImageStore, ImportProgress};

/// A store in a fresh temp dir (removed on drop) plus a scratch area for archives.
pub struct TestStore {
    pub store: ImageStore,
    pub scratch: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(&dir.path().join("store")).expect("open store");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir(&scratch).expect("scratch");
        TestStore { store, scratch, _dir: dir }
    }

    pub fn import_bytes(
        &self,
        name: &str,
        archive: &[u8],
    ) -> Result<(Vec<super::ImageSummary>, Vec<ImportProgress>), super::ImageError> {
        let path = fixtures::write_file(&self.scratch, name, archive);
        let mut events = Vec::new();
        let summaries = self.store.import(&path, &mut |e| events.push(e))?;
        Ok((summaries, events))
    }

    /// Every path under the store root with its size (and symlink target), for "unchanged" checks.
    pub fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(self.store.root(), self.store.root(), &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).display().to_string();
        if rel.ends_with(".lock") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        out.push(format!("{rel} {}", if meta.is_dir() { 0 } else { meta.len() }));
        if meta.is_dir() {
            walk(root, &path, out);
        }
    }
}

/// Reads an xattr without following symlinks; `None` if absent.
pub fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let c_name = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let n = unsafe { nix::libc::lgetxattr(c_path.as_ptr(), c_name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let len = usize::try_from(n).ok()?;
    buf.truncate(len);
    Some(buf)
}
