package pg

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Replica is a streaming replica that reads may use, with how far it is
// behind its primary, measured every second (Watch). A replica that has
// replayed all it received is current whatever the time of the last
// transaction it replayed (an idle primary sends nothing new); one that
// has not is as far behind as that transaction is old.
type Replica struct {
	Pool *pgxpool.Pool
	// MaxLag is the most a read may be behind; beyond it the reads go to
	// the primary, or are refused.
	MaxLag time.Duration
	lag    atomic.Int64 // nanoseconds; -1 until measured or when unreachable
}

// NewReplica watches nothing yet: call Watch.
func NewReplica(pool *pgxpool.Pool, maxLag time.Duration) *Replica {
	r := &Replica{Pool: pool, MaxLag: maxLag}
	r.lag.Store(-1)
	return r
}

// caughtUp is true on a replica that has replayed all it received (or has
// replayed no transaction yet): it is then current, however old its last
// replayed transaction.
const caughtUp = `(pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() OR pg_last_xact_replay_timestamp() IS NULL)`

// lagSQL is how far the replica is behind, in seconds.
const lagSQL = `SELECT CASE WHEN ` + caughtUp + ` THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END`

// Snapshot begins a read-only REPEATABLE READ transaction on the replica
// and says the instant its data is complete to: the snapshot's start when
// the replica had replayed all it received, else its last replayed
// transaction's time.
func (r *Replica) Snapshot(ctx context.Context) (pgx.Tx, time.Time, error) {
	tx, err := r.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, time.Time{}, err
	}
	var completeTo time.Time
	if err := tx.QueryRow(ctx, `SELECT CASE WHEN `+caughtUp+` THEN now() ELSE pg_last_xact_replay_timestamp() END`).Scan(&completeTo); err != nil {
		tx.Rollback(ctx) //nolint:errcheck // read-only
		return nil, time.Time{}, err
	}
	return tx, completeTo, nil
}

// Watch measures the lag every interval until ctx ends.
func (r *Replica) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.measure(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Replica) measure(ctx context.Context) {
	var secs float64
	mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.Pool.QueryRow(mctx, lagSQL).Scan(&secs); err != nil {
		r.lag.Store(-1)
		return
	}
	r.lag.Store(int64(max(secs, 0) * float64(time.Second)))
}

// Lag is the last measured lag; ok is false when the replica could not be
// measured (unreachable).
func (r *Replica) Lag() (lag time.Duration, ok bool) {
	n := r.lag.Load()
	return time.Duration(n), n >= 0
}

// Usable reports whether reads may go to the replica now.
func (r *Replica) Usable() bool {
	lag, ok := r.Lag()
	return ok && lag <= r.MaxLag
}
