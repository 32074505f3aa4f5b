package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/money"
)

// Plan is the ledger's share of one batch transaction, driven by the
// transaction's owner in three steps:
//
//  1. LockAndRead queues the account locks (in id order, so batches never
//     deadlock each other) and the reads the rules need into the owner's
//     first pipeline; Ready finishes them once it is read.
//  2. Try runs one request at a time against the locked state in memory
//     (the simulator), in the owner's order, so that the owner can
//     interleave its own rules: a request Try refuses leaves the state as
//     it was for the next.
//  3. QueueWrites adds the accepted entries' writes to the owner's last
//     pipeline, before its COMMIT.
//
// The group-commit writer (apply) and the commitment batch are its owners;
// it neither begins nor commits.
type Plan struct {
	sim      sim
	existing map[string]prior // entry keys already in the database
	seqs     []int64
	tried    map[string]*request // requests tried in this plan, by key
	accepted []*request
	rows     []row
	replays  []*request // replayed from the database; LoadReplays reads their entries
	frozen   func(account uuid.UUID, owner, campaign string) bool
}

type prior struct {
	id   uuid.UUID
	hash []byte
}

// LockSpec says what a Plan locks and reads.
type LockSpec struct {
	Accounts []uuid.UUID // accounts to lock
	// EntryKeys are the idempotency keys of the requests to be tried that
	// may have been used before; a key made from an id the caller has just
	// made (a new commitment's) is fresh and need not be listed.
	EntryKeys []string
	Transfers int // at most how many transfers will be tried
	refs      map[uuid.UUID]*ref
	refIDs    []uuid.UUID
}

const lockAccountsSQL = `SELECT id, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
	closed_at IS NOT NULL, debits_posted, credits_posted, debits_pending, credits_pending, owner, coalesce(metadata->>'campaign_id', '')
FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`

// LockAndRead queues spec's locks and reads into b; call Ready once b is
// read (its results go to the plan through b's callbacks).
func (l *Ledger) LockAndRead(b *pgx.Batch, spec LockSpec) *Plan {
	return lockAndRead(b, spec, l.opts.Freezes)
}

func lockAndRead(b *pgx.Batch, spec LockSpec, freezes Freezes) *Plan {
	p := &Plan{existing: map[string]prior{}, tried: map[string]*request{},
		sim: sim{accts: map[uuid.UUID]*acct{}, refs: spec.refs, used: map[uuid.UUID]bool{}}}
	if p.sim.refs == nil {
		p.sim.refs = map[uuid.UUID]*ref{}
	}
	b.Queue(lockAccountsSQL, raw(spec.Accounts)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			a := &acct{}
			var cur string
			if err := rows.Scan(&a.id, &cur, &a.flags.DebitsMustNotExceedCredits, &a.flags.CreditsMustNotExceedDebits,
				&a.closed, &a.dp, &a.cp, &a.dq, &a.cq, &a.owner, &a.campaign); err != nil {
				return fmt.Errorf("lock accounts: %w", err)
			}
			var err error
			if a.cur, err = money.Lookup(cur); err != nil {
				return err
			}
			p.sim.accts[a.id] = a
		}
		return rows.Err()
	})
	b.Queue(`SELECT clock_timestamp()`).QueryRow(func(row pgx.Row) error { return row.Scan(&p.sim.now) })
	frozen := freezes.QueueFrozen(b)
	if len(spec.EntryKeys) > 0 {
		b.Queue(`SELECT idempotency_key, id, request_hash FROM entries WHERE idempotency_key = ANY($1)`, spec.EntryKeys).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k string
				var e prior
				if err := rows.Scan(&k, &e.id, &e.hash); err != nil {
					return fmt.Errorf("scan key: %w", err)
				}
				p.existing[k] = e
			}
			return rows.Err()
		})
	}
	if spec.Transfers > 0 {
		b.Queue(`SELECT nextval('transfer_seq') FROM generate_series(1, $1::int)`, spec.Transfers).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var s int64
				if err := rows.Scan(&s); err != nil {
					return err
				}
				p.seqs = append(p.seqs, s)
			}
			return rows.Err()
		})
	}
	if len(spec.refIDs) > 0 {
		// Whether the referred transfers are already resolved or reversed:
		// read after the locks, which every resolver takes first.
		b.Queue(`SELECT pending_id, reverses_id FROM transfers WHERE pending_id = ANY($1) OR reverses_id = ANY($1)`, raw(spec.refIDs)).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var pid, rv *uuid.UUID
				if err := rows.Scan(&pid, &rv); err != nil {
					return err
				}
				if pid != nil {
					p.sim.used[*pid] = true
				}
				if rv != nil {
					p.sim.used[*rv] = true
				}
			}
			return rows.Err()
		})
	}
	p.frozen = frozen
	return p
}

