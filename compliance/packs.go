package compliance

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

// Figure is a threshold with the legal text it comes from.
type Figure struct {
	Value decimal.Decimal
	Cite  string
}

func fig(v, cite string) Figure { return Figure{Value: decimal.RequireFromString(v), Cite: cite} }

// Family is the shape of a pack's rules.
type Family string

// Families.
const (
	FamilyCN    Family = "cn"
	FamilyRegCF Family = "regcf"
	FamilyECSP  Family = "ecsp"
)

// CoolingOff says when an investor may still cancel a commitment for free.
type CoolingOff struct {
	// AfterCommit: cancellable for this long after committing (EU: 4 days).
	AfterCommit time.Duration
	// BeforeDeadline: cancellable until this long before the deadline (US: 48 h).
	BeforeDeadline time.Duration
	// PlatformSetting: the rules set no window and the platform chose
	// AfterCommit (the CN packs); Service.PlatformCoolingOff overrides it.
	PlatformSetting bool
	Cite            string
}

// Until is when a commitment made at committed, in a campaign closing at
// deadline, stops being cancellable; nil when the pack gives no window.
func (c CoolingOff) Until(committed, deadline time.Time) *time.Time {
	var u time.Time
	switch {
	case c.AfterCommit > 0:
		u = committed.Add(c.AfterCommit)
	case c.BeforeDeadline > 0:
		u = deadline.Add(-c.BeforeDeadline)
	default:
		return nil
	}
	return &u
}

// RulePack is one dated version of a jurisdiction's rules.
type RulePack struct {
	// RiskDisclosure, when set, is the letter every equity commitment under
	// the pack acknowledges by its hash.
	RiskDisclosure *RiskDisclosure
	// Calendar counts the pack's business days.
	Calendar Calendar
	// MinOffering is how long an offering stays open at least (0: the
	// rules set no minimum and the platform's applies to early closes).
	MinOffering     time.Duration
	MinOfferingCite string
	ID              string // CN-2014, CN-2015, US-REGCF, EU-ECSP
	Version         string // the date its figures took effect
	EffectiveFrom   time.Time
	Family          Family
	Currency        money.Currency
	Title           string

	// CN: who is a qualified investor (any one test suffices).
	InstitutionNetAssets      Figure
	IndividualFinancialAssets Figure
	IndividualAverageIncome   Figure
	SingleProjectTicket       Figure // investing at least this in one project qualifies
	MaxInvestorsPerIssuer     int
	MaxInvestorsCite          string

	// US Reg CF: the non-accredited investor limit over a rolling 12 months.
	LimitThreshold      Figure // income or net worth below this: the low branch
	LimitFloor          Figure // low branch: at least this
	LimitLowPercent     Figure // low branch: this share
	LimitHighPercent    Figure // high branch: this share
	LimitCap            Figure // high branch: at most this
	GreaterOf           bool   // 2021 on: the greater of income and net worth (before: the lesser)
	AccreditedUnlimited bool   // 2021 on
	AccreditedCite      string

	// EU ECSP: Annex II sophistication and the non-sophisticated protections.
	LegalOwnFunds      Figure
	LegalTurnover      Figure
	LegalBalanceSheet  Figure
	NaturalIncome      Figure
	NaturalPortfolio   Figure
	FinanceRoleYears   int
	TradesPerQuarter   int
	WarningFloor       Figure
	WarningPercent     Figure // of net worth
	LossBearingPercent Figure // of net worth, for the simulation
	KnowledgeTestValid time.Duration
	SimulationValid    time.Duration

	// Common.
	IssuerCap             Figure // per issuer per rolling 12 months; zero: none
	WindowMonths          int    // rolling window for investor limits and issuer caps
	CoolingOff            CoolingOff
	QualificationValidity time.Duration // a decision must be renewed after this [platform setting]

	// Lead investor (领投人) criteria on top of qualification [platform setting].
	LeadMinYears int
	LeadMinExits int
	LeadCite     string
}

