//! `spec.ipFamilyPolicy`, `spec.ipFamilies` and `spec.clusterIPs` settled
//! against the cluster's service ranges, with kube-apiserver's semantics
//! and messages: the policy is defaulted (or kept from the stored object),
//! families are inferred from requested IPs, then from the cluster's
//! primary family, and a dual-stack policy adds the other family when the
//! cluster has it. Pure: the allocator acts on the result.

use super::family::IpFamily;
use crate::validation::field_error::FieldError;
use serde_json::{json, Map, Value};

pub const SINGLE_STACK: &str = "SingleStack";
pub const PREFER_DUAL_STACK: &str = "PreferDualStack";
pub const REQUIRE_DUAL_STACK: &str = "RequireDualStack";
pub const NONE: &str = "None";

/// The Service fields that decide its cluster addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpFields {
    pub service_type: String,
    pub policy: Option<String>,
    pub families: Vec<String>,
    pub cluster_ips: Vec<String>,
    pub has_selector: bool,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

impl IpFields {
    pub fn from_spec(spec: &Value) -> Self {
        let mut cluster_ips = strings(spec.get("clusterIPs"));
        let cluster_ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or_default();
        if cluster_ips.is_empty() && !cluster_ip.is_empty() {
            cluster_ips.push(cluster_ip.to_string());
        }
        IpFields {
            service_type: spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string(),
            policy: spec.get("ipFamilyPolicy").and_then(Value::as_str).map(String::from),
            families: strings(spec.get("ipFamilies")),
            cluster_ips,
            has_selector: spec.get("selector").and_then(Value::as_object).is_some_and(|m| !m.is_empty()),
        }
    }

    /// Write the settled fields back (`clusterIP` is `clusterIPs[0]`).
    pub fn write_to(&self, spec: &mut Map<String, Value>) {
        match self.cluster_ips.first() {
            Some(first) => {
                spec.insert("clusterIP".into(), json!(first));
                spec.insert("clusterIPs".into(), json!(self.cluster_ips));
            }
            None => {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        }
        match &self.policy {
            Some(p) => spec.insert("ipFamilyPolicy".into(), json!(p)),
            None => spec.remove("ipFamilyPolicy"),
        };
        if self.families.is_empty() {
            spec.remove("ipFamilies");
        } else {
            spec.insert("ipFamilies".into(), json!(self.families));
        }
    }

    pub fn is_headless(&self) -> bool {
        self.cluster_ips.first().is_some_and(|ip| ip == NONE)
    }

    fn policy(&self) -> &str {
        self.policy.as_deref().unwrap_or_default()
    }

    fn gets_cluster_ip(&self) -> bool {
        matches!(self.service_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer")
    }
}

/// What the allocator has to do once the fields are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// ExternalName: no addresses, no family fields.
    Nothing,
    /// An unchanged PreferDualStack service: keep it as stored, even if the
    /// cluster has since gained or lost a family (no silent up/downgrade).
    Keep,
    /// Headless: families only.
    Headless,
    /// One cluster IP per entry of `families`, reusing those it has.
    Allocate,
}

/// The cluster's families, primary first.
pub struct Cluster<'a>(pub &'a [IpFamily]);

impl Cluster<'_> {
    fn has(&self, family: IpFamily) -> bool {
        self.0.contains(&family)
    }
    fn has_str(&self, family: &str) -> bool {
        IpFamily::parse(family).is_some_and(|f| self.has(f))
    }
    fn is_dual(&self) -> bool {
        self.0.len() > 1
    }
    fn primary(&self) -> IpFamily {
        self.0.first().copied().unwrap_or(IpFamily::V4)
    }
}

fn policy_error(fields: &IpFields, detail: &str) -> FieldError {
    FieldError::invalid("spec.ipFamilyPolicy", fields.policy.clone().map(Value::from).unwrap_or(Value::Null), detail)
}

