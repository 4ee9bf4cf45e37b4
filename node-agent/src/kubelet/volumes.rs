//! Pod volumes on the node: emptyDir, hostPath, configMap, secret,
//! downwardAPI and projected. Each becomes a host directory (or file) that
//! the runtime bind-mounts into containers.

use super::env::{self, ConfigError, Lookup};
use super::{Context, PodDirs};
use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Pod, Volume};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Why a volume cannot be set up (reported as FailedMount).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("volume {name:?}: {message}")]
    Invalid { name: String, message: String },
    #[error("volume {name:?}: {source}")]
    Config { name: String, source: ConfigError },
    #[error("volume {name:?}: {source}")]
    Io { name: String, source: std::io::Error },
}

/// Set up every volume of the pod; returns volume name -> host path.
pub async fn prepare(
    ctx: &Context,
    dirs: &PodDirs,
    pod: &Pod,
    pod_ip: Option<&str>,
) -> Result<HashMap<String, PathBuf>, VolumeError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let mut lookup = Lookup::new(ctx, &namespace);
    let mut out = HashMap::new();
    for vol in pod.spec.as_ref().and_then(|s| s.volumes.clone()).unwrap_or_default() {
        let path = prepare_one(ctx, dirs, pod, pod_ip, &mut lookup, &vol).await?;
        out.insert(vol.name.clone(), path);
    }
    Ok(out)
}

async fn prepare_one(
    ctx: &Context,
    dirs: &PodDirs,
    pod: &Pod,
    pod_ip: Option<&str>,
    lookup: &mut Lookup<'_>,
    vol: &Volume,
) -> Result<PathBuf, VolumeError> {
    let name = vol.name.clone();
    let io = |source| VolumeError::Io { name: name.clone(), source };
    let cfg = |source| VolumeError::Config { name: name.clone(), source };
    let dir = dirs.volume(&vol.name);
    if let Some(hp) = &vol.host_path {
        return host_path(&name, &hp.path, hp.type_.as_deref().unwrap_or(""));
    }
    std::fs::create_dir_all(&dir).map_err(io)?;
    if let Some(ed) = &vol.empty_dir {
        if ed.medium.as_deref() == Some("Memory") && !is_mount_point(&dir) {
            let size = ed.size_limit.as_ref().and_then(|q| env::parse_quantity(&q.0)).map(|b| b as u64);
            mount_tmpfs(&dir, size).map_err(io)?;
        }
        return Ok(dir);
    }
    let mut files = Files::new();
    if let Some(cm) = &vol.config_map {
        let source = Source { name: &cm.name, items: cm.items.as_deref(), optional: cm.optional.unwrap_or(false) };
        add_config_map(lookup, &mut files, source, cm.default_mode.unwrap_or(0o644) as u32).await.map_err(cfg)?;
    } else if let Some(s) = &vol.secret {
        let secret_name = s.secret_name.clone().unwrap_or_default();
        let source = Source { name: &secret_name, items: s.items.as_deref(), optional: s.optional.unwrap_or(false) };
        add_secret(lookup, &mut files, source, s.default_mode.unwrap_or(0o644) as u32).await.map_err(cfg)?;
    } else if let Some(d) = &vol.downward_api {
        let mode = d.default_mode.unwrap_or(0o644) as u32;
        add_downward(ctx, &mut files, pod, pod_ip, d.items.as_deref().unwrap_or(&[]), mode).map_err(cfg)?;
    } else if let Some(p) = &vol.projected {
        let mode = p.default_mode.unwrap_or(0o644) as u32;
        for source in p.sources.iter().flatten() {
            if let Some(cm) = &source.config_map {
                let src = Source { name: &cm.name, items: cm.items.as_deref(), optional: cm.optional.unwrap_or(false) };
                add_config_map(lookup, &mut files, src, mode).await.map_err(cfg)?;
            } else if let Some(s) = &source.secret {
                let src = Source { name: &s.name, items: s.items.as_deref(), optional: s.optional.unwrap_or(false) };
                add_secret(lookup, &mut files, src, mode).await.map_err(cfg)?;
            } else if let Some(d) = &source.downward_api {
                add_downward(ctx, &mut files, pod, pod_ip, d.items.as_deref().unwrap_or(&[]), mode).map_err(cfg)?;
            } else {
                return Err(VolumeError::Invalid {
                    name,
                    message: "projected source not supported on this node (supported: configMap, secret, downwardAPI)"
                        .into(),
                });
            }
        }
    } else {
        return Err(VolumeError::Invalid { name, message: format!("unsupported volume type: {}", volume_kind(vol)) });
    }
    write_files(&dir, &files).map_err(io)?;
    Ok(dir)
}

/// A ConfigMap or Secret a volume projects.
struct Source<'s> {
    name: &'s str,
    items: Option<&'s [KeyToPath]>,
    optional: bool,
}

type Files = BTreeMap<String, (Vec<u8>, u32)>;

async fn add_config_map(
    lookup: &mut Lookup<'_>,
    files: &mut Files,
    src: Source<'_>,
    mode: u32,
) -> Result<(), ConfigError> {
    match lookup.config_map(src.name).await? {
        Some(found) => {
            let entries = env::config_map_entries(found);
            add_keys(files, &entries, src.items, mode, src.optional, "configmap", src.name)
        }
        None if src.optional => Ok(()),
        None => Err(ConfigError::ConfigMapNotFound(src.name.to_string())),
    }
}

