// Package supervision holds the regulators' tools for in-process and
// after-the-fact supervision (事中事后监管): freeze orders, random spot
// checks drawn reproducibly from a seed and published (双随机、一公开),
// complaints with their deadlines (多元化纠纷解决), and alerts computed from
// the ledger. Every command is recorded in the audit trail.
package supervision

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
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

// Freezes lists every freeze order, newest first.
func (s *Service) Freezes(ctx context.Context) ([]Freeze, error) {
	rows, err := s.db.Query(ctx, `SELECT id, target_type, target_id, reason, legal_basis, created_by, created_at, lifted_at, lifted_by, lift_reason
		FROM freezes ORDER BY created_at DESC`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Freeze, error) {
		var f Freeze
		err := r.Scan(&f.ID, &f.TargetType, &f.TargetID, &f.Reason, &f.LegalBasis, &f.CreatedBy, &f.CreatedAt, &f.LiftedAt, &f.LiftedBy, &f.LiftReason)
		return f, err
	})
}

// SpotCheck is a random draw of campaigns and inspectors (双随机).
type SpotCheck struct {
	ID         uuid.UUID   `json:"id"`
	Seed       int64       `json:"seed"`
	Filter     Filter      `json:"filter"`
	Campaigns  []uuid.UUID `json:"campaigns"`
	Inspectors []string    `json:"inspectors"`
	PoolSize   int         `json:"pool_size"`
	DrawnBy    string      `json:"drawn_by"`
	DrawnAt    time.Time   `json:"drawn_at"`
	Results    *string     `json:"results,omitempty"`
	Published  bool        `json:"published"`
}

// Filter narrows the campaigns a spot check draws from.
type Filter struct {
	Kind  string `json:"kind,omitempty"`
	State string `json:"state,omitempty"`
}

// Draw picks k campaigns (matching the filter) and k inspectors from the
// list, reproducibly from the seed: the candidates are sorted by id, then
// shuffled with a PCG generator seeded by seed, so anyone with the seed, the
// filter and the list can redo the draw. The draw is recorded.
func (s *Service) Draw(ctx context.Context, seed int64, k int, filter Filter, inspectors []string) (SpotCheck, error) {
	if k < 1 || k > 1000 {
		return SpotCheck{}, invalid("k", errors.New("must be 1 to 1000"))
	}
	if len(inspectors) < k {
		return SpotCheck{}, invalid("inspectors", fmt.Errorf("need at least k (%d) inspectors", k))
	}
	rows, err := s.db.Query(ctx, `SELECT id FROM campaigns WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR state = $2) ORDER BY id`, filter.Kind, filter.State)
	if err != nil {
		return SpotCheck{}, err
	}
	pool, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return SpotCheck{}, err
	}
	sc := SpotCheck{ID: uuid.New(), Seed: seed, Filter: filter, PoolSize: len(pool), DrawnBy: actor(ctx)}
	sc.Campaigns = DrawIDs(seed, pool, k)
	sorted := append([]string(nil), inspectors...)
	sort.Strings(sorted)
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	rng.Shuffle(len(sorted), func(i, j int) { sorted[i], sorted[j] = sorted[j], sorted[i] })
	sc.Inspectors = sorted[:k]
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO spot_checks (id, seed, filter, campaigns, inspectors, pool_size, drawn_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING drawn_at`, sc.ID, seed, filter, sc.Campaigns, sc.Inspectors, sc.PoolSize, sc.DrawnBy).Scan(&sc.DrawnAt); err != nil {
			return err
		}
		return record(ctx, tx, "supervision.spot_check.draw", []string{sc.ID.String()}, map[string]any{"seed": seed, "k": k, "filter": filter,
			"pool_size": len(pool), "campaigns": sc.Campaigns, "inspectors": sc.Inspectors})
	})
	return sc, err
}

// DrawIDs is the deterministic campaign draw: sort, shuffle with the seed, take k.
func DrawIDs(seed int64, pool []uuid.UUID, k int) []uuid.UUID {
	ids := append([]uuid.UUID{}, pool...)
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x51a3d1b7))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if k < len(ids) {
		ids = ids[:k]
	}
	return ids
}

// Publish records a spot check's results and makes it public (一公开).
func (s *Service) Publish(ctx context.Context, id uuid.UUID, results string) (SpotCheck, error) {
	if results == "" {
		return SpotCheck{}, invalid("results", errors.New("publish the results"))
	}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE spot_checks SET results = $2, published = true WHERE id = $1`, id, results)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return record(ctx, tx, "supervision.spot_check.publish", []string{id.String()}, map[string]any{"results": results})
	})
	if err != nil {
		return SpotCheck{}, err
	}
	return s.SpotCheck(ctx, id, false)
}

// SpotCheck reads one; publicOnly hides unpublished ones.
func (s *Service) SpotCheck(ctx context.Context, id uuid.UUID, publicOnly bool) (SpotCheck, error) {
	var sc SpotCheck
	err := s.db.QueryRow(ctx, `SELECT id, seed, filter, campaigns, inspectors, pool_size, drawn_by, drawn_at, results, published FROM spot_checks
		WHERE id = $1 AND (published OR NOT $2)`, id, publicOnly).
		Scan(&sc.ID, &sc.Seed, &sc.Filter, &sc.Campaigns, &sc.Inspectors, &sc.PoolSize, &sc.DrawnBy, &sc.DrawnAt, &sc.Results, &sc.Published)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, ErrNotFound
	}
	return sc, err
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
