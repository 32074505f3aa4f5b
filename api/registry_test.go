package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/export"
)

func validID(n int) string {
	s := fmt.Sprintf("630102198805%02d%03d", 1+n%28, n%1000)
	return s + string(compliance.ResidentIDCheck(s))
}

// TestRegistryOverHTTP: register, verify, qualify, list and check, with the
// identity number masked everywhere except the recorded reveal, and never
// in a log line.
func TestRegistryOverHTTP(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op, co, reg := v.key[auth.Operator], v.key[auth.Compliance], v.key[auth.Regulator]
	doc := validID(1)
	r := v.do(req{method: "POST", path: "/v1/parties", key: op, body: fmt.Sprintf(
		`{"role":"investor","entity":"individual","jurisdiction":"CN","name":"马青海","document":{"type":"prc_resident_id","number":%q}}`, doc)})
	if r.Status != 201 || r.str("document_number") != doc[:1]+strings.Repeat("*", 16)+doc[17:] || r.str("name") != "马**" {
		t.Fatalf("create party: %d %s", r.Status, r.Raw)
	}
	inv := r.str("id")
	bad := doc[:17] + map[bool]string{true: "0", false: "1"}[doc[17] != '0']
	r = v.do(req{method: "POST", path: "/v1/parties", key: op, body: fmt.Sprintf(
		`{"role":"investor","entity":"individual","jurisdiction":"CN","name":"x","document":{"type":"prc_resident_id","number":%q}}`, bad)})
	if r.Status != 422 || r.str("code") != "document_check_digit" || r.str("field") != "document.number" {
		t.Errorf("wrong check digit: %d %s", r.Status, r.Raw)
	}
	r = v.do(req{method: "POST", path: "/v1/parties", key: op, body: `{"role":"issuer","entity":"institution","jurisdiction":"CN","name":"青海高原青稞有限公司","document":{"type":"prc_uscc","number":"91350100M000100Y43"}}`})
	if r.Status != 201 {
		t.Fatalf("create issuer: %d %s", r.Status, r.Raw)
	}
	iss := r.str("id")
	for _, id := range []string{inv, iss} {
		if r := v.do(req{method: "POST", path: "/v1/parties/" + id + "/verification", key: co, body: `{"status":"verified","method":"video-kyc"}`}); r.Status != 200 || r.str("verification", "status") != "verified" {
			t.Fatalf("verify: %d %s", r.Status, r.Raw)
		}
	}
	if r := v.do(req{method: "POST", path: "/v1/parties/" + inv + "/verification", key: op, body: `{"status":"verified","method":"x"}`}); r.Status != 403 {
		t.Errorf("operator verifying: %d", r.Status)
	}
	q := v.do(req{method: "POST", path: "/v1/parties/" + inv + "/qualification", key: co, body: `{"pack":"CN-2015","profile":{"entity":"individual","financial_assets":"1000000.00","annual_income":"120000","risk_answers":[4,4,4,3,4]}}`})
	if q.Status != 201 || q.Body["qualified"] != true || q.str("category") != "qualified" || q.str("risk_tolerance") != "C5" || q.str("status") != "declared" {
		t.Fatalf("qualify: %d %s", q.Status, q.Raw)
	}
	// The officer who assessed it may not approve it; another one does.
	if r := v.do(req{method: "POST", path: "/v1/qualifications/" + q.str("id") + "/approve", key: co,
		body: `{"evidence":[{"kind":"bank statement","document_hash":"` + strings.Repeat("ef", 32) + `"}]}`}); r.Status != 403 || r.str("code") != "maker_checker" {
		t.Errorf("the submitter approved: %d %s", r.Status, r.Raw)
	}
	v.approveQualification(q.str("id"))
	if r := v.do(req{method: "POST", path: "/v1/parties/" + inv + "/qualification", key: co, body: `{"pack":"CN-2015","profile":{"entity":"individual","financial_assets":"1.001"}}`}); r.Status != 422 || r.str("field") != "profile.financial_assets" {
		t.Errorf("profile amount with three decimals: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/parties/" + inv + "/qualifications", key: reg}); r.Status != 200 || len(r.Body["qualifications"].([]any)) != 1 {
		t.Errorf("history: %d %s", r.Status, r.Raw)
	}
	ack := v.must(200, req{method: "GET", path: "/v1/packs/CN-2015/risk-disclosure", key: co}).str("sha256")
	check := fmt.Sprintf(`{"investor_id":%q,"issuer_id":%q,"pack":"CN-2015","campaign_risk":5,"amount":"50000.00","currency":"CNY","risk_disclosure":%q}`, inv, iss, ack)
	if r := v.do(req{method: "POST", path: "/v1/compliance/checks", key: co, body: check}); r.Status != 200 || r.Body["allowed"] != true {
		t.Fatalf("check: %d %s", r.Status, r.Raw)
	}
	// Blacklisted by document: every reason is reported, nothing moves.
	r = v.do(req{method: "POST", path: "/v1/lists/entries", key: reg, body: fmt.Sprintf(
		`{"list":"black","document":{"type":"prc_resident_id","number":%q},"reason":"失信被执行人","authority":"最高人民法院"}`, doc)})
	if r.Status != 201 || r.str("document_number") != doc[:1]+strings.Repeat("*", 16)+doc[17:] {
		t.Fatalf("blacklist: %d %s", r.Status, r.Raw)
	}
	entry := r.str("id")
	r = v.do(req{method: "POST", path: "/v1/compliance/checks", key: co, body: check})
	if r.Status != 200 || r.Body["allowed"] != false || !strings.Contains(string(r.Raw), "LIST/investor-blacklisted") {
		t.Fatalf("check when blacklisted: %d %s", r.Status, r.Raw)
	}
	masked := v.do(req{method: "GET", path: "/v1/lists/entries", key: co})
	full := v.do(req{method: "GET", path: "/v1/lists/entries", key: reg})
	if strings.Contains(string(masked.Raw), doc) || !strings.Contains(string(full.Raw), doc) {
		t.Errorf("platform view must be masked and regulator view full:\n%s\n%s", masked.Raw, full.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/lists/entries/" + entry + "/end", key: reg, body: `{"reason":"debt settled"}`}); r.Status != 200 || r.str("ended_at") == "" {
		t.Errorf("end: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/lists/entries/" + entry + "/end", key: reg, body: `{"reason":"again"}`}); r.Status != 409 {
		t.Errorf("end twice: %d %s", r.Status, r.Raw)
	}
	// Full identity: compliance and regulators only, with a reason, recorded.
	if r := v.do(req{method: "GET", path: "/v1/parties/" + inv + "/identity?reason=x", key: co}); r.Status != 422 || r.str("field") != "reason" {
		t.Errorf("reveal without a real reason: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/parties/" + inv + "/identity?reason=complaint%202026-7", key: op}); r.Status != 403 {
		t.Errorf("operator reveal: %d", r.Status)
	}
	rev := v.do(req{method: "GET", path: "/v1/parties/" + inv + "/identity?reason=complaint%202026-7", key: reg})
	if rev.Status != 200 || rev.str("document_number") != doc || rev.str("name") != "马青海" || rev.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %s", rev.Status, rev.Raw)
	}
	// Investors see only themselves.
	if r := v.do(req{method: "GET", path: "/v1/parties/" + inv, key: v.key[auth.Investor]}); r.Status != 404 {
		t.Errorf("investor reading someone else: %d", r.Status)
	}
	// No identity number or name in clear in any log line or in any other response.
	for _, e := range v.logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, doc) || strings.Contains(line, "马青海") {
			t.Errorf("log line leaks personal data: %s", line)
		}
	}
	var leaks int
	v.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_events WHERE facts::text LIKE '%' || $1 || '%'`, doc).Scan(&leaks)
	if leaks != 0 {
		t.Errorf("%d audit events carry the identity number", leaks)
	}
	var views int
	v.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_events WHERE action = 'registry.pii.view' AND actor_role = 'regulator'`).Scan(&views)
	if views < 2 { // the reveal and the full list
		t.Errorf("%d recorded regulator views", views)
	}
	_ = http.StatusOK
}

