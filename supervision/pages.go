package supervision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/page"
)

// FreezeFilter narrows a list of freeze orders; zero fields do not narrow.
type FreezeFilter struct {
	TargetID *uuid.UUID
	// Active keeps orders not lifted.
	Active bool
}

// Freezes lists freeze orders newest first.
func (s *Service) Freezes(ctx context.Context, f FreezeFilter, r page.Request) (page.Of[Freeze], error) {
	q := page.Select(`SELECT id, target_type, target_id, reason, legal_basis, created_by, created_at, lifted_at, lifted_by, lift_reason
		FROM freezes`, "created_at", "id")
	if f.TargetID != nil {
		q.Where("target_id = ?", *f.TargetID)
	}
	if f.Active {
		q.Where("lifted_at IS NULL")
	}
	p, err := page.Collect(ctx, s.db, q, r, func(row pgx.Row) (Freeze, error) {
		var f Freeze
		err := row.Scan(&f.ID, &f.TargetType, &f.TargetID, &f.Reason, &f.LegalBasis, &f.CreatedBy, &f.CreatedAt, &f.LiftedAt, &f.LiftedBy, &f.LiftReason)
		f.CreatedAt = f.CreatedAt.UTC()
		return f, err
	}, func(f Freeze) page.Key { return page.Key{At: f.CreatedAt, ID: f.ID} })
	if err != nil {
		return p, fmt.Errorf("list freezes: %w", err)
	}
	return p, nil
}

// ComplaintFilter narrows a list of complaints; zero fields do not narrow.
type ComplaintFilter struct {
	ComplainantID *uuid.UUID
	State         string
}

// complaintStates are every state a complaint can be in.
var complaintStates = []string{"received", "acknowledged", "mediating", "resolved", "escalated"}

// Complaints lists complaints newest first, each with its timeline.
func (s *Service) Complaints(ctx context.Context, f ComplaintFilter, r page.Request) (page.Of[Complaint], error) {
	if f.State != "" && !slices.Contains(complaintStates, f.State) {
		return page.Of[Complaint]{}, invalid("state", errors.New("state must be one of "+strings.Join(complaintStates, ", ")))
	}
	q := page.Select(`SELECT id, complainant_id, against_type, against_id, summary, state, ack_due, created_at FROM complaints`, "created_at", "id")
	if f.ComplainantID != nil {
		q.Where("complainant_id = ?", *f.ComplainantID)
	}
	if f.State != "" {
		q.Where("state = ?", f.State)
	}
	p, err := page.Collect(ctx, s.db, q, r, func(row pgx.Row) (Complaint, error) {
		var c Complaint
		err := row.Scan(&c.ID, &c.ComplainantID, &c.AgainstType, &c.AgainstID, &c.Summary, &c.State, &c.AckDue, &c.CreatedAt)
		c.CreatedAt, c.Timeline = c.CreatedAt.UTC(), []ComplaintEvent{}
		return c, err
	}, func(c Complaint) page.Key { return page.Key{At: c.CreatedAt, ID: c.ID} })
	if err != nil || len(p.Items) == 0 {
		return p, err
	}
	// The page's timelines in one query, not one per complaint.
	ids := make([]uuid.UUID, len(p.Items))
	at := map[uuid.UUID]int{}
	for i, c := range p.Items {
		ids[i], at[c.ID] = c.ID, i
	}
	rows, err := s.db.Query(ctx, `SELECT complaint_id, from_state, to_state, note, actor, at FROM complaint_events
		WHERE complaint_id = ANY($1) ORDER BY complaint_id, seq`, ids)
	if err != nil {
		return p, fmt.Errorf("complaint timelines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var e ComplaintEvent
		if err := rows.Scan(&id, &e.From, &e.To, &e.Note, &e.Actor, &e.At); err != nil {
			return p, err
		}
		p.Items[at[id]].Timeline = append(p.Items[at[id]].Timeline, e)
	}
	return p, rows.Err()
}

// SpotChecks lists spot checks newest first; publicOnly keeps published ones.
func (s *Service) SpotChecks(ctx context.Context, publicOnly bool, r page.Request) (page.Of[SpotCheck], error) {
	q := page.Select(`SELECT `+spotCheckColumns+` FROM spot_checks`, "committed_at", "id")
	if publicOnly {
		q.Where("published")
	}
	p, err := page.Collect(ctx, s.db, q, r, scanSpotCheck, func(sc SpotCheck) page.Key { return page.Key{At: sc.CommittedAt, ID: sc.ID} })
	if err != nil {
		return p, fmt.Errorf("list spot checks: %w", err)
	}
	return p, nil
}
