package supervision_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/supervision"
)

func cny(s string) money.Amount { a, _ := money.Parse("CNY", s); return a }

// TestFrozenMoneyCannotLeave: with an investor frozen, no path takes money
// out of their wallet (transfer, commitment, withdrawal, settlement); with a
// campaign frozen, its escrow cannot pay out. Lifting the orders lets the
// money move again, and both are on record.
func TestFrozenMoneyCannotLeave(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	keys, _ := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	l := ledger.New(db.Pool, ledger.Options{Freezes: supervision.New(db.Pool)})
	defer l.Close()
	reg := registry.New(db.Pool, keys)
	svc := campaign.New(db.Pool, l, reg)
	clock := time.Now()
	svc.Now = func() time.Time { return clock }
	sup := supervision.New(db.Pool)
	ctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "regulator"}, "t")
	cctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance"}, "t")
	mk := func(role string, n int) uuid.UUID {
		in := registry.NewParty{Role: role, Entity: compliance.Individual, Jurisdiction: "CN", Name: "某", DocType: compliance.OtherDocument,
			DocNumber: fmt.Sprintf("DOC-%s-%d", role, n)}
		if role == "issuer" {
			in.Entity = compliance.Institution
		}
		p, err := reg.CreateParty(cctx, in)
		if err != nil {
			t.Fatal(err)
		}
		reg.SetVerification(cctx, p.ID, registry.StatusVerified, "kyc", "")
		return p.ID
	}
	iss, inv := mk("issuer", 1), mk("investor", 2)
	if _, err := svc.Deposit(ctx, inv, cny("100.00"), "B1"); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Create(ctx, campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "t", RiskLevel: 1, Target: cny("10.00"),
		HardCap: cny("100.00"), FeeRate: decimal.Zero, StartsAt: clock.Add(-time.Minute), Deadline: clock.Add(time.Hour),
		Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
	if err != nil {
		t.Fatal(err)
	}
	svc.Submit(ctx, c.ID, []campaign.Disclosure{{Title: "x", Kind: "k", DocumentHash: fmt.Sprintf("%064d", 0)}})
	if _, err := svc.Approve(cctx, c.ID); err != nil {
		t.Fatal(err)
	}
	cm, err := svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: inv, Tier: "t", Quantity: 2, IdempotencyKey: "before"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := sup.FreezeOrder(ctx, "party", inv, "suspected fraud", "《证券法》第一百七十条")
	if err != nil {
		t.Fatal(err)
	}
	wallet, _ := svc.Wallet(ctx, inv, money.MustLookup("CNY"))
	frozen := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ledger.ErrAccountFrozen) {
			t.Errorf("%s while frozen: %v", what, err)
		}
	}
	other := mk("investor", 3)
	otherWallet, _ := svc.Wallet(ctx, other, money.MustLookup("CNY"))
	_, err = l.Submit(ctx, uuid.NewString(), []ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: wallet, CreditAccountID: otherWallet, Amount: cny("1.00"), Code: "move"}})
	frozen("transfer", err)
	_, err = svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: inv, Tier: "t", Quantity: 1, IdempotencyKey: "during"})
	if !errors.Is(err, campaign.ErrAlreadyCommitted) { // one live commitment per campaign; try the ledger path directly below
		frozen("commitment", err)
	}
	_, err = l.Submit(ctx, uuid.NewString(), []ledger.TransferRequest{{Kind: ledger.KindPending, DebitAccountID: wallet, CreditAccountID: c.EscrowAccountID, Amount: cny("1.00"), Code: "commitment"}})
	frozen("commitment transfer", err)
	_, err = svc.Withdraw(ctx, inv, cny("10.00"), "W1")
	frozen("withdrawal", err)
	clock = clock.Add(25 * time.Hour) // past the deadline and the commitment's 24-hour cancellation window
	_, err = svc.Close(ctx, c.ID, false)
	frozen("settlement", err)
	// Money may still come in: a deposit to a frozen wallet is allowed.
	if _, err := svc.Deposit(ctx, inv, cny("5.00"), "B2"); err != nil {
		t.Errorf("deposit to a frozen wallet: %v", err)
	}
	if _, err := sup.Lift(ctx, f.ID, "court order lifted"); err != nil {
		t.Fatal(err)
	}
	if _, err := sup.Lift(ctx, f.ID, "again"); !errors.Is(err, supervision.ErrLifted) {
		t.Errorf("lifting twice: %v", err)
	}
	// Now freeze the campaign: settlement cannot pay out of its escrow.
	cf, err := sup.FreezeOrder(ctx, "campaign", c.ID, "false advertising under investigation", "《广告法》")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Close(ctx, c.ID, false)
	frozen("payout from a frozen campaign", err)
	sup.Lift(ctx, cf.ID, "cleared")
	if got, err := svc.Close(ctx, c.ID, false); err != nil || got.State != campaign.Settled {
		t.Fatalf("after lifting: %v", err)
	}
	_ = cm
	fp, _ := sup.Freezes(ctx, supervision.FreezeFilter{}, page.Request{})
	all := fp.Items
	if active, _ := sup.Freezes(ctx, supervision.FreezeFilter{Active: true}, page.Request{}); len(active.Items) != 0 {
		t.Errorf("active freezes after lifting both: %+v", active.Items)
	}
	if len(all) != 2 || all[0].LiftedAt == nil || all[1].LiftedAt == nil {
		t.Errorf("freeze records: %+v", all)
	}
	if vs, _ := l.Check(ctx); len(vs) > 0 {
		t.Errorf("invariants: %v", vs)
	}
}

