//! The container registry.

use diesel::prelude::*;

use super::models::ContainerRow;
use super::schema::containers as c;
use crate::error::Result;

/// Id (and name) of the built-in host container.
pub(crate) const LOCAL_ID: &str = "local";

/// Makes sure a host container of the `local` runtime is registered.
pub(crate) fn ensure_local(conn: &mut SqliteConnection, id: &str) -> Result<()> {
    let row = ContainerRow {
        id: id.into(),
        name: id.into(),
        runtime: "local".into(),
        state: "running".into(),
        user: None,
        labels: "{}".into(),
        last_seen: super::now(),
    };
    diesel::insert_into(c::table)
        .values(&row)
        .on_conflict(c::id)
        .do_update()
        .set((c::state.eq("running"), c::last_seen.eq(&row.last_seen)))
        .execute(conn)?;
    Ok(())
}

/// Finds a container by its full id, a 12-hex short id, or its name; `None`
/// unless exactly one container matches.
pub(crate) fn resolve(conn: &mut SqliteConnection, input: &str) -> Result<Option<ContainerRow>> {
    if let Some(row) = c::table
        .find(input)
        .select(ContainerRow::as_select())
        .first(conn)
        .optional()?
    {
        return Ok(Some(row));
    }
    let short = input.len() == 12 && input.chars().all(|ch| ch.is_ascii_hexdigit());
    let mut q = c::table.select(ContainerRow::as_select()).into_boxed();
    q = if short {
        q.filter(c::id.like(format!("{input}%")))
    } else {
        q.filter(c::name.eq(input.to_string()))
    };
    let mut rows = q.limit(2).load(conn)?;
    Ok(if rows.len() == 1 { rows.pop() } else { None })
}

/// Every registered container, by id.
pub(crate) fn list(conn: &mut SqliteConnection) -> Result<Vec<ContainerRow>> {
    Ok(c::table
        .select(ContainerRow::as_select())
        .order(c::id.asc())
        .load(conn)?)
}
