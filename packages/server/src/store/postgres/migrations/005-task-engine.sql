-- PostgreSQL twin of ../../migrations/005-task-engine.sql (issue 13's task model).
ALTER TABLE tasks ADD COLUMN priority BIGINT NOT NULL DEFAULT 1024;
ALTER TABLE tasks ADD COLUMN start_at BIGINT;
ALTER TABLE tasks ADD COLUMN batch_pct DOUBLE PRECISION;
ALTER TABLE tasks ADD COLUMN max_errors BIGINT;
ALTER TABLE tasks ADD COLUMN max_errors_pct DOUBLE PRECISION;
ALTER TABLE tasks ADD COLUMN halt_reason TEXT;
ALTER TABLE tasks ADD COLUMN after_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN buried_ttl_ms BIGINT NOT NULL DEFAULT 86400000;
ALTER TABLE subtasks ADD COLUMN buried_at BIGINT;
ALTER TABLE subtasks ADD COLUMN revoke_requested_at BIGINT;
CREATE INDEX idx_subtasks_task_state ON subtasks(taskid, state);
