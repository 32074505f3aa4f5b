package api

import (
	"bytes"
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestPacedWriter: an export written through the pace arrives whole, in
// writes no larger than the burst, and no faster than the rate allows
// (a lower bound: a sleep is never shorter).
func TestPacedWriter(t *testing.T) {
	var out bytes.Buffer
	var writes []int
	sink := writerFunc(func(p []byte) (int, error) { writes = append(writes, len(p)); return out.Write(p) })
	pace := rate.NewLimiter(rate.Limit(100<<10), 16<<10) // 100 KiB/s, 16 KiB at once
	w := &pacedWriter{w: sink, pace: pace, ctx: context.Background()}
	body := bytes.Repeat([]byte("0123456789abcdef"), 3<<10) // 48 KiB
	start := time.Now()
	for i := 0; i < len(body); i += 20 << 10 { // in 20 KiB writes, as a bufio.Writer would hand them on
		if _, err := w.Write(body[i:min(i+20<<10, len(body))]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out.Bytes(), body) {
		t.Fatal("the paced export differs from what was written")
	}
	for _, n := range writes {
		if n > 16<<10 {
			t.Errorf("a write of %d bytes passed a 16 KiB burst", n)
		}
	}
	// 48 KiB at 100 KiB/s with 16 KiB allowed at once: at least 0.32 s.
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("48 KiB went out in %s at 100 KiB/s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&pacedWriter{w: sink, pace: rate.NewLimiter(1, 1), ctx: ctx}).Write([]byte("xy")); err == nil {
		t.Error("a paced write for a client that went away did not stop")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
