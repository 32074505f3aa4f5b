package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's Prometheus metrics.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	entries   prometheus.Counter
	transfers prometheus.Counter
	// idempotentReplays counts retries answered from the idempotency store.
	idempotentReplays prometheus.Counter
	handler           http.Handler
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
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
		transfers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowdledger_ledger_transfers_posted_total", Help: "Ledger transfers committed.",
		}),
		idempotentReplays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crowdledger_idempotent_replays_total", Help: "Mutating requests answered with a stored response (a retry with the same Idempotency-Key).",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.entries, m.transfers, m.idempotentReplays,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// LedgerCommitted is the ledger's OnCommit hook.
func (m *Metrics) LedgerCommitted(entries, transfers int) {
	m.entries.Add(float64(entries))
	m.transfers.Add(float64(transfers))
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
