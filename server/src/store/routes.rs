//! `routes` queries.

use diesel::prelude::*;

use super::models::RouteRow;
use super::schema::routes as r;
use crate::error::Result;

/// Inserts a route.
pub(crate) fn insert(conn: &mut SqliteConnection, row: &RouteRow) -> QueryResult<usize> {
    diesel::insert_into(r::table).values(row).execute(conn)
}

/// Routes touching `agent_id` (either end), or all routes.
pub(crate) fn list(conn: &mut SqliteConnection, agent_id: Option<&str>) -> Result<Vec<RouteRow>> {
    let mut q = r::table
        .select(RouteRow::as_select())
        .order(r::route_id.asc())
        .into_boxed();
    if let Some(a) = agent_id {
        q = q.filter(
            r::source_agent_id
                .eq(a.to_string())
                .or(r::target_agent_id.eq(a.to_string())),
        );
    }
    Ok(q.load(conn)?)
}

/// One route by id.
pub(crate) fn get(conn: &mut SqliteConnection, route_id: &str) -> Result<Option<RouteRow>> {
    Ok(r::table
        .find(route_id)
        .select(RouteRow::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes one route; returns whether it existed.
pub(crate) fn delete(conn: &mut SqliteConnection, route_id: &str) -> Result<bool> {
    Ok(diesel::delete(r::table.find(route_id)).execute(conn)? == 1)
}

/// Deletes every route touching `agent_id`; returns how many.
pub(crate) fn delete_for_agent(conn: &mut SqliteConnection, agent_id: &str) -> Result<usize> {
    Ok(diesel::delete(
        r::table.filter(
            r::source_agent_id
                .eq(agent_id)
                .or(r::target_agent_id.eq(agent_id)),
        ),
    )
    .execute(conn)?)
}
