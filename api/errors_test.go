package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/crowdledger/crowdledger/api"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/supervision"
)

// TestBadInput sends every kind of bad request, grouped by the status it
// must get, and checks the stable code, the field named, and that the
// ledger's balances are exactly as before.
func TestBadInput(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	bank := v.createAccount("CNY", "custody_bank", false)
	w := v.createAccount("CNY", "investor_wallet", true)
	usd := v.createAccount("USD", "investor_wallet", true)
	dep := v.transfer(fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"100.00","currency":"CNY","code":"deposit"}`, bank, w))
	depID := firstTransfer(dep)["id"].(string)
	closed := v.createAccount("CNY", "investor_wallet", false)
	if r := v.do(req{method: "POST", path: "/v1/accounts/" + closed + "/close", key: op}); r.Status != 200 || r.Body["closed"] != true {
		t.Fatalf("close: %d %s", r.Status, r.Raw)
	}
	v.do(req{method: "POST", path: "/v1/transfers", key: op, idem: "taken",
		body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"deposit"}`, bank, w)})
	before := v.balances(bank) + " " + v.balances(w) + " " + v.balances(usd)

	tr := func(amount, currency string) string {
		return fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":%s,"currency":%q,"code":"commitment"}`, w, bank, amount, currency)
	}
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	tests := []struct {
		name   string
		r      req
		status int
		code   string
		field  string
	}{
		// 400: the request itself is malformed
		{"malformed json", req{method: "POST", path: "/v1/transfers", key: op, body: `{"kind":`}, 400, "malformed_json", ""},
		{"trailing garbage", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"1.00"`, "CNY") + `{}`}, 400, "malformed_json", ""},
		{"deeply nested", req{method: "POST", path: "/v1/transfers", key: op, body: `{"metadata":` + deep + `}`}, 400, "malformed_json", ""},
		{"unknown field", req{method: "POST", path: "/v1/transfers", key: op, body: `{"kind":"posted","amount_cents":100}`}, 400, "unknown_field", "amount_cents"},
		{"amount as number", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`1.00`, "CNY")}, 400, "invalid_type", "amount"},
		{"kind as array", req{method: "POST", path: "/v1/transfers", key: op, body: `{"kind":["posted"]}`}, 400, "invalid_type", "kind"},
		{"body is an array", req{method: "POST", path: "/v1/transfers", key: op, body: `[]`}, 400, "invalid_type", ""},
		{"bad uuid in body", req{method: "POST", path: "/v1/transfers", key: op, body: `{"kind":"posted","debit_account_id":"1; DROP TABLE transfers"}`}, 400, "invalid_uuid", "debit_account_id"},
		{"braced uuid", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":"{%s}"}`, w)}, 400, "invalid_uuid", "debit_account_id"},
		{"bad uuid in path", req{method: "GET", path: "/v1/accounts/not-a-uuid", key: op}, 400, "invalid_uuid", "id"},
		{"missing idempotency key", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"1.00"`, "CNY"), idem: "-"}, 400, "idempotency_key_required", "Idempotency-Key"},
		{"bad cursor", req{method: "GET", path: "/v1/accounts/" + w + "/entries?cursor=zzz", key: op}, 400, "invalid_cursor", "cursor"},
		{"bad limit", req{method: "GET", path: "/v1/accounts/" + w + "/entries?limit=0", key: op}, 400, "invalid_parameter", "limit"},
		{"bad as_of", req{method: "GET", path: "/v1/accounts/" + w + "/balance?as_of=yesterday", key: op}, 400, "invalid_parameter", "as_of"},
		{"empty body", req{method: "POST", path: "/v1/transfers", key: op, body: ` `}, 400, "malformed_json", ""},
		// 401: no valid key
		{"no key", req{method: "GET", path: "/v1/accounts/" + w}, 401, "unauthenticated", ""},
		{"garbage key", req{method: "GET", path: "/v1/accounts/" + w, key: "cl_x"}, 401, "unauthenticated", ""},
		{"forged key", req{method: "GET", path: "/v1/accounts/" + w, key: op[:len(op)-4] + "0000"}, 401, "unauthenticated", ""},
		// 403: valid key, wrong role
		{"investor on ledger", req{method: "GET", path: "/v1/accounts/" + w, key: v.key[auth.Investor]}, 403, "forbidden", ""},
		{"issuer posts transfer", req{method: "POST", path: "/v1/transfers", key: v.key[auth.Issuer], body: tr(`"1.00"`, "CNY")}, 403, "forbidden", ""},
		{"regulator writes", req{method: "POST", path: "/v1/transfers", key: v.key[auth.Regulator], body: tr(`"1.00"`, "CNY")}, 403, "forbidden", ""},
		{"compliance on ledger", req{method: "GET", path: "/v1/transfers/" + depID, key: v.key[auth.Compliance]}, 403, "forbidden", ""},
		// 404: no such thing
		{"unknown account", req{method: "GET", path: "/v1/accounts/00000000-0000-4000-8000-000000000000", key: op}, 404, "account_not_found", ""},
		{"unknown transfer", req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: op}, 404, "transfer_not_found", ""},
		{"unknown transfer", req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: op}, 404, "transfer_not_found", ""},
		{"misspelt list filter", req{method: "GET", path: "/v1/transfers?acount_id=x", key: op}, 400, "unknown_parameter", "acount_id"},
		{"list cursor not ours", req{method: "GET", path: "/v1/campaigns?cursor=abc", key: op}, 400, "invalid_cursor", "cursor"},
		{"list limit too high", req{method: "GET", path: "/v1/commitments?limit=501", key: op}, 400, "invalid_parameter", "limit"},
		{"list filter not a state", req{method: "GET", path: "/v1/campaigns?state=open", key: op}, 422, "validation_failed", "state"},
		{"idempotency key not printable", req{method: "GET", path: "/v1/transfers?idempotency_key=a%20b", key: op}, 400, "invalid_parameter", "idempotency_key"},
		{"unknown route", req{method: "GET", path: "/v1/nothing", key: op}, 404, "not_found", ""},
		{"void unknown pending", req{method: "POST", path: "/v1/transfers/00000000-0000-4000-8000-000000000000/void", key: op}, 404, "pending_not_found", "id"},
		// 405
		{"wrong method", req{method: "DELETE", path: "/v1/transfers/" + depID, key: op}, 405, "method_not_allowed", ""},
		// 409: conflicts with the ledger's state
		{"key reused", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"2.00"`, "CNY"), idem: "taken"}, 409, "idempotency_conflict", "Idempotency-Key"},
		{"api key expiring in the past", req{method: "POST", path: "/v1/keys", key: op, body: `{"role":"compliance","subject":"c-late","name":"late","expires_at":"2020-01-01T00:00:00Z"}`}, 422, "validation_failed", "expires_at"},
		{"closed account", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"x"}`, bank, closed)}, 409, "account_closed", "credit_account_id"},
		{"reverse twice", req{method: "POST", path: "/v1/transfers/" + depID + "/post", key: op}, 422, "not_pending", "pending_id"},
		// 413, 415
		{"huge body", req{method: "POST", path: "/v1/transfers", key: op, body: `{"metadata":{"x":"` + strings.Repeat("a", 70<<10) + `"}}`}, 413, "body_too_large", ""},
		{"form body", req{method: "POST", path: "/v1/transfers", key: op, body: "kind=posted", contentType: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		// 422: well-formed, but the money or the ledger says no
		{"three decimals in CNY", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"1.001"`, "CNY")}, 422, "amount_precision", "amount"},
		{"decimals in JPY", req{method: "POST", path: "/v1/accounts", key: op, body: `{"currency":"JPY","code":"bogus"}`}, 422, "validation_failed", "code"},
		{"zero", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"0.00"`, "CNY")}, 422, "amount_not_positive", "amount"},
		{"negative", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"-5.00"`, "CNY")}, 422, "amount_not_positive", "amount"},
		{"exponent", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"1e3"`, "CNY")}, 422, "amount_invalid", "amount"},
		{"nan", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"NaN"`, "CNY")}, 422, "amount_invalid", "amount"},
		{"forty digits", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"1234567890123456789012345678901234567890"`, "CNY")}, 422, "amount_too_large", "amount"},
		{"unknown currency", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"1.00"`, "XXX")}, 422, "unsupported_currency", "currency"},
		{"currency mismatch", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"x"}`, w, usd)}, 422, "currency_mismatch", "currency"},
		{"insufficient funds", req{method: "POST", path: "/v1/transfers", key: op, body: tr(`"101.01"`, "CNY")}, 422, "insufficient_funds", "amount"},
		{"unknown account in body", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":"00000000-0000-4000-8000-000000000000","amount":"1.00","currency":"CNY","code":"x"}`, w)}, 422, "account_not_found", "credit_account_id"},
		{"same account", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"x"}`, w, w)}, 422, "same_account", "credit_account_id"},
		{"sql in code", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"x'; DROP TABLE transfers;--"}`, w, bank)}, 422, "validation_failed", "code"},
		{"unicode code", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"dep\u200bosit"}`, w, bank)}, 422, "validation_failed", "code"},
		{"unknown kind", req{method: "POST", path: "/v1/transfers", key: op, body: `{"kind":"steal"}`}, 422, "validation_failed", "kind"},
		{"empty batch", req{method: "POST", path: "/v1/transfer-batches", key: op, body: `{"transfers":[]}`}, 422, "validation_failed", "transfers"},
		{"batch amount at index", req{method: "POST", path: "/v1/transfer-batches", key: op, body: `{"transfers":[` + tr(`"1.00"`, "CNY") + `,` + tr(`"1.001"`, "CNY") + `]}`}, 422, "amount_precision", "transfers[1].amount"},
		{"batch overdraws at index", req{method: "POST", path: "/v1/transfer-batches", key: op, body: `{"transfers":[` + tr(`"60.00"`, "CNY") + `,` + tr(`"60.00"`, "CNY") + `]}`}, 422, "insufficient_funds", "amount"},
		{"post more than pending", req{method: "POST", path: "/v1/transfers/" + depID + "/reverse", key: op, body: `{"amount":"1.00"}`}, 422, "validation_failed", "amount"},
		{"metadata too deep", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"x","metadata":%s}`, w, bank, strings.Repeat(`{"a":`, 12)+"1"+strings.Repeat("}", 12))}, 422, "validation_failed", "metadata"},
		{"timeout on posted", req{method: "POST", path: "/v1/transfers", key: op, body: fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.00","currency":"CNY","code":"x","timeout_seconds":60}`, w, bank)}, 422, "validation_failed", "timeout_seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.do(tc.r)
			if r.Status != tc.status || r.str("code") != tc.code || r.str("field") != tc.field {
				t.Errorf("got %d %s field %q, want %d %s field %q: %s", r.Status, r.str("code"), r.str("field"), tc.status, tc.code, tc.field, r.Raw)
			}
			if r.str("request_id") == "" || r.Header.Get("X-Request-Id") != r.str("request_id") {
				t.Errorf("problem lacks the request id: %s", r.Raw)
			}
		})
	}
	// The batch names the failing transfer.
	r := v.do(req{method: "POST", path: "/v1/transfer-batches", key: op, body: `{"transfers":[` + tr(`"60.00"`, "CNY") + `,` + tr(`"60.00"`, "CNY") + `]}`})
	if idx, ok := r.Body["index"].(float64); !ok || idx != 1 {
		t.Errorf("batch failure index = %v, want 1", r.Body["index"])
	}
	if after := v.balances(bank) + " " + v.balances(w) + " " + v.balances(usd); after != before {
		t.Errorf("bad requests changed the ledger:\n before %s\n after  %s", before, after)
	}
}

