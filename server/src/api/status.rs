//! The single mapping from the domain error to a gRPC status: the closed code
//! as `google.rpc.ErrorInfo` (reason = code, domain `agenttower`, metadata =
//! details) plus `agenttower.v1.ErrorDetail` carrying the same code as enum,
//! built by `agenttower::status`, which bounds every echoed value. Internal
//! causes go to the daemon log, never to the wire.

use tonic::{Code, Status};

use crate::error::Error;

fn grpc_code(e: &Error) -> Code {
    match e {
        Error::Validation { .. } => Code::InvalidArgument,
        Error::HostOnly | Error::NotInAgentPane => Code::PermissionDenied,
        Error::NotImplemented { .. } => Code::Unimplemented,
        Error::Internal(_) => Code::Internal,
        Error::Stopping => Code::Unavailable,
        Error::ContainerNotFound { .. }
        | Error::TemplateNotFound { .. }
        | Error::LaunchCommandNotFound { .. }
        | Error::LayoutNotFound { .. }
        | Error::PaneNotFound { .. }
        | Error::NameNotFound { .. } => Code::NotFound,
        Error::SessionNameConflict { .. } | Error::LabelConflict { .. } => Code::AlreadyExists,
        Error::ProtectedAdopted { .. }
        | Error::IllegalTransition { .. }
        | Error::IllegalRecreateSource { .. }
        | Error::RecreateChainTooDeep { .. }
        | Error::NameAmbiguous { .. } => Code::FailedPrecondition,
        Error::ConcurrentRecreate { .. } => Code::Aborted,
        Error::CapacityExceeded { .. } => Code::ResourceExhausted,
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        if let Error::Internal(cause) = &e {
            tracing::error!(error = ?cause, "internal error");
        }
        agenttower::status::error_status(grpc_code(&e), e.code(), &e.to_string(), e.details())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agenttower::pb;
    use agenttower::status::MAX_ECHO_BYTES;

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

    #[test]
    fn echoed_values_are_bounded_whatever_the_input() {
        let key = "k".repeat(1 << 20);
        let status: Status = Error::validation(
            "launch_command_overrides",
            format!("key {key:?} is not of the form role:label"),
        )
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().len() <= MAX_ECHO_BYTES);
        let api = agenttower::client::api_error(&status).unwrap();
        assert_eq!(api.reason, "validation_failed");
        assert_eq!(api.details["field"], "launch_command_overrides");
        assert!(api.details["reason"].starts_with("key \"kkk"));
        assert!(api.details.values().all(|v| v.len() <= MAX_ECHO_BYTES));
    }
}
