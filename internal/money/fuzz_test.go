package money

import (
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzParse checks that Parse never panics, that whatever it accepts prints
// back to a string that parses to the same amount, and that it never accepts
// more places than the currency allows.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1234.50", "0.01", "1e3", "NaN", "-1", "999999999999999.99", "1.001", "", "."} {
		f.Add("CNY", s)
	}
	f.Add("JPY", "15")
	f.Add("KWD", "0.125")
	f.Fuzz(func(t *testing.T, code, s string) {
		a, err := Parse(code, s)
		if err != nil {
			return
		}
		if a.Sign() <= 0 {
			t.Fatalf("Parse(%q) accepted non-positive %s", s, a)
		}
		if !a.Decimal().Equal(a.Decimal().Truncate(a.Currency().Scale())) {
			t.Fatalf("Parse(%q) kept more places than %s allows", s, code)
		}
		b, err := Parse(code, a.String())
		if err != nil || !b.Equal(a) {
			t.Fatalf("round trip of %q: %s -> %v, %v", s, a, b, err)
		}
	})
}

// FuzzAllocate checks that parts always sum to the whole and are never negative for a positive whole.
func FuzzAllocate(f *testing.F) {
	f.Add(int64(10000), int64(1), int64(1), int64(1))
	f.Add(int64(5), int64(2), int64(8), int64(0))
	f.Fuzz(func(t *testing.T, minor, w1, w2, w3 int64) {
		if minor <= 0 || minor > 1e15 || w1 < 0 || w2 < 0 || w3 < 0 || w1+w2+w3 <= 0 || w1 > 1e9 || w2 > 1e9 || w3 > 1e9 {
			return
		}
		a := FromMinor(MustLookup("CNY"), minor)
		parts, err := a.Allocate(decimal.NewFromInt(w1), decimal.NewFromInt(w2), decimal.NewFromInt(w3))
		if err != nil {
			t.Fatal(err)
		}
		sum := Zero(a.Currency())
		for _, p := range parts {
			if p.Sign() < 0 {
				t.Fatalf("negative part %s", p)
			}
			sum, _ = sum.Add(p)
		}
		if !sum.Equal(a) {
			t.Fatalf("sum %s != %s", sum, a)
		}
	})
}
