package ledger_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// BenchmarkPost measures transfers per second through Submit with 64
// concurrent callers: into distinct accounts, into ONE hot account, and in
// batches of 100. It reports transfers/s and the p50/p99 latency of one
// Submit call. Compare with pgbench on the same machine (see README).
//
//	go test ./ledger -run '^$' -bench BenchmarkPost -benchtime 20000x
func BenchmarkPost(b *testing.B) {
	for _, sc := range []struct {
		name  string
		hot   bool
		batch int
	}{{"distinct", false, 1}, {"hot", true, 1}, {"batch100", false, 100}} {
		b.Run(sc.name, func(b *testing.B) { benchPost(b, sc.hot, sc.batch) })
	}
}

const benchClients = 64

func benchPost(b *testing.B, hot bool, batch int) {
	l, _ := newLedger(b, ledger.Options{Writers: benchWriters})
	ctx := context.Background()
	cny := money.MustLookup("CNY")
	bank := account(b, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	escrow := account(b, l, "CNY", ledger.CodeCampaignEscrow, ledger.Flags{})
	wallets := make([]uuid.UUID, benchClients)
	targets := make([]uuid.UUID, benchClients)
	for i := range wallets {
		wallets[i] = account(b, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
		post(b, l, bank, wallets[i], amt(b, "CNY", "100000000.00"))
		targets[i] = escrow
		if !hot {
			targets[i] = account(b, l, "CNY", ledger.CodeCampaignEscrow, ledger.Flags{})
		}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	run := fmt.Sprint(time.Now().UnixNano())
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			ts := make([]ledger.TransferRequest, batch)
			for i := range ts {
				ts[i] = ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: wallets[c], CreditAccountID: targets[c],
					Amount: money.FromMinor(cny, 1), Code: "commitment"}
			}
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := l.Submit(ctx, fmt.Sprintf("b-%s-%d", run, n), ts); err != nil {
					b.Error(err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		b.ReportMetric(float64(len(all)*batch)/elapsed.Seconds(), "transfers/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// benchWriters is Options.Writers for the benchmark; BENCH_WRITERS=2 compares
// two writers with the default one.
var benchWriters, _ = strconv.Atoi(os.Getenv("BENCH_WRITERS"))
