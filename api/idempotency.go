package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/canonjson"
)

// writeMode says how a mutating route's effect meets its idempotency key.
type writeMode int

const (
	// inUnit: the handler runs inside the transaction that claims the key
	// and stores the response (idempotency.Store.Do). Every route but the
	// few below.
	inUnit writeMode = iota
	// viaWriter: the handler hands its command to a group-commit writer,
	// which checks the key and stores the answer with the effect in its own
	// batch transaction (idempotency.Receipt, see throughWriter). Holding a
	// transaction open per request while it waits in the writer's queue
	// would cost a connection each, on the hottest routes.
	viaWriter
)

// writeModes lists the routes served by a group-commit writer.
var writeModes = map[string]writeMode{
	"POST /v1/transfers":                 viaWriter,
	"POST /v1/transfer-batches":          viaWriter,
	"POST /v1/campaigns/:id/commitments": viaWriter,
}

// mutating reports whether a method changes state and so needs a key.
func mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// idempotent is the one mechanism behind every mutating route: it requires
// the Idempotency-Key header, hashes the request, and answers a retry with
// the stored response (Idempotent-Replayed: true) or a conflict. s.route
// puts it in front of every POST, PUT, PATCH and DELETE; a handler declares
// nothing.
func (s *server) idempotent(mode writeMode, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, err := idempotencyKey(c)
		if err != nil {
			return err
		}
		raw, err := readBody(c, s.MaxBodyBytes)
		if err != nil {
			return err
		}
		req := idempotency.Request{Scope: keyScope(principal(c)), Key: key, Hash: requestHash(c, raw)}
		var sent *idempotency.Response // the handler's own answer, where it differs from the one kept
		run := func(ctx context.Context) (idempotency.Response, error) {
			answer, kept, err := s.capture(c, ctx, raw, next)
			if err == nil && !bytes.Equal(answer.Body, kept.Body) {
				sent = &answer
			}
			return kept, err
		}
		var (
			resp     idempotency.Response
			replayed bool
			ctx      = c.Request().Context()
		)
		switch mode {
		case viaWriter:
			resp, replayed, err = s.throughWriter(c, req, run)
		default:
			s.unitSlots <- struct{}{}
			resp, replayed, err = s.Idempotency.Do(ctx, req, run)
			<-s.unitSlots
		}
		if errors.Is(err, idempotency.ErrConflict) {
			return problem(http.StatusConflict, "idempotency_conflict", "Idempotency-Key",
				"this Idempotency-Key was used with a different request; use a new key for a new request")
		}
		if err != nil {
			return err
		}
		if s.Replica != nil {
			s.writes.wrote(req.Scope) // the caller's next reads see this write: they stay on the primary a while
		}
		if s.Metrics != nil && replayed {
			s.Metrics.idempotentReplays.Inc()
		}
		if !replayed && sent != nil {
			resp = *sent
		}
		return writeStored(c, resp, replayed)
	}
}

// throughWriter serves a command that a group-commit writer applies. The
// handler hands the writer a receipt (receiptFor); the writer checks the
// key in its batch's first round trip (a key that answered another request
// is a conflict) and stores the answer with the effect. The effect itself
// carries the key, so a retry is recognised by the writer (the domain's
// replay) and answered here with the answer the first stored. Only where no
// writer stored it (the command took another path) is it saved here, after
// the effect.
func (s *server) throughWriter(c echo.Context, req idempotency.Request, run func(context.Context) (idempotency.Response, error)) (idempotency.Response, bool, error) {
	ctx := c.Request().Context()
	claim := &writerClaim{req: req}
	c.Set(ctxWriterClaim, claim)
	resp, err := run(ctx)
	if err != nil {
		// Refused before it reached the writer (a body the handler cannot
		// read, say): if the key already answered another request, that is
		// what the client must hear. Checked only on the way out of a
		// refusal, so the hot path pays no look-up.
		if _, _, lerr := s.Idempotency.Lookup(ctx, req); errors.Is(lerr, idempotency.ErrConflict) {
			return resp, false, lerr
		}
		return resp, false, err
	}
	switch {
	case claim.replayed:
		stored, found, err := s.Idempotency.Lookup(ctx, req)
		if err != nil || found {
			return stored, found, err
		}
		return resp, true, nil // an effect from before answers were stored: the handler's own answer
	case claim.stored:
		return resp, false, nil
	}
	return s.Idempotency.Save(ctx, req, resp)
}

// writerClaim is what throughWriter and the handler share about one command.
type writerClaim struct {
	req      idempotency.Request
	replayed bool // the writer found the effect already applied
	stored   bool // the writer stored the answer with the effect
}

const ctxWriterClaim = "idempotency_writer_claim"

// receiptFor gives a group-commit writer what it needs to store the
// command's answer, rendered by render from the command's result; nil when
// the route is not served through a writer.
func receiptFor[T any](s *server, c echo.Context, render func(T) (idempotency.Response, error)) *idempotency.Receipt[T] {
	claim, ok := c.Get(ctxWriterClaim).(*writerClaim)
	if !ok {
		return nil
	}
	return idempotency.NewReceipt(s.Idempotency, claim.req, render)
}

