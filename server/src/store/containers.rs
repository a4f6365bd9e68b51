//! The container registry.

use diesel::prelude::*;

use super::models::ContainerRow;
use super::schema::containers as c;
use crate::domain::{ContainerState, RuntimeKind};
use crate::error::Result;

/// Id (and name) of the built-in host container. An id, not a closed-set
/// value, even though it reads like `RuntimeKind::Local`.
pub(crate) const LOCAL_ID: &str = "local";

/// Makes sure a host container of the `local` runtime is registered.
pub(crate) fn ensure_local(conn: &mut SqliteConnection, id: &str) -> Result<()> {
    let row = ContainerRow {
        id: id.into(),
        name: id.into(),
        runtime: RuntimeKind::Local,
        state: ContainerState::Running,
        user: None,
        labels: "{}".into(),
        last_seen: super::now(),
    };
    diesel::insert_into(c::table)
        .values(&row)
        .on_conflict(c::id)
        .do_update()
        .set((
            c::state.eq(ContainerState::Running),
            c::last_seen.eq(&row.last_seen),
        ))
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

/// Records a bench container as Docker reported it. `last_seen` moves only
/// while it runs.
pub(crate) fn upsert_docker(conn: &mut SqliteConnection, row: &ContainerRow) -> Result<()> {
    diesel::insert_into(c::table)
        .values(row)
        .on_conflict(c::id)
        .do_update()
        .set((
            c::name.eq(&row.name),
            c::state.eq(&row.state),
            c::user.eq(&row.user),
            c::labels.eq(&row.labels),
        ))
        .execute(conn)?;
    if row.state == ContainerState::Running {
        diesel::update(c::table.find(&row.id))
            .set(c::last_seen.eq(&row.last_seen))
            .execute(conn)?;
    }
    Ok(())
}

/// Marks registered Docker containers that a scan did not see as stopped;
/// their rows (and their panes' history) stay.
pub(crate) fn mark_unseen_stopped(conn: &mut SqliteConnection, seen: &[String]) -> Result<usize> {
    Ok(diesel::update(
        c::table
            .filter(c::runtime.eq(RuntimeKind::Docker))
            .filter(c::state.ne(ContainerState::Stopped))
            .filter(c::id.ne_all(seen)),
    )
    .set(c::state.eq(ContainerState::Stopped))
    .execute(conn)?)
}

/// Sets one container's state (the health watcher saw it gone).
pub(crate) fn set_state(
    conn: &mut SqliteConnection,
    id: &str,
    state: ContainerState,
) -> Result<()> {
    diesel::update(c::table.find(id))
        .set(c::state.eq(state))
        .execute(conn)?;
    Ok(())
}

/// Registered Docker containers whose full id is `id` (the peer check
/// wants exactly one).
pub(crate) fn docker_with_id(conn: &mut SqliteConnection, id: &str) -> Result<Vec<ContainerRow>> {
    Ok(c::table
        .filter(c::runtime.eq(RuntimeKind::Docker))
        .filter(c::id.eq(id))
        .select(ContainerRow::as_select())
        .load(conn)?)
}

/// Every registered container of `runtime`.
pub(crate) fn of_runtime(
    conn: &mut SqliteConnection,
    runtime: RuntimeKind,
) -> Result<Vec<ContainerRow>> {
    Ok(c::table
        .filter(c::runtime.eq(runtime))
        .select(ContainerRow::as_select())
        .order(c::id.asc())
        .load(conn)?)
}
