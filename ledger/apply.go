package ledger

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// request is one caller's request on its way through a batch.
type request struct {
	ctx  context.Context
	key  string
	hash []byte
	ts   []TransferRequest
	done chan struct{}
	// receipt, if set, is the client's answer to store with the entry.
	receipt *idempotency.Receipt[Entry]

	entry Entry
	err   error
}

// acct is a locked account's state during a batch.
type acct struct {
	id             uuid.UUID
	cur            money.Currency
	flags          Flags
	closed         bool
	frozen         bool // a freeze order is in force: no money may leave
	owner          string
	campaign       string
	dp, cp, dq, cq decimal.Decimal // debits/credits posted, debits/credits pending
	touched        bool
}

// ref is a transfer that a request refers to (a pending transfer to
// resolve, or a transfer to reverse). Transfers are immutable, so it is read
// without a lock; whether it is already resolved is read after the locks.
type ref struct {
	id, debit, credit uuid.UUID
	kind              Kind
	cur               money.Currency
	amount            decimal.Decimal
	code              string
	expiresAt         *time.Time
}

// row is a transfer about to be inserted, with the after-balances of both sides.
type row struct {
	t           Transfer
	debitAfter  acct
	creditAfter acct
}

const lockAccountsSQL = `SELECT id, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
	closed_at IS NOT NULL, debits_posted, credits_posted, debits_pending, credits_pending, owner, coalesce(metadata->>'campaign_id', '')
FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`

