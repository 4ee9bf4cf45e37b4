//! The names a libc stub resolver tries for a user's name, in order (search list and ndots).

use hickory_proto::rr::Name;

/// Fully qualified candidates for `name`. A trailing dot means "exactly this"; a name with at
/// least `ndots` dots is tried as is first, otherwise the search domains come first.
pub fn candidates(name: &str, search: &[String], ndots: usize, use_search: bool) -> Result<Vec<Name>, String> {
    let absolute = |text: &str| -> Result<Name, String> {
        let mut parsed = Name::from_ascii(text).map_err(|err| format!("invalid name {text}: {err}"))?;
        parsed.set_fqdn(true);
        Ok(parsed)
    };
    if name.ends_with('.') || !use_search || search.is_empty() {
        return Ok(vec![absolute(name)?]);
    }
    let mut searched = Vec::new();
    for domain in search {
        searched.push(absolute(&format!("{name}.{domain}"))?);
    }
    let as_is = absolute(name)?;
    if name.matches('.').count() >= ndots {
        searched.insert(0, as_is);
    } else {
        searched.push(as_is);
    }
    Ok(searched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(names: Vec<Name>) -> Vec<String> {
        names.iter().map(Name::to_ascii).collect()
    }

    fn kube_search() -> Vec<String> {
        vec!["default.svc.cluster.local".into(), "svc.cluster.local".into()]
    }

    #[test]
    fn short_name_uses_search_list_first() -> Result<(), String> {
        assert_eq!(
            texts(candidates("web", &kube_search(), 5, true)?),
            ["web.default.svc.cluster.local.", "web.svc.cluster.local.", "web."]
        );
        Ok(())
    }

    #[test]
    fn name_with_enough_dots_is_tried_as_is_first() -> Result<(), String> {
        assert_eq!(texts(candidates("a.b", &kube_search(), 1, true)?)[0], "a.b.");
        Ok(())
    }

    #[test]
    fn trailing_dot_or_nosearch_means_exact() -> Result<(), String> {
        assert_eq!(texts(candidates("web.", &kube_search(), 5, true)?), ["web."]);
        assert_eq!(texts(candidates("web", &kube_search(), 5, false)?), ["web."]);
        Ok(())
    }
}
