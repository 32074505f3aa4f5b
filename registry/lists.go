package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
)

// Lists.
const (
	Black = "black" // barred from committing and from opening campaigns
	Red   = "red"   // trusted, e.g. faster review
)

// NewListEntry names a party, or a document (a person not yet registered).
type NewListEntry struct {
	List          string
	PartyID       uuid.UUID
	DocType       compliance.DocumentType
	DocNumber     string
	Reason        string
	Authority     string // the source authority, e.g. a court's 失信被执行人 list
	EffectiveFrom time.Time
	EffectiveTo   *time.Time
}

// ListEntry is a stored entry, its document masked unless revealed.
type ListEntry struct {
	ID            uuid.UUID
	List          string
	PartyID       *uuid.UUID
	DocType       *string
	DocMasked     *string
	DocNumber     string // only for regulators
	Reason        string
	Authority     string
	EffectiveFrom time.Time
	EffectiveTo   *time.Time
	CreatedBy     string
	CreatedAt     time.Time
	EndedAt       *time.Time
	EndedBy       *string
	EndReason     *string
	FlaggedOpen   int // open commitments flagged for review when the entry was added
}

// AddListEntry adds an entry. A black entry against a party flags that
// party's open (pending) commitments for review, in the same transaction.
func (r *Registry) AddListEntry(ctx context.Context, in NewListEntry) (ListEntry, error) {
	if in.List != Black && in.List != Red {
		return ListEntry{}, invalid("list", errors.New("must be black or red"))
	}
	if l := utf8.RuneCountInString(in.Reason); l == 0 || l > 1000 {
		return ListEntry{}, invalid("reason", errors.New("must be 1 to 1000 characters"))
	}
	if l := utf8.RuneCountInString(in.Authority); l == 0 || l > 200 {
		return ListEntry{}, invalid("authority", errors.New("must be 1 to 200 characters"))
	}
	if in.EffectiveFrom.IsZero() {
		in.EffectiveFrom = r.Now()
	}
	if in.EffectiveTo != nil && !in.EffectiveTo.After(in.EffectiveFrom) {
		return ListEntry{}, invalid("effective_to", errors.New("must be after effective_from"))
	}
	if (in.PartyID == uuid.Nil) == (in.DocNumber == "") {
		return ListEntry{}, invalid("party_id", errors.New("name either a party or a document, not both"))
	}
	e := ListEntry{ID: uuid.New(), List: in.List, Reason: in.Reason, Authority: in.Authority, EffectiveFrom: in.EffectiveFrom.UTC(), EffectiveTo: in.EffectiveTo}
	var lookup, docEnc []byte
	var keyID, masked, docType *string
	if in.DocNumber != "" {
		n, err := compliance.NormalizeDocument(in.DocType, in.DocNumber, r.Now())
		if err != nil {
			return ListEntry{}, invalid("document.number", err)
		}
		lookup = r.keys.Lookup(string(in.DocType), n)
		k, enc := r.keys.Seal([]byte(n), "list:"+e.ID.String()+":document")
		m, t := compliance.Mask(in.DocType, n), string(in.DocType)
		keyID, docEnc, masked, docType = &k, enc, &m, &t
		e.DocMasked, e.DocType = masked, docType
	} else {
		id := in.PartyID
		e.PartyID = &id
	}
	actor, _ := audit.From(ctx)
	e.CreatedBy = actor.Role + ":" + actor.KeyID.String()
	err := pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		e.FlaggedOpen = 0
		if _, err := tx.Exec(ctx, `INSERT INTO list_entries (id, list, party_id, doc_type, doc_lookup, doc_enc, doc_masked, pii_key_id,
				reason, authority, effective_from, effective_to, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			e.ID, e.List, e.PartyID, docType, lookup, docEnc, masked, keyID, e.Reason, e.Authority, e.EffectiveFrom, e.EffectiveTo, e.CreatedBy); err != nil {
			if pg.Code(err) == pg.ForeignKeyViolation {
				return invalid("party_id", ErrPartyNotFound)
			}
			return err
		}
		if e.List == Black {
			// Flag the open commitments of the party (or of every party with the document).
			tag, err := tx.Exec(ctx, `INSERT INTO review_flags (id, party_id, transfer_id, reason, list_entry)
				SELECT gen_random_uuid(), p.id, t.id, 'party blacklisted while the commitment is open', $1
				FROM parties p
				JOIN accounts a ON a.owner = 'party:' || p.id::text AND a.code = $4
				JOIN transfers t ON t.debit_account_id = a.id AND t.kind = 'pending' AND t.code = 'commitment'
				WHERE (p.id = $2 OR p.doc_lookup = $3)
				  AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
				ON CONFLICT DO NOTHING`, e.ID, e.PartyID, lookup, string(ledger.CodeInvestorWallet))
			if err != nil {
				return err
			}
			e.FlaggedOpen = int(tag.RowsAffected())
		}
		objs := []string{e.ID.String()}
		if e.PartyID != nil {
			objs = append(objs, e.PartyID.String())
		}
		ev, err := audit.New(ctx, "registry.list.add", objs, map[string]any{"list": e.List, "document": masked, "reason": e.Reason,
			"authority": e.Authority, "effective_from": e.EffectiveFrom, "effective_to": e.EffectiveTo, "flagged_open_commitments": e.FlaggedOpen})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return ListEntry{}, err
	}
	got, err := r.ListEntry(ctx, e.ID, false)
	got.FlaggedOpen = e.FlaggedOpen
	return got, err
}

// EndListEntry lifts an entry; it stays on record.
func (r *Registry) EndListEntry(ctx context.Context, id uuid.UUID, reason string) (ListEntry, error) {
	if l := utf8.RuneCountInString(reason); l == 0 || l > 1000 {
		return ListEntry{}, invalid("reason", errors.New("must be 1 to 1000 characters"))
	}
	actor, _ := audit.From(ctx)
	by := actor.Role + ":" + actor.KeyID.String()
	err := pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
		var ended *time.Time
		if err := tx.QueryRow(ctx, `SELECT ended_at FROM list_entries WHERE id = $1 FOR UPDATE`, id).Scan(&ended); errors.Is(err, pgx.ErrNoRows) {
			return ErrListEntryNotFound
		} else if err != nil {
			return err
		}
		if ended != nil {
			return ErrListEntryEnded
		}
		if _, err := tx.Exec(ctx, `UPDATE list_entries SET ended_at = clock_timestamp(), ended_by = $2, end_reason = $3 WHERE id = $1`, id, by, reason); err != nil {
			return err
		}
		ev, err := audit.New(ctx, "registry.list.end", []string{id.String()}, map[string]any{"reason": reason})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return ListEntry{}, err
	}
	return r.ListEntry(ctx, id, false)
}

const listColumns = `id, list, party_id, doc_type, doc_masked, doc_enc, pii_key_id, reason, authority, effective_from, effective_to,
	created_by, created_at, ended_at, ended_by, end_reason`

func (r *Registry) scanListEntry(row pgx.Row, reveal bool) (ListEntry, error) {
	var e ListEntry
	var enc []byte
	var keyID *string
	if err := row.Scan(&e.ID, &e.List, &e.PartyID, &e.DocType, &e.DocMasked, &enc, &keyID, &e.Reason, &e.Authority, &e.EffectiveFrom,
		&e.EffectiveTo, &e.CreatedBy, &e.CreatedAt, &e.EndedAt, &e.EndedBy, &e.EndReason); err != nil {
		return ListEntry{}, err
	}
	if reveal && keyID != nil {
		n, err := r.keys.Open(*keyID, enc, "list:"+e.ID.String()+":document")
		if err != nil {
			return ListEntry{}, err
		}
		e.DocNumber = string(n)
	}
	return e, nil
}

// ListEntry reads one entry.
func (r *Registry) ListEntry(ctx context.Context, id uuid.UUID, reveal bool) (ListEntry, error) {
	e, err := r.scanListEntry(r.db.QueryRow(ctx, `SELECT `+listColumns+` FROM list_entries WHERE id = $1`, id), reveal)
	if errors.Is(err, pgx.ErrNoRows) {
		return ListEntry{}, ErrListEntryNotFound
	}
	return e, err
}

// onList reports whether a party is on a list at t, by party or by its document.
func onList(ctx context.Context, q ledger.Querier, list string, partyID uuid.UUID, at time.Time) (bool, error) {
	var on bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM list_entries e LEFT JOIN parties p ON p.id = $2
		WHERE e.list = $1 AND (e.party_id = $2 OR e.doc_lookup = p.doc_lookup)
		  AND e.effective_from <= $3 AND (e.effective_to IS NULL OR e.effective_to > $3)
		  AND (e.ended_at IS NULL OR e.ended_at > $3))`, list, partyID, at).Scan(&on)
	if err != nil {
		return false, fmt.Errorf("list check: %w", err)
	}
	return on, nil
}

// Blacklisted reports whether a party is on the black list at t (by party or document).
func (r *Registry) Blacklisted(ctx context.Context, q ledger.Querier, partyID uuid.UUID, at time.Time) (bool, error) {
	return onList(ctx, q, Black, partyID, at)
}

// RedListed reports whether a party is on the red list (守信激励) now, by
// party or document.
func (r *Registry) RedListed(ctx context.Context, partyID uuid.UUID) (bool, error) {
	return onList(ctx, r.db, Red, partyID, r.Now())
}
