package api

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// RateLimit is a request budget: a token bucket of Burst requests refilled
// at RPS. Zero RPS disables limiting.
type RateLimit struct {
	RPS   float64
	Burst int
}

// limiters holds one token bucket per API key (or, for requests without
// a valid key, per client address). It lives in each process: a limit
// protects the service, it decides nothing about money, so several
// processes each enforcing their share is fine. Buckets that have refilled
// are dropped once there are many, so a flood of addresses cannot grow the
// map without bound.
type limiters[K comparable] struct {
	cfg RateLimit
	mu  sync.Mutex
	m   map[K]*rate.Limiter
}

const maxBuckets = 100_000

func newLimiters[K comparable](cfg RateLimit) *limiters[K] {
	if cfg.RPS <= 0 {
		return nil
	}
	return &limiters[K]{cfg: cfg, m: map[K]*rate.Limiter{}}
}

func (l *limiters[K]) get(key K) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxBuckets {
			for k, b := range l.m {
				if b.Tokens() >= float64(l.cfg.Burst) {
					delete(l.m, k)
				}
			}
		}
		lim = rate.NewLimiter(rate.Limit(l.cfg.RPS), l.cfg.Burst)
		l.m[key] = lim
	}
	return lim
}

// tooMany is the 429 for a bucket that would make the request wait d.
func tooMany(c echo.Context, d time.Duration, what string) error {
	c.Response().Header().Set("Retry-After", fmt.Sprint(max(int(math.Ceil(d.Seconds())), 1)))
	return problem(http.StatusTooManyRequests, "rate_limited", "", fmt.Sprintf("too many requests %s: retry in %s", what, d.Round(time.Millisecond)))
}

// take spends one token of the bucket, or says how long until one is there.
func take(lim *rate.Limiter) time.Duration {
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d
	}
	return 0
}

// anonLimit limits the public routes per client address.
func (s *server) anonLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.anon != nil {
			if d := take(s.anon.get(c.RealIP())); d > 0 {
				return tooMany(c, d, "from this address")
			}
		}
		return next(c)
	}
}

// rateLimit refuses a key's requests past its budget with 429 and a
// Retry-After saying when the next one will be accepted.
func (s *server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.limits == nil {
			return next(c)
		}
		if d := take(s.limits.get(principal(c).KeyID)); d > 0 {
			return tooMany(c, d, "for this key")
		}
		return next(c)
	}
}
