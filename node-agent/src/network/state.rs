//! Persisted pod network records (`<dir>/<pod_key>.json`), read back after an agent restart.

use std::path::PathBuf;

use super::error::NetworkError;
use super::PodNetwork;

pub(crate) struct PodStore {
    dir: PathBuf,
}

impl PodStore {
    pub(crate) fn open(dir: PathBuf) -> Result<Self, NetworkError> {
        std::fs::create_dir_all(&dir).map_err(|e| NetworkError::io("create directory", &dir, e))?;
        Ok(PodStore { dir })
    }

    fn path(&self, pod_key: &str) -> PathBuf {
        self.dir.join(format!("{pod_key}.json"))
    }

    /// Writes the record atomically (temp file + rename): a crash leaves the old record or the new.
    pub(crate) fn save(&self, pod: &PodNetwork) -> Result<(), NetworkError> {
        let path = self.path(&pod.pod_key);
        let tmp = self.dir.join(format!(".{}.tmp", pod.pod_key));
        let json = serde_json::to_vec_pretty(pod).map_err(|e| NetworkError::State { path: path.clone(), source: e })?;
        std::fs::write(&tmp, json).map_err(|e| NetworkError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| NetworkError::io("rename into place", &path, e))
    }

    pub(crate) fn load(&self, pod_key: &str) -> Result<Option<PodNetwork>, NetworkError> {
        let path = self.path(pod_key);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(NetworkError::io("read", path, e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| NetworkError::State { path, source: e })
    }

    pub(crate) fn remove(&self, pod_key: &str) -> Result<(), NetworkError> {
        let path = self.path(pod_key);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetworkError::io("remove", path, e)),
            _ => Ok(()),
        }
    }

    /// Every readable record; unreadable ones are logged and skipped so one bad file does not hide
    /// the other pods from reconciliation.
    pub(crate) fn list(&self) -> Vec<PodNetwork> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut pods: Vec<PodNetwork> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.strip_suffix(".json").filter(|k| !k.starts_with('.'))?.to_string();
                match self.load(&key) {
                    Ok(pod) => pod,
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping unreadable pod network record");
                        None
                    }
                }
            })
            .collect();
        pods.sort_by(|a, b| a.pod_key.cmp(&b.pod_key));
        pods
    }
}
