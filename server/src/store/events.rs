//! The lifecycle event table: appends (inside a write transaction) and reads.

use diesel::prelude::*;

use super::models::EventRow;
use super::schema::lifecycle_event as ev;
use crate::domain::{Actor, EventPayload, EventType};
use crate::error::{Error, Result};

/// An event about to be written; its type is its payload's.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub actor: Actor,
    pub container_id: Option<String>,
    pub layout_id: Option<String>,
    pub pane_id: Option<String>,
    pub payload: EventPayload,
}

/// Inserts `e` and returns the stored row with its sequence.
pub(crate) fn insert(conn: &mut SqliteConnection, e: NewEvent) -> Result<EventRow> {
    let payload = e.payload.to_json().map_err(Error::internal)?;
    let row = diesel::insert_into(ev::table)
        .values((
            ev::event_id.eq(super::new_id()),
            ev::timestamp.eq(super::now()),
            ev::event_type.eq(e.payload.event_type()),
            ev::layout_id.eq(e.layout_id),
            ev::pane_id.eq(e.pane_id),
            ev::container_id.eq(e.container_id),
            ev::actor.eq(e.actor),
            ev::payload.eq(payload),
        ))
        .returning(EventRow::as_returning())
        .get_result(conn)?;
    Ok(row)
}

/// Filters of ListEvents / WatchEvents.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventFilter {
    pub container_id: Option<String>,
    pub layout_id: Option<String>,
    pub pane_id: Option<String>,
    /// Any of these types; empty means every type.
    pub event_types: Vec<EventType>,
}

/// Events with a sequence greater than `after`, oldest first, at most `limit`.
pub(crate) fn list_after(
    conn: &mut SqliteConnection,
    after: i64,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<EventRow>> {
    list_between(conn, after, i64::MAX, filter, limit, false)
}

/// Events with `after < sequence < before`, oldest (or newest) first, at
/// most `limit`.
pub(crate) fn list_between(
    conn: &mut SqliteConnection,
    after: i64,
    before: i64,
    filter: &EventFilter,
    limit: i64,
    newest_first: bool,
) -> Result<Vec<EventRow>> {
    let clamp = |s: i64| s.clamp(0, i64::from(i32::MAX)) as i32;
    let mut q = ev::table
        .select(EventRow::as_select())
        .filter(ev::sequence.gt(clamp(after)))
        .limit(limit)
        .into_boxed();
    if before <= i64::from(i32::MAX) {
        q = q.filter(ev::sequence.lt(clamp(before)));
    }
    q = if newest_first {
        q.order(ev::sequence.desc())
    } else {
        q.order(ev::sequence.asc())
    };
    if let Some(c) = &filter.container_id {
        q = q.filter(ev::container_id.eq(c.clone()));
    }
    if let Some(l) = &filter.layout_id {
        q = q.filter(ev::layout_id.eq(l.clone()));
    }
    if let Some(p) = &filter.pane_id {
        q = q.filter(ev::pane_id.eq(p.clone()));
    }
    if !filter.event_types.is_empty() {
        q = q.filter(ev::event_type.eq_any(filter.event_types.clone()));
    }
    Ok(q.load(conn)?)
}

impl EventFilter {
    /// Whether a committed event passes this filter (the in-memory twin of
    /// the WHERE clause of `list_after`).
    pub(crate) fn matches(&self, e: &EventRow) -> bool {
        fn field(want: &Option<String>, have: &Option<String>) -> bool {
            want.is_none() || want == have
        }
        field(&self.container_id, &e.container_id)
            && field(&self.layout_id, &e.layout_id)
            && field(&self.pane_id, &e.pane_id)
            && (self.event_types.is_empty() || self.event_types.contains(&e.event_type))
    }
}

/// The newest sequence in the table (0 when there is none).
pub(crate) fn head(conn: &mut SqliteConnection) -> Result<i64> {
    let max: Option<i32> = ev::table
        .select(diesel::dsl::max(ev::sequence))
        .first(conn)?;
    Ok(max.map_or(0, i64::from))
}
