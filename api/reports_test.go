package api_test

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/auth"
)

// csvBalance sums a campaign report's CSV: credits less debits, by its
// debit_credit column (rows with no side do not touch the escrow).
func csvBalance(t *testing.T, raw []byte) decimal.Decimal {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(raw), "\ufeff")))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(records[0], ",") != "flow,at,reference,party_or_account,code_or_state,debit_credit,amount,currency" {
		t.Fatalf("the header is not the first line: %v", records[0])
	}
	sum := decimal.Zero
	for _, rec := range records[1:] {
		if rec[0] == "# end" {
			continue
		}
		a := decimal.RequireFromString(rec[6])
		switch rec[5] {
		case "C":
			sum = sum.Add(a)
		case "D":
			sum = sum.Sub(a)
		}
	}
	return sum
}

// TestCampaignCSVAddsUp: a regulator summing the campaign report's CSV gets
// what the escrow holds, at every stage: with a commitment cancelled (its
// release is a debit row), and after the campaign failed and every hold was
// released.
func TestCampaignCSVAddsUp(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op, reg := v.key[auth.Operator], v.key[auth.Regulator]
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "青海高原青稞食品有限公司")
	ik := v.keyFor(auth.Issuer, issuer)
	cid := v.liveRewardCampaign(ik, issuer, "对账", "5000.00", "9000.00", "99.50")
	var commitments []string
	var keys []string
	for i := 0; i < 3; i++ {
		b := v.party("investor", "individual", "prc_resident_id", validID(700+i), fmt.Sprint("对账", i))
		v.must(201, req{method: "POST", path: "/v1/parties/" + b + "/deposits", key: op, body: fmt.Sprintf(`{"amount":"500.00","currency":"CNY","bank_reference":"R-%d"}`, i)})
		k := v.keyFor(auth.Investor, b)
		keys = append(keys, k)
		commitments = append(commitments, v.must(201, req{method: "POST", path: "/v1/campaigns/" + cid + "/commitments", key: k, body: `{"tier":"box","quantity":2}`}).str("id"))
	}
	v.must(200, req{method: "POST", path: "/v1/commitments/" + commitments[1] + "/cancel", key: keys[1]})
	check := func(stage, want string) {
		t.Helper()
		rep := v.must(200, req{method: "GET", path: "/v1/reports/campaigns/" + cid, key: reg})
		held := rep.Body["escrow"].(map[string]any)["closing_balance"].(string)
		r := v.do(req{method: "GET", path: "/v1/reports/campaigns/" + cid + "?format=csv", key: reg, raw: true})
		if got := csvBalance(t, r.Raw); got.StringFixed(2) != held || held != want {
			t.Errorf("%s: the CSV sums to %s, the escrow holds %s, want %s\n%s", stage, got.StringFixed(2), held, want, r.Raw)
		}
	}
	check("one of three cancelled", "398.00")
	v.advance(31 * 24 * time.Hour)
	if r := v.must(200, req{method: "POST", path: "/v1/campaigns/" + cid + "/close", key: op}); r.str("state") != "refunded" {
		t.Fatalf("close: %s", r.Raw)
	}
	check("failed and refunded", "0.00")
}
