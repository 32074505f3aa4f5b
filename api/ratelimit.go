package api

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// RateLimit is the per-key request budget: a token bucket of Burst
// requests refilled at RPS. Zero RPS disables limiting.
type RateLimit struct {
	RPS   float64
	Burst int
}

// limiters holds one token bucket per API key. It lives in each process:
// a limit protects the service, it decides nothing about money, so several
// processes each enforcing their share is fine.
type limiters struct {
	cfg RateLimit
	mu  sync.Mutex
	m   map[uuid.UUID]*rate.Limiter
}

func (l *limiters) get(key uuid.UUID) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(l.cfg.RPS), l.cfg.Burst)
		l.m[key] = lim
	}
	return lim
}

// rateLimit refuses a key's requests past its budget with 429 and a
// Retry-After saying when the next one will be accepted.
func (s *server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.limits == nil {
			return next(c)
		}
		r := s.limits.get(principal(c).KeyID).Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			secs := int(math.Ceil(d.Seconds()))
			c.Response().Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
			return problem(http.StatusTooManyRequests, "rate_limited", "", fmt.Sprintf("too many requests for this key: retry in %s", d.Round(time.Millisecond)))
		}
		return next(c)
	}
}
