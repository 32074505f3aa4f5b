package compliance

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DocumentType is a kind of identity document.
type DocumentType string

// Document types.
const (
	PRCResidentID DocumentType = "prc_resident_id" // 居民身份证号码, GB 11643-1999
	PRCUSCC       DocumentType = "prc_uscc"        // 统一社会信用代码, GB 32100-2015
	Passport      DocumentType = "passport"
	OtherDocument DocumentType = "other"
)

// Document check errors.
var (
	ErrDocumentFormat     = errors.New("identity number has the wrong length or characters")
	ErrDocumentCheckDigit = errors.New("identity number check character is wrong")
	ErrDocumentBirthDate  = errors.New("identity number carries an invalid birth date")
	ErrDocumentRegion     = errors.New("identity number carries an unknown region code")
	ErrDocumentType       = errors.New("unknown identity document type")
)

// NormalizeDocument trims and upper-cases a number and checks it by the
// rules of its type. Passports and other documents are checked only for a
// sane length and characters: their rules are the issuing state's.
func NormalizeDocument(t DocumentType, number string, today time.Time) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(number))
	switch t {
	case PRCResidentID:
		return n, checkResidentID(n, today)
	case PRCUSCC:
		return n, checkUSCC(n)
	case Passport, OtherDocument:
		if len(n) < 5 || len(n) > 32 {
			return "", ErrDocumentFormat
		}
		for _, r := range n {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return "", ErrDocumentFormat
			}
		}
		return n, nil
	}
	return "", fmt.Errorf("%w: %q", ErrDocumentType, t)
}

// residentWeights are GB 11643's W_i = 2^(17-i) mod 11.
var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// provinces are the first two digits of GB/T 2260 administrative division
// codes (31 provinces, plus 71 Taiwan, 81 Hong Kong, 82 Macao as issued on
// residence permits).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true, "21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true, "41": true,
	"42": true, "43": true, "44": true, "45": true, "46": true, "50": true, "51": true, "52": true,
	"53": true, "54": true, "61": true, "62": true, "63": true, "64": true, "65": true, "71": true,
	"81": true, "82": true,
}

// ResidentIDCheck computes the GB 11643 check character of the first 17 digits.
func ResidentIDCheck(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * residentWeights[i]
	}
	c := (12 - sum%11) % 11
	if c == 10 {
		return 'X'
	}
	return byte('0' + c)
}

func checkResidentID(n string, today time.Time) error {
	if len(n) != 18 {
		return ErrDocumentFormat
	}
	for i := 0; i < 17; i++ {
		if n[i] < '0' || n[i] > '9' {
			return ErrDocumentFormat
		}
	}
	if last := n[17]; !(last >= '0' && last <= '9' || last == 'X') {
		return ErrDocumentFormat
	}
	if !provinces[n[:2]] {
		return ErrDocumentRegion
	}
	birth, err := time.Parse("20060102", n[6:14])
	if err != nil || birth.Year() < 1900 || birth.After(today) {
		return ErrDocumentBirthDate
	}
	if ResidentIDCheck(n[:17]) != n[17] {
		return ErrDocumentCheckDigit
	}
	return nil
}

// usccChars is GB 32100's 31-character set (no I, O, S, V, Z).
const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// USCCCheck computes the GB 32100 check character of the first 17
// characters; ok is false if one of them is outside the character set.
func USCCCheck(first17 string) (byte, bool) {
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccChars, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return usccChars[c], true
}

func checkUSCC(n string) error {
	if len(n) != 18 {
		return ErrDocumentFormat
	}
	for i := 2; i < 8; i++ { // positions 3-8: administrative division code, digits
		if n[i] < '0' || n[i] > '9' {
			return ErrDocumentFormat
		}
	}
	want, ok := USCCCheck(n[:17])
	if !ok || strings.IndexByte(usccChars, n[17]) < 0 {
		return ErrDocumentFormat
	}
	if want != n[17] {
		return ErrDocumentCheckDigit
	}
	return nil
}