/// Settle `new` (on update, `old` is the stored spec's fields).
pub fn resolve(new: &mut IpFields, old: Option<&IpFields>, cluster: Cluster<'_>) -> Result<Plan, Vec<FieldError>> {
    if new.service_type == "ExternalName" {
        new.cluster_ips.clear();
        new.families.clear();
        new.policy = None;
        return Ok(Plan::Nothing);
    }
    if old.is_some_and(|old| unchanged_prefer_dual_stack(new, old)) {
        return Ok(Plan::Keep);
    }
    default_policy(new, old);
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(trim_or_refuse_release(new, old));
    }
    if new.policy() == SINGLE_STACK {
        if new.cluster_ips.len() == 2 {
            errs.push(policy_error(
                new,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            ));
        }
        if new.families.len() == 2 {
            errs.push(policy_error(
                new,
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            ));
        }
    }
    errs.extend(infer_families_from_ips(new, &cluster));
    if !errs.is_empty() {
        return Err(errs);
    }
    if new.is_headless() && !new.has_selector {
        // Headless without selector: endpoints are the user's, so families
        // need not be configured here (upstream allows dual on any cluster).
        if new.families.is_empty() {
            new.families.push(cluster.primary().as_str().to_string());
        }
        add_second_family(new);
        return Ok(Plan::Headless);
    }
    if new.policy() == REQUIRE_DUAL_STACK && !cluster.is_dual() {
        errs.push(policy_error(new, "this cluster is not configured for dual-stack services"));
    }
    for (i, family) in new.families.iter().enumerate() {
        if !cluster.has_str(family) {
            errs.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                family.as_str(),
                "not configured on this cluster",
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    if new.families.is_empty() {
        new.families.push(cluster.primary().as_str().to_string());
    }
    if cluster.is_dual() {
        add_second_family(new);
    }
    Ok(if new.is_headless() { Plan::Headless } else { Plan::Allocate })
}

/// A dual-stack policy with one family gets the other one.
fn add_second_family(fields: &mut IpFields) {
    if fields.policy() == SINGLE_STACK || fields.families.len() != 1 {
        return;
    }
    if let Some(first) = IpFamily::parse(&fields.families[0]) {
        fields.families.push(first.other().as_str().to_string());
    }
}

/// No policy given: an update keeps the stored one (so a PUT that drops the
/// secondary IP without naming a policy is refused rather than guessed),
/// headless selectorless services want both families, others one.
fn default_policy(new: &mut IpFields, old: Option<&IpFields>) {
    if new.policy.is_some() {
        return;
    }
    new.policy = Some(match old.and_then(|o| o.policy.clone()) {
        Some(p) => p,
        None if new.is_headless() && !new.has_selector => REQUIRE_DUAL_STACK.to_string(),
        None => SINGLE_STACK.to_string(),
    });
}

/// Downgrade: SingleStack with the stored secondary still listed is clear
/// intent, so the server drops it; any other policy may not shrink them.
fn trim_or_refuse_release(new: &mut IpFields, old: &IpFields) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new.policy() == SINGLE_STACK {
        if new.cluster_ips == old.cluster_ips && new.cluster_ips.len() > 1 {
            new.cluster_ips.truncate(1);
        }
        if new.families == old.families && new.families.len() > 1 {
            new.families.truncate(1);
        }
        return errs;
    }
    if !new.cluster_ips.is_empty() && new.cluster_ips.len() < old.cluster_ips.len() {
        errs.push(policy_error(new, "must be 'SingleStack' to release the secondary cluster IP"));
    }
    if !new.families.is_empty() && new.families.len() < old.families.len() {
        errs.push(policy_error(new, "must be 'SingleStack' to release the secondary IP family"));
    }
    errs
}

