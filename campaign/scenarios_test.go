package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/supervision"
)

// TestRewardCampaignSucceeds: a Qinghai highland-barley product pre-sale
// reaches its target; backers' money goes to the issuer net of a 5% fee.
func TestRewardCampaignSucceeds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iss := w.issuer()
	c := w.launch(campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "青海高原青稞挂面 预售", RiskLevel: 1,
		Target: cny("1000.00"), HardCap: cny("2000.00"), FeeRate: decimal.RequireFromString("0.05"),
		Tiers: []campaign.Tier{{ID: "box", Title: "一箱", Price: cny("99.90"), QuantityLimit: intp(100)}, {ID: "gift", Title: "礼盒", Price: cny("333.33")}}})
	a := w.investor("", compliance.Profile{}, cny("1000.00"))
	b := w.investor("", compliance.Profile{}, cny("1000.00"))
	ctx := context.Background()
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: a, Tier: "box", Quantity: 4, IdempotencyKey: "a1"}); err != nil {
		t.Fatal(err)
	}
	cm, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "gift", Quantity: 2, IdempotencyKey: "b1"})
	if err != nil || cm.Amount.String() != "666.66" {
		t.Fatalf("commit b: %+v, %v", cm, err)
	}
	again, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "gift", Quantity: 2, IdempotencyKey: "b1"})
	if err != nil || !again.Replayed || again.ID != cm.ID {
		t.Fatalf("retried commitment: %+v, %v", again, err)
	}
	if got := w.balance(w.wallet(a)); got != "600.40" {
		t.Errorf("a's available = %s, want 600.40", got)
	}
	got, _ := w.svc.Get(ctx, c.ID)
	if got.Committed.String() != "1066.26" || got.Investors != 2 || len(got.Milestones) != 2 {
		t.Errorf("progress: %s from %d investors, milestones %v", got.Committed, got.Investors, got.Milestones)
	}
	if _, err := w.svc.Close(w.opsCtx, c.ID, false); !errors.Is(err, campaign.ErrNotDue) {
		t.Fatalf("closing early: %v", err)
	}
	w.advance(31 * 24 * time.Hour)
	closed, err := w.svc.Close(w.opsCtx, c.ID, false)
	if err != nil || closed.State != campaign.Settled {
		t.Fatalf("close: %s, %v", closed.State, err)
	}
	// 1066.26 raised: fee 5% = 53.313 → 53.31 by largest remainder, issuer 1012.95; they sum to the whole.
	if got := w.balance(c.PayableAccountID); got != "1012.95" {
		t.Errorf("issuer payable = %s, want 1012.95", got)
	}
	if got := w.balance(c.EscrowAccountID); got != "0.00" {
		t.Errorf("escrow left with %s", got)
	}
	if got := w.balance(w.wallet(a)); got != "600.40" {
		t.Errorf("a after settlement = %s", got)
	}
	// The issuer withdraws to the bank.
	if _, err := w.svc.Withdraw(w.opsCtx, iss, cny("1.00"), "bank-x"); err == nil {
		t.Error("withdrawal from an issuer wallet with no money went through")
	}
}

// TestRewardCampaignFailsAndRefunds: all-or-nothing short of its target;
// every wallet is restored to the fen.
func TestRewardCampaignFailsAndRefunds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "牦牛奶片", RiskLevel: 1,
		Target: cny("10000.00"), FeeRate: decimal.RequireFromString("0.05"), Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("33.33")}}})
	var backers []uuid.UUID
	for i := 0; i < 5; i++ {
		b := w.investor("", compliance.Profile{}, cny("200.00"))
		backers = append(backers, b)
		if _, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: i + 1, IdempotencyKey: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	w.advance(31 * 24 * time.Hour)
	rep, err := w.svc.Tick(context.Background())
	if err != nil || rep.Closed() != 1 || len(rep.Opened) != 0 || len(rep.Refunded) != 1 || rep.Refunded[0] != c.ID {
		t.Fatalf("tick: %+v %v", rep, err)
	}
	got, _ := w.svc.Get(context.Background(), c.ID)
	if got.State != campaign.Refunded {
		t.Fatalf("state %s", got.State)
	}
	for _, b := range backers {
		if bal := w.balance(w.wallet(b)); bal != "200.00" {
			t.Errorf("backer wallet = %s, want 200.00", bal)
		}
	}
	if bal := w.balance(c.EscrowAccountID); bal != "0.00" {
		t.Errorf("escrow = %s", bal)
	}
}

