//! The schema enforces the invariants itself: a bad row is refused by SQLite
//! even when written directly, bypassing the daemon. And the daemon refuses a
//! database it cannot trust without destroying it.

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, SqliteConnection};

use crate::support::*;

const T: &str = "'2026-01-01T00:00:00.000Z'";

#[tokio::test]
async fn invariants_hold_against_direct_bad_inserts() {
    let mut d = Daemon::start().await;
    d.kill9();
    let mut conn = SqliteConnection::establish(d.db().to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO managed_layout (id, container_id, template_name, tmux_session_name, \
         intended_pane_count, state, idempotency_key, created_at, updated_at) \
         VALUES ('L1', 'local', 't', 's', 3, 'creating', 'k1', {T}, {T})"
    ))
    .expect("a valid layout row is accepted");
    let insert = |conn: &mut SqliteConnection,
                  id: &str,
                  label: &str,
                  index: i32,
                  state: &str,
                  token: &str,
                  stage: &str,
                  depth: i32,
                  pred: &str| {
        conn.batch_execute(&format!(
            "INSERT INTO managed_pane (id, layout_id, container_id, role, capability, label, \
             tmux_session_name, tmux_pane_index, state, pending_marker_token, failed_stage, \
             chain_depth, predecessor_id, created_at, updated_at) VALUES \
             ('{id}', 'L1', 'local', 'r', 'c', '{label}', 's', {index}, '{state}', {token}, {stage}, {depth}, {pred}, {T}, {T})"
        ))
    };
    insert(
        &mut conn, "P1", "s.a", 0, "creating", "'tok'", "NULL", 0, "NULL",
    )
    .expect("valid pane");
    insert(
        &mut conn, "P0", "s.z", 5, "removed", "NULL", "NULL", 0, "NULL",
    )
    .expect("valid removed pane");

    let refused: Vec<(&str, Result<(), diesel::result::Error>)> = vec![
        ("unknown state", insert(&mut conn, "P2", "s.b", 1, "zombie", "NULL", "NULL", 0, "NULL")),
        ("marker on a ready pane", insert(&mut conn, "P2", "s.b", 1, "ready", "'tok'", "NULL", 0, "NULL")),
        ("creating without a marker", insert(&mut conn, "P2", "s.b", 1, "creating", "NULL", "NULL", 0, "NULL")),
        ("unknown failed_stage", insert(&mut conn, "P2", "s.b", 1, "failed", "NULL", "'oops'", 0, "NULL")),
        ("degraded at pane_create", insert(&mut conn, "P2", "s.b", 1, "degraded", "NULL", "'pane_create'", 0, "NULL")),
        ("failed at log_attach", insert(&mut conn, "P2", "s.b", 1, "failed", "NULL", "'log_attach'", 0, "NULL")),
        ("ready with a stage", insert(&mut conn, "P2", "s.b", 1, "ready", "NULL", "'launch_command'", 0, "NULL")),
        ("chain depth 17", insert(&mut conn, "P2", "s.b", 1, "removed", "NULL", "NULL", 17, "'P0'")),
        ("negative depth", insert(&mut conn, "P2", "s.b", 1, "removed", "NULL", "NULL", -1, "'P0'")),
        ("duplicate live label", insert(&mut conn, "P2", "s.a", 1, "creating", "'t2'", "NULL", 0, "NULL")),
        ("duplicate live slot", insert(&mut conn, "P2", "s.b", 0, "creating", "'t2'", "NULL", 0, "NULL")),
        ("predecessor without depth", insert(&mut conn, "P2", "s.b", 1, "removed", "NULL", "NULL", 0, "'P0'")),
        (
            "duplicate idempotency key",
            conn.batch_execute(&format!(
                "INSERT INTO managed_layout (id, container_id, template_name, tmux_session_name, \
                 intended_pane_count, state, idempotency_key, created_at, updated_at) \
                 VALUES ('L2', 'local', 't', 's2', 3, 'creating', 'k1', {T}, {T})"
            )),
        ),
        (
            "duplicate live session",
            conn.batch_execute(&format!(
                "INSERT INTO managed_layout (id, container_id, template_name, tmux_session_name, \
                 intended_pane_count, state, created_at, updated_at) \
                 VALUES ('L3', 'local', 't', 's', 3, 'ready', {T}, {T})"
            )),
        ),
        (
            "layout failed without a stage",
            conn.batch_execute(&format!(
                "INSERT INTO managed_layout (id, container_id, template_name, tmux_session_name, \
                 intended_pane_count, state, created_at, updated_at) \
                 VALUES ('L4', 'local', 't', 's4', 3, 'failed', {T}, {T})"
            )),
        ),
        (
            "unknown event type",
            conn.batch_execute(&format!(
                "INSERT INTO lifecycle_event (event_id, timestamp, event_type, actor, payload) \
                 VALUES ('e1', {T}, 'managed_pane_exploded', 'daemon', '{{}}')"
            )),
        ),
        (
            "unknown actor",
            conn.batch_execute(&format!(
                "INSERT INTO lifecycle_event (event_id, timestamp, event_type, actor, payload) \
                 VALUES ('e2', {T}, 'managed_pane_created', 'someone', '{{}}')"
            )),
        ),
        (
            "payload that is not JSON",
            conn.batch_execute(&format!(
                "INSERT INTO lifecycle_event (event_id, timestamp, event_type, actor, payload) \
                 VALUES ('e3', {T}, 'managed_pane_created', 'daemon', 'not json')"
            )),
        ),
        (
            "unknown agent origin",
            conn.batch_execute(&format!(
                "INSERT INTO agents (agent_id, container_id, tmux_socket, tmux_session, tmux_pane_id, \
                 role, capability, label, origin, created_at, updated_at) \
                 VALUES ('a1', 'local', 'x', 's', '%1', 'r', 'c', 'l', 'stolen', {T}, {T})"
            )),
        ),
    ];
    for (what, result) in refused {
        assert!(result.is_err(), "{what} was accepted");
    }
    // A removed pane frees its label and slot for a successor.
    insert(
        &mut conn, "P3", "s.z", 5, "creating", "'t3'", "NULL", 1, "'P0'",
    )
    .expect("successor of a removed pane");
}

