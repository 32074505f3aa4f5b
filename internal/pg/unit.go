package pg

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool is a connection pool that honours a unit of work: under a context
// from WithTx, every statement, batch and Begin goes to that transaction
// (Begin as a savepoint), so a command's reads see its own writes and all
// of them commit together; under any other context it is the pool. Domain
// stores hold a Pool rather than a *pgxpool.Pool for that reason. Acquire
// (the group-commit writers' dedicated connections) always uses the pool.
//
// Under a context from WithReadTx (a read-only snapshot on a replica), the
// reads (Query, QueryRow, Begin, BeginTx) go to that snapshot and the writes
// (Exec, SendBatch: the audit record of a report, say) to the pool, the
// primary: a read route can move to a replica without its domain code
// knowing, and cannot write there.
type Pool struct{ *pgxpool.Pool }

// Units wraps p.
func Units(p *pgxpool.Pool) Pool { return Pool{p} }

// Exec runs sql in ctx's unit of work, or on the pool.
func (p Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if tx, ok := TxFrom(ctx); ok {
		return tx.Exec(ctx, sql, args...)
	}
	return p.Pool.Exec(ctx, sql, args...)
}

// Query runs sql in ctx's unit of work or read snapshot, or on the pool.
func (p Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if tx, ok := readsFrom(ctx); ok {
		return tx.Query(ctx, sql, args...)
	}
	return p.Pool.Query(ctx, sql, args...)
}

// QueryRow runs sql in ctx's unit of work or read snapshot, or on the pool.
func (p Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if tx, ok := readsFrom(ctx); ok {
		return tx.QueryRow(ctx, sql, args...)
	}
	return p.Pool.QueryRow(ctx, sql, args...)
}

// SendBatch sends b in ctx's unit of work, or on the pool.
func (p Pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if tx, ok := TxFrom(ctx); ok {
		return tx.SendBatch(ctx, b)
	}
	return p.Pool.SendBatch(ctx, b)
}

// Begin starts a savepoint in ctx's unit of work or read snapshot, or a
// transaction.
func (p Pool) Begin(ctx context.Context) (pgx.Tx, error) {
	if tx, ok := readsFrom(ctx); ok {
		return tx.Begin(ctx)
	}
	return p.Pool.Begin(ctx)
}

// BeginTx is Begin with options; inside a unit of work the unit's own
// isolation stands (a savepoint cannot change it), which for this service's
// read-only snapshots means the command reads what it has written.
func (p Pool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if tx, ok := readsFrom(ctx); ok {
		return tx.Begin(ctx)
	}
	return p.Pool.BeginTx(ctx, opts)
}

type readKey struct{}

// WithReadTx returns a context whose reads through a Pool go to tx, a
// read-only snapshot (on a replica); its writes still go to the pool.
func WithReadTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, readKey{}, tx)
}

// readsFrom is where ctx's reads go: its unit of work, else its read
// snapshot.
func readsFrom(ctx context.Context) (pgx.Tx, bool) {
	if tx, ok := TxFrom(ctx); ok {
		return tx, true
	}
	tx, ok := ctx.Value(readKey{}).(pgx.Tx)
	return tx, ok
}