// TestEquityCampaignWithSyndicate: a high-tech equity raise with a lead
// investor, followers in a syndicate vehicle, a refused unqualified
// investor, a cooling-off cancellation, and success with a cap table.
func TestEquityCampaignWithSyndicate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	lead := w.investor("CN-2015", rich(), cny("500000.00"))
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "equity", Pack: "CN-2015", Title: "高原光伏储能 A 轮",
		Target: cny("1000000.00"), HardCap: cny("1200000.00"), MinTicket: cny("10000.00"), PricePerShare: cny("100.00"),
		FeeRate: decimal.RequireFromString("0.03"), LeadInvestorID: lead})
	f1 := w.investor("CN-2015", rich(), cny("600000.00"))
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: f1, Shares: 1000, IdempotencyKey: "early"}); !errors.Is(err, campaign.ErrLeadFirst) {
		t.Fatalf("follower before the lead: %v", err)
	}
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: lead, Shares: 999, IdempotencyKey: "low-lead"}); err == nil {
		t.Fatal("lead under 10% of the target accepted")
	}
	lc, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: lead, Shares: 2000, IdempotencyKey: "lead"})
	if err != nil || lc.Role != "lead" {
		t.Fatalf("lead: %+v, %v", lc, err)
	}
	fc, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: f1, Shares: 5000, IdempotencyKey: "f1"})
	if err != nil || fc.Role != "follower" || fc.VehicleID == nil {
		t.Fatalf("follower: %+v, %v", fc, err)
	}
	// An investor below the CN-2015 thresholds is refused with the reasons, and nothing moves.
	poor := w.investor("CN-2015", compliance.Profile{FinancialAssets: decimal.NewFromInt(50000), RiskAnswers: []int{4, 4, 4, 4, 4}}, cny("50000.00"))
	_, err = w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: poor, Shares: 100, IdempotencyKey: "poor"})
	var refusal *compliance.Refusal
	if !errors.As(err, &refusal) || refusal.Reasons[0].RuleID != "CN-2015/qualified" {
		t.Fatalf("unqualified investor: %v", err)
	}
	if bal := w.balance(w.wallet(poor)); bal != "50000.00" {
		t.Errorf("refused investor's wallet = %s", bal)
	}
	// A follower changes their mind within the 24-hour cooling-off; another is locked in after it.
	f2 := w.investor("CN-2015", rich(), cny("300000.00"))
	c2, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: f2, Shares: 1000, IdempotencyKey: "f2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Cancel(ctx, c2.ID, f1); !errors.Is(err, campaign.ErrCommitmentNotFound) {
		t.Fatalf("cancelling someone else's commitment: %v", err)
	}
	if got, err := w.svc.Cancel(ctx, c2.ID, f2); err != nil || got.State != "cancelled" {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if bal := w.balance(w.wallet(f2)); bal != "300000.00" {
		t.Errorf("cancelled follower's wallet = %s", bal)
	}
	f3 := w.investor("CN-2015", rich(), cny("400000.00"))
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: f3, Shares: 3000, IdempotencyKey: "f3"}); err != nil {
		t.Fatal(err)
	}
	w.advance(25 * time.Hour)
	if _, err := w.svc.Cancel(ctx, fc.ID, f1); !errors.Is(err, campaign.ErrCoolingOffOver) {
		t.Fatalf("cancel after cooling-off: %v", err)
	}
	// 10,000 shares x 100.00 = 1,000,000.00: the target exactly. Close at the deadline.
	w.advance(30 * 24 * time.Hour)
	got, err := w.svc.Close(w.opsCtx, c.ID, false)
	if err != nil || got.State != campaign.Settled {
		t.Fatalf("close: %s, %v", got.State, err)
	}
	if bal := w.balance(c.PayableAccountID); bal != "970000.00" {
		t.Errorf("issuer payable = %s, want 970000.00 after the 3%% fee", bal)
	}
	table, err := w.svc.CapTable(ctx, c.ID)
	if err != nil || len(table) != 2 || table[0].Shares != 2000 || table[1].Shares != 8000 || len(table[1].Members) != 2 {
		t.Fatalf("cap table: %+v, %v", table, err)
	}
	if bal := w.balance(w.wallet(lead)); bal != "300000.00" {
		t.Errorf("lead's wallet after settlement = %s", bal)
	}
}

