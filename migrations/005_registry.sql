-- The register of parties (investors and issuers), their real-name
-- verification, qualification decisions, and the red and black lists.
--
-- Names, identity numbers and declared financial figures are personal
-- data: stored only encrypted (AES-256-GCM, *_enc with the id of the key
-- that sealed them), found by a keyed hash (doc_lookup), shown masked.
CREATE TABLE parties (
    id                  uuid        NOT NULL,
    role                text        NOT NULL,
    entity              text        NOT NULL,
    jurisdiction        text        NOT NULL,
    name_enc            bytea       NOT NULL,
    doc_type            text        NOT NULL,
    doc_enc             bytea       NOT NULL,
    doc_lookup          bytea       NOT NULL,
    doc_masked          text        NOT NULL,
    pii_key_id          text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending',
    status_by           text,
    status_at           timestamptz,
    status_method       text,
    status_reason       text,
    idempotency_key     text        NOT NULL,
    request_hash        bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT parties_pkey PRIMARY KEY (id),
    CONSTRAINT parties_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT parties_role_valid CHECK (role IN ('investor', 'issuer')),
    CONSTRAINT parties_entity_valid CHECK (entity IN ('individual', 'institution')),
    CONSTRAINT parties_jurisdiction_format CHECK (jurisdiction ~ '^[A-Z]{2}$'),
    CONSTRAINT parties_doc_type_valid CHECK (doc_type IN ('prc_resident_id', 'prc_uscc', 'passport', 'other')),
    CONSTRAINT parties_status_valid CHECK (status IN ('pending', 'verified', 'rejected')),
    CONSTRAINT parties_verified_attributed CHECK (status = 'pending' OR (status_by IS NOT NULL AND status_at IS NOT NULL))
);
-- One party per real-world document and role.
CREATE UNIQUE INDEX parties_doc_key ON parties (role, doc_type, doc_lookup);
CREATE INDEX parties_doc_lookup_idx ON parties (doc_lookup);

-- Parties an issuer declares related to it (directors, shareholders,
-- family): they may not invest in its campaigns (no 自融).
CREATE TABLE party_relations (
    issuer_id  uuid        NOT NULL REFERENCES parties (id),
    related_id uuid        NOT NULL REFERENCES parties (id),
    relation   text        NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT party_relations_pkey PRIMARY KEY (issuer_id, related_id),
    CONSTRAINT party_relations_distinct CHECK (issuer_id <> related_id)
);

-- Qualification decisions: append-only. The summary columns are clear for
-- queries; the profile and the full decision (with the financial figures it
-- compared) are encrypted.
CREATE TABLE qualifications (
    id             uuid        NOT NULL,
    party_id       uuid        NOT NULL REFERENCES parties (id),
    pack           text        NOT NULL,
    pack_version   text        NOT NULL,
    decided_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    qualified      boolean     NOT NULL,
    category       text        NOT NULL,
    risk_tolerance smallint    NOT NULL,
    currency       text        NOT NULL,
    window_limit   numeric,
    min_ticket     numeric,
    warn_above     numeric,
    detail_enc     bytea       NOT NULL,
    pii_key_id     text        NOT NULL,
    decided_by     text        NOT NULL,
    CONSTRAINT qualifications_pkey PRIMARY KEY (id),
    CONSTRAINT qualifications_risk_range CHECK (risk_tolerance BETWEEN 1 AND 5)
);
CREATE INDEX qualifications_party_idx ON qualifications (party_id, pack, decided_at DESC);
CREATE TRIGGER qualifications_append_only BEFORE UPDATE OR DELETE ON qualifications
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Red and black lists (红黑榜). An entry names a party or a document (by
-- keyed hash) and is never deleted; lifting it sets ended_at.
CREATE TABLE list_entries (
    id             uuid        NOT NULL,
    list           text        NOT NULL,
    party_id       uuid        REFERENCES parties (id),
    doc_type       text,
    doc_lookup     bytea,
    doc_enc        bytea,
    doc_masked     text,
    pii_key_id     text,
    reason         text        NOT NULL,
    authority      text        NOT NULL,
    effective_from timestamptz NOT NULL,
    effective_to   timestamptz,
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at       timestamptz,
    ended_by       text,
    end_reason     text,
    CONSTRAINT list_entries_pkey PRIMARY KEY (id),
    CONSTRAINT list_entries_list_valid CHECK (list IN ('black', 'red')),
    CONSTRAINT list_entries_subject CHECK (party_id IS NOT NULL OR doc_lookup IS NOT NULL),
    CONSTRAINT list_entries_period CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX list_entries_party_idx ON list_entries (party_id) WHERE party_id IS NOT NULL;
CREATE INDEX list_entries_doc_idx ON list_entries (doc_lookup) WHERE doc_lookup IS NOT NULL;

CREATE FUNCTION list_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'list entries are never deleted, only ended' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.ended_at IS NOT NULL OR NEW.ended_at IS NULL
       OR (NEW.id, NEW.list, NEW.party_id, NEW.doc_lookup, NEW.reason, NEW.authority, NEW.effective_from, NEW.created_by, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.list, OLD.party_id, OLD.doc_lookup, OLD.reason, OLD.authority, OLD.effective_from, OLD.created_by, OLD.created_at) THEN
        RAISE EXCEPTION 'a list entry can only be ended, once' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER list_entries_guard BEFORE UPDATE OR DELETE ON list_entries
    FOR EACH ROW EXECUTE FUNCTION list_entries_guard();

-- Open commitments of a party newly blacklisted, flagged for compliance review.
CREATE TABLE review_flags (
    id          uuid        NOT NULL,
    party_id    uuid        NOT NULL REFERENCES parties (id),
    transfer_id uuid        NOT NULL,
    reason      text        NOT NULL,
    list_entry  uuid        NOT NULL REFERENCES list_entries (id),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT review_flags_pkey PRIMARY KEY (id),
    CONSTRAINT review_flags_once UNIQUE (transfer_id, list_entry)
);
