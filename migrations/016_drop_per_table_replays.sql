-- Parties and campaigns kept their own idempotency key and request hash,
-- a replay mechanism of their own from before idempotency_keys (014).
-- Every route now goes through that one mechanism, so these columns only
-- cost: and parties.request_hash was an unkeyed SHA-256 over role, entity,
-- jurisdiction, name, document type and number, from which a resident ID
-- number and name could be recovered by guessing (about 4,200 candidates
-- given the masked number). The columns go, and 017 rewrites the table so
-- that no old tuple keeps the digest on disk.
ALTER TABLE parties DROP COLUMN request_hash, DROP COLUMN idempotency_key;
ALTER TABLE campaigns DROP COLUMN request_hash, DROP COLUMN idempotency_key;
