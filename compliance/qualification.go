package compliance

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

// Entity is what kind of investor a profile describes.
type Entity string

// Entities.
const (
	Individual  Entity = "individual"
	Institution Entity = "institution"
)

// Profile is what an investor declares (with evidence the platform keeps)
// for a qualification decision. Amounts are in the pack's currency; zero
// means not declared.
type Profile struct {
	Entity              Entity
	AnnualIncome        decimal.Decimal // US, EU: last year; CN: average of the last three years
	NetWorth            decimal.Decimal
	FinancialAssets     decimal.Decimal // CN 金融资产: deposits, securities, fund units, WMPs, trusts, insurance, futures equity
	NetAssets           decimal.Decimal // institutions
	OwnFunds            decimal.Decimal // EU legal persons
	Turnover            decimal.Decimal // EU legal persons
	BalanceSheet        decimal.Decimal // EU legal persons
	Portfolio           decimal.Decimal // EU natural persons: cash deposits and financial assets
	FinanceRoleYears    int             // EU: years in a professional position in the financial sector
	TradesPerQuarter    []int           // EU: significant transactions in each of the last four quarters
	Accredited          bool            // US: accredited investor under Rule 501(a)
	SingleProjectTicket decimal.Decimal // CN: the investor commits to at least this per project
	KnowledgeTestAt     *time.Time      // EU: entry knowledge test passed
	LossSimulationAt    *time.Time      // EU: loss-bearing simulation completed
	RiskAnswers         []int           // suitability questionnaire, each 0-4
	InvestmentYears     int             // years of early-stage investing (lead criteria)
	Exits               int             // investments exited (lead criteria)
}

// Reason is one rule applied: what was compared with what, and whether it passed.
type Reason struct {
	RuleID    string `json:"rule_id"`
	Passed    bool   `json:"passed"`
	Figure    string `json:"figure,omitempty"`
	Threshold string `json:"threshold,omitempty"`
	Message   string `json:"message"`
	Cite      string `json:"cite,omitempty"`
}

// Decision is the outcome of a qualification, self-contained for replay.
type Decision struct {
	Pack          string
	PackVersion   string
	DecidedAt     time.Time
	ExpiresAt     time.Time
	Qualified     bool
	Category      string        // qualified, qualified_single_ticket, accredited, non_accredited, sophisticated, non_sophisticated, not_qualified
	WindowLimit   *money.Amount // most the investor may commit over the rolling window; nil: no limit
	MinTicket     *money.Amount // each commitment must be at least this; nil: none
	WarnAbove     *money.Amount // commitments above this need an acknowledged warning; nil: none
	RiskTolerance int           // C1..C5
	LeadEligible  bool          // may lead a syndicate (qualified, plus the pack's lead criteria)
	Reasons       []Reason
}

func cmpReason(id string, got decimal.Decimal, f Figure, c money.Currency, strict bool, msg string) Reason {
	ok := got.Cmp(f.Value) >= 0
	if strict {
		ok = got.Cmp(f.Value) > 0
	}
	return Reason{RuleID: id, Passed: ok, Figure: got.StringFixed(c.Scale()), Threshold: f.Value.StringFixed(c.Scale()), Message: msg, Cite: f.Cite}
}

func amount(c money.Currency, d decimal.Decimal) *money.Amount {
	a, err := money.FromDecimal(c, d.RoundDown(c.Scale())) // limits are never rounded up
	if err != nil {
		return nil
	}
	return &a
}

