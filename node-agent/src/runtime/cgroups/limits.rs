//! Translating [`Resources`] into cgroup v1 or v2 control files.

use super::super::error::RuntimeError;
use super::super::spec::Resources;
use super::files::{write, write_if_present};
use super::{CgroupDir, CgroupVersion};

/// CFS period used when only a quota is given (the kernel's and Kubernetes' default).
const DEFAULT_CPU_PERIOD_MICROS: u64 = 100_000;

pub(super) fn apply(dirs: &[CgroupDir], resources: &Resources) -> Result<(), RuntimeError> {
    if let Some(limit) = resources.memory_limit_bytes {
        let dir = controller_dir(dirs, "memory")?;
        apply_memory(dir, limit)?;
    }
    if resources.cpu_quota_micros.is_some() || resources.cpu_period_micros.is_some() || resources.cpu_shares.is_some() {
        let dir = controller_dir(dirs, "cpu")?;
        apply_cpu(dir, resources)?;
    }
    if let Some(max) = resources.pids_max {
        let dir = controller_dir(dirs, "pids")?;
        write(&dir.path, "pids.max", &max.to_string())?;
    }
    Ok(())
}

/// The directory that provides `controller`, preferring v1 (which is where limits work on hybrid hosts).
pub(super) fn find<'a>(dirs: &'a [CgroupDir], controller: &str) -> Option<&'a CgroupDir> {
    let v1 = dirs.iter().find(|d| d.version == CgroupVersion::V1 && d.has(controller));
    v1.or_else(|| dirs.iter().find(|d| d.has(controller)))
}

fn controller_dir<'a>(dirs: &'a [CgroupDir], controller: &str) -> Result<&'a CgroupDir, RuntimeError> {
    find(dirs, controller).ok_or_else(|| {
        RuntimeError::Cgroup(format!("a {controller} limit was requested but no {controller} controller is available"))
    })
}

fn apply_memory(dir: &CgroupDir, limit: u64) -> Result<(), RuntimeError> {
    let value = limit.to_string();
    match dir.version {
        CgroupVersion::V1 => {
            write(&dir.path, "memory.limit_in_bytes", &value)?;
            // Memory+swap equal to memory: no swapping past the limit, so the OOM killer acts (Kubernetes' NoSwap).
            write_if_present(&dir.path, "memory.memsw.limit_in_bytes", &value)?;
            write_if_present(&dir.path, "memory.oom_control", "0")
        }
        CgroupVersion::V2 => {
            write(&dir.path, "memory.max", &value)?;
            write_if_present(&dir.path, "memory.swap.max", "0")
        }
    }
}

fn apply_cpu(dir: &CgroupDir, resources: &Resources) -> Result<(), RuntimeError> {
    let quota = resources.cpu_quota_micros.filter(|q| *q > 0);
    let period = resources.cpu_period_micros.or(quota.map(|_| DEFAULT_CPU_PERIOD_MICROS));
    match dir.version {
        CgroupVersion::V1 => {
            // The period goes first: the kernel checks quota against the current period.
            if let Some(period) = period {
                write(&dir.path, "cpu.cfs_period_us", &period.to_string())?;
            }
            if resources.cpu_quota_micros.is_some() {
                write(&dir.path, "cpu.cfs_quota_us", &quota.unwrap_or(-1).to_string())?;
            }
            if let Some(shares) = resources.cpu_shares {
                write(&dir.path, "cpu.shares", &shares.max(2).to_string())?;
            }
        }
        CgroupVersion::V2 => {
            if let Some(period) = period {
                let quota = quota.map_or_else(|| "max".to_string(), |q| q.to_string());
                write(&dir.path, "cpu.max", &format!("{quota} {period}"))?;
            }
            if let Some(shares) = resources.cpu_shares {
                write(&dir.path, "cpu.weight", &shares_to_weight(shares).to_string())?;
            }
        }
    }
    Ok(())
}

/// Maps v1 cpu.shares [2, 262144] onto v2 cpu.weight [1, 10000] (the formula Kubernetes and runc use).
fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion_matches_kubernetes() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 1);
    }

    #[test]
    fn v1_is_preferred_for_a_controller() {
        let dir = |version, c: &str| CgroupDir {
            version,
            controllers: vec![c.to_string()],
            base: "/b".into(),
            path: format!("/{c}/{version:?}").into(),
        };
        let dirs = vec![dir(CgroupVersion::V2, "memory"), dir(CgroupVersion::V1, "memory")];
        assert_eq!(find(&dirs, "memory").map(|d| d.version), Some(CgroupVersion::V1));
        assert!(find(&dirs, "pids").is_none());
    }
}
