//! Row types of every table. Closed-set columns hold the domain enums, stored
//! as their spelling in `Text` columns (`domain::closed_sets!`); the CHECK
//! constraints keep other strings out.

use diesel::prelude::*;

use super::schema::*;
use crate::domain::{
    Activity, ActivitySource, Actor, ContainerState, EventPayload, EventType, FailedStage,
    LayoutState, Origin, PaneState, RuntimeKind,
};
use crate::error::{Error, Result};

/// `containers` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = containers, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct ContainerRow {
    pub id: String,
    pub name: String,
    pub runtime: RuntimeKind,
    pub state: ContainerState,
    pub user: Option<String>,
    pub labels: String,
    pub last_seen: String,
}

/// `agents` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agents, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct AgentRow {
    pub agent_id: String,
    pub container_id: String,
    pub tmux_socket: String,
    pub tmux_session: String,
    pub tmux_pane_id: String,
    pub role: String,
    pub capability: String,
    pub label: String,
    pub origin: Origin,
    pub registered: bool,
    pub log_path: Option<String>,
    pub log_attached: bool,
    pub created_at: String,
    pub updated_at: String,
    /// The tmux server instance (`#{pid}:#{start_time}`) its pane lives on;
    /// `None` for agents registered before it was recorded.
    pub tmux_server: Option<String>,
    /// What the agent is doing (docs/activity.md).
    pub activity: Activity,
    /// `None` while the activity is `unknown`.
    pub activity_source: Option<ActivitySource>,
    /// When the agent entered `activity`; `None` means since registration.
    pub activity_since: Option<String>,
    pub activity_message: Option<String>,
    /// The last ReportActivity: it outranks detection for the hold time.
    pub reported_at: Option<String>,
    /// `#{pane_pid}` as the pane's tmux server numbers it, when known.
    pub pane_pid: Option<i32>,
}

impl AgentRow {
    /// A newly registered agent of `origin`: activity `unknown`, nothing
    /// reported.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn registered(
        origin: Origin,
        container_id: String,
        tmux_socket: String,
        tmux_session: String,
        tmux_pane_id: String,
        tmux_server: String,
        pane_pid: Option<i32>,
    ) -> AgentRow {
        let now = super::now();
        AgentRow {
            agent_id: super::new_id(),
            container_id,
            tmux_socket,
            tmux_session,
            tmux_pane_id,
            role: String::new(),
            capability: String::new(),
            label: String::new(),
            origin,
            registered: true,
            log_path: None,
            log_attached: false,
            created_at: now.clone(),
            updated_at: now,
            tmux_server: Some(tmux_server),
            activity: Activity::Unknown,
            activity_source: None,
            activity_since: None,
            activity_message: None,
            reported_at: None,
            pane_pid,
        }
    }
}

/// `managed_layout` row (without the generated `state_rank`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = managed_layout, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct LayoutRow {
    pub id: String,
    pub container_id: String,
    pub template_name: String,
    pub tmux_session_name: String,
    pub intended_pane_count: i32,
    pub ready_pane_count: i32,
    pub state: LayoutState,
    pub failed_stage: Option<FailedStage>,
    pub idempotency_key: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `managed_pane` row (without the generated `state_rank`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = managed_pane, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct PaneRow {
    pub id: String,
    pub layout_id: String,
    pub container_id: String,
    pub agent_id: Option<String>,
    pub role: String,
    pub capability: String,
    pub label: String,
    pub launch_command_ref: Option<String>,
    pub tmux_session_name: String,
    pub tmux_pane_index: i32,
    pub tmux_pane_id: Option<String>,
    pub pending_marker_token: Option<String>,
    pub state: PaneState,
    pub failed_stage: Option<FailedStage>,
    pub failure_reason: Option<String>,
    pub predecessor_id: Option<String>,
    pub chain_depth: i32,
    pub log_path: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub recreate_idempotency_key: Option<String>,
}

/// `lifecycle_event` row.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = lifecycle_event, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct EventRow {
    pub sequence: i32,
    pub event_id: String,
    pub timestamp: String,
    pub event_type: EventType,
    pub layout_id: Option<String>,
    pub pane_id: Option<String>,
    pub container_id: Option<String>,
    pub actor: Actor,
    /// The payload's JSON as stored; read it with [`EventRow::payload`].
    #[serde(serialize_with = "raw_json")]
    pub payload: String,
}

impl EventRow {
    /// The typed payload (`internal_error` if the stored JSON does not fit
    /// the event type).
    pub(crate) fn payload(&self) -> Result<EventPayload> {
        EventPayload::parse(self.event_type, &self.payload).map_err(|e| {
            Error::internal(anyhow::anyhow!(
                "event {} ({}) has an unreadable payload: {e}",
                self.sequence,
                self.event_type
            ))
        })
    }
}

/// Writes the stored JSON payload as a nested object, not a string.
fn raw_json<S: serde::Serializer>(payload: &str, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    serde_json::from_str::<serde_json::Value>(payload)
        .unwrap_or(serde_json::Value::Null)
        .serialize(s)
}

/// `routes` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = routes, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct RouteRow {
    pub route_id: String,
    pub source_agent_id: String,
    pub target_agent_id: String,
    pub created_at: String,
}
