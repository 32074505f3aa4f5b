package campaign_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/registry"
)

// TestMaterialChangeNeedsReconfirmation: after a change of target, a backer
// who reconfirms keeps the commitment; one who stays silent for 5 business
// days is cancelled and refunded to the fen.
func TestMaterialChangeNeedsReconfirmation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "amend", RiskLevel: 1,
		Target: cny("500.00"), HardCap: cny("1000.00"), FeeRate: decimal.Zero, Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("12.34")}}})
	a := w.investor("", compliance.Profile{}, cny("100.00"))
	b := w.investor("", compliance.Profile{}, cny("100.00"))
	ca, _ := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: a, Tier: "t", Quantity: 2, IdempotencyKey: uuid.NewString()})
	cb, _ := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: 3, IdempotencyKey: uuid.NewString()})
	target := cny("800.00")
	if _, err := w.svc.Amend(w.issuerCtx, c.ID, campaign.Amendment{Target: &target, Reason: "bigger production run"}); err != nil {
		t.Fatal(err)
	}
	got, _ := w.svc.Commitment(ctx, cb.ID, uuid.Nil)
	if got.ReconfirmBy == nil {
		t.Fatal("no reconfirmation deadline set")
	}
	if _, err := w.svc.Reconfirm(ctx, ca.ID, a); err != nil {
		t.Fatal(err)
	}
	w.advance(got.ReconfirmBy.Sub(w.svc.Now()) - time.Minute)
	w.svc.Tick(ctx)
	if still, _ := w.svc.Commitment(ctx, cb.ID, uuid.Nil); still.State != "live" {
		t.Fatalf("cancelled before the deadline: %s", still.State)
	}
	w.advance(2 * time.Minute)
	if _, err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if gone, _ := w.svc.Commitment(ctx, cb.ID, uuid.Nil); gone.State != "cancelled" {
		t.Errorf("silent backer's commitment is %s, want cancelled", gone.State)
	}
	if kept, _ := w.svc.Commitment(ctx, ca.ID, uuid.Nil); kept.State != "live" {
		t.Errorf("reconfirmed commitment is %s", kept.State)
	}
	if bal := w.balance(w.wallet(b)); bal != "100.00" {
		t.Errorf("refunded backer has %s", bal)
	}
	cc, _ := w.svc.Get(ctx, c.ID)
	if cc.Committed.String() != "24.68" || cc.Target.String() != "800.00" {
		t.Errorf("campaign committed %s target %s", cc.Committed, cc.Target)
	}
}

