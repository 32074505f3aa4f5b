package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/registry"
)

type documentJSON struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

type createPartyRequest struct {
	Role         string       `json:"role"`
	Entity       string       `json:"entity"`
	Jurisdiction string       `json:"jurisdiction"`
	Name         string       `json:"name"`
	Document     documentJSON `json:"document"`
}

type verificationJSON struct {
	Status string     `json:"status"`
	By     *string    `json:"by,omitempty"`
	At     *time.Time `json:"at,omitempty"`
	Method *string    `json:"method,omitempty"`
	Reason *string    `json:"reason,omitempty"`
}

type partyJSON struct {
	ID             string           `json:"id"`
	Role           string           `json:"role"`
	Entity         string           `json:"entity"`
	Jurisdiction   string           `json:"jurisdiction"`
	Name           string           `json:"name"`
	DocumentType   string           `json:"document_type"`
	DocumentNumber string           `json:"document_number"`
	Masked         bool             `json:"masked"`
	Verification   verificationJSON `json:"verification"`
	CreatedAt      time.Time        `json:"created_at"`
}

func toParty(p registry.Party) partyJSON {
	out := partyJSON{ID: p.ID.String(), Role: p.Role, Entity: string(p.Entity), Jurisdiction: p.Jurisdiction, Name: p.NameMasked,
		DocumentType: string(p.DocType), DocumentNumber: p.DocMasked, Masked: true, CreatedAt: p.CreatedAt.UTC(),
		Verification: verificationJSON{Status: p.Status, By: p.StatusBy, At: p.StatusAt, Method: p.StatusMethod, Reason: p.StatusReason}}
	if p.DocNumber != "" {
		out.Name, out.DocumentNumber, out.Masked = p.Name, p.DocNumber, false
	}
	return out
}

// ownParty checks that a scoped principal (investor, issuer) asks about
// itself. Someone else's party is a 404: whether it exists is not theirs to know.
func ownParty(c echo.Context, id uuid.UUID) error {
	p := principal(c)
	if p.Role.Scoped() && p.Subject != id.String() {
		return problem(http.StatusNotFound, "party_not_found", "id", "no such party")
	}
	return nil
}

func (s *server) createParty(c echo.Context) error {
	var req createPartyRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	p, err := s.Registry.CreateParty(c.Request().Context(), registry.NewParty{Role: req.Role, Entity: compliance.Entity(req.Entity),
		Jurisdiction: req.Jurisdiction, Name: req.Name, DocType: compliance.DocumentType(req.Document.Type), DocNumber: req.Document.Number})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toParty(p))
}

func (s *server) getParty(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := ownParty(c, id); err != nil {
		return err
	}
	p, err := s.Registry.Party(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toParty(p))
}

// revealParty shows the full identity to compliance and regulators, and
// records who looked and why.
func (s *server) revealParty(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := s.Registry.Reveal(c.Request().Context(), id, c.QueryParam("reason"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, toParty(p))
}

type verificationRequest struct {
	Status string `json:"status"`
	Method string `json:"method"`
	Reason string `json:"reason"`
}

func (s *server) verifyParty(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req verificationRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	p, err := s.Registry.SetVerification(c.Request().Context(), id, req.Status, req.Method, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toParty(p))
}

type relatedRequest struct {
	RelatedPartyID string `json:"related_party_id"`
	Relation       string `json:"relation"`
}

func (s *server) declareRelated(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := ownParty(c, id); err != nil {
		return err
	}
	var req relatedRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	rel, err := bodyID("related_party_id", req.RelatedPartyID)
	if err != nil {
		return err
	}
	if rel == uuid.Nil {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "related_party_id", "related_party_id is required")
	}
	if err := s.Registry.DeclareRelated(c.Request().Context(), id, rel, req.Relation); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"issuer_id": id.String(), "related_party_id": rel.String(), "relation": req.Relation})
}

