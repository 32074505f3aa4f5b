package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/internal/money"
)

type reconcileRequest struct {
	Currency           string    `json:"currency"`
	BankBalance        string    `json:"bank_balance"`
	AsOf               time.Time `json:"as_of"`
	StatementReference string    `json:"statement_reference"`
}

// reconcile compares a custody bank statement with the ledger (资金存管).
func (s *server) reconcile(c echo.Context) error {
	var req reconcileRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	cur, err := money.Lookup(req.Currency)
	if err != nil {
		return fieldProblem("currency", err)
	}
	bank, err := money.ParseIn(cur, req.BankBalance)
	if err != nil {
		return fieldProblem("bank_balance", err)
	}
	if req.AsOf.IsZero() {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "as_of", "as_of is the statement's time")
	}
	r, err := s.Campaigns.Reconcile(c.Request().Context(), bank, req.AsOf, req.StatementReference)
	if err != nil {
		return err
	}
	by := map[string]money.Amount{}
	for k, v := range r.ByCode {
		by[string(k)] = v
	}
	return c.JSON(http.StatusOK, map[string]any{"currency": cur.Code(), "as_of": r.AsOf, "bank_balance": r.BankBalance,
		"ledger_balance": r.LedgerBalance, "difference": r.Difference, "reconciled": r.Difference.IsZero(), "by_account_code": by,
		"statement_reference": r.StatementRef})
}
