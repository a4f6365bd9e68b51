ALTER TABLE agents DROP COLUMN tmux_server;