// profileJSON is a declared profile; amounts are decimal strings in the pack's currency.
type profileJSON struct {
	Entity              string     `json:"entity"`
	AnnualIncome        string     `json:"annual_income"`
	NetWorth            string     `json:"net_worth"`
	FinancialAssets     string     `json:"financial_assets"`
	NetAssets           string     `json:"net_assets"`
	OwnFunds            string     `json:"own_funds"`
	Turnover            string     `json:"turnover"`
	BalanceSheet        string     `json:"balance_sheet"`
	Portfolio           string     `json:"portfolio"`
	FinanceRoleYears    int        `json:"finance_role_years"`
	TradesPerQuarter    []int      `json:"trades_per_quarter"`
	Accredited          bool       `json:"accredited"`
	SingleProjectTicket string     `json:"single_project_ticket"`
	KnowledgeTestAt     *time.Time `json:"knowledge_test_at"`
	LossSimulationAt    *time.Time `json:"loss_simulation_at"`
	RiskAnswers         []int      `json:"risk_answers"`
	InvestmentYears     int        `json:"investment_years"`
	Exits               int        `json:"exits"`
}

type qualifyRequest struct {
	Pack    string      `json:"pack"`
	Profile profileJSON `json:"profile"`
}

func (p profileJSON) toProfile(cur money.Currency) (compliance.Profile, error) {
	out := compliance.Profile{Entity: compliance.Entity(p.Entity), FinanceRoleYears: p.FinanceRoleYears, TradesPerQuarter: p.TradesPerQuarter,
		Accredited: p.Accredited, KnowledgeTestAt: p.KnowledgeTestAt, LossSimulationAt: p.LossSimulationAt, RiskAnswers: p.RiskAnswers,
		InvestmentYears: p.InvestmentYears, Exits: p.Exits}
	for _, f := range []struct {
		name string
		raw  string
		dst  *decimal.Decimal
	}{
		{"annual_income", p.AnnualIncome, &out.AnnualIncome}, {"net_worth", p.NetWorth, &out.NetWorth},
		{"financial_assets", p.FinancialAssets, &out.FinancialAssets}, {"net_assets", p.NetAssets, &out.NetAssets},
		{"own_funds", p.OwnFunds, &out.OwnFunds}, {"turnover", p.Turnover, &out.Turnover}, {"balance_sheet", p.BalanceSheet, &out.BalanceSheet},
		{"portfolio", p.Portfolio, &out.Portfolio}, {"single_project_ticket", p.SingleProjectTicket, &out.SingleProjectTicket},
	} {
		if f.raw == "" {
			continue
		}
		a, err := money.ParseIn(cur, f.raw)
		if err != nil || a.Sign() < 0 {
			if err == nil {
				err = money.ErrAmountNotPos
			}
			return out, &registry.FieldError{Field: "profile." + f.name, Err: err, Kind: registry.ErrInvalid}
		}
		*f.dst = a.Decimal()
	}
	if out.Entity != compliance.Individual && out.Entity != compliance.Institution {
		return out, problem(http.StatusUnprocessableEntity, "validation_failed", "profile.entity", "entity must be individual or institution")
	}
	if p.InvestmentYears < 0 || p.InvestmentYears > 80 || p.Exits < 0 || p.Exits > 10000 || p.FinanceRoleYears < 0 || p.FinanceRoleYears > 80 || len(p.TradesPerQuarter) > 8 || len(p.RiskAnswers) > 50 {
		return out, problem(http.StatusUnprocessableEntity, "validation_failed", "profile", "profile figures out of range")
	}
	return out, nil
}

type qualificationJSON struct {
	ID              string              `json:"id"`
	PartyID         string              `json:"party_id"`
	Pack            string              `json:"pack"`
	PackVersion     string              `json:"pack_version"`
	DecidedAt       time.Time           `json:"decided_at"`
	ExpiresAt       time.Time           `json:"expires_at"`
	Qualified       bool                `json:"qualified"`
	Category        string              `json:"category"`
	RiskTolerance   string              `json:"risk_tolerance"`
	Currency        string              `json:"currency"`
	WindowLimit     *money.Amount       `json:"window_limit,omitempty"`
	RemainingWindow *money.Amount       `json:"remaining_window,omitempty"`
	MinTicket       *money.Amount       `json:"min_ticket,omitempty"`
	WarnAbove       *money.Amount       `json:"warn_above,omitempty"`
	LeadEligible    bool                `json:"lead_eligible"`
	Reasons         []compliance.Reason `json:"reasons"`
	// Status is "declared" until a compliance officer, another person than
	// the submitter and the investor, approves it with evidence: only an
	// approved decision counts for commitments.
	Status string `json:"status"`
}

