DROP INDEX agents_by_label;
DROP INDEX managed_pane_by_predecessor;
DROP INDEX managed_pane_by_label;
DROP INDEX managed_layout_by_session;
