package api

import (
	"context"

	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/internal/money"
)

type tierJSON struct {
	ID            string     `json:"id"`
	Title         string     `json:"title"`
	Price         string     `json:"price"`
	QuantityLimit *int       `json:"quantity_limit,omitempty"`
	Sold          int        `json:"sold"`
	DeliveryBy    *time.Time `json:"delivery_by,omitempty"`
}

type createCampaignRequest struct {
	IssuerID          string     `json:"issuer_id"`
	Kind              string     `json:"kind"`
	Funding           string     `json:"funding"`
	Pack              string     `json:"pack"`
	Currency          string     `json:"currency"`
	Title             string     `json:"title"`
	RiskLevel         int        `json:"risk_level"`
	Target            string     `json:"target"`
	HardCap           string     `json:"hard_cap"`
	MinTicket         string     `json:"min_ticket"`
	PricePerShare     string     `json:"price_per_share"`
	FeeRate           string     `json:"fee_rate"`
	LeadInvestorID    string     `json:"lead_investor_id"`
	LeadMinShare      string     `json:"lead_min_share"`
	CarryRate         string     `json:"carry_rate"`
	PlatformCarryRate string     `json:"platform_carry_rate"`
	StartsAt          time.Time  `json:"starts_at"`
	Deadline          time.Time  `json:"deadline"`
	Tiers             []tierJSON `json:"tiers"`
}

type campaignJSON struct {
	// ExpeditedReview marks, for staff, a submitted campaign whose issuer is
	// on the red list (守信激励): reviewed first (Deps.RedListExpedite).
	ExpeditedReview   bool       `json:"expedited_review,omitempty"`
	ID                string     `json:"id"`
	IssuerID          string     `json:"issuer_id"`
	Kind              string     `json:"kind"`
	Funding           string     `json:"funding"`
	Pack              string     `json:"pack"`
	Currency          string     `json:"currency"`
	Title             string     `json:"title"`
	RiskLevel         string     `json:"risk_level"`
	Target            string     `json:"target"`
	HardCap           string     `json:"hard_cap"`
	MinTicket         string     `json:"min_ticket"`
	PricePerShare     *string    `json:"price_per_share,omitempty"`
	FeeRate           string     `json:"fee_rate"`
	LeadInvestorID    *string    `json:"lead_investor_id,omitempty"`
	CarryRate         string     `json:"carry_rate"`
	PlatformCarryRate string     `json:"platform_carry_rate"`
	StartsAt          time.Time  `json:"starts_at"`
	Deadline          time.Time  `json:"deadline"`
	State             string     `json:"state"`
	StateAt           time.Time  `json:"state_at"`
	Committed         string     `json:"committed"`
	Investors         int        `json:"investors"`
	MaxInvestors      int        `json:"max_investors"`
	PercentOfTarget   string     `json:"percent_of_target"`
	Milestones        []string   `json:"milestones"`
	EscrowAccountID   string     `json:"escrow_account_id"`
	PayableAccountID  string     `json:"payable_account_id"`
	RejectionReason   *string    `json:"rejection_reason,omitempty"`
	Tiers             []tierJSON `json:"tiers"`
	CreatedAt         time.Time  `json:"created_at"`
}

func toCampaign(c campaign.Campaign) campaignJSON {
	out := campaignJSON{ID: c.ID.String(), IssuerID: c.IssuerID.String(), Kind: c.Kind, Funding: c.Funding, Pack: c.Pack,
		Currency: c.Target.Currency().Code(), Title: c.Title, RiskLevel: "R" + string(rune('0'+c.RiskLevel)), Target: c.Target.String(),
		HardCap: c.HardCap.String(), MinTicket: c.MinTicket.String(), FeeRate: c.FeeRate.String(), CarryRate: c.CarryRate.String(),
		PlatformCarryRate: c.PlatformCarryRate.String(), StartsAt: c.StartsAt.UTC(), Deadline: c.Deadline.UTC(), State: c.State,
		StateAt: c.StateAt.UTC(), Committed: c.Committed.String(), Investors: c.Investors, MaxInvestors: c.MaxInvestors, Milestones: c.Milestones,
		EscrowAccountID: c.EscrowAccountID.String(), PayableAccountID: c.PayableAccountID.String(), RejectionReason: c.RejectionReason,
		Tiers: []tierJSON{}, CreatedAt: c.CreatedAt.UTC()}
	out.PercentOfTarget = c.Committed.Decimal().Mul(decimal.NewFromInt(100)).DivRound(c.Target.Decimal(), 2).StringFixed(2)
	if out.Milestones == nil {
		out.Milestones = []string{}
	}
	if c.PricePerShare != nil {
		p := c.PricePerShare.String()
		out.PricePerShare = &p
	}
	if c.LeadInvestorID != nil {
		l := c.LeadInvestorID.String()
		out.LeadInvestorID = &l
	}
	for _, t := range c.Tiers {
		out.Tiers = append(out.Tiers, tierJSON{ID: t.ID, Title: t.Title, Price: t.Price.String(), QuantityLimit: t.QuantityLimit, Sold: t.Sold, DeliveryBy: t.DeliveryBy})
	}
	return out
}

