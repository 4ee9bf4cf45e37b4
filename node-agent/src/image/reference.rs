//! Parsing and normalizing image references the way docker does
//! ("busybox" -> "docker.io/library/busybox:latest").

use std::fmt;

use super::digest::Digest;
use super::error::ImageError;

pub(super) const DEFAULT_DOMAIN: &str = "docker.io";
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A fully qualified reference: registry domain, repository path, and a tag and/or digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReference {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Normalizes a user-supplied reference, e.g. "busybox" -> "docker.io/library/busybox:latest".
pub fn normalize_reference(reference: &str) -> Result<String, ImageError> {
    Ok(ParsedReference::parse(reference)?.to_string())
}

impl ParsedReference {
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let fail =
            |reason: &str| ImageError::InvalidReference { reference: reference.to_string(), reason: reason.into() };
        if reference.is_empty() {
            return Err(fail("reference is empty"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest).map_err(|e| fail(&e.to_string()))?)),
            None => (reference, None),
        };
        // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| fail(&r))?;
        }
        if name.len() > MAX_NAME_LEN {
            return Err(fail("name is longer than 255 characters"));
        }
        let (domain, path) = split_domain(name);
        check_domain(&domain).map_err(|r| fail(&r))?;
        check_path(&path).map_err(|r| fail(&r))?;
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(ParsedReference { domain, path, tag, digest })
    }

    /// "domain/path" without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The host to talk to for this reference's registry API.
    pub fn api_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            DOCKER_HUB_API_HOST
        } else {
            &self.domain
        }
    }

    /// What goes after `/manifests/` in a registry request: the digest if pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// Like this reference but pinned to `digest`, without a tag.
    pub fn with_digest(&self, digest: &Digest) -> Self {
        ParsedReference { digest: Some(digest.clone()), tag: None, ..self.clone() }
    }
}

impl fmt::Display for ParsedReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Docker's rule: the first component is a registry only if it looks like a host
/// (has '.' or ':', is "localhost", or has uppercase letters).
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" { DEFAULT_DOMAIN.to_string() } else { domain };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("library/{path}") } else { path };
    (domain, path)
}

fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "invalid tag {tag:?}: use letters, digits, '_', '.', '-' (max 128, not starting with '.' or '-')"
        ));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.find(']') {
        // "[::1]:5000": the port follows the bracketed IPv6 address.
        Some(end) if domain.starts_with('[') => match &domain[end + 1..] {
            "" => (&domain[..=end], None),
            rest => (&domain[..=end], Some(rest.strip_prefix(':').unwrap_or(""))),
        },
        _ => match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        },
    };
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("invalid registry port in {domain:?}"));
        }
    }
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if !host_ok {
        return Err(format!("invalid registry host {domain:?}"));
    }
    Ok(())
}

/// Each path component: lowercase alphanumerics joined by '.', '_', '__' or runs of '-'.
fn check_path(path: &str) -> Result<(), String> {
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("repository name must be lowercase".to_string());
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return Err(format!(
                "invalid repository path component {component:?}: use lowercase letters and digits separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return false;
    }
    // Split into separator runs and check each one.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(reference: &str) -> String {
        normalize_reference(reference).unwrap_or_else(|e| panic!("{reference}: {e}"))
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("docker.io/library/busybox:latest"), "docker.io/library/busybox:latest");
        assert_eq!(norm("index.docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("keel-test/echo:v1"), "docker.io/keel-test/echo:v1");
        assert_eq!(norm("localhost:5000/x/y:tag"), "localhost:5000/x/y:tag");
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("quay.io/a/b__c.d-e"), "quay.io/a/b__c.d-e:latest");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(norm(&format!("busybox@{digest}")), format!("docker.io/library/busybox@{digest}"));
        assert_eq!(norm(&format!("busybox:1@{digest}")), format!("docker.io/library/busybox:1@{digest}"));
    }

    #[test]
    fn splits_parts() {
        let parsed = ParsedReference::parse("localhost:5000/x/y:tag").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.domain, "localhost:5000");
        assert_eq!(parsed.path, "x/y");
        assert_eq!(parsed.tag.as_deref(), Some("tag"));
        assert_eq!(parsed.api_host(), "localhost:5000");
        let hub = ParsedReference::parse("busybox").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hub.api_host(), "registry-1.docker.io");
        assert_eq!(hub.manifest_reference(), "latest");
    }

    #[test]
    fn rejects_invalid() {
        for bad in
            ["", "Busybox", "busybox:", "busybox:-x", "a//b", "a/b/", "busybox@sha256:123", "a..b", "-a", "a:b:c/d"]
        {
            let err = normalize_reference(bad).err();
            assert!(err.is_some(), "{bad:?} should be rejected");
        }
        let message = normalize_reference("Busybox").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("lowercase"), "{message}");
    }
}
