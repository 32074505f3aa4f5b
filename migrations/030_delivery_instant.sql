-- A tier's delivery date was a date: an instant given for it was silently
-- cut to midnight. It is an instant now (release rules, late-delivery
-- alerts and refund rights count from it); dates already stored become
-- their midnight, UTC.
ALTER TABLE campaign_tiers ALTER COLUMN delivery_by TYPE timestamptz USING (delivery_by::timestamp AT TIME ZONE 'UTC');
