-- The tamper-evident audit trail (package audit).
--
-- audit_events is appended to in the same transaction as the change each
-- event records. It is not hashed there: hashing in the writing transaction
-- would make every writer in the service queue on one chain head. Instead a
-- single chainer (sequence-then-hash) later links committed events, in
-- batches, into audit_chain: position, event, SHA-256 over the previous
-- position's hash and the event's canonical bytes. audit_checkpoints signs
-- the chain head with the platform's Ed25519 key every N events and at
-- least daily. All three tables are append-only.
CREATE SEQUENCE audit_event_seq AS bigint;

CREATE TABLE audit_events (
    seq           bigint      NOT NULL DEFAULT nextval('audit_event_seq'),
    -- The writing transaction's id: the chainer takes only events whose
    -- transaction has ended (xid below its snapshot's xmin).
    -- (xid8 as bigint, for a BRIN index; xid8 values fit: they are 64-bit
    -- epoch-qualified ids far below 2^63.)
    xid           bigint      NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    occurred_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_key_id  uuid,
    actor_role    text        NOT NULL,
    actor_subject text        NOT NULL DEFAULT '',
    action        text        NOT NULL,
    object_ids    text[]      NOT NULL DEFAULT '{}',
    request_id    text        NOT NULL DEFAULT '',
    facts         jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT audit_events_pkey PRIMARY KEY (seq),
    CONSTRAINT audit_events_action_format CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
    CONSTRAINT audit_events_facts_object CHECK (jsonb_typeof(facts) = 'object')
);
-- BRIN, not btree: xids grow with the append-only table, so block ranges
-- summarise them well, and a BRIN insert costs next to nothing on the hot path.
CREATE INDEX audit_events_xid_idx ON audit_events USING brin (xid);

CREATE TABLE audit_chain (
    pos        bigint NOT NULL,
    event_seq  bigint NOT NULL,
    hash       bytea  NOT NULL,
    round_xmin bigint NOT NULL, -- the chainer's snapshot xmin (xid8 as bigint) when it linked this event
    CONSTRAINT audit_chain_pkey PRIMARY KEY (pos),
    CONSTRAINT audit_chain_event_seq_key UNIQUE (event_seq),
    CONSTRAINT audit_chain_pos_positive CHECK (pos > 0),
    CONSTRAINT audit_chain_hash_length CHECK (length(hash) = 32)
);

CREATE TABLE audit_checkpoints (
    pos       bigint      NOT NULL,
    hash      bytea       NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id    text        NOT NULL,
    signature bytea       NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (pos, signed_at)
);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
