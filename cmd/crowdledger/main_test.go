package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"defaults", nil, true},
		{"all set", map[string]string{"DATABASE_URL": "postgres://u:secret@db/x", "LISTEN_ADDR": ":9000", "LOG_LEVEL": "debug",
			"DB_MAX_CONNS": "8", "LEDGER_WRITERS": "2", "SHUTDOWN_TIMEOUT": "5s"}, true},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, false},
		{"bad conns", map[string]string{"DB_MAX_CONNS": "0"}, false},
		{"bad duration", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, false},
		{"not postgres", map[string]string{"DATABASE_URL": "mysql://x"}, false},
		{"key=value connection string", map[string]string{"DATABASE_URL": "host=127.0.0.1 port=5432 user=crowdledger_app password=secret dbname=crowdledger sslmode=disable"}, true},
		{"listen address without a port", map[string]string{"LISTEN_ADDR": "garbage"}, false},
		{"listen address with a bad port", map[string]string{"LISTEN_ADDR": ":99999"}, false},
		{"listen address on one host", map[string]string{"LISTEN_ADDR": "127.0.0.1:8080"}, true},
		{"signing key twice", map[string]string{"AUDIT_SIGNING_KEY": "x", "AUDIT_SIGNING_KEY_FILE": "/nonexistent"}, false},
		{"pii keys twice", map[string]string{"PII_KEYS": "k1:x", "PII_KEYS_FILE": "/nonexistent"}, false},
		{"idempotency retention", map[string]string{"IDEMPOTENCY_RETENTION": "2160h"}, true},
		{"idempotency retention under 30 days", map[string]string{"IDEMPOTENCY_RETENTION": "719h"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tc.env[k] })
			if (err == nil) != tc.ok {
				t.Fatalf("loadConfig error = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				for _, f := range c.fields() {
					if strings.Contains(f.String, "secret") {
						t.Errorf("config log field %s shows the password: %s", f.Key, f.String)
					}
				}
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeLifecycle runs the real command: migrate, create a key, serve,
// put it under load, and SIGTERM it (cancel its context) mid-load. Every
// request that got an answer got a 2xx, and the ledger checks out after.
func TestServeLifecycle(t *testing.T) {
	db := pgtest.NewDB(t)
	addr := freeAddr(t)
	seed, err := audit.GenerateSeed()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": db.URL, "LISTEN_ADDR": addr, "LOG_LEVEL": "warn", "AUDIT_SIGNING_KEY": seed,
		"AUDIT_CHAIN_INTERVAL": "50ms", "PII_KEYS": "k1:" + pii.NewKey(), "PII_LOOKUP_KEY": pii.NewKey()}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"crowdledger", "migrate"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"crowdledger", "keys", "create", "--role", "operator", "--subject", "ops-1", "--name", "t"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	key := keyIn(t, out.String())

	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(srvCtx, []string{"crowdledger", "serve"}, asService(getenv, db.AppURL), &out) }()
	base := "http://" + addr
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("service did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	post := func(path, idem, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", idem)
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	id := func(r *http.Response) string {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		r.Body.Close()
		return regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(b.String())[1]
	}
	r, err := post("/v1/accounts", "bank", `{"currency":"CNY","code":"custody_bank"}`)
	if err != nil {
		t.Fatal(err)
	}
	bank := id(r)
	r, _ = post("/v1/accounts", "escrow", `{"currency":"CNY","code":"campaign_escrow"}`)
	escrow := id(r)

	var ok, refused, bad atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r, err := post("/v1/transfers", fmt.Sprintf("t-%d-%d", w, i), fmt.Sprintf(
					`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"0.01","currency":"CNY","code":"commitment"}`, bank, escrow))
				if err != nil {
					refused.Add(1) // after shutdown began: never accepted
					continue
				}
				r.Body.Close()
				if r.StatusCode == http.StatusCreated {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	stop() // what SIGTERM does through signal.NotifyContext
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if bad.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("during shutdown: %d created, %d non-2xx answers, %d refused", ok.Load(), bad.Load(), refused.Load())
	}
	t.Logf("%d created before and during shutdown, %d refused after it", ok.Load(), refused.Load())

	out.Reset()
	if err := run(ctx, []string{"crowdledger", "check"}, getenv, &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	var n int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM transfers`).Scan(&n); err != nil || n != ok.Load() {
		t.Errorf("%d transfers stored, %d acknowledged (%v)", n, ok.Load(), err)
	}
	// Every acknowledged transfer has its audit event, the chain links them
	// all (serve runs a last chainer round on shutdown), and the exported
	// chain verifies offline against the published key.
	var events int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'ledger.entry.post'`).Scan(&events); err != nil || events != ok.Load() {
		t.Errorf("%d entry events for %d acknowledged transfers (%v)", events, ok.Load(), err)
	}
	out.Reset()
	if err := run(ctx, []string{"crowdledger", "audit", "pubkey"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	pub := strings.Fields(out.String())[1]
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	f, _ := os.Create(file)
	if err := run(ctx, []string{"crowdledger", "audit", "export"}, getenv, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out.Reset()
	if err := run(ctx, []string{"crowdledger", "audit", "verify", file, "--public-key", pub}, getenv, &out); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"crowdledger", "audit", "verify", "--public-key", pub, file}, getenv, &out); err != nil {
		t.Fatalf("audit verify, flags first: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	// The same file passes the generic trailer check, and fails it cut short.
	out.Reset()
	if err := run(ctx, []string{"crowdledger", "export-check", file}, getenv, &out); err != nil || !strings.Contains(out.String(), "whole") {
		t.Errorf("export-check: %v %s", err, out.String())
	}
	whole, _ := os.ReadFile(file)
	os.WriteFile(file, whole[:len(whole)*2/3], 0o644)
	if err := run(ctx, []string{"crowdledger", "export-check", file}, getenv, &out); err == nil {
		t.Error("export-check passed a file cut short")
	}
	if err := run(ctx, []string{"crowdledger", "bogus"}, getenv, &out); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v", err)
	}
}

// TestDemo runs the demo's three stories against a real service, which
// checks every balance it expects along the way.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo waits for campaign deadlines")
	}
	db := pgtest.NewDB(t)
	addr := freeAddr(t)
	seed, _ := audit.GenerateSeed()
	env := map[string]string{"DATABASE_URL": db.URL, "LISTEN_ADDR": addr, "LOG_LEVEL": "warn", "AUDIT_SIGNING_KEY": seed,
		"PII_KEYS": "k1:" + pii.NewKey(), "PII_LOOKUP_KEY": pii.NewKey(), "PLATFORM_COOLING_OFF": "1s", "PENDING_SWEEP_INTERVAL": "200ms"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"crowdledger", "migrate"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"crowdledger", "keys", "create", "--role", "operator", "--subject", "ops-1", "--name", "demo"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	key := keyIn(t, out.String())
	out.Reset()
	if err := run(ctx, []string{"crowdledger", "keys", "create", "--role", "compliance", "--subject", "compliance-1", "--name", "demo"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	co := keyIn(t, out.String())
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(srvCtx, []string{"crowdledger", "serve"}, asService(getenv, db.AppURL), io.Discard)
	}()
	defer func() { stop(); <-done }()
	for i := 0; ; i++ {
		if r, err := http.Get("http://" + addr + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("service did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	out.Reset()
	err := run(ctx, []string{"crowdledger", "demo", "--url", "http://" + addr, "--key", key, "--compliance-key", co, "--wait", "2s"}, getenv, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	// It ends with what it made, found through the lists and the feed:
	// three campaigns, each with its URL.
	if n := regexp.MustCompile(`http://\S+/v1/campaigns/[0-9a-f-]{36}\n`).FindAllString(out.String(), -1); len(n) != 3 || !strings.Contains(out.String(), "events so far on the feed") {
		t.Errorf("the demo does not say where to look: %d campaign URLs", len(n))
	}
	out.Reset()
	if err := run(ctx, []string{"crowdledger", "check"}, getenv, &out); err != nil {
		t.Fatalf("check after the demo: %v\n%s", err, out.String())
	}
	// What `make run` then /console shows a regulator and an investor.
	checkConsole(t, "http://"+addr, db.URL, func(role, subject string) string {
		var out bytes.Buffer
		if err := run(ctx, []string{"crowdledger", "keys", "create", "--role", role, "--subject", subject, "--name", "console"}, getenv, &out); err != nil {
			t.Fatal(err)
		}
		return keyIn(t, out.String())
	})
}

// TestDockerContextLeavesSecretsOut: `make run` writes development keys to
// .secrets/ and a private database to .pgdata/; neither may be sent to a
// docker build as context.
func TestDockerContextLeavesSecretsOut(t *testing.T) {
	raw, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		ignored[strings.TrimSuffix(strings.TrimSpace(line), "/")] = true
	}
	for _, want := range []string{".secrets", ".pgdata", ".git"} {
		if !ignored[want] {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}

// asService is getenv with DATABASE_URL the service role's: serve runs as
// crowdledger_app in the tests, as `make run` runs it, so a grant the
// service lacks fails them; the administrative commands keep the owner's.
func asService(getenv func(string) string, appURL string) func(string) string {
	return func(k string) string {
		if k == "DATABASE_URL" {
			return appURL
		}
		return getenv(k)
	}
}

// TestOverPrivilegedWarning: serve warns when it runs as a superuser or a
// table owner, and says nothing as the service role.
func TestOverPrivilegedWarning(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if w, err := overPrivileged(ctx, db.Pool); err != nil || !strings.Contains(w, "crowdledger_app") {
		t.Errorf("as the owner: %q, %v", w, err)
	}
	app, err := pgx.Connect(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	if w, err := overPrivileged(ctx, app); err != nil || w != "" {
		t.Errorf("as the service role: %q, %v", w, err)
	}
}

// TestFatalIsJSON: the error that stops the process is one JSON line, like
// every other line.
func TestFatalIsJSON(t *testing.T) {
	var buf bytes.Buffer
	fatal(&buf, errors.New(`listen on :1: "denied"`))
	var line map[string]string
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["level"] != "fatal" || line["error"] != `listen on :1: "denied"` || line["time"] == "" {
		t.Errorf("fatal line %q: %v", buf.String(), err)
	}
}

// TestBindFailureIsNotListening: a port already taken stops serve with the
// reason, and no line claims it is listening.
func TestBindFailureIsNotListening(t *testing.T) {
	db := pgtest.NewDB(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	seed, _ := audit.GenerateSeed()
	env := map[string]string{"DATABASE_URL": db.AppURL, "LISTEN_ADDR": taken.Addr().String(), "AUDIT_SIGNING_KEY": seed,
		"PII_KEYS": "k1:" + pii.NewKey(), "PII_LOOKUP_KEY": pii.NewKey()}
	var logs syncBuffer
	err = run(context.Background(), []string{"crowdledger", "serve"}, func(k string) string { return env[k] }, &logs)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("serve on a taken port: %v", err)
	}
	if strings.Contains(logs.String(), `"msg":"listening"`) {
		t.Errorf("claimed to listen:\n%s", logs.String())
	}
}

// TestFirstHourCommands: every command's --help prints its usage and runs
// nothing (no migration against an unreachable database, no secret
// printed); the test identity numbers and credit codes pass their checks;
// version prints; a party key for a party that does not exist is refused.
func TestFirstHourCommands(t *testing.T) {
	nowhere := func(k string) string {
		if k == "DATABASE_URL" {
			return "postgres://nobody@127.0.0.1:1/none?sslmode=disable"
		}
		return ""
	}
	for name := range usages {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"crowdledger", name, "--help"}, nowhere, &out); err != nil || !strings.Contains(out.String(), "crowdledger "+name) {
			t.Errorf("%s --help: %v\n%s", name, err, out.String())
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"crowdledger", "keys", "pii", "--help"}, nowhere, &out); err != nil || strings.Contains(out.String(), "k1:") {
		t.Errorf("keys pii --help printed secrets or failed: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"crowdledger", "testdata", "ids"}, nowhere, &out); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		typ := compliance.PRCResidentID
		if strings.HasPrefix(line, "91") { // the credit codes; the identity numbers start 630102
			typ = compliance.PRCUSCC
		}
		if _, err := compliance.NormalizeDocument(typ, line, time.Now()); err != nil {
			t.Errorf("test id %s (%s): %v", line, typ, err)
		}
		n++
	}
	if n != 10 {
		t.Errorf("%d test ids", n)
	}
	out.Reset()
	if err := run(context.Background(), []string{"crowdledger", "version"}, nowhere, &out); err != nil || !strings.HasPrefix(out.String(), "crowdledger ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	db := pgtest.NewDB(t)
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return db.URL
		}
		return ""
	}
	if err := run(context.Background(), []string{"crowdledger", "keys", "create", "--role", "investor", "--subject", uuid.NewString()}, env, &out); err == nil || !strings.Contains(err.Error(), "no registered investor") {
		t.Errorf("a key for a party that does not exist: %v", err)
	}
}
