// Package api is crowdledger's HTTP interface: echo v4 in, JSON out. It holds
// no SQL and no business rules; handlers decode, call the domain packages
// and encode, and one table maps domain errors to RFC 9457 problems.
package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/console"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/report"
	"github.com/crowdledger/crowdledger/supervision"
	"github.com/crowdledger/crowdledger/webhook"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openAPIDoc }

// Authenticator resolves bearer tokens (auth.Store in production).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Principal, error)
	// Known reports, without a query, whether the token was recently
	// authenticated here (a request with it then skips the address limit).
	Known(token string) bool
}

// Deps are what the API needs from the rest of the service.
type Deps struct {
	Ledger      *ledger.Ledger
	Audit       *audit.Trail
	Registry    *registry.Registry
	Campaigns   *campaign.Service
	Reports     *report.Reporter
	Supervision *supervision.Service
	Webhooks    *webhook.Service // nil: no webhook routes (503)
	Pool        *pgxpool.Pool    // for appending audit events of reads
	// Replica, when set, serves the reads fromReplica marks, within its lag
	// bound; ReplicaRefuse answers 503 beyond it instead of reading the
	// primary.
	Replica       *pg.Replica
	ReplicaRefuse bool
	// ExportBytesPerSecond, when positive, paces every streamed export of
	// the process together (0: as fast as it goes).
	ExportBytesPerSecond int
	Idempotency          *idempotency.Store
	Keys                 Authenticator
	KeyStore             *auth.Store // issues keys over the API; nil disables POST /v1/keys
	Log                  *zap.Logger
	Metrics              *Metrics
	Ready                func(ctx context.Context) error // nil: always ready
	MaxBodyBytes         int64
	RateLimit            RateLimit // per key; zero RPS: unlimited
	// AnonRateLimit is the budget per client address for what carries no
	// valid key: public routes and failed authentications (each of which
	// costs a database query). Zero RPS: unlimited.
	AnonRateLimit RateLimit
	// RedListExpedite is the red list's reward (守信激励): staff see a
	// red-listed issuer's submitted campaign marked for expedited review.
	RedListExpedite bool
	// Tracing puts a span around every request (OpenTelemetry's global
	// provider, which serve sets when an exporter is configured).
	Tracing bool
	// ExportTimeout is how long one streamed export may take to write,
	// in place of the HTTP server's WriteTimeout (zero: 10 minutes).
	ExportTimeout time.Duration
}

type server struct {
	Deps
	log    *zap.Logger
	routes []Route
	limits *limiters[uuid.UUID]
	anon   *limiters[string]
	// unitSlots bounds the commands running in their own unit of work: each
	// holds a connection for its whole run and may need a second for a read
	// outside it, so at most half the pool is held that way and the rest
	// always serves those reads.
	unitSlots chan struct{}
	writes    lastWrites // when each caller last wrote: its reads stay on the primary a while
	// exportPace is the exports' shared byte budget (nil: unpaced).
	exportPace *rate.Limiter
}

// Route is a declared route and the roles that may call it.
type Route struct {
	Method string
	Path   string
	Roles  []auth.Role
}

