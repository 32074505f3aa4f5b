package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// Errors callers branch on.
var (
	ErrPartyNotFound       = errors.New("party not found")
	ErrDuplicateParty      = errors.New("a party with this identity document already exists")
	ErrIdempotencyConflict = idempotency.ErrConflict // one sentinel for every store of keys
	ErrInvalid             = errors.New("invalid request")
	ErrWrongRole           = errors.New("the party does not have the role this needs")
	ErrListEntryNotFound   = errors.New("list entry not found")
	ErrListEntryEnded      = errors.New("list entry already ended")
)

// FieldError names the field at fault.
type FieldError = fault.FieldError

// invalid is an invalid field: it unwraps to ErrInvalid and its cause.
func invalid(field string, err error) error {
	return &FieldError{Field: field, Err: err, Kind: ErrInvalid}
}

// Registry is the store.
type Registry struct {
	db   pg.Pool
	keys *pii.Keyring
	// Now is the clock (tests move it).
	Now func() time.Time
	// decided caches opened qualification decisions by their row's id: a
	// decision row never changes (a new assessment is a new row), and a hot
	// campaign's batches ask for the same investors' decisions again and
	// again.
	decided sync.Map // uuid.UUID -> *compliance.Decision
}

// New returns a registry on db that seals personal data with keys.
func New(db *pgxpool.Pool, keys *pii.Keyring) *Registry {
	return &Registry{db: pg.Units(db), keys: keys, Now: time.Now}
}

// Owner is how ledger accounts name the party they belong to.
func Owner(partyID uuid.UUID) string { return "party:" + partyID.String() }

// NewParty is a request to register a party.
type NewParty struct {
	Role         string // investor, issuer
	Entity       compliance.Entity
	Jurisdiction string // ISO 3166-1 alpha-2
	Name         string
	DocType      compliance.DocumentType
	DocNumber    string
}

// Party is a registered party, its personal data masked; Name and
// DocNumber are filled only by Reveal.
type Party struct {
	ID           uuid.UUID
	Role         string
	Entity       compliance.Entity
	Jurisdiction string
	NameMasked   string
	DocType      compliance.DocumentType
	DocMasked    string
	Status       string
	StatusBy     *string
	StatusAt     *time.Time
	StatusMethod *string
	StatusReason *string
	CreatedAt    time.Time
	Name         string
	DocNumber    string
}

func (in *NewParty) validate(now time.Time) error {
	if in.Role != "investor" && in.Role != "issuer" {
		return invalid("role", errors.New("must be investor or issuer"))
	}
	if in.Entity != compliance.Individual && in.Entity != compliance.Institution {
		return invalid("entity", errors.New("must be individual or institution"))
	}
	if in.Role == "issuer" && in.Entity != compliance.Institution {
		return invalid("entity", errors.New("an issuer is a company (institution)"))
	}
	if len(in.Jurisdiction) != 2 || in.Jurisdiction[0] < 'A' || in.Jurisdiction[0] > 'Z' || in.Jurisdiction[1] < 'A' || in.Jurisdiction[1] > 'Z' {
		return invalid("jurisdiction", errors.New("must be an ISO 3166-1 alpha-2 code such as CN"))
	}
	if l := utf8.RuneCountInString(in.Name); l == 0 || l > 200 || !utf8.ValidString(in.Name) {
		return invalid("name", errors.New("must be 1 to 200 characters"))
	}
	n, err := compliance.NormalizeDocument(in.DocType, in.DocNumber, now)
	if err != nil {
		return invalid("document.number", err)
	}
	if in.DocType == compliance.PRCResidentID && in.Entity != compliance.Individual {
		return invalid("document.type", errors.New("a resident identity number identifies an individual"))
	}
	if in.DocType == compliance.PRCUSCC && in.Entity != compliance.Institution {
		return invalid("document.type", errors.New("a unified social credit code identifies an organisation"))
	}
	in.DocNumber = n
	return nil
}

