package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/batch"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// Options tune the group-commit writers.
type Options struct {
	// Writers is how many batches may be in flight at once (default 1).
	// Batches on disjoint accounts commit in parallel; batches on one hot
	// account queue on its row lock and split into smaller batches, which
	// measured slower on two cores (see BenchmarkPost): one writer forming
	// big batches wins there; more may pay off on a larger database server.
	Writers int
	// MaxBatch caps the requests grouped into one transaction (default 256).
	MaxBatch int
	// OnCommit, if set, is called after each committed batch with the number
	// of entries and of transfers by kind written (for metrics).
	OnCommit func(entries int, transfers map[Kind]int)
	// OnBatch, if set, is called with each writer batch's size and how long
	// its oldest request waited (for metrics).
	OnBatch func(size int, waited time.Duration)
	// Freezes says which accounts freeze orders cover (required: a ledger
	// that silently ignored freeze orders would let frozen money leave;
	// NoFreezes where none can apply).
	Freezes Freezes
}

// Ledger is the double-entry ledger. It is safe for concurrent use; several
// Ledgers, in one process or many, may share a database.
type Ledger struct {
	db   pg.Pool
	opts Options

	writer  *batch.Batcher[*request]
	sweepMu sync.Mutex
	sweptTo time.Time // see ExpirePending
}

