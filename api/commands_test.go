package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
)

// must sends r and fails the test unless it answers want.
func (v *env) must(want int, r req) resp {
	v.t.Helper()
	got := v.do(r)
	if got.Status != want {
		v.t.Fatalf("%s %s: %d, want %d: %s", r.method, r.path, got.Status, want, got.Raw)
	}
	return got
}

// TestEquityStoryOverHTTP drives an equity raise with a lead investor and
// followers through every command a regulator's story needs (related
// parties, qualification, amendment and reconfirmation, cancellation, early
// close, close, dividend, withdrawal), and the back office's (keys, batches,
// a rejected campaign). Every successful command here is also retried and
// conflicted by the package's replay check.
func TestEquityStoryOverHTTP(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op, co := v.key[auth.Operator], v.key[auth.Compliance]
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "高原光伏储能科技有限公司")
	issuerKey := v.keyFor(auth.Issuer, issuer)
	cousin := v.party("investor", "individual", "prc_resident_id", validID(900), "表亲")
	v.must(201, req{method: "POST", path: "/v1/parties/" + issuer + "/related-parties", key: issuerKey,
		body: fmt.Sprintf(`{"related_party_id":%q,"relation":"founder's cousin"}`, cousin)})

	limits := map[string]string{} // per investor, as the decision answered
	investor := func(n int, deposit string) (string, string) {
		p := v.party("investor", "individual", "prc_resident_id", validID(n), fmt.Sprint("投资人", n))
		q := v.must(201, req{method: "POST", path: "/v1/parties/" + p + "/qualification", key: co,
			body: `{"pack":"CN-2015","profile":{"entity":"individual","financial_assets":"2000000.00","risk_answers":[4,4,4,4,4],"investment_years":5,"exits":2}}`})
		limits[p] = q.str("window_limit")
		v.approveQualification(q.str("id"))
		v.must(201, req{method: "POST", path: "/v1/parties/" + p + "/deposits", key: op,
			body: fmt.Sprintf(`{"amount":%q,"currency":"CNY","bank_reference":"BANK-%d"}`, deposit, n)})
		return p, v.keyFor(auth.Investor, p)
	}
	lead, leadKey := investor(1, "300000.00")
	_, f1Key := investor(2, "600000.00")
	_, f2Key := investor(3, "300000.00")
	f3, f3Key := investor(4, "400000.00")

	now := *v.clock.Load()
	newCampaign := func(title string) string {
		r := v.must(201, req{method: "POST", path: "/v1/campaigns", key: issuerKey, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"equity","pack":"CN-2015",
			"currency":"CNY","title":%q,"risk_level":3,"target":"1000000.00","hard_cap":"1200000.00","min_ticket":"10000.00",
			"price_per_share":"100.00","fee_rate":"0.03","lead_investor_id":%q,"starts_at":%q,"deadline":%q}`,
			issuer, title, lead, now.Add(-time.Minute).Format(time.RFC3339), now.Add(60*24*time.Hour).Format(time.RFC3339))})
		id := r.str("id")
		v.must(200, req{method: "POST", path: "/v1/campaigns/" + id + "/submit", key: issuerKey,
			body: `{"disclosures":[{"title":"商业计划书","kind":"business_plan","document_hash":"` + strings.Repeat("cd", 32) + `"}]}`})
		return id
	}
	rejected := newCampaign("被退回的项目")
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + rejected + "/reject", key: co, body: `{"reason":"财务数据不完整"}`})
	cid := newCampaign("高原光伏储能 A 轮")
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/approve", key: co})

	// Every CN equity commitment acknowledges the pack's risk disclosure
	// letter by its SHA-256; without it, or with another version's, refused.
	letter := v.must(200, req{method: "GET", path: "/v1/packs/CN-2015/risk-disclosure", key: leadKey})
	ack := letter.str("sha256")
	if len(ack) != 64 || !strings.Contains(letter.str("text"), "风险") {
		t.Fatalf("risk disclosure: %s", letter.Raw)
	}
	for _, body := range []string{`{"shares":2000}`, `{"shares":2000,"risk_disclosure":"` + strings.Repeat("0", 64) + `"}`} {
		r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: leadKey, body: body})
		if r.Status != 422 || !strings.Contains(string(r.Raw), "CN-2015/risk-disclosure") {
			t.Errorf("commitment without the current letter acknowledged: %d %s", r.Status, r.Raw)
		}
	}
	commit := func(key string, shares int) resp {
		return v.must(201, req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: key,
			body: fmt.Sprintf(`{"shares":%d,"risk_disclosure":%q}`, shares, ack)})
	}
	leadC := commit(leadKey, 2000)
	if leadC.str("risk_disclosure") != ack {
		t.Errorf("the commitment does not keep the letter acknowledged: %s", leadC.Raw)
	}
	// An investor nobody qualified is refused, and the refusal is counted by rule.
	unq := v.party("investor", "individual", "prc_resident_id", validID(99), "未评估")
	v.must(201, req{method: "POST", path: "/v1/parties/" + unq + "/deposits", key: op, body: `{"amount":"50000.00","currency":"CNY","bank_reference":"BANK-UNQ"}`})
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: v.keyFor(auth.Investor, unq), body: `{"shares":100,"risk_disclosure":"` + ack + `"}`}); r.Status != 422 || r.str("code") != "compliance_refused" {
		t.Errorf("unqualified investor: %d %s", r.Status, r.Raw)
	}
	if m := v.do(req{method: "GET", path: "/metrics"}); !strings.Contains(string(m.Raw), `crowdledger_compliance_refusals_total{rule="`) {
		t.Error("/metrics does not count the refusal by rule")
	}
	f1C := commit(f1Key, 5000)
	f2C := commit(f2Key, 1000)
	f3C := commit(f3Key, 3000)
	if got := v.must(200, req{method: "POST", path: "/v1/commitments/" + f2C.str("id") + "/cancel", key: f2Key}); got.str("state") != "cancelled" {
		t.Errorf("cancel: %s", got.Raw)
	}
	// A material change: every live commitment must be reconfirmed.
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/amend", key: issuerKey, body: `{"target":"900000.00","reason":"估值调整"}`})
	for _, c := range []struct{ id, key string }{{leadC.str("id"), leadKey}, {f1C.str("id"), f1Key}, {f3C.str("id"), f3Key}} {
		v.must(200, req{method: "POST", path: "/v1/commitments/" + c.id + "/reconfirm", key: c.key})
	}
	v.advance(22 * 24 * time.Hour)
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/early-close", key: issuerKey})
	v.advance(10 * 24 * time.Hour)
	if got := v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op}); got.str("state") != "settled" {
		t.Fatalf("close: %s", got.Raw)
	}
	// The cap table: one line per holder with the commitments it is made of,
	// or only their count (commitments=false, what a page of any size asks).
	full := v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid + "/cap-table", key: issuerKey})
	brief := v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid + "/cap-table?commitments=false", key: issuerKey})
	var same func(lines, briefLines []any) int
	same = func(lines, briefLines []any) (n int) {
		if len(lines) != len(briefLines) {
			t.Fatalf("cap table: %d lines, %d without commitments", len(lines), len(briefLines))
		}
		for i := range lines {
			line, short := lines[i].(map[string]any), briefLines[i].(map[string]any)
			held, _ := line["commitments"].([]any)
			count, _ := short["commitment_count"].(float64)
			if short["commitments"] != nil || int(count) != len(held) || short["shares"] != line["shares"] {
				t.Errorf("cap-table line %v, without commitments %v", line, short)
			}
			members, _ := line["members"].([]any)
			briefMembers, _ := short["members"].([]any)
			n += len(held) + same(members, briefMembers)
		}
		return n
	}
	if n := same(full.Body["holders"].([]any), brief.Body["holders"].([]any)); n != 3 {
		t.Errorf("the cap table is made of %d commitments, want 3 (the cancelled one is not held): %s", n, full.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/campaigns/" + cid + "/cap-table?commitments=some", key: issuerKey}); r.Status != 400 || r.str("field") != "commitments" {
		t.Errorf("commitments=some: %d %s", r.Status, r.Raw)
	}
	// The proceeds reach the issuer: all of an equity raise is releasable once
	// it settled (every cancellation right had ended); an operator asks and a
	// compliance officer pays.
	rel := v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid + "/release", key: issuerKey})
	if rel.str("releasable") != rel.str("payable") || rel.str("payable") == "0.00" {
		t.Errorf("release of a settled equity raise: %s", rel.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/disbursements", key: op, body: `{"amount":"99999999.00","currency":"CNY"}`}); r.Status != 422 || r.str("code") != "over_releasable" {
		t.Errorf("over the releasable: %d %s", r.Status, r.Raw)
	}
	dis := v.must(201, req{method: "POST", path: "/v1/campaigns/" + cid + "/disbursements", key: op,
		body: fmt.Sprintf(`{"amount":%q,"currency":"CNY"}`, rel.str("releasable"))})
	if paid := v.must(200, req{method: "POST", path: "/v1/disbursements/" + dis.str("id") + "/approve", key: co}); paid.str("state") != "paid" {
		t.Errorf("disbursement: %s", paid.Raw)
	}
	if w := v.wallet(issuerKey, issuer); w != rel.str("releasable") {
		t.Errorf("issuer wallet %s after the disbursement of %s", w, rel.str("releasable"))
	}
	v.must(201, req{method: "POST", path: "/v1/parties/" + issuer + "/deposits", key: op, body: `{"amount":"10000.00","currency":"CNY","bank_reference":"ISSUER-1"}`})
	d := v.must(201, req{method: "POST", path: "/v1/campaigns/" + cid + "/distributions", key: issuerKey, body: `{"amount":"10000.00","currency":"CNY","kind":"dividend"}`})
	if len(d.Body["lines"].([]any)) == 0 {
		t.Errorf("distribution without lines: %s", d.Raw)
	}
	// A US investor under Reg CF gets a limit from their income (5% of
	// 80,000.00). The limits are stored only encrypted; the regulator's
	// report opens them.
	us := v.party("investor", "individual", "passport", "E12345678", "Alex Doe")
	q := v.must(201, req{method: "POST", path: "/v1/parties/" + us + "/qualification", key: co,
		body: `{"pack":"US-REGCF","profile":{"entity":"individual","annual_income":"80000.00","net_worth":"90000.00","risk_answers":[3,3,3,3,3]}}`})
	if limits[us] = q.str("window_limit"); limits[us] == "" {
		t.Fatalf("a Reg CF decision without a limit: %s", q.Raw)
	}
	v.approveQualification(q.str("id"))
	leadReport := v.must(200, req{method: "GET", path: "/v1/reports/investors/" + lead, key: v.key[auth.Regulator]})
	if cms := leadReport.Body["commitments"].([]any); len(cms) == 0 || cms[0].(map[string]any)["risk_disclosure"] != ack {
		t.Errorf("the investor report does not show the letter acknowledged: %s", leadReport.Raw)
	}
	for p, limit := range limits {
		rep := v.must(200, req{method: "GET", path: "/v1/reports/investors/" + p, key: v.key[auth.Regulator]})
		qs := rep.Body["qualifications"].([]any)
		if got, _ := qs[0].(map[string]any)["window_limit"].(string); got != limit {
			t.Errorf("investor %s: report shows window_limit %q, the decision said %q", p, got, limit)
		}
	}
	v.must(201, req{method: "POST", path: "/v1/parties/" + lead + "/withdrawals", key: op, body: `{"amount":"1000.00","currency":"CNY","bank_reference":"OUT-1"}`})

	// The back office: a key for a party, a batch of transfers.
	v.must(201, req{method: "POST", path: "/v1/keys", key: op, body: fmt.Sprintf(`{"role":"investor","subject":%q,"name":"app"}`, f3)})
	bank := v.createAccount("CNY", "custody_bank", false)
	w := v.createAccount("CNY", "investor_wallet", true)
	tr := func(amount string) string {
		return fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":%q,"currency":"CNY","code":"deposit"}`, bank, w, amount)
	}
	v.must(201, req{method: "POST", path: "/v1/transfer-batches", key: op, body: `{"transfers":[` + tr("1.00") + `,` + tr("2.00") + `]}`})
}

