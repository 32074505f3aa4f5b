package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
)

// Deposit credits an investor's (or issuer's) wallet from the custody bank,
// idempotent on the bank's reference. Nothing moves for an unverified party.
func (s *Service) Deposit(ctx context.Context, party uuid.UUID, amount money.Amount, bankRef string) (ledger.Entry, error) {
	return s.bankMove(ctx, party, amount, bankRef, "deposit")
}

// Withdraw pays a wallet out to the custody bank (to the party's bank
// account), idempotent on the bank's reference.
func (s *Service) Withdraw(ctx context.Context, party uuid.UUID, amount money.Amount, bankRef string) (ledger.Entry, error) {
	return s.bankMove(ctx, party, amount, bankRef, "withdrawal")
}

func (s *Service) bankMove(ctx context.Context, party uuid.UUID, amount money.Amount, bankRef, code string) (ledger.Entry, error) {
	if bankRef == "" || len(bankRef) > 100 {
		return ledger.Entry{}, invalid("bank_reference", errors.New("the custody bank's reference is required (at most 100 characters)"))
	}
	p, err := s.reg.Party(ctx, party)
	if err != nil {
		return ledger.Entry{}, invalid("party_id", err)
	}
	if p.Status != registry.StatusVerified {
		return ledger.Entry{}, invalid("party_id", errors.New("the party's real-name verification is not complete"))
	}
	cur := amount.Currency()
	custody, err := s.platformAccount(ctx, ledger.CodeCustodyBank, cur)
	if err != nil {
		return ledger.Entry{}, err
	}
	wallet, err := s.Wallet(ctx, party, cur)
	if err != nil {
		return ledger.Entry{}, err
	}
	t := ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: custody, CreditAccountID: wallet, Amount: amount, Code: code,
		Metadata: json.RawMessage(fmt.Sprintf(`{"bank_reference":%q,"party_id":%q}`, bankRef, party))}
	if code == "withdrawal" {
		t.DebitAccountID, t.CreditAccountID = wallet, custody
	}
	// The bank's reference is the idempotency key: the same bank movement
	// reported twice is recorded once.
	return s.ledger.Submit(ctx, "bank:"+code+":"+cur.Code()+":"+bankRef, []ledger.TransferRequest{t})
}

// CommitRequest is an investor's commitment: an equity campaign takes a
// number of shares, a reward campaign a tier and quantity.
type CommitRequest struct {
	CampaignID     uuid.UUID
	InvestorID     uuid.UUID
	Shares         int64
	Tier           string
	Quantity       int
	Acknowledged   bool // the investor acknowledged the risk warning
	IdempotencyKey string
	// Receipt, if set, is the client's answer, stored with the commitment
	// by the batch that writes it.
	Receipt *idempotency.Receipt[Commitment] `json:"-"`
}

// Commitment is a stored commitment.
type Commitment struct {
	ID              uuid.UUID
	CampaignID      uuid.UUID
	InvestorID      uuid.UUID
	Role            string
	Amount          money.Amount
	Shares          *int64
	Tier            *string
	Quantity        *int
	VehicleID       *uuid.UUID
	State           string
	PendingTransfer uuid.UUID
	CoolingOffUntil *time.Time
	CreatedAt       time.Time
	ReconfirmBy     *time.Time // set while the investor must reconfirm after a material change
	Replayed        bool
}

// Commit reserves an investor's money for a campaign. In one transaction it
// locks the campaign (so caps are exact under any concurrency), prices the
// commitment, applies the lead-first rule and the syndicate vehicles, runs
// the compliance check, and moves the money as a pending transfer from the
// wallet to the escrow. A refusal returns every reason and moves nothing.
func (s *Service) Commit(ctx context.Context, in CommitRequest) (Commitment, error) {
	if in.IdempotencyKey == "" {
		return Commitment{}, invalid("idempotency_key", errors.New("is required"))
	}
	if s.batch != nil {
		return s.enqueue(ctx, in)
	}
	return s.commitOne(ctx, in)
}

