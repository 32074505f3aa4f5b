package campaign_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/internal/money"
)

// TestDistributionWithCarry: 100.01 split among a lead (4 shares) and a
// syndicate of three (2 shares each) with 20% carry, twice. The first pays
// the members' capital back; the second is profit, of which the lead takes
// 20%. Every split sums to the whole to the fen.
func TestDistributionWithCarry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	iss := w.issuer()
	lead := w.investor("CN-2015", rich(), cny("100.00"))
	c := w.launch(campaign.NewCampaign{IssuerID: iss, Kind: "equity", Pack: "CN-2015", Title: "carry", Target: cny("100.00"),
		PricePerShare: cny("10.00"), FeeRate: decimal.Zero, LeadInvestorID: lead})
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: lead, Shares: 4, IdempotencyKey: "lead"}); err != nil {
		t.Fatal(err)
	}
	var followers []uuid.UUID
	for i := 0; i < 3; i++ {
		f := w.investor("CN-2015", rich(), cny("100.00"))
		followers = append(followers, f)
		if _, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: f, Shares: 2, IdempotencyKey: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	w.advance(31 * 24 * time.Hour)
	if got, err := w.svc.Close(w.opsCtx, c.ID, false); err != nil || got.State != campaign.Settled {
		t.Fatalf("close: %v", err)
	}
	// A distribution is paid from the issuer's wallet; an empty one says so.
	_, err := w.svc.Distribute(w.opsCtx, c.ID, cny("100.01"), "dividend", "too-early")
	var short *campaign.CapError
	if !errors.As(err, &short) || !errors.Is(err, campaign.ErrIssuerFundsShort) || short.Remaining != "0.00" {
		t.Fatalf("a distribution from an empty issuer wallet: %v", err)
	}
	if _, err := w.svc.Deposit(w.opsCtx, iss, cny("500.00"), "issuer-cash"); err != nil {
		t.Fatal(err)
	}
	sum := func(d campaign.Distribution) money.Amount {
		s := money.Zero(d.Amount.Currency())
		for _, l := range d.Lines {
			s, _ = s.Add(l.Amount)
		}
		return s
	}
	d1, err := w.svc.Distribute(w.opsCtx, c.ID, cny("100.01"), "dividend", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum(d1).Equal(cny("100.01")) {
		t.Errorf("first distribution lines sum to %s", sum(d1))
	}
	// lead 40.00; members 20.00 capital each, and the 0.01 profit to the first member.
	if got := w.balance(w.wallet(lead)); got != "100.00" { // 100.00 - 40.00 committed + 40.00
		t.Errorf("lead after d1 = %s", got)
	}
	wantAfter1 := []string{"100.01", "100.00", "100.00"} // 100 - 20 + 20 (+0.01)
	for i, f := range followers {
		if got := w.balance(w.wallet(f)); got != wantAfter1[i] {
			t.Errorf("follower %d after d1 = %s, want %s", i, got, wantAfter1[i])
		}
	}
	d2, err := w.svc.Distribute(w.opsCtx, c.ID, cny("100.01"), "exit", "d2")
	if err != nil {
		t.Fatal(err)
	}
	if !sum(d2).Equal(cny("100.01")) {
		t.Errorf("second distribution lines sum to %s", sum(d2))
	}
	if got := w.balance(w.wallet(lead)); got != "152.00" { // + 40.00 as holder + 12.00 carry
		t.Errorf("lead after d2 = %s, want 152.00", got)
	}
	wantAfter2 := []string{"116.02", "116.00", "116.00"} // 48.01 to members: 16.01, 16.00, 16.00
	for i, f := range followers {
		if got := w.balance(w.wallet(f)); got != wantAfter2[i] {
			t.Errorf("follower %d after d2 = %s, want %s", i, got, wantAfter2[i])
		}
	}
	if again, err := w.svc.Distribute(w.opsCtx, c.ID, cny("100.01"), "exit", "d2"); err != nil || again.ID != d2.ID {
		t.Errorf("retried distribution: %v", err)
	}
	if got := w.balance(w.wallet(iss)); got != "299.98" {
		t.Errorf("issuer wallet = %s, want 299.98", got)
	}
}
