-- Rotating the personal-data key ring (`crowdledger pii reencrypt`)
-- re-encrypts stored ciphertexts under the newest key. Append-only tables
-- that hold ciphertext allow exactly that rewrite: the ciphertext and its
-- key id change, nothing else does.
CREATE FUNCTION forbid_change_but_reseal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV names the ciphertext column; pii_key_id goes with it.
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - TG_ARGV[0] - 'pii_key_id') = (to_jsonb(OLD) - TG_ARGV[0] - 'pii_key_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% on % is not allowed: it is append-only (only re-encryption rewrites it)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
DROP TRIGGER qualifications_append_only ON qualifications;
CREATE TRIGGER qualifications_append_only BEFORE UPDATE OR DELETE ON qualifications
    FOR EACH ROW EXECUTE FUNCTION forbid_change_but_reseal('detail_enc');

-- A list entry may be ended once, or re-encrypted.
CREATE OR REPLACE FUNCTION list_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'list entries are never deleted, only ended' USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - 'doc_enc' - 'pii_key_id') = (to_jsonb(OLD) - 'doc_enc' - 'pii_key_id') THEN
        RETURN NEW; -- re-encryption
    END IF;
    IF OLD.ended_at IS NOT NULL OR NEW.ended_at IS NULL
       OR (NEW.id, NEW.list, NEW.party_id, NEW.doc_lookup, NEW.reason, NEW.authority, NEW.effective_from, NEW.created_by, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.list, OLD.party_id, OLD.doc_lookup, OLD.reason, OLD.authority, OLD.effective_from, OLD.created_by, OLD.created_at) THEN
        RAISE EXCEPTION 'a list entry can only be ended, once' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;
