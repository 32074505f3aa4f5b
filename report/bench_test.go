package report_test

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/report"
)

// BenchmarkStatement exports a 20,000-entry account in each format and
// reports the bytes allocated per entry: constant per entry (no
// accumulation), so a million-entry campaign streams in bounded memory.
//
//	go test ./report -run '^$' -bench BenchmarkStatement -benchtime 5x
func BenchmarkStatement(b *testing.B) {
	const entries = 20000
	f := newFixture(b)
	start := time.Now().Add(-time.Second)
	one, _ := money.Parse("CNY", "0.01")
	for i := 0; i < entries/ledger.MaxBatch; i++ {
		ts := make([]ledger.TransferRequest, ledger.MaxBatch)
		for j := range ts {
			ts[j] = ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: f.bank, CreditAccountID: f.esc, Amount: one, Code: "commitment"}
		}
		if _, err := f.ledger.Submit(f.ctx, uuid.NewString(), ts); err != nil {
			b.Fatal(err)
		}
	}
	end := time.Now().Add(time.Second)
	for _, format := range []string{report.JSON, report.CSV, report.Camt053} {
		b.Run(format, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := 0; i < b.N; i++ {
				if err := f.rep.Statement(f.ctx, io.Discard, f.esc, start, end, format); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N*entries), "B/entry")
			b.ReportMetric(float64(b.N*entries)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
