-- Operator roles and scopes, and the audit log (docs/security.md).
-- Tokens that exist before this migration become admin with no limits: behaviour unchanged.
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
-- JSON object: tags, regions, agentsn, commands, users, cidrs (each absent = no limit).
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '{}';

-- Append-only: no route updates or deletes a row; only the retention sweep deletes old ones.
CREATE TABLE audit (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  phase     TEXT NOT NULL,
  request   TEXT NOT NULL,
  token     TEXT,
  source    TEXT NOT NULL,
  method    TEXT NOT NULL,
  route     TEXT NOT NULL,
  targets   INTEGER,
  selector  TEXT,
  command   TEXT,
  run_as    TEXT,
  code      INTEGER,
  outcome   TEXT
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_token ON audit(token, at);
CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
BEGIN
  SELECT RAISE(ABORT, 'audit rows are never updated');
END;
