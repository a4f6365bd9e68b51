-- RecreatePane idempotency: a key is remembered on the successor it created,
-- unique per predecessor.
ALTER TABLE managed_pane ADD COLUMN recreate_idempotency_key TEXT;
CREATE UNIQUE INDEX managed_pane_recreate_key
    ON managed_pane (predecessor_id, recreate_idempotency_key)
    WHERE recreate_idempotency_key IS NOT NULL;