// Qualify evaluates a profile under a rule pack at a time.
func Qualify(p RulePack, prof Profile, at time.Time) Decision {
	d := Decision{Pack: p.ID, PackVersion: p.Version, DecidedAt: at, ExpiresAt: at.Add(p.QualificationValidity), RiskTolerance: RiskTolerance(prof.RiskAnswers)}
	c := p.Currency
	switch p.Family {
	case FamilyCN:
		var rs []Reason
		if prof.Entity == Institution {
			rs = append(rs, cmpReason(p.ID+"/institution-net-assets", prof.NetAssets, p.InstitutionNetAssets, c, false, "institution net assets"))
		} else {
			rs = append(rs,
				cmpReason(p.ID+"/individual-financial-assets", prof.FinancialAssets, p.IndividualFinancialAssets, c, false, "individual financial assets"),
				cmpReason(p.ID+"/individual-average-income", prof.AnnualIncome, p.IndividualAverageIncome, c, false, "average annual income over the last three years"))
		}
		for _, r := range rs {
			d.Qualified = d.Qualified || r.Passed
		}
		d.Category = "qualified"
		if !d.Qualified {
			t := cmpReason(p.ID+"/single-project-ticket", prof.SingleProjectTicket, p.SingleProjectTicket, c, false, "commits to a single-project ticket of at least the threshold")
			rs = append(rs, t)
			if t.Passed {
				d.Qualified, d.Category = true, "qualified_single_ticket"
				d.MinTicket = amount(c, p.SingleProjectTicket.Value)
			} else {
				d.Category = "not_qualified"
			}
		}
		d.Reasons = rs
	case FamilyRegCF:
		if prof.Accredited && p.AccreditedUnlimited {
			d.Qualified, d.Category = true, "accredited"
			d.Reasons = []Reason{{RuleID: p.ID + "/accredited", Passed: true, Message: "accredited investor: no investment limit", Cite: p.AccreditedCite}}
			break
		}
		d.Qualified, d.Category = true, "non_accredited"
		if prof.Accredited {
			d.Category = "accredited" // before 2021 accredited investors had the same limits
		}
		limit, rs := regCFLimit(p, prof.AnnualIncome, prof.NetWorth)
		d.WindowLimit = amount(c, limit)
		d.Reasons = rs
	case FamilyECSP:
		soph, rs := ecspSophisticated(p, prof)
		d.Reasons = rs
		if soph {
			d.Qualified, d.Category = true, "sophisticated"
			break
		}
		d.Category = "non_sophisticated"
		test := prof.KnowledgeTestAt != nil && !at.After(prof.KnowledgeTestAt.Add(p.KnowledgeTestValid)) && !prof.KnowledgeTestAt.After(at)
		sim := prof.LossSimulationAt != nil && !at.After(prof.LossSimulationAt.Add(p.SimulationValid)) && !prof.LossSimulationAt.After(at)
		d.Reasons = append(d.Reasons,
			Reason{RuleID: p.ID + "/knowledge-test", Passed: test, Message: "entry knowledge test passed within 2 years", Cite: "Reg. 2020/1503 art. 21(1)-(3)"},
			Reason{RuleID: p.ID + "/loss-simulation", Passed: sim, Message: "loss-bearing simulation within 1 year", Cite: "Reg. 2020/1503 art. 21(4)-(5)"})
		d.Qualified = test && sim
		if test && prof.KnowledgeTestAt.Add(p.KnowledgeTestValid).Before(d.ExpiresAt) {
			d.ExpiresAt = prof.KnowledgeTestAt.Add(p.KnowledgeTestValid)
		}
		if sim && prof.LossSimulationAt.Add(p.SimulationValid).Before(d.ExpiresAt) {
			d.ExpiresAt = prof.LossSimulationAt.Add(p.SimulationValid)
		}
		warn := decimal.Max(p.WarningFloor.Value, prof.NetWorth.Mul(p.WarningPercent.Value))
		d.WarnAbove = amount(c, warn)
		d.Reasons = append(d.Reasons, Reason{RuleID: p.ID + "/warning-threshold", Passed: true, Figure: warn.StringFixed(c.Scale()),
			Message: "a single commitment above this needs an explicitly acknowledged risk warning", Cite: p.WarningFloor.Cite})
	}
	if !d.Qualified && d.Category != "non_sophisticated" {
		d.Category = "not_qualified"
	}
	if p.LeadMinYears > 0 || p.LeadMinExits > 0 {
		exp := prof.InvestmentYears >= p.LeadMinYears && prof.Exits >= p.LeadMinExits
		d.LeadEligible = d.Qualified && exp
		d.Reasons = append(d.Reasons, Reason{RuleID: p.ID + "/lead-criteria", Passed: d.LeadEligible,
			Figure:    fmt.Sprintf("%d years, %d exits", prof.InvestmentYears, prof.Exits),
			Threshold: fmt.Sprintf("%d years, %d exits", p.LeadMinYears, p.LeadMinExits),
			Message:   "may lead a syndicate: qualified, with investment experience and at least one exit", Cite: p.LeadCite})
	}
	d.Reasons = append(d.Reasons, Reason{RuleID: "CSRC-130/risk-tolerance", Passed: true, Figure: fmt.Sprintf("C%d", d.RiskTolerance),
		Message: "risk tolerance from the suitability questionnaire", Cite: "证券期货投资者适当性管理办法 (CSRC Order 130, 2016) arts. 6-8"})
	return d
}

