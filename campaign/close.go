package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
)

// ErrNotDue is returned when closing a campaign before its deadline without
// the hard cap reached.
var ErrNotDue = errors.New("the campaign is not due to close")

// Close ends a live campaign that is due (deadline passed or hard cap
// reached, or force from an operator) and settles or refunds it in the same
// transaction: succeeded if the target is met (all-or-nothing) or anything
// was raised (keep-what-you-raise); otherwise failed and every commitment
// voided. Closing an already closed campaign returns it unchanged.
func (s *Service) Close(ctx context.Context, id uuid.UUID, force bool) (Campaign, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Campaign{}, err
	}
	if _, err := s.platformAccount(ctx, ledger.CodePlatformFeeRevenue, c.Target.Currency()); err != nil {
		return Campaign{}, err
	}
	return s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
		if c.State != Live {
			if c.State == Settled || c.State == Refunded || c.State == Fulfilled {
				return nil
			}
			return fmt.Errorf("%w: %s cannot close", ErrIllegalTransition, c.State)
		}
		due := !s.Now().Before(c.Deadline) || c.Committed.Cmp(c.HardCap) >= 0
		if !due && !force {
			return ErrNotDue
		}
		_, err := s.closeLocked(ctx, tx, c)
		return err
	})
}

// ErrRightsOpen: a campaign due to close still has commitments inside
// their cancellation window; it closes when the last window ends.
var ErrRightsOpen = errors.New("investors may still cancel: the campaign closes when their cancellation rights end")

// closeLocked settles or refunds the locked campaign c, the one decision
// both the scheduler and an operator's close take: not while any live
// commitment can still be cancelled (money is released only after the
// investor's cancellation rights end: Reg CF's 48 hours, ECSP's 4-day
// reflection, the CN packs' platform setting), then success by target.
func (s *Service) closeLocked(ctx context.Context, tx pgx.Tx, c *Campaign) (settled bool, err error) {
	var open *time.Time
	if err := tx.QueryRow(ctx, `SELECT max(cooling_off_until) FROM commitments WHERE campaign_id = $1 AND state = 'live' AND cooling_off_until > $2`,
		c.ID, s.Now()).Scan(&open); err != nil {
		return false, err
	}
	if open != nil {
		return false, fmt.Errorf("%w (until %s)", ErrRightsOpen, open.UTC().Format(time.RFC3339))
	}
	if c.Committed.Cmp(c.Target) >= 0 || (c.Funding == "keep_what_you_raise" && c.Committed.Sign() > 0) {
		return true, s.settle(ctx, tx, c)
	}
	return false, s.refund(ctx, tx, c)
}

func (s *Service) liveCommitments(ctx context.Context, tx pgx.Tx, campaign uuid.UUID) ([]Commitment, error) {
	rows, err := tx.Query(ctx, `SELECT `+commitmentColumns+` FROM commitments c JOIN campaigns k ON k.id = c.campaign_id
		WHERE c.campaign_id = $1 AND c.state = 'live' ORDER BY c.created_at, c.id`, campaign)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Commitment, error) { return scanCommitment(r) })
}