// TestFulfilmentAndRefunds: orders are shipped, received, disputed and
// refunded (in part and in full, naming the approver); when every order is
// closed the campaign is fulfilled.
func TestFulfilmentAndRefunds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "青稞酒", RiskLevel: 1,
		Target: cny("100.00"), HardCap: cny("1000.00"), FeeRate: decimal.RequireFromString("0.05"), Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("60.00")}}})
	a := w.investor("", compliance.Profile{}, cny("100.00"))
	b := w.investor("", compliance.Profile{}, cny("100.00"))
	for _, p := range []uuid.UUID{a, b} {
		if _, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: p, Tier: "t", Quantity: 1, IdempotencyKey: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	w.advance(31 * 24 * time.Hour)
	if _, err := w.svc.Close(w.opsCtx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	ordersPage, err := w.svc.Orders(ctx, campaign.OrderFilter{CampaignID: &c.ID}, page.Request{})
	orders := ordersPage.Items
	if err != nil || len(orders) != 2 {
		t.Fatalf("orders: %v %v", orders, err)
	}
	oa, ob := orders[0], orders[1]
	if oa.BackerID != a {
		oa, ob = ob, oa
	}
	if _, err := w.svc.ConfirmReceipt(ctx, oa.ID, a); err == nil {
		t.Error("confirmed receipt before shipping")
	}
	if _, err := w.svc.Ship(w.issuerCtx, oa.ID, "SF Express", "SF1234567890"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ConfirmReceipt(ctx, oa.ID, b); !errors.Is(err, campaign.ErrOrderNotFound) {
		t.Errorf("someone else confirming: %v", err)
	}
	if _, err := w.svc.ConfirmReceipt(ctx, oa.ID, a); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.OpenDispute(ctx, ob.ID, b, "never arrived"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Refund(w.complianceCtx, ob.ID, cny("60.01"), "lost"); err == nil {
		t.Error("refund above the order amount accepted")
	}
	part, err := w.svc.Refund(w.complianceCtx, ob.ID, cny("20.00"), "partial: damaged box")
	if err != nil || part.State != "resolved" || part.Refunded.String() != "20.00" {
		t.Fatalf("partial refund: %+v, %v", part, err)
	}
	cc, _ := w.svc.Get(ctx, c.ID)
	if cc.State != campaign.Fulfilled {
		t.Errorf("campaign is %s once every order is closed, want fulfilled", cc.State)
	}
	if bal := w.balance(w.wallet(b)); bal != "60.00" { // 100 - 60 + 20
		t.Errorf("backer b = %s", bal)
	}
	if bal := w.balance(c.PayableAccountID); bal != "94.00" { // 120 - 6 fee - 20 refund
		t.Errorf("issuer payable = %s", bal)
	}
}

// TestBlacklistedIssuerCannotStayLive: the scheduler fails the campaign and
// refunds every backer once its issuer is blacklisted; it could not submit another.
func TestBlacklistedIssuerCannotStayLive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	iss := w.issuer()
	c := w.launch(campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "bad issuer", RiskLevel: 1,
		Target: cny("100.00"), FeeRate: decimal.Zero, Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
	b := w.investor("", compliance.Profile{}, cny("50.00"))
	if _, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: 2, IdempotencyKey: uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.reg.AddListEntry(w.complianceCtx, registry.NewListEntry{List: registry.Black, PartyID: iss, Reason: "虚假宣传", Authority: "市场监督管理局"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := w.svc.Get(ctx, c.ID)
	if got.State != campaign.Refunded {
		t.Fatalf("state %s", got.State)
	}
	if bal := w.balance(w.wallet(b)); bal != "50.00" {
		t.Errorf("backer = %s", bal)
	}
	d, err := w.svc.Create(w.issuerCtx, campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "again", RiskLevel: 1,
		Target: cny("100.00"), FeeRate: decimal.Zero, StartsAt: w.svc.Now(), Deadline: w.svc.Now().Add(time.Hour),
		Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Submit(w.issuerCtx, d.ID, []campaign.Disclosure{{Title: "x", Kind: "k", DocumentHash: "0000000000000000000000000000000000000000000000000000000000000000"}}); !errors.Is(err, campaign.ErrIssuerBlacklisted) {
		t.Errorf("blacklisted issuer submitted: %v", err)
	}
	if _, err := w.svc.Approve(w.issuerCtx, d.ID); !errors.Is(err, campaign.ErrIllegalTransition) {
		t.Errorf("approving a draft: %v", err)
	}
}

// TestKeepWhatYouRaise: a flexible reward campaign short of its target
// still pays out what it raised, net of the fee.
func TestKeepWhatYouRaise(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Funding: "keep_what_you_raise", Pack: "CN-2015", Title: "flexible",
		RiskLevel: 1, Target: cny("1000.00"), FeeRate: decimal.RequireFromString("0.10"), Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("33.33")}}})
	b := w.investor("", compliance.Profile{}, cny("100.00"))
	if _, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: 1, IdempotencyKey: uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	w.advance(31 * 24 * time.Hour)
	got, err := w.svc.Close(w.opsCtx, c.ID, false)
	if err != nil || got.State != campaign.Settled {
		t.Fatalf("close: %v", err)
	}
	if bal := w.balance(c.PayableAccountID); bal != "30.00" { // 33.33 less 3.333 → 3.33 fee
		t.Errorf("issuer payable = %s, want 30.00", bal)
	}
	if _, err := w.svc.Create(w.issuerCtx, campaign.NewCampaign{IssuerID: c.IssuerID, Kind: "equity", Funding: "keep_what_you_raise", Pack: "CN-2015",
		Title: "x", Target: cny("1.00"), PricePerShare: cny("1.00"), StartsAt: w.svc.Now(), Deadline: w.svc.Now().Add(time.Hour)}); !errors.Is(err, campaign.ErrInvalid) {
		t.Errorf("equity keep-what-you-raise: %v", err)
	}
}

// TestLeadMustMeetLeadCriteria: a qualified investor without the experience and exits may not lead.
func TestLeadMustMeetLeadCriteria(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	novice := w.investor("CN-2015", compliance.Profile{FinancialAssets: decimal.NewFromInt(2000000), RiskAnswers: []int{4, 4, 4, 4, 4}}, cny("300000.00"))
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "equity", Pack: "CN-2015", Title: "novice lead", Target: cny("1000000.00"),
		PricePerShare: cny("100.00"), FeeRate: decimal.Zero, LeadInvestorID: novice})
	_, err := w.svc.Commit(context.Background(), campaign.CommitRequest{RiskDisclosure: cnAck, CampaignID: c.ID, InvestorID: novice, Shares: 2000, IdempotencyKey: "n"})
	var refusal *compliance.Refusal
	if !errors.As(err, &refusal) || refusal.Reasons[0].RuleID != "CN-2015/lead-criteria" {
		t.Fatalf("novice lead: %v", err)
	}
}

