package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/auth"
)

// TestFundFlowsReconcile: a campaign's fund flows follow its money through
// a cancellation, settlement (fee and payout) and an after-sales refund
// from the payable (the platform returning its fee), and each of its
// accounts' flows in less out is the balance the ledger keeps for it. Who
// may read them: staff, regulators and the campaign's own issuer.
func TestFundFlowsReconcile(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op, co, reg := v.key[auth.Operator], v.key[auth.Compliance], v.key[auth.Regulator]
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "青海高原青稞食品有限公司")
	ik := v.keyFor(auth.Issuer, issuer)
	cid := v.liveRewardCampaign(ik, issuer, "资金流", "300.00", "9000.00", "99.50")
	var commitments, keys []string
	for i := range 3 {
		b := v.party("investor", "individual", "prc_resident_id", validID(800+i), fmt.Sprint("资金", i))
		v.must(201, req{method: "POST", path: "/v1/parties/" + b + "/deposits", key: op, body: fmt.Sprintf(`{"amount":"500.00","currency":"CNY","bank_reference":"F-%d"}`, i)})
		k := v.keyFor(auth.Investor, b)
		keys = append(keys, k)
		commitments = append(commitments, v.must(201, req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: k, body: `{"tier":"box","quantity":2}`}).str("id"))
	}
	v.must(200, req{method: "POST", path: "/v1/commitments/" + commitments[1] + "/cancel", key: keys[1]})

	type link struct{ from, to, code, amount string }
	flows := func(key string) (links []link, r resp) {
		r = v.must(200, req{method: "GET", path: "/v1/campaigns/" + cid + "/fund-flows", key: key})
		for _, l := range r.Body["links"].([]any) {
			m := l.(map[string]any)
			links = append(links, link{m["from"].(string), m["to"].(string), m["code"].(string), m["amount"].(string)})
		}
		return links, r
	}
	// check compares the links and that each account reconciles with the
	// ledger's own balance route.
	check := func(stage string, want []link) {
		t.Helper()
		got, r := flows(reg)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: links\n got %v\nwant %v", stage, got, want)
		}
		for _, acct := range []string{"escrow", "payable"} {
			h := r.Body[acct].(map[string]any)
			bal := v.must(200, req{method: "GET", path: "/v1/accounts/" + h["account_id"].(string) + "/balance", key: reg})
			b := bal.Body["balances"].(map[string]any)
			ledger := subCNY(t, addCNY(t, b["credits_posted"].(string), b["credits_pending"].(string)), b["debits_posted"].(string))
			if h["reconciled"] != true || h["balance"] != ledger || subCNY(t, h["in"].(string), h["out"].(string)) != ledger {
				t.Errorf("%s: %s %v does not reconcile with the ledger's %s", stage, acct, h, ledger)
			}
		}
	}
	check("live, one cancelled", []link{{"investors", "escrow", "commitment", "597.00"}, {"escrow", "released", "release", "199.00"},
		{"escrow", "escrow_held", "held", "398.00"}})

	v.advance(31 * 24 * time.Hour)
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op})
	orders := v.must(200, req{method: "GET", path: "/v1/orders", key: keys[0]})
	oid := orders.Body["items"].([]any)[0].(map[string]any)["id"].(string)
	v.must(200, req{method: "POST", path: "/v1/orders/" + oid + "/dispute", key: keys[0], body: `{"reason":"one box broken"}`})
	v.must(200, req{method: "POST", path: "/v1/orders/" + oid + "/refund", key: co, body: `{"amount":"20.00","reason":"broken box"}`})
	// 398.00 raised: fee 19.90, payout 378.10; an after-sales refund is
	// the issuer's, all from the payable (only a late delivery's refund
	// returns the platform's fee).
	check("settled, 20.00 refunded", []link{{"investors", "escrow", "commitment", "597.00"}, {"escrow", "released", "release", "199.00"},
		{"escrow", "payable", "issuer_payout", "378.10"}, {"escrow", "platform_fee", "platform_fee", "19.90"},
		{"payable", "refunds", "refund", "20.00"}, {"payable", "payable_held", "held", "358.10"}})

	// Its timeline, a page at a time, newest first: the settlement after
	// the commitments.
	var types []string
	var last int64 = 1 << 62
	for path := "/v1/campaigns/" + cid + "/events?limit=4"; path != ""; {
		r := v.must(200, req{method: "GET", path: path, key: reg})
		for _, it := range r.Body["items"].([]any) {
			ev := it.(map[string]any)
			if seq := int64(ev["seq"].(float64)); seq >= last {
				t.Errorf("timeline not newest first: %d after %d", seq, last)
			} else {
				last = seq
			}
			types = append(types, ev["type"].(string))
		}
		path = ""
		if next := r.str("next_cursor"); next != "" {
			path = "/v1/campaigns/" + cid + "/events?limit=4&cursor=" + next
		}
	}
	if count(types, "commitment.created") != 3 || count(types, "campaign.settled") != 1 || count(types, "commitment.cancelled") != 1 {
		t.Errorf("timeline: %v", types)
	}
	if r := v.do(req{method: "GET", path: "/v1/campaigns/" + cid + "/events", key: ik}); r.Status != 403 {
		t.Errorf("an issuer reads the supervision timeline: %d", r.Status)
	}

	// The campaign's issuer reads its own; another issuer and investors do not.
	flows(ik)
	flows(op)
	other := v.keyFor(auth.Issuer, v.party("issuer", "institution", "prc_uscc", "91630100MA0000002N", "另一家公司"))
	if r := v.do(req{method: "GET", path: "/v1/campaigns/" + cid + "/fund-flows", key: other}); r.Status != 404 {
		t.Errorf("another issuer reads the fund flows: %d %s", r.Status, r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/campaigns/" + cid + "/fund-flows", key: keys[0]}); r.Status != 403 {
		t.Errorf("an investor reads the fund flows: %d %s", r.Status, r.Raw)
	}
}

// subCNY subtracts two CNY amounts given as strings with two decimals.
func subCNY(t *testing.T, a, b string) string {
	t.Helper()
	return decimal.RequireFromString(a).Sub(decimal.RequireFromString(b)).StringFixed(2)
}
