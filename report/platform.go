package report

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// Investor summarises one investor: movements of their wallets by kind
// (deposits, commitments, refunds, distributions, withdrawals), live and
// settled commitments, usage of their rolling 12-month limit, and their
// qualification history. Statement gives the wallet's line by line.
func (r *Reporter) Investor(ctx context.Context, id uuid.UUID) (map[string]any, error) {
	if err := r.record(ctx, "report.investor", []string{id.String()}, map[string]any{}); err != nil {
		return nil, err
	}
	out := map[string]any{"investor_id": id}
	err := r.ledger.WithTxRead(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM parties WHERE id = $1 AND role = 'investor')`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		owner := "party:" + id.String()
		rows, err := tx.Query(ctx, `SELECT a.id, a.currency, t.code, ae.side::text, t.kind, count(*), coalesce(sum(t.amount), 0)
			FROM accounts a JOIN account_entries ae ON ae.account_id = a.id JOIN transfers t ON t.id = ae.transfer_id
			WHERE a.owner = $1 AND a.code = 'investor_wallet' GROUP BY a.id, a.currency, t.code, ae.side, t.kind ORDER BY t.code, t.kind`, owner)
		if err != nil {
			return err
		}
		flows := []map[string]any{}
		for rows.Next() {
			var acct uuid.UUID
			var cur, code, side, kind string
			var n int
			var sum decimal.Decimal
			if err := rows.Scan(&acct, &cur, &code, &side, &kind, &n, &sum); err != nil {
				rows.Close()
				return err
			}
			dc := "C"
			if side == "D" {
				dc = "D"
			}
			flows = append(flows, map[string]any{"wallet_account_id": acct, "currency": cur, "code": code, "kind": kind, "debit_credit": dc,
				"count": n, "total": scaled(cur, sum)})
		}
		rows.Close()
		out["flows"] = flows
		rows, err = tx.Query(ctx, `SELECT c.id, c.campaign_id, c.amount, k.currency, c.state, c.created_at, c.risk_disclosure FROM commitments c
			JOIN campaigns k ON k.id = c.campaign_id WHERE c.investor_id = $1 ORDER BY c.created_at`, id)
		if err != nil {
			return err
		}
		cms := []map[string]any{}
		for rows.Next() {
			var cid, camp uuid.UUID
			var a decimal.Decimal
			var cur, st string
			var at time.Time
			var disclosure *string
			if err := rows.Scan(&cid, &camp, &a, &cur, &st, &at, &disclosure); err != nil {
				rows.Close()
				return err
			}
			cm := map[string]any{"commitment_id": cid, "campaign_id": camp, "amount": a.String(), "currency": cur, "state": st, "at": at.UTC()}
			if disclosure != nil { // the risk disclosure letter acknowledged, by its SHA-256
				cm["risk_disclosure"] = *disclosure
			}
			cms = append(cms, cm)
		}
		rows.Close()
		out["commitments"] = cms
		limits, err := r.limits.WindowLimits(ctx, tx, &id)
		if err != nil {
			return err
		}
		limitOf := map[uuid.UUID]money.Amount{}
		for _, l := range limits {
			limitOf[l.Decision] = l.Limit
		}
		rows, err = tx.Query(ctx, `SELECT q.id, q.pack, q.pack_version, q.decided_at, q.expires_at, q.qualified, q.category, q.risk_tolerance, q.currency,
				(SELECT coalesce(sum(c.amount), 0) FROM commitments c JOIN campaigns k ON k.id = c.campaign_id
				 WHERE c.investor_id = q.party_id AND k.pack = q.pack AND c.state IN ('live', 'settled') AND c.created_at > now() - interval '12 months')
			FROM qualifications q WHERE q.party_id = $1 ORDER BY q.decided_at DESC`, id)
		if err != nil {
			return err
		}
		quals := []map[string]any{}
		for rows.Next() {
			var pack, version, cat, cur string
			var decided, expires time.Time
			var ok bool
			var risk int
			var qid uuid.UUID
			var used decimal.Decimal
			if err := rows.Scan(&qid, &pack, &version, &decided, &expires, &ok, &cat, &risk, &cur, &used); err != nil {
				rows.Close()
				return err
			}
			q := map[string]any{"pack": pack, "pack_version": version, "decided_at": decided.UTC(), "expires_at": expires.UTC(), "qualified": ok,
				"category": cat, "risk_tolerance": fmt.Sprintf("C%d", risk), "used_in_window": scaled(cur, used), "currency": cur}
			if limit, ok := limitOf[qid]; ok {
				q["window_limit"] = limit.String()
				q["over_limit"] = used.Cmp(limit.Decimal()) > 0
			}
			quals = append(quals, q)
		}
		rows.Close()
		out["qualifications"] = quals
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Platform totals campaigns for a period (by the time they were created):
// by kind and state, raised, refunded, fees, distinct investors, and the
// exceptions that must all be zero: investors over their limit, campaigns
// over their hard cap or their investor cap.
func (r *Reporter) Platform(ctx context.Context, from, to time.Time) (map[string]any, error) {
	if err := r.record(ctx, "report.platform", []string{}, map[string]any{"from": from, "to": to}); err != nil {
		return nil, err
	}
	out := map[string]any{"from": from.UTC(), "to": to.UTC()}
	err := r.ledger.WithTxRead(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT kind, state, currency, count(*), coalesce(sum(committed), 0), coalesce(sum(investors), 0)
			FROM campaigns WHERE created_at >= $1 AND created_at < $2 GROUP BY kind, state, currency ORDER BY kind, state, currency`, from, to)
		if err != nil {
			return err
		}
		groups := []map[string]any{}
		for rows.Next() {
			var kind, state, cur string
			var n, inv int
			var sum decimal.Decimal
			if err := rows.Scan(&kind, &state, &cur, &n, &sum, &inv); err != nil {
				rows.Close()
				return err
			}
			groups = append(groups, map[string]any{"kind": kind, "state": state, "currency": cur, "campaigns": n, "committed": scaled(cur, sum), "investors": inv})
		}
		rows.Close()
		out["by_kind_and_state"] = groups
		// Money totals per currency: a sum of yuan and dollars means nothing.
		rows, err = tx.Query(ctx, `WITH c AS (SELECT c.amount, c.state, k.currency FROM commitments c JOIN campaigns k ON k.id = c.campaign_id
				WHERE k.created_at >= $1 AND k.created_at < $2)
			SELECT cur, sum(raised), sum(refunded), sum(fees) FROM (
				SELECT currency AS cur, CASE WHEN state = 'settled' THEN amount ELSE 0 END AS raised,
					CASE WHEN state IN ('refunded', 'cancelled') THEN amount ELSE 0 END AS refunded, 0 AS fees FROM c
				UNION ALL
				SELECT t.currency, 0, 0, t.amount FROM transfers t WHERE t.code = 'platform_fee' AND t.created_at >= $1 AND t.created_at < $2
			) x GROUP BY cur ORDER BY cur`, from, to)
		if err != nil {
			return err
		}
		totals := []map[string]any{}
		for rows.Next() {
			var cur string
			var raised, refunded, fees decimal.Decimal
			if err := rows.Scan(&cur, &raised, &refunded, &fees); err != nil {
				rows.Close()
				return err
			}
			totals = append(totals, map[string]any{"currency": cur, "raised": scaled(cur, raised), "refunded_or_cancelled": scaled(cur, refunded), "fees": scaled(cur, fees)})
		}
		rows.Close()
		out["totals"] = totals
		var investors int
		if err := tx.QueryRow(ctx, `SELECT count(DISTINCT c.investor_id) FROM commitments c JOIN campaigns k ON k.id = c.campaign_id
			WHERE k.created_at >= $1 AND k.created_at < $2`, from, to).Scan(&investors); err != nil {
			return err
		}
		out["investors"] = investors
		overLimit, err := r.overLimit(ctx, tx)
		if err != nil {
			return err
		}
		var overCap, overCount int
		if err := tx.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM campaigns WHERE committed > hard_cap),
				(SELECT count(*) FROM campaigns WHERE max_investors > 0 AND investors > max_investors)`).Scan(&overCap, &overCount); err != nil {
			return err
		}
		out["exceptions"] = map[string]int{"investors_over_limit": overLimit, "campaigns_over_hard_cap": overCap, "campaigns_over_investor_cap": overCount}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// overLimit counts the investors whose live and settled commitments over
// the last 12 months exceed the limit of their newest decision, per pack.
// The limits are opened in Go: they are stored only encrypted.
func (r *Reporter) overLimit(ctx context.Context, tx pgx.Tx) (int, error) {
	limits, err := r.limits.WindowLimits(ctx, tx, nil)
	if err != nil || len(limits) == 0 {
		return 0, err
	}
	parties, packs := make([]uuid.UUID, len(limits)), make([]string, len(limits))
	for i, l := range limits {
		parties[i], packs[i] = l.Party, l.Pack
	}
	rows, err := tx.Query(ctx, `SELECT (SELECT coalesce(sum(c.amount), 0) FROM commitments c JOIN campaigns k ON k.id = c.campaign_id
			WHERE c.investor_id = u.party AND k.pack = u.pack AND c.state IN ('live', 'settled') AND c.created_at > now() - interval '12 months')
		FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(party, pack, n) ORDER BY u.n`, pg.UUIDs(parties), packs)
	if err != nil {
		return 0, err
	}
	used, err := pgx.CollectRows(rows, pgx.RowTo[decimal.Decimal])
	if err != nil {
		return 0, err
	}
	n := 0
	for i, u := range used {
		if u.Cmp(limits[i].Limit.Decimal()) > 0 {
			n++
		}
	}
	return n, nil
}

// scaled writes an amount at its currency's scale ("1600000.00" CNY, not
// "1600000"), as every other amount in the API is.
func scaled(cur string, d decimal.Decimal) string {
	c, err := money.Lookup(cur)
	if err != nil {
		return d.String()
	}
	return d.StringFixed(c.Scale())
}
