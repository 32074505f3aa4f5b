package ledger

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

// FuzzSimulator drives the in-memory simulator with no database, the way
// TigerBeetle tests its state machine: random accounts with overdraft flags,
// a frozen and a closed one, and random requests of one to three transfers
// (posted, pending, posting or voiding a pending one, reversing a posted
// one). After every request: debits equal credits, posted and pending; no
// flag is broken; no frozen account pays out; a refused request leaves the
// state exactly as it was, and an accepted one produced one row per
// transfer. `make fuzz` runs it; the seeds run in every test run.
func FuzzSimulator(f *testing.F) {
	for _, seed := range []string{"", "\x00\x01\x02\x03", "\x10\x20\x30\x40\x50\x60\x70\x80\x90", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cny := money.MustLookup("CNY")
		s := &sim{accts: map[uuid.UUID]*acct{}, refs: map[uuid.UUID]*ref{}, used: map[uuid.UUID]bool{}, now: time.Now().UTC()}
		var ids []uuid.UUID
		for i, fl := range []Flags{{}, {DebitsMustNotExceedCredits: true}, {DebitsMustNotExceedCredits: true}, {CreditsMustNotExceedDebits: true},
			{DebitsMustNotExceedCredits: true}, {}} {
			a := &acct{id: uuid.New(), cur: cny, flags: fl, owner: fmt.Sprint("party:", i)}
			a.closed = i == 5
			a.frozen = i == 4
			s.accts[a.id] = a
			ids = append(ids, a.id)
		}
		var made []Transfer // transfers accepted so far, which later requests may resolve or reverse
		seq := int64(0)
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for n := 0; len(data) > 0 && n < 200; n++ {
			var ts []TransferRequest
			for k := 0; k < 1+int(next()%3); k++ {
				op, x, y, amt := next()%5, ids[int(next())%len(ids)], ids[int(next())%len(ids)], decimal.New(1+int64(next())*7, -2)
				a, _ := money.FromDecimal(cny, amt)
				switch {
				case op <= 1 || len(made) == 0:
					kind := KindPosted
					if op == 1 {
						kind = KindPending
					}
					ts = append(ts, TransferRequest{Kind: kind, DebitAccountID: x, CreditAccountID: y, Amount: a, Code: "fuzz"})
				case op == 2 || op == 3:
					p := made[int(next())%len(made)]
					kind := KindPostPending
					if op == 3 {
						kind = KindVoidPending
					}
					ts = append(ts, TransferRequest{Kind: kind, PendingID: p.ID})
				default:
					ts = append(ts, TransferRequest{Kind: KindPosted, ReversesID: made[int(next())%len(made)].ID})
				}
			}
			r, err := newRequest(context.Background(), fmt.Sprint("k", n), ts)
			if err != nil {
				continue // refused before the simulator: not its concern
			}
			before, usedBefore := snapshot(s), maps.Clone(s.used)
			rows, err := s.run(r, func() int64 { seq++; return seq })
			if err != nil {
				if after := snapshot(s); !maps.Equal(after, before) || !maps.Equal(s.used, usedBefore) {
					t.Fatalf("request %d refused (%v) but the state changed", n, err)
				}
				continue
			}
			if len(rows) != len(ts) {
				t.Fatalf("request %d: %d rows for %d transfers", n, len(rows), len(ts))
			}
			for _, rw := range rows {
				if s.accts[rw.t.DebitAccountID].frozen && rw.t.Kind != KindVoidPending {
					t.Fatalf("request %d: money left frozen account %s (%s)", n, rw.t.DebitAccountID, rw.t.Kind)
				}
				made = append(made, rw.t)
				s.refs[rw.t.ID] = &ref{id: rw.t.ID, debit: rw.t.DebitAccountID, credit: rw.t.CreditAccountID, kind: rw.t.Kind,
					cur: cny, amount: rw.t.Amount.Decimal(), code: rw.t.Code}
			}
			checkBalanced(t, n, s)
		}
	})
}

func snapshot(s *sim) map[uuid.UUID]string {
	out := map[uuid.UUID]string{}
	for id, a := range s.accts {
		out[id] = fmt.Sprint(a.dp, a.cp, a.dq, a.cq)
	}
	return out
}

func checkBalanced(t *testing.T, n int, s *sim) {
	t.Helper()
	var dp, cp, dq, cq decimal.Decimal
	for _, a := range s.accts {
		dp, cp, dq, cq = dp.Add(a.dp), cp.Add(a.cp), dq.Add(a.dq), cq.Add(a.cq)
		if a.dp.Sign() < 0 || a.cp.Sign() < 0 || a.dq.Sign() < 0 || a.cq.Sign() < 0 {
			t.Fatalf("after request %d account %s has a negative side: %s %s %s %s", n, a.id, a.dp, a.cp, a.dq, a.cq)
		}
		if a.flags.DebitsMustNotExceedCredits && a.dp.Add(a.dq).Cmp(a.cp) > 0 {
			t.Fatalf("after request %d account %s is overdrawn: debits %s + %s > credits %s", n, a.id, a.dp, a.dq, a.cp)
		}
		if a.flags.CreditsMustNotExceedDebits && a.cp.Add(a.cq).Cmp(a.dp) > 0 {
			t.Fatalf("after request %d account %s has credits over debits", n, a.id)
		}
	}
	if !dp.Equal(cp) || !dq.Equal(cq) {
		t.Fatalf("after request %d the books do not balance: posted %s/%s, pending %s/%s", n, dp, cp, dq, cq)
	}
}
