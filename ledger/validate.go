package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/canonjson"
	"github.com/crowdledger/crowdledger/internal/money"
)

// Limits on request shape.
const (
	MaxBatch          = 1000 // transfers in one request
	MaxMetadataBytes  = 4096 // canonical JSON of one metadata object
	MaxIdempotencyKey = 255  // bytes
	MaxOwnerLength    = 255  // bytes
	MaxPendingTimeout = 366 * 24 * time.Hour
	maxMetadataDepth  = 8
)

var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

var (
	errRequired       = errors.New("is required")
	errNotAllowed     = errors.New("is not allowed for this kind of transfer")
	errBadCode        = errors.New("must be a lower-case identifier: [a-z][a-z0-9_]{0,63}")
	errUnknownKind    = errors.New("must be posted, pending, post_pending or void_pending")
	errUnknownAccount = errors.New("is not a known account code")
	errBadKey         = fmt.Errorf("must be 1 to %d printable ASCII characters", MaxIdempotencyKey)
	errBadTimeout     = fmt.Errorf("must be between 1 second and %s", MaxPendingTimeout)
	errBadMetadata    = fmt.Errorf("must be a JSON object of at most %d bytes and depth %d", MaxMetadataBytes, maxMetadataDepth)
	errBothFlags      = errors.New("debits_must_not_exceed_credits and credits_must_not_exceed_debits exclude each other")
)

// ValidateKey checks an idempotency key.
func ValidateKey(key string) error {
	if len(key) == 0 || len(key) > MaxIdempotencyKey {
		return fieldErr("idempotency_key", errBadKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return fieldErr("idempotency_key", errBadKey)
		}
	}
	return nil
}

// Validate checks a request to open an account and normalises its metadata.
func (a *NewAccount) Validate() error {
	if err := ValidateKey(a.IdempotencyKey); err != nil {
		return err
	}
	if a.Currency.IsZero() {
		return fieldErr("currency", errRequired)
	}
	if !accountCodes[a.Code] {
		return fieldErr("code", errUnknownAccount)
	}
	if len(a.Owner) > MaxOwnerLength {
		return fieldErr("owner", fmt.Errorf("must be at most %d bytes", MaxOwnerLength))
	}
	if a.Flags.DebitsMustNotExceedCredits && a.Flags.CreditsMustNotExceedDebits {
		return fieldErr("flags", errBothFlags)
	}
	m, err := canonicalMetadata(a.Metadata)
	if err != nil {
		return fieldErr("metadata", err)
	}
	a.Metadata = m
	return nil
}

func (a *NewAccount) hash() []byte {
	h := sha256.New()
	fmt.Fprintf(h, "account\x00%s\x00%s\x00%s\x00%s\x00%t\x00%t\x00", a.ID, a.Currency.Code(), a.Code, a.Owner,
		a.Flags.DebitsMustNotExceedCredits, a.Flags.CreditsMustNotExceedDebits)
	h.Write(a.Metadata)
	return h.Sum(nil)
}

// validateTransfers checks the shape of each transfer (everything that does
// not need the database) and normalises metadata in place.
func validateTransfers(ts []TransferRequest) error {
	if len(ts) == 0 {
		return fieldErr("transfers", errRequired)
	}
	if len(ts) > MaxBatch {
		return fmt.Errorf("%w: %d > %d", ErrBatchTooLarge, len(ts), MaxBatch)
	}
	for i := range ts {
		if err := ts[i].validate(); err != nil {
			if len(ts) == 1 {
				return err
			}
			return &TransferError{Index: i, Err: err}
		}
	}
	return nil
}

func (t *TransferRequest) validate() error {
	switch t.Kind {
	case KindPosted, KindPending, KindPostPending, KindVoidPending:
	default:
		return fieldErr("kind", errUnknownKind)
	}
	if !codeRE.MatchString(t.Code) {
		if t.Code == "" && (t.Kind == KindPostPending || t.Kind == KindVoidPending || t.ReversesID != uuid.Nil) {
			// resolutions and reversals default their code
		} else {
			return fieldErr("code", errBadCode)
		}
	}
	m, err := canonicalMetadata(t.Metadata)
	if err != nil {
		return fieldErr("metadata", err)
	}
	t.Metadata = m
	switch t.Kind {
	case KindPosted, KindPending:
		if t.ReversesID != uuid.Nil {
			if t.Kind == KindPending {
				return fieldErr("reverses_id", errNotAllowed)
			}
			if t.DebitAccountID != uuid.Nil || t.CreditAccountID != uuid.Nil || !t.Amount.Currency().IsZero() {
				return fieldErr("amount", errors.New("a reversal takes its accounts and amount from the original"))
			}
			break
		}
		if t.DebitAccountID == uuid.Nil {
			return fieldErr("debit_account_id", errRequired)
		}
		if t.CreditAccountID == uuid.Nil {
			return fieldErr("credit_account_id", errRequired)
		}
		if t.DebitAccountID == t.CreditAccountID {
			return fieldErr("credit_account_id", ErrSameAccount)
		}
		if t.Amount.Currency().IsZero() {
			return fieldErr("amount", errRequired)
		}
		if t.Amount.Sign() <= 0 {
			return fieldErr("amount", money.ErrAmountNotPos)
		}
		if t.PendingID != uuid.Nil {
			return fieldErr("pending_id", errNotAllowed)
		}
		if !t.PostAmount.IsZero() {
			return fieldErr("amount", errNotAllowed)
		}
		if t.Timeout != 0 && (t.Kind != KindPending || t.Timeout < time.Second || t.Timeout > MaxPendingTimeout) {
			if t.Kind != KindPending {
				return fieldErr("timeout_seconds", errNotAllowed)
			}
			return fieldErr("timeout_seconds", errBadTimeout)
		}
	case KindPostPending, KindVoidPending:
		if t.PendingID == uuid.Nil {
			return fieldErr("pending_id", errRequired)
		}
		if t.ReversesID != uuid.Nil {
			return fieldErr("reverses_id", errNotAllowed)
		}
		if t.Timeout != 0 {
			return fieldErr("timeout_seconds", errNotAllowed)
		}
		if t.PostAmount.Sign() < 0 {
			return fieldErr("amount", money.ErrAmountNotPos)
		}
		if t.Kind == KindVoidPending && !t.PostAmount.IsZero() {
			return fieldErr("amount", errNotAllowed)
		}
		if !t.Amount.Currency().IsZero() {
			return fieldErr("amount", errNotAllowed)
		}
	default:
		return fieldErr("kind", errUnknownKind)
	}
	return nil
}

// requestHash binds an idempotency key to the exact request: a canonical,
// length-prefixed encoding of every field, hashed with SHA-256.
func requestHash(ts []TransferRequest) []byte {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put("transfers/v1")
	for _, t := range ts {
		put(string(t.Kind))
		put(t.DebitAccountID.String())
		put(t.CreditAccountID.String())
		put(t.Amount.Currency().Code())
		put(t.Amount.String())
		put(t.PostAmount.String())
		put(t.Code)
		put(string(t.Metadata))
		put(t.PendingID.String())
		put(t.ReversesID.String())
		put(t.Timeout.String())
	}
	return h.Sum(nil)
}

// canonicalMetadata returns metadata as compact JSON with sorted keys (so
// equal objects hash equal and read back byte for byte), "{}" when empty.
func canonicalMetadata(raw json.RawMessage) (json.RawMessage, error) {
	out, d, err := canonjson.Object(raw)
	if err != nil || d > maxMetadataDepth || len(out) > MaxMetadataBytes {
		return nil, errBadMetadata
	}
	return out, nil
}
