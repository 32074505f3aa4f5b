package canonjson

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// node is a parsed JSON value: a literal (number, true, false, null) as
// the input's bytes in[lo:hi], a string as its decoded text, a container
// with its members (keys only in objects).
type node struct {
	kind   byte // '{', '[', '"' or 'l' (literal)
	text   string
	lo, hi int
	kids   []kid
}

type kid struct {
	key string
	val node
}

// parser reads input that json.Valid has accepted, so it checks nothing.
type parser struct {
	in  []byte
	pos int
}

func (p *parser) space() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() node {
	p.space()
	switch p.in[p.pos] {
	case '{', '[':
		n := node{kind: p.in[p.pos]}
		p.pos++
		for {
			p.space()
			if p.in[p.pos] == n.kind+2 { // '}' or ']'
				p.pos++
				if n.kind == '{' {
					return n.dedupe()
				}
				return n
			}
			if p.in[p.pos] == ',' {
				p.pos++
				p.space()
			}
			var k kid
			if n.kind == '{' {
				k.key = p.str()
				p.space()
				p.pos++ // ':'
			}
			k.val = p.value()
			n.kids = append(n.kids, k)
		}
	case '"':
		return node{kind: '"', text: p.str()}
	default:
		start := p.pos
		for p.pos < len(p.in) && !isDelim(p.in[p.pos]) {
			p.pos++
		}
		return node{kind: 'l', lo: start, hi: p.pos}
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// str reads a string token and decodes it as encoding/json does (invalid
// UTF-8 and lone surrogates become U+FFFD): plain ASCII directly, the rest
// through encoding/json itself.
func (p *parser) str() string {
	start := p.pos
	p.pos++
	plain, escaped := true, false
	for {
		c := p.in[p.pos]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain, escaped = false, true
			p.pos++ // the escaped byte cannot end the string
		} else if c >= 0x80 {
			plain = false
		}
		p.pos++
	}
	p.pos++
	tok := p.in[start:p.pos]
	if plain || (!escaped && utf8.Valid(tok)) {
		return string(tok[1 : len(tok)-1])
	}
	var s string
	_ = json.Unmarshal(tok, &s) // valid: json.Valid accepted the whole input
	return s
}

// dedupe keeps the last value of a repeated key, as a map does, and sorts
// the keys.
func (n node) dedupe() node {
	slices.SortStableFunc(n.kids, func(a, b kid) int { return strings.Compare(a.key, b.key) })
	out := n.kids[:0]
	for i, k := range n.kids {
		if i+1 < len(n.kids) && n.kids[i+1].key == k.key {
			continue // a later one of the same key follows (stable sort)
		}
		out = append(out, k)
	}
	n.kids = out
	return n
}

func (n node) depth() int {
	if n.kind != '{' && n.kind != '[' {
		return 0
	}
	d := 0
	for _, k := range n.kids {
		d = max(d, k.val.depth())
	}
	return d + 1
}

func (n node) appendTo(b []byte, in []byte) []byte {
	switch n.kind {
	case '{', '[':
		b = append(b, n.kind)
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			if n.kind == '{' {
				b = appendString(b, k.key)
				b = append(b, ':')
			}
			b = k.val.appendTo(b, in)
		}
		return append(b, n.kind+2) // '}' and ']' follow '{' and '[' by two
	case '"':
		return appendString(b, n.text)
	}
	return append(b, in[n.lo:n.hi]...)
}

// appendString quotes s as encoding/json does (HTML-safe escapes, U+2028
// and U+2029 escaped): plain text directly, the rest through encoding/json.
//
// s is valid UTF-8 (the parser's strings are), so only U+2028 and U+2029
// (E2 80 A8/A9) among the multi-byte runes need escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' ||
			(c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9)) {
			q, _ := json.Marshal(s) // a Go string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
