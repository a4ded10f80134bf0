-- Issue 13: the task engine's full model (docs/server.md "Task states").
-- Tasks: priority (lower first, default 1024), start_at (unix ms, absolute), batch as a
-- percentage, max_errors (count or percentage; NULL = no limit, what tasks made before this
-- migration get), the reason a task halted, the tasks it runs after (JSON array of ids) and
-- how long a BURIED subtask waits for a kick before it is FAILED.
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 1024;
ALTER TABLE tasks ADD COLUMN start_at INTEGER;
ALTER TABLE tasks ADD COLUMN batch_pct REAL;
ALTER TABLE tasks ADD COLUMN max_errors INTEGER;
ALTER TABLE tasks ADD COLUMN max_errors_pct REAL;
ALTER TABLE tasks ADD COLUMN halt_reason TEXT;
ALTER TABLE tasks ADD COLUMN after_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN buried_ttl_ms INTEGER NOT NULL DEFAULT 86400000;
-- Subtasks: when they were BURIED, and a revoke asked of a RESERVED one (the host is told to
-- cancel; its result then records REVOKED). expires_at is now set when a subtask is admitted
-- (ttl counts from entering READY); PENDING subtasks never expire.
ALTER TABLE subtasks ADD COLUMN buried_at INTEGER;
ALTER TABLE subtasks ADD COLUMN revoke_requested_at INTEGER;
CREATE INDEX idx_subtasks_task_state ON subtasks(taskid, state);
