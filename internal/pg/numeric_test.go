package pg

import (
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

// NumericText writes what decimal.StringFixed at the value's own scale
// writes, for every coefficient size and scale, so the fast path cannot
// change a stored amount.
func TestNumericText(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	var ds []decimal.Decimal
	for _, c := range []int64{0, 1, -1, 5, 10, 99, 100, 123456, -123456, 999999999999999999, -999999999999999999} {
		for _, exp := range []int32{0, -1, -2, -3, -8, -18, -19, 2} {
			ds = append(ds, decimal.New(c, exp))
		}
	}
	ds = append(ds, decimal.NewFromBigInt(huge, -2), decimal.NewFromBigInt(new(big.Int).Neg(huge), 0),
		decimal.RequireFromString("1.50"), decimal.RequireFromString("0.001"), decimal.RequireFromString("-0.10"))
	got := NumericText(ds)
	for i, d := range ds {
		want := d.StringFixed(max(0, -d.Exponent()))
		if got[i] != want {
			t.Errorf("%s (coefficient %s, exp %d): %q, want %q", d, d.Coefficient(), d.Exponent(), got[i], want)
		}
	}
}

func FuzzNumericText(f *testing.F) {
	f.Add(int64(150), int32(-2))
	f.Add(int64(-1), int32(-18))
	f.Fuzz(func(t *testing.T, c int64, exp int32) {
		if exp < -40 || exp > 10 {
			return
		}
		d := decimal.New(c, exp)
		if got, want := NumericText([]decimal.Decimal{d})[0], d.StringFixed(max(0, -d.Exponent())); got != want {
			t.Errorf("%d e%d: %q, want %q", c, exp, got, want)
		}
	})
}
