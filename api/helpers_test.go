package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/crowdledger/crowdledger/api"
	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/report"
	"github.com/crowdledger/crowdledger/supervision"
	"github.com/crowdledger/crowdledger/webhook"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func openAPIRouter(t testing.TB) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		// JSON Lines exports are validated as text, line structure by their own tests.
		openapi3filter.RegisterBodyDecoder("application/jsonl", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/xml", openapi3filter.FileBodyDecoder)
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(api.OpenAPI())
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			specErr = err
			return
		}
		specRouter, specErr = legacy.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("openapi document: %v", specErr)
	}
	return specRouter
}

// env is a service on its own database with one key per role.
type env struct {
	t      testing.TB
	e      *echo.Echo
	routes []api.Route
	ledger *ledger.Ledger
	trail  *audit.Trail
	keys   *auth.Store
	clock  *atomic.Pointer[time.Time]
	db     *pgtest.DB
	logs   *observer.ObservedLogs
	key    map[auth.Role]string
	// reviewer is a second compliance officer's key, made when first needed.
	reviewer string
	hooks    *webhook.Service
}

// newEnv starts the API on a fresh database; opts adjust its dependencies.
func newEnv(t testing.TB, opts ...func(*api.Deps)) *env {
	t.Helper()
	return newEnvTraced(t, nil, opts...)
}

// newEnvTraced is newEnv with every statement the service sends reported
// to tracer (nil: none).
func newEnvTraced(t testing.TB, tracer pgx.QueryTracer, opts ...func(*api.Deps)) *env {
	t.Helper()
	db := pgtest.NewDB(t)
	var popts []pg.Option
	if tracer != nil {
		popts = append(popts, pg.WithTracer(tracer))
	}
	// The service runs as its own role, as serve does: a statement it has
	// no grant for fails here too. The test's own queries use db.Pool.
	svcPool, err := pg.Connect(context.Background(), db.AppURL, 32, popts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svcPool.Close)
	reg := prometheus.NewRegistry()
	m := api.NewMetrics(reg)
	l := ledger.New(svcPool, ledger.Options{OnCommit: m.LedgerCommitted, OnBatch: m.Batch("ledger"), Freezes: supervision.New(svcPool)})
	core, logs := observer.New(zapcore.DebugLevel)
	keys := auth.NewStore(svcPool)
	seed, _ := audit.GenerateSeed()
	signer, _ := audit.ParseSigner(seed)
	trail := audit.NewTrail(svcPool, signer)
	m.RegisterAudit(trail)
	piiKeys, _ := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	partyRegistry := registry.New(svcPool, piiKeys)
	campaigns := campaign.New(svcPool, l, partyRegistry)
	campaigns.OnBatch = m.Batch("commitments")
	campaigns.StartBatching(64)
	clock := &atomic.Pointer[time.Time]{}
	start := time.Now().UTC()
	clock.Store(&start)
	campaigns.Now = func() time.Time { return *clock.Load() }
	partyRegistry.Now = campaigns.Now
	hooks, err := webhook.New(svcPool, trail, piiKeys, func(ctx context.Context, o webhook.Owner) (audit.FeedScope, error) {
		return api.FeedScopeOf(ctx, campaigns, o)
	}, webhook.Options{Poll: 100 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hooks.Stop(context.Background()) }) //nolint:errcheck
	deps := api.Deps{Webhooks: hooks, Ledger: l, Audit: trail, Registry: partyRegistry, Campaigns: campaigns, Reports: report.New(svcPool, l, partyRegistry), Idempotency: idempotency.New(svcPool, piiKeys), Supervision: supervision.New(svcPool), Pool: svcPool, Keys: keys, KeyStore: keys, Log: zap.New(core), Metrics: m, MaxBodyBytes: 64 << 10, RedListExpedite: true,
		Ready: func(ctx context.Context) error { return svcPool.Ping(ctx) }}
	for _, o := range opts {
		o(&deps)
	}
	e, routes := api.New(deps)
	v := &env{hooks: hooks, t: t, e: e, routes: routes, ledger: l, trail: trail, keys: keys, db: db, logs: logs, key: map[auth.Role]string{}, clock: clock}
	for _, r := range auth.Roles() {
		subject := "staff-" + string(r)
		if r.Scoped() {
			subject = "subject-" + string(r)
		}
		if r == auth.Investor {
			subject = investorSubject.String()
		}
		_, tok, err := keys.Create(context.Background(), r, subject, "test "+string(r), nil)
		if err != nil {
			t.Fatal(err)
		}
		v.key[r] = tok
	}
	t.Cleanup(func() {
		campaigns.StopBatching()
		l.Close()
		vs, err := l.Check(context.Background())
		if err != nil {
			t.Errorf("check: %v", err)
		}
		for _, v := range vs {
			t.Errorf("invariant broken: %s", v)
		}
	})
	return v
}

