package supervision

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// AckWorkingDays is how long the platform has to acknowledge a complaint:
// 10 working days (Del. Reg. (EU) 2022/2117 art. 3, taken as the platform's rule).
const AckWorkingDays = 10

// complaintMoves are the legal transitions: received → acknowledged →
// mediating → resolved or escalated (arbitration, litigation).
var complaintMoves = map[string][]string{
	"received":     {"acknowledged"},
	"acknowledged": {"mediating", "resolved", "escalated"},
	"mediating":    {"resolved", "escalated"},
}

// Complaint is a complaint with its timeline.
type Complaint struct {
	ID            uuid.UUID        `json:"id"`
	ComplainantID uuid.UUID        `json:"complainant_id"`
	AgainstType   string           `json:"against_type"`
	AgainstID     *uuid.UUID       `json:"against_id,omitempty"`
	Summary       string           `json:"summary"`
	State         string           `json:"state"`
	AckDue        time.Time        `json:"acknowledge_by"`
	CreatedAt     time.Time        `json:"created_at"`
	Timeline      []ComplaintEvent `json:"timeline"`
}

// ComplaintEvent is one step of a complaint.
type ComplaintEvent struct {
	From  string    `json:"from_state"`
	To    string    `json:"to_state"`
	Note  string    `json:"note"`
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

// File records a complaint by an investor or backer against a campaign,
// an issuer or the platform.
func (s *Service) File(ctx context.Context, complainant uuid.UUID, againstType string, against *uuid.UUID, summary string) (Complaint, error) {
	if againstType != "campaign" && againstType != "issuer" && againstType != "platform" {
		return Complaint{}, invalid("against_type", errors.New("must be campaign, issuer or platform"))
	}
	if againstType != "platform" && against == nil {
		return Complaint{}, invalid("against_id", errors.New("name the campaign or issuer"))
	}
	if l := utf8.RuneCountInString(summary); l < 5 || l > 5000 {
		return Complaint{}, invalid("summary", errors.New("must be 5 to 5000 characters"))
	}
	c := Complaint{ID: uuid.New(), ComplainantID: complainant, AgainstType: againstType, AgainstID: against, Summary: summary, State: "received",
		Timeline: []ComplaintEvent{}, AckDue: compliance.China.AddBusinessDays(s.Now(), AckWorkingDays)} // the platform's own working days: it answers to Chinese regulators
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO complaints (id, complainant_id, against_type, against_id, summary, ack_due) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING created_at`, c.ID, complainant, againstType, against, summary, c.AckDue).Scan(&c.CreatedAt); err != nil {
			if pg.Code(err) == pg.ForeignKeyViolation {
				return invalid("complainant_id", ErrNotFound)
			}
			return err
		}
		return record(ctx, tx, "supervision.complaint.file", []string{c.ID.String(), complainant.String()}, map[string]any{"against_type": againstType, "against_id": against})
	})
	return c, err
}

// Move advances a complaint, with a note for the timeline.
func (s *Service) Move(ctx context.Context, id uuid.UUID, to, note string) (Complaint, error) {
	if note == "" {
		return Complaint{}, invalid("note", errors.New("say what happened"))
	}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var from string
		if err := tx.QueryRow(ctx, `SELECT state FROM complaints WHERE id = $1 FOR UPDATE`, id).Scan(&from); errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		ok := false
		for _, s := range complaintMoves[from] {
			ok = ok || s == to
		}
		if !ok {
			return fmt.Errorf("%w: %s → %s", ErrState, from, to)
		}
		if _, err := tx.Exec(ctx, `UPDATE complaints SET state = $2 WHERE id = $1`, id, to); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO complaint_events (complaint_id, seq, from_state, to_state, note, actor)
			SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5 FROM complaint_events WHERE complaint_id = $1`, id, from, to, note, actor(ctx)); err != nil {
			return err
		}
		return record(ctx, tx, "supervision.complaint.move", []string{id.String()}, map[string]any{"from_state": from, "to_state": to, "note": note})
	})
	if err != nil {
		return Complaint{}, err
	}
	return s.Complaint(ctx, id)
}

// Complaint reads one with its timeline.
func (s *Service) Complaint(ctx context.Context, id uuid.UUID) (Complaint, error) {
	var c Complaint
	err := s.db.QueryRow(ctx, `SELECT id, complainant_id, against_type, against_id, summary, state, ack_due, created_at FROM complaints WHERE id = $1`, id).
		Scan(&c.ID, &c.ComplainantID, &c.AgainstType, &c.AgainstID, &c.Summary, &c.State, &c.AckDue, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	rows, err := s.db.Query(ctx, `SELECT from_state, to_state, note, actor, at FROM complaint_events WHERE complaint_id = $1 ORDER BY seq`, id)
	if err != nil {
		return c, err
	}
	c.Timeline, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ComplaintEvent, error) {
		var e ComplaintEvent
		err := r.Scan(&e.From, &e.To, &e.Note, &e.Actor, &e.At)
		return e, err
	})
	if c.Timeline == nil {
		c.Timeline = []ComplaintEvent{}
	}
	return c, err
}
