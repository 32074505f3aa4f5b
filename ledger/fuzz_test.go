package ledger

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/money"
)

// FuzzValidate checks that request validation never panics, that a valid
// request hashes the same twice, and that metadata comes out canonical.
func FuzzValidate(f *testing.F) {
	f.Add("posted", "12.50", "deposit", []byte(`{"b":1,"a":2}`), int64(0), "0")
	f.Add("pending", "1", "commitment", []byte(`{}`), int64(3600), "0")
	f.Add("post_pending", "", "", []byte(``), int64(0), "5.5")
	f.Add("void_pending", "", "x", []byte(`[1]`), int64(-1), "-1")
	f.Fuzz(func(t *testing.T, kind, amount, code string, metadata []byte, timeout int64, post string) {
		tr := TransferRequest{Kind: Kind(kind), Code: code, Metadata: metadata, Timeout: time.Duration(timeout) * time.Second}
		if a, err := money.Parse("CNY", amount); err == nil {
			tr.Amount = a
			tr.DebitAccountID, tr.CreditAccountID = uuid.New(), uuid.New()
		}
		if d, err := money.ParseWritten(post); err == nil {
			tr.PostAmount = d
			tr.PendingID = uuid.New()
		}
		ts := []TransferRequest{tr}
		if err := validateTransfers(ts); err != nil {
			return
		}
		if string(requestHash(ts)) != string(requestHash(ts)) {
			t.Fatal("hash is not deterministic")
		}
		again, err := canonicalMetadata(ts[0].Metadata)
		if err != nil || string(again) != string(ts[0].Metadata) {
			t.Fatalf("metadata not canonical: %s -> %s, %v", ts[0].Metadata, again, err)
		}
	})
}
