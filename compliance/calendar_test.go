package compliance

import (
	"testing"
	"time"
)

// TestBusinessDays counts business days across the holiday seasons of
// 2024-2026 in each pack's calendar: China's public holidays and the
// weekend days worked in exchange (调休), the US federal holidays, the
// TARGET2 closing days, each in its own zone.
func TestBusinessDays(t *testing.T) {
	at := func(cal Calendar, ymdhm string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", ymdhm, cal.Location)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		cal  Calendar
		from string
		n    int
		want string
		why  string
	}{
		{China, "2026-11-20 15:00", 5, "2026-11-27", "an ordinary week: Fri + 5 = next Fri"},
		{China, "2024-09-30 09:00", 5, "2024-10-12", "National Day 2024 (Oct 1-7 off), Sat Oct 12 worked in exchange"},
		{China, "2024-09-28 09:00", 1, "2024-09-29", "Sun Sep 29 2024 is a working day (调休)"},
		{China, "2025-01-24 09:00", 3, "2025-02-05", "Spring Festival 2025: Sun Jan 26 worked, Jan 28-Feb 4 off"},
		{China, "2025-09-30 09:00", 1, "2025-10-09", "National Day and Mid-Autumn 2025: Oct 1-8 off"},
		{China, "2025-09-26 09:00", 1, "2025-09-28", "Sun Sep 28 2025 is worked in exchange"},
		{China, "2026-02-13 09:00", 1, "2026-02-14", "Sat Feb 14 2026 is worked before the Spring Festival"},
		{China, "2026-09-30 09:00", 2, "2026-10-09", "National Day 2026: Oct 1-7 off"},
		{US, "2025-07-03 10:00", 1, "2025-07-07", "Independence Day 2025 (Fri)"},
		{US, "2024-11-27 10:00", 1, "2024-11-29", "Thanksgiving 2024 (Thu); the Friday after is no federal holiday"},
		{US, "2026-12-24 10:00", 1, "2026-12-28", "Christmas 2026 (Fri)"},
		{EU, "2025-04-17 10:00", 1, "2025-04-22", "Good Friday and Easter Monday 2025 (TARGET2 closed)"},
		{EU, "2024-12-24 10:00", 1, "2024-12-27", "Christmas and St Stephen's Day 2024"},
		{EU, "2026-04-30 10:00", 1, "2026-05-04", "Labour Day 2026 (Fri)"},
	} {
		got := tc.cal.AddBusinessDays(at(tc.cal, tc.from), tc.n)
		if got.Format("2006-01-02") != tc.want {
			t.Errorf("%s: %s + %d business days = %s, want %s (%s)", tc.cal.Name, tc.from, tc.n, got.Format("Mon 2006-01-02"), tc.want, tc.why)
		}
	}
	// Counted in the calendar's zone: Thursday 20:00 UTC is already Friday
	// in Beijing, so one business day later is Monday, not Friday.
	thu := time.Date(2026, 11, 19, 20, 0, 0, 0, time.UTC)
	if got := China.AddBusinessDays(thu, 1).Format("2006-01-02"); got != "2026-11-23" {
		t.Errorf("Thu 20:00 UTC + 1 business day in Beijing = %s, want 2026-11-23", got)
	}
	if !China.IsBusinessDay(time.Date(2026, 2, 14, 12, 0, 0, 0, China.Location)) || China.IsBusinessDay(time.Date(2026, 10, 5, 12, 0, 0, 0, China.Location)) {
		t.Error("IsBusinessDay disagrees with the holiday table")
	}
}
