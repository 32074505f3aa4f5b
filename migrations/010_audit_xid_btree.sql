-- The chainer finds new events by transaction id range. A BRIN index was
-- cheap to maintain but the planner would not use it for the chainer's
-- prepared (generic) plan, so every round scanned the whole table: 100 ms a
-- round at 190k events under load. A btree on an ever-growing bigint only
-- ever appends to its rightmost page, which costs little more.
DROP INDEX audit_events_xid_idx;
CREATE INDEX audit_events_xid_idx ON audit_events (xid);
