package api_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/crowdledger/crowdledger/api"
)

// Every successful mutating request that any test in this package sends is
// sent again before the test sees its answer (checkReplay): once the same
// (it must replay the same bytes and change nothing), and under the same
// key as another request, with another body where it has one and with
// another query (each must be a 409 idempotency_conflict and change
// nothing). TestMain then requires that every mutating operation in
// openapi.yaml was checked that way, so a new route cannot skip the
// mechanism, and a route the tests never drive to a 2xx fails the suite.

var (
	replayMu      sync.Mutex
	replayChecked = map[string]bool{} // "POST /v1/accounts/{id}/close"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && os.Getenv("TEST_DATABASE_URL")+os.Getenv("DATABASE_URL") != "" {
		if missing := uncheckedOperations(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test drove these mutating operations to a 2xx, so their replay and conflict were not checked:\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// mutatingOperations lists "METHOD /path" for every POST, PUT, PATCH and
// DELETE in the OpenAPI document.
func mutatingOperations() ([]string, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			switch method {
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				out = append(out, method+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func uncheckedOperations() []string {
	ops, err := mutatingOperations()
	if err != nil {
		return []string{"openapi.yaml: " + err.Error()}
	}
	replayMu.Lock()
	defer replayMu.Unlock()
	var missing []string
	for _, op := range ops {
		if !replayChecked[op] {
			missing = append(missing, op)
		}
	}
	return missing
}

var idSegment = regexp.MustCompile(`/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// operation names the OpenAPI operation a concrete path belongs to.
func operation(method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	path = idSegment.ReplaceAllString(path, "/{id}")
	return method + " " + deliverySegment.ReplaceAllString(path, "/deliveries/{delivery}")
}

// deliverySegment is a webhook delivery's id in a path (River's job ids are numbers).
var deliverySegment = regexp.MustCompile(`/deliveries/[0-9]+`)

// fingerprint sums up everything a command can change: rows in the tables
// commands write and the ledger's balances.
func (v *env) fingerprint() string {
	v.t.Helper()
	var s string
	err := v.db.Pool.QueryRow(context.Background(), `SELECT concat_ws('/',
		(SELECT count(*) FROM audit_events), (SELECT count(*) FROM transfers), (SELECT count(*) FROM idempotency_keys),
		(SELECT coalesce(sum(debits_posted), 0) || ':' || coalesce(sum(credits_posted), 0) || ':' ||
		        coalesce(sum(debits_pending), 0) || ':' || coalesce(sum(credits_pending), 0) FROM accounts),
		(SELECT count(*) FROM api_keys), (SELECT count(*) FROM parties), (SELECT count(*) FROM campaigns))`).Scan(&s)
	if err != nil {
		v.t.Fatalf("fingerprint: %v", err)
	}
	return s
}

// send is do's transport without the checks.
func (v *env) send(r req, idem string) *httptest.ResponseRecorder {
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	hr.Header.Set("Authorization", "Bearer "+r.key)
	hr.Header.Set("Idempotency-Key", idem)
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, hr)
	return rec
}

// checkReplay proves, for a request that just succeeded, that its retry
// replays and that its key cannot be reused for another request.
func (v *env) checkReplay(_ *http.Request, r req, first resp) {
	v.t.Helper()
	before := v.fingerprint()
	again := v.send(r, r.idem)
	if first.str("key") != "" { // an answer that carries a new key's secret
		v.checkSecretWithheld(r, first, again)
	} else if again.Code != first.Status || again.Body.String() != string(first.Raw) || again.Header().Get("Idempotent-Replayed") != "true" {
		v.t.Errorf("%s %s: retry answered %d %q (replayed %q), want the first answer %d %q again",
			r.method, r.path, again.Code, again.Body.String(), again.Header().Get("Idempotent-Replayed"), first.Status, first.Raw)
	}
	if ct := again.Header().Get("Content-Type"); ct != first.Header.Get("Content-Type") {
		v.t.Errorf("%s %s: retry has Content-Type %q, first %q", r.method, r.path, ct, first.Header.Get("Content-Type"))
	}
	// Another request under the same key: another body where it has one (a
	// field added to its JSON object), and for every route alike another
	// query.
	var others []req
	if strings.HasPrefix(strings.TrimSpace(r.body), "{") && strings.TrimSpace(r.body) != "{}" {
		other := r
		other.body = strings.Replace(strings.TrimSpace(r.body), "{", `{"another_request":true,`, 1)
		others = append(others, other)
	}
	other := r
	other.path += map[bool]string{true: "&", false: "?"}[strings.Contains(r.path, "?")] + "another=request"
	others = append(others, other)
	for _, o := range others {
		conflict := v.send(o, r.idem)
		if conflict.Code != http.StatusConflict || !strings.Contains(conflict.Body.String(), `"code":"idempotency_conflict"`) {
			v.t.Errorf("%s %s %.80s: same key, other request: %d %s, want 409 idempotency_conflict", o.method, o.path, o.body, conflict.Code, conflict.Body.String())
		}
	}
	if after := v.fingerprint(); after != before {
		v.t.Errorf("%s %s: a retry or a conflicting request changed the state: %s -> %s", r.method, r.path, before, after)
	}
	replayMu.Lock()
	replayChecked[operation(r.method, r.path)] = true
	replayMu.Unlock()
}

// checkSecretWithheld: a new API key is shown once. Its retry answers with
// the key's id and key_withheld, and the idempotency store never holds the
// secret (only the key's hash is stored anywhere).
func (v *env) checkSecretWithheld(r req, first resp, again *httptest.ResponseRecorder) {
	v.t.Helper()
	var body map[string]any
	if err := json.Unmarshal(again.Body.Bytes(), &body); err != nil || again.Code != first.Status || again.Header().Get("Idempotent-Replayed") != "true" ||
		body["key_id"] != first.Body["key_id"] || body["key"] != nil || body["key_withheld"] != true {
		v.t.Errorf("%s %s: retry answered %d %s, want the key's id with key_withheld and no key", r.method, r.path, again.Code, again.Body.String())
	}
	// The retry's answer is the stored one, opened: it has no secret, so
	// none was stored. Nothing is stored in the clear either.
	var clear int
	if err := v.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys WHERE pii_key_id IS NULL`).Scan(&clear); err != nil || clear != 0 {
		v.t.Errorf("%s %s: %d answers stored unsealed (%v)", r.method, r.path, clear, err)
	}
	if strings.Contains(again.Body.String(), first.str("key")) {
		v.t.Errorf("%s %s: the stored answer holds the key's secret", r.method, r.path)
	}
}

func TestOperationNames(t *testing.T) {
	ops, err := mutatingOperations()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/v1/accounts", "POST /v1/accounts"},
		{"POST", "/v1/orders/0b6a4c3e-6a43-4fd1-9c35-2f3f0c1e8a11/refund?x=1", "POST /v1/orders/{id}/refund"},
	} {
		if got := operation(tc.method, tc.path); got != tc.want || !slices.Contains(ops, got) {
			t.Errorf("operation(%s %s) = %q (in document: %v), want %q", tc.method, tc.path, got, slices.Contains(ops, got), tc.want)
		}
	}
}
