package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/page"
)

// AccountFilter narrows a list of accounts; zero fields do not narrow.
type AccountFilter struct {
	Owner    string
	Code     AccountCode
	Currency string
}

// Accounts lists accounts newest first.
func (l *Ledger) Accounts(ctx context.Context, f AccountFilter, r page.Request) (page.Of[Account], error) {
	q := page.Select(`SELECT `+accountColumns+` FROM accounts`, "created_at", "id")
	if f.Owner != "" {
		q.Where("owner = ?", f.Owner)
	}
	if f.Code != "" {
		q.Where("code = ?", string(f.Code))
	}
	if f.Currency != "" {
		q.Where("currency = ?", f.Currency)
	}
	p, err := page.Collect(ctx, l.db, q, r, scanAccount, func(a Account) page.Key { return page.Key{At: a.CreatedAt, ID: a.ID} })
	if err != nil {
		return p, fmt.Errorf("list accounts: %w", err)
	}
	return p, nil
}

// TransferFilter narrows a list of transfers; zero fields do not narrow.
type TransferFilter struct {
	// AccountID keeps transfers debiting or crediting the account.
	AccountID *uuid.UUID
	Code      string
	Kind      Kind
	// From and To bound the creation instant: From <= created_at < To.
	From, To *time.Time
	// Metadata keeps transfers whose metadata holds every key with its value.
	Metadata map[string]string
	// IdempotencyKey keeps the transfers of the request posted with it.
	IdempotencyKey string
}

// Transfers lists transfers newest first. With an account it walks that
// account's entries (their index is the account's history in time order);
// without, the transfers' own (created_at, id) index.
func (l *Ledger) Transfers(ctx context.Context, f TransferFilter, r page.Request) (page.Of[Transfer], error) {
	switch f.Kind {
	case "", KindPosted, KindPending, KindPostPending, KindVoidPending:
	default:
		return page.Of[Transfer]{}, fieldErr("kind", errors.New("kind must be posted, pending, post_pending or void_pending"))
	}
	if f.From != nil && f.To != nil && f.From.After(*f.To) {
		return page.Of[Transfer]{}, fieldErr("from", errors.New("from is after to"))
	}
	var q *page.Query
	if f.AccountID != nil {
		q = page.Select(`SELECT `+transferColumnsT+` FROM account_entries ae JOIN transfers t ON t.id = ae.transfer_id`, "ae.created_at", "t.id")
		q.Where("ae.account_id = ?", *f.AccountID)
		if f.From != nil {
			q.Where("ae.created_at >= ?", *f.From)
		}
		if f.To != nil {
			q.Where("ae.created_at < ?", *f.To)
		}
	} else {
		q = page.Select(`SELECT `+transferColumnsT+` FROM transfers t`, "t.created_at", "t.id")
		if f.From != nil {
			q.Where("t.created_at >= ?", *f.From)
		}
		if f.To != nil {
			q.Where("t.created_at < ?", *f.To)
		}
	}
	if f.IdempotencyKey != "" {
		q.Where("t.entry_id = (SELECT id FROM entries WHERE idempotency_key = ?)", f.IdempotencyKey)
	}
	if f.Code != "" {
		q.Where("t.code = ?", f.Code)
	}
	if f.Kind != "" {
		q.Where("t.kind = ?", string(f.Kind))
	}
	if len(f.Metadata) > 0 {
		doc, err := json.Marshal(f.Metadata)
		if err != nil {
			return page.Of[Transfer]{}, err
		}
		// Containment, served by the jsonb_path_ops index (migration 031).
		q.Where("t.metadata @> ?::jsonb", string(doc))
	}
	p, err := page.Collect(ctx, l.db, q, r, scanTransfer, func(t Transfer) page.Key { return page.Key{At: t.CreatedAt, ID: t.ID} })
	if err != nil {
		return p, fmt.Errorf("list transfers: %w", err)
	}
	return p, nil
}

// transferColumnsT is transferColumns qualified by the alias t.
var transferColumnsT = func() string {
	cols := strings.Split(transferColumns, ",")
	for i, c := range cols {
		cols[i] = "t." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()
