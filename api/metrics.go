package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/ledger"
)

// Metrics are the service's Prometheus metrics; docs/operations.md lists
// each with the alert an operator would set on it.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	entries   prometheus.Counter
	transfers *prometheus.CounterVec
	// idempotentReplays counts retries answered from the idempotency store.
	idempotentReplays prometheus.Counter
	refusals          *prometheus.CounterVec
	batchSize         *prometheus.HistogramVec
	batchWait         *prometheus.HistogramVec
	scheduled         *prometheus.CounterVec
	closeRetries      prometheus.Counter
	expired           prometheus.Counter
	jobFailures       *prometheus.CounterVec
	reads             *prometheus.CounterVec // replica-eligible reads by the pool that served them
	handler           http.Handler

	mu           sync.Mutex
	failedCloses map[uuid.UUID]bool // closes that failed, to count their retries
	reg          *prometheus.Registry
}

// BuildInfo labels crowdledger_build_info (serve sets it from the binary).
var BuildInfo = map[string]string{"version": "(devel)", "revision": "unknown", "goversion": "unknown"}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdledger_replica_eligible_reads_total", Help: "Reads a replica may serve (reports, exports, lists), by the pool that served them.",
		}, []string{"pool"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdledger_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crowdledger_http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowdledger_ledger_entries_committed_total", Help: "Ledger entries (requests) committed.",
		}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdledger_ledger_transfers_committed_total", Help: "Ledger transfers committed, by kind (posted, pending, post_pending, void_pending).",
		}, []string{"kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdledger_compliance_refusals_total", Help: "Commitments and checks refused by compliance, by the rule that refused them.",
		}, []string{"rule"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crowdledger_group_commit_batch_size", Help: "Requests per group-commit transaction, by writer (ledger, commitments).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}, []string{"writer"}),
		batchWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crowdledger_group_commit_wait_seconds", Help: "How long the oldest request of a group-commit batch waited in the queue, by writer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"writer"}),
		scheduled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdledger_scheduler_campaigns_total", Help: "Campaigns the scheduler opened, settled, refunded, or failed to open or close.",
		}, []string{"outcome"}),
		closeRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowdledger_scheduler_close_retries_total", Help: "Campaign opens or closes attempted again after a failure.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowdledger_pending_expired_total", Help: "Pending transfers voided by the expiry sweep.",
		}),
		jobFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crowdledger_background_failures_total", Help: "Rounds of a background job that failed, by job (pending_sweep, idempotency_purge, audit_chainer, scheduler, webhook_dispatch, alerts).",
		}, []string{"job"}),
		failedCloses: map[uuid.UUID]bool{},
		reg:          reg,
		idempotentReplays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowdledger_idempotent_replays_total", Help: "Mutating requests answered with a stored response (a retry with the same Idempotency-Key).",
		}),
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crowdledger_build_info",
		Help: "Always 1; the labels say which build runs.", ConstLabels: BuildInfo}, func() float64 { return 1 }))
	reg.MustRegister(m.reads, m.requests, m.latency, m.entries, m.transfers, m.idempotentReplays, m.refusals, m.batchSize, m.batchWait,
		m.scheduled, m.closeRetries, m.expired, m.jobFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// LedgerCommitted is the ledger's OnCommit hook.
func (m *Metrics) LedgerCommitted(entries int, transfers map[ledger.Kind]int) {
	m.entries.Add(float64(entries))
	for k, n := range transfers {
		m.transfers.WithLabelValues(string(k)).Add(float64(n))
	}
}

// Batch is a group-commit writer's OnBatch hook.
func (m *Metrics) Batch(writer string) func(size int, waited time.Duration) {
	size, wait := m.batchSize.WithLabelValues(writer), m.batchWait.WithLabelValues(writer)
	return func(n int, waited time.Duration) {
		size.Observe(float64(n))
		wait.Observe(waited.Seconds())
	}
}

// SchedulerRound counts what a scheduler round did, and the campaigns it
// tried again after a failure.
func (m *Metrics) SchedulerRound(rep campaign.TickReport) {
	m.scheduled.WithLabelValues("opened").Add(float64(len(rep.Opened)))
	m.scheduled.WithLabelValues("settled").Add(float64(len(rep.Settled)))
	m.scheduled.WithLabelValues("refunded").Add(float64(len(rep.Refunded)))
	m.scheduled.WithLabelValues("failed").Add(float64(len(rep.Failed)))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ids := range [][]uuid.UUID{rep.Opened, rep.Settled, rep.Refunded} {
		for _, id := range ids {
			if m.failedCloses[id] {
				m.closeRetries.Inc()
				delete(m.failedCloses, id)
			}
		}
	}
	for id := range rep.Failed {
		if m.failedCloses[id] {
			m.closeRetries.Inc()
		}
		m.failedCloses[id] = true
	}
}

// PendingExpired counts pending transfers the sweep voided.
func (m *Metrics) PendingExpired(n int) { m.expired.Add(float64(n)) }

// JobFailed counts a failed round of a background job.
func (m *Metrics) JobFailed(job string) { m.jobFailures.WithLabelValues(job).Inc() }

// RegisterAudit exports the audit chain's lag: events not yet chained, the
// age of the oldest of them, and the age of the newest signed checkpoint,
// read from the database when scraped.
func (m *Metrics) RegisterAudit(trail *audit.Trail) {
	m.reg.MustRegister(&auditCollector{trail: trail})
}

type auditCollector struct{ trail *audit.Trail }

var (
	auditUnchained  = prometheus.NewDesc("crowdledger_audit_unchained_events", "Audit events not yet linked into the hash chain.", nil, nil)
	auditLag        = prometheus.NewDesc("crowdledger_audit_chain_lag_seconds", "Age of the oldest audit event not yet chained (0 when none).", nil, nil)
	auditCheckpoint = prometheus.NewDesc("crowdledger_audit_checkpoint_age_seconds", "Age of the newest signed checkpoint.", nil, nil)
)

func (a *auditCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- auditUnchained
	ch <- auditLag
	ch <- auditCheckpoint
}

func (a *auditCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.trail.Lag(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(auditLag, err)
		return
	}
	now := time.Now()
	lag := 0.0
	if st.Unchained > 0 {
		lag = now.Sub(st.OldestUnchained).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(auditUnchained, prometheus.GaugeValue, float64(st.Unchained))
	ch <- prometheus.MustNewConstMetric(auditLag, prometheus.GaugeValue, lag)
	if !st.LastCheckpoint.IsZero() {
		ch <- prometheus.MustNewConstMetric(auditCheckpoint, prometheus.GaugeValue, now.Sub(st.LastCheckpoint).Seconds())
	}
}

// RegisterPool exports the connection pool's statistics.
func RegisterPool(reg *prometheus.Registry, pool *pgxpool.Pool) {
	reg.MustRegister(&poolCollector{pool: pool})
}

func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := strconv.Itoa(c.Response().Status)
		m.requests.WithLabelValues(c.Request().Method, route, status).Inc()
		m.latency.WithLabelValues(c.Request().Method, route, status).Observe(time.Since(start).Seconds())
		return nil
	}
}

type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolTotal    = prometheus.NewDesc("crowdledger_db_pool_connections", "Open database connections.", []string{"state"}, nil)
	poolMax      = prometheus.NewDesc("crowdledger_db_pool_max_connections", "Maximum database connections.", nil, nil)
	poolAcquires = prometheus.NewDesc("crowdledger_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWait     = prometheus.NewDesc("crowdledger_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
	poolEmpty    = prometheus.NewDesc("crowdledger_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
)

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolTotal
	ch <- poolMax
	ch <- poolAcquires
	ch <- poolWait
	ch <- poolEmpty
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(poolEmpty, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
}

// refused counts a compliance refusal by each rule that refused it.
func (m *Metrics) refused(err error) {
	var r *compliance.Refusal
	if errors.As(err, &r) {
		for _, reason := range r.Reasons {
			if !reason.Passed {
				m.refusals.WithLabelValues(reason.RuleID).Inc()
			}
		}
		return
	}
	var cap *campaign.CapError
	if errors.As(err, &cap) && errors.Is(err, compliance.ErrRefused) {
		m.refusals.WithLabelValues("investor-cap").Inc()
	}
}
