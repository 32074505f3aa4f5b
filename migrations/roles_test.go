package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crowdledger/crowdledger/internal/pgtest"
)

// TestServiceRoleHasNoMoreThanItNeeds: connected as crowdledger_app, the
// service reads and writes rows, and cannot rewrite history, drop or
// disable the triggers that guard it, or move the schema version.
func TestServiceRoleHasNoMoreThanItNeeds(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	app, err := pgx.Connect(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	for _, tc := range []struct {
		sql     string
		allowed bool
	}{
		{`SELECT count(*) FROM accounts`, true},
		{`SELECT count(*) FROM parties`, true},
		{`INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, body) VALUES ('s', 'k', sha256(''), 200, 'x', '\x00')`, true},
		{`DELETE FROM idempotency_keys WHERE key = 'k'`, true},
		{`UPDATE transfers SET code = 'x'`, false},
		{`DELETE FROM entries`, false},
		{`DELETE FROM audit_events`, false},
		{`UPDATE audit_chain SET hash = hash`, false},
		{`UPDATE qualifications SET pii_key_id = 'x'`, false},
		{`TRUNCATE transfers`, false},
		{`DROP TRIGGER transfers_append_only ON transfers`, false},
		{`ALTER TABLE entries DISABLE TRIGGER ALL`, false},
		{`DROP TABLE audit_events`, false},
		{`UPDATE schema_version SET version = 1`, false},
		{`CREATE TABLE public.mine (n int)`, false},
	} {
		_, err := app.Exec(ctx, tc.sql)
		var pgErr *pgconn.PgError
		denied := errors.As(err, &pgErr) && (pgErr.Code == "42501")
		if tc.allowed && err != nil {
			t.Errorf("%s: %v", tc.sql, err)
		}
		if !tc.allowed && !denied {
			t.Errorf("%s: not refused for want of privilege: %v", tc.sql, err)
		}
	}
}
