//! Typed payloads of lifecycle events (SPEC §12): one struct per event type,
//! mirroring the wire messages of `agenttower/v1/events.proto`, stored as
//! JSON (serde) in the `payload` TEXT column and written as is to
//! `events.jsonl`.
//!
//! The event type picks the payload struct (`EventPayload::parse`); nothing
//! is guessed from the JSON's shape. Payloads written by earlier versions
//! still parse: a key renamed since is accepted under its old name
//! (`#[serde(alias)]`), and a member that an earlier version did not write
//! takes its default (`#[serde(default)]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Activity, ActivitySource, EventType, ExitDetection, FailedStage, LayoutState, PaneState,
};

/// Declares `EventPayload` with one variant per `EventType`, each holding the
/// struct of the same name, and the exhaustive mappings between them.
macro_rules! event_payloads {
    ($($variant:ident),+ $(,)?) => {
        /// The payload of a lifecycle event; its variant is its event type.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub(crate) enum EventPayload {
            $($variant($variant)),+
        }

        impl EventPayload {
            /// The event type this payload belongs to.
            pub(crate) fn event_type(&self) -> EventType {
                match self {
                    $(EventPayload::$variant(_) => EventType::$variant),+
                }
            }

            /// Reads a stored payload of an event of `event_type`.
            pub(crate) fn parse(
                event_type: EventType,
                json: &str,
            ) -> Result<EventPayload, serde_json::Error> {
                Ok(match event_type {
                    $(EventType::$variant => EventPayload::$variant(serde_json::from_str(json)?)),+
                })
            }
        }

        $(
            impl From<$variant> for EventPayload {
                fn from(p: $variant) -> Self {
                    EventPayload::$variant(p)
                }
            }
        )+
    };
}

event_payloads!(
    LayoutCreated,
    LayoutStateChanged,
    PaneCreated,
    PaneStateChanged,
    PaneRecreated,
    PaneRemoved,
    PendingMarkerSet,
    PendingMarkerCleared,
    LaunchCommandExited,
    LogAttachFailed,
    RecoveryReattached,
    RecoveryFailed,
    AgentActivityChanged,
);

impl EventPayload {
    /// The JSON stored in the `payload` column.
    pub(crate) fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// `managed_layout_created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayoutCreated {
    pub template_name: String,
    pub tmux_session_name: String,
    pub intended_pane_count: u32,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `managed_layout_state_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LayoutStateChanged {
    #[serde(alias = "from")]
    pub from_state: LayoutState,
    #[serde(alias = "to")]
    pub to_state: LayoutState,
    #[serde(default)]
    pub failed_stage: Option<FailedStage>,
    pub ready_pane_count: u32,
    pub intended_pane_count: u32,
}

/// The launch command a pane was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ResolvedLaunch {
    /// Launch profile name (`shell` for the built-in).
    pub profile: String,
    /// Empty means the user's login shell.
    #[serde(default)]
    pub argv: Vec<String>,
    /// Secret-looking values already replaced (`events::redact_env`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub working_dir: Option<String>,
}

/// `managed_pane_created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PaneCreated {
    pub role: String,
    pub capability: String,
    pub label: String,
    pub tmux_pane_index: u32,
    pub launch: ResolvedLaunch,
}

/// `managed_pane_state_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PaneStateChanged {
    #[serde(alias = "from")]
    pub from_state: PaneState,
    #[serde(alias = "to")]
    pub to_state: PaneState,
    #[serde(default)]
    pub failed_stage: Option<FailedStage>,
    /// Why, in words; `None` for a plain progress step.
    #[serde(default)]
    pub reason: Option<String>,
    pub label: String,
}

/// `managed_pane_recreated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PaneRecreated {
    pub predecessor_id: String,
    pub chain_depth: u32,
    pub label: String,
}

/// `managed_pane_removed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PaneRemoved {
    pub label: String,
    #[serde(default)]
    pub tmux_pane_id: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub routes_deleted: u32,
    /// Why, in words ("removed by the operator", ...).
    #[serde(default)]
    pub reason: String,
}

/// `managed_pane_pending_marker_set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingMarkerSet {
    #[serde(default)]
    pub token: Option<String>,
    pub label: String,
}

/// `managed_pane_pending_marker_cleared`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingMarkerCleared {
    #[serde(default)]
    pub token: Option<String>,
    pub label: String,
}

