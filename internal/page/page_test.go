package page_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/internal/pgtest"
)

func TestCursorRoundTrip(t *testing.T) {
	k := page.Key{At: time.Date(2026, 12, 1, 8, 30, 0, 123456000, time.UTC), ID: uuid.MustParse("0193a5b0-0000-7000-8000-000000000001")}
	got, err := page.ParseCursor(k.Cursor())
	if err != nil || got == nil || !got.At.Equal(k.At) || got.ID != k.ID {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if got, err := page.ParseCursor(""); got != nil || err != nil {
		t.Fatalf("empty cursor: %v %v", got, err)
	}
}

func TestParseCursorRefusesWhatItDidNotWrite(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, c := range map[string]string{
		"not base64":    "%%%",
		"padding":       "MQ==",
		"two parts":     enc("1.5"),
		"other version": enc("2.5." + uuid.NewString()),
		"bad instant":   enc("1.x." + uuid.NewString()),
		"bad id":        enc("1.5.not-a-uuid"),
	} {
		if _, err := page.ParseCursor(c); err != page.ErrCursor {
			t.Errorf("%s: %v, want ErrCursor", name, err)
		}
	}
}

func TestQuerySQL(t *testing.T) {
	after := &page.Key{At: time.Unix(10, 0).UTC(), ID: uuid.Nil}
	for _, tc := range []struct {
		name  string
		q     func() *page.Query
		r     page.Request
		want  string
		nargs int
	}{
		{"bare first page", func() *page.Query { return page.Select("SELECT id FROM t", "created_at", "id") },
			page.Request{}, "SELECT id FROM t ORDER BY created_at DESC, id DESC LIMIT 51", 0},
		{"filters numbered in order", func() *page.Query {
			return page.Select("SELECT id FROM t", "created_at", "id").Where("a = ?", 1).Where("b BETWEEN ? AND ?", 2, 3)
		}, page.Request{Limit: 10}, "SELECT id FROM t WHERE a = $1 AND b BETWEEN $2 AND $3 ORDER BY created_at DESC, id DESC LIMIT 11", 3},
		{"keyset after the filters", func() *page.Query {
			return page.Select("SELECT x.id FROM t x", "x.created_at", "x.id").Where("x.a = ?", 1)
		}, page.Request{Limit: 1000, After: after}, "SELECT x.id FROM t x WHERE x.a = $1 AND (x.created_at, x.id) < ($2, $3) ORDER BY x.created_at DESC, x.id DESC LIMIT 501", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sql, args := tc.q().SQL(tc.r)
			if sql != tc.want || len(args) != tc.nargs {
				t.Fatalf("got %q %v\nwant %q with %d args", sql, args, tc.want, tc.nargs)
			}
		})
	}
}

// TestCollectWalksEveryRowOnce pages through rows that share instants (ties
// broken by id) with several page sizes: every row once, newest first.
func TestCollectWalksEveryRowOnce(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE t (id uuid PRIMARY KEY, created_at timestamptz NOT NULL, a int NOT NULL);
		INSERT INTO t SELECT gen_random_uuid(), '2026-01-01'::timestamptz + (i / 3) * interval '1 second', i % 2 FROM generate_series(1, 47) i`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		k page.Key
		a int
	}
	scan := func(r pgx.Row) (row, error) {
		var x row
		err := r.Scan(&x.k.ID, &x.k.At, &x.a)
		return x, err
	}
	for _, limit := range []int{1, 5, 23, 50} {
		for _, a := range []int{-1, 1} {
			var seen []page.Key
			var req = page.Request{Limit: limit}
			for pages := 0; ; pages++ {
				q := page.Select("SELECT id, created_at, a FROM t", "created_at", "id")
				if a >= 0 {
					q.Where("a = ?", a)
				}
				p, err := page.Collect(ctx, db.Pool, q, req, scan, func(x row) page.Key { return x.k })
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Items) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(p.Items))
				}
				for _, x := range p.Items {
					seen = append(seen, x.k)
				}
				if p.Next == "" {
					break
				}
				if req.After, err = page.ParseCursor(p.Next); err != nil {
					t.Fatal(err)
				}
			}
			var want int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM t WHERE $1 < 0 OR a = $1`, a).Scan(&want); err != nil {
				t.Fatal(err)
			}
			ids := map[uuid.UUID]bool{}
			for i, k := range seen {
				if ids[k.ID] {
					t.Fatalf("limit %d: %s twice", limit, k.ID)
				}
				ids[k.ID] = true
				if i > 0 && (k.At.After(seen[i-1].At) || k.At.Equal(seen[i-1].At) && k.ID.String() > seen[i-1].ID.String()) {
					t.Fatalf("limit %d: out of order at %d", limit, i)
				}
			}
			if len(seen) != want {
				t.Fatalf("limit %d filter %d: saw %d rows, want %d", limit, a, len(seen), want)
			}
		}
	}
}
