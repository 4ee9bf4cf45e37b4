//! From a pod's container to the runtime's ContainerSpec: argv, env,
//! working dir, user, mounts and cgroup limits.

use super::env::{self, ConfigError};
use super::{Context, PodDirs};
use crate::image::Image;
use crate::runtime::{BindMount, ContainerSpec, Resources, User};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// The cgroup (relative to the agent's own) holding a pod's containers.
pub fn pod_cgroup(node: &str, uid: &str) -> String {
    format!("keel/{node}/pod{uid}")
}

pub struct Inputs<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub image: &'a Image,
    pub env: Vec<(String, String)>,
    pub volumes: &'a HashMap<String, PathBuf>,
    pub netns: PathBuf,
    pub restart: i32,
}

pub fn build(ctx: &Context, dirs: &PodDirs, uid: &str, i: Inputs<'_>) -> Result<ContainerSpec, ConfigError> {
    let c = i.container;
    let cfg = &i.image.config;
    // Image env first; the container's env overrides by name.
    let mut envs: Vec<(String, String)> =
        cfg.env.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (k, v) in i.env {
        match envs.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => envs.push((k, v)),
        }
    }
    if !envs.iter().any(|(k, _)| k == "HOSTNAME") {
        envs.push(("HOSTNAME".into(), super::files::hostname(i.pod)));
    }
    if !envs.iter().any(|(k, _)| k == "PATH") {
        envs.push(("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()));
    }
    let vars: HashMap<&str, &str> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expand = |list: &[String]| list.iter().map(|a| env::expand(a, &vars)).collect::<Vec<_>>();
    let args = match (&c.command, &c.args) {
        (Some(cmd), args) if !cmd.is_empty() => [expand(cmd), expand(args.as_deref().unwrap_or(&[]))].concat(),
        (_, Some(args)) if !args.is_empty() => [cfg.entrypoint.clone(), expand(args)].concat(),
        _ => [cfg.entrypoint.clone(), cfg.cmd.clone()].concat(),
    };
    if args.is_empty() {
        return Err(ConfigError::Other("no command specified".into()));
    }
    let working_dir = c.working_dir.clone().filter(|w| !w.is_empty()).or_else(|| cfg.working_dir.clone());
    let user = user(i.pod, c, i.image)?;
    let mut mounts = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        let Some(base) = i.volumes.get(&vm.name) else {
            return Err(ConfigError::Other(format!("volumeMount {:?}: no volume of that name", vm.name)));
        };
        let sub = vm.sub_path.clone().filter(|s| !s.is_empty());
        let source = match sub {
            Some(sub) => {
                let rel = Path::new(&sub);
                if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                    return Err(ConfigError::Other(format!(
                        "subPath {sub:?} must be a relative path inside the volume"
                    )));
                }
                let p = base.join(rel);
                if !p.exists() {
                    std::fs::create_dir_all(&p).map_err(|e| ConfigError::Other(format!("subPath {sub:?}: {e}")))?;
                }
                p
            }
            None => base.clone(),
        };
        mounts.push(BindMount { source, destination: vm.mount_path.clone(), read_only: vm.read_only.unwrap_or(false) });
    }
    let host_network = i.pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
    let has = |mounts: &[BindMount], dest: &str| mounts.iter().any(|m| m.destination == dest);
    if !host_network && !has(&mounts, "/etc/hosts") {
        mounts.push(BindMount { source: dirs.etc_hosts(), destination: "/etc/hosts".into(), read_only: false });
    }
    if !has(&mounts, "/etc/resolv.conf") {
        mounts.push(BindMount { source: dirs.resolv_conf(), destination: "/etc/resolv.conf".into(), read_only: false });
    }
    let termination_path = c.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
    if !has(&mounts, &termination_path) {
        let host = dirs.termination_log(&c.name);
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ConfigError::Other(e.to_string()))?;
        }
        std::fs::write(&host, b"").map_err(|e| ConfigError::Other(e.to_string()))?;
        // Writable for whatever user the container runs as, like the kubelet.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| ConfigError::Other(e.to_string()))?;
        mounts.push(BindMount { source: host, destination: termination_path, read_only: false });
    }
    Ok(ContainerSpec {
        id: format!("{uid}_{}", c.name),
        state_dir: dirs.container(&c.name),
        layers: i.image.layers.clone(),
        netns: if host_network { None } else { Some(i.netns) },
        hostname: super::files::hostname(i.pod),
        args,
        env: envs,
        working_dir,
        user,
        mounts,
        log_path: dirs.log(&c.name, i.restart),
        resources: resources(ctx, c),
        cgroup_parent: pod_cgroup(&ctx.config.node_name, uid),
    })
}

