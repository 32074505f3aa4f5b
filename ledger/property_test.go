package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// TestRandomOperationsKeepInvariants runs long random sequences of posted
// and pending transfers, posts (full and partial), voids, reversals,
// batches, retries and expiries against a small set of accounts, and checks
// after each step that every invariant holds and that the balances equal a
// model kept in the test.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runRandom(t, seed, 250)
		})
	}
}

type modelAcct struct{ dp, cp, dq, cq int64 }

func runRandom(t *testing.T, seed uint64, steps int) {
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 99))
	cny := money.MustLookup("CNY")
	ids := []uuid.UUID{account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})}
	flagged := map[uuid.UUID]bool{}
	for i := 0; i < 5; i++ {
		id := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
		ids = append(ids, id)
		flagged[id] = true
	}
	model := map[uuid.UUID]*modelAcct{}
	for _, id := range ids {
		model[id] = &modelAcct{}
	}
	type pend struct {
		id            uuid.UUID
		debit, credit uuid.UUID
		amount        int64
	}
	var pendings []pend
	var posted []ledger.Transfer
	var keys []string
	okModel := func() bool { // overdraft rule on the model
		for id, m := range model {
			if flagged[id] && m.dp+m.dq > m.cp {
				return false
			}
		}
		return true
	}
	pick := func() (uuid.UUID, uuid.UUID) {
		a := ids[rng.IntN(len(ids))]
		b := ids[rng.IntN(len(ids))]
		for b == a {
			b = ids[rng.IntN(len(ids))]
		}
		return a, b
	}
	for step := 0; step < steps; step++ {
		k := fmt.Sprintf("s%d-%d", seed, step)
		op := rng.IntN(7)
		switch {
		case op <= 1: // posted, or a batch of 1-4 posted
			n := 1
			if op == 1 {
				n = 1 + rng.IntN(4)
			}
			var ts []ledger.TransferRequest
			saved := map[uuid.UUID]modelAcct{}
			for i := 0; i < n; i++ {
				d, c := pick()
				if rng.IntN(3) == 0 {
					d, c = ids[0], ids[1+rng.IntN(len(ids)-1)] // the bank funds a wallet
				}
				a := int64(1 + rng.IntN(5000))
				ts = append(ts, ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: d, CreditAccountID: c, Amount: money.FromMinor(cny, a), Code: "move"})
				for _, id := range []uuid.UUID{d, c} {
					if _, ok := saved[id]; !ok {
						saved[id] = *model[id]
					}
				}
				model[d].dp += a
				model[c].cp += a
			}
			want := okModel()
			e, err := l.Submit(ctx, k, ts)
			if want != (err == nil) {
				t.Fatalf("step %d: batch of %d: err=%v, model says ok=%v", step, n, err, want)
			}
			if err != nil {
				if !errors.Is(err, ledger.ErrInsufficientFunds) {
					t.Fatalf("step %d: %v", step, err)
				}
				for id, m := range saved {
					*model[id] = m
				}
				continue
			}
			posted = append(posted, e.Transfers...)
			keys = append(keys, k)
		case op == 2: // pending
			d, c := pick()
			a := int64(1 + rng.IntN(5000))
			model[d].dq += a
			model[c].cq += a
			want := okModel()
			e, err := l.Submit(ctx, k, []ledger.TransferRequest{{Kind: ledger.KindPending, DebitAccountID: d, CreditAccountID: c, Amount: money.FromMinor(cny, a), Code: "commitment"}})
			if want != (err == nil) {
				t.Fatalf("step %d: pending: err=%v, model ok=%v", step, err, want)
			}
			if err != nil {
				model[d].dq -= a
				model[c].cq -= a
				continue
			}
			pendings = append(pendings, pend{e.Transfers[0].ID, d, c, a})
		case op == 3 && len(pendings) > 0: // post all or part
			i := rng.IntN(len(pendings))
			p := pendings[i]
			part := p.amount
			tr := ledger.TransferRequest{Kind: ledger.KindPostPending, PendingID: p.id}
			if rng.IntN(2) == 0 {
				part = 1 + rng.Int64N(p.amount)
				tr.PostAmount = written(decimal.New(part, -2).StringFixed(2))
			}
			model[p.debit].dq -= p.amount
			model[p.credit].cq -= p.amount
			model[p.debit].dp += part
			model[p.credit].cp += part
			if _, err := l.Submit(ctx, k, []ledger.TransferRequest{tr}); err != nil {
				t.Fatalf("step %d: post: %v", step, err)
			}
			pendings = append(pendings[:i], pendings[i+1:]...)
		case op == 4 && len(pendings) > 0: // void
			i := rng.IntN(len(pendings))
			p := pendings[i]
			model[p.debit].dq -= p.amount
			model[p.credit].cq -= p.amount
			if _, err := l.Submit(ctx, k, []ledger.TransferRequest{{Kind: ledger.KindVoidPending, PendingID: p.id}}); err != nil {
				t.Fatalf("step %d: void: %v", step, err)
			}
			// resolving twice always fails
			if _, err := l.Submit(ctx, k+"again", []ledger.TransferRequest{{Kind: ledger.KindVoidPending, PendingID: p.id}}); !errors.Is(err, ledger.ErrPendingResolved) {
				t.Fatalf("step %d: second void: %v", step, err)
			}
			pendings = append(pendings[:i], pendings[i+1:]...)
		case op == 5 && len(posted) > 0: // reverse a posted transfer
			i := rng.IntN(len(posted))
			orig := posted[i]
			a, _ := orig.Amount.Minor()
			model[orig.CreditAccountID].dp += a
			model[orig.DebitAccountID].cp += a
			want := okModel()
			_, err := l.Submit(ctx, k, []ledger.TransferRequest{{Kind: ledger.KindPosted, ReversesID: orig.ID}})
			if want != (err == nil) {
				t.Fatalf("step %d: reversal: err=%v, model ok=%v", step, err, want)
			}
			if err != nil {
				model[orig.CreditAccountID].dp -= a
				model[orig.DebitAccountID].cp -= a
				continue
			}
			posted = append(posted[:i], posted[i+1:]...)
		case op == 6 && len(keys) > 0: // a client retry changes nothing
			if _, err := l.EntryByKey(ctx, keys[rng.IntN(len(keys))]); err != nil {
				t.Fatalf("step %d: entry by key: %v", step, err)
			}
		}
		if step%25 == 0 || step == steps-1 {
			assertInvariants(t, l)
			for _, id := range ids {
				m := model[id]
				want := fmt.Sprintf("%s/%s/%s/%s", money.FromMinor(cny, m.dp), money.FromMinor(cny, m.cp), money.FromMinor(cny, m.dq), money.FromMinor(cny, m.cq))
				if got := balances(t, l, id); got != want {
					t.Fatalf("step %d: account %s = %s, model %s", step, id, got, want)
				}
			}
		}
	}
}
