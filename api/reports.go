package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/crowdledger/crowdledger/report"
)

func timeParam(c echo.Context, name string, def time.Time) (time.Time, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return t, problem(http.StatusBadRequest, "invalid_parameter", name, name+" must be an RFC 3339 timestamp")
	}
	return t, nil
}

// stream sends a long export. It gets its own write deadline (the server's
// WriteTimeout is sized for ordinary answers and would cut a large file
// short), and a failure after the headers, which can no longer become a
// problem answer, is logged as an error and aborts the connection, so the
// client sees an incomplete transfer as well as a missing trailer.
func (s *server) stream(c echo.Context, contentType string, write func(io.Writer) error) error {
	limit := s.ExportTimeout
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	if err := http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(limit)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, contentType)
	c.Response().WriteHeader(http.StatusOK)
	var w io.Writer = c.Response()
	if s.exportPace != nil {
		w = &pacedWriter{w: w, pace: s.exportPace, ctx: c.Request().Context()}
	}
	err := write(w)
	if err == nil {
		// The last bytes sit in net/http's buffer until the handler returns;
		// flushing here is how a failure to send them reaches us. (echo's
		// Response flushes without an error, so ask its writer.)
		err = http.NewResponseController(c.Response().Writer).Flush()
	}
	if err != nil {
		logger(c, s.log).Error("export cut short", zap.String("path", c.Request().URL.Path), zap.Int64("bytes_sent", c.Response().Size), zap.Error(err))
		panic(http.ErrAbortHandler)
	}
	return nil
}

var contentTypes = map[string]string{report.JSON: "application/json", report.CSV: "text/csv; charset=utf-8", report.Camt053: "application/xml"}

// statement streams an account statement in JSON, CSV or camt.053.
func (s *server) statementReport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	from, err := timeParam(c, "from", time.Unix(0, 0))
	if err != nil {
		return err
	}
	to, err := timeParam(c, "to", time.Now())
	if err != nil {
		return err
	}
	if from.After(to) {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "from", "from must not be after to")
	}
	format := c.QueryParam("format")
	if format == "" {
		format = report.JSON
	}
	ct, ok := contentTypes[format]
	if !ok {
		return problem(http.StatusBadRequest, "invalid_parameter", "format", "format must be json, csv or camt053")
	}
	if _, err := s.Ledger.Account(c.Request().Context(), id); err != nil {
		return err
	}
	return s.stream(c, ct, func(w io.Writer) error { return s.Reports.Statement(c.Request().Context(), w, id, from, to, format) })
}

func (s *server) campaignReport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = report.JSON
	}
	if format != report.JSON && format != report.CSV {
		return problem(http.StatusBadRequest, "invalid_parameter", "format", "format must be json or csv")
	}
	if _, err := s.Campaigns.Get(c.Request().Context(), id); err != nil {
		return err
	}
	return s.stream(c, contentTypes[format], func(w io.Writer) error { return s.Reports.Campaign(c.Request().Context(), w, id, format) })
}

func (s *server) investorReport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	out, err := s.Reports.Investor(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) platformReport(c echo.Context) error {
	from, err := timeParam(c, "from", time.Unix(0, 0))
	if err != nil {
		return err
	}
	to, err := timeParam(c, "to", time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	out, err := s.Reports.Platform(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) provenanceReport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	out, err := s.Reports.Provenance(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// campaignFundFlows is a campaign's money as a graph, summed per kind of
// move, with its escrow and payable reconciled against the ledger: what
// the console draws as a Sankey diagram without reading the commitments.
func (s *server) campaignFundFlows(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ownCampaign(c, id); err != nil {
		return err
	}
	f, err := s.Reports.FundFlows(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

// pacedWriter holds exports to EXPORT_BYTES_PER_SECOND, shared by every
// export of the process: a regulator's million-row download then takes a
// bounded share of the CPU (the service's encoding and the database's
// reading) that investors' commitments need, however many run at once.
type pacedWriter struct {
	w    io.Writer
	pace *rate.Limiter
	ctx  context.Context
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		n := min(len(b), p.pace.Burst())
		if err := p.pace.WaitN(p.ctx, n); err != nil {
			return written, err
		}
		m, err := p.w.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}
