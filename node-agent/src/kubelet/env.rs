//! A container's environment: env, envFrom and valueFrom resolved the way
//! the kubelet does, and `$(VAR)` expansion for env values, command and args.

use super::Context;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, ResourceRequirements, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use std::collections::HashMap;
use thiserror::Error;

/// Why a container's configuration cannot be built (the kubelet's
/// CreateContainerConfigError).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("configmap \"{0}\" not found")]
    ConfigMapNotFound(String),
    #[error("secret \"{0}\" not found")]
    SecretNotFound(String),
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    KeyNotFound { kind: &'static str, namespace: String, name: String, key: String },
    #[error("unsupported fieldPath: {0}")]
    FieldPath(String),
    #[error("unsupported resource: {0}")]
    Resource(String),
    #[error("{0}")]
    Other(String),
    #[error("reading from the API: {0}")]
    Api(#[from] kube::Error),
}

/// ConfigMaps and Secrets of one namespace, fetched once per sync.
pub struct Lookup<'a> {
    ctx: &'a Context,
    namespace: String,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
}

impl<'a> Lookup<'a> {
    pub fn new(ctx: &'a Context, namespace: &str) -> Self {
        Lookup { ctx, namespace: namespace.to_string(), config_maps: HashMap::new(), secrets: HashMap::new() }
    }

    pub async fn config_map(&mut self, name: &str) -> Result<Option<&ConfigMap>, ConfigError> {
        if !self.config_maps.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
            self.config_maps.insert(name.to_string(), api.get_opt(name).await?);
        }
        Ok(self.config_maps.get(name).and_then(Option::as_ref))
    }

    pub async fn secret(&mut self, name: &str) -> Result<Option<&Secret>, ConfigError> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
            self.secrets.insert(name.to_string(), api.get_opt(name).await?);
        }
        Ok(self.secrets.get(name).and_then(Option::as_ref))
    }

    /// One key of a ConfigMap (data or binaryData), honouring `optional`.
    pub async fn config_map_key(
        &mut self,
        name: &str,
        key: &str,
        optional: bool,
    ) -> Result<Option<Vec<u8>>, ConfigError> {
        let namespace = self.namespace.clone();
        match self.config_map(name).await? {
            None if optional => Ok(None),
            None => Err(ConfigError::ConfigMapNotFound(name.into())),
            Some(cm) => match config_map_entries(cm).remove(key) {
                Some(v) => Ok(Some(v)),
                None if optional => Ok(None),
                None => {
                    Err(ConfigError::KeyNotFound { kind: "configmap", namespace, name: name.into(), key: key.into() })
                }
            },
        }
    }

    /// One key of a Secret, honouring `optional`.
    pub async fn secret_key(&mut self, name: &str, key: &str, optional: bool) -> Result<Option<Vec<u8>>, ConfigError> {
        let namespace = self.namespace.clone();
        match self.secret(name).await? {
            None if optional => Ok(None),
            None => Err(ConfigError::SecretNotFound(name.into())),
            Some(s) => match secret_entries(s).remove(key) {
                Some(v) => Ok(Some(v)),
                None if optional => Ok(None),
                None => Err(ConfigError::KeyNotFound { kind: "secret", namespace, name: name.into(), key: key.into() }),
            },
        }
    }
}

/// Every key of a ConfigMap with its bytes.
pub fn config_map_entries(cm: &ConfigMap) -> HashMap<String, Vec<u8>> {
    let mut out: HashMap<String, Vec<u8>> =
        cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())).collect();
    out.extend(cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
    out
}

/// Every key of a Secret with its bytes (stringData is folded in by the API).
pub fn secret_entries(s: &Secret) -> HashMap<String, Vec<u8>> {
    let mut out: HashMap<String, Vec<u8>> = s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    out.extend(s.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())));
    out
}

/// The value of a downward-API `fieldPath` for this pod.
pub fn field_ref(pod: &Pod, path: &str, pod_ip: Option<&str>, host_ip: &str) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    if let Some(key) = subscript(path, "metadata.labels") {
        return Ok(meta.labels.as_ref().and_then(|l| l.get(key)).cloned().unwrap_or_default());
    }
    if let Some(key) = subscript(path, "metadata.annotations") {
        return Ok(meta.annotations.as_ref().and_then(|l| l.get(key)).cloned().unwrap_or_default());
    }
    let join = |m: Option<&std::collections::BTreeMap<String, String>>| {
        m.into_iter().flatten().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join("\n")
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => join(meta.labels.as_ref()),
        "metadata.annotations" => join(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        "status.podIP" | "status.podIPs" => pod_ip.unwrap_or_default().to_string(),
        other => return Err(ConfigError::FieldPath(other.to_string())),
    })
}

/// `metadata.labels['key']` -> `key`.
fn subscript<'p>(path: &'p str, field: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(field)?.strip_prefix("['")?;
    rest.strip_suffix("']")
}

