package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// ReconfirmDays is how long investors have to reconfirm after a material
// change: 5 business days (17 CFR 227.304(c)); silence cancels.
const ReconfirmDays = 5

// Amendment is a material change to a live campaign.
type Amendment struct {
	Target         *money.Amount
	Deadline       *time.Time
	PricePerShare  *money.Amount
	LeadInvestorID *uuid.UUID
	Reason         string
}

// ErrNoChange is returned for an amendment that changes nothing.
var ErrNoChange = errors.New("the amendment changes nothing")

// Amend applies a material change (target, price, deadline, lead) to a live
// campaign. Every live commitment must then be reconfirmed by its investor
// within 5 business days, or it is cancelled and refunded.
func (s *Service) Amend(ctx context.Context, id uuid.UUID, a Amendment) (Campaign, error) {
	if a.Reason == "" {
		return Campaign{}, invalid("reason", errors.New("say what changed and why"))
	}
	return s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
		if c.State != Live {
			return fmt.Errorf("%w: only a live campaign is amended", ErrIllegalTransition)
		}
		facts := map[string]any{"reason": a.Reason}
		changed := false
		if a.Target != nil {
			if a.Target.Currency() != c.Target.Currency() || a.Target.Sign() <= 0 || a.Target.Cmp(c.HardCap) > 0 {
				return invalid("target", errors.New("must be positive, in the campaign's currency, at most the hard cap"))
			}
			facts["target"] = map[string]string{"before": c.Target.String(), "after": a.Target.String()}
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET target = $2 WHERE id = $1`, c.ID, a.Target.Decimal()); err != nil {
				return err
			}
			changed = true
		}
		if a.Deadline != nil {
			if !a.Deadline.After(s.Now()) {
				return invalid("deadline", errors.New("must be in the future"))
			}
			facts["deadline"] = map[string]any{"before": c.Deadline, "after": *a.Deadline}
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET deadline = $2 WHERE id = $1`, c.ID, *a.Deadline); err != nil {
				return err
			}
			changed = true
		}
		if a.PricePerShare != nil {
			if c.Kind != "equity" || a.PricePerShare.Currency() != c.Target.Currency() || a.PricePerShare.Sign() <= 0 {
				return invalid("price_per_share", errors.New("must be a positive price of an equity campaign"))
			}
			facts["price_per_share"] = map[string]string{"before": c.PricePerShare.String(), "after": a.PricePerShare.String()}
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET price_per_share = $2 WHERE id = $1`, c.ID, a.PricePerShare.Decimal()); err != nil {
				return err
			}
			changed = true
		}
		if a.LeadInvestorID != nil {
			if c.Kind != "equity" {
				return invalid("lead_investor_id", errors.New("only equity campaigns have a lead"))
			}
			facts["lead_investor_id"] = map[string]any{"before": c.LeadInvestorID, "after": *a.LeadInvestorID}
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET lead_investor_id = $2 WHERE id = $1`, c.ID, *a.LeadInvestorID); err != nil {
				return err
			}
			changed = true
		}
		if !changed {
			return ErrNoChange
		}
		n, err := s.requireReconfirmation(ctx, tx, c.ID, nil, "material change: "+a.Reason)
		if err != nil {
			return err
		}
		facts["commitments_to_reconfirm"] = n
		return s.record(ctx, tx, c.ID, "campaign.material_change", "", "", facts)
	})
}