// ErrUnknownPack is returned for a pack id with no version in force.
var ErrUnknownPack = errors.New("no rule pack in force")

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

const year = 365 * 24 * time.Hour

func cnPack(version string, assets, income, ticket string, cite string) RulePack {
	return RulePack{
		ID: map[bool]string{true: "CN-2014", false: "CN-2015"}[version == "2014-12-18"], Version: version,
		EffectiveFrom: day(version), Family: FamilyCN, Currency: money.MustLookup("CNY"),
		Title:                     "私募股权众筹融资管理办法（试行）（征求意见稿）",
		InstitutionNetAssets:      fig("10000000", "SAC draft 2014 art. 14(4): 净资产不低于1000万元人民币的单位"),
		IndividualFinancialAssets: fig(assets, cite+": 金融资产不低于 "+assets+" 元"),
		IndividualAverageIncome:   fig(income, cite+": 最近三年个人年均收入不低于 "+income+" 元"),
		SingleProjectTicket:       fig(ticket, cite+": 投资单个融资项目的最低金额不低于 "+ticket+" 元"),
		MaxInvestorsPerIssuer:     200,
		MaxInvestorsCite:          "SAC draft 2014 art. 12; Company Law art. 78 / Securities Law art. 9: 累计不得超过200人",
		// The drafts set no cooling-off; platforms used their own. This is a platform setting.
		CoolingOff:            CoolingOff{AfterCommit: 24 * time.Hour, PlatformSetting: true, Cite: "platform setting: the SAC drafts set no cooling-off period"},
		WindowMonths:          12,
		QualificationValidity: year,
		LeadMinYears:          2,
		LeadMinExits:          1,
		LeadCite:              "Wefunder/AngelList lead practice (experience, skin in the game) [S]; a platform setting",
		RiskDisclosure:        &cnRiskDisclosure,
		Calendar:              China,
	}
}

// packs holds every dated version, oldest first within an id.
var packs = []RulePack{
	cnPack("2014-12-18", "3000000", "500000", "1000000", "SAC draft 2014 art. 14(5)/(2)"),
	// The January 2015 revision as reported (上海证券报 via 新华网, 2015-01-26) [S]; the
	// institution test is kept as the issue says, though one report says it was dropped.
	cnPack("2015-01-26", "1000000", "300000", "100000", "SAC draft, Jan 2015 revision as reported [S]"),
	regcf("2016-05-16", "100000", "2000", "100000", false, "1000000", "17 CFR 227.100(a) as adopted, 80 FR 71388 (2015)"),
	regcf("2017-04-05", "107000", "2200", "107000", false, "1070000", "17 CFR 227.100(a), inflation adjustment 82 FR 17545 (2017)"),
	regcf("2021-03-15", "107000", "2200", "107000", true, "5000000", "17 CFR 227.100(a) as amended, 86 FR 3496 (2021)"),
	// 87 FR 57398 (Sept 20 2022); the effective date is recalled, not re-read [R].
	regcf("2022-11-21", "124000", "2500", "124000", true, "5000000", "17 CFR 227.100(a), inflation adjustment 87 FR 57398 (2022) [R: effective date]"),
	{
		ID: "EU-ECSP", Version: "2021-11-10", EffectiveFrom: day("2021-11-10"), Family: FamilyECSP, Currency: money.MustLookup("EUR"), Calendar: EU,
		Title:                 "Regulation (EU) 2020/1503 on European crowdfunding service providers",
		LegalOwnFunds:         fig("100000", "Reg. 2020/1503 Annex II I(i)(a): own funds of at least EUR 100 000"),
		LegalTurnover:         fig("2000000", "Reg. 2020/1503 Annex II I(i)(b): net turnover of at least EUR 2 000 000"),
		LegalBalanceSheet:     fig("1000000", "Reg. 2020/1503 Annex II I(i)(c): balance sheet of at least EUR 1 000 000"),
		NaturalIncome:         fig("60000", "Reg. 2020/1503 Annex II I(ii)(a): personal gross income of at least EUR 60 000"),
		NaturalPortfolio:      fig("100000", "Reg. 2020/1503 Annex II I(ii)(a): portfolio exceeding EUR 100 000"),
		FinanceRoleYears:      1,
		TradesPerQuarter:      10,
		WarningFloor:          fig("1000", "Reg. 2020/1503 art. 21(7): above the higher of EUR 1 000 or 5% of net worth [S]"),
		WarningPercent:        fig("0.05", "Reg. 2020/1503 art. 21(7): 5% of net worth [S]"),
		LossBearingPercent:    fig("0.10", "Reg. 2020/1503 art. 21(4): 10% of net worth [S]"),
		KnowledgeTestValid:    2 * year,
		SimulationValid:       year,
		IssuerCap:             fig("5000000", "Reg. 2020/1503 art. 1(2)(c): EUR 5 000 000 per 12 months per project owner"),
		WindowMonths:          12,
		CoolingOff:            CoolingOff{AfterCommit: 4 * 24 * time.Hour, Cite: "Reg. 2020/1503 art. 22: 4 calendar days reflection period"},
		QualificationValidity: year,
		LeadMinYears:          2,
		LeadMinExits:          1,
		LeadCite:              "platform setting: Reg. 2020/1503 sets no lead-investor criteria",
	},
}

