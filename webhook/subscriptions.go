package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// Errors.
var (
	ErrInvalid  = errors.New("invalid webhook subscription")
	ErrNotFound = errors.New("webhook subscription not found")
)

// Owner is who made a subscription: an API key's role and subject. It
// receives what that owner may read from the feed.
type Owner struct {
	Role, Subject string
}

// Subscription is a URL that receives events.
type Subscription struct {
	ID         uuid.UUID  `json:"id"`
	URL        string     `json:"url"`
	Types      []string   `json:"types"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	Owner      Owner      `json:"-"`
	fromPos    *int64     // the chain position of its creation event, once linked
	secret     string
}

// Store keeps subscriptions; it owns webhook_subscriptions.
type Store struct {
	db   pg.Pool
	keys *pii.Keyring
}

func invalid(field, msg string) error {
	return &fault.FieldError{Field: field, Err: errors.New(msg), Kind: ErrInvalid}
}

// Create stores a subscription and returns it with its signing secret,
// which is shown once: only its sealed form is kept.
func (s *Store) Create(ctx context.Context, owner Owner, rawURL string, types []string) (Subscription, string, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(rawURL) > 2000:
		return Subscription{}, "", invalid("url", "url must be an absolute http or https URL without credentials")
	case len(types) > 100:
		return Subscription{}, "", invalid("types", "at most 100 types")
	}
	for _, t := range types {
		if t == "" || len(t) > 100 {
			return Subscription{}, "", invalid("types", "each type is 1 to 100 characters, e.g. order.shipped or order.*")
		}
	}
	if types == nil {
		types = []string{}
	}
	sub := Subscription{ID: uuid.New(), URL: rawURL, Types: types, Owner: owner}
	secret := NewSecret()
	keyID, sealed := s.keys.Seal([]byte(secret), "webhook:"+sub.ID.String()+":secret")
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO webhook_subscriptions (id, owner_role, owner_subject, url, types, secret_enc, pii_key_id, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $3) RETURNING created_at`,
			sub.ID, owner.Role, owner.Subject, rawURL, types, sealed, keyID).Scan(&sub.CreatedAt); err != nil {
			return err
		}
		ev, err := audit.New(ctx, "webhook.subscription.create", []string{sub.ID.String()}, map[string]any{"url": rawURL, "types": types})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return Subscription{}, "", fmt.Errorf("create webhook subscription: %w", err)
	}
	sub.CreatedAt = sub.CreatedAt.UTC()
	return sub, secret, nil
}

const columns = `id, owner_role, owner_subject, url, types, created_at, disabled_at, from_pos, secret_enc, pii_key_id`

func (s *Store) scan(row pgx.Row) (Subscription, error) {
	var sub Subscription
	var sealed []byte
	var keyID string
	if err := row.Scan(&sub.ID, &sub.Owner.Role, &sub.Owner.Subject, &sub.URL, &sub.Types, &sub.CreatedAt, &sub.DisabledAt, &sub.fromPos, &sealed, &keyID); err != nil {
		return Subscription{}, err
	}
	secret, err := s.keys.Open(keyID, sealed, "webhook:"+sub.ID.String()+":secret")
	if err != nil {
		return Subscription{}, fmt.Errorf("webhook %s secret: %w", sub.ID, err)
	}
	sub.secret, sub.CreatedAt = string(secret), sub.CreatedAt.UTC()
	return sub, nil
}

// Get reads a subscription of owner's.
func (s *Store) Get(ctx context.Context, owner Owner, id uuid.UUID) (Subscription, error) {
	sub, err := s.scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM webhook_subscriptions WHERE id = $1 AND owner_role = $2 AND owner_subject = $3`,
		id, owner.Role, owner.Subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, ErrNotFound
	}
	return sub, err
}

// List pages through owner's subscriptions, newest first.
func (s *Store) List(ctx context.Context, owner Owner, r page.Request) (page.Of[Subscription], error) {
	q := page.Select(`SELECT `+columns+` FROM webhook_subscriptions`, "created_at", "id").
		Where("owner_role = ?", owner.Role).Where("owner_subject = ?", owner.Subject)
	return page.Collect(ctx, s.db, q, r, s.scan, func(sub Subscription) page.Key { return page.Key{At: sub.CreatedAt, ID: sub.ID} })
}

// active reads every subscription not disabled, for the dispatcher.
func (s *Store) active(ctx context.Context, q pgx.Tx) ([]Subscription, error) {
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM webhook_subscriptions WHERE disabled_at IS NULL`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return s.scan(r) })
}

// byID reads a subscription whoever owns it, for the worker.
func (s *Store) byID(ctx context.Context, id uuid.UUID) (Subscription, error) {
	sub, err := s.scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM webhook_subscriptions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, ErrNotFound
	}
	return sub, err
}

// Disable stops deliveries to a subscription; jobs already queued for it
// are cancelled when they next run.
func (s *Store) Disable(ctx context.Context, owner Owner, id uuid.UUID) (Subscription, error) {
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_subscriptions SET disabled_at = coalesce(disabled_at, clock_timestamp())
			WHERE id = $1 AND owner_role = $2 AND owner_subject = $3`, id, owner.Role, owner.Subject)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		ev, err := audit.New(ctx, "webhook.subscription.disable", []string{id.String()}, map[string]any{})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		return Subscription{}, err
	}
	return s.Get(ctx, owner, id)
}