// requestHash binds a commitment's idempotency key to the request.
func requestHash(in CommitRequest) []byte {
	reqBytes, _ := json.Marshal(in)
	h := sha256.Sum256(reqBytes)
	return h[:]
}

// commitOne commits one request in its own transaction.
func (s *Service) commitOne(ctx context.Context, in CommitRequest) (Commitment, error) {
	hash := requestHash(in)
	if c, ok, err := s.replay(ctx, in.IdempotencyKey, hash); ok || err != nil {
		return c, err
	}
	var out Commitment
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		c, err := s.get(ctx, tx, in.CampaignID, true)
		if err != nil {
			return err
		}
		now := s.Now()
		if c.State != Live || now.Before(c.StartsAt) || !now.Before(c.Deadline) {
			return fmt.Errorf("%w (state %s)", ErrNotLive, c.State)
		}
		cur := c.Target.Currency()
		cm := Commitment{ID: uuid.New(), CampaignID: c.ID, InvestorID: in.InvestorID, State: "live"}
		var amount decimal.Decimal
		switch c.Kind {
		case "equity":
			if in.Shares <= 0 || in.Tier != "" {
				return invalid("shares", errors.New("an equity commitment is a positive whole number of shares"))
			}
			amount = c.PricePerShare.Decimal().Mul(decimal.NewFromInt(in.Shares))
			cm.Shares = &in.Shares
			if amount.Cmp(c.MinTicket.Decimal()) < 0 {
				return invalid("shares", fmt.Errorf("below the minimum ticket of %s", c.MinTicket))
			}
		case "reward":
			if in.Tier == "" || in.Quantity <= 0 || in.Shares != 0 {
				return invalid("tier", errors.New("a reward commitment names a tier and a positive quantity"))
			}
			var price decimal.Decimal
			var limit *int
			var sold int
			err := tx.QueryRow(ctx, `SELECT price, quantity_limit, sold FROM campaign_tiers WHERE campaign_id = $1 AND tier = $2`, c.ID, in.Tier).Scan(&price, &limit, &sold)
			if errors.Is(err, pgx.ErrNoRows) {
				return invalid("tier", errors.New("no such tier"))
			}
			if err != nil {
				return err
			}
			if limit != nil && sold+in.Quantity > *limit {
				return &CapError{Kind: ErrSoldOut, Remaining: fmt.Sprint(*limit - sold)}
			}
			if _, err := tx.Exec(ctx, `UPDATE campaign_tiers SET sold = sold + $3 WHERE campaign_id = $1 AND tier = $2`, c.ID, in.Tier, in.Quantity); err != nil {
				return err
			}
			amount = price.Mul(decimal.NewFromInt(int64(in.Quantity)))
			cm.Tier, cm.Quantity = &in.Tier, &in.Quantity
		}
		amt, err := money.FromDecimal(cur, amount)
		if err != nil {
			return invalid("shares", err)
		}
		cm.Amount = amt
		// An investor may commit more than once (another tier, a top-up);
		// the campaign counts investors, not commitments.
		var returning bool
		var prevVehicle *uuid.UUID
		err = tx.QueryRow(ctx, `SELECT vehicle_id FROM commitments WHERE campaign_id = $1 AND investor_id = $2 AND state = 'live' LIMIT 1`,
			c.ID, in.InvestorID).Scan(&prevVehicle)
		switch {
		case err == nil:
			returning = true
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		left, _ := c.HardCap.Sub(c.Committed)
		if amt.Cmp(left) > 0 {
			return &CapError{Kind: ErrHardCap, Remaining: left.String()}
		}
		// 领投/跟投: the lead commits first, at least its minimum share of the target.
		cm.Role = "direct"
		if c.Kind == "reward" {
			cm.Role = "backer"
		}
		if c.LeadInvestorID != nil {
			if in.InvestorID == *c.LeadInvestorID {
				cm.Role = "lead"
				need := c.Target.Decimal().Mul(c.LeadMinShare)
				if amount.Cmp(need) < 0 {
					return invalid("shares", fmt.Errorf("the lead must commit at least %s of the target (%s)", c.LeadMinShare, need.StringFixed(cur.Scale())))
				}
			} else {
				var leadLive bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM commitments WHERE campaign_id = $1 AND investor_id = $2 AND state = 'live')`,
					c.ID, *c.LeadInvestorID).Scan(&leadLive); err != nil {
					return err
				}
				if !leadLive {
					return ErrLeadFirst
				}
				cm.Role = "follower"
				if returning && prevVehicle != nil {
					cm.VehicleID = prevVehicle // a top-up stays in the same vehicle, as the same partner
				} else if cm.VehicleID, err = s.vehicle(ctx, tx, c.ID); err != nil {
					return err
				}
			}
		}
		res, err := s.reg.CheckCommitment(ctx, tx, registry.CommitmentRequest{InvestorID: in.InvestorID, IssuerID: c.IssuerID, Pack: c.Pack,
			CampaignRisk: c.RiskLevel, Amount: amt, Acknowledged: in.Acknowledged, Reward: c.Kind == "reward", AsLead: cm.Role == "lead"})
		if err != nil {
			return err
		}
		if err := res.Err(); err != nil {
			return err
		}
		wallet, err := s.walletTx(ctx, tx, in.InvestorID, cur)
		if err != nil {
			return err
		}
		pack, err := compliance.Pack(c.Pack, now)
		if err != nil {
			return err
		}
		cm.CoolingOffUntil = pack.CoolingOff.Until(now, c.Deadline)
		e, err := s.ledger.ApplyTx(ledger.RecordedByCaller(ctx), tx, "commitment:"+in.IdempotencyKey, []ledger.TransferRequest{{Kind: ledger.KindPending,
			DebitAccountID: wallet, CreditAccountID: c.EscrowAccountID, Amount: amt, Code: "commitment",
			Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"commitment_id":%q,"investor_id":%q}`, c.ID, cm.ID, in.InvestorID))}})
		if err != nil {
			return err
		}
		cm.PendingTransfer = e.Transfers[0].ID
		ev, err := commitEvent(ctx, cm, e)
		if err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, ev); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO commitments (id, campaign_id, investor_id, role, amount, shares, tier, quantity, vehicle_id,
				pending_transfer, cooling_off_until, acknowledged, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			cm.ID, c.ID, in.InvestorID, cm.Role, amount, cm.Shares, cm.Tier, cm.Quantity, cm.VehicleID, cm.PendingTransfer,
			cm.CoolingOffUntil, in.Acknowledged, in.IdempotencyKey, hash); err != nil {
			return err
		}
		out = cm
		newInvestor := 1
		if returning {
			newInvestor = 0
		}
		return s.progress(ctx, tx, &c, amt, cm, newInvestor)
	})
	if err != nil {
		if pg.Constraint(err) == "commitments_idempotency_key_key" {
			if c, ok, rerr := s.replay(ctx, in.IdempotencyKey, hash); ok || rerr != nil {
				return c, rerr
			}
		}
		if pg.Constraint(err) == "campaigns_investor_cap" {
			return Commitment{}, &CapError{Kind: compliance.ErrRefused, Remaining: "0 investor places"}
		}
		return Commitment{}, err
	}
	return s.Commitment(ctx, out.ID, uuid.Nil)
}

