//! Only clients with a certificate from the cluster CA are served.

use anyhow::Result;
use hyper::StatusCode;

use super::fixture::TestEnv;
use super::harness::{Pki, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_cluster_certificate_are_refused() -> Result<()> {
    let env = TestEnv::new("tls")?;
    let server = TestServer::start(env.runtime.clone()).await?;
    assert_eq!(server.get("/healthz").await?.0, StatusCode::OK);

    let anonymous = server.client_config(None)?;
    let result = async { server.request_on(server.connect_with(anonymous).await?, "/healthz").await }.await;
    assert!(result.is_err(), "anonymous client was served: {:?}", result.map(|r| r.status()));

    let stranger = Pki::new("other-ca")?;
    let foreign = server.client_config(Some(&stranger))?;
    let result = async { server.request_on(server.connect_with(foreign).await?, "/healthz").await }.await;
    assert!(result.is_err(), "client of another CA was served: {:?}", result.map(|r| r.status()));
    Ok(())
}