/// `managed_pane_launch_command_exited`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LaunchCommandExited {
    /// `None` when tmux did not report a status.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// From the pane's start; `None` when the health watcher noticed it.
    #[serde(default)]
    pub elapsed_ms: Option<u64>,
    /// Payloads written before this was recorded are the settle probe's.
    #[serde(default = "detected_before_it_was_recorded")]
    pub detected_by: ExitDetection,
    /// The profile and argv, when the settle probe noticed it.
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub argv: Vec<String>,
}

fn detected_before_it_was_recorded() -> ExitDetection {
    ExitDetection::SettleProbe
}

/// `managed_pane_log_attach_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogAttachFailed {
    pub reason: String,
    /// Host path of the log that could not be attached, when known.
    #[serde(default)]
    pub log_path: Option<String>,
}

/// `managed_layout_recovery_reattached`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RecoveryReattached {
    pub label: String,
    #[serde(default)]
    pub tmux_pane_id: Option<String>,
    /// The pane's state as found at boot.
    pub state: PaneState,
}

/// `managed_layout_recovery_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RecoveryFailed {
    pub label: String,
    #[serde(default)]
    pub tmux_pane_id: Option<String>,
}

/// `agent_activity_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AgentActivityChanged {
    pub agent_id: String,
    pub label: String,
    pub from_activity: Activity,
    pub to_activity: Activity,
    pub source: ActivitySource,
    #[serde(default)]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: EventType, json: &str) -> EventPayload {
        let p = EventPayload::parse(t, json).unwrap_or_else(|e| panic!("{t}: {e}: {json}"));
        assert_eq!(p.event_type(), t);
        p
    }

    /// Payloads as the previous version wrote them (the `payload` members of
    /// `tests/fixtures/db-8a4b631/events.jsonl`, and the shapes of its
    /// `json!` sites for types the fixture lacks).
    #[test]
    fn payloads_of_the_previous_version_parse() {
        assert_eq!(
            parse(
                EventType::LayoutCreated,
                r#"{"idempotency_key":null,"intended_pane_count":3,"template_name":"1m+2s","tmux_session_name":"upgrade"}"#
            ),
            EventPayload::LayoutCreated(LayoutCreated {
                template_name: "1m+2s".into(),
                tmux_session_name: "upgrade".into(),
                intended_pane_count: 3,
                idempotency_key: None,
            })
        );
        assert_eq!(
            parse(
                EventType::PaneCreated,
                r#"{"capability":"orchestrator","label":"upgrade.m1","launch":{"argv":[],"env":{},"profile":"shell","working_dir":null},"role":"master","tmux_pane_index":0}"#
            ),
            EventPayload::PaneCreated(PaneCreated {
                role: "master".into(),
                capability: "orchestrator".into(),
                label: "upgrade.m1".into(),
                tmux_pane_index: 0,
                launch: ResolvedLaunch {
                    profile: "shell".into(),
                    argv: vec![],
                    env: BTreeMap::new(),
                    working_dir: None,
                },
            })
        );
        assert_eq!(
            parse(
                EventType::PendingMarkerSet,
                r#"{"label":"upgrade.m1","token":"5166d61639914c988075f1a54a3ec140"}"#
            ),
            EventPayload::PendingMarkerSet(PendingMarkerSet {
                token: Some("5166d61639914c988075f1a54a3ec140".into()),
                label: "upgrade.m1".into(),
            })
        );
        assert_eq!(
            parse(
                EventType::PendingMarkerCleared,
                r#"{"label":"upgrade.m1","token":"5166d61639914c988075f1a54a3ec140"}"#
            ),
            EventPayload::PendingMarkerCleared(PendingMarkerCleared {
                token: Some("5166d61639914c988075f1a54a3ec140".into()),
                label: "upgrade.m1".into(),
            })
        );
        assert_eq!(
            parse(
                EventType::PaneStateChanged,
                r#"{"failed_stage":null,"from":"creating","label":"upgrade.m1","reason":null,"to":"ready"}"#
            ),
            EventPayload::PaneStateChanged(PaneStateChanged {
                from_state: PaneState::Creating,
                to_state: PaneState::Ready,
                failed_stage: None,
                reason: None,
                label: "upgrade.m1".into(),
            })
        );
        assert_eq!(
            parse(
                EventType::LayoutStateChanged,
                r#"{"failed_stage":null,"from":"creating","intended_pane_count":3,"ready_pane_count":3,"to":"ready"}"#
            ),
            EventPayload::LayoutStateChanged(LayoutStateChanged {
                from_state: PaneState::Creating,
                to_state: PaneState::Ready,
                failed_stage: None,
                ready_pane_count: 3,
                intended_pane_count: 3,
            })
        );
        assert_eq!(
            parse(
                EventType::PaneRemoved,
                r#"{"agent_id":"01a203e7-e318-705c-adbd-6cd820534c5a","label":"upgrade.s1","reason":"removed by the operator","routes_deleted":0,"tmux_pane_id":"%1"}"#
            ),
            EventPayload::PaneRemoved(PaneRemoved {
                label: "upgrade.s1".into(),
                tmux_pane_id: Some("%1".into()),
                agent_id: Some("01a203e7-e318-705c-adbd-6cd820534c5a".into()),
                routes_deleted: 0,
                reason: "removed by the operator".into(),
            })
        );
        assert_eq!(
            parse(
                EventType::PaneRecreated,
                r#"{"chain_depth":1,"label":"upgrade.s1","predecessor_id":"01a203e7-df05-72b5-9fd5-63680f726c4c"}"#
            ),
            EventPayload::PaneRecreated(PaneRecreated {
                predecessor_id: "01a203e7-df05-72b5-9fd5-63680f726c4c".into(),
                chain_depth: 1,
                label: "upgrade.s1".into(),
            })
        );
    }

    /// Shapes the previous version wrote for types the fixture lacks.
    #[test]
    fn older_shapes_without_a_fixture_line_parse() {
        // The settle probe wrote no `detected_by`.
        assert_eq!(
            parse(
                EventType::LaunchCommandExited,
                r#"{"argv":["false"],"elapsed_ms":120,"exit_code":1,"profile":"fails"}"#
            ),
            EventPayload::LaunchCommandExited(LaunchCommandExited {
                exit_code: Some(1),
                elapsed_ms: Some(120),
                detected_by: ExitDetection::SettleProbe,
                profile: Some("fails".into()),
                argv: vec!["false".into()],
            })
        );
        // The health watcher wrote neither elapsed time nor profile.
        assert_eq!(
            parse(
                EventType::LaunchCommandExited,
                r#"{"detected_by":"health_watcher","exit_code":null}"#
            ),
            EventPayload::LaunchCommandExited(LaunchCommandExited {
                exit_code: None,
                elapsed_ms: None,
                detected_by: ExitDetection::HealthWatcher,
                profile: None,
                argv: vec![],
            })
        );
        assert_eq!(
            parse(
                EventType::LogAttachFailed,
                r#"{"log_path":null,"reason":"cannot open the log"}"#
            ),
            EventPayload::LogAttachFailed(LogAttachFailed {
                reason: "cannot open the log".into(),
                log_path: None,
            })
        );
        assert_eq!(
            parse(
                EventType::RecoveryReattached,
                r#"{"label":"w.m1","state":"degraded","tmux_pane_id":"%3"}"#
            ),
            EventPayload::RecoveryReattached(RecoveryReattached {
                label: "w.m1".into(),
                tmux_pane_id: Some("%3".into()),
                state: PaneState::Degraded,
            })
        );
        assert_eq!(
            parse(
                EventType::RecoveryFailed,
                r#"{"label":"w.m1","tmux_pane_id":null}"#
            ),
            EventPayload::RecoveryFailed(RecoveryFailed {
                label: "w.m1".into(),
                tmux_pane_id: None,
            })
        );
    }

    /// Every event of the previous version's fixture database parses as its
    /// event type.
    #[test]
    fn every_event_of_the_previous_version_fixture_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/db-8a4b631/events.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut types = std::collections::BTreeSet::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t: EventType = serde_json::from_value(v["event_type"].clone()).unwrap();
            parse(t, &v["payload"].to_string());
            types.insert(t.as_str());
        }
        assert!(types.len() >= 8, "{types:?}");
    }

    #[test]
    fn new_payloads_round_trip_and_bad_ones_are_errors() {
        let p = EventPayload::from(PaneStateChanged {
            from_state: PaneState::Ready,
            to_state: PaneState::Degraded,
            failed_stage: Some(FailedStage::LaunchCommand),
            reason: Some("exited".into()),
            label: "w.m1".into(),
        });
        let json = p.to_json().unwrap();
        assert!(json.contains(r#""from_state":"ready""#), "{json}");
        assert!(
            json.contains(r#""failed_stage":"launch_command""#),
            "{json}"
        );
        assert_eq!(
            EventPayload::parse(EventType::PaneStateChanged, &json).unwrap(),
            p
        );
        // An unknown state is an error, as is a payload of another type.
        assert!(
            EventPayload::parse(
                EventType::PaneStateChanged,
                r#"{"from":"bogus","to":"ready","label":"x"}"#
            )
            .is_err()
        );
        assert!(EventPayload::parse(EventType::PaneRecreated, &json).is_err());
    }
}
