package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// ScopeFunc says what a subscription's owner may see of the feed.
type ScopeFunc func(ctx context.Context, owner Owner) (audit.FeedScope, error)

// Options tune delivery; zero values take the defaults.
type Options struct {
	Workers int           // concurrent deliveries (default 8)
	Logger  *slog.Logger  // River's log (default: none)
	HTTP    *http.Client  // default: 10 s timeout, no redirects
	Poll    time.Duration // how often River looks for due jobs (default 1 s)
	// Timeout bounds one attempt (default 15 s); a delivery a crash left
	// running is taken up again after twice that.
	Timeout time.Duration
	// Backoff and MaxAttempts replace the retry schedule (tests).
	Backoff     func(attempt int) time.Duration
	MaxAttempts int
}

// Service subscribes, dispatches and delivers.
type Service struct {
	Store       *Store
	db          *pgxpool.Pool
	trail       *audit.Trail
	river       *river.Client[pgx.Tx]
	scopeOf     ScopeFunc
	http        *http.Client
	backoff     func(int) time.Duration
	maxAttempts int
	timeout     time.Duration
}

// New builds the service; Start runs its workers.
func New(pool *pgxpool.Pool, trail *audit.Trail, keys *pii.Keyring, scopeOf ScopeFunc, o Options) (*Service, error) {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	s := &Service{Store: &Store{db: pg.Units(pool), keys: keys}, db: pool, trail: trail, scopeOf: scopeOf, http: o.HTTP, backoff: o.Backoff, timeout: o.Timeout}
	if s.http == nil {
		s.http = &http.Client{Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.backoff == nil {
		s.backoff = Backoff
	}
	if s.maxAttempts = o.MaxAttempts; s.maxAttempts <= 0 {
		s.maxAttempts = MaxAttempts
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{s: s})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{queue: {MaxWorkers: o.Workers}},
		Workers:           workers,
		Logger:            o.Logger,
		FetchPollInterval: o.Poll,
		JobTimeout:        o.Timeout,
		// River's default waits an hour before it takes up a job a crashed
		// process left running; a delivery cannot run longer than Timeout.
		RescueStuckJobsAfter: 2 * o.Timeout,
		// Dead letters stay listed (and redeliverable) for a month.
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.river = client
	return s, nil
}

// Start runs the delivery workers until Stop.
func (s *Service) Start(ctx context.Context) error { return s.river.Start(ctx) }

// Stop lets running deliveries finish (until ctx ends) and stops.
func (s *Service) Stop(ctx context.Context) error { return s.river.Stop(ctx) }

// Dispatch enqueues the deliveries of the events chained since the last
// call, up to 500 events, and returns how many it enqueued. The jobs and
// the cursor's move commit together: each (event, subscription) once. One
// process dispatches at a time; the others return 0.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var pos int64
	if err := tx.QueryRow(ctx, `SELECT pos FROM webhook_dispatch FOR UPDATE SKIP LOCKED`).Scan(&pos); errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("dispatch cursor: %w", err)
	}
	// With no subscription at all there is nothing to deliver: move the
	// cursor to the chain's head without reading the events (on a busy
	// chain that read cost a few µs of every commitment). The head is read
	// before the subscriptions, so one created after that read has its
	// creation event, and every event it is owed, after the head.
	head, err := s.trail.HeadPos(ctx)
	if err != nil {
		return 0, err
	}
	var any bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE disabled_at IS NULL)`).Scan(&any); err != nil {
		return 0, fmt.Errorf("subscriptions: %w", err)
	}
	if !any {
		if head <= pos {
			return 0, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_dispatch SET pos = $1`, head); err != nil {
			return 0, err
		}
		return 0, tx.Commit(ctx)
	}
	events, last, err := s.trail.Window(ctx, pos, 500)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	// A subscription gets the events chained after its own creation event
	// (which committed with it): learn that position once it is linked.
	if _, err := tx.Exec(ctx, `UPDATE webhook_subscriptions w SET from_pos = c.pos
		FROM audit_events e JOIN audit_chain c ON c.event_seq = e.seq
		WHERE w.from_pos IS NULL AND e.action = 'webhook.subscription.create' AND e.object_ids[1] = w.id::text`); err != nil {
		return 0, fmt.Errorf("subscription starts: %w", err)
	}
	subs, err := s.Store.active(ctx, tx)
	if err != nil {
		return 0, err
	}
	scopes := map[Owner]audit.FeedScope{}
	var jobs []river.InsertManyParams
	for _, sub := range subs {
		scope, ok := scopes[sub.Owner]
		if !ok {
			if scope, err = s.scopeOf(ctx, sub.Owner); err != nil {
				return 0, err
			}
			scopes[sub.Owner] = scope
		}
		for _, ev := range events {
			if sub.fromPos != nil && ev.Pos > *sub.fromPos && audit.TypeMatches(sub.Types, ev.Type) && scope.Sees(ev) {
				jobs = append(jobs, river.InsertManyParams{Args: DeliverArgs{Subscription: sub.ID, Pos: ev.Pos, EventID: ev.ID},
					InsertOpts: &river.InsertOpts{Queue: queue, MaxAttempts: s.maxAttempts}})
			}
		}
	}
	if len(jobs) > 0 {
		if _, err := s.river.InsertManyTx(ctx, tx, jobs); err != nil {
			return 0, fmt.Errorf("enqueue deliveries: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE webhook_dispatch SET pos = $1`, last); err != nil {
		return 0, err
	}
	return len(jobs), tx.Commit(ctx)
}

// Delivery is one event's delivery to one subscription, as River keeps it.
type Delivery struct {
	ID          int64      `json:"id"`
	EventID     string     `json:"event_id"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	MaxAttempts int        `json:"max_attempts"`
	LastError   string     `json:"last_error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	NextAt      *time.Time `json:"next_attempt_at,omitempty"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
}

func toDelivery(j *rivertype.JobRow, args DeliverArgs) Delivery {
	d := Delivery{ID: j.ID, EventID: args.EventID, State: string(j.State), Attempts: j.Attempt, MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt.UTC(),
		FinalizedAt: j.FinalizedAt}
	if n := len(j.Errors); n > 0 {
		d.LastError = j.Errors[n-1].Error
	}
	if j.State == rivertype.JobStateScheduled || j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateAvailable {
		at := j.ScheduledAt.UTC()
		d.NextAt = &at
	}
	return d
}

// States a delivery can be in, for filters.
var States = []string{"available", "scheduled", "running", "retryable", "completed", "discarded", "cancelled"}

// Deliveries lists a subscription's deliveries (newest first, at most
// limit), in state when given: "discarded" are the dead letters.
func (s *Service) Deliveries(ctx context.Context, owner Owner, id uuid.UUID, state string, limit int) ([]Delivery, error) {
	if _, err := s.Store.Get(ctx, owner, id); err != nil {
		return nil, err
	}
	params := river.NewJobListParams().Kinds(deliveryKind).First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc).
		Where("args->>'subscription_id' = @sub", river.NamedArgs{"sub": id.String()})
	if state != "" {
		params = params.States(rivertype.JobState(state))
	}
	res, err := s.river.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := []Delivery{}
	for _, j := range res.Jobs {
		var args DeliverArgs
		if err := jsonUnmarshal(j.EncodedArgs, &args); err != nil {
			return nil, err
		}
		out = append(out, toDelivery(j, args))
	}
	return out, nil
}

// Redeliver sends a delivery again now: a dead letter, or one waiting for
// its next retry.
func (s *Service) Redeliver(ctx context.Context, owner Owner, id uuid.UUID, delivery int64) (Delivery, error) {
	if _, err := s.Store.Get(ctx, owner, id); err != nil {
		return Delivery{}, err
	}
	j, err := s.river.JobGet(ctx, delivery)
	if err != nil {
		if errors.Is(err, river.ErrNotFound) {
			return Delivery{}, ErrDeliveryNotFound
		}
		return Delivery{}, err
	}
	var args DeliverArgs
	if err := jsonUnmarshal(j.EncodedArgs, &args); err != nil {
		return Delivery{}, err
	}
	if j.Kind != deliveryKind || args.Subscription != id {
		return Delivery{}, ErrDeliveryNotFound
	}
	if j, err = s.river.JobRetry(ctx, delivery); err != nil {
		return Delivery{}, fmt.Errorf("redeliver: %w", err)
	}
	return toDelivery(j, args), nil
}

// ErrDeliveryNotFound is a delivery that is not the subscription's.
var ErrDeliveryNotFound = errors.New("webhook delivery not found")
