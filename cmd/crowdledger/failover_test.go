package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// pgPair is a primary and a synchronous standby started from the installed
// PostgreSQL binaries on free ports: PostgreSQL's own streaming replication,
// as a production pair would run it (there under a manager such as
// Patroni; here the test kills, promotes and rebuilds by hand).
type pgPair struct {
	t       *testing.T
	bin     string
	root    string
	as      []string // runuser -u postgres, when the test runs as root
	nodes   [2]pgNode
	primary int
}

type pgNode struct {
	data string
	port int
}

func newPostgresPair(t *testing.T) *pgPair {
	t.Helper()
	p := newPostgresNode(t)
	p.rebuildStandby()
	return p
}

// newPostgresNode is the pair's first node alone, initialised and started.
func newPostgresNode(t *testing.T, settings ...string) *pgPair {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Skip("no PostgreSQL server binaries to start a private primary and standby")
	}
	root, err := os.MkdirTemp("", "crowdledger-pair-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	p := &pgPair{t: t, bin: dirs[len(dirs)-1], root: root}
	if os.Geteuid() == 0 { // initdb refuses root
		if _, err := user.Lookup("postgres"); err != nil {
			t.Skip("running as root without a postgres user")
		}
		exec.Command("chown", "postgres", root).Run()
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	for i := range p.nodes {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		p.nodes[i] = pgNode{data: filepath.Join(root, fmt.Sprint("node", i)), port: l.Addr().(*net.TCPAddr).Port}
		l.Close()
	}
	t.Cleanup(func() {
		for i := range p.nodes {
			p.cmd(p.bin+"/pg_ctl", "-D", p.nodes[i].data, "-m", "immediate", "stop").Run()
		}
		os.RemoveAll(root)
	})
	p.run(p.bin+"/initdb", "-D", p.nodes[0].data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
	p.configure(0, settings...)
	p.start(0)
	return p
}

// configure appends settings (name = 'value' lines) to node i's
// postgresql.auto.conf, which the server reads at start.
func (p *pgPair) configure(i int, settings ...string) {
	p.t.Helper()
	if len(settings) == 0 {
		return
	}
	f, err := os.OpenFile(filepath.Join(p.nodes[i].data, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(settings, "\n") + "\n"); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pgPair) cmd(args ...string) *exec.Cmd {
	full := append(append([]string{}, p.as...), args...)
	return exec.Command(full[0], full[1:]...)
}

func (p *pgPair) run(args ...string) string {
	p.t.Helper()
	out, err := p.cmd(args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start starts node i. Every node is configured as either role may need:
// replication slots and senders for when it is the primary, hot standby
// for when it follows.
func (p *pgPair) start(i int) {
	p.t.Helper()
	n := p.nodes[i]
	p.run(p.bin+"/pg_ctl", "-D", n.data, "-w", "-l", n.data+".log", "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 "+
		"-c wal_level=replica -c max_wal_senders=5 -c hot_standby=on -c synchronous_commit=on -c wal_keep_size=512MB -c fsync=on -c wal_retrieve_retry_interval=200ms", n.port, p.root), "start")
}

// sql runs a statement on node i as the superuser and returns its output.
func (p *pgPair) sql(i int, stmt string) string {
	p.t.Helper()
	return strings.TrimSpace(p.run(p.bin+"/psql", "-h", "127.0.0.1", "-p", strconv.Itoa(p.nodes[i].port), "-U", "postgres", "-d", "postgres", "-Atc", stmt))
}

// url is the multi-host URL the service is given: it connects to whichever
// node accepts writes, so after a promotion it finds the new primary.
func (p *pgPair) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write",
		p.nodes[0].port, p.nodes[1].port)
}

// primaryURL is the current primary alone.
func (p *pgPair) primaryURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.nodes[p.primary].port)
}

// killPrimary kills the primary's postmaster with SIGKILL, as a machine
// that dies would stop it, and waits for its backends to go.
func (p *pgPair) killPrimary() {
	p.t.Helper()
	n := p.nodes[p.primary]
	raw, err := os.ReadFile(filepath.Join(n.data, "postmaster.pid"))
	if err != nil {
		p.t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	// The backends notice their postmaster's death and exit; the port is
	// free once they have.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port)); err != nil {
			break
		} else {
			c.Close()
		}
		if time.Now().After(deadline) {
			p.t.Fatal("the killed primary's port is still open")
		}
	}
}

// promote makes the standby the primary.
func (p *pgPair) promote() {
	p.t.Helper()
	p.primary = 1 - p.primary
	p.run(p.bin+"/pg_ctl", "-D", p.nodes[p.primary].data, "-w", "promote")
}

// rebuildStandby makes the other node a fresh standby of the primary (a
// base backup streamed from it) and then makes the primary wait for it on
// every commit: synchronous_standby_names, so no commit the service
// acknowledges exists on one machine only.
func (p *pgPair) rebuildStandby() {
	p.t.Helper()
	s := 1 - p.primary
	n := p.nodes[s]
	p.cmd(p.bin+"/pg_ctl", "-D", n.data, "-m", "immediate", "stop").Run()
	p.run("rm", "-rf", n.data)
	p.run(p.bin+"/pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.nodes[p.primary].port), "-U", "postgres", "-D", n.data, "-X", "stream", "-R", "-c", "fast")
	// The standby's copy of the settings must not make it wait for a
	// standby of its own once it is promoted: that is set when it has one.
	p.run("sed", "-i", "/synchronous_standby_names/d", filepath.Join(n.data, "postgresql.auto.conf"))
	p.start(s)
	p.sql(p.primary, `ALTER SYSTEM SET synchronous_standby_names = '*'`)
	p.sql(p.primary, `SELECT pg_reload_conf()`)
	for deadline := time.Now().Add(30 * time.Second); p.sql(p.primary, `SELECT coalesce(string_agg(sync_state, ','), '') FROM pg_stat_replication`) != "sync"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatal("the standby did not become synchronous")
		}
	}
}

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
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(bin.base + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not become ready")
		}
	}
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
	regKey := keyFromOutput(t, bin.run("keys", "create", "--role", "regulator", "--subject", "csrc-1", "--name", "failover"))
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

func keyFromOutput(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "key:"); ok {
			return strings.TrimSpace(k)
		}
	}
	t.Fatalf("no key in %q", out)
	return ""
}
