DROP INDEX managed_pane_recreate_key;
ALTER TABLE managed_pane DROP COLUMN recreate_idempotency_key;