func regcf(version, threshold, floor, limitCap string, greaterOf bool, issuerCap, cite string) RulePack {
	return RulePack{
		ID: "US-REGCF", Version: version, EffectiveFrom: day(version), Family: FamilyRegCF, Currency: money.MustLookup("USD"), Calendar: US,
		MinOffering: 21 * 24 * time.Hour, MinOfferingCite: "17 CFR 227.304(a): open at least 21 days",
		Title:                 "Regulation Crowdfunding, 17 CFR Part 227",
		LimitThreshold:        fig(threshold, cite+": income or net worth below $"+threshold),
		LimitFloor:            fig(floor, cite+": the greater of $"+floor),
		LimitLowPercent:       fig("0.05", cite+": or 5 percent"),
		LimitHighPercent:      fig("0.10", cite+": 10 percent"),
		LimitCap:              fig(limitCap, cite+": not to exceed $"+limitCap),
		GreaterOf:             greaterOf,
		AccreditedUnlimited:   greaterOf,
		AccreditedCite:        "17 CFR 227.100(a)(2) as amended in 2021: no limit for accredited investors",
		IssuerCap:             fig(issuerCap, cite+": aggregate sold in 12 months up to $"+issuerCap),
		WindowMonths:          12,
		CoolingOff:            CoolingOff{BeforeDeadline: 48 * time.Hour, Cite: "17 CFR 227.304(a): until 48 hours before the deadline"},
		QualificationValidity: year,
		LeadMinYears:          2,
		LeadMinExits:          1,
		LeadCite:              "Wefunder/AngelList lead practice (experience, skin in the game) [S]; a platform setting",
	}
}

// Pack returns the version of pack id in force at t.
func Pack(id string, at time.Time) (RulePack, error) {
	var found *RulePack
	for i := range packs {
		if packs[i].ID == id && !packs[i].EffectiveFrom.After(at) {
			if found == nil || packs[i].EffectiveFrom.After(found.EffectiveFrom) {
				found = &packs[i]
			}
		}
	}
	if found == nil {
		return RulePack{}, fmt.Errorf("%w: %s at %s", ErrUnknownPack, id, at.Format("2006-01-02"))
	}
	return *found, nil
}

// PackVersion returns one exact version, for replaying an old decision.
func PackVersion(id, version string) (RulePack, error) {
	for _, p := range packs {
		if p.ID == id && p.Version == version {
			return p, nil
		}
	}
	return RulePack{}, fmt.Errorf("%w: %s version %s", ErrUnknownPack, id, version)
}

// PackIDs lists the pack ids.
func PackIDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range packs {
		if !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, p.ID)
		}
	}
	sort.Strings(out)
	return out
}