// TestListImportAndReviewFlags: a court's list imported as CSV, all rows
// or none, matched by keyed hash (a registered party whose document is on
// it is blocked at once); blacklisting a party with an open commitment
// flags it, and staff and regulators list the flags.
func TestListImportAndReviewFlags(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	reg, co := v.key[auth.Regulator], v.key[auth.Compliance]
	doc := validID(321)
	inv := v.party("investor", "individual", "prc_resident_id", doc, "名单人")
	head := "list,document_type,document_number,reason,authority,effective_from\n"
	good := head + "black,prc_resident_id," + doc + ",失信被执行人,某某区人民法院,2026-01-15\n" +
		"black,prc_resident_id," + validID(322) + ",失信被执行人,某某区人民法院,\n"
	for name, body := range map[string]string{
		"a bad row rolls all back": head + "black,prc_resident_id," + validID(323) + ",x,y,\nblack,prc_resident_id,12345,x,y,\n",
		"wrong header":             "list,number\nblack,1\n",
		"no rows":                  head,
	} {
		if r := v.do(req{method: "POST", path: "/v1/lists/imports", key: reg, body: body, contentType: "text/csv"}); r.Status != 422 {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	if r := v.do(req{method: "GET", path: "/v1/lists/entries", key: co}); len(r.Body["items"].([]any)) != 0 {
		t.Errorf("a refused import left entries: %s", r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/lists/imports", key: reg, body: good, contentType: "application/json"}); r.Status != 415 {
		t.Errorf("CSV sent as JSON: %d", r.Status)
	}
	// The party holds an open pledge when its document is listed.
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "发行人")
	now := *v.clock.Load()
	camp := v.must(201, req{method: "POST", path: "/v1/campaigns", key: v.keyFor(auth.Issuer, issuer), body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward",
		"pack":"CN-2015","currency":"CNY","title":"名单","risk_level":1,"target":"1000.00","hard_cap":"1000.00","fee_rate":"0.05",
		"tiers":[{"id":"t","title":"t","price":"10.00"}],"starts_at":%q,"deadline":%q}`, issuer, now.Add(-time.Minute).Format(time.RFC3339),
		now.Add(30*24*time.Hour).Format(time.RFC3339))}).str("id")
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + camp + "/submit", key: v.keyFor(auth.Issuer, issuer),
		body: `{"disclosures":[{"title":"产品说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`})
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + camp + "/approve", key: co})
	v.must(201, req{method: "POST", path: "/v1/parties/" + inv + "/deposits", key: v.key[auth.Operator], body: `{"amount":"50.00","currency":"CNY","bank_reference":"L-1"}`})
	v.must(201, req{method: "POST", path: "/v1/campaigns/" + camp + "/commitments", key: v.keyFor(auth.Investor, inv), body: `{"tier":"t","quantity":1}`})
	imp := v.must(201, req{method: "POST", path: "/v1/lists/imports", key: reg, body: good, contentType: "text/csv"})
	if imp.Body["imported"] != 2.0 {
		t.Errorf("import: %s", imp.Raw)
	}
	check := fmt.Sprintf(`{"investor_id":%q,"issuer_id":%q,"pack":"CN-2015","campaign_risk":1,"amount":"10.00","currency":"CNY"}`, inv, issuer)
	if r := v.must(200, req{method: "POST", path: "/v1/compliance/checks", key: co, body: check}); !strings.Contains(string(r.Raw), "LIST/investor-blacklisted") {
		t.Errorf("the imported entry does not block its document's owner: %s", r.Raw)
	}
	var stored int
	v.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM list_entries WHERE doc_masked = $1`, doc).Scan(&stored)
	if stored != 0 {
		t.Error("an imported document is stored in the clear")
	}
	// The export is the import format: it imports again as it is, and ends
	// with its trailer.
	exp := v.must(200, req{method: "GET", path: "/v1/lists/export", key: reg, raw: true})
	if rows, err := export.Check(exp.Raw); err != nil || rows != 2 || !strings.Contains(string(exp.Raw), doc) {
		t.Errorf("export: %d rows, %v\n%s", rows, err, exp.Raw)
	}
	flags := v.must(200, req{method: "GET", path: "/v1/review-flags", key: reg})
	if fs, _ := flags.Body["items"].([]any); len(fs) != 1 || fs[0].(map[string]any)["party_id"] != inv {
		t.Errorf("review flags: %s", flags.Raw)
	}
}