// TestRaceForTheLastPlaces: 300 backers race for 120 limited boxes; exactly
// 120 get one, the rest a clear sold-out error with what is left, and the
// escrow holds exactly 120 boxes' worth.
func TestRaceForTheLastPlaces(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "限量青稞酒", RiskLevel: 1,
		Target: cny("100.00"), HardCap: cny("100000.00"), FeeRate: decimal.Zero,
		Tiers: []campaign.Tier{{ID: "limited", Title: "限量", Price: cny("88.88"), QuantityLimit: intp(120)}}})
	backers := make([]uuid.UUID, 300)
	for i := range backers {
		backers[i] = w.investor("", compliance.Profile{}, cny("100.00"))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, soldOut := 0, 0
	for _, b := range backers {
		wg.Add(1)
		go func(b uuid.UUID) {
			defer wg.Done()
			_, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "limited", Quantity: 1, IdempotencyKey: b.String()})
			mu.Lock()
			defer mu.Unlock()
			var ce *campaign.CapError
			switch {
			case err == nil:
				won++
			case errors.As(err, &ce) && errors.Is(err, campaign.ErrSoldOut) && ce.Remaining == "0":
				soldOut++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}(b)
	}
	wg.Wait()
	if won != 120 || soldOut != 180 {
		t.Fatalf("%d won, %d sold out; want 120 and 180", won, soldOut)
	}
	a, _ := w.ledger.Account(context.Background(), c.EscrowAccountID)
	if a.Balances.CreditsPending.String() != "10665.60" {
		t.Errorf("escrow pending = %s, want 120 x 88.88", a.Balances.CreditsPending)
	}
}

