-- Periodic-task results BasicAgents push over the command hub (task.result frames). They used
-- to live in a separate hub.sqlite; one database per server now. Filed by the hostname the
-- agent sent in init, with its AgentSN beside it (a host is asked for by either). Bounded:
-- the newest taskResultsKeep rows per (host, name), and rows older than
-- taskResultRetentionDays (by arrival) are deleted by the hourly retention sweep.
CREATE TABLE task_results (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  host        TEXT NOT NULL,
  agentsn     TEXT,
  name        TEXT NOT NULL,
  started     INTEGER NOT NULL,            -- unix seconds, as reported
  started_ms  INTEGER,
  duration_ms INTEGER NOT NULL,
  retcode     INTEGER NOT NULL,
  errcode     INTEGER,
  message     TEXT,
  output      TEXT NOT NULL,
  truncated   INTEGER NOT NULL,
  skipped     INTEGER NOT NULL,
  received    INTEGER NOT NULL              -- unix ms, arrival at the server
);
CREATE INDEX idx_task_results_host ON task_results(host, name, id);
CREATE INDEX idx_task_results_agentsn ON task_results(agentsn, name, id);
CREATE INDEX idx_task_results_received ON task_results(received);
