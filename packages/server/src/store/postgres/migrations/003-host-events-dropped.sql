-- PostgreSQL twin of ../../migrations/003-host-events-dropped.sql.
ALTER TABLE hosts ADD COLUMN events_dropped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN events_dropped_at BIGINT;
