package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/batch"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
)

// Group commit for commitments. A viral campaign takes thousands of
// commitments a second, all of them needing its row lock. One transaction
// each would cap it at the disk's commit rate. Instead a writer collects
// the commitments waiting and applies them in one transaction of two round
// trips: the first takes every lock (campaigns, then parties, then running
// totals, then ledger accounts, each in id order) and reads every fact the
// rules need, set-based; the rules then run in memory in arrival order
// (decide, the ledger's Plan.Try, accept), and the second round trip
// carries every write and COMMIT. Reward pledges and equity commitments
// alike: one commitment alone is a batch of one.

type commitJob struct {
	ctx      context.Context
	in       CommitRequest
	hash     []byte
	done     chan struct{}
	out      Commitment
	err      error
	replayID uuid.UUID // answered by a commitment already stored under its key
}

// StartBatching turns on group commit for commitments, with at most
// maxBatch commitments in one transaction. Call StopBatching to stop it.
// Without it every commitment runs as a batch of its own.
func (s *Service) StartBatching(maxBatch int) {
	var opts []batch.Option
	if s.OnBatch != nil {
		opts = append(opts, batch.Observe(s.OnBatch))
	}
	s.batch = batch.New(maxBatch, batchWriters, s.processBatch, opts...)
}

// StopBatching stops the batch writer after the commitments already queued.
func (s *Service) StopBatching() {
	if s.batch != nil {
		s.batch.Close()
	}
}

func newJob(ctx context.Context, in CommitRequest) *commitJob {
	return &commitJob{ctx: ctx, in: in, hash: requestHash(in), done: make(chan struct{})}
}

func (s *Service) enqueue(ctx context.Context, in CommitRequest) (Commitment, error) {
	j := newJob(ctx, in)
	if err := s.batch.Submit(ctx, j); err != nil {
		if !errors.Is(err, batch.ErrClosed) {
			return Commitment{}, err
		}
		s.processBatch([]*commitJob{j}) // shutting down: alone
	}
	select {
	case <-j.done:
		return j.out, j.err
	case <-ctx.Done():
		return Commitment{}, ctx.Err() // it may still commit: the client retries with its key
	}
}

// processBatch commits a batch; a batch that fails as a whole (a
// constraint raced by another process, say) is run again one commitment at
// a time, so one bad commitment cannot fail its neighbours and each gets
// its own error.
func (s *Service) processBatch(jobs []*commitJob) {
	live := make([]*commitJob, 0, len(jobs))
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			j.err = j.ctx.Err()
			close(j.done)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callers := make([]context.Context, len(live))
	for i, j := range live {
		callers[i] = j.ctx
	}
	ctx, end := batch.Traced(ctx, "commitment batch", callers)
	defer end()
	err := s.commitBatch(ctx, live)
	if err != nil && len(live) > 1 {
		for _, j := range live {
			if e := s.commitBatch(ctx, []*commitJob{j}); e != nil {
				j.out, j.err = Commitment{}, e
			}
		}
		err = nil
	}
	for _, j := range live {
		switch {
		case err != nil:
			j.out, j.err = Commitment{}, err
		case j.err == nil && j.replayID != uuid.Nil:
			j.out, j.err = s.Commitment(j.ctx, j.replayID, uuid.Nil)
			j.out.Replayed = true
		}
		close(j.done)
	}
}

// batchWriters is one: a second writer (one batch preparing while the other
// commits) measured 1444/s against 1950/s for one, as batches halve.
var batchWriters = 1

// commitBatch runs one batch as one transaction of two round trips
// (pg.Transact): locks and reads, then writes with COMMIT. It sets every
// job's outcome, resetting them first, as a retry runs it again.
func (s *Service) commitBatch(ctx context.Context, jobs []*commitJob) error {
	now := s.Now()
	shapes, err := s.shapes(ctx, jobs)
	if err != nil {
		return err
	}
	wallets, err := s.wallets(ctx, jobs, shapes)
	if err != nil {
		return err
	}
	return pg.Transact(ctx, s.db.Pool, func(ctx context.Context, p *pg.Pipeline) error {
		for _, j := range jobs {
			j.out, j.err, j.replayID = Commitment{}, nil, uuid.Nil
			if j.in.Receipt != nil {
				j.in.Receipt.Stored = false
			}
		}
		ld, err := s.load(ctx, p, jobs, shapes, wallets, now)
		if err != nil {
			return err
		}
		accepted := ld.decideAll(jobs)
		if err := ld.plan.QueueWrites(p.Batch()); err != nil {
			return err
		}
		return ld.queueWrites(p.Batch(), accepted)
	})
}

