package canonjson

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// ErrInvalid is returned for input that is not JSON.
var ErrInvalid = errors.New("not valid JSON")

// JCS writes a JSON value in its RFC 8785 form (the JSON Canonicalization
// Scheme): members sorted by their names' UTF-16 code units, strings with
// only the escapes ECMAScript's JSON.stringify makes, numbers in their
// ECMAScript form (jcs.NumberToJSON). gowebpki/jcs's Transform defines the
// bytes; this one-pass version, on the parser Object uses, costs a fraction
// of it, and FuzzJCS holds the two equal.
func JCS(raw []byte) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, ErrInvalid
	}
	p := parser{in: raw}
	v := p.value()
	return v.appendJCS(make([]byte, 0, len(raw)), raw)
}

func (n node) appendJCS(b, in []byte) ([]byte, error) {
	var err error
	switch n.kind {
	case '{':
		kids := slices.Clone(n.kids) // deduped, sorted by bytes: re-sort by UTF-16
		slices.SortStableFunc(kids, func(x, y kid) int { return compareUTF16(x.key, y.key) })
		b = append(b, '{')
		for i, k := range kids {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJCSString(b, k.key)
			b = append(b, ':')
			if b, err = k.val.appendJCS(b, in); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case '[':
		b = append(b, '[')
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = k.val.appendJCS(b, in); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case '"':
		return appendJCSString(b, n.text), nil
	}
	lit := string(in[n.lo:n.hi])
	switch lit {
	case "true", "false", "null":
		return append(b, lit...), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, err // beyond IEEE 754 double: not I-JSON
	}
	s, err := jcs.NumberToJSON(f)
	if err != nil {
		return nil, err
	}
	return append(b, s...), nil
}

// AppendJCSString appends s quoted as RFC 8785 has it (JSON.stringify's
// escapes: \" \\ \b \f \n \r \t, other control characters as \u00xx,
// everything else as it is), for callers that write a known object's
// members themselves.
func AppendJCSString(b []byte, s string) []byte { return appendJCSString(b, s) }

func appendJCSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20:
			b = append(b, c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
	}
	return append(b, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names: the same as byte order except that characters
// beyond U+FFFF (surrogate pairs, D800-DFFF) sort before U+E000-U+FFFF.
func compareUTF16(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
