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
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/supervision"
)

// TestDisbursementHoldsBackUndeliveredAndReserve: a settled reward
// campaign pays its issuer in steps. At settlement half of every
// undelivered order is held, and 10% of the proceeds for after-sales; an
// operator asks, another person approves, and no more than is releasable
// moves. A confirmed delivery releases its half; an after-sales refund is
// paid from what is held; when the after-sales period ends the reserve is
// released too.
func TestDisbursementHoldsBackUndeliveredAndReserve(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	delivery := w.svc.Now().Add(40 * 24 * time.Hour)
	issuer := w.issuer()
	c := w.launch(campaign.NewCampaign{IssuerID: issuer, Kind: "reward", Pack: "CN-2015", Title: "分批放款", RiskLevel: 1,
		Target: cny("100.00"), HardCap: cny("1000.00"), FeeRate: decimal.RequireFromString("0.05"),
		Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00"), DeliveryBy: &delivery}}})
	a, b := w.investor("", compliance.Profile{}, cny("100.00")), w.investor("", compliance.Profile{}, cny("100.00"))
	for i, p := range []uuid.UUID{a, b} {
		if _, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: p, Tier: "t", Quantity: 6, IdempotencyKey: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.svc.RequestDisbursement(w.opsCtx, c.ID, cny("1.00")); !errors.Is(err, campaign.ErrNotSettled) {
		t.Fatalf("disbursement from a live campaign: %v", err)
	}
	w.advance(31 * 24 * time.Hour)
	if got, err := w.svc.Close(w.opsCtx, c.ID, false); err != nil || got.State != campaign.Settled {
		t.Fatalf("close: %v", err)
	}
	release := func(want string) {
		t.Helper()
		r, err := w.svc.Releasable(ctx, c.ID)
		if err != nil || r.Releasable.String() != want {
			t.Fatalf("releasable %s (%+v, %v), want %s", r.Releasable, r, err, want)
		}
	}
	// 120.00 pledged, 114.00 payable after the 5% fee; held: 57.00 for the
	// undelivered half, 11.40 reserve.
	release("45.60")
	if _, err := w.svc.RequestDisbursement(w.opsCtx, c.ID, cny("45.61")); !errors.Is(err, campaign.ErrOverReleasable) {
		t.Fatalf("over the releasable: %v", err)
	}
	d, err := w.svc.RequestDisbursement(w.opsCtx, c.ID, cny("45.60"))
	if err != nil {
		t.Fatal(err)
	}
	release("0.00") // requested counts as taken
	if _, err := w.svc.ApproveDisbursement(w.opsCtx, d.ID); !errors.Is(err, campaign.ErrSameApprover) {
		t.Fatalf("the requester approved: %v", err)
	}
	// While a regulator freezes the campaign, nothing is paid out of it.
	freezes := supervision.New(w.db.Pool)
	f, err := freezes.FreezeOrder(w.complianceCtx, "campaign", c.ID, "under investigation", "《证券法》")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ApproveDisbursement(w.complianceCtx, d.ID); !errors.Is(err, ledger.ErrAccountFrozen) {
		t.Fatalf("paid out of a frozen campaign: %v", err)
	}
	if _, err := freezes.Lift(w.complianceCtx, f.ID, "cleared"); err != nil {
		t.Fatal(err)
	}
	if got, err := w.svc.ApproveDisbursement(w.complianceCtx, d.ID); err != nil || got.State != "paid" || got.TransferID == nil {
		t.Fatalf("approve: %+v, %v", got, err)
	}
	if _, err := w.svc.ApproveDisbursement(w.complianceCtx, d.ID); !errors.Is(err, campaign.ErrDisbursementPaid) {
		t.Fatalf("paid twice: %v", err)
	}
	if bal := w.balance(w.wallet(issuer)); bal != "45.60" {
		t.Errorf("issuer wallet = %s", bal)
	}
	// A's delivery is confirmed: its held half (28.50) is released.
	ordersPage, err := w.svc.Orders(ctx, campaign.OrderFilter{CampaignID: &c.ID}, page.Request{})
	orders := ordersPage.Items
	if err != nil || len(orders) != 2 {
		t.Fatalf("orders: %v", err)
	}
	byBacker := map[uuid.UUID]campaign.Order{}
	for _, o := range orders {
		byBacker[o.BackerID] = o
	}
	if _, err := w.svc.Ship(w.issuerCtx, byBacker[a].ID, "顺丰", "SF1234567890"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ConfirmReceipt(ctx, byBacker[a].ID, a); err != nil {
		t.Fatal(err)
	}
	release("28.50")
	// An after-sales refund to A comes out of what is held back.
	if _, err := w.svc.Refund(w.complianceCtx, byBacker[a].ID, cny("20.00"), "售后退款"); err != nil {
		t.Fatalf("after-sales refund: %v", err)
	}
	// Payable 48.40; held: B's half 28.50 and a reserve on 100.00 net, 9.50.
	release("10.40")
	// B's delivery date passes and B's order was never shipped: its half
	// stays held, and staff are told the order is late.
	w.advance(delivery.Sub(w.svc.Now()) + 8*24*time.Hour)
	release("10.40")
	sup := supervision.New(w.db.Pool)
	sup.Now = w.svc.Now
	alerts, err := sup.Alerts(ctx, supervision.DefaultAlertSettings)
	if err != nil {
		t.Fatal(err)
	}
	var late []string
	for _, al := range alerts {
		if al.Kind == "late_delivery" {
			late = append(late, al.PartyID)
		}
	}
	if len(late) != 1 || late[0] != b.String() {
		t.Errorf("late delivery alerts for %v, want B only", late)
	}
	// Once shipped, and the delivery date and dispute window behind it,
	// B's half is released; when the after-sales period ends, the reserve.
	if _, err := w.svc.Ship(w.issuerCtx, byBacker[b].ID, "顺丰", "SF0987654321"); err != nil {
		t.Fatal(err)
	}
	release("38.90")
	w.advance(90 * 24 * time.Hour)
	release("48.40")
}
