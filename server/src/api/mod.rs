//! The gRPC surface on the Unix socket: both AgentTower services, the
//! standard health service and server reflection (v1 and v1alpha).

pub(crate) mod convert;
pub(crate) mod enums;
pub(crate) mod handlers;
pub(crate) mod peer;
pub(crate) mod reflection;
mod resolve;
pub(crate) mod status;

use std::future::Future;
use std::sync::Arc;

use agenttower::pb;
use tokio::net::UnixListener;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::UnixListenerStream;

use crate::service::Services;
use handlers::{Api, AppManagedSessions, ManagedSessions};

/// The agenttowerd release.
pub(crate) const DAEMON_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The wire package served.
pub(crate) const API_VERSION: &str = "agenttower.v1";

/// Response headers naming the daemon and API versions, on every answer
/// (health checks included), so any gRPC tool can see what it talks to.
fn with_versions<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers_mut();
    headers.insert(
        "agenttower-daemon-version",
        http::HeaderValue::from_static(DAEMON_VERSION),
    );
    headers.insert(
        "agenttower-api-version",
        http::HeaderValue::from_static(API_VERSION),
    );
    response
}

/// Serves every service on `listener` until `shutdown` resolves; in-flight
/// requests finish first.
pub(crate) async fn serve(
    svc: Arc<Services>,
    listener: UnixListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let api = Api::new(svc);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::managed_sessions_service_server::ManagedSessionsServiceServer<ManagedSessions>>()
        .await;
    health
        .set_serving::<pb::app_managed_sessions_service_server::AppManagedSessionsServiceServer<AppManagedSessions>>()
        .await;
    let reflection = reflection::Reflection::new(&reflection::DESCRIPTOR_SETS)?;

    tonic::transport::Server::builder()
        .layer(tower::util::MapResponseLayer::new(with_versions))
        .add_service(health_service)
        .add_service(reflection.v1())
        .add_service(reflection.v1alpha())
        .add_service(
            pb::managed_sessions_service_server::ManagedSessionsServiceServer::new(
                ManagedSessions(api.clone()),
            ),
        )
        .add_service(
            pb::app_managed_sessions_service_server::AppManagedSessionsServiceServer::new(
                AppManagedSessions(api),
            ),
        )
        .serve_with_incoming_shutdown(
            UnixListenerStream::new(listener).map(|conn| conn.map(peer::PeerStream::new)),
            shutdown,
        )
        .await?;
    Ok(())
}
