//! The cluster's certificate authority, the API server's serving
//! certificate, the admin credential and the admin kubeconfig.
//!
//! Everything is created on first start under the data dir and reused after;
//! the serving certificate is reissued when the wanted SANs change.

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Paths of the PKI files inside the data dir.
pub struct PkiPaths {
    pub dir: PathBuf,
}

impl PkiPaths {
    pub fn new(data_dir: &Path) -> Self {
        PkiPaths { dir: data_dir.join("pki") }
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("apiserver.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("apiserver.key")
    }
    fn server_sans(&self) -> PathBuf {
        self.dir.join("apiserver.sans")
    }
}

/// The loaded key material the server needs.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

const CA_NAME: &str = "keel-ca";

fn ca_params() -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

/// Write a file readable only by its owner (keys, tokens).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Every SAN the serving certificate should carry.
pub fn wanted_sans(extra: &[String], host_addrs: &[IpAddr]) -> BTreeSet<String> {
    let mut sans: BTreeSet<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
        "10.96.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sans.extend(host_addrs.iter().map(|a| a.to_string()));
    sans.extend(extra.iter().cloned());
    sans
}

fn san_entry(s: &str) -> Result<SanType> {
    Ok(match s.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(s.try_into().with_context(|| format!("invalid SAN {s:?}"))?),
    })
}

/// Load the PKI, creating whatever is missing.
pub fn ensure(paths: &PkiPaths, sans: &BTreeSet<String>) -> Result<Pki> {
    std::fs::create_dir_all(&paths.dir).with_context(|| format!("creating {}", paths.dir.display()))?;
    let (ca_pem, ca_key) = if paths.ca_cert().exists() && paths.ca_key().exists() {
        let pem = std::fs::read_to_string(paths.ca_cert())?;
        let key = KeyPair::from_pem(&std::fs::read_to_string(paths.ca_key())?).context("reading CA key")?;
        (pem, key)
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        write_private(&paths.ca_key(), key.serialize_pem().as_bytes())?;
        std::fs::write(paths.ca_cert(), cert.pem())?;
        (cert.pem(), key)
    };
    let wanted = sans.iter().cloned().collect::<Vec<_>>().join("\n");
    let current = std::fs::read_to_string(paths.server_sans()).unwrap_or_default();
    if current != wanted || !paths.server_cert().exists() || !paths.server_key().exists() {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        params.subject_alt_names = sans.iter().map(|s| san_entry(s)).collect::<Result<_>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        // The issuer is rebuilt from the same name and key, which is all a
        // signature needs.
        let issuer = Issuer::new(ca_params()?, ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        write_private(&paths.server_key(), key.serialize_pem().as_bytes())?;
        std::fs::write(paths.server_cert(), format!("{}{}", cert.pem(), ca_pem))?;
        std::fs::write(paths.server_sans(), &wanted)?;
    }
    Ok(Pki {
        ca_pem,
        server_cert_pem: std::fs::read_to_string(paths.server_cert())?,
        server_key_pem: std::fs::read_to_string(paths.server_key())?,
    })
}

/// The API server's client certificate for kubelets (`pods/log`, `exec`...),
/// signed by the cluster CA, which is what agents accept. Created once.
pub fn ensure_kubelet_client(paths: &PkiPaths) -> Result<(String, String)> {
    let cert_path = paths.dir.join("apiserver-kubelet-client.crt");
    let key_path = paths.dir.join("apiserver-kubelet-client.key");
    if let (Ok(cert), Ok(key)) = (std::fs::read_to_string(&cert_path), std::fs::read_to_string(&key_path)) {
        return Ok((cert, key));
    }
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(paths.ca_key())?).context("reading CA key")?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, "kube-apiserver-kubelet-client");
    params.distinguished_name.push(DnType::OrganizationName, "system:masters");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &Issuer::new(ca_params()?, ca_key))?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, cert.pem())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A fresh random token (hex).
pub fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Read a token file, or create it with a fresh random token.
pub fn ensure_token(path: &Path) -> Result<String> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token = random_token();
    write_private(path, token.as_bytes())?;
    Ok(token)
}

/// An admin kubeconfig for `server` (e.g. `https://127.0.0.1:6443`).
pub fn kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: keel\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: keel\n  context:\n    cluster: keel\n    user: admin\ncurrent-context: keel\n"
    )
}

/// Non-loopback addresses of this host, for the serving certificate.
pub fn host_addresses() -> Vec<IpAddr> {
    // `hostname -I` would need a process; the kernel's table is enough.
    let mut out = Vec::new();
    if let Ok(s) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut lines = s.lines().peekable();
        while let Some(line) = lines.next() {
            let t = line.trim();
            if let Some(addr) = t.strip_prefix("|-- ") {
                if lines.peek().is_some_and(|n| n.contains("/32 host LOCAL")) {
                    if let Ok(ip) = addr.parse::<IpAddr>() {
                        if !ip.is_loopback() && !out.contains(&ip) {
                            out.push(ip);
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_and_reissues_on_new_sans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = PkiPaths::new(dir.path());
        let sans = wanted_sans(&[], &[]);
        let a = ensure(&paths, &sans).expect("first");
        let b = ensure(&paths, &sans).expect("second");
        assert_eq!(a.server_cert_pem, b.server_cert_pem);
        let more = wanted_sans(&["api.example.test".into()], &[]);
        let c = ensure(&paths, &more).expect("third");
        assert_ne!(a.server_cert_pem, c.server_cert_pem);
        assert_eq!(a.ca_pem, c.ca_pem);
    }

    #[test]
    fn token_is_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("t");
        assert_eq!(ensure_token(&p).expect("a"), ensure_token(&p).expect("b"));
    }
}
