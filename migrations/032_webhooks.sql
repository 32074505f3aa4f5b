-- Webhook subscriptions. Deliveries are River jobs (river_job, migrated by
-- River's own migrator after these files): inserted in the same
-- transaction that moves the dispatch cursor, so each event is enqueued
-- once per subscription, and retried by River until delivered or given up.
CREATE TABLE webhook_subscriptions (
    id            uuid        NOT NULL,
    owner_role    text        NOT NULL,
    owner_subject text        NOT NULL,
    url           text        NOT NULL,
    types         text[]      NOT NULL DEFAULT '{}',
    -- The signing secret, sealed with the PII keyring (HMAC needs the
    -- secret itself, so it is encrypted, never hashed).
    secret_enc    bytea       NOT NULL,
    pii_key_id    text        NOT NULL,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    disabled_at   timestamptz,
    -- The chain position of the subscription's creation event, once the
    -- chainer linked it: only the events after it are sent.
    from_pos      bigint,
    CONSTRAINT webhook_subscriptions_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_subscriptions_url CHECK (url ~ '^https?://')
);
CREATE INDEX webhook_subscriptions_owner_idx ON webhook_subscriptions (owner_role, owner_subject, created_at, id);

-- How far down the audit chain the dispatcher has enqueued deliveries.
CREATE TABLE webhook_dispatch (
    one  boolean NOT NULL DEFAULT true,
    pos  bigint  NOT NULL DEFAULT 0,
    CONSTRAINT webhook_dispatch_pkey PRIMARY KEY (one),
    CONSTRAINT webhook_dispatch_one CHECK (one)
);
INSERT INTO webhook_dispatch DEFAULT VALUES;