// Ready finishes the plan once its batch has been read.
func (p *Plan) Ready() {
	for _, a := range p.sim.accts {
		a.frozen = p.frozen(a.id, a.owner, a.campaign)
	}
	sort.Slice(p.seqs, func(i, j int) bool { return p.seqs[i] < p.seqs[j] })
	p.sim.now = p.sim.now.UTC()
}

var errNoSequence = errors.New("ledger plan: more transfers tried than its LockSpec said")

// Try applies one request in memory after those tried before it, and
// returns its entry (Replayed where its key was already used for the same
// transfers) or why it was refused, leaving the state as it was.
func (p *Plan) Try(ctx context.Context, key string, transfers []TransferRequest, rec Recording) (Entry, error) {
	r, err := newRequest(ctx, key, transfers)
	if err != nil {
		return Entry{}, err
	}
	r.recording = rec
	p.try(r)
	return r.entry, r.err
}

func (p *Plan) try(r *request) {
	if e, ok := p.existing[r.key]; ok {
		if !bytes.Equal(e.hash, r.hash) {
			r.err = ErrIdempotencyConflict
			return
		}
		r.entry = Entry{ID: e.id, Replayed: true}
		p.replays = append(p.replays, r)
		return
	}
	if first, ok := p.tried[r.key]; ok && first.err == nil {
		// A copy of a request this plan took: its entry. (After one it
		// refused, the key is still free, as it would be alone: tried
		// afresh.)
		if !bytes.Equal(first.hash, r.hash) {
			r.err = ErrIdempotencyConflict
			return
		}
		r.entry = first.entry
		r.entry.Replayed = true
		return
	}
	p.tried[r.key] = r
	var seqErr error
	rows, err := p.sim.run(r, func() int64 {
		if len(p.seqs) == 0 {
			seqErr = errNoSequence
			return 0
		}
		v := p.seqs[0]
		p.seqs = p.seqs[1:]
		return v
	})
	if seqErr != nil {
		err = seqErr
	}
	if err != nil {
		r.err = err
		return
	}
	r.entry.ID = rows[0].t.EntryID
	r.entry.IdempotencyKey = r.key
	r.entry.CreatedAt = p.sim.now
	for _, rw := range rows {
		r.entry.Transfers = append(r.entry.Transfers, rw.t)
	}
	p.rows = append(p.rows, rows...)
	p.accepted = append(p.accepted, r)
}

// QueueWrites queues the accepted entries' writes into b (nothing if none
// was accepted).
func (p *Plan) QueueWrites(b *pgx.Batch) error {
	if len(p.accepted) == 0 {
		return nil
	}
	return queueWrites(b, p.accepted, p.rows, p.sim.accts, p.sim.now)
}

// QueueReplays queues the read of the entries of requests replayed from
// the database (committed rows, immutable); their outcomes are complete
// once the owner's next round trip is read.
func (p *Plan) QueueReplays(b *pgx.Batch) {
	if len(p.replays) == 0 {
		return
	}
	ids := make([]uuid.UUID, 0, len(p.replays))
	for _, r := range p.replays {
		ids = append(ids, r.entry.ID)
	}
	replays := p.replays
	p.replays = nil
	b.Queue(loadEntriesSQL, ids).Query(func(rows pgx.Rows) error {
		loaded := map[uuid.UUID]Entry{}
		if err := scanEntries(rows, loaded); err != nil {
			return err
		}
		for _, r := range replays {
			if e, ok := loaded[r.entry.ID]; ok {
				r.entry = e
				r.entry.Replayed = true
			}
		}
		return nil
	})
}
