package compliance

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func mustPack(t *testing.T, id, at string) RulePack {
	t.Helper()
	p, err := Pack(id, day(at))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPackSelectionByDate(t *testing.T) {
	tests := []struct {
		id, at, version string
		ok              bool
	}{
		{"CN-2014", "2014-12-17", "", false},
		{"CN-2014", "2014-12-18", "2014-12-18", true},
		{"CN-2015", "2015-01-26", "2015-01-26", true},
		{"US-REGCF", "2016-05-15", "", false},
		{"US-REGCF", "2016-05-16", "2016-05-16", true},
		{"US-REGCF", "2017-04-04", "2016-05-16", true},
		{"US-REGCF", "2017-04-05", "2017-04-05", true},
		{"US-REGCF", "2021-03-15", "2021-03-15", true},
		{"US-REGCF", "2022-11-20", "2021-03-15", true},
		{"US-REGCF", "2026-11-22", "2022-11-21", true},
		{"EU-ECSP", "2021-11-09", "", false},
		{"EU-ECSP", "2021-11-10", "2021-11-10", true},
	}
	for _, tc := range tests {
		p, err := Pack(tc.id, day(tc.at))
		if (err == nil) != tc.ok || (tc.ok && p.Version != tc.version) {
			t.Errorf("Pack(%s, %s) = %s, %v; want version %q ok=%v", tc.id, tc.at, p.Version, err, tc.version, tc.ok)
		}
	}
	if _, err := PackVersion("US-REGCF", "2017-04-05"); err != nil {
		t.Errorf("PackVersion: %v", err)
	}
}

// TestCNThresholds: each test at, just below and just above its figure, for both versions.
func TestCNThresholds(t *testing.T) {
	type tc struct {
		name     string
		pack, at string
		prof     Profile
		want     string // category
	}
	var tests []tc
	for _, v := range []struct{ pack, at, assets, income, ticket string }{
		{"CN-2014", "2015-01-01", "3000000", "500000", "1000000"},
		{"CN-2015", "2016-01-01", "1000000", "300000", "100000"},
	} {
		below := func(s string) decimal.Decimal { return d(s).Sub(d("0.01")) }
		tests = append(tests,
			tc{"assets at", v.pack, v.at, Profile{Entity: Individual, FinancialAssets: d(v.assets)}, "qualified"},
			tc{"assets below", v.pack, v.at, Profile{Entity: Individual, FinancialAssets: below(v.assets)}, "not_qualified"},
			tc{"assets above", v.pack, v.at, Profile{Entity: Individual, FinancialAssets: d(v.assets).Add(d("0.01"))}, "qualified"},
			tc{"income at", v.pack, v.at, Profile{Entity: Individual, AnnualIncome: d(v.income)}, "qualified"},
			tc{"income below", v.pack, v.at, Profile{Entity: Individual, AnnualIncome: below(v.income)}, "not_qualified"},
			tc{"ticket at", v.pack, v.at, Profile{Entity: Individual, SingleProjectTicket: d(v.ticket)}, "qualified_single_ticket"},
			tc{"ticket below", v.pack, v.at, Profile{Entity: Individual, SingleProjectTicket: below(v.ticket)}, "not_qualified"},
			tc{"institution at", v.pack, v.at, Profile{Entity: Institution, NetAssets: d("10000000")}, "qualified"},
			tc{"institution below", v.pack, v.at, Profile{Entity: Institution, NetAssets: below("10000000")}, "not_qualified"},
			tc{"institution ticket", v.pack, v.at, Profile{Entity: Institution, SingleProjectTicket: d(v.ticket)}, "qualified_single_ticket"},
		)
	}
	for _, tc := range tests {
		t.Run(tc.pack+"/"+tc.name, func(t *testing.T) {
			p := mustPack(t, tc.pack, tc.at)
			dec := Qualify(p, tc.prof, day(tc.at))
			if dec.Category != tc.want || dec.Qualified != (tc.want != "not_qualified") {
				t.Errorf("category %s qualified=%v, want %s; reasons %+v", dec.Category, dec.Qualified, tc.want, dec.Reasons)
			}
			if dec.Pack != tc.pack || dec.PackVersion != p.Version {
				t.Errorf("decision records %s %s", dec.Pack, dec.PackVersion)
			}
			if tc.want == "qualified_single_ticket" && (dec.MinTicket == nil || dec.MinTicket.Decimal().Cmp(p.SingleProjectTicket.Value) != 0) {
				t.Errorf("min ticket %v", dec.MinTicket)
			}
		})
	}
}

// TestRegCFLimits follows 17 CFR 227.100(a)(2) for each dated version.
func TestRegCFLimits(t *testing.T) {
	tests := []struct {
		name, at      string
		income, worth string
		accredited    bool
		want          string // window limit, "" for unlimited
	}{
		// 2022 figures (greater-of).
		{"2022 low: floor", "2023-01-01", "30000", "20000", false, "2500.00"},
		{"2022 low: 5% of greater", "2023-01-01", "80000", "20000", false, "4000.00"},
		{"2022 one below threshold", "2023-01-01", "123999.99", "200000", false, "10000.00"},
		{"2022 both at threshold", "2023-01-01", "124000", "124000", false, "12400.00"},
		{"2022 high: 10% of greater", "2023-01-01", "200000", "900000", false, "90000.00"},
		{"2022 high: capped", "2023-01-01", "200000", "5000000", false, "124000.00"},
		{"2022 accredited", "2023-01-01", "0", "0", true, ""},
		// 2021 figures.
		{"2021 low floor", "2021-06-01", "10000", "10000", false, "2200.00"},
		{"2021 capped", "2021-06-01", "2000000", "2000000", false, "107000.00"},
		// 2017 (lesser-of; accredited limited too).
		{"2017 lesser of", "2018-01-01", "200000", "60000", false, "3000.00"},
		{"2017 high lesser", "2018-01-01", "500000", "200000", false, "20000.00"},
		{"2017 accredited still limited", "2018-01-01", "500000", "200000", true, "20000.00"},
		// 2016.
		{"2016 floor", "2016-06-01", "30000", "30000", false, "2000.00"},
		{"2016 cap", "2016-06-01", "5000000", "5000000", false, "100000.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPack(t, "US-REGCF", tc.at)
			dec := Qualify(p, Profile{Entity: Individual, AnnualIncome: d(tc.income), NetWorth: d(tc.worth), Accredited: tc.accredited}, day(tc.at))
			got := ""
			if dec.WindowLimit != nil {
				got = dec.WindowLimit.String()
			}
			if got != tc.want || !dec.Qualified {
				t.Errorf("limit %q (qualified %v), want %q; reasons %+v", got, dec.Qualified, tc.want, dec.Reasons)
			}
		})
	}
}

