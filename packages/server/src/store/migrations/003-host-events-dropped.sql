-- Events a host's BootAgent had to drop from its bounded queue (eventsDropped of a status push):
-- the cumulative count as reported and when a push last reported drops (unix ms), so an operator
-- sees on the host that its event list has gaps. Each such push also adds a server-side event
-- (category 0, kind events_dropped).
ALTER TABLE hosts ADD COLUMN events_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN events_dropped_at INTEGER;