/// Requested IPs name their families when `ipFamilies` is shorter.
fn infer_families_from_ips(new: &mut IpFields, cluster: &Cluster<'_>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ip) in new.cluster_ips.iter().enumerate() {
        if ip == NONE {
            break;
        }
        let Some(family) = IpFamily::of_str(ip) else { continue };
        if i < new.families.len() {
            continue;
        }
        if cluster.has(family) {
            new.families.push(family.as_str().to_string());
        } else {
            errs.push(FieldError::invalid(
                format!("spec.clusterIPs[{i}]"),
                json!(new.cluster_ips),
                format!("{family} is not configured on this cluster"),
            ));
        }
    }
    errs
}

/// Both PreferDualStack, same type with a cluster IP, same IPs and families:
/// nothing to settle.
fn unchanged_prefer_dual_stack(new: &IpFields, old: &IpFields) -> bool {
    new.policy.as_deref() == Some(PREFER_DUAL_STACK)
        && old.policy.as_deref().is_none_or(|p| p == PREFER_DUAL_STACK)
        && new.service_type == old.service_type
        && new.gets_cluster_ip()
        && new.cluster_ips == old.cluster_ips
        && new.families == old.families
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &[IpFamily] = &[IpFamily::V4];
    const V6: &[IpFamily] = &[IpFamily::V6];
    const DUAL: &[IpFamily] = &[IpFamily::V4, IpFamily::V6];
    const DUAL_V6_FIRST: &[IpFamily] = &[IpFamily::V6, IpFamily::V4];

    fn fields(policy: Option<&str>, families: &[&str], ips: &[&str]) -> IpFields {
        IpFields {
            service_type: "ClusterIP".into(),
            policy: policy.map(String::from),
            families: families.iter().map(|s| s.to_string()).collect(),
            cluster_ips: ips.iter().map(|s| s.to_string()).collect(),
            has_selector: true,
        }
    }

    fn settle(mut f: IpFields, old: Option<&IpFields>, cluster: &[IpFamily]) -> Result<(IpFields, Plan), Vec<String>> {
        match resolve(&mut f, old, Cluster(cluster)) {
            Ok(plan) => Ok((f, plan)),
            Err(errs) => Err(errs.iter().map(FieldError::message).collect()),
        }
    }

    fn families(r: &Result<(IpFields, Plan), Vec<String>>) -> Vec<String> {
        r.as_ref().map(|(f, _)| f.families.clone()).unwrap_or_default()
    }

    #[test]
    fn policies_on_a_dual_stack_cluster() {
        let single = settle(fields(None, &[], &[]), None, DUAL);
        assert_eq!(
            single.as_ref().map(|(f, p)| (f.policy.clone(), *p)),
            Ok((Some(SINGLE_STACK.into()), Plan::Allocate))
        );
        assert_eq!(families(&single), ["IPv4"]);
        assert_eq!(families(&settle(fields(Some(PREFER_DUAL_STACK), &[], &[]), None, DUAL)), ["IPv4", "IPv6"]);
        assert_eq!(families(&settle(fields(Some(REQUIRE_DUAL_STACK), &[], &[]), None, DUAL)), ["IPv4", "IPv6"]);
        // The user's order wins over the cluster's.
        assert_eq!(families(&settle(fields(Some(PREFER_DUAL_STACK), &["IPv6"], &[]), None, DUAL)), ["IPv6", "IPv4"]);
        assert_eq!(families(&settle(fields(None, &["IPv6"], &[]), None, DUAL)), ["IPv6"]);
        // The primary family follows the cluster's first range.
        assert_eq!(families(&settle(fields(Some(PREFER_DUAL_STACK), &[], &[]), None, DUAL_V6_FIRST)), ["IPv6", "IPv4"]);
        // Requested IPs name the families.
        assert_eq!(
            families(&settle(fields(Some(REQUIRE_DUAL_STACK), &[], &["fd00:10:96::5", "10.96.0.5"]), None, DUAL)),
            ["IPv6", "IPv4"]
        );
    }

    #[test]
    fn policies_on_a_single_stack_cluster() {
        assert_eq!(families(&settle(fields(Some(PREFER_DUAL_STACK), &[], &[]), None, V4)), ["IPv4"]);
        assert_eq!(families(&settle(fields(None, &[], &[]), None, V6)), ["IPv6"]);
        assert_eq!(
            settle(fields(Some(REQUIRE_DUAL_STACK), &[], &[]), None, V4).err(),
            Some(vec![
                "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services".to_string()
            ])
        );
        assert_eq!(
            settle(fields(None, &["IPv6"], &[]), None, V4).err(),
            Some(vec!["spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster".to_string()])
        );
        assert_eq!(
            settle(fields(None, &[], &["fd00::10"]), None, V4).err(),
            Some(vec![
                "spec.clusterIPs[0]: Invalid value: [\"fd00::10\"]: IPv6 is not configured on this cluster".to_string()
            ])
        );
        assert_eq!(
            settle(fields(Some(SINGLE_STACK), &["IPv4", "IPv6"], &[]), None, DUAL).err(),
            Some(vec!["spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified".to_string()])
        );
    }

    #[test]
    fn headless_and_external_name() {
        let mut headless = fields(None, &[], &["None"]);
        headless.has_selector = false;
        // Selectorless headless defaults to both families, even on one stack.
        let r = settle(headless.clone(), None, V4);
        assert_eq!(
            r.as_ref().map(|(f, p)| (f.policy.clone(), *p)),
            Ok((Some(REQUIRE_DUAL_STACK.into()), Plan::Headless))
        );
        assert_eq!(families(&r), ["IPv4", "IPv6"]);
        headless.has_selector = true;
        let r = settle(headless.clone(), None, DUAL);
        assert_eq!(r.as_ref().map(|(f, p)| (f.families.clone(), *p)), Ok((vec!["IPv4".to_string()], Plan::Headless)));
        headless.policy = Some(PREFER_DUAL_STACK.into());
        assert_eq!(families(&settle(headless, None, DUAL)), ["IPv4", "IPv6"]);

        let mut external = fields(Some(SINGLE_STACK), &["IPv4"], &["10.96.0.1"]);
        external.service_type = "ExternalName".into();
        let (f, plan) = settle(external, None, DUAL).expect("external name");
        assert_eq!(plan, Plan::Nothing);
        assert!(f.policy.is_none() && f.families.is_empty() && f.cluster_ips.is_empty());
    }

    #[test]
    fn upgrade_and_downgrade() {
        let stored_single = fields(Some(SINGLE_STACK), &["IPv4"], &["10.96.0.5"]);
        let mut up = stored_single.clone();
        up.policy = Some(PREFER_DUAL_STACK.into());
        let (f, plan) = settle(up, Some(&stored_single), DUAL).expect("upgrade");
        assert_eq!(
            (f.families, f.cluster_ips, plan),
            (vec!["IPv4".into(), "IPv6".into()], vec!["10.96.0.5".into()], Plan::Allocate)
        );

        let stored_dual = fields(Some(PREFER_DUAL_STACK), &["IPv4", "IPv6"], &["10.96.0.5", "fd00::5"]);
        let mut down = stored_dual.clone();
        down.policy = Some(SINGLE_STACK.into());
        let (f, _) = settle(down, Some(&stored_dual), DUAL).expect("downgrade");
        assert_eq!((f.families, f.cluster_ips), (vec!["IPv4".to_string()], vec!["10.96.0.5".to_string()]));

        // Dropping the secondary without saying SingleStack is refused (the
        // stored policy is kept when none is given).
        let mut shrink = fields(None, &["IPv4"], &["10.96.0.5"]);
        shrink.policy = None;
        assert_eq!(
            settle(shrink, Some(&stored_dual), DUAL).err(),
            Some(vec![
                "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary cluster IP".to_string(),
                "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary IP family".to_string(),
            ])
        );

        // An unchanged PreferDualStack service stays as stored even when the
        // cluster is single-stack now.
        let (f, plan) = settle(stored_dual.clone(), Some(&stored_dual), V4).expect("kept");
        assert_eq!((f, plan), (stored_dual, Plan::Keep));
    }
}