func TestRevokedAndExpiredKeys(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	ctx := context.Background()
	p, tok, err := v.keys.Create(ctx, auth.Operator, "ops-2", "to revoke", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: tok}); r.Status != 404 {
		t.Fatalf("fresh key: %d", r.Status)
	}
	if err := v.keys.Revoke(ctx, p.KeyID); err != nil {
		t.Fatal(err)
	}
	if r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: tok}); r.Status != 401 {
		t.Errorf("revoked key: %d", r.Status)
	}
	past := time.Now().Add(-time.Minute)
	_, expired, err := v.keys.Create(ctx, auth.Operator, "ops-3", "expired", &past)
	if err != nil {
		t.Fatal(err)
	}
	if r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: expired}); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("expired key: %d %v", r.Status, r.Header)
	}
	if _, _, err := v.keys.Create(ctx, auth.Investor, "", "no subject", nil); err == nil {
		t.Error("investor key without subject was created")
	}
}

// TestRoutesDeclareRolesAsDocumented: every /v1 route in the router has
// roles, is in the OpenAPI document, and the document's x-roles agree.
func TestRoutesDeclareRolesAsDocumented(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	_, routes := api.New(api.Deps{})
	for _, r := range routes {
		path := r.Path
		path = regexp.MustCompile(`:([a-z_]+)`).ReplaceAllString(path, "{$1}")
		item := doc.Paths.Find(path)
		if item == nil {
			t.Errorf("%s %s is not in the OpenAPI document", r.Method, r.Path)
			continue
		}
		op := item.GetOperation(r.Method)
		if op == nil {
			t.Errorf("%s %s has no operation in the OpenAPI document", r.Method, r.Path)
			continue
		}
		raw, _ := op.Extensions["x-roles"].([]any)
		var documented []string
		for _, x := range raw {
			documented = append(documented, x.(string))
		}
		var declared []string
		for _, role := range r.Roles {
			declared = append(declared, string(role))
		}
		slices.Sort(documented)
		slices.Sort(declared)
		if !slices.Equal(documented, declared) {
			t.Errorf("%s %s: router roles %v, documented x-roles %v", r.Method, r.Path, declared, documented)
		}
	}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public: no key, no roles
			}
			found := false
			for _, r := range routes {
				if r.Method == method && regexp.MustCompile(`:([a-z_]+)`).ReplaceAllString(r.Path, "{$1}") == path {
					found = true
				}
			}
			if !found {
				t.Errorf("documented %s %s has no route", method, path)
			}
		}
	}
}

