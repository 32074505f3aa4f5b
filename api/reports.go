package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

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
	c.Response().Header().Set(echo.HeaderContentType, ct)
	c.Response().WriteHeader(http.StatusOK)
	return s.Reports.Statement(c.Request().Context(), c.Response(), id, from, to, format)
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
	c.Response().Header().Set(echo.HeaderContentType, contentTypes[format])
	c.Response().WriteHeader(http.StatusOK)
	return s.Reports.Campaign(c.Request().Context(), c.Response(), id, format)
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
