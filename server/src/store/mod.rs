//! SQLite storage through diesel: one writer connection, a small reader pool,
//! WAL. Every write runs in one IMMEDIATE transaction together with the
//! lifecycle events it produces; after commit the events are mirrored to
//! `events.jsonl` and published to watchers.

pub(crate) mod agents;
pub(crate) mod containers;
pub(crate) mod events;
pub(crate) mod layouts;
pub(crate) mod models;
pub(crate) mod names;
pub(crate) mod panes;
pub(crate) mod routes;
pub(crate) mod schema;

use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{Error, Result};
use crate::events::{Bus, Mirror};
use models::EventRow;

/// The schema migrations, embedded in the binary and applied at start.
pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// Shared handle to the database.
#[derive(Clone)]
pub(crate) struct Store {
    writer: Arc<Mutex<Writer>>,
    readers: Pool<ConnectionManager<SqliteConnection>>,
    bus: Bus,
}

struct Writer {
    conn: SqliteConnection,
    mirror: Mirror,
}

/// A write transaction in progress: the connection plus the events it emitted.
pub(crate) struct Tx<'a> {
    pub conn: &'a mut SqliteConnection,
    emitted: Vec<EventRow>,
}

impl Tx<'_> {
    /// Records `event` in the same transaction as the change it describes.
    pub(crate) fn emit(&mut self, event: events::NewEvent) -> Result<()> {
        let row = events::insert(self.conn, event)?;
        self.emitted.push(row);
        Ok(())
    }
}

#[derive(Debug)]
struct ReaderSetup;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for ReaderSetup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Store {
    /// Opens (creating it owner-only if needed) the database, refuses a
    /// database written by a newer schema, applies pending migrations, and
    /// makes the JSONL mirror equal to the event table.
    pub(crate) fn open(db: &Path, events_log: &Path, bus: Bus) -> anyhow::Result<Store> {
        let url = db.to_str().context("database path is not UTF-8")?;
        private_db_files(db)?;
        let mut conn = SqliteConnection::establish(url)
            .with_context(|| format!("cannot open database {}", db.display()))?;
        conn.batch_execute(PRAGMAS).with_context(|| {
            format!(
                "{} is not a usable SQLite database (corrupt or not a database?)",
                db.display()
            )
        })?;
        migrate(&mut conn).with_context(|| format!("database {}", db.display()))?;
        let mut mirror = Mirror::open(events_log)?;
        if let Err(e) = mirror.sync(&mut conn) {
            // Not fatal: the table is the source of truth, and the mirror is
            // caught up at the next write or sweep tick.
            tracing::error!(error = %format!("{e:#}"), "the events mirror is behind the table");
        }
        let readers = Pool::builder()
            .max_size(4)
            .connection_customizer(Box::new(ReaderSetup))
            .build(ConnectionManager::new(url))
            .context("cannot open reader connections")?;
        Ok(Store {
            writer: Arc::new(Mutex::new(Writer { conn, mirror })),
            readers,
            bus,
        })
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer (off the async
    /// reactor). Events emitted through the `Tx` commit with the change, then
    /// go to the JSONL mirror and to watchers.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    {
        let writer = self.writer.clone();
        let bus = self.bus.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
            let Writer { conn, mirror } = &mut *guard;
            let (value, emitted) = conn.immediate_transaction(|conn| {
                let mut tx = Tx {
                    conn,
                    emitted: Vec::new(),
                };
                let value = f(&mut tx)?;
                Ok::<_, Error>((value, tx.emitted))
            })?;
            mirror.append(conn, &emitted);
            if !emitted.is_empty() {
                bus.publish(emitted);
            }
            Ok(value)
        })
        .await
        .map_err(Error::internal)?
    }

    /// Catches `events.jsonl` up with the table if a write to it failed
    /// (the sweep's tick calls this, so it heals without further writes).
    pub(crate) async fn sync_mirror(&self) {
        let writer = self.writer.clone();
        let synced = tokio::task::spawn_blocking(move || {
            let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
            let Writer { conn, mirror } = &mut *guard;
            mirror.repair(conn);
        })
        .await;
        if let Err(e) = synced {
            tracing::error!(error = %e, "the events mirror check did not finish");
        }
    }

    /// The live event bus fed by `write`.
    pub(crate) fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Runs `f` on a reader connection (off the async reactor).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(Error::internal)?;
            f(&mut conn)
        })
        .await
        .map_err(Error::internal)?
    }
}

/// Creates `dir` (and missing parents) owner-only, whatever the umask.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

/// Takes group and other permissions off an open file of ours (made by an
/// older daemon or under a loose umask).
pub(crate) fn keep_private(file: &std::fs::File, path: &Path) -> anyhow::Result<()> {
    let mode = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("cannot make {} private", path.display()))?;
        tracing::warn!(path = %path.display(), mode = %format!("{:04o}", mode & 0o7777), "made a file others could read owner-only");
    }
    Ok(())
}