func TestServiceEndpoints(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		if r := v.do(req{method: "GET", path: p}); r.Status != 200 {
			t.Errorf("%s: %d %s", p, r.Status, r.Raw)
		}
	}
	bank := v.createAccount("EUR", "custody_bank", false)
	w := v.createAccount("EUR", "investor_wallet", true)
	v.transfer(fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"5.00","currency":"EUR","code":"deposit"}`, bank, w))
	// Every answer, public or not, is neither sniffed nor cached.
	for _, r := range []req{{method: "GET", path: "/healthz"}, {method: "GET", path: "/v1/accounts/" + w, key: v.key[auth.Operator]},
		{method: "GET", path: "/v1/accounts/" + w}} {
		got := v.do(r)
		if got.Header.Get("X-Content-Type-Options") != "nosniff" || got.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s (%d): headers %v", r.method, r.path, got.Status, got.Header)
		}
	}
	m := v.do(req{method: "GET", path: "/metrics"})
	for _, want := range []string{
		// The transfer and its replay (every test's successful POST is retried once).
		`crowdledger_http_requests_total{method="POST",route="/v1/transfers",status="201"} 2`,
		`crowdledger_idempotent_replays_total 3`, // two accounts and the transfer
		`crowdledger_ledger_transfers_committed_total{kind="posted"} 1`,
		`crowdledger_group_commit_batch_size_bucket{writer="ledger"`,
		`crowdledger_group_commit_wait_seconds_count{writer="ledger"}`,
		`crowdledger_audit_unchained_events`,
		`crowdledger_audit_chain_lag_seconds`,
		`crowdledger_http_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(string(m.Raw), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Every log line of a request carries its request id, and no line carries a key.
	for _, e := range v.logs.FilterMessage("request").All() {
		if e.ContextMap()["request_id"] == "" {
			t.Errorf("log line without request id: %v", e.ContextMap())
		}
	}
	// A refused request's line names the problem's code and field, and the
	// object it concerned.
	v.do(req{method: "GET", path: "/v1/accounts/" + w + "/balance?as_of=yesterday", key: v.key[auth.Operator]})
	var named bool
	for _, e := range v.logs.FilterMessage("request").All() {
		if f := e.ContextMap(); f["route"] == "/v1/accounts/:id/balance" {
			named = f["status"] == int64(400) && f["code"] == "invalid_parameter" && f["field"] == "as_of" && f["object_id"] == w
		}
	}
	if !named {
		t.Error("the 4xx request line lacks its problem code, field or object id")
	}
	for _, e := range v.logs.All() {
		for _, tok := range v.key {
			if strings.Contains(fmt.Sprint(e.ContextMap()), tok[len(tok)-20:]) {
				t.Errorf("a log line contains an API key secret: %v", e.ContextMap())
			}
		}
	}
}

// TestRateLimitPerKey: past its burst a key gets 429 with Retry-After;
// another key is unaffected.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	e, _ := api.New(api.Deps{Ledger: v.ledger, Keys: v.keys, RateLimit: api.RateLimit{RPS: 0.5, Burst: 3}})
	v.e = e
	got := map[int]int{}
	for i := 0; i < 5; i++ {
		r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: v.key[auth.Operator]})
		got[r.Status]++
		if r.Status == 429 && (r.Header.Get("Retry-After") == "" || r.str("code") != "rate_limited") {
			t.Errorf("429 without Retry-After or code: %v %s", r.Header, r.Raw)
		}
	}
	if got[404] != 3 || got[429] != 2 {
		t.Errorf("statuses %v, want 3 answered and 2 limited", got)
	}
	if r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: v.key[auth.Regulator]}); r.Status != 404 {
		t.Errorf("another key limited too: %d", r.Status)
	}
}

