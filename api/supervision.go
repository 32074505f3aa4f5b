package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/supervision"
)

type freezeRequest struct {
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	Reason     string `json:"reason"`
	LegalBasis string `json:"legal_basis"`
}

func (s *server) freeze(c echo.Context) error {
	var req freezeRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	target, err := bodyID("target_id", req.TargetID)
	if err != nil {
		return err
	}
	f, err := s.Supervision.FreezeOrder(c.Request().Context(), req.TargetType, target, req.Reason, req.LegalBasis)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, f)
}

func (s *server) liftFreeze(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req reasonRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	f, err := s.Supervision.Lift(c.Request().Context(), id, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *server) listFreezes(c echo.Context) error {
	fs, err := s.Supervision.Freezes(c.Request().Context())
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []supervision.Freeze{}
	}
	return c.JSON(http.StatusOK, map[string]any{"freezes": fs})
}

type spotCheckRequest struct {
	Seed       int64              `json:"seed"`
	K          int                `json:"k"`
	Filter     supervision.Filter `json:"filter"`
	Inspectors []string           `json:"inspectors"`
}

func (s *server) drawSpotCheck(c echo.Context) error {
	var req spotCheckRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	sc, err := s.Supervision.Draw(c.Request().Context(), req.Seed, req.K, req.Filter, req.Inspectors)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sc)
}

type publishRequest struct {
	Results string `json:"results"`
}

func (s *server) publishSpotCheck(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req publishRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	sc, err := s.Supervision.Publish(c.Request().Context(), id, req.Results)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sc)
}

// publicSpotCheck shows a published spot check to anyone (一公开).
func (s *server) publicSpotCheck(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	sc, err := s.Supervision.SpotCheck(c.Request().Context(), id, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, publicSpotCheckJSON{ID: sc.ID.String(), Seed: sc.Seed, Filter: sc.Filter, Campaigns: sc.Campaigns,
		PoolSize: sc.PoolSize, DrawnAt: sc.DrawnAt, Results: sc.Results})
}

// publicSpotCheckJSON is what 一公开 publishes of a draw: which campaigns
// were drawn from how many, how (seed and filter, so anyone can redraw),
// when, and the result. Not the inspectors' names nor the regulator's key.
type publicSpotCheckJSON struct {
	ID        string             `json:"id"`
	Seed      int64              `json:"seed"`
	Filter    supervision.Filter `json:"filter"`
	Campaigns []uuid.UUID        `json:"campaigns"`
	PoolSize  int                `json:"pool_size"`
	DrawnAt   time.Time          `json:"drawn_at"`
	Results   *string            `json:"results,omitempty"`
}

type complaintRequest struct {
	ComplainantID string `json:"complainant_id"`
	AgainstType   string `json:"against_type"`
	AgainstID     string `json:"against_id"`
	Summary       string `json:"summary"`
}

func (s *server) fileComplaint(c echo.Context) error {
	var req complaintRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	who, err := bodyID("complainant_id", req.ComplainantID)
	if err != nil {
		return err
	}
	if principal(c).Role == auth.Investor {
		who = subjectID(c)
	}
	if who == uuid.Nil {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "complainant_id", "complainant_id is required")
	}
	against, err := bodyID("against_id", req.AgainstID)
	if err != nil {
		return err
	}
	var ap *uuid.UUID
	if against != uuid.Nil {
		ap = &against
	}
	cp, err := s.Supervision.File(c.Request().Context(), who, req.AgainstType, ap, req.Summary)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cp)
}

type moveRequest struct {
	To   string `json:"to"`
	Note string `json:"note"`
}

func (s *server) moveComplaint(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req moveRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	cp, err := s.Supervision.Move(c.Request().Context(), id, req.To, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

// listComplaints: regulators and staff see all; investors their own.
func (s *server) listComplaints(c echo.Context) error {
	var who *uuid.UUID
	if principal(c).Role == auth.Investor {
		id := subjectID(c)
		who = &id
	}
	cs, err := s.Supervision.Complaints(c.Request().Context(), who)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"complaints": cs})
}

func (s *server) listAlerts(c echo.Context) error {
	set := supervision.DefaultAlertSettings
	if raw := c.QueryParam("cancel_cycles"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return problem(http.StatusBadRequest, "invalid_parameter", "cancel_cycles", "cancel_cycles must be a positive integer")
		}
		set.CancelCycles = n
	}
	as, err := s.Supervision.Alerts(c.Request().Context(), set)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"alerts": as})
}
