package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on DEBUG_ADDR
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/crowdledger/crowdledger/api"
	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/migrations"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/report"
	"github.com/crowdledger/crowdledger/supervision"
	"github.com/crowdledger/crowdledger/webhook"
)

// newLogger writes JSON lines to out (standard output, as container
// platforms expect).
func newLogger(cfg config, out io.Writer) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "time"
	ec.EncodeTime = func(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
		enc.AppendString(t.UTC().Format(time.RFC3339Nano))
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(ec), zapcore.Lock(zapcore.AddSync(out)), zap.NewAtomicLevelAt(cfg.LogLevel))
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel))
}

// serve runs the HTTP service until ctx ends (SIGTERM or SIGINT), then shuts
// down in order: stop accepting and finish in-flight requests, let the
// ledger's writers drain, close the pool.
func serve(ctx context.Context, cfg config, logOut io.Writer) error {
	// Every setting is checked before the first log line: a process that
	// cannot serve says so once, and says nothing about listening.
	if cfg.AuditSigningKey == "" {
		return errors.New("AUDIT_SIGNING_KEY (or AUDIT_SIGNING_KEY_FILE) is required: `crowdledger audit keygen` makes one")
	}
	signer, err := audit.ParseSigner(cfg.AuditSigningKey)
	if err != nil {
		return err
	}
	keys, err := pii.ParseKeyring(cfg.PIIKeys, cfg.PIILookupKey)
	if err != nil {
		return fmt.Errorf("%w (set PII_KEYS and PII_LOOKUP_KEY, or PII_KEYS_FILE; `crowdledger keys pii` makes them)", err)
	}
	log := newLogger(cfg, logOut)
	defer log.Sync() //nolint:errcheck
	log.Info("starting", cfg.fields()...)
	gcPercent, memLimit := tuneGC()
	log.Info("garbage collector", zap.Int("gogc", gcPercent), zap.Int64("memory_limit_bytes", memLimit))

	poolOpts, stopTracing, err := startTracing(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { // after the pool and the writers: their last spans go too
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("flush traces", zap.Error(err))
		}
	}()
	pool, err := pg.Connect(ctx, cfg.DatabaseURL, cfg.DBMaxConns, poolOpts...)
	if err != nil {
		return err
	}
	defer pool.Close()
	if v, err := migrations.Current(ctx, pool); err != nil {
		return fmt.Errorf("read schema version (is the database up?): %w", err)
	} else if v != migrations.Latest() {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `crowdledger migrate`", v, migrations.Latest())
	}
	if warning, err := overPrivileged(ctx, pool); err != nil {
		return err
	} else if warning != "" {
		log.Warn(warning)
	}

	trail := audit.NewTrail(pool, signer, cfg.RetiredAuditKeys...)
	trail.CheckpointEvery = cfg.CheckpointEvery

	v, r, g := buildInfo()
	api.BuildInfo = map[string]string{"version": v, "revision": r, "goversion": g}
	promReg := prometheus.NewRegistry()
	metrics := api.NewMetrics(promReg)
	api.RegisterPool(promReg, pool)
	metrics.RegisterAudit(trail)
	supervisor := supervision.New(pool)
	lg := ledger.New(pool, ledger.Options{Writers: cfg.LedgerWriters, MaxBatch: cfg.LedgerMaxBatch, OnCommit: metrics.LedgerCommitted,
		OnBatch: metrics.Batch("ledger"), Freezes: supervisor})
	reg := registry.New(pool, keys)
	keyStore := auth.NewStore(pool)
	keyStore.CacheTTL = cfg.AuthCacheTTL
	campaigns := campaign.New(pool, lg, reg)
	campaigns.OnBatch = metrics.Batch("commitments")
	campaigns.PlatformCoolingOff = cfg.PlatformCoolingOff
	campaigns.StartBatching(cfg.LedgerMaxBatch)
	keysStore := idempotency.New(pool, keys)
	// A ring that cannot open what is stored stops the service here, with
	// the reason, rather than as 500s on every read later.
	if err := reg.CheckKeys(ctx); err != nil {
		return err
	}
	if err := keysStore.CheckKeys(ctx); err != nil {
		return err
	}
	hooks, err := webhook.New(pool, trail, keys, func(ctx context.Context, o webhook.Owner) (audit.FeedScope, error) {
		return api.FeedScopeOf(ctx, campaigns, o)
	}, webhook.Options{Workers: cfg.WebhookWorkers, Timeout: cfg.WebhookTimeout,
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	// River's own context: cancelling it would stop deliveries at once;
	// Stop (below) lets running ones finish first.
	if err := hooks.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("webhook deliveries: %w", err)
	}
	var replica *pg.Replica
	if cfg.ReadDatabaseURL != "" {
		readPool, err := pg.Connect(ctx, cfg.ReadDatabaseURL, cfg.DBMaxConns, poolOpts...)
		if err != nil {
			return fmt.Errorf("READ_DATABASE_URL: %w", err)
		}
		defer readPool.Close()
		replica = pg.NewReplica(readPool, cfg.ReadMaxLag)
		go replica.Watch(ctx, time.Second)
		metrics.RegisterReplica(replica)
	}
	e, _ := api.New(api.Deps{Idempotency: keysStore, Webhooks: hooks, Replica: replica, ReplicaRefuse: cfg.ReadLagRefuse,
		ExportBytesPerSecond: int(cfg.ExportBytesPerSecond),
		RateLimit:            api.RateLimit{RPS: float64(cfg.RateRPS), Burst: int(cfg.RateBurst)},
		AnonRateLimit:        api.RateLimit{RPS: float64(cfg.AnonRPS), Burst: int(cfg.AnonBurst)},
		Ledger:               lg, Audit: trail, Registry: reg, Campaigns: campaigns, Reports: report.New(pool, lg, reg), Supervision: supervisor, Pool: pool, Keys: keyStore, KeyStore: keyStore, Log: log, Metrics: metrics, MaxBodyBytes: cfg.MaxBodyBytes, ExportTimeout: cfg.ExportTimeout, Tracing: cfg.TracesEndpoint != "", RedListExpedite: cfg.RedListExpedite,
		Ready: func(ctx context.Context) error {
			v, err := migrations.Current(ctx, pool)
			if err != nil {
				return err
			}
			if v != migrations.Latest() {
				return fmt.Errorf("schema version %d, want %d", v, migrations.Latest())
			}
			return nil
		},
	})
	srv := &http.Server{Addr: cfg.ListenAddr, Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}

	// Background work every process runs; each round is safe to run in
	// several processes at once (see the functions' comments).
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Go(func() {
		repeat(bgCtx, cfg.SweepInterval, func(ctx context.Context) { sweepPending(ctx, lg, log, metrics) })
	})
	bg.Go(func() {
		repeat(bgCtx, cfg.SweepInterval, func(ctx context.Context) { runScheduler(ctx, campaigns, log, metrics) })
	})
	bg.Go(func() {
		repeat(bgCtx, cfg.ChainInterval, func(ctx context.Context) { linkAudit(ctx, trail, log, metrics) })
	})
	bg.Go(func() {
		repeat(bgCtx, cfg.ChainInterval, func(ctx context.Context) { dispatchWebhooks(ctx, hooks, log, metrics) })
	})
	bg.Go(func() {
		repeat(bgCtx, alertInterval, func(ctx context.Context) { raiseAlerts(ctx, supervisor, log, metrics) })
	})
	bg.Go(func() {
		repeat(bgCtx, time.Hour, func(ctx context.Context) {
			purgeIdempotencyKeys(ctx, keysStore, cfg.IdempotencyRetention, log, metrics)
		})
	})
	stopBackgroundWork := func() {
		stopBackground()
		bg.Wait()
		stopCtx, cancel := context.WithTimeout(context.Background(), cfg.WebhookTimeout)
		if err := hooks.Stop(stopCtx); err != nil {
			log.Warn("stop webhook deliveries", zap.Error(err))
		}
		cancel()
		campaigns.StopBatching()
		lg.Close()
	}

	if addr := getenvDebug(); addr != "" {
		// Profiling for operators, on a separate (loopback) address only when asked for.
		go func() { _ = http.ListenAndServe(addr, http.DefaultServeMux) }() //nolint:gosec
	}
	// Bind first, then say so: a bind that fails is an error, not a
	// "listening" line followed by one.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		stopBackgroundWork()
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopBackgroundWork()
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Error("shutdown", zap.Error(err))
	}
	stopBackgroundWork()
	// Link what the last requests wrote, so a clean stop leaves the chain complete.
	if _, err := trail.Link(context.Background()); err != nil {
		log.Warn("final audit chain round", zap.Error(err))
	}
	log.Info("stopped")
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// repeat runs fn every interval until ctx ends.
func repeat(ctx context.Context, every time.Duration, fn func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn(ctx)
	}
}