// progress updates the campaign's totals and records 50% and 100% milestones.
func (s *Service) progress(ctx context.Context, tx pgx.Tx, c *Campaign, amt money.Amount, cm Commitment, newInvestor int) error {
	newTotal, _ := c.Committed.Add(amt)
	var ms []string
	for _, m := range []struct {
		name string
		pct  int64
	}{{"50%", 50}, {"100%", 100}} {
		th := c.Target.Decimal().Mul(decimal.NewFromInt(m.pct)).Div(decimal.NewFromInt(100))
		reached := newTotal.Decimal().Cmp(th) >= 0
		has := false
		for _, x := range c.Milestones {
			has = has || x == m.name
		}
		if reached && !has {
			ms = append(ms, m.name)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET committed = committed + $2, investors = investors + $4, milestones = milestones || $3::text[] WHERE id = $1`,
		c.ID, amt.Decimal(), ms, newInvestor); err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.record(ctx, tx, c.ID, "campaign.milestone", "", "", map[string]any{"milestone": m, "committed": newTotal.String()}); err != nil {
			return err
		}
	}
	return nil
}

// vehicle returns a syndicate vehicle with room for one more partner,
// opening a new one when all are full (at most 50 partners each).
func (s *Service) vehicle(ctx context.Context, tx pgx.Tx, campaign uuid.UUID) (*uuid.UUID, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, `UPDATE syndicate_vehicles SET partners = partners + 1
		WHERE id = (SELECT id FROM syndicate_vehicles WHERE campaign_id = $1 AND partners < 50 ORDER BY seq LIMIT 1) RETURNING id`, campaign).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		id = uuid.New()
		_, err = tx.Exec(ctx, `INSERT INTO syndicate_vehicles (id, campaign_id, seq, partners)
			SELECT $2, $1, coalesce(max(seq), 0) + 1, 1 FROM syndicate_vehicles WHERE campaign_id = $1`, campaign, id)
	}
	if err != nil {
		return nil, fmt.Errorf("syndicate vehicle: %w", err)
	}
	return &id, nil
}

func (s *Service) walletTx(ctx context.Context, tx pgx.Tx, party uuid.UUID, cur money.Currency) (uuid.UUID, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE idempotency_key = $1`, "wallet:"+party.String()+":"+cur.Code()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, ErrNoWallet
	}
	return id, err
}

func (s *Service) replay(ctx context.Context, key string, hash []byte) (Commitment, bool, error) {
	var id uuid.UUID
	var prev []byte
	err := s.db.QueryRow(ctx, `SELECT id, request_hash FROM commitments WHERE idempotency_key = $1`, key).Scan(&id, &prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return Commitment{}, false, nil
	}
	if err != nil {
		return Commitment{}, false, err
	}
	if string(prev) != string(hash) {
		return Commitment{}, true, ErrIdempotencyConflict
	}
	c, err := s.Commitment(ctx, uuid.Nil, id)
	c.Replayed = true
	return c, true, err
}

const commitmentColumns = `c.id, c.campaign_id, c.investor_id, c.role, c.amount, k.currency, c.shares, c.tier, c.quantity, c.vehicle_id, c.state,
	c.pending_transfer, c.cooling_off_until, c.created_at, c.reconfirm_by`

func scanCommitment(row pgx.Row) (Commitment, error) {
	var c Commitment
	var amount decimal.Decimal
	var cur string
	if err := row.Scan(&c.ID, &c.CampaignID, &c.InvestorID, &c.Role, &amount, &cur, &c.Shares, &c.Tier, &c.Quantity, &c.VehicleID, &c.State,
		&c.PendingTransfer, &c.CoolingOffUntil, &c.CreatedAt, &c.ReconfirmBy); err != nil {
		return Commitment{}, err
	}
	ccy, err := money.Lookup(cur)
	if err != nil {
		return Commitment{}, err
	}
	c.Amount, err = money.FromDecimal(ccy, amount)
	return c, err
}

// Commitment reads one commitment (id, or fallback when id is zero).
func (s *Service) Commitment(ctx context.Context, id, fallback uuid.UUID) (Commitment, error) {
	if id == uuid.Nil {
		id = fallback
	}
	c, err := scanCommitment(s.db.QueryRow(ctx, `SELECT `+commitmentColumns+` FROM commitments c JOIN campaigns k ON k.id = c.campaign_id WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Commitment{}, ErrCommitmentNotFound
	}
	return c, err
}

// Cancel voids a live commitment during its cooling-off window; after it
// the commitment is locked. Only its investor may cancel it.
func (s *Service) Cancel(ctx context.Context, commitmentID, investorID uuid.UUID) (Commitment, error) {
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var campaignID uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT campaign_id FROM commitments WHERE id = $1 AND investor_id = $2`, commitmentID, investorID).Scan(&campaignID); errors.Is(err, pgx.ErrNoRows) {
			return ErrCommitmentNotFound
		} else if err != nil {
			return err
		}
		c, err := s.get(ctx, tx, campaignID, true)
		if err != nil {
			return err
		}
		cm, err := scanCommitment(tx.QueryRow(ctx, `SELECT `+commitmentColumns+` FROM commitments c JOIN campaigns k ON k.id = c.campaign_id WHERE c.id = $1 FOR UPDATE OF c`, commitmentID))
		if err != nil {
			return err
		}
		if cm.State != "live" || c.State != Live {
			return fmt.Errorf("%w: commitment is %s, campaign is %s", ErrIllegalTransition, cm.State, c.State)
		}
		if cm.CoolingOffUntil == nil || !s.Now().Before(*cm.CoolingOffUntil) {
			return ErrCoolingOffOver
		}
		if err := s.release(ctx, tx, &c, cm, "cancelled", "investor cancelled in the cooling-off window"); err != nil {
			return err
		}
		if cm.Role == "lead" { // the syndicate's terms changed under the followers
			follower := "follower"
			_, err := s.requireReconfirmation(ctx, tx, c.ID, &follower, "the lead investor cancelled")
			return err
		}
		return nil
	})
	if err != nil {
		return Commitment{}, err
	}
	return s.Commitment(ctx, commitmentID, uuid.Nil)
}

