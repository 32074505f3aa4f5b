package compliance

import (
	"testing"
	"time"
)

func TestCoolingOffUntil(t *testing.T) {
	committed := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	deadline := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		c    CoolingOff
		want *time.Time
	}{
		{"after commit (EU 4 days)", CoolingOff{AfterCommit: 96 * time.Hour}, ptr(committed.Add(96 * time.Hour))},
		{"before deadline (US 48 h)", CoolingOff{BeforeDeadline: 48 * time.Hour}, ptr(deadline.Add(-48 * time.Hour))},
		{"none", CoolingOff{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.Until(committed, deadline)
			if (got == nil) != (tc.want == nil) || got != nil && !got.Equal(*tc.want) {
				t.Errorf("Until = %v, want %v", got, tc.want)
			}
		})
	}
}

func ptr(t time.Time) *time.Time { return &t }
