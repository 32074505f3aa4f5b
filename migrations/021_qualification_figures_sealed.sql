-- A decision's figures (window limit, minimum ticket, warning threshold)
-- follow from a person's income or net worth (5% or 10% of it). They were
-- kept in plain columns beside the encrypted detail that already holds
-- them; now they live only there (registry.WindowLimits opens them for
-- reports). 022 rewrites the table so the old values leave its pages.
ALTER TABLE qualifications DROP COLUMN window_limit, DROP COLUMN min_ticket, DROP COLUMN warn_above;
