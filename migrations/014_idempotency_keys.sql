-- One store for every mutating route's Idempotency-Key (Stripe's model, as
-- Brandur Leach describes it for PostgreSQL): the key is claimed by a unique
-- insert in the same transaction as the work, and the response is written
-- before that transaction commits, so a crash leaves both or neither. A
-- concurrent copy of the request waits on the primary key until the first
-- commits, then replays its response.
--
-- scope is who the key belongs to (the API key's party, or the key itself
-- for platform staff), so two clients' keys never collide. request_hash is
-- SHA-256 over the method, the path and the canonical body: the same key
-- with another request is a conflict, never a replay. No personal data is
-- kept here beyond what the stored response already shows its caller.
CREATE TABLE idempotency_keys (
    scope           text        NOT NULL,
    key             text        NOT NULL,
    request_hash    bytea       NOT NULL,
    status          smallint    NOT NULL,
    content_type    text        NOT NULL,
    location        text,
    body            bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key),
    CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_hash_length CHECK (length(request_hash) = 32),
    CONSTRAINT idempotency_keys_status_2xx CHECK (status BETWEEN 200 AND 299)
);

-- The retention purge deletes by age. Keys arrive in time order, so a BRIN
-- index finds the old ones at a fraction of a B-tree's cost on every insert.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys USING brin (created_at);
