//! A kubelet API server on loopback with a test CA, and the clients the tests use against it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::WebSocketStream;

use super::super::super::runtime::Runtime;
use super::super::server::serve_listener;
use super::super::KubeletApiConfig;
use super::fixture::TestLookup;

pub(super) type Tls = TlsStream<TcpStream>;

/// A test certificate authority.
pub(super) struct Pki {
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub(super) fn new(name: &str) -> Result<Pki> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Pki { ca_pem: issuer.pem(), issuer })
    }

    /// A client certificate signed by this CA: (cert PEM, key PEM).
    pub(super) fn client_pem(&self, name: &str) -> Result<(String, String)> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    fn client_identity(&self, name: &str) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let (cert, key) = self.client_pem(name)?;
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from_pem_slice(key.as_bytes())?);
        Ok((chain, key))
    }
}

/// The server under test; stopped on drop.
pub(super) struct TestServer {
    pub port: u16,
    pub pki: Pki,
    pub lookup: Arc<TestLookup>,
    pub cert_dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub(super) async fn start(runtime: Arc<Runtime>) -> Result<TestServer> {
        let pki = Pki::new("test-cluster-ca")?;
        let cert_dir = tempfile::tempdir()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let config = KubeletApiConfig {
            listen: listener.local_addr()?,
            client_ca_pem: pki.ca_pem.clone(),
            serving_cert_dir: cert_dir.path().to_path_buf(),
            node_name: "test-node".into(),
        };
        let lookup = TestLookup::new(runtime.clone());
        let lookup_dyn: Arc<dyn super::super::PodLookup> = lookup.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = serve_listener(listener, &config, lookup_dyn, runtime).await {
                eprintln!("kubelet API server failed: {e}");
            }
        });
        let cert = cert_dir.path().join("kubelet.crt");
        for _ in 0..100 {
            if cert.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(TestServer { port, pki, lookup, cert_dir, task })
    }

    pub(super) fn serving_cert(&self) -> PathBuf {
        self.cert_dir.path().join("kubelet.crt")
    }

    /// A TLS client trusting the serving certificate, presenting a client certificate from `pki` if given.
    pub(super) fn client_config(&self, pki: Option<&Pki>) -> Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.serving_cert())? {
            roots.add(cert?)?;
        }
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match pki {
            Some(pki) => {
                let (chain, key) = pki.client_identity("kube-apiserver-kubelet-client")?;
                builder.with_client_auth_cert(chain, key)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    pub(super) async fn connect_with(&self, config: Arc<ClientConfig>) -> Result<Tls> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let name = ServerName::try_from("127.0.0.1")?.to_owned();
        Ok(TlsConnector::from(config).connect(name, tcp).await?)
    }

    pub(super) async fn connect(&self) -> Result<Tls> {
        self.connect_with(self.client_config(Some(&self.pki))?).await
    }

    /// Sends a GET over `tls` and returns the response head with its streaming body.
    pub(super) async fn request_on(&self, tls: Tls, path: &str) -> Result<Response<Incoming>> {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        let request =
            Request::get(path).header("host", format!("127.0.0.1:{}", self.port)).body(Empty::<Bytes>::new())?;
        Ok(sender.send_request(request).await?)
    }

    pub(super) async fn get_stream(&self, path: &str) -> Result<Response<Incoming>> {
        self.request_on(self.connect().await?, path).await
    }

    pub(super) async fn get(&self, path: &str) -> Result<(StatusCode, String)> {
        let response = self.get_stream(path).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    pub(super) async fn websocket(&self, path: &str, protocols: &str) -> Result<WebSocketStream<Tls>> {
        let mut request = format!("wss://127.0.0.1:{}{path}", self.port).into_client_request()?;
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_str(protocols)?);
        let (socket, response) = tokio_tungstenite::client_async(request, self.connect().await?).await?;
        let chosen = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !protocols.split(',').any(|p| p.trim() == chosen) {
            bail!("server chose websocket protocol {chosen:?}");
        }
        Ok(socket)
    }

    /// An HTTP/1.1 SPDY/3.1 upgrade; returns the connection after the 101 and the negotiated protocol.
    pub(super) async fn spdy_upgrade(&self, path: &str, protocols: &[&str]) -> Result<(Tls, String)> {
        let mut tls = self.connect().await?;
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n",
            self.port
        );
        for protocol in protocols {
            request.push_str(&format!("X-Stream-Protocol-Version: {protocol}\r\n"));
        }
        request.push_str("\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let byte = tls.read_u8().await.context("read upgrade response")?;
            head.push(byte);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        if !head.starts_with("HTTP/1.1 101") {
            bail!("upgrade refused: {head}");
        }
        let protocol = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("x-stream-protocol-version:").map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        Ok((tls, protocol))
    }
}
