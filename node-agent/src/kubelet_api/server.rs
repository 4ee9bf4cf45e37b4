//! The HTTPS listener: TLS with client certificates, HTTP/1.1 with upgrades, one task per connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::error::KubeletApiError;
use super::lookup::PodLookup;
use super::router::route;
use super::tls::server_config;
use super::Runtime;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct KubeletApiConfig {
    /// e.g. node IP:10250
    pub listen: SocketAddr,
    /// The cluster CA: only clients with a certificate it signed are served.
    pub client_ca_pem: String,
    /// Where the self-signed serving certificate and key are kept (created if missing, reused across restarts).
    pub serving_cert_dir: PathBuf,
    pub node_name: String,
}

/// What request handlers share.
pub(crate) struct ApiState {
    pub lookup: Arc<dyn PodLookup>,
    pub runtime: Arc<Runtime>,
}

/// Serves the kubelet API until the listener fails.
pub async fn serve(
    config: KubeletApiConfig,
    lookup: Arc<dyn PodLookup>,
    runtime: Arc<Runtime>,
) -> Result<(), KubeletApiError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| KubeletApiError::io(format!("bind {}", config.listen), e))?;
    serve_listener(listener, &config, lookup, runtime).await
}

/// Like [`serve`] on an already bound listener (its address is used for the certificate).
pub(crate) async fn serve_listener(
    listener: TcpListener,
    config: &KubeletApiConfig,
    lookup: Arc<dyn PodLookup>,
    runtime: Arc<Runtime>,
) -> Result<(), KubeletApiError> {
    let ip = listener.local_addr().map_err(|e| KubeletApiError::io("listener address", e))?.ip();
    let tls = server_config(&config.client_ca_pem, &config.serving_cert_dir, ip, &config.node_name)?;
    let acceptor = TlsAcceptor::from(tls);
    let state = Arc::new(ApiState { lookup, runtime });
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_transient(&e) => {
                tracing::warn!("kubelet API accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => return Err(KubeletApiError::io("accept", e)),
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!("kubelet API TLS handshake with {peer}: {e}");
                    return;
                }
                Err(_) => return,
            };
            let service = service_fn(move |req| route(state.clone(), req));
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!("kubelet API connection from {peer}: {e}");
            }
        });
    }
}

/// Accept errors that concern one connection or a momentary shortage, not the listener.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
        || matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
