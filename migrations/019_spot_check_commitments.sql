-- Spot checks are drawn from a seed the service draws (crypto/rand) and
-- commits to before the draw, revealing it after (supervision.Commit and
-- Draw), so a regulator can neither choose nor try seeds. A check is first
-- committed (seed, salt and commitment stored; nothing drawn), then drawn.
-- Checks made before this were drawn from the caller's seed at once: they
-- stay as they are, drawn, with no commitment.
ALTER TABLE spot_checks
    ADD COLUMN state        text NOT NULL DEFAULT 'drawn',
    ADD COLUMN salt         bytea,
    ADD COLUMN commitment   text,
    ADD COLUMN k            integer,
    ADD COLUMN candidates   text[],
    ADD COLUMN pool         uuid[],
    ADD COLUMN committed_by text,
    ADD COLUMN committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ADD CONSTRAINT spot_checks_state_valid CHECK (state IN ('committed', 'drawn')),
    ADD CONSTRAINT spot_checks_drawn_complete CHECK (state = 'committed' OR (campaigns IS NOT NULL AND drawn_at IS NOT NULL)),
    ADD CONSTRAINT spot_checks_published_drawn CHECK (NOT published OR state = 'drawn');
UPDATE spot_checks SET committed_at = drawn_at, committed_by = drawn_by, k = cardinality(campaigns), candidates = inspectors;
ALTER TABLE spot_checks ALTER COLUMN k SET NOT NULL;
ALTER TABLE spot_checks ALTER COLUMN state DROP DEFAULT;
ALTER TABLE spot_checks
    ALTER COLUMN campaigns DROP NOT NULL,
    ALTER COLUMN inspectors DROP NOT NULL,
    ALTER COLUMN pool_size DROP NOT NULL,
    ALTER COLUMN drawn_by DROP NOT NULL,
    ALTER COLUMN drawn_at DROP NOT NULL,
    ALTER COLUMN drawn_at DROP DEFAULT;
