-- Running totals for the compliance limits that need sums: an investor's
-- equity commitments over the rolling window, an issuer's raise over it,
-- and the issuer's distinct investors (counted through syndicates). The
-- commitment batch read them as ledger scans over every commitment of the
-- issuer's campaigns, so each commitment cost more than the last (15
-- million index scans for 2,200 commitments).
--
-- exposures keeps, per party and side ('I': what the investor committed,
-- 'S': what the issuer raised) and currency, the total of live and settled
-- equity commitments ever made (total), and the part made at or before
-- expired_through (expired). The window sum from an instant F is
--   total - expired - (made in (expired_through, F]) + (made in (F, expired_through])
-- where the last two are index range scans over the commitments made in a
-- few moments a year ago, and the batch moves expired_through up to F as it
-- goes: exact at the boundary, and constant in cost as a campaign grows.
-- Reward pledges are purchases, not investments: they count in none of it.
CREATE TABLE exposures (
    party_id        uuid        NOT NULL REFERENCES parties (id),
    side            "char"      NOT NULL,
    currency        text        NOT NULL REFERENCES currencies (code),
    total           numeric     NOT NULL DEFAULT 0,
    expired         numeric     NOT NULL DEFAULT 0,
    expired_through timestamptz NOT NULL DEFAULT '-infinity',
    investors       integer     NOT NULL DEFAULT 0, -- side 'S': distinct investors with a live or settled commitment
    CONSTRAINT exposures_pkey PRIMARY KEY (party_id, side, currency),
    CONSTRAINT exposures_side_valid CHECK (side IN ('I', 'S')),
    CONSTRAINT exposures_amounts CHECK (total >= 0 AND expired >= 0 AND expired <= total AND investors >= 0)
);

-- Which investors an issuer counts (per currency, as exposures does), and
-- with how many live or settled equity commitments each.
CREATE TABLE issuer_investors (
    issuer_id   uuid    NOT NULL REFERENCES parties (id),
    currency    text    NOT NULL REFERENCES currencies (code),
    investor_id uuid    NOT NULL REFERENCES parties (id),
    commitments integer NOT NULL,
    CONSTRAINT issuer_investors_pkey PRIMARY KEY (issuer_id, currency, investor_id),
    CONSTRAINT issuer_investors_nonnegative CHECK (commitments >= 0)
);

-- The issuer side's range scans go by campaign and time (the investor side
-- has commitments_investor_idx).
CREATE INDEX commitments_campaign_created_idx ON commitments (campaign_id, created_at);
CREATE INDEX campaigns_issuer_idx ON campaigns (issuer_id);

INSERT INTO exposures (party_id, side, currency, total)
SELECT m.investor_id, 'I', k.currency, sum(m.amount)
FROM commitments m JOIN campaigns k ON k.id = m.campaign_id
WHERE k.kind = 'equity' AND m.state IN ('live', 'settled')
GROUP BY m.investor_id, k.currency;

INSERT INTO exposures (party_id, side, currency, total, investors)
SELECT k.issuer_id, 'S', k.currency, sum(m.amount), count(DISTINCT m.investor_id)
FROM commitments m JOIN campaigns k ON k.id = m.campaign_id
WHERE k.kind = 'equity' AND m.state IN ('live', 'settled')
GROUP BY k.issuer_id, k.currency;

INSERT INTO issuer_investors (issuer_id, currency, investor_id, commitments)
SELECT k.issuer_id, k.currency, m.investor_id, count(*)
FROM commitments m JOIN campaigns k ON k.id = m.campaign_id
WHERE k.kind = 'equity' AND m.state IN ('live', 'settled')
GROUP BY k.issuer_id, k.currency, m.investor_id;
