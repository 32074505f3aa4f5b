package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestFailoverLosesNothing runs commitments and deposits against a primary
// with a synchronous standby, kills the primary with SIGKILL five times,
// promotes the standby each time (and rebuilds the other node as its
// standby), and checks that every commitment and deposit the service
// acknowledged is on the last primary exactly once, that the ledger's
// invariants hold and that the audit chain verifies. The service is given
// both hosts with target_session_attrs=read-write and finds each new
// primary by itself; clients that got no answer retry with the same key.
func TestFailoverLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts, kills and promotes a private primary and standby")
	}
	pair := newPostgresPair(t)
	bin := buildBinary(t, pair.url(), "DB_MAX_CONNS=12")
	srv := bin.serve()
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	waitReady(t, bin.base)
	b := &bencher{demoClient: &demoClient{ctx: context.Background(), base: bin.base, op: bin.key, co: bin.co, out: io.Discard, wait: time.Hour,
		http: &http.Client{Timeout: 10 * time.Second}}}
	if err := b.setup("hot", 24, 1); err != nil {
		t.Fatal(err)
	}
	campaign := b.campaigns[0]

	type ack struct {
		kind, key, id string
		sent, done    time.Time
	}
	var (
		mu    sync.Mutex
		acks  []ack
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		other = map[int]int{}
	)
	// send posts until it gets its answer: a client that got none, or a
	// 503, cannot know whether its request landed, so it retries the same
	// key, as the API asks.
	send := func(kind, path, key, body string, want int) {
		k := uuid.NewString()
		sent := time.Now()
		for attempt := 0; attempt < 3000; attempt++ {
			req, _ := http.NewRequest("POST", bin.base+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", k)
			resp, err := b.http.Do(req)
			if err == nil {
				var out obj
				json.NewDecoder(resp.Body).Decode(&out) //nolint:errcheck // a 503's problem body is not needed
				resp.Body.Close()
				if resp.StatusCode == want {
					mu.Lock()
					id := str(out, "id")
					if kind == "deposit" {
						id = str(out, "entry_id") // a deposit answers with its ledger entry
					}
					acks = append(acks, ack{kind: kind, key: k, id: id, sent: sent, done: time.Now()})
					mu.Unlock()
					return
				}
				if resp.StatusCode != http.StatusServiceUnavailable {
					mu.Lock()
					other[resp.StatusCode]++
					mu.Unlock()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("%s %s: no answer after 3000 attempts", kind, k)
	}
	for c := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				inv := b.invs[(c+i)%len(b.invs)]
				if i%5 == 4 {
					send("deposit", "/v1/parties/"+inv.id+"/deposits", bin.key, `{"amount":"1.00","currency":"CNY","bank_reference":"FAILOVER-`+uuid.NewString()[:12]+`"}`, 201)
					continue
				}
				send("commitment", "/v1/campaigns/"+campaign+"/commitments", inv.key, `{"tier":"unit","quantity":1}`, 201)
			}
		}()
	}
	var outages, promotions []time.Duration
	for kill := range 5 {
		time.Sleep(1500 * time.Millisecond)
		killed := time.Now()
		pair.killPrimary()
		pair.promote()
		promotions = append(promotions, time.Since(killed).Round(time.Millisecond))
		// The write outage: from the kill to the first commitment sent
		// after it that was acknowledged.
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			first := time.Time{}
			for _, a := range acks {
				if a.kind == "commitment" && a.sent.After(killed) && (first.IsZero() || a.done.Before(first)) {
					first = a.done
				}
			}
			mu.Unlock()
			if !first.IsZero() {
				outages = append(outages, first.Sub(killed).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no commitment acknowledged within a minute of the promotion", kill+1)
			}
		}
		pair.rebuildStandby()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if len(other) > 0 {
		t.Errorf("answers other than the expected and 503: %v", other)
	}

	// On the last primary: every acknowledged commitment and deposit once,
	// and nothing else.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pair.primaryURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	byKind := map[string][]string{}
	for _, a := range acks {
		byKind[a.kind] = append(byKind[a.kind], a.id)
	}
	var present, all int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE id = ANY($2::uuid[])), count(*) FROM commitments WHERE campaign_id = $1`,
		campaign, byKind["commitment"]).Scan(&present, &all); err != nil {
		t.Fatal(err)
	}
	if present != len(byKind["commitment"]) || all != len(byKind["commitment"]) {
		t.Errorf("%d commitments acknowledged; %d of them on the new primary, which holds %d", len(byKind["commitment"]), present, all)
	}
	// A deposit's answer is its ledger entry.
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM entries WHERE id = ANY($1::uuid[])`, byKind["deposit"]).Scan(&present); err != nil {
		t.Fatal(err)
	}
	if present != len(byKind["deposit"]) {
		t.Errorf("%d deposits acknowledged, %d on the new primary", len(byKind["deposit"]), present)
	}
	bin.run("check")
	// The audit chain links every event and verifies end to end.
	reg := b.demoClient
	regKey := bin.createKey("regulator", "csrc-1")
	var report obj
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		report, err = reg.call("GET", "/v1/audit/verify", regKey, nil, 200)
		if err == nil && report["ok"] == true {
			var unchained int
			conn.QueryRow(ctx, `SELECT count(*) FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq)`).Scan(&unchained)
			if unchained == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit chain does not verify after the failovers: %v %v", err, report)
		}
	}
	t.Logf("%d commitments and %d deposits acknowledged over 5 primary kills, none lost or doubled; audit chain of %v links verified; write outage per kill (kill to first new commitment acknowledged): %v, of which the kill and promotion took %v",
		len(byKind["commitment"]), len(byKind["deposit"]), report["links_checked"], outages, promotions)
}
