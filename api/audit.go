package api

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/audit"
)

func (s *server) needAudit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.Audit == nil {
			return problem(http.StatusServiceUnavailable, "not_ready", "", "the audit trail is not configured")
		}
		return next(c)
	}
}

type publicKeyJSON struct {
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"`
	Current   bool   `json:"current"`
}

// publicKeys publishes the checkpoint verification keys; anyone may fetch them.
func (s *server) publicKeys(c echo.Context) error {
	out := struct {
		Keys []publicKeyJSON `json:"keys"`
	}{Keys: []publicKeyJSON{}}
	for i, k := range s.Audit.PublicKeys() {
		out.Keys = append(out.Keys, publicKeyJSON{KeyID: k.ID, Algorithm: "Ed25519", PublicKey: k.Encoded(), Current: i == 0})
	}
	return c.JSON(http.StatusOK, out)
}

func posRange(c echo.Context) (from, to int64, err error) {
	parse := func(name string) (int64, error) {
		raw := c.QueryParam(name)
		if raw == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return 0, problem(http.StatusBadRequest, "invalid_parameter", name, name+" must be a positive integer")
		}
		return n, nil
	}
	if from, err = parse("from_pos"); err != nil {
		return 0, 0, err
	}
	if to, err = parse("to_pos"); err != nil {
		return 0, 0, err
	}
	if from == 0 {
		from = 1
	}
	if to != 0 && to < from {
		return 0, 0, problem(http.StatusBadRequest, "invalid_parameter", "to_pos", "to_pos must not be below from_pos")
	}
	return from, to, nil
}

// recordRead audits a regulator's read of the trail itself.
func (s *server) recordRead(ctx context.Context, action string, from, to int64) error {
	ev, err := audit.New(ctx, action, []string{}, map[string]any{"from_pos": from, "to_pos": to})
	if err != nil {
		return err
	}
	return audit.Append(ctx, s.Pool, ev)
}

func (s *server) verifyAudit(c echo.Context) error {
	from, to, err := posRange(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.recordRead(ctx, "audit.verify", from, to); err != nil {
		return err
	}
	rep, err := s.Audit.Verify(ctx, from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

func (s *server) exportAudit(c echo.Context) error {
	from, to, err := posRange(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.recordRead(ctx, "audit.export", from, to); err != nil {
		return err
	}
	return s.stream(c, "application/jsonl", func(w io.Writer) error { return s.Audit.Export(ctx, w, from, to) })
}

// auditHead shows the chain's last position and its latest signed
// checkpoint, with the key that signed it.
func (s *server) auditHead(c echo.Context) error {
	h, err := s.Audit.Head(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}
