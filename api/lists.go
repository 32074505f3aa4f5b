package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/registry"
)

type listEntryRequest struct {
	List          string        `json:"list"`
	PartyID       string        `json:"party_id"`
	Document      *documentJSON `json:"document"`
	Reason        string        `json:"reason"`
	Authority     string        `json:"authority"`
	EffectiveFrom *time.Time    `json:"effective_from"`
	EffectiveTo   *time.Time    `json:"effective_to"`
}

type listEntryJSON struct {
	ID                     string     `json:"id"`
	List                   string     `json:"list"`
	PartyID                *string    `json:"party_id,omitempty"`
	DocumentType           *string    `json:"document_type,omitempty"`
	DocumentNumber         *string    `json:"document_number,omitempty"`
	Masked                 bool       `json:"masked"`
	Reason                 string     `json:"reason"`
	Authority              string     `json:"authority"`
	EffectiveFrom          time.Time  `json:"effective_from"`
	EffectiveTo            *time.Time `json:"effective_to,omitempty"`
	CreatedBy              string     `json:"created_by"`
	CreatedAt              time.Time  `json:"created_at"`
	EndedAt                *time.Time `json:"ended_at,omitempty"`
	EndedBy                *string    `json:"ended_by,omitempty"`
	EndReason              *string    `json:"end_reason,omitempty"`
	FlaggedOpenCommitments *int       `json:"flagged_open_commitments,omitempty"`
}

func toListEntry(e registry.ListEntry) listEntryJSON {
	out := listEntryJSON{ID: e.ID.String(), List: e.List, DocumentType: e.DocType, DocumentNumber: e.DocMasked, Masked: true, Reason: e.Reason,
		Authority: e.Authority, EffectiveFrom: e.EffectiveFrom.UTC(), EffectiveTo: e.EffectiveTo, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt.UTC(),
		EndedAt: e.EndedAt, EndedBy: e.EndedBy, EndReason: e.EndReason}
	if e.PartyID != nil {
		s := e.PartyID.String()
		out.PartyID = &s
	}
	if e.DocNumber != "" {
		n := e.DocNumber
		out.DocumentNumber, out.Masked = &n, false
	}
	return out
}

func (s *server) addListEntry(c echo.Context) error {
	var req listEntryRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	party, err := bodyID("party_id", req.PartyID)
	if err != nil {
		return err
	}
	in := registry.NewListEntry{List: req.List, PartyID: party, Reason: req.Reason, Authority: req.Authority, EffectiveTo: req.EffectiveTo}
	if req.EffectiveFrom != nil {
		in.EffectiveFrom = *req.EffectiveFrom
	}
	if req.Document != nil {
		in.DocType, in.DocNumber = compliance.DocumentType(req.Document.Type), req.Document.Number
	}
	e, err := s.Registry.AddListEntry(c.Request().Context(), in)
	if err != nil {
		return err
	}
	out := toListEntry(e)
	out.FlaggedOpenCommitments = &e.FlaggedOpen
	return c.JSON(http.StatusCreated, out)
}

type endListEntryRequest struct {
	Reason string `json:"reason"`
}

func (s *server) endListEntry(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req endListEntryRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	e, err := s.Registry.EndListEntry(c.Request().Context(), id, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListEntry(e))
}

// listListEntries: the platform sees the lists masked, regulators in full (recorded).
func (s *server) listListEntries(c echo.Context) error {
	q := newListQuery(c, "list", "party_id", "in_force")
	f := registry.ListFilter{List: q.str("list"), PartyID: q.id("party_id"), InForce: q.flag("in_force")}
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Registry.ListEntries(c.Request().Context(), f, q.page(), principal(c).Role == auth.Regulator)
	if err != nil {
		return err
	}
	return writePage(c, p, toListEntry)
}
