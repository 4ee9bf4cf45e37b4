//! Unpacking one layer tar into its own directory, turning OCI whiteouts into
//! overlayfs ones so the layer directories stack as overlay lowerdirs.
//!
//! Safety: entry paths are confined to the layer directory. Paths with `..` or a
//! leading `/` are rejected, and no symlink is ever followed while unpacking (a
//! parent that is a symlink is an error), so a layer cannot write outside.

use std::ffi::CString;
use std::fs::{self, File, Permissions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use tar::EntryType;

use super::error::{ImageError, IoResultExt};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Other `.wh..wh.` names are aufs bookkeeping with no meaning for overlayfs.
const AUFS_META_PREFIX: &str = ".wh..wh.";
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// Layer xattrs we apply. Never `trusted.*`: `trusted.overlay.*` from an image could
/// redirect or hide paths in the overlay stack.
const ALLOWED_XATTRS: [&str; 2] = ["security.capability", "user."];

/// Unpacks every entry of the tar stream into `dest` (an existing, empty directory).
/// Returns the reader so the caller can drain and hash what follows the end marker.
pub(super) fn unpack_layer_tar<R: Read>(reader: R, dest: &Path, layer: &str) -> Result<R, ImageError> {
    let mut archive = tar::Archive::new(reader);
    let mut dir_times = Vec::new();
    let entries = archive.entries().map_err(|e| bad_tar(layer, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad_tar(layer, e))?;
        unpack_entry(&mut entry, dest, layer, &mut dir_times)?;
    }
    // Directory mtimes last: creating children changes them. Deepest first.
    for (path, mtime) in dir_times.iter().rev() {
        set_mtime(path, *mtime)?;
    }
    Ok(archive.into_inner())
}

fn bad_tar(layer: &str, e: io::Error) -> ImageError {
    ImageError::InvalidArchive(format!("{layer}: cannot read tar: {e}"))
}

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    dest: &Path,
    layer: &str,
    dir_times: &mut Vec<(PathBuf, u64)>,
) -> Result<(), ImageError> {
    let raw_path = entry.path().map_err(|e| bad_tar(layer, e))?.into_owned();
    let unsafe_path =
        |reason: String| ImageError::UnsafePath { layer: layer.into(), path: raw_path.display().to_string(), reason };
    let Some(rel) = confined_relative(&raw_path).map_err(unsafe_path)? else {
        return Ok(()); // "./": the layer root itself
    };
    let name = rel.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
    let parent = ensure_parent_dirs(dest, &rel).map_err(unsafe_path)?;

    if name == OPAQUE_MARKER.as_bytes() {
        return set_xattr(&parent, OVERLAY_OPAQUE_XATTR, b"y");
    }
    if name.starts_with(AUFS_META_PREFIX.as_bytes()) {
        return Ok(());
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        let target = parent.join(std::ffi::OsStr::from_bytes(hidden));
        remove_existing(&target)?;
        // overlayfs whiteout: a 0/0 character device.
        return mknod(&target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
            .map_err(|e| ImageError::io_path("create whiteout", &target, e.into()));
    }

    let target = dest.join(&rel);
    let header = entry.header();
    let mode = header.mode().map_err(|e| bad_tar(layer, e))? & 0o7777;
    // Blank owner fields read as 0, as Go's archive/tar (docker's) reads them.
    let uid = header.uid().unwrap_or(0);
    let gid = header.gid().unwrap_or(0);
    let mtime = header.mtime().unwrap_or(0);
    let owner = (u32::try_from(uid).unwrap_or(u32::MAX), u32::try_from(gid).unwrap_or(u32::MAX));
    let xattrs = pax_xattrs(entry);

    match entry.header().entry_type() {
        EntryType::Directory => {
            let is_dir = fs::symlink_metadata(&target).map(|m| m.is_dir()).unwrap_or(false);
            if !is_dir {
                remove_existing(&target)?;
                fs::create_dir(&target).at("create directory", &target)?;
            }
            set_owner_and_mode(&target, owner, mode)?;
            apply_xattrs(&target, &xattrs)?;
            dir_times.push((target, mtime));
        }
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            remove_existing(&target)?;
            // create_new uses O_EXCL, which never follows a symlink at the final component.
            let mut file = File::options().write(true).create_new(true).open(&target).at("create", &target)?;
            io::copy(entry, &mut file).map_err(|e| ImageError::io_path(&format!("{layer}: write"), &target, e))?;
            drop(file);
            set_owner_and_mode(&target, owner, mode)?;
            apply_xattrs(&target, &xattrs)?;
            set_mtime(&target, mtime)?;
        }
        EntryType::Symlink => {
            let link = entry
                .link_name()
                .map_err(|e| bad_tar(layer, e))?
                .ok_or_else(|| unsafe_path("symlink without target".into()))?;
            remove_existing(&target)?;
            // The target is stored as-is; it is resolved inside the container, never here.
            symlink(&link, &target).at("create symlink", &target)?;
            lchown(&target, Some(owner.0), Some(owner.1)).at("chown", &target)?;
            set_mtime(&target, mtime)?;
        }
        EntryType::Link => {
            let link = entry
                .link_name()
                .map_err(|e| bad_tar(layer, e))?
                .ok_or_else(|| unsafe_path("hardlink without target".into()))?;
            let link_rel = confined_relative(&link)
                .map_err(|r| unsafe_path(format!("hardlink target {}: {r}", link.display())))?
                .ok_or_else(|| unsafe_path("hardlink to the layer root".into()))?;
            if link_rel == rel {
                return Ok(()); // a link to itself: nothing to do
            }
            ensure_no_symlink_parents(dest, &link_rel).map_err(unsafe_path)?;
            let source = dest.join(&link_rel);
            match fs::symlink_metadata(&source) {
                Ok(meta) if !meta.is_dir() => {}
                _ => return Err(unsafe_path(format!("hardlink target {} is not an earlier file", link.display()))),
            }
            remove_existing(&target)?;
            // link(2) does not follow a symlink source; it links the symlink itself.
            fs::hard_link(&source, &target).at("create hardlink", &target)?;
        }
        EntryType::Fifo => {
            remove_existing(&target)?;
            nix::unistd::mkfifo(&target, Mode::from_bits_truncate(mode))
                .map_err(|e| ImageError::io_path("create fifo", &target, e.into()))?;
            set_owner_and_mode(&target, owner, mode)?;
        }
        // Device nodes come from the runtime's /dev, never from images.
        EntryType::Char | EntryType::Block => {
            tracing::debug!(layer, path = %rel.display(), "skipping device node in layer");
        }
        other => {
            tracing::debug!(layer, path = %rel.display(), kind = ?other, "skipping unsupported tar entry type");
        }
    }
    Ok(())
}

