package compliance

import (
	"errors"
	"testing"
	"time"
)

func TestResidentID(t *testing.T) {
	today := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     error
	}{
		{"GB 11643 example, X check", "11010519491231002X", nil},
		{"lower-case x is normalised", "11010519491231002x", nil},
		{"Qinghai Xining", "630102199003071236", nil},
		{"wrong check digit", "110105194912310021", ErrDocumentCheckDigit},
		{"digit swapped", "11010519491231020X", ErrDocumentCheckDigit},
		{"too short", "11010519491231002", ErrDocumentFormat},
		{"too long", "11010519491231002X1", ErrDocumentFormat},
		{"letter inside", "1101051949123100AX", ErrDocumentFormat},
		{"February 30th", "110105199002300012", ErrDocumentBirthDate},
		{"born tomorrow", "110105202611230011", ErrDocumentBirthDate},
		{"unknown province", "990105194912310021", ErrDocumentRegion},
		{"fullwidth digits", "１１０１０５１９４９１２３１００２Ｘ", ErrDocumentFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if tc.name == "Qinghai Xining" { // build a valid number for a fixed prefix
				in = in[:17] + string(ResidentIDCheck(in[:17]))
			}
			_, err := NormalizeDocument(PRCResidentID, in, today)
			if !errors.Is(err, tc.want) {
				t.Errorf("NormalizeDocument(%q) = %v, want %v", in, err, tc.want)
			}
		})
	}
}

func TestUSCC(t *testing.T) {
	valid := "91350100M000100Y43" // the standard's worked example
	tests := []struct {
		name, in string
		want     error
	}{
		{"GB 32100 example", valid, nil},
		{"lower case", "91350100m000100y43", nil},
		{"wrong check", "91350100M000100Y44", ErrDocumentCheckDigit},
		{"excluded letter I", "91350100I000100Y43", ErrDocumentFormat},
		{"letter in the region code", "913501A0M000100Y43", ErrDocumentFormat},
		{"short", "91350100M000100Y4", ErrDocumentFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NormalizeDocument(PRCUSCC, tc.in, time.Now()); !errors.Is(err, tc.want) {
				t.Errorf("NormalizeDocument(%q) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		t        DocumentType
		in, want string
	}{
		{PRCResidentID, "630102199003071234", "6****************4"},
		{PRCUSCC, "91350100M000100Y43", "9****************3"},
		{Passport, "E12345678", "E*******8"},
		{OtherDocument, "abc", "a*c"},
		{OtherDocument, "ab", "**"},
		{OtherDocument, "", ""},
	} {
		if got := Mask(tc.t, tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]string{"张三丰": "张**", "欧阳修": "欧**", "李": "李*", "John Smith": "J*********", "": ""} {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
	if Region(PRCResidentID, "630102199003071234") != "630102" || Region(Passport, "E12345678") != "" {
		t.Error("Region")
	}
}

// FuzzNormalizeDocument: checking never panics, and whatever a PRC number
// check accepts has a correct check character.
func FuzzNormalizeDocument(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("91350100M000100Y43")
	f.Add("１２３")
	f.Fuzz(func(t *testing.T, s string) {
		today := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		if n, err := NormalizeDocument(PRCResidentID, s, today); err == nil && ResidentIDCheck(n[:17]) != n[17] {
			t.Fatalf("accepted %q with a wrong check digit", s)
		}
		if n, err := NormalizeDocument(PRCUSCC, s, today); err == nil {
			if c, ok := USCCCheck(n[:17]); !ok || c != n[17] {
				t.Fatalf("accepted USCC %q with a wrong check character", s)
			}
		}
		_ = Mask(Passport, s)
	})
}
