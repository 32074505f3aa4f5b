package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The event feed is the audit trail read in chain order. Every change
// appends its audit events in its own transaction (the transactional
// outbox), and the chainer links them in commit order once their
// transactions have ended: so a client that reads the chain after position
// N never misses an event that committed before one it saw, and never sees
// one twice. Nothing more is written on the hot path.

// FeedEvent is one event as the feed shows it.
type FeedEvent struct {
	Pos        int64           `json:"-"`
	ID         string          `json:"id"` // evt_<position>: stable, the webhook-id of its deliveries
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Objects    []string        `json:"objects"`
	Data       json.RawMessage `json:"data"`

	action string
	facts  map[string]any
}

// EventID is the feed's id of the event at chain position pos.
func EventID(pos int64) string { return fmt.Sprintf("evt_%d", pos) }

// TypeOf names an audit action as the feed's event type: the noun of what
// changed, then what happened to it, so clients subscribe by type without
// knowing the trail's internal action names. Actions not listed keep their
// own name.
func TypeOf(action string, facts map[string]any) string {
	to, _ := facts["to_state"].(string)
	switch action {
	case "campaign.create":
		return "campaign.created"
	case "campaign.transition":
		return "campaign." + to
	case "campaign.commit":
		return "commitment.created"
	case "campaign.commitment.cancelled", "campaign.commitment.settled", "campaign.commitment.refunded",
		"campaign.commitment.reconfirmed", "campaign.commitment.reconfirmation_required":
		return strings.TrimPrefix(action, "campaign.")
	case "campaign.order":
		return "order." + to
	case "campaign.distribute":
		return "distribution.paid"
	case "campaign.disbursement.request":
		return "disbursement.requested"
	case "campaign.disbursement.pay":
		return "disbursement.paid"
	case "campaign.close.fail":
		return "campaign.close_failed"
	case "supervision.complaint.file":
		return "complaint.filed"
	case "supervision.complaint.move":
		return "complaint." + to
	case "supervision.freeze":
		return "freeze.placed"
	case "supervision.lift":
		return "freeze.lifted"
	case "registry.list.add":
		return "list_entry.added"
	case "registry.list.end":
		return "list_entry.ended"
	case "ledger.entry.post":
		return "entry.posted"
	case "supervision.alert":
		return "alert.raised"
	}
	return action
}

// investorCampaignActions are the campaign-wide events an investor sees for
// the campaigns it committed to.
var investorCampaignActions = []string{"campaign.transition", "campaign.material_change", "campaign.distribute", "campaign.milestone"}

// FeedScope limits the feed to what a party may see; the zero scope is
// everything (platform staff and regulators).
type FeedScope struct {
	// Party sees the events that name it (as an object, or as the
	// investor, backer or complainant of a commitment, order or complaint).
	Party *uuid.UUID
	// Campaigns are campaigns whose events the party also sees: every
	// event of an issuer's own campaigns (Issuer true), or the
	// campaign-wide events of those an investor committed to.
	Campaigns []uuid.UUID
	Issuer    bool
}

// staffOnly are actions no investor or issuer is told of, even when the
// event names them: supervision must not tip off its subject (a freeze, an
// alert, a blacklisting, a spot check), and reads of personal data and key
// administration are the platform's own.
var staffOnly = []string{"supervision.freeze", "supervision.lift", "supervision.alert", "supervision.spot_check.", "registry.list.", "registry.pii.", "auth."}

// Sees is the one rule for who sees an event, for the feed and for
// webhooks alike.
func (s FeedScope) Sees(e FeedEvent) bool {
	if s.Party == nil {
		return true
	}
	for _, p := range staffOnly {
		if strings.HasPrefix(e.action, p) {
			return false
		}
	}
	me := s.Party.String()
	for _, k := range []string{"investor_id", "backer_id", "complainant_id"} {
		if v, _ := e.facts[k].(string); v == me {
			return true
		}
	}
	if slices.Contains(e.Objects, me) {
		return true
	}
	if len(e.Objects) > 0 && slices.ContainsFunc(s.Campaigns, func(c uuid.UUID) bool { return c.String() == e.Objects[0] }) {
		return s.Issuer || slices.Contains(investorCampaignActions, e.action)
	}
	return false
}