func TestECSP(t *testing.T) {
	at := day("2024-06-01")
	p := mustPack(t, "EU-ECSP", "2024-06-01")
	recent := at.Add(-30 * 24 * time.Hour)
	old := at.Add(-3 * 365 * 24 * time.Hour)
	tests := []struct {
		name string
		prof Profile
		cat  string
		qual bool
		warn string
	}{
		{"legal person by own funds", Profile{Entity: Institution, OwnFunds: d("100000")}, "sophisticated", true, ""},
		{"legal person just below all", Profile{Entity: Institution, OwnFunds: d("99999.99"), Turnover: d("1999999.99"), BalanceSheet: d("999999.99")}, "non_sophisticated", false, "1000.00"},
		{"natural: income and role", Profile{Entity: Individual, AnnualIncome: d("60000"), FinanceRoleYears: 1}, "sophisticated", true, ""},
		{"natural: portfolio must exceed", Profile{Entity: Individual, Portfolio: d("100000"), FinanceRoleYears: 1}, "non_sophisticated", false, "1000.00"},
		{"natural: role and trading", Profile{Entity: Individual, FinanceRoleYears: 2, TradesPerQuarter: []int{10, 12, 10, 11}}, "sophisticated", true, ""},
		{"natural: one quarter short", Profile{Entity: Individual, FinanceRoleYears: 2, TradesPerQuarter: []int{10, 9, 10, 11}}, "non_sophisticated", false, "1000.00"},
		{"retail with test and simulation", Profile{Entity: Individual, NetWorth: d("50000"), KnowledgeTestAt: &recent, LossSimulationAt: &recent}, "non_sophisticated", true, "2500.00"},
		{"retail with stale test", Profile{Entity: Individual, NetWorth: d("10000"), KnowledgeTestAt: &old, LossSimulationAt: &recent}, "non_sophisticated", false, "1000.00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec := Qualify(p, tc.prof, at)
			w := ""
			if dec.WarnAbove != nil {
				w = dec.WarnAbove.String()
			}
			if dec.Category != tc.cat || dec.Qualified != tc.qual || w != tc.warn {
				t.Errorf("got %s qualified=%v warn=%q, want %s %v %q; %+v", dec.Category, dec.Qualified, w, tc.cat, tc.qual, tc.warn, dec.Reasons)
			}
		})
	}
}

