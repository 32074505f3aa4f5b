package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

type accountFlags struct {
	DebitsMustNotExceedCredits bool `json:"debits_must_not_exceed_credits"`
	CreditsMustNotExceedDebits bool `json:"credits_must_not_exceed_debits"`
}

type createAccountRequest struct {
	ID       string          `json:"id"`
	Currency string          `json:"currency"`
	Code     string          `json:"code"`
	Owner    string          `json:"owner"`
	Metadata json.RawMessage `json:"metadata"`
	Flags    accountFlags    `json:"flags"`
}

type balancesJSON struct {
	DebitsPosted   money.Amount `json:"debits_posted"`
	CreditsPosted  money.Amount `json:"credits_posted"`
	DebitsPending  money.Amount `json:"debits_pending"`
	CreditsPending money.Amount `json:"credits_pending"`
}

func toBalances(b ledger.Balances) balancesJSON {
	return balancesJSON{b.DebitsPosted, b.CreditsPosted, b.DebitsPending, b.CreditsPending}
}

type accountJSON struct {
	ID        string          `json:"id"`
	Currency  string          `json:"currency"`
	Code      string          `json:"code"`
	Owner     string          `json:"owner"`
	Metadata  json.RawMessage `json:"metadata"`
	Flags     accountFlags    `json:"flags"`
	Closed    bool            `json:"closed"`
	ClosedAt  *time.Time      `json:"closed_at,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	Balances  balancesJSON    `json:"balances"`
}

func toAccount(a ledger.Account) accountJSON {
	return accountJSON{
		ID: a.ID.String(), Currency: a.Currency.Code(), Code: string(a.Code), Owner: a.Owner, Metadata: a.Metadata,
		Flags:  accountFlags{a.Flags.DebitsMustNotExceedCredits, a.Flags.CreditsMustNotExceedDebits},
		Closed: a.ClosedAt != nil, ClosedAt: a.ClosedAt, CreatedAt: a.CreatedAt, Balances: toBalances(a.Balances),
	}
}

func (s *server) createAccount(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req createAccountRequest
	if err := decode(c, s.MaxBodyBytes, &req); err != nil {
		return err
	}
	id, err := bodyID("id", req.ID)
	if err != nil {
		return err
	}
	cur, err := money.Lookup(req.Currency)
	if err != nil {
		return problem(http.StatusUnprocessableEntity, "unsupported_currency", "currency", "currency must be a supported ISO 4217 code")
	}
	a, created, err := s.Ledger.CreateAccount(c.Request().Context(), ledger.NewAccount{
		ID: id, Currency: cur, Code: ledger.AccountCode(req.Code), Owner: req.Owner, Metadata: req.Metadata,
		Flags:          ledger.Flags{DebitsMustNotExceedCredits: req.Flags.DebitsMustNotExceedCredits, CreditsMustNotExceedDebits: req.Flags.CreditsMustNotExceedDebits},
		IdempotencyKey: key,
	})
	if err != nil {
		return err
	}
	if !created {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSON(http.StatusCreated, toAccount(a))
}

func (s *server) getAccount(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.Ledger.Account(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccount(a))
}

func (s *server) closeAccount(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.Ledger.CloseAccount(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAccount(a))
}

type balanceJSON struct {
	AccountID string       `json:"account_id"`
	Currency  string       `json:"currency"`
	AsOf      *time.Time   `json:"as_of,omitempty"`
	Balances  balancesJSON `json:"balances"`
}

func (s *server) getBalance(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if raw := c.QueryParam("as_of"); raw != "" {
		at, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return problem(http.StatusBadRequest, "invalid_parameter", "as_of", "as_of must be an RFC 3339 timestamp")
		}
		b, err := s.Ledger.BalanceAsOf(ctx, id, at)
		if err != nil {
			return err
		}
		at = at.UTC()
		return c.JSON(http.StatusOK, balanceJSON{AccountID: id.String(), Currency: b.DebitsPosted.Currency().Code(), AsOf: &at, Balances: toBalances(b)})
	}
	a, err := s.Ledger.Account(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, balanceJSON{AccountID: id.String(), Currency: a.Currency.Code(), Balances: toBalances(a.Balances)})
}

type entryJSON struct {
	Seq        int64        `json:"seq"`
	TransferID string       `json:"transfer_id"`
	Kind       string       `json:"kind"`
	Side       string       `json:"side"`
	Amount     money.Amount `json:"amount"`
	Code       string       `json:"code"`
	CreatedAt  time.Time    `json:"created_at"`
	Balances   balancesJSON `json:"balances"`
}

func (s *server) listEntries(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	cursor, err := ledger.ParseCursor(c.QueryParam("cursor"))
	if err != nil {
		return problem(http.StatusBadRequest, "invalid_cursor", "cursor", "cursor must be a next_cursor value from an earlier page")
	}
	limit := 100
	if raw := c.QueryParam("limit"); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil || limit < 1 || limit > ledger.MaxPage {
			return problem(http.StatusBadRequest, "invalid_parameter", "limit", "limit must be an integer from 1 to 1000")
		}
	}
	page, next, err := s.Ledger.AccountEntries(c.Request().Context(), id, cursor, limit)
	if err != nil {
		return err
	}
	// The list shape every list has; an account's entries page oldest
	// first (a statement's order) with the ledger's own cursor.
	out := pageJSON[entryJSON]{Items: make([]entryJSON, 0, len(page)), NextCursor: next.String()}
	for _, e := range page {
		out.Items = append(out.Items, entryJSON{Seq: e.Seq, TransferID: e.TransferID.String(), Kind: string(e.Kind),
			Side: string(e.Side), Amount: e.Amount, Code: e.Code, CreatedAt: e.CreatedAt, Balances: toBalances(e.Balances)})
	}
	return c.JSON(http.StatusOK, out)
}

// listAccounts lists ledger accounts for operators and regulators.
func (s *server) listAccounts(c echo.Context) error {
	q := newListQuery(c, "owner", "code", "currency")
	f := ledger.AccountFilter{Owner: q.str("owner"), Code: ledger.AccountCode(q.str("code")), Currency: q.str("currency")}
	if err := q.Err(); err != nil {
		return err
	}
	p, err := s.Ledger.Accounts(c.Request().Context(), f, q.page())
	if err != nil {
		return err
	}
	return writePage(c, p, toAccount)
}
