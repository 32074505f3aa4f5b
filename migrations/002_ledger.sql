-- The double-entry ledger, after TigerBeetle's accounts and transfers.
--
-- accounts carries the four running balances; CHECK constraints mirror the
-- overdraft flags so that no code path, not even a buggy one, can commit an
-- overdrawn flagged account. The composite keys (id, currency) let transfers
-- reference an account *in a currency*, so a currency mismatch cannot be
-- stored either.
CREATE TABLE accounts (
    id                             uuid        NOT NULL,
    currency                       text        NOT NULL,
    code                           text        NOT NULL,
    owner                          text        NOT NULL DEFAULT '',
    metadata                       jsonb       NOT NULL DEFAULT '{}',
    debits_must_not_exceed_credits boolean     NOT NULL DEFAULT false,
    credits_must_not_exceed_debits boolean     NOT NULL DEFAULT false,
    closed_at                      timestamptz,
    idempotency_key                text        NOT NULL,
    request_hash                   bytea       NOT NULL,
    created_at                     timestamptz NOT NULL DEFAULT clock_timestamp(),
    debits_posted                  numeric     NOT NULL DEFAULT 0,
    credits_posted                 numeric     NOT NULL DEFAULT 0,
    debits_pending                 numeric     NOT NULL DEFAULT 0,
    credits_pending                numeric     NOT NULL DEFAULT 0,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_id_currency_key UNIQUE (id, currency),
    CONSTRAINT accounts_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT accounts_currency_fkey FOREIGN KEY (currency) REFERENCES currencies (code),
    CONSTRAINT accounts_code_format CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
    CONSTRAINT accounts_flags_exclusive CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
    CONSTRAINT accounts_balances_nonnegative CHECK (debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0),
    CONSTRAINT accounts_debits_within_credits CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
    CONSTRAINT accounts_credits_within_debits CHECK (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)
);
CREATE INDEX accounts_owner_idx ON accounts (owner) WHERE owner <> '';

-- An entry is one accepted request: a single transfer or an atomic batch. It
-- owns the client's idempotency key and the hash of the request it came with.
CREATE TABLE entries (
    id              uuid        NOT NULL,
    idempotency_key text        NOT NULL,
    request_hash    bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    CONSTRAINT entries_pkey PRIMARY KEY (id),
    CONSTRAINT entries_idempotency_key_key UNIQUE (idempotency_key)
);

CREATE SEQUENCE transfer_seq AS bigint;

-- A transfer moves amount from debit_account_id to credit_account_id. kind:
--   posted        moves money now;
--   pending       reserves it in the pending balances;
--   post_pending  resolves pending_id, moving amount (<= the pending amount) for real;
--   void_pending  resolves pending_id, releasing the reservation.
-- A pending transfer is resolved at most once (transfers_pending_id_key), a
-- transfer is reversed at most once (transfers_reverses_id_key).
CREATE TABLE transfers (
    id                uuid        NOT NULL,
    seq               bigint      NOT NULL,
    entry_id          uuid        NOT NULL,
    entry_index       integer     NOT NULL,
    kind              text        NOT NULL,
    debit_account_id  uuid        NOT NULL,
    credit_account_id uuid        NOT NULL,
    currency          text        NOT NULL,
    minor_units       smallint    NOT NULL,
    amount            numeric     NOT NULL,
    code              text        NOT NULL,
    metadata          jsonb       NOT NULL DEFAULT '{}',
    pending_id        uuid,
    reverses_id       uuid,
    expires_at        timestamptz,
    created_at        timestamptz NOT NULL,
    CONSTRAINT transfers_pkey PRIMARY KEY (id),
    CONSTRAINT transfers_entry_index_key UNIQUE (entry_id, entry_index),
    CONSTRAINT transfers_kind_valid CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
    CONSTRAINT transfers_distinct_accounts CHECK (debit_account_id <> credit_account_id),
    -- A post of zero is allowed only as the release of a whole pending amount
    -- (TigerBeetle posts with amount 0 likewise); everything else moves > 0.
    CONSTRAINT transfers_amount_positive CHECK (amount > 0 OR (kind IN ('post_pending', 'void_pending') AND amount >= 0)),
    CONSTRAINT transfers_amount_scale CHECK (amount = round(amount, minor_units)),
    CONSTRAINT transfers_pending_ref CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL)),
    CONSTRAINT transfers_pending_fkey FOREIGN KEY (pending_id) REFERENCES transfers (id),
    CONSTRAINT transfers_reverses_fkey FOREIGN KEY (reverses_id) REFERENCES transfers (id),
    CONSTRAINT transfers_expiry_only_pending CHECK (expires_at IS NULL OR kind = 'pending'),
    CONSTRAINT transfers_code_format CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$')
);
-- Partial unique indexes: most transfers resolve and reverse nothing, and
-- NULLs need no index entry.
CREATE UNIQUE INDEX transfers_pending_id_key ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE UNIQUE INDEX transfers_reverses_id_key ON transfers (reverses_id) WHERE reverses_id IS NOT NULL;
-- The expiry sweeper looks for pending transfers past their timeout.
CREATE INDEX transfers_expires_at_idx ON transfers (expires_at) WHERE expires_at IS NOT NULL;