// release voids a live commitment's pending transfer and takes it out of the
// totals. Its event names the void transfer and records its movement, so
// the ledger records none of its own (one event per command).
func (s *Service) release(ctx context.Context, tx pgx.Tx, c *Campaign, cm Commitment, state, why string) error {
	e, err := s.ledger.ApplyTx(ledger.RecordedByCaller(ctx), tx, "release:"+cm.ID.String(), []ledger.TransferRequest{{Kind: ledger.KindVoidPending, PendingID: cm.PendingTransfer,
		Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"commitment_id":%q,"reason":%q}`, c.ID, cm.ID, why))}})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE commitments SET state = $2, resolution_transfer = $3, state_at = clock_timestamp() WHERE id = $1`, cm.ID, state, e.Transfers[0].ID); err != nil {
		return err
	}
	if cm.Tier != nil {
		if _, err := tx.Exec(ctx, `UPDATE campaign_tiers SET sold = sold - $3 WHERE campaign_id = $1 AND tier = $2`, c.ID, *cm.Tier, *cm.Quantity); err != nil {
			return err
		}
	}
	// The investor leaves the count (and their vehicle) with their last live commitment.
	var still bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM commitments WHERE campaign_id = $1 AND investor_id = $2 AND state = 'live')`,
		c.ID, cm.InvestorID).Scan(&still); err != nil {
		return err
	}
	gone := 1
	if still {
		gone = 0
	}
	if cm.VehicleID != nil && !still {
		if _, err := tx.Exec(ctx, `UPDATE syndicate_vehicles SET partners = partners - 1 WHERE id = $1`, *cm.VehicleID); err != nil {
			return err
		}
	}
	if c.State == Live {
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET committed = committed - $2, investors = investors - $3 WHERE id = $1`, c.ID, cm.Amount.Decimal(), gone); err != nil {
			return err
		}
	}
	objects, facts := commitmentMove(cm, e)
	facts["reason"] = why
	return s.recordObjects(ctx, tx, objects, "campaign.commitment."+state, "live", state, facts)
}
