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

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
)

// Fulfilment errors.
var (
	ErrOrderNotFound      = errors.New("order not found")
	ErrRefundTooLarge     = errors.New("refund exceeds what was paid and not yet refunded")
	ErrOrderNotDisputable = errors.New("the order cannot change that way now")
)

// Order is a reward backer's order, created when the campaign settles.
type Order struct {
	ID           uuid.UUID
	CampaignID   uuid.UUID
	CommitmentID uuid.UUID
	BackerID     uuid.UUID
	Tier         string
	Quantity     int
	Amount       money.Amount
	Refunded     money.Amount
	State        string
	Carrier      *string
	Tracking     *string
	ShippedAt    *time.Time
	ReceivedAt   *time.Time
	Dispute      *string
	CreatedAt    time.Time
}

// createOrders turns a settled reward campaign's commitments into orders.
func (s *Service) createOrders(ctx context.Context, tx pgx.Tx, c *Campaign) error {
	_, err := tx.Exec(ctx, `INSERT INTO orders (id, campaign_id, commitment_id, backer_id, tier, quantity, amount)
		SELECT gen_random_uuid(), campaign_id, id, investor_id, tier, quantity, amount FROM commitments
		WHERE campaign_id = $1 AND state = 'settled' AND tier IS NOT NULL ON CONFLICT DO NOTHING`, c.ID)
	return err
}

const orderColumns = `o.id, o.campaign_id, o.commitment_id, o.backer_id, o.tier, o.quantity, o.amount, o.refunded, k.currency, o.state, o.carrier,
	o.tracking, o.shipped_at, o.received_at, o.dispute, o.created_at`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	var amount, refunded decimal.Decimal
	var cur string
	if err := row.Scan(&o.ID, &o.CampaignID, &o.CommitmentID, &o.BackerID, &o.Tier, &o.Quantity, &amount, &refunded, &cur,
		&o.State, &o.Carrier, &o.Tracking, &o.ShippedAt, &o.ReceivedAt, &o.Dispute, &o.CreatedAt); err != nil {
		return Order{}, err
	}
	ccy, err := money.Lookup(cur)
	if err != nil {
		return Order{}, err
	}
	o.CreatedAt = o.CreatedAt.UTC()
	o.Amount, _ = money.FromDecimal(ccy, amount)
	o.Refunded, _ = money.FromDecimal(ccy, refunded)
	return o, nil
}

func (s *Service) order(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id uuid.UUID, lock bool) (Order, error) {
	sql := `SELECT ` + orderColumns + ` FROM orders o JOIN campaigns k ON k.id = o.campaign_id WHERE o.id = $1`
	if lock {
		sql += ` FOR UPDATE OF o`
	}
	o, err := scanOrder(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrOrderNotFound
	}
	return o, err
}

// updateOrder changes a locked order's state if from allows it, and records it.
func (s *Service) updateOrder(ctx context.Context, id uuid.UUID, from []string, fn func(tx pgx.Tx, o *Order) error) (Order, error) {
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		o, err := s.order(ctx, tx, id, true)
		if err != nil {
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || o.State == f
		}
		if !ok {
			return fmt.Errorf("%w: order is %s", ErrOrderNotDisputable, o.State)
		}
		before := o.State
		if err := fn(tx, &o); err != nil {
			return err
		}
		if err := s.record(ctx, tx, o.CampaignID, "campaign.order", before, o.State, map[string]any{"order_id": o.ID, "backer_id": o.BackerID}); err != nil {
			return err
		}
		return s.maybeFulfilled(ctx, tx, o.CampaignID)
	})
	if err != nil {
		return Order{}, err
	}
	return s.order(ctx, s.db, id, false)
}

// Ship records the carrier and tracking number (the issuer's side).
func (s *Service) Ship(ctx context.Context, orderID uuid.UUID, carrier, tracking string) (Order, error) {
	if carrier == "" || tracking == "" {
		return Order{}, invalid("tracking", errors.New("carrier and tracking number are required"))
	}
	return s.updateOrder(ctx, orderID, []string{"awaiting_shipment"}, func(tx pgx.Tx, o *Order) error {
		o.State = "shipped"
		_, err := tx.Exec(ctx, `UPDATE orders SET state = 'shipped', carrier = $2, tracking = $3, shipped_at = clock_timestamp() WHERE id = $1`, o.ID, carrier, tracking)
		return err
	})
}

// ConfirmReceipt is the backer saying the goods arrived.
func (s *Service) ConfirmReceipt(ctx context.Context, orderID, backer uuid.UUID) (Order, error) {
	return s.updateOrder(ctx, orderID, []string{"shipped", "disputed"}, func(tx pgx.Tx, o *Order) error {
		if o.BackerID != backer {
			return ErrOrderNotFound
		}
		o.State = "received"
		_, err := tx.Exec(ctx, `UPDATE orders SET state = 'received', received_at = clock_timestamp() WHERE id = $1`, o.ID)
		return err
	})
}

// OpenDispute is the backer contesting an order (not received, not as described).
func (s *Service) OpenDispute(ctx context.Context, orderID, backer uuid.UUID, reason string) (Order, error) {
	if reason == "" {
		return Order{}, invalid("reason", errors.New("say what is wrong"))
	}
	return s.updateOrder(ctx, orderID, []string{"awaiting_shipment", "shipped", "received"}, func(tx pgx.Tx, o *Order) error {
		if o.BackerID != backer {
			return ErrOrderNotFound
		}
		o.State = "disputed"
		_, err := tx.Exec(ctx, `UPDATE orders SET state = 'disputed', dispute = $2 WHERE id = $1`, o.ID, reason)
		return err
	})
}