func (s *server) qualify(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := ownParty(c, id); err != nil {
		return err
	}
	var req qualifyRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	pack, err := compliance.Pack(req.Pack, time.Now())
	if err != nil {
		return problem(http.StatusUnprocessableEntity, "unknown_pack", "pack", "pack must be one of CN-2014, CN-2015, US-REGCF, EU-ECSP")
	}
	prof, err := req.Profile.toProfile(pack.Currency)
	if err != nil {
		return err
	}
	q, err := s.Registry.Qualify(c.Request().Context(), id, req.Pack, prof)
	if err != nil {
		return err
	}
	// What is left of the limit, as the commitment rules count it.
	var remaining *money.Amount
	if q.WindowLimit != nil {
		used, err := s.Campaigns.InvestedInWindow(c.Request().Context(), id, pack)
		if err != nil {
			return err
		}
		left, _ := q.WindowLimit.Sub(used)
		if left.Sign() < 0 {
			left = money.Zero(pack.Currency)
		}
		remaining = &left
	}
	return c.JSON(http.StatusCreated, qualificationJSON{ID: q.ID.String(), PartyID: id.String(), Pack: q.Pack, PackVersion: q.PackVersion,
		DecidedAt: q.DecidedAt, ExpiresAt: q.ExpiresAt, Qualified: q.Qualified, Category: q.Category, RiskTolerance: riskLabel(q.RiskTolerance),
		Currency: pack.Currency.Code(), WindowLimit: q.WindowLimit, RemainingWindow: remaining, MinTicket: q.MinTicket, WarnAbove: q.WarnAbove, LeadEligible: q.LeadEligible,
		Reasons: q.Reasons, Status: "declared"})
}

func riskLabel(n int) string { return "C" + string(rune('0'+n)) }

type qualificationSummaryJSON struct {
	ID            string              `json:"id"`
	Pack          string              `json:"pack"`
	PackVersion   string              `json:"pack_version"`
	DecidedAt     time.Time           `json:"decided_at"`
	ExpiresAt     time.Time           `json:"expires_at"`
	Qualified     bool                `json:"qualified"`
	Category      string              `json:"category"`
	RiskTolerance string              `json:"risk_tolerance"`
	DecidedBy     string              `json:"decided_by"`
	Status        string              `json:"status"` // declared or approved
	ApprovedBy    *string             `json:"approved_by,omitempty"`
	ApprovedAt    *time.Time          `json:"approved_at,omitempty"`
	Evidence      []registry.Evidence `json:"evidence,omitempty"`
}

func toQualificationSummary(q registry.QualificationSummary) qualificationSummaryJSON {
	out := qualificationSummaryJSON{ID: q.ID.String(), Pack: q.Pack, PackVersion: q.PackVersion, DecidedAt: q.DecidedAt, ExpiresAt: q.ExpiresAt,
		Qualified: q.Qualified, Category: q.Category, RiskTolerance: riskLabel(q.RiskTolerance), DecidedBy: q.DecidedBy, Status: "declared",
		ApprovedBy: q.ApprovedBy, ApprovedAt: q.ApprovedAt, Evidence: q.Evidence}
	if q.ApprovedBy != nil {
		out.Status = "approved"
	}
	return out
}

type approveQualificationRequest struct {
	Evidence []registry.Evidence `json:"evidence"`
}

// approveQualification is a compliance officer's sign-off, with evidence.
func (s *server) approveQualification(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req approveQualificationRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	q, err := s.Registry.ApproveQualification(c.Request().Context(), id, req.Evidence)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toQualificationSummary(q))
}

func (s *server) listQualifications(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := ownParty(c, id); err != nil {
		return err
	}
	if _, err := s.Registry.Party(c.Request().Context(), id); err != nil {
		return err
	}
	qs, err := s.Registry.Qualifications(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := struct {
		Qualifications []qualificationSummaryJSON `json:"qualifications"`
	}{Qualifications: []qualificationSummaryJSON{}}
	for _, q := range qs {
		out.Qualifications = append(out.Qualifications, toQualificationSummary(q))
	}
	return c.JSON(http.StatusOK, out)
}

// listParties lists parties, masked, for staff and regulators.
func (s *server) listParties(c echo.Context) error {
	q := newListQuery(c, "role", "status", "list")
	f := registry.PartyFilter{Role: q.str("role"), Status: q.str("status"), List: q.str("list")}
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Registry.Parties(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toParty)
}
