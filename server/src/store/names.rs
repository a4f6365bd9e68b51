//! The lookups behind ResolveName: objects by name and by id prefix, each
//! optionally within one container. The choice among what they return is
//! the service's (`service::names`).

use diesel::prelude::*;

use super::models::{AgentRow, LayoutRow, PaneRow, RouteRow};
use super::schema::{agents as a, managed_layout as l, managed_pane as p, routes as r};
use crate::error::Result;

/// How many prefix matches a lookup loads: the candidates an ambiguous
/// answer lists, and one more to tell whether there are others.
pub(crate) const PREFIX_LIMIT: i64 = 6;

/// `prefix%` for LIKE. Callers pass only `[0-9a-f-]`, so no LIKE
/// metacharacter can reach the pattern.
fn like(prefix: &str) -> String {
    debug_assert!(prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    format!("{prefix}%")
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
    let mut q = l::table
        .filter(l::id.like(like(prefix)))
        .select(LayoutRow::as_select())
        .order(l::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(l::container_id.eq(c.to_string()));
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
    let mut q = p::table
        .filter(p::id.like(like(prefix)))
        .select(PaneRow::as_select())
        .order(p::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(p::container_id.eq(c.to_string()));
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
    let mut q = a::table
        .filter(a::agent_id.like(like(prefix)))
        .select(AgentRow::as_select())
        .order(a::agent_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(c) = container {
        q = q.filter(a::container_id.eq(c.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Routes whose id starts with `prefix`, all of them: the caller scopes
/// them afterwards (a route's reach depends on both its ends).
pub(crate) fn routes_with_prefix(
    conn: &mut SqliteConnection,
    prefix: &str,
) -> Result<Vec<RouteRow>> {
    Ok(r::table
        .filter(r::route_id.like(like(prefix)))
        .select(RouteRow::as_select())
        .order(r::route_id.asc())
        .load(conn)?)
}