// New starts a ledger's writers on pool. Call Close to stop them.
func New(pool *pgxpool.Pool, opts Options) *Ledger {
	if opts.Freezes == nil {
		panic("ledger.New: Options.Freezes is required (supervision's service, or ledger.NoFreezes where no freeze order applies)")
	}
	if opts.Writers <= 0 {
		opts.Writers = 1
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	l := &Ledger{db: pg.Units(pool), opts: opts}
	var bopts []batch.Option
	if opts.OnBatch != nil {
		bopts = append(bopts, batch.Observe(opts.OnBatch))
	}
	l.writer = batch.New(opts.MaxBatch, opts.Writers, l.process, bopts...)
	return l
}

// Close stops taking requests, lets the writers finish every request already
// queued, and waits for them. It does not close the pool.
func (l *Ledger) Close() { l.writer.Close() }

// Submit applies transfers atomically under an idempotency key: all of them
// or none. It returns the stored entry; a retry with the same key and the
// same transfers returns the original entry with Replayed set. A failing
// transfer of several is reported as a *TransferError naming its index.
//
// Submit goes through the group-commit writers: when it returns without
// error, the entry is committed.
//
// Inside a unit of work (pg.WithTx: a command that the idempotency
// mechanism runs) the transfers apply in that transaction instead, so that
// they commit with the command's claim and response.
func (l *Ledger) Submit(ctx context.Context, key string, transfers []TransferRequest) (Entry, error) {
	return l.SubmitAnswered(ctx, key, transfers, nil)
}

// SubmitAnswered is Submit for a client's command whose answer is stored
// with its effect: the writer renders rc's answer from the new entry and
// saves it in the batch's transaction (a replayed entry saves nothing).
func (l *Ledger) SubmitAnswered(ctx context.Context, key string, transfers []TransferRequest, rc *idempotency.Receipt[Entry]) (Entry, error) {
	if tx, ok := pg.TxFrom(ctx); ok {
		return l.ApplyTx(ctx, tx, key, transfers, LedgerRecords)
	}
	r, err := newRequest(ctx, key, transfers)
	if err != nil {
		return Entry{}, err
	}
	r.receipt = rc
	if err := l.writer.Submit(ctx, r); err != nil {
		if errors.Is(err, batch.ErrClosed) {
			return Entry{}, ErrClosed
		}
		return Entry{}, err
	}
	select {
	case <-r.done:
		return r.entry, r.err
	case <-ctx.Done():
		// The request may still commit; the client retries with its key.
		return Entry{}, ctx.Err()
	}
}

// ApplyTx applies transfers inside the caller's transaction (as a
// savepoint), so that domain code can move money and record its own rows
// atomically. It bypasses the writers: the caller's transaction holds the
// account locks until it commits. rec says whether the ledger appends the
// entry's audit event or the caller's own event names it.
func (l *Ledger) ApplyTx(ctx context.Context, tx pgx.Tx, key string, transfers []TransferRequest, rec Recording) (Entry, error) {
	r, err := newRequest(ctx, key, transfers)
	if err != nil {
		return Entry{}, err
	}
	r.recording = rec
	err = pg.InSavepoint(ctx, tx, func(ctx context.Context, p *pg.Pipeline) error {
		return apply(ctx, p, []*request{r}, l.opts.Freezes)
	})
	if err == nil {
		err = r.err
	}
	if err != nil {
		return Entry{}, translate(err)
	}
	return r.entry, nil
}

func newRequest(ctx context.Context, key string, transfers []TransferRequest) (*request, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	ts := append([]TransferRequest(nil), transfers...)
	if err := validateTransfers(ts); err != nil {
		return nil, err
	}
	return &request{ctx: ctx, key: key, hash: requestHash(ts), ts: ts, done: make(chan struct{})}, nil
}

// process commits one batch. If the batch as a whole fails (a constraint
// raced by another process, say), each request is retried alone so that
// one bad request cannot fail its neighbours and each gets its own error.
func (l *Ledger) process(batch []*request) {
	live := batch[:0]
	for _, r := range batch {
		if r.ctx.Err() != nil { // the caller gave up before we started: skip it, nothing was written
			r.err = r.ctx.Err()
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := l.commit(live)
	if err != nil && len(live) > 1 {
		for _, r := range live {
			if e := l.commit([]*request{r}); e != nil {
				r.err = e
			}
			close(r.done)
		}
		return
	}
	for _, r := range live {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// commit runs apply in a transaction of its own (pg.Transact: two round
// trips, retried on serialization failures and deadlocks, which the fixed
// lock order should prevent). A unique violation on an idempotency key
// means a concurrent process committed the same key first: one more
// attempt replays it.
func (l *Ledger) commit(reqs []*request) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callers := make([]context.Context, len(reqs))
	for i, r := range reqs {
		callers[i] = r.ctx
	}
	ctx, end := batch.Traced(ctx, "ledger batch", callers)
	defer end()
	run := func() error {
		return pg.Transact(ctx, l.db.Pool, func(ctx context.Context, p *pg.Pipeline) error {
			return apply(ctx, p, reqs, l.opts.Freezes)
		})
	}
	err := run()
	if pg.Code(err) == pg.UniqueViolation {
		err = run()
	}
	if err != nil {
		return translate(err)
	}
	if l.opts.OnCommit != nil {
		e, t := 0, map[Kind]int{}
		for _, r := range reqs {
			if r.err == nil && !r.entry.Replayed {
				e++
				for _, tr := range r.entry.Transfers {
					t[tr.Kind]++
				}
			}
		}
		l.opts.OnCommit(e, t)
	}
	return nil
}

// translate turns database errors that a request can cause into ledger
// errors; anything else is returned wrapped, as an internal failure.
func translate(err error) error {
	if err == nil {
		return nil
	}
	switch pg.Constraint(err) {
	case "entries_idempotency_key_key":
		return ErrIdempotencyConflict
	case "transfers_pending_id_key":
		return refErr("pending_id", ErrPendingResolved)
	case "transfers_reverses_id_key":
		return refErr("reverses_id", ErrAlreadyReversed)
	case "accounts_debits_within_credits":
		return ErrInsufficientFunds
	case "accounts_credits_within_debits":
		return ErrExceedsDebits
	}
	var fe *FieldError
	var te *TransferError
	var ie *InsufficientFundsError
	if errors.As(err, &fe) || errors.As(err, &te) || errors.As(err, &ie) || errors.Is(err, ErrIdempotencyConflict) {
		return err
	}
	return fmt.Errorf("ledger: %w", err)
}

// CreateAccount opens an account. Under a reused idempotency key it returns
// the account first created with it (created = false), or
// ErrIdempotencyConflict if the request differs.
func (l *Ledger) CreateAccount(ctx context.Context, in NewAccount) (a Account, created bool, err error) {
	if err := in.Validate(); err != nil {
		return Account{}, false, err
	}
	id := in.ID
	if id == uuid.Nil {
		id = newID()
	}
	hash := in.hash() // over the client's request: a generated id is not part of it
	var got uuid.UUID
	err = pg.InTx(ctx, l.db, func(tx pgx.Tx) error {
		created = false
		err := tx.QueryRow(ctx, `INSERT INTO accounts (id, currency, code, owner, metadata, debits_must_not_exceed_credits,
				credits_must_not_exceed_debits, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9)
			ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
			id, in.Currency.Code(), string(in.Code), in.Owner, string(in.Metadata), in.Flags.DebitsMustNotExceedCredits,
			in.Flags.CreditsMustNotExceedDebits, in.IdempotencyKey, hash).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			var prev []byte
			if err := tx.QueryRow(ctx, `SELECT id, request_hash FROM accounts WHERE idempotency_key = $1`,
				in.IdempotencyKey).Scan(&got, &prev); err != nil {
				return fmt.Errorf("read existing key: %w", err)
			}
			if string(prev) != string(hash) {
				return ErrIdempotencyConflict
			}
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		ev, err := audit.New(ctx, "ledger.account.create", []string{got.String()}, map[string]any{
			"currency": in.Currency.Code(), "code": in.Code, "owner": in.Owner, "idempotency_key": in.IdempotencyKey,
			"debits_must_not_exceed_credits": in.Flags.DebitsMustNotExceedCredits, "credits_must_not_exceed_debits": in.Flags.CreditsMustNotExceedDebits,
		})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	switch {
	case err == nil:
		a, err = l.Account(ctx, got)
		return a, created, err
	case errors.Is(err, ErrIdempotencyConflict):
		return Account{}, false, err
	case pg.Constraint(err) == "accounts_pkey":
		return Account{}, false, refErr("id", ErrAccountExists)
	default:
		return Account{}, false, fmt.Errorf("create account: %w", err)
	}
}

// CloseAccount closes an account to new transfers. It must have no pending
// balances (resolve or void them first). Closing a closed account is a no-op.
func (l *Ledger) CloseAccount(ctx context.Context, id uuid.UUID) (Account, error) {
	err := pg.InTx(ctx, l.db, func(tx pgx.Tx) error {
		var pending bool
		var closed bool
		err := tx.QueryRow(ctx, `SELECT debits_pending > 0 OR credits_pending > 0, closed_at IS NOT NULL
			FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&pending, &closed)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrAccountNotFound
		}
		if err != nil {
			return err
		}
		if closed {
			return nil
		}
		if pending {
			return ErrAccountHasPending
		}
		if _, err = tx.Exec(ctx, `UPDATE accounts SET closed_at = clock_timestamp() WHERE id = $1`, id); err != nil {
			return err
		}
		ev, err := audit.New(ctx, "ledger.account.close", []string{id.String()}, map[string]any{"closed": true})
		if err != nil {
			return err
		}
		return audit.Append(ctx, tx, ev)
	})
	if err != nil {
		if errors.Is(err, ErrAccountNotFound) || errors.Is(err, ErrAccountHasPending) {
			return Account{}, err
		}
		return Account{}, fmt.Errorf("close account %s: %w", id, err)
	}
	return l.Account(ctx, id)
}

// ExpirePending voids up to limit pending transfers whose timeout has
// passed, and returns how many it voided. Each void's idempotency key is
// derived from the pending transfer, so processes sweeping at once void
// each transfer exactly once.
func (l *Ledger) ExpirePending(ctx context.Context, limit int) (int, error) {
	// The time is a parameter, not clock_timestamp(): a volatile function
	// cannot drive the expires_at index, and the sweep would scan every transfer.
	// The resolution check is a scalar probe of the pending_id index: as NOT
	// EXISTS it became a hash anti-join reading every transfer each second.
	//
	// The scan starts at sweptTo: every pending transfer that expired
	// before it is resolved, so the index range read is the last few
	// minutes, not every timed pending transfer the ledger ever held.
	now := time.Now()
	l.sweepMu.Lock()
	from := l.sweptTo
	l.sweepMu.Unlock()
	rows, err := l.db.Query(ctx, `SELECT p.id FROM transfers p
		WHERE p.expires_at IS NOT NULL AND p.expires_at <= $2 AND p.expires_at > $3
		  AND (SELECT true FROM transfers r WHERE r.pending_id = p.id) IS NULL
		ORDER BY p.expires_at LIMIT $1`, limit, now, from)
	if err != nil {
		return 0, fmt.Errorf("find expired pending transfers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, fmt.Errorf("find expired pending transfers: %w", err)
	}
	n := 0
	for _, id := range ids {
		_, err := l.Submit(audit.WithActor(ctx, audit.System("pending-expiry"), ""), "expire:"+id.String(), []TransferRequest{{
			Kind: KindVoidPending, PendingID: id, Code: ReasonPendingExpired,
		}})
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrPendingResolved):
			// posted or voided by someone else meanwhile
		default:
			return n, fmt.Errorf("expire pending %s: %w", id, err)
		}
	}
	if len(ids) < limit {
		// Everything that had expired by now is resolved. A transaction
		// still open may yet commit a pending transfer whose expiry it
		// computed from an earlier clock reading: stay sweepSlack behind.
		l.sweepMu.Lock()
		if t := now.Add(-sweepSlack); t.After(l.sweptTo) {
			l.sweptTo = t
		}
		l.sweepMu.Unlock()
	}
	return n, nil
}

// sweepSlack is how far behind the last complete sweep ExpirePending keeps
// looking: longer than any ledger transaction may stay open (their contexts
// end after 30 s).
const sweepSlack = 5 * time.Minute

// Ping checks that the database answers.
func (l *Ledger) Ping(ctx context.Context) error { return l.db.Ping(ctx) }

var pgxTxReadOnlySnapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
