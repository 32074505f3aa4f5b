-- Every equity commitment under a pack that asks for a risk disclosure
-- letter (the CN packs: 投资风险揭示书) records the SHA-256 of the version
-- the investor acknowledged.
ALTER TABLE commitments ADD COLUMN risk_disclosure text;
ALTER TABLE commitments ADD CONSTRAINT commitments_risk_disclosure_hash CHECK (risk_disclosure IS NULL OR risk_disclosure ~ '^[0-9a-f]{64}$');
