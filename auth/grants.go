package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// Errors of the issuance policy.
var (
	ErrIssuanceRefused = errors.New("this role may not issue keys of that role")
	ErrSelfGrant       = errors.New("nobody may grant a power to themselves or approve their own request (maker-checker, by person)")
	ErrGrantNotFound   = errors.New("key grant not found")
	ErrGrantDecided    = errors.New("key grant already approved")
	ErrGrantExpired    = errors.New("the key the grant asks for would already have expired")
)

// KeyRequest is what a key holder asks to be minted.
type KeyRequest struct {
	Role      Role
	Subject   string
	Name      string
	ExpiresAt *time.Time
}

// person is who the requested key would be held by.
func (r KeyRequest) person() string {
	return audit.Actor{Role: string(r.Role), Subject: r.Subject}.Person()
}

// Grant is a request for a key that a second compliance officer approves.
type Grant struct {
	ID          uuid.UUID
	Request     KeyRequest
	RequestedBy string // a person (Principal.Person)
	RequestedAt time.Time
	ApprovedBy  *string
	ApprovedAt  *time.Time
	KeyID       *uuid.UUID
}

// Issued is the outcome of asking for a key: the key (and its secret, shown
// once) when it was minted, or the grant that now waits for a second officer.
type Issued struct {
	Key   Principal
	Token string
	Grant *Grant
}

// Issue mints a key for a key holder as MayIssue allows: at once, or as a
// grant a second compliance officer approves. Nobody may ask for a key held
// by themselves.
func (s *Store) Issue(ctx context.Context, by Principal, req KeyRequest) (Issued, error) {
	if req.Subject == "" {
		return Issued{}, ErrSubjectRequired
	}
	way := MayIssue(by.Role, req.Role)
	if way == Refused {
		return Issued{}, fmt.Errorf("%w: %s may not issue %s keys", ErrIssuanceRefused, by.Role, req.Role)
	}
	if req.person() == by.Person() {
		return Issued{}, ErrSelfGrant
	}
	if way == Direct {
		p, token, err := s.Create(ctx, req.Role, req.Subject, req.Name, req.ExpiresAt)
		return Issued{Key: p, Token: token}, err
	}
	g := Grant{ID: uuid.New(), Request: req, RequestedBy: by.Person()}
	ev, err := audit.New(ctx, "auth.key.request", []string{g.ID.String()}, map[string]any{
		"role": req.Role, "subject": req.Subject, "name": req.Name, "expires_at": req.ExpiresAt,
	})
	if err != nil {
		return Issued{}, err
	}
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO key_grants (id, role, subject, name, expires_at, requested_by) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING requested_at`, g.ID, string(req.Role), req.Subject, req.Name, req.ExpiresAt, g.RequestedBy).Scan(&g.RequestedAt); err != nil {
			return fmt.Errorf("store key grant: %w", err)
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return Issued{}, err
	}
	return Issued{Grant: &g}, nil
}

// Approve is the second officer's decision on a grant: the key is minted in
// the same transaction, and its secret goes to the approver, once. The
// approver must be another person than the one who asked and the one the
// key is for.
func (s *Store) Approve(ctx context.Context, by Principal, id uuid.UUID) (Issued, error) {
	var out Issued
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		g, err := grant(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if g.ApprovedBy != nil {
			return ErrGrantDecided
		}
		if MayIssue(by.Role, g.Request.Role) != SecondOfficer {
			return fmt.Errorf("%w: %s may not approve %s keys", ErrIssuanceRefused, by.Role, g.Request.Role)
		}
		me := by.Person()
		if me == g.RequestedBy || me == g.Request.person() {
			return ErrSelfGrant
		}
		if g.Request.ExpiresAt != nil && !g.Request.ExpiresAt.After(time.Now()) {
			return ErrGrantExpired
		}
		p, token, err := create(ctx, tx, g.Request.Role, g.Request.Subject, g.Request.Name, g.Request.ExpiresAt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE key_grants SET approved_by = $2, approved_at = now(), key_id = $3 WHERE id = $1`, id, me, p.KeyID); err != nil {
			return fmt.Errorf("approve key grant: %w", err)
		}
		ev, err := audit.New(ctx, "auth.key.approve", []string{id.String(), p.KeyID.String()}, map[string]any{"requested_by": g.RequestedBy})
		if err != nil {
			return err
		}
		g.ApprovedBy, g.KeyID = &me, &p.KeyID
		out = Issued{Key: p, Token: token, Grant: &g}
		return audit.Append(ctx, tx, ev)
	})
	return out, err
}

const grantColumns = `id, role, subject, name, expires_at, requested_by, requested_at, approved_by, approved_at, key_id`

func scanGrant(row pgx.Row) (Grant, error) {
	var (
		g    Grant
		role string
	)
	err := row.Scan(&g.ID, &role, &g.Request.Subject, &g.Request.Name, &g.Request.ExpiresAt, &g.RequestedBy, &g.RequestedAt, &g.ApprovedBy, &g.ApprovedAt, &g.KeyID)
	g.Request.Role = Role(role)
	return g, err
}

func grant(ctx context.Context, db pg.DBTX, id uuid.UUID, lock bool) (Grant, error) {
	q := `SELECT ` + grantColumns + ` FROM key_grants WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	g, err := scanGrant(db.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Grant{}, ErrGrantNotFound
	}
	if err != nil {
		return Grant{}, fmt.Errorf("read key grant: %w", err)
	}
	return g, nil
}

// PendingGrants lists grants that wait for a second officer, oldest first.
func (s *Store) PendingGrants(ctx context.Context) ([]Grant, error) {
	rows, err := s.db.Query(ctx, `SELECT `+grantColumns+` FROM key_grants WHERE approved_by IS NULL ORDER BY requested_at`)
	if err != nil {
		return nil, fmt.Errorf("list key grants: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Grant, error) { return scanGrant(r) })
}