// TestRetriedMoneyCommandsApplyOnce: the double-applies a client integrator
// would hit first. A partial refund retried with its key (in sequence and as
// 50 copies at once) pays once; so does a freeze; the same key with another
// amount is a conflict.
func TestRetriedMoneyCommandsApplyOnce(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op, co, reg := v.key[auth.Operator], v.key[auth.Compliance], v.key[auth.Regulator]
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "青海高原青稞食品有限公司")
	issuerKey := v.keyFor(auth.Issuer, issuer)
	backer := v.party("investor", "individual", "prc_resident_id", validID(100), "支持者")
	backerKey := v.keyFor(auth.Investor, backer)
	v.must(201, req{method: "POST", path: "/v1/parties/" + backer + "/deposits", key: op, body: `{"amount":"1000.00","currency":"CNY","bank_reference":"B-1"}`})
	now := *v.clock.Load()
	c := v.must(201, req{method: "POST", path: "/v1/campaigns", key: issuerKey, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015","currency":"CNY","title":"青稞酒","risk_level":1,
		"target":"100.00","hard_cap":"1000.00","fee_rate":"0.05","starts_at":%q,"deadline":%q,"tiers":[{"id":"box","title":"一箱","price":"100.00"}]}`,
		issuer, now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339))})
	cid := c.str("id")
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/submit", key: issuerKey, body: `{"disclosures":[{"title":"说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`})
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/approve", key: co})
	// 50 copies of a commitment at once, through the group-commit batch:
	// one commitment, one answer, byte for byte.
	pledge := req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: backerKey, body: `{"tier":"box","quantity":3}`, idem: "pledge-1"}
	v.allAnswerAlike("pledge", v.sendCopies(pledge, 50), "201 ")
	var pledges int
	v.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM commitments`).Scan(&pledges)
	if pledges != 1 {
		t.Errorf("%d commitments from one key sent 50 times, want 1", pledges)
	}
	v.advance(31 * 24 * time.Hour)
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op})
	orders := v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid + "/orders", key: issuerKey})
	oid := orders.Body["items"].([]any)[0].(map[string]any)["id"].(string)
	v.must(200, req{method: "POST", path: "/v1/orders/" + oid + "/dispute", key: backerKey, body: `{"reason":"one bottle broken"}`})

	wallet := func() string { return v.wallet(backerKey, backer) }
	before := wallet()
	refund := req{method: "POST", path: "/v1/orders/" + oid + "/refund", key: co, body: `{"amount":"20.00","reason":"broken bottle"}`, idem: "refund-1"}
	first := v.must(200, refund)
	// 50 copies at once, after the first: all replay the same answer.
	for i, a := range v.sendCopies(refund, 50) {
		if want := "200 " + string(first.Raw); a != want {
			t.Errorf("refund copy %d answered %.200s, want %.200s", i, a, want)
		}
	}
	if got, want := wallet(), addCNY(t, before, "20.00"); got != want {
		t.Errorf("backer's wallet after a refund retried 52 times = %s, want %s", got, want)
	}
	other := refund
	other.body = `{"amount":"30.00","reason":"broken bottle"}`
	if r := v.do(other); r.Status != http.StatusConflict || r.str("code") != "idempotency_conflict" {
		t.Errorf("same key, other amount: %d %s", r.Status, r.Raw)
	}

	// 50 copies of a new freeze at once: one freeze order, one answer.
	freeze := req{method: "POST", path: "/v1/freezes", key: reg, body: fmt.Sprintf(`{"target_type":"campaign","target_id":%q,"reason":"investigation","legal_basis":"《证券法》第170条"}`, cid), idem: "freeze-1"}
	v.allAnswerAlike("freeze", v.sendCopies(freeze, 50), "201 ")
	var n int
	v.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM freezes`).Scan(&n)
	if n != 1 {
		t.Errorf("%d freeze orders stored from one key, want 1", n)
	}
}

// sendCopies sends n copies of r at once, under r's key, and returns each
// answer as "status body".
func (v *env) sendCopies(r req, n int) []string {
	var wg sync.WaitGroup
	answers := make([]string, n)
	for i := range answers {
		wg.Go(func() {
			rec := v.send(r, r.idem)
			answers[i] = fmt.Sprint(rec.Code, " ", rec.Body.String())
		})
	}
	wg.Wait()
	return answers
}

// allAnswerAlike: every copy got the first copy's answer, a success.
func (v *env) allAnswerAlike(what string, answers []string, prefix string) {
	v.t.Helper()
	for i, a := range answers {
		if a != answers[0] || !strings.HasPrefix(a, prefix) {
			v.t.Errorf("%s copy %d answered %.200s, copy 0 %.200s", what, i, a, answers[0])
		}
	}
}

// addCNY adds two CNY amounts given as strings with two decimals.
func addCNY(t *testing.T, a, b string) string {
	t.Helper()
	var ai, af, bi, bf int64
	if _, err := fmt.Sscanf(a, "%d.%d", &ai, &af); err != nil {
		t.Fatalf("amount %q: %v", a, err)
	}
	if _, err := fmt.Sscanf(b, "%d.%d", &bi, &bf); err != nil {
		t.Fatalf("amount %q: %v", b, err)
	}
	cents := ai*100 + af + bi*100 + bf
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

// TestLateDeliveryRefundRight: a backer whose order was not shipped by its
// delivery date claims their money back, from the campaign's issuer
// payable; before that date the claim is refused.
func TestLateDeliveryRefundRight(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "迟发货")
	ik := v.keyFor(auth.Issuer, issuer)
	now := *v.clock.Load()
	cid := v.must(201, req{method: "POST", path: "/v1/campaigns", key: ik, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015",
		"currency":"CNY","title":"迟发货","risk_level":1,"target":"50.00","hard_cap":"1000.00","fee_rate":"0.05",
		"tiers":[{"id":"t","title":"t","price":"50.00","delivery_by":%q}],"starts_at":%q,"deadline":%q}`, issuer,
		now.Add(40*24*time.Hour).Format(time.RFC3339), now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339))}).str("id")
	// The delivery date is kept to the second, not cut to a day.
	got := v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid, key: ik})
	if d := got.Body["tiers"].([]any)[0].(map[string]any)["delivery_by"]; d != now.Add(40*24*time.Hour).Truncate(time.Second).Format(time.RFC3339) {
		t.Errorf("delivery_by stored as %v", d)
	}
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/submit", key: ik,
		body: `{"disclosures":[{"title":"产品说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`})
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/approve", key: v.key[auth.Compliance]})
	backer := v.party("investor", "individual", "prc_resident_id", validID(777), "等货")
	bk := v.keyFor(auth.Investor, backer)
	v.must(201, req{method: "POST", path: "/v1/parties/" + backer + "/deposits", key: op, body: `{"amount":"100.00","currency":"CNY","bank_reference":"LATE-1"}`})
	v.must(201, req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: bk, body: `{"tier":"t","quantity":1}`})
	v.advance(31 * 24 * time.Hour)
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op})
	orders := v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid + "/orders", key: ik}).Body["items"].([]any)
	order := orders[0].(map[string]any)["id"].(string)
	if r := v.do(req{method: "POST", path: "/v1/orders/" + order + "/late-refund", key: bk}); r.Status != 409 || r.str("code") != "not_late" {
		t.Errorf("claimed before the delivery date: %d %s", r.Status, r.Raw)
	}
	v.advance(10 * 24 * time.Hour)
	if r := v.must(200, req{method: "POST", path: "/v1/orders/" + order + "/late-refund", key: bk}); r.str("state") != "refunded" {
		t.Errorf("late refund: %s", r.Raw)
	}
	if w := v.wallet(bk, backer); w != "100.00" {
		t.Errorf("backer's wallet after the late refund: %s", w)
	}
}
