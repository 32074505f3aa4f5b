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

// ReleaseSettings say what of a settled reward campaign's proceeds the
// issuer may be paid when: settings, not legal figures (the policies ask
// for funds, delivery and after-sales to be supervised, not for numbers).
type ReleaseSettings struct {
	// AtSettlement is the share of an undelivered order's amount released
	// at settlement; the rest once the backer confirms receipt, or, for an
	// order shipped, once the tier's delivery date and the dispute window
	// have passed undisputed. An order never shipped stays held.
	AtSettlement  decimal.Decimal
	DisputeWindow time.Duration
	// Reserve is the share of the net proceeds kept for after-sales
	// refunds until AfterSales after the last delivery date.
	Reserve    decimal.Decimal
	AfterSales time.Duration
}

// DefaultReleaseSettings [R]: half at settlement, the rest on delivery; 10%
// kept for 90 days of after-sales.
var DefaultReleaseSettings = ReleaseSettings{AtSettlement: decimal.RequireFromString("0.5"), DisputeWindow: 7 * 24 * time.Hour,
	Reserve: decimal.RequireFromString("0.1"), AfterSales: 90 * 24 * time.Hour}

// Disbursement errors.
var (
	ErrDisbursementNotFound = errors.New("disbursement not found")
	ErrNotSettled           = errors.New("only a settled campaign's proceeds are paid out")
	ErrOverReleasable       = errors.New("more than the campaign may release now")
	ErrDisbursementPaid     = errors.New("the disbursement was already paid")
)

// Disbursement is a payment of a campaign's proceeds to its issuer.
type Disbursement struct {
	ID          uuid.UUID
	CampaignID  uuid.UUID
	Amount      money.Amount
	State       string // requested, paid
	RequestedBy string
	RequestedAt time.Time
	ApprovedBy  *string
	PaidAt      *time.Time
	TransferID  *uuid.UUID
}

// Release is what a campaign's issuer payable holds and may release now.
type Release struct {
	Payable     money.Amount // what the issuer payable holds
	Undelivered money.Amount // held for orders not yet delivered
	Reserve     money.Amount // held for after-sales refunds
	Requested   money.Amount // asked for and not yet paid
	Releasable  money.Amount // the rest
}

// Releasable computes what may be paid out of a campaign's issuer payable
// now (equity: all of it, since it closed only after every cancellation
// right ended; reward: less the holdbacks).
func (s *Service) Releasable(ctx context.Context, id uuid.UUID) (Release, error) {
	var out Release
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		c, err := s.get(ctx, tx, id, false)
		if err != nil {
			return err
		}
		out, err = s.releasable(ctx, tx, &c)
		return err
	})
	return out, err
}

func (s *Service) releasable(ctx context.Context, tx pgx.Tx, c *Campaign) (Release, error) {
	cur := c.Target.Currency()
	if c.State != Settled && c.State != Fulfilled {
		return Release{}, ErrNotSettled
	}
	var payable, requested, undelivered, net decimal.Decimal
	var lastDelivery *time.Time
	set, now := s.Release, s.Now()
	if err := tx.QueryRow(ctx, `SELECT
			(SELECT coalesce(credits_posted - debits_posted, 0) FROM accounts WHERE id = $2),
			(SELECT coalesce(sum(amount), 0) FROM disbursements WHERE campaign_id = $1 AND state = 'requested'),
			(SELECT coalesce(sum(o.amount - o.refunded), 0) FROM orders o JOIN campaign_tiers t ON t.campaign_id = o.campaign_id AND t.tier = o.tier
			  WHERE o.campaign_id = $1 AND (o.state IN ('awaiting_shipment', 'disputed')
			    OR (o.state = 'shipped' AND (t.delivery_by IS NULL OR t.delivery_by + $3::interval > $4)))),
			(SELECT coalesce(sum(o.amount - o.refunded), 0) FROM orders o WHERE o.campaign_id = $1),
			(SELECT max(delivery_by) FROM campaign_tiers WHERE campaign_id = $1)`,
		c.ID, c.PayableAccountID, set.DisputeWindow.String(), now).Scan(&payable, &requested, &undelivered, &net, &lastDelivery); err != nil {
		return Release{}, err
	}
	amt := func(d decimal.Decimal) money.Amount {
		a, _ := money.FromDecimal(cur, d.RoundDown(int32(cur.Scale())))
		return a
	}
	out := Release{Payable: amt(payable), Requested: amt(requested), Undelivered: money.Zero(cur), Reserve: money.Zero(cur)}
	if c.Kind == "reward" {
		out.Undelivered = amt(undelivered.Mul(decimal.NewFromInt(1).Sub(set.AtSettlement)).Mul(decimal.NewFromInt(1).Sub(c.FeeRate)))
		end := c.StateAt.Add(set.AfterSales)
		if lastDelivery != nil {
			end = lastDelivery.Add(set.AfterSales)
		}
		if now.Before(end) {
			out.Reserve = amt(net.Mul(set.Reserve).Mul(decimal.NewFromInt(1).Sub(c.FeeRate)))
		}
	}
	left := payable.Sub(out.Undelivered.Decimal()).Sub(out.Reserve.Decimal()).Sub(requested)
	if left.Sign() < 0 {
		left = decimal.Zero
	}
	out.Releasable = amt(left)
	return out, nil
}

