package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// Qualification is a stored decision, with what the investor has left to
// commit in the current window when the decision sets a limit.
type Qualification struct {
	ID        uuid.UUID
	PartyID   uuid.UUID
	DecidedBy string
	compliance.Decision
}

// Qualify evaluates a profile under the pack in force now, stores the
// decision (figures encrypted) and audits it.
func (r *Registry) Qualify(ctx context.Context, partyID uuid.UUID, packID string, prof compliance.Profile) (Qualification, error) {
	now := r.Now().UTC().Truncate(time.Microsecond)
	pack, err := compliance.Pack(packID, now)
	if err != nil {
		return Qualification{}, invalid("pack", err)
	}
	actor, _ := audit.From(ctx)
	q := Qualification{ID: uuid.New(), PartyID: partyID, DecidedBy: actor.Person()}
	err = pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		var role string
		if err := tx.QueryRow(ctx, `SELECT role FROM parties WHERE id = $1`, partyID).Scan(&role); errors.Is(err, pgx.ErrNoRows) {
			return ErrPartyNotFound
		} else if err != nil {
			return err
		}
		if role != "investor" {
			return ErrWrongRole
		}
		q.Decision = compliance.Qualify(pack, prof, now)
		detail, err := json.Marshal(storedDetail{Profile: prof, Decision: toStored(q.Decision, pack.Currency)})
		if err != nil {
			return err
		}
		keyID, enc := r.keys.Seal(detail, "qualification:"+q.ID.String())
		// The figures (limit, minimum ticket, warning threshold) follow from
		// income or net worth: they live only in the encrypted detail.
		if _, err := tx.Exec(ctx, `INSERT INTO qualifications (id, party_id, pack, pack_version, decided_at, expires_at, qualified, category,
				risk_tolerance, currency, detail_enc, pii_key_id, decided_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			q.ID, partyID, q.Pack, q.PackVersion, q.DecidedAt, q.ExpiresAt, q.Qualified, q.Category, q.RiskTolerance, pack.Currency.Code(),
			enc, keyID, q.DecidedBy); err != nil {
			return err
		}
		ev, err := audit.New(ctx, "compliance.qualification.decide", []string{partyID.String(), q.ID.String()}, map[string]any{
			"pack": q.Pack, "pack_version": q.PackVersion, "qualified": q.Qualified, "category": q.Category,
			"risk_tolerance": q.RiskTolerance, "expires_at": q.ExpiresAt,
		})
		if err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, ev); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return Qualification{}, err
	}
	return q, nil
}

// QualificationSummary is a past decision without its encrypted detail.
type QualificationSummary struct {
	ID            uuid.UUID
	Pack          string
	PackVersion   string
	DecidedAt     time.Time
	ExpiresAt     time.Time
	Qualified     bool
	Category      string
	RiskTolerance int
	DecidedBy     string // the person who submitted it
	// ApprovedBy is the compliance officer who signed it off with
	// Evidence; until then the decision is declared and counts for nothing.
	ApprovedBy *string
	ApprovedAt *time.Time
	Evidence   []Evidence
}

const summaryColumns = `q.id, q.pack, q.pack_version, q.decided_at, q.expires_at, q.qualified, q.category, q.risk_tolerance, q.decided_by,
	a.approved_by, a.approved_at, coalesce(a.evidence::text, '[]')`

func scanSummary(row pgx.Row) (QualificationSummary, error) {
	var s QualificationSummary
	var evidence string
	err := row.Scan(&s.ID, &s.Pack, &s.PackVersion, &s.DecidedAt, &s.ExpiresAt, &s.Qualified, &s.Category, &s.RiskTolerance, &s.DecidedBy,
		&s.ApprovedBy, &s.ApprovedAt, &evidence)
	if err != nil {
		return s, err
	}
	s.DecidedAt, s.ExpiresAt = s.DecidedAt.UTC(), s.ExpiresAt.UTC()
	return s, json.Unmarshal([]byte(evidence), &s.Evidence)
}

// Qualifications lists a party's decisions, newest first.
func (r *Registry) Qualifications(ctx context.Context, partyID uuid.UUID) ([]QualificationSummary, error) {
	rows, err := r.db.Query(ctx, `SELECT `+summaryColumns+` FROM qualifications q LEFT JOIN qualification_approvals a ON a.qualification_id = q.id
		WHERE q.party_id = $1 ORDER BY q.decided_at DESC`, partyID)
	if err != nil {
		return nil, fmt.Errorf("qualifications: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (QualificationSummary, error) { return scanSummary(row) })
}

func (r *Registry) qualificationSummary(ctx context.Context, id uuid.UUID) (QualificationSummary, error) {
	s, err := scanSummary(r.db.QueryRow(ctx, `SELECT `+summaryColumns+` FROM qualifications q
		LEFT JOIN qualification_approvals a ON a.qualification_id = q.id WHERE q.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrQualificationNotFound
	}
	return s, err
}

// storedDetail is the encrypted part of a qualification: the profile as
// declared and the whole decision, amounts as strings with their currency.
type storedDetail struct {
	Profile  compliance.Profile
	Decision storedDecision
}

type storedDecision struct {
	Pack, PackVersion, Category, Currency string
	DecidedAt, ExpiresAt                  time.Time
	Qualified                             bool
	RiskTolerance                         int
	LeadEligible                          bool
	WindowLimit, MinTicket, WarnAbove     *string
	Reasons                               []compliance.Reason
}

