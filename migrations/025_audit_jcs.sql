-- Audit chain v2: events are hashed in their RFC 8785 (JCS) form, so a
-- regulator can recompute a hash with any JCS implementation and SHA-256
-- (docs/audit.md). Each event records the form it is hashed in: the events
-- already chained keep form 1 (their hashes are signed and never change);
-- every event written from now on is form 2.
ALTER TABLE audit_events ADD COLUMN canon smallint NOT NULL DEFAULT 1;
ALTER TABLE audit_events ALTER COLUMN canon SET DEFAULT 2;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_canon_known CHECK (canon IN (1, 2));
