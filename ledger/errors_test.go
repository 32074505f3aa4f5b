package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// TestRejectedTransfers checks each way a transfer can be refused: the
// specific error, the field named, and that nothing changed.
func TestRejectedTransfers(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	wallet := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	escrow := account(t, l, "CNY", ledger.CodeCampaignEscrow, noOverdraft)
	usd := account(t, l, "USD", ledger.CodeInvestorWallet, noOverdraft)
	capped := account(t, l, "CNY", ledger.CodeSuspense, ledger.Flags{CreditsMustNotExceedDebits: true})
	closed := account(t, l, "CNY", ledger.CodeInvestorWallet, ledger.Flags{})
	if _, err := l.CloseAccount(ctx, closed); err != nil {
		t.Fatal(err)
	}
	post(t, l, bank, wallet, amt(t, "CNY", "100.00"))
	posted := post(t, l, bank, escrow, amt(t, "CNY", "5.00"))
	before := snapshot(t, l, bank, wallet, escrow, usd, capped)

	cny := func(s string) money.Amount { return amt(t, "CNY", s) }
	tests := []struct {
		name  string
		tr    ledger.TransferRequest
		want  error
		field string
	}{
		{"overdraft by one fen", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: wallet, CreditAccountID: escrow, Amount: cny("100.01"), Code: "commitment"}, ledger.ErrInsufficientFunds, ""},
		{"pending overdraft", ledger.TransferRequest{Kind: ledger.KindPending, DebitAccountID: wallet, CreditAccountID: escrow, Amount: cny("100.01"), Code: "commitment"}, ledger.ErrInsufficientFunds, ""},
		{"credits exceed debits", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: capped, Amount: cny("1.00"), Code: "deposit"}, ledger.ErrExceedsDebits, ""},
		{"unknown debit account", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: uuid.New(), CreditAccountID: escrow, Amount: cny("1.00"), Code: "x"}, ledger.ErrAccountNotFound, "debit_account_id"},
		{"unknown credit account", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: uuid.New(), Amount: cny("1.00"), Code: "x"}, ledger.ErrAccountNotFound, "credit_account_id"},
		{"currency mismatch", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: usd, Amount: cny("1.00"), Code: "x"}, ledger.ErrCurrencyMismatch, "currency"},
		{"amount currency differs", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: wallet, Amount: amt(t, "USD", "1.00"), Code: "x"}, ledger.ErrCurrencyMismatch, "currency"},
		{"closed account", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: closed, Amount: cny("1.00"), Code: "x"}, ledger.ErrAccountClosed, "credit_account_id"},
		{"same account", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: bank, Amount: cny("1.00"), Code: "x"}, ledger.ErrSameAccount, "credit_account_id"},
		{"missing amount", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: wallet, Code: "x"}, ledger.ErrInvalid, "amount"},
		{"bad code", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: wallet, Amount: cny("1.00"), Code: "Drop Table"}, ledger.ErrInvalid, "code"},
		{"unknown kind", ledger.TransferRequest{Kind: "teleport", DebitAccountID: bank, CreditAccountID: wallet, Amount: cny("1.00"), Code: "x"}, ledger.ErrInvalid, "kind"},
		{"metadata not an object", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: wallet, Amount: cny("1.00"), Code: "x", Metadata: []byte(`[1]`)}, ledger.ErrInvalid, "metadata"},
		{"timeout on posted", ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: wallet, Amount: cny("1.00"), Code: "x", Timeout: time.Minute}, ledger.ErrInvalid, "timeout_seconds"},
		{"post unknown pending", ledger.TransferRequest{Kind: ledger.KindPostPending, PendingID: uuid.New()}, ledger.ErrPendingNotFound, "pending_id"},
		{"post a posted transfer", ledger.TransferRequest{Kind: ledger.KindPostPending, PendingID: posted.ID}, ledger.ErrNotPending, "pending_id"},
		{"void with amount", ledger.TransferRequest{Kind: ledger.KindVoidPending, PendingID: posted.ID, PostAmount: written("1")}, ledger.ErrInvalid, "amount"},
		{"reverse unknown", ledger.TransferRequest{Kind: ledger.KindPosted, ReversesID: uuid.New()}, ledger.ErrTransferNotFound, "reverses_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Submit(ctx, key(), []ledger.TransferRequest{tc.tr})
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			var fe *ledger.FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Errorf("error %v does not name field %q", err, tc.field)
			}
		})
	}
	if after := snapshot(t, l, bank, wallet, escrow, usd, capped); after != before {
		t.Errorf("balances changed by rejected transfers:\n before %s\n after  %s", before, after)
	}
	var ife *ledger.InsufficientFundsError
	_, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: wallet, CreditAccountID: escrow, Amount: cny("100.01"), Code: "commitment"}})
	if !errors.As(err, &ife) || ife.Available.String() != "100.00" || ife.Account != wallet {
		t.Errorf("insufficient funds detail = %+v", ife)
	}
}

func snapshot(t testing.TB, l *ledger.Ledger, ids ...uuid.UUID) string {
	s := ""
	for _, id := range ids {
		s += balances(t, l, id) + " "
	}
	return s
}

