package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/internal/money"
)

type releaseJSON struct {
	Payable     money.Amount `json:"payable"`
	Undelivered money.Amount `json:"held_for_undelivered_orders"`
	Reserve     money.Amount `json:"after_sales_reserve"`
	Requested   money.Amount `json:"requested"`
	Releasable  money.Amount `json:"releasable"`
	Currency    string       `json:"currency"`
}

// campaignRelease shows what a settled campaign's issuer payable holds,
// what the rules hold back and what may be paid out now.
func (s *server) campaignRelease(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ownCampaign(c, id); err != nil {
		return err
	}
	r, err := s.Campaigns.Releasable(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, releaseJSON{Payable: r.Payable, Undelivered: r.Undelivered, Reserve: r.Reserve, Requested: r.Requested,
		Releasable: r.Releasable, Currency: r.Payable.Currency().Code()})
}

type disbursementRequest struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

type disbursementJSON struct {
	ID          string       `json:"id"`
	CampaignID  string       `json:"campaign_id"`
	Amount      money.Amount `json:"amount"`
	Currency    string       `json:"currency"`
	State       string       `json:"state"`
	RequestedBy string       `json:"requested_by"`
	RequestedAt time.Time    `json:"requested_at"`
	ApprovedBy  *string      `json:"approved_by,omitempty"`
	PaidAt      *time.Time   `json:"paid_at,omitempty"`
	TransferID  *string      `json:"transfer_id,omitempty"`
}

func toDisbursement(d campaign.Disbursement) disbursementJSON {
	out := disbursementJSON{ID: d.ID.String(), CampaignID: d.CampaignID.String(), Amount: d.Amount, Currency: d.Amount.Currency().Code(), State: d.State,
		RequestedBy: d.RequestedBy, RequestedAt: d.RequestedAt.UTC(), ApprovedBy: d.ApprovedBy, PaidAt: d.PaidAt}
	if d.TransferID != nil {
		t := d.TransferID.String()
		out.TransferID = &t
	}
	return out
}

// requestDisbursement is an operator asking to pay the issuer.
func (s *server) requestDisbursement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req disbursementRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	amt, err := money.Parse(req.Currency, req.Amount)
	if err != nil {
		return fieldProblem("amount", err)
	}
	d, err := s.Campaigns.RequestDisbursement(c.Request().Context(), id, amt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toDisbursement(d))
}

// approveDisbursement is a compliance officer's approval, which pays.
func (s *server) approveDisbursement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	d, err := s.Campaigns.ApproveDisbursement(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toDisbursement(d))
}
