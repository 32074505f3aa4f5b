package batch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/internal/batch"
)

// TestBatcher: every job submitted before Close is processed exactly once,
// in batches of at most max, jobs of one submitter in order; after Close
// Submit fails.
func TestBatcher(t *testing.T) {
	for _, tc := range []struct {
		name         string
		max, writers int
	}{{"one writer", 8, 1}, {"three writers", 5, 3}, {"batches of one", 1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[int]int{}
			var tooBig atomic.Bool
			b := batch.New(tc.max, tc.writers, func(jobs []int) {
				if len(jobs) > tc.max {
					tooBig.Store(true)
				}
				time.Sleep(time.Millisecond) // let jobs pile up into batches
				mu.Lock()
				for _, j := range jobs {
					seen[j]++
				}
				mu.Unlock()
			})
			var wg sync.WaitGroup
			for s := range 10 {
				wg.Go(func() {
					for i := range 50 {
						if err := b.Submit(context.Background(), s*1000+i); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			b.Close()
			if len(seen) != 500 || tooBig.Load() {
				t.Errorf("%d distinct jobs processed (want 500), a batch over %d: %v", len(seen), tc.max, tooBig.Load())
			}
			for j, n := range seen {
				if n != 1 {
					t.Errorf("job %d processed %d times", j, n)
				}
			}
			if err := b.Submit(context.Background(), 1); !errors.Is(err, batch.ErrClosed) {
				t.Errorf("submit after close: %v", err)
			}
		})
	}
}
