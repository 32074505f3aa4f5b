-- Lists (internal/page): every list pages newest first by (created_at, id)
-- with a keyset condition, so each list query is a backward scan of an
-- index that ends in (created_at, id), led by the filter it serves. Where
-- an older index was the same index without id, it is replaced (the wider
-- one serves every query the narrower one did).
--
-- Built inside the migration's transaction: on a large production table run
-- the CREATE INDEX CONCURRENTLY forms by hand first; IF NOT EXISTS then
-- makes this migration a no-op for them.

CREATE INDEX IF NOT EXISTS campaigns_list_idx ON campaigns (created_at, id);
CREATE INDEX IF NOT EXISTS campaigns_state_list_idx ON campaigns (state, created_at, id);
DROP INDEX IF EXISTS campaigns_issuer_idx;
CREATE INDEX IF NOT EXISTS campaigns_issuer_list_idx ON campaigns (issuer_id, created_at, id);
-- Substring search on titles (ILIKE '%...%'). Trigrams (pg_trgm) need
-- three characters, and a Chinese title's words are often two (挂面, 青稞):
-- a search for one found no trigram and read the whole table. So titles are
-- indexed by their character pairs: a title containing q holds every pair
-- of q, the GIN index finds those titles, and ILIKE rechecks the rest.
CREATE FUNCTION title_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(t), i, 2)), '{}')
    FROM generate_series(1, char_length(t) - 1) AS i
$$;
CREATE INDEX IF NOT EXISTS campaigns_title_bigrams_idx ON campaigns USING gin (title_bigrams(title));

CREATE INDEX IF NOT EXISTS commitments_list_idx ON commitments (created_at, id);
DROP INDEX IF EXISTS commitments_campaign_created_idx;
CREATE INDEX IF NOT EXISTS commitments_campaign_list_idx ON commitments (campaign_id, created_at, id);
DROP INDEX IF EXISTS commitments_investor_idx;
CREATE INDEX IF NOT EXISTS commitments_investor_list_idx ON commitments (investor_id, created_at, id);

CREATE INDEX IF NOT EXISTS orders_list_idx ON orders (created_at, id);
CREATE INDEX IF NOT EXISTS orders_campaign_list_idx ON orders (campaign_id, created_at, id);
CREATE INDEX IF NOT EXISTS orders_backer_list_idx ON orders (backer_id, created_at, id);

CREATE INDEX IF NOT EXISTS parties_list_idx ON parties (created_at, id);
CREATE INDEX IF NOT EXISTS parties_role_list_idx ON parties (role, created_at, id);

CREATE INDEX IF NOT EXISTS accounts_list_idx ON accounts (created_at, id);
DROP INDEX IF EXISTS accounts_owner_idx;
CREATE INDEX IF NOT EXISTS accounts_owner_list_idx ON accounts (owner, created_at, id);

-- By account, transfers page through account_entries' primary key.
CREATE INDEX IF NOT EXISTS transfers_list_idx ON transfers (created_at, id);
-- metadata @> '{"k":"v"}': jsonb_path_ops is the smaller GIN opclass and
-- serves exactly containment.
CREATE INDEX IF NOT EXISTS transfers_metadata_idx ON transfers USING gin (metadata jsonb_path_ops);

CREATE INDEX IF NOT EXISTS list_entries_list_idx ON list_entries (created_at, id);
CREATE INDEX IF NOT EXISTS review_flags_list_idx ON review_flags (created_at, id);
CREATE INDEX IF NOT EXISTS freezes_list_idx ON freezes (created_at, id);
CREATE INDEX IF NOT EXISTS complaints_list_idx ON complaints (created_at, id);
CREATE INDEX IF NOT EXISTS complaints_complainant_list_idx ON complaints (complainant_id, created_at, id);
CREATE INDEX IF NOT EXISTS spot_checks_list_idx ON spot_checks (committed_at, id);
CREATE INDEX IF NOT EXISTS api_keys_list_idx ON api_keys (created_at, id);
