-- Activity events go with the columns; the CHECK is rebuilt as before.
DELETE FROM lifecycle_event WHERE event_type = 'agent_activity_changed';
CREATE TABLE lifecycle_event_old (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    event_id      TEXT NOT NULL UNIQUE,
    timestamp     TEXT NOT NULL,
    event_type    TEXT NOT NULL CHECK (event_type IN (
                      'managed_layout_created', 'managed_layout_state_changed',
                      'managed_pane_created', 'managed_pane_state_changed',
                      'managed_pane_recreated', 'managed_pane_removed',
                      'managed_pane_pending_marker_set', 'managed_pane_pending_marker_cleared',
                      'managed_pane_launch_command_exited', 'managed_pane_log_attach_failed',
                      'managed_layout_recovery_reattached', 'managed_layout_recovery_failed')),
    layout_id     TEXT,
    pane_id       TEXT,
    container_id  TEXT,
    actor         TEXT NOT NULL CHECK (actor IN ('operator', 'daemon')),
    payload       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload))
);
INSERT INTO lifecycle_event_old SELECT * FROM lifecycle_event;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'lifecycle_event_old', seq FROM sqlite_sequence
    WHERE name = 'lifecycle_event'
      AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'lifecycle_event_old');
UPDATE sqlite_sequence
    SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'lifecycle_event'))
    WHERE name = 'lifecycle_event_old'
      AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'lifecycle_event');
DROP TABLE lifecycle_event;
ALTER TABLE lifecycle_event_old RENAME TO lifecycle_event;
CREATE INDEX lifecycle_event_by_layout ON lifecycle_event (layout_id, sequence);
CREATE INDEX lifecycle_event_by_pane ON lifecycle_event (pane_id, sequence);
CREATE INDEX lifecycle_event_by_container ON lifecycle_event (container_id, sequence);
DROP INDEX agents_by_activity;
ALTER TABLE agents DROP COLUMN pane_pid;
ALTER TABLE agents DROP COLUMN reported_at;
ALTER TABLE agents DROP COLUMN activity_message;
ALTER TABLE agents DROP COLUMN activity_since;
ALTER TABLE agents DROP COLUMN activity_source;
ALTER TABLE agents DROP COLUMN activity;
