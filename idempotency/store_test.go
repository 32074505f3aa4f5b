package idempotency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// TestDo covers the store's contract with a real side effect (a row the
// work inserts through pg.InTx, which joins the unit): one effect per key,
// the same response on every retry, a conflict for another request, and
// nothing kept from work that failed or answered a refusal.
func TestDo(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE effects (n int)`); err != nil {
		t.Fatal(err)
	}
	s := idempotency.New(db.Pool, sealer(t))
	effects := func() int {
		var n int
		db.Pool.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&n)
		return n
	}
	var calls atomic.Int32
	work := func(status int, fail error) func(context.Context) (idempotency.Response, error) {
		return func(ctx context.Context) (idempotency.Response, error) {
			calls.Add(1)
			err := pg.InTx(ctx, db.Pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO effects VALUES (1)`)
				return err
			})
			if err != nil {
				return idempotency.Response{}, err
			}
			return idempotency.Response{Status: status, ContentType: "application/json", Body: []byte(`{"n":1}`)}, fail
		}
	}
	a := idempotency.Request{Scope: "key:a", Key: "k1", Hash: idempotency.Hash([]byte("POST"), []byte("/x"), []byte(`{}`))}
	tests := []struct {
		name        string
		req         idempotency.Request
		work        func(context.Context) (idempotency.Response, error)
		wantErr     error
		wantStatus  int
		wantReplay  bool
		wantEffects int
	}{
		{"first", a, work(201, nil), nil, 201, false, 1},
		{"retry replays without running", a, work(201, nil), nil, 201, true, 1},
		{"another request under the key", idempotency.Request{Scope: a.Scope, Key: a.Key, Hash: idempotency.Hash([]byte("POST"), []byte("/y"))}, work(201, nil), idempotency.ErrConflict, 0, false, 1},
		{"the key in another scope is another key", idempotency.Request{Scope: "party:b", Key: a.Key, Hash: a.Hash}, work(201, nil), nil, 201, false, 2},
		{"a refusal keeps nothing", idempotency.Request{Scope: "key:a", Key: "k2", Hash: a.Hash}, work(422, nil), nil, 422, false, 2},
		{"after a refusal the key runs again", idempotency.Request{Scope: "key:a", Key: "k2", Hash: a.Hash}, work(200, nil), nil, 200, false, 3},
		{"an error keeps nothing", idempotency.Request{Scope: "key:a", Key: "k3", Hash: a.Hash}, work(200, errors.New("boom")), errors.New("boom"), 0, false, 3},
	}
	for _, tc := range tests {
		resp, replayed, err := s.Do(ctx, tc.req, tc.work)
		if (err == nil) != (tc.wantErr == nil) || (tc.wantErr == idempotency.ErrConflict && !errors.Is(err, idempotency.ErrConflict)) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
		if err == nil && (resp.Status != tc.wantStatus || replayed != tc.wantReplay) {
			t.Errorf("%s: status %d replayed %v, want %d %v", tc.name, resp.Status, replayed, tc.wantStatus, tc.wantReplay)
		}
		if got := effects(); got != tc.wantEffects {
			t.Errorf("%s: %d effects, want %d", tc.name, got, tc.wantEffects)
		}
	}

	// 50 copies at once: one runs, all answer the same.
	calls.Store(0)
	c := idempotency.Request{Scope: "key:a", Key: "concurrent", Hash: a.Hash}
	var wg sync.WaitGroup
	var replays atomic.Int32
	for range 50 {
		wg.Go(func() {
			resp, replayed, err := s.Do(ctx, c, work(201, nil))
			if err != nil || resp.Status != 201 || string(resp.Body) != `{"n":1}` {
				t.Errorf("copy: %v %d %s", err, resp.Status, resp.Body)
			}
			if replayed {
				replays.Add(1)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 || replays.Load() != 49 {
		t.Errorf("50 copies: work ran %d times, %d replays; want 1 and 49", calls.Load(), replays.Load())
	}
}

// TestSave: the group-commit routes' way in; the second save of a key
// returns the first response.
func TestSave(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := idempotency.New(db.Pool, sealer(t))
	req := idempotency.Request{Scope: "party:x", Key: "c1", Hash: idempotency.Hash([]byte("a"))}
	if _, found, err := s.Lookup(ctx, req); err != nil || found {
		t.Fatalf("lookup before: %v %v", found, err)
	}
	first := idempotency.Response{Status: 201, ContentType: "application/json", Location: "/v1/x/1", Body: []byte(`{"id":1}`)}
	if got, replayed, err := s.Save(ctx, req, first); err != nil || replayed || string(got.Body) != `{"id":1}` {
		t.Fatalf("first save: %s %v %v", got.Body, replayed, err)
	}
	got, replayed, err := s.Save(ctx, req, idempotency.Response{Status: 201, ContentType: "application/json", Body: []byte(`{"id":2}`)})
	if err != nil || !replayed || string(got.Body) != `{"id":1}` || got.Location != "/v1/x/1" {
		t.Fatalf("second save: %s %q %v %v", got.Body, got.Location, replayed, err)
	}
	if _, _, err := s.Lookup(ctx, idempotency.Request{Scope: req.Scope, Key: req.Key, Hash: idempotency.Hash([]byte("b"))}); !errors.Is(err, idempotency.ErrConflict) {
		t.Fatalf("lookup with another hash: %v", err)
	}
}

// TestPurge keeps keys younger than the retention and deletes the rest, at
// the boundary exactly.
func TestPurge(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := idempotency.New(db.Pool, sealer(t))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	keep := 30 * 24 * time.Hour
	for i, age := range []time.Duration{0, keep - time.Second, keep, keep + time.Second, 400 * 24 * time.Hour} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, body, created_at)
			VALUES ('s', $1, $2, 201, 'application/json', '{}', $3)`, string(rune('a'+i)), make([]byte, 32), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Purge(ctx, keep, now)
	if err != nil || n != 2 {
		t.Fatalf("purge: %d, %v; want 2 (older than %s)", n, err, keep)
	}
	var left int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&left)
	if left != 3 {
		t.Errorf("%d keys left, want 3", left)
	}
}

func sealer(t testing.TB) *pii.Keyring {
	k, err := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAnswersAreSealed: a stored answer is not in the table's bytes, opens
// for its own key only, and answers stored before sealing (no key id)
// still replay.
func TestAnswersAreSealed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	s := idempotency.New(db.Pool, sealer(t))
	req := idempotency.Request{Scope: "party:p", Key: "k", Hash: idempotency.Hash([]byte("POST /x"), []byte(`{}`))}
	secret := []byte(`{"window_limit":"4000.00","reasons":[{"figure":"80000.00"}]}`)
	if _, _, err := s.Save(ctx, req, idempotency.Response{Status: 201, ContentType: "application/json", Body: secret}); err != nil {
		t.Fatal(err)
	}
	var n int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE strpos(body, '80000.00'::bytea) > 0 OR pii_key_id IS NULL`).Scan(&n)
	if n != 0 {
		t.Errorf("%d answers stored in the clear", n)
	}
	got, found, err := s.Lookup(ctx, req)
	if err != nil || !found || string(got.Body) != string(secret) {
		t.Fatalf("lookup: %q %v %v", got.Body, found, err)
	}
	// A body moved to another key's row does not open.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, body, pii_key_id)
		SELECT scope, 'other', request_hash, status, content_type, body, pii_key_id FROM idempotency_keys WHERE key = 'k'`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Lookup(ctx, idempotency.Request{Scope: "party:p", Key: "other", Hash: req.Hash}); err == nil {
		t.Error("a sealed answer opened under another key")
	}
	// An answer from before sealing replays as stored.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, body)
		VALUES ('party:p', 'old', $1, 200, 'application/json', '{"old":true}')`, req.Hash[:]); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Lookup(ctx, idempotency.Request{Scope: "party:p", Key: "old", Hash: req.Hash}); err != nil || string(got.Body) != `{"old":true}` {
		t.Errorf("old answer: %q %v", got.Body, err)
	}
}
