package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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
	// pause, then the measured run, in that order.
	out.Reset()
	err := bench(context.Background(), []string{"--url", bin.base, "--key", bin.key, "--compliance-key", bin.co, "--scenario", "hot",
		"--investors", "4", "--clients", "2", "--prefill", "10", "--settle", "300ms", "--duration", "500ms"}, func(string) string { return "" }, &out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	rest := out.String()
	for _, want := range []string{"prefilling 10 hot operations", "settling for 300ms", "running hot for 500ms with 2 clients", "cpu per op: service "} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", want, out.String())
		}
		rest = rest[i+len(want):]
	}
}