func TestBatchIsAtomicAndNamesTheFailingTransfer(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	a := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	b := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	post(t, l, bank, a, amt(t, "CNY", "10.00"))
	before := snapshot(t, l, bank, a, b)
	_, err := l.Submit(context.Background(), key(), []ledger.TransferRequest{
		{Kind: ledger.KindPosted, DebitAccountID: a, CreditAccountID: b, Amount: amt(t, "CNY", "6.00"), Code: "move"},
		{Kind: ledger.KindPosted, DebitAccountID: a, CreditAccountID: b, Amount: amt(t, "CNY", "6.00"), Code: "move"},
	})
	var te *ledger.TransferError
	if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("error = %v, want insufficient funds at index 1", err)
	}
	if after := snapshot(t, l, bank, a, b); after != before {
		t.Errorf("failed batch changed balances: %s -> %s", before, after)
	}
	e, err := l.Submit(context.Background(), key(), []ledger.TransferRequest{
		{Kind: ledger.KindPosted, DebitAccountID: a, CreditAccountID: b, Amount: amt(t, "CNY", "6.00"), Code: "move"},
		{Kind: ledger.KindPosted, DebitAccountID: b, CreditAccountID: a, Amount: amt(t, "CNY", "1.50"), Code: "move"},
	})
	if err != nil || len(e.Transfers) != 2 || e.Transfers[1].Index != 1 {
		t.Fatalf("batch = %+v, %v", e, err)
	}
	if got := balances(t, l, a); got != "6.00/11.50/0.00/0.00" {
		t.Errorf("a = %s", got)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	w := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	req := []ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: bank, CreditAccountID: w, Amount: amt(t, "CNY", "9.99"), Code: "deposit", Metadata: []byte(`{"b":1,"a":"x"}`)}}
	k := key()
	first, err := l.Submit(ctx, k, req)
	if err != nil || first.Replayed {
		t.Fatalf("first = %+v, %v", first, err)
	}
	// Same request, metadata keys in another order: the same request.
	req2 := []ledger.TransferRequest{req[0]}
	req2[0].Metadata = []byte(`{"a":"x", "b":1}`)
	again, err := l.Submit(ctx, k, req2)
	if err != nil || !again.Replayed || again.ID != first.ID || again.Transfers[0].ID != first.Transfers[0].ID {
		t.Fatalf("replay = %+v, %v; want entry %s", again, err, first.ID)
	}
	if string(again.Transfers[0].Metadata) != string(first.Transfers[0].Metadata) {
		t.Errorf("replayed metadata %s != %s", again.Transfers[0].Metadata, first.Transfers[0].Metadata)
	}
	diff := []ledger.TransferRequest{req[0]}
	diff[0].Amount = amt(t, "CNY", "10.00")
	if _, err := l.Submit(ctx, k, diff); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("different request under the same key: %v", err)
	}
	if got := balances(t, l, w); got != "0.00/9.99/0.00/0.00" {
		t.Errorf("wallet = %s, want one deposit", got)
	}
	byKey, err := l.EntryByKey(ctx, k)
	if err != nil || byKey.ID != first.ID {
		t.Errorf("EntryByKey = %+v, %v", byKey, err)
	}
	// Account creation is idempotent too.
	na := ledger.NewAccount{Currency: amt(t, "CNY", "1").Currency(), Code: ledger.CodeInvestorWallet, Owner: "investor:1", IdempotencyKey: "acct-1"}
	a1, created1, err1 := l.CreateAccount(ctx, na)
	a2, created2, err2 := l.CreateAccount(ctx, na)
	if err1 != nil || err2 != nil || !created1 || created2 || a1.ID != a2.ID {
		t.Fatalf("account replay: %v %v %v %v", created1, created2, err1, err2)
	}
	na.Owner = "investor:2"
	if _, _, err := l.CreateAccount(ctx, na); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Errorf("account key reuse: %v", err)
	}
}