// answerFrom sends the answer of a command that went through a writer:
// the same bytes the writer stored (render of the same result), and tells
// throughWriter whether the writer replayed or stored it.
func answerFrom[T any](c echo.Context, rc *idempotency.Receipt[T], result T, replayed bool, render func(T) (idempotency.Response, error)) error {
	if claim, ok := c.Get(ctxWriterClaim).(*writerClaim); ok {
		claim.replayed = replayed
		claim.stored = rc != nil && rc.Stored
	}
	var resp idempotency.Response
	if rc != nil && rc.Stored {
		resp = rc.Answer // what the writer stored, rendered once
	} else {
		var err error
		if resp, err = render(result); err != nil {
			return err
		}
	}
	return c.Blob(resp.Status, resp.ContentType, resp.Body) // the mechanism marks a replay
}

// renderJSON is the answer encoding every writer route uses, byte for byte
// what echo's c.JSON writes.
func renderJSON(status int, v any) (idempotency.Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return idempotency.Response{}, err
	}
	return idempotency.Response{Status: status, ContentType: echo.MIMEApplicationJSON, Body: append(body, '\n')}, nil
}

// keyScope is whose keys an Idempotency-Key lives among: a party's (all of
// an investor's or issuer's API keys share them) or, for platform staff,
// the API key's own.
func keyScope(p auth.Principal) string {
	if p.Subject != "" {
		return "party:" + p.Subject
	}
	return "key:" + p.KeyID.String()
}

// requestHash covers what makes two requests one command: method, path
// with its ids, query and the body; a JSON object body is canonicalised
// first, so key order and white space do not count.
func requestHash(c echo.Context, raw []byte) [32]byte {
	body := raw
	if canon, _, err := canonjson.Object(raw); err == nil {
		body = canon
	}
	r := c.Request()
	return idempotency.Hash([]byte(r.Method), []byte(r.URL.Path), []byte(r.URL.RawQuery), body)
}

// readBody reads the whole body once (bounded), so it can be hashed and
// given to the handler again on each attempt.
func readBody(c echo.Context, maxBytes int64) ([]byte, error) {
	if c.Request().Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem(http.StatusRequestEntityTooLarge, "body_too_large", "", fmt.Sprintf("body exceeds %d bytes", maxBytes))
		}
		return nil, problem(http.StatusBadRequest, "malformed_json", "", "could not read body")
	}
	return raw, nil
}

// capture runs the handler with ctx and the body, recording its response
// instead of sending it: it is sent only once stored (or refused). kept is
// what the store keeps: the answer itself, or what the handler gave
// keepInstead (an answer that carries a secret is not kept whole).
func (s *server) capture(c echo.Context, ctx context.Context, raw []byte, next echo.HandlerFunc) (answer, kept idempotency.Response, err error) {
	r := c.Request().WithContext(ctx)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	c.SetRequest(r)
	res := c.Response()
	orig := res.Writer
	rec := &recorder{header: http.Header{}}
	res.Writer, res.Committed, res.Status, res.Size = rec, false, http.StatusOK, 0
	c.Set(ctxKeepInstead, nil)
	err = next(c)
	res.Writer, res.Committed, res.Status, res.Size = orig, false, http.StatusOK, 0
	if err != nil {
		return idempotency.Response{}, idempotency.Response{}, err
	}
	for k, vs := range rec.header {
		if k != echo.HeaderContentType && k != echo.HeaderLocation {
			res.Header()[k] = vs
		}
	}
	answer = idempotency.Response{Status: rec.status, ContentType: rec.header.Get(echo.HeaderContentType),
		Location: rec.header.Get(echo.HeaderLocation), Body: rec.body.Bytes()}
	kept = answer
	if body, ok := c.Get(ctxKeepInstead).([]byte); ok {
		kept.Body = body
	}
	return answer, kept, nil
}

const ctxKeepInstead = "idempotency_keep_instead"

// keepInstead tells the mechanism to keep body, not the answer the handler
// sends, for replays: an answer that shows a secret once (a new API key) is
// not stored with it, so the idempotency store never holds a usable secret.
func keepInstead(c echo.Context, body []byte) { c.Set(ctxKeepInstead, body) }

// writeStored sends a response the mechanism returned: the handler's own,
// or a stored one on a replay.
func writeStored(c echo.Context, resp idempotency.Response, replayed bool) error {
	h := c.Response().Header()
	if resp.Location != "" {
		h.Set(echo.HeaderLocation, resp.Location)
	}
	if replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	if resp.ContentType != "" {
		return c.Blob(resp.Status, resp.ContentType, resp.Body)
	}
	return c.NoContent(resp.Status)
}

// recorder holds a handler's response until the mechanism decides to send it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
