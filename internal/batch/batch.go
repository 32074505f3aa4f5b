// Package batch is the group-commit queue the ledger's writer and the
// commitment batch share: callers hand in jobs, writers collect whatever
// is waiting (up to a maximum) and process it as one batch. What a batch
// does, and how its jobs learn their outcome, is the caller's.
package batch

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned for jobs handed in after Close.
var ErrClosed = errors.New("batcher closed")

// Batcher queues jobs of type J for its writers.
type Batcher[J any] struct {
	q       chan J
	max     int
	process func([]J)
	mu      sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
}

// New starts writers goroutines that call process with batches of at most
// max jobs, in arrival order. Call Close to stop them.
func New[J any](max, writers int, process func([]J)) *Batcher[J] {
	if max <= 0 {
		max = 256
	}
	if writers <= 0 {
		writers = 1
	}
	b := &Batcher[J]{q: make(chan J, 4*max), max: max, process: process}
	for range writers {
		b.wg.Go(b.write)
	}
	return b
}

// Submit queues j, waiting for room while ctx allows. It fails with
// ErrClosed after Close, or with ctx's error.
func (b *Batcher[J]) Submit(ctx context.Context, j J) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.q <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking jobs, lets the writers process every job already
// queued, and waits for them.
func (b *Batcher[J]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.q)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Batcher[J]) write() {
	batch := make([]J, 0, b.max)
	for first := range b.q {
		batch = append(batch[:0], first)
	collect:
		for len(batch) < b.max {
			select {
			case j, ok := <-b.q:
				if !ok {
					break collect
				}
				batch = append(batch, j)
			default:
				break collect
			}
		}
		b.process(batch)
	}
}
