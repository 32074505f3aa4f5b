package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
)

func (v *env) party(role, entity, docType, number, name string) string {
	v.t.Helper()
	r := v.do(req{method: "POST", path: "/v1/parties", key: v.key[auth.Operator], body: fmt.Sprintf(
		`{"role":%q,"entity":%q,"jurisdiction":"CN","name":%q,"document":{"type":%q,"number":%q}}`, role, entity, name, docType, number)})
	if r.Status != 201 {
		v.t.Fatalf("party: %d %s", r.Status, r.Raw)
	}
	id := r.str("id")
	if r := v.do(req{method: "POST", path: "/v1/parties/" + id + "/verification", key: v.key[auth.Compliance], body: `{"status":"verified","method":"video-kyc"}`}); r.Status != 200 {
		v.t.Fatalf("verify: %d %s", r.Status, r.Raw)
	}
	return id
}

func (v *env) wallet(key, party string) string {
	v.t.Helper()
	r := v.do(req{method: "GET", path: "/v1/parties/" + party + "/wallet?currency=CNY", key: key})
	if r.Status != 200 {
		v.t.Fatalf("wallet: %d %s", r.Status, r.Raw)
	}
	return r.str("available")
}

// TestRewardCampaignOverHTTP: the highland-barley pre-sale story through the
// API: issuer opens and submits, compliance approves (not the creator), the
// operator credits backers from the bank, backers commit with their own
// keys, the campaign settles net of the fee, orders ship and are received.
func TestRewardCampaignOverHTTP(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op, co := v.key[auth.Operator], v.key[auth.Compliance]
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "青海高原青稞食品有限公司")
	issuerKey := v.keyFor(auth.Issuer, issuer)
	var backers, backerKeys []string
	for i := 0; i < 3; i++ {
		b := v.party("investor", "individual", "prc_resident_id", validID(100+i), fmt.Sprint("支持者", i))
		backers = append(backers, b)
		backerKeys = append(backerKeys, v.keyFor(auth.Investor, b))
		if r := v.do(req{method: "POST", path: "/v1/parties/" + b + "/deposits", key: op, body: fmt.Sprintf(`{"amount":"500.00","currency":"CNY","bank_reference":"ICBC-%d"}`, i)}); r.Status != 201 {
			t.Fatalf("deposit: %d %s", r.Status, r.Raw)
		}
	}
	// The same bank movement reported twice is credited once.
	if r := v.do(req{method: "POST", path: "/v1/parties/" + backers[0] + "/deposits", key: op, body: `{"amount":"500.00","currency":"CNY","bank_reference":"ICBC-0"}`}); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeated bank reference: %d %v", r.Status, r.Header)
	}
	now := v.clock.Load()
	body := fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015","currency":"CNY","title":"青稞挂面预售","risk_level":1,
		"target":"600.00","hard_cap":"1500.00","fee_rate":"0.05","starts_at":%q,"deadline":%q,
		"tiers":[{"id":"box","title":"一箱","price":"99.00","quantity_limit":10},{"id":"gift","title":"礼盒","price":"199.00"}]}`,
		issuer, now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339))
	r := v.do(req{method: "POST", path: "/v1/campaigns", key: issuerKey, body: body})
	if r.Status != 201 || r.str("state") != "draft" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	cid := r.str("id")
	payable, escrow := r.str("payable_account_id"), r.str("escrow_account_id")
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/submit", key: issuerKey, body: `{"disclosures":[{"title":"产品说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`}); r.Status != 200 || r.str("state") != "submitted" {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/approve", key: op}); r.Status != 403 {
		t.Errorf("operator approving: %d", r.Status)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/approve", key: co}); r.Status != 200 || r.str("state") != "live" {
		t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/approve", key: co}); r.Status != 409 || r.str("code") != "illegal_transition" {
		t.Errorf("approving twice: %d %s", r.Status, r.Raw)
	}
	var commitments []string
	for i, k := range backerKeys {
		r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: k, body: `{"tier":"gift","quantity":1}`, idem: fmt.Sprint("c", i)})
		if r.Status != 201 || r.str("amount") != "199.00" || r.str("role") != "backer" {
			t.Fatalf("commit %d: %d %s", i, r.Status, r.Raw)
		}
		commitments = append(commitments, r.str("id"))
	}
	// Keys are scoped per investor: the same Idempotency-Key from another investor is their own request.
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: backerKeys[0], body: `{"tier":"gift","quantity":1}`, idem: "c0"}); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retried commitment: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: backerKeys[0], body: fmt.Sprintf(`{"investor_id":%q,"tier":"box","quantity":1}`, backers[1])}); r.Status != 403 {
		t.Errorf("committing for someone else: %d", r.Status)
	}
	if r := v.do(req{method: "GET", path: "/v1/commitments/" + commitments[1], key: backerKeys[0]}); r.Status != 404 {
		t.Errorf("reading someone else's commitment: %d", r.Status)
	}
	otherIssuer := v.keyFor(auth.Issuer, v.party("issuer", "institution", "other", "OTHER-0001", "别家公司"))
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/early-close", key: otherIssuer}); r.Status != 404 {
		t.Errorf("another issuer closing the campaign: %d", r.Status)
	}
	if got := v.wallet(backerKeys[2], backers[2]); got != "301.00" {
		t.Errorf("backer available = %s", got)
	}
	c := v.do(req{method: "GET", path: "/v1/campaigns/" + cid, key: backerKeys[0]})
	if c.str("committed") != "597.00" || c.str("percent_of_target") != "99.50" {
		t.Errorf("progress: %s", c.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op}); r.Status != 409 || r.str("code") != "not_due" {
		t.Errorf("closing early: %d %s", r.Status, r.Raw)
	}
	r = v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: v.keyFor(auth.Investor, v.party("investor", "individual", "prc_resident_id", validID(200), "晚到者")), body: `{"tier":"box","quantity":1}`})
	if r.Status != 422 || r.str("code") != "no_wallet" {
		t.Errorf("commitment with no wallet: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: backerKeys[1], body: `{"tier":"nope","quantity":1}`}); r.Status != 422 || r.str("field") != "tier" {
		t.Errorf("unknown tier: %d %s", r.Status, r.Raw)
	}
	// One more box brings it to 696.00, over the target; then the deadline passes.
	b4 := v.party("investor", "individual", "prc_resident_id", validID(300), "第四位")
	v.do(req{method: "POST", path: "/v1/parties/" + b4 + "/deposits", key: op, body: `{"amount":"99.00","currency":"CNY","bank_reference":"ICBC-4"}`})
	b4key := v.keyFor(auth.Investor, b4)
	if r := v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: b4key, body: `{"tier":"box","quantity":1}`}); r.Status != 201 {
		t.Fatalf("fourth backer: %d %s", r.Status, r.Raw)
	}
	v.advance(31 * 24 * time.Hour)
	r = v.do(req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op})
	if r.Status != 200 || r.str("state") != "settled" {
		t.Fatalf("close: %d %s", r.Status, r.Raw)
	}
	// 696.00 raised, 5% fee = 34.80, issuer gets 661.20.
	if b := v.balances(payable); b != "0.00/661.20/0.00/0.00" {
		t.Errorf("issuer payable = %s", b)
	}
	if b := v.balances(escrow); b != "696.00/696.00/0.00/0.00" {
		t.Errorf("escrow = %s", b)
	}
	orders := v.do(req{method: "GET", path: "/v1/campaigns/" + cid + "/orders", key: issuerKey})
	list := orders.Body["items"].([]any)
	if orders.Status != 200 || len(list) != 4 {
		t.Fatalf("orders: %d %s", orders.Status, orders.Raw)
	}
	first := list[0].(map[string]any)
	oid, backer := first["id"].(string), first["backer_id"].(string)
	if r := v.do(req{method: "POST", path: "/v1/orders/" + oid + "/ship", key: issuerKey, body: `{"carrier":"顺丰","tracking":"SF100"}`}); r.Status != 200 || r.str("state") != "shipped" {
		t.Fatalf("ship: %d %s", r.Status, r.Raw)
	}
	var bk string
	for i, b := range append(backers, b4) {
		if b == backer {
			bk = append(backerKeys, b4key)[i]
		}
	}
	if r := v.do(req{method: "POST", path: "/v1/orders/" + oid + "/confirm", key: bk}); r.Status != 200 || r.str("state") != "received" {
		t.Errorf("confirm: %d %s", r.Status, r.Raw)
	}
	// The regulator's reports: the campaign's flows agree with the ledger.
	rep := v.do(req{method: "GET", path: "/v1/reports/campaigns/" + cid, key: v.key[auth.Regulator]})
	if rep.Status != 200 || rep.str("committed") != "696.00" || len(rep.Body["inflows"].([]any)) != 4 || len(rep.Body["outflows"].([]any)) != 2 {
		t.Errorf("campaign report: %d %s", rep.Status, rep.Raw)
	}
	if esc := rep.Body["escrow"].(map[string]any); esc["credits_posted"] != "696.00" || esc["closing_balance"] != "0.00" {
		t.Errorf("escrow in the report: %v", esc)
	}
	if r := v.do(req{method: "GET", path: "/v1/reports/campaigns/" + cid + "?format=csv", key: v.key[auth.Regulator], raw: true}); r.Status != 200 || !strings.HasPrefix(string(r.Raw), "\ufeffflow,") {
		t.Errorf("campaign csv: %d %q", r.Status, r.Raw)
	}
	var payoutID string
	v.db.Pool.QueryRow(t.Context(), `SELECT id FROM transfers WHERE code = 'issuer_payout'`).Scan(&payoutID)
	prov := v.do(req{method: "GET", path: "/v1/reports/payouts/" + payoutID + "/provenance", key: v.key[auth.Regulator]})
	if prov.Status != 200 || len(prov.Body["commitments"].([]any)) != 4 || prov.str("raised") != "696.00" {
		t.Errorf("provenance: %d %s", prov.Status, prov.Raw)
	}
	plat := v.do(req{method: "GET", path: "/v1/reports/platform", key: v.key[auth.Regulator]})
	if ex := plat.Body["exceptions"].(map[string]any); plat.Status != 200 || ex["investors_over_limit"] != 0.0 || ex["campaigns_over_hard_cap"] != 0.0 {
		t.Errorf("platform: %d %s", plat.Status, plat.Raw)
	}
	// Amounts at the currency's scale, totals per currency.
	if tot := plat.Body["totals"].([]any); len(tot) != 1 || tot[0].(map[string]any)["raised"] != "696.00" || tot[0].(map[string]any)["fees"] != "34.80" {
		t.Errorf("platform totals: %s", plat.Raw)
	}
	for _, g := range plat.Body["by_kind_and_state"].([]any) {
		if c := g.(map[string]any)["committed"].(string); !strings.Contains(c, ".") {
			t.Errorf("committed %q without the currency's decimals", c)
		}
	}
	if r := v.do(req{method: "GET", path: "/v1/reports/investors/" + backers[0], key: v.key[auth.Regulator]}); r.Status != 200 {
		t.Errorf("investor report: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/reports/accounts/" + escrow + "/statement?format=camt053", key: v.key[auth.Regulator], raw: true}); r.Status != 200 || !strings.Contains(string(r.Raw), "camt.053.001.08") {
		t.Errorf("camt statement: %d", r.Status)
	}
	if r := v.do(req{method: "GET", path: "/v1/reports/platform", key: op}); r.Status != 403 {
		t.Errorf("operator reading regulator reports: %d", r.Status)
	}
	// Supervision: freeze the issuer, and its payable cannot be refunded from; spot checks; complaints; alerts.
	fz := v.do(req{method: "POST", path: "/v1/freezes", key: v.key[auth.Regulator], body: fmt.Sprintf(`{"target_type":"campaign","target_id":%q,"reason":"investigation","legal_basis":"《证券法》第170条"}`, cid)})
	if fz.Status != 201 {
		t.Fatalf("freeze: %d %s", fz.Status, fz.Raw)
	}
	second := list[1].(map[string]any)["id"].(string)
	if r := v.do(req{method: "POST", path: "/v1/orders/" + second + "/refund", key: co, body: `{"reason":"frozen?"}`}); r.Status != 409 || r.str("code") != "account_frozen" {
		t.Errorf("refund from a frozen campaign: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/freezes/" + fz.str("id") + "/lift", key: v.key[auth.Regulator], body: `{"reason":"cleared"}`}); r.Status != 200 {
		t.Errorf("lift: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/spot-checks", key: v.key[auth.Regulator], body: `{"seed":20261122,"k":1,"inspectors":["张","李"]}`}); r.Status != 400 {
		t.Errorf("a regulator chose the seed: %d %s", r.Status, r.Raw)
	}
	spot := v.do(req{method: "POST", path: "/v1/spot-checks", key: v.key[auth.Regulator], body: `{"k":1,"inspectors":["张","李"]}`})
	if spot.Status != 201 || spot.str("seed_commitment") == "" || spot.Body["seed"] != nil || spot.Body["salt"] != nil || spot.str("state") != "committed" {
		t.Fatalf("spot check commitment (no seed before the draw): %d %s", spot.Status, spot.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/spot-checks/" + spot.str("id") + "/publish", key: v.key[auth.Regulator], body: `{"results":"早"}`}); r.Status != 409 {
		t.Errorf("published before the draw: %d %s", r.Status, r.Raw)
	}
	drawn := v.must(200, req{method: "POST", path: "/v1/spot-checks/" + spot.str("id") + "/draw", key: v.key[auth.Regulator]})
	if drawn.str("seed") == "" || drawn.str("seed_commitment") != spot.str("seed_commitment") || len(drawn.Body["campaigns"].([]any)) != 1 {
		t.Errorf("drawn: %s", drawn.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/public/spot-checks/" + spot.str("id")}); r.Status != 404 {
		t.Errorf("unpublished spot check is public: %d", r.Status)
	}
	v.do(req{method: "POST", path: "/v1/spot-checks/" + spot.str("id") + "/publish", key: v.key[auth.Regulator], body: `{"results":"合格"}`})
	if r := v.do(req{method: "GET", path: "/v1/public/spot-checks/" + spot.str("id")}); r.Status != 200 || r.str("results") != "合格" ||
		strings.Contains(string(r.Raw), "张") || strings.Contains(string(r.Raw), "inspectors") || strings.Contains(string(r.Raw), "drawn_by") ||
		r.str("seed") != drawn.str("seed") || r.str("salt") == "" {
		t.Errorf("published spot check (the result, not the inspectors nor who drew it): %d %s", r.Status, r.Raw)
	}
	comp := v.do(req{method: "POST", path: "/v1/complaints", key: backerKeys[0], body: fmt.Sprintf(`{"against_type":"campaign","against_id":%q,"summary":"包装破损 damaged box"}`, cid)})
	if comp.Status != 201 || comp.str("state") != "received" {
		t.Fatalf("complaint: %d %s", comp.Status, comp.Raw)
	}
	if r := v.do(req{method: "POST", path: "/v1/complaints/" + comp.str("id") + "/transition", key: co, body: `{"to":"acknowledged","note":"we are looking"}`}); r.Status != 200 {
		t.Errorf("acknowledge: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/complaints", key: backerKeys[1]}); r.Status != 200 || len(r.Body["items"].([]any)) != 0 {
		t.Errorf("another backer sees complaints: %s", r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/alerts", key: v.key[auth.Regulator]}); r.Status != 200 {
		t.Errorf("alerts: %d %s", r.Status, r.Raw)
	}
	rec := v.do(req{method: "POST", path: "/v1/reconciliations", key: v.key[auth.Regulator], body: fmt.Sprintf(
		`{"currency":"CNY","bank_balance":"1599.00","as_of":%q,"statement_reference":"ICBC-STMT-001"}`, time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano))})
	if rec.Status != http.StatusOK || rec.Body["reconciled"] != true {
		t.Errorf("reconciliation: %d %s", rec.Status, rec.Raw)
	}
}
