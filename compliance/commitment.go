package compliance

import (
	"errors"
	"fmt"
	"time"

	"github.com/crowdledger/crowdledger/internal/money"
)

// ErrRefused is what a refused commitment check unwraps to.
var ErrRefused = errors.New("commitment refused by compliance")

// Facts are everything the pre-commitment check needs, gathered by the
// caller inside the transaction that will move the money (with the
// investor's and issuer's rows locked, so racing commitments see each
// other's effect).
type Facts struct {
	At                     time.Time
	Pack                   RulePack
	Amount                 money.Amount
	InvestorVerified       bool
	InvestorBlacklisted    bool
	InvestorIsIssuer       bool
	InvestorRelated        bool      // declared related to the issuer (自融)
	Qualification          *Decision // the investor's latest decision under this pack; nil: none
	Acknowledged           bool      // the investor acknowledged the risk warning for this commitment
	RiskDisclosure         string    // the SHA-256 of the risk-disclosure letter the investor acknowledged ("" none)
	CampaignRisk           int       // R1..R5
	IssuerVerified         bool
	IssuerBlacklisted      bool
	InvestedInWindow       money.Amount // the investor's live and settled commitments in the window, this one excluded
	IssuerRaisedInWindow   money.Amount // the issuer's, this one excluded
	IssuerInvestors        int          // distinct investors of the issuer, look-through, this one excluded
	InvestorAlreadyCounted bool
	// Reward is a reward (实物众筹) pledge: a purchase, not an investment.
	// Identity, lists and self-financing still apply; qualification,
	// suitability, investment limits and investor caps do not.
	Reward bool
	// AsLead: the investor commits as the campaign's lead investor.
	AsLead bool
}

// Result is the check's outcome: every failed rule, and the figures.
type Result struct {
	Allowed         bool
	Refusals        []Reason
	RemainingWindow *money.Amount // what the investor may still commit in the window; nil: no limit
}

// Err is nil for an allowed commitment, else a *Refusal.
func (r Result) Err() error {
	if r.Allowed {
		return nil
	}
	return &Refusal{Reasons: r.Refusals}
}

// Refusal carries every reason a commitment was refused.
type Refusal struct{ Reasons []Reason }

func (e *Refusal) Error() string {
	msg := "commitment refused:"
	for _, r := range e.Reasons {
		msg += " " + r.RuleID + ";"
	}
	return msg
}

// Unwrap makes a Refusal match ErrRefused.
func (e *Refusal) Unwrap() error { return ErrRefused }