func TestPendingPostVoidAndExpiry(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	w := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	esc := account(t, l, "CNY", ledger.CodeCampaignEscrow, noOverdraft)
	post(t, l, bank, w, amt(t, "CNY", "100.00"))
	pend := func(a string, timeout time.Duration) ledger.Transfer {
		e, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPending, DebitAccountID: w, CreditAccountID: esc, Amount: amt(t, "CNY", a), Code: "commitment", Timeout: timeout}})
		if err != nil {
			t.Fatalf("pending %s: %v", a, err)
		}
		return e.Transfers[0]
	}
	p1 := pend("30.00", 0)
	p2 := pend("50.00", 0)
	if got := balances(t, l, w); got != "0.00/100.00/80.00/0.00" {
		t.Fatalf("wallet after pendings = %s", got)
	}
	// Only 20.00 is available now.
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPending, DebitAccountID: w, CreditAccountID: esc, Amount: amt(t, "CNY", "20.01"), Code: "commitment"}}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("pending over available: %v", err)
	}
	// Post 25.00 of 30.00: 5.00 is released.
	e, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPostPending, PendingID: p1.ID, PostAmount: written("25")}})
	if err != nil || e.Transfers[0].Amount.String() != "25.00" || e.Transfers[0].Code != "commitment" {
		t.Fatalf("post part: %+v, %v", e, err)
	}
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindVoidPending, PendingID: p1.ID}}); !errors.Is(err, ledger.ErrPendingResolved) {
		t.Fatalf("second resolution: %v", err)
	}
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPostPending, PendingID: p2.ID, PostAmount: written("50.01")}}); !errors.Is(err, ledger.ErrExceedsPending) {
		t.Fatalf("post above pending: %v", err)
	}
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPostPending, PendingID: p2.ID, PostAmount: written("1.001")}}); !errors.Is(err, money.ErrAmountPrecision) {
		t.Fatalf("post with extra places: %v", err)
	}
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindVoidPending, PendingID: p2.ID}}); err != nil {
		t.Fatalf("void: %v", err)
	}
	if got := balances(t, l, w); got != "25.00/100.00/0.00/0.00" {
		t.Errorf("wallet after post and void = %s", got)
	}
	if got := balances(t, l, esc); got != "0.00/25.00/0.00/0.00" {
		t.Errorf("escrow = %s", got)
	}
	// A pending with a timeout cannot be posted once it has passed, and the sweeper voids it once.
	p3 := pend("10.00", time.Second)
	if p3.ExpiresAt == nil || !p3.ExpiresAt.Equal(p3.CreatedAt.Add(time.Second)) {
		t.Fatalf("expires_at = %v", p3.ExpiresAt)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPostPending, PendingID: p3.ID}}); !errors.Is(err, ledger.ErrPendingExpired) {
		t.Fatalf("post after timeout: %v", err)
	}
	other := ledger.New(db.Pool, ledger.Options{Freezes: ledger.NoFreezes{}}) // a second process sweeping at the same time
	defer other.Close()
	n1, err1 := l.ExpirePending(ctx, 100)
	n2, err2 := other.ExpirePending(ctx, 100)
	if err1 != nil || err2 != nil || n1+n2 != 1 {
		t.Fatalf("expired %d+%d, errors %v %v; want exactly one void", n1, n2, err1, err2)
	}
	if got := balances(t, l, w); got != "25.00/100.00/0.00/0.00" {
		t.Errorf("wallet after expiry = %s", got)
	}
}

// TestExpirySweepInPages: a sweep that hits its limit leaves the rest for
// the next, and a sweep that finished does not lose what expires later.
func TestExpirySweepInPages(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	w := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	esc := account(t, l, "CNY", ledger.CodeCampaignEscrow, ledger.Flags{})
	post(t, l, bank, w, amt(t, "CNY", "100.00"))
	pend := func() {
		if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPending, DebitAccountID: w, CreditAccountID: esc,
			Amount: amt(t, "CNY", "1.00"), Code: "commitment", Timeout: time.Second}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		pend()
	}
	time.Sleep(1100 * time.Millisecond)
	for i, want := range []int{2, 1, 0} {
		if n, err := l.ExpirePending(ctx, 2); err != nil || n != want {
			t.Fatalf("sweep %d voided %d (%v), want %d", i+1, n, err, want)
		}
	}
	pend()
	time.Sleep(1100 * time.Millisecond)
	if n, err := l.ExpirePending(ctx, 2); err != nil || n != 1 {
		t.Fatalf("sweep after a complete one voided %d (%v), want 1", n, err)
	}
	if got := balances(t, l, w); got != "0.00/100.00/0.00/0.00" {
		t.Errorf("wallet after expiry = %s", got)
	}
}

func TestReversal(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "JPY", ledger.CodeCustodyBank, ledger.Flags{})
	w := account(t, l, "JPY", ledger.CodeInvestorWallet, noOverdraft)
	w2 := account(t, l, "JPY", ledger.CodeInvestorWallet, noOverdraft)
	dep := post(t, l, bank, w, amt(t, "JPY", "1500"))
	e, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPosted, ReversesID: dep.ID}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Transfers[0]
	if r.DebitAccountID != w || r.CreditAccountID != bank || r.Amount.String() != "1500" || r.Code != ledger.ReasonReversal || *r.ReversesID != dep.ID {
		t.Fatalf("reversal = %+v", r)
	}
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPosted, ReversesID: dep.ID}}); !errors.Is(err, ledger.ErrAlreadyReversed) {
		t.Fatalf("second reversal: %v", err)
	}
	// A deposit already spent cannot be reversed past zero.
	dep2 := post(t, l, bank, w, amt(t, "JPY", "100"))
	post(t, l, w, w2, amt(t, "JPY", "60"))
	if _, err := l.Submit(ctx, key(), []ledger.TransferRequest{{Kind: ledger.KindPosted, ReversesID: dep2.ID}}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("reversal overdrawing: %v", err)
	}
}

// written is a partial-post amount as a client would write it.
func written(s string) money.Written {
	w, err := money.ParseWritten(s)
	if err != nil {
		panic(err)
	}
	return w
}