/// Creates the database file 0600 before SQLite opens it (SQLite gives its
/// `-wal` and `-shm` files the database file's mode), and tightens the
/// database, `-wal`, `-shm` and `-journal` files if they are more open. The
/// process umask is left alone: tmux servers and agents started by the
/// daemon inherit it.
fn private_db_files(db: &Path) -> anyhow::Result<()> {
    if let Some(dir) = db.parent() {
        create_private_dir(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(db)
        .with_context(|| format!("cannot open database {}", db.display()))?;
    keep_private(&file, db)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        match std::fs::File::open(&path) {
            Ok(file) => keep_private(&file, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        }
    }
    Ok(())
}

/// The newest schema migration this binary knows (its version string).
pub(crate) fn schema_version() -> String {
    use diesel::migration::MigrationSource;
    MigrationSource::<diesel::sqlite::Sqlite>::migrations(&MIGRATIONS)
        .ok()
        .and_then(|all| all.iter().map(|m| m.name().version().to_string()).max())
        .unwrap_or_default()
}

/// Applies embedded migrations, refusing a database that has migrations this
/// binary does not know (it was written by a newer AgentTower).
fn migrate(conn: &mut SqliteConnection) -> anyhow::Result<()> {
    use diesel::migration::MigrationSource;
    let known: std::collections::HashSet<String> =
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(&MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
    let applied = conn
        .applied_migrations()
        .map_err(|e| anyhow::anyhow!("cannot read the schema version: {e}"))?;
    let unknown: Vec<String> = applied
        .iter()
        .map(|v| v.to_string())
        .filter(|v| !known.contains(v))
        .collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "the database was written by a newer AgentTower (unknown schema versions {}); \
         refusing to start so no data is destroyed — upgrade agenttowerd or point \
         AGENTTOWER_DB at another file",
        unknown.join(", ")
    );
    conn.run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("cannot apply schema migrations: {e}"))?;
    Ok(())
}

/// The message of a UNIQUE/CHECK violation, to map it to a closed code.
pub(crate) fn constraint_violation(e: &diesel::result::Error) -> Option<&str> {
    use diesel::result::{DatabaseErrorKind as K, Error as D};
    match e {
        D::DatabaseError(K::UniqueViolation | K::CheckViolation, info) => Some(info.message()),
        _ => None,
    }
}

/// Current time as RFC 3339 UTC with milliseconds.
pub(crate) fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// A time as stored: RFC 3339 UTC with milliseconds (sorts as text).
pub(crate) fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// A new time-ordered id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, ContainerState, EventType, Origin, PaneState, RuntimeKind};

    /// A database written by the previous version (commit 8a4b631) reads back
    /// into the typed rows with the same values, and its filters by closed
    /// set still match the stored spellings.
    #[test]
    fn a_database_of_the_previous_version_reads_back_typed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agenttower.sqlite3");
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/db-8a4b631/agenttower.sqlite3"
        );
        std::fs::copy(fixture, &db).unwrap();
        let mut conn = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
        conn.batch_execute(PRAGMAS).unwrap();
        migrate(&mut conn).unwrap();

        let all = containers::list(&mut conn).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].id.as_str(), all[0].runtime, all[0].state),
            (
                containers::LOCAL_ID,
                RuntimeKind::Local,
                ContainerState::Running
            )
        );
        assert!(
            containers::of_runtime(&mut conn, RuntimeKind::Docker)
                .unwrap()
                .is_empty()
        );

        let panes = panes::page(&mut conn, &Default::default(), None, 100).unwrap();
        let count = |s: PaneState| panes.iter().filter(|(_, p)| p.state == s).count();
        assert_eq!((count(PaneState::Ready), count(PaneState::Removed)), (3, 4));
        assert!(panes.iter().all(|(_, p)| p.failed_stage.is_none()));
        let filter = panes::PaneFilter {
            states: vec![PaneState::Removed],
            ..Default::default()
        };
        assert_eq!(panes::page(&mut conn, &filter, None, 100).unwrap().len(), 4);
        let ready = panes::containers_with(&mut conn, &[PaneState::Ready]).unwrap();
        assert_eq!(ready, [containers::LOCAL_ID]);

        let layouts = layouts::page(&mut conn, &Default::default(), None, 100).unwrap();
        assert_eq!(layouts.len(), 2);
        assert_eq!(layouts::count_live(&mut conn).unwrap(), 1);

        let agents = agents::page(&mut conn, &Default::default(), None, 100).unwrap();
        let adopted = agents.iter().filter(|a| a.origin == Origin::Adopted);
        assert_eq!(adopted.count(), 1);
        assert_eq!(
            agents::containers_with(&mut conn, Origin::Adopted).unwrap(),
            [containers::LOCAL_ID]
        );

        let events = events::list_after(&mut conn, 0, &Default::default(), 1000).unwrap();
        assert_eq!(events.len(), 44);
        for e in &events {
            assert_eq!(e.payload().unwrap().event_type(), e.event_type);
        }
        assert_eq!(events[0].event_type, EventType::LayoutCreated);
        assert_eq!(events[0].actor, Actor::Operator);
        let filter = events::EventFilter {
            event_types: vec![EventType::PaneRemoved],
            ..Default::default()
        };
        let removed = events::list_after(&mut conn, 0, &filter, 1000).unwrap();
        assert_eq!(removed.len(), 4);
        assert!(removed.iter().all(|e| filter.matches(e)));
        // Untouched: a stored payload is served as it was written.
        let line = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(line["event_type"], "managed_layout_created");
        assert_eq!(line["payload"]["intended_pane_count"], 3);
    }
}