// sweepPending voids pending transfers whose timeout has passed. Every
// process runs it; derived idempotency keys make concurrent sweeps safe.
func sweepPending(ctx context.Context, lg *ledger.Ledger, log *zap.Logger, m *api.Metrics) {
	n, err := lg.ExpirePending(ctx, 500)
	m.PendingExpired(n)
	if err != nil && ctx.Err() == nil {
		m.JobFailed("pending_sweep")
		log.Warn("expire pending transfers", zap.Error(err))
	} else if n > 0 {
		log.Info("expired pending transfers", zap.Int("voided", n))
	}
}

// purgeIdempotencyKeys deletes keys past their retention. Every process runs
// it; SKIP LOCKED lets concurrent purges share the work.
func purgeIdempotencyKeys(ctx context.Context, s *idempotency.Store, keep time.Duration, log *zap.Logger, m *api.Metrics) {
	n, err := s.Purge(ctx, keep, time.Now())
	if err != nil && ctx.Err() == nil {
		m.JobFailed("idempotency_purge")
		log.Warn("purge idempotency keys", zap.Error(err))
	} else if n > 0 {
		log.Info("purged idempotency keys", zap.Int64("deleted", n), zap.Duration("retention", keep))
	}
}

// dispatchWebhooks enqueues the deliveries of newly chained events. Every
// process runs it; the cursor row, taken with SKIP LOCKED, lets one
// dispatch at a time.
func dispatchWebhooks(ctx context.Context, hooks *webhook.Service, log *zap.Logger, m *api.Metrics) {
	if _, err := hooks.Dispatch(ctx); err != nil && ctx.Err() == nil {
		m.JobFailed("webhook_dispatch")
		log.Warn("webhook dispatch", zap.Error(err))
	}
}

