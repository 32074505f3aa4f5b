package money

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxIntegerDigits bounds the integer part of any amount: 10^15 - 1 major
// units (a thousand trillion) is far above any real transfer, keeps sums of
// millions of amounts well inside PostgreSQL numeric, and rejects the
// 40-digit values that only an attacker or a bug would send.
const MaxIntegerDigits = 15

// Parse errors. Callers branch on them with errors.Is; the API maps each to
// its own problem code.
var (
	ErrAmountSyntax     = errors.New("amount is not a plain decimal number")
	ErrAmountPrecision  = errors.New("amount has more decimal places than the currency allows")
	ErrAmountNotPos     = errors.New("amount must be greater than zero")
	ErrAmountTooLarge   = errors.New("amount exceeds the supported maximum")
	ErrCurrencyMismatch = errors.New("currency mismatch")
)

// Amount is an exact quantity of one currency. The zero Amount has no
// currency; only the constructors make valid ones.
type Amount struct {
	v decimal.Decimal
	c Currency
}

var maxAmount = decimal.New(1, MaxIntegerDigits) // exclusive bound

// Parse reads a decimal string such as "1234.50" as an amount of the currency
// with the given code. It accepts only [0-9]+(\.[0-9]+)?: no sign, exponent,
// spaces, NaN or grouping. More decimal places than the currency allows is an
// error, never rounded; trailing zeros count ("1.230" is three places), so a
// client that sends them learns its formatting is wrong for that currency.
// Zero and values at or above 10^15 are rejected. Use ParseSigned where a
// negative or zero amount is meaningful.
func Parse(code, s string) (Amount, error) {
	a, err := ParseSigned(code, s)
	if err != nil {
		return Amount{}, err
	}
	if a.v.Sign() <= 0 {
		return Amount{}, ErrAmountNotPos
	}
	return a, nil
}

// ParseSigned is Parse that also accepts zero and a leading minus sign.
func ParseSigned(code, s string) (Amount, error) {
	c, err := Lookup(code)
	if err != nil {
		return Amount{}, err
	}
	return ParseIn(c, s)
}

// ParseIn is ParseSigned for an already looked-up currency.
func ParseIn(c Currency, s string) (Amount, error) {
	d, places, err := parseDecimal(s)
	if err != nil {
		return Amount{}, err
	}
	return inCurrency(c, d, places)
}

// inCurrency is the one scale rule every parsed amount meets: no more
// decimal places than the currency allows, counting the places as written.
func inCurrency(c Currency, d decimal.Decimal, places int) (Amount, error) {
	if places > int(c.scale) {
		return Amount{}, fmt.Errorf("%w: %s allows %d, got %d", ErrAmountPrecision, c.code, c.scale, places)
	}
	return Amount{v: d, c: c}, nil
}

// Written is a positive amount as a client wrote it, for callers that learn
// its currency only later (posting part of a pending transfer): the value
// and the decimal places it was written with, so that In applies the same
// rule as Parse ("1.000" is three places, too many for CNY). The zero
// Written means "not given".
type Written struct {
	v      decimal.Decimal
	places int
}

// ParseWritten reads s with Parse's syntax and positivity rules.
func ParseWritten(s string) (Written, error) {
	d, places, err := parseDecimal(s)
	if err != nil {
		return Written{}, err
	}
	if d.Sign() <= 0 {
		return Written{}, ErrAmountNotPos
	}
	return Written{v: d, places: places}, nil
}

// In is the amount in currency c, refused as Parse refuses it.
func (w Written) In(c Currency) (Amount, error) { return inCurrency(c, w.v, w.places) }

// IsZero reports whether no amount was given.
func (w Written) IsZero() bool { return w.v.IsZero() }

// Sign is the value's sign.
func (w Written) Sign() int { return w.v.Sign() }

// String is the amount as written, trailing zeros kept.
func (w Written) String() string { return w.v.StringFixed(int32(w.places)) }