func TestRiskTolerance(t *testing.T) {
	for _, tc := range []struct {
		answers []int
		want    int
	}{{nil, 1}, {[]int{0, 0, 0, 0, 0}, 1}, {[]int{1, 1, 1, 1, 0}, 1}, {[]int{2, 2, 2, 2, 0}, 2}, {[]int{3, 3, 3, 3, 0}, 3},
		{[]int{4, 4, 4, 4, 0}, 4}, {[]int{4, 4, 4, 4, 4}, 5}, {[]int{9, 9, 9, -3}, 4}} {
		if got := RiskTolerance(tc.answers); got != tc.want {
			t.Errorf("RiskTolerance(%v) = C%d, want C%d", tc.answers, got, tc.want)
		}
	}
}

// TestCheckCommitmentBoundaries: at the limit allowed, one minor unit above refused, and every reason listed.
func TestCheckCommitmentBoundaries(t *testing.T) {
	at := day("2023-03-01")
	us := mustPack(t, "US-REGCF", "2023-03-01")
	usd := func(s string) money.Amount { a, _ := money.ParseSigned("USD", s); return a }
	dec := Qualify(us, Profile{Entity: Individual, AnnualIncome: d("50000"), NetWorth: d("40000"), RiskAnswers: []int{4, 4, 4, 4, 4}}, at) // limit 2500.00
	base := Facts{At: at, Pack: us, InvestorVerified: true, IssuerVerified: true, Qualification: &dec, CampaignRisk: 5,
		InvestedInWindow: usd("1000.00"), IssuerRaisedInWindow: usd("0"), Amount: usd("1500.00")}
	if r := CheckCommitment(base); !r.Allowed || r.RemainingWindow.String() != "1500.00" {
		t.Fatalf("at the limit: %+v", r)
	}
	over := base
	over.Amount = usd("1500.01")
	if r := CheckCommitment(over); r.Allowed || r.Refusals[0].RuleID != "US-REGCF/window-limit" {
		t.Fatalf("one cent over: %+v", r)
	}
	capFacts := base
	capFacts.IssuerRaisedInWindow = usd("4998500.00")
	if r := CheckCommitment(capFacts); !r.Allowed {
		t.Fatalf("issuer cap reached exactly: %+v", r)
	}
	capFacts.IssuerRaisedInWindow = usd("4998500.01")
	if r := CheckCommitment(capFacts); r.Allowed {
		t.Fatal("issuer cap exceeded by a cent was allowed")
	}
	// Everything wrong at once: every reason is reported.
	bad := base
	bad.InvestorVerified, bad.InvestorBlacklisted, bad.InvestorRelated, bad.CampaignRisk = false, true, true, 5
	low := dec
	low.RiskTolerance = 2
	bad.Qualification = &low
	bad.Amount = usd("9999.00")
	r := CheckCommitment(bad)
	want := map[string]bool{"KYC/investor-verified": true, "LIST/investor-blacklisted": true, "SELF-FINANCING": true, "SUITABILITY": true, "US-REGCF/window-limit": true}
	for _, x := range r.Refusals {
		delete(want, x.RuleID)
	}
	if r.Allowed || len(want) > 0 {
		t.Errorf("missing reasons %v in %+v", want, r.Refusals)
	}
	// CN: the 200th investor is allowed, the 201st refused; a returning investor is not counted twice.
	cn := mustPack(t, "CN-2015", "2023-03-01")
	cq := Qualify(cn, Profile{Entity: Individual, FinancialAssets: d("1000000"), RiskAnswers: []int{4, 4, 4, 4, 4}}, at)
	cny := func(s string) money.Amount { a, _ := money.ParseSigned("CNY", s); return a }
	f := Facts{At: at, Pack: cn, InvestorVerified: true, IssuerVerified: true, Qualification: &cq, CampaignRisk: 5,
		Amount: cny("100.00"), InvestedInWindow: cny("0"), IssuerRaisedInWindow: cny("0"), IssuerInvestors: 199}
	// Without the current risk disclosure acknowledged by its hash, refused for that.
	for _, ack := range []string{"", strings.Repeat("0", 64)} {
		f.RiskDisclosure = ack
		if r := CheckCommitment(f); r.Allowed || r.Refusals[0].RuleID != "CN-2015/risk-disclosure" || r.Refusals[0].Threshold != cn.RiskDisclosure.SHA256() {
			t.Errorf("risk disclosure %q: %+v", ack, r)
		}
	}
	f.RiskDisclosure = cn.RiskDisclosure.SHA256()
	if !CheckCommitment(f).Allowed {
		t.Error("200th investor refused")
	}
	f.IssuerInvestors = 200
	if CheckCommitment(f).Allowed {
		t.Error("201st investor allowed")
	}
	f.InvestorAlreadyCounted = true
	if !CheckCommitment(f).Allowed {
		t.Error("returning investor refused")
	}
	// Expired qualification.
	f.At = cq.ExpiresAt
	if CheckCommitment(f).Allowed {
		t.Error("commitment on an expired qualification allowed")
	}
	// EU warning needs acknowledgement, but does not block once acknowledged.
	eu := mustPack(t, "EU-ECSP", "2023-03-01")
	now := at.Add(-time.Hour)
	eq := Qualify(eu, Profile{Entity: Individual, NetWorth: d("40000"), KnowledgeTestAt: &now, LossSimulationAt: &now, RiskAnswers: []int{4, 4, 4, 4, 4}}, at)
	eur := func(s string) money.Amount { a, _ := money.ParseSigned("EUR", s); return a }
	ef := Facts{At: at, Pack: eu, InvestorVerified: true, IssuerVerified: true, Qualification: &eq, CampaignRisk: 5,
		Amount: eur("2000.01"), InvestedInWindow: eur("0"), IssuerRaisedInWindow: eur("0")}
	if r := CheckCommitment(ef); r.Allowed || r.Refusals[0].RuleID != "EU-ECSP/risk-warning" {
		t.Errorf("unacknowledged warning: %+v", r)
	}
	ef.Acknowledged = true
	if !CheckCommitment(ef).Allowed {
		t.Error("acknowledged warning still refused")
	}
	ef.Acknowledged, ef.Amount = false, eur("2000.00")
	if !CheckCommitment(ef).Allowed {
		t.Error("at the warning threshold needs no acknowledgement")
	}
}
