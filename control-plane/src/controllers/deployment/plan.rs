//! How many replicas each of a Deployment's ReplicaSets should have next:
//! the arithmetic of kube-controller-manager's rolling update, Recreate and
//! proportional scaling, over plain numbers so it is testable on its own.

use k8s_openapi::api::apps::v1::DeploymentStrategy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// What the plan needs to know of one ReplicaSet.
#[derive(Debug, Clone, PartialEq)]
pub struct Rs {
    pub name: String,
    /// spec.replicas
    pub replicas: i32,
    /// status.availableReplicas
    pub available: i32,
    /// The max-replicas annotation: the Deployment's size plus surge when
    /// this ReplicaSet was last sized.
    pub max_replicas: Option<i32>,
    /// The desired-replicas annotation.
    pub desired_replicas: Option<i32>,
}

/// maxSurge and maxUnavailable resolved against the replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fenceposts {
    pub surge: i32,
    pub unavailable: i32,
}

fn scaled(v: Option<&IntOrString>, default_percent: i32, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        Some(IntOrString::Int(i)) => Ok(*i),
        Some(IntOrString::String(s)) => {
            let p: i64 = s.strip_suffix('%').and_then(|p| p.parse().ok()).ok_or_else(|| {
                format!("invalid value for IntOrString: invalid value {s:?}: must be an integer or a percentage")
            })?;
            let product = p * i64::from(total);
            Ok((if round_up { (product + 99) / 100 } else { product / 100 }) as i32)
        }
        None => Ok(if round_up { (default_percent * total + 99) / 100 } else { default_percent * total / 100 }),
    }
}

impl Fenceposts {
    /// Surge rounds up and unavailability down, and both cannot be zero
    /// (a rollout must be able to move), as upstream resolves them. Recreate
    /// has neither.
    pub fn resolve(strategy: Option<&DeploymentStrategy>, replicas: i32) -> Result<Self, String> {
        let recreate = strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate");
        if recreate {
            return Ok(Fenceposts { surge: 0, unavailable: 0 });
        }
        let ru = strategy.and_then(|s| s.rolling_update.as_ref());
        let surge = scaled(ru.and_then(|r| r.max_surge.as_ref()), 25, replicas, true)?.max(0);
        let mut unavailable = scaled(ru.and_then(|r| r.max_unavailable.as_ref()), 25, replicas, false)?.max(0);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        Ok(Fenceposts { surge, unavailable: unavailable.min(replicas) })
    }
}

/// The new ReplicaSet's size for the next step of a rolling update: grow
/// while the total stays within replicas + surge.
pub fn rolling_new_replicas(replicas: i32, f: Fenceposts, new: &Rs, old: &[Rs]) -> i32 {
    if new.replicas >= replicas {
        return replicas;
    }
    let current: i32 = new.replicas + old.iter().map(|r| r.replicas).sum::<i32>();
    let max_total = replicas + f.surge;
    if current >= max_total {
        return new.replicas;
    }
    new.replicas + (max_total - current).min(replicas - new.replicas)
}

/// New sizes for old ReplicaSets in a rolling update, oldest first in
/// `old`: first drop their unhealthy replicas, then shrink while the
/// available count stays at replicas - maxUnavailable or more. Returns only
/// the ones that change.
pub fn rolling_old_replicas(replicas: i32, f: Fenceposts, new: Option<&Rs>, old: &[Rs]) -> Vec<(String, i32)> {
    let old_total: i32 = old.iter().map(|r| r.replicas).sum();
    if old_total == 0 {
        return Vec::new();
    }
    let new_replicas = new.map_or(0, |n| n.replicas);
    let all_total = old_total + new_replicas;
    let min_available = replicas - f.unavailable;
    let new_unavailable = new.map_or(0, |n| (n.replicas - n.available).max(0));
    let max_scaled_down = all_total - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut sizes: Vec<i32> = old.iter().map(|r| r.replicas).collect();
    // Unhealthy replicas of old sets go first: they count for nothing.
    let mut cleaned = 0;
    for (i, rs) in old.iter().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = (rs.replicas - rs.available).max(0);
        if rs.replicas == 0 || unhealthy == 0 {
            continue;
        }
        let n = unhealthy.min(max_scaled_down - cleaned);
        sizes[i] -= n;
        cleaned += n;
    }
    // Then healthy ones, as far as availability allows.
    let available: i32 = old.iter().map(|r| r.available).sum::<i32>() + new.map_or(0, |n| n.available);
    if available > min_available {
        let budget = available - min_available;
        let mut done = 0;
        for size in sizes.iter_mut() {
            if done >= budget {
                break;
            }
            if *size == 0 {
                continue;
            }
            let n = (*size).min(budget - done);
            *size -= n;
            done += n;
        }
    }
    old.iter().zip(sizes).filter(|(rs, s)| rs.replicas != *s).map(|(rs, s)| (rs.name.clone(), s)).collect()
}

