package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// request is one caller's request on its way through a batch.
type request struct {
	ctx       context.Context
	key       string
	hash      []byte
	ts        []TransferRequest
	recording Recording
	done      chan struct{}
	// receipt, if set, is the client's answer to store with the entry.
	receipt *idempotency.Receipt[Entry]

	entry Entry
	err   error
}

// querier is what apply needs from a connection or transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// apply runs a batch of requests through a Plan in the pipelined
// transaction p: the referred transfers first when there are any (they name
// accounts to lock), then the locks and reads, the requests tried in order,
// and their writes queued for p's owner to send (with COMMIT, or as the end
// of a savepoint). Each request's outcome is set on it (entry or err) once
// p's last round trip is read; the returned error is for the batch as a
// whole (the database failed), and then no outcome may be trusted. apply
// resets outcomes first, since its owner may run it again.
func apply(ctx context.Context, p *pg.Pipeline, reqs []*request, freezes Freezes) error {
	spec := LockSpec{refs: map[uuid.UUID]*ref{}}
	var receipts []idempotency.Request
	for _, r := range reqs {
		r.entry, r.err = Entry{}, nil
		if r.receipt != nil {
			r.receipt.Stored = false
			receipts = append(receipts, r.receipt.Request)
		}
		spec.EntryKeys = append(spec.EntryKeys, r.key)
		spec.Transfers += len(r.ts)
		for _, t := range r.ts {
			for _, id := range []uuid.UUID{t.PendingID, t.ReversesID} {
				if _, seen := spec.refs[id]; id != uuid.Nil && !seen {
					spec.refs[id] = nil
					spec.refIDs = append(spec.refIDs, id)
				}
			}
		}
	}
	// Transfers referred to by post/void/reverse requests name the accounts
	// to lock. Transfers are immutable: read without a lock.
	if len(spec.refIDs) > 0 {
		queueRefs(p.Batch(), spec.refIDs, spec.refs)
		if err := p.Flush(ctx); err != nil {
			return fmt.Errorf("read referred transfers: %w", err)
		}
	}
	idSet := map[uuid.UUID]bool{}
	for _, r := range reqs {
		for _, t := range r.ts {
			for _, id := range []uuid.UUID{t.DebitAccountID, t.CreditAccountID} {
				if id != uuid.Nil {
					idSet[id] = true
				}
			}
			for _, id := range []uuid.UUID{t.PendingID, t.ReversesID} {
				if rf := spec.refs[id]; rf != nil {
					idSet[rf.debit], idSet[rf.credit] = true, true
				}
			}
		}
	}
	for id := range idSet {
		spec.Accounts = append(spec.Accounts, id)
	}
	plan := lockAndRead(p.Batch(), spec, freezes)
	answered := idempotency.QueueCheck(p.Batch(), receipts)
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("lock and read: %w", err)
	}
	plan.Ready()
	stored := answered()
	for _, r := range reqs {
		if r.receipt != nil {
			// The client's key answered another request: a conflict, even
			// where this entry's own key is new.
			if _, err := r.receipt.Request.Matches(stored); err != nil {
				r.err = ErrIdempotencyConflict
				continue
			}
		}
		plan.try(r)
	}
	if err := plan.QueueWrites(p.Batch()); err != nil {
		return err
	}
	plan.QueueReplays(p.Batch())
	return nil
}

// queueRefs queues the read of referred transfers into b.
func queueRefs(b *pgx.Batch, ids []uuid.UUID, refs map[uuid.UUID]*ref) {
	b.Queue(`SELECT id, kind, debit_account_id, credit_account_id, currency, amount, code, expires_at
		FROM transfers WHERE id = ANY($1)`, raw(ids)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			rf := &ref{}
			var cur, kind string
			if err := rows.Scan(&rf.id, &kind, &rf.debit, &rf.credit, &cur, &rf.amount, &rf.code, &rf.expiresAt); err != nil {
				return fmt.Errorf("scan referenced transfer: %w", err)
			}
			rf.kind = Kind(kind)
			var err error
			if rf.cur, err = money.Lookup(cur); err != nil {
				return err
			}
			refs[rf.id] = rf
		}
		return rows.Err()
	})
}

func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// raw converts ids for pgx's binary uuid codec. google/uuid's driver.Valuer
// goes through strings and a failed plan first: converting is several times
// cheaper on the write path.
func raw(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
