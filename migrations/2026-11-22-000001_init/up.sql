-- AgentTower schema v1 (SPEC §5). Invariants live here, not only in code:
-- closed sets are CHECK constraints, liveness rules are partial unique indexes.

CREATE TABLE containers (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    runtime     TEXT NOT NULL CHECK (runtime IN ('local', 'docker')),
    state       TEXT NOT NULL CHECK (state IN ('running', 'stopped')),
    user        TEXT,
    labels      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    last_seen   TEXT NOT NULL
);

CREATE TABLE agents (
    agent_id      TEXT PRIMARY KEY NOT NULL,
    container_id  TEXT NOT NULL REFERENCES containers (id),
    tmux_socket   TEXT NOT NULL,
    tmux_session  TEXT NOT NULL,
    tmux_pane_id  TEXT NOT NULL CHECK (tmux_pane_id GLOB '%[0-9]*'),
    role          TEXT NOT NULL,
    capability    TEXT NOT NULL,
    label         TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('managed', 'adopted')),
    registered    BOOLEAN NOT NULL DEFAULT 1 CHECK (registered IN (0, 1)),
    log_path      TEXT,
    log_attached  BOOLEAN NOT NULL DEFAULT 0 CHECK (log_attached IN (0, 1)),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- One registered agent per tmux pane.
CREATE UNIQUE INDEX agents_registered_pane
    ON agents (container_id, tmux_socket, tmux_pane_id) WHERE registered = 1;
CREATE INDEX agents_by_container ON agents (container_id, agent_id);

CREATE TABLE routes (
    route_id         TEXT PRIMARY KEY NOT NULL,
    source_agent_id  TEXT NOT NULL REFERENCES agents (agent_id),
    target_agent_id  TEXT NOT NULL REFERENCES agents (agent_id),
    created_at       TEXT NOT NULL,
    CHECK (source_agent_id <> target_agent_id),
    UNIQUE (source_agent_id, target_agent_id)
);
CREATE INDEX routes_by_target ON routes (target_agent_id);

CREATE TABLE managed_layout (
    id                   TEXT PRIMARY KEY NOT NULL,
    container_id         TEXT NOT NULL REFERENCES containers (id),
    template_name        TEXT NOT NULL,
    tmux_session_name    TEXT NOT NULL,
    intended_pane_count  INTEGER NOT NULL CHECK (intended_pane_count BETWEEN 1 AND 64),
    ready_pane_count     INTEGER NOT NULL DEFAULT 0
                         CHECK (ready_pane_count BETWEEN 0 AND intended_pane_count),
    state                TEXT NOT NULL
                         CHECK (state IN ('creating', 'ready', 'degraded', 'failed', 'removed')),
    failed_stage         TEXT CHECK (failed_stage IN ('pane_create', 'launch_command',
                         'registration', 'log_attach', 'tmux_kill', 'recovery_reattach')),
    idempotency_key      TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    -- Listing order: state priority (creating, degraded, ready, failed, removed).
    state_rank           INTEGER NOT NULL GENERATED ALWAYS AS (
                             CASE state WHEN 'creating' THEN 0 WHEN 'degraded' THEN 1
                             WHEN 'ready' THEN 2 WHEN 'failed' THEN 3 ELSE 4 END) VIRTUAL,
    CHECK ((state IN ('degraded', 'failed')) = (failed_stage IS NOT NULL))
);
CREATE UNIQUE INDEX managed_layout_idempotency
    ON managed_layout (container_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- A tmux session name belongs to at most one live layout per container.
CREATE UNIQUE INDEX managed_layout_live_session
    ON managed_layout (container_id, tmux_session_name) WHERE state <> 'removed';
CREATE INDEX managed_layout_order ON managed_layout (state_rank, id);
CREATE INDEX managed_layout_by_container ON managed_layout (container_id, state_rank, id);

CREATE TABLE managed_pane (
    id                    TEXT PRIMARY KEY NOT NULL,
    layout_id             TEXT NOT NULL REFERENCES managed_layout (id),
    container_id          TEXT NOT NULL REFERENCES containers (id),
    agent_id              TEXT REFERENCES agents (agent_id),
    role                  TEXT NOT NULL,
    capability            TEXT NOT NULL,
    label                 TEXT NOT NULL,
    launch_command_ref    TEXT,
    tmux_session_name     TEXT NOT NULL,
    tmux_pane_index       INTEGER NOT NULL CHECK (tmux_pane_index >= 0),
    tmux_pane_id          TEXT CHECK (tmux_pane_id GLOB '%[0-9]*'),
    pending_marker_token  TEXT,
    state                 TEXT NOT NULL
                          CHECK (state IN ('creating', 'ready', 'degraded', 'failed', 'removed')),
    failed_stage          TEXT CHECK (failed_stage IN ('pane_create', 'launch_command',
                          'registration', 'log_attach', 'tmux_kill', 'recovery_reattach')),
    failure_reason        TEXT,
    predecessor_id        TEXT REFERENCES managed_pane (id),
    chain_depth           INTEGER NOT NULL DEFAULT 0 CHECK (chain_depth BETWEEN 0 AND 16),
    log_path              TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    state_rank            INTEGER NOT NULL GENERATED ALWAYS AS (
                              CASE state WHEN 'creating' THEN 0 WHEN 'degraded' THEN 1
                              WHEN 'ready' THEN 2 WHEN 'failed' THEN 3 ELSE 4 END) VIRTUAL,
    -- The pending marker exists exactly while the pane is being created.
    CHECK ((state = 'creating') = (pending_marker_token IS NOT NULL)),
    -- degraded and failed carry their own stages; creating and ready carry none.
    CHECK (CASE state
        WHEN 'creating' THEN failed_stage IS NULL
        WHEN 'ready' THEN failed_stage IS NULL
        WHEN 'degraded' THEN failed_stage IN ('launch_command', 'log_attach')
        WHEN 'failed' THEN failed_stage IN ('pane_create', 'registration',
                                            'recovery_reattach', 'tmux_kill')
        ELSE 1 END),
    CHECK ((predecessor_id IS NULL) = (chain_depth = 0))
);
CREATE UNIQUE INDEX managed_pane_live_label
    ON managed_pane (container_id, label) WHERE state IN ('creating', 'ready', 'degraded');
CREATE UNIQUE INDEX managed_pane_live_slot
    ON managed_pane (container_id, tmux_session_name, tmux_pane_index)
    WHERE state IN ('creating', 'ready', 'degraded');
-- A predecessor has at most one live successor.
CREATE UNIQUE INDEX managed_pane_live_successor
    ON managed_pane (predecessor_id)
    WHERE predecessor_id IS NOT NULL AND state IN ('creating', 'ready', 'degraded');
CREATE INDEX managed_pane_order ON managed_pane (state_rank, layout_id, tmux_pane_index, id);
CREATE INDEX managed_pane_by_layout ON managed_pane (layout_id, tmux_pane_index);
CREATE INDEX managed_pane_by_container ON managed_pane (container_id, state_rank);
CREATE INDEX managed_pane_by_agent ON managed_pane (agent_id) WHERE agent_id IS NOT NULL;

CREATE TABLE lifecycle_event (
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
CREATE INDEX lifecycle_event_by_layout ON lifecycle_event (layout_id, sequence);
CREATE INDEX lifecycle_event_by_pane ON lifecycle_event (pane_id, sequence);
CREATE INDEX lifecycle_event_by_container ON lifecycle_event (container_id, sequence);