// countingKeys counts the look-ups that reach the key store.
type countingKeys struct {
	*auth.Store
	lookups atomic.Int32
}

func (k *countingKeys) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	k.lookups.Add(1)
	return k.Store.Authenticate(ctx, token)
}

// TestRateLimitWithoutAKey: an address whose keys keep failing is held to
// its budget before any look-up (each unknown key costs a query), while a
// key known in memory from the same address goes on working; the public
// routes are limited per address too.
func TestRateLimitWithoutAKey(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.keys.CacheTTL = time.Minute
	keys := &countingKeys{Store: v.keys}
	e, _ := api.New(api.Deps{Ledger: v.ledger, Keys: keys, Supervision: supervision.New(v.db.Pool), AnonRateLimit: api.RateLimit{RPS: 0.5, Burst: 3}})
	v.e = e
	if r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: v.key[auth.Operator]}); r.Status != 404 {
		t.Fatalf("a good key: %d", r.Status)
	}
	got := map[int]int{}
	for i := range 10 {
		bogus := fmt.Sprintf("cl_%032x_%064x", i, i)
		r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: bogus})
		got[r.Status]++
		if r.Status == 429 && r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if got[401] != 3 || got[429] != 7 || keys.lookups.Load() != 4 {
		t.Errorf("statuses %v and %d look-ups, want 3 refused, 7 limited, 4 look-ups (one for the good key)", got, keys.lookups.Load())
	}
	if r := v.do(req{method: "GET", path: "/v1/transfers/00000000-0000-4000-8000-000000000000", key: v.key[auth.Operator]}); r.Status != 404 {
		t.Errorf("a known key from the same address: %d", r.Status)
	}
	limited := 0
	for range 5 {
		if r := v.do(req{method: "GET", path: "/v1/public/spot-checks/00000000-0000-4000-8000-000000000000"}); r.Status == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Error("the public route is not limited per address")
	}
}

