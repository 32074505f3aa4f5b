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
	CampaignID   uuid.UUID
	InvestorID   uuid.UUID
	Shares       int64
	Tier         string
	Quantity     int
	Acknowledged bool // the investor acknowledged the risk warning
	// RiskDisclosure is the SHA-256 of the risk-disclosure letter the
	// investor acknowledged (compliance.RulePack.RiskDisclosure).
	RiskDisclosure string
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
	RiskDisclosure  *string    // the SHA-256 of the risk disclosure acknowledged, where the pack asks for one
	Replayed        bool
}

// Commit reserves an investor's money for a campaign. In one transaction
// it locks the campaign (so caps are exact under any concurrency), prices
// the commitment, applies the lead-first rule and the syndicate vehicles,
// runs the compliance check, and moves the money as a pending transfer from
// the wallet to the escrow. A refusal returns every reason and moves
// nothing. Every commitment goes through the batch (batch.go): with
// batching on it shares its transaction with others waiting; off, it is a
// batch of its own.
func (s *Service) Commit(ctx context.Context, in CommitRequest) (Commitment, error) {
	if in.IdempotencyKey == "" {
		return Commitment{}, invalid("idempotency_key", errors.New("is required"))
	}
	if s.batch != nil {
		return s.enqueue(ctx, in)
	}
	j := newJob(ctx, in)
	s.processBatch([]*commitJob{j})
	return j.out, j.err
}

// requestHash binds a commitment's idempotency key to the request.
func requestHash(in CommitRequest) []byte {
	reqBytes, _ := json.Marshal(in)
	h := sha256.Sum256(reqBytes)
	return h[:]
}

const commitmentColumns = `c.id, c.campaign_id, c.investor_id, c.role, c.amount, k.currency, c.shares, c.tier, c.quantity, c.vehicle_id, c.state,
	c.pending_transfer, c.cooling_off_until, c.created_at, c.reconfirm_by, c.risk_disclosure`

func scanCommitment(row pgx.Row) (Commitment, error) {
	var c Commitment
	var amount decimal.Decimal
	var cur string
	if err := row.Scan(&c.ID, &c.CampaignID, &c.InvestorID, &c.Role, &amount, &cur, &c.Shares, &c.Tier, &c.Quantity, &c.VehicleID, &c.State,
		&c.PendingTransfer, &c.CoolingOffUntil, &c.CreatedAt, &c.ReconfirmBy, &c.RiskDisclosure); err != nil {
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
	// The running totals first: they are locked before the ledger's
	// accounts, by the batch as here.
	if c.Kind == "equity" {
		if err := releaseExposure(ctx, tx, c, cm); err != nil {
			return err
		}
	}
	e, err := s.ledger.ApplyTx(ctx, tx, "release:"+cm.ID.String(), []ledger.TransferRequest{{Kind: ledger.KindVoidPending, PendingID: cm.PendingTransfer,
		Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"commitment_id":%q,"reason":%q}`, c.ID, cm.ID, why))}}, ledger.CallerRecords)
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

func (s *Service) walletTx(ctx context.Context, tx pgx.Tx, party uuid.UUID, cur money.Currency) (uuid.UUID, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE idempotency_key = $1`, walletKey(party, cur)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, ErrNoWallet
	}
	return id, err
}
