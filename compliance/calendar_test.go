package compliance

import (
	"testing"
	"time"
)

func TestAddBusinessDays(t *testing.T) {
	fri := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from time.Time
		n    int
		want string
	}{
		{fri, 5, "2026-11-27"},                  // Fri + 5 = next Fri
		{fri.AddDate(0, 0, 1), 5, "2026-11-27"}, // Sat + 5 = next Fri
		{fri.AddDate(0, 0, 3), 5, "2026-11-30"}, // Mon + 5 = next Mon
		{fri, 1, "2026-11-23"},
	} {
		if got := AddBusinessDays(tc.from, tc.n).Format("2006-01-02"); got != tc.want {
			t.Errorf("%s + %d business days = %s, want %s", tc.from.Format("Mon 2006-01-02"), tc.n, got, tc.want)
		}
	}
}
