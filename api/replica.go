package api

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crowdledger/crowdledger/internal/pg"
)

// Reads a replica may serve: reports, statements, balances as of an
// instant, the audit export, the fund flows and timelines, the lists.
// Everything a decision about money reads (commitments, transfers,
// closes) and everything right after a caller's own write stays on the
// primary: a caller that wrote within the replica's lag bound reads from
// the primary (read-your-writes, per service process), and a replica
// further behind than the bound is not used (READ_LAG_POLICY: the primary,
// or 503 replica_behind). Every such answer says, in Complete-To, the
// instant its data is complete to, and in Read-From, where it was read.

// lastWrites remembers when each caller last wrote, for read-your-writes.
type lastWrites struct{ m sync.Map } // scope -> time.Time

func (w *lastWrites) wrote(scope string) { w.m.Store(scope, time.Now()) }

func (w *lastWrites) within(scope string, d time.Duration) bool {
	at, ok := w.m.Load(scope)
	return ok && time.Since(at.(time.Time)) <= d
}

// fromReplica serves next from the replica when it may (see above).
func (s *server) fromReplica(next echo.HandlerFunc) echo.HandlerFunc {
	return s.fromReplicaWhen(func(echo.Context) bool { return true }, next)
}

// fromReplicaWhen is fromReplica for the requests cond picks (a balance
// as of an instant, not the current balance a client acts on).
func (s *server) fromReplicaWhen(cond func(echo.Context) bool, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := s.Replica
		if r == nil || !cond(c) {
			return next(c)
		}
		primary := func() error {
			h := c.Response().Header()
			h.Set("Read-From", "primary")
			h.Set("Complete-To", time.Now().UTC().Format(time.RFC3339Nano))
			s.Metrics.reads.WithLabelValues("primary").Inc()
			return next(c)
		}
		if s.writes.within(keyScope(principal(c)), r.MaxLag) {
			return primary() // the caller's own write may not be there yet
		}
		if !r.Usable() {
			if s.ReplicaRefuse {
				lag, ok := r.Lag()
				detail := "the read replica cannot be reached"
				if ok {
					detail = fmt.Sprintf("the read replica is %s behind, more than the %s this service accepts", lag.Round(time.Millisecond), r.MaxLag)
				}
				return problem(http.StatusServiceUnavailable, "replica_behind", "", detail+"; retry shortly")
			}
			return primary()
		}
		ctx := c.Request().Context()
		tx, completeTo, err := r.Snapshot(ctx)
		if err != nil {
			return primary()
		}
		defer tx.Rollback(ctx) //nolint:errcheck // read-only
		h := c.Response().Header()
		h.Set("Read-From", "replica")
		h.Set("Complete-To", completeTo.UTC().Format(time.RFC3339Nano))
		s.Metrics.reads.WithLabelValues("replica").Inc()
		c.SetRequest(c.Request().WithContext(pg.WithReadTx(ctx, tx)))
		return next(c)
	}
}

// RegisterReplica publishes the replica's measured lag.
func (m *Metrics) RegisterReplica(r *pg.Replica) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "crowdledger_replica_lag_seconds", Help: "How far the read replica is behind the primary (-1: it cannot be reached).",
	}, func() float64 {
		lag, ok := r.Lag()
		if !ok {
			return -1
		}
		return lag.Seconds()
	}))
}
