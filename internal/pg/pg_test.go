package pg_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pgtest"
)

// The service's connections plan each statement afresh and without JIT,
// unless the URL asks otherwise.
func TestConnectSettings(t *testing.T) {
	base := pgtest.URL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name, url, setting, want string
	}{
		{"jit off", base, "jit", "off"},
		{"url sets jit", base + sep + "jit=on", "jit", "on"},
		{"custom plans", base, "plan_cache_mode", "force_custom_plan"},
		{"url sets plan cache mode", base + sep + "plan_cache_mode=auto", "plan_cache_mode", "auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool, err := pg.Connect(ctx, tc.url, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var got string
			if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, tc.setting).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s = %q, want %q", tc.setting, got, tc.want)
			}
		})
	}
}

// Between QueueCachedPlans and QueueCustomPlans statements may keep cached
// plans; after the bracket, and after the transaction, the connection's own
// setting is back.
func TestPlanBracket(t *testing.T) {
	ctx := context.Background()
	pool, err := pg.Connect(ctx, pgtest.URL(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var inside, after string
	b := &pgx.Batch{}
	pg.QueueCachedPlans(b)
	b.Queue(`SELECT current_setting('plan_cache_mode')`).QueryRow(func(r pgx.Row) error { return r.Scan(&inside) })
	pg.QueueCustomPlans(b)
	b.Queue(`SELECT current_setting('plan_cache_mode')`).QueryRow(func(r pgx.Row) error { return r.Scan(&after) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	if inside != "auto" || after != "force_custom_plan" {
		t.Errorf("plan_cache_mode inside the bracket %q, after it %q; want auto, force_custom_plan", inside, after)
	}
}
