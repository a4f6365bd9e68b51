//! The one domain error type. Every variant is a closed-set code of SPEC §11;
//! `api::status` turns it into a gRPC status in exactly one place.

use std::collections::BTreeMap;

use crate::domain::NameKind;

/// A failure the API reports to its caller. Some codes are only raised by
/// methods whose issues have not landed yet; they are part of the closed set
/// of the wire contract already.
#[allow(dead_code)]
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("validation failed for {field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("this call is only allowed from the host")]
    HostOnly,
    #[error("not implemented (reserved since {reserved_since})")]
    NotImplemented { reserved_since: String },
    #[error("the daemon is stopping")]
    Stopping,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    #[error("container {container_id} not found")]
    ContainerNotFound { container_id: String },
    #[error("template {template_name} not found")]
    TemplateNotFound {
        template_name: String,
        known_templates: Vec<String>,
    },
    #[error("launch profile {profile_name} not found")]
    LaunchCommandNotFound {
        profile_name: String,
        known_profiles: Vec<String>,
    },
    #[error("layout {layout_id} not found")]
    LayoutNotFound { layout_id: String },
    #[error("pane {pane_id} not found")]
    PaneNotFound { pane_id: String },
    #[error("tmux session {tmux_session_name} already exists in {container_id}")]
    SessionNameConflict {
        container_id: String,
        tmux_session_name: String,
    },
    #[error("label {label} is already used by a live pane in {container_id}")]
    LabelConflict { container_id: String, label: String },
    #[error("agent {agent_id} is adopted; the daemon never touches panes it did not create")]
    ProtectedAdopted { agent_id: String },
    #[error("pane {pane_id} is {current_state}; cannot {requested_action}")]
    IllegalTransition {
        pane_id: String,
        current_state: String,
        requested_action: String,
    },
    #[error(
        "pane {predecessor_pane_id} is {current_state}; only removed or failed panes can be recreated"
    )]
    IllegalRecreateSource {
        predecessor_pane_id: String,
        current_state: String,
    },
    #[error(
        "pane {predecessor_pane_id} is at chain depth {predecessor_chain_depth}; the limit is {limit}"
    )]
    RecreateChainTooDeep {
        predecessor_pane_id: String,
        predecessor_chain_depth: u32,
        limit: u32,
    },
    #[error(
        "pane {predecessor_pane_id} already has a live successor {in_flight_successor_pane_id}"
    )]
    ConcurrentRecreate {
        predecessor_pane_id: String,
        in_flight_successor_pane_id: String,
    },
    #[error("{current_count} live layouts; the limit is {limit}")]
    CapacityExceeded { current_count: u32, limit: u32 },
    #[error(
        "the calling process is not inside a registered agent's pane; run it from the agent's pane"
    )]
    NotInAgentPane,
    #[error("no {kind} named {name:?}")]
    NameNotFound { kind: NameKind, name: String },
    #[error("{name:?} names more than one {kind}: {}", Candidate::list(candidates, *more))]
    NameAmbiguous {
        kind: NameKind,
        name: String,
        /// The first few, by id.
        candidates: Vec<Candidate>,
        /// Whether more matched than are listed.
        more: bool,
    },
}

/// One of the objects an ambiguous name matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Its name qualified by its container's (`c1:work`), or its id when it
    /// has no name (a route).
    pub name: String,
    pub id: String,
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts.collect::<Vec<_>>().join(",")
}

impl Candidate {
    fn list(all: &[Candidate], more: bool) -> String {
        let mut names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        if more {
            names.push("…");
        }
        names.join(", ")
    }
}

