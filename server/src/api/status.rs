//! The single mapping from the domain error to a gRPC status: the closed code
//! as `google.rpc.ErrorInfo` (reason = code, domain `agenttower`, metadata =
//! details) plus `agenttower.v1.ErrorDetail` carrying the same code as enum.
//! Internal causes go to the daemon log, never to the wire.

use prost::Message as _;
use tonic::{Code, Status};

use crate::error::Error;
use agenttower::pb;

/// ErrorInfo domain of every AgentTower error.
pub(crate) const DOMAIN: &str = "agenttower";

fn grpc_code(e: &Error) -> Code {
    match e {
        Error::Validation { .. } => Code::InvalidArgument,
        Error::HostOnly => Code::PermissionDenied,
        Error::NotImplemented { .. } => Code::Unimplemented,
        Error::Internal(_) => Code::Internal,
        Error::Stopping => Code::Unavailable,
        Error::ContainerNotFound { .. }
        | Error::TemplateNotFound { .. }
        | Error::LaunchCommandNotFound { .. }
        | Error::LayoutNotFound { .. }
        | Error::PaneNotFound { .. } => Code::NotFound,
        Error::SessionNameConflict { .. } | Error::LabelConflict { .. } => Code::AlreadyExists,
        Error::ProtectedAdopted { .. }
        | Error::IllegalTransition { .. }
        | Error::IllegalRecreateSource { .. }
        | Error::RecreateChainTooDeep { .. } => Code::FailedPrecondition,
        Error::ConcurrentRecreate { .. } => Code::Aborted,
        Error::CapacityExceeded { .. } => Code::ResourceExhausted,
    }
}

fn any(type_url: &str, value: Vec<u8>) -> prost_types::Any {
    prost_types::Any {
        type_url: type_url.to_string(),
        value,
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        if let Error::Internal(cause) = &e {
            tracing::error!(error = ?cause, "internal error");
        }
        let code = grpc_code(&e);
        let reason = e.code();
        let details = e.details();
        let info = tonic_types::pb::ErrorInfo {
            reason: reason.to_string(),
            domain: DOMAIN.to_string(),
            metadata: details.clone().into_iter().collect(),
        };
        let enum_code =
            pb::ErrorCode::from_str_name(&format!("ERROR_CODE_{}", reason.to_uppercase()))
                .unwrap_or(pb::ErrorCode::Unspecified);
        let detail = pb::ErrorDetail {
            code: enum_code as i32,
            details: details.into_iter().collect(),
        };
        let message = e.to_string();
        let status = tonic_types::pb::Status {
            code: code as i32,
            message: message.clone(),
            details: vec![
                any(
                    "type.googleapis.com/google.rpc.ErrorInfo",
                    info.encode_to_vec(),
                ),
                any(
                    "type.googleapis.com/agenttower.v1.ErrorDetail",
                    detail.encode_to_vec(),
                ),
            ],
        };
        Status::with_details(code, message, status.encode_to_vec().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_round_trips_through_the_client_decoder() {
        let status: Status = Error::PaneNotFound {
            pane_id: "p1".into(),
        }
        .into();
        assert_eq!(status.code(), Code::NotFound);
        let api = agenttower::client::api_error(&status).unwrap();
        assert_eq!(api.reason, "managed_pane_not_found");
        assert_eq!(api.code, pb::ErrorCode::ManagedPaneNotFound);
        assert_eq!(api.details["pane_id"], "p1");

        let status: Status = Error::internal(anyhow::anyhow!("disk I/O error at /secret")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
        assert!(
            agenttower::client::api_error(&status)
                .unwrap()
                .details
                .is_empty()
        );
    }
}
