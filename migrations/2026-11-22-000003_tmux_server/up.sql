-- The tmux server instance (`#{pid}:#{start_time}`) an agent's pane lives
-- on. Pane ids restart at %0 with the server, so `%N` alone does not name a
-- pane across a server restart; NULL for agents registered before this.
ALTER TABLE agents ADD COLUMN tmux_server TEXT;
