package supervision

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/pg"
)

// AlertSettings are the thresholds alerts fire at; every one is a
// supervisor's setting, not a legal figure.
type AlertSettings struct {
	Concentration     decimal.Decimal // one investor's share of a campaign
	CancelCycles      int             // cancellations by one investor within CancelWindowDays
	CancelWindowDays  int
	ReportingLimit    decimal.Decimal // deposits just under this (CNY 50,000: the PBoC large-cash reporting line [R])
	StructuringShare  decimal.Decimal // "just under": at least this share of the limit
	StructuringCount  int             // that many within a day
	LastHourShare     decimal.Decimal // share of a successful raise arriving in its last hour
	SharedAttrParties int             // new parties sharing a document prefix pledging to one campaign (刷单)
}

// DefaultAlertSettings are the starting thresholds.
var DefaultAlertSettings = AlertSettings{
	Concentration: decimal.RequireFromString("0.5"), CancelCycles: 3, CancelWindowDays: 30,
	ReportingLimit: decimal.NewFromInt(50000), StructuringShare: decimal.RequireFromString("0.9"), StructuringCount: 3,
	LastHourShare: decimal.RequireFromString("0.5"), SharedAttrParties: 5,
}

// Alert is one finding for regulators to look at.
type Alert struct {
	Kind       string `json:"kind"`
	CampaignID string `json:"campaign_id,omitempty"`
	PartyID    string `json:"party_id,omitempty"`
	Detail     string `json:"detail"`
}

// Alerts computes every alert from the ledger and the campaign records.
func (s *Service) Alerts(ctx context.Context, set AlertSettings) ([]Alert, error) {
	queries := []struct {
		kind, sql string
		args      []any
	}{
		{"concentration", `SELECT c.campaign_id::text, c.investor_id::text, format('holds %s of %s committed', sum(c.amount), k.committed)
			FROM commitments c JOIN campaigns k ON k.id = c.campaign_id
			WHERE c.state IN ('live', 'settled') AND k.committed > 0
			GROUP BY c.campaign_id, c.investor_id, k.committed HAVING sum(c.amount) > k.committed * $1`, []any{set.Concentration}},
		{"commit_cancel_cycling", `SELECT '', investor_id::text, format('%s commitments cancelled in %s days', count(*), $2::int)
			FROM commitments WHERE state = 'cancelled' AND state_at > now() - make_interval(days => $2::int)
			GROUP BY investor_id HAVING count(*) >= $1`, []any{set.CancelCycles, set.CancelWindowDays}},
		{"structuring", `SELECT '', a.owner, format('%s deposits just under %s within a day', count(*), $1::numeric)
			FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
			WHERE t.code = 'deposit' AND t.amount >= $1::numeric * $2::numeric AND t.amount < $1::numeric AND t.created_at > now() - interval '1 day'
			GROUP BY a.owner HAVING count(*) >= $3`, []any{set.ReportingLimit, set.StructuringShare, set.StructuringCount}},
		{"related_party_investing", `SELECT c.campaign_id::text, c.investor_id::text, format('declared %s of the issuer', r.relation)
			FROM commitments c JOIN campaigns k ON k.id = c.campaign_id JOIN party_relations r ON r.issuer_id = k.issuer_id AND r.related_id = c.investor_id
			WHERE c.state IN ('live', 'settled')`, nil},
		{"last_hour_rush", `SELECT k.id::text, '', format('%s of %s arrived in the last hour', sum(c.amount) FILTER (WHERE c.created_at > k.deadline - interval '1 hour'), k.committed)
			FROM campaigns k JOIN commitments c ON c.campaign_id = k.id AND c.state = 'settled'
			WHERE k.state IN ('settled', 'fulfilled') GROUP BY k.id, k.committed
			HAVING coalesce(sum(c.amount) FILTER (WHERE c.created_at > k.deadline - interval '1 hour'), 0) > k.committed * $1`, []any{set.LastHourShare}},
		{"shared_identity_pledges", `SELECT c.campaign_id::text, '', format('%s new parties with identity numbers from region %s pledged', count(DISTINCT p.id), p.doc_region)
			FROM commitments c JOIN parties p ON p.id = c.investor_id
			WHERE c.created_at - p.created_at < interval '7 days' AND c.state IN ('live', 'settled') AND p.doc_region IS NOT NULL
			GROUP BY c.campaign_id, p.doc_region HAVING count(DISTINCT p.id) >= $1`, []any{set.SharedAttrParties}},
		{"late_delivery", `SELECT o.campaign_id::text, o.backer_id::text, format('order %s not delivered by %s', o.id, t.delivery_by)
			FROM orders o JOIN campaign_tiers t ON t.campaign_id = o.campaign_id AND t.tier = o.tier
			WHERE o.state IN ('awaiting_shipment', 'shipped') AND t.delivery_by < $1`, []any{s.Now()}},
		{"campaign_close_failing", `SELECT id::text, '', format('close failed %s times in a row (%s); next try at %s', close_failures, close_error, close_retry_at)
			FROM campaigns WHERE state = 'live' AND close_failures > 0`, nil},
		{"complaint_ack_overdue", `SELECT coalesce(against_id::text, ''), complainant_id::text, format('complaint %s not acknowledged by %s', id, ack_due)
			FROM complaints WHERE state = 'received' AND ack_due < now()`, nil},
	}
	out := []Alert{}
	for _, q := range queries {
		rows, err := s.db.Query(ctx, q.sql, q.args...)
		if err != nil {
			return nil, fmt.Errorf("alert %s: %w", q.kind, err)
		}
		for rows.Next() {
			a := Alert{Kind: q.kind}
			if err := rows.Scan(&a.CampaignID, &a.PartyID, &a.Detail); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("alert %s: %w", q.kind, err)
		}
	}
	return out, nil
}

// stableDetail are the alert kinds whose detail names one thing for good (an
// order, a complaint): each such alert is its own. Other kinds are one alert
// per campaign and party, whatever their changing figures say.
var stableDetail = map[string]bool{"late_delivery": true, "complaint_ack_overdue": true}

// RaiseAlerts computes the alerts and raises, as an audit event (alert.raised
// on the feed, to staff and regulators), each one not raised before: a
// complaint's acknowledgement deadline passing, a delivery late, a campaign
// whose close keeps failing. Every process may run it; the table's key
// makes each alert raised once.
func (s *Service) RaiseAlerts(ctx context.Context, set AlertSettings) (int, error) {
	alerts, err := s.Alerts(ctx, set)
	if err != nil || len(alerts) == 0 {
		return 0, err
	}
	raised := 0
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		raised = 0
		for _, a := range alerts {
			key := a.Kind + "|" + a.CampaignID + "|" + a.PartyID
			if stableDetail[a.Kind] {
				key += "|" + a.Detail
			}
			tag, err := tx.Exec(ctx, `INSERT INTO alerts_raised (key, kind, campaign_id, party_id, detail) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (key) DO NOTHING`, key, a.Kind, a.CampaignID, a.PartyID, a.Detail)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			var objects []string
			for _, id := range []string{a.CampaignID, a.PartyID} {
				if id != "" {
					objects = append(objects, id)
				}
			}
			if err := record(ctx, tx, "supervision.alert", objects, map[string]any{"kind": a.Kind, "detail": a.Detail,
				"campaign_id": a.CampaignID, "party_id": a.PartyID}); err != nil {
				return err
			}
			raised++
		}
		return nil
	})
	return raised, err
}
