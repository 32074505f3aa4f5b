package main

import "testing"

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
