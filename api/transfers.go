package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// transferRequest is one transfer in a request body. Amounts are strings.
type transferRequest struct {
	Kind            string          `json:"kind"`
	DebitAccountID  string          `json:"debit_account_id"`
	CreditAccountID string          `json:"credit_account_id"`
	Amount          string          `json:"amount"`
	Currency        string          `json:"currency"`
	Code            string          `json:"code"`
	Metadata        json.RawMessage `json:"metadata"`
	PendingID       string          `json:"pending_id"`
	TimeoutSeconds  int64           `json:"timeout_seconds"`
}

type batchRequest struct {
	Transfers []transferRequest `json:"transfers"`
}

// resolveRequest is the body of .../post, .../void and .../reverse; all optional.
type resolveRequest struct {
	Amount   string          `json:"amount"`
	Code     string          `json:"code"`
	Metadata json.RawMessage `json:"metadata"`
}

type transferJSON struct {
	ID              string          `json:"id"`
	Seq             int64           `json:"seq"`
	EntryID         string          `json:"entry_id"`
	Index           int             `json:"index"`
	Kind            string          `json:"kind"`
	DebitAccountID  string          `json:"debit_account_id"`
	CreditAccountID string          `json:"credit_account_id"`
	Amount          money.Amount    `json:"amount"`
	Currency        string          `json:"currency"`
	Code            string          `json:"code"`
	Metadata        json.RawMessage `json:"metadata"`
	PendingID       *string         `json:"pending_id,omitempty"`
	ReversesID      *string         `json:"reverses_id,omitempty"`
	ExpiresAt       *time.Time      `json:"expires_at,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
}

type entryResponse struct {
	EntryID        string         `json:"entry_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	CreatedAt      time.Time      `json:"created_at"`
	Transfers      []transferJSON `json:"transfers"`
}

func toTransfer(t ledger.Transfer) transferJSON {
	out := transferJSON{
		ID: t.ID.String(), Seq: t.Seq, EntryID: t.EntryID.String(), Index: t.Index, Kind: string(t.Kind),
		DebitAccountID: t.DebitAccountID.String(), CreditAccountID: t.CreditAccountID.String(),
		Amount: t.Amount, Currency: t.Amount.Currency().Code(), Code: t.Code, Metadata: t.Metadata,
		ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt,
	}
	if t.PendingID != nil {
		s := t.PendingID.String()
		out.PendingID = &s
	}
	if t.ReversesID != nil {
		s := t.ReversesID.String()
		out.ReversesID = &s
	}
	return out
}

func toEntry(e ledger.Entry) entryResponse {
	out := entryResponse{EntryID: e.ID.String(), IdempotencyKey: e.IdempotencyKey, CreatedAt: e.CreatedAt,
		Transfers: make([]transferJSON, 0, len(e.Transfers))}
	for _, t := range e.Transfers {
		out.Transfers = append(out.Transfers, toTransfer(t))
	}
	return out
}

// toLedger converts and checks one transfer; prefix places its fields
// within a batch ("transfers[2].").
func (r transferRequest) toLedger(prefix string) (ledger.TransferRequest, error) {
	t := ledger.TransferRequest{Kind: ledger.Kind(r.Kind), Code: r.Code, Metadata: r.Metadata}
	var err error
	if t.DebitAccountID, err = bodyID(prefix+"debit_account_id", r.DebitAccountID); err != nil {
		return t, err
	}
	if t.CreditAccountID, err = bodyID(prefix+"credit_account_id", r.CreditAccountID); err != nil {
		return t, err
	}
	if t.PendingID, err = bodyID(prefix+"pending_id", r.PendingID); err != nil {
		return t, err
	}
	switch t.Kind {
	case ledger.KindPosted, ledger.KindPending:
		if r.Currency == "" {
			return t, problem(http.StatusUnprocessableEntity, "validation_failed", prefix+"currency", "currency is required")
		}
		if r.Amount == "" {
			return t, problem(http.StatusUnprocessableEntity, "validation_failed", prefix+"amount", "amount is required")
		}
		if t.Amount, err = money.Parse(r.Currency, r.Amount); err != nil {
			field := prefix + "amount"
			if _, lookupErr := money.Lookup(r.Currency); lookupErr != nil {
				field = prefix + "currency"
			}
			return t, &ledger.FieldError{Field: field, Err: err}
		}
	case ledger.KindPostPending:
		if r.Currency != "" {
			return t, problem(http.StatusUnprocessableEntity, "validation_failed", prefix+"currency", "currency comes from the pending transfer")
		}
		if r.Amount != "" {
			if t.PostAmount, err = money.ParseWritten(r.Amount); err != nil {
				return t, &ledger.FieldError{Field: prefix + "amount", Err: err}
			}
		}
	default:
		if r.Amount != "" || r.Currency != "" {
			return t, problem(http.StatusUnprocessableEntity, "validation_failed", prefix+"amount", "amount and currency are not taken for "+r.Kind)
		}
	}
	if r.TimeoutSeconds < 0 || r.TimeoutSeconds > int64(ledger.MaxPendingTimeout/time.Second) {
		return t, problem(http.StatusUnprocessableEntity, "validation_failed", prefix+"timeout_seconds", "timeout_seconds is out of range")
	}
	t.Timeout = time.Duration(r.TimeoutSeconds) * time.Second
	return t, nil
}