// CheckCommitment applies every rule and returns all failures. It is exact at
// the boundaries: at a limit is allowed, one minor unit above is refused.
func CheckCommitment(f Facts) Result {
	p, c := f.Pack, f.Pack.Currency
	var out []Reason
	fail := func(r Reason) { r.Passed = false; out = append(out, r) }
	res := Result{}

	if f.Amount.Currency() != c {
		fail(Reason{RuleID: p.ID + "/currency", Figure: f.Amount.Currency().Code(), Threshold: c.Code(), Message: "the campaign's currency is not the rule pack's"})
	}
	if !f.InvestorVerified {
		fail(Reason{RuleID: "KYC/investor-verified", Message: "the investor's real-name verification (实名认证) is not complete"})
	}
	if f.InvestorBlacklisted {
		fail(Reason{RuleID: "LIST/investor-blacklisted", Message: "the investor is on the blacklist (失信联合惩戒)"})
	}
	if !f.IssuerVerified {
		fail(Reason{RuleID: "KYC/issuer-verified", Message: "the issuer's verification is not complete"})
	}
	if f.IssuerBlacklisted {
		fail(Reason{RuleID: "LIST/issuer-blacklisted", Message: "the issuer is on the blacklist"})
	}
	if f.InvestorIsIssuer || f.InvestorRelated {
		fail(Reason{RuleID: "SELF-FINANCING", Message: "the issuer and its declared related parties may not invest in its campaigns (自融)",
			Cite: "SAC draft 2014 art. 8; Reg. 2020/1503 art. 8"})
	}
	if f.Reward {
		res.Refusals = out
		res.Allowed = len(out) == 0
		return res
	}
	q := f.Qualification
	switch {
	case q == nil:
		fail(Reason{RuleID: p.ID + "/qualification", Message: "no qualification decision under " + p.ID})
	case q.Pack != p.ID:
		fail(Reason{RuleID: p.ID + "/qualification", Figure: q.Pack, Threshold: p.ID, Message: "the qualification was made under another rule pack"})
	case !f.At.Before(q.ExpiresAt):
		fail(Reason{RuleID: p.ID + "/qualification-current", Figure: q.ExpiresAt.Format(time.RFC3339), Message: "the qualification has expired"})
	case !q.Qualified:
		fail(Reason{RuleID: p.ID + "/qualified", Figure: q.Category, Message: "the investor is not qualified under " + p.ID})
	}
	if d := p.RiskDisclosure; d != nil && f.RiskDisclosure != d.SHA256() {
		fail(Reason{RuleID: p.ID + "/risk-disclosure", Figure: f.RiskDisclosure, Threshold: d.SHA256(),
			Message: "acknowledge the current risk disclosure letter (" + d.Title + ", version " + d.Version + ") by its SHA-256", Cite: d.Cite})
	}
	if q != nil {
		if q.RiskTolerance < f.CampaignRisk {
			fail(Reason{RuleID: "SUITABILITY", Figure: fmt.Sprintf("C%d", q.RiskTolerance), Threshold: fmt.Sprintf("R%d", f.CampaignRisk),
				Message: "the investor's risk tolerance is below the campaign's risk level (适当性)", Cite: "证券期货投资者适当性管理办法 art. 19"})
		}
		if f.AsLead && !q.LeadEligible {
			fail(Reason{RuleID: p.ID + "/lead-criteria", Message: "not eligible to lead a syndicate: needs investment experience and an exit", Cite: p.LeadCite})
		}
		if q.MinTicket != nil && f.Amount.Currency() == c && f.Amount.Cmp(*q.MinTicket) < 0 {
			fail(Reason{RuleID: p.ID + "/single-project-ticket", Figure: f.Amount.String(), Threshold: q.MinTicket.String(),
				Message: "qualified by the single-project ticket test: each commitment must be at least the threshold", Cite: p.SingleProjectTicket.Cite})
		}
		if q.WindowLimit != nil && f.Amount.Currency() == c {
			after, _ := f.InvestedInWindow.Add(f.Amount)
			left, _ := q.WindowLimit.Sub(f.InvestedInWindow)
			if left.Sign() < 0 {
				left = money.Zero(c)
			}
			res.RemainingWindow = &left
			if after.Cmp(*q.WindowLimit) > 0 {
				fail(Reason{RuleID: p.ID + "/window-limit", Figure: after.String(), Threshold: q.WindowLimit.String(),
					Message: fmt.Sprintf("over the investor's limit for the rolling %d months: %s left", p.WindowMonths, left), Cite: p.LimitFloor.Cite})
			}
		}
		if q.WarnAbove != nil && f.Amount.Currency() == c && f.Amount.Cmp(*q.WarnAbove) > 0 && !f.Acknowledged {
			fail(Reason{RuleID: p.ID + "/risk-warning", Figure: f.Amount.String(), Threshold: q.WarnAbove.String(),
				Message: "above the warning threshold: the investor must acknowledge the risk warning first", Cite: p.WarningFloor.Cite})
		}
	}
	if !p.IssuerCap.Value.IsZero() && f.Amount.Currency() == c {
		after, _ := f.IssuerRaisedInWindow.Add(f.Amount)
		if after.Decimal().Cmp(p.IssuerCap.Value) > 0 {
			fail(Reason{RuleID: p.ID + "/issuer-cap", Figure: after.String(), Threshold: p.IssuerCap.Value.StringFixed(c.Scale()),
				Message: "over the issuer's cap for the rolling 12 months", Cite: p.IssuerCap.Cite})
		}
	}
	if p.MaxInvestorsPerIssuer > 0 && !f.InvestorAlreadyCounted && f.IssuerInvestors+1 > p.MaxInvestorsPerIssuer {
		fail(Reason{RuleID: p.ID + "/investor-count", Figure: fmt.Sprint(f.IssuerInvestors + 1), Threshold: fmt.Sprint(p.MaxInvestorsPerIssuer),
			Message: "the issuer already has the most investors allowed, counted through syndicates", Cite: p.MaxInvestorsCite})
	}
	res.Refusals = out
	res.Allowed = len(out) == 0
	return res
}
