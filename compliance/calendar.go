package compliance

import "time"

// AddBusinessDays counts Monday to Friday: the deadlines the rules give in
// business or working days (reconfirmation after a material change,
// acknowledging a complaint). Public holidays (and China's working weekends,
// 调休) are not modelled: a known simplification.
func AddBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}