// TestSpotCheckIsReproducible: the same seed over the same pool draws the
// same campaigns and inspectors; another seed draws differently.
func TestSpotCheckIsReproducible(t *testing.T) {
	pool := make([]uuid.UUID, 50)
	for i := range pool {
		pool[i] = uuid.New()
	}
	a := supervision.DrawIDs(20261122, pool, 5)
	shuffled := append([]uuid.UUID(nil), pool...)
	shuffled[0], shuffled[49] = shuffled[49], shuffled[0]
	b := supervision.DrawIDs(20261122, shuffled, 5)
	c := supervision.DrawIDs(7, pool, 5)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, same pool in another order: %v vs %v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("another seed drew the same campaigns")
	}
}

// TestSpotCheckIsCommittedBeforeItIsDrawn: the service draws the seed; the
// commitment is all that exists before the draw (in the answer and in the
// audit trail); the revealed seed and salt open the commitment and redraw
// the same campaigns and inspectors from the published pool; a check is
// drawn once; only a drawn check is published.
func TestSpotCheckIsCommittedBeforeItIsDrawn(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	sup := supervision.New(db.Pool)
	ctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "regulator", Subject: "reg-1"}, "t")
	keys, _ := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	l := ledger.New(db.Pool, ledger.Options{Freezes: sup})
	defer l.Close()
	reg := registry.New(db.Pool, keys)
	svc := campaign.New(db.Pool, l, reg)
	iss, err := reg.CreateParty(ctx, registry.NewParty{Role: "issuer", Entity: compliance.Institution, Jurisdiction: "CN", Name: "某", DocType: compliance.OtherDocument, DocNumber: "ISS-1"})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 { // the pool: six draft campaigns
		if _, err := svc.Create(ctx, campaign.NewCampaign{IssuerID: iss.ID, Kind: "reward", Pack: "CN-2015", Title: "t", RiskLevel: 1, Target: cny("10.00"),
			HardCap: cny("100.00"), FeeRate: decimal.Zero, StartsAt: time.Now().Add(-time.Minute), Deadline: time.Now().Add(time.Hour),
			Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}}); err != nil {
			t.Fatal(err)
		}
	}
	inspectors := []string{"张检查员", "李检查员", "王检查员", "赵检查员"}
	a, err := sup.Commit(ctx, 2, supervision.Filter{}, inspectors)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sup.Commit(ctx, 2, supervision.Filter{}, inspectors)
	if a.Commitment == b.Commitment || a.Seed == b.Seed {
		t.Error("two commitments share a seed")
	}
	var facts string
	db.Pool.QueryRow(ctx, `SELECT facts::text FROM audit_events WHERE action = 'supervision.spot_check.commit' AND $1 = ANY(object_ids)`, a.ID.String()).Scan(&facts)
	if !strings.Contains(facts, a.Commitment) || strings.Contains(facts, fmt.Sprint(a.Seed)) || strings.Contains(facts, "seed\"") {
		t.Errorf("commit's audit facts: %s", facts)
	}
	if _, err := sup.Publish(ctx, a.ID, "too early"); !errors.Is(err, supervision.ErrNotDrawn) {
		t.Errorf("published before the draw: %v", err)
	}
	d, err := sup.Draw(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if supervision.SeedCommitment(d.Salt, d.Seed) != a.Commitment {
		t.Error("the revealed seed does not open the commitment")
	}
	if len(d.Pool) != 6 || len(d.Campaigns) != 2 {
		t.Errorf("drew %d of %d", len(d.Campaigns), len(d.Pool))
	}
	if fmt.Sprint(supervision.DrawIDs(d.Seed, d.Pool, 2)) != fmt.Sprint(d.Campaigns) ||
		fmt.Sprint(supervision.DrawInspectors(d.Seed, []string{"赵检查员", "王检查员", "李检查员", "张检查员"}, 2)) != fmt.Sprint(d.Inspectors) {
		t.Error("the published seed does not redraw the draw")
	}
	if _, err := sup.Draw(ctx, a.ID); !errors.Is(err, supervision.ErrDrawn) {
		t.Errorf("drawn twice: %v", err)
	}
	if _, err := sup.SpotCheck(ctx, a.ID, true); !errors.Is(err, supervision.ErrNotFound) {
		t.Errorf("unpublished check is public: %v", err)
	}
	if _, err := sup.Publish(ctx, a.ID, "no irregularities found"); err != nil {
		t.Fatal(err)
	}
	if pub, err := sup.SpotCheck(ctx, a.ID, true); err != nil || *pub.Results != "no irregularities found" {
		t.Errorf("published: %+v, %v", pub, err)
	}
}

