-- Supervision (package supervision): freeze orders, random spot checks
-- (双随机、一公开) and complaints (多元化纠纷解决).
--
-- A freeze names an account, a party (all its accounts) or a campaign (its
-- escrow and payable). While it is in force the ledger refuses any transfer
-- that takes money out of a frozen account. Freezes are never deleted;
-- lifting one is recorded.
CREATE TABLE freezes (
    id          uuid        NOT NULL,
    target_type text        NOT NULL,
    target_id   uuid        NOT NULL,
    reason      text        NOT NULL,
    legal_basis text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    lifted_at   timestamptz,
    lifted_by   text,
    lift_reason text,
    CONSTRAINT freezes_pkey PRIMARY KEY (id),
    CONSTRAINT freezes_target_type_valid CHECK (target_type IN ('account', 'party', 'campaign'))
);
CREATE INDEX freezes_active_idx ON freezes (target_id) WHERE lifted_at IS NULL;
CREATE TRIGGER freezes_no_delete BEFORE DELETE ON freezes FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE spot_checks (
    id          uuid        NOT NULL,
    seed        bigint      NOT NULL,
    filter      jsonb       NOT NULL,
    campaigns   uuid[]      NOT NULL,
    inspectors  text[]      NOT NULL,
    pool_size   integer     NOT NULL,
    drawn_by    text        NOT NULL,
    drawn_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    results     text,
    published   boolean     NOT NULL DEFAULT false,
    CONSTRAINT spot_checks_pkey PRIMARY KEY (id)
);

CREATE TABLE complaints (
    id              uuid        NOT NULL,
    complainant_id  uuid        NOT NULL REFERENCES parties (id),
    against_type    text        NOT NULL,
    against_id      uuid,
    summary         text        NOT NULL,
    state           text        NOT NULL DEFAULT 'received',
    ack_due         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT complaints_pkey PRIMARY KEY (id),
    CONSTRAINT complaints_against_valid CHECK (against_type IN ('campaign', 'issuer', 'platform')),
    CONSTRAINT complaints_state_valid CHECK (state IN ('received', 'acknowledged', 'mediating', 'resolved', 'escalated'))
);
CREATE TABLE complaint_events (
    complaint_id uuid        NOT NULL REFERENCES complaints (id),
    seq          integer     NOT NULL,
    from_state   text        NOT NULL,
    to_state     text        NOT NULL,
    note         text        NOT NULL,
    actor        text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT complaint_events_pkey PRIMARY KEY (complaint_id, seq)
);
CREATE TRIGGER complaint_events_append_only BEFORE UPDATE OR DELETE ON complaint_events
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