func toStored(d compliance.Decision, c money.Currency) storedDecision {
	str := func(a *money.Amount) *string {
		if a == nil {
			return nil
		}
		s := a.String()
		return &s
	}
	return storedDecision{Pack: d.Pack, PackVersion: d.PackVersion, Category: d.Category, Currency: c.Code(), DecidedAt: d.DecidedAt,
		ExpiresAt: d.ExpiresAt, Qualified: d.Qualified, RiskTolerance: d.RiskTolerance, LeadEligible: d.LeadEligible, WindowLimit: str(d.WindowLimit),
		MinTicket: str(d.MinTicket), WarnAbove: str(d.WarnAbove), Reasons: d.Reasons}
}

func (s storedDecision) decision() (compliance.Decision, error) {
	amt := func(v *string) (*money.Amount, error) {
		if v == nil {
			return nil, nil
		}
		a, err := money.ParseSigned(s.Currency, *v)
		return &a, err
	}
	d := compliance.Decision{Pack: s.Pack, PackVersion: s.PackVersion, DecidedAt: s.DecidedAt, ExpiresAt: s.ExpiresAt, Qualified: s.Qualified,
		Category: s.Category, RiskTolerance: s.RiskTolerance, LeadEligible: s.LeadEligible, Reasons: s.Reasons}
	var err error
	if d.WindowLimit, err = amt(s.WindowLimit); err != nil {
		return d, err
	}
	if d.MinTicket, err = amt(s.MinTicket); err != nil {
		return d, err
	}
	d.WarnAbove, err = amt(s.WarnAbove)
	return d, err
}

// WindowLimits opens the limits of one party's decisions (party non-nil),
// or of the newest decision per party and pack (party nil), reading in db
// so a report sees them in its own snapshot. Decisions without a limit are
// left out.
func (r *Registry) WindowLimits(ctx context.Context, db pg.DBTX, party *uuid.UUID) ([]compliance.WindowLimit, error) {
	q := `SELECT id, party_id, pack, detail_enc, pii_key_id FROM qualifications WHERE party_id = $1`
	args := []any{party}
	if party == nil {
		q, args = `SELECT DISTINCT ON (party_id, pack) id, party_id, pack, detail_enc, pii_key_id FROM qualifications q
			WHERE EXISTS (SELECT 1 FROM qualification_approvals a WHERE a.qualification_id = q.id)
			ORDER BY party_id, pack, decided_at DESC`, nil
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("window limits: %w", err)
	}
	var sealed []sealedDecision
	for rows.Next() {
		var s sealedDecision
		if err := rows.Scan(&s.id, &s.key.Party, &s.key.Pack, &s.enc, &s.keyID); err != nil {
			rows.Close()
			return nil, err
		}
		sealed = append(sealed, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []compliance.WindowLimit
	for _, s := range sealed {
		d, err := r.decision(s)
		if err != nil {
			return nil, err
		}
		if d.WindowLimit != nil {
			out = append(out, compliance.WindowLimit{Decision: s.id, Party: s.key.Party, Pack: s.key.Pack, Limit: *d.WindowLimit})
		}
	}
	return out, nil
}

// Evidence is a document a qualification rests on: its kind (bank
// statement, tax record, employment letter...) and the SHA-256 of the
// document, which stays with the platform's records, not here.
type Evidence struct {
	Kind         string `json:"kind"`
	DocumentHash string `json:"document_hash"`
}

// Errors of approval.
var (
	ErrQualificationNotFound = errors.New("qualification not found")
	ErrAlreadyApproved       = errors.New("qualification already approved")
	ErrSelfApproval          = errors.New("a qualification is approved by another person than the one who submitted it and than the investor (maker-checker)")
)

// ApproveQualification is a compliance officer's sign-off on a declared
// decision, with the evidence it rests on: from then on the decision
// counts (qualified status, limits, lead eligibility). The approver is
// neither the person who submitted it nor the investor.
func (r *Registry) ApproveQualification(ctx context.Context, id uuid.UUID, evidence []Evidence) (QualificationSummary, error) {
	if len(evidence) == 0 {
		return QualificationSummary{}, invalid("evidence", errors.New("name the documents the decision rests on"))
	}
	for _, e := range evidence {
		if e.Kind == "" || len(e.Kind) > 100 {
			return QualificationSummary{}, invalid("evidence.kind", errors.New("say what each document is"))
		}
		if !sha256Hex.MatchString(e.DocumentHash) {
			return QualificationSummary{}, invalid("evidence.document_hash", errors.New("must be the document's SHA-256 in lowercase hex"))
		}
	}
	actor, _ := audit.From(ctx)
	me := actor.Person()
	var s QualificationSummary
	err := pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		var party uuid.UUID
		var approved bool
		// No row lock: the service's role may not lock an append-only table
		// (that takes UPDATE rights); the approvals' primary key stops a
		// second approval racing this one.
		err := tx.QueryRow(ctx, `SELECT q.party_id, q.decided_by, EXISTS (SELECT 1 FROM qualification_approvals a WHERE a.qualification_id = q.id)
			FROM qualifications q WHERE q.id = $1`, id).Scan(&party, &s.DecidedBy, &approved)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrQualificationNotFound
		}
		if err != nil {
			return err
		}
		switch {
		case approved:
			return ErrAlreadyApproved
		case me == s.DecidedBy || me == "party:"+party.String():
			return ErrSelfApproval
		}
		raw, _ := json.Marshal(evidence)
		if _, err := tx.Exec(ctx, `INSERT INTO qualification_approvals (qualification_id, approved_by, evidence) VALUES ($1, $2, $3::text::jsonb)`,
			id, me, string(raw)); err != nil {
			if pg.Code(err) == pg.UniqueViolation {
				return ErrAlreadyApproved
			}
			return err
		}
		ev, err := audit.New(ctx, "compliance.qualification.approve", []string{party.String(), id.String()}, map[string]any{"evidence": evidence})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return QualificationSummary{}, err
	}
	return r.qualificationSummary(ctx, id)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
