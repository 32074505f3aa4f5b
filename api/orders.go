package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/internal/money"
)

type orderJSON struct {
	ID           string       `json:"id"`
	CampaignID   string       `json:"campaign_id"`
	CommitmentID string       `json:"commitment_id"`
	BackerID     string       `json:"backer_id"`
	Tier         string       `json:"tier"`
	Quantity     int          `json:"quantity"`
	Amount       money.Amount `json:"amount"`
	Refunded     money.Amount `json:"refunded"`
	State        string       `json:"state"`
	Carrier      *string      `json:"carrier,omitempty"`
	Tracking     *string      `json:"tracking,omitempty"`
	ShippedAt    *time.Time   `json:"shipped_at,omitempty"`
	ReceivedAt   *time.Time   `json:"received_at,omitempty"`
	Dispute      *string      `json:"dispute,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
}

func toOrder(o campaign.Order) orderJSON {
	return orderJSON{ID: o.ID.String(), CampaignID: o.CampaignID.String(), CommitmentID: o.CommitmentID.String(), BackerID: o.BackerID.String(),
		Tier: o.Tier, Quantity: o.Quantity, Amount: o.Amount, Refunded: o.Refunded, State: o.State, Carrier: o.Carrier, Tracking: o.Tracking,
		ShippedAt: o.ShippedAt, ReceivedAt: o.ReceivedAt, Dispute: o.Dispute, CreatedAt: o.CreatedAt}
}

// listOrders lists orders: a backer its own, an issuer its campaigns',
// staff and regulators every one. /v1/campaigns/{id}/orders is the same
// list with the campaign taken from the path.
func (s *server) listOrders(c echo.Context) error {
	q := newListQuery(c, "campaign_id", "backer_id", "state")
	f := campaign.OrderFilter{CampaignID: q.id("campaign_id"), BackerID: q.id("backer_id"), State: q.str("state")}
	if c.Param("id") != "" {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		if _, err := s.ownCampaign(c, id); err != nil {
			return err
		}
		f.CampaignID = &id
	}
	if err := q.Err(); err != nil {
		return err
	}
	switch p := principal(c); p.Role {
	case auth.Investor:
		me := subjectID(c)
		f.ForBacker = &me
	case auth.Issuer:
		me := subjectID(c)
		f.ForIssuer = &me
	}
	p, err := s.Campaigns.Orders(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toOrder)
}

type orderActionRequest struct {
	Carrier  string `json:"carrier"`
	Tracking string `json:"tracking"`
	Reason   string `json:"reason"`
	Amount   string `json:"amount"`
}

// orderAction checks the caller may act on the order (issuer: its
// campaign's; investor: its own) and runs fn.
func (s *server) orderAction(c echo.Context, fn func(o campaign.Order, req orderActionRequest) (campaign.Order, error)) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req orderActionRequest
	if err := decodeOptional(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	os, err := s.orderByID(c, id)
	if err != nil {
		return err
	}
	out, err := fn(os, req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrder(out))
}

func (s *server) orderByID(c echo.Context, id uuid.UUID) (campaign.Order, error) {
	o, err := s.Campaigns.Order(c.Request().Context(), id)
	if err != nil {
		return o, err
	}
	p := principal(c)
	switch p.Role {
	case auth.Investor:
		if o.BackerID != subjectID(c) {
			return o, campaign.ErrOrderNotFound
		}
	case auth.Issuer:
		if _, err := s.ownCampaign(c, o.CampaignID); err != nil {
			return o, campaign.ErrOrderNotFound
		}
	}
	return o, nil
}

func (s *server) shipOrder(c echo.Context) error {
	return s.orderAction(c, func(o campaign.Order, r orderActionRequest) (campaign.Order, error) {
		return s.Campaigns.Ship(c.Request().Context(), o.ID, r.Carrier, r.Tracking)
	})
}

func (s *server) confirmOrder(c echo.Context) error {
	return s.orderAction(c, func(o campaign.Order, r orderActionRequest) (campaign.Order, error) {
		return s.Campaigns.ConfirmReceipt(c.Request().Context(), o.ID, o.BackerID)
	})
}

// lateRefund is a backer's refund right on an order not shipped by its
// delivery date.
func (s *server) lateRefund(c echo.Context) error {
	return s.orderAction(c, func(o campaign.Order, r orderActionRequest) (campaign.Order, error) {
		return s.Campaigns.LateRefund(c.Request().Context(), o.ID, o.BackerID)
	})
}

func (s *server) disputeOrder(c echo.Context) error {
	return s.orderAction(c, func(o campaign.Order, r orderActionRequest) (campaign.Order, error) {
		return s.Campaigns.OpenDispute(c.Request().Context(), o.ID, o.BackerID, r.Reason)
	})
}

func (s *server) refundOrder(c echo.Context) error {
	return s.orderAction(c, func(o campaign.Order, r orderActionRequest) (campaign.Order, error) {
		amt := o.Amount
		if r.Amount != "" {
			var err error
			if amt, err = money.ParseIn(o.Amount.Currency(), r.Amount); err != nil {
				return o, fieldProblem("amount", err)
			}
		} else {
			amt, _ = o.Amount.Sub(o.Refunded)
		}
		return s.Campaigns.Refund(c.Request().Context(), o.ID, amt, r.Reason)
	})
}

type holderJSON struct {
	InvestorID  *string          `json:"investor_id,omitempty"`
	VehicleID   *string          `json:"vehicle_id,omitempty"`
	Shares      int64            `json:"shares"`
	Members     []holderJSON     `json:"members,omitempty"`
	Commitments []heldCommitment `json:"commitments,omitempty"`
	// CommitmentCount replaces Commitments when they are left out.
	CommitmentCount int `json:"commitment_count,omitempty"`
}

type heldCommitment struct {
	ID     string `json:"commitment_id"`
	Shares int64  `json:"shares"`
}

// toHolder is a cap-table line; with lines false it leaves out the
// commitments each holding is made of (a holder may have any number).
func toHolder(h campaign.Holder, lines bool) holderJSON {
	out := holderJSON{Shares: h.Shares}
	if h.InvestorID != nil {
		s := h.InvestorID.String()
		out.InvestorID = &s
	}
	if h.VehicleID != nil {
		s := h.VehicleID.String()
		out.VehicleID = &s
	}
	for _, m := range h.Members {
		out.Members = append(out.Members, toHolder(m, lines))
	}
	if !lines {
		out.CommitmentCount = len(h.Commitments)
		return out
	}
	for _, c := range h.Commitments {
		out.Commitments = append(out.Commitments, heldCommitment{ID: c.ID.String(), Shares: c.Shares})
	}
	return out
}

func (s *server) capTable(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	lines := true
	switch c.QueryParam("commitments") {
	case "", "true":
	case "false":
		lines = false
	default:
		return problem(http.StatusBadRequest, "invalid_parameter", "commitments", "commitments must be true or false")
	}
	if _, err := s.ownCampaign(c, id); err != nil {
		return err
	}
	hs, err := s.Campaigns.CapTable(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := struct {
		Holders []holderJSON `json:"holders"`
	}{Holders: []holderJSON{}}
	for _, h := range hs {
		out.Holders = append(out.Holders, toHolder(h, lines))
	}
	return c.JSON(http.StatusOK, out)
}

type distributeRequest struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Kind     string `json:"kind"`
}

type lineJSON struct {
	InvestorID *string      `json:"investor_id,omitempty"`
	VehicleID  *string      `json:"vehicle_id,omitempty"`
	Part       string       `json:"part"`
	Amount     money.Amount `json:"amount"`
}

func (s *server) distribute(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ownCampaign(c, id); err != nil {
		return err
	}
	var req distributeRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	amt, err := money.Parse(req.Currency, req.Amount)
	if err != nil {
		return fieldProblem("amount", err)
	}
	d, err := s.Campaigns.Distribute(c.Request().Context(), id, amt, req.Kind, id.String()+":"+key)
	if err != nil {
		return err
	}
	out := struct {
		ID     string       `json:"id"`
		Amount money.Amount `json:"amount"`
		Lines  []lineJSON   `json:"lines"`
	}{ID: d.ID.String(), Amount: d.Amount, Lines: []lineJSON{}}
	for _, l := range d.Lines {
		lj := lineJSON{Part: l.Part, Amount: l.Amount}
		if l.InvestorID != nil {
			s := l.InvestorID.String()
			lj.InvestorID = &s
		}
		if l.VehicleID != nil {
			s := l.VehicleID.String()
			lj.VehicleID = &s
		}
		out.Lines = append(out.Lines, lj)
	}
	return c.JSON(http.StatusCreated, out)
}