func optAmount(cur, field, raw string) (money.Amount, error) {
	if raw == "" {
		return money.Amount{}, nil
	}
	a, err := money.Parse(cur, raw)
	if err != nil {
		return a, fieldProblem(field, err)
	}
	return a, nil
}

func optRate(field, raw string) (decimal.Decimal, error) {
	if raw == "" {
		return decimal.Zero, nil
	}
	d, err := decimal.NewFromString(raw)
	if err != nil || d.Sign() < 0 || d.Cmp(decimal.NewFromInt(1)) >= 0 || d.Exponent() < -6 {
		return d, problem(http.StatusUnprocessableEntity, "validation_failed", field, field+" must be a decimal from 0 to below 1, such as \"0.05\"")
	}
	return d, nil
}

// fieldProblem names the field of a money or validation error.
func fieldProblem(field string, err error) error {
	return &campaign.FieldError{Field: field, Err: err, Kind: campaign.ErrInvalid}
}

// ownCampaign: an issuer key reaches only its own campaigns' write routes.
func (s *server) ownCampaign(c echo.Context, id uuid.UUID) (campaign.Campaign, error) {
	cp, err := s.Campaigns.Get(c.Request().Context(), id)
	if err != nil {
		return cp, err
	}
	if p := principal(c); p.Role == auth.Issuer && p.Subject != cp.IssuerID.String() {
		return cp, campaign.ErrNotFound
	}
	return cp, nil
}

// viewableCampaign is the campaign the path names, if the caller may see
// it (mayView); one it may not see is not found: a draft's existence is
// not public either.
func (s *server) viewableCampaign(c echo.Context) (campaign.Campaign, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return campaign.Campaign{}, err
	}
	cp, err := s.Campaigns.Get(c.Request().Context(), id)
	if err != nil {
		return cp, err
	}
	if !mayView(principal(c), cp) {
		return cp, campaign.ErrNotFound
	}
	return cp, nil
}

func (s *server) createCampaign(c echo.Context) error {
	var req createCampaignRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	issuer, err := bodyID("issuer_id", req.IssuerID)
	if err != nil {
		return err
	}
	if p := principal(c); p.Role == auth.Issuer && p.Subject != issuer.String() {
		return problem(http.StatusForbidden, "forbidden", "issuer_id", "an issuer opens campaigns only for itself")
	}
	lead, err := bodyID("lead_investor_id", req.LeadInvestorID)
	if err != nil {
		return err
	}
	if _, err := money.Lookup(req.Currency); err != nil {
		return fieldProblem("currency", err)
	}
	in := campaign.NewCampaign{IssuerID: issuer, Kind: req.Kind, Funding: req.Funding, Pack: req.Pack, Title: req.Title, RiskLevel: req.RiskLevel,
		LeadInvestorID: lead, StartsAt: req.StartsAt, Deadline: req.Deadline}
	for _, f := range []struct {
		name, raw string
		dst       *money.Amount
	}{{"target", req.Target, &in.Target}, {"hard_cap", req.HardCap, &in.HardCap}, {"min_ticket", req.MinTicket, &in.MinTicket},
		{"price_per_share", req.PricePerShare, &in.PricePerShare}} {
		if *f.dst, err = optAmount(req.Currency, f.name, f.raw); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name, raw string
		dst       *decimal.Decimal
	}{{"fee_rate", req.FeeRate, &in.FeeRate}, {"lead_min_share", req.LeadMinShare, &in.LeadMinShare}, {"carry_rate", req.CarryRate, &in.CarryRate},
		{"platform_carry_rate", req.PlatformCarryRate, &in.PlatformCarryRate}} {
		if *f.dst, err = optRate(f.name, f.raw); err != nil {
			return err
		}
	}
	for _, t := range req.Tiers {
		price, err := optAmount(req.Currency, "tiers.price", t.Price)
		if err != nil {
			return err
		}
		in.Tiers = append(in.Tiers, campaign.Tier{ID: t.ID, Title: t.Title, Price: price, QuantityLimit: t.QuantityLimit, DeliveryBy: t.DeliveryBy})
	}
	if in.StartsAt.IsZero() || in.Deadline.IsZero() {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "deadline", "starts_at and deadline are required")
	}
	cp, err := s.Campaigns.Create(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCampaign(cp))
}

func (s *server) getCampaign(c echo.Context) error {
	cp, err := s.viewableCampaign(c)
	if err != nil {
		return err
	}
	out := toCampaign(cp)
	if s.RedListExpedite && cp.State == campaign.Submitted && !principal(c).Role.Scoped() {
		if out.ExpeditedReview, err = s.Registry.RedListed(c.Request().Context(), cp.IssuerID); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, out)
}

