package supervision_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/supervision"
)

// TestOneFrozenCampaignDoesNotStallTheOthers: a campaign holding a frozen
// investor's commitment fails its close; the campaign due after it still
// closes in the same round. The failure is recorded on the campaign with a
// retry time that backs off, staff see it as an alert, and once the freeze
// is lifted the next try closes it and clears the record.
func TestOneFrozenCampaignDoesNotStallTheOthers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	keys, _ := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	sup := supervision.New(db.Pool)
	l := ledger.New(db.Pool, ledger.Options{Freezes: sup})
	defer l.Close()
	reg := registry.New(db.Pool, keys)
	svc := campaign.New(db.Pool, l, reg)
	clock := time.Now()
	svc.Now = func() time.Time { return clock }
	ctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "regulator", Subject: "reg"}, "t")
	cctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance", Subject: "co"}, "t")
	party := func(role string, n int) uuid.UUID {
		in := registry.NewParty{Role: role, Entity: compliance.Individual, Jurisdiction: "CN", Name: "某", DocType: compliance.OtherDocument,
			DocNumber: fmt.Sprintf("ISO-%s-%d", role, n)}
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
	iss := party("issuer", 1)
	live := func(inv uuid.UUID, deadline time.Duration) uuid.UUID {
		svc.Deposit(ctx, inv, cny("100.00"), "B-"+inv.String())
		c, err := svc.Create(ctx, campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "t", RiskLevel: 1, Target: cny("10.00"),
			HardCap: cny("100.00"), FeeRate: decimal.Zero, StartsAt: clock.Add(-time.Minute), Deadline: clock.Add(deadline),
			Tiers: []campaign.Tier{{ID: "t", Title: "t", Price: cny("10.00")}}})
		if err != nil {
			t.Fatal(err)
		}
		svc.Submit(ctx, c.ID, []campaign.Disclosure{{Title: "x", Kind: "k", DocumentHash: fmt.Sprintf("%064d", 0)}})
		if _, err := svc.Approve(cctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: inv, Tier: "t", Quantity: 2, IdempotencyKey: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	frozenInv, otherInv := party("investor", 2), party("investor", 3)
	stuck := live(frozenInv, time.Hour)           // due first
	fine := live(otherInv, time.Hour+time.Minute) // due after it
	f, err := sup.FreezeOrder(ctx, "party", frozenInv, "suspected fraud", "《证券法》第一百七十条")
	if err != nil {
		t.Fatal(err)
	}
	failures := func() (n int, cause string, retry time.Time) {
		db.Pool.QueryRow(ctx, `SELECT close_failures, coalesce(close_error, ''), coalesce(close_retry_at, 'epoch') FROM campaigns WHERE id = $1`, stuck).Scan(&n, &cause, &retry)
		return
	}

	clock = clock.Add(26 * time.Hour) // past both deadlines and the commitments' 24-hour cancellation windows
	rep, err := svc.Tick(ctx)
	if err != nil || rep.Failed[stuck] == nil || len(rep.Settled) != 1 || rep.Settled[0] != fine {
		t.Fatalf("first round: %+v, %v", rep, err)
	}
	if n, cause, retry := failures(); n != 1 || !strings.Contains(cause, "frozen") || !retry.Equal(clock.Add(30*time.Second).Truncate(time.Microsecond)) {
		t.Errorf("recorded failure: %d %q %v", n, cause, retry)
	}
	alerts, err := sup.Alerts(ctx, supervision.DefaultAlertSettings)
	if err != nil {
		t.Fatal(err)
	}
	var alerted bool
	for _, a := range alerts {
		alerted = alerted || (a.Kind == "campaign_close_failing" && a.CampaignID == stuck.String())
	}
	if !alerted {
		t.Errorf("no alert for the failing close: %+v", alerts)
	}
	// Before its retry time it is left alone; after, tried again, backing off.
	if rep, _ := svc.Tick(ctx); len(rep.Failed) != 0 {
		t.Errorf("retried before its time: %+v", rep)
	}
	clock = clock.Add(31 * time.Second)
	if rep, _ := svc.Tick(ctx); rep.Failed[stuck] == nil {
		t.Errorf("not retried after its time: %+v", rep)
	}
	if n, _, retry := failures(); n != 2 || !retry.Equal(clock.Add(time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("second failure: %d, retry %v", n, retry)
	}
	if _, err := sup.Lift(ctx, f.ID, "court order lifted"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(61 * time.Second)
	if rep, err := svc.Tick(ctx); err != nil || len(rep.Settled) != 1 || rep.Settled[0] != stuck {
		t.Fatalf("after the freeze was lifted: %+v, %v", rep, err)
	}
	if n, cause, _ := failures(); n != 0 || cause != "" {
		t.Errorf("record not cleared: %d %q", n, cause)
	}
}