/// Result alias for domain operations.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `validation_failed` naming `field`.
    pub(crate) fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// `internal_error` with the cause kept for the daemon log only.
    pub(crate) fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error::Internal(cause.into())
    }

    /// The closed-set code string.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Error::Validation { .. } => "validation_failed",
            Error::HostOnly => "host_only",
            Error::NotImplemented { .. } => "not_implemented",
            Error::Internal(_) => "internal_error",
            Error::Stopping => "daemon_unavailable",
            Error::ContainerNotFound { .. } => "container_not_found",
            Error::TemplateNotFound { .. } => "managed_template_not_found",
            Error::LaunchCommandNotFound { .. } => "managed_launch_command_not_found",
            Error::LayoutNotFound { .. } => "managed_layout_not_found",
            Error::PaneNotFound { .. } => "managed_pane_not_found",
            Error::SessionNameConflict { .. } => "managed_session_name_conflict",
            Error::LabelConflict { .. } => "managed_pane_label_conflict",
            Error::ProtectedAdopted { .. } => "managed_pane_protected_adopted",
            Error::IllegalTransition { .. } => "managed_pane_illegal_transition",
            Error::IllegalRecreateSource { .. } => "managed_pane_illegal_recreate_source",
            Error::RecreateChainTooDeep { .. } => "managed_pane_recreate_chain_too_deep",
            Error::ConcurrentRecreate { .. } => "managed_pane_concurrent_recreate",
            Error::CapacityExceeded { .. } => "managed_layout_capacity_exceeded",
            Error::NotInAgentPane => "caller_not_in_agent_pane",
            Error::NameNotFound { .. } => "name_not_found",
            Error::NameAmbiguous { .. } => "name_ambiguous",
        }
    }

    /// The code's details (SPEC §11), as ErrorInfo metadata.
    pub(crate) fn details(&self) -> BTreeMap<String, String> {
        let pairs: Vec<(&str, String)> = match self {
            Error::Validation { field, reason } => {
                vec![("field", field.clone()), ("reason", reason.clone())]
            }
            Error::HostOnly | Error::Internal(_) | Error::Stopping | Error::NotInAgentPane => {
                vec![]
            }
            Error::NotImplemented { reserved_since } => {
                vec![("reserved_since", reserved_since.clone())]
            }
            Error::ContainerNotFound { container_id } => {
                vec![("container_id", container_id.clone())]
            }
            Error::TemplateNotFound {
                template_name,
                known_templates,
            } => vec![
                ("template_name", template_name.clone()),
                ("known_templates", known_templates.join(",")),
            ],
            Error::LaunchCommandNotFound {
                profile_name,
                known_profiles,
            } => vec![
                ("profile_name", profile_name.clone()),
                ("known_profiles", known_profiles.join(",")),
            ],
            Error::LayoutNotFound { layout_id } => vec![("layout_id", layout_id.clone())],
            Error::PaneNotFound { pane_id } => vec![("pane_id", pane_id.clone())],
            Error::SessionNameConflict {
                container_id,
                tmux_session_name,
            } => vec![
                ("container_id", container_id.clone()),
                ("tmux_session_name", tmux_session_name.clone()),
            ],
            Error::LabelConflict {
                container_id,
                label,
            } => vec![
                ("container_id", container_id.clone()),
                ("label", label.clone()),
            ],
            Error::ProtectedAdopted { agent_id } => vec![
                ("agent_id", agent_id.clone()),
                ("is_adopted", "true".to_string()),
            ],
            Error::IllegalTransition {
                pane_id,
                current_state,
                requested_action,
            } => vec![
                ("pane_id", pane_id.clone()),
                ("current_state", current_state.clone()),
                ("requested_action", requested_action.clone()),
            ],
            Error::IllegalRecreateSource {
                predecessor_pane_id,
                current_state,
            } => vec![
                ("predecessor_pane_id", predecessor_pane_id.clone()),
                ("current_state", current_state.clone()),
            ],
            Error::RecreateChainTooDeep {
                predecessor_pane_id,
                predecessor_chain_depth,
                limit,
            } => vec![
                ("predecessor_pane_id", predecessor_pane_id.clone()),
                (
                    "predecessor_chain_depth",
                    predecessor_chain_depth.to_string(),
                ),
                ("limit", limit.to_string()),
            ],
            Error::ConcurrentRecreate {
                predecessor_pane_id,
                in_flight_successor_pane_id,
            } => vec![
                ("predecessor_pane_id", predecessor_pane_id.clone()),
                (
                    "in_flight_successor_pane_id",
                    in_flight_successor_pane_id.clone(),
                ),
            ],
            Error::CapacityExceeded {
                current_count,
                limit,
            } => vec![
                ("current_count", current_count.to_string()),
                ("limit", limit.to_string()),
            ],
            Error::NameNotFound { kind, name } => {
                vec![("kind", kind.to_string()), ("name", name.clone())]
            }
            Error::NameAmbiguous {
                kind,
                name,
                candidates,
                ..
            } => vec![
                ("kind", kind.to_string()),
                ("name", name.clone()),
                (
                    "candidates",
                    join(candidates.iter().map(|c| c.name.as_str())),
                ),
                (
                    "candidate_ids",
                    join(candidates.iter().map(|c| c.id.as_str())),
                ),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::internal(e)
    }
}
