-- Stored answers are sealed with the personal-data key ring (an answer can
-- carry what a command decided about a person, such as a qualification's
-- figures). pii_key_id names the key; answers stored before this have
-- none and are read as they are until the retention purge removes them,
-- or `crowdledger pii reencrypt` seals them.
ALTER TABLE idempotency_keys ADD COLUMN pii_key_id text;
