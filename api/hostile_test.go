package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/auth"
)

// TestHostileRequestsOnEveryRoute sends malformed, oversized, deeply nested,
// mistyped, unknown-field, SQL-looking and unicode-trick bodies, bad and
// foreign ids, and wrong roles to every route. Every answer must be a 4xx
// problem (never a 5xx), and the ledger's totals must not move.
func TestHostileRequestsOnEveryRoute(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	bank := v.createAccount("CNY", "custody_bank", false)
	w := v.createAccount("CNY", "investor_wallet", true)
	v.transfer(fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"10.00","currency":"CNY","code":"deposit"}`, bank, w))
	totals := func() string {
		var s string
		v.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(debits_posted),0)::text || '/' || coalesce(sum(credits_posted),0)::text || '/' ||
			coalesce(sum(debits_pending),0)::text || '/' || count(*)::text FROM accounts`).Scan(&s)
		return s
	}
	before := totals()
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	bodies := []string{
		`{"`, `[]`, `"string"`, `{"zzz_unknown":1}`, `{"amount":1e400}`, `{"amount":"-0.00","currency":"CNY"}`,
		`{"amount":"1234567890123456789012345678901234567890","currency":"CNY"}`, `{"amount":"1.00","currency":"XBT"}`,
		`{"title":"'; DROP TABLE transfers; --","summary":"' OR 1=1 --","reason":"\u202e\u0000"}`,
		`{"name":"\ud800","id":"{00000000-0000-0000-0000-000000000000}"}`, `{"reason":"a\u0000b","summary":"x\u0000","title":"\u0000"}`, `{"metadata":` + deep + `}`,
		`{"shares":-1,"quantity":1e9,"tier":"` + strings.Repeat("x", 1000) + `"}`,
		`{"x":"` + strings.Repeat("a", 70<<10) + `"}`,
	}
	someone := uuid.NewString()
	for _, rt := range v.routes {
		path := strings.ReplaceAll(strings.ReplaceAll(rt.Path, ":id", someone), ":delivery", "1")
		key := v.key[rt.Roles[0]]
		if slices.Contains([]auth.Role{auth.Investor, auth.Issuer}, rt.Roles[0]) && len(rt.Roles) > 1 {
			key = v.key[rt.Roles[1]]
		}
		var reqs []req
		hasID := strings.Contains(rt.Path, ":id")
		if hasID {
			reqs = append(reqs, req{method: rt.Method, path: strings.ReplaceAll(rt.Path, ":id", "not-a-uuid%00"), key: key})
		}
		if rt.Method == http.MethodPost {
			for _, b := range bodies {
				reqs = append(reqs, req{method: rt.Method, path: path, key: key, body: b})
			}
		} else if hasID {
			reqs = append(reqs, req{method: rt.Method, path: path + "?from=yesterday&format=pdf&cursor=%27--&limit=-5&currency=XBT", key: key})
		} else {
			// A list or report: junk parameters are refused or ignored, never a 5xx.
			if got := v.do(req{method: rt.Method, path: path + "?from=yesterday&to=%27--&format=pdf&cancel_cycles=-1&idempotency_key=%00", key: key}); got.Status >= 500 {
				t.Errorf("%s %s with junk parameters: %d", rt.Method, path, got.Status)
			}
		}
		// the wrong role for the route
		for _, r := range auth.Roles() {
			if !slices.Contains(rt.Roles, r) {
				reqs = append(reqs, req{method: rt.Method, path: path, key: v.key[r], body: map[bool]string{true: `{}`}[rt.Method == http.MethodPost]})
				break
			}
		}
		for _, r := range reqs {
			got := v.do(r)
			if got.Status < 400 || got.Status >= 500 {
				t.Errorf("%s %s with %.60q: status %d: %.200s", r.method, r.path, r.body, got.Status, got.Raw)
			}
		}
	}
	if after := totals(); after != before {
		t.Errorf("hostile requests moved money: %s -> %s", before, after)
	}
}
