package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
)

type commitRequest struct {
	InvestorID   string `json:"investor_id"`
	Shares       int64  `json:"shares"`
	Tier         string `json:"tier"`
	Quantity     int    `json:"quantity"`
	Acknowledged bool   `json:"acknowledged"`
	// RiskDisclosure is the SHA-256 of the risk-disclosure letter the
	// investor acknowledged (GET /v1/packs/{pack}/risk-disclosure).
	RiskDisclosure string `json:"risk_disclosure"`
}

type commitmentJSON struct {
	ID              string       `json:"id"`
	CampaignID      string       `json:"campaign_id"`
	InvestorID      string       `json:"investor_id"`
	Role            string       `json:"role"`
	Amount          money.Amount `json:"amount"`
	Currency        string       `json:"currency"`
	Shares          *int64       `json:"shares,omitempty"`
	Tier            *string      `json:"tier,omitempty"`
	Quantity        *int         `json:"quantity,omitempty"`
	VehicleID       *string      `json:"vehicle_id,omitempty"`
	State           string       `json:"state"`
	PendingTransfer string       `json:"pending_transfer_id"`
	CoolingOffUntil *time.Time   `json:"cooling_off_until,omitempty"`
	ReconfirmBy     *time.Time   `json:"reconfirm_by,omitempty"`
	RiskDisclosure  *string      `json:"risk_disclosure,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
}

func toCommitment(cm campaign.Commitment) commitmentJSON {
	out := commitmentJSON{ID: cm.ID.String(), CampaignID: cm.CampaignID.String(), InvestorID: cm.InvestorID.String(), Role: cm.Role,
		Amount: cm.Amount, Currency: cm.Amount.Currency().Code(), Shares: cm.Shares, Tier: cm.Tier, Quantity: cm.Quantity, State: cm.State,
		RiskDisclosure:  cm.RiskDisclosure,
		PendingTransfer: cm.PendingTransfer.String(), CoolingOffUntil: cm.CoolingOffUntil, ReconfirmBy: cm.ReconfirmBy, CreatedAt: cm.CreatedAt.UTC()}
	if cm.VehicleID != nil {
		v := cm.VehicleID.String()
		out.VehicleID = &v
	}
	return out
}

// subjectID is the party a scoped key acts for.
func subjectID(c echo.Context) uuid.UUID {
	id, _ := uuid.Parse(principal(c).Subject)
	return id
}

func (s *server) commit(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req commitRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	investor, err := bodyID("investor_id", req.InvestorID)
	if err != nil {
		return err
	}
	if p := principal(c); p.Role == auth.Investor {
		if investor != uuid.Nil && investor != subjectID(c) {
			return problem(http.StatusForbidden, "forbidden", "investor_id", "an investor commits only for itself")
		}
		investor = subjectID(c)
	}
	if investor == uuid.Nil {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "investor_id", "investor_id is required")
	}
	// Scope the key to the investor: two investors' keys never collide.
	rc := receiptFor(s, c, renderCommitment)
	cm, err := s.Campaigns.Commit(c.Request().Context(), campaign.CommitRequest{CampaignID: id, InvestorID: investor, Shares: req.Shares,
		Tier: req.Tier, Quantity: req.Quantity, Acknowledged: req.Acknowledged, RiskDisclosure: req.RiskDisclosure, IdempotencyKey: investor.String() + ":" + key, Receipt: rc})
	if err != nil {
		return err
	}
	return answerFrom(c, rc, cm, cm.Replayed, renderCommitment)
}

// renderCommitment is a new commitment's answer.
func renderCommitment(cm campaign.Commitment) (idempotency.Response, error) {
	return renderJSON(http.StatusCreated, toCommitment(cm))
}

// ownCommitment: investors reach only their own commitments.
func (s *server) ownCommitment(c echo.Context) (campaign.Commitment, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return campaign.Commitment{}, err
	}
	cm, err := s.Campaigns.Commitment(c.Request().Context(), id, uuid.Nil)
	if err != nil {
		return cm, err
	}
	if principal(c).Role == auth.Investor && cm.InvestorID != subjectID(c) {
		return cm, campaign.ErrCommitmentNotFound
	}
	return cm, nil
}

func (s *server) getCommitment(c echo.Context) error {
	cm, err := s.ownCommitment(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCommitment(cm))
}

func (s *server) cancelCommitment(c echo.Context) error {
	cm, err := s.ownCommitment(c)
	if err != nil {
		return err
	}
	out, err := s.Campaigns.Cancel(c.Request().Context(), cm.ID, cm.InvestorID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCommitment(out))
}

func (s *server) reconfirmCommitment(c echo.Context) error {
	cm, err := s.ownCommitment(c)
	if err != nil {
		return err
	}
	out, err := s.Campaigns.Reconfirm(c.Request().Context(), cm.ID, cm.InvestorID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCommitment(out))
}

type bankMoveRequest struct {
	Amount        string `json:"amount"`
	Currency      string `json:"currency"`
	BankReference string `json:"bank_reference"`
}

func (s *server) bankMove(c echo.Context, withdraw bool) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req bankMoveRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	amt, err := money.Parse(req.Currency, req.Amount)
	if err != nil {
		field := "amount"
		if _, lerr := money.Lookup(req.Currency); lerr != nil {
			field = "currency"
		}
		return fieldProblem(field, err)
	}
	move := s.Campaigns.Deposit
	if withdraw {
		move = s.Campaigns.Withdraw
	}
	e, err := move(c.Request().Context(), id, amt, req.BankReference)
	if err != nil {
		return err
	}
	if e.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSON(http.StatusCreated, toEntry(e))
}

func (s *server) deposit(c echo.Context) error  { return s.bankMove(c, false) }
func (s *server) withdraw(c echo.Context) error { return s.bankMove(c, true) }

type walletJSON struct {
	PartyID   string       `json:"party_id"`
	AccountID string       `json:"account_id"`
	Currency  string       `json:"currency"`
	Available money.Amount `json:"available"`
	Committed money.Amount `json:"committed"`
	Balances  balancesJSON `json:"balances"`
}

func (s *server) getWallet(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := ownParty(c, id); err != nil {
		return err
	}
	cur, err := money.Lookup(c.QueryParam("currency"))
	if err != nil {
		return problem(http.StatusBadRequest, "invalid_parameter", "currency", "currency must be a supported ISO 4217 code")
	}
	if _, err := s.Registry.Party(c.Request().Context(), id); err != nil {
		return err
	}
	acct, err := s.Campaigns.Wallet(c.Request().Context(), id, cur)
	if err != nil {
		return err
	}
	a, err := s.Ledger.Account(c.Request().Context(), acct)
	if err != nil {
		return err
	}
	b := a.Balances
	avail, _ := b.CreditsPosted.Sub(b.DebitsPosted)
	avail, _ = avail.Sub(b.DebitsPending)
	return c.JSON(http.StatusOK, walletJSON{PartyID: id.String(), AccountID: acct.String(), Currency: cur.Code(), Available: avail,
		Committed: b.DebitsPending, Balances: toBalances(b)})
}

// listCommitments lists commitments: an investor its own, an issuer those
// in its campaigns, staff and regulators every one.
func (s *server) listCommitments(c echo.Context) error {
	q := newListQuery(c, "campaign_id", "investor_id", "state")
	f := campaign.CommitmentFilter{CampaignID: q.id("campaign_id"), InvestorID: q.id("investor_id"), State: q.str("state")}
	if err := q.Err(); err != nil {
		return err
	}
	switch p := principal(c); p.Role {
	case auth.Investor:
		me := subjectID(c)
		f.ForInvestor = &me
	case auth.Issuer:
		me := subjectID(c)
		f.ForIssuer = &me
	}
	p, err := s.Campaigns.Commitments(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toCommitment)
}
