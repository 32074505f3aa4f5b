// Package page is the one way crowdledger lists a collection: newest first
// by (created_at, id), cut by keyset (never OFFSET, whose cost grows with
// the page number), with an opaque cursor naming the last row a client saw.
//
// Every list route in the API pages through here, so every list has the
// same order, the same cursor and the same limits, and each owning package
// writes only its own filters. A keyset page is an index scan over
// (filters..., created_at, id) however deep the client pages.
package page

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Limits on a page's size. A client that names no limit gets DefaultLimit.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ErrCursor is returned for a cursor this package did not write.
var ErrCursor = errors.New("page: invalid cursor")

// Key is a row's place in the order: its creation instant, then its id.
type Key struct {
	At time.Time
	ID uuid.UUID
}

// cursorVersion prefixes every cursor so the format can change without
// misreading old cursors.
const cursorVersion = "1"

// Cursor encodes k for a client; it is opaque to them.
func (k Key) Cursor() string {
	raw := cursorVersion + "." + strconv.FormatInt(k.At.UnixMicro(), 10) + "." + k.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor reads a cursor written by Key.Cursor; "" is the first page.
func ParseCursor(s string) (*Key, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrCursor
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return nil, ErrCursor
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil, ErrCursor
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return nil, ErrCursor
	}
	return &Key{At: time.UnixMicro(us).UTC(), ID: id}, nil
}

// Request asks for one page: at most Limit rows after After (nil: from the
// newest).
type Request struct {
	Limit int
	After *Key
}

// limit is the request's limit within bounds.
func (r Request) limit() int {
	switch {
	case r.Limit <= 0:
		return DefaultLimit
	case r.Limit > MaxLimit:
		return MaxLimit
	}
	return r.Limit
}

// Of is one page of T and, when more rows follow, the cursor to the next.
type Of[T any] struct {
	Items []T
	Next  string
}

// Query is a SELECT whose filters are added one by one; it numbers the
// placeholders, so a filter is written with ? for each argument.
type Query struct {
	selectFrom string
	at, id     string
	conds      []string
	args       []any
}

// Select starts a query: selectFrom is "SELECT ... FROM ...", at and id are
// the (qualified) columns the order is by.
func Select(selectFrom, at, id string) *Query {
	return &Query{selectFrom: selectFrom, at: at, id: id}
}

// Where adds a condition; each ? in cond takes the next argument.
func (q *Query) Where(cond string, args ...any) *Query {
	var b strings.Builder
	n := 0
	for _, r := range cond {
		if r == '?' && n < len(args) {
			q.args = append(q.args, args[n])
			n++
			b.WriteString("$" + strconv.Itoa(len(q.args)))
			continue
		}
		b.WriteRune(r)
	}
	if n != len(args) {
		panic(fmt.Sprintf("page: %d placeholders for %d arguments in %q", n, len(args), cond))
	}
	q.conds = append(q.conds, b.String())
	return q
}

// SQL renders the query for r: the keyset condition after the filters,
// newest first, one row more than the page to learn whether another follows.
func (q *Query) SQL(r Request) (string, []any) {
	qq := *q
	qq.conds = append([]string(nil), q.conds...)
	qq.args = append([]any(nil), q.args...)
	if r.After != nil {
		qq.Where("("+q.at+", "+q.id+") < (?, ?)", r.After.At, r.After.ID)
	}
	var b strings.Builder
	b.WriteString(qq.selectFrom)
	for i, c := range qq.conds {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(c)
	}
	fmt.Fprintf(&b, " ORDER BY %s DESC, %s DESC LIMIT %d", q.at, q.id, r.limit()+1)
	return b.String(), qq.args
}

// Querier is a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Collect runs q for r, scans each row with scan and returns the page;
// key gives a row's place in the order.
func Collect[T any](ctx context.Context, db Querier, q *Query, r Request, scan func(pgx.Row) (T, error), key func(T) Key) (Of[T], error) {
	sql, args := q.SQL(r)
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return Of[T]{}, err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return Of[T]{}, err
	}
	out := Of[T]{Items: items}
	if n := r.limit(); len(items) > n {
		out.Items = items[:n]
		out.Next = key(items[n-1]).Cursor()
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return out, nil
}

// Map turns a page of T into a page of U (a store's rows into a response's).
func Map[T, U any](p Of[T], f func(T) U) Of[U] {
	out := Of[U]{Items: make([]U, len(p.Items)), Next: p.Next}
	for i, t := range p.Items {
		out.Items[i] = f(t)
	}
	return out
}

// Walk fetches page after page from the first and hands every item to
// yield: for callers that need the whole set (an export, the CLI), through
// the same query as the pages clients see.
func Walk[T any](fetch func(Request) (Of[T], error), yield func(T) error) error {
	r := Request{Limit: MaxLimit}
	for {
		p, err := fetch(r)
		if err != nil {
			return err
		}
		for _, t := range p.Items {
			if err := yield(t); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		if r.After, err = ParseCursor(p.Next); err != nil {
			return err
		}
	}
}
