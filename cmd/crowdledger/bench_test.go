package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/pgtest"
)

func TestParseCPULine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want cpuTimes
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"cpu  1000 0 500 8000 100 0 100 300 0 0", cpuTimes{busy: 16, idle: 81, steal: 3, total: 100}},
		{"cpu0 1 2 3 4 5 6 7 8", cpuTimes{}},
		{"cpu 1 2 3", cpuTimes{}},
		{"", cpuTimes{}},
	} {
		if got := parseCPULine(tc.line); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// TestBenchRun runs a short hot scenario against the real binary: every
// commitment answered, and the figures the table prints come from the
// service (its peak RSS and CPU, read from /metrics at the end as well as
// with the progress lines, so a run shorter than one progress interval
// still has them).
func TestBenchRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service")
	}
	db := pgtest.NewDB(t)
	bin := buildBinary(t, db.URL)
	srv := bin.serve()
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	waitReady(t, bin.base)
	b := &bencher{demoClient: &demoClient{ctx: context.Background(), base: bin.base, op: bin.key, co: bin.co, out: &bytes.Buffer{}, wait: time.Hour,
		http: &http.Client{Timeout: 10 * time.Second}}}
	if err := b.setup("hot", 8, 1); err != nil {
		t.Fatal(err)
	}
	res := b.run("hot", 4, 2*time.Second)
	if len(res.lat) == 0 || len(res.errors) > 0 {
		t.Fatalf("%d commitments, errors %v", len(res.lat), res.errors)
	}
	if res.peakRSS <= 0 || res.svcCPU <= 0 {
		t.Errorf("peak RSS %.0f B, service CPU %.3f s: not read from /metrics", res.peakRSS, res.svcCPU)
	}
	var out bytes.Buffer
	res.print(&out)
	if !strings.Contains(out.String(), "cpu per op: service ") {
		t.Errorf("no CPU line in:\n%s", out.String())
	}

	// The command as an operator runs it: a prefill, then a settling
	// pause, then the measured run, in that order, with the database's
	// processes' CPU when the database runs on this box (as in CI).
	postmaster := postmasterOf(t, db.URL)
	out.Reset()
	err := bench(context.Background(), []string{"--url", bin.base, "--key", bin.key, "--compliance-key", bin.co, "--scenario", "hot",
		"--investors", "4", "--clients", "2", "--prefill", "10", "--settle", "300ms", "--duration", "500ms",
		"--postmaster-pid", strconv.Itoa(postmaster)}, func(string) string { return "" }, &out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	steps := []string{"prefilling 10 hot operations", "settling for 300ms", "running hot for 500ms with 2 clients", "cpu per op: service "}
	if postmaster > 0 {
		steps = append(steps, "cpu per op, database: backends ")
	}
	rest := out.String()
	for _, want := range steps {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", want, out.String())
		}
		rest = rest[i+len(want):]
	}
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		ppid int
		cpu  float64
		ok   bool
	}{
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
		{"4242 (postgres) S 9962 9962 9962 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 1 0", 9962, 2, true},
		{"77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0", 1, 0.1, true}, // a name with spaces and parentheses
		{"77 (short) R 1", 0, 0, false},
		{"no parenthesis", 0, 0, false},
	} {
		ppid, cpu, ok := parseProcStat(tc.line)
		if ppid != tc.ppid || cpu != tc.cpu || ok != tc.ok {
			t.Errorf("%q: %d %v %v, want %d %v %v", tc.line, ppid, cpu, ok, tc.ppid, tc.cpu, tc.ok)
		}
	}
}

func TestPGKind(t *testing.T) {
	for _, tc := range []struct {
		postmaster bool
		title      string
		want       string
	}{
		{true, "/usr/lib/postgresql/15/bin/postgres\x00-D\x00/data\x00", pgBackground},
		{false, "postgres: checkpointer ", pgBackground},
		{false, "postgres: walwriter ", pgBackground},
		{false, "postgres: autovacuum launcher ", pgBackground},
		{false, "postgres: autovacuum worker bench_1", pgAutovacuum},
		{false, "postgres: crowdledger_app bench_1 127.0.0.1(51234) idle", pgBackends},
		{false, "postgres: postgres postgres [local] SELECT", pgBackends},
	} {
		if got := pgKind(tc.postmaster, tc.title); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.title, got, tc.want)
		}
	}
}

// TestReadPGProcs reads a postmaster's processes from a procfs laid out
// in a directory: its children by kind, not other processes; a process
// new since the first reading counts whole.
func TestReadPGProcs(t *testing.T) {
	root := t.TempDir()
	proc := func(pid, ppid, ticks int, title string) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (postgres) S %d 1 1 0 -1 0 0 0 0 0 %d 0 0 0 20 0 1 0", pid, ppid, ticks)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(title), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc(100, 1, 10, "postgres\x00-D\x00/data\x00")
	proc(101, 100, 50, "postgres: checkpointer ")
	proc(102, 100, 200, "postgres: app db 127.0.0.1(1) idle")
	proc(300, 1, 999, "crowdledger serve") // not the database's
	before := readPGProcs(root, 100)
	if len(before) != 3 {
		t.Fatalf("read %v, want the postmaster and its two children", before)
	}
	proc(102, 100, 260, "postgres: app db 127.0.0.1(1) idle")
	proc(103, 100, 40, "postgres: autovacuum worker db")
	got := readPGProcs(root, 100).since(before)
	want := map[string]float64{pgBackends: 0.6, pgAutovacuum: 0.4, pgBackground: 0}
	for k, v := range want {
		if diff := got[k] - v; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s: %v s, want %v", k, got[k], v)
		}
	}
	if readPGProcs(root, 555) != nil || readPGProcs(root, 0) != nil {
		t.Error("a postmaster that is not there reads as something")
	}
}

// postmasterOf is the PID of the PostgreSQL serving url when it runs on
// this box (its backend's parent), or 0.
func postmasterOf(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var backend int
	if err := conn.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", backend))
	if err != nil {
		t.Logf("the database does not run on this box (%v): no database CPU line to check", err)
		return 0
	}
	ppid, _, ok := parseProcStat(string(stat))
	if !ok {
		t.Fatalf("unreadable /proc/%d/stat: %q", backend, stat)
	}
	return ppid
}
