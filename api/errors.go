package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/report"
	"github.com/crowdledger/crowdledger/supervision"
	"github.com/crowdledger/crowdledger/webhook"
)

// Problem is an RFC 9457 problem details body, with crowdledger's stable
// machine code and the field at fault.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Index    *int   `json:"index,omitempty"`
	// Remaining says what is left of a cap or limit a request did not fit.
	Remaining string `json:"remaining,omitempty"`
	// Reasons lists every rule a compliance refusal failed.
	Reasons   []compliance.Reason `json:"reasons,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

// problemError is an error the API itself raises with a known code.
type problemError struct {
	status int
	code   string
	field  string
	detail string
}

func (e *problemError) Error() string { return e.code + ": " + e.detail }

func problem(status int, code, field, detail string) error {
	return &problemError{status: status, code: code, field: field, detail: detail}
}

// errorCodes maps domain errors to HTTP status and stable code. Order
// matters: the first match wins, so specific errors precede general ones.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{auth.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{money.ErrAmountPrecision, http.StatusUnprocessableEntity, "amount_precision"},
	{money.ErrAmountNotPos, http.StatusUnprocessableEntity, "amount_not_positive"},
	{money.ErrAmountTooLarge, http.StatusUnprocessableEntity, "amount_too_large"},
	{money.ErrAmountSyntax, http.StatusUnprocessableEntity, "amount_invalid"},
	{money.ErrUnknownCurrency, http.StatusUnprocessableEntity, "unsupported_currency"},
	{ledger.ErrIdempotencyConflict, http.StatusConflict, "idempotency_conflict"},
	{ledger.ErrAccountNotFound, http.StatusNotFound, "account_not_found"},
	{ledger.ErrTransferNotFound, http.StatusNotFound, "transfer_not_found"},
	{ledger.ErrPendingNotFound, http.StatusNotFound, "pending_not_found"},
	{ledger.ErrAccountExists, http.StatusConflict, "account_exists"},
	{ledger.ErrAccountClosed, http.StatusConflict, "account_closed"},
	{ledger.ErrAccountFrozen, http.StatusConflict, "account_frozen"},
	{ledger.ErrAccountHasPending, http.StatusConflict, "account_has_pending"},
	{ledger.ErrPendingResolved, http.StatusConflict, "pending_already_resolved"},
	{ledger.ErrPendingExpired, http.StatusConflict, "pending_expired"},
	{ledger.ErrAlreadyReversed, http.StatusConflict, "already_reversed"},
	{ledger.ErrCurrencyMismatch, http.StatusUnprocessableEntity, "currency_mismatch"},
	{ledger.ErrSameAccount, http.StatusUnprocessableEntity, "same_account"},
	{ledger.ErrInsufficientFunds, http.StatusUnprocessableEntity, "insufficient_funds"},
	{ledger.ErrExceedsDebits, http.StatusUnprocessableEntity, "credits_exceed_debits"},
	{ledger.ErrNotPending, http.StatusUnprocessableEntity, "not_pending"},
	{ledger.ErrPendingMismatch, http.StatusUnprocessableEntity, "pending_mismatch"},
	{ledger.ErrExceedsPending, http.StatusUnprocessableEntity, "amount_exceeds_pending"},
	{ledger.ErrNotReversible, http.StatusUnprocessableEntity, "not_reversible"},
	{ledger.ErrBatchTooLarge, http.StatusUnprocessableEntity, "batch_too_large"},
	{ledger.ErrBadCursor, http.StatusBadRequest, "invalid_cursor"},
	{ledger.ErrInvalid, http.StatusUnprocessableEntity, "validation_failed"},
	{ledger.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{compliance.ErrDocumentCheckDigit, http.StatusUnprocessableEntity, "document_check_digit"},
	{compliance.ErrDocumentBirthDate, http.StatusUnprocessableEntity, "document_birth_date"},
	{compliance.ErrDocumentRegion, http.StatusUnprocessableEntity, "document_region"},
	{compliance.ErrDocumentFormat, http.StatusUnprocessableEntity, "document_format"},
	{compliance.ErrDocumentType, http.StatusUnprocessableEntity, "document_type"},
	{compliance.ErrUnknownPack, http.StatusUnprocessableEntity, "unknown_pack"},
	{registry.ErrPartyNotFound, http.StatusNotFound, "party_not_found"},
	{registry.ErrDuplicateParty, http.StatusConflict, "party_exists"},
	{registry.ErrIdempotencyConflict, http.StatusConflict, "idempotency_conflict"},
	{registry.ErrWrongRole, http.StatusUnprocessableEntity, "wrong_party_role"},
	{registry.ErrListEntryNotFound, http.StatusNotFound, "list_entry_not_found"},
	{registry.ErrQualificationNotFound, http.StatusNotFound, "not_found"},
	{registry.ErrAlreadyApproved, http.StatusConflict, "already_approved"},
	{registry.ErrSelfApproval, http.StatusForbidden, "maker_checker"},
	{registry.ErrListEntryEnded, http.StatusConflict, "list_entry_ended"},
	{registry.ErrInvalid, http.StatusUnprocessableEntity, "validation_failed"},
	{compliance.ErrRefused, http.StatusUnprocessableEntity, "compliance_refused"},
	{campaign.ErrNotFound, http.StatusNotFound, "campaign_not_found"},
	{campaign.ErrCommitmentNotFound, http.StatusNotFound, "commitment_not_found"},
	{campaign.ErrOrderNotFound, http.StatusNotFound, "order_not_found"},
	{campaign.ErrIllegalTransition, http.StatusConflict, "illegal_transition"},
	{campaign.ErrNotLive, http.StatusConflict, "campaign_not_live"},
	{campaign.ErrHardCap, http.StatusConflict, "hard_cap_reached"},
	{campaign.ErrSoldOut, http.StatusConflict, "sold_out"},
	{campaign.ErrLeadFirst, http.StatusConflict, "lead_not_committed"},
	{campaign.ErrSameApprover, http.StatusForbidden, "maker_checker"},
	{auth.ErrSelfGrant, http.StatusForbidden, "maker_checker"},
	{auth.ErrIssuanceRefused, http.StatusForbidden, "issuance_refused"},
	{auth.ErrGrantNotFound, http.StatusNotFound, "not_found"},
	{auth.ErrGrantDecided, http.StatusConflict, "already_approved"},
	{auth.ErrGrantExpired, http.StatusConflict, "grant_expired"},
	{auth.ErrSubjectRequired, http.StatusUnprocessableEntity, "validation_failed"},
	{campaign.ErrIssuerBlacklisted, http.StatusConflict, "issuer_blacklisted"},
	{campaign.ErrNoWallet, http.StatusUnprocessableEntity, "no_wallet"},
	{campaign.ErrCoolingOffOver, http.StatusConflict, "cooling_off_over"},
	{campaign.ErrIdempotencyConflict, http.StatusConflict, "idempotency_conflict"},
	{campaign.ErrAlreadyCommitted, http.StatusConflict, "already_committed"},
	{campaign.ErrNotDue, http.StatusConflict, "not_due"},
	{campaign.ErrNotSettled, http.StatusConflict, "not_settled"},
	{campaign.ErrNotLate, http.StatusConflict, "not_late"},
	{campaign.ErrPayableShort, http.StatusConflict, "payable_short"},
	{campaign.ErrIssuerFundsShort, http.StatusUnprocessableEntity, "issuer_funds_short"},
	{campaign.ErrOverReleasable, http.StatusUnprocessableEntity, "over_releasable"},
	{campaign.ErrDisbursementPaid, http.StatusConflict, "already_paid"},
	{campaign.ErrDisbursementNotFound, http.StatusNotFound, "not_found"},
	{campaign.ErrRightsOpen, http.StatusConflict, "cancellation_rights_open"},
	{campaign.ErrNoChange, http.StatusUnprocessableEntity, "no_change"},
	{campaign.ErrRefundTooLarge, http.StatusUnprocessableEntity, "refund_too_large"},
	{campaign.ErrOrderNotDisputable, http.StatusConflict, "illegal_transition"},
	{campaign.ErrInvalid, http.StatusUnprocessableEntity, "validation_failed"},
	{report.ErrNotFound, http.StatusNotFound, "not_found"},
	{supervision.ErrNotFound, http.StatusNotFound, "not_found"},
	{webhook.ErrNotFound, http.StatusNotFound, "webhook_not_found"},
	{webhook.ErrDeliveryNotFound, http.StatusNotFound, "delivery_not_found"},
	{webhook.ErrInvalid, http.StatusUnprocessableEntity, "validation_failed"},
	{supervision.ErrLifted, http.StatusConflict, "already_lifted"},
	{supervision.ErrDrawn, http.StatusConflict, "already_drawn"},
	{supervision.ErrNotDrawn, http.StatusConflict, "not_drawn"},
	{supervision.ErrState, http.StatusConflict, "illegal_transition"},
	{supervision.ErrInvalid, http.StatusUnprocessableEntity, "validation_failed"},
	{report.ErrFormat, http.StatusBadRequest, "invalid_parameter"},
}

// ErrorCodes lists every stable code the API can return (for the golden test and docs).
func ErrorCodes() []string {
	seen := map[string]bool{}
	var out []string
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, e := range errorCodes {
		add(e.code)
	}
	for _, c := range apiCodes {
		add(c)
	}
	return out
}

// apiCodes are raised by the API layer itself.
var apiCodes = []string{"malformed_json", "unknown_field", "invalid_type", "body_too_large", "unsupported_media_type",
	"idempotency_key_required", "invalid_parameter", "invalid_uuid", "forbidden", "not_found", "method_not_allowed", "internal",
	"rate_limited", "not_ready", "unknown_pack", "invalid_text", "database_unavailable"}

// toProblem turns any error into a problem. Unknown errors become a 500
// whose detail says nothing of the cause.
func toProblem(err error) Problem {
	var pe *problemError
	if errors.As(err, &pe) {
		return Problem{Status: pe.status, Code: pe.code, Field: pe.field, Detail: pe.detail}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return Problem{Status: he.Code, Code: "not_found", Detail: "no such route"}
		case http.StatusMethodNotAllowed:
			return Problem{Status: he.Code, Code: "method_not_allowed", Detail: "method not allowed on this route"}
		case http.StatusRequestEntityTooLarge:
			return Problem{Status: he.Code, Code: "body_too_large", Detail: "request body too large"}
		case http.StatusUnsupportedMediaType:
			return Problem{Status: he.Code, Code: "unsupported_media_type", Detail: "send application/json"}
		}
		if he.Code >= 400 && he.Code < 500 {
			return Problem{Status: he.Code, Code: "invalid_parameter", Detail: http.StatusText(he.Code)}
		}
	}
	if pg.IsUnavailable(err) {
		return Problem{Status: http.StatusServiceUnavailable, Code: "database_unavailable", Detail: "the database is unavailable; retry with the same Idempotency-Key"}
	}
	// Text PostgreSQL cannot store (NUL, invalid encodings) that slipped past
	// validation is still the client's error.
	if code := pg.Code(err); code == "22021" || code == "22P05" {
		return Problem{Status: http.StatusBadRequest, Code: "invalid_text", Detail: "text contains characters that cannot be stored"}
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			p := Problem{Status: e.status, Code: e.code, Detail: err.Error()}
			var fe *fault.FieldError
			if errors.As(err, &fe) {
				p.Field = fe.Field
				p.Detail = fe.Error()
				// Something named in the body that does not exist is an
				// unprocessable request, not a missing resource.
				if p.Status == http.StatusNotFound {
					p.Status = http.StatusUnprocessableEntity
				}
			}
			var te *ledger.TransferError
			if errors.As(err, &te) {
				i := te.Index
				p.Index = &i
			}
			var ie *ledger.InsufficientFundsError
			if errors.As(err, &ie) && p.Field == "" {
				p.Field = "amount"
			}
			var ce *campaign.CapError
			if errors.As(err, &ce) {
				p.Remaining = ce.Remaining
			}
			var refusal *compliance.Refusal
			if errors.As(err, &refusal) {
				p.Reasons = refusal.Reasons
			}
			return p
		}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error; quote the request id"}
}

// handleError is echo's HTTPErrorHandler: every error leaves as problem+json.
// 5xx causes are logged in full, once, with the request id.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := toProblem(err)
	p.Type = "urn:crowdledger:problem:" + p.Code
	p.Title = http.StatusText(p.Status)
	p.Instance = c.Request().URL.Path
	p.RequestID = requestID(c)
	if p.Status >= 500 {
		logger(c, s.log).Error("request failed", zap.Error(err), zap.Int("status", p.Status))
	}
	s.Metrics.refused(err)
	c.Set(ctxProblem, p) // the request's log line names the code and field
	if p.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "1")
	}
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="crowdledger"`)
	}
	body, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method != http.MethodHead {
		_, _ = c.Response().Write(body)
	}
}
