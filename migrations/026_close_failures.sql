-- A campaign whose close fails (a frozen investor's commitment, a fault)
-- records why and when it is tried next, with a backoff; the scheduler
-- skips it until then and closes every other campaign on time. Staff see
-- it as an alert (campaign_close_failing).
ALTER TABLE campaigns
    ADD COLUMN close_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN close_error    text,
    ADD COLUMN close_retry_at timestamptz;
CREATE INDEX campaigns_close_failing ON campaigns (close_retry_at) WHERE close_failures > 0;
