package campaign

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/registry"
)

// CheckRequest is a what-if: may the investor commit amount, now, to a
// campaign of the issuer's with this risk level under the pack?
type CheckRequest struct {
	InvestorID, IssuerID uuid.UUID
	Pack                 string
	CampaignRisk         int // R1..R5
	Amount               money.Amount
	Acknowledged         bool
	RiskDisclosure       string
}

var errDryRun = errors.New("dry run")

// Check answers a CheckRequest with the facts a commitment batch gathers
// (the parties, lists and qualification from the registry, the running
// totals) and the same decision function, compliance.CheckCommitment, in a
// transaction it rolls back: it writes nothing and lets its locks go.
func (s *Service) Check(ctx context.Context, in CheckRequest) (compliance.Result, error) {
	now := s.Now()
	pack, err := compliance.Pack(in.Pack, now)
	if err != nil {
		return compliance.Result{}, invalid("pack", err)
	}
	if in.CampaignRisk < 1 || in.CampaignRisk > 5 {
		return compliance.Result{}, invalid("campaign_risk", errors.New("must be 1 to 5 (R1-R5)"))
	}
	cur := in.Amount.Currency()
	var res compliance.Result
	err = pg.Transact(ctx, s.db.Pool, func(ctx context.Context, p *pg.Pipeline) error {
		facts := s.reg.QueueFacts(p.Batch(), registry.FactsQuery{Parties: sortedIDs(map[uuid.UUID]bool{in.InvestorID: true, in.IssuerID: true}),
			Related: [][2]uuid.UUID{{in.IssuerID, in.InvestorID}}, Decisions: []registry.DecisionKey{{Party: in.InvestorID, Pack: pack.ID}}, At: now})
		ld := &loaded{exposures: map[expKey]*exposure{}}
		from := now.AddDate(0, -pack.WindowMonths, 0)
		for _, k := range []expKey{{in.InvestorID, 'I', cur.Code()}, {in.IssuerID, 'S', cur.Code()}} {
			ld.exposures[k] = newExposure(k.party, k.side, cur, from)
		}
		queueExposures(p.Batch(), ld, []uuid.UUID{in.InvestorID, in.IssuerID}, []string{"I", "S"}, []string{cur.Code(), cur.Code()}, []time.Time{from, from})
		queueIssuerInvestors(p.Batch(), ld, []uuid.UUID{in.IssuerID}, []string{cur.Code()}, []uuid.UUID{in.InvestorID})
		if err := p.Flush(ctx); err != nil {
			return err
		}
		if err := s.reg.Open(facts); err != nil {
			return err
		}
		f := commitFacts{related: facts.Related[[2]uuid.UUID{in.IssuerID, in.InvestorID}],
			decision: facts.Decisions[registry.DecisionKey{Party: in.InvestorID, Pack: pack.ID}],
			invested: ld.exposures[expKey{in.InvestorID, 'I', cur.Code()}], raised: ld.exposures[expKey{in.IssuerID, 'S', cur.Code()}]}
		var ok bool
		if f.investor, ok = facts.Parties[in.InvestorID]; !ok {
			return invalid("investor_id", registry.ErrPartyNotFound)
		}
		if f.issuer, ok = facts.Parties[in.IssuerID]; !ok {
			return invalid("issuer_id", registry.ErrPartyNotFound)
		}
		if f.issuer.Role != "issuer" {
			return invalid("issuer_id", registry.ErrWrongRole)
		}
		cf := f.compliance(now, pack, in.Amount, in.Acknowledged, in.CampaignRisk, in.InvestorID, in.IssuerID)
		cf.RiskDisclosure = in.RiskDisclosure
		res = compliance.CheckCommitment(cf)
		return errDryRun
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return compliance.Result{}, err
	}
	return res, nil
}

// InvestedInWindow is what the investor has committed to equity in pack's
// currency over its rolling window, counted as the rules count it (the
// running totals), now.
func (s *Service) InvestedInWindow(ctx context.Context, investor uuid.UUID, pack compliance.RulePack) (money.Amount, error) {
	cur := pack.Currency
	from := s.Now().AddDate(0, -pack.WindowMonths, 0)
	k := expKey{investor, 'I', cur.Code()}
	ld := &loaded{exposures: map[expKey]*exposure{k: newExposure(investor, 'I', cur, from)}}
	err := pg.Transact(ctx, s.db.Pool, func(ctx context.Context, p *pg.Pipeline) error {
		queueExposures(p.Batch(), ld, []uuid.UUID{investor}, []string{"I"}, []string{cur.Code()}, []time.Time{from})
		if err := p.Flush(ctx); err != nil {
			return err
		}
		return errDryRun
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return money.Amount{}, err
	}
	return ld.exposures[k].inWindow(), nil
}