// settle posts every commitment and pays the escrow out: the platform fee to
// fee revenue, the rest to the issuer payable.
func (s *Service) settle(ctx context.Context, tx pgx.Tx, c *Campaign) error {
	if err := s.transition(ctx, tx, c, Succeeded, map[string]any{"committed": c.Committed.String(), "target": c.Target.String()}); err != nil {
		return err
	}
	cms, err := s.liveCommitments(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	for start := 0; start < len(cms); start += ledger.MaxBatch {
		chunk := cms[start:min(start+ledger.MaxBatch, len(cms))]
		ts := make([]ledger.TransferRequest, len(chunk))
		for i, cm := range chunk {
			ts[i] = ledger.TransferRequest{Kind: ledger.KindPostPending, PendingID: cm.PendingTransfer,
				Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"commitment_id":%q}`, c.ID, cm.ID))}
		}
		e, err := s.ledger.ApplyTx(ctx, tx, fmt.Sprintf("settle:%s:%d", c.ID, start), ts, ledger.LedgerRecords)
		if err != nil {
			return err
		}
		for i, cm := range chunk {
			if _, err := tx.Exec(ctx, `UPDATE commitments SET state = 'settled', resolution_transfer = $2, state_at = clock_timestamp() WHERE id = $1`,
				cm.ID, e.Transfers[i].ID); err != nil {
				return err
			}
		}
	}
	raised := c.Committed
	parts, err := raised.Allocate(c.FeeRate, decimal.NewFromInt(1).Sub(c.FeeRate))
	if err != nil {
		return err
	}
	fee, net := parts[0], parts[1]
	feeAcct, err := s.platformAccountTx(ctx, tx, ledger.CodePlatformFeeRevenue, raised.Currency())
	if err != nil {
		return err
	}
	var payout []ledger.TransferRequest
	meta := json.RawMessage(fmt.Sprintf(`{"campaign_id":%q}`, c.ID))
	if fee.Sign() > 0 {
		payout = append(payout, ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: c.EscrowAccountID, CreditAccountID: feeAcct,
			Amount: fee, Code: "platform_fee", Metadata: meta})
	}
	if net.Sign() > 0 {
		payout = append(payout, ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: c.EscrowAccountID, CreditAccountID: c.PayableAccountID,
			Amount: net, Code: "issuer_payout", Metadata: meta})
	}
	if len(payout) > 0 {
		if _, err := s.ledger.ApplyTx(ctx, tx, "payout:"+c.ID.String(), payout, ledger.LedgerRecords); err != nil {
			return err
		}
	}
	if err := s.transition(ctx, tx, c, Settled, map[string]any{"raised": raised.String(), "fee": fee.String(), "issuer_payout": net.String(),
		"commitments": len(cms)}); err != nil {
		return err
	}
	if c.Kind == "reward" {
		return s.createOrders(ctx, tx, c)
	}
	return nil
}

// refund voids every live commitment: each wallet gets back exactly what it reserved.
func (s *Service) refund(ctx context.Context, tx pgx.Tx, c *Campaign) error {
	if err := s.transition(ctx, tx, c, Failed, map[string]any{"committed": c.Committed.String(), "target": c.Target.String()}); err != nil {
		return err
	}
	cms, err := s.liveCommitments(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	for _, cm := range cms {
		if err := s.release(ctx, tx, c, cm, "refunded", "campaign failed"); err != nil {
			return err
		}
	}
	return s.transition(ctx, tx, c, Refunded, map[string]any{"commitments": len(cms)})
}

func (s *Service) platformAccountTx(ctx context.Context, tx pgx.Tx, code ledger.AccountCode, cur money.Currency) (uuid.UUID, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE idempotency_key = $1`, "platform:"+string(code)+":"+cur.Code()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("platform %s account in %s does not exist yet", code, cur)
	}
	return id, err
}

// TickReport is what one round of the scheduler did, campaign by campaign.
type TickReport struct {
	Opened   []uuid.UUID
	Settled  []uuid.UUID
	Refunded []uuid.UUID
	// Failed holds the campaigns whose opening or close failed this round,
	// with why; the next round tries them again. One failing campaign does
	// not hold up the others.
	Failed map[uuid.UUID]error
}

// Closed is how many campaigns the round closed.
func (r TickReport) Closed() int { return len(r.Settled) + len(r.Refunded) }

func (r *TickReport) fail(id uuid.UUID, err error) {
	if r.Failed == nil {
		r.Failed = map[uuid.UUID]error{}
	}
	r.Failed[id] = err
}

// Tick is one round of the scheduler: it opens approved campaigns whose
// start has come, supervises reconfirmations and blacklists, and closes
// live campaigns past their deadline or at their hard cap, settling or
// refunding each in its own transaction. A campaign that fails is
// reported and skipped; err is only for a round that could not look.
func (s *Service) Tick(ctx context.Context) (TickReport, error) {
	ctx = audit.WithActor(ctx, audit.System("campaign-scheduler"), "")
	now := s.Now()
	var rep TickReport
	skip := []uuid.UUID{} // failed this round: not picked again
	for {
		var id uuid.UUID
		err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `SELECT id FROM campaigns WHERE state = 'approved' AND starts_at <= $1 AND id <> ALL($2)
				LIMIT 1 FOR UPDATE SKIP LOCKED`, now, skip).Scan(&id)
			if err != nil {
				return err
			}
			c, err := s.get(ctx, tx, id, true)
			if err != nil {
				return err
			}
			return s.transition(ctx, tx, &c, Live, map[string]any{"trigger": "start reached"})
		})
		if errors.Is(err, pgx.ErrNoRows) {
			break
		}
		if err != nil {
			if id == uuid.Nil || ctx.Err() != nil {
				return rep, err
			}
			rep.fail(id, err)
			skip = append(skip, id)
			continue
		}
		rep.Opened = append(rep.Opened, id)
	}
	if err := s.supervise(ctx); err != nil {
		return rep, err
	}
	// A campaign whose close failed waits for its retry time; the others
	// are not held up by it.
	// Nor is one whose investors may still cancel: it closes when the last
	// cancellation window ends.
	rows, err := s.db.Query(ctx, `SELECT id FROM campaigns k WHERE state = 'live' AND (deadline <= $1 OR committed >= hard_cap)
		AND (close_retry_at IS NULL OR close_retry_at <= $1)
		AND NOT EXISTS (SELECT 1 FROM commitments c WHERE c.campaign_id = k.id AND c.state = 'live' AND c.cooling_off_until > $1)
		ORDER BY deadline LIMIT 100`, now)
	if err != nil {
		return rep, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		settled, done, err := s.close(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return rep, err
		case err != nil:
			rep.fail(id, err)
			if rerr := s.recordCloseFailure(ctx, id, err, now); rerr != nil {
				return rep, rerr
			}
		case done && settled:
			rep.Settled = append(rep.Settled, id)
		case done:
			rep.Refunded = append(rep.Refunded, id)
		}
	}
	return rep, nil
}

