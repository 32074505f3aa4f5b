// Package pg holds the PostgreSQL plumbing shared by the domain packages:
// pool set-up, the DBTX interface stores are written against, a retrying
// transaction helper and error classification.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what stores need from a connection: *pgxpool.Pool and pgx.Tx both
// satisfy it, so a store can run alone or inside a caller's transaction.
type DBTX interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Option adjusts a pool's configuration.
type Option func(*pgxpool.Config)

// WithTracer has every statement reported to t (OpenTelemetry's otelpgx
// when tracing is on: a trace then shows each statement a request ran).
func WithTracer(t pgx.QueryTracer) Option {
	return func(c *pgxpool.Config) { c.ConnConfig.Tracer = t }
}

// Connect opens a pool with the decimal codec registered, so numeric columns
// scan into decimal.Decimal exactly.
func Connect(ctx context.Context, url string, maxConns int32, opts ...Option) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// JIT pays off for long analytic scans, not for this service's short
	// statements: generic plans with pessimistic estimates crossed
	// jit_above_cost and compiled on every run of the expiry sweep and the
	// audit chainer, 10-300 ms of CPU each. The URL may still turn it on.
	//
	// Custom plans: pgx prepares every statement, and PostgreSQL keeps a
	// prepared statement's generic plan until something invalidates it. A
	// plan made while a table was nearly empty (a fresh database, the first
	// minutes of a campaign) stayed a sequential scan as the table grew to
	// 100k rows, and throughput fell by half until the service restarted.
	// Planning afresh costs tens of microseconds per statement; batches
	// carry dozens of transfers per statement.
	for k, v := range map[string]string{"jit": "off", "plan_cache_mode": "force_custom_plan"} {
		if _, set := cfg.ConnConfig.RuntimeParams[k]; !set {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgxdecimal.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// MaxAttempts bounds InTx's retries of serialization failures and deadlocks.
const MaxAttempts = 8

// InTx runs fn in a READ COMMITTED transaction and commits it, retrying the
// whole function on serialization failures and deadlocks with jittered
// backoff. fn may therefore run more than once and must have no effects
// outside the transaction. Only the outermost caller uses InTx; code that
// runs inside it uses pgx.BeginFunc, which becomes a savepoint.
//
// When ctx carries a unit of work (WithTx), fn runs inside it as a
// savepoint and is not retried here: the unit's owner commits and retries
// the whole command.
func InTx(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, fn func(pgx.Tx) error) error {
	if tx, ok := TxFrom(ctx); ok {
		return pgx.BeginFunc(ctx, tx, fn)
	}
	return Retry(ctx, func() error { return pgx.BeginFunc(ctx, db, fn) })
}

type unitKey struct{}

// WithTx returns a context whose InTx calls join tx. It is how the
// idempotency mechanism makes a command's claim, its domain writes and its
// stored response one transaction without every domain function taking a
// transaction parameter. The transaction travels only from that owner to
// InTx: domain code still passes its pgx.Tx explicitly below InTx.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, unitKey{}, tx)
}

// TxFrom returns the unit of work ctx carries, if any.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(unitKey{}).(pgx.Tx)
	return tx, ok
}

// Retry runs a whole transaction, fn, again on serialization failures and
// deadlocks, at most MaxAttempts times, with jittered exponential backoff.
func Retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !IsRetryable(err) || attempt >= MaxAttempts {
			return err
		}
		backoff := time.Duration(1<<min(attempt, 6)) * time.Millisecond
		backoff += time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// SQLSTATE codes this project reacts to.
const (
	SerializationFailure = "40001"
	DeadlockDetected     = "40P01"
	UniqueViolation      = "23505"
	ForeignKeyViolation  = "23503"
	CheckViolation       = "23514"
	RestrictViolation    = "23001"
)

// IsRetryable reports whether err is a transient conflict that a retry of
// the whole transaction resolves.
func IsRetryable(err error) bool {
	code := Code(err)
	return code == SerializationFailure || code == DeadlockDetected
}

// Code returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func Code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Constraint returns the violated constraint's name, or "".
func Constraint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

// IsUnavailable reports whether err means the database could not be
// reached or went away (connection refused or lost, server shutting down or
// starting up): a condition to report as 503 and retry, not a bug.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	code := Code(err)
	if strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" {
		return true
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(code == "" && strings.Contains(err.Error(), "conn closed"))
}

// UUIDs converts ids for pgx's binary uuid codec: google/uuid's
// driver.Valuer goes through strings (and a failed plan) first, which costs
// on set-based writes of thousands of ids.
func UUIDs[T ~[16]byte](ids []T) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// NullableUUIDs is UUIDs for optional ids: nil ones become NULL.
func NullableUUIDs[T ~[16]byte](ids []*T) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		if id != nil {
			out[i] = pgtype.UUID{Bytes: *id, Valid: true}
		}
	}
	return out
}

// Abandon ends whatever transaction a failed pipeline left open on conn
// before it goes back to the pool; if even ROLLBACK fails, the connection is
// closed, and the pool replaces it.
func Abandon(ctx context.Context, conn *pgxpool.Conn) {
	if _, err := conn.Exec(ctx, `ROLLBACK`); err != nil {
		conn.Conn().Close(ctx) //nolint:errcheck
	}
}
