package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// MaxAttempts is how many times a delivery is tried before it is a dead
// letter: with Backoff, more than 24 hours of retries (TestRetriesLastADay).
const MaxAttempts = 45

// Backoff is the wait after a delivery's attempt-th failure: 2^attempt
// seconds, at most an hour, within ±20% jitter so receivers coming back
// from an outage are not hit by every retry at once.
func Backoff(attempt int) time.Duration {
	d := time.Hour
	if attempt < 12 {
		d = time.Duration(1<<attempt) * time.Second
	}
	if d > time.Hour {
		d = time.Hour
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// DeliverArgs is one event to one subscription: a River job.
type DeliverArgs struct {
	Subscription uuid.UUID `json:"subscription_id"`
	Pos          int64     `json:"pos"`
	EventID      string    `json:"event_id"`
}

// deliveryKind is the River job kind of a delivery.
const deliveryKind = "webhook_delivery"

// Kind names the job for River.
func (DeliverArgs) Kind() string { return deliveryKind }

// InsertOpts puts deliveries on their own queue with their own attempts.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: MaxAttempts}
}

const queue = "webhooks"

// worker POSTs deliveries.
type worker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// Timeout bounds one attempt, the receiver's answer included.
func (w *worker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.s.timeout }

// NextRetry is Backoff after the job's failed attempts.
func (w *worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.s.backoff(job.Attempt))
}

// Work sends the event, signed; anything but a 2xx is an error for River
// to retry. A disabled subscription's jobs are cancelled, not retried.
func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	sub, err := w.s.Store.byID(ctx, job.Args.Subscription)
	if errors.Is(err, ErrNotFound) || err == nil && sub.DisabledAt != nil {
		return river.JobCancel(fmt.Errorf("subscription %s is disabled", job.Args.Subscription))
	}
	if err != nil {
		return err
	}
	events, _, err := w.s.trail.Window(ctx, job.Args.Pos-1, 1)
	if err != nil {
		return err
	}
	if len(events) == 0 || events[0].Pos != job.Args.Pos {
		return river.JobCancel(fmt.Errorf("event %d is not in the chain", job.Args.Pos))
	}
	body, err := json.Marshal(events[0])
	if err != nil {
		return err
	}
	now := time.Now()
	sig, err := Sign(sub.secret, events[0].ID, now, body)
	if err != nil {
		return river.JobCancel(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "crowdledger-webhooks")
	req.Header.Set("webhook-id", events[0].ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.s.http.Do(req)
	if err != nil {
		return fmt.Errorf("deliver %s to %s: %w", events[0].ID, sub.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("deliver %s to %s: the receiver answered %d", events[0].ID, sub.URL, resp.StatusCode)
	}
	return nil
}