// mayView decides who sees a campaign. Platform staff and regulators see
// every campaign; an issuer sees its own in every state; anyone else sees
// a campaign only once compliance approved it. Drafts, campaigns under
// review and rejected ones (with the reasons) stay between the issuer and
// the platform.
func mayView(p auth.Principal, cp campaign.Campaign) bool {
	switch {
	case !p.Role.Scoped():
		return true
	case p.Role == auth.Issuer && p.Subject == cp.IssuerID.String():
		return true
	}
	return campaign.Public(cp.State)
}

type submitRequest struct {
	Disclosures []campaign.Disclosure `json:"disclosures"`
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// campaignAction runs a state change on a campaign the caller may act on.
func (s *server) campaignAction(c echo.Context, body any, fn func(ctx context.Context, id uuid.UUID) (campaign.Campaign, error)) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ownCampaign(c, id); err != nil {
		return err
	}
	if body != nil {
		if err := decodeOptional(c, s.MaxBodyBytes, body); err != nil {
			return err
		}
	}
	cp, err := fn(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCampaign(cp))
}

func (s *server) submitCampaign(c echo.Context) error {
	var req submitRequest
	return s.campaignAction(c, &req, func(ctx context.Context, id uuid.UUID) (campaign.Campaign, error) {
		return s.Campaigns.Submit(ctx, id, req.Disclosures)
	})
}

func (s *server) approveCampaign(c echo.Context) error {
	return s.campaignAction(c, nil, s.Campaigns.Approve)
}

func (s *server) rejectCampaign(c echo.Context) error {
	var req reasonRequest
	return s.campaignAction(c, &req, func(ctx context.Context, id uuid.UUID) (campaign.Campaign, error) {
		return s.Campaigns.Reject(ctx, id, req.Reason)
	})
}

func (s *server) closeCampaign(c echo.Context) error {
	return s.campaignAction(c, nil, func(ctx context.Context, id uuid.UUID) (campaign.Campaign, error) {
		return s.Campaigns.Close(ctx, id, false)
	})
}

func (s *server) earlyCloseCampaign(c echo.Context) error {
	return s.campaignAction(c, nil, s.Campaigns.EarlyClose)
}

type amendRequest struct {
	Target         string     `json:"target"`
	Deadline       *time.Time `json:"deadline"`
	PricePerShare  string     `json:"price_per_share"`
	LeadInvestorID string     `json:"lead_investor_id"`
	Reason         string     `json:"reason"`
}

func (s *server) amendCampaign(c echo.Context) error {
	var req amendRequest
	return s.campaignAction(c, &req, func(ctx context.Context, id uuid.UUID) (campaign.Campaign, error) {
		cp, err := s.Campaigns.Get(ctx, id)
		if err != nil {
			return cp, err
		}
		cur := cp.Target.Currency().Code()
		a := campaign.Amendment{Deadline: req.Deadline, Reason: req.Reason}
		if req.Target != "" {
			t, err := optAmount(cur, "target", req.Target)
			if err != nil {
				return cp, err
			}
			a.Target = &t
		}
		if req.PricePerShare != "" {
			p, err := optAmount(cur, "price_per_share", req.PricePerShare)
			if err != nil {
				return cp, err
			}
			a.PricePerShare = &p
		}
		if req.LeadInvestorID != "" {
			l, err := bodyID("lead_investor_id", req.LeadInvestorID)
			if err != nil {
				return cp, err
			}
			a.LeadInvestorID = &l
		}
		return s.Campaigns.Amend(ctx, id, a)
	})
}

// listCampaigns lists campaigns: staff and regulators every one, an issuer
// the public ones and its own, anyone else the public ones (mayView's
// rule, as a filter).
func (s *server) listCampaigns(c echo.Context) error {
	q := newListQuery(c, "state", "kind", "currency", "issuer_id", "q", "deadline_from", "deadline_to")
	f := campaign.CampaignFilter{State: q.str("state"), Kind: q.str("kind"), Currency: q.str("currency"), IssuerID: q.id("issuer_id"),
		Title: q.str("q"), DeadlineFrom: q.instant("deadline_from"), DeadlineTo: q.instant("deadline_to")}
	if err := q.Err(); err != nil {
		return err
	}
	if p := principal(c); p.Role.Scoped() {
		viewer := subjectID(c)
		f.Viewer = &viewer
	}
	p, err := s.Campaigns.Campaigns(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toCampaign)
}

// listDisclosures returns a campaign's disclosures to whoever may see it.
func (s *server) listDisclosures(c echo.Context) error {
	cp, err := s.viewableCampaign(c)
	if err != nil {
		return err
	}
	ds, err := s.Campaigns.Disclosures(c.Request().Context(), cp.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageJSON[campaign.Disclosure]{Items: ds})
}
