package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/ledger"
)

// newLedger gives the test a ledger on its own database and checks every
// invariant when the test ends.
func newLedger(t testing.TB, opts ledger.Options) (*ledger.Ledger, *pgtest.DB) {
	t.Helper()
	db := pgtest.NewDB(t)
	if opts.Freezes == nil {
		opts.Freezes = ledger.NoFreezes{} // the ledger alone: freeze orders are supervision's (its tests and the API's cover them)
	}
	l := ledger.New(db.Pool, opts)
	t.Cleanup(func() {
		l.Close()
		assertInvariants(t, l)
	})
	return l, db
}

func assertInvariants(t testing.TB, l *ledger.Ledger) {
	t.Helper()
	vs, err := l.Check(context.Background())
	if err != nil {
		t.Errorf("check invariants: %v", err)
		return
	}
	for _, v := range vs {
		t.Errorf("invariant broken: %s", v)
	}
}

var keySeq atomic.Int64

func key() string { return fmt.Sprintf("k-%d-%s", keySeq.Add(1), uuid.NewString()[:8]) }

func amt(t testing.TB, code, s string) money.Amount {
	t.Helper()
	a, err := money.Parse(code, s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func account(t testing.TB, l *ledger.Ledger, code string, kind ledger.AccountCode, flags ledger.Flags) uuid.UUID {
	t.Helper()
	a, _, err := l.CreateAccount(context.Background(), ledger.NewAccount{
		Currency: money.MustLookup(code), Code: kind, Flags: flags, IdempotencyKey: key(),
	})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	return a.ID
}

var noOverdraft = ledger.Flags{DebitsMustNotExceedCredits: true}

func post(t testing.TB, l *ledger.Ledger, debit, credit uuid.UUID, a money.Amount) ledger.Transfer {
	t.Helper()
	e, err := l.Submit(context.Background(), key(), []ledger.TransferRequest{{
		Kind: ledger.KindPosted, DebitAccountID: debit, CreditAccountID: credit, Amount: a, Code: "deposit",
	}})
	if err != nil {
		t.Fatalf("post %s: %v", a, err)
	}
	return e.Transfers[0]
}

func balances(t testing.TB, l *ledger.Ledger, id uuid.UUID) string {
	t.Helper()
	a, err := l.Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b := a.Balances
	return fmt.Sprintf("%s/%s/%s/%s", b.DebitsPosted, b.CreditsPosted, b.DebitsPending, b.CreditsPending)
}
