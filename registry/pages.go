package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/page"
)

// PartyFilter narrows a list of parties; zero fields do not narrow.
type PartyFilter struct {
	Role   string // investor, issuer
	Status string // pending, verified, rejected
	// List keeps parties on that list (Black or Red) now, by party or by
	// their document.
	List string
}

// Parties lists parties newest first, masked.
func (r *Registry) Parties(ctx context.Context, f PartyFilter, req page.Request) (page.Of[Party], error) {
	switch {
	case f.Role != "" && f.Role != "investor" && f.Role != "issuer":
		return page.Of[Party]{}, invalid("role", errors.New("role must be investor or issuer"))
	case f.Status != "" && f.Status != "pending" && f.Status != "verified" && f.Status != "rejected":
		return page.Of[Party]{}, invalid("status", errors.New("status must be pending, verified or rejected"))
	case f.List != "" && f.List != Black && f.List != Red:
		return page.Of[Party]{}, invalid("list", errors.New("list must be black or red"))
	}
	q := page.Select(`SELECT `+partyColumns+` FROM parties p`, "p.created_at", "p.id")
	if f.Role != "" {
		q.Where("p.role = ?", f.Role)
	}
	if f.Status != "" {
		q.Where("p.status = ?", f.Status)
	}
	if f.List != "" {
		q.Where(`EXISTS (SELECT 1 FROM list_entries e WHERE e.list = ? AND (e.party_id = p.id OR e.doc_lookup = p.doc_lookup)
			AND e.effective_from <= now() AND (e.effective_to IS NULL OR e.effective_to > now()) AND e.ended_at IS NULL)`, f.List)
	}
	p, err := page.Collect(ctx, r.db, q, req, func(row pgx.Row) (Party, error) { return r.scanParty(row, false) },
		func(p Party) page.Key { return page.Key{At: p.CreatedAt, ID: p.ID} })
	if err != nil {
		return p, fmt.Errorf("list parties: %w", err)
	}
	return p, nil
}

// ListFilter narrows a list of list entries; zero fields do not narrow.
type ListFilter struct {
	List    string
	PartyID *uuid.UUID
	// InForce keeps entries not ended.
	InForce bool
}

// ListEntries lists entries newest first; reveal decrypts documents (for
// regulators) and records, in the same transaction as the read, that it did.
func (r *Registry) ListEntries(ctx context.Context, f ListFilter, req page.Request, reveal bool) (page.Of[ListEntry], error) {
	if f.List != "" && f.List != Black && f.List != Red {
		return page.Of[ListEntry]{}, invalid("list", errors.New("list must be black or red"))
	}
	q := page.Select(`SELECT `+listColumns+` FROM list_entries`, "created_at", "id")
	if f.List != "" {
		q.Where("list = ?", f.List)
	}
	if f.PartyID != nil {
		q.Where("party_id = ?", *f.PartyID)
	}
	if f.InForce {
		q.Where("ended_at IS NULL")
	}
	p, err := page.Collect(ctx, r.db, q, req, func(row pgx.Row) (ListEntry, error) { return r.scanListEntry(row, reveal) },
		func(e ListEntry) page.Key { return page.Key{At: e.CreatedAt, ID: e.ID} })
	if err != nil || !reveal {
		return p, err
	}
	ev, err := audit.New(ctx, "registry.pii.view", []string{}, map[string]any{"fields": []string{"list documents"}, "entries": len(p.Items)})
	if err != nil {
		return page.Of[ListEntry]{}, err
	}
	return p, audit.Append(ctx, r.db, ev)
}

// ReviewFlags lists the flags newest first; partyID, when set, keeps that
// party's.
func (r *Registry) ReviewFlags(ctx context.Context, partyID *uuid.UUID, req page.Request) (page.Of[ReviewFlag], error) {
	q := page.Select(`SELECT id, party_id, transfer_id, reason, list_entry, created_at FROM review_flags`, "created_at", "id")
	if partyID != nil {
		q.Where("party_id = ?", *partyID)
	}
	p, err := page.Collect(ctx, r.db, q, req, func(row pgx.Row) (ReviewFlag, error) {
		var f ReviewFlag
		err := row.Scan(&f.ID, &f.PartyID, &f.TransferID, &f.Reason, &f.ListEntry, &f.CreatedAt)
		f.CreatedAt = f.CreatedAt.UTC()
		return f, err
	}, func(f ReviewFlag) page.Key { return page.Key{At: f.CreatedAt, ID: f.ID} })
	if err != nil {
		return p, fmt.Errorf("review flags: %w", err)
	}
	return p, nil
}
