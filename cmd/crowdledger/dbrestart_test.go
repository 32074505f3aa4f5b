package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestDatabaseImmediateRestart stops PostgreSQL with an immediate shutdown
// under load and starts it again: the service reports not ready (503s, no
// crash), recovers on its own, and every transfer it acknowledged is there.
func TestDatabaseImmediateRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and crashes a private PostgreSQL")
	}
	url, ctl := privatePostgres(t)
	bin := buildBinary(t, url)
	runBin, key, base := bin.run, bin.key, bin.base
	srv := bin.serve()
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	ready := func() int {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		r.Body.Close()
		return r.StatusCode
	}
	waitFor := func(code int, within time.Duration) time.Duration {
		t0 := time.Now()
		for ready() != code {
			if time.Since(t0) > within {
				t.Fatalf("readyz did not become %d within %s", code, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(t0)
	}
	waitFor(200, 10*time.Second)
	d := &demoClient{ctx: context.Background(), base: base, op: key, http: &http.Client{Timeout: 5 * time.Second}}
	bank, err := d.call("POST", "/v1/accounts", key, obj{"currency": "CNY", "code": "custody_bank"}, 201)
	if err != nil {
		t.Fatal(err)
	}
	esc, _ := d.call("POST", "/v1/accounts", key, obj{"currency": "CNY", "code": "campaign_escrow"}, 201)
	var mu sync.Mutex
	var acked []string
	var served5xx, retried atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A client that got no answer, or a 503, cannot know
				// whether its transfer landed: it retries the same key
				// until it is told, as the API asks clients to do.
				k := uuid.NewString()
				body := fmt.Sprintf(`{"kind":"posted","debit_account_id":%q,"credit_account_id":%q,"amount":"0.01","currency":"CNY","code":"deposit"}`,
					str(bank, "id"), str(esc, "id"))
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequest("POST", base+"/v1/transfers", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", k)
					resp, err := d.http.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == 201 {
							if attempt > 0 {
								retried.Add(1)
							}
							mu.Lock()
							acked = append(acked, k)
							mu.Unlock()
							break
						}
						if resp.StatusCode != 503 {
							if resp.StatusCode >= 500 {
								served5xx.Add(1)
							} else {
								t.Errorf("transfer %s: status %d", k, resp.StatusCode)
							}
							return
						}
					}
					if attempt > 1500 {
						t.Errorf("transfer %s: still no answer after %d attempts", k, attempt)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	ctl("-m", "immediate", "stop")
	down := waitFor(503, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if srv.ProcessState != nil {
		t.Fatal("the service exited when the database went away")
	}
	ctl("start")
	up := waitFor(200, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if served5xx.Load() > 0 {
		t.Errorf("%d answers were 5xx other than 503", served5xx.Load())
	}
	// Every transfer a client sent is acknowledged and there, exactly once.
	missing := 0
	for _, k := range acked {
		// The list filtered by the request's key: its one transfer, once.
		if page, err := d.call("GET", "/v1/transfers?idempotency_key="+k, key, nil, 200); err != nil || len(page["items"].([]any)) != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged transfers are missing after the restart", missing, len(acked))
	}
	acct, _ := d.call("GET", "/v1/accounts/"+str(esc, "id")+"/balance", key, nil, 200)
	want := fmt.Sprintf("%d.%02d", len(acked)/100, len(acked)%100)
	if got := acct["balances"].(obj)["credits_posted"]; got != want {
		t.Errorf("escrow holds %v, want %s for %d acknowledged transfers", got, want, len(acked))
	}
	t.Logf("%d transfers acknowledged (%d after retries with the same key); not ready %s after the crash, ready again %s after the restart", len(acked), retried.Load(), down.Round(time.Millisecond), up.Round(time.Millisecond))
	runBin("check")
}