// New builds the echo instance with every route and middleware.
func New(d Deps) (*echo.Echo, []Route) {
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	slots := int32(4)
	if d.Pool != nil {
		slots = max(1, d.Pool.Config().MaxConns/2)
		if d.Idempotency == nil {
			panic("api: Deps.Idempotency is required with a Pool: it seals the stored answers")
		}
	}
	s := &server{Deps: d, log: d.Log, unitSlots: make(chan struct{}, slots)}
	s.limits, s.anon = newLimiters[uuid.UUID](d.RateLimit), newLimiters[string](d.AnonRateLimit)
	if d.ExportBytesPerSecond > 0 {
		s.exportPace = rate.NewLimiter(rate.Limit(d.ExportBytesPerSecond), max(64<<10, d.ExportBytesPerSecond/8))
	}
	e := echo.New()
	// The client's address is the connection's: a header such as
	// X-Forwarded-For is the client's to forge, and would let one client
	// spread its requests over any number of addresses.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator:        newRequestID,
		RequestIDHandler: func(c echo.Context, id string) { c.Set(ctxRequestID, id) },
	}))
	// A span per request, around everything else, so the log line can name
	// the trace and the statements below are its children. Only when
	// tracing is on: with OpenTelemetry's no-op provider the middleware
	// still builds every request's attributes: 7-10 µs of CPU each (BenchmarkOtelechoNoop).
	if d.Tracing {
		e.Use(otelecho.Middleware("crowdledger"))
	}
	e.Use(s.accessLog)
	e.Use(secureHeaders)
	e.Use(s.Metrics.middleware)
	e.Use(s.recoverPanic)

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.ready)
	e.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openAPIDoc) })
	// The console: static files that call the routes below with the
	// signed-in key; it decides nothing itself.
	e.GET("/console", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, console.Prefix) })
	e.GET(console.Prefix+"*", echo.WrapHandler(console.Handler()))
	if d.Metrics.handler != nil {
		e.GET("/metrics", echo.WrapHandler(d.Metrics.handler))
	}

	ops, reads := []auth.Role{auth.Operator}, []auth.Role{auth.Operator, auth.Regulator}
	s.route(e, http.MethodPost, "/v1/accounts", ops, s.createAccount)
	s.route(e, http.MethodGet, "/v1/accounts", reads, s.fromReplica(s.listAccounts))
	s.route(e, http.MethodGet, "/v1/accounts/:id", reads, s.getAccount)
	s.route(e, http.MethodPost, "/v1/accounts/:id/close", ops, s.closeAccount)
	s.route(e, http.MethodGet, "/v1/accounts/:id/balance", reads, s.fromReplicaWhen(asOf, s.getBalance))
	s.route(e, http.MethodGet, "/v1/accounts/:id/entries", reads, s.fromReplica(s.listEntries))
	s.route(e, http.MethodPost, "/v1/transfers", ops, s.createTransfer)
	s.route(e, http.MethodGet, "/v1/transfers", reads, s.fromReplica(s.listTransfers))
	s.route(e, http.MethodPost, "/v1/transfer-batches", ops, s.createBatch)
	s.route(e, http.MethodGet, "/v1/transfers/:id", reads, s.getTransfer)
	s.route(e, http.MethodPost, "/v1/transfers/:id/post", ops, s.postPending)
	s.route(e, http.MethodPost, "/v1/transfers/:id/void", ops, s.voidPending)
	s.route(e, http.MethodPost, "/v1/transfers/:id/reverse", ops, s.reverse)
	staff := []auth.Role{auth.Operator, auth.Compliance}
	s.route(e, http.MethodPost, "/v1/parties", staff, s.createParty)
	s.route(e, http.MethodGet, "/v1/parties", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.listParties))
	s.route(e, http.MethodGet, "/v1/parties/:id", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator, auth.Investor, auth.Issuer}, s.getParty)
	s.route(e, http.MethodGet, "/v1/parties/:id/identity", []auth.Role{auth.Compliance, auth.Regulator}, s.revealParty)
	s.route(e, http.MethodPost, "/v1/parties/:id/verification", []auth.Role{auth.Compliance}, s.verifyParty)
	s.route(e, http.MethodPost, "/v1/parties/:id/related-parties", []auth.Role{auth.Compliance, auth.Operator, auth.Issuer}, s.declareRelated)
	s.route(e, http.MethodPost, "/v1/parties/:id/qualification", []auth.Role{auth.Compliance, auth.Operator, auth.Investor}, s.qualify)
	s.route(e, http.MethodPost, "/v1/qualifications/:id/approve", []auth.Role{auth.Compliance}, s.approveQualification)
	s.route(e, http.MethodGet, "/v1/parties/:id/qualifications", []auth.Role{auth.Compliance, auth.Operator, auth.Regulator, auth.Investor}, s.listQualifications)
	s.route(e, http.MethodPost, "/v1/lists/entries", []auth.Role{auth.Regulator, auth.Compliance}, s.addListEntry)
	s.route(e, http.MethodPost, "/v1/lists/entries/:id/end", []auth.Role{auth.Regulator, auth.Compliance}, s.endListEntry)
	s.route(e, http.MethodGet, "/v1/lists/entries", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.listListEntries))
	s.route(e, http.MethodPost, "/v1/lists/imports", []auth.Role{auth.Regulator, auth.Compliance}, s.importListEntries)
	s.route(e, http.MethodGet, "/v1/lists/export", []auth.Role{auth.Regulator}, s.exportListEntries)
	s.route(e, http.MethodGet, "/v1/review-flags", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.listReviewFlags))
	s.route(e, http.MethodPost, "/v1/compliance/checks", staff, s.checkCommitment)
	s.route(e, http.MethodGet, "/v1/packs/:id/risk-disclosure", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator, auth.Investor, auth.Issuer}, s.riskDisclosure)

	everyone := []auth.Role{auth.Operator, auth.Compliance, auth.Regulator, auth.Investor, auth.Issuer}
	issuerSide := []auth.Role{auth.Issuer, auth.Operator}
	s.route(e, http.MethodPost, "/v1/campaigns", issuerSide, s.createCampaign)
	s.route(e, http.MethodGet, "/v1/campaigns", everyone, s.fromReplica(s.listCampaigns))
	s.route(e, http.MethodGet, "/v1/campaigns/:id/disclosures", everyone, s.fromReplica(s.listDisclosures))
	s.route(e, http.MethodGet, "/v1/campaigns/:id", everyone, s.getCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/submit", issuerSide, s.submitCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/approve", []auth.Role{auth.Compliance}, s.approveCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/reject", []auth.Role{auth.Compliance}, s.rejectCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/amend", issuerSide, s.amendCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/early-close", issuerSide, s.earlyCloseCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/close", []auth.Role{auth.Operator}, s.closeCampaign)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/commitments", []auth.Role{auth.Investor, auth.Operator}, s.commit)
	s.route(e, http.MethodGet, "/v1/campaigns/:id/cap-table", []auth.Role{auth.Issuer, auth.Operator, auth.Compliance, auth.Regulator}, s.capTable)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/distributions", issuerSide, s.distribute)
	s.route(e, http.MethodGet, "/v1/campaigns/:id/fund-flows", []auth.Role{auth.Issuer, auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.campaignFundFlows))
	s.route(e, http.MethodGet, "/v1/campaigns/:id/events", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator}, s.needAudit(s.fromReplica(s.campaignEvents)))
	s.route(e, http.MethodGet, "/v1/campaigns/:id/release", []auth.Role{auth.Issuer, auth.Operator, auth.Compliance, auth.Regulator}, s.campaignRelease)
	s.route(e, http.MethodPost, "/v1/campaigns/:id/disbursements", []auth.Role{auth.Operator}, s.requestDisbursement)
	s.route(e, http.MethodPost, "/v1/disbursements/:id/approve", []auth.Role{auth.Compliance}, s.approveDisbursement)
	s.route(e, http.MethodGet, "/v1/campaigns/:id/orders", []auth.Role{auth.Issuer, auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.listOrders))
	s.route(e, http.MethodGet, "/v1/commitments", []auth.Role{auth.Investor, auth.Issuer, auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.listCommitments))
	s.route(e, http.MethodGet, "/v1/orders", []auth.Role{auth.Investor, auth.Issuer, auth.Operator, auth.Compliance, auth.Regulator}, s.fromReplica(s.listOrders))
	s.route(e, http.MethodGet, "/v1/commitments/:id", []auth.Role{auth.Investor, auth.Operator, auth.Compliance, auth.Regulator}, s.getCommitment)
	s.route(e, http.MethodPost, "/v1/commitments/:id/cancel", []auth.Role{auth.Investor}, s.cancelCommitment)
	s.route(e, http.MethodPost, "/v1/commitments/:id/reconfirm", []auth.Role{auth.Investor}, s.reconfirmCommitment)
	s.route(e, http.MethodPost, "/v1/orders/:id/ship", issuerSide, s.shipOrder)
	s.route(e, http.MethodPost, "/v1/orders/:id/confirm", []auth.Role{auth.Investor}, s.confirmOrder)
	s.route(e, http.MethodPost, "/v1/orders/:id/late-refund", []auth.Role{auth.Investor}, s.lateRefund)
	s.route(e, http.MethodPost, "/v1/orders/:id/dispute", []auth.Role{auth.Investor}, s.disputeOrder)
	s.route(e, http.MethodPost, "/v1/orders/:id/refund", []auth.Role{auth.Compliance, auth.Operator}, s.refundOrder)
	s.route(e, http.MethodPost, "/v1/parties/:id/deposits", []auth.Role{auth.Operator}, s.deposit)
	s.route(e, http.MethodPost, "/v1/parties/:id/withdrawals", []auth.Role{auth.Operator}, s.withdraw)
	s.route(e, http.MethodGet, "/v1/parties/:id/wallet", []auth.Role{auth.Investor, auth.Issuer, auth.Operator, auth.Regulator}, s.getWallet)

	s.route(e, http.MethodGet, "/v1/me", everyone, s.me)
	s.route(e, http.MethodPost, "/v1/keys", []auth.Role{auth.Operator, auth.Compliance}, s.createKey)
	s.route(e, http.MethodGet, "/v1/keys", []auth.Role{auth.Operator, auth.Compliance}, s.listKeys)
	s.route(e, http.MethodGet, "/v1/key-grants", []auth.Role{auth.Compliance}, s.listKeyGrants)
	s.route(e, http.MethodPost, "/v1/key-grants/:id/approve", []auth.Role{auth.Compliance}, s.approveKeyGrant)
	regs := []auth.Role{auth.Regulator}
	s.route(e, http.MethodGet, "/v1/reports/accounts/:id/statement", regs, s.fromReplica(s.statementReport))
	s.route(e, http.MethodGet, "/v1/reports/campaigns/:id", regs, s.fromReplica(s.campaignReport))
	s.route(e, http.MethodGet, "/v1/reports/investors/:id", regs, s.fromReplica(s.investorReport))
	s.route(e, http.MethodGet, "/v1/reports/platform", regs, s.fromReplica(s.platformReport))
	s.route(e, http.MethodGet, "/v1/reports/payouts/:id/provenance", regs, s.fromReplica(s.provenanceReport))
	s.route(e, http.MethodPost, "/v1/freezes", regs, s.freeze)
	s.route(e, http.MethodPost, "/v1/freezes/:id/lift", regs, s.liftFreeze)
	s.route(e, http.MethodGet, "/v1/freezes", []auth.Role{auth.Regulator, auth.Compliance, auth.Operator}, s.fromReplica(s.listFreezes))
	s.route(e, http.MethodPost, "/v1/spot-checks", regs, s.commitSpotCheck)
	s.route(e, http.MethodGet, "/v1/spot-checks", regs, s.fromReplica(s.listSpotChecks))
	s.route(e, http.MethodPost, "/v1/spot-checks/:id/draw", regs, s.drawSpotCheck)
	s.route(e, http.MethodPost, "/v1/spot-checks/:id/publish", regs, s.publishSpotCheck)
	e.GET("/v1/public/spot-checks/:id", s.publicSpotCheck, s.anonLimit)
	e.GET("/v1/public/spot-checks", s.listPublicSpotChecks, s.anonLimit)
	s.route(e, http.MethodPost, "/v1/complaints", []auth.Role{auth.Investor, auth.Operator, auth.Compliance}, s.fileComplaint)
	s.route(e, http.MethodPost, "/v1/complaints/:id/transition", []auth.Role{auth.Compliance, auth.Operator}, s.moveComplaint)
	s.route(e, http.MethodGet, "/v1/complaints", []auth.Role{auth.Regulator, auth.Compliance, auth.Operator, auth.Investor}, s.fromReplica(s.listComplaints))
	s.route(e, http.MethodGet, "/v1/alerts", regs, s.listAlerts)
	s.route(e, http.MethodPost, "/v1/reconciliations", []auth.Role{auth.Operator, auth.Regulator}, s.reconcile)

	e.GET("/v1/audit/public-keys", s.publicKeys, s.needAudit, s.anonLimit)
	s.route(e, http.MethodGet, "/v1/events", []auth.Role{auth.Operator, auth.Compliance, auth.Regulator, auth.Investor, auth.Issuer}, s.needAudit(s.listEvents))
	everyRole := []auth.Role{auth.Operator, auth.Compliance, auth.Regulator, auth.Investor, auth.Issuer}
	s.route(e, http.MethodPost, "/v1/webhooks", everyRole, s.needWebhooks(s.createWebhook))
	s.route(e, http.MethodGet, "/v1/webhooks", everyRole, s.needWebhooks(s.listWebhooks))
	s.route(e, http.MethodPost, "/v1/webhooks/:id/disable", everyRole, s.needWebhooks(s.disableWebhook))
	s.route(e, http.MethodGet, "/v1/webhooks/:id/deliveries", everyRole, s.needWebhooks(s.listDeliveries))
	s.route(e, http.MethodPost, "/v1/webhooks/:id/deliveries/:delivery/redeliver", everyRole, s.needWebhooks(s.redeliver))
	s.route(e, http.MethodGet, "/v1/audit/head", []auth.Role{auth.Regulator}, s.needAudit(s.auditHead))
	s.route(e, http.MethodGet, "/v1/audit/verify", []auth.Role{auth.Regulator}, s.needAudit(s.verifyAudit))
	s.route(e, http.MethodGet, "/v1/audit/export", []auth.Role{auth.Regulator}, s.needAudit(s.fromReplica(s.exportAudit)))
	return e, s.routes
}

// route registers a handler behind authentication and its role check, and a
// mutating one behind the idempotency mechanism. Every /v1 route goes
// through here, so none can be added without declaring roles or escape the
// mechanism.
func (s *server) route(e *echo.Echo, method, path string, roles []auth.Role, h echo.HandlerFunc) {
	if len(roles) == 0 {
		panic("api: route " + method + " " + path + " declares no roles")
	}
	s.routes = append(s.routes, Route{Method: method, Path: path, Roles: roles})
	if mutating(method) {
		h = s.idempotent(writeModes[method+" "+path], h)
	}
	e.Add(method, path, h, s.authenticate, s.rateLimit, requireRole(roles...))
}

func (s *server) ready(c echo.Context) error {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			// The cause goes to the log only: /readyz answers anyone, and a
			// database error can name hosts, users and settings.
			logger(c, s.log).Warn("not ready", zap.Error(err))
			return problem(http.StatusServiceUnavailable, "not_ready", "", "not ready")
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// asOf picks a balance read as of an instant (history, which a replica may
// serve), not the current balance a client acts on.
func asOf(c echo.Context) bool { return c.QueryParam("as_of") != "" }
