// Package auth issues, checks and revokes API keys, and says what each role
// may do. Only a SHA-256 of a key's secret is stored; the key itself is
// shown once, when created.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// Role is what a key's holder is.
type Role string

// Roles.
const (
	Operator   Role = "operator"   // platform back office
	Compliance Role = "compliance" // platform compliance staff
	Issuer     Role = "issuer"     // a startup raising money; scoped to its subject
	Investor   Role = "investor"   // an investor or backer; scoped to its subject
	Regulator  Role = "regulator"  // a supervising authority; read-mostly
)

// Roles lists every role.
func Roles() []Role { return []Role{Operator, Compliance, Issuer, Investor, Regulator} }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownRole, s)
}

// Scoped reports whether keys of this role reach only their own subject's resources.
func (r Role) Scoped() bool { return r == Issuer || r == Investor }

// Principal is the authenticated holder of a key.
type Principal struct {
	KeyID   uuid.UUID
	Role    Role
	Subject string // the party the key acts for (investor or issuer id); "" for platform staff
	Name    string
}

// Errors.
var (
	ErrUnauthenticated = errors.New("missing, malformed, unknown, expired or revoked API key")
	ErrUnknownRole     = errors.New("unknown role")
	ErrSubjectRequired = errors.New("a key needs a subject: the party it acts for, or the staff member who holds it")
	ErrKeyNotFound     = errors.New("api key not found")
)

const prefix = "cl_"

// Store keeps API keys in PostgreSQL.
type Store struct {
	db pg.DBTX
	// CacheTTL, when positive, keeps authenticated keys in memory that long,
	// saving a query per request. A key revoked by another process keeps
	// working here for at most that long; one revoked by this process stops
	// at once.
	CacheTTL time.Duration
	mu       sync.Mutex
	cache    map[uuid.UUID]cached
}

type cached struct {
	p       Principal
	hash    [32]byte
	until   time.Time
	expires *time.Time
}

// NewStore returns a store on db.
func NewStore(db pg.DBTX) *Store { return &Store{db: db, cache: map[uuid.UUID]cached{}} }

// Create makes a key and returns its principal and the secret token, which
// is never stored and cannot be shown again. It applies no issuance policy:
// the command line calls it for an administrator on the host; the API goes
// through Issue and Approve.
func (s *Store) Create(ctx context.Context, role Role, subject, name string, expiresAt *time.Time) (Principal, string, error) {
	var (
		p     Principal
		token string
	)
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		p, token, err = create(ctx, tx, role, subject, name, expiresAt)
		return err
	})
	return p, token, err
}

// create stores a new key in tx.
func create(ctx context.Context, tx pgx.Tx, role Role, subject, name string, expiresAt *time.Time) (Principal, string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Principal{}, "", err
	}
	if subject == "" {
		return Principal{}, "", ErrSubjectRequired
	}
	if name == "" {
		name = string(role)
	}
	id := uuid.New()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Principal{}, "", fmt.Errorf("random secret: %w", err)
	}
	sum := sha256.Sum256(secret)
	ev, err := audit.New(ctx, "auth.key.create", []string{id.String()}, map[string]any{
		"role": role, "subject": subject, "name": name, "expires_at": expiresAt,
	})
	if err != nil {
		return Principal{}, "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, secret_hash, role, subject, name, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, sum[:], string(role), subject, name, expiresAt); err != nil {
		return Principal{}, "", fmt.Errorf("store api key: %w", err)
	}
	if err := audit.Append(ctx, tx, ev); err != nil {
		return Principal{}, "", err
	}
	token := prefix + hex.EncodeToString(id[:]) + "_" + hex.EncodeToString(secret)
	return Principal{KeyID: id, Role: role, Subject: subject, Name: name}, token, nil
}

