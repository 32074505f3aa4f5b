package campaign_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// TestCommitmentReferencesHold: a commitment's references are checked once
// per statement (migration 035), not by row-level foreign keys, so the
// database itself must still refuse, for any role, a commitment naming a
// campaign, investor, vehicle or transfer that does not exist, a change of
// what a commitment refers to, and the removal (or change of id) of a row
// commitments refer to.
func TestCommitmentReferencesHold(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iss := w.issuer()
	c := w.launch(campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "引用完整性", RiskLevel: 1,
		Target: cny("1000.00"), FeeRate: decimal.RequireFromString("0.05"), Tiers: []campaign.Tier{{ID: "box", Title: "一箱", Price: cny("10.00")}}})
	inv := w.investor("", compliance.Profile{}, cny("100.00"))
	ctx := context.Background()
	cm, err := w.svc.Commit(ctx, campaign.CommitRequest{CampaignID: c.ID, InvestorID: inv, Tier: "box", Quantity: 1, IdempotencyKey: "refs"})
	if err != nil {
		t.Fatal(err)
	}
	missing := "'00000000-0000-7000-8000-000000000001'::uuid"
	// insertCopy inserts a copy of the commitment whose column col names
	// what does not exist.
	insertCopy := func(col string) string {
		cols := []string{"campaign_id", "investor_id", "role", "amount", "tier", "quantity", "vehicle_id", "pending_transfer", "request_hash", "created_at", "state_at"}
		vals := slices.Clone(cols)
		vals[slices.Index(cols, col)] = missing
		return `INSERT INTO commitments (id, idempotency_key, ` + strings.Join(cols, ", ") + `)
			SELECT gen_random_uuid(), 'copy-` + col + `', ` + strings.Join(vals, ", ") + ` FROM commitments WHERE id = $1`
	}
	for _, tc := range []struct {
		name, sql, code string
	}{
		{"missing campaign", insertCopy("campaign_id"), pg.ForeignKeyViolation},
		{"missing investor", insertCopy("investor_id"), pg.ForeignKeyViolation},
		{"missing transfer", insertCopy("pending_transfer"), pg.ForeignKeyViolation},
		{"missing vehicle", insertCopy("vehicle_id"), pg.ForeignKeyViolation},
		{"campaign changed", `UPDATE commitments SET campaign_id = ` + missing + ` WHERE id = $1`, pg.RestrictViolation},
		{"investor changed", `UPDATE commitments SET investor_id = ` + missing + ` WHERE id = $1`, pg.RestrictViolation},
		{"transfer changed", `UPDATE commitments SET pending_transfer = ` + missing + ` WHERE id = $1`, pg.RestrictViolation},
		{"vehicle changed", `UPDATE commitments SET vehicle_id = ` + missing + ` WHERE id = $1`, pg.RestrictViolation},
		{"investor deleted", `DELETE FROM parties WHERE id = (SELECT investor_id FROM commitments WHERE id = $1)`, pg.RestrictViolation},
		{"investor's id changed", `UPDATE parties SET id = ` + missing + ` WHERE id = (SELECT investor_id FROM commitments WHERE id = $1)`, pg.RestrictViolation},
		{"campaign deleted", `DELETE FROM campaigns WHERE id = (SELECT campaign_id FROM commitments WHERE id = $1)`, pg.RestrictViolation},
		{"campaign's id changed", `UPDATE campaigns SET id = ` + missing + ` WHERE id = (SELECT campaign_id FROM commitments WHERE id = $1)`, pg.RestrictViolation},
		{"transfer deleted", `DELETE FROM transfers WHERE id = (SELECT pending_transfer FROM commitments WHERE id = $1)`, pg.RestrictViolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.db.Pool.Exec(ctx, tc.sql, cm.ID); pg.Code(err) != tc.code {
				t.Errorf("%v (SQLSTATE %s), want SQLSTATE %s", err, pg.Code(err), tc.code)
			}
		})
	}
	// What may move on a commitment still does: its reconfirmation.
	if _, err := w.db.Pool.Exec(ctx, `UPDATE commitments SET reconfirm_by = now() WHERE id = $1`, cm.ID); err != nil {
		t.Errorf("a reconfirmation: %v", err)
	}
}