async fn add_secret(lookup: &mut Lookup<'_>, files: &mut Files, src: Source<'_>, mode: u32) -> Result<(), ConfigError> {
    match lookup.secret(src.name).await? {
        Some(found) => {
            let entries = env::secret_entries(found);
            add_keys(files, &entries, src.items, mode, src.optional, "secret", src.name)
        }
        None if src.optional => Ok(()),
        None => Err(ConfigError::SecretNotFound(src.name.to_string())),
    }
}

/// The name of the volume source a user gave, for error messages.
fn volume_kind(vol: &Volume) -> String {
    serde_json::to_value(vol)
        .ok()
        .and_then(|v| v.as_object().map(|m| m.keys().filter(|k| *k != "name").cloned().collect::<Vec<_>>().join(",")))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "none given".into())
}

fn host_path(name: &str, path: &str, kind: &str) -> Result<PathBuf, VolumeError> {
    let p = PathBuf::from(path);
    let bad = |message: String| VolumeError::Invalid { name: name.into(), message };
    let io = |source| VolumeError::Io { name: name.into(), source };
    let meta = std::fs::metadata(&p).ok();
    use std::os::unix::fs::FileTypeExt;
    match kind {
        "" => {}
        "DirectoryOrCreate" => {
            if meta.is_none() {
                std::fs::create_dir_all(&p).map_err(io)?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
            } else if !meta.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(bad(format!("{path} is not a directory")));
            }
        }
        "Directory" if !meta.as_ref().is_some_and(|m| m.is_dir()) => {
            return Err(bad(format!("hostPath type check failed: {path} is not a directory")))
        }
        "FileOrCreate" => {
            if meta.is_none() {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::fs::OpenOptions::new().create(true).append(true).open(&p).map_err(io)?;
            } else if !meta.as_ref().is_some_and(|m| m.is_file()) {
                return Err(bad(format!("{path} is not a file")));
            }
        }
        "File" if !meta.as_ref().is_some_and(|m| m.is_file()) => {
            return Err(bad(format!("hostPath type check failed: {path} is not a file")))
        }
        "Socket" if !meta.as_ref().is_some_and(|m| m.file_type().is_socket()) => {
            return Err(bad(format!("hostPath type check failed: {path} is not a socket file")))
        }
        "CharDevice" if !meta.as_ref().is_some_and(|m| m.file_type().is_char_device()) => {
            return Err(bad(format!("hostPath type check failed: {path} is not a character device")))
        }
        "BlockDevice" if !meta.as_ref().is_some_and(|m| m.file_type().is_block_device()) => {
            return Err(bad(format!("hostPath type check failed: {path} is not a block device")))
        }
        "Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice" => {}
        other => return Err(bad(format!("unknown hostPath type {other:?}"))),
    }
    Ok(p)
}

fn add_keys(
    files: &mut BTreeMap<String, (Vec<u8>, u32)>,
    entries: &HashMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    optional: bool,
    kind: &'static str,
    name: &str,
) -> Result<(), ConfigError> {
    match items {
        None => {
            for (k, v) in entries {
                files.insert(k.clone(), (v.clone(), mode));
            }
        }
        Some(items) => {
            for item in items {
                match entries.get(&item.key) {
                    Some(v) => {
                        files.insert(item.path.clone(), (v.clone(), item.mode.map(|m| m as u32).unwrap_or(mode)));
                    }
                    None if optional => {}
                    None => {
                        return Err(ConfigError::KeyNotFound {
                            kind,
                            namespace: String::new(),
                            name: name.into(),
                            key: item.key.clone(),
                        })
                    }
                }
            }
        }
    }
    Ok(())
}

fn add_downward(
    ctx: &Context,
    files: &mut BTreeMap<String, (Vec<u8>, u32)>,
    pod: &Pod,
    pod_ip: Option<&str>,
    items: &[DownwardAPIVolumeFile],
    mode: u32,
) -> Result<(), ConfigError> {
    let host_ip = ctx.config.node_ip.to_string();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            env::field_ref(pod, &f.field_path, pod_ip, &host_ip)?
        } else if let Some(r) = &item.resource_field_ref {
            let spec = pod.spec.as_ref();
            let container =
                spec.and_then(|s| s.containers.iter().find(|c| Some(c.name.as_str()) == r.container_name.as_deref()));
            env::resource_field_ref(ctx, container.and_then(|c| c.resources.as_ref()), &r.resource, r.divisor.as_ref())?
        } else {
            continue;
        };
        files.insert(item.path.clone(), (value.into_bytes(), item.mode.map(|m| m as u32).unwrap_or(mode)));
    }
    Ok(())
}

/// Write the files, refusing paths that climb out of the volume.
fn write_files(dir: &Path, files: &BTreeMap<String, (Vec<u8>, u32)>) -> std::io::Result<()> {
    for (rel, (data, mode)) in files {
        let relp = Path::new(rel);
        if relp.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("invalid path {rel:?}")));
        }
        let path = dir.join(relp);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension("keel-tmp");
        std::fs::write(&tmp, data)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(*mode & 0o7777))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

fn mount_tmpfs(dir: &Path, size: Option<u64>) -> std::io::Result<()> {
    let opts = size.map(|s| format!("size={s}")).unwrap_or_default();
    nix::mount::mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some(opts.as_str()),
    )
    .map_err(std::io::Error::from)
}

fn is_mount_point(dir: &Path) -> bool {
    mounts_under(dir).iter().any(|m| m == dir)
}

/// Mount points at or below `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

/// Unmount anything under the pod's directory (tmpfs emptyDirs, leftovers).
pub fn unmount_all(root: &Path) {
    for m in mounts_under(root) {
        if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
            tracing::warn!(path = %m.display(), error = %e, "unmounting");
        }
    }
}
