package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/webhook"
)

// maxEventWait bounds a long poll, well inside the server's write timeout.
const maxEventWait = 20 * time.Second

// eventPoll is how often a long poll looks for new events; the chainer
// links events every AUDIT_CHAIN_INTERVAL (500 ms), so a client hears of a
// change within about that plus this.
const eventPoll = 100 * time.Millisecond

// listEvents is the event feed: events in commit order after a cursor,
// those the caller may see (staff and regulators every one; an investor
// those naming it and the campaign-wide events of campaigns it committed
// to; an issuer those of its campaigns and those naming it). With wait=N it
// holds the request up to N seconds (at most 20) until there is one.
func (s *server) listEvents(c echo.Context) error {
	q := newListQuery(c, "after", "wait", "type")
	after := int64(0)
	ctx := c.Request().Context()
	if raw := c.QueryParam("after"); raw == "latest" {
		// A reader that wants only what happens from now on (a page
		// showing live figures) starts at the chain's head.
		head, err := s.Audit.HeadPos(ctx)
		if err != nil {
			return err
		}
		after = head
	} else if raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return problem(http.StatusBadRequest, "invalid_cursor", "after", "after must be a next_cursor value from an earlier page, 0 or latest")
		}
		after = n
	}
	wait := time.Duration(0)
	if raw := c.QueryParam("wait"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || time.Duration(n)*time.Second > maxEventWait {
			return problem(http.StatusBadRequest, "invalid_parameter", "wait", "wait must be 0 to 20 (seconds)")
		}
		wait = time.Duration(n) * time.Second
	}
	var types []string
	if raw := q.str("type"); raw != "" {
		types = strings.Split(raw, ",")
	}
	if err := q.Err(); err != nil {
		return err
	}
	limit := q.page().Limit
	if limit == 0 {
		limit = 100
	}
	scope, err := FeedScopeOf(ctx, s.Campaigns, owner(c))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for {
		events, next, err := s.Audit.Feed(ctx, after, limit, scope)
		if err != nil {
			return err
		}
		if len(types) > 0 {
			kept := events[:0]
			for _, e := range events {
				if audit.TypeMatches(types, e.Type) {
					kept = append(kept, e)
				}
			}
			events = kept
		}
		if len(events) > 0 || !time.Now().Before(deadline) {
			return c.JSON(http.StatusOK, eventPage{Items: events, NextCursor: strconv.FormatInt(next, 10)})
		}
		after = next
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(eventPoll):
		}
	}
}

// eventPage always carries a cursor: the next long poll starts from it.
type eventPage struct {
	Items      []audit.FeedEvent `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// FeedScopeOf is what an API key's holder sees of the events, on the feed
// and through its webhooks: staff and regulators everything, an investor or
// issuer what campaign.Service.FeedScope gives its party.
func FeedScopeOf(ctx context.Context, campaigns *campaign.Service, o webhook.Owner) (audit.FeedScope, error) {
	role := auth.Role(o.Role)
	if !role.Scoped() {
		return audit.FeedScope{}, nil
	}
	party, err := uuid.Parse(o.Subject)
	if err != nil {
		return audit.FeedScope{}, fmt.Errorf("a %s key's subject is not a party: %w", role, err)
	}
	return campaigns.FeedScope(ctx, party, role == auth.Issuer)
}

// campaignEvents is a campaign's timeline: the audit events that name it
// first, newest first, a page at a time (the cursor is an event's sequence
// number). For staff and regulators: it includes supervision.
func (s *server) campaignEvents(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newListQuery(c, "cursor")
	if err := q.Err(); err != nil {
		return err
	}
	limit := q.page().Limit
	if limit == 0 {
		limit = page.DefaultLimit
	}
	var before int64
	if raw := c.QueryParam("cursor"); raw != "" {
		if before, err = strconv.ParseInt(raw, 10, 64); err != nil || before < 1 {
			return problem(http.StatusBadRequest, "invalid_cursor", "cursor", "cursor must be a next_cursor value from an earlier page")
		}
	}
	ctx := c.Request().Context()
	if _, err := s.Campaigns.Get(ctx, id); err != nil {
		return err
	}
	events, next, err := s.Audit.About(ctx, id.String(), before, limit)
	if err != nil {
		return err
	}
	out := pageJSON[audit.TimelineEvent]{Items: events}
	if next > 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	return c.JSON(http.StatusOK, out)
}
