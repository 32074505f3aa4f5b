package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// TestHotAccountConcurrency: 64 goroutines post 500 transfers each into one
// escrow account, 10% of them retries of an earlier key. Every transfer
// lands exactly once and nothing errors.
func TestHotAccountConcurrency(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 64, 500
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	escrow := account(t, l, "CNY", ledger.CodeCampaignEscrow, ledger.Flags{})
	wallets := make([]uuid.UUID, workers)
	for i := range wallets {
		wallets[i] = account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
		post(t, l, bank, wallets[i], amt(t, "CNY", "100000.00"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	unique := make([]int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var keys []string
			for i := 0; i < perWorker; i++ {
				k := fmt.Sprintf("hot-%d-%d", w, i)
				isDup := len(keys) > 0 && rng.IntN(10) == 0
				if isDup {
					k = keys[rng.IntN(len(keys))]
				}
				e, err := l.Submit(ctx, k, []ledger.TransferRequest{{
					Kind: ledger.KindPosted, DebitAccountID: wallets[w], CreditAccountID: escrow,
					Amount: amt(t, "CNY", "0.01"), Code: "commitment",
				}})
				if err != nil {
					errs <- fmt.Errorf("worker %d transfer %d: %w", w, i, err)
					return
				}
				if isDup != e.Replayed {
					errs <- fmt.Errorf("worker %d key %s: replayed=%v, want %v", w, k, e.Replayed, isDup)
					return
				}
				if !isDup {
					keys = append(keys, k)
					unique[w]++
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for w, n := range unique {
		total += n
		want := fmt.Sprintf("%s/100000.00/0.00/0.00", money.FromMinor(money.MustLookup("CNY"), int64(n)))
		if got := balances(t, l, wallets[w]); got != want {
			t.Errorf("wallet %d = %s, want %s", w, got, want)
		}
	}
	want := fmt.Sprintf("0.00/%s/0.00/0.00", money.FromMinor(money.MustLookup("CNY"), int64(total)))
	if got := balances(t, l, escrow); got != want {
		t.Errorf("escrow = %s, want %s", got, want)
	}
	t.Logf("%d unique transfers, %d retries", total, workers*perWorker-total)
}

// TestTwoInstances runs two ledgers (two service processes) on one database,
// moving money back and forth between the same accounts, and then checks the
// invariants and that the total is conserved.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	l1, db := newLedger(t, ledger.Options{Writers: 2})
	l2 := ledger.New(db.Pool, ledger.Options{Writers: 2, Freezes: ledger.NoFreezes{}})
	defer l2.Close()
	ctx := context.Background()
	bank := account(t, l1, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	ws := make([]uuid.UUID, 6)
	for i := range ws {
		ws[i] = account(t, l1, "CNY", ledger.CodeInvestorWallet, noOverdraft)
		post(t, l1, bank, ws[i], amt(t, "CNY", "10.00"))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var unexpected []error
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			l := l1
			if g%2 == 1 {
				l = l2
			}
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for i := 0; i < 100; i++ {
				from, to := ws[rng.IntN(len(ws))], ws[rng.IntN(len(ws))]
				if from == to {
					continue
				}
				// Both instances submit some of the same keys at once.
				k := fmt.Sprintf("two-%d-%d", g/2, i)
				_, err := l.Submit(ctx, k, []ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: from, CreditAccountID: to,
					Amount: money.FromMinor(money.MustLookup("CNY"), int64(1+rng.IntN(300))), Code: "move"}})
				if err != nil && !errors.Is(err, ledger.ErrInsufficientFunds) && !errors.Is(err, ledger.ErrIdempotencyConflict) {
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	for _, err := range unexpected {
		t.Error(err)
	}
	sum := decimal.Zero
	for _, w := range ws {
		a, _ := l1.Account(ctx, w)
		sum = sum.Add(a.Balances.CreditsPosted.Decimal()).Sub(a.Balances.DebitsPosted.Decimal())
	}
	if !sum.Equal(decimal.NewFromInt(60)) {
		t.Errorf("wallets hold %s, want 60", sum)
	}
}