// Window reads up to n events after chain position after, oldest first,
// whoever may see them, and the last position read (after, when none).
func (t *Trail) Window(ctx context.Context, after int64, n int) ([]FeedEvent, int64, error) {
	rows, err := t.db.Query(ctx, `SELECT c.pos, e.occurred_at, e.action, e.object_ids, e.facts::text
		FROM audit_chain c JOIN audit_events e ON e.seq = c.event_seq
		WHERE c.pos > $1 ORDER BY c.pos LIMIT $2`, after, n)
	if err != nil {
		return nil, after, fmt.Errorf("event feed: %w", err)
	}
	defer rows.Close()
	out := []FeedEvent{}
	last := after
	for rows.Next() {
		var ev FeedEvent
		var facts string
		if err := rows.Scan(&ev.Pos, &ev.OccurredAt, &ev.action, &ev.Objects, &facts); err != nil {
			return nil, after, err
		}
		if err := json.Unmarshal([]byte(facts), &ev.facts); err != nil {
			return nil, after, fmt.Errorf("event %d facts: %w", ev.Pos, err)
		}
		ev.ID, ev.Type, ev.OccurredAt, ev.Data = EventID(ev.Pos), TypeOf(ev.action, ev.facts), ev.OccurredAt.UTC(), json.RawMessage(facts)
		if ev.Objects == nil {
			ev.Objects = []string{}
		}
		out, last = append(out, ev), ev.Pos
	}
	return out, last, rows.Err()
}

// Feed returns up to limit events after chain position after, oldest first,
// that scope may see, and the position to continue from: after the last
// event returned when the page is full, else after the last one read (seen
// or not), so a scoped reader moves on past others' events. It reads at
// most a window of 2,000 events per call, whatever the scope.
func (t *Trail) Feed(ctx context.Context, after int64, limit int, scope FeedScope) ([]FeedEvent, int64, error) {
	window, last, err := t.Window(ctx, after, 2000)
	if err != nil {
		return nil, after, err
	}
	out := []FeedEvent{}
	for _, ev := range window {
		if !scope.Sees(ev) {
			continue
		}
		if out = append(out, ev); len(out) == limit {
			return out, ev.Pos, nil
		}
	}
	return out, last, nil
}

// TypeMatches reports whether an event type is among types ("order.*"
// takes the family); no types at all takes every event.
func TypeMatches(types []string, t string) bool {
	if len(types) == 0 {
		return true
	}
	for _, want := range types {
		if want == t || strings.HasSuffix(want, ".*") && strings.HasPrefix(t, strings.TrimSuffix(want, "*")) {
			return true
		}
	}
	return false
}

// TimelineEvent is one event of an object's timeline: the feed's view, with
// the event's sequence number (its cursor) and who acted. Pos is 0 until
// the chainer has linked the event.
type TimelineEvent struct {
	FeedEvent
	Seq       int64  `json:"seq"`
	ActorRole string `json:"actor_role"`
}

// About reads the events whose first object is subject (a campaign names
// itself first in each of its events), newest first, before sequence
// number before (0: from the newest), up to limit, and the cursor for the
// next page (0 when there is none).
func (t *Trail) About(ctx context.Context, subject string, before int64, limit int) ([]TimelineEvent, int64, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	// The position is a scalar probe of the chain's unique index per row
	// returned, not a join, so the plan stays one range of the subject
	// index whatever the sizes of the two tables.
	rows, err := t.db.Query(ctx, `SELECT e.seq, coalesce((SELECT c.pos FROM audit_chain c WHERE c.event_seq = e.seq), 0), e.occurred_at, e.action,
			e.object_ids, e.actor_role, e.facts::text
		FROM audit_events e WHERE e.object_ids[1] = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3`, subject, before, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("timeline: %w", err)
	}
	defer rows.Close()
	out := []TimelineEvent{}
	for rows.Next() {
		var ev TimelineEvent
		var facts string
		if err := rows.Scan(&ev.Seq, &ev.Pos, &ev.OccurredAt, &ev.action, &ev.Objects, &ev.ActorRole, &facts); err != nil {
			return nil, 0, err
		}
		if err := json.Unmarshal([]byte(facts), &ev.facts); err != nil {
			return nil, 0, fmt.Errorf("event %d facts: %w", ev.Seq, err)
		}
		ev.Type, ev.OccurredAt, ev.Data = TypeOf(ev.action, ev.facts), ev.OccurredAt.UTC(), json.RawMessage(facts)
		if ev.Pos > 0 {
			ev.ID = EventID(ev.Pos)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) > limit {
		return out[:limit], out[limit-1].Seq, nil
	}
	return out, 0, nil
}
