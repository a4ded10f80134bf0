-- Seed 000 tables, adapted to SQLite. Times are unix milliseconds (UTC).
-- gmt_modify of a host changes only when its status changes (design.md §5 3.2); last_seen every push.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE regions (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  gmt_create INTEGER NOT NULL,
  gmt_modify INTEGER NOT NULL
);
INSERT INTO regions(id, name, gmt_create, gmt_modify) VALUES (0, 'global', 0, 0);

CREATE TABLE hosts (
  id              INTEGER PRIMARY KEY,
  agentsn         TEXT NOT NULL UNIQUE,
  hostname        TEXT NOT NULL,
  ipaddr          TEXT,
  region          INTEGER NOT NULL DEFAULT 0 REFERENCES regions(id),
  status          TEXT NOT NULL DEFAULT 'registered',
  step            INTEGER NOT NULL DEFAULT 600,
  os              TEXT,
  arch            TEXT,
  curvers         TEXT,
  prevers         TEXT,
  uptime          INTEGER,
  agents          TEXT NOT NULL DEFAULT '[]',
  reported_tags   TEXT NOT NULL DEFAULT '',
  credential_hash TEXT NOT NULL,
  last_seen       INTEGER,
  gmt_create      INTEGER NOT NULL,
  gmt_modify      INTEGER NOT NULL
);
CREATE INDEX idx_hosts_status ON hosts(status, last_seen);

CREATE TABLE tags (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  value      TEXT NOT NULL,
  gmt_create INTEGER NOT NULL,
  gmt_modify INTEGER NOT NULL,
  UNIQUE (name, value)
);

CREATE TABLE hosts_tags (
  hostid INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  tagid  INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
  PRIMARY KEY (hostid, tagid)
);
CREATE INDEX idx_hosts_tags_tag ON hosts_tags(tagid);

CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  agentsn    TEXT NOT NULL,
  category   INTEGER NOT NULL DEFAULT 1, -- 0: server, 1: agent
  localid    INTEGER NOT NULL,
  occurred   INTEGER NOT NULL,            -- unix seconds, as reported
  kind       TEXT NOT NULL,
  agent      TEXT,
  message    TEXT NOT NULL,
  data       TEXT,
  gmt_create INTEGER NOT NULL,
  UNIQUE (agentsn, localid, occurred)
);
CREATE INDEX idx_events_time ON events(agentsn, occurred);

-- Seed 000 "agents": released package versions.
CREATE TABLE packages (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  version    TEXT NOT NULL,
  os         TEXT NOT NULL,
  arch       TEXT NOT NULL,
  file       TEXT NOT NULL,
  path       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  gmt_create INTEGER NOT NULL,
  gmt_modify INTEGER NOT NULL,
  UNIQUE (name, os, arch, version)
);

CREATE TABLE tasks (
  id             INTEGER PRIMARY KEY,
  command        TEXT NOT NULL,
  parameters     TEXT NOT NULL,           -- JSON object
  user           TEXT,
  status         TEXT NOT NULL,           -- RUNNING COMPLETE REVOKED
  selector       TEXT NOT NULL,           -- agents | tags
  tags           TEXT,                    -- "k=v,k2=v2" for selector=tags
  window_start   INTEGER,
  window_end     INTEGER,
  delay_ms       INTEGER NOT NULL DEFAULT 0,
  batch          INTEGER NOT NULL DEFAULT 0, -- 0: no limit
  retry_count    INTEGER NOT NULL DEFAULT 0,
  retry_interval_ms INTEGER NOT NULL DEFAULT 0,
  ttl_ms         INTEGER NOT NULL DEFAULT 0, -- 0: never expires
  ttr_ms         INTEGER NOT NULL,
  count          INTEGER NOT NULL DEFAULT 0,
  complete       INTEGER NOT NULL DEFAULT 0,
  gmt_create     INTEGER NOT NULL,
  gmt_modify     INTEGER NOT NULL
);
CREATE INDEX idx_tasks_status ON tasks(status, selector);

CREATE TABLE subtasks (
  id          TEXT PRIMARY KEY,
  taskid      INTEGER NOT NULL REFERENCES tasks(id),
  agentsn     TEXT NOT NULL,
  state       TEXT NOT NULL,
  jobid       TEXT,                      -- id of the current attempt's job on the wire
  attempts    INTEGER NOT NULL DEFAULT 0,
  requeues    INTEGER NOT NULL DEFAULT 0,    -- times a ttr ran out while RESERVED
  ready_at    INTEGER NOT NULL,           -- DELAYED until then; PENDING not before then
  expires_at  INTEGER,                    -- not started by then: FAILED TASK_EXPIRED
  reserved_at INTEGER,
  errcode     INTEGER,
  message     TEXT,
  gmt_create  INTEGER NOT NULL,
  gmt_modify  INTEGER NOT NULL,
  UNIQUE (taskid, agentsn)
);
CREATE INDEX idx_subtasks_host ON subtasks(agentsn, state);
CREATE INDEX idx_subtasks_state ON subtasks(state, ready_at);
CREATE UNIQUE INDEX idx_subtasks_job ON subtasks(jobid);

CREATE TABLE tokens (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  hash       TEXT NOT NULL UNIQUE,
  gmt_create INTEGER NOT NULL,
  last_used  INTEGER
);
