package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/crowdledger/crowdledger/ledger"
)

func TestPostedTransferMovesBalances(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	wallet := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	tr := post(t, l, bank, wallet, amt(t, "CNY", "1234.50"))
	if tr.Amount.String() != "1234.50" || tr.Kind != ledger.KindPosted || tr.Seq == 0 {
		t.Fatalf("transfer = %+v", tr)
	}
	if got, want := balances(t, l, bank), "1234.50/0.00/0.00/0.00"; got != want {
		t.Errorf("bank balances = %s, want %s", got, want)
	}
	if got, want := balances(t, l, wallet), "0.00/1234.50/0.00/0.00"; got != want {
		t.Errorf("wallet balances = %s, want %s", got, want)
	}
	got, err := l.Transfer(context.Background(), tr.ID)
	if err != nil || got.ID != tr.ID || !got.Amount.Equal(tr.Amount) {
		t.Fatalf("Transfer(%s) = %+v, %v", tr.ID, got, err)
	}
	if _, err := l.Transfer(context.Background(), wallet); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Errorf("unknown transfer: %v", err)
	}
}
