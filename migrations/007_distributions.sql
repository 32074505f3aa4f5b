-- Distributions of an equity campaign's proceeds (dividends, exits) and
-- each line of their split, so capital returned to syndicate members is
-- known for the next distribution ("capital first, then carry").
CREATE TABLE distributions (
    id              uuid        NOT NULL,
    campaign_id     uuid        NOT NULL REFERENCES campaigns (id),
    kind            text        NOT NULL,
    amount          numeric     NOT NULL,
    entry_id        uuid        NOT NULL REFERENCES entries (id),
    idempotency_key text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT distributions_pkey PRIMARY KEY (id),
    CONSTRAINT distributions_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT distributions_kind_valid CHECK (kind IN ('dividend', 'exit')),
    CONSTRAINT distributions_amount_positive CHECK (amount > 0)
);

CREATE TABLE distribution_lines (
    distribution_id uuid    NOT NULL REFERENCES distributions (id),
    line            integer NOT NULL,
    investor_id     uuid    REFERENCES parties (id),
    vehicle_id      uuid    REFERENCES syndicate_vehicles (id),
    part            text    NOT NULL,
    amount          numeric NOT NULL,
    transfer_id     uuid    REFERENCES transfers (id),
    CONSTRAINT distribution_lines_pkey PRIMARY KEY (distribution_id, line),
    CONSTRAINT distribution_lines_part_valid CHECK (part IN ('holder', 'capital_return', 'profit', 'carry', 'platform_carry')),
    CONSTRAINT distribution_lines_amount CHECK (amount >= 0)
);
CREATE TRIGGER distributions_append_only BEFORE UPDATE OR DELETE ON distributions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER distribution_lines_append_only BEFORE UPDATE OR DELETE ON distribution_lines
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
