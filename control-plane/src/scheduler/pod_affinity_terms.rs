//! Reading pod (anti-)affinity terms and deciding whether a term selects a pod.

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::context::pod_namespace;
use super::selectors::{labels_of, selector_matches};

/// Required and preferred terms of one pod, for affinity or anti-affinity.
pub struct PodTerms<'a> {
    pub required: &'a [PodAffinityTerm],
    pub preferred: &'a [WeightedPodAffinityTerm],
}

pub fn affinity_terms(pod: &Pod) -> PodTerms<'_> {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()).and_then(|a| a.pod_affinity.as_ref());
    PodTerms {
        required: affinity
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref())
            .unwrap_or_default(),
        preferred: affinity
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
            .unwrap_or_default(),
    }
}

pub fn anti_affinity_terms(pod: &Pod) -> PodTerms<'_> {
    let anti = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()).and_then(|a| a.pod_anti_affinity.as_ref());
    PodTerms {
        required: anti
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref())
            .unwrap_or_default(),
        preferred: anti
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
            .unwrap_or_default(),
    }
}

/// Whether `term`, written in a pod of namespace `owner_namespace`, selects `candidate`.
/// Namespaces: the listed ones, all of them for an empty `namespaceSelector: {}`, else the
/// owner's own. Non-empty namespace selectors need Namespace objects we don't have, so
/// they select no extra namespace.
pub fn term_selects(term: &PodAffinityTerm, owner_namespace: &str, candidate: &Pod) -> bool {
    let namespaces = term.namespaces.as_deref().unwrap_or_default();
    let candidate_namespace = pod_namespace(candidate);
    let namespace_ok = match term.namespace_selector.as_ref() {
        Some(selector)
            if selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && selector.match_expressions.as_ref().is_none_or(|e| e.is_empty()) =>
        {
            true
        }
        Some(_) => namespaces.iter().any(|n| n == candidate_namespace),
        None if namespaces.is_empty() => owner_namespace == candidate_namespace,
        None => namespaces.iter().any(|n| n == candidate_namespace),
    };
    namespace_ok && selector_matches(term.label_selector.as_ref(), labels_of(&candidate.metadata))
}