// TestReconcileAgainstTheBank: the bank's statement balance matches the
// ledger's custody account; a statement off by a fen shows the difference.
func TestReconcileAgainstTheBank(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "reconcile", RiskLevel: 1,
		Target: cny("10.00"), HardCap: cny("100.00"), FeeRate: decimal.Zero, Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("12.50")}}})
	b := w.investor("", compliance.Profile{}, cny("100.00"))
	if _, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: 2, IdempotencyKey: uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Second)
	r, err := w.svc.Reconcile(w.opsCtx, cny("100.00"), now, "ICBC-STMT-1")
	if err != nil || !r.Difference.IsZero() || r.LedgerBalance.String() != "100.00" || r.ByCode["investor_wallet"].String() != "100.00" {
		t.Fatalf("reconcile: %+v, %v", r, err)
	}
	off, err := w.svc.Reconcile(w.opsCtx, cny("99.99"), now, "ICBC-STMT-2")
	if err != nil || off.Difference.String() != "-0.01" {
		t.Fatalf("off by a fen: %+v, %v", off, err)
	}
}

// TestRepeatCommitmentsCountOneInvestor: an investor backing twice is one
// investor until their last commitment is cancelled.
func TestRepeatCommitmentsCountOneInvestor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "repeat", RiskLevel: 1,
		Target: cny("10.00"), HardCap: cny("100.00"), FeeRate: decimal.Zero, Tiers: []campaign.Tier{{ID: "a", Title: "a", Price: cny("5.00")}, {ID: "b", Title: "b", Price: cny("7.00")}}})
	b := w.investor("", compliance.Profile{}, cny("50.00"))
	c1, _ := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "a", Quantity: 1, IdempotencyKey: "1"})
	c2, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "b", Quantity: 1, IdempotencyKey: "2"})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int { got, _ := w.svc.Get(ctx, c.ID); return got.Investors }
	if count() != 1 {
		t.Errorf("two commitments by one backer count %d investors", count())
	}
	w.svc.Cancel(ctx, c1.ID, b)
	if count() != 1 {
		t.Errorf("after one cancellation: %d", count())
	}
	w.svc.Cancel(ctx, c2.ID, b)
	if got, _ := w.svc.Get(ctx, c.ID); got.Investors != 0 || !got.Committed.IsZero() {
		t.Errorf("after both: %d investors, %s committed", got.Investors, got.Committed)
	}
}

// TestReconfirmationSkipsNationalDay: a material change on 30 September
// 2026 gives backers 5 business days in the CN calendar: Oct 1-7 are the
// National Day holiday and Saturday Oct 10 is worked in exchange, so the
// window ends on Tuesday Oct 13, Beijing time, not on Oct 7.
func TestReconfirmationSkipsNationalDay(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	start := time.Date(2026, 9, 30, 9, 0, 0, 0, compliance.China.Location)
	w.clock.Store(&start)
	c := w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "国庆", RiskLevel: 1,
		Target: cny("100.00"), HardCap: cny("1000.00"), FeeRate: decimal.Zero,
		Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
	b := w.investor("", compliance.Profile{}, cny("100.00"))
	cm, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: c.ID, InvestorID: b, Tier: "t", Quantity: 1, IdempotencyKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	target := cny("200.00")
	if _, err := w.svc.Amend(w.issuerCtx, c.ID, campaign.Amendment{Target: &target, Reason: "目标调整"}); err != nil {
		t.Fatal(err)
	}
	got, err := w.svc.Commitment(context.Background(), cm.ID, uuid.Nil)
	if err != nil || got.ReconfirmBy == nil {
		t.Fatalf("commitment after the change: %+v, %v", got, err)
	}
	if want := time.Date(2026, 10, 13, 9, 0, 0, 0, compliance.China.Location); !got.ReconfirmBy.Equal(want) {
		t.Errorf("reconfirm by %s, want %s", got.ReconfirmBy.In(compliance.China.Location), want)
	}
}
