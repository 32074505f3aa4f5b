package campaign_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/ledger"
)

// TestBatchMixedOutcomes sends commitments that succeed, repeat their key,
// name no tier, or find an empty wallet, all at once, so that they share
// group-commit batches: each gets its own answer, and only the accepted ones
// reach the campaign's totals and the escrow. A second campaign gets only
// commitments the ledger refuses, so whole batches write nothing but COMMIT.
func TestBatchMixedOutcomes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	launch := func() campaign.Campaign {
		return w.launch(campaign.NewCampaign{IssuerID: w.issuer(), Kind: "reward", Pack: "CN-2015", Title: "青稞礼盒", RiskLevel: 1,
			Target: cny("100.00"), HardCap: cny("100000.00"), FeeRate: decimal.Zero,
			Tiers: []campaign.Tier{{ID: "box", Title: "礼盒", Price: cny("10.00")}}})
	}
	c, empty := launch(), launch()
	rich, poor := make([]uuid.UUID, 30), make([]uuid.UUID, 15)
	for i := range rich {
		rich[i] = w.investor("", compliance.Profile{}, cny("100.00"))
	}
	for i := range poor {
		poor[i] = w.investor("", compliance.Profile{}, cny("5.00"))
	}

	type result struct {
		kind string // "ok", "poor", "notier", "empty"
		inv  uuid.UUID
		out  campaign.Commitment
		err  error
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []result
	)
	send := func(kind string, camp, inv uuid.UUID, tier, key string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := w.svc.Commit(context.Background(), campaign.CommitRequest{CampaignID: camp, InvestorID: inv, Tier: tier, Quantity: 1, IdempotencyKey: key})
			mu.Lock()
			results = append(results, result{kind, inv, out, err})
			mu.Unlock()
		}()
	}
	for _, inv := range rich {
		send("ok", c.ID, inv, "box", inv.String())
		send("ok", c.ID, inv, "box", inv.String()) // the client's retry, racing the original
		send("notier", c.ID, inv, "crate", "notier-"+inv.String())
	}
	for _, inv := range poor {
		send("poor", c.ID, inv, "box", inv.String())
		send("empty", empty.ID, inv, "box", "empty-"+inv.String())
	}
	wg.Wait()

	ids := map[uuid.UUID]uuid.UUID{} // investor -> commitment
	for _, r := range results {
		switch r.kind {
		case "ok":
			if r.err != nil {
				t.Errorf("investor %s: %v", r.inv, r.err)
				continue
			}
			if prev, ok := ids[r.inv]; ok && prev != r.out.ID {
				t.Errorf("investor %s: one key, two commitments %s and %s", r.inv, prev, r.out.ID)
			}
			ids[r.inv] = r.out.ID
		case "poor", "empty":
			if !errors.Is(r.err, ledger.ErrInsufficientFunds) {
				t.Errorf("%s investor %s: err %v, want insufficient funds", r.kind, r.inv, r.err)
			}
		case "notier":
			var fe *fault.FieldError
			if !errors.As(r.err, &fe) || fe.Field != "tier" {
				t.Errorf("no tier, investor %s: err %v, want a tier field error", r.inv, r.err)
			}
		}
	}
	if len(ids) != len(rich) {
		t.Errorf("%d investors committed, want %d", len(ids), len(rich))
	}
	for _, tc := range []struct {
		id        uuid.UUID
		escrow    uuid.UUID
		committed string
		investors int
	}{{c.ID, c.EscrowAccountID, "300.00", 30}, {empty.ID, empty.EscrowAccountID, "0.00", 0}} {
		got, err := w.svc.Get(context.Background(), tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Committed.String() != tc.committed || got.Investors != tc.investors {
			t.Errorf("campaign %s: committed %s by %d investors, want %s by %d", tc.id, got.Committed, got.Investors, tc.committed, tc.investors)
		}
		a, err := w.ledger.Account(context.Background(), tc.escrow)
		if err != nil {
			t.Fatal(err)
		}
		if a.Balances.CreditsPending.String() != tc.committed {
			t.Errorf("campaign %s escrow pending %s, want %s", tc.id, a.Balances.CreditsPending, tc.committed)
		}
	}
}