/// Whether the Deployment's size changed since its active ReplicaSets were
/// last sized (their desired-replicas annotation disagrees).
pub fn is_scaling_event(replicas: i32, all: &[Rs]) -> bool {
    all.iter().filter(|r| r.replicas > 0).any(|r| r.desired_replicas != Some(replicas))
}

/// Resize for a scaling event: a single active ReplicaSet takes the new
/// size; several (mid-rollout) share the change in proportion to their
/// sizes, the remainder going to the largest, so a rollout neither stalls
/// nor overshoots. `all` is newest first.
pub fn proportional(replicas: i32, f: Fenceposts, rolling: bool, all: &[Rs]) -> Vec<(String, i32)> {
    let active: Vec<&Rs> = all.iter().filter(|r| r.replicas > 0).collect();
    let single = match active.len() {
        0 => all.first(),
        1 => active.first().copied(),
        _ => None,
    };
    if let Some(rs) = single {
        return if rs.replicas == replicas { Vec::new() } else { vec![(rs.name.clone(), replicas)] };
    }
    if !rolling {
        return Vec::new();
    }
    let current: i32 = active.iter().map(|r| r.replicas).sum();
    let allowed = if replicas > 0 { replicas + f.surge } else { 0 };
    let to_add = allowed - current;
    if to_add == 0 {
        return Vec::new();
    }
    // Largest first; on a tie the newer when growing, the older when shrinking.
    let mut order: Vec<(usize, &Rs)> = active.iter().copied().enumerate().collect();
    order
        .sort_by(|(ia, a), (ib, b)| b.replicas.cmp(&a.replicas).then(if to_add > 0 { ia.cmp(ib) } else { ib.cmp(ia) }));
    let mut sizes: Vec<(String, i32)> = Vec::new();
    let mut added = 0;
    for (_, rs) in &order {
        let fraction = if replicas == 0 {
            -rs.replicas
        } else {
            let annotated = rs.max_replicas.filter(|m| *m > 0).unwrap_or(current.max(1));
            let target = f64::from(rs.replicas) * f64::from(replicas + f.surge) / f64::from(annotated);
            target.round() as i32 - rs.replicas
        };
        let allowed_left = to_add - added;
        let step = if to_add > 0 { fraction.min(allowed_left) } else { fraction.max(allowed_left) };
        added += step;
        sizes.push((rs.name.clone(), rs.replicas + step));
    }
    if let Some(first) = sizes.first_mut() {
        first.1 = (first.1 + to_add - added).max(0);
    }
    sizes.retain(|(name, s)| active.iter().any(|r| &r.name == name && r.replicas != *s));
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::RollingUpdateDeployment;

    fn rs(name: &str, replicas: i32, available: i32) -> Rs {
        Rs { name: name.into(), replicas, available, max_replicas: None, desired_replicas: None }
    }

    fn rolling(surge: IntOrString, unavailable: IntOrString) -> DeploymentStrategy {
        DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        }
    }

    #[test]
    fn fenceposts_round_like_upstream() {
        let f = Fenceposts::resolve(None, 4).unwrap();
        assert_eq!(f, Fenceposts { surge: 1, unavailable: 1 });
        let f = Fenceposts::resolve(None, 2).unwrap();
        assert_eq!(f, Fenceposts { surge: 1, unavailable: 0 }, "25% of 2: surge rounds up, unavailable down");
        let s = rolling(IntOrString::Int(0), IntOrString::Int(0));
        assert_eq!(Fenceposts::resolve(Some(&s), 3).unwrap(), Fenceposts { surge: 0, unavailable: 1 });
        let s = rolling(IntOrString::String("50%".into()), IntOrString::String("10%".into()));
        assert_eq!(Fenceposts::resolve(Some(&s), 5).unwrap(), Fenceposts { surge: 3, unavailable: 0 });
        let s = rolling(IntOrString::String("x%".into()), IntOrString::Int(1));
        assert!(Fenceposts::resolve(Some(&s), 5).is_err());
        let r = DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None };
        assert_eq!(Fenceposts::resolve(Some(&r), 5).unwrap(), Fenceposts { surge: 0, unavailable: 0 });
    }

    #[test]
    fn new_set_grows_within_surge() {
        let f = Fenceposts { surge: 1, unavailable: 0 };
        assert_eq!(rolling_new_replicas(3, f, &rs("new", 0, 0), &[rs("old", 3, 3)]), 1);
        assert_eq!(rolling_new_replicas(3, f, &rs("new", 1, 0), &[rs("old", 3, 3)]), 1, "at the surge limit");
        assert_eq!(rolling_new_replicas(3, f, &rs("new", 1, 1), &[rs("old", 2, 2)]), 2);
        assert_eq!(rolling_new_replicas(3, f, &rs("new", 5, 5), &[]), 3, "too big shrinks to size");
        assert_eq!(rolling_new_replicas(4, Fenceposts { surge: 1, unavailable: 1 }, &rs("new", 2, 2), &[]), 4);
    }

    #[test]
    fn old_sets_shrink_only_as_far_as_availability_allows() {
        let f = Fenceposts { surge: 1, unavailable: 0 };
        // New pod not available yet: nothing may go.
        assert!(rolling_old_replicas(3, f, Some(&rs("new", 1, 0)), &[rs("old", 3, 3)]).is_empty());
        // New pod available: one old one may go.
        assert_eq!(rolling_old_replicas(3, f, Some(&rs("new", 1, 1)), &[rs("old", 3, 3)]), vec![("old".into(), 2)]);
        // maxUnavailable 1 allows one more.
        let f1 = Fenceposts { surge: 1, unavailable: 1 };
        assert_eq!(rolling_old_replicas(3, f1, Some(&rs("new", 1, 0)), &[rs("old", 3, 3)]), vec![("old".into(), 2)]);
    }

    #[test]
    fn unhealthy_old_replicas_go_first_oldest_set_first() {
        let f = Fenceposts { surge: 1, unavailable: 0 };
        // Both old sets have broken pods; the new set is healthy.
        let out = rolling_old_replicas(3, f, Some(&rs("new", 3, 3)), &[rs("older", 1, 0), rs("old", 2, 1)]);
        assert_eq!(out, vec![("older".into(), 0), ("old".into(), 0)]);
    }

    #[test]
    fn scaling_events_and_proportions() {
        let mut a = rs("a", 2, 2);
        a.desired_replicas = Some(2);
        assert!(!is_scaling_event(2, std::slice::from_ref(&a)));
        assert!(is_scaling_event(4, std::slice::from_ref(&a)));
        let f = Fenceposts { surge: 1, unavailable: 1 };
        assert_eq!(proportional(4, f, true, &[a.clone()]), vec![("a".into(), 4)]);
        assert_eq!(proportional(2, f, true, &[a.clone()]), vec![]);
        // Mid-rollout 10 -> 20 with surge 2: 12 allowed become 22, shared 6:6.
        let f = Fenceposts { surge: 2, unavailable: 2 };
        let mut new = rs("new", 6, 0);
        new.max_replicas = Some(12);
        let mut old = rs("old", 6, 6);
        old.max_replicas = Some(12);
        let out = proportional(20, f, true, &[new, old]);
        let total: i32 = out.iter().map(|(_, s)| s).sum();
        assert_eq!(total, 22, "{out:?}");
        assert!(out.iter().all(|(_, s)| *s == 11), "{out:?}");
        // To zero: everything goes.
        let out = proportional(0, f, true, &[rs("new", 3, 0), rs("old", 2, 2)]);
        assert_eq!(out, vec![("new".into(), 0), ("old".into(), 0)]);
    }
}
