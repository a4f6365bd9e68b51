-- Agent activity (docs/activity.md): what the agent in a pane is doing,
-- separate from the pane's lifecycle state. `activity_source` is NULL while
-- the activity is still `unknown`; `reported_at` is the last ReportActivity,
-- which outranks detection for the profile's hold time; `pane_pid` is the
-- pane's process as its tmux server numbers it (its own pid namespace),
-- what a report's caller is matched against.
ALTER TABLE agents ADD COLUMN activity TEXT NOT NULL DEFAULT 'unknown'
    CHECK (activity IN ('unknown', 'working', 'waiting_for_input', 'idle', 'exited'));
ALTER TABLE agents ADD COLUMN activity_source TEXT
    CHECK (activity_source IN ('report', 'prompt_rule', 'output', 'process'));
ALTER TABLE agents ADD COLUMN activity_since TEXT;
ALTER TABLE agents ADD COLUMN activity_message TEXT;
ALTER TABLE agents ADD COLUMN reported_at TEXT;
ALTER TABLE agents ADD COLUMN pane_pid INTEGER CHECK (pane_pid > 0);
CREATE INDEX agents_by_activity ON agents (activity, agent_id) WHERE registered = 1;

-- The event type CHECK gains `agent_activity_changed`. SQLite cannot alter a
-- CHECK, so the table is rebuilt with its rows, sequence counter and indexes.
CREATE TABLE lifecycle_event_new (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    event_id      TEXT NOT NULL UNIQUE,
    timestamp     TEXT NOT NULL,
    event_type    TEXT NOT NULL CHECK (event_type IN (
                      'managed_layout_created', 'managed_layout_state_changed',
                      'managed_pane_created', 'managed_pane_state_changed',
                      'managed_pane_recreated', 'managed_pane_removed',
                      'managed_pane_pending_marker_set', 'managed_pane_pending_marker_cleared',
                      'managed_pane_launch_command_exited', 'managed_pane_log_attach_failed',
                      'managed_layout_recovery_reattached', 'managed_layout_recovery_failed',
                      'agent_activity_changed')),
    layout_id     TEXT,
    pane_id       TEXT,
    container_id  TEXT,
    actor         TEXT NOT NULL CHECK (actor IN ('operator', 'daemon')),
    payload       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload))
);
INSERT INTO lifecycle_event_new
    SELECT sequence, event_id, timestamp, event_type, layout_id, pane_id, container_id, actor,
           payload
    FROM lifecycle_event;
-- Keep the counter even past deleted rows: sequences are never reused.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'lifecycle_event_new', seq FROM sqlite_sequence
    WHERE name = 'lifecycle_event'
      AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'lifecycle_event_new');
UPDATE sqlite_sequence
    SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'lifecycle_event'))
    WHERE name = 'lifecycle_event_new'
      AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'lifecycle_event');
DROP TABLE lifecycle_event;
ALTER TABLE lifecycle_event_new RENAME TO lifecycle_event;
CREATE INDEX lifecycle_event_by_layout ON lifecycle_event (layout_id, sequence);
CREATE INDEX lifecycle_event_by_pane ON lifecycle_event (pane_id, sequence);
CREATE INDEX lifecycle_event_by_container ON lifecycle_event (container_id, sequence);
