//! The status every AgentTower error travels in, built in one place for the
//! daemon's domain errors and for requests its codec cannot decode: the
//! closed code as `google.rpc.ErrorInfo` (reason = the short name of an
//! `agenttower.v1.ErrorCode`, domain `agenttower`, metadata = details).
//! `client::api_error` reads it back. Nothing else rides along: the ErrorInfo
//! is the one copy of the code (docs/api.md, "Errors").
//!
//! Every echoed text is bounded: the message and each detail value are cut
//! to [`MAX_ECHO_BYTES`], so an answer cannot grow with its request (a huge
//! value would otherwise overflow the HTTP/2 header limit and arrive as
//! RESOURCE_EXHAUSTED without any details).

use prost::Message as _;
use tonic::{Code, Status};

/// ErrorInfo domain of every AgentTower error.
pub const DOMAIN: &str = "agenttower";

/// Longest message or detail value an error carries, in bytes.
pub const MAX_ECHO_BYTES: usize = 256;

/// Marks a value cut to [`MAX_ECHO_BYTES`].
const CUT: &str = "…";

/// `s` if it fits in [`MAX_ECHO_BYTES`], else its longest prefix that ends on
/// a character boundary and leaves room for a trailing `…`.
pub fn bounded(s: &str) -> String {
    if s.len() <= MAX_ECHO_BYTES {
        return s.to_string();
    }
    let mut end = MAX_ECHO_BYTES - CUT.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT}", &s[..end])
}

/// A status with gRPC `code` carrying the closed-set `reason` (e.g.
/// `validation_failed`) and its details, every value bounded.
pub fn error_status(
    code: Code,
    reason: &str,
    message: &str,
    details: impl IntoIterator<Item = (String, String)>,
) -> Status {
    let details: Vec<(String, String)> = details
        .into_iter()
        .map(|(k, v)| (bounded(&k), bounded(&v)))
        .collect();
    let info = tonic_types::pb::ErrorInfo {
        reason: reason.to_string(),
        domain: DOMAIN.to_string(),
        metadata: details.iter().cloned().collect(),
    };
    let message = bounded(message);
    let any = |type_url: &str, value: Vec<u8>| prost_types::Any {
        type_url: type_url.to_string(),
        value,
    };
    let status = tonic_types::pb::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![any(
            "type.googleapis.com/google.rpc.ErrorInfo",
            info.encode_to_vec(),
        )],
    };
    Status::with_details(code, message, status.encode_to_vec().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_on_a_char_boundary_with_a_marker() {
        assert_eq!(bounded("short"), "short");
        let exact = "x".repeat(MAX_ECHO_BYTES);
        assert_eq!(bounded(&exact), exact);
        // Three-byte characters never split.
        let cut = bounded(&"€".repeat(MAX_ECHO_BYTES));
        assert!(cut.len() <= MAX_ECHO_BYTES && cut.ends_with(CUT), "{cut}");
        assert!(cut.trim_end_matches(CUT).chars().all(|c| c == '€'));
    }

    #[test]
    fn the_status_round_trips_through_the_client_decoder_bounded() {
        let huge = "k".repeat(1 << 20);
        let status = error_status(
            Code::InvalidArgument,
            "validation_failed",
            &format!("validation failed for x: key {huge:?}"),
            [
                ("field".to_string(), "x".to_string()),
                ("reason".to_string(), huge.clone()),
            ],
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().len() <= MAX_ECHO_BYTES);
        assert!(status.details().len() < 4 * MAX_ECHO_BYTES);
        let api = crate::client::api_error(&status).unwrap();
        assert_eq!(api.code, crate::pb::ErrorCode::ValidationFailed);
        assert_eq!(api.details["field"], "x");
        assert_eq!(api.details["reason"], bounded(&huge));
    }
}