// TestComplaintsAndAlerts: a complaint's lifecycle and deadline, and the
// alerts that fire on a concentrated campaign and an unacknowledged complaint.
func TestComplaintsAndAlerts(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	keys, _ := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	l := ledger.New(db.Pool, ledger.Options{Freezes: supervision.New(db.Pool)})
	defer l.Close()
	reg := registry.New(db.Pool, keys)
	svc := campaign.New(db.Pool, l, reg)
	sup := supervision.New(db.Pool)
	ctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance"}, "t")
	party := func(role, doc string) uuid.UUID {
		in := registry.NewParty{Role: role, Entity: compliance.Institution, Jurisdiction: "CN", Name: "某", DocType: compliance.OtherDocument, DocNumber: doc}
		p, err := reg.CreateParty(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		reg.SetVerification(ctx, p.ID, registry.StatusVerified, "kyc", "")
		return p.ID
	}
	iss, inv := party("issuer", "ISS-1"), party("investor", "INV-1")
	svc.Deposit(ctx, inv, cny("100.00"), "B")
	c, _ := svc.Create(ctx, campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "t", RiskLevel: 1, Target: cny("10.00"), HardCap: cny("100.00"),
		FeeRate: decimal.Zero, StartsAt: time.Now().Add(-time.Minute), Deadline: time.Now().Add(time.Hour),
		Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
	svc.Submit(ctx, c.ID, []campaign.Disclosure{{Title: "x", Kind: "k", DocumentHash: fmt.Sprintf("%064d", 0)}})
	svc.Approve(audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance"}, "t"), c.ID)
	if _, err := svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: inv, Tier: "t", Quantity: 3, IdempotencyKey: "x"}); err != nil {
		t.Fatal(err)
	}
	sup.Now = func() time.Time { return time.Now().AddDate(0, 0, -30) } // filed a month ago
	cp, err := sup.File(ctx, inv, "campaign", &c.ID, "商品与宣传不符 (not as advertised)")
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := sup.Alerts(ctx, supervision.DefaultAlertSettings)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, a := range alerts {
		kinds[a.Kind] = true
	}
	if !kinds["concentration"] || !kinds["complaint_ack_overdue"] {
		t.Errorf("alerts = %+v", alerts)
	}
	if _, err := sup.Move(ctx, cp.ID, "resolved", "skip"); !errors.Is(err, supervision.ErrState) {
		t.Errorf("received → resolved: %v", err)
	}
	for _, step := range []string{"acknowledged", "mediating", "resolved"} {
		if _, err := sup.Move(ctx, cp.ID, step, "step "+step); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := sup.Complaint(ctx, cp.ID)
	if got.State != "resolved" || len(got.Timeline) != 3 {
		t.Errorf("complaint = %+v", got)
	}
}
