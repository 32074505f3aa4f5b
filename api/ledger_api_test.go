package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
)

func (v *env) createAccount(currency, code string, noOverdraft bool) string {
	v.t.Helper()
	r := v.do(req{method: "POST", path: "/v1/accounts", key: v.key[auth.Operator],
		body: fmt.Sprintf(`{"currency":%q,"code":%q,"owner":"test","flags":{"debits_must_not_exceed_credits":%t}}`, currency, code, noOverdraft)})
	if r.Status != http.StatusCreated {
		v.t.Fatalf("create account: %d %s", r.Status, r.Raw)
	}
	return r.str("id")
}

func (v *env) transfer(body string) resp {
	v.t.Helper()
	return v.do(req{method: "POST", path: "/v1/transfers", key: v.key[auth.Operator], body: body})
}

func (v *env) balances(id string) string {
	v.t.Helper()
	r := v.do(req{method: "GET", path: "/v1/accounts/" + id + "/balance", key: v.key[auth.Regulator]})
	if r.Status != http.StatusOK {
		v.t.Fatalf("balance: %d %s", r.Status, r.Raw)
	}
	return strings.Join([]string{r.str("balances", "debits_posted"), r.str("balances", "credits_posted"),
		r.str("balances", "debits_pending"), r.str("balances", "credits_pending")}, "/")
}

func firstTransfer(r resp) map[string]any {
	ts, _ := r.Body["transfers"].([]any)
	if len(ts) == 0 {
		return nil
	}
	m, _ := ts[0].(map[string]any)
	return m
}

