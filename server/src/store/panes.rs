//! `managed_pane` queries.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use super::models::PaneRow;
use super::schema::managed_pane as p;
use crate::domain::{FailedStage, PaneState};
use crate::error::Result;

/// Inserts new pane rows.
pub(crate) fn insert(conn: &mut SqliteConnection, rows: &[PaneRow]) -> QueryResult<usize> {
    diesel::insert_into(p::table).values(rows).execute(conn)
}

/// One pane by id.
pub(crate) fn get(conn: &mut SqliteConnection, id: &str) -> Result<Option<PaneRow>> {
    Ok(p::table
        .find(id)
        .select(PaneRow::as_select())
        .first(conn)
        .optional()?)
}

/// The panes with these ids (in chunks, so any number of ids stays under
/// SQLite's variable limit).
pub(crate) fn by_ids(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<PaneRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            p::table
                .filter(p::id.eq_any(chunk))
                .select(PaneRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// A layout's panes in slot order (successors after their predecessors).
pub(crate) fn for_layout(conn: &mut SqliteConnection, layout_id: &str) -> Result<Vec<PaneRow>> {
    Ok(p::table
        .filter(p::layout_id.eq(layout_id))
        .select(PaneRow::as_select())
        .order((p::tmux_pane_index.asc(), p::chain_depth.asc(), p::id.asc()))
        .load(conn)?)
}

/// The successors of a pane, newest first.
pub(crate) fn successors(conn: &mut SqliteConnection, predecessor: &str) -> Result<Vec<PaneRow>> {
    Ok(p::table
        .filter(p::predecessor_id.eq(predecessor))
        .select(PaneRow::as_select())
        .order(p::id.desc())
        .load(conn)?)
}

/// Panes of a container in the given states.
pub(crate) fn of_container_in(
    conn: &mut SqliteConnection,
    container_id: &str,
    states: &[PaneState],
) -> Result<Vec<PaneRow>> {
    Ok(p::table
        .filter(p::container_id.eq(container_id))
        .filter(p::state.eq_any(states))
        .select(PaneRow::as_select())
        .order(p::id.asc())
        .load(conn)?)
}

/// Containers that have panes in the given states.
pub(crate) fn containers_with(
    conn: &mut SqliteConnection,
    states: &[PaneState],
) -> Result<Vec<String>> {
    Ok(p::table
        .filter(p::state.eq_any(states))
        .select(p::container_id)
        .distinct()
        .load(conn)?)
}

/// `creating` panes created before `cutoff` (RFC 3339).
pub(crate) fn stale_creating(conn: &mut SqliteConnection, cutoff: &str) -> Result<Vec<PaneRow>> {
    Ok(p::table
        .filter(p::state.eq(PaneState::Creating))
        .filter(p::created_at.lt(cutoff))
        .select(PaneRow::as_select())
        .load(conn)?)
}

/// Columns a pipeline step may change; `None` leaves a column alone.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = super::schema::managed_pane)]
pub(crate) struct PaneChanges {
    pub state: Option<PaneState>,
    pub failed_stage: Option<Option<FailedStage>>,
    pub failure_reason: Option<Option<String>>,
    pub tmux_pane_id: Option<Option<String>>,
    pub pending_marker_token: Option<Option<String>>,
    pub agent_id: Option<Option<String>>,
    pub log_path: Option<Option<String>>,
    pub updated_at: Option<String>,
}

/// Applies `changes` to pane `id` only if it is still in `expected_state`;
/// returns whether a row changed (so a stale writer never clobbers a newer
/// state).
pub(crate) fn update_if(
    conn: &mut SqliteConnection,
    id: &str,
    expected_state: PaneState,
    mut changes: PaneChanges,
) -> Result<bool> {
    changes.updated_at = Some(super::now());
    let n = diesel::update(p::table.find(id).filter(p::state.eq(expected_state)))
        .set(changes)
        .execute(conn)?;
    Ok(n == 1)
}

/// Filters of ListPanes.
#[derive(Debug, Clone, Default)]
pub(crate) struct PaneFilter {
    pub container_id: Option<String>,
    pub layout_id: Option<String>,
    /// Any of these states; empty means every state.
    pub states: Vec<PaneState>,
}

/// Position after which a page starts: `(state_rank, layout_id, index, id)`.
pub(crate) type PaneCursor = (i32, String, i32, String);

/// One page in listing order: state priority, layout, pane index, id.
pub(crate) fn page(
    conn: &mut SqliteConnection,
    filter: &PaneFilter,
    after: Option<PaneCursor>,
    limit: i64,
) -> Result<Vec<(i32, PaneRow)>> {
    let mut q = p::table
        .select((p::state_rank, PaneRow::as_select()))
        .order((
            p::state_rank.asc(),
            p::layout_id.asc(),
            p::tmux_pane_index.asc(),
            p::id.asc(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some(c) = &filter.container_id {
        q = q.filter(p::container_id.eq(c.clone()));
    }
    if let Some(l) = &filter.layout_id {
        q = q.filter(p::layout_id.eq(l.clone()));
    }
    if !filter.states.is_empty() {
        q = q.filter(p::state.eq_any(filter.states.clone()));
    }
    if let Some((rank, layout, index, id)) = after {
        q = q.filter(
            sql::<Bool>("(state_rank, layout_id, tmux_pane_index, id) > (")
                .bind::<Integer, _>(rank)
                .sql(", ")
                .bind::<Text, _>(layout)
                .sql(", ")
                .bind::<Integer, _>(index)
                .sql(", ")
                .bind::<Text, _>(id)
                .sql(")"),
        );
    }
    Ok(q.load(conn)?)
}

/// The managed pane an agent stands for, if it is a managed agent.
pub(crate) fn of_agent(conn: &mut SqliteConnection, agent_id: &str) -> Result<Option<PaneRow>> {
    Ok(p::table
        .filter(p::agent_id.eq(agent_id))
        .select(PaneRow::as_select())
        .order(p::id.desc())
        .first(conn)
        .optional()?)
}