// decideAll runs the rules over the jobs in arrival order and returns those
// accepted, each with its commitment and ledger entry.
func (ld *loaded) decideAll(jobs []*commitJob) []accepted {
	var out []accepted
	first := map[string]*commitJob{}
	for _, j := range jobs {
		if prev, dup := first[j.in.IdempotencyKey]; dup && prev.err == nil {
			// A copy of a request earlier in this batch that took: its
			// answer. (After one that was refused the key is still free, as
			// it would be one commitment at a time: decided afresh.)
			switch {
			case !bytes.Equal(prev.hash, j.hash):
				j.err = ErrIdempotencyConflict
			case prev.replayID != uuid.Nil:
				j.replayID = prev.replayID
			default:
				j.out = prev.out
				j.out.Replayed = true
			}
			continue
		}
		first[j.in.IdempotencyKey] = j
		if j.in.Receipt != nil {
			if _, err := j.in.Receipt.Request.Matches(ld.answered); err != nil {
				j.err = err // the client's key answered another request
				continue
			}
		}
		if e, ok := ld.existing[j.in.IdempotencyKey]; ok {
			if !bytes.Equal(e.hash, j.hash) {
				j.err = ErrIdempotencyConflict
			} else {
				j.replayID = e.id
			}
			continue
		}
		cf := ld.campaigns[j.in.CampaignID]
		if cf == nil {
			j.err = ErrNotFound
			continue
		}
		f := ld.factsFor(cf, j.in.InvestorID)
		cm, err := decide(ld.now, cf, f, j.in)
		if err != nil {
			j.err = err
			continue
		}
		// Time-ordered ids: commitments made at one instant (a batch's) keep
		// their arrival order, which distributions split remainders by.
		if cm.ID, err = uuid.NewV7(); err != nil {
			cm.ID = uuid.New()
		}
		// The hold's entry key is the new commitment's id: the client's key
		// is the commitment's (checked above, unique in commitments), and a
		// key made from an id made just now is fresh, so the ledger need
		// not look it up, and its index grows at one end rather than at
		// random places.
		e, err := ld.plan.Try(j.ctx, "commitment:"+cm.ID.String(), []ledger.TransferRequest{{Kind: ledger.KindPending,
			DebitAccountID: f.wallet, CreditAccountID: cf.c.EscrowAccountID, Amount: cm.Amount, Code: "commitment",
			Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"commitment_id":%q,"investor_id":%q}`, cf.c.ID, cm.ID, j.in.InvestorID))}},
			ledger.CallerRecords)
		if err != nil {
			j.err = err
			continue
		}
		cm.PendingTransfer = e.Transfers[0].ID
		cf.accept(&cm, f)
		j.out = cm
		out = append(out, accepted{job: j, entry: e})
	}
	return out
}

type accepted struct {
	job   *commitJob
	entry ledger.Entry
}

// commitEvent is a commitment's audit record, the one event of the command:
// it names the campaign, the commitment and the ledger entry and pending
// transfer that reserved the money, with the transfer's accounts and amount,
// for the ledger appends none of its own (ledger.CallerRecords).
func commitEvent(ctx context.Context, cm Commitment, e ledger.Entry) (audit.Event, error) {
	objects, facts := commitmentMove(cm, e)
	facts["role"] = cm.Role
	return audit.New(ctx, "campaign.commit", objects, facts)
}

// commitmentMove is what a commitment command's own event records in place
// of the ledger's "ledger.entry.post" for its one-transfer entry: the
// objects it names (campaign, commitment, entry, transfer) and facts enough
// to replay the money movement from the audit trail alone.
func commitmentMove(cm Commitment, e ledger.Entry) (objects []string, facts map[string]any) {
	t := e.Transfers[0]
	facts = map[string]any{"commitment_id": cm.ID, "investor_id": cm.InvestorID,
		"entry_id": e.ID, "idempotency_key": e.IdempotencyKey, "transfer_id": t.ID, "kind": t.Kind,
		"debit_account_id": t.DebitAccountID, "credit_account_id": t.CreditAccountID, "amount": t.Amount.String(),
		"currency": t.Amount.Currency().Code(), "code": t.Code}
	if t.PendingID != nil {
		facts["pending_id"] = *t.PendingID
	}
	return []string{cm.CampaignID.String(), cm.ID.String(), e.ID.String(), t.ID.String()}, facts
}

func sortedIDs(set map[uuid.UUID]bool) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

// queueReceipts queues the clients' answers of the accepted commitments.
func queueReceipts(b *pgx.Batch, acc []accepted) error {
	receipts, results := make([]*idempotency.Receipt[Commitment], len(acc)), make([]Commitment, len(acc))
	for i, a := range acc {
		receipts[i], results[i] = a.job.in.Receipt, a.job.out
	}
	return idempotency.QueueAnswers(b, receipts, results)
}