// Authenticate resolves a bearer token to its principal. Every failure is
// the same ErrUnauthenticated, so a caller learns nothing about which part
// was wrong; the secret is compared in constant time.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	id, sum, ok := parseToken(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if s.CacheTTL > 0 {
		s.mu.Lock()
		c, ok := s.cache[id]
		s.mu.Unlock()
		now := time.Now()
		if ok && now.Before(c.until) && (c.expires == nil || now.Before(*c.expires)) && subtle.ConstantTimeCompare(sum[:], c.hash[:]) == 1 {
			return c.p, nil
		}
	}
	var (
		p    = Principal{KeyID: id}
		hash []byte
		role string
	)
	var expires *time.Time
	err := s.db.QueryRow(ctx, `SELECT secret_hash, role, subject, name, expires_at FROM api_keys
		WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`, id).
		Scan(&hash, &role, &p.Subject, &p.Name, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up api key: %w", err)
	}
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	p.Role = Role(role)
	if s.CacheTTL > 0 {
		s.mu.Lock()
		s.cache[id] = cached{p: p, hash: sum, until: time.Now().Add(s.CacheTTL), expires: expires}
		s.mu.Unlock()
	}
	return p, nil
}

// Known reports whether token is in the memory cache, valid and unexpired,
// without a query.
func (s *Store) Known(token string) bool {
	if s.CacheTTL <= 0 {
		return false
	}
	id, sum, ok := parseToken(token)
	if !ok {
		return false
	}
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	now := time.Now()
	return ok && now.Before(c.until) && (c.expires == nil || now.Before(*c.expires)) && subtle.ConstantTimeCompare(sum[:], c.hash[:]) == 1
}

// parseToken splits a token into its key id and the hash of its secret.
func parseToken(token string) (uuid.UUID, [32]byte, bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return uuid.Nil, [32]byte{}, false
	}
	idHex, secretHex, ok := strings.Cut(rest, "_")
	if !ok || len(idHex) != 32 || len(secretHex) != 64 {
		return uuid.Nil, [32]byte{}, false
	}
	idBytes, err1 := hex.DecodeString(idHex)
	secret, err2 := hex.DecodeString(secretHex)
	if err1 != nil || err2 != nil {
		return uuid.Nil, [32]byte{}, false
	}
	id, _ := uuid.FromBytes(idBytes)
	return id, sha256.Sum256(secret), true
}

// Revoke ends a key; it keeps working for no request that starts afterwards.
func (s *Store) Revoke(ctx context.Context, id uuid.UUID) error {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
	ev, err := audit.New(ctx, "auth.key.revoke", []string{id.String()}, map[string]any{})
	if err != nil {
		return err
	}
	return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1 FOR UPDATE`, id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if revoked {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		return audit.Append(ctx, tx, ev)
	})
}

// Key is a stored key's public description.
type Key struct {
	Principal
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// KeyFilter narrows a list of keys; zero fields do not narrow.
type KeyFilter struct {
	Role    Role
	Subject string
}

// Keys lists keys newest first (never their secrets: only hashes are kept).
func (s *Store) Keys(ctx context.Context, f KeyFilter, r page.Request) (page.Of[Key], error) {
	q := page.Select(`SELECT id, role, subject, name, created_at, expires_at, revoked_at FROM api_keys`, "created_at", "id")
	if f.Role != "" {
		q.Where("role = ?", string(f.Role))
	}
	if f.Subject != "" {
		q.Where("subject = ?", f.Subject)
	}
	p, err := page.Collect(ctx, s.db, q, r, func(row pgx.Row) (Key, error) {
		var k Key
		var role string
		err := row.Scan(&k.KeyID, &role, &k.Subject, &k.Name, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt)
		k.Role, k.CreatedAt = Role(role), k.CreatedAt.UTC()
		return k, err
	}, func(k Key) page.Key { return page.Key{At: k.CreatedAt, ID: k.KeyID} })
	if err != nil {
		return p, fmt.Errorf("list api keys: %w", err)
	}
	return p, nil
}
