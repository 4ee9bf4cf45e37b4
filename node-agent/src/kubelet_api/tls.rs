//! TLS for the kubelet port: a self-signed serving certificate kept on disk, and mandatory client
//! certificates signed by the cluster CA (connections without one fail the handshake).

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::error::KubeletApiError;

const CERT_FILE: &str = "kubelet.crt";
const KEY_FILE: &str = "kubelet.key";

pub(crate) fn server_config(
    client_ca_pem: &str,
    cert_dir: &Path,
    ip: IpAddr,
    node_name: &str,
) -> Result<Arc<ServerConfig>, KubeletApiError> {
    // The project standardises on ring (rustls 0.23.48 deprecates its provider in favour of aws-lc-rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| KubeletApiError::ClientCa(format!("bad PEM: {e}")))?;
        roots.add(cert).map_err(|e| KubeletApiError::ClientCa(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(KubeletApiError::ClientCa("no certificate in the client CA bundle".into()));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| KubeletApiError::ClientCa(e.to_string()))?;
    let (chain, key) = serving_identity(cert_dir, ip, node_name)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    // Upgrades (exec, port-forward) need HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The serving certificate and key from `dir`, created (self-signed) on first use and reused afterwards.
pub(crate) fn serving_identity(
    dir: &Path,
    ip: IpAddr,
    node_name: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), KubeletApiError> {
    let fail = |message: String| KubeletApiError::ServingCert { dir: dir.to_path_buf(), message };
    let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if !cert_path.exists() || !key_path.exists() {
        let (cert_pem, key_pem) = generate(ip, node_name).map_err(|e| fail(format!("generate: {e}")))?;
        fs::create_dir_all(dir).map_err(|e| fail(format!("create: {e}")))?;
        // Key first: a crash in between leaves no certificate without its key.
        write_atomically(&key_path, key_pem.as_bytes(), 0o600).map_err(|e| fail(format!("write key: {e}")))?;
        write_atomically(&cert_path, cert_pem.as_bytes(), 0o644).map_err(|e| fail(format!("write cert: {e}")))?;
    }
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(format!("read {}: {e}", cert_path.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| fail(format!("read {}: {e}", key_path.display())))?;
    Ok((chain, key))
}

fn generate(ip: IpAddr, node_name: &str) -> Result<(String, String), rcgen::Error> {
    let mut names = vec![node_name.to_string()];
    if let Ok(host) = nix::unistd::gethostname() {
        let host = host.to_string_lossy().into_owned();
        if !host.is_empty() && !names.contains(&host) {
            names.push(host);
        }
    }
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    let mut params = rcgen::CertificateParams::new(names)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("{node_name}-kubelet"));
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_atomically(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_cert_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (first, _) = serving_identity(dir.path(), ip, "node-a").unwrap();
        let (second, _) = serving_identity(dir.path(), ip, "node-a").unwrap();
        assert_eq!(first, second);
        let mode =
            fs::metadata(dir.path().join(KEY_FILE)).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
        assert_eq!(mode.unwrap() & 0o777, 0o600);
    }

    #[test]
    fn rejects_an_empty_ca() {
        let dir = tempfile::tempdir().unwrap();
        let result = server_config("", dir.path(), "127.0.0.1".parse().unwrap(), "n");
        assert!(matches!(result, Err(KubeletApiError::ClientCa(_))));
    }
}