// querier is what apply needs from a connection or transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// apply runs a batch of requests. Each request's outcome is set on it
// (entry or err); the returned error is for the batch as a whole (the
// database failed), in which case no outcome may be trusted. apply resets
// outcomes first, so a retry starts clean.
//
// With own set, q is a bare connection and apply runs its own transaction:
// BEGIN rides in the first statement pipeline and COMMIT in the last, so a
// batch costs two round trips. On error the caller must ROLLBACK. Without
// own, q is the caller's transaction, and then, if set, queues the caller's
// statements behind the ledger's writes, in the same round trip, once every
// outcome is set.
func apply(ctx context.Context, q querier, reqs []*request, own bool, then func(*pgx.Batch) error) error {
	for _, r := range reqs {
		r.entry, r.err = Entry{}, nil
		if r.receipt != nil {
			r.receipt.Stored = false
		}
	}

	// 1. Transfers referred to by post/void/reverse requests.
	refs := map[uuid.UUID]*ref{}
	var refIDs []uuid.UUID
	total := 0
	for _, r := range reqs {
		total += len(r.ts)
		for _, t := range r.ts {
			for _, id := range []uuid.UUID{t.PendingID, t.ReversesID} {
				if id != uuid.Nil {
					if _, ok := refs[id]; !ok {
						refs[id] = nil
						refIDs = append(refIDs, id)
					}
				}
			}
		}
	}
	if len(refIDs) > 0 {
		if err := loadRefs(ctx, q, refIDs, refs); err != nil {
			return err
		}
	}

	// 2. Every account touched, locked once, in id order: batches never deadlock each other.
	idSet := map[uuid.UUID]bool{}
	keys := make([]string, 0, len(reqs))
	for _, r := range reqs {
		keys = append(keys, r.key)
		for _, t := range r.ts {
			for _, id := range []uuid.UUID{t.DebitAccountID, t.CreditAccountID} {
				if id != uuid.Nil {
					idSet[id] = true
				}
			}
			for _, id := range []uuid.UUID{t.PendingID, t.ReversesID} {
				if rf := refs[id]; rf != nil {
					idSet[rf.debit], idSet[rf.credit] = true, true
				}
			}
		}
	}
	ids := make([]uuid.UUID, 0, len(idSet))
	for id := range idSet {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })

	b := &pgx.Batch{}
	if own {
		b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	}
	b.Queue(lockAccountsSQL, raw(ids))
	b.Queue(`SELECT clock_timestamp()`)
	// Freeze orders in force (a short list: read whole, matched in memory).
	b.Queue(`SELECT target_type, target_id::text FROM freezes WHERE lifted_at IS NULL`)
	b.Queue(`SELECT idempotency_key, id, request_hash FROM entries WHERE idempotency_key = ANY($1)`, keys)
	b.Queue(`SELECT nextval('transfer_seq') FROM generate_series(1, $1::int)`, total)
	if len(refIDs) > 0 {
		b.Queue(`SELECT pending_id, reverses_id FROM transfers WHERE pending_id = ANY($1) OR reverses_id = ANY($1)`, raw(refIDs))
	}
	// Clients' keys already answered (last: read when the batch closes).
	var receipts []idempotency.Request
	for _, r := range reqs {
		if r.receipt != nil {
			receipts = append(receipts, r.receipt.Request)
		}
	}
	answered := idempotency.QueueCheck(b, receipts)
	accts := make(map[uuid.UUID]*acct, len(ids))
	var now time.Time
	existing := map[string]struct {
		id   uuid.UUID
		hash []byte
	}{}
	seqs := make([]int64, 0, total)
	used := map[uuid.UUID]bool{} // pending ids resolved / transfer ids reversed, in the DB or earlier in this batch
	err := func() error {
		br := q.SendBatch(ctx, b)
		defer br.Close()
		if own {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("lock accounts: %w", err)
		}
		for rows.Next() {
			a := &acct{}
			var cur string
			if err := rows.Scan(&a.id, &cur, &a.flags.DebitsMustNotExceedCredits, &a.flags.CreditsMustNotExceedDebits,
				&a.closed, &a.dp, &a.cp, &a.dq, &a.cq, &a.owner, &a.campaign); err != nil {
				return fmt.Errorf("scan account: %w", err)
			}
			if a.cur, err = money.Lookup(cur); err != nil {
				return err
			}
			accts[a.id] = a
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lock accounts: %w", err)
		}
		if err := br.QueryRow().Scan(&now); err != nil {
			return fmt.Errorf("clock: %w", err)
		}
		rows, err = br.Query()
		if err != nil {
			return fmt.Errorf("freezes: %w", err)
		}
		for rows.Next() {
			var typ, target string
			if err := rows.Scan(&typ, &target); err != nil {
				return err
			}
			for _, a := range accts {
				switch {
				case typ == "account" && a.id.String() == target,
					typ == "party" && a.owner == "party:"+target,
					typ == "campaign" && a.campaign == target:
					a.frozen = true
				}
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("freezes: %w", err)
		}
		rows, err = br.Query()
		if err != nil {
			return fmt.Errorf("idempotency keys: %w", err)
		}
		for rows.Next() {
			var k string
			var e struct {
				id   uuid.UUID
				hash []byte
			}
			if err := rows.Scan(&k, &e.id, &e.hash); err != nil {
				return fmt.Errorf("scan key: %w", err)
			}
			existing[k] = e
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("idempotency keys: %w", err)
		}
		rows, err = br.Query()
		if err != nil {
			return fmt.Errorf("sequence: %w", err)
		}
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				return err
			}
			seqs = append(seqs, s)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sequence: %w", err)
		}
		if len(refIDs) > 0 {
			rows, err = br.Query()
			if err != nil {
				return fmt.Errorf("resolutions: %w", err)
			}
			for rows.Next() {
				var p, rv *uuid.UUID
				if err := rows.Scan(&p, &rv); err != nil {
					return err
				}
				if p != nil {
					used[*p] = true
				}
				if rv != nil {
					used[*rv] = true
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("resolutions: %w", err)
			}
		}
		return br.Close()
	}()
	if err != nil {
		return err
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	now = now.UTC()

	// 3. Replays and conflicts.
	var replayIDs []uuid.UUID
	firstByKey := map[string]*request{}
	var dups []*request
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
		if e, ok := existing[r.key]; ok {
			if !bytes.Equal(e.hash, r.hash) {
				r.err = ErrIdempotencyConflict
				continue
			}
			r.entry.ID = e.id
			r.entry.Replayed = true
			replayIDs = append(replayIDs, e.id)
			continue
		}
		if _, ok := firstByKey[r.key]; ok {
			dups = append(dups, r)
			continue
		}
		firstByKey[r.key] = r
	}

	// 4. Simulate in order against the locked balances.
	s := &sim{accts: accts, refs: refs, used: used, now: now}
	var out []row
	var newEntries []*request
	for _, r := range reqs {
		if r.err != nil || r.entry.Replayed || firstByKey[r.key] != r {
			continue
		}
		rows, err := s.run(r, func() int64 { v := seqs[0]; seqs = seqs[1:]; return v })
		if err != nil {
			r.err = err
			continue
		}
		r.entry.ID = rows[0].t.EntryID
		r.entry.IdempotencyKey = r.key
		r.entry.CreatedAt = now
		for _, rw := range rows {
			r.entry.Transfers = append(r.entry.Transfers, rw.t)
		}
		out = append(out, rows...)
		newEntries = append(newEntries, r)
	}
	for _, r := range dups {
		first := firstByKey[r.key]
		switch {
		case !bytes.Equal(first.hash, r.hash):
			r.err = ErrIdempotencyConflict
		case first.err != nil:
			r.err = first.err
		default:
			r.entry = first.entry
			r.entry.Replayed = true
		}
	}

	// Replayed entries are committed rows, immutable: read them after our
	// own commit (not holding the locks), or before the writes when the
	// caller's statements need every outcome.
	loadReplays := func() error {
		if len(replayIDs) == 0 {
			return nil
		}
		loaded, err := loadEntries(ctx, q, replayIDs)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if r.entry.Replayed && r.entry.Transfers == nil {
				if e, ok := loaded[r.entry.ID]; ok {
					r.entry = e
					r.entry.Replayed = true
				}
			}
		}
		replayIDs = nil
		return nil
	}
	if then != nil {
		if err := loadReplays(); err != nil {
			return err
		}
	}

	// 5. Write (and commit, when the transaction is ours).
	if len(out) > 0 {
		if err := write(ctx, q, newEntries, out, accts, now, own, then); err != nil {
			return err
		}
	} else if own || then != nil {
		b := &pgx.Batch{}
		if then != nil {
			if err := then(b); err != nil {
				return err
			}
		}
		if own {
			b.Queue(`COMMIT`)
		}
		if b.Len() > 0 {
			if err := q.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
	}
	return loadReplays()
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

// sim applies requests to in-memory account state, all or nothing per request.
type sim struct {
	accts map[uuid.UUID]*acct
	refs  map[uuid.UUID]*ref
	used  map[uuid.UUID]bool
	now   time.Time
}

func (s *sim) run(r *request, nextSeq func() int64) ([]row, error) {
	saved := map[uuid.UUID]acct{}
	var marked []uuid.UUID
	undo := func() {
		for id, a := range saved {
			*s.accts[id] = a
		}
		for _, id := range marked {
			delete(s.used, id)
		}
	}
	entryID := newID()
	rows := make([]row, 0, len(r.ts))
	for i, t := range r.ts {
		rw, mark, err := s.one(t, saved)
		if err != nil {
			undo()
			if len(r.ts) == 1 {
				return nil, err
			}
			return nil, &TransferError{Index: i, Err: err}
		}
		if mark != uuid.Nil {
			s.used[mark] = true
			marked = append(marked, mark)
		}
		rw.t.ID = newID()
		rw.t.Seq = nextSeq()
		rw.t.EntryID = entryID
		rw.t.Index = i
		rw.t.CreatedAt = s.now
		rows = append(rows, rw)
	}
	return rows, nil
}

// one applies a single transfer. It returns the row, and the id of the
// transfer it resolves or reverses (to mark as used).
func (s *sim) one(t TransferRequest, saved map[uuid.UUID]acct) (row, uuid.UUID, error) {
	var (
		rw            row
		mark          uuid.UUID
		debit, credit = t.DebitAccountID, t.CreditAccountID
		cur           = t.Amount.Currency()
		amount        = t.Amount.Decimal()
		code          = t.Code
	)
	out := &rw.t
	out.Kind = t.Kind
	out.Metadata = t.Metadata

	var pend *ref
	switch {
	case t.Kind == KindPostPending || t.Kind == KindVoidPending:
		pend = s.refs[t.PendingID]
		switch {
		case pend == nil:
			return rw, mark, refErr("pending_id", ErrPendingNotFound)
		case pend.kind != KindPending:
			return rw, mark, refErr("pending_id", ErrNotPending)
		case s.used[pend.id]:
			return rw, mark, refErr("pending_id", ErrPendingResolved)
		case t.Kind == KindPostPending && pend.expiresAt != nil && !s.now.Before(*pend.expiresAt):
			return rw, mark, refErr("pending_id", ErrPendingExpired)
		case (debit != uuid.Nil && debit != pend.debit) || (credit != uuid.Nil && credit != pend.credit):
			return rw, mark, refErr("pending_id", ErrPendingMismatch)
		}
		debit, credit, cur = pend.debit, pend.credit, pend.cur
		amount = pend.amount
		if t.Kind == KindPostPending && !t.PostAmount.IsZero() {
			a, err := t.PostAmount.In(cur)
			if err != nil {
				return rw, mark, fieldErr("amount", err)
			}
			if a.Decimal().Cmp(pend.amount) > 0 {
				return rw, mark, refErr("amount", ErrExceedsPending)
			}
			amount = a.Decimal()
		}
		if code == "" {
			code = pend.code
		}
		id := pend.id
		out.PendingID = &id
		mark = pend.id
	case t.ReversesID != uuid.Nil:
		orig := s.refs[t.ReversesID]
		switch {
		case orig == nil:
			return rw, mark, refErr("reverses_id", ErrTransferNotFound)
		case orig.kind != KindPosted && orig.kind != KindPostPending:
			return rw, mark, refErr("reverses_id", ErrNotReversible)
		case s.used[orig.id] || orig.amount.IsZero():
			if orig.amount.IsZero() {
				return rw, mark, refErr("reverses_id", ErrNotReversible)
			}
			return rw, mark, refErr("reverses_id", ErrAlreadyReversed)
		}
		debit, credit, cur, amount = orig.credit, orig.debit, orig.cur, orig.amount
		if code == "" {
			code = ReasonReversal
		}
		id := orig.id
		out.ReversesID = &id
		mark = orig.id
	}

	d, c := s.accts[debit], s.accts[credit]
	if d == nil {
		return rw, mark, refErr("debit_account_id", ErrAccountNotFound)
	}
	if c == nil {
		return rw, mark, refErr("credit_account_id", ErrAccountNotFound)
	}
	if d.cur != cur || c.cur != cur {
		return rw, mark, refErr("currency", fmt.Errorf("%w: transfer in %s, debit account in %s, credit account in %s", ErrCurrencyMismatch, cur, d.cur, c.cur))
	}
	if d.closed {
		return rw, mark, refErr("debit_account_id", ErrAccountClosed)
	}
	if c.closed {
		return rw, mark, refErr("credit_account_id", ErrAccountClosed)
	}
	// A freeze order stops money leaving an account: voiding a reservation
	// (which gives money back) is still allowed.
	if d.frozen && t.Kind != KindVoidPending {
		return rw, mark, refErr("debit_account_id", ErrAccountFrozen)
	}
	for _, a := range []*acct{d, c} {
		if _, ok := saved[a.id]; !ok {
			saved[a.id] = *a
		}
		a.touched = true
	}
	switch t.Kind {
	case KindPosted:
		d.dp = d.dp.Add(amount)
		c.cp = c.cp.Add(amount)
	case KindPending:
		d.dq = d.dq.Add(amount)
		c.cq = c.cq.Add(amount)
		if t.Timeout > 0 {
			exp := s.now.Add(t.Timeout)
			out.ExpiresAt = &exp
		}
	case KindPostPending:
		d.dq = d.dq.Sub(pend.amount)
		c.cq = c.cq.Sub(pend.amount)
		d.dp = d.dp.Add(amount)
		c.cp = c.cp.Add(amount)
	case KindVoidPending:
		d.dq = d.dq.Sub(pend.amount)
		c.cq = c.cq.Sub(pend.amount)
	}
	req, _ := money.FromDecimal(cur, amount)
	if err := d.checkFlags(req); err != nil {
		return rw, mark, err
	}
	if err := c.checkFlags(req); err != nil {
		return rw, mark, err
	}
	out.DebitAccountID, out.CreditAccountID = debit, credit
	out.Amount = req
	out.Code = code
	rw.debitAfter, rw.creditAfter = *d, *c
	return rw, mark, nil
}

// checkFlags is run after a transfer's effect is applied; the requested
// amount is only for the error message.
func (a *acct) checkFlags(requested money.Amount) error {
	if a.flags.DebitsMustNotExceedCredits && a.dp.Add(a.dq).Cmp(a.cp) > 0 {
		avail, _ := money.FromDecimal(a.cur, a.cp.Sub(a.dp).Sub(a.dq).Add(requested.Decimal()))
		return &InsufficientFundsError{Account: a.id, Available: avail, Requested: requested, kind: ErrInsufficientFunds}
	}
	if a.flags.CreditsMustNotExceedDebits && a.cp.Add(a.cq).Cmp(a.dp) > 0 {
		avail, _ := money.FromDecimal(a.cur, a.dp.Sub(a.cp).Sub(a.cq).Add(requested.Decimal()))
		return &InsufficientFundsError{Account: a.id, Available: avail, Requested: requested, kind: ErrExceedsDebits}
	}
	return nil
}

func write(ctx context.Context, q querier, reqs []*request, out []row, accts map[uuid.UUID]*acct, now time.Time, commit bool, then func(*pgx.Batch) error) error {
	b := &pgx.Batch{}
	pg.QueueCachedPlans(b) // inserts and updates only, from here on

	eIDs := make([]uuid.UUID, len(reqs))
	eKeys := make([]string, len(reqs))
	eHashes := make([][]byte, len(reqs))
	for i, r := range reqs {
		eIDs[i], eKeys[i], eHashes[i] = r.entry.ID, r.key, r.hash
	}
	b.Queue(`INSERT INTO entries (id, idempotency_key, request_hash, created_at)
		SELECT u.id, u.key, u.hash, $4 FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS u(id, key, hash)`,
		raw(eIDs), eKeys, eHashes, now)

	n := len(out)
	var (
		ids, entryIDs, debits, credits = make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
		seqs                           = make([]int64, n)
		idx                            = make([]int32, n)
		kinds, curs, codes, metas      = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		scales                         = make([]int16, n)
		amounts                        = make([]decimal.Decimal, n)
		pendings, reverses             = make([]*uuid.UUID, n), make([]*uuid.UUID, n)
		expires                        = make([]*time.Time, n)
	)
	m := 2 * n
	var (
		aeAcct, aeTransfer     = make([]uuid.UUID, 0, m), make([]uuid.UUID, 0, m)
		aeSeq                  = make([]int64, 0, m)
		aeSide                 = make([]string, 0, m)
		aeDP, aeCP, aeDQ, aeCQ = make([]decimal.Decimal, 0, m), make([]decimal.Decimal, 0, m), make([]decimal.Decimal, 0, m), make([]decimal.Decimal, 0, m)
	)
	for i, rw := range out {
		t := rw.t
		ids[i], entryIDs[i], debits[i], credits[i] = t.ID, t.EntryID, t.DebitAccountID, t.CreditAccountID
		seqs[i], idx[i] = t.Seq, int32(t.Index)
		kinds[i], curs[i], codes[i], metas[i] = string(t.Kind), t.Amount.Currency().Code(), t.Code, string(t.Metadata)
		scales[i] = int16(t.Amount.Currency().Scale())
		amounts[i] = t.Amount.Decimal()
		pendings[i], reverses[i], expires[i] = t.PendingID, t.ReversesID, t.ExpiresAt
		for _, side := range []struct {
			s string
			a acct
		}{{"D", rw.debitAfter}, {"C", rw.creditAfter}} {
			aeAcct = append(aeAcct, side.a.id)
			aeTransfer = append(aeTransfer, t.ID)
			aeSeq = append(aeSeq, t.Seq)
			aeSide = append(aeSide, side.s)
			aeDP, aeCP, aeDQ, aeCQ = append(aeDP, side.a.dp), append(aeCP, side.a.cp), append(aeDQ, side.a.dq), append(aeCQ, side.a.cq)
		}
	}
	b.Queue(`INSERT INTO transfers (id, seq, entry_id, entry_index, kind, debit_account_id, credit_account_id,
			currency, minor_units, amount, code, metadata, pending_id, reverses_id, expires_at, created_at)
		SELECT u.id, u.seq, u.entry_id, u.idx, u.kind, u.debit, u.credit, u.cur, u.scale, u.amount, u.code,
			u.meta::jsonb, u.pending, u.reverses, u.expires, $16
		FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::int4[], $5::text[], $6::uuid[], $7::uuid[], $8::text[],
			$9::int2[], $10::text[]::numeric[], $11::text[], $12::text[], $13::uuid[], $14::uuid[], $15::timestamptz[])
			AS u(id, seq, entry_id, idx, kind, debit, credit, cur, scale, amount, code, meta, pending, reverses, expires)`,
		raw(ids), seqs, raw(entryIDs), idx, kinds, raw(debits), raw(credits), curs, scales, pg.NumericText(amounts), codes, metas, rawNullable(pendings), rawNullable(reverses), expires, now)
	b.Queue(`INSERT INTO account_entries (account_id, seq, transfer_id, side, created_at,
			debits_posted, credits_posted, debits_pending, credits_pending)
		SELECT u.acct, u.seq, u.tid, u.side::"char", $9, u.dp, u.cp, u.dq, u.cq
		FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::text[], $5::text[]::numeric[], $6::text[]::numeric[], $7::text[]::numeric[], $8::text[]::numeric[])
			AS u(acct, seq, tid, side, dp, cp, dq, cq)`,
		raw(aeAcct), aeSeq, raw(aeTransfer), aeSide, pg.NumericText(aeDP), pg.NumericText(aeCP), pg.NumericText(aeDQ), pg.NumericText(aeCQ), now)

	var uID []uuid.UUID
	var uDP, uCP, uDQ, uCQ []decimal.Decimal
	for _, a := range accts {
		if a.touched {
			uID = append(uID, a.id)
			uDP, uCP, uDQ, uCQ = append(uDP, a.dp), append(uCP, a.cp), append(uDQ, a.dq), append(uCQ, a.cq)
		}
	}
	b.Queue(`UPDATE accounts a SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq, credits_pending = u.cq
		FROM unnest($1::uuid[], $2::text[]::numeric[], $3::text[]::numeric[], $4::text[]::numeric[], $5::text[]::numeric[]) AS u(id, dp, cp, dq, cq)
		WHERE a.id = u.id`, raw(uID), pg.NumericText(uDP), pg.NumericText(uCP), pg.NumericText(uDQ), pg.NumericText(uCQ))
	events := make([]audit.Event, 0, len(reqs))
	for _, r := range reqs {
		if !commit && recordedByCaller(r.ctx) {
			continue
		}
		e, err := entryEvent(r)
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	audit.QueueAppend(b, events)
	if err := queueReceipts(b, reqs); err != nil {
		return err
	}
	if commit {
		b.Queue(`COMMIT`)
	} else {
		pg.QueueCustomPlans(b) // the caller's transaction goes on
		if then != nil {
			if err := then(b); err != nil {
				return err
			}
		}
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return nil
}

// queueReceipts stores the answers of the new entries' commands with them.
func queueReceipts(b *pgx.Batch, reqs []*request) error {
	var keys []idempotency.Request
	var answers []idempotency.Response
	for _, r := range reqs {
		if r.receipt == nil {
			continue
		}
		resp, err := r.receipt.Render(r.entry)
		if err != nil {
			return fmt.Errorf("render the answer for %s: %w", r.key, err)
		}
		keys, answers = append(keys, r.receipt.Request), append(answers, resp)
		r.receipt.Stored, r.receipt.Answer = true, resp
	}
	idempotency.QueueSave(b, keys, answers)
	return nil
}

type recordedKey struct{}

// RecordedByCaller marks the ledger requests made with ctx as part of a
// command that appends its own audit event, in the same transaction, naming
// the transfers it moves (a commitment's "campaign.commit" names its pending
// transfer). The ledger then appends no "ledger.entry.post" for them, so
// the command is recorded once, not twice. It applies inside the caller's
// transaction only (ApplyTx, ApplyEachTx); Submit always records.
func RecordedByCaller(ctx context.Context) context.Context {
	return context.WithValue(ctx, recordedKey{}, true)
}

func recordedByCaller(ctx context.Context) bool {
	v, _ := ctx.Value(recordedKey{}).(bool)
	return v
}

type transferFacts struct {
	ID         string `json:"id"`
	Kind       Kind   `json:"kind"`
	Debit      string `json:"debit_account_id"`
	Credit     string `json:"credit_account_id"`
	Amount     string `json:"amount"`
	Currency   string `json:"currency"`
	Code       string `json:"code"`
	PendingID  string `json:"pending_id,omitempty"`
	ReversesID string `json:"reverses_id,omitempty"`
}

// entryEvent is the audit record of a committed entry: who posted it under
// which key, and every transfer with its amount.
func entryEvent(r *request) (audit.Event, error) {
	ids := make([]string, 0, 1+len(r.entry.Transfers))
	ids = append(ids, r.entry.ID.String())
	facts := struct {
		EntryID        string          `json:"entry_id"`
		IdempotencyKey string          `json:"idempotency_key"`
		Transfers      []transferFacts `json:"transfers"`
	}{EntryID: r.entry.ID.String(), IdempotencyKey: r.key, Transfers: make([]transferFacts, 0, len(r.entry.Transfers))}
	for _, t := range r.entry.Transfers {
		ids = append(ids, t.ID.String())
		f := transferFacts{ID: t.ID.String(), Kind: t.Kind, Debit: t.DebitAccountID.String(), Credit: t.CreditAccountID.String(),
			Amount: t.Amount.String(), Currency: t.Amount.Currency().Code(), Code: t.Code}
		if t.PendingID != nil {
			f.PendingID = t.PendingID.String()
		}
		if t.ReversesID != nil {
			f.ReversesID = t.ReversesID.String()
		}
		facts.Transfers = append(facts.Transfers, f)
	}
	return audit.New(r.ctx, "ledger.entry.post", ids, facts)
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
