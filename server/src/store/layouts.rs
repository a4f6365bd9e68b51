//! `managed_layout` queries.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use super::models::LayoutRow;
use super::schema::managed_layout as l;
use crate::domain::{FailedStage, LayoutState};
use crate::error::Result;

/// Inserts a new layout row.
pub(crate) fn insert(conn: &mut SqliteConnection, row: &LayoutRow) -> QueryResult<usize> {
    diesel::insert_into(l::table).values(row).execute(conn)
}

/// One layout by id.
pub(crate) fn get(conn: &mut SqliteConnection, id: &str) -> Result<Option<LayoutRow>> {
    Ok(l::table
        .find(id)
        .select(LayoutRow::as_select())
        .first(conn)
        .optional()?)
}

/// The layout an idempotency key already created in a container.
pub(crate) fn by_idempotency_key(
    conn: &mut SqliteConnection,
    container_id: &str,
    key: &str,
) -> Result<Option<LayoutRow>> {
    Ok(l::table
        .filter(l::container_id.eq(container_id))
        .filter(l::idempotency_key.eq(key))
        .select(LayoutRow::as_select())
        .first(conn)
        .optional()?)
}

/// Number of live (non-removed) layouts in the daemon.
pub(crate) fn count_live(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(l::table
        .filter(l::state.ne(LayoutState::Removed))
        .count()
        .get_result(conn)?)
}

/// Whether a live layout already uses `session` in the container.
pub(crate) fn session_in_use(
    conn: &mut SqliteConnection,
    container_id: &str,
    session: &str,
) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        l::table
            .filter(l::container_id.eq(container_id))
            .filter(l::tmux_session_name.eq(session))
            .filter(l::state.ne(LayoutState::Removed)),
    ))
    .get_result(conn)?)
}

/// Stores a layout's recomputed aggregate.
pub(crate) fn set_aggregate(
    conn: &mut SqliteConnection,
    id: &str,
    state: LayoutState,
    failed_stage: Option<FailedStage>,
    ready: i32,
) -> Result<()> {
    diesel::update(l::table.find(id))
        .set((
            l::state.eq(state),
            l::failed_stage.eq(failed_stage),
            l::ready_pane_count.eq(ready),
            l::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Filters of ListLayouts.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayoutFilter {
    pub container_id: Option<String>,
    /// Any of these states; empty means every state.
    pub states: Vec<LayoutState>,
}

/// Position after which a page starts: `(state_rank, id)` of the last row.
pub(crate) type LayoutCursor = (i32, String);

/// One page in listing order: state priority, then newest first (ids are
/// UUIDv7, so id order is creation order). Returns `(rank, row)` pairs.
pub(crate) fn page(
    conn: &mut SqliteConnection,
    filter: &LayoutFilter,
    after: Option<LayoutCursor>,
    limit: i64,
) -> Result<Vec<(i32, LayoutRow)>> {
    let mut q = l::table
        .select((l::state_rank, LayoutRow::as_select()))
        .order((l::state_rank.asc(), l::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(c) = &filter.container_id {
        q = q.filter(l::container_id.eq(c.clone()));
    }
    if !filter.states.is_empty() {
        q = q.filter(l::state.eq_any(filter.states.clone()));
    }
    if let Some((rank, id)) = after {
        q = q.filter(
            sql::<Bool>("(state_rank > ")
                .bind::<Integer, _>(rank)
                .sql(" OR (state_rank = ")
                .bind::<Integer, _>(rank)
                .sql(" AND id < ")
                .bind::<Text, _>(id)
                .sql("))"),
        );
    }
    Ok(q.load(conn)?)
}
