package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ReviewFlag is an open commitment of a party blacklisted while it was
// open, for compliance staff to review (and regulators to see).
type ReviewFlag struct {
	ID         uuid.UUID `json:"id"`
	PartyID    uuid.UUID `json:"party_id"`
	TransferID uuid.UUID `json:"transfer_id"`
	Reason     string    `json:"reason"`
	ListEntry  uuid.UUID `json:"list_entry_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// ReviewFlags lists the flags, newest first, at most limit.
func (r *Registry) ReviewFlags(ctx context.Context, limit int) ([]ReviewFlag, error) {
	rows, err := r.db.Query(ctx, `SELECT id, party_id, transfer_id, reason, list_entry, created_at FROM review_flags
		ORDER BY created_at DESC, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("review flags: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReviewFlag, error) {
		var f ReviewFlag
		err := row.Scan(&f.ID, &f.PartyID, &f.TransferID, &f.Reason, &f.ListEntry, &f.CreatedAt)
		f.CreatedAt = f.CreatedAt.UTC()
		return f, err
	})
}
