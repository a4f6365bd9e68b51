//! Connecting to `agenttowerd` over its Unix socket, and reading the closed-set
//! error code back out of a failed call.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use agenttower::{client, pb};
//!
//! // The same default socket as the daemon: $AGENTTOWER_SOCKET, else the
//! // state directory's agenttowerd.sock.
//! let mut c = client::open_default().await?;
//! let version = c.managed.get_version(pb::GetVersionRequest {}).await?.into_inner();
//! println!("agenttowerd {} speaks {}", version.daemon_version, version.api_version);
//!
//! let bogus = pb::GetPaneRequest { pane_id: "nope".into(), ..Default::default() };
//! if let Err(status) = c.managed.get_pane(bogus).await {
//!     let e = client::api_error(&status).expect("a closed-set error");
//!     assert_eq!(e.reason, "managed_pane_not_found");
//!     assert_eq!(e.details["pane_id"], "nope");
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::names::ShortName as _;
use crate::pb::{self, ErrorCode};

/// The daemon could not be reached on its socket (`daemon_unavailable`).
#[derive(Debug, thiserror::Error)]
#[error("daemon_unavailable: no agenttowerd answers on {}: {source}", socket.display())]
pub struct DaemonUnavailable {
    /// The socket path that was tried.
    pub socket: PathBuf,
    /// What went wrong while connecting.
    #[source]
    pub source: tonic::transport::Error,
}

/// Opens a channel to the daemon listening on `socket`.
pub async fn connect(socket: impl AsRef<Path>) -> Result<Channel, DaemonUnavailable> {
    connect_with(socket, endpoint()).await
}

/// The endpoint `connect` uses; tune it (timeouts, HTTP/2 windows) and pass
/// it to `connect_with`. Its URI is required by tonic but never used.
pub fn endpoint() -> Endpoint {
    Endpoint::from_static("http://agenttowerd")
}

/// Opens a channel to the daemon on `socket` with a tuned `endpoint`.
pub async fn connect_with(
    socket: impl AsRef<Path>,
    endpoint: Endpoint,
) -> Result<Channel, DaemonUnavailable> {
    let socket = socket.as_ref().to_path_buf();
    let path = socket.clone();
    endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|source| DaemonUnavailable { socket, source })
}

/// Opens a channel to the daemon at the default socket path.
pub async fn connect_default() -> Result<Channel, DaemonUnavailable> {
    connect(crate::paths::socket_path()).await
}

/// Typed clients for every service, sharing one connection (cheap to clone).
#[derive(Debug, Clone)]
pub struct Clients {
    /// `ManagedSessionsService`: host and bench-container callers.
    pub managed: ManagedSessionsServiceClient,
    /// `AppManagedSessionsService`: the app bridge's host-only surface.
    pub app: AppManagedSessionsServiceClient,
    /// The standard gRPC health service.
    pub health: tonic_health::pb::health_client::HealthClient<Channel>,
}

impl Clients {
    /// Wraps an open channel.
    pub fn new(channel: Channel) -> Self {
        Clients {
            managed: ManagedSessionsServiceClient::new(channel.clone()),
            app: AppManagedSessionsServiceClient::new(channel.clone()),
            health: tonic_health::pb::health_client::HealthClient::new(channel),
        }
    }
}

/// Connects to the daemon on `socket` and returns a client for every service.
pub async fn open(socket: impl AsRef<Path>) -> Result<Clients, DaemonUnavailable> {
    Ok(Clients::new(connect(socket).await?))
}

/// `open` on the default socket path, resolved exactly as the daemon does.
pub async fn open_default() -> Result<Clients, DaemonUnavailable> {
    open(crate::paths::socket_path()).await
}

/// Typed client for the `ManagedSessionsService` service.
pub type ManagedSessionsServiceClient =
    pb::managed_sessions_service_client::ManagedSessionsServiceClient<Channel>;
/// Typed client for the host-only `AppManagedSessionsService` service.
pub type AppManagedSessionsServiceClient =
    pb::app_managed_sessions_service_client::AppManagedSessionsServiceClient<Channel>;

/// What `name` names among objects of `kind` (a session name, a label,
/// `c1:work`, an id or a unique id prefix), as the daemon resolves it
/// (`ResolveName`, docs/api.md "Names").
pub async fn resolve_name(
    c: &mut ManagedSessionsServiceClient,
    kind: pb::NameKind,
    name: &str,
) -> Result<pb::ResolveNameResponse, tonic::Status> {
    Ok(c.resolve_name(pb::ResolveNameRequest {
        kind: kind as i32,
        name: name.to_string(),
    })
    .await?
    .into_inner())
}

/// The closed-set error carried by a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The machine code, e.g. `managed_pane_not_found`.
    pub reason: String,
    /// The same code as the proto enum (`Unspecified` if the daemon is newer).
    pub code: ErrorCode,
    /// The code's details (SPEC §11).
    pub details: BTreeMap<String, String>,
    /// The human message.
    pub message: String,
}

const ERROR_INFO_TYPE: &str = "type.googleapis.com/google.rpc.ErrorInfo";

/// Extracts the closed-set error of a status; `None` when it carries none
/// (for example a transport failure before the daemon answered).
pub fn api_error(status: &tonic::Status) -> Option<ApiError> {
    let rpc = tonic_types::pb::Status::decode(status.details()).ok()?;
    let info = rpc
        .details
        .iter()
        .find(|any| any.type_url == ERROR_INFO_TYPE)
        .and_then(|any| tonic_types::pb::ErrorInfo::decode(any.value.as_slice()).ok())?;
    Some(ApiError {
        code: ErrorCode::from_short_name(&info.reason).unwrap_or(ErrorCode::Unspecified),
        reason: info.reason,
        details: info.metadata.into_iter().collect(),
        message: status.message().to_string(),
    })
}

impl std::fmt::Display for ApiError {
    /// `code: message (key=value, ...)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)?;
        if !self.details.is_empty() {
            let details: Vec<String> = self
                .details
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The wire name of an error code, e.g. `managed_pane_not_found`.
pub fn error_code_name(code: ErrorCode) -> String {
    code.short_name()
}
