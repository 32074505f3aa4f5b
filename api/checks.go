package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/registry"
)

type checkRequest struct {
	InvestorID   string `json:"investor_id"`
	IssuerID     string `json:"issuer_id"`
	Pack         string `json:"pack"`
	CampaignRisk int    `json:"campaign_risk"`
	Amount       string `json:"amount"`
	Currency     string `json:"currency"`
	Acknowledged bool   `json:"acknowledged"`
	// RiskDisclosure: as for a commitment.
	RiskDisclosure string `json:"risk_disclosure"`
}

type checkJSON struct {
	Allowed         bool                `json:"allowed"`
	Refusals        []compliance.Reason `json:"refusals"`
	RemainingWindow *money.Amount       `json:"remaining_window,omitempty"`
}

// checkCommitment runs the pre-commitment check without moving money: the
// facts and the rules a commitment would meet now (campaign.Check).
func (s *server) checkCommitment(c echo.Context) error {
	var req checkRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	inv, err := bodyID("investor_id", req.InvestorID)
	if err != nil {
		return err
	}
	iss, err := bodyID("issuer_id", req.IssuerID)
	if err != nil {
		return err
	}
	amt, err := money.Parse(req.Currency, req.Amount)
	if err != nil {
		field := "amount"
		if _, lerr := money.Lookup(req.Currency); lerr != nil {
			field = "currency"
		}
		return &registry.FieldError{Field: field, Err: err, Kind: registry.ErrInvalid}
	}
	res, err := s.Campaigns.Check(c.Request().Context(), campaign.CheckRequest{InvestorID: inv, IssuerID: iss, Pack: req.Pack,
		CampaignRisk: req.CampaignRisk, Amount: amt, Acknowledged: req.Acknowledged, RiskDisclosure: req.RiskDisclosure})
	if err != nil {
		return err
	}
	if res.Refusals == nil {
		res.Refusals = []compliance.Reason{}
	}
	return c.JSON(http.StatusOK, checkJSON{Allowed: res.Allowed, Refusals: res.Refusals, RemainingWindow: res.RemainingWindow})
}

// riskDisclosure serves the letter a pack asks equity investors to
// acknowledge, in its current version, with the hash they acknowledge.
func (s *server) riskDisclosure(c echo.Context) error {
	pack, err := compliance.Pack(c.Param("id"), time.Now())
	if err != nil {
		return err
	}
	d := pack.RiskDisclosure
	if d == nil {
		return problem(http.StatusNotFound, "not_found", "id", "this pack asks for no risk disclosure letter")
	}
	return c.JSON(http.StatusOK, map[string]string{"pack": pack.ID, "version": d.Version, "title": d.Title, "sha256": d.SHA256(), "text": d.Text, "cite": d.Cite})
}
