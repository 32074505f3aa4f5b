// Package canonjson turns JSON objects into one canonical byte form:
// compact, keys sorted, numbers kept exactly as written. Equal objects get
// equal bytes, so they can be hashed and compared.
//
// The form is the one encoding/json gives a map[string]any decoded with
// UseNumber: audit hashes already recorded were computed that way, so the
// bytes must never change. Object takes a faster path for well-formed input
// and falls back to exactly that decoding for everything else; a fuzz test
// holds the two to the same bytes.
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrNotObject is returned for input that is not a single JSON object.
var ErrNotObject = errors.New("not a single JSON object")

// Object canonicalises a JSON object; empty input is "{}". It also returns
// the nesting depth, for callers that bound it.
func Object(raw []byte) (json.RawMessage, int, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}"), 1, nil
	}
	if json.Valid(raw) {
		p := parser{in: raw}
		p.space()
		if p.pos < len(raw) && raw[p.pos] == '{' {
			v := p.value()
			out := make([]byte, 0, len(raw))
			return v.appendTo(out, raw), v.depth(), nil
		}
	}
	return reference(raw)
}

// reference is the definition of the canonical form.
func reference(raw []byte) (json.RawMessage, int, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil || v == nil {
		return nil, 0, ErrNotObject
	}
	if dec.More() {
		return nil, 0, ErrNotObject
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, 0, ErrNotObject
	}
	return out, depth(v), nil
}

func depth(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}
