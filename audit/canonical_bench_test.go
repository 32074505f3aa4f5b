package audit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/audit"
)

// BenchmarkCanonical: the chainer's per-event work in each form, for a
// commitment's event.
func BenchmarkCanonical(b *testing.B) {
	e := audit.Event{Seq: 123456, OccurredAt: time.Now(), Actor: audit.Actor{KeyID: uuid.New(), Role: "investor", Subject: uuid.NewString()},
		Action: "campaign.commit", ObjectIDs: []string{uuid.NewString(), uuid.NewString()}, RequestID: "8d5224c337d2ce481ee25763",
		Facts: json.RawMessage(`{"amount":"100.00","currency":"CNY","tier":"unit","quantity":1,"pending_transfer_id":"01a233c1-ba4a-70c1-a588-ab80f5bf334d","role":"follower"}`)}
	for _, form := range []int{audit.CanonV1, audit.CanonJCS} {
		e.Canon = form
		b.Run([]string{"", "v1", "jcs"}[form], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Canonical(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