/// The entry path relative to the layer root; `None` for the root itself.
pub(super) fn confined_relative(path: &Path) -> Result<Option<PathBuf>, String> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir => return Err("path contains '..'".into()),
            Component::RootDir | Component::Prefix(_) => return Err("path is absolute".into()),
        }
    }
    Ok(if out.as_os_str().is_empty() { None } else { Some(out) })
}

/// Creates missing parent directories of `rel` (mode 0755) and returns the parent.
/// A parent that exists as a symlink or non-directory is refused.
fn ensure_parent_dirs(dest: &Path, rel: &Path) -> Result<PathBuf, String> {
    let mut current = dest.to_path_buf();
    let Some(parent) = rel.parent() else { return Ok(current) };
    for component in parent.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!("parent {} is a symlink (refusing to follow it)", current.display()));
            }
            Ok(_) => return Err(format!("parent {} is not a directory", current.display())),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(|e| format!("create {}: {e}", current.display()))?;
                fs::set_permissions(&current, Permissions::from_mode(0o755))
                    .map_err(|e| format!("chmod {}: {e}", current.display()))?;
            }
            Err(e) => return Err(format!("inspect {}: {e}", current.display())),
        }
    }
    Ok(current)
}

fn ensure_no_symlink_parents(dest: &Path, rel: &Path) -> Result<(), String> {
    let mut current = dest.to_path_buf();
    for component in rel.parent().map(|p| p.components()).into_iter().flatten() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            _ => return Err(format!("hardlink target passes through {}, which is not a directory", current.display())),
        }
    }
    Ok(())
}

/// Clears whatever an earlier entry of this layer put at `path`.
fn remove_existing(path: &Path) -> Result<(), ImageError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).at("replace", path),
        Ok(_) => fs::remove_file(path).at("replace", path),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ImageError::io_path("inspect", path, e)),
    }
}

/// chown before chmod: chown clears setuid/setgid bits.
fn set_owner_and_mode(path: &Path, owner: (u32, u32), mode: u32) -> Result<(), ImageError> {
    lchown(path, Some(owner.0), Some(owner.1)).at("chown", path)?;
    fs::set_permissions(path, Permissions::from_mode(mode)).at("chmod", path)
}

fn set_mtime(path: &Path, mtime: u64) -> Result<(), ImageError> {
    let time = TimeSpec::new(i64::try_from(mtime).unwrap_or(0), 0);
    utimensat(AT_FDCWD, path, &time, &time, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| ImageError::io_path("set mtime", path, e.into()))
}

/// Extended attributes recorded in PAX headers (e.g. file capabilities).
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let Ok(Some(extensions)) = entry.pax_extensions() else { return Vec::new() };
    extensions
        .filter_map(Result::ok)
        .filter_map(|ext| {
            let key = ext.key().ok()?.strip_prefix(PAX_XATTR_PREFIX)?.to_string();
            if !ALLOWED_XATTRS.iter().any(|allowed| key.starts_with(allowed)) {
                tracing::debug!(xattr = %key, "ignoring xattr from layer");
                return None;
            }
            Some((key, ext.value_bytes().to_vec()))
        })
        .collect()
}

fn apply_xattrs(path: &Path, xattrs: &[(String, Vec<u8>)]) -> Result<(), ImageError> {
    for (name, value) in xattrs {
        if let Err(e) = set_xattr(path, name, value) {
            // Some filesystems refuse some namespaces; the file is still usable.
            tracing::warn!(path = %path.display(), xattr = %name, error = %e, "cannot apply xattr from layer");
        }
    }
    Ok(())
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<(), ImageError> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| ImageError::io_path("set xattr", path, io::Error::from(ErrorKind::InvalidInput)))?;
    let c_name = CString::new(name)
        .map_err(|_| ImageError::io_path("set xattr", path, io::Error::from(ErrorKind::InvalidInput)))?;
    // SAFETY: both strings are NUL-terminated and outlive the call; value is a valid slice.
    let rc = unsafe { nix::libc::lsetxattr(c_path.as_ptr(), c_name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if rc != 0 {
        return Err(ImageError::io_path(&format!("set xattr {name} on"), path, io::Error::last_os_error()));
    }
    Ok(())
}