// regCFLimit is 17 CFR 227.100(a)(2): the 12-month limit across all issuers.
func regCFLimit(p RulePack, income, worth decimal.Decimal) (decimal.Decimal, []Reason) {
	c := p.Currency
	basis := decimal.Min(income, worth)
	word := "lesser"
	if p.GreaterOf {
		basis, word = decimal.Max(income, worth), "greater"
	}
	low := income.Cmp(p.LimitThreshold.Value) < 0 || worth.Cmp(p.LimitThreshold.Value) < 0
	var limit decimal.Decimal
	var r Reason
	if low {
		limit = decimal.Max(p.LimitFloor.Value, basis.Mul(p.LimitLowPercent.Value))
		r = Reason{RuleID: p.ID + "/limit-low", Passed: true, Figure: basis.StringFixed(c.Scale()), Threshold: p.LimitThreshold.Value.StringFixed(c.Scale()),
			Message: fmt.Sprintf("income or net worth below the threshold: the greater of %s or 5%% of the %s of the two", p.LimitFloor.Value, word), Cite: p.LimitThreshold.Cite}
	} else {
		limit = decimal.Min(p.LimitCap.Value, basis.Mul(p.LimitHighPercent.Value))
		r = Reason{RuleID: p.ID + "/limit-high", Passed: true, Figure: basis.StringFixed(c.Scale()), Threshold: p.LimitThreshold.Value.StringFixed(c.Scale()),
			Message: fmt.Sprintf("income and net worth at or above the threshold: 10%% of the %s of the two, at most %s", word, p.LimitCap.Value), Cite: p.LimitCap.Cite}
	}
	return limit.RoundDown(c.Scale()), []Reason{r, {RuleID: p.ID + "/window-limit", Passed: true, Figure: limit.RoundDown(c.Scale()).StringFixed(c.Scale()),
		Message: "most the investor may commit across all Reg CF offerings over 12 months", Cite: p.LimitFloor.Cite}}
}

// ecspSophisticated is Annex II: legal persons meet one criterion, natural persons two of three.
func ecspSophisticated(p RulePack, prof Profile) (bool, []Reason) {
	c := p.Currency
	if prof.Entity == Institution {
		rs := []Reason{
			cmpReason(p.ID+"/own-funds", prof.OwnFunds, p.LegalOwnFunds, c, false, "own funds"),
			cmpReason(p.ID+"/turnover", prof.Turnover, p.LegalTurnover, c, false, "net turnover"),
			cmpReason(p.ID+"/balance-sheet", prof.BalanceSheet, p.LegalBalanceSheet, c, false, "balance sheet total"),
		}
		return rs[0].Passed || rs[1].Passed || rs[2].Passed, rs
	}
	income := cmpReason(p.ID+"/income", prof.AnnualIncome, p.NaturalIncome, c, false, "personal gross income")
	portfolio := cmpReason(p.ID+"/portfolio", prof.Portfolio, p.NaturalPortfolio, c, true, "financial instrument portfolio")
	wealth := income.Passed || portfolio.Passed
	role := Reason{RuleID: p.ID + "/finance-role", Passed: prof.FinanceRoleYears >= p.FinanceRoleYears, Figure: fmt.Sprint(prof.FinanceRoleYears),
		Threshold: fmt.Sprint(p.FinanceRoleYears), Message: "years in a professional position in the financial sector", Cite: "Reg. 2020/1503 Annex II I(ii)(b)"}
	active := len(prof.TradesPerQuarter) >= 4
	for _, n := range prof.TradesPerQuarter {
		active = active && n >= p.TradesPerQuarter
	}
	trades := Reason{RuleID: p.ID + "/trading", Passed: active, Figure: fmt.Sprint(prof.TradesPerQuarter), Threshold: fmt.Sprintf("%d a quarter over 4 quarters", p.TradesPerQuarter),
		Message: "significant transactions on capital markets", Cite: "Reg. 2020/1503 Annex II I(ii)(c)"}
	n := 0
	for _, ok := range []bool{wealth, role.Passed, trades.Passed} {
		if ok {
			n++
		}
	}
	return n >= 2, []Reason{income, portfolio, role, trades}
}

// RiskTolerance maps questionnaire answers (each 0-4) to C1..C5 by the
// share of the maximum score: up to 20% C1, 40% C2, 60% C3, 80% C4, else C5.
// No answers is C1, the most protective.
func RiskTolerance(answers []int) int {
	if len(answers) == 0 {
		return 1
	}
	sum := 0
	for _, a := range answers {
		sum += min(max(a, 0), 4)
	}
	pct := sum * 100 / (4 * len(answers))
	switch {
	case pct <= 20:
		return 1
	case pct <= 40:
		return 2
	case pct <= 60:
		return 3
	case pct <= 80:
		return 4
	}
	return 5
}

// WindowLimit is the window limit of one stored decision, opened for a
// report. Limits follow from a person's income or net worth, so they are
// stored only inside the decision's encrypted detail.
type WindowLimit struct {
	Decision uuid.UUID
	Party    uuid.UUID
	Pack     string
	Limit    money.Amount
}
