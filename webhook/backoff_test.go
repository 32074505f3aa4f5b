package webhook_test

import (
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/webhook"
)

// TestRetriesLastADay: even if every jitter came out at its shortest, a
// failing delivery is retried for more than 24 hours before it becomes a
// dead letter, and no wait is over an hour and a fifth.
func TestRetriesLastADay(t *testing.T) {
	var shortest, longest time.Duration
	for attempt := 1; attempt < webhook.MaxAttempts; attempt++ {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for i := 0; i < 200; i++ {
			d := webhook.Backoff(attempt)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo <= 0 || hi > 72*time.Minute {
			t.Fatalf("attempt %d waits %s to %s", attempt, lo, hi)
		}
		if attempt > 1 && lo == hi {
			t.Errorf("attempt %d has no jitter", attempt)
		}
		shortest += lo
		longest += hi
	}
	// The lowest bound, 0.8 of each nominal wait, must still pass a day.
	var nominal time.Duration
	for attempt := 1; attempt < webhook.MaxAttempts; attempt++ {
		nominal += min(time.Duration(1<<min(attempt, 12))*time.Second, time.Hour)
	}
	if floor := nominal * 8 / 10; floor < 24*time.Hour {
		t.Errorf("retries could end after %s, before a day", floor)
	}
	t.Logf("retries span %s to %s (sampled)", shortest.Round(time.Minute), longest.Round(time.Minute))
}
