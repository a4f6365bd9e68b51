//! `agents` queries.

use diesel::prelude::*;

use super::models::AgentRow;
use super::schema::agents as a;
use crate::domain::{Activity, ActivitySource, Origin};
use crate::error::Result;

/// Inserts an agent row.
pub(crate) fn insert(conn: &mut SqliteConnection, row: &AgentRow) -> QueryResult<usize> {
    diesel::insert_into(a::table).values(row).execute(conn)
}

/// One agent by id.
pub(crate) fn get(conn: &mut SqliteConnection, id: &str) -> Result<Option<AgentRow>> {
    Ok(a::table
        .find(id)
        .select(AgentRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks an agent unregistered with its log detached; the row stays.
pub(crate) fn unregister(conn: &mut SqliteConnection, id: &str) -> Result<()> {
    diesel::update(a::table.find(id))
        .set((
            a::registered.eq(false),
            a::log_attached.eq(false),
            a::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Filters of ListAgents.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentFilter {
    pub container_id: Option<String>,
    pub origin: Option<Origin>,
    pub include_unregistered: bool,
    /// Only agents in one of these activities; empty: all.
    pub activities: Vec<Activity>,
}

/// One page by agent id (time-ordered).
pub(crate) fn page(
    conn: &mut SqliteConnection,
    filter: &AgentFilter,
    after: Option<String>,
    limit: i64,
) -> Result<Vec<AgentRow>> {
    let mut q = a::table
        .select(AgentRow::as_select())
        .order(a::agent_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = &filter.container_id {
        q = q.filter(a::container_id.eq(c.clone()));
    }
    if let Some(o) = &filter.origin {
        q = q.filter(a::origin.eq(*o));
    }
    if !filter.include_unregistered {
        q = q.filter(a::registered.eq(true));
    }
    if !filter.activities.is_empty() {
        q = q.filter(a::activity.eq_any(filter.activities.clone()));
    }
    if let Some(after) = after {
        q = q.filter(a::agent_id.gt(after));
    }
    Ok(q.load(conn)?)
}

/// Registered agents of a container on one tmux server.
pub(crate) fn registered_on(
    conn: &mut SqliteConnection,
    container_id: &str,
    tmux_socket: &str,
) -> Result<Vec<AgentRow>> {
    Ok(a::table
        .filter(a::container_id.eq(container_id))
        .filter(a::tmux_socket.eq(tmux_socket))
        .filter(a::registered.eq(true))
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// Registered agents holding tmux pane `tmux_pane_id` on one tmux server
/// of a container.
pub(crate) fn holding(
    conn: &mut SqliteConnection,
    container_id: &str,
    tmux_socket: &str,
    tmux_pane_id: &str,
) -> Result<Vec<AgentRow>> {
    Ok(a::table
        .filter(a::container_id.eq(container_id))
        .filter(a::tmux_socket.eq(tmux_socket))
        .filter(a::tmux_pane_id.eq(tmux_pane_id))
        .filter(a::registered.eq(true))
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// Containers with registered agents of `origin`.
pub(crate) fn containers_with(conn: &mut SqliteConnection, origin: Origin) -> Result<Vec<String>> {
    Ok(a::table
        .filter(a::origin.eq(origin))
        .filter(a::registered.eq(true))
        .select(a::container_id)
        .distinct()
        .load(conn)?)
}

/// Registered agents of `origin` in a container.
pub(crate) fn of_container(
    conn: &mut SqliteConnection,
    container_id: &str,
    origin: Origin,
) -> Result<Vec<AgentRow>> {
    Ok(a::table
        .filter(a::container_id.eq(container_id))
        .filter(a::origin.eq(origin))
        .filter(a::registered.eq(true))
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// Agents by id (unknown ids are skipped).
pub(crate) fn by_ids(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<AgentRow>> {
    Ok(a::table
        .filter(a::agent_id.eq_any(ids))
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// The activity columns of one agent, as one change.
#[derive(Debug, Clone)]
pub(crate) struct ActivityChange {
    pub activity: Activity,
    pub source: ActivitySource,
    pub since: String,
    pub message: Option<String>,
    /// Set for a report; `None` keeps the last report time.
    pub reported_at: Option<String>,
}

/// Stores an agent's new activity.
pub(crate) fn set_activity(
    conn: &mut SqliteConnection,
    id: &str,
    change: &ActivityChange,
) -> Result<()> {
    diesel::update(a::table.find(id))
        .set((
            a::activity.eq(change.activity),
            a::activity_source.eq(Some(change.source)),
            a::activity_since.eq(Some(change.since.clone())),
            a::activity_message.eq(change.message.clone()),
            a::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    if let Some(at) = &change.reported_at {
        diesel::update(a::table.find(id))
            .set(a::reported_at.eq(Some(at.clone())))
            .execute(conn)?;
    }
    Ok(())
}

/// Records the pane process of agents whose tmux server reported it.
pub(crate) fn set_pane_pid(conn: &mut SqliteConnection, id: &str, pid: i32) -> Result<()> {
    diesel::update(a::table.find(id))
        .filter(a::pane_pid.is_null().or(a::pane_pid.ne(pid)))
        .set(a::pane_pid.eq(Some(pid)))
        .execute(conn)?;
    Ok(())
}

/// Registered agents of a container (every origin): the candidates a
/// report's caller is matched against.
pub(crate) fn registered_in(
    conn: &mut SqliteConnection,
    container_id: &str,
) -> Result<Vec<AgentRow>> {
    Ok(a::table
        .filter(a::container_id.eq(container_id))
        .filter(a::registered.eq(true))
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// Every registered agent with an attached log: what activity detection
/// reads.
pub(crate) fn with_logs(conn: &mut SqliteConnection) -> Result<Vec<AgentRow>> {
    Ok(a::table
        .filter(a::registered.eq(true))
        .filter(a::log_attached.eq(true))
        .filter(a::log_path.is_not_null())
        .select(AgentRow::as_select())
        .load(conn)?)
}

/// The agents behind `panes` (those registered to one), by agent id: what
/// an answer shows as each pane's activity, read with the panes.
pub(crate) fn of_panes(
    conn: &mut SqliteConnection,
    panes: &[super::models::PaneRow],
) -> Result<std::collections::HashMap<String, AgentRow>> {
    let ids: Vec<String> = panes.iter().filter_map(|p| p.agent_id.clone()).collect();
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    Ok(by_ids(conn, &ids)?
        .into_iter()
        .map(|a| (a.agent_id.clone(), a))
        .collect())
}
