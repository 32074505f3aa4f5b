package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
)

func usd(s string) money.Amount {
	a, err := money.ParseSigned("USD", s)
	if err != nil {
		panic(err)
	}
	return a
}

// regCFInvestor: income and net worth under $124,000, so the 12-month
// limit is the floor, $2,500 (17 CFR 227.100(a)(2), 2021 figures).
func (w *world) regCFInvestor(deposit string) uuid.UUID {
	return w.investor("US-REGCF", compliance.Profile{AnnualIncome: decimal.NewFromInt(30000), NetWorth: decimal.NewFromInt(20000),
		RiskAnswers: []int{4, 4, 4, 4, 4}}, usd(deposit))
}

func (w *world) regCFCampaign(deadline time.Duration) campaign.Campaign {
	return w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "equity", Pack: "US-REGCF", Title: "reg cf", Target: usd("1000.00"),
		HardCap: usd("1000000.00"), PricePerShare: usd("1.00"), FeeRate: decimal.Zero, Deadline: w.svc.Now().Add(deadline)})
}

// TestInvestorWindowExpiresExactly: a commitment counts against the
// investor's rolling 12-month limit until exactly 12 months after it was
// made, through the running totals, and the totals stay exact when the
// clock (another process's) reads a moment earlier again.
func TestInvestorWindowExpiresExactly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	inv := w.regCFInvestor("10000.00")
	c := w.regCFCampaign(400 * 24 * time.Hour)
	made := w.svc.Now()
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: inv, Shares: 2000, IdempotencyKey: "first"}); err != nil {
		t.Fatal(err)
	}
	// Qualifications last a year too: assess the investor again on the way.
	later := made.AddDate(0, 11, 0)
	w.clock.Store(&later)
	w.qualify(inv, "US-REGCF", compliance.Profile{Entity: compliance.Individual, AnnualIncome: decimal.NewFromInt(30000),
		NetWorth: decimal.NewFromInt(20000), RiskAnswers: []int{4, 4, 4, 4, 4}})
	oneYear := made.AddDate(1, 0, 0)
	n := 0
	try := func(at time.Time) error {
		w.clock.Store(&at)
		n++
		_, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: inv, Shares: 1000, IdempotencyKey: fmt.Sprint("k", n)})
		return err
	}
	overLimit := func(err error) bool {
		var r *compliance.Refusal
		return errors.As(err, &r) && r.Reasons[0].RuleID == "US-REGCF/window-limit"
	}
	for _, tc := range []struct {
		name    string
		at      time.Time
		refused bool
	}{
		{"a day later: 2000 + 1000 is over 2500", made.Add(24 * time.Hour), true},
		{"a microsecond before 12 months", oneYear.Add(-time.Microsecond), true},
		{"exactly 12 months: the first has left the window", oneYear, false},
		// The new 1000 counts now: 1000 + 1000 fits, 1000 more would not.
		{"a clock a microsecond behind again: the first is back in", oneYear.Add(-time.Microsecond), true},
		{"a second later", oneYear.Add(time.Second), false},
		{"and no more room", oneYear.Add(2 * time.Second), true},
	} {
		err := try(tc.at)
		if tc.refused != overLimit(err) || (!tc.refused && err != nil) {
			t.Errorf("%s: %v, want refused=%v", tc.name, err, tc.refused)
		}
	}
}

