-- The commitment batch asks, per (campaign, investor) pair, whether the
-- investor already has a live commitment in the campaign. With statistics
-- taken while the table was small the planner chose (campaign_id, state)
-- and filtered every live commitment of a hot campaign by investor: 10 ms a
-- batch at 30k commitments, growing. One index that answers the whole
-- probe, and still serves the by-campaign scans, replaces both.
DROP INDEX commitments_investor_live_idx;
DROP INDEX commitments_campaign_idx;
CREATE INDEX commitments_campaign_idx ON commitments (campaign_id, state, investor_id);