// CreateParty registers a party, pending verification. A retry of the
// client's request is answered by the idempotency mechanism before this
// runs; the same document registered twice is ErrDuplicateParty.
func (r *Registry) CreateParty(ctx context.Context, in NewParty) (p Party, err error) {
	if err := in.validate(r.Now()); err != nil {
		return Party{}, err
	}
	id := uuid.New()
	lookup := r.keys.Lookup(string(in.DocType), in.DocNumber)
	keyID, nameEnc := r.keys.Seal([]byte(in.Name), "party:"+id.String()+":name")
	_, docEnc := r.keys.Seal([]byte(in.DocNumber), "party:"+id.String()+":document")
	masked := compliance.Mask(in.DocType, in.DocNumber)
	err = pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO parties (id, role, entity, jurisdiction, name_enc, doc_type, doc_enc, doc_lookup, doc_masked,
				doc_region, pii_key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, ''), $11)`,
			id, in.Role, string(in.Entity), in.Jurisdiction, nameEnc, string(in.DocType), docEnc, lookup, masked, compliance.Region(in.DocType, in.DocNumber), keyID); err != nil {
			return err
		}
		ev, err := audit.New(ctx, "registry.party.create", []string{id.String()}, map[string]any{
			"role": in.Role, "entity": in.Entity, "jurisdiction": in.Jurisdiction, "document_type": in.DocType, "document": masked,
		})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	switch {
	case err == nil:
	case pg.Constraint(err) == "parties_doc_key":
		return Party{}, ErrDuplicateParty
	default:
		return Party{}, fmt.Errorf("create party: %w", err)
	}
	return r.Party(ctx, id)
}

const partyColumns = `id, role, entity, jurisdiction, name_enc, doc_type, doc_enc, doc_masked, pii_key_id, status, status_by, status_at,
	status_method, status_reason, created_at`

func (r *Registry) scanParty(row pgx.Row, reveal bool) (Party, error) {
	var p Party
	var nameEnc, docEnc []byte
	var keyID, entity, docType string
	if err := row.Scan(&p.ID, &p.Role, &entity, &p.Jurisdiction, &nameEnc, &docType, &docEnc, &p.DocMasked, &keyID, &p.Status,
		&p.StatusBy, &p.StatusAt, &p.StatusMethod, &p.StatusReason, &p.CreatedAt); err != nil {
		return Party{}, err
	}
	p.Entity, p.DocType = compliance.Entity(entity), compliance.DocumentType(docType)
	name, err := r.keys.Open(keyID, nameEnc, "party:"+p.ID.String()+":name")
	if err != nil {
		return Party{}, fmt.Errorf("party %s name: %w", p.ID, err)
	}
	p.NameMasked = compliance.MaskName(string(name))
	if reveal {
		doc, err := r.keys.Open(keyID, docEnc, "party:"+p.ID.String()+":document")
		if err != nil {
			return Party{}, fmt.Errorf("party %s document: %w", p.ID, err)
		}
		p.Name, p.DocNumber = string(name), string(doc)
	}
	return p, nil
}

// Party reads a party, masked.
func (r *Registry) Party(ctx context.Context, id uuid.UUID) (Party, error) {
	p, err := r.scanParty(r.db.QueryRow(ctx, `SELECT `+partyColumns+` FROM parties WHERE id = $1`, id), false)
	if errors.Is(err, pgx.ErrNoRows) {
		return Party{}, ErrPartyNotFound
	}
	return p, err
}

// Reveal reads a party's full name and document number and records the
// view (who, when, why) in the audit trail, in the same transaction.
func (r *Registry) Reveal(ctx context.Context, id uuid.UUID, reason string) (Party, error) {
	if l := utf8.RuneCountInString(reason); l < 5 || l > 500 {
		return Party{}, invalid("reason", errors.New("say why you need to see the full identity (5 to 500 characters)"))
	}
	var p Party
	err := pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		var err error
		p, err = r.scanParty(tx.QueryRow(ctx, `SELECT `+partyColumns+` FROM parties WHERE id = $1`, id), true)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrPartyNotFound
		}
		if err != nil {
			return err
		}
		ev, err := audit.New(ctx, "registry.pii.view", []string{id.String()}, map[string]any{"fields": []string{"name", "document"}, "reason": reason})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	return p, err
}

// Verification statuses.
const (
	StatusPending  = "pending"
	StatusVerified = "verified"
	StatusRejected = "rejected"
)

// SetVerification records a real-name verification outcome (实名认证):
// verified (by whom, when, method) or rejected (reason).
func (r *Registry) SetVerification(ctx context.Context, id uuid.UUID, status, method, reason string) (Party, error) {
	if status != StatusVerified && status != StatusRejected {
		return Party{}, invalid("status", errors.New("must be verified or rejected"))
	}
	if status == StatusVerified && method == "" {
		return Party{}, invalid("method", errors.New("say how the identity was verified"))
	}
	if status == StatusRejected && reason == "" {
		return Party{}, invalid("reason", errors.New("a rejection needs a reason"))
	}
	actor, _ := audit.From(ctx)
	by := actor.Role + ":" + actor.KeyID.String()
	err := pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		var before string
		if err := tx.QueryRow(ctx, `SELECT status FROM parties WHERE id = $1 FOR UPDATE`, id).Scan(&before); errors.Is(err, pgx.ErrNoRows) {
			return ErrPartyNotFound
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE parties SET status = $2, status_by = $3, status_at = clock_timestamp(), status_method = nullif($4, ''),
				status_reason = nullif($5, '') WHERE id = $1`, id, status, by, method, reason); err != nil {
			return err
		}
		ev, err := audit.New(ctx, "registry.party.verification", []string{id.String()}, map[string]any{
			"before": before, "after": status, "method": method, "reason": reason,
		})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return Party{}, err
	}
	return r.Party(ctx, id)
}

// DeclareRelated records that related is a related party of issuer.
func (r *Registry) DeclareRelated(ctx context.Context, issuer, related uuid.UUID, relation string) error {
	if relation == "" || utf8.RuneCountInString(relation) > 100 {
		return invalid("relation", errors.New("must be 1 to 100 characters"))
	}
	if issuer == related {
		return invalid("related_party_id", errors.New("a party is not its own related party"))
	}
	return pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		var role string
		if err := tx.QueryRow(ctx, `SELECT role FROM parties WHERE id = $1`, issuer).Scan(&role); errors.Is(err, pgx.ErrNoRows) {
			return ErrPartyNotFound
		} else if err != nil {
			return err
		}
		if role != "issuer" {
			return ErrWrongRole
		}
		tag, err := tx.Exec(ctx, `INSERT INTO party_relations (issuer_id, related_id, relation) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, issuer, related, relation)
		if pg.Code(err) == pg.ForeignKeyViolation {
			return invalid("related_party_id", ErrPartyNotFound)
		}
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		ev, err := audit.New(ctx, "registry.party.related", []string{issuer.String(), related.String()}, map[string]any{"relation": relation})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
}

// Exists reports whether a party of the role is registered (no personal
// data is read).
func (r *Registry) Exists(ctx context.Context, id uuid.UUID, role string) (bool, error) {
	var ok bool
	err := r.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM parties WHERE id = $1 AND role = $2)`, id, role).Scan(&ok)
	return ok, err
}