// TestLedgerFlow walks the ledger API end to end: accounts, a deposit, a
// pending commitment posted in part, another voided, a reversal, reads by
// id and by key, balances now and as of the past, and paginated entries.
func TestLedgerFlow(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	bank := v.createAccount("CNY", "custody_bank", false)
	wallet := v.createAccount("CNY", "investor_wallet", true)
	escrow := v.createAccount("CNY", "campaign_escrow", true)

	dep := v.transfer(fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"1000.00","currency":"CNY","code":"deposit","metadata":{"bank_ref":"ICBC-0001"}}`, bank, wallet))
	if dep.Status != http.StatusCreated {
		t.Fatalf("deposit: %d %s", dep.Status, dep.Raw)
	}
	afterDeposit := time.Now()
	time.Sleep(10 * time.Millisecond)
	p1 := v.transfer(fmt.Sprintf(`{"kind":"pending","debit_account_id":%q,"credit_account_id":%q,"amount":"300.00","currency":"CNY","code":"commitment","timeout_seconds":3600}`, wallet, escrow))
	p2 := v.transfer(fmt.Sprintf(`{"kind":"pending","debit_account_id":%q,"credit_account_id":%q,"amount":"200.00","currency":"CNY","code":"commitment"}`, wallet, escrow))
	if p1.Status != 201 || p2.Status != 201 {
		t.Fatalf("pendings: %d %d", p1.Status, p2.Status)
	}
	if got, want := v.balances(wallet), "0.00/1000.00/500.00/0.00"; got != want {
		t.Errorf("wallet after pendings = %s, want %s", got, want)
	}
	p1id, p2id := firstTransfer(p1)["id"].(string), firstTransfer(p2)["id"].(string)
	post := v.do(req{method: "POST", path: "/v1/transfers/" + p1id + "/post", key: op, body: `{"amount":"250.5"}`})
	if post.Status != 201 || firstTransfer(post)["amount"] != "250.50" || firstTransfer(post)["pending_id"] != p1id {
		t.Fatalf("post part: %d %s", post.Status, post.Raw)
	}
	void := v.do(req{method: "POST", path: "/v1/transfers/" + p2id + "/void", key: op})
	if void.Status != 201 {
		t.Fatalf("void: %d %s", void.Status, void.Raw)
	}
	if got, want := v.balances(wallet), "250.50/1000.00/0.00/0.00"; got != want {
		t.Errorf("wallet after post and void = %s, want %s", got, want)
	}
	if got, want := v.balances(escrow), "0.00/250.50/0.00/0.00"; got != want {
		t.Errorf("escrow = %s, want %s", got, want)
	}
	depID := firstTransfer(dep)["id"].(string)
	rev := v.do(req{method: "POST", path: "/v1/transfers/" + firstTransfer(post)["id"].(string) + "/reverse", key: op})
	if rev.Status != 201 || firstTransfer(rev)["debit_account_id"] != escrow || firstTransfer(rev)["code"] != "reversal" {
		t.Fatalf("reverse: %d %s", rev.Status, rev.Raw)
	}
	if got, want := v.balances(wallet), "250.50/1250.50/0.00/0.00"; got != want {
		t.Errorf("wallet after reversal = %s, want %s", got, want)
	}

	get := v.do(req{method: "GET", path: "/v1/transfers/" + depID, key: v.key[auth.Regulator]})
	if get.Status != 200 || get.str("amount") != "1000.00" || get.Body["metadata"].(map[string]any)["bank_ref"] != "ICBC-0001" {
		t.Errorf("get transfer: %d %s", get.Status, get.Raw)
	}
	asOf := v.do(req{method: "GET", path: "/v1/accounts/" + wallet + "/balance?as_of=" + afterDeposit.UTC().Format(time.RFC3339Nano), key: op})
	if asOf.Status != 200 || asOf.str("balances", "credits_posted") != "1000.00" || asOf.str("balances", "debits_pending") != "0.00" {
		t.Errorf("balance as of: %d %s", asOf.Status, asOf.Raw)
	}
	var seen int
	cursor := ""
	for page := 0; page < 10; page++ {
		r := v.do(req{method: "GET", path: "/v1/accounts/" + wallet + "/entries?limit=2&cursor=" + cursor, key: op})
		if r.Status != 200 {
			t.Fatalf("entries: %d %s", r.Status, r.Raw)
		}
		seen += len(r.Body["items"].([]any))
		if cursor = r.str("next_cursor"); cursor == "" {
			break
		}
	}
	if seen != 6 { // deposit, 2 pendings, post, void, reversal
		t.Errorf("wallet has %d entries, want 6", seen)
	}
	acct := v.do(req{method: "GET", path: "/v1/accounts/" + wallet, key: op})
	if acct.Status != 200 || acct.str("code") != "investor_wallet" {
		t.Errorf("get account: %d %s", acct.Status, acct.Raw)
	}
}

func TestIdempotentReplayOverHTTP(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	bank := v.createAccount("USD", "custody_bank", false)
	w := v.createAccount("USD", "investor_wallet", true)
	body := fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"10.00","currency":"USD","code":"deposit"}`, bank, w)
	first := v.do(req{method: "POST", path: "/v1/transfers", key: v.key[auth.Operator], body: body, idem: "dep-1"})
	again := v.do(req{method: "POST", path: "/v1/transfers", key: v.key[auth.Operator], body: body, idem: "dep-1"})
	if first.Status != 201 || again.Status != 201 || string(first.Raw) != string(again.Raw) {
		t.Fatalf("replay differs:\n%d %s\n%d %s", first.Status, first.Raw, again.Status, again.Raw)
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed header: first %q, again %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
	other := v.do(req{method: "POST", path: "/v1/transfers", key: v.key[auth.Operator], body: strings.Replace(body, "10.00", "11.00", 1), idem: "dep-1"})
	if other.Status != http.StatusConflict || other.str("code") != "idempotency_conflict" {
		t.Errorf("key reuse: %d %s", other.Status, other.Raw)
	}
	byKey := v.do(req{method: "GET", path: "/v1/transfers?idempotency_key=dep-1", key: v.key[auth.Regulator]})
	if items, _ := byKey.Body["items"].([]any); byKey.Status != 200 || len(items) != 1 || items[0].(map[string]any)["entry_id"] != first.str("entry_id") {
		t.Errorf("by key: %d %s", byKey.Status, byKey.Raw)
	}
	if got := v.balances(w); got != "0.00/10.00/0.00/0.00" {
		t.Errorf("wallet = %s, want one deposit", got)
	}
}
