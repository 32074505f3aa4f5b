package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/pgtest"
)

// TestKillNineUnderLoad runs the real binary under a commitment load and
// kills it with SIGKILL at random moments, 20 times, restarting it each
// time. Clients retry every request that got no answer with the same
// idempotency key. At the end: every commitment that got a 2xx exists
// exactly once, no retried one exists twice, nothing exists that nobody
// asked for, the ledger's invariants hold and the audit chain verifies;
// and a webhook receiver subscribed before the load has received every
// event of the feed after its subscription, as the feed shows it, signed.
func TestKillNineUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the service 20 times")
	}
	db := pgtest.NewDB(t)
	bin := buildBinary(t, db.URL, "AUDIT_CHAIN_INTERVAL=100ms", "WEBHOOK_TIMEOUT=2s")
	runBin, key, base := bin.run, bin.key, bin.base
	var srv *exec.Cmd
	start := func() {
		srv = bin.serve()
		for i := 0; ; i++ {
			if r, err := http.Get(base + "/readyz"); err == nil && r.StatusCode == 200 {
				r.Body.Close()
				return
			}
			if i > 200 {
				t.Fatal("service did not become ready")
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	start()
	hook := newHookReceiver(t)
	subID := hook.subscribe(base, key)
	// Set up through the API: 20 investors with money, one live reward campaign.
	b := &bencher{demoClient: &demoClient{ctx: context.Background(), base: base, op: key, co: bin.co, out: io.Discard, wait: time.Hour,
		http: &http.Client{Timeout: 10 * time.Second}}}
	if err := b.setup("hot", 20, 1); err != nil {
		t.Fatal(err)
	}
	campaign := b.campaigns[0]
	type attempt struct {
		inv  benchInvestor
		key  string
		done bool
	}
	var mu sync.Mutex
	var all []*attempt
	client := &http.Client{Timeout: 5 * time.Second}
	commit := func(a *attempt) bool {
		req, _ := http.NewRequest("POST", base+"/v1/campaigns/"+campaign+"/commitments", strings.NewReader(`{"tier":"unit","quantity":1}`))
		req.Header.Set("Authorization", "Bearer "+a.inv.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", a.key)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode >= 500 && resp.StatusCode != 503 {
			t.Errorf("server error %d", resp.StatusCode)
		}
		return resp.StatusCode == 201
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					a := &attempt{inv: b.invs[(c*3+i)%len(b.invs)], key: uuid.NewString()}
					mu.Lock()
					all = append(all, a)
					mu.Unlock()
					ok := commit(a)
					mu.Lock()
					a.done = ok
					mu.Unlock()
					if !ok {
						return // the server is gone: stop this client until the restart
					}
				}
			}(c)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()
		close(stop)
		wg.Wait()
		start()
		// Retry everything that got no 2xx, with the same key.
		for _, a := range all {
			if !a.done {
				for try := 0; try < 3 && !a.done; try++ {
					a.done = commit(a)
				}
				if !a.done {
					t.Fatalf("retry of %s never succeeded", a.key)
				}
			}
		}
	}
	hook.waitForFeed(base, key, subID, 2*time.Minute)
	// A clean stop lets the chainer link everything.
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	var stored, distinct int
	db.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT idempotency_key) FROM commitments`).Scan(&stored, &distinct)
	if stored != len(all) || distinct != len(all) {
		t.Errorf("%d commitments stored (%d distinct keys) for %d acknowledged requests", stored, distinct, len(all))
	}
	var pending int
	db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM transfers WHERE code = 'commitment' AND kind = 'pending'`).Scan(&pending)
	if pending != len(all) {
		t.Errorf("%d pending commitment transfers for %d commitments", pending, len(all))
	}
	runBin("check")
	pub := strings.Fields(runBin("audit", "pubkey"))[1]
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(file, []byte(runBin("audit", "export")), 0o644)
	out := runBin("audit", "verify", file, "--public-key", pub)
	var unchained int
	db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq)`).Scan(&unchained)
	t.Logf("%d commitments over 20 kill -9 restarts; %s; %d events not yet chained", len(all), strings.TrimSpace(out), unchained)
}
