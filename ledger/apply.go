package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
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

// apply runs a batch of requests through a Plan. Each request's outcome is
// set on it (entry or err); the returned error is for the batch as a whole
// (the database failed), in which case no outcome may be trusted. apply
// resets outcomes first, so a retry starts clean.
//
// With own set, q is a bare connection and apply runs its own transaction:
// BEGIN rides in the first statement pipeline and COMMIT in the last, so a
// batch costs two round trips (three when it resolves or reverses
// transfers, which are read first). On error the caller must ROLLBACK.
// Without own, q is the caller's transaction (ApplyTx: a savepoint).
func apply(ctx context.Context, q querier, reqs []*request, own bool, freezes Freezes) error {
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
		if err := loadRefs(ctx, q, spec.refIDs, spec.refs); err != nil {
			return err
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

	b := &pgx.Batch{}
	if own {
		b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	}
	p := lockAndRead(b, spec, freezes)
	answered := idempotency.QueueCheck(b, receipts)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("lock and read: %w", err)
	}
	p.Ready()
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
		p.try(r)
	}
	w := &pgx.Batch{}
	if err := p.QueueWrites(w); err != nil {
		return err
	}
	if own {
		w.Queue(`COMMIT`)
	}
	if w.Len() > 0 {
		if err := q.SendBatch(ctx, w).Close(); err != nil {
			return fmt.Errorf("write batch: %w", err)
		}
	}
	// Replayed entries are committed rows: read them after our own commit,
	// not holding the locks.
	return p.LoadReplays(ctx, q)
}

func loadRefs(ctx context.Context, q querier, ids []uuid.UUID, refs map[uuid.UUID]*ref) error {
	rows, err := q.Query(ctx, `SELECT id, kind, debit_account_id, credit_account_id, currency, amount, code, expires_at
		FROM transfers WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("load referenced transfers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		rf := &ref{}
		var cur, kind string
		if err := rows.Scan(&rf.id, &kind, &rf.debit, &rf.credit, &cur, &rf.amount, &rf.code, &rf.expiresAt); err != nil {
			return fmt.Errorf("scan referenced transfer: %w", err)
		}
		rf.kind = Kind(kind)
		if rf.cur, err = money.Lookup(cur); err != nil {
			return err
		}
		refs[rf.id] = rf
	}
	return rows.Err()
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

func rawNullable(ids []*uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		if id != nil {
			out[i] = pgtype.UUID{Bytes: *id, Valid: true}
		}
	}
	return out
}
