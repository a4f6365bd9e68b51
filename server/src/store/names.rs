//! The lookups behind ResolveName: objects by name and by id prefix, each
//! optionally within one container. The choice among what they return is
//! the service's (`service::names`).

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::models::{AgentRow, LayoutRow, PaneRow, RouteRow};
use super::schema::{agents as a, managed_layout as l, managed_pane as p, routes as r};
use crate::error::Result;

/// `+container_id = ?`: the unary plus keeps SQLite from serving an id
/// range lookup from the container index (it would scan the container's
/// rows rather than walk the key range).
const IN_CONTAINER: &str = "+container_id = ";

/// The id range `[prefix, end)` of every id starting with `prefix`, so the
/// lookup walks the primary key (a LIKE would scan: SQLite's LIKE is
/// case-insensitive and the key is not). Ids are lower-case hex and dashes,
/// all below `~`.
fn range(prefix: &str) -> (String, String) {
    (prefix.to_string(), format!("{prefix}~"))
}

/// Layouts with tmux session `name`, in `container` when given.
pub(crate) fn layouts_named(
    conn: &mut SqliteConnection,
    container: Option<&str>,
    name: &str,
) -> Result<Vec<LayoutRow>> {
    let mut q = l::table
        .filter(l::tmux_session_name.eq(name.to_string()))
        .select(LayoutRow::as_select())
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(l::container_id.eq(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Layouts whose id starts with `prefix`, the first `limit` by id.
pub(crate) fn layouts_with_prefix(
    conn: &mut SqliteConnection,
    container: Option<&str>,
    prefix: &str,
    limit: i64,
) -> Result<Vec<LayoutRow>> {
    let (from, to) = range(prefix);
    let mut q = l::table
        .filter(l::id.ge(from).and(l::id.lt(to)))
        .select(LayoutRow::as_select())
        .order(l::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(sql::<Bool>(IN_CONTAINER).bind::<Text, _>(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Panes labelled `name`, in `container` when given.
pub(crate) fn panes_named(
    conn: &mut SqliteConnection,
    container: Option<&str>,
    name: &str,
) -> Result<Vec<PaneRow>> {
    let mut q = p::table
        .filter(p::label.eq(name.to_string()))
        .select(PaneRow::as_select())
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(p::container_id.eq(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Panes whose id starts with `prefix`, the first `limit` by id.
pub(crate) fn panes_with_prefix(
    conn: &mut SqliteConnection,
    container: Option<&str>,
    prefix: &str,
    limit: i64,
) -> Result<Vec<PaneRow>> {
    let (from, to) = range(prefix);
    let mut q = p::table
        .filter(p::id.ge(from).and(p::id.lt(to)))
        .select(PaneRow::as_select())
        .order(p::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(sql::<Bool>(IN_CONTAINER).bind::<Text, _>(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Which of `ids` some pane names as its predecessor (recreated panes).
pub(crate) fn superseded(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            p::table
                .filter(p::predecessor_id.eq_any(chunk))
                .select(p::predecessor_id.assume_not_null())
                .load::<String>(conn)?,
        );
    }
    Ok(out)
}

/// Agents labelled `name`, in `container` when given.
pub(crate) fn agents_named(
    conn: &mut SqliteConnection,
    container: Option<&str>,
    name: &str,
) -> Result<Vec<AgentRow>> {
    let mut q = a::table
        .filter(a::label.eq(name.to_string()))
        .select(AgentRow::as_select())
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(a::container_id.eq(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Agents whose id starts with `prefix`, the first `limit` by id.
pub(crate) fn agents_with_prefix(
    conn: &mut SqliteConnection,
    container: Option<&str>,
    prefix: &str,
    limit: i64,
) -> Result<Vec<AgentRow>> {
    let (from, to) = range(prefix);
    let mut q = a::table
        .filter(a::agent_id.ge(from).and(a::agent_id.lt(to)))
        .select(AgentRow::as_select())
        .order(a::agent_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(sql::<Bool>(IN_CONTAINER).bind::<Text, _>(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Routes whose id starts with `prefix`, all of them: the caller scopes
/// them afterwards (a route's reach depends on both its ends).
pub(crate) fn routes_with_prefix(
    conn: &mut SqliteConnection,
    prefix: &str,
) -> Result<Vec<RouteRow>> {
    let (from, to) = range(prefix);
    Ok(r::table
        .filter(r::route_id.ge(from).and(r::route_id.lt(to)))
        .select(RouteRow::as_select())
        .order(r::route_id.asc())
        .load(conn)?)
}