fn resources(ctx: &Context, c: &Container) -> Resources {
    let limit = |name: &str| {
        c.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get(name))
            .and_then(|q| env::parse_quantity(&q.0))
    };
    let request = |name: &str| {
        c.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|l| l.get(name))
            .and_then(|q| env::parse_quantity(&q.0))
    };
    const PERIOD: u64 = 100_000;
    let cpu_limit = limit("cpu");
    // cpu.shares follows the request (or the limit when only that is given),
    // 2 when neither: the kubelet's mapping.
    let shares = request("cpu").or(cpu_limit).map(|cpu| ((cpu * 1024.0) as u64).max(2)).unwrap_or(2);
    Resources {
        memory_limit_bytes: limit("memory").map(|m| m as u64),
        cpu_quota_micros: cpu_limit.map(|cpu| ((cpu * PERIOD as f64) as i64).max(1000)),
        cpu_period_micros: cpu_limit.map(|_| PERIOD),
        cpu_shares: Some(shares),
        pids_max: ctx.config.pod_pids_limit,
    }
}

/// uid/gid from securityContext (container over pod), else the image's user.
fn user(pod: &Pod, c: &Container, image: &Image) -> Result<Option<User>, ConfigError> {
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let csc = c.security_context.as_ref();
    let (img_uid, img_gid) = image_user(image)?;
    let uid = csc.and_then(|s| s.run_as_user).or_else(|| psc.and_then(|s| s.run_as_user)).map(|u| u as u32).or(img_uid);
    let gid =
        csc.and_then(|s| s.run_as_group).or_else(|| psc.and_then(|s| s.run_as_group)).map(|g| g as u32).or(img_gid);
    let non_root = csc.and_then(|s| s.run_as_non_root).or_else(|| psc.and_then(|s| s.run_as_non_root)).unwrap_or(false);
    if non_root && uid.unwrap_or(0) == 0 {
        return Err(ConfigError::Other("container has runAsNonRoot and image will run as root".into()));
    }
    let mut groups: Vec<u32> =
        psc.and_then(|s| s.supplemental_groups.clone()).unwrap_or_default().iter().map(|g| *g as u32).collect();
    if let Some(fs_group) = psc.and_then(|s| s.fs_group) {
        groups.push(fs_group as u32);
    }
    if uid.is_none() && gid.is_none() && groups.is_empty() {
        return Ok(None);
    }
    Ok(Some(User { uid: uid.unwrap_or(0), gid: gid.unwrap_or(0), supplementary_groups: groups }))
}

/// The image's `User`: numeric "uid[:gid]", or a name looked up in the
/// image's /etc/passwd and /etc/group.
fn image_user(image: &Image) -> Result<(Option<u32>, Option<u32>), ConfigError> {
    let Some(spec) = image.config.user.clone().filter(|u| !u.is_empty()) else { return Ok((None, None)) };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (spec.clone(), None),
    };
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            lookup_in_layers(image, "etc/passwd", &u)
                .ok_or_else(|| {
                    ConfigError::Other(format!("unable to find user {u}: no matching entries in passwd file"))
                })?
                .0
        }
    };
    let gid = match g {
        Some(g) => Some(match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                lookup_in_layers(image, "etc/group", &g)
                    .ok_or_else(|| {
                        ConfigError::Other(format!("unable to find group {g}: no matching entries in group file"))
                    })?
                    .0
            }
        }),
        None => lookup_in_layers(image, "etc/passwd", &u).map(|(_, gid)| gid).or(Some(0)),
    };
    Ok((Some(uid), gid))
}

/// (id, primary gid) for `name` in the topmost layer that has `file`.
fn lookup_in_layers(image: &Image, file: &str, name: &str) -> Option<(u32, u32)> {
    let text = image.layers.iter().rev().find_map(|l| std::fs::read_to_string(l.join(file)).ok())?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() == Some(&name) || f.get(2) == Some(&name) {
            let id = f.get(2)?.parse().ok()?;
            let gid = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(id);
            Some((id, gid))
        } else {
            None
        }
    })
}
