-- A commitment's references, checked once per statement instead of per row.
--
-- The batch inserts a few dozen commitments in one statement; their four
-- row-level foreign keys (campaign, investor, vehicle, pending transfer)
-- each ran a lookup and took a KEY SHARE row lock per inserted row: about
-- 40-50 µs of the database's CPU per commitment under load, a tenth of its
-- share (README, "Sitting of 2026-12-02, later"). One join over the
-- statement's new rows checks the same thing, as transfers' references are
-- checked (002_ledger.sql).
--
-- It is as strong as the foreign keys it replaces because nothing can take
-- a referenced row away or change what a commitment refers to: transfers
-- are append-only already; parties, campaigns and syndicate vehicles are
-- never deleted and never change id (triggers below, for every role), and
-- a commitment's campaign, investor, vehicle and pending transfer never
-- change once written. The row locks the foreign keys took are not needed
-- for the same reason (they guarded against a concurrent delete).
CREATE FUNCTION commitments_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
    SELECT n.id, n.campaign_id, n.investor_id INTO bad
    FROM new_rows n
    LEFT JOIN campaigns k ON k.id = n.campaign_id
    LEFT JOIN parties p ON p.id = n.investor_id
    LEFT JOIN syndicate_vehicles v ON v.id = n.vehicle_id
    LEFT JOIN transfers t ON t.id = n.pending_transfer
    WHERE k.id IS NULL OR p.id IS NULL
       OR (n.vehicle_id IS NOT NULL AND v.id IS NULL)
       OR (n.pending_transfer IS NOT NULL AND t.id IS NULL)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'commitment % refers to a missing campaign, investor, vehicle or transfer', bad.id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'commitments_refs_check';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER commitments_refs_check AFTER INSERT ON commitments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION commitments_check_refs();

ALTER TABLE commitments
    DROP CONSTRAINT commitments_campaign_id_fkey,
    DROP CONSTRAINT commitments_investor_id_fkey,
    DROP CONSTRAINT commitments_vehicle_id_fkey,
    DROP CONSTRAINT commitments_pending_transfer_fkey;

-- What a commitment refers to is fixed when it is written (its state, its
-- resolution and its reconfirmation move; the rest does not). Not 002's
-- forbid_change: a table with an UPDATE or DELETE trigger running that
-- function is append-only to migrations/roles.go, which then revokes
-- UPDATE from the service role, and these tables are updated.
CREATE FUNCTION forbid_reference_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % would change or remove what other rows refer to', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER commitments_refs_fixed BEFORE UPDATE ON commitments
    FOR EACH ROW WHEN (NEW.campaign_id IS DISTINCT FROM OLD.campaign_id OR NEW.investor_id IS DISTINCT FROM OLD.investor_id
        OR NEW.vehicle_id IS DISTINCT FROM OLD.vehicle_id OR NEW.pending_transfer IS DISTINCT FROM OLD.pending_transfer)
    EXECUTE FUNCTION forbid_reference_change();

-- The rows commitments refer to stay, with their ids.
CREATE TRIGGER parties_no_delete BEFORE DELETE ON parties
    FOR EACH ROW EXECUTE FUNCTION forbid_reference_change();
CREATE TRIGGER parties_id_fixed BEFORE UPDATE ON parties
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION forbid_reference_change();
CREATE TRIGGER campaigns_no_delete BEFORE DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION forbid_reference_change();
CREATE TRIGGER campaigns_id_fixed BEFORE UPDATE ON campaigns
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION forbid_reference_change();
CREATE TRIGGER syndicate_vehicles_no_delete BEFORE DELETE ON syndicate_vehicles
    FOR EACH ROW EXECUTE FUNCTION forbid_reference_change();
CREATE TRIGGER syndicate_vehicles_id_fixed BEFORE UPDATE ON syndicate_vehicles
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION forbid_reference_change();
