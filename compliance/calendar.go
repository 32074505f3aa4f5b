package compliance

import (
	"time"
	_ "time/tzdata" // zones come with the binary: the image has no zone files

	"github.com/6tail/lunar-go/HolidayUtil"
	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/ecb"
	"github.com/rickar/cal/v2/us"
)

// Calendar is a jurisdiction's business days, counted in its own time
// zone: the deadlines the rules give in business or working days
// (reconfirmation after a material change, acknowledging a complaint) are
// counted in it.
type Calendar struct {
	Name      string
	Location  *time.Location
	isWorkday func(day time.Time) bool // day is a date in Location
}

// IsBusinessDay reports whether t's date, in the calendar's zone, is a
// business day.
func (c Calendar) IsBusinessDay(t time.Time) bool { return c.isWorkday(t.In(c.Location)) }

// AddBusinessDays is n business days after t, at the same time of day in
// the calendar's zone.
func (c Calendar) AddBusinessDays(t time.Time, n int) time.Time {
	u := t.In(c.Location)
	for n > 0 {
		u = u.AddDate(0, 0, 1)
		if c.isWorkday(u) {
			n--
		}
	}
	return u
}

func zone(name string) *time.Location {
	loc, err := time.LoadLocation(name) // the binary embeds the zone data (time/tzdata)
	if err != nil {
		panic("compliance: time zone " + name + ": " + err.Error())
	}
	return loc
}

// China is Asia/Shanghai with the State Council's public holidays (法定节假日)
// and the weekend days made working days in exchange (调休), from
// 6tail/lunar-go's holiday table, which follows the 国务院办公厅 notices
// (through 2026 in the version this build uses: a new year's notice
// arrives each November, and with it a new version of the table).
var China = Calendar{Name: "CN", Location: zone("Asia/Shanghai"), isWorkday: func(d time.Time) bool {
	if h := HolidayUtil.GetHoliday(d.Format("2006-01-02")); h != nil {
		return h.IsWork() // a holiday, or a weekend day worked in exchange
	}
	return weekday(d)
}}

// US is America/New_York with the federal holidays (rickar/cal/v2/us).
var US = business("US", "America/New_York", us.Holidays)

// EU is Europe/Brussels with the TARGET2 closing days the ECB publishes
// (rickar/cal/v2/ecb): the days euro payments do not settle.
var EU = business("EU", "Europe/Brussels", ecb.Holidays)

func business(name, tz string, holidays []*cal.Holiday) Calendar {
	bc := cal.NewBusinessCalendar()
	bc.AddHoliday(holidays...)
	return Calendar{Name: name, Location: zone(tz), isWorkday: func(d time.Time) bool { return bc.IsWorkday(d) }}
}

func weekday(d time.Time) bool { return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday }
