package ledger

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

// The simulator: requests applied to locked account state in memory, in
// order, all or nothing per request. It reads and writes no database, so
// its rules (overdraft flags, closed and frozen accounts, pending
// resolution, reversal) are tested and fuzzed without one; Plan feeds it
// what the locks read and writes what it produced.

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
