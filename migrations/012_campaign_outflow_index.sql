-- The campaign report lists the money that left a campaign's escrow (fees,
-- payouts, refunds, distributions) by the campaign id in the transfer's
-- metadata. Without an index that read every transfer in the ledger for
-- each report. Only outflow codes are indexed, so commitments (the hot path)
-- pay nothing for it.
CREATE INDEX transfers_campaign_outflow_idx ON transfers ((metadata->>'campaign_id'), seq)
    WHERE code IN ('platform_fee', 'issuer_payout', 'refund', 'distribution', 'capital_return', 'carry', 'platform_carry');
