//! The lookup stages of ResolveName: the rows an id, a name or an id
//! prefix finds (each confined to a container when one is given), as
//! `Hit`s, and the object behind the single hit with what comes with it.

use std::collections::HashSet;

use diesel::SqliteConnection;

use super::{Found, PREFIX_LOAD};
use crate::domain::{LayoutState, NameKind, PaneState};
use crate::error::Result;
use crate::store::models::{AgentRow, LayoutRow, PaneRow, RouteRow};
use crate::store::{agents, layouts, names, panes, routes};

/// A row a lookup stage found, before what comes with it is read.
pub(super) enum Row {
    Layout(LayoutRow),
    Pane(PaneRow),
    Agent(AgentRow),
    Route(RouteRow),
}

/// One object of any kind, as candidate of a lookup.
pub(super) struct Hit {
    pub(super) row: Row,
    /// Its container (a route's: its source agent's, read with its ends).
    pub(super) container_id: String,
}

impl Hit {
    /// A layout, pane or agent; routes are made by `route_hits`.
    pub(super) fn of(row: Row) -> Hit {
        let container_id = match &row {
            Row::Layout(l) => l.container_id.clone(),
            Row::Pane(p) => p.container_id.clone(),
            Row::Agent(a) => a.container_id.clone(),
            Row::Route(_) => String::new(),
        };
        Hit { row, container_id }
    }

    pub(super) fn id(&self) -> &str {
        match &self.row {
            Row::Layout(l) => &l.id,
            Row::Pane(p) => &p.id,
            Row::Agent(a) => &a.agent_id,
            Row::Route(r) => &r.route_id,
        }
    }

    /// Its session name or label; empty for a route.
    pub(super) fn name(&self) -> &str {
        match &self.row {
            Row::Layout(l) => &l.tmux_session_name,
            Row::Pane(p) => &p.label,
            Row::Agent(a) => &a.label,
            Row::Route(_) => "",
        }
    }

    /// A layout not removed, a pane not removed, a registered agent.
    pub(super) fn live(&self) -> bool {
        match &self.row {
            Row::Layout(l) => l.state != LayoutState::Removed,
            Row::Pane(p) => p.state != PaneState::Removed,
            Row::Agent(a) => a.registered,
            Row::Route(_) => true,
        }
    }

    pub(super) fn created_at(&self) -> &str {
        match &self.row {
            Row::Layout(l) => &l.created_at,
            Row::Pane(p) => &p.created_at,
            Row::Agent(a) => &a.created_at,
            Row::Route(r) => &r.created_at,
        }
    }
}

/// The panes a label names: those no successor replaced (a label names
/// the head of each recreate chain).
fn pane_hits(conn: &mut SqliteConnection, rows: Vec<PaneRow>) -> Result<Vec<Hit>> {
    let ids: Vec<String> = rows.iter().map(|p| p.id.clone()).collect();
    let superseded: HashSet<String> = names::superseded(conn, &ids)?.into_iter().collect();
    Ok(rows
        .into_iter()
        .filter(|p| !superseded.contains(&p.id))
        .map(|p| Hit::of(Row::Pane(p)))
        .collect())
}

/// A route is in a container caller's reach when both its ends are.
fn route_hits(
    conn: &mut SqliteConnection,
    rows: Vec<RouteRow>,
    own: Option<&str>,
) -> Result<Vec<Hit>> {
    let mut hits = Vec::new();
    for r in rows {
        let ends = agents::by_ids(
            conn,
            &[r.source_agent_id.clone(), r.target_agent_id.clone()],
        )?;
        if own.is_some_and(|own| ends.iter().any(|a| a.container_id != own)) {
            continue;
        }
        let container_id = ends
            .iter()
            .find(|a| a.agent_id == r.source_agent_id)
            .map(|a| a.container_id.clone())
            .unwrap_or_default();
        hits.push(Hit {
            row: Row::Route(r),
            container_id,
        });
    }
    Ok(hits)
}

/// Hits of one kind of row.
fn hits<T>(rows: impl IntoIterator<Item = T>, row: fn(T) -> Row) -> Vec<Hit> {
    rows.into_iter().map(|r| Hit::of(row(r))).collect()
}

fn in_reach(hit: &Hit, within: Option<&str>) -> bool {
    within.is_none_or(|c| hit.container_id == c)
}

pub(super) fn by_id(
    conn: &mut SqliteConnection,
    kind: NameKind,
    within: Option<&str>,
    own: Option<&str>,
    id: &str,
) -> Result<Vec<Hit>> {
    let hits = match kind {
        NameKind::Layout => hits(layouts::get(conn, id)?, Row::Layout),
        // By its own id even when a successor replaced it.
        NameKind::Pane => hits(panes::get(conn, id)?, Row::Pane),
        NameKind::Agent => hits(agents::get(conn, id)?, Row::Agent),
        NameKind::Route => {
            let rows = routes::get(conn, id)?.into_iter().collect();
            route_hits(conn, rows, own)?
        }
    };
    Ok(hits.into_iter().filter(|h| in_reach(h, within)).collect())
}

pub(super) fn by_name(
    conn: &mut SqliteConnection,
    kind: NameKind,
    within: Option<&str>,
    name: &str,
) -> Result<Vec<Hit>> {
    Ok(match kind {
        NameKind::Layout => hits(names::layouts_named(conn, within, name)?, Row::Layout),
        NameKind::Pane => {
            let rows = names::panes_named(conn, within, name)?;
            pane_hits(conn, rows)?
        }
        NameKind::Agent => hits(names::agents_named(conn, within, name)?, Row::Agent),
        NameKind::Route => Vec::new(),
    })
}

pub(super) fn by_prefix(
    conn: &mut SqliteConnection,
    kind: NameKind,
    within: Option<&str>,
    own: Option<&str>,
    prefix: &str,
) -> Result<Vec<Hit>> {
    let hits = match kind {
        NameKind::Layout => hits(
            names::layouts_with_prefix(conn, within, prefix, PREFIX_LOAD)?,
            Row::Layout,
        ),
        NameKind::Pane => hits(
            names::panes_with_prefix(conn, within, prefix, PREFIX_LOAD)?,
            Row::Pane,
        ),
        NameKind::Agent => hits(
            names::agents_with_prefix(conn, within, prefix, PREFIX_LOAD)?,
            Row::Agent,
        ),
        NameKind::Route => {
            let rows = names::routes_with_prefix(conn, prefix)?;
            route_hits(conn, rows, own)?
        }
    };
    Ok(hits.into_iter().filter(|h| in_reach(h, within)).collect())
}

/// The object behind a single hit, with what comes with it: a pane's
/// agent, an agent's managed pane. The hit's own row is not read again.
pub(super) fn complete(conn: &mut SqliteConnection, hit: Hit) -> Result<Found> {
    Ok(match hit.row {
        Row::Layout(l) => Found::Layout(l),
        Row::Pane(p) => {
            let agent = match &p.agent_id {
                Some(a) => agents::get(conn, a)?,
                None => None,
            };
            Found::Pane(p, agent)
        }
        Row::Agent(a) => {
            let pane = panes::of_agent(conn, &a.agent_id)?;
            Found::Agent(a, pane)
        }
        Row::Route(r) => Found::Route(r),
    })
}
