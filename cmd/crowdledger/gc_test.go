package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	t.Cleanup(func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
	for _, tc := range []struct {
		name, gogc, memlimit string
		wantPercent          int
		wantLimit            int64
	}{
		{"defaults", "", "", serveGCPercent, serveMemoryLimit},
		// The runtime applied the operator's values at start; here they are
		// set by hand, as t.Setenv comes too late for the runtime to see.
		{"operator's GOGC wins", "50", "", 50, serveMemoryLimit},
		{"operator's GOMEMLIMIT wins", "", "64MiB", serveGCPercent, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			unsetenv(t, "GOGC")
			unsetenv(t, "GOMEMLIMIT")
			if tc.gogc != "" {
				t.Setenv("GOGC", tc.gogc)
				debug.SetGCPercent(50)
			}
			if tc.memlimit != "" {
				t.Setenv("GOMEMLIMIT", tc.memlimit)
				debug.SetMemoryLimit(64 << 20)
			}
			p, l := tuneGC()
			if p != tc.wantPercent || l != tc.wantLimit {
				t.Fatalf("tuneGC() = %d, %d; want %d, %d", p, l, tc.wantPercent, tc.wantLimit)
			}
		})
	}
}

// unsetenv removes k for the test (t.Setenv can only set it).
func unsetenv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "") // registers the restore
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}
