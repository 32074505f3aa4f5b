package report

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/export"
	"github.com/crowdledger/crowdledger/internal/money"
)

// ErrNotFound is returned for a campaign, investor or payout that does not exist.
var ErrNotFound = errors.New("not found")

// Campaign writes a campaign's fund-flow report: every inflow (commitment:
// investor, amount, time, state), every outflow (payout, fee, refunds,
// distributions and carry), the escrow's opening and closing balances, and
// its reconciliation: what the escrow holds equals the live commitments.
// JSON streams the flows; CSV writes one line per money movement with an
// explicit debit/credit column.
func (r *Reporter) Campaign(ctx context.Context, w io.Writer, id uuid.UUID, format string) error {
	if format != JSON && format != CSV {
		return fmt.Errorf("%w (campaign reports: json or csv)", ErrFormat)
	}
	if err := r.record(ctx, "report.campaign", []string{id.String()}, map[string]any{"format": format}); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	d := export.New(bw) // every flow is a row; the trailer ends the file
	err := r.ledger.WithTxRead(ctx, func(tx pgx.Tx) error {
		var (
			title, kind, state, cur string
			escrow, payable         uuid.UUID
			committed, target       decimal.Decimal
			investors               int
		)
		err := tx.QueryRow(ctx, `SELECT title, kind, state, currency, escrow_account_id, payable_account_id, committed, target, investors
			FROM campaigns WHERE id = $1`, id).Scan(&title, &kind, &state, &cur, &escrow, &payable, &committed, &target, &investors)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		ccy, _ := money.Lookup(cur)
		var eb struct{ dp, cp, dq, cq decimal.Decimal }
		if err := tx.QueryRow(ctx, `SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM accounts WHERE id = $1`, escrow).
			Scan(&eb.dp, &eb.cp, &eb.dq, &eb.cq); err != nil {
			return err
		}
		var live decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM commitments WHERE campaign_id = $1 AND state = 'live'`, id).Scan(&live); err != nil {
			return err
		}
		held := eb.cp.Sub(eb.dp).Add(eb.cq) // posted and reserved
		amt := func(d decimal.Decimal) string { a, _ := money.FromDecimal(ccy, d); return a.String() }
		summary := map[string]any{"campaign_id": id, "title": title, "kind": kind, "state": state, "currency": cur, "target": amt(target),
			"committed": amt(committed), "investors": investors, "escrow_account_id": escrow, "payable_account_id": payable,
			"escrow": map[string]string{"opening_balance": "0.00", "credits_posted": amt(eb.cp), "debits_posted": amt(eb.dp),
				"credits_pending": amt(eb.cq), "closing_balance": amt(held)},
			"reconciliation": map[string]any{"escrow_holds": amt(held), "live_commitments": amt(live), "reconciled": held.Equal(live)}}
		// Each format says how to write an inflow and an outflow; the rows are
		// read by one loop for either format.
		var (
			in struct {
				id, investor, pending uuid.UUID
				resolution            *uuid.UUID
				amount                decimal.Decimal
				at                    time.Time
				state, role           string
				// released is when the hold was voided (a cancellation, or
				// the refund of a failed campaign): the money left the
				// escrow without a transfer of its own.
				released *time.Time
			}
			out struct {
				id, from, to uuid.UUID
				code, kind   string
				amount       decimal.Decimal
				at           time.Time
			}
			writeIn, writeOut func() error
			afterIn, finish   func() error
		)
		switch format {
		case JSON:
			head, _ := json.Marshal(summary)
			if _, err := fmt.Fprintf(d, "%s,\"inflows\":[", head[:len(head)-1]); err != nil {
				return err
			}
			n := 0
			item := func(v map[string]any) error {
				b, _ := json.Marshal(v)
				if n > 0 {
					b = append([]byte{','}, b...)
				}
				n++
				d.Row()
				_, err := d.Write(b)
				return err
			}
			writeIn = func() error {
				row := map[string]any{"commitment_id": in.id, "investor_id": in.investor, "amount": amt(in.amount), "at": in.at.UTC(), "state": in.state,
					"role": in.role, "pending_transfer_id": in.pending}
				if in.resolution != nil {
					row["resolution_transfer_id"] = *in.resolution
				}
				return item(row)
			}
			writeOut = func() error {
				return item(map[string]any{"transfer_id": out.id, "code": out.code, "amount": amt(out.amount), "at": out.at.UTC(), "from_account_id": out.from, "to_account_id": out.to})
			}
			afterIn = func() error {
				n = 0
				_, err := io.WriteString(d, `],"outflows":[`)
				return err
			}
			finish = func() error {
				_, err := io.WriteString(d, "]"+d.JSONTrailer()+"}\n")
				return err
			}
		default:
			io.WriteString(d, "\ufeff")
			cw := export.NewCSV(d)
			cw.UseCRLF = true
			cw.Write([]string{"flow", "at", "reference", "party_or_account", "code_or_state", "debit_credit", "amount", "currency"})
			// The rows add up: credits less debits (D/C rows) is what the
			// escrow holds. A commitment credits it; a hold voided debits it
			// back (a release row); an outflow from the escrow debits it.
			// Flows that do not touch the escrow (distributions from the
			// issuer's wallet) are listed with no side.
			writeIn = func() error {
				d.Row()
				if err := cw.Write([]string{"inflow", in.at.UTC().Format(time.RFC3339Nano), in.id.String(), in.investor.String(), in.state, "C", amt(in.amount), cur}); err != nil {
					return err
				}
				if in.released == nil {
					return nil
				}
				d.Row()
				return cw.Write([]string{"release", in.released.UTC().Format(time.RFC3339Nano), in.id.String(), in.investor.String(), in.state, "D", amt(in.amount), cur})
			}
			writeOut = func() error {
				side := ""
				if out.from == escrow {
					side = "D"
				}
				d.Row()
				return cw.Write([]string{"outflow", out.at.UTC().Format(time.RFC3339Nano), out.id.String(), out.to.String(), out.code, side, amt(out.amount), cur})
			}
			afterIn = func() error { return nil }
			finish = func() error {
				cw.Flush() // the trailer's digest covers every byte before it
				cw.Write(d.CSVTrailer())
				cw.Flush()
				return cw.Error()
			}
		}
		rows, err := tx.Query(ctx, `SELECT c.id, c.investor_id, c.amount, c.created_at, c.state, c.role, c.pending_transfer, c.resolution_transfer,
				(SELECT r.created_at FROM transfers r WHERE r.id = c.resolution_transfer AND r.kind = 'void_pending')
			FROM commitments c WHERE c.campaign_id = $1 ORDER BY c.created_at, c.id`, id)
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&in.id, &in.investor, &in.amount, &in.at, &in.state, &in.role, &in.pending, &in.resolution, &in.released}, writeIn); err != nil {
			return err
		}
		if err := afterIn(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT t.id, t.code, t.kind, t.amount, t.created_at, t.debit_account_id, t.credit_account_id
			FROM transfers t WHERE t.metadata->>'campaign_id' = $1::text AND t.code IN ('platform_fee', 'issuer_payout', 'refund', 'distribution',
				'capital_return', 'carry', 'platform_carry') ORDER BY t.seq`, id.String())
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&out.id, &out.code, &out.kind, &out.amount, &out.at, &out.from, &out.to}, writeOut); err != nil {
			return err
		}
		return finish()
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Provenance lists the investor commitments an issuer payout came from: the
// settled commitments of the payout's campaign, with their posting transfers.
func (r *Reporter) Provenance(ctx context.Context, payout uuid.UUID) (map[string]any, error) {
	var campaign string
	var amount decimal.Decimal
	var cur string
	err := r.db.QueryRow(ctx, `SELECT metadata->>'campaign_id', amount, currency FROM transfers WHERE id = $1 AND code = 'issuer_payout'`, payout).
		Scan(&campaign, &amount, &cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := r.record(ctx, "report.provenance", []string{payout.String(), campaign}, map[string]any{}); err != nil {
		return nil, err
	}
	ccy, _ := money.Lookup(cur)
	rows, err := r.db.Query(ctx, `SELECT c.id, c.investor_id, c.amount, c.created_at, c.resolution_transfer FROM commitments c
		WHERE c.campaign_id = $1::uuid AND c.state = 'settled' ORDER BY c.created_at, c.id`, campaign)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []map[string]any
	total := decimal.Zero
	for rows.Next() {
		var cid, inv uuid.UUID
		var res *uuid.UUID
		var a decimal.Decimal
		var at time.Time
		if err := rows.Scan(&cid, &inv, &a, &at, &res); err != nil {
			return nil, err
		}
		total = total.Add(a)
		m, _ := money.FromDecimal(ccy, a)
		list = append(list, map[string]any{"commitment_id": cid, "investor_id": inv, "amount": m, "committed_at": at.UTC(), "posting_transfer_id": res})
	}
	pa, _ := money.FromDecimal(ccy, amount)
	ta, _ := money.FromDecimal(ccy, total)
	return map[string]any{"payout_transfer_id": payout, "campaign_id": campaign, "payout": pa, "raised": ta, "commitments": list}, rows.Err()
}
