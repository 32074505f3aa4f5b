// Package batch is the group-commit queue the ledger's writer and the
// commitment batch share: callers hand in jobs, writers collect whatever
// is waiting (up to a maximum) and process it as one batch. What a batch
// does, and how its jobs learn their outcome, is the caller's.
package batch

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned for jobs handed in after Close.
var ErrClosed = errors.New("batcher closed")

// Batcher queues jobs of type J for its writers.
type Batcher[J any] struct {
	q       chan queued[J]
	max     int
	process func([]J)
	observe func(size int, waited time.Duration)
	mu      sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
}

type queued[J any] struct {
	job J
	at  time.Time
}

// Option configures a Batcher.
type Option func(*options)

type options struct {
	observe func(size int, waited time.Duration)
}

// Observe has fn called before each batch is processed with its size and
// how long its oldest job waited in the queue (for metrics).
func Observe(fn func(size int, waited time.Duration)) Option {
	return func(o *options) { o.observe = fn }
}

// New starts writers goroutines that call process with batches of at most
// max jobs, in arrival order. Call Close to stop them.
func New[J any](max, writers int, process func([]J), opts ...Option) *Batcher[J] {
	if max <= 0 {
		max = 256
	}
	if writers <= 0 {
		writers = 1
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	b := &Batcher[J]{q: make(chan queued[J], 4*max), max: max, process: process, observe: o.observe}
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
	case b.q <- queued[J]{job: j, at: time.Now()}:
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
		batch = append(batch[:0], first.job)
	collect:
		for len(batch) < b.max {
			select {
			case j, ok := <-b.q:
				if !ok {
					break collect
				}
				batch = append(batch, j.job)
			default:
				break collect
			}
		}
		if b.observe != nil {
			b.observe(len(batch), time.Since(first.at))
		}
		b.process(batch)
	}
}
