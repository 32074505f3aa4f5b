package ledger

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/internal/money"
)

// Sentinel errors callers branch on with errors.Is. The API maps each to a
// stable problem code.
var (
	ErrAccountNotFound     = errors.New("account not found")
	ErrAccountExists       = errors.New("an account with this id already exists")
	ErrAccountClosed       = errors.New("account is closed")
	ErrAccountFrozen       = errors.New("account is frozen by a regulator's order: no money may leave it")
	ErrAccountHasPending   = errors.New("account has pending balances")
	ErrTransferNotFound    = errors.New("transfer not found")
	ErrCurrencyMismatch    = errors.New("currency does not match the accounts")
	ErrSameAccount         = errors.New("debit and credit account are the same")
	ErrInsufficientFunds   = errors.New("insufficient funds")
	ErrExceedsDebits       = errors.New("credits would exceed debits")
	ErrPendingNotFound     = errors.New("pending transfer not found")
	ErrNotPending          = errors.New("transfer is not pending")
	ErrPendingResolved     = errors.New("pending transfer already posted or voided")
	ErrPendingExpired      = errors.New("pending transfer has expired")
	ErrPendingMismatch     = errors.New("accounts or currency differ from the pending transfer")
	ErrExceedsPending      = errors.New("amount exceeds the pending amount")
	ErrNotReversible       = errors.New("only posted transfers can be reversed")
	ErrAlreadyReversed     = errors.New("transfer already reversed")
	ErrIdempotencyConflict = idempotency.ErrConflict // one sentinel for every store of keys
	ErrInvalid             = errors.New("invalid request")
	ErrClosed              = errors.New("ledger is shut down")
	ErrBatchTooLarge       = errors.New("too many transfers in one request")
)

// FieldError is an error caused by one field of a request, naming it. An
// invalid value unwraps to ErrInvalid as well as its cause (for example
// money.ErrAmountPrecision); a value that is well-formed but refers to
// something missing (an unknown account) unwraps to its cause only.
type FieldError = fault.FieldError

// fieldErr is an invalid field value.
func fieldErr(field string, err error) error {
	return &FieldError{Field: field, Err: err, Kind: ErrInvalid}
}

// refErr is a field whose well-formed value fails against the ledger's state.
func refErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// InsufficientFundsError says which account would be overdrawn and by how much.
type InsufficientFundsError struct {
	Account   uuid.UUID
	Available money.Amount
	Requested money.Amount
	kind      error
}

func (e *InsufficientFundsError) Error() string {
	return fmt.Sprintf("%v: account %s has %s available, %s requested", e.kind, e.Account, e.Available, e.Requested)
}

// Unwrap returns ErrInsufficientFunds or ErrExceedsDebits.
func (e *InsufficientFundsError) Unwrap() error { return e.kind }

// TransferError places a transfer's error within its request, so a failed
// batch names the transfer that failed it.
type TransferError struct {
	Index int
	Err   error
}

func (e *TransferError) Error() string { return fmt.Sprintf("transfer %d: %v", e.Index, e.Err) }

// Unwrap returns the underlying error.
func (e *TransferError) Unwrap() error { return e.Err }
