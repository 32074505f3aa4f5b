-- Campaigns (package campaign): reward (实物众筹) and equity (股权众筹)
-- raises, their tiers, commitments and syndicate vehicles. Money never
-- lives here: every amount moves as ledger transfers between the accounts
-- named on the campaign (escrow, issuer payable); these tables hold the
-- business state and link to the transfers.
CREATE TABLE campaigns (
    id                  uuid        NOT NULL,
    issuer_id           uuid        NOT NULL REFERENCES parties (id),
    kind                text        NOT NULL,
    funding             text        NOT NULL,
    pack                text        NOT NULL,
    currency            text        NOT NULL REFERENCES currencies (code),
    title               text        NOT NULL,
    risk_level          smallint    NOT NULL,
    target              numeric     NOT NULL,
    hard_cap            numeric     NOT NULL,
    min_ticket          numeric     NOT NULL DEFAULT 0,
    price_per_share     numeric,
    fee_rate            numeric     NOT NULL,
    lead_investor_id    uuid        REFERENCES parties (id),
    lead_min_share      numeric     NOT NULL DEFAULT 0.10,
    carry_rate          numeric     NOT NULL DEFAULT 0.20,
    platform_carry_rate numeric     NOT NULL DEFAULT 0,
    max_investors       integer     NOT NULL DEFAULT 0,
    starts_at           timestamptz NOT NULL,
    deadline            timestamptz NOT NULL,
    state               text        NOT NULL DEFAULT 'draft',
    state_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by          text        NOT NULL,
    approved_by         text,
    disclosures         jsonb       NOT NULL DEFAULT '[]',
    rejection_reason    text,
    escrow_account_id   uuid        NOT NULL REFERENCES accounts (id),
    payable_account_id  uuid        NOT NULL REFERENCES accounts (id),
    committed           numeric     NOT NULL DEFAULT 0,
    investors           integer     NOT NULL DEFAULT 0,
    milestones          text[]      NOT NULL DEFAULT '{}',
    idempotency_key     text        NOT NULL,
    request_hash        bytea       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT campaigns_pkey PRIMARY KEY (id),
    CONSTRAINT campaigns_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT campaigns_kind_valid CHECK (kind IN ('reward', 'equity')),
    CONSTRAINT campaigns_funding_valid CHECK (funding IN ('all_or_nothing', 'keep_what_you_raise')),
    CONSTRAINT campaigns_kwyr_reward_only CHECK (funding = 'all_or_nothing' OR kind = 'reward'),
    CONSTRAINT campaigns_equity_terms CHECK (kind <> 'equity' OR (price_per_share > 0 AND risk_level = 5)),
    CONSTRAINT campaigns_state_valid CHECK (state IN ('draft', 'submitted', 'approved', 'rejected', 'live', 'succeeded', 'failed', 'settled', 'refunded', 'fulfilled')),
    CONSTRAINT campaigns_risk_range CHECK (risk_level BETWEEN 1 AND 5),
    CONSTRAINT campaigns_amounts CHECK (target > 0 AND hard_cap >= target AND min_ticket >= 0 AND committed >= 0 AND committed <= hard_cap),
    CONSTRAINT campaigns_rates CHECK (fee_rate >= 0 AND fee_rate < 1 AND carry_rate >= 0 AND carry_rate <= 0.20
        AND platform_carry_rate >= 0 AND platform_carry_rate + carry_rate < 1 AND lead_min_share >= 0 AND lead_min_share <= 1),
    CONSTRAINT campaigns_investor_cap CHECK (max_investors = 0 OR investors <= max_investors),
    CONSTRAINT campaigns_period CHECK (deadline > starts_at)
);
CREATE INDEX campaigns_due_idx ON campaigns (deadline) WHERE state = 'live';
CREATE INDEX campaigns_start_idx ON campaigns (starts_at) WHERE state = 'approved';

CREATE TABLE campaign_tiers (
    campaign_id    uuid    NOT NULL REFERENCES campaigns (id),
    tier           text    NOT NULL,
    title          text    NOT NULL,
    price          numeric NOT NULL,
    quantity_limit integer,
    sold           integer NOT NULL DEFAULT 0,
    delivery_by    date,
    CONSTRAINT campaign_tiers_pkey PRIMARY KEY (campaign_id, tier),
    CONSTRAINT campaign_tiers_price CHECK (price > 0),
    CONSTRAINT campaign_tiers_sold CHECK (sold >= 0 AND (quantity_limit IS NULL OR sold <= quantity_limit))
);

CREATE TABLE syndicate_vehicles (
    id          uuid    NOT NULL,
    campaign_id uuid    NOT NULL REFERENCES campaigns (id),
    seq         integer NOT NULL,
    partners    integer NOT NULL DEFAULT 0,
    CONSTRAINT syndicate_vehicles_pkey PRIMARY KEY (id),
    CONSTRAINT syndicate_vehicles_seq_key UNIQUE (campaign_id, seq),
    -- 合伙企业法 art. 61: a limited partnership has at most 50 partners.
    CONSTRAINT syndicate_vehicles_partners CHECK (partners BETWEEN 0 AND 50)
);

CREATE TABLE commitments (
    id                 uuid        NOT NULL,
    campaign_id        uuid        NOT NULL REFERENCES campaigns (id),
    investor_id        uuid        NOT NULL REFERENCES parties (id),
    role               text        NOT NULL,
    amount             numeric     NOT NULL,
    shares             bigint,
    tier               text,
    quantity           integer,
    vehicle_id         uuid        REFERENCES syndicate_vehicles (id),
    state              text        NOT NULL DEFAULT 'live',
    pending_transfer   uuid        NOT NULL REFERENCES transfers (id),
    resolution_transfer uuid       REFERENCES transfers (id),
    cooling_off_until  timestamptz,
    acknowledged       boolean     NOT NULL DEFAULT false,
    idempotency_key    text        NOT NULL,
    request_hash       bytea       NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    state_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT commitments_pkey PRIMARY KEY (id),
    CONSTRAINT commitments_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT commitments_role_valid CHECK (role IN ('backer', 'direct', 'lead', 'follower')),
    CONSTRAINT commitments_state_valid CHECK (state IN ('live', 'cancelled', 'settled', 'refunded')),
    CONSTRAINT commitments_amount_positive CHECK (amount > 0),
    CONSTRAINT commitments_shape CHECK ((tier IS NULL) = (quantity IS NULL) AND (role <> 'follower' OR vehicle_id IS NOT NULL))
);
CREATE INDEX commitments_campaign_idx ON commitments (campaign_id, state);
CREATE INDEX commitments_investor_idx ON commitments (investor_id, created_at);
CREATE INDEX commitments_investor_live_idx ON commitments (campaign_id, investor_id) WHERE state = 'live';
