//! Row types of every table. States are stored as their closed-set strings;
//! the CHECK constraints guarantee they parse.

use diesel::prelude::*;

use super::schema::*;

/// `containers` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = containers, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct ContainerRow {
    pub id: String,
    pub name: String,
    pub runtime: String,
    pub state: String,
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
    pub origin: String,
    pub registered: bool,
    pub log_path: Option<String>,
    pub log_attached: bool,
    pub created_at: String,
    pub updated_at: String,
    /// The tmux server instance (`#{pid}:#{start_time}`) its pane lives on;
    /// `None` for agents registered before it was recorded.
    pub tmux_server: Option<String>,
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
    pub state: String,
    pub failed_stage: Option<String>,
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
    pub state: String,
    pub failed_stage: Option<String>,
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
    pub event_type: String,
    pub layout_id: Option<String>,
    pub pane_id: Option<String>,
    pub container_id: Option<String>,
    pub actor: String,
    #[serde(serialize_with = "raw_json")]
    pub payload: String,
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
