package money

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, code, in, want string
		err                  error
	}{
		{"cny two places", "CNY", "1234.50", "1234.50", nil},
		{"cny integer", "CNY", "7", "7.00", nil},
		{"cny one fen", "CNY", "0.01", "0.01", nil},
		{"leading zeros", "CNY", "007.5", "7.50", nil},
		{"jpy integer", "JPY", "1500", "1500", nil},
		{"kwd three places", "KWD", "1.250", "1.250", nil},
		{"max integer digits", "USD", "999999999999999.99", "999999999999999.99", nil},
		{"cny three places", "CNY", "1.001", "", ErrAmountPrecision},
		{"trailing zero counts", "CNY", "1.230", "", ErrAmountPrecision},
		{"jpy decimals", "JPY", "1.5", "", ErrAmountPrecision},
		{"jpy dot zero", "JPY", "1.0", "", ErrAmountPrecision},
		{"kwd four places", "KWD", "0.0001", "", ErrAmountPrecision},
		{"zero", "CNY", "0", "", ErrAmountNotPos},
		{"zero with places", "CNY", "0.00", "", ErrAmountNotPos},
		{"negative", "CNY", "-1.00", "", ErrAmountNotPos},
		{"plus sign", "CNY", "+1.00", "", ErrAmountSyntax},
		{"exponent", "CNY", "1e3", "", ErrAmountSyntax},
		{"upper exponent", "CNY", "1E3", "", ErrAmountSyntax},
		{"nan", "CNY", "NaN", "", ErrAmountSyntax},
		{"infinity", "CNY", "Infinity", "", ErrAmountSyntax},
		{"empty", "CNY", "", "", ErrAmountSyntax},
		{"bare dot", "CNY", ".", "", ErrAmountSyntax},
		{"no integer part", "CNY", ".5", "", ErrAmountSyntax},
		{"no fraction", "CNY", "5.", "", ErrAmountSyntax},
		{"space", "CNY", " 5", "", ErrAmountSyntax},
		{"grouping", "CNY", "1,000.00", "", ErrAmountSyntax},
		{"hex", "CNY", "0x10", "", ErrAmountSyntax},
		{"fullwidth digits", "CNY", "１００", "", ErrAmountSyntax},
		{"two dots", "CNY", "1.2.3", "", ErrAmountSyntax},
		{"sixteen digits", "USD", "1000000000000000", "", ErrAmountTooLarge},
		{"forty digits", "CNY", "1234567890123456789012345678901234567890", "", ErrAmountTooLarge},
		{"unknown currency", "XXX", "1", "", ErrUnknownCurrency},
		{"lower case code", "cny", "1", "", ErrUnknownCurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.code, tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q, %q) error = %v, want %v", tc.code, tc.in, err, tc.err)
			}
			if err == nil && got.String() != tc.want {
				t.Errorf("Parse(%q, %q) = %s, want %s", tc.code, tc.in, got, tc.want)
			}
		})
	}
}

func TestParseSigned(t *testing.T) {
	a, err := ParseSigned("CNY", "-12.30")
	if err != nil || a.String() != "-12.30" {
		t.Fatalf("ParseSigned(-12.30) = %v, %v", a, err)
	}
	if z, err := ParseSigned("CNY", "0"); err != nil || !z.IsZero() {
		t.Fatalf("ParseSigned(0) = %v, %v", z, err)
	}
	if _, err := ParseSigned("CNY", "--1"); !errors.Is(err, ErrAmountSyntax) {
		t.Fatalf("ParseSigned(--1) error = %v", err)
	}
}

func TestArithmetic(t *testing.T) {
	cny, usd := MustLookup("CNY"), MustLookup("USD")
	a, b := FromMinor(cny, 1050), FromMinor(cny, 25)
	sum, err := a.Add(b)
	if err != nil || sum.String() != "10.75" {
		t.Fatalf("Add = %v, %v", sum, err)
	}
	diff, _ := b.Sub(a)
	if diff.String() != "-10.25" {
		t.Fatalf("Sub = %v", diff)
	}
	if _, err := a.Add(FromMinor(usd, 1)); !errors.Is(err, ErrCurrencyMismatch) {
		t.Fatalf("Add across currencies: %v", err)
	}
	if m, ok := sum.Minor(); !ok || m != 1075 {
		t.Fatalf("Minor = %d, %v", m, ok)
	}
	if _, err := FromDecimal(cny, decimal.RequireFromString("1.001")); !errors.Is(err, ErrAmountPrecision) {
		t.Fatalf("FromDecimal extra places: %v", err)
	}
	js, _ := FromMinor(MustLookup("JPY"), 5).MarshalJSON()
	if string(js) != `"5"` {
		t.Fatalf("MarshalJSON = %s", js)
	}
}

func TestAllocate(t *testing.T) {
	d := decimal.RequireFromString
	tests := []struct {
		name    string
		amount  string
		code    string
		weights []string
		want    []string
	}{
		{"thirds", "100.00", "CNY", []string{"1", "1", "1"}, []string{"33.34", "33.33", "33.33"}},
		{"carry 20/80", "100.00", "CNY", []string{"0.2", "0.8"}, []string{"20.00", "80.00"}},
		{"awkward carry", "0.05", "CNY", []string{"0.2", "0.8"}, []string{"0.01", "0.04"}},
		{"largest remainder", "10.00", "USD", []string{"1", "2", "3", "4", "5", "6"}, []string{"0.48", "0.95", "1.43", "1.90", "2.38", "2.86"}},
		{"zero weight", "1.00", "CNY", []string{"0", "1"}, []string{"0.00", "1.00"}},
		{"yen", "100", "JPY", []string{"1", "1", "1"}, []string{"34", "33", "33"}},
		{"negative", "-100.00", "CNY", []string{"1", "1", "1"}, []string{"-33.34", "-33.33", "-33.33"}},
		{"one minor unit many ways", "0.01", "CNY", []string{"1", "1", "1"}, []string{"0.01", "0.00", "0.00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseSigned(tc.code, tc.amount)
			if err != nil {
				t.Fatal(err)
			}
			ws := make([]decimal.Decimal, len(tc.weights))
			for i, w := range tc.weights {
				ws[i] = d(w)
			}
			parts, err := a.Allocate(ws...)
			if err != nil {
				t.Fatal(err)
			}
			sum := Zero(a.Currency())
			for i, p := range parts {
				if p.String() != tc.want[i] {
					t.Errorf("part %d = %s, want %s", i, p, tc.want[i])
				}
				sum, _ = sum.Add(p)
			}
			if !sum.Equal(a) {
				t.Errorf("parts sum to %s, want %s", sum, a)
			}
		})
	}
	if _, err := FromMinor(MustLookup("CNY"), 1).Allocate(); !errors.Is(err, ErrBadWeights) {
		t.Errorf("no weights: %v", err)
	}
	if _, err := FromMinor(MustLookup("CNY"), 1).Allocate(d("-1"), d("2")); !errors.Is(err, ErrBadWeights) {
		t.Errorf("negative weight: %v", err)
	}
}
