// Package pgtest gives each test its own PostgreSQL database, cloned from a
// template that holds the migrated schema (the pgtestdb approach): cloning
// takes milliseconds, so every test can afford a clean, real database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/migrations"
)

// DB is a fresh, migrated database for one test.
type DB struct {
	Pool *pgxpool.Pool
	URL  string
	// AppURL connects to the same database as the service's own role, with
	// only the grants `crowdledger migrate` gives it.
	AppURL string
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// URL returns the admin connection URL tests use: TEST_DATABASE_URL, else
// DATABASE_URL. With neither, the test is skipped, unless REQUIRE_DB=1, when
// it fails: CI sets that so a missing database cannot pass as green.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = os.Getenv("DATABASE_URL")
	}
	if u == "" {
		if os.Getenv("REQUIRE_DB") == "1" {
			t.Fatal("REQUIRE_DB=1 but neither TEST_DATABASE_URL nor DATABASE_URL is set")
		}
		t.Skip("no TEST_DATABASE_URL: skipping a test that needs PostgreSQL (run `make test`)")
	}
	return u
}

// NewDB creates a database from the migrated template and drops it when the
// test ends (keeping it, and logging its URL, if the test failed).
func NewDB(t testing.TB) *DB {
	t.Helper()
	admin := URL(t)
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx, admin) })
	if templateErr != nil {
		t.Fatalf("pgtest template: %v", templateErr)
	}
	name := "t_" + randHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %q TEMPLATE %q`, name, templateName)); err != nil {
		t.Fatalf("pgtest create database: %v", err)
	}
	dbURL := withDatabase(admin, name)
	pool, err := pg.Connect(ctx, dbURL, 32)
	if err != nil {
		t.Fatalf("pgtest pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		if t.Failed() {
			t.Logf("pgtest: kept database for inspection: %s", dbURL)
			return
		}
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Logf("pgtest cleanup: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)); err != nil {
			t.Logf("pgtest drop %s: %v", name, err)
		}
	})
	return &DB{Pool: pool, URL: dbURL, AppURL: AsRole(dbURL, migrations.DefaultServiceRole)}
}

// ensureTemplate builds the template for the current migrations once per
// fingerprint; an advisory lock keeps parallel test binaries from racing.
func ensureTemplate(ctx context.Context, admin string) (string, error) {
	// templateRev changes with what the template holds beyond the
	// migrations (the service role's grants).
	const templateRev = "r3" // r3: River's tables
	name := "crowdledger_tpl_" + migrations.Fingerprint() + templateRev
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7411092301)`); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(7411092301)`) //nolint:errcheck
	var ready bool
	err = conn.QueryRow(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		return "", err
	}
	tc, err := pgx.Connect(ctx, withDatabase(admin, name))
	if err != nil {
		return "", err
	}
	if err := migrations.Migrate(ctx, tc); err != nil {
		tc.Close(ctx)
		return "", err
	}
	if err := migrations.GrantServiceRole(ctx, tc, migrations.DefaultServiceRole, ""); err != nil {
		tc.Close(ctx)
		return "", err
	}
	tc.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %q IS_TEMPLATE true`, name)); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad url: %v", err))
	}
	u.Path = "/" + db
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AsRole is raw with its user replaced by role (and no password: the test
// server trusts local connections).
func AsRole(raw, role string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad url: %v", err))
	}
	u.User = url.User(role)
	return u.String()
}