// requireReconfirmation marks live commitments (all, or one role's) as
// needing reconfirmation within 5 business days.
func (s *Service) requireReconfirmation(ctx context.Context, tx pgx.Tx, campaign uuid.UUID, role *string, reason string) (int, error) {
	cal, err := s.calendar(ctx, tx, campaign)
	if err != nil {
		return 0, err
	}
	by := cal.AddBusinessDays(s.Now(), ReconfirmDays)
	rows, err := tx.Query(ctx, `UPDATE commitments SET reconfirm_by = $2, reconfirm_reason = $3
		WHERE campaign_id = $1 AND state = 'live' AND ($4::text IS NULL OR role = $4) RETURNING id, investor_id`, campaign, by, reason, role)
	if err != nil {
		return 0, err
	}
	type asked struct{ id, investor uuid.UUID }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (asked, error) {
		var a asked
		return a, r.Scan(&a.id, &a.investor)
	})
	if err != nil {
		return 0, err
	}
	// One event per commitment, naming its investor: each is told (the
	// event feed and webhooks) that it must reconfirm, and by when.
	events := make([]audit.Event, 0, len(list))
	for _, a := range list {
		ev, err := audit.New(ctx, "campaign.commitment.reconfirmation_required", []string{campaign.String(), a.id.String()},
			map[string]any{"commitment_id": a.id, "investor_id": a.investor, "reconfirm_by": by, "reason": reason})
		if err != nil {
			return 0, err
		}
		events = append(events, ev)
	}
	if err := audit.Append(ctx, tx, events...); err != nil {
		return 0, err
	}
	return len(list), nil
}

// Reconfirm is the investor keeping a commitment after a material change.
func (s *Service) Reconfirm(ctx context.Context, commitmentID, investorID uuid.UUID) (Commitment, error) {
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var campaign uuid.UUID
		var by *time.Time
		err := tx.QueryRow(ctx, `SELECT campaign_id, reconfirm_by FROM commitments WHERE id = $1 AND investor_id = $2 AND state = 'live' FOR UPDATE`,
			commitmentID, investorID).Scan(&campaign, &by)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrCommitmentNotFound
		}
		if err != nil {
			return err
		}
		if by == nil {
			return nil // nothing to reconfirm
		}
		if !s.Now().Before(*by) {
			return fmt.Errorf("%w: the reconfirmation window closed at %s", ErrIllegalTransition, by.Format(time.RFC3339))
		}
		if _, err := tx.Exec(ctx, `UPDATE commitments SET reconfirm_by = NULL, reconfirm_reason = NULL WHERE id = $1`, commitmentID); err != nil {
			return err
		}
		return s.record(ctx, tx, campaign, "campaign.commitment.reconfirmed", "", "", map[string]any{"commitment_id": commitmentID})
	})
	if err != nil {
		return Commitment{}, err
	}
	return s.Commitment(ctx, commitmentID, uuid.Nil)
}