func (s *server) submit(c echo.Context, key string, ts []ledger.TransferRequest) error {
	rc := receiptFor(s, c, renderEntry)
	e, err := s.Ledger.SubmitAnswered(c.Request().Context(), key, ts, rc)
	if err != nil {
		return err
	}
	return answerFrom(c, rc, e, e.Replayed, renderEntry)
}

// renderEntry is a committed entry's answer.
func renderEntry(e ledger.Entry) (idempotency.Response, error) {
	return renderJSON(http.StatusCreated, toEntry(e))
}

func (s *server) createTransfer(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req transferRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	t, err := req.toLedger("")
	if err != nil {
		return err
	}
	return s.submit(c, key, []ledger.TransferRequest{t})
}

func (s *server) createBatch(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req batchRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	if len(req.Transfers) == 0 {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "transfers", "transfers must hold at least one transfer")
	}
	if len(req.Transfers) > ledger.MaxBatch {
		return problem(http.StatusUnprocessableEntity, "batch_too_large", "transfers", fmt.Sprintf("at most %d transfers per batch", ledger.MaxBatch))
	}
	ts := make([]ledger.TransferRequest, len(req.Transfers))
	for i, r := range req.Transfers {
		if ts[i], err = r.toLedger(fmt.Sprintf("transfers[%d].", i)); err != nil {
			return err
		}
	}
	return s.submit(c, key, ts)
}

func (s *server) resolve(c echo.Context, kind ledger.Kind) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req resolveRequest
	if err := decodeOptional(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	t := ledger.TransferRequest{Kind: kind, Code: req.Code, Metadata: req.Metadata}
	switch kind {
	case ledger.KindPostPending:
		t.PendingID = id
		if req.Amount != "" {
			if t.PostAmount, err = money.ParseWritten(req.Amount); err != nil {
				return &ledger.FieldError{Field: "amount", Err: err}
			}
		}
	case ledger.KindVoidPending:
		t.PendingID = id
	default:
		t.Kind, t.ReversesID = ledger.KindPosted, id
	}
	if kind != ledger.KindPostPending && req.Amount != "" {
		return problem(http.StatusUnprocessableEntity, "validation_failed", "amount", "amount is only taken when posting a pending transfer")
	}
	err = s.submit(c, key, []ledger.TransferRequest{t})
	// The transfer named in the path does not exist: that is a 404 on the path.
	switch {
	case errors.Is(err, ledger.ErrPendingNotFound):
		return problem(http.StatusNotFound, "pending_not_found", "id", "no pending transfer with this id")
	case errors.Is(err, ledger.ErrTransferNotFound):
		return problem(http.StatusNotFound, "transfer_not_found", "id", "no transfer with this id")
	}
	return err
}

func (s *server) postPending(c echo.Context) error { return s.resolve(c, ledger.KindPostPending) }
func (s *server) voidPending(c echo.Context) error { return s.resolve(c, ledger.KindVoidPending) }
func (s *server) reverse(c echo.Context) error     { return s.resolve(c, "reverse") }

func (s *server) getTransfer(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	t, err := s.Ledger.Transfer(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTransfer(t))
}

// listTransfers lists transfers for operators and regulators: by account,
// code, kind, time, metadata (metadata.KEY=VALUE, every pair held) or the
// idempotency key of the request that posted them.
func (s *server) listTransfers(c echo.Context) error {
	q := newListQuery(c, "account_id", "code", "kind", "from", "to", "idempotency_key", "metadata.")
	f := ledger.TransferFilter{AccountID: q.id("account_id"), Code: q.str("code"), Kind: ledger.Kind(q.str("kind")),
		From: q.instant("from"), To: q.instant("to"), Metadata: q.prefixed("metadata."), IdempotencyKey: q.str("idempotency_key")}
	if err := q.Err(); err != nil {
		return err
	}
	if f.IdempotencyKey != "" && ledger.ValidateKey(f.IdempotencyKey) != nil {
		return problem(http.StatusBadRequest, "invalid_parameter", "idempotency_key", "idempotency_key must be 1 to 255 printable ASCII characters")
	}
	p, err := s.Ledger.Transfers(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toTransfer)
}
