-- A qualification decision counts only once a compliance officer has
-- approved it with evidence: what an investor (or anyone) submits is
-- declared until then. The approver is another person than the one who
-- submitted it and than the investor. Approvals are append-only, like the
-- decisions they approve.
CREATE TABLE qualification_approvals (
    qualification_id uuid        NOT NULL REFERENCES qualifications (id),
    approved_by      text        NOT NULL,
    approved_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    evidence         jsonb       NOT NULL,
    CONSTRAINT qualification_approvals_pkey PRIMARY KEY (qualification_id),
    CONSTRAINT qualification_approvals_evidence CHECK (jsonb_typeof(evidence) = 'array' AND jsonb_array_length(evidence) > 0)
);
CREATE TRIGGER qualification_approvals_append_only BEFORE UPDATE OR DELETE ON qualification_approvals
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
-- Decisions made before this were effective at once; they stay so, as
-- approved by the migration, so no investor loses a qualification overnight.
INSERT INTO qualification_approvals (qualification_id, approved_by, approved_at, evidence)
    SELECT id, 'system:migration-028', decided_at, '[{"kind":"approved before evidence was required","document_hash":""}]'::jsonb
    FROM qualifications;