// supervise is the scheduler's care for live campaigns: cancel commitments
// not reconfirmed in time, send followers to reconfirmation when their lead
// is blacklisted, and fail (refunding everyone) a campaign whose issuer is
// blacklisted: a blacklisted issuer cannot keep a campaign live.
func (s *Service) supervise(ctx context.Context) error {
	now := s.Now()
	rows, err := s.db.Query(ctx, `SELECT DISTINCT campaign_id FROM commitments WHERE state = 'live' AND reconfirm_by <= $1`, now)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
			cms, err := s.liveCommitments(ctx, tx, c.ID)
			if err != nil {
				return err
			}
			for _, cm := range cms {
				if cm.ReconfirmBy != nil && !now.Before(*cm.ReconfirmBy) {
					if err := s.release(ctx, tx, c, cm, "cancelled", "not reconfirmed within 5 business days after a material change"); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	rows, err = s.db.Query(ctx, `SELECT id, issuer_id, lead_investor_id FROM campaigns WHERE state = 'live'`)
	if err != nil {
		return err
	}
	type live struct {
		id, issuer uuid.UUID
		lead       *uuid.UUID
	}
	var lives []live
	for rows.Next() {
		var l live
		if err := rows.Scan(&l.id, &l.issuer, &l.lead); err != nil {
			rows.Close()
			return err
		}
		lives = append(lives, l)
	}
	rows.Close()
	for _, l := range lives {
		black, err := s.reg.Blacklisted(ctx, s.db, l.issuer, now)
		if err != nil {
			return err
		}
		if black {
			if _, err := s.change(ctx, l.id, func(tx pgx.Tx, c *Campaign) error {
				if c.State != Live {
					return nil
				}
				return s.refund(ctx, tx, c)
			}); err != nil {
				return err
			}
			continue
		}
		if l.lead == nil {
			continue
		}
		if black, err = s.reg.Blacklisted(ctx, s.db, *l.lead, now); err != nil || !black {
			if err != nil {
				return err
			}
			continue
		}
		follower := "follower"
		if _, err := s.change(ctx, l.id, func(tx pgx.Tx, c *Campaign) error {
			var pending bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM commitments WHERE campaign_id = $1 AND state = 'live' AND role = 'follower' AND reconfirm_by IS NULL)`,
				c.ID).Scan(&pending); err != nil || !pending {
				return err
			}
			n, err := s.requireReconfirmation(ctx, tx, c.ID, &follower, "the lead investor was blacklisted")
			if err != nil {
				return err
			}
			return s.record(ctx, tx, c.ID, "campaign.lead_blacklisted", "", "", map[string]any{"followers_to_reconfirm": n})
		}); err != nil {
			return err
		}
	}
	return nil
}

// EarlyClose brings the deadline forward once the target is met, as Reg CF
// allows: the campaign must have been open at least 21 days, and the new
// deadline is 5 business days after this notice (17 CFR 227.304(b)). The
// scheduler closes it then. Investors keep their cooling-off rights.
func (s *Service) EarlyClose(ctx context.Context, id uuid.UUID) (Campaign, error) {
	return s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
		now := s.Now()
		switch {
		case c.State != Live:
			return fmt.Errorf("%w: only a live campaign closes early", ErrIllegalTransition)
		case c.Committed.Cmp(c.Target) < 0:
			return invalid("target", errors.New("the target is not met yet"))
		case now.Sub(c.StartsAt) < minOffering(c.Pack, now):
			return invalid("starts_at", fmt.Errorf("a campaign must be open at least %d days before closing early", int(minOffering(c.Pack, now).Hours()/24)))
		}
		pack, err := compliance.Pack(c.Pack, now)
		if err != nil {
			return err
		}
		deadline := pack.Calendar.AddBusinessDays(now, 5)
		if !deadline.Before(c.Deadline) {
			return invalid("deadline", errors.New("the deadline is already within 5 business days"))
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET deadline = $2 WHERE id = $1`, c.ID, deadline); err != nil {
			return err
		}
		return s.record(ctx, tx, c.ID, "campaign.early_close", "", "", map[string]any{"old_deadline": c.Deadline, "new_deadline": deadline})
	})
}

// calendar is the business-day calendar of a campaign's rule pack, in
// force now: deadlines given in business days count in it.
func (s *Service) calendar(ctx context.Context, tx pgx.Tx, campaign uuid.UUID) (compliance.Calendar, error) {
	var id string
	if err := tx.QueryRow(ctx, `SELECT pack FROM campaigns WHERE id = $1`, campaign).Scan(&id); err != nil {
		return compliance.Calendar{}, fmt.Errorf("campaign %s's pack: %w", campaign, err)
	}
	pack, err := compliance.Pack(id, s.Now())
	if err != nil {
		return compliance.Calendar{}, err
	}
	return pack.Calendar, nil
}

// PlatformMinOffering is how long any campaign stays open before it may
// close early where its pack sets no minimum (a platform setting [R]).
const PlatformMinOffering = 21 * 24 * time.Hour

// minOffering is the pack's minimum offering period, or the platform's.
func minOffering(packID string, at time.Time) time.Duration {
	if p, err := compliance.Pack(packID, at); err == nil && p.MinOffering > 0 {
		return p.MinOffering
	}
	return PlatformMinOffering
}