-- account_entries is the per-account view of every transfer, with the
-- account's four balances right after it: running balances for statements
-- and balance-as-of lookups without summing history. Written in the same
-- statement batch as the transfer; never changed.
CREATE TABLE account_entries (
    account_id      uuid        NOT NULL,
    seq             bigint      NOT NULL,
    transfer_id     uuid        NOT NULL,
    side            "char"      NOT NULL,
    created_at      timestamptz NOT NULL,
    debits_posted   numeric     NOT NULL,
    credits_posted  numeric     NOT NULL,
    debits_pending  numeric     NOT NULL,
    credits_pending numeric     NOT NULL,
    -- One index serves both statements (pages in time order) and
    -- balance-as-of lookups: an account's created_at and seq grow together,
    -- as both are taken while its row is locked.
    CONSTRAINT account_entries_pkey PRIMARY KEY (account_id, created_at, seq),
    CONSTRAINT account_entries_side_valid CHECK (side IN ('D', 'C'))
);

-- Referential integrity, checked once per statement instead of per row.
-- Row-level foreign keys run one lookup per inserted row, which dominated
-- the cost of a batch of hundreds of transfers. These checks run one join
-- over the statement's new rows. They are as strong as the foreign keys
-- they replace because the referenced rows can never go away or change key:
-- entries and transfers are append-only and accounts can be neither deleted
-- nor moved to another currency (triggers below).
CREATE FUNCTION transfers_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
    SELECT n.id, n.entry_id, n.debit_account_id, n.credit_account_id, n.currency INTO bad
    FROM new_rows n
    LEFT JOIN entries e ON e.id = n.entry_id
    LEFT JOIN accounts d ON d.id = n.debit_account_id AND d.currency = n.currency
    LEFT JOIN accounts c ON c.id = n.credit_account_id AND c.currency = n.currency
    LEFT JOIN currencies cur ON cur.code = n.currency AND cur.minor_units = n.minor_units
    WHERE e.id IS NULL OR d.id IS NULL OR c.id IS NULL OR cur.code IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % refers to a missing entry, or to an account or scale not in currency %', bad.id, bad.currency
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'transfers_refs_check';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER transfers_refs_check AFTER INSERT ON transfers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION transfers_check_refs();

CREATE FUNCTION account_entries_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
    SELECT n.account_id, n.transfer_id INTO bad
    FROM new_rows n
    LEFT JOIN transfers t ON t.id = n.transfer_id AND t.seq = n.seq
        AND n.account_id = CASE n.side WHEN 'D' THEN t.debit_account_id ELSE t.credit_account_id END
    WHERE t.id IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account entry for % does not match transfer %', bad.account_id, bad.transfer_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'account_entries_refs_check';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER account_entries_refs_check AFTER INSERT ON account_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_entries_check_refs();

-- Append-only, enforced in the database for every role: history is never
-- rewritten; a correction is a new reversing transfer.
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER account_entries_append_only BEFORE UPDATE OR DELETE ON account_entries
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER account_entries_no_truncate BEFORE TRUNCATE ON account_entries
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Accounts are never deleted; only their balances, closed_at and nothing
-- else may change after creation.
CREATE FUNCTION accounts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on accounts is not allowed' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.currency <> OLD.currency OR NEW.code <> OLD.code
       OR NEW.owner <> OLD.owner OR NEW.created_at <> OLD.created_at
       OR NEW.idempotency_key <> OLD.idempotency_key OR NEW.request_hash <> OLD.request_hash
       OR NEW.debits_must_not_exceed_credits <> OLD.debits_must_not_exceed_credits
       OR NEW.credits_must_not_exceed_debits <> OLD.credits_must_not_exceed_debits
       OR (OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at) THEN
        RAISE EXCEPTION 'only balances and closing may change on an account' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER accounts_guard BEFORE UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_guard();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