// parseDecimal accepts -?[0-9]+(\.[0-9]+)? with at most MaxIntegerDigits
// significant integer digits and returns the value and its written places.
func parseDecimal(s string) (decimal.Decimal, int, error) {
	body := s
	neg := strings.HasPrefix(body, "-")
	if neg {
		body = body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if !digitsOnly(intPart) || (hasDot && !digitsOnly(frac)) {
		return decimal.Decimal{}, 0, fmt.Errorf("%w: %q", ErrAmountSyntax, truncate(s))
	}
	if len(strings.TrimLeft(intPart, "0")) > MaxIntegerDigits {
		return decimal.Decimal{}, 0, ErrAmountTooLarge
	}
	if len(frac) > 18 { // no currency has more than 6; stop absurd inputs early
		return decimal.Decimal{}, 0, fmt.Errorf("%w: %d decimal places", ErrAmountPrecision, len(frac))
	}
	d, err := decimal.NewFromString(body)
	if err != nil { // unreachable after the checks above, kept as a guard
		return decimal.Decimal{}, 0, fmt.Errorf("%w: %q", ErrAmountSyntax, truncate(s))
	}
	if neg {
		d = d.Neg()
	}
	return d, len(frac), nil
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// FromDecimal makes an amount from a decimal that must already be exact in
// the currency's scale (as read back from the database).
func FromDecimal(c Currency, d decimal.Decimal) (Amount, error) {
	if !d.Equal(d.Truncate(c.scale)) {
		return Amount{}, fmt.Errorf("%w: %s in %s", ErrAmountPrecision, d, c.code)
	}
	if d.Abs().Cmp(maxAmount) >= 0 {
		return Amount{}, ErrAmountTooLarge
	}
	return Amount{v: d, c: c}, nil
}

// FromMinor makes an amount from an integer count of minor units (fen, cents).
func FromMinor(c Currency, minor int64) Amount {
	return Amount{v: decimal.New(minor, -c.scale), c: c}
}

// Zero is the zero amount of a currency.
func Zero(c Currency) Amount { return Amount{v: decimal.Zero, c: c} }

// Currency of the amount.
func (a Amount) Currency() Currency { return a.c }

// Decimal is the exact value; it never carries more places than the currency allows.
func (a Amount) Decimal() decimal.Decimal { return a.v }

// Sign is -1, 0 or +1.
func (a Amount) Sign() int { return a.v.Sign() }

// IsZero reports whether the amount is zero.
func (a Amount) IsZero() bool { return a.v.IsZero() }

// String formats the amount at exactly the currency's scale ("250.00", "7", "1.250").
func (a Amount) String() string { return a.v.StringFixed(a.c.scale) }

// Equal reports whether both amounts are of the same currency and value.
func (a Amount) Equal(b Amount) bool { return a.c == b.c && a.v.Equal(b.v) }

// Cmp compares two amounts of the same currency; it panics on a mismatch,
// which is always a programming error once inputs have been validated.
func (a Amount) Cmp(b Amount) int {
	a.mustMatch(b)
	return a.v.Cmp(b.v)
}

// Add returns a+b; the currencies must match.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.c != b.c {
		return Amount{}, fmt.Errorf("%w: %s + %s", ErrCurrencyMismatch, a.c, b.c)
	}
	return Amount{v: a.v.Add(b.v), c: a.c}, nil
}

// Sub returns a-b; the currencies must match.
func (a Amount) Sub(b Amount) (Amount, error) {
	if a.c != b.c {
		return Amount{}, fmt.Errorf("%w: %s - %s", ErrCurrencyMismatch, a.c, b.c)
	}
	return Amount{v: a.v.Sub(b.v), c: a.c}, nil
}

// Neg returns -a.
func (a Amount) Neg() Amount { return Amount{v: a.v.Neg(), c: a.c} }

// Minor is the amount as an integer count of minor units; ok is false if it
// does not fit in an int64 (never for amounts Parse accepts).
func (a Amount) Minor() (n int64, ok bool) {
	m := a.v.Shift(a.c.scale)
	if !m.IsInteger() || m.Abs().Cmp(decimal.New(1, 18)) >= 0 {
		return 0, false
	}
	return m.IntPart(), true
}

func (a Amount) mustMatch(b Amount) {
	if a.c != b.c {
		panic(fmt.Sprintf("money: %v: %s vs %s", ErrCurrencyMismatch, a.c, b.c))
	}
}

// MarshalJSON writes the amount as a JSON string at the currency's scale, so
// no client ever parses money as a binary float.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + a.String() + `"`), nil
}