/// The value of a `resourceFieldRef` (limits default to node allocatable).
pub fn resource_field_ref(
    ctx: &Context,
    resources: Option<&ResourceRequirements>,
    resource: &str,
    divisor: Option<&Quantity>,
) -> Result<String, ConfigError> {
    let get = |which: &str, name: &str| {
        let map = match which {
            "limits" => resources.and_then(|r| r.limits.as_ref()),
            _ => resources.and_then(|r| r.requests.as_ref()),
        };
        map.and_then(|m| m.get(name)).map(|q| q.0.clone())
    };
    let cpu_default = || format!("{}m", ctx.config.allocatable_cpu_millis);
    let mem_default = || ctx.config.allocatable_memory.to_string();
    let (value, is_cpu) = match resource {
        "limits.cpu" => (get("limits", "cpu").unwrap_or_else(cpu_default), true),
        "requests.cpu" => (get("requests", "cpu").or_else(|| get("limits", "cpu")).unwrap_or_else(|| "0".into()), true),
        "limits.memory" => (get("limits", "memory").unwrap_or_else(mem_default), false),
        "requests.memory" => {
            (get("requests", "memory").or_else(|| get("limits", "memory")).unwrap_or_else(|| "0".into()), false)
        }
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => {
            let which = resource.split('.').next().unwrap_or("limits");
            (get(which, "ephemeral-storage").unwrap_or_else(|| "0".into()), false)
        }
        other => return Err(ConfigError::Resource(other.to_string())),
    };
    let amount = parse_quantity(&value).ok_or_else(|| ConfigError::Other(format!("invalid quantity {value:?}")))?;
    let divisor = match divisor {
        Some(d) => parse_quantity(&d.0).ok_or_else(|| ConfigError::Other(format!("invalid divisor {:?}", d.0)))?,
        None => 1.0,
    };
    if divisor <= 0.0 {
        return Err(ConfigError::Other("divisor must be positive".into()));
    }
    // The kubelet rounds up, and CPU is at least 1 of the divisor's unit.
    let v = (amount / divisor).ceil();
    Ok(if is_cpu { v.max(1.0) } else { v }.to_string())
}

/// A Kubernetes quantity as a number ("100m" = 0.1, "64Mi" = 67108864).
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let base: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0f64.powi(3),
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(base * mult)
}

/// Build the environment: envFrom first, then env in order, each value
/// expanded against what came before (like the kubelet).
pub async fn resolve(
    ctx: &Context,
    lookup: &mut Lookup<'_>,
    pod: &Pod,
    container: &Container,
    pod_ip: Option<&str>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let host_ip = ctx.config.node_ip.to_string();
    let set = |out: &mut Vec<(String, String)>, k: String, v: String| {
        if let Some(slot) = out.iter_mut().find(|(n, _)| *n == k) {
            slot.1 = v;
        } else {
            out.push((k, v));
        }
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(r) = &source.config_map_ref {
            let optional = r.optional.unwrap_or(false);
            match lookup.config_map(&r.name).await? {
                Some(cm) => {
                    let mut entries: Vec<_> = config_map_entries(cm).into_iter().collect();
                    entries.sort();
                    for (k, v) in entries {
                        set(&mut out, format!("{prefix}{k}"), String::from_utf8_lossy(&v).into_owned());
                    }
                }
                None if optional => {}
                None => return Err(ConfigError::ConfigMapNotFound(r.name.clone())),
            }
        }
        if let Some(r) = &source.secret_ref {
            let optional = r.optional.unwrap_or(false);
            match lookup.secret(&r.name).await? {
                Some(s) => {
                    let mut entries: Vec<_> = secret_entries(s).into_iter().collect();
                    entries.sort();
                    for (k, v) in entries {
                        set(&mut out, format!("{prefix}{k}"), String::from_utf8_lossy(&v).into_owned());
                    }
                }
                None if optional => {}
                None => return Err(ConfigError::SecretNotFound(r.name.clone())),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(from) = &var.value_from {
            if let Some(r) = &from.config_map_key_ref {
                match lookup.config_map_key(&r.name, &r.key, r.optional.unwrap_or(false)).await? {
                    Some(v) => String::from_utf8_lossy(&v).into_owned(),
                    None => continue,
                }
            } else if let Some(r) = &from.secret_key_ref {
                match lookup.secret_key(&r.name, &r.key, r.optional.unwrap_or(false)).await? {
                    Some(v) => String::from_utf8_lossy(&v).into_owned(),
                    None => continue,
                }
            } else if let Some(r) = &from.field_ref {
                field_ref(pod, &r.field_path, pod_ip, &host_ip)?
            } else if let Some(r) = &from.resource_field_ref {
                let target = match r.container_name.as_deref() {
                    Some(name) if !name.is_empty() => find_container(pod, name)
                        .ok_or_else(|| ConfigError::Other(format!("container {name:?} not found in pod")))?,
                    _ => container,
                };
                resource_field_ref(ctx, target.resources.as_ref(), &r.resource, r.divisor.as_ref())?
            } else {
                String::new()
            }
        } else {
            let vars: HashMap<&str, &str> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            expand(var.value.as_deref().unwrap_or(""), &vars)
        };
        set(&mut out, var.name.clone(), value);
    }
    Ok(out)
}

fn find_container<'p>(pod: &'p Pod, name: &str) -> Option<&'p Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers.iter().chain(spec.init_containers.iter().flatten()).find(|c| c.name == name)
}

/// `$(VAR)` expansion: defined names are replaced, `$$` escapes, anything
/// else is kept as written.
pub fn expand(input: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_the_kubelet() {
        let vars: HashMap<&str, &str> = [("A", "1"), ("B", "two")].into_iter().collect();
        assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("$(C) $A $(", &vars), "$(C) $A $(");
        assert_eq!(expand("x$$y", &vars), "x$y");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("64Mi"), Some(67108864.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("abc"), None);
    }

    #[test]
    fn label_subscripts() {
        assert_eq!(subscript("metadata.labels['app']", "metadata.labels"), Some("app"));
        assert_eq!(subscript("metadata.labels", "metadata.labels"), None);
    }
}