// alertInterval is how often the alerts are computed to raise the new ones
// as events: their queries scan the commitments, and a supervisor reading
// the feed wants a new alert within a minute, not a second.
const alertInterval = time.Minute

// raiseAlerts raises each alert not raised before as an alert.raised event
// (a complaint's acknowledgement overdue, a late delivery, ...). Every
// process runs it; each alert is raised once (its key in alerts_raised).
func raiseAlerts(ctx context.Context, sup *supervision.Service, log *zap.Logger, m *api.Metrics) {
	n, err := sup.RaiseAlerts(ctx, supervision.DefaultAlertSettings)
	if err != nil && ctx.Err() == nil {
		m.JobFailed("alerts")
		log.Warn("raise alerts", zap.Error(err))
	} else if n > 0 {
		log.Info("alerts raised", zap.Int("new", n))
	}
}

// linkAudit runs a round of the audit chainer. Every process runs it; an
// advisory lock lets one link at a time and the others skip their turn.
func linkAudit(ctx context.Context, trail *audit.Trail, log *zap.Logger, m *api.Metrics) {
	if _, err := trail.Link(ctx); err != nil && ctx.Err() == nil {
		m.JobFailed("audit_chainer")
		log.Warn("audit chainer", zap.Error(err))
	}
}

// runScheduler opens campaigns whose start has come, closes those past
// their deadline, and supervises reconfirmations and blacklists. Every
// process runs it; campaigns are claimed with SKIP LOCKED.
func runScheduler(ctx context.Context, s *campaign.Service, log *zap.Logger, metrics *api.Metrics) {
	rep, err := s.Tick(ctx)
	if err != nil && ctx.Err() == nil {
		metrics.JobFailed("scheduler")
		log.Warn("campaign scheduler round failed", zap.Error(err))
	}
	for _, id := range rep.Opened {
		log.Info("campaign opened", zap.String("campaign_id", id.String()))
	}
	for _, id := range rep.Settled {
		log.Info("campaign closed", zap.String("campaign_id", id.String()), zap.String("outcome", "settled"))
	}
	for _, id := range rep.Refunded {
		log.Info("campaign closed", zap.String("campaign_id", id.String()), zap.String("outcome", "refunded"))
	}
	for id, err := range rep.Failed {
		log.Error("campaign close failed", zap.String("campaign_id", id.String()), zap.Error(err))
	}
	metrics.SchedulerRound(rep)
}

// getenvDebug is the DEBUG_ADDR for pprof ("" disables it).
func getenvDebug() string { return os.Getenv("DEBUG_ADDR") }

// overPrivileged says why the database user serve runs as has more power
// than the service needs ("" when it has not): a superuser or a table owner
// can drop the triggers that keep the ledger and the audit trail
// append-only. `crowdledger migrate` grants crowdledger_app just enough.
func overPrivileged(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (string, error) {
	var (
		user        string
		super, owns bool
	)
	err := db.QueryRow(ctx, `SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
		EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user)`).Scan(&user, &super, &owns)
	switch {
	case err != nil:
		return "", fmt.Errorf("read the database user's privileges: %w", err)
	case super:
		return fmt.Sprintf("serve runs as %s, a superuser: it could drop the append-only triggers; connect as the role migrate grants (%s)", user, migrations.DefaultServiceRole), nil
	case owns:
		return fmt.Sprintf("serve runs as %s, which owns the tables: it could drop the append-only triggers; connect as the role migrate grants (%s)", user, migrations.DefaultServiceRole), nil
	}
	return "", nil
}
