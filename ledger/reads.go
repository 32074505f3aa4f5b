package ledger

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

const transferColumns = `id, seq, entry_id, entry_index, kind, debit_account_id, credit_account_id, currency, amount,
	code, metadata::text, pending_id, reverses_id, expires_at, created_at`

func scanTransfer(row pgx.Row) (Transfer, error) {
	var (
		t        Transfer
		kind     string
		cur      string
		amount   decimal.Decimal
		metadata string
	)
	if err := row.Scan(&t.ID, &t.Seq, &t.EntryID, &t.Index, &kind, &t.DebitAccountID, &t.CreditAccountID, &cur, &amount,
		&t.Code, &metadata, &t.PendingID, &t.ReversesID, &t.ExpiresAt, &t.CreatedAt); err != nil {
		return Transfer{}, err
	}
	t.Kind = Kind(kind)
	c, err := money.Lookup(cur)
	if err != nil {
		return Transfer{}, err
	}
	if t.Amount, err = money.FromDecimal(c, amount); err != nil {
		return Transfer{}, err
	}
	// jsonb reformats; store and return the canonical form so a replay is byte-identical.
	if t.Metadata, err = canonicalMetadata([]byte(metadata)); err != nil {
		return Transfer{}, fmt.Errorf("stored metadata: %w", err)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if t.ExpiresAt != nil {
		e := t.ExpiresAt.UTC()
		t.ExpiresAt = &e
	}
	return t, nil
}

const loadEntriesSQL = `SELECT e.idempotency_key, e.created_at, t.id, t.seq, t.entry_id, t.entry_index, t.kind,
		t.debit_account_id, t.credit_account_id, t.currency, t.amount, t.code, t.metadata::text, t.pending_id,
		t.reverses_id, t.expires_at, t.created_at
	FROM entries e JOIN transfers t ON t.entry_id = e.id
	WHERE e.id = ANY($1) ORDER BY t.entry_id, t.entry_index`

func loadEntries(ctx context.Context, q querier, ids []uuid.UUID) (map[uuid.UUID]Entry, error) {
	rows, err := q.Query(ctx, loadEntriesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("load entries: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]Entry{}
	if err := scanEntries(rows, out); err != nil {
		return nil, err
	}
	return out, nil
}

func scanEntries(rows pgx.Rows, out map[uuid.UUID]Entry) error {
	for rows.Next() {
		var key string
		var created time.Time
		t, err := scanTransfer(prefixRow{rows, []any{&key, &created}})
		if err != nil {
			return fmt.Errorf("scan entry: %w", err)
		}
		e := out[t.EntryID]
		e.ID, e.IdempotencyKey, e.CreatedAt = t.EntryID, key, created.UTC()
		e.Transfers = append(e.Transfers, t)
		out[t.EntryID] = e
	}
	return rows.Err()
}

// prefixRow scans leading columns into extra destinations before the transfer's.
type prefixRow struct {
	rows  pgx.Rows
	extra []any
}

func (p prefixRow) Scan(dest ...any) error { return p.rows.Scan(append(p.extra, dest...)...) }

// Transfer reads one transfer by id.
func (l *Ledger) Transfer(ctx context.Context, id uuid.UUID) (Transfer, error) {
	t, err := scanTransfer(l.db.QueryRow(ctx, `SELECT `+transferColumns+` FROM transfers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Transfer{}, ErrTransferNotFound
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("get transfer %s: %w", id, err)
	}
	return t, nil
}

// EntryByKey reads the entry stored under an idempotency key.
func (l *Ledger) EntryByKey(ctx context.Context, key string) (Entry, error) {
	var id uuid.UUID
	err := l.db.QueryRow(ctx, `SELECT id FROM entries WHERE idempotency_key = $1`, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, ErrTransferNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("entry by key: %w", err)
	}
	m, err := loadEntries(ctx, l.db, []uuid.UUID{id})
	if err != nil {
		return Entry{}, err
	}
	return m[id], nil
}

const accountColumns = `id, currency, code, owner, metadata::text, debits_must_not_exceed_credits,
	credits_must_not_exceed_debits, closed_at, created_at, debits_posted, credits_posted, debits_pending, credits_pending`

func scanAccount(row pgx.Row) (Account, error) {
	var (
		a              Account
		cur, code, md  string
		dp, cp, dq, cq decimal.Decimal
	)
	if err := row.Scan(&a.ID, &cur, &code, &a.Owner, &md, &a.Flags.DebitsMustNotExceedCredits,
		&a.Flags.CreditsMustNotExceedDebits, &a.ClosedAt, &a.CreatedAt, &dp, &cp, &dq, &cq); err != nil {
		return Account{}, err
	}
	c, err := money.Lookup(cur)
	if err != nil {
		return Account{}, err
	}
	a.Currency, a.Code = c, AccountCode(code)
	if a.Metadata, err = canonicalMetadata([]byte(md)); err != nil {
		return Account{}, fmt.Errorf("stored metadata: %w", err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	if a.ClosedAt != nil {
		t := a.ClosedAt.UTC()
		a.ClosedAt = &t
	}
	a.Balances, err = balances(c, dp, cp, dq, cq)
	return a, err
}

func balances(c money.Currency, dp, cp, dq, cq decimal.Decimal) (Balances, error) {
	var b Balances
	var err error
	for _, x := range []struct {
		dst *money.Amount
		v   decimal.Decimal
	}{{&b.DebitsPosted, dp}, {&b.CreditsPosted, cp}, {&b.DebitsPending, dq}, {&b.CreditsPending, cq}} {
		if *x.dst, err = money.FromDecimal(c, x.v); err != nil {
			return Balances{}, err
		}
	}
	return b, nil
}

// Account reads an account with its current balances.
func (l *Ledger) Account(ctx context.Context, id uuid.UUID) (Account, error) {
	a, err := scanAccount(l.db.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, ErrAccountNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("get account %s: %w", id, err)
	}
	return a, nil
}

// BalanceAsOf returns an account's balances as they stood at t: after every
// transfer committed at or before t. Before the first transfer they are zero.
func (l *Ledger) BalanceAsOf(ctx context.Context, id uuid.UUID, t time.Time) (Balances, error) {
	a, err := l.Account(ctx, id)
	if err != nil {
		return Balances{}, err
	}
	var dp, cp, dq, cq decimal.Decimal
	err = l.db.QueryRow(ctx, `SELECT debits_posted, credits_posted, debits_pending, credits_pending
		FROM account_entries WHERE account_id = $1 AND created_at <= $2 ORDER BY created_at DESC, seq DESC LIMIT 1`,
		id, t).Scan(&dp, &cp, &dq, &cq)
	if errors.Is(err, pgx.ErrNoRows) {
		z := money.Zero(a.Currency)
		return Balances{z, z, z, z}, nil
	}
	if err != nil {
		return Balances{}, fmt.Errorf("balance as of: %w", err)
	}
	return balances(a.Currency, dp, cp, dq, cq)
}

// MaxPage bounds one page of AccountEntries.
const MaxPage = 1000

// Cursor marks a position in an account's entries: after the entry with
// this time and sequence number. The zero Cursor is the start.
type Cursor struct {
	At  time.Time
	Seq int64
}

// String encodes the cursor as an opaque token for clients.
func (c Cursor) String() string {
	if c.Seq == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", c.At.UnixMicro(), c.Seq)))
}

// ErrBadCursor is returned by ParseCursor for a token it did not make.
var ErrBadCursor = errors.New("malformed cursor")

// ParseCursor decodes a token made by Cursor.String; "" is the start.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	var us, seq int64
	if n, err := fmt.Sscanf(string(raw), "%d.%d", &us, &seq); err != nil || n != 2 || seq <= 0 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{At: time.UnixMicro(us).UTC(), Seq: seq}, nil
}

// AccountEntries lists an account's entries in time order, oldest first,
// after the cursor, at most limit of them, with the account's balances after
// each. Next is the cursor for the following page ("" after the last page).
func (l *Ledger) AccountEntries(ctx context.Context, id uuid.UUID, after Cursor, limit int) (page []AccountEntry, next Cursor, err error) {
	a, err := l.Account(ctx, id)
	if err != nil {
		return nil, Cursor{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	at := after.At
	if after.Seq == 0 {
		at = time.Time{}
	}
	rows, err := l.db.Query(ctx, `SELECT ae.seq, ae.transfer_id, t.kind, ae.side::text, t.amount, t.code, ae.created_at,
			ae.debits_posted, ae.credits_posted, ae.debits_pending, ae.credits_pending
		FROM account_entries ae JOIN transfers t ON t.id = ae.transfer_id
		WHERE ae.account_id = $1 AND (ae.created_at, ae.seq) > ($2, $3)
		ORDER BY ae.created_at, ae.seq LIMIT $4`, id, at, after.Seq, limit)
	if err != nil {
		return nil, Cursor{}, fmt.Errorf("account entries: %w", err)
	}
	defer rows.Close()
	var out []AccountEntry
	for rows.Next() {
		var (
			e                      AccountEntry
			kind, side             string
			amount, dp, cp, dq, cq decimal.Decimal
		)
		if err := rows.Scan(&e.Seq, &e.TransferID, &kind, &side, &amount, &e.Code, &e.CreatedAt, &dp, &cp, &dq, &cq); err != nil {
			return nil, Cursor{}, fmt.Errorf("scan account entry: %w", err)
		}
		e.Kind = Kind(kind)
		e.Side = Debit
		if side == "C" {
			e.Side = Credit
		}
		e.CreatedAt = e.CreatedAt.UTC()
		if e.Amount, err = money.FromDecimal(a.Currency, amount); err != nil {
			return nil, Cursor{}, err
		}
		if e.Balances, err = balances(a.Currency, dp, cp, dq, cq); err != nil {
			return nil, Cursor{}, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, Cursor{}, fmt.Errorf("account entries: %w", err)
	}
	if len(out) == limit {
		last := out[len(out)-1]
		next = Cursor{At: last.CreatedAt, Seq: last.Seq}
	}
	return out, next, nil
}

// Querier is what the read helpers below need: a pool or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// WithTxRead runs fn in a read-only REPEATABLE READ transaction: a
// consistent snapshot for reports that read many rows.
func (l *Ledger) WithTxRead(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, l.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// AccountIDs returns the ids of the accounts opened under keys (a party's
// wallet is opened under "wallet:<party>:<currency>"); keys with no account
// are left out.
func (l *Ledger) AccountIDs(ctx context.Context, keys []string) (map[string]uuid.UUID, error) {
	out := map[string]uuid.UUID{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := l.db.Query(ctx, `SELECT idempotency_key, id FROM accounts WHERE idempotency_key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("accounts by key: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var id uuid.UUID
		if err := rows.Scan(&k, &id); err != nil {
			return nil, err
		}
		out[k] = id
	}
	return out, rows.Err()
}
