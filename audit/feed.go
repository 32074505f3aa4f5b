package audit

import (
	"context"
	"encoding/json"
	"fmt"
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
	// investor or backer of a commitment or order).
	Party *uuid.UUID
	// Campaigns are campaigns whose events the party also sees: every
	// event of an issuer's own campaigns (Issuer true), or the
	// campaign-wide events of those an investor committed to.
	Campaigns []uuid.UUID
	Issuer    bool
}

// Feed returns up to limit events after chain position after, oldest first,
// that scope may see, and the position to continue from: after the last
// event returned when the page is full, else after the last one read (seen
// or not), so a scoped reader moves on past others' events.
func (t *Trail) Feed(ctx context.Context, after int64, limit int, scope FeedScope) ([]FeedEvent, int64, error) {
	// Read a window of the chain, then filter: the window bounds the work
	// per call whatever the scope.
	const window = 2000
	var head *int64
	if err := t.db.QueryRow(ctx, `SELECT max(pos) FROM (SELECT pos FROM audit_chain WHERE pos > $1 ORDER BY pos LIMIT $2) w`,
		after, window).Scan(&head); err != nil {
		return nil, after, fmt.Errorf("event feed: %w", err)
	}
	if head == nil {
		return []FeedEvent{}, after, nil // at the head of the chain
	}
	args := []any{after, *head, limit}
	where := ""
	if scope.Party != nil {
		campaigns := make([]string, len(scope.Campaigns))
		for i, c := range scope.Campaigns {
			campaigns[i] = c.String()
		}
		args = append(args, scope.Party.String(), campaigns)
		where = ` AND (e.facts->>'investor_id' = $4 OR e.facts->>'backer_id' = $4 OR e.facts->>'complainant_id' = $4
			OR $4 = ANY(e.object_ids) OR (e.object_ids[1] = ANY($5)`
		if !scope.Issuer {
			args = append(args, investorCampaignActions)
			where += ` AND e.action = ANY($6)`
		}
		where += `))`
	}
	rows, err := t.db.Query(ctx, `SELECT c.pos, e.occurred_at, e.action, e.object_ids, e.facts::text
		FROM audit_chain c JOIN audit_events e ON e.seq = c.event_seq
		WHERE c.pos > $1 AND c.pos <= $2`+where+` ORDER BY c.pos LIMIT $3`, args...)
	if err != nil {
		return nil, after, fmt.Errorf("event feed: %w", err)
	}
	defer rows.Close()
	out := []FeedEvent{}
	for rows.Next() {
		var ev FeedEvent
		var action, facts string
		if err := rows.Scan(&ev.Pos, &ev.OccurredAt, &action, &ev.Objects, &facts); err != nil {
			return nil, after, err
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(facts), &f); err != nil {
			return nil, after, fmt.Errorf("event %d facts: %w", ev.Pos, err)
		}
		ev.ID, ev.Type, ev.OccurredAt, ev.Data = EventID(ev.Pos), TypeOf(action, f), ev.OccurredAt.UTC(), json.RawMessage(facts)
		if ev.Objects == nil {
			ev.Objects = []string{}
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, after, err
	}
	if len(out) == limit {
		return out, out[len(out)-1].Pos, nil
	}
	return out, *head, nil
}