// close settles or refunds one live campaign in its own transaction; done
// is false when another scheduler holds it.
func (s *Service) close(ctx context.Context, id uuid.UUID) (settled, done bool, err error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return false, false, err
	}
	// Fee accounts exist before settling (created outside the settling transaction).
	if _, err := s.platformAccount(ctx, ledger.CodePlatformFeeRevenue, c.Target.Currency()); err != nil {
		return false, false, err
	}
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		done, settled = false, false
		var lockedID uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id FROM campaigns WHERE id = $1 AND state = 'live' FOR UPDATE SKIP LOCKED`, id).Scan(&lockedID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another scheduler is closing it, or has
		}
		if err != nil {
			return err
		}
		done = true
		c, err := s.get(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET close_failures = 0, close_error = NULL, close_retry_at = NULL
			WHERE id = $1 AND close_failures > 0`, id); err != nil {
			return err
		}
		settled, err = s.closeLocked(ctx, tx, &c)
		return err
	})
	return settled, done, err
}

// closeRetry is how long a campaign whose close failed n times in a row
// waits before the next try: 30 s, doubling, at most an hour.
func closeRetry(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// recordCloseFailure notes on the campaign why its close failed and when it
// is tried next, with an audit event.
func (s *Service) recordCloseFailure(ctx context.Context, id uuid.UUID, cause error, now time.Time) error {
	return pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var n int
		err := tx.QueryRow(ctx, `SELECT close_failures + 1 FROM campaigns WHERE id = $1 FOR UPDATE`, id).Scan(&n)
		if err != nil {
			return fmt.Errorf("record close failure of %s: %w", id, err)
		}
		retry := now.Add(closeRetry(n))
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET close_failures = $2, close_error = $3, close_retry_at = $4 WHERE id = $1`,
			id, n, cause.Error(), retry); err != nil {
			return fmt.Errorf("record close failure of %s: %w", id, err)
		}
		ev, err := audit.New(ctx, "campaign.close.fail", []string{id.String()}, map[string]any{"failures": n, "error": cause.Error(), "retry_at": retry})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
}

// Holder is one line of an equity campaign's cap table: an investor
// holding directly, or a syndicate vehicle with its members. An investor
// who topped up holds one line, the commitments beneath it.
type Holder struct {
	InvestorID  *uuid.UUID // a direct holder (or the lead), or a vehicle's member
	VehicleID   *uuid.UUID // a syndicate vehicle, with its members
	Shares      int64
	Members     []Holder
	Commitments []HeldCommitment // the settled commitments behind an investor's line
}

// HeldCommitment is one settled commitment behind a cap table line.
type HeldCommitment struct {
	ID     uuid.UUID
	Shares int64
}

// CapTable lists who holds the shares of a settled equity campaign: one
// line per direct holder and per vehicle (its members one line each),
// every line summing its commitments, in the order of the first of them.
func (s *Service) CapTable(ctx context.Context, id uuid.UUID) ([]Holder, error) {
	rows, err := s.db.Query(ctx, `SELECT id, investor_id, vehicle_id, shares FROM commitments WHERE campaign_id = $1 AND state = 'settled' AND shares IS NOT NULL
		ORDER BY vehicle_id NULLS FIRST, created_at, id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Holder
	direct := map[uuid.UUID]int{}
	vehicles := map[uuid.UUID]int{}
	members := map[[2]uuid.UUID]int{}
	add := func(h *Holder, cm uuid.UUID, shares int64) {
		h.Shares += shares
		h.Commitments = append(h.Commitments, HeldCommitment{ID: cm, Shares: shares})
	}
	for rows.Next() {
		var cm, inv uuid.UUID
		var veh *uuid.UUID
		var shares int64
		if err := rows.Scan(&cm, &inv, &veh, &shares); err != nil {
			return nil, err
		}
		if veh == nil {
			i, ok := direct[inv]
			if !ok {
				out = append(out, Holder{InvestorID: &inv})
				i = len(out) - 1
				direct[inv] = i
			}
			add(&out[i], cm, shares)
			continue
		}
		i, ok := vehicles[*veh]
		if !ok {
			v := *veh
			out = append(out, Holder{VehicleID: &v})
			i = len(out) - 1
			vehicles[*veh] = i
		}
		out[i].Shares += shares
		key := [2]uuid.UUID{*veh, inv}
		m, ok := members[key]
		if !ok {
			out[i].Members = append(out[i].Members, Holder{InvestorID: &inv})
			m = len(out[i].Members) - 1
			members[key] = m
		}
		add(&out[i].Members[m], cm, shares)
	}
	return out, rows.Err()
}
