use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KubeletApiError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("client CA: {0}")]
    ClientCa(String),
    #[error("serving certificate in {dir}: {message}")]
    ServingCert { dir: PathBuf, message: String },
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

impl KubeletApiError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        KubeletApiError::Io { context: context.into(), source }
    }
}
