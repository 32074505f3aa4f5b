package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/auth"
)

const (
	ctxRequestID = "request_id"
	ctxLogger    = "logger"
	ctxPrincipal = "principal"
	ctxProblem   = "problem"
)

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// logger returns the request's logger, which carries its request id.
func logger(c echo.Context, fallback *zap.Logger) *zap.Logger {
	if l, ok := c.Get(ctxLogger).(*zap.Logger); ok {
		return l
	}
	return fallback
}

// accessLog gives the request a logger with its id and writes one line
// when it ends. It never logs bodies, headers or query strings: they may
// carry keys and personal data.
func (s *server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		l := s.log.With(zap.String("request_id", requestID(c)))
		c.Set(ctxLogger, l)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		fields := []zap.Field{
			zap.String("method", c.Request().Method),
			zap.String("route", c.Path()),
			zap.Int("status", c.Response().Status),
			zap.Duration("latency", time.Since(start)),
		}
		if p, ok := c.Get(ctxPrincipal).(auth.Principal); ok {
			fields = append(fields, zap.String("key_id", p.KeyID.String()), zap.String("role", string(p.Role)))
		}
		if sc := trace.SpanContextFromContext(c.Request().Context()); sc.IsValid() {
			fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
		}
		if id := c.Param("id"); id != "" { // the object the request concerns
			fields = append(fields, zap.String("object_id", id))
		}
		if p, ok := c.Get(ctxProblem).(Problem); ok {
			fields = append(fields, zap.String("code", p.Code))
			if p.Field != "" {
				fields = append(fields, zap.String("field", p.Field))
			}
		}
		l.Info("request", fields...)
		return nil
	}
}

func (s *server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				logger(c, s.log).Error("panic", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// authenticate requires a valid bearer key and records its principal.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			return auth.ErrUnauthenticated
		}
		token = strings.TrimSpace(token)
		// Every key not known in memory costs a query; an address whose
		// keys keep failing is held to its budget before the query.
		var bucket *rate.Limiter
		if s.anon != nil && !s.Keys.Known(token) {
			bucket = s.anon.get(c.RealIP())
			if bucket.Tokens() < 1 {
				return tooMany(c, time.Duration(float64(time.Second)/s.AnonRateLimit.RPS), "with keys that failed from this address")
			}
		}
		p, err := s.Keys.Authenticate(c.Request().Context(), token)
		if errors.Is(err, auth.ErrUnauthenticated) && bucket != nil {
			take(bucket)
		}
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, p)
		ctx := audit.WithActor(c.Request().Context(), audit.Actor{KeyID: p.KeyID, Role: string(p.Role), Subject: p.Subject}, requestID(c))
		c.SetRequest(c.Request().WithContext(ctx))
		c.Set(ctxLogger, logger(c, s.log).With(zap.String("key_id", p.KeyID.String())))
		return next(c)
	}
}

// requireRole refuses principals whose role the route does not list.
func requireRole(roles ...auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principal(c)
			if !slices.Contains(roles, p.Role) {
				return problem(http.StatusForbidden, "forbidden", "", fmt.Sprintf("role %s may not call this route", p.Role))
			}
			return next(c)
		}
	}
}

func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(ctxPrincipal).(auth.Principal)
	return p
}

// idempotencyKey reads the required Idempotency-Key header.
func idempotencyKey(c echo.Context) (string, error) {
	k := c.Request().Header.Get("Idempotency-Key")
	if k == "" {
		return "", problem(http.StatusBadRequest, "idempotency_key_required", "Idempotency-Key", "the Idempotency-Key header is required on every POST")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e || len(k) > 255 {
			return "", problem(http.StatusBadRequest, "invalid_parameter", "Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters")
		}
	}
	return k, nil
}

// secureHeaders marks every answer as not to be sniffed into another
// content type nor kept by caches: answers carry balances, identities and
// keys, and a shared cache or a browser's would keep them.
func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}
