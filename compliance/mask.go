package compliance

import (
	"strings"
	"unicode/utf8"
)

// The masks here are the only ones: every response, list entry, audit fact
// and alert that shows personal data shows it through them. They follow
// GB/T 35273 (信息安全技术 个人信息安全规范) practice of de-identified
// display: enough for the person to recognise their own record, not enough
// to learn anything about them.

// Mask shows the first and last character of a document number and hides
// the rest (6****************4): the number's region, birth date and
// sequence stay hidden, whatever the document type.
func Mask(_ DocumentType, n string) string {
	return keepEnds(n)
}

// MaskName shows a name's first character, for a Chinese name its surname
// (张**), and one star for every other character.
func MaskName(n string) string {
	r, size := utf8.DecodeRuneInString(n)
	if r == utf8.RuneError {
		return ""
	}
	return string(r) + strings.Repeat("*", max(utf8.RuneCountInString(n[size:]), 1))
}

func keepEnds(n string) string {
	runes := []rune(n)
	if len(runes) <= 2 {
		return strings.Repeat("*", len(runes))
	}
	return string(runes[0]) + strings.Repeat("*", len(runes)-2) + string(runes[len(runes)-1])
}

// Region is the administrative division (行政区划代码, the first six
// digits) of a PRC resident identity number, "" for any other document.
// Alerts group new parties by it to spot identities made up in bulk; it
// names a county, not a person.
func Region(t DocumentType, n string) string {
	if t != PRCResidentID || len(n) != 18 {
		return ""
	}
	return n[:6]
}
