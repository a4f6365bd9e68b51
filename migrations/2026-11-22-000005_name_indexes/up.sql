-- ResolveName looks objects up by name across their whole history (a
-- removed pane is still named by its label), so the lookups need indexes
-- that are not limited to live rows.
CREATE INDEX managed_layout_by_session ON managed_layout (tmux_session_name, container_id);
CREATE INDEX managed_pane_by_label ON managed_pane (label, container_id);
CREATE INDEX managed_pane_by_predecessor ON managed_pane (predecessor_id)
    WHERE predecessor_id IS NOT NULL;
CREATE INDEX agents_by_label ON agents (label, container_id);
