package api

import (
	"encoding/hex"
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
	q := newListQuery(c, "target_id", "active")
	f := supervision.FreezeFilter{TargetID: q.id("target_id"), Active: q.flag("active")}
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Supervision.Freezes(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, same)
}

// listSpotChecks lists spot checks for regulators; the public list
// (/v1/public/spot-checks) shows only published ones, as anyone sees them.
func (s *server) listSpotChecks(c echo.Context) error {
	q := newListQuery(c)
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Supervision.SpotChecks(c.Request().Context(), false, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, spotCheckView)
}

func (s *server) listPublicSpotChecks(c echo.Context) error {
	q := newListQuery(c)
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Supervision.SpotChecks(c.Request().Context(), true, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, publicView)
}

type spotCheckRequest struct {
	K          int                `json:"k"`
	Filter     supervision.Filter `json:"filter"`
	Inspectors []string           `json:"inspectors"`
}

// commitSpotCheck starts a spot check: the service draws the seed and
// answers with its commitment only.
func (s *server) commitSpotCheck(c echo.Context) error {
	var req spotCheckRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	sc, err := s.Supervision.Commit(c.Request().Context(), req.K, req.Filter, req.Inspectors)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, spotCheckView(sc))
}

func (s *server) drawSpotCheck(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	sc, err := s.Supervision.Draw(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, spotCheckView(sc))
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
	return c.JSON(http.StatusOK, spotCheckView(sc))
}

// spotCheckJSON is a spot check as the regulators see it. The seed and
// salt appear only once drawn: before, the commitment is all there is.
type spotCheckJSON struct {
	publicSpotCheckJSON
	K           int      `json:"k"`
	Candidates  []string `json:"candidate_inspectors"`
	Inspectors  []string `json:"inspectors,omitempty"`
	CommittedBy string   `json:"committed_by"`
	DrawnBy     *string  `json:"drawn_by,omitempty"`
	Published   bool     `json:"published"`
}

func spotCheckView(sc supervision.SpotCheck) spotCheckJSON {
	return spotCheckJSON{publicSpotCheckJSON: publicView(sc), K: sc.K, Candidates: sc.Candidates, Inspectors: sc.Inspectors,
		CommittedBy: sc.CommittedBy, DrawnBy: sc.DrawnBy, Published: sc.Published}
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
	return c.JSON(http.StatusOK, publicView(sc))
}

// publicSpotCheckJSON is what 一公开 publishes of a draw: the commitment
// made before it, the seed and salt that open it, the filter and the pool
// it matched (so anyone can redraw), the campaigns drawn, when, and the
// result. Not the inspectors' names nor who drew it.
type publicSpotCheckJSON struct {
	ID          string             `json:"id"`
	State       string             `json:"state"`
	Commitment  string             `json:"seed_commitment,omitempty"`
	Seed        *string            `json:"seed,omitempty"`
	Salt        *string            `json:"salt,omitempty"`
	Filter      supervision.Filter `json:"filter"`
	CommittedAt time.Time          `json:"committed_at"`
	Pool        []uuid.UUID        `json:"pool,omitempty"`
	PoolSize    int                `json:"pool_size"`
	Campaigns   []uuid.UUID        `json:"campaigns"`
	DrawnAt     *time.Time         `json:"drawn_at,omitempty"`
	Results     *string            `json:"results,omitempty"`
}

func publicView(sc supervision.SpotCheck) publicSpotCheckJSON {
	out := publicSpotCheckJSON{ID: sc.ID.String(), State: sc.State, Commitment: sc.Commitment, Filter: sc.Filter, CommittedAt: sc.CommittedAt.UTC(),
		Pool: sc.Pool, PoolSize: len(sc.Pool), Campaigns: sc.Campaigns, DrawnAt: sc.DrawnAt, Results: sc.Results}
	if out.Campaigns == nil {
		out.Campaigns = []uuid.UUID{}
	}
	if sc.State == supervision.Drawn { // revealed only after the draw
		out.Seed, out.Salt = new(strconv.FormatInt(sc.Seed, 10)), new(hex.EncodeToString(sc.Salt))
	}
	return out
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
	q := newListQuery(c, "complainant_id", "state")
	f := supervision.ComplaintFilter{ComplainantID: q.id("complainant_id"), State: q.str("state")}
	if err := q.Err(); err != nil {
		return err
	}
	if principal(c).Role == auth.Investor {
		me := subjectID(c)
		f.ComplainantID = &me
	}
	p, err := s.Supervision.Complaints(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, same)
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
	if as == nil {
		as = []supervision.Alert{}
	}
	return c.JSON(http.StatusOK, pageJSON[supervision.Alert]{Items: as})
}
