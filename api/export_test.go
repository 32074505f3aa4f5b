package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/api"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/internal/export"
)

// slowStatement serves the API from a real HTTP server whose WriteTimeout
// is 100 ms and fetches a statement that takes longer than that: the test
// holds the audit table so the statement's own audit record waits 400 ms
// before a byte of it is written.
func slowStatement(t *testing.T, exportTimeout time.Duration) (*env, []byte, error) {
	v := newEnv(t, func(d *api.Deps) { d.ExportTimeout = exportTimeout })
	bank := v.createAccount("CNY", "custody_bank", false)
	w := v.createAccount("CNY", "investor_wallet", true)
	for i := range 20 {
		v.must(201, req{method: "POST", path: "/v1/transfers", key: v.key[auth.Operator], body: fmt.Sprintf(
			`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"%d.00","currency":"CNY","code":"deposit"}`, bank, w, i+1)})
	}
	srv := httptest.NewUnstartedServer(v.e)
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	ctx := context.Background()
	tx, err := v.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE audit_events IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(400 * time.Millisecond); tx.Rollback(ctx) }()

	hr, _ := http.NewRequest("GET", srv.URL+"/v1/reports/accounts/"+w+"/statement?format=csv", nil)
	hr.Header.Set("Authorization", "Bearer "+v.key[auth.Regulator])
	res, err := srv.Client().Do(hr)
	if err != nil {
		return v, nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("statement: %d", res.StatusCode)
	}
	body, err := io.ReadAll(res.Body)
	return v, body, err
}

// TestExportOutlivesTheWriteTimeout: a long export gets its own deadline
// and arrives whole, trailer and all.
func TestExportOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	_, body, err := slowStatement(t, time.Minute)
	if err != nil {
		t.Fatalf("statement cut short: %v (%d bytes)", err, len(body))
	}
	if rows, err := export.Check(body); err != nil || rows != 20 {
		t.Fatalf("statement: %d rows, %v\n%s", rows, err, body)
	}
}

// TestCutExportIsVisible: when an export cannot finish (here its own
// deadline passes), the client sees a broken transfer, not a clean end,
// whatever it received has no valid trailer, and the service logs an error
// naming the route rather than a quiet 200.
func TestCutExportIsVisible(t *testing.T) {
	t.Parallel()
	v, body, err := slowStatement(t, 50*time.Millisecond)
	if err == nil {
		t.Errorf("the cut statement read as a whole file (%d bytes)", len(body))
	}
	if _, err := export.Check(body); err == nil {
		t.Error("the cut statement passes its trailer check")
	}
	var logged bool
	for range 50 {
		for _, e := range v.logs.FilterMessage("export cut short").All() {
			logged = logged || strings.Contains(fmt.Sprint(e.ContextMap()["path"]), "/statement")
		}
		if logged {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !logged {
		t.Error("no error logged for the cut export")
	}
}
