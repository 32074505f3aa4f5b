// Package migrations holds the database schema as forward-only SQL files,
// embedded in the binary and applied with jackc/tern.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// VersionTable is where tern records the applied version.
const VersionTable = "public.schema_version"

func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return nil, fmt.Errorf("new migrator: %w", err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}

// Migrate applies every pending migration. tern takes an advisory lock, so
// several processes may call it at once.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return migrateRiver(ctx, conn)
}

// migrateRiver brings River's own tables (the job queue that delivers
// webhooks) to the version this build's River expects, with River's own
// migrator: one transaction per version (a version may use an enum value
// the one before added, which PostgreSQL allows only once that committed),
// each under an advisory lock so concurrent migrations wait.
func migrateRiver(ctx context.Context, conn *pgx.Conn) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	for _, v := range migrator.AllVersions() {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7411092304)`); err != nil {
				return err
			}
			_, err := migrator.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: v.Version})
			return err
		})
		if err != nil {
			return fmt.Errorf("river migrate to %d: %w", v.Version, err)
		}
	}
	return nil
}

// Latest is the version the embedded migrations bring a database to.
func Latest() int32 {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		panic(err)
	}
	return int32(len(names))
}

// Current reads the version a database is at (0 before any migration).
func Current(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int32, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, VersionTable).Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version table: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int32
	if err := q.QueryRow(ctx, `SELECT version FROM `+VersionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Fingerprint is a SHA-256 over every migration file, in order: test
// templates are keyed by it so a changed file gets a fresh template.
func Fingerprint() string {
	names, _ := fs.Glob(files, "*.sql")
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := files.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
