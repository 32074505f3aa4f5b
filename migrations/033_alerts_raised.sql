-- Alerts are computed from the records (supervision.Alerts); the first time
-- one appears it is raised as an event (alert.raised) for the feed and
-- webhooks. This table remembers which were raised, so each is raised once.
CREATE TABLE alerts_raised (
    key         text        NOT NULL,
    kind        text        NOT NULL,
    campaign_id text        NOT NULL,
    party_id    text        NOT NULL,
    detail      text        NOT NULL,
    raised_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT alerts_raised_pkey PRIMARY KEY (key)
);
