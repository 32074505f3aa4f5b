package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pipeline is one transaction sent as a few round trips of queued
// statements. Its owner, Transact or InSavepoint, begins it with the first
// round trip and commits it with the last; the code it runs only queues
// statements (with callbacks for their results, pgx's QueuedQuery) and
// flushes when it needs results to go on. Who begins, who commits and who
// retries is decided here, once, not by flags passed down a call chain.
type Pipeline struct {
	q     batchSender
	b     *pgx.Batch
	begin string // sent ahead of the first flush; "" once sent (or for a savepoint)
}

type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Batch is where statements are queued for the next round trip.
func (p *Pipeline) Batch() *pgx.Batch { return p.b }

// Flush sends what is queued (with BEGIN, the first time) and runs the
// queued statements' callbacks; an error fails the transaction.
func (p *Pipeline) Flush(ctx context.Context) error {
	b := p.b
	p.b = &pgx.Batch{}
	if p.begin != "" {
		withBegin := &pgx.Batch{}
		withBegin.Queue(p.begin)
		withBegin.QueuedQueries = append(withBegin.QueuedQueries, b.QueuedQueries...)
		b, p.begin = withBegin, ""
	}
	if b.Len() == 0 {
		return nil
	}
	return p.q.SendBatch(ctx, b).Close()
}

// Transact runs fn as one READ COMMITTED transaction on a connection of its
// own: what fn leaves queued goes with COMMIT in the last round trip, so a
// transaction that reads once and writes once costs two. Serialization
// failures and deadlocks run fn again (at most MaxAttempts times, with
// backoff), so fn must reset whatever outcome it records; any other error
// rolls back (or drops the connection when even that fails).
//
// Inside a unit of work (WithTx) it runs as a savepoint of the unit instead,
// as InTx does: the unit's owner commits and retries.
func Transact(ctx context.Context, pool *pgxpool.Pool, fn func(ctx context.Context, p *Pipeline) error) error {
	if tx, ok := TxFrom(ctx); ok {
		return InSavepoint(ctx, tx, fn)
	}
	return Retry(ctx, func() error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("acquire connection: %w", err)
		}
		defer conn.Release()
		p := &Pipeline{q: conn, b: &pgx.Batch{}, begin: `BEGIN ISOLATION LEVEL READ COMMITTED`}
		if err := fn(ctx, p); err != nil {
			Abandon(ctx, conn)
			return err
		}
		p.b.Queue(`COMMIT`)
		if err := p.Flush(ctx); err != nil {
			Abandon(ctx, conn)
			return err
		}
		return nil
	})
}

// InSavepoint runs fn inside the caller's transaction, as a savepoint that
// is released after fn's last statements are sent: the caller's
// transaction goes on, and the caller commits or retries it.
func InSavepoint(ctx context.Context, tx pgx.Tx, fn func(ctx context.Context, p *Pipeline) error) error {
	return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		p := &Pipeline{q: sp, b: &pgx.Batch{}}
		if err := fn(ctx, p); err != nil {
			return err
		}
		return p.Flush(ctx)
	})
}
