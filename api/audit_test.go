package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
)

// TestAuditTrailOverHTTP: ledger commands leave attributed events, the
// regulator verifies and exports the chain, and those reads are audited too.
func TestAuditTrailOverHTTP(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	bank := v.createAccount("CNY", "custody_bank", false)
	w := v.createAccount("CNY", "investor_wallet", true)
	v.transfer(fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"8.00","currency":"CNY","code":"deposit"}`, bank, w))
	ctx := context.Background()
	// Chainer rounds link what has committed; other databases' transactions
	// on the same server (parallel tests) can hold the horizon back a moment.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := v.trail.Link(ctx); err != nil {
			t.Fatal(err)
		}
		var left int
		v.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq)`).Scan(&left)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still unlinked", left)
		}
	}
	var role, action, rid string
	if err := v.db.Pool.QueryRow(ctx, `SELECT actor_role, action, request_id FROM audit_events WHERE action = 'ledger.entry.post'`).Scan(&role, &action, &rid); err != nil {
		t.Fatal(err)
	}
	if role != "operator" || rid == "" {
		t.Errorf("entry event attributed to role %q, request %q", role, rid)
	}
	keys := v.do(req{method: "GET", path: "/v1/audit/public-keys"})
	if keys.Status != 200 || !strings.Contains(string(keys.Raw), v.trail.PublicKeys()[0].Encoded()) {
		t.Fatalf("public keys: %d %s", keys.Status, keys.Raw)
	}
	rep := v.do(req{method: "GET", path: "/v1/audit/verify", key: v.key[auth.Regulator]})
	if rep.Status != 200 || rep.Body["ok"] != true || rep.Body["links_checked"].(float64) < 3 {
		t.Fatalf("verify: %d %s", rep.Status, rep.Raw)
	}
	exp := v.do(req{method: "GET", path: "/v1/audit/export?from_pos=1", key: v.key[auth.Regulator]})
	if exp.Status != 200 {
		t.Fatalf("export: %d", exp.Status)
	}
	offline, err := audit.VerifyExport(strings.NewReader(string(exp.Raw)), v.trail.PublicKeys())
	if err != nil || !offline.OK {
		t.Fatalf("offline verify of the HTTP export: %+v, %v", offline, err)
	}
	for _, r := range []req{
		{method: "GET", path: "/v1/audit/verify", key: v.key[auth.Operator]},
		{method: "GET", path: "/v1/audit/export", key: v.key[auth.Investor]},
	} {
		if got := v.do(r); got.Status != 403 {
			t.Errorf("%s as non-regulator: %d", r.path, got.Status)
		}
	}
	if got := v.do(req{method: "GET", path: "/v1/audit/verify?from_pos=5&to_pos=2", key: v.key[auth.Regulator]}); got.Status != 400 || got.str("field") != "to_pos" {
		t.Errorf("bad range: %d %s", got.Status, got.Raw)
	}
	var reads int
	v.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action IN ('audit.verify', 'audit.export') AND actor_role = 'regulator'`).Scan(&reads)
	if reads < 2 {
		t.Errorf("%d audited regulator reads, want at least 2", reads)
	}
}
