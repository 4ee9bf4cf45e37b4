//! A kube-rs client for the agent's own credentials.

use anyhow::{Context, Result};
use base64::Engine;

/// Connect to `server` trusting `ca_pem`, authenticating with `token`.
pub async fn connect(server: &str, ca_pem: &str, token: &str) -> Result<kube::Client> {
    // An in-memory kubeconfig is the one public way to give kube-rs a CA
    // bundle and a token together.
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "keel", "cluster": {
            "server": server,
            "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode(ca_pem),
        }}],
        "users": [{"name": "node", "user": {"token": token}}],
        "contexts": [{"name": "keel", "context": {"cluster": "keel", "user": "node"}}],
        "current-context": "keel",
    });
    let kc: kube::config::Kubeconfig = serde_json::from_value(kubeconfig).context("building the agent's kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .context("configuring the API client")?;
    kube::Client::try_from(config).context("creating the API client")
}