// Refund pays a backer back, in full or in part, from the campaign's issuer
// payable to the backer's wallet, naming who approved it.
func (s *Service) Refund(ctx context.Context, orderID uuid.UUID, amount money.Amount, reason string) (Order, error) {
	if reason == "" {
		return Order{}, invalid("reason", errors.New("a refund needs a reason"))
	}
	return s.updateOrder(ctx, orderID, []string{"awaiting_shipment", "shipped", "received", "disputed"}, func(tx pgx.Tx, o *Order) error {
		return s.payRefund(ctx, tx, o, amount, reason, false)
	})
}

// ErrNotLate: the order shipped, or its delivery date has not passed.
var ErrNotLate = errors.New("the order is not late: it shipped, or its delivery date has not passed")

// LateRefund is a backer's refund right on an order the issuer did not ship
// by the tier's delivery date: the backer claims it, and what they paid
// (less any refund already made) comes back from the campaign's issuer
// payable, which the release rules keep unreleased for unshipped orders.
// Where the payable cannot cover it (a share went to the issuer at
// settlement), the claim is refused with what it holds, for compliance to
// pursue the issuer.
func (s *Service) LateRefund(ctx context.Context, orderID, backer uuid.UUID) (Order, error) {
	return s.updateOrder(ctx, orderID, []string{"awaiting_shipment"}, func(tx pgx.Tx, o *Order) error {
		if o.BackerID != backer {
			return ErrOrderNotFound
		}
		var due *time.Time
		if err := tx.QueryRow(ctx, `SELECT delivery_by FROM campaign_tiers WHERE campaign_id = $1 AND tier = $2`, o.CampaignID, o.Tier).Scan(&due); err != nil {
			return err
		}
		if due == nil || !s.Now().After(*due) {
			return ErrNotLate
		}
		left, _ := o.Amount.Sub(o.Refunded)
		err := s.payRefund(ctx, tx, o, left, "late delivery: the backer's refund right", true)
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return ErrPayableShort
		}
		return err
	})
}

// ErrPayableShort: the issuer payable no longer holds a late order's
// refund (part of it went to the issuer at settlement); compliance pursues
// the issuer for it.
var ErrPayableShort = errors.New("the campaign's issuer payable does not hold this refund any more: compliance recovers it from the issuer")

// payRefund pays amount of order o back from the issuer payable; with
// feeBack the platform returns its fee on it too (an undelivered order is
// a sale that never happened), the payable paying the rest.
func (s *Service) payRefund(ctx context.Context, tx pgx.Tx, o *Order, amount money.Amount, reason string, feeBack bool) error {
	left, _ := o.Amount.Sub(o.Refunded)
	if amount.Currency() != o.Amount.Currency() || amount.Sign() <= 0 || amount.Cmp(left) > 0 {
		return &CapError{Kind: ErrRefundTooLarge, Remaining: left.String()}
	}
	c, err := s.get(ctx, tx, o.CampaignID, false)
	if err != nil {
		return err
	}
	wallet, err := s.walletTx(ctx, tx, o.BackerID, amount.Currency())
	if err != nil {
		return err
	}
	rid := uuid.New()
	meta := json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"order_id":%q,"approved_by":%q}`, c.ID, o.ID, actorName(ctx)))
	fromPayable := amount
	var ts []ledger.TransferRequest
	if feeBack && c.FeeRate.Sign() > 0 {
		fee, err := money.FromDecimal(amount.Currency(), amount.Decimal().Mul(c.FeeRate).RoundDown(int32(amount.Currency().Scale())))
		if err != nil {
			return err
		}
		if fee.Sign() > 0 {
			revenue, err := s.platformAccountTx(ctx, tx, ledger.CodePlatformFeeRevenue, amount.Currency())
			if err != nil {
				return err
			}
			ts = append(ts, ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: revenue, CreditAccountID: wallet, Amount: fee,
				Code: "fee_refund", Metadata: meta})
			fromPayable, _ = amount.Sub(fee)
		}
	}
	ts = append([]ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: c.PayableAccountID, CreditAccountID: wallet, Amount: fromPayable,
		Code: "refund", Metadata: meta}}, ts...)
	e, err := s.ledger.ApplyTx(ctx, tx, "refund:"+rid.String(), ts, ledger.LedgerRecords)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO order_refunds (id, order_id, amount, approved_by, reason, transfer_id) VALUES ($1, $2, $3, $4, $5, $6)`,
		rid, o.ID, amount.Decimal(), actorName(ctx), reason, e.Transfers[0].ID); err != nil {
		return err
	}
	o.Refunded, _ = o.Refunded.Add(amount)
	state := o.State
	if o.Refunded.Equal(o.Amount) {
		state = "refunded"
	} else if state == "disputed" {
		state = "resolved"
	}
	o.State = state
	_, err = tx.Exec(ctx, `UPDATE orders SET refunded = $2, state = $3 WHERE id = $1`, o.ID, o.Refunded.Decimal(), state)
	return err
}

// maybeFulfilled moves a settled reward campaign to fulfilled once every
// order is received, refunded or resolved.
func (s *Service) maybeFulfilled(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID) error {
	var open int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM orders WHERE campaign_id = $1 AND state NOT IN ('received', 'refunded', 'resolved')`, campaignID).Scan(&open); err != nil {
		return err
	}
	if open > 0 {
		return nil
	}
	c, err := s.get(ctx, tx, campaignID, true)
	if err != nil || c.State != Settled {
		return err
	}
	return s.transition(ctx, tx, &c, Fulfilled, map[string]any{"trigger": "every order closed"})
}

// Order reads one order.
func (s *Service) Order(ctx context.Context, id uuid.UUID) (Order, error) {
	return s.order(ctx, s.db, id, false)
}
