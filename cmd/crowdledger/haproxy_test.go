package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestHAProxyRoutesByCampaign runs the committed deploy/haproxy/haproxy.cfg
// in front of three stand-in processes: every request about one campaign
// (its commitments, its reads) reaches the same process, different
// campaigns are spread over all three, and a process that stops answering
// its health check loses its campaigns to the others.
func TestHAProxyRoutesByCampaign(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("REQUIRE_DB") == "1" {
			t.Fatal("haproxy not found: make tools installs Debian's haproxy")
		}
		t.Skip("haproxy not found")
	}
	var mu sync.Mutex
	seen := map[string]map[int]bool{} // campaign -> processes that got it
	down := make([]bool, 3)
	env := []string{}
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Path == "/readyz" {
				if down[i] {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
				return
			}
			parts := strings.Split(r.URL.Path, "/") // "", v1, campaigns, {id}, ...
			if seen[parts[3]] == nil {
				seen[parts[3]] = map[int]bool{}
			}
			seen[parts[3]][i] = true
		}))
		defer srv.Close()
		env = append(env, fmt.Sprintf("CROWDLEDGER_%d=%s", i+1, strings.TrimPrefix(srv.URL, "http://")))
	}
	listen := freeAddr(t)
	cmd := exec.Command(haproxy, "-f", "../../deploy/haproxy/haproxy.cfg", "-db")
	cmd.Env = append(append(os.Environ(), env...), "CROWDLEDGER_LISTEN="+listen)
	check := exec.Command(haproxy, "-c", "-f", "../../deploy/haproxy/haproxy.cfg")
	check.Env = cmd.Env
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	send := func(campaign string, n int) {
		t.Helper()
		for i := range n {
			path := "/v1/campaigns/" + campaign + "/commitments"
			if i%2 == 1 {
				path = "/v1/campaigns/" + campaign
			}
			var r *http.Response
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if r, err = http.Post("http://"+listen+path, "application/json", nil); err == nil && r.StatusCode == 200 {
					r.Body.Close()
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("through haproxy: %v", err)
				}
			}
		}
	}
	time.Sleep(3500 * time.Millisecond) // the health checks pass (rise 2, every second)
	campaigns := make([]string, 30)
	for i := range campaigns {
		campaigns[i] = uuid.NewString()
		send(campaigns[i], 6)
	}
	used := map[int]bool{}
	mu.Lock()
	for _, c := range campaigns {
		if len(seen[c]) != 1 {
			t.Errorf("campaign %s reached %d processes", c, len(seen[c]))
		}
		for p := range seen[c] {
			used[p] = true
		}
	}
	// Process 0 fails its health check: its campaigns move, the rest stay.
	down[0] = true
	mu.Unlock()
	if len(used) != 3 {
		t.Errorf("30 campaigns reached %d of 3 processes", len(used))
	}
	// Wait until HAProxy has taken process 0 out (fall 2, a check a second):
	// a campaign it served goes elsewhere.
	var moved string
	mu.Lock()
	for _, c := range campaigns {
		if seen[c][0] {
			moved = c
		}
	}
	mu.Unlock()
	for deadline := time.Now().Add(15 * time.Second); moved != ""; time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		seen[moved] = nil
		mu.Unlock()
		send(moved, 1)
		mu.Lock()
		gone := !seen[moved][0]
		mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("HAProxy kept sending to a process failing its health check")
		}
	}
	mu.Lock()
	before := map[string]int{}
	for _, c := range campaigns {
		for p := range seen[c] {
			before[c] = p
		}
		seen[c] = nil
	}
	mu.Unlock()
	for _, c := range campaigns {
		send(c, 2)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range campaigns {
		if seen[c][0] || len(seen[c]) != 1 {
			t.Errorf("campaign %s after process 0 went down: %v", c, seen[c])
		}
		if before[c] != 0 && !seen[c][before[c]] {
			t.Errorf("campaign %s moved from a healthy process %d: %v", c, before[c], seen[c])
		}
	}
}
