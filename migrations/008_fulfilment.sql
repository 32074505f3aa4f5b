-- Reward fulfilment (orders, shipping, receipt, disputes, refunds) and
-- reconfirmation of commitments after a material change.
ALTER TABLE commitments ADD COLUMN reconfirm_by timestamptz;
ALTER TABLE commitments ADD COLUMN reconfirm_reason text;
CREATE INDEX commitments_reconfirm_idx ON commitments (reconfirm_by) WHERE reconfirm_by IS NOT NULL AND state = 'live';

CREATE TABLE orders (
    id            uuid        NOT NULL,
    campaign_id   uuid        NOT NULL REFERENCES campaigns (id),
    commitment_id uuid        NOT NULL REFERENCES commitments (id),
    backer_id     uuid        NOT NULL REFERENCES parties (id),
    tier          text        NOT NULL,
    quantity      integer     NOT NULL,
    amount        numeric     NOT NULL,
    refunded      numeric     NOT NULL DEFAULT 0,
    state         text        NOT NULL DEFAULT 'awaiting_shipment',
    carrier       text,
    tracking      text,
    shipped_at    timestamptz,
    received_at   timestamptz,
    dispute       text,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT orders_pkey PRIMARY KEY (id),
    CONSTRAINT orders_commitment_key UNIQUE (commitment_id),
    CONSTRAINT orders_state_valid CHECK (state IN ('awaiting_shipment', 'shipped', 'received', 'disputed', 'refunded', 'resolved')),
    CONSTRAINT orders_refund_bounds CHECK (refunded >= 0 AND refunded <= amount)
);
CREATE INDEX orders_campaign_idx ON orders (campaign_id, state);

CREATE TABLE order_refunds (
    id          uuid        NOT NULL,
    order_id    uuid        NOT NULL REFERENCES orders (id),
    amount      numeric     NOT NULL,
    approved_by text        NOT NULL,
    reason      text        NOT NULL,
    transfer_id uuid        NOT NULL REFERENCES transfers (id),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT order_refunds_pkey PRIMARY KEY (id)
);
CREATE TRIGGER order_refunds_append_only BEFORE UPDATE OR DELETE ON order_refunds
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
