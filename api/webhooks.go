package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/webhook"
)

func (s *server) needWebhooks(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.Webhooks == nil {
			return problem(http.StatusServiceUnavailable, "not_ready", "", "webhooks are not configured")
		}
		return next(c)
	}
}

// owner is the caller as a subscription's owner: its role and subject (the
// party for investors and issuers, the person for staff).
func owner(c echo.Context) webhook.Owner {
	p := principal(c)
	return webhook.Owner{Role: string(p.Role), Subject: p.Subject}
}

type webhookRequest struct {
	URL   string   `json:"url"`
	Types []string `json:"types"`
}

type webhookJSON struct {
	ID         string     `json:"id"`
	URL        string     `json:"url"`
	Types      []string   `json:"types"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	// Secret signs the deliveries; it is in the answer that creates the
	// subscription only.
	Secret string `json:"secret,omitempty"`
}

func toWebhook(sub webhook.Subscription) webhookJSON {
	return webhookJSON{ID: sub.ID.String(), URL: sub.URL, Types: sub.Types, CreatedAt: sub.CreatedAt, DisabledAt: sub.DisabledAt}
}

func (s *server) createWebhook(c echo.Context) error {
	var req webhookRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	sub, secret, err := s.Webhooks.Store.Create(c.Request().Context(), owner(c), req.URL, req.Types)
	if err != nil {
		return err
	}
	out := toWebhook(sub)
	out.Secret = secret
	return c.JSON(http.StatusCreated, out)
}

func (s *server) listWebhooks(c echo.Context) error {
	q := newListQuery(c)
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Webhooks.Store.List(c.Request().Context(), owner(c), q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toWebhook)
}

func (s *server) disableWebhook(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	sub, err := s.Webhooks.Store.Disable(c.Request().Context(), owner(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWebhook(sub))
}

// listDeliveries lists a subscription's deliveries, newest first;
// state=discarded lists the dead letters.
func (s *server) listDeliveries(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newListQuery(c, "state")
	state := q.str("state")
	if err := q.Err(); err != nil {
		return err
	}
	if state != "" && !slices.Contains(webhook.States, state) {
		return problem(http.StatusBadRequest, "invalid_parameter", "state", "state must be one of available, scheduled, running, retryable, completed, discarded, cancelled")
	}
	limit := q.page().Limit
	if limit == 0 {
		limit = 50
	}
	ds, err := s.Webhooks.Deliveries(c.Request().Context(), owner(c), id, state, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pageJSON[webhook.Delivery]{Items: ds})
}

// redeliver sends a delivery again now (a dead letter, or one waiting).
func (s *server) redeliver(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	delivery, err := strconv.ParseInt(c.Param("delivery"), 10, 64)
	if err != nil || delivery < 1 {
		return problem(http.StatusBadRequest, "invalid_parameter", "delivery", "delivery must be a delivery id")
	}
	d, err := s.Webhooks.Redeliver(c.Request().Context(), owner(c), id, delivery)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
