-- API keys. Only a SHA-256 of the secret is stored: the secret is 32 random
-- bytes, so a fast hash is enough (there is nothing to brute-force), and
-- lookups stay cheap on every request. Keys are revoked, never deleted, so
-- the audit trail can always name who acted.
CREATE TABLE api_keys (
    id          uuid        NOT NULL,
    secret_hash bytea       NOT NULL,
    role        text        NOT NULL,
    subject     text        NOT NULL DEFAULT '',
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_role_valid CHECK (role IN ('operator', 'compliance', 'issuer', 'investor', 'regulator')),
    CONSTRAINT api_keys_subject_required CHECK (role NOT IN ('issuer', 'investor') OR subject <> ''),
    CONSTRAINT api_keys_secret_hash_length CHECK (length(secret_hash) = 32)
);
