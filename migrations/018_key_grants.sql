-- Powers come from a written policy (auth.MayIssue), and maker-checker
-- compares people, not keys.
--
-- Every key now names who holds it: the party for party keys, the staff
-- member for staff keys. Staff keys made before this carried no subject;
-- each becomes its own person, "key:<id>".
UPDATE api_keys SET subject = 'key:' || id::text WHERE subject = '';
ALTER TABLE api_keys DROP CONSTRAINT api_keys_subject_required;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_subject_required CHECK (subject <> '');

-- Campaigns recorded their maker and checker as "role:key id"; they now
-- record the person (audit.Actor.Person), so one person's operator key and
-- compliance key cannot make and check the same campaign.
UPDATE campaigns c SET created_by = CASE WHEN k.role IN ('issuer', 'investor') THEN 'party:' ELSE 'staff:' END || k.subject
  FROM api_keys k WHERE c.created_by = k.role || ':' || k.id::text;
UPDATE campaigns c SET approved_by = CASE WHEN k.role IN ('issuer', 'investor') THEN 'party:' ELSE 'staff:' END || k.subject
  FROM api_keys k WHERE c.approved_by = k.role || ':' || k.id::text;

-- A compliance key asked for through the API waits here for a second
-- compliance officer, another person than the one who asked and the one
-- it is for. The last constraint says the same to anyone who writes here.
CREATE TABLE key_grants (
    id           uuid        NOT NULL,
    role         text        NOT NULL,
    subject      text        NOT NULL,
    name         text        NOT NULL,
    expires_at   timestamptz,
    requested_by text        NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    approved_by  text,
    approved_at  timestamptz,
    key_id       uuid REFERENCES api_keys (id),
    CONSTRAINT key_grants_pkey PRIMARY KEY (id),
    CONSTRAINT key_grants_role_valid CHECK (role IN ('operator', 'compliance', 'issuer', 'investor', 'regulator')),
    CONSTRAINT key_grants_subject_required CHECK (subject <> ''),
    CONSTRAINT key_grants_two_people CHECK (approved_by IS NULL OR (approved_by <> requested_by AND key_id IS NOT NULL))
);
CREATE INDEX key_grants_pending ON key_grants (requested_at) WHERE approved_by IS NULL;