// TestTwoSchedulersCloseOnce: two processes' schedulers tick at once after
// the deadline; the campaign settles exactly once.
func TestTwoSchedulersCloseOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "two schedulers", RiskLevel: 1,
		Target: cny("50.00"), HardCap: cny("100.00"), FeeRate: decimal.RequireFromString("0.10"), Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("25.00")}}})
	for i := 0; i < 3; i++ {
		b := w.investor("", compliance.Profile{}, cny("25.00"))
		if _, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: 1, IdempotencyKey: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	other := campaign.New(w.db.Pool, ledger.New(w.db.Pool, ledger.Options{Freezes: supervision.New(w.db.Pool)}), w.reg)
	other.Now = w.svc.Now
	w.advance(31 * 24 * time.Hour)
	var wg sync.WaitGroup
	closed := make([]int, 2)
	errs := make([]error, 2)
	for i, s := range []*campaign.Service{w.svc, other} {
		wg.Add(1)
		go func(i int, s *campaign.Service) {
			defer wg.Done()
			var rep campaign.TickReport
			rep, errs[i] = s.Tick(context.Background())
			closed[i] = rep.Closed()
		}(i, s)
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || closed[0]+closed[1] != 1 {
		t.Fatalf("closed %v, errors %v", closed, errs)
	}
	if bal := w.balance(c.PayableAccountID); bal != "67.50" {
		t.Errorf("issuer payable = %s, want 67.50 (75.00 less 10%%)", bal)
	}
	var payouts int
	w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM transfers WHERE code = 'issuer_payout'`).Scan(&payouts)
	if payouts != 1 {
		t.Errorf("%d payouts", payouts)
	}
}

// TestCapTableOneLinePerHolder: a lead and a follower who each topped up
// hold one line each, their commitments beneath it.
func TestCapTableOneLinePerHolder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	lead := w.investor("CN-2015", rich(), cny("500000.00"))
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "equity", Pack: "CN-2015", Title: "加投",
		Target: cny("100000.00"), HardCap: cny("200000.00"), MinTicket: cny("1000.00"), PricePerShare: cny("100.00"),
		FeeRate: decimal.Zero, LeadInvestorID: lead})
	f := w.investor("CN-2015", rich(), cny("500000.00"))
	for i, in := range []campaign.CommitRequest{
		{InvestorID: lead, Shares: 200}, {InvestorID: lead, Shares: 150}, {InvestorID: lead, Shares: 100},
		{InvestorID: f, Shares: 500}, {InvestorID: f, Shares: 225},
	} {
		in.CampaignID, in.RiskDisclosure, in.IdempotencyKey = c.ID, cnAck, fmt.Sprint("top-up-", i)
		if _, err := w.svc.Commit(ctx, in); err != nil {
			t.Fatalf("commitment %d: %v", i, err)
		}
	}
	w.advance(31 * 24 * time.Hour)
	if got, err := w.svc.Close(w.opsCtx, c.ID, false); err != nil || got.State != campaign.Settled {
		t.Fatalf("close: %v", err)
	}
	table, err := w.svc.CapTable(ctx, c.ID)
	if err != nil || len(table) != 2 {
		t.Fatalf("cap table: %+v, %v", table, err)
	}
	if l := table[0]; *l.InvestorID != lead || l.Shares != 450 || len(l.Commitments) != 3 {
		t.Errorf("the lead's line: %+v", l)
	}
	if v := table[1]; v.VehicleID == nil || v.Shares != 725 || len(v.Members) != 1 || *v.Members[0].InvestorID != f ||
		v.Members[0].Shares != 725 || len(v.Members[0].Commitments) != 2 {
		t.Errorf("the vehicle's line: %+v", v)
	}
}

// TestMoneyWaitsForCancellationRights: a pledge made three minutes before
// the deadline keeps its 24-hour cancellation right past the deadline. The
// campaign does not close while it runs (the scheduler leaves it, an
// operator's close is refused), the backer cancels after the deadline, and
// the close that follows decides on what is left: below the target now,
// everyone is refunded, and nothing was ever paid out.
func TestMoneyWaitsForCancellationRights(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	deadline := w.svc.Now().Add(7 * 24 * time.Hour)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "冷静期", RiskLevel: 1,
		Target: cny("100.00"), HardCap: cny("1000.00"), FeeRate: decimal.Zero, Deadline: deadline,
		Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
	early, late := w.investor("", compliance.Profile{}, cny("100.00")), w.investor("", compliance.Profile{}, cny("100.00"))
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: early, Tier: "t", Quantity: 6, IdempotencyKey: "early"}); err != nil {
		t.Fatal(err)
	}
	w.advance(deadline.Sub(w.svc.Now()) - 3*time.Minute)
	lc, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: late, Tier: "t", Quantity: 5, IdempotencyKey: "late"})
	if err != nil {
		t.Fatal(err)
	}
	w.advance(time.Hour) // past the deadline: 110.00 pledged against a 100.00 target
	if rep, err := w.svc.Tick(ctx); err != nil || rep.Closed() != 0 {
		t.Fatalf("closed while a backer may still cancel: %+v, %v", rep, err)
	}
	if _, err := w.svc.Close(w.opsCtx, c.ID, false); !errors.Is(err, campaign.ErrRightsOpen) {
		t.Fatalf("operator's close inside a cancellation window: %v", err)
	}
	if got, err := w.svc.Cancel(ctx, lc.ID, late); err != nil || got.State != "cancelled" {
		t.Fatalf("cancel after the deadline, inside the window: %+v, %v", got, err)
	}
	if bal := w.balance(w.wallet(late)); bal != "100.00" {
		t.Errorf("cancelled backer's wallet = %s", bal)
	}
	w.advance(24 * time.Hour)
	rep, err := w.svc.Tick(ctx)
	if err != nil || len(rep.Refunded) != 1 || rep.Refunded[0] != c.ID {
		t.Fatalf("close after the windows: %+v, %v", rep, err)
	}
	if bal := w.balance(w.wallet(early)); bal != "100.00" {
		t.Errorf("refunded backer's wallet = %s", bal)
	}
	var payouts int
	w.db.Pool.QueryRow(ctx, `SELECT count(*) FROM transfers WHERE code = 'issuer_payout' AND metadata->>'campaign_id' = $1`, c.ID.String()).Scan(&payouts)
	if payouts != 0 {
		t.Errorf("%d payouts from a campaign that fell below its target", payouts)
	}
}