// resp is a response, decoded.
type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r resp) str(path ...string) string {
	var cur any = r.Body
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

type req struct {
	method, path, key, body string
	idem                    string // Idempotency-Key; "-" for none
	contentType             string
	raw                     bool // do not parse the body as one JSON object
}

// do sends a request through the real router and checks the response
// against the OpenAPI document.
func (v *env) do(r req) resp {
	v.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	if r.method == http.MethodPost && r.idem != "-" {
		if r.idem == "" {
			r.idem = "idem-" + randKey()
		}
		hr.Header.Set("Idempotency-Key", r.idem)
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, hr)
	out := resp{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if ct := out.Header.Get("Content-Type"); (ct == "application/json" || strings.HasPrefix(ct, "application/json;") || ct == "application/problem+json") && !r.raw {
		if err := json.Unmarshal(out.Raw, &out.Body); err != nil {
			v.t.Fatalf("%s %s: response is not a JSON object: %v: %s", r.method, r.path, err, out.Raw)
		}
	}
	if out.Status >= 400 {
		if ct := out.Header.Get("Content-Type"); ct != "application/problem+json" {
			v.t.Errorf("%s %s: status %d with Content-Type %q, want application/problem+json", r.method, r.path, out.Status, ct)
		}
		if out.str("code") == "" || out.Body["status"] != float64(out.Status) {
			v.t.Errorf("%s %s: problem without code or status: %s", r.method, r.path, out.Raw)
		}
		if out.Status >= 500 {
			v.t.Errorf("%s %s: server error %d: %s", r.method, r.path, out.Status, out.Raw)
		}
	}
	v.validate(hr, r, out)
	if r.method == http.MethodPost && out.Status < 300 && r.idem != "-" {
		v.checkReplay(hr, r, out)
	}
	return out
}

// validate checks the response against the OpenAPI document. Requests to
// routes the document does not have (deliberately unknown paths) are
// checked to be problem 404/405 instead.
func (v *env) validate(hr *http.Request, r req, out resp) {
	v.t.Helper()
	router := openAPIRouter(v.t)
	u, _ := url.Parse("http://localhost:8080" + r.path)
	vr := hr.Clone(context.Background())
	vr.URL = u
	vr.Host = u.Host
	if r.body != "" {
		vr.Body = io.NopCloser(strings.NewReader(r.body))
	}
	route, params, err := router.FindRoute(vr)
	if err != nil {
		if out.Status != http.StatusNotFound && out.Status != http.StatusMethodNotAllowed && out.Status != http.StatusBadRequest {
			v.t.Errorf("%s %s: not in the OpenAPI document (%v) but answered %d", r.method, r.path, err, out.Status)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: out.Status, Header: out.Header,
		Options: in.Options}
	rin.SetBodyBytes(bytes.Clone(out.Raw))
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		v.t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\n%s", r.method, r.path, out.Status, err, out.Raw)
	}
}

// investorSubject is the party the test investor key acts for (registered by tests that need it).
var investorSubject = uuid.New()

func randKey() string { return uuid.NewString() }

func (v *env) advance(d time.Duration) {
	t := v.clock.Load().Add(d)
	v.clock.Store(&t)
}

// approveQualification has a second compliance officer (another person
// than the test's compliance key) approve a decision with evidence, as a
// decision must be before it counts.
func (v *env) approveQualification(id string) {
	v.t.Helper()
	if v.reviewer == "" {
		_, tok, err := v.keys.Create(context.Background(), auth.Compliance, "staff-reviewer", "reviewer", nil)
		if err != nil {
			v.t.Fatal(err)
		}
		v.reviewer = tok
	}
	r := v.do(req{method: "POST", path: "/v1/qualifications/" + id + "/approve", key: v.reviewer,
		body: `{"evidence":[{"kind":"bank statement","document_hash":"` + strings.Repeat("ef", 32) + `"}]}`})
	if r.Status != 200 || r.str("status") != "approved" {
		v.t.Fatalf("approve qualification: %d %s", r.Status, r.Raw)
	}
}

// keyFor makes an investor or issuer key acting for a party.
func (v *env) keyFor(role auth.Role, party string) string {
	v.t.Helper()
	_, tok, err := v.keys.Create(context.Background(), role, party, "test", nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return tok
}

// liveRewardCampaign opens a CN-2015 CNY reward campaign with one tier
// ("box", 一箱) that started a minute ago on the env's clock and runs 30
// days, submits it with a product description and has compliance approve
// it; it returns the campaign's id.
func (v *env) liveRewardCampaign(issuerKey, issuer, title, target, hardCap, price string) string {
	v.t.Helper()
	now := *v.clock.Load()
	id := v.must(201, req{method: "POST", path: "/v1/campaigns", key: issuerKey, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015","currency":"CNY","title":%q,"risk_level":1,
		"target":%q,"hard_cap":%q,"fee_rate":"0.05","starts_at":%q,"deadline":%q,"tiers":[{"id":"box","title":"一箱","price":%q}]}`,
		issuer, title, target, hardCap, now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339), price)}).str("id")
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + id + "/submit", key: issuerKey, body: `{"disclosures":[{"title":"说明","kind":"product_spec","document_hash":"` + strings.Repeat("cd", 32) + `"}]}`})
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + id + "/approve", key: v.key[auth.Compliance]})
	return id
}