// RequestDisbursement asks for amount of a settled campaign's proceeds to
// be paid to its issuer; a compliance officer approves it.
func (s *Service) RequestDisbursement(ctx context.Context, id uuid.UUID, amount money.Amount) (Disbursement, error) {
	d := Disbursement{ID: uuid.New(), CampaignID: id, Amount: amount, State: "requested", RequestedBy: actorName(ctx)}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		c, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if amount.Currency() != c.Target.Currency() || amount.Sign() <= 0 {
			return invalid("amount", errors.New("a positive amount in the campaign's currency"))
		}
		r, err := s.releasable(ctx, tx, &c)
		if err != nil {
			return err
		}
		if amount.Cmp(r.Releasable) > 0 {
			return &CapError{Kind: ErrOverReleasable, Remaining: r.Releasable.String()}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO disbursements (id, campaign_id, amount, requested_by) VALUES ($1, $2, $3, $4) RETURNING requested_at`,
			d.ID, id, amount.Decimal(), d.RequestedBy).Scan(&d.RequestedAt); err != nil {
			return err
		}
		return s.record(ctx, tx, id, "campaign.disbursement.request", "", "", map[string]any{"disbursement_id": d.ID, "amount": amount.String(),
			"releasable": r.Releasable.String(), "reserve": r.Reserve.String(), "undelivered": r.Undelivered.String()})
	})
	return d, err
}

// ApproveDisbursement is the second person's approval: the amount is
// checked against what may be released now, and paid from the issuer
// payable to the issuer's wallet (refused while either is frozen).
func (s *Service) ApproveDisbursement(ctx context.Context, id uuid.UUID) (Disbursement, error) {
	var d Disbursement
	// The issuer's wallet is opened first, outside the paying transaction,
	// as accounts are (a new account is its own ledger command).
	var issuer uuid.UUID
	var cur string
	err := s.db.QueryRow(ctx, `SELECT k.issuer_id, k.currency FROM disbursements d JOIN campaigns k ON k.id = d.campaign_id WHERE d.id = $1`, id).Scan(&issuer, &cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrDisbursementNotFound
	}
	if err != nil {
		return d, err
	}
	if _, err := s.Wallet(ctx, issuer, money.MustLookup(cur)); err != nil {
		return d, err
	}
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var amount decimal.Decimal
		err := tx.QueryRow(ctx, `SELECT campaign_id, amount, state, requested_by FROM disbursements WHERE id = $1 FOR UPDATE`, id).
			Scan(&d.CampaignID, &amount, &d.State, &d.RequestedBy)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrDisbursementNotFound
		}
		if err != nil {
			return err
		}
		if d.State == "paid" {
			return ErrDisbursementPaid
		}
		me := actorName(ctx)
		if me == d.RequestedBy {
			return ErrSameApprover
		}
		c, err := s.get(ctx, tx, d.CampaignID, true)
		if err != nil {
			return err
		}
		if d.Amount, err = money.FromDecimal(c.Target.Currency(), amount); err != nil {
			return err
		}
		r, err := s.releasable(ctx, tx, &c)
		if err != nil {
			return err
		}
		if left, _ := r.Releasable.Add(d.Amount); d.Amount.Cmp(left) > 0 { // this request is counted as requested
			return &CapError{Kind: ErrOverReleasable, Remaining: left.String()}
		}
		wallet, err := s.walletTx(ctx, tx, c.IssuerID, c.Target.Currency())
		if err != nil {
			return err
		}
		e, err := s.ledger.ApplyTx(ctx, tx, "disbursement:"+id.String(), []ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: c.PayableAccountID,
			CreditAccountID: wallet, Amount: d.Amount, Code: "issuer_disbursement",
			Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"disbursement_id":%q}`, c.ID, id))}}, ledger.LedgerRecords)
		if err != nil {
			return err
		}
		tid := e.Transfers[0].ID
		d.ID, d.State, d.ApprovedBy, d.TransferID = id, "paid", &me, &tid
		if err := tx.QueryRow(ctx, `UPDATE disbursements SET state = 'paid', approved_by = $2, transfer_id = $3, paid_at = clock_timestamp()
			WHERE id = $1 RETURNING requested_at, paid_at`, id, me, tid).Scan(&d.RequestedAt, &d.PaidAt); err != nil {
			return err
		}
		return s.record(ctx, tx, c.ID, "campaign.disbursement.pay", "", "", map[string]any{"disbursement_id": id, "amount": d.Amount.String(), "transfer_id": tid})
	})
	return d, err
}
