// Package supervision holds the regulators' tools for in-process and
// after-the-fact supervision (事中事后监管): freeze orders, random spot
// checks drawn from a seed the service commits to before the draw and
// reveals after it, then published (双随机、一公开),
// complaints with their deadlines (多元化纠纷解决), and alerts computed from
// the ledger. Every command is recorded in the audit trail.
package supervision

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// Errors callers branch on.
var (
	ErrInvalid  = errors.New("invalid supervision request")
	ErrNotFound = errors.New("not found")
	ErrLifted   = errors.New("the freeze was already lifted")
	ErrState    = errors.New("illegal complaint transition")
	ErrNotDrawn = errors.New("the spot check has not been drawn yet")
	ErrDrawn    = errors.New("the spot check was already drawn")
)

// FieldError names the field at fault.
type FieldError = fault.FieldError

// invalid is an invalid field: it unwraps to ErrInvalid and its cause.
func invalid(field string, err error) error {
	return &FieldError{Field: field, Err: err, Kind: ErrInvalid}
}

// Service runs supervision.
type Service struct {
	db  pg.Pool
	Now func() time.Time
}

// New returns the service.
func New(db *pgxpool.Pool) *Service { return &Service{db: pg.Units(db), Now: time.Now} }

func actor(ctx context.Context) string {
	a, _ := audit.From(ctx)
	return a.Role + ":" + a.KeyID.String()
}

func record(ctx context.Context, tx pgx.Tx, action string, objects []string, facts map[string]any) error {
	ev, err := audit.New(ctx, action, objects, facts)
	if err != nil {
		return err
	}
	return audit.Append(ctx, tx, ev)
}

// Freeze is a freeze order.
type Freeze struct {
	ID         uuid.UUID  `json:"id"`
	TargetType string     `json:"target_type"`
	TargetID   uuid.UUID  `json:"target_id"`
	Reason     string     `json:"reason"`
	LegalBasis string     `json:"legal_basis"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LiftedAt   *time.Time `json:"lifted_at,omitempty"`
	LiftedBy   *string    `json:"lifted_by,omitempty"`
	LiftReason *string    `json:"lift_reason,omitempty"`
}

// FreezeOrder freezes an account, a party (investor or issuer: all its
// accounts) or a campaign (its escrow and payable). From its commit on, the
// ledger refuses every transfer that takes money out of them.
func (s *Service) FreezeOrder(ctx context.Context, targetType string, target uuid.UUID, reason, basis string) (Freeze, error) {
	if targetType != "account" && targetType != "party" && targetType != "campaign" {
		return Freeze{}, invalid("target_type", errors.New("must be account, party or campaign"))
	}
	if reason == "" || basis == "" || utf8.RuneCountInString(reason) > 1000 {
		return Freeze{}, invalid("legal_basis", errors.New("a freeze needs a reason and its legal basis"))
	}
	table := map[string]string{"account": "accounts", "party": "parties", "campaign": "campaigns"}[targetType]
	f := Freeze{ID: uuid.New(), TargetType: targetType, TargetID: target, Reason: reason, LegalBasis: basis, CreatedBy: actor(ctx)}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, target).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return invalid("target_id", ErrNotFound)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO freezes (id, target_type, target_id, reason, legal_basis, created_by) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING created_at`, f.ID, targetType, target, reason, basis, f.CreatedBy).Scan(&f.CreatedAt); err != nil {
			return err
		}
		return record(ctx, tx, "supervision.freeze", []string{f.ID.String(), target.String()}, map[string]any{"target_type": targetType,
			"reason": reason, "legal_basis": basis})
	})
	return f, err
}

// Lift ends a freeze; the record stays.
func (s *Service) Lift(ctx context.Context, id uuid.UUID, reason string) (Freeze, error) {
	if reason == "" {
		return Freeze{}, invalid("reason", errors.New("say why the freeze is lifted"))
	}
	var f Freeze
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, target_type, target_id, reason, legal_basis, created_by, created_at, lifted_at FROM freezes WHERE id = $1 FOR UPDATE`, id).
			Scan(&f.ID, &f.TargetType, &f.TargetID, &f.Reason, &f.LegalBasis, &f.CreatedBy, &f.CreatedAt, &f.LiftedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if f.LiftedAt != nil {
			return ErrLifted
		}
		by := actor(ctx)
		if err := tx.QueryRow(ctx, `UPDATE freezes SET lifted_at = clock_timestamp(), lifted_by = $2, lift_reason = $3 WHERE id = $1 RETURNING lifted_at`,
			id, by, reason).Scan(&f.LiftedAt); err != nil {
			return err
		}
		f.LiftedBy, f.LiftReason = &by, &reason
		return record(ctx, tx, "supervision.lift", []string{id.String(), f.TargetID.String()}, map[string]any{"reason": reason})
	})
	return f, err
}

// QueueFrozen queues, into b, the read of the freeze orders in force (a
// short list, read whole and matched in memory) for the ledger
// (ledger.Freezes): an order covers an account, every account of a party,
// or every account of a campaign.
func (s *Service) QueueFrozen(b *pgx.Batch) func(account uuid.UUID, owner, campaign string) bool {
	type order struct{ typ, target string }
	var orders []order
	b.Queue(`SELECT target_type, target_id::text FROM freezes WHERE lifted_at IS NULL`).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var o order
			if err := rows.Scan(&o.typ, &o.target); err != nil {
				return err
			}
			orders = append(orders, o)
		}
		return rows.Err()
	})
	return func(account uuid.UUID, owner, campaign string) bool {
		for _, o := range orders {
			switch {
			case o.typ == "account" && account.String() == o.target,
				o.typ == "party" && owner == "party:"+o.target,
				o.typ == "campaign" && campaign != "" && campaign == o.target:
				return true
			}
		}
		return false
	}
}