#[tokio::test]
async fn a_database_from_a_newer_schema_is_refused_and_kept() {
    let mut d = Daemon::start().await;
    d.create_settled("1m+2s", "keep").await;
    d.kill9();
    {
        let mut conn = SqliteConnection::establish(d.db().to_str().unwrap()).unwrap();
        conn.batch_execute(
            "INSERT INTO __diesel_schema_migrations (version, run_on) VALUES ('29991231000000', '2999-12-31')",
        )
        .unwrap();
    }
    let status = d.spawn().wait().unwrap();
    assert!(!status.success());
    let log = d.log();
    assert!(log.contains("written by a newer AgentTower"), "{log}");
    assert!(log.contains("29991231000000"), "{log}");
    assert!(
        agenttower::client::connect(d.socket()).await.is_err(),
        "a refused daemon must not answer"
    );
    // Nothing destroyed: the layout is still there.
    let mut conn = SqliteConnection::establish(d.db().to_str().unwrap()).unwrap();
    let kept: i64 = diesel::RunQueryDsl::get_result(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT COUNT(*) FROM managed_pane p JOIN managed_layout l ON l.id = p.layout_id \
             WHERE l.tmux_session_name = 'keep' AND p.state = 'ready')",
        )),
        &mut conn,
    )
    .unwrap();
    assert_eq!(kept, 3);
}

#[tokio::test]
async fn a_corrupt_database_is_a_clear_error_and_is_not_overwritten() {
    let mut d = Daemon::start().await;
    d.kill9();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", d.db().display()));
    }
    let garbage =
        b"this is not an sqlite database, it is an operator's precious file\n".repeat(100);
    std::fs::write(d.db(), &garbage).unwrap();
    let status = d.spawn().wait().unwrap();
    assert!(!status.success());
    let log = d.log();
    assert!(
        log.contains("not a usable SQLite database") || log.contains("not a database"),
        "{log}"
    );
    assert_eq!(
        std::fs::read(d.db()).unwrap(),
        garbage,
        "the file was modified"
    );
}
