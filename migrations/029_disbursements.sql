-- Paying an issuer what a settled campaign raised: an operator asks, a
-- compliance officer (another person) approves, and the money moves from
-- the campaign's issuer payable to the issuer's wallet. What the rules hold
-- back (reward: the part of undelivered orders not released at settlement,
-- and the after-sales reserve until its period ends) is never paid out.
CREATE TABLE disbursements (
    id           uuid        NOT NULL,
    campaign_id  uuid        NOT NULL REFERENCES campaigns (id),
    amount       numeric     NOT NULL,
    state        text        NOT NULL DEFAULT 'requested',
    requested_by text        NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    approved_by  text,
    paid_at      timestamptz,
    transfer_id  uuid,
    CONSTRAINT disbursements_pkey PRIMARY KEY (id),
    CONSTRAINT disbursements_state_valid CHECK (state IN ('requested', 'paid')),
    CONSTRAINT disbursements_amount_positive CHECK (amount > 0),
    CONSTRAINT disbursements_two_people CHECK (approved_by IS NULL OR approved_by <> requested_by),
    CONSTRAINT disbursements_paid_complete CHECK (state <> 'paid' OR (approved_by IS NOT NULL AND transfer_id IS NOT NULL AND paid_at IS NOT NULL))
);
CREATE INDEX disbursements_campaign ON disbursements (campaign_id);
