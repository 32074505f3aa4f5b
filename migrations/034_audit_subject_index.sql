-- A campaign's timeline (GET /v1/campaigns/{id}/events) reads the events
-- whose first object is the campaign, newest first: every campaign event
-- names its campaign first. One btree insert per event on the hot path,
-- in exchange for a timeline that is an index range at any size.
CREATE INDEX audit_events_subject_idx ON audit_events ((object_ids[1]), seq);
