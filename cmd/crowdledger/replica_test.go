package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/migrations"
)

// TestReadsFromReplica gives the service a streaming replica
// (READ_DATABASE_URL, READ_MAX_LAG=1s): a regulator's report is read from
// it and says what instant it is complete to; a caller's read right after
// its own write comes from the primary and sees the write; with the
// replica's replay paused past the bound, reports fall back to the primary
// (or, with READ_LAG_POLICY=refuse, answer 503 replica_behind), and come
// back to the replica once it has caught up. The metrics say where reads
// went and how far behind the replica is.
func TestReadsFromReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private primary and standby")
	}
	pair := newPostgresPair(t)
	standby := func() string {
		return pgtest.AsRole(fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pair.nodes[1-pair.primary].port), migrations.DefaultServiceRole)
	}
	bin := buildBinary(t, pair.url(), "READ_DATABASE_URL="+standby(), "READ_MAX_LAG=1s")
	srv := bin.serve()
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	waitReady(t, bin.base)
	b := &bencher{demoClient: &demoClient{ctx: context.Background(), base: bin.base, op: bin.key, co: bin.co, out: io.Discard, wait: time.Hour,
		http: &http.Client{Timeout: 10 * time.Second}}}
	if err := b.setup("hot", 4, 1); err != nil {
		t.Fatal(err)
	}
	campaign := b.campaigns[0]
	for i := range 8 {
		if _, err := b.commit(b.invs[i%4].key, campaign, obj{"tier": "unit", "quantity": 1}, 201); err != nil {
			t.Fatal(err)
		}
	}
	reg := bin.createKey("regulator", "csrc-1")
	get := func(base, key, path string) (*http.Response, obj) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var out obj
		json.NewDecoder(r.Body).Decode(&out) //nolint:errcheck // checked by the caller where it matters
		return r, out
	}
	report := func(base string) (*http.Response, obj) { return get(base, reg, "/v1/reports/campaigns/"+campaign) }

	// The setup's writes are older than the bound: the regulator's report
	// comes from the replica, complete to a recent instant, with all eight.
	time.Sleep(1500 * time.Millisecond)
	r, rep := report(bin.base)
	if r.Header.Get("Read-From") != "replica" || len(rep["inflows"].([]any)) != 8 {
		t.Fatalf("report: %s from %q with %v inflows", r.Status, r.Header.Get("Read-From"), len(rep["inflows"].([]any)))
	}
	at, err := time.Parse(time.RFC3339Nano, r.Header.Get("Complete-To"))
	if err != nil || time.Since(at) > 5*time.Second {
		t.Errorf("Complete-To %q: %v", r.Header.Get("Complete-To"), err)
	}

	// Read-your-writes: a deposit, then at once its transfer in the list.
	key := uuid.NewString()
	if _, err := b.call("POST", "/v1/parties/"+b.invs[0].id+"/deposits", bin.key, obj{"amount": "5.00", "currency": "CNY", "bank_reference": "R-" + key[:8]}, 201); err != nil {
		t.Fatal(err)
	}
	r, list := get(bin.base, bin.key, "/v1/transfers?metadata.bank_reference=R-"+key[:8])
	if r.Header.Get("Read-From") != "primary" || len(list["items"].([]any)) != 1 {
		t.Errorf("a list right after the caller's write: from %q, %d items", r.Header.Get("Read-From"), len(list["items"].([]any)))
	}

	// The replica falls behind: its replay paused while the primary moves on.
	replica := 1 - pair.primary
	pair.sql(replica, `SELECT pg_wal_replay_pause()`)
	if _, err := b.commit(b.invs[1].key, campaign, obj{"tier": "unit", "quantity": 1}, 201); err != nil {
		t.Fatal(err)
	}
	lag := func() float64 {
		_, m := getMetrics(t, bin.base)
		v, _ := strconv.ParseFloat(metricValue(m, "crowdledger_replica_lag_seconds"), 64)
		return v
	}
	for deadline := time.Now().Add(15 * time.Second); lag() <= 1; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replica's lag never passed the bound: %v", lag())
		}
	}
	r, rep = report(bin.base)
	if r.Header.Get("Read-From") != "primary" || len(rep["inflows"].([]any)) != 9 {
		t.Errorf("with the replica behind: from %q, %d inflows (want the primary's 9)", r.Header.Get("Read-From"), len(rep["inflows"].([]any)))
	}
	// The same service told to refuse instead.
	refusing := *bin
	refusing.env = append(slices.Clone(bin.env), "READ_LAG_POLICY=refuse", "LISTEN_ADDR="+freeAddr(t))
	refusing.base = "http://" + refusing.env[len(refusing.env)-1][len("LISTEN_ADDR="):]
	srv2 := refusing.serve()
	defer func() { srv2.Process.Signal(syscall.SIGTERM); srv2.Wait() }()
	waitReady(t, refusing.base)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r, body := report(refusing.base)
		if r.StatusCode == 503 && body["code"] == "replica_behind" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("READ_LAG_POLICY=refuse with the replica behind: %s %v", r.Status, body)
		}
	}

	// Caught up again: back to the replica, with the ninth.
	pair.sql(replica, `SELECT pg_wal_replay_resume()`)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r, rep = report(bin.base)
		if r.Header.Get("Read-From") == "replica" && len(rep["inflows"].([]any)) == 9 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica was not used again after catching up: from %q", r.Header.Get("Read-From"))
		}
	}
	_, m := getMetrics(t, bin.base)
	if metricValue(m, `crowdledger_replica_eligible_reads_total{pool="replica"}`) == "" || metricValue(m, `crowdledger_replica_eligible_reads_total{pool="primary"}`) == "" {
		t.Errorf("reads by pool missing from /metrics")
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(base + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not become ready")
		}
	}
}

func getMetrics(t *testing.T, base string) (int, string) {
	t.Helper()
	r, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// metricValue is a sample's value in a Prometheus text exposition ("" when
// absent).
func metricValue(exposition, sample string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}