// TestTrailingZerosCountOnEveryMoneyRoute: "1.000" has three decimal places,
// one more than CNY allows, on every route that takes an amount, including
// the partial post of a hold whose currency is known only from the hold.
// One parser serves them all, and nothing moves.
func TestTrailingZerosCountOnEveryMoneyRoute(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	bank := v.createAccount("CNY", "custody_bank", false)
	w := v.createAccount("CNY", "investor_wallet", true)
	v.transfer(fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"100.00","currency":"CNY","code":"deposit"}`, bank, w))
	hold := firstTransfer(v.transfer(fmt.Sprintf(`{"kind":"pending","debit_account_id":%q,"credit_account_id":%q,"amount":"10.00","currency":"CNY","code":"commitment"}`, w, bank)))["id"].(string)
	party := v.party("investor", "individual", "prc_resident_id", validID(7), "零点")
	before := v.balances(bank) + " " + v.balances(w)
	tests := []struct {
		name, path, body, field string
	}{
		{"transfer", "/v1/transfers", fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.000","currency":"CNY","code":"x"}`, w, bank), "amount"},
		{"batch", "/v1/transfer-batches", fmt.Sprintf(`{"transfers":[{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1.000","currency":"CNY","code":"x"}]}`, w, bank), "transfers[0].amount"},
		{"partial post", "/v1/transfers/" + hold + "/post", `{"amount":"1.000"}`, "amount"},
		{"post_pending in a transfer", "/v1/transfers", fmt.Sprintf(`{"kind":"post_pending","pending_id":%q,"amount":"2.500"}`, hold), "amount"},
		{"deposit", "/v1/parties/" + party + "/deposits", `{"amount":"1.000","currency":"CNY","bank_reference":"Z"}`, "amount"},
		{"withdrawal", "/v1/parties/" + party + "/withdrawals", `{"amount":"1.000","currency":"CNY","bank_reference":"Z"}`, "amount"},
		{"reconciliation", "/v1/reconciliations", `{"currency":"CNY","bank_balance":"1.000","as_of":"2026-01-01T00:00:00Z","statement_reference":"S"}`, "bank_balance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.do(req{method: "POST", path: tc.path, key: op, body: tc.body})
			if r.Status != 422 || r.str("code") != "amount_precision" || r.str("field") != tc.field {
				t.Errorf("got %d %s field %q, want 422 amount_precision field %q: %s", r.Status, r.str("code"), r.str("field"), tc.field, r.Raw)
			}
		})
	}
	if after := v.balances(bank) + " " + v.balances(w); after != before {
		t.Errorf("balances moved: %s -> %s", before, after)
	}
}

// TestReadyzTellsNoCause: /readyz answers anyone, so a failing check's
// cause (a database error can name hosts, users, settings) goes to the log
// only.
func TestReadyzTellsNoCause(t *testing.T) {
	e, _ := api.New(api.Deps{Ready: func(context.Context) error {
		return errors.New(`failed to connect to host=db.internal user=crowdledger password=hunter2`)
	}})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "db.internal") {
		t.Errorf("/readyz: %d %s", rec.Code, rec.Body.String())
	}
}