// TestRaceOnOneRemainingLimit: six commitments of 500 race for an
// investor's 2,500 limit in shared batches: five are taken, one refused for
// the limit, and the escrow holds exactly 2,500.
func TestRaceOnOneRemainingLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inv := w.regCFInvestor("10000.00")
	c := w.regCFCampaign(30 * 24 * time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken, refused := 0, 0
	for i := 0; i < 6; i++ {
		wg.Go(func() {
			_, err := w.svc.Commit(context.Background(), campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: inv, Shares: 500, IdempotencyKey: uuid.NewString()})
			mu.Lock()
			defer mu.Unlock()
			var r *compliance.Refusal
			switch {
			case err == nil:
				taken++
			case errors.As(err, &r) && r.Reasons[0].RuleID == "US-REGCF/window-limit":
				refused++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if taken != 5 || refused != 1 {
		t.Errorf("%d taken, %d refused; want 5 and 1", taken, refused)
	}
	if got := w.escrowPending(c); got != "2500.00" {
		t.Errorf("escrow holds %s pending, want 2500.00", got)
	}
}

func (w *world) escrowPending(c campaign.Campaign) string {
	w.t.Helper()
	a, err := w.ledger.Account(context.Background(), c.EscrowAccountID)
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Balances.CreditsPending.String()
}

// TestIssuerInvestorCap: CN-2015 allows an issuer 200 investors, counted
// across its campaigns and through syndicates. With 199 counted (the
// running total, as a long history would leave it), a new investor is the
// 200th; the next is refused; a counted investor's top-up is not; and when
// one cancels their only commitment, a place opens again.
func TestIssuerInvestorCap(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "equity", Pack: "CN-2015", Title: "cap", Target: cny("1000000.00"),
		PricePerShare: cny("100.00"), FeeRate: decimal.Zero})
	if _, err := w.db.Pool.Exec(ctx, `INSERT INTO exposures (party_id, side, currency, total, investors) VALUES ($1, 'S', 'CNY', 0, 199)`, c.IssuerID); err != nil {
		t.Fatal(err)
	}
	a, b, d := w.investor("CN-2015", rich(), cny("100000.00")), w.investor("CN-2015", rich(), cny("100000.00")), w.investor("CN-2015", rich(), cny("100000.00"))
	commit := func(inv uuid.UUID, key string) (campaign.Commitment, error) {
		return w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: inv, Shares: 100, IdempotencyKey: key})
	}
	capped := func(err error) bool {
		var r *compliance.Refusal
		return errors.As(err, &r) && r.Reasons[0].RuleID == "CN-2015/investor-count"
	}
	ca, err := commit(a, "a1")
	if err != nil {
		t.Fatalf("the 200th investor: %v", err)
	}
	if _, err := commit(b, "b1"); !capped(err) {
		t.Fatalf("the 201st investor: %v", err)
	}
	if _, err := commit(a, "a2"); err != nil {
		t.Fatalf("a counted investor's top-up: %v", err)
	}
	if _, err := w.svc.Cancel(ctx, ca.ID, a); err != nil {
		t.Fatal(err)
	}
	if _, err := commit(d, "d1"); !capped(err) {
		t.Fatalf("a still holds a commitment, so no place opened: %v", err)
	}
	var rest uuid.UUID
	w.db.Pool.QueryRow(ctx, `SELECT id FROM commitments WHERE idempotency_key = 'a2'`).Scan(&rest)
	if _, err := w.svc.Cancel(ctx, rest, a); err != nil {
		t.Fatal(err)
	}
	if _, err := commit(d, "d2"); err != nil {
		t.Fatalf("after the last commitment of a counted investor is cancelled: %v", err)
	}
	// The seeded 199 have no commitments behind them: take them out before
	// the cleanup's check that the totals agree with the commitments.
	if _, err := w.db.Pool.Exec(ctx, `UPDATE exposures SET investors = investors - 199 WHERE party_id = $1 AND side = 'S'`, c.IssuerID); err != nil {
		t.Fatal(err)
	}
}

// TestRegCFMinimumOfferingPeriod: a Reg CF offering stays open at least 21
// days (17 CFR 227.304(a)); a shorter one is refused at creation.
func TestRegCFMinimumOfferingPeriod(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	now := w.svc.Now()
	_, err := w.svc.Create(w.issuerCtx, campaign.NewCampaign{IssuerID: w.issuer(), Kind: "equity", Pack: "US-REGCF", Title: "short", Target: usd("1000.00"),
		HardCap: usd("2000.00"), MinTicket: usd("10.00"), PricePerShare: usd("10.00"), RiskLevel: 5, LeadInvestorID: uuid.New(),
		StartsAt: now, Deadline: now.Add(20 * 24 * time.Hour)})
	var fe *campaign.FieldError
	if !errors.As(err, &fe) || fe.Field != "deadline" || !strings.Contains(err.Error(), "21 days") {
		t.Errorf("a 20-day Reg CF offering: %v", err)
	}
}
